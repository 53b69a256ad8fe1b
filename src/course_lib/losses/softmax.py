"""The log-softmax, the bridge from logits to the log-probabilities that :func:`nll_loss` and
:func:`kl_div` take.

.. math::
    \\log q_c = z_c - \\log\\sum_k e^{z_k} = (z_c - m) - \\log\\sum_k e^{z_k - m},
    \\qquad m = \\max_k z_k.

Both forms are equal for every :math:`m`; the shift by the maximum makes every exponent at most
0, so no :math:`e^{z_k - m}` overflows and the largest is exactly 1, so the sum cannot
underflow to 0 either. Without it, :math:`e^{z}` is ``inf`` in float32 from :math:`z > 88.7`.
"""

import operator
import warnings

import torch

from course_lib._checks import require_floating


def _softmax_dim(ndim: int, stacklevel: int) -> int:
    """The dimension torch picks when ``dim`` is None (deprecated): 0 for 0-, 1- and 3-D
    input, else 1."""
    warnings.warn(
        "Implicit dimension choice for log_softmax has been deprecated. Change the call to "
        "include dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def _as_dim(dim) -> int:
    """``dim`` as an int; torch's error class (TypeError) for anything else, bool included."""
    if not isinstance(dim, bool):
        try:
            return operator.index(dim)
        except TypeError:
            pass
    raise TypeError(
        f"log_softmax(): argument 'dim' (position 1) must be int, not {type(dim).__name__}"
    )


def log_softmax(
    input: torch.Tensor,
    dim: int | None = None,
    _stacklevel: int = 3,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Log-softmax along ``dim``, like ``torch.nn.functional.log_softmax``:

    .. math::
        \\log q_c = (z_c - m) - \\log\\sum_k e^{z_k - m}, \\qquad m = \\max_k z_k,

    with :math:`m` a constant for autograd (the result does not depend on it), so the
    gradient is :math:`\\partial \\log q_c / \\partial z_j = [c = j] - q_j`. ``dtype`` casts the
    input first (for example float16 logits reduced in float32). ``dim=None`` picks a
    dimension as torch does, with torch's deprecation warning.

    >>> z = torch.tensor([1000.0, 0.0, -1000.0])  # torch.log(torch.softmax(z, 0)): -inf
    >>> log_softmax(z, dim=0)
    tensor([    0., -1000., -2000.])
    """
    dim = _softmax_dim(input.dim(), _stacklevel) if dim is None else _as_dim(dim)
    ndim = max(input.dim(), 1)  # a 0-D tensor has the one valid dim 0 (or -1)
    if not -ndim <= dim < ndim:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but "
            f"got {dim})"
        )
    if dtype is not None and not isinstance(dtype, torch.dtype):
        raise TypeError(
            f"log_softmax(): argument 'dtype' must be torch.dtype, not {type(dtype).__name__}"
        )
    if dtype is not None:
        input = input.to(dtype)
    require_floating(input, "log_softmax")
    if input.numel() == 0:
        return input.clone()
    shifted = input - input.detach().amax(dim, keepdim=True)
    return shifted - shifted.exp().sum(dim, keepdim=True).log()
