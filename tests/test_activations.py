"""course_lib.activations: softmax's Jacobian against autograd (torch.func), and the Monte
Carlo gain against its exact value and against torch's calculate_gain where they agree."""

import math

import pytest
import torch
from torch.nn import functional as F

from course_lib.activations import gain_for, second_moment, softmax_jacobian

DTYPES = [torch.float32, torch.float64]


def autograd_jacobian(z: torch.Tensor) -> torch.Tensor:
    """torch's Jacobian of softmax over the last dimension, one per row of logits."""
    jacobian = torch.func.jacrev(lambda row: torch.softmax(row, dim=-1))
    flat = z.reshape(-1, z.shape[-1])
    return torch.func.vmap(jacobian)(flat).reshape(*z.shape, z.shape[-1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (5,), (3, 4), (2, 3, 7)])
def test_softmax_jacobian_equals_autograd(shape, dtype, device):
    z = 3 * torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=dtype)
    z = z.to(device)
    got = softmax_jacobian(z)
    expected = autograd_jacobian(z)
    assert got.shape == (*shape, shape[-1]) and got.dtype == dtype and got.device == z.device
    tolerance = {"rtol": 1e-12, "atol": 1e-14} if dtype == torch.float64 else {}
    torch.testing.assert_close(got, expected, **tolerance)


def test_softmax_jacobian_is_symmetric_with_rows_summing_to_zero(device):
    z = torch.tensor([[1.5, 2.0, 0.5], [0.0, 0.0, 0.0]], dtype=torch.float64, device=device)
    jacobian = softmax_jacobian(z)
    assert torch.equal(jacobian, jacobian.transpose(-1, -2))
    torch.testing.assert_close(jacobian.sum(dim=-1), torch.zeros(2, 3, dtype=torch.float64,
                                                                 device=device))
    p = torch.softmax(z[0], dim=0)
    torch.testing.assert_close(jacobian[0], torch.diag(p) - torch.outer(p, p))


def test_softmax_jacobian_of_huge_logits_is_finite_and_exact(device):
    z = torch.tensor([1000.0, 0.0, -1000.0], device=device)
    got = softmax_jacobian(z)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, autograd_jacobian(z))
    assert torch.equal(got, torch.zeros(3, 3, device=device))  # p = (1, 0, 0): J = 0


def test_softmax_jacobian_of_a_scalar_raises_value_error():
    with pytest.raises(ValueError, match="at least one dimension"):
        softmax_jacobian(torch.tensor(1.0))


def leaky(slope):
    return lambda z: F.leaky_relu(z, slope)


@pytest.mark.parametrize(
    ("activation", "torch_name", "param"),
    [(lambda z: z, "linear", None), (torch.relu, "relu", None),
     (leaky(0.01), "leaky_relu", None), (leaky(0.2), "leaky_relu", 0.2)],
)
def test_second_moment_gain_equals_calculate_gain_where_torch_derives_it(
    activation, torch_name, param
):
    exact = second_moment(activation) ** -0.5
    assert exact == pytest.approx(torch.nn.init.calculate_gain(torch_name, param), rel=1e-9)


@pytest.mark.parametrize(
    ("activation", "closed_form"),
    [(torch.tanh, None), (F.gelu, None), (torch.relu, 0.5), (F.selu, 1.0)],
)
def test_second_moment_matches_a_large_monte_carlo_sample(activation, closed_form):
    z = torch.randn(4_000_000, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    squares = activation(z) ** 2
    standard_error = squares.std().item() / math.sqrt(len(z))
    exact = second_moment(activation)
    assert abs(squares.mean().item() - exact) < 6 * standard_error
    if closed_form is not None:  # SELU is built so that E[selu(z)^2] = 1
        assert exact == pytest.approx(closed_form, abs=1e-6)


def test_tanh_and_gelu_gains():
    """tanh's estimate is 1.59, not torch's conventional 5/3; GELU has no calculate_gain."""
    assert second_moment(torch.tanh) ** -0.5 == pytest.approx(1.5925, abs=1e-4)
    assert second_moment(F.gelu) ** -0.5 == pytest.approx(1.5335, abs=1e-4)
    assert abs(second_moment(torch.tanh) ** -0.5 - 5 / 3) > 0.07


@pytest.mark.parametrize("activation", [torch.relu, torch.tanh, F.gelu, torch.sigmoid])
def test_gain_for_is_within_six_standard_errors_of_the_exact_gain(activation):
    n = 200_000
    exact_moment, fourth = second_moment(activation), second_moment(activation, power=4)
    # Delta method: g = m^(-1/2), so se(g) = se(m) / (2 m^(3/2)).
    standard_error = math.sqrt((fourth - exact_moment**2) / n) / (2 * exact_moment**1.5)
    for seed in range(3):
        got = gain_for(activation, n, generator=torch.Generator().manual_seed(seed))
        assert abs(got - exact_moment**-0.5) < 6 * standard_error


def test_gain_for_is_reproducible_from_its_generator():
    first = gain_for(F.gelu, 1000, generator=torch.Generator().manual_seed(7))
    second = gain_for(F.gelu, 1000, generator=torch.Generator().manual_seed(7))
    third = gain_for(F.gelu, 1000, generator=torch.Generator().manual_seed(8))
    assert first == second != third


def test_gain_for_rejects_no_samples():
    with pytest.raises(ValueError, match="n_samples"):
        gain_for(torch.relu, 0)
