"""A small, readable training loop and the measurements the book makes with it.

- :func:`mlp` builds the deep fully connected networks of the Initialization chapter.
- :func:`fit` trains any model with any loss, optimizer (LBFGS included), scheduler (per epoch
  or per batch, ReduceLROnPlateau included) and penalty, recording a :class:`History` of
  losses and accuracies per epoch (binary targets included) and of the loss per step.
- :func:`layer_statistics` runs one forward and backward pass and returns, for every layer, the
  activations it produced and the gradients that reached them: the numbers behind "vanishing"
  and "exploding".
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from torch.optim import lr_scheduler

from course_lib.data import batches
from course_lib.schedulers import ReduceLROnPlateau


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
    """What :func:`fit` records. Per epoch (index 0 is before training): ``train_loss`` (the
    data loss plus the penalty, the objective being minimized), ``val_loss`` (the data loss
    alone), both accuracies and the learning rate of the first parameter group after the
    epoch. Per optimizer step: ``step_loss`` (the batch objective before the step), ``step_lr``
    (the rate that step used) and ``gradient_evaluations`` (forward-backward passes so far:
    one per step, more for optimizers such as LBFGS that call the closure repeatedly)."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    step_lr: list[float] = field(default_factory=list)
    gradient_evaluations: list[int] = field(default_factory=list)


def match_output(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``out`` shaped like a float target ``y``: an (N, 1) output against (N,) targets loses
    its last axis (left as it is, a loss would broadcast it to (N, N) or raise)."""
    if y.is_floating_point() and out.dim() == y.dim() + 1 and out.shape[-1] == 1:
        return out.squeeze(-1)
    return out


def accuracy(out: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of correct predictions: ``argmax`` of the logits for class indices (integer
    ``y``), ``logit > 0`` for binary targets (floats that are all 0 or 1); NaN otherwise
    (regression)."""
    if not y.is_floating_point():
        return (out.argmax(dim=1) == y).double().mean().item()
    if ((y == 0) | (y == 1)).all():
        return ((match_output(out, y) > 0) == (y == 1)).double().mean().item()
    return float("nan")


@torch.no_grad()
def evaluate(model: nn.Module, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(loss, accuracy) of ``model`` on ``(x, y)`` in eval mode (see :func:`accuracy`)."""
    was_training = model.training
    model.eval()
    out = model(x)
    model.train(was_training)
    return loss_fn(match_output(out, y), y).item(), accuracy(out, y)


def fit(
    model: nn.Module,
    loss_fn: Callable,
    optimizer: torch.optim.Optimizer,
    data,
    *,
    epochs: int,
    batch_size: int,
    scheduler=None,
    scheduler_every: str = "epoch",
    penalty: Callable[[nn.Module], torch.Tensor] | None = None,
    seed: int = 0,
) -> History:
    r"""Mini-batch training of ``model`` on ``data`` (a :class:`course_lib.data.Split`),
    batches shuffled by a generator seeded with ``seed``.

    Each step minimizes :math:`\ell(\text{model}(x_b), y_b) + \text{penalty}(\text{model})`
    through ``optimizer.step(closure)``: the closure zeroes the gradients, computes this
    objective and calls ``backward()``. Every torch optimizer accepts a closure; LBFGS needs
    one, because it re-evaluates the objective during its line search.

    The scheduler, if any, steps after the optimizer, once per epoch or, with
    ``scheduler_every="batch"``, once per batch. ``ReduceLROnPlateau`` is stepped with a
    metric: the validation loss per epoch, the batch objective per batch.
    """
    if scheduler_every not in ("epoch", "batch"):
        raise ValueError(f"scheduler_every must be 'epoch' or 'batch', got {scheduler_every!r}")
    plateau = isinstance(scheduler, (lr_scheduler.ReduceLROnPlateau, ReduceLROnPlateau))
    generator = torch.Generator().manual_seed(seed)
    history = History()
    evaluations = 0

    def objective(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = loss_fn(match_output(model(x), y), y)
        return loss if penalty is None else loss + penalty(model)

    def record() -> None:
        for split, (x, y) in (("train", data[:2]), ("val", data[2:])):
            loss, acc = evaluate(model, loss_fn, x, y)
            if split == "train" and penalty is not None:
                with torch.no_grad():
                    loss += penalty(model).item()
            getattr(history, f"{split}_loss").append(loss)
            getattr(history, f"{split}_accuracy").append(acc)

    def step_scheduler(metric: float) -> None:
        if plateau:
            scheduler.step(metric)
        else:
            scheduler.step()

    record()
    history.lr.append(optimizer.param_groups[0]["lr"])
    model.train()
    for _ in range(epochs):
        for xb, yb in batches(data.x_train, data.y_train, batch_size, generator=generator):

            def closure() -> torch.Tensor:
                nonlocal evaluations
                evaluations += 1
                optimizer.zero_grad()
                loss = objective(xb, yb)
                loss.backward()
                return loss

            history.step_lr.append(optimizer.param_groups[0]["lr"])
            history.step_loss.append(optimizer.step(closure).item())
            history.gradient_evaluations.append(evaluations)
            if scheduler is not None and scheduler_every == "batch":
                step_scheduler(history.step_loss[-1])
        record()
        if scheduler is not None and scheduler_every == "epoch":
            step_scheduler(history.val_loss[-1])
        history.lr.append(optimizer.param_groups[0]["lr"])
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
