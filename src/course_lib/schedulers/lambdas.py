r"""Schedules given by a user function :math:`f` of the epoch: ``LambdaLR`` sets
:math:`\eta_t = \eta_0 f(t)` (its closed form, not chainable), ``MultiplicativeLR`` multiplies
the current rate, :math:`\eta_t = \eta_{t-1} f(t)` (chainable).

As in torch, ``state_dict()`` cannot save a plain function or lambda (it stores ``None``); a
callable *object* saves its ``__dict__``, restored by ``load_state_dict()``.
"""

import types
from collections.abc import Callable

from torch.optim import Optimizer

from .base import LRScheduler, lambdas_per_group
from .closed_form import lambda_lr_at

__all__ = ["LambdaLR", "MultiplicativeLR"]


class _LambdaScheduler(LRScheduler):
    """Shared by both: one function per param group, and torch's state_dict rule for
    ``lr_lambdas`` (a plain function or lambda cannot be saved, ``None``; a callable object
    saves its ``__dict__``)."""

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        self.optimizer = optimizer
        self.lr_lambdas = lambdas_per_group(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) else fn.__dict__.copy()
            for fn in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = {k: v for k, v in state_dict.items() if k != "lr_lambdas"}
        self.__dict__.update(state)
        for fn, saved in zip(self.lr_lambdas, state_dict["lr_lambdas"], strict=True):
            if saved is not None:
                fn.__dict__.update(saved)


class LambdaLR(_LambdaScheduler):
    r""":math:`\eta_t = \eta_0 \, f(t)`, one function for all groups or one per group
    (see :func:`~course_lib.schedulers.closed_form.lambda_lr_at`).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = LambdaLR(opt, lr_lambda=lambda epoch: 0.5**epoch)
    >>> for _ in range(3):
    ...     opt.step(); sched.step()
    >>> sched.get_last_lr()
    [0.0125]
    """

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        return [
            lambda_lr_at(self.last_epoch, base_lr, lr_lambda=fn)
            for fn, base_lr in zip(self.lr_lambdas, self.base_lrs, strict=True)
        ]


class MultiplicativeLR(_LambdaScheduler):
    r""":math:`\eta_t = \eta_{t-1} \, f(t)` (closed form
    :func:`~course_lib.schedulers.closed_form.multiplicative_lr_at`). As in torch,
    ``step(epoch)`` multiplies the current rate by ``f(epoch)`` once (there is no closed form
    in torch for it)."""

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        if self._is_initial:
            return self._current_lrs()
        return [
            group["lr"] * fn(self.last_epoch)
            for fn, group in zip(self.lr_lambdas, self.optimizer.param_groups, strict=True)
        ]
