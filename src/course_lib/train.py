"""A small, readable training loop and the measurements the book makes with it.

- :func:`mlp` builds the deep fully connected networks of the Initialization chapter.
- :func:`fit` trains any model with any loss and optimizer (and optionally a scheduler),
  recording a :class:`History` of training and validation loss and accuracy.
- :func:`layer_statistics` runs one forward and backward pass and returns, for every layer, the
  activations it produced and the gradients that reached them: the numbers behind "vanishing"
  and "exploding".
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from course_lib.data import batches


def mlp(
    sizes: Iterable[int],
    activation: Callable[[], nn.Module] = nn.ReLU,
    init: Callable[[torch.Tensor], object] | None = None,
) -> nn.Sequential:
    """``Linear(sizes[0], sizes[1]), activation, ..., Linear(sizes[-2], sizes[-1])``: no activation
    after the last layer. ``init``, when given, is applied to every weight; biases are zeroed.

    >>> mlp([4, 8, 3])
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=3, bias=True)
    )
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes needs an input and an output size, got {sizes}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        linear = nn.Linear(n_in, n_out)
        if init is not None:
            init(linear.weight)
            nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def train_step(model: nn.Module, loss_fn: Callable, optimizer, x: torch.Tensor, y: torch.Tensor) -> float:
    """One step of gradient descent on the batch ``(x, y)``; returns the batch loss.

    ``zero_grad()`` comes first because ``backward()`` *adds* to ``.grad``: without it, every
    step would use the sum of all gradients computed so far.
    """
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def accumulate_gradients(
    model: nn.Module, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor, micro_batch_size: int
) -> None:
    r"""Leave in ``.grad`` the gradient of the mean loss over the whole batch, computed in
    micro-batches that fit in memory. Because ``backward()`` accumulates, each micro-batch's
    mean loss is weighted by its share of the batch:
    :math:`\nabla \frac1N \sum_i \ell_i = \sum_k \frac{N_k}{N} \nabla \frac{1}{N_k}\sum_{i \in k} \ell_i`.
    """
    model.zero_grad()
    for xb, yb in zip(x.split(micro_batch_size), y.split(micro_batch_size)):
        (loss_fn(model(xb), yb) * (len(xb) / len(x))).backward()


@dataclass
class History:
    """Per-epoch metrics of :func:`fit`; epoch 0 is before training."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)


@torch.no_grad()
def evaluate(model: nn.Module, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(loss, accuracy) of ``model`` on ``(x, y)`` in eval mode; accuracy is NaN unless ``y``
    holds class indices."""
    was_training = model.training
    model.eval()
    out = model(x)
    model.train(was_training)
    accuracy = (out.argmax(dim=1) == y).double().mean().item() if y.dtype == torch.long else float("nan")
    return loss_fn(out, y).item(), accuracy


def fit(
    model: nn.Module,
    loss_fn: Callable,
    optimizer: torch.optim.Optimizer,
    data,
    *,
    epochs: int,
    batch_size: int,
    scheduler=None,
    seed: int = 0,
) -> History:
    """Mini-batch training: for each batch, ``zero_grad()``, forward, ``backward()``,
    ``step()``; the scheduler, if any, steps once per epoch after the optimizer. ``data`` is a
    :class:`course_lib.data.Split`; batches are shuffled by a generator seeded with ``seed``.
    """
    generator = torch.Generator().manual_seed(seed)
    history = History()

    def record() -> None:
        for split, (x, y) in (("train", data[:2]), ("val", data[2:])):
            loss, accuracy = evaluate(model, loss_fn, x, y)
            getattr(history, f"{split}_loss").append(loss)
            getattr(history, f"{split}_accuracy").append(accuracy)
        history.lr.append(optimizer.param_groups[0]["lr"])

    record()
    model.train()
    for _ in range(epochs):
        for xb, yb in batches(data.x_train, data.y_train, batch_size, generator=generator):
            train_step(model, loss_fn, optimizer, xb, yb)
        if scheduler is not None:
            scheduler.step()
        record()
    return history


@dataclass
class LayerStatistics:
    """What each recorded layer produced in one forward pass and received in the backward pass."""

    names: list[str]
    activations: list[torch.Tensor]
    gradients: list[torch.Tensor]

    def activation_std(self) -> list[float]:
        return [a.std().item() for a in self.activations]

    def gradient_std(self) -> list[float]:
        return [g.std().item() for g in self.gradients]


def layer_statistics(
    model: nn.Sequential,
    loss_fn: Callable,
    x: torch.Tensor,
    y: torch.Tensor,
    layer_type: type[nn.Module] = nn.Linear,
) -> LayerStatistics:
    """One forward and backward pass through ``model``, keeping the output of every module of
    ``layer_type`` and the gradient of the loss with respect to that output. The model's
    parameter gradients are left as they were."""
    names, activations, gradients = [], [], []
    handles = []

    def keep(name):
        def hook(module, inputs, output):
            names.append(name)
            activations.append(output.detach())
            output.register_hook(lambda grad: gradients.append(grad.detach()))

        return hook

    for name, module in model.named_modules():
        if isinstance(module, layer_type):
            handles.append(module.register_forward_hook(keep(name)))
    saved = [p.grad for p in model.parameters()]
    try:
        loss_fn(model(x), y).backward()
    finally:
        for handle in handles:
            handle.remove()
        for parameter, grad in zip(model.parameters(), saved):
            parameter.grad = grad
    # Gradients arrive from the last layer to the first.
    return LayerStatistics(names, activations, gradients[::-1])
