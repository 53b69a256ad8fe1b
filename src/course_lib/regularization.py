r"""Regularization (syllabus section 5): penalties on the loss, weight decay, dropout.

Penalties add a cost on the parameters :math:`\theta` to the loss, with strength :math:`\lambda`:

- :func:`l2_penalty`, :math:`\tfrac{\lambda}{2}\lVert\theta\rVert_2^2`, pulls every weight
  toward 0 in proportion to its size (its gradient is :math:`\lambda\theta`);
- :func:`l1_penalty`, :math:`\lambda\lVert\theta\rVert_1`, pulls with constant force
  :math:`\lambda\,\mathrm{sign}(\theta)`; its proximal step :func:`soft_threshold` sets small
  weights to exactly 0 (sparsity), which plain gradient steps on the penalty never do.

Weight decay comes in two named pieces that the optimizers of :mod:`course_lib.optim` compose
(optax-style), instead of burying a flag inside every update rule:

- :func:`coupled_weight_decay` adds :math:`\lambda\theta` to the gradient (the L2 penalty
  :math:`\tfrac{\lambda}{2}\lVert\theta\rVert^2` differentiated), so an adaptive optimizer
  rescales the decay along with the gradient;
- :func:`decoupled_weight_decay` shrinks the parameters directly,
  :math:`\theta \leftarrow (1 - \eta\lambda)\,\theta`, outside the adaptive rescaling
  (Loshchilov & Hutter, 2019, "Decoupled Weight Decay Regularization").

:func:`param_groups_with_decay` splits a model's parameters so that biases and normalization
weights are not decayed. :func:`dropout` and :class:`Dropout` zero activations at random while
training (Srivastava et al., 2014, "Dropout: A Simple Way to Prevent Neural Networks from
Overfitting").
"""

import torch
from torch import nn

from course_lib._checks import require_floating

__all__ = [
    "NORMALIZATION_LAYERS",
    "Dropout",
    "coupled_weight_decay",
    "decoupled_weight_decay",
    "dropout",
    "l1_penalty",
    "l2_penalty",
    "param_groups_with_decay",
    "soft_threshold",
]


def coupled_weight_decay(
    grad: torch.Tensor, param: torch.Tensor, weight_decay: float
) -> torch.Tensor:
    """L2 in the gradient: :math:`g \\leftarrow g + \\lambda\\theta` (out of place).

    This is what ``weight_decay=`` does in ``torch.optim.SGD``, ``Adam``, ``RMSprop`` and most
    other optimizers.

    >>> coupled_weight_decay(torch.tensor([1.0]), torch.tensor([2.0]), 0.1)
    tensor([1.2000])
    """
    return grad.add(param, alpha=weight_decay)


def decoupled_weight_decay(param: torch.Tensor, *, lr: float, weight_decay: float) -> torch.Tensor:
    """Decoupled decay: :math:`\\theta \\leftarrow (1 - \\eta\\lambda)\\,\\theta` (out of place).

    This is what ``weight_decay=`` does in ``torch.optim.AdamW`` (and in NAdam/RAdam with
    ``decoupled_weight_decay=True``), applied before the adaptive update.

    >>> decoupled_weight_decay(torch.tensor([2.0]), lr=0.1, weight_decay=0.5)
    tensor([1.9000])
    """
    return param.mul(1 - lr * weight_decay)


def _parameter_list(params) -> list[torch.Tensor]:
    params = [params] if isinstance(params, torch.Tensor) else list(params)
    if not params:
        raise ValueError(
            "params is an empty parameter list: pass model.parameters() or a list of tensors"
        )
    return params


def l1_penalty(params, lambd: float) -> torch.Tensor:
    r"""L1 penalty :math:`\lambda \sum_j |\theta_j|` over all ``params`` (a tensor or an
    iterable of tensors); add it to the loss. Its (sub)gradient is
    :math:`\lambda\,\mathrm{sign}(\theta)`: a constant pull that sets small weights to exactly 0.

    >>> l1_penalty([torch.tensor([1.0, -2.0]), torch.tensor([3.0])], 0.1)
    tensor(0.6000)
    """
    return lambd * sum(p.abs().sum() for p in _parameter_list(params))


def l2_penalty(params, lambd: float) -> torch.Tensor:
    r"""L2 penalty :math:`\tfrac{\lambda}{2} \sum_j \theta_j^2` over all ``params``; add it to
    the loss. The factor :math:`\tfrac12` makes its gradient exactly :math:`\lambda\theta`, the
    term that ``weight_decay=lambd`` adds in ``torch.optim.SGD`` (:func:`coupled_weight_decay`),
    so for plain SGD the penalty and the optimizer's weight decay are the same regularizer.

    >>> theta = torch.tensor([1.0, -2.0], requires_grad=True)
    >>> penalty = l2_penalty([theta], 0.1)
    >>> penalty.backward()
    >>> penalty, theta.grad
    (tensor(0.2500, grad_fn=<MulBackward0>), tensor([ 0.1000, -0.2000]))
    """
    return lambd / 2 * sum(p.pow(2).sum() for p in _parameter_list(params))


def soft_threshold(input: torch.Tensor, lambd: float = 0.5) -> torch.Tensor:
    r"""The proximal step of the L1 penalty (soft thresholding, out of place):

    .. math::
        S_\lambda(x) = \operatorname{arg\,min}_\theta \tfrac12 (\theta - x)^2 + \lambda|\theta|
        = \mathrm{sign}(x)\max(|x| - \lambda, 0) = x - \mathrm{clip}(x, -\lambda, \lambda),

    elementwise: entries with :math:`|x| \le \lambda` become exactly 0, the others move
    :math:`\lambda` toward 0. Proximal gradient descent (ISTA) on
    :math:`\mathcal L(\theta) + \lambda\lVert\theta\rVert_1` alternates a gradient step on
    :math:`\mathcal L` with this step at threshold :math:`\eta\lambda`:
    :math:`\theta \leftarrow S_{\eta\lambda}(\theta - \eta g)` (Beck & Teboulle, 2009). The
    values equal ``torch.nn.functional.softshrink(input, lambd)`` (computed, like torch, in at
    least float32), and so does the gradient, 0 where :math:`|x| \le \lambda`.

    >>> soft_threshold(torch.tensor([-2.0, -0.5, 0.25, 1.5]), 1.0)
    tensor([-1.0000,  0.0000,  0.0000,  0.5000])
    """
    require_floating(input, "soft_threshold")
    largest = torch.finfo(input.dtype).max
    if not 0 <= lambd <= largest:
        raise RuntimeError(
            f"lambda must be in range [0, {largest:g}] for input dtype {input.dtype}, "
            f"but found {lambd}"
        )
    x = input.to(torch.promote_types(input.dtype, torch.float32))
    return (x - x.clamp(-lambd, lambd)).to(input.dtype)


NORMALIZATION_LAYERS = (
    *(nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm),
    *(nn.LazyBatchNorm1d, nn.LazyBatchNorm2d, nn.LazyBatchNorm3d),
    *(nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d),
    *(nn.LazyInstanceNorm1d, nn.LazyInstanceNorm2d, nn.LazyInstanceNorm3d),
    *(nn.LayerNorm, nn.GroupNorm, nn.RMSNorm),
)
"""Modules whose parameters (scale and shift) are never decayed: every affine normalization
layer of ``torch.nn`` (``LocalResponseNorm`` has no parameters)."""


def param_groups_with_decay(model: nn.Module, weight_decay: float) -> list[dict]:
    r"""Two param groups for an optimizer: ``[{"params": decayed, "weight_decay": weight_decay},
    {"params": exempt, "weight_decay": 0.0}]``.

    Exempt are the biases (every parameter whose name contains ``bias``: ``bias``, recurrent
    layers' ``bias_ih_l0``, attention's ``in_proj_bias``) and all parameters of
    :data:`NORMALIZATION_LAYERS`: they set
    offsets and scales, not the weights that fit noise, and shrinking a normalization scale
    toward 0 fights the normalization itself. All other parameters (weights of ``Linear``,
    ``Conv*``, ``Embedding``, recurrent layers, ...) are decayed. A parameter shared by several
    modules is listed once, where ``model.modules()`` first meets it.

    >>> model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2, bias=False))
    >>> decay, no_decay = param_groups_with_decay(model, 1e-2)
    >>> [p.shape for p in decay["params"]], [p.shape for p in no_decay["params"]]
    ([torch.Size([8, 4]), torch.Size([2, 8])], [torch.Size([8]), torch.Size([8]), torch.Size([8])])
    >>> optimizer = torch.optim.SGD([decay, no_decay], lr=0.1)
    """
    decay, no_decay, seen = [], [], set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if id(param) in seen:
                continue
            seen.add(id(param))
            exempt = "bias" in name or isinstance(module, NORMALIZATION_LAYERS)
            (no_decay if exempt else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def dropout(
    input: torch.Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Inverted dropout: while training, zero each element with probability
    :math:`p_\text{drop}` = ``p`` and scale the survivors by :math:`1/(1 - p_\text{drop})`,

    .. math::
        y = x \odot m / (1 - p_\text{drop}), \qquad
        m_j \sim \mathrm{Bernoulli}(1 - p_\text{drop}),

    so that :math:`\mathbb E[y] = x` and evaluation (``training=False``) is the identity. The
    mask is drawn like torch's CPU kernel (``bernoulli_`` on a tensor shaped like the input,
    divided in place by :math:`1 - p_\text{drop}`), so with the same generator state the result
    is bit-identical to ``torch.nn.functional.dropout`` on the CPU. ``generator`` is an
    addition to torch's signature, for reproducible masks.

    >>> g = torch.Generator().manual_seed(0)
    >>> dropout(torch.ones(8), p=0.5, generator=g)
    tensor([0., 0., 2., 0., 0., 0., 2., 2.])
    >>> dropout(torch.ones(3), p=0.5, training=False)
    tensor([1., 1., 1.])
    """
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p == 0 or not training or input.numel() == 0:
        return input
    if p == 1:
        zero = torch.zeros((), dtype=input.dtype, device=input.device)
        return input.mul_(zero) if inplace else input * zero
    mask = torch.empty_like(input).bernoulli_(1 - p, generator=generator)
    mask.div_(1 - p)
    return input.mul_(mask) if inplace else input * mask


class Dropout(nn.Module):
    r"""Dropout as a module: :func:`dropout` while ``self.training``, the identity after
    ``model.eval()`` (torch's ``nn.Dropout``, same arguments).

    >>> layer = Dropout(p=0.25)
    >>> layer.eval()(torch.ones(3))
    tensor([1., 1., 1.])
    >>> layer
    Dropout(p=0.25, inplace=False)
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
