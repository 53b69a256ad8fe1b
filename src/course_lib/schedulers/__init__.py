r"""Learning-rate schedulers (syllabus section 4): every scheduler of
``torch.optim.lr_scheduler``, each schedule also as a pure closed form ``<name>_lr_at(step, ...)``,
and the LR range test.

- ``LambdaLR`` (:func:`lambda_lr_at`), ``MultiplicativeLR`` (:func:`multiplicative_lr_at`):
  module ``lambdas``;
- ``StepLR``, ``MultiStepLR``, ``ConstantLR``, ``LinearLR``, ``ExponentialLR``,
  ``PolynomialLR``, ``CosineAnnealingLR`` (:func:`step_lr_at`, :func:`multi_step_lr_at`, ...):
  module ``chainable``, closed forms in ``closed_form``;
- ``CosineAnnealingWarmRestarts`` (:func:`cosine_annealing_warm_restarts_lr_at`): ``restarts``;
- ``CyclicLR`` (:func:`cyclic_lr_at`): ``cyclic``; ``OneCycleLR`` (:func:`one_cycle_lr_at`):
  ``one_cycle``;
- ``ReduceLROnPlateau`` (explicit state; :func:`is_better`): ``plateau``;
- ``SequentialLR``, ``ChainedScheduler`` (compose other schedulers): ``composite``;
- :func:`lr_range_test` (with :func:`range_test_lrs`, :func:`smooth_losses`,
  :func:`steepest_lr`): ``range_test``.

All classes subclass torch's ``LRScheduler`` (through :class:`LRScheduler`, which adds a few
helpers), so they mix freely with torch's schedulers.
"""

from .base import LRScheduler
from .chainable import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from .closed_form import (
    constant_lr_at,
    cosine_annealing_lr_at,
    exponential_lr_at,
    lambda_lr_at,
    linear_lr_at,
    multi_step_lr_at,
    multiplicative_lr_at,
    polynomial_lr_at,
    step_lr_at,
)
from .composite import ChainedScheduler, SequentialLR
from .cyclic import CyclicLR, cyclic_lr_at
from .lambdas import LambdaLR, MultiplicativeLR
from .one_cycle import OneCycleLR, one_cycle_lr_at
from .plateau import ReduceLROnPlateau, is_better
from .range_test import (
    LRRangeTestResult,
    lr_range_test,
    range_test_lrs,
    smooth_losses,
    steepest_lr,
)
from .restarts import CosineAnnealingWarmRestarts, cosine_annealing_warm_restarts_lr_at

__all__ = [
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LRRangeTestResult",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
    "constant_lr_at",
    "cosine_annealing_lr_at",
    "cosine_annealing_warm_restarts_lr_at",
    "cyclic_lr_at",
    "exponential_lr_at",
    "is_better",
    "lambda_lr_at",
    "linear_lr_at",
    "lr_range_test",
    "multi_step_lr_at",
    "multiplicative_lr_at",
    "one_cycle_lr_at",
    "polynomial_lr_at",
    "range_test_lrs",
    "smooth_losses",
    "step_lr_at",
    "steepest_lr",
]
