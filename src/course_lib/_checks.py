"""Input checks shared by course_lib's functions, raising what torch raises for the same input."""

import torch


def require_floating(tensor: torch.Tensor, op: str) -> None:
    """Refuse integer and boolean tensors as torch's kernels do: they are dispatched for
    floating dtypes only, and for any other dtype torch raises ``NotImplementedError``
    (``"softshrink_check" not implemented for 'Long'``)."""
    if not tensor.is_floating_point():
        raise NotImplementedError(f'"{op}" not implemented for {tensor.dtype}: pass float input')
