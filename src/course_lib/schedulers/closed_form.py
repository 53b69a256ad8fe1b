r"""Closed forms: the learning rate :math:`\eta_t` at step :math:`t` as a function of :math:`t`.

Notation (book/notation.md): :math:`\eta_t` is the learning rate at step (epoch) :math:`t`,
:math:`\eta_0` the group's initial rate (``base_lr``); :math:`t = 0` is the rate right after
the scheduler is constructed. Every function here is pure, takes ``(step, base_lr, *, ...)``
with torch's hyperparameter names, and does torch's own arithmetic of ``step(epoch)`` (its
``_get_closed_form_lr``), so the value is bit-identical to what torch computes from a closed
form. The classes in :mod:`course_lib.schedulers.chainable` use these functions for
``step(epoch)``; their ordinary ``step()`` follows torch's chainable recurrence
:math:`\eta_t = \eta_{t-1} \cdot \eta_t / \eta_{t-1}`, whose floating-point result can differ
from the closed form in the last bits (see that module).

>>> [step_lr_at(t, 0.1, step_size=4, gamma=0.5) for t in range(0, 12, 2)]
[0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
"""

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable

__all__ = [
    "constant_lr_at",
    "cosine_annealing_lr_at",
    "exponential_lr_at",
    "lambda_lr_at",
    "linear_lr_at",
    "multi_step_lr_at",
    "multiplicative_lr_at",
    "polynomial_lr_at",
    "step_lr_at",
]


def lambda_lr_at(step: int, base_lr: float, *, lr_lambda: Callable[[int], float]) -> float:
    r"""``LambdaLR``: :math:`\eta_t = \eta_0 \, f(t)` for a user function :math:`f`.

    The lambda returns a *factor*, not a rate. Integer division is a classic trap: with
    ``lambda epoch: epoch // 30`` the factor is 0 for :math:`t < 30`, so the rate is 0 and
    nothing trains for 30 epochs (the fix: ``lambda epoch: 0.1 ** (epoch // 30)``).

    >>> [lambda_lr_at(t, 0.1, lr_lambda=lambda epoch: epoch // 30) for t in (0, 29, 30, 60)]
    [0.0, 0.0, 0.1, 0.2]
    """
    return base_lr * lr_lambda(step)


def multiplicative_lr_at(step: int, base_lr: float, *, lr_lambda: Callable[[int], float]) -> float:
    r"""``MultiplicativeLR``: :math:`\eta_t = \eta_0 \prod_{s=1}^{t} f(s)`.

    Each step multiplies the rate by :math:`f(t)`; the product is taken left to right, the
    order torch's recurrence multiplies in, so the result is bit-identical to it.

    >>> multiplicative_lr_at(3, 1.0, lr_lambda=lambda epoch: 0.5)
    0.125
    """
    lr = base_lr
    for s in range(1, step + 1):
        lr = lr * lr_lambda(s)
    return lr


def step_lr_at(step: int, base_lr: float, *, step_size: int, gamma: float = 0.1) -> float:
    r"""``StepLR``: :math:`\eta_t = \eta_0 \, \gamma^{\lfloor t / s \rfloor}` with step size
    :math:`s`: decay by :math:`\gamma` every :math:`s` epochs.

    >>> [step_lr_at(t, 1.0, step_size=2, gamma=0.5) for t in range(6)]
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """
    return base_lr * gamma ** (step // step_size)


def multi_step_lr_at(
    step: int, base_lr: float, *, milestones: Iterable[int], gamma: float = 0.1
) -> float:
    r"""``MultiStepLR``: :math:`\eta_t = \eta_0 \, \gamma^{\#\{m_i \le t\}}`, one decay by
    :math:`\gamma` at each milestone :math:`m_i` reached (a repeated milestone decays twice).

    >>> [multi_step_lr_at(t, 1.0, milestones=[2, 4, 4], gamma=0.5) for t in range(6)]
    [1.0, 1.0, 0.5, 0.5, 0.125, 0.125]
    """
    return base_lr * gamma ** bisect_right(sorted(milestones), step)


def constant_lr_at(
    step: int, base_lr: float, *, factor: float = 1.0 / 3, total_iters: int = 5
) -> float:
    r"""``ConstantLR``: :math:`\eta_t = \eta_0 \, f` for :math:`t < T`, then :math:`\eta_0`
    (a constant warm-up by factor :math:`f` for :math:`T` = ``total_iters`` steps), computed
    as torch does: :math:`\eta_0 \, (f + [t \ge T]\,(1 - f))`.

    >>> [constant_lr_at(t, 1.0, factor=0.5, total_iters=2) for t in range(4)]
    [0.5, 0.5, 1.0, 1.0]
    """
    return base_lr * (factor + (step >= total_iters) * (1 - factor))


def linear_lr_at(
    step: int,
    base_lr: float,
    *,
    start_factor: float = 1.0 / 3,
    end_factor: float = 1.0,
    total_iters: int = 5,
) -> float:
    r"""``LinearLR``: the factor moves linearly from :math:`f_s` to :math:`f_e` in :math:`T`
    steps, then stays: :math:`\eta_t = \eta_0 \left(f_s + (f_e - f_s)\,\frac{\min(t, T)}{T}\right)`.
    With :math:`f_s < f_e = 1` this is the usual linear warm-up (Goyal et al., 2017, "Accurate,
    Large Minibatch SGD").

    >>> [linear_lr_at(t, 1.0, start_factor=0.25, total_iters=3) for t in range(5)]
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """
    return base_lr * (
        start_factor + (end_factor - start_factor) * min(total_iters, step) / total_iters
    )


def exponential_lr_at(step: int, base_lr: float, *, gamma: float) -> float:
    r"""``ExponentialLR``: :math:`\eta_t = \eta_0 \, \gamma^t`.

    >>> [exponential_lr_at(t, 1.0, gamma=0.5) for t in range(4)]
    [1.0, 0.5, 0.25, 0.125]
    """
    return base_lr * gamma**step


def polynomial_lr_at(
    step: int, base_lr: float, *, total_iters: int = 5, power: float = 1.0
) -> float:
    r"""``PolynomialLR``: :math:`\eta_t = \eta_0 \left(1 - \frac{\min(t, T)}{T}\right)^{p}`,
    reaching 0 at :math:`t = T` = ``total_iters`` (power :math:`p`; :math:`p = 1` is linear decay).

    >>> [polynomial_lr_at(t, 1.0, total_iters=4, power=2.0) for t in range(6)]
    [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    """
    return base_lr * (1.0 - min(total_iters, step) / total_iters) ** power


def cosine_annealing_lr_at(
    step: float, base_lr: float, *, T_max: float, eta_min: float = 0.0
) -> float:
    r"""``CosineAnnealingLR``: half a cosine from :math:`\eta_0` down to
    :math:`\eta_\text{min}` in :math:`T_\text{max}` steps,

    .. math::
        \eta_t = \eta_\text{min} + \tfrac12 (\eta_0 - \eta_\text{min})
                 \left(1 + \cos\frac{\pi t}{T_\text{max}}\right)

    (Loshchilov & Hutter, 2017, "SGDR: Stochastic Gradient Descent with Warm Restarts").
    Beyond :math:`T_\text{max}` the cosine goes on, back up to :math:`\eta_0` at
    :math:`2T_\text{max}`, as in torch (which has no restarts here: see
    ``CosineAnnealingWarmRestarts``).

    >>> [round(cosine_annealing_lr_at(t, 1.0, T_max=4), 4) for t in range(6)]
    [1.0, 0.8536, 0.5, 0.1464, 0.0, 0.1464]
    """
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * step / T_max)) / 2
