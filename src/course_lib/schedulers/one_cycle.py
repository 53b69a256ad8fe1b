r"""The 1cycle policy (Smith & Topin, 2019, "Super-Convergence: Very Fast Training of Neural
Networks Using Large Learning Rates"): one warm-up from :math:`\eta_\text{max}/d` to
:math:`\eta_\text{max}` over the first ``pct_start`` of the run, then one long anneal down to
:math:`\eta_\text{max}/(d\,d_f)`, far below the start (:math:`d` = ``div_factor``,
:math:`d_f` = ``final_div_factor``). ``three_phase=True`` is the paper's version: symmetric up
and down, then a third phase down to the minimum; the default two-phase version is fastai's.
The momentum (or :math:`\beta_1`) runs the other way, from ``max_momentum`` to
``base_momentum`` and back. Call ``step()`` after every batch.
"""

import math

from torch.optim import Optimizer

from .base import LRScheduler, check_positive_int, values_per_group
from .cyclic import _momentum_setup, _set_momentum

__all__ = ["OneCycleLR", "one_cycle_lr_at"]


def _anneal(start: float, end: float, pct: float, strategy: str) -> float:
    r"""From ``start`` (pct 0) to ``end`` (pct 1): half a cosine,
    :math:`e + \tfrac12 (s - e)(1 + \cos \pi p)`, or a straight line :math:`s + (e - s)p`."""
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


def _one_cycle_phases(total_steps: int, pct_start: float, three_phase: bool) -> list[dict]:
    """torch's phase table: the last step of each phase and the group keys it anneals between."""
    rise = float(pct_start * total_steps) - 1
    if three_phase:
        return [
            _phase(rise, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
            _phase(
                float(2 * pct_start * total_steps) - 2,
                "max_lr",
                "initial_lr",
                "base_momentum",
                "max_momentum",
            ),
            _phase(total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
        ]
    return [
        _phase(rise, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
        _phase(total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
    ]


def _phase(end_step, start_lr, end_lr, start_momentum, end_momentum) -> dict:
    return {
        "end_step": end_step,
        "start_lr": start_lr,
        "end_lr": end_lr,
        "start_momentum": start_momentum,
        "end_momentum": end_momentum,
    }


def _phase_value(step, phases, values: dict, start_key: str, end_key: str, strategy: str):
    """Anneal within the phase that contains ``step`` (the last phase takes any later step)."""
    start_step = 0.0
    for phase in phases[:-1]:
        if step <= phase["end_step"]:
            break
        start_step = phase["end_step"]
    else:
        phase = phases[-1]
    pct = (step - start_step) / (phase["end_step"] - start_step)
    return _anneal(values[phase[start_key]], values[phase[end_key]], pct, strategy)


def one_cycle_lr_at(
    step: int,
    max_lr: float,
    *,
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> float:
    r"""``OneCycleLR`` at step :math:`t`: with :math:`T` = ``total_steps`` and
    :math:`t_1 = p T - 1` (:math:`p` = ``pct_start``), anneal (``cos`` or ``linear``) from
    :math:`\eta_\text{max}/d` to :math:`\eta_\text{max}` for :math:`t \le t_1`, then to
    :math:`\eta_\text{max}/(d\,d_f)` at :math:`t = T - 1`.

    >>> [round(one_cycle_lr_at(t, 1.0, total_steps=10, pct_start=0.3, anneal_strategy="linear",
    ...        div_factor=10.0, final_div_factor=1.0), 4) for t in range(0, 10, 3)]
    [0.1, 0.8714, 0.4857, 0.1]
    """
    initial_lr = max_lr / div_factor
    values = {"initial_lr": initial_lr, "max_lr": max_lr, "min_lr": initial_lr / final_div_factor}
    phases = _one_cycle_phases(total_steps, pct_start, three_phase)
    return _phase_value(step, phases, values, "start_lr", "end_lr", anneal_strategy)


class OneCycleLR(LRScheduler):
    r"""The 1cycle policy (:func:`one_cycle_lr_at`) for each param group; ``total_steps`` or
    ``epochs`` and ``steps_per_epoch`` give the length. Like torch, it stores ``initial_lr``,
    ``max_lr``, ``min_lr`` (and ``max_momentum``, ``base_momentum``) in each param group, so
    the optimizer's ``state_dict`` carries them.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    >>> sched, lrs = OneCycleLR(opt, max_lr=1.0, total_steps=10), []
    >>> for _ in range(9):
    ...     opt.step(); sched.step(); lrs.append(sched.get_last_lr()[0])
    >>> round(lrs[1], 6), round(lrs[-1], 6), opt.param_groups[0]["momentum"]
    (1.0, 4e-06, 0.95)
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        self.total_steps = _total_steps(total_steps, epochs, steps_per_epoch)
        self._schedule_phases = _one_cycle_phases(self.total_steps, pct_start, three_phase)
        if pct_start < 0 or pct_start > 1 or not isinstance(pct_start, float):
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}"
            )
        self._anneal_func_type = anneal_strategy
        max_lrs = values_per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, peak in zip(optimizer.param_groups, max_lrs, strict=True):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _momentum_setup(optimizer, base_momentum, max_momentum, last_epoch)[0]
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        step, phases, strategy = self.last_epoch, self._schedule_phases, self._anneal_func_type
        if step > self.total_steps:
            raise ValueError(
                f"Tried to step {step} times. The specified number of total steps is "
                f"{self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            lrs.append(_phase_value(step, phases, group, "start_lr", "end_lr", strategy))
            if self.cycle_momentum:
                momentum = _phase_value(
                    step, phases, group, "start_momentum", "end_momentum", strategy
                )
                _set_momentum(group, momentum, self.use_beta1)
        return lrs


def _total_steps(total_steps, epochs, steps_per_epoch) -> int:
    """``total_steps``, or ``epochs * steps_per_epoch`` (torch's precedence and messages)."""
    if total_steps is not None:
        check_positive_int("total_steps", total_steps)
        return total_steps
    if epochs is not None and steps_per_epoch is not None:
        check_positive_int("epochs", epochs)
        check_positive_int("steps_per_epoch", steps_per_epoch)
        return epochs * steps_per_epoch
    raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
