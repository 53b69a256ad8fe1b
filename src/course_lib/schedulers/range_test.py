r"""The learning-rate range test (syllabus S6; Smith, 2017, "Cyclical Learning Rates for Training
Neural Networks", section 3.3): train for a few hundred batches while the learning rate grows
from tiny to huge, and watch the loss. While :math:`\eta` is too small the loss barely moves;
then it falls fastest; past a point it blows up. A good fixed learning rate sits where the
loss falls fastest, well below the blow-up.

Smith grows :math:`\eta` linearly; the exponential sweep (the default here, as in fastai and
Smith's later "A disciplined approach to neural network hyper-parameters", 2018) spends as many
steps in each decade. The batch losses are noisy, so the curve is an exponential moving average
with bias correction (as for Adam's moments),

.. math::
    m_i = (1 - s)\, m_{i-1} + s\, \ell_i, \quad m_0 = 0, \qquad
    \bar\ell_i = \frac{m_i}{1 - (1 - s)^i},

with :math:`s` = ``smoothing``, and the test stops once :math:`\bar\ell_i` exceeds
``diverge_threshold`` times its best value (or a loss is not finite).

**Suggested rate**: the rate at the steepest descent of the smoothed curve, i.e. the most
negative slope :math:`d\bar\ell / d\log\eta`, looked for before the curve's minimum and
measured across :math:`\pm w` steps with :math:`w = 1/(2s)` (half the averaging window), so
that batch noise does not pose as a descent. This is fastai's "steep" suggestion; the other
common rule, "the rate at the minimum divided by 10", is available as ``min_loss_lr / 10``
(on the course's digits MLP with plain SGD, over six seeds, the steep rule gave 0.5-1.6 times
the best fixed rate of a short sweep and min/10 gave 0.2-0.5 times; tests/test_lr_range_test.py
checks the factor-3 agreement). The moving average lags by about :math:`1/s` steps, so sweep
with enough steps (100 or more).

Afterwards the model and the optimizer are put back exactly as they were (deep copies of their
``state_dict``, and the model's train/eval mode), so the test does not disturb training.
"""

import copy
import math
from collections.abc import Callable, Iterable
from typing import NamedTuple

import torch

__all__ = ["LRRangeTestResult", "lr_range_test", "range_test_lrs", "smooth_losses", "steepest_lr"]


class LRRangeTestResult(NamedTuple):
    """What the range test saw: one entry per step taken (plot ``smoothed`` against ``lrs``
    on a log axis), the suggested rate and the rate where the smoothed loss was lowest."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float
    min_loss_lr: float
    diverged: bool


def range_test_lrs(
    start_lr: float, end_lr: float, num_steps: int, mode: str = "exp"
) -> list[float]:
    r"""The sweep: :math:`\eta_i = \eta_\text{start} (\eta_\text{end}/\eta_\text{start})^{i/(n-1)}`
    (``exp``) or :math:`\eta_\text{start} + (\eta_\text{end} - \eta_\text{start})\, i/(n-1)`
    (``linear``), for :math:`i = 0, \dots, n-1`.

    >>> range_test_lrs(1e-3, 1e1, 5)
    [0.001, 0.01, 0.1, 1.0, 10.0]
    >>> range_test_lrs(0.1, 0.5, 5, mode="linear")
    [0.1, 0.2, 0.30000000000000004, 0.4, 0.5]
    """
    _check_sweep(start_lr, end_lr, num_steps, mode)
    fractions = [i / (num_steps - 1) for i in range(num_steps)]
    if mode == "exp":
        low, high = math.log10(start_lr), math.log10(end_lr)
        return [10 ** (low + (high - low) * f) for f in fractions]
    return [start_lr + (end_lr - start_lr) * f for f in fractions]


def smooth_losses(losses: Iterable[float], smoothing: float = 0.05) -> list[float]:
    r"""Bias-corrected exponential moving average :math:`\bar\ell_i` of the losses.

    >>> smooth_losses([2.0, 2.0, 2.0], smoothing=0.5)
    [2.0, 2.0, 2.0]
    >>> smooth_losses([4.0, 2.0], smoothing=0.5)
    [4.0, 2.6666666666666665]
    """
    average, out = 0.0, []
    for i, loss in enumerate(losses, start=1):
        average = (1 - smoothing) * average + smoothing * loss
        out.append(average / (1 - (1 - smoothing) ** i))
    return out


def steepest_lr(lrs: list[float], smoothed: list[float], *, window: int = 1) -> float:
    r"""The rate :math:`\eta_i` where the slope
    :math:`(\bar\ell_{i+w} - \bar\ell_{i-w}) / (\log\eta_{i+w} - \log\eta_{i-w})` is most
    negative, for :math:`i` from the end of the first tenth of the sweep (where the average has
    seen too few losses to be trusted) up to the curve's minimum. A window :math:`w` of several
    steps keeps batch noise from posing as a steep descent.

    >>> steepest_lr([1e-3, 1e-2, 1e-1, 1.0, 10.0], [2.0, 1.2, 1.0, 0.9, 5.0])
    0.01
    """
    last = len(smoothed) - 1
    end = min(range(len(smoothed)), key=smoothed.__getitem__)
    candidates = range(max(window, len(smoothed) // 10), end)
    if not candidates:
        return lrs[end]
    log_lrs = [math.log(lr) for lr in lrs]

    def slope(i: int) -> float:
        left, right = i - window, min(i + window, last)
        return (smoothed[right] - smoothed[left]) / (log_lrs[right] - log_lrs[left])

    return lrs[min(candidates, key=slope)]


def lr_range_test(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    data: Iterable,
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    mode: str = "exp",
    smoothing: float = 0.05,
    diverge_threshold: float = 4.0,
) -> LRRangeTestResult:
    """Run the range test: one optimizer step per batch of ``data`` (an iterable of
    ``(input, target)`` pairs, such as a list or a ``DataLoader``, re-iterated when it runs out;
    a one-shot iterator ends the test early when exhausted) at the rates of
    :func:`range_test_lrs`, for every param group; then restore model and optimizer.

    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(256, 4, generator=g)
    >>> y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    >>> data = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)]
    >>> model = torch.nn.Linear(4, 1, bias=False)
    >>> _ = torch.nn.init.zeros_(model.weight)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> mse = lambda out, target: torch.nn.functional.mse_loss(out.squeeze(1), target)
    >>> result = lr_range_test(model, opt, mse, data, start_lr=1e-4, end_lr=10.0, num_steps=100)
    >>> result.diverged, 0.01 < result.suggestion < 1.0, model.weight.abs().sum().item()
    (True, True, 0.0)
    """
    if not 0 < smoothing <= 1:
        raise ValueError(f"smoothing must be in (0, 1], but got {smoothing}")
    if not diverge_threshold > 1:
        raise ValueError(f"diverge_threshold must be greater than 1, but got {diverge_threshold}")
    lrs = range_test_lrs(start_lr, end_lr, num_steps, mode)
    saved = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
    was_training = model.training
    try:
        model.train()
        losses, diverged = _sweep(
            model, optimizer, loss_fn, _forever(data), lrs, smoothing, diverge_threshold
        )
    finally:
        model.load_state_dict(saved[0])
        optimizer.load_state_dict(saved[1])
        model.train(was_training)
    lrs = lrs[: len(losses)]
    smoothed = smooth_losses(losses, smoothing)
    min_loss_lr = lrs[min(range(len(smoothed)), key=smoothed.__getitem__)]
    suggestion = steepest_lr(lrs, smoothed, window=max(1, round(0.5 / smoothing)))
    return LRRangeTestResult(lrs, losses, smoothed, suggestion, min_loss_lr, diverged)


def _sweep(model, optimizer, loss_fn, batches, lrs, smoothing, diverge_threshold):
    """Train one batch per rate; stop after the first non-finite or diverging smoothed loss."""
    losses, best = [], math.inf
    for lr, (x, y) in zip(lrs, batches, strict=False):
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        smoothed = smooth_losses(losses, smoothing)[-1]
        if not math.isfinite(smoothed) or smoothed > diverge_threshold * best:
            return losses, True
        best = min(best, smoothed)
    return losses, False


def _forever(data: Iterable):
    """Yield the batches of ``data`` again and again; a one-shot iterator ends the sweep when
    it is exhausted. Raise if ``data`` has no batch at all."""
    first_pass = True
    while True:
        empty = True
        for batch in data:
            empty = False
            yield batch
        if empty and first_pass:
            raise ValueError("data yielded no batches: pass a non-empty, re-iterable collection")
        if empty:
            return
        first_pass = False


def _check_sweep(start_lr, end_lr, num_steps, mode) -> None:
    if mode not in ("exp", "linear"):
        raise ValueError(f"mode must be 'exp' or 'linear', but got {mode!r}")
    if not 0 < start_lr < end_lr:
        raise ValueError(
            f"need 0 < start_lr < end_lr, but got start_lr={start_lr}, end_lr={end_lr}"
        )
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 2:
        raise ValueError(f"num_steps must be an integer >= 2, but got {num_steps!r}")
