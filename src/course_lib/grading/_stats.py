r"""Statistical checks of random samples, for exercises a student may sample differently.

Each test compares a sample statistic with its expected value and allows ``Z`` standard errors.
With :math:`Z = 6` a correct implementation fails one statistic with probability about
:math:`2\times10^{-9}`, so even an exercise of a few hundred statistics fails a correct
answer with probability below :math:`10^{-6}`. The shapes used by the checks hold at least
:math:`10^4` values, so the mistakes students make (a factor of :math:`\sqrt 2` or more in
scale) are many standard errors away.
"""

import math
from collections.abc import Mapping

import torch

Z = 6.0
# P(|X - mu| < sigma) for a normal distribution.
_NORMAL_MASS_WITHIN_ONE_STD = math.erf(1 / math.sqrt(2))


def _not_finite(x: torch.Tensor) -> str | None:
    """A diagnosis for samples with NaN or infinite values (or none at all), which would make
    every comparison below false and so pass."""
    if x.numel() == 0:
        return "no values to judge: the tensor is empty"
    bad = (~torch.isfinite(x)).sum().item()
    return f"{bad} of {x.numel()} values are NaN or infinite" if bad else None


def _named_mistake(observed: float, mistakes: Mapping[str, float], rel: float) -> str:
    """The hint of the mistake whose predicted value is within ``rel`` of ``observed``."""
    for hint, predicted in mistakes.items():
        if math.isclose(observed, predicted, rel_tol=rel):
            return f": {hint}"
    return ""


def uniform_diagnosis(
    values: torch.Tensor, low: float, high: float, mistakes: Mapping[str, float] = {}
) -> str | None:
    r"""``None`` if ``values`` look like :math:`\mathcal{U}(\text{low}, \text{high})`, else what
    differs. ``mistakes`` maps a hint to the *half-width* :math:`(\text{high}-\text{low})/2` that
    mistake would produce; the hint is shown when the observed half-width matches it."""
    x = values.detach().double().flatten().cpu()
    if (bad := _not_finite(x)) is not None:
        return bad
    n, width = x.numel(), high - low
    smallest, largest = (v.item() for v in x.aminmax())
    where = f"values span [{smallest:.4g}, {largest:.4g}], expected [{low:.4g}, {high:.4g}]"
    hint = _named_mistake((largest - smallest) / 2, mistakes, 0.03)
    slack = 1e-6 * max(width, abs(low), abs(high))
    if smallest < low - slack or largest > high + slack:
        return where + hint
    # The extremes of n uniform samples come within width * 20 / n of the ends with
    # probability 1 - exp(-20).
    if smallest > low + 20 * width / n or largest < high - 20 * width / n:
        return where + hint
    mean_se = width / math.sqrt(12 * n)
    if abs(x.mean().item() - (low + high) / 2) > Z * mean_se:
        return f"mean {x.mean().item():.4g}, expected {(low + high) / 2:.4g}: values are not uniform"
    # Uniform: P(|X - centre| < width / 4) = 1/2; a normal or other bell shape has more there.
    inner = ((x - (low + high) / 2).abs() < width / 4).double().mean().item()
    if abs(inner - 0.5) > Z * math.sqrt(0.25 / n):
        return (
            f"{inner:.1%} of values lie in the middle half of the range, expected 50%: "
            "sample a uniform distribution"
        )
    return None


def normal_diagnosis(
    values: torch.Tensor, mean: float, std: float, mistakes: Mapping[str, float] = {}
) -> str | None:
    r"""``None`` if ``values`` look like :math:`\mathcal{N}(\text{mean}, \text{std}^2)`, else
    what differs. ``mistakes`` maps a hint to the standard deviation that mistake would give."""
    x = values.detach().double().flatten().cpu()
    if (bad := _not_finite(x)) is not None:
        return bad
    n = x.numel()
    observed_mean, observed_std = x.mean().item(), x.std().item()
    if abs(observed_mean - mean) > Z * std / math.sqrt(n):
        return f"mean {observed_mean:.4g}, expected {mean:.4g}"
    if abs(observed_std - std) > Z * std / math.sqrt(2 * n):
        return f"std {observed_std:.4g}, expected {std:.4g}" + _named_mistake(
            observed_std, mistakes, 0.03
        )
    within = ((x - mean).abs() < std).double().mean().item()
    p = _NORMAL_MASS_WITHIN_ONE_STD
    if abs(within - p) > Z * math.sqrt(p * (1 - p) / n):
        return (
            f"{within:.1%} of values lie within one std of the mean, expected {p:.1%} for a "
            "normal distribution: sample a normal distribution"
        )
    return None
