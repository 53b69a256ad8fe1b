r"""The scheduler object (syllabus S1), shared by every schedule of :mod:`course_lib.schedulers`.

A learning-rate scheduler owns an ``optimizer`` and writes a new learning rate
:math:`\eta_t` into each of its ``param_groups`` every time ``step()`` is called. It counts the
calls in ``last_epoch`` (:math:`t`, starting at 0 after construction) and remembers each group's
starting rate :math:`\eta_0` in ``base_lrs`` (also stored as ``group["initial_lr"]``, so that a
scheduler re-created from a checkpoint finds it). ``get_last_lr()`` returns the rates it set last.

Step order: call ``optimizer.step()`` first, then ``scheduler.step()``. Constructing the
scheduler already applies :math:`\eta_0`, so the first update uses it; stepping the scheduler
first would skip :math:`\eta_0`, which is why torch warns when it sees that order.

Our schedulers subclass torch's ``LRScheduler`` and keep its attribute names, so they get
torch's bookkeeping (``state_dict()``, ``get_last_lr()``, the step-order warning) and work inside
torch's ``SequentialLR``/``ChainedScheduler``, while torch's schedulers work inside ours.
"""

import warnings

import torch
from torch.optim import lr_scheduler

__all__ = ["LRScheduler"]


class LRScheduler(lr_scheduler.LRScheduler):
    r"""Base class of course_lib's schedulers: torch's ``LRScheduler`` plus small helpers.

    A subclass sets its hyperparameters, calls ``super().__init__(optimizer, last_epoch)`` and
    implements ``get_lr()``, the rates for step ``self.last_epoch``.

    >>> from course_lib.schedulers import ExponentialLR
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = ExponentialLR(opt, gamma=0.5)
    >>> sched.last_epoch, sched.base_lrs, opt.param_groups[0]["initial_lr"]
    (0, [0.1], 0.1)
    >>> opt.step(); sched.step()
    >>> sched.last_epoch, sched.get_last_lr()
    (1, [0.05])
    """

    def _warn_if_outside_step(self) -> None:
        """torch's hint for users who call ``get_lr()`` to read the rate (use get_last_lr())."""
        if not self._get_lr_called_within_step:
            warnings.warn(
                "To get the last learning rate computed by the scheduler, "
                "please use `get_last_lr()`.",
                UserWarning,
                stacklevel=3,
            )

    def _scaled_lrs(self, factor) -> list:
        """Each group's current ``lr`` times ``factor``: one step of a chainable schedule."""
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _current_lrs(self) -> list:
        """Each group's current ``lr`` (a copy when it is a tensor, so callers cannot alias it)."""
        return [
            group["lr"].clone() if isinstance(group["lr"], torch.Tensor) else group["lr"]
            for group in self.optimizer.param_groups
        ]


def set_group_lr(group: dict, lr) -> None:
    """Write ``lr`` into a param group, in place when the group holds a tensor rate."""
    if isinstance(group["lr"], torch.Tensor):
        group["lr"].fill_(lr)
    else:
        group["lr"] = lr


def check_positive_int(name: str, value) -> None:
    """Raise ``ValueError`` unless ``value`` is a positive integer (a step count)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"Expected positive integer {name}, but got {value!r}")


def check_positive(name: str, value) -> None:
    """Raise ``ValueError`` unless ``value`` is a positive number (a decay factor)."""
    if not value > 0:
        raise ValueError(f"{name} must be a positive number, but got {value!r}")


def values_per_group(name: str, optimizer, value) -> list:
    """One value per param group, from one value or a list/tuple of them (torch's rule);
    tensors are copied so that groups do not share them."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. {name} has "
                f"{len(value)} values, param_groups has {len(optimizer.param_groups)}."
            )
    else:
        value = [value] * len(optimizer.param_groups)
    return [v.clone() if isinstance(v, torch.Tensor) else v for v in value]


def lambdas_per_group(optimizer, lr_lambda) -> list:
    """One callable per param group, from one callable or a list/tuple of them (torch's rule)."""
    if isinstance(lr_lambda, (list, tuple)):
        if len(lr_lambda) != len(optimizer.param_groups):
            raise ValueError(
                f"Expected {len(optimizer.param_groups)} lr_lambdas, but got {len(lr_lambda)}"
            )
        lambdas = list(lr_lambda)
    else:
        lambdas = [lr_lambda] * len(optimizer.param_groups)
    for fn in lambdas:
        if not callable(fn):
            raise TypeError(f"lr_lambda should be a function, but got {type(fn).__name__}")
    return lambdas
