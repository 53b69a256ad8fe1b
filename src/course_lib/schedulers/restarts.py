r"""Cosine annealing with warm restarts, SGDR (Loshchilov & Hutter, 2017, "SGDR: Stochastic
Gradient Descent with Warm Restarts"): cosine annealing from :math:`\eta_0` down to
:math:`\eta_\text{min}` over a cycle of :math:`T_i` epochs, then a jump back to :math:`\eta_0`;
cycle :math:`i` lasts :math:`T_i = T_0 T_\text{mult}^i` epochs.

The scheduler keeps its position as state, like torch: ``T_cur`` (epochs since the last
restart, fractional when ``step(epoch)`` is given a float, e.g. ``epoch + i / iters`` after
batch ``i``) and ``T_i`` (the current cycle's length).
"""

import math

from torch.optim import Optimizer

from .base import LRScheduler, check_positive_int
from .closed_form import cosine_annealing_lr_at

__all__ = ["CosineAnnealingWarmRestarts", "cosine_annealing_warm_restarts_lr_at"]


def _restart_position(epoch: float, T_0: int, T_mult: int) -> tuple[float, int]:
    r"""``(T_cur, T_i)`` at ``epoch``. Cycle :math:`n` starts at epoch
    :math:`T_0 (T_\text{mult}^n - 1) / (T_\text{mult} - 1)` (a geometric sum); :math:`n` is
    found by exact integer comparisons. (torch computes it as ``int(math.log(...))``, which
    rounds down at some restart epochs, e.g. epoch 121 for ``T_0=1, T_mult=3``, and then puts
    the rate at :math:`\eta_\text{min}` instead of restarting at :math:`\eta_0`.)"""
    if epoch < T_0:
        return epoch, T_0
    if T_mult == 1:
        return epoch % T_0, T_0
    n = 0
    while T_0 * (T_mult ** (n + 1) - 1) // (T_mult - 1) <= epoch:
        n += 1
    return epoch - T_0 * (T_mult**n - 1) / (T_mult - 1), T_0 * T_mult**n


def cosine_annealing_warm_restarts_lr_at(
    epoch: float, base_lr: float, *, T_0: int, T_mult: int = 1, eta_min: float = 0.0
) -> float:
    r"""SGDR at (possibly fractional) ``epoch``: with :math:`T_\text{cur}` the epochs since
    the last restart and :math:`T_i` the current cycle's length,

    .. math::
        \eta_t = \eta_\text{min} + \tfrac12 (\eta_0 - \eta_\text{min})
                 \left(1 + \cos\frac{\pi T_\text{cur}}{T_i}\right).

    >>> [cosine_annealing_warm_restarts_lr_at(t, 1.0, T_0=2, T_mult=2) for t in range(7)]
    [1.0, 0.5, 1.0, 0.8535533905932737, 0.5, 0.14644660940672627, 1.0]
    """
    T_cur, T_i = _restart_position(epoch, T_0, T_mult)
    return cosine_annealing_lr_at(T_cur, base_lr, T_max=T_i, eta_min=eta_min)


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""SGDR (:func:`cosine_annealing_warm_restarts_lr_at`). ``step()`` advances ``T_cur`` by
    one epoch and restarts when it reaches ``T_i``; ``step(epoch)`` jumps to ``epoch`` (any
    non-negative float), e.g. ``scheduler.step(epoch + i / iters)`` after batch ``i``.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched, lrs = CosineAnnealingWarmRestarts(opt, T_0=2), []
    >>> for _ in range(5):
    ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
    >>> lrs
    [1.0, 0.5, 1.0, 0.5, 1.0]
    >>> sched.step(2.5); round(sched.get_last_lr()[0], 4)
    0.8536
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        check_positive_int("T_0", T_0)
        if isinstance(T_mult, bool) or not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        if not isinstance(eta_min, (float, int)):
            raise ValueError(
                f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}"
            )
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        return [
            cosine_annealing_lr_at(self.T_cur, base_lr, T_max=self.T_i, eta_min=self.eta_min)
            for base_lr in self.base_lrs
        ]

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or jump to ``epoch``; no step-order or deprecation warning (the
        epoch argument is this scheduler's documented way to step per batch)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        elif epoch < 0:
            raise ValueError(f"Expected non-negative epoch, but got {epoch}")
        else:
            self.T_cur, self.T_i = _restart_position(epoch, self.T_0, self.T_mult)
        self._update_lr(math.floor(epoch))
