r"""The decay schedules of ``torch.optim.lr_scheduler``: thin classes over the closed forms.

``step(epoch)`` evaluates the closed form of :mod:`course_lib.schedulers.closed_form` at
``last_epoch`` for each group's :math:`\eta_0` (what torch does too). The ordinary ``step()``
is *chainable*, as in torch: it multiplies each group's **current** rate by the closed form's
ratio :math:`\eta_t / \eta_{t-1}`,

.. math:: \eta_t = \eta_{t-1} \cdot r_t, \qquad r_t = \eta_t / \eta_{t-1}
   \text{ (from the closed form, simplified)},

so that several schedulers can act on one optimizer (``ChainedScheduler`` multiplies their
effects) and a rate changed by hand is carried along. Repeated multiplication rounds
differently from the closed form: :math:`((\eta_0\gamma)\gamma)\gamma \ne \eta_0\gamma^3` in
the last bit for most :math:`\gamma`, and the same holds for ``ConstantLR``
(:math:`\eta_0 f \cdot \frac1f \ne \eta_0`), ``LinearLR``, ``PolynomialLR`` and
``CosineAnnealingLR``. The classes therefore follow torch's recurrence operation for operation
(bit-identical sequences, alone or chained); over 300 steps the closed forms stay within
:math:`10^{-13}\,\eta_0` of them (tests/test_schedulers_torch_oracle.py checks it), and are
exactly equal when :math:`\gamma` (or ``ConstantLR``'s factor) is a power of 2.
``MultiplicativeLR``, chainable too, lives with ``LambdaLR`` in
:mod:`course_lib.schedulers.lambdas`.
"""

import math
from collections import Counter
from collections.abc import Iterable

from torch.optim import Optimizer

from .base import LRScheduler, check_positive, check_positive_int
from .closed_form import (
    constant_lr_at,
    cosine_annealing_lr_at,
    exponential_lr_at,
    linear_lr_at,
    multi_step_lr_at,
    polynomial_lr_at,
    step_lr_at,
)

__all__ = [
    "ConstantLR",
    "CosineAnnealingLR",
    "ExponentialLR",
    "LinearLR",
    "MultiStepLR",
    "PolynomialLR",
    "StepLR",
]


class StepLR(LRScheduler):
    r""":math:`\eta_t = \eta_0 \gamma^{\lfloor t/s \rfloor}`: multiply by :math:`\gamma` every
    ``step_size`` epochs (:func:`~course_lib.schedulers.closed_form.step_lr_at`).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched, lrs = StepLR(opt, step_size=4, gamma=0.5), []
    >>> for _ in range(9):
    ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
    >>> lrs
    [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025]
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        check_positive_int("step_size", step_size)
        check_positive("gamma", gamma)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return self._scaled_lrs(self.gamma)

    def _get_closed_form_lr(self) -> list[float]:
        return [
            step_lr_at(self.last_epoch, base_lr, step_size=self.step_size, gamma=self.gamma)
            for base_lr in self.base_lrs
        ]


class MultiStepLR(LRScheduler):
    r""":math:`\eta_t = \eta_0 \gamma^{\#\{m_i \le t\}}`: multiply by :math:`\gamma` at each
    milestone (:func:`~course_lib.schedulers.closed_form.multi_step_lr_at`).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched, lrs = MultiStepLR(opt, milestones=[2, 5], gamma=0.5), []
    >>> for _ in range(6):
    ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
    >>> lrs
    [0.1, 0.1, 0.05, 0.05, 0.05, 0.025]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        check_positive("gamma", gamma)
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        decay = self.gamma ** self.milestones[self.last_epoch]
        return self._scaled_lrs(decay)

    def _get_closed_form_lr(self) -> list[float]:
        milestones = list(self.milestones.elements())
        return [
            multi_step_lr_at(self.last_epoch, base_lr, milestones=milestones, gamma=self.gamma)
            for base_lr in self.base_lrs
        ]


class ConstantLR(LRScheduler):
    r""":math:`\eta_t = f\,\eta_0` for :math:`t <` ``total_iters``, then :math:`\eta_0`:
    multiply by :math:`f` at :math:`t = 0` and by :math:`1/f` at :math:`t = T`
    (:func:`~course_lib.schedulers.closed_form.constant_lr_at`)."""

    def __init__(
        self,
        optimizer: Optimizer,
        factor: float = 1.0 / 3,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if factor > 1.0 or factor <= 0:
            raise ValueError(
                "Constant multiplicative factor expected to be greater than 0 and less or "
                "equal to 1."
            )
        check_positive_int("total_iters", total_iters)
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        if self.last_epoch == 0:
            return self._scaled_lrs(self.factor)
        if self.last_epoch != self.total_iters:
            return self._current_lrs()
        return self._scaled_lrs(1.0 / self.factor)

    def _get_closed_form_lr(self) -> list[float]:
        return [
            constant_lr_at(
                self.last_epoch, base_lr, factor=self.factor, total_iters=self.total_iters
            )
            for base_lr in self.base_lrs
        ]


class LinearLR(LRScheduler):
    r"""Factor linear from ``start_factor`` to ``end_factor`` in ``total_iters`` steps
    (:func:`~course_lib.schedulers.closed_form.linear_lr_at`). With :math:`f_t` that factor,
    the ratio is :math:`f_t / f_{t-1} = 1 + \frac{f_e - f_s}{T f_s + (t-1)(f_e - f_s)}`."""

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError(
                "Starting multiplicative factor expected to be greater than 0 and less or "
                "equal to 1."
            )
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        check_positive_int("total_iters", total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        if self.last_epoch == 0:
            return self._scaled_lrs(self.start_factor)
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        slope = self.end_factor - self.start_factor
        ratio = 1.0 + slope / (self.total_iters * self.start_factor + (self.last_epoch - 1) * slope)
        return self._scaled_lrs(ratio)

    def _get_closed_form_lr(self) -> list[float]:
        return [
            linear_lr_at(
                self.last_epoch,
                base_lr,
                start_factor=self.start_factor,
                end_factor=self.end_factor,
                total_iters=self.total_iters,
            )
            for base_lr in self.base_lrs
        ]


class ExponentialLR(LRScheduler):
    r""":math:`\eta_t = \gamma\,\eta_{t-1} = \eta_0 \gamma^t`
    (:func:`~course_lib.schedulers.closed_form.exponential_lr_at`).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = ExponentialLR(opt, gamma=0.5)
    >>> for _ in range(3):
    ...     opt.step(); sched.step()
    >>> sched.get_last_lr()
    [0.0125]
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        check_positive("gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        if self._is_initial:
            return self._current_lrs()
        return self._scaled_lrs(self.gamma)

    def _get_closed_form_lr(self) -> list[float]:
        return [
            exponential_lr_at(self.last_epoch, base_lr, gamma=self.gamma)
            for base_lr in self.base_lrs
        ]


class PolynomialLR(LRScheduler):
    r""":math:`\eta_t = \eta_0 (1 - \min(t, T)/T)^p`
    (:func:`~course_lib.schedulers.closed_form.polynomial_lr_at`); the ratio is
    :math:`\left(\frac{1 - t/T}{1 - (t-1)/T}\right)^p` up to :math:`T`, then 1."""

    def __init__(
        self,
        optimizer: Optimizer,
        total_iters: int = 5,
        power: float = 1.0,
        last_epoch: int = -1,
    ) -> None:
        check_positive_int("total_iters", total_iters)
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        t, total = self.last_epoch, self.total_iters
        ratio = ((1.0 - t / total) / (1.0 - (t - 1) / total)) ** self.power
        return self._scaled_lrs(ratio)

    def _get_closed_form_lr(self) -> list[float]:
        return [
            polynomial_lr_at(
                self.last_epoch, base_lr, total_iters=self.total_iters, power=self.power
            )
            for base_lr in self.base_lrs
        ]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine from :math:`\eta_0` to :math:`\eta_\text{min}` in ``T_max`` steps
    (:func:`~course_lib.schedulers.closed_form.cosine_annealing_lr_at`). Chainable form, on the
    distance to :math:`\eta_\text{min}`:

    .. math::
        \eta_t = \eta_\text{min} + (\eta_{t-1} - \eta_\text{min})
                 \frac{1 + \cos(\pi t / T_\text{max})}{1 + \cos(\pi (t-1) / T_\text{max})},

    except where the denominator is 0 (:math:`t - 1 = T_\text{max}` modulo
    :math:`2T_\text{max}`, the bottom of the cosine), where the rate rises by the closed form's
    first increment :math:`\tfrac12(\eta_0 - \eta_\text{min})(1 - \cos(\pi / T_\text{max}))`,
    and on the first step of a resumed scheduler, which uses the closed form.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched, lrs = CosineAnnealingLR(opt, T_max=4), []
    >>> for _ in range(5):
    ...     lrs.append(round(sched.get_last_lr()[0], 4)); opt.step(); sched.step()
    >>> lrs
    [1.0, 0.8536, 0.5, 0.1464, 0.0]
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        check_positive("T_max", T_max)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        t, period, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and t > 0:
            return self._get_closed_form_lr()
        if (t - 1 - period) % (2 * period) == 0:
            return [
                group["lr"] + (base_lr - eta_min) * (1 - math.cos(math.pi / period)) / 2
                for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs, strict=True)
            ]
        ratio = (1 + math.cos(math.pi * t / period)) / (1 + math.cos(math.pi * (t - 1) / period))
        return [ratio * (group["lr"] - eta_min) + eta_min for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            cosine_annealing_lr_at(self.last_epoch, base_lr, T_max=self.T_max, eta_min=self.eta_min)
            for base_lr in self.base_lrs
        ]
