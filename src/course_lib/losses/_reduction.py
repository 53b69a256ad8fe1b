"""The one reduction every loss ends with, and the input checks several losses share.

A loss is an elementwise core that produces one value :math:`\\ell_i` per sample (or per
element), followed by :func:`_reduce`, which turns those values into what ``reduction`` asks
for:

- ``"none"``: the tensor of :math:`\\ell_i` itself;
- ``"sum"``: :math:`\\mathcal{L} = \\sum_i \\ell_i`;
- ``"mean"``: :math:`\\mathcal{L} = \\frac{1}{N}\\sum_i \\ell_i`, or the *weighted* mean
  :math:`\\sum_i \\ell_i / \\sum_i w_i` when the core weighted its samples (class weights in
  ``nll_loss``/``cross_entropy``, per-element weights in ``l1_loss``/``mse_loss``).
"""

import warnings

import torch


def _reduce(
    loss: torch.Tensor, reduction: str, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Reduce per-sample losses :math:`\\ell_i` as ``reduction`` says.

    ``weight`` holds the weights :math:`w_i` already applied to :math:`\\ell_i`; ``"mean"`` then
    divides by their sum instead of by the number of values. A mean over nothing is ``nan``.

    >>> loss = torch.tensor([1.0, 2.0, 6.0])
    >>> _reduce(loss, "none"), _reduce(loss, "sum"), _reduce(loss, "mean")
    (tensor([1., 2., 6.]), tensor(9.), tensor(3.))
    >>> _reduce(loss, "mean", weight=torch.tensor([1.0, 1.0, 2.0]))
    tensor(2.2500)
    >>> _reduce(loss, "average")
    Traceback (most recent call last):
    ...
    ValueError: average is not a valid value for reduction
    """
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean() if weight is None else loss.sum() / weight.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _warn_if_broadcasting(input: torch.Tensor, target: torch.Tensor) -> None:
    """Warn, as torch does, when a regression target has another shape than the prediction:
    broadcasting (for example (N,) against (N, 1)) silently compares every pair."""
    if target.size() != input.size():
        warnings.warn(
            f"Using a target size ({target.size()}) that is different to the input size "
            f"({input.size()}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )


def _check_class_target(target: torch.Tensor, allowed: tuple[torch.dtype, ...]) -> None:
    """Class indices must be integers of one of the ``allowed`` dtypes (RuntimeError)."""
    if target.dtype not in allowed:
        names = " or ".join(str(dtype) for dtype in allowed)
        raise RuntimeError(
            f"expected target dtype to be {names} (class indices), but got {target.dtype}; "
            "convert the labels with target.long()"
        )


def _check_in_range(index: torch.Tensor, size: int, what: str, error: type[Exception]) -> None:
    """Raise ``error`` naming the first entry of ``index`` outside ``[0, size)``."""
    if index.numel() == 0:
        return
    low, high = torch.aminmax(index)  # one pass; the failing entry is found only on failure
    if low.item() < 0 or high.item() >= size:
        value = index[(index < 0) | (index >= size)][0].item()
        raise error(f"{what} {value} is out of bounds: expected a value in [0, {size})")
