r"""Cyclical learning rates (Smith, 2017, "Cyclical Learning Rates for Training Neural
Networks"): the rate sweeps a triangle between a lower and an upper bound, again and again.

A closed form in the batch counter :math:`t` (``last_epoch`` counts batches here: call
``step()`` after every batch). ``CyclicLR`` and ``OneCycleLR`` can cycle the momentum
:math:`\mu` (or Adam's :math:`\beta_1`) *inversely* to the learning rate: high rate, low
momentum. That momentum, written into the param groups, is the state these schedulers keep
besides the counter. The arithmetic follows torch's operation for operation, so rates and
momenta are bit-identical.
"""

import functools
import math
import types
from collections.abc import Callable

from torch.optim import Optimizer

from .base import LRScheduler, set_group_lr, values_per_group

__all__ = ["CyclicLR", "cyclic_lr_at"]

_CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


def _triangle(step: int, total_size: float, step_ratio: float) -> tuple[int, float]:
    """Cycle number :math:`c` (from 1) and the triangle's height :math:`h(t) \\in [0, 1]`."""
    cycle = math.floor(1 + step / total_size)
    x = 1.0 + step / total_size - cycle
    height = x / step_ratio if x <= step_ratio else (x - 1) / (step_ratio - 1)
    return cycle, height


def _policy_scale(x: float, mode: str, gamma: float) -> float:
    """Amplitude scale of the built-in policies; ``x`` is the cycle for the triangular modes
    and the step for ``exp_range``."""
    if mode == "triangular":
        return 1.0
    if mode == "triangular2":
        return 1 / (2.0 ** (x - 1))
    return gamma**x


def _cycle_point(step, total_size, step_ratio, scale_fn, scale_mode) -> tuple[float, float]:
    """Height :math:`h(t)` of the triangle and amplitude scale :math:`s` at ``step``."""
    cycle, height = _triangle(step, total_size, step_ratio)
    return height, scale_fn(cycle if scale_mode == "cycle" else step)


def _between(low: float, high: float, height: float, scale: float) -> float:
    """:math:`\\text{low} + (\\text{high} - \\text{low})\\, h\\, s`; with low and high swapped this
    is the inverse cycle of the momentum (bit for bit torch's ``high - (high - low) h s``)."""
    return low + (high - low) * height * scale


def cyclic_lr_at(
    step: int,
    base_lr: float,
    max_lr: float,
    *,
    step_size_up: int = 2000,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
    scale_fn: Callable[[float], float] | None = None,
    scale_mode: str = "cycle",
) -> float:
    r"""``CyclicLR``: a triangle wave between ``base_lr`` and ``max_lr``,

    .. math::
        \eta_t = \eta_\text{base} + (\eta_\text{max} - \eta_\text{base})\, h(t)\, s,

    where :math:`h(t) \in [0, 1]` rises linearly for ``step_size_up`` steps and falls for
    ``step_size_down`` steps, and the amplitude scale :math:`s` is 1 (``triangular``),
    :math:`2^{-(c-1)}` in cycle :math:`c = 1, 2, \dots` (``triangular2``), :math:`\gamma^t`
    (``exp_range``), or ``scale_fn`` of :math:`c` or of :math:`t` (``scale_mode``).

    >>> [cyclic_lr_at(t, 0.0, 1.0, step_size_up=2) for t in range(5)]
    [0.0, 0.5, 1.0, 0.5, 0.0]
    >>> [cyclic_lr_at(t, 0.0, 1.0, step_size_up=1, mode="triangular2") for t in range(6)]
    [0.0, 1.0, 0.0, 0.5, 0.0, 0.25]
    """
    total_size, step_ratio = _cycle_shape(step_size_up, step_size_down)
    scale_mode = _check_cyclic_mode(mode, scale_fn, scale_mode)
    scale = scale_fn or functools.partial(_policy_scale, mode=mode, gamma=gamma)
    return _between(base_lr, max_lr, *_cycle_point(step, total_size, step_ratio, scale, scale_mode))


def _cycle_shape(step_size_up, step_size_down) -> tuple[float, float]:
    if not step_size_up > 0:
        raise ValueError(f"step_size_up must be positive, but got {step_size_up!r}")
    if step_size_down is not None and not step_size_down >= 0:
        raise ValueError(f"step_size_down must be non-negative, but got {step_size_down!r}")
    up = float(step_size_up)
    down = float(step_size_down) if step_size_down is not None else up
    total_size = up + down
    return total_size, up / total_size


def _check_cyclic_mode(mode, scale_fn, scale_mode) -> str:
    """Validate and return the scale mode: without ``scale_fn`` the mode fixes it (torch's rule)."""
    if scale_fn is not None:
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"scale_mode must be 'cycle' or 'iterations', but got {scale_mode!r}")
        return scale_mode
    if mode not in _CYCLIC_MODES:
        raise ValueError(f"mode is invalid and scale_fn is None: expected one of {_CYCLIC_MODES}")
    return "iterations" if mode == "exp_range" else "cycle"


def _momentum_setup(optimizer, base_momentum, max_momentum, last_epoch):
    """Check that the optimizer has a momentum or beta1; at a fresh start write ``max_momentum``
    and both bounds into each group. Returns (use_beta1, base_momentums, max_momentums)."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(
            "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"
        )
    use_beta1 = "betas" in optimizer.defaults
    base_momentums = values_per_group("base_momentum", optimizer, base_momentum)
    max_momentums = values_per_group("max_momentum", optimizer, max_momentum)
    if last_epoch == -1:
        for group, high, low in zip(
            optimizer.param_groups, max_momentums, base_momentums, strict=True
        ):
            _set_momentum(group, high, use_beta1)
            group["max_momentum"] = high
            group["base_momentum"] = low
    return use_beta1, base_momentums, max_momentums


def _set_momentum(group: dict, momentum: float, use_beta1: bool) -> None:
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


class CyclicLR(LRScheduler):
    r"""Cyclical learning rate (:func:`cyclic_lr_at`) per param group; with ``cycle_momentum``
    the momentum runs the same triangle from ``max_momentum`` down to ``base_momentum``
    (:math:`\mu_t = \mu_\text{max} - (\mu_\text{max} - \mu_\text{base})\,h(t)\,s`).
    Constructing it sets each group's ``lr`` to ``base_lr``.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    >>> sched, seen = CyclicLR(opt, base_lr=0.1, max_lr=0.5, step_size_up=2), []
    >>> for _ in range(4):
    ...     momentum = opt.param_groups[0]["momentum"]
    ...     seen.append((round(sched.get_last_lr()[0], 2), round(momentum, 2)))
    ...     opt.step(); sched.step()
    >>> seen
    [(0.1, 0.9), (0.3, 0.85), (0.5, 0.8), (0.3, 0.85)]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | list[float],
        max_lr: float | list[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float = 0.8,
        max_momentum: float = 0.9,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        base_lrs = values_per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups, strict=True):
                set_group_lr(group, lr)
        self.max_lrs = values_per_group("max_lr", optimizer, max_lr)
        self.total_size, self.step_ratio = _cycle_shape(step_size_up, step_size_down)
        self.scale_mode = _check_cyclic_mode(mode, scale_fn, scale_mode)
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1, self.base_momentums, self.max_momentums = _momentum_setup(
                optimizer, base_momentum, max_momentum, last_epoch
            )
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x: float) -> float:
        """The amplitude scale at ``x`` (a cycle number or a step, per ``scale_mode``)."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        return _policy_scale(x, self.mode, self.gamma)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        point = _cycle_point(
            self.last_epoch, self.total_size, self.step_ratio, self.scale_fn, self.scale_mode
        )
        if self.cycle_momentum:
            for group, low, high in zip(
                self.optimizer.param_groups, self.base_momentums, self.max_momentums, strict=True
            ):
                _set_momentum(group, _between(high, low, *point), self.use_beta1)
        return [
            _between(low, high, *point)
            for low, high in zip(self.base_lrs, self.max_lrs, strict=True)
        ]

    def state_dict(self) -> dict:
        """torch's rule: a plain-function ``scale_fn`` is not saved (``None``), a callable
        object's ``__dict__`` is."""
        state = super().state_dict()
        fn = state["_scale_fn_custom"]
        state["_scale_fn_custom"] = (
            None if fn is None or isinstance(fn, types.FunctionType) else fn.__dict__.copy()
        )
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        saved = state_dict["_scale_fn_custom"]
        super().load_state_dict({k: v for k, v in state_dict.items() if k != "_scale_fn_custom"})
        if saved is not None:
            self._scale_fn_custom.__dict__.update(saved)
