r"""Activation functions, measured: the Jacobian of softmax and the gain of any nonlinearity.

- :func:`softmax_jacobian` writes out :math:`\partial p_i / \partial z_j = p_i(\delta_{ij} - p_j)`
  without autograd (Foundations chapter).
- :func:`gain_for` estimates, by Monte Carlo, the gain :math:`g` that keeps the second moment
  of the pre-activations at 1 through a nonlinearity :math:`f`; :func:`second_moment` computes
  :math:`\mathbb{E}[f(z)^2]` to near machine precision, the exact value the estimate is judged
  against (Initialization chapter).
"""

from collections.abc import Callable

import torch
from torch import Tensor

# The trapezoid rule on [-12, 12] with a node at 0 (where ReLU-like functions have their kink):
# the Gaussian weight beyond |z| = 12 is below 1e-32, and each piece is smooth between nodes.
_GRID_HALF_WIDTH = 12.0
_GRID_POINTS = 240_001


def softmax_jacobian(z: Tensor) -> Tensor:
    r"""Jacobian of :math:`p = \operatorname{softmax}(z)` over the last dimension:

    .. math::
        J_{ij} = \frac{\partial p_i}{\partial z_j} = p_i\,(\delta_{ij} - p_j),
        \qquad J = \operatorname{diag}(p) - p\,p^\top .

    ``z`` has shape :math:`(\dots, C)`; the result has shape :math:`(\dots, C, C)`, one Jacobian
    per row of logits, in ``z``'s dtype. Softmax subtracts the largest logit first, so logits of
    any size give finite values. A 0-dimensional ``z`` has no class dimension: ``ValueError``.

    >>> softmax_jacobian(torch.tensor([0.0, 0.0]))
    tensor([[ 0.2500, -0.2500],
            [-0.2500,  0.2500]])
    """
    if z.dim() == 0:
        raise ValueError("softmax_jacobian needs at least one dimension (the classes)")
    p = torch.softmax(z, dim=-1)
    return torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)


def _grid(dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    z = torch.linspace(-_GRID_HALF_WIDTH, _GRID_HALF_WIDTH, _GRID_POINTS, dtype=dtype)
    density = torch.exp(-0.5 * z**2) / torch.sqrt(torch.tensor(2 * torch.pi, dtype=dtype))
    return z, density


def second_moment(activation: Callable[[Tensor], Tensor], power: int = 2) -> float:
    r""":math:`\mathbb{E}[f(z)^\text{power}]` for :math:`z \sim \mathcal{N}(0, 1)`, by the trapezoid
    rule on a fine float64 grid (error far below any Monte Carlo error). ``power=4`` gives the
    fourth moment, whose difference from the squared second moment is the variance of
    :math:`f(z)^2`, which sets the standard error of :func:`gain_for`."""
    z, density = _grid()
    return torch.trapezoid(activation(z) ** power * density, z).item()


def gain_for(
    activation: Callable[[Tensor], Tensor],
    n_samples: int = 1_000_000,
    generator: torch.Generator | None = None,
) -> float:
    r"""The gain that keeps the second moment of the pre-activations through ``activation``:

    .. math::
        g_f = \frac{1}{\sqrt{\mathbb{E}[f(z)^2]}}, \qquad z \sim \mathcal{N}(0, 1),

    estimated from ``n_samples`` standard normal samples (float64) drawn with ``generator``.
    With weights of variance :math:`g_f^2 / n_\text{in}`, a layer maps pre-activations with
    :math:`\mathbb{E}[h^2] = 1` to pre-activations with :math:`\mathbb{E}[h^2] = 1`. It equals
    ``calculate_gain`` for ``linear`` (1), ``relu`` (:math:`\sqrt2`) and ``leaky_relu``
    (:math:`\sqrt{2/(1+s^2)}`); for tanh it is about 1.59 (torch's 5/3 is a convention), and it
    gives a gain for functions ``calculate_gain`` does not know, such as GELU (about 1.53).
    ``n_samples`` below 1: ``ValueError``.

    >>> g = gain_for(torch.relu, generator=torch.Generator().manual_seed(0))
    >>> abs(g - 2**0.5) < 0.01
    True
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")
    z = torch.randn(n_samples, generator=generator, dtype=torch.float64)
    return activation(z).pow(2).mean().rsqrt().item()
