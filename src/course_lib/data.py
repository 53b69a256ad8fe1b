"""Data for the book and the exercises, all available offline.

Real data comes from the datasets that ship inside scikit-learn (no download); synthetic data
is generated from a seeded ``torch.Generator``. Every loader returns a :class:`Split` of
tensors, standardized with statistics of the training part only, so that no information from
the validation set leaks into training.
"""

from typing import NamedTuple

import torch
from sklearn import datasets


class Split(NamedTuple):
    """Training and validation tensors. ``x_*`` are float features, ``y_*`` targets."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


def _standardized_split(
    x: torch.Tensor, y: torch.Tensor, val_fraction: float, seed: int
) -> Split:
    """Shuffle with a seeded generator, split, and standardize features by training statistics."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    x, y = x[order], y[order]
    n_val = round(len(x) * val_fraction)
    x_train, x_val = x[n_val:], x[:n_val]
    mean = x_train.mean(dim=0)
    std = x_train.std(dim=0)
    # Some digits pixels are constant in the training part: leave them unscaled (centred at 0),
    # or a rare non-zero value in the validation part would become enormous.
    std = torch.where(std > 0, std, torch.ones_like(std))
    return Split((x_train - mean) / std, y[n_val:], (x_val - mean) / std, y[:n_val])


def _as_tensors(bunch, target_dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """A scikit-learn bunch's features (float64) and targets (``target_dtype``) as tensors."""
    return (
        torch.as_tensor(bunch.data, dtype=torch.float64),
        torch.as_tensor(bunch.target, dtype=target_dtype),
    )


def _to(split: Split, device, dtype: torch.dtype) -> Split:
    return Split(
        *(t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype) for t in split)
    )


def load_digits(
    *, val_fraction: float = 0.2, seed: int = 0, device=None, dtype=torch.float32
) -> Split:
    """scikit-learn's 1797 handwritten digits: 8x8 images flattened to 64 features, 10 classes.

    >>> split = load_digits()
    >>> split.x_train.shape, split.y_train.dtype, int(split.y_train.max()) + 1
    (torch.Size([1438, 64]), torch.int64, 10)
    """
    x, y = _as_tensors(datasets.load_digits(), torch.int64)
    return _to(_standardized_split(x, y, val_fraction, seed), device, dtype)


def load_breast_cancer(
    *, val_fraction: float = 0.2, seed: int = 0, device=None, dtype=torch.float32
) -> Split:
    """scikit-learn's 569 breast-cancer cases: 30 features, binary target as float 0./1.

    >>> load_breast_cancer().x_train.shape
    torch.Size([455, 30])
    """
    x, y = _as_tensors(datasets.load_breast_cancer(), torch.float64)
    return _to(_standardized_split(x, y, val_fraction, seed), device, dtype)


def load_diabetes(
    *, val_fraction: float = 0.2, seed: int = 0, device=None, dtype=torch.float32
) -> Split:
    """scikit-learn's 442 diabetes patients: 10 features, a disease-progression score as target
    (standardized with training statistics, like the features).

    >>> load_diabetes().y_train.shape
    torch.Size([354])
    """
    x, y = _as_tensors(datasets.load_diabetes(), torch.float64)
    split = _standardized_split(x, y, val_fraction, seed)
    y_mean, y_std = split.y_train.mean(), split.y_train.std()
    split = split._replace(y_train=(split.y_train - y_mean) / y_std, y_val=(split.y_val - y_mean) / y_std)
    return _to(split, device, dtype)


def noisy_quadratic(
    n: int = 1000, *, noise: float = 0.1, seed: int = 0, device=None, dtype=torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """The regression task of the optimizer comparison: x evenly spaced in [-1, 1] and
    :math:`y = x^2 + \\text{noise} \\cdot \\varepsilon`, :math:`\\varepsilon \\sim \\mathcal N(0, 1)`.
    Both are returned with shape (n, 1).

    >>> x, y = noisy_quadratic(5, noise=0.0)
    >>> y.squeeze(1).tolist()
    [1.0, 0.25, 0.0, 0.25, 1.0]
    """
    x = torch.linspace(-1, 1, n, dtype=torch.float64).unsqueeze(1)
    eps = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    y = x.pow(2) + noise * eps
    return x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)


def batches(
    x: torch.Tensor, y: torch.Tensor, batch_size: int, *, generator: torch.Generator | None = None
):
    """Yield mini-batches ``(x[idx], y[idx])``, shuffled when a generator is given."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = (
        torch.randperm(len(x), generator=generator) if generator is not None else torch.arange(len(x))
    ).to(x.device)
    for start in range(0, len(x), batch_size):
        idx = order[start : start + batch_size]
        yield x[idx], y[idx]
