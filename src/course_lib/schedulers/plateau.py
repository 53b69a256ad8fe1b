r"""``ReduceLROnPlateau`` (syllabus S3): cut the learning rate when a monitored metric stops
improving. The one schedule that is not a function of :math:`t`: it reads a metric each epoch
and keeps explicit state (the best value so far, the count of bad epochs, a cooldown counter).

Each ``step(metric)``:

1. the metric *improves* when it beats the best so far by more than the threshold
   (:func:`is_better`); then ``best`` is updated and the bad-epoch count reset, otherwise the
   count grows;
2. during a cooldown (a few epochs right after a cut) bad epochs are not counted;
3. when the count exceeds ``patience``, every group's rate becomes
   :math:`\max(\eta \cdot \text{factor}, \eta_\text{min})`, unless that changes it by no more
   than ``eps``; the cooldown starts and the count is reset.
"""

import math
import warnings

from torch.optim import Optimizer
from torch.optim.lr_scheduler import EPOCH_DEPRECATION_WARNING

from .base import LRScheduler, set_group_lr

__all__ = ["ReduceLROnPlateau", "is_better"]


def is_better(
    current: float,
    best: float,
    *,
    mode: str = "min",
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
) -> bool:
    r"""Whether ``current`` improves on ``best`` by more than the threshold :math:`\delta`.

    ==========  ===========================================  ==========================
    mode        ``rel``                                      ``abs``
    ==========  ===========================================  ==========================
    ``min``     :math:`x < x^* (1 - \delta)`                 :math:`x < x^* - \delta`
    ``max``     :math:`x > x^* (1 + \delta)`                 :math:`x > x^* + \delta`
    ==========  ===========================================  ==========================

    >>> is_better(0.9999, 1.0), is_better(0.99, 1.0), is_better(2.0, 1.0, mode="max")
    (False, True, True)
    """
    if mode == "min" and threshold_mode == "rel":
        return current < best * (1.0 - threshold)
    if mode == "min":
        return current < best - threshold
    if threshold_mode == "rel":
        return current > best * (threshold + 1.0)
    return current > best + threshold


class ReduceLROnPlateau(LRScheduler):
    r"""Multiply the rates by ``factor`` after more than ``patience`` epochs without
    improvement of the metric passed to ``step(metric)`` (torch's arguments and state keys).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = ReduceLROnPlateau(opt, factor=0.5, patience=1)
    >>> for val_loss in [3.0, 2.0, 2.0, 2.0, 2.0, 2.0]:
    ...     sched.step(val_loss)
    ...     print(sched.get_last_lr()[0], sched.num_bad_epochs)
    1.0 0
    1.0 0
    1.0 1
    0.5 0
    0.5 1
    0.25 0
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: list[float] | float = 0,
        eps: float = 1e-8,
    ) -> None:
        if factor >= 1.0:
            raise ValueError(f"Factor should be < 1.0, but got {factor}.")
        self.factor = factor
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(
                    f"expected {len(optimizer.param_groups)} min_lrs, got {len(min_lr)}"
                )
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self._init_is_better(mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        self._reset()

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode {mode} is unknown! Use 'min' or 'max'.")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold mode {threshold_mode} is unknown! Use 'rel' or 'abs'.")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def step(self, metrics, epoch=None) -> None:
        """Feed this epoch's metric (a float or a 0-dim tensor)."""
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if is_better(
            current,
            self.best,
            mode=self.mode,
            threshold=self.threshold,
            threshold_mode=self.threshold_mode,
        ):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self) -> None:
        if len(self.optimizer.param_groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"The number of param groups in the `optimizer` "
                    f"({len(self.optimizer.param_groups)}) differs from when "
                    f"`ReduceLROnPlateau` was initialized ({len(self.min_lrs)}), usually "
                    "because a param group was added. Set `min_lrs` to one value per group."
                )
            self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                set_group_lr(group, new_lr)

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)
        self._init_is_better(
            mode=self.mode, threshold=self.threshold, threshold_mode=self.threshold_mode
        )
