"""Regression losses: how far a real-valued prediction :math:`\\hat y` is from the target
:math:`y`.

- :func:`l1_loss` (MAE) grows linearly with the error: robust to outliers, gradient of
  constant size;
- :func:`mse_loss` (MSE) grows quadratically: smooth and convex, but one outlier dominates;
- :func:`huber_loss` and :func:`smooth_l1_loss` are quadratic for small errors and linear
  for large ones, the best of both;
- :func:`poisson_nll_loss` and :func:`gaussian_nll_loss` are negative log-likelihoods of
  counts and of a prediction that comes with its own variance.
"""

import math
from functools import partial

import torch
import torch.nn.functional as F

from ._pointwise import _scaled, pointwise_loss
from ._reduction import _reduce, _warn_if_broadcasting


def _weighted(loss: torch.Tensor, weight: torch.Tensor | None, input: torch.Tensor) -> torch.Tensor:
    """:math:`w_i \\ell_i` for a per-element weight of the prediction's shape (``loss`` itself
    without a weight)."""
    if weight is None:
        return loss
    if weight.size() != input.size():
        raise ValueError("Weights and input must have the same size.")
    return loss * weight


def l1_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean absolute error, like ``torch.nn.functional.l1_loss``:
    :math:`\\ell_i = w_i\\,|\\hat y_i - y_i|`, and ``"mean"`` divides by :math:`\\sum_i w_i`
    (by :math:`N` without weights).

    Note 003's worked example (SYLLABUS L6):

    >>> round(l1_loss(torch.tensor([0.4, 2.3]), torch.tensor([0.5, 2.2])).item(), 4)
    0.1
    """
    _warn_if_broadcasting(input, target)
    loss = _weighted((input - target).abs(), weight, input)
    return _reduce(loss, reduction, weight=weight)


def mse_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean squared error, like ``torch.nn.functional.mse_loss``:
    :math:`\\ell_i = w_i\\,(\\hat y_i - y_i)^2`, and ``"mean"`` divides by :math:`\\sum_i w_i`
    (by :math:`N` without weights).

    Note 003's worked example (SYLLABUS L6):

    >>> round(mse_loss(torch.tensor([0.7, 2.2]), torch.tensor([0.9, 2.1])).item(), 4)
    0.025
    """
    _warn_if_broadcasting(input, target)
    return _pointwise(input, target, _squares, _squares_gradients, reduction, weight)


def _pointwise(input, target, value, gradients, reduction, weight, *, mean_by_weight=True):
    """The reduced :class:`PointwiseLoss`; with a per-element ``weight``, the weighted
    elementwise loss reduced by :func:`_reduce` (``"mean"`` divides by :math:`\\sum_i w_i`
    when ``mean_by_weight``, else by :math:`N`)."""
    if weight is None:
        return pointwise_loss(input, target, value, gradients, reduction)
    loss = _weighted(pointwise_loss(input, target, value, gradients, "none"), weight, input)
    return _reduce(loss, reduction, weight=weight if mean_by_weight else None)


def _squares(input: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, None]:
    """:math:`(\\hat y - y)^2`, squared in place in the tensor of differences (``mul_``, which
    torch.func can batch, unlike ``square_``)."""
    difference = torch.sub(input, target)
    return difference.mul_(difference), None


def _squares_gradients(input, target, upstream, need_target, slope):
    """:math:`\\partial(\\hat y - y)^2/\\partial\\hat y = 2(\\hat y - y)
    = -\\partial(\\hat y - y)^2/\\partial y`, times the upstream gradient."""
    grad = _scaled(torch.sub(input, target), 2 * upstream)
    return grad, (-grad if need_target else None)


def _huber(input: torch.Tensor, target: torch.Tensor, delta: float):
    """Huber's :math:`\\tfrac12 d^2` for :math:`|d| < \\delta`, else
    :math:`\\delta(|d| - \\tfrac12\\delta)`, of the residual :math:`d = \\hat y - y`, written
    as :math:`c\\,(d - \\tfrac12 c)` with :math:`c` the residual clipped to
    :math:`[-\\delta, \\delta]`, which is also the derivative (returned as the slope)."""
    residual = torch.sub(input, target)
    clipped = F.hardtanh(residual, -delta, delta)  # a clamp whose derivative is 0 at +-delta
    return residual.sub_(clipped, alpha=0.5).mul_(clipped), clipped


def _huber_gradients(input, target, upstream, need_target, slope, *, delta: float):
    """:math:`\\partial\\ell/\\partial\\hat y = \\operatorname{clip}(\\hat y - y, -\\delta,
    \\delta) = -\\partial\\ell/\\partial y`, times the upstream gradient."""
    if slope is None:
        slope = F.hardtanh(torch.sub(input, target), -delta, delta)
    grad = _scaled(slope, upstream)
    return grad, (-grad if need_target else None)


def huber_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Huber loss (Huber, 1964, "Robust Estimation of a Location Parameter"), like
    ``torch.nn.functional.huber_loss``. With :math:`e_i = |\\hat y_i - y_i|`:

    .. math::
        \\ell_i = w_i \\begin{cases} \\tfrac12 e_i^2 & e_i < \\delta \\\\
                  \\delta\\,(e_i - \\tfrac12\\delta) & \\text{otherwise,} \\end{cases}

    quadratic near the target, linear (slope :math:`\\delta`) far from it. As in torch,
    ``"mean"`` with ``weight`` is the plain mean of :math:`\\ell_i`.

    >>> huber_loss(torch.tensor([0.5, 3.0]), torch.zeros(2), reduction="none")
    tensor([0.1250, 2.5000])
    """
    _warn_if_broadcasting(input, target)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    value, gradients = partial(_huber, delta=delta), partial(_huber_gradients, delta=delta)
    return _pointwise(input, target, value, gradients, reduction, weight, mean_by_weight=False)


def smooth_l1_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    beta: float = 1.0,
) -> torch.Tensor:
    """Smooth L1 loss (Girshick, 2015, "Fast R-CNN"), like
    ``torch.nn.functional.smooth_l1_loss``: the Huber loss with :math:`\\delta = \\beta`,
    divided by :math:`\\beta`,

    .. math::
        \\ell_i = \\begin{cases} \\tfrac{1}{2\\beta} e_i^2 & e_i < \\beta \\\\
                  e_i - \\tfrac12\\beta & \\text{otherwise,} \\end{cases}

    so its slope far from the target is 1 whatever :math:`\\beta`; :math:`\\beta = 0` is L1.

    >>> smooth_l1_loss(torch.tensor([0.5, 3.0]), torch.zeros(2), reduction="none")
    tensor([0.1250, 2.5000])
    """
    _warn_if_broadcasting(input, target)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return _reduce((input - target).abs(), reduction)
    value, gradients = partial(_huber, delta=beta), partial(_huber_gradients, delta=beta)
    return pointwise_loss(input, target, value, gradients, reduction) / beta


def poisson_nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    log_input: bool = True,
    full: bool = False,
    *,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> torch.Tensor:
    """Negative log-likelihood of counts :math:`y \\sim \\text{Poisson}(r)`, like
    ``torch.nn.functional.poisson_nll_loss``. Dropping the constant :math:`\\log y!`:

    .. math:: \\ell_i = r_i - y_i \\log r_i,

    where the rate is :math:`r_i = e^{\\hat y_i}` with ``log_input`` (so that
    :math:`\\ell_i = e^{\\hat y_i} - y_i \\hat y_i`), else :math:`r_i = \\hat y_i`, whose log
    is taken as :math:`\\log(\\hat y_i + \\epsilon)`.

    ``full`` adds Stirling's approximation of :math:`\\log y!`,
    :math:`y \\log y - y + \\tfrac12 \\log(2\\pi y)`, for targets above 1.

    >>> poisson_nll_loss(torch.tensor([0.0]), torch.tensor([2.0]), reduction="none")
    tensor([1.])
    """
    if log_input:
        loss = torch.exp(input) - target * input
    else:
        loss = input - target * torch.log(input + eps)
    if full:
        stirling = target * torch.log(target) - target + 0.5 * torch.log(2 * math.pi * target)
        loss = loss + stirling.masked_fill(target <= 1, 0.0)
    return _reduce(loss, reduction)


def _homoscedastic_var(var: torch.Tensor, input: torch.Tensor) -> torch.Tensor:
    """Accept, as torch does, one variance per prediction (same shape as ``input``), or a
    shape that broadcasts with exactly one dimension of size 1 (or the last one missing)."""
    if var.size() == input.size():
        return var
    if input.size()[:-1] == var.size():
        return var.unsqueeze(-1)
    mismatched = [v for i, v in zip(input.size(), var.size(), strict=False) if i != v]
    if input.dim() == var.dim() and sum(mismatched) == 1:
        return var
    raise ValueError("var is of incorrect size")


def gaussian_nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    var: torch.Tensor | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> torch.Tensor:
    """Negative log-likelihood of :math:`y \\sim \\mathcal{N}(\\hat y, \\text{var})` with a
    predicted variance :math:`\\text{var}` (Nix & Weigend, 1994, "Estimating the mean and
    variance of the target probability distribution"), like
    ``torch.nn.functional.gaussian_nll_loss``:

    .. math::
        \\ell_i = \\tfrac12 \\left( \\log \\max(\\text{var}_i, \\epsilon)
                  + \\frac{(\\hat y_i - y_i)^2}{\\max(\\text{var}_i, \\epsilon)} \\right)
                  \\;\\left[ + \\tfrac12 \\log 2\\pi \\text{ if ``full``} \\right].

    The clamp at :math:`\\epsilon` changes the value only; the gradient still reaches ``var``.

    >>> gaussian_nll_loss(torch.tensor([1.0]), torch.tensor([3.0]), torch.tensor([4.0]))
    tensor(1.1931)
    """
    if not isinstance(var, torch.Tensor):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = torch.full_like(input, var)
    elif (var < 0).any():
        raise ValueError("var has negative entry/entries")
    var = _homoscedastic_var(var, input).clone()
    with torch.no_grad():
        var.clamp_(min=eps)
    loss = 0.5 * (torch.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
