"""l1, mse, smooth_l1, huber, poisson_nll and gaussian_nll losses against torch.nn.functional."""

import pytest
import torch
import torch.nn.functional as F

from course_lib import losses
from tests.test_losses_common import (
    DTYPES,
    EXACT,
    REDUCTIONS,
    assert_raises_like_torch,
    assert_same_as_torch,
    generator,
)

SHAPES = [(), (7,), (4, 5), (2, 3, 4)]


def _pair(shape, dtype, device, seed=0, scale=2.0):
    g = generator(seed, len(shape))
    input = torch.randn(shape, generator=g, dtype=dtype) * scale
    target = torch.randn(shape, generator=g, dtype=dtype) * scale
    return input.to(device), target.to(device)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("loss_name", ["l1_loss", "mse_loss"])
def test_l1_and_mse_are_exact(device, dtype, reduction, shape, loss_name):
    """Same arithmetic as torch (difference, abs or square, sum or mean): bit-identical,
    except the gradient of the mean squared error, which torch scales by 2/N in one step."""
    args = _pair(shape, dtype, device)
    kwargs = {"reduction": reduction}
    ours, theirs = getattr(losses, loss_name), getattr(F, loss_name)
    tol = None if (loss_name, reduction) == ("mse_loss", "mean") else EXACT
    assert_same_as_torch(ours, theirs, args, kwargs, grad=(0, 1), tol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss_name", ["l1_loss", "mse_loss", "huber_loss"])
def test_weighted_regression(device, dtype, reduction, loss_name):
    input, target = _pair((4, 5), dtype, device)
    weight = torch.rand(4, 5, generator=generator(2), dtype=dtype).to(device)
    kwargs = {"reduction": reduction, "weight": weight}
    ours, theirs = getattr(losses, loss_name), getattr(F, loss_name)
    assert_same_as_torch(ours, theirs, (input, target), kwargs, grad=(0, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("delta", [0.1, 1.0, 2.5])
def test_huber_loss(device, dtype, reduction, shape, delta):
    args = _pair(shape, dtype, device)
    kwargs = {"reduction": reduction, "delta": delta}
    assert_same_as_torch(losses.huber_loss, F.huber_loss, args, kwargs, grad=(0, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("beta", [0.0, 0.1, 1.0, 2.5])
def test_smooth_l1_loss(device, dtype, reduction, shape, beta):
    args = _pair(shape, dtype, device)
    kwargs = {"reduction": reduction, "beta": beta}
    assert_same_as_torch(losses.smooth_l1_loss, F.smooth_l1_loss, args, kwargs, grad=(0, 1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_huber_and_smooth_l1_at_the_kink(device, dtype):
    """Residuals exactly 0 and exactly +-delta: values and one-sided-consistent gradients."""
    input = torch.tensor([0.0, 1.5, -1.5, 3.0, 1.5], dtype=dtype, device=device)
    target = torch.tensor([0.0, 0.0, 0.0, 1.5, 3.0], dtype=dtype, device=device)
    for ours, theirs, kwargs in [
        (losses.huber_loss, F.huber_loss, {"delta": 1.5}),
        (losses.smooth_l1_loss, F.smooth_l1_loss, {"beta": 1.5}),
    ]:
        kwargs["reduction"] = "none"
        assert_same_as_torch(ours, theirs, (input, target), kwargs, grad=(0, 1))


@pytest.mark.parametrize("loss_name", ["l1_loss", "mse_loss", "huber_loss", "smooth_l1_loss"])
def test_broadcasting_target_warns_like_torch(device, loss_name):
    input = torch.randn(3, generator=generator(5), dtype=torch.float64).to(device)
    target = torch.randn(3, 1, generator=generator(6), dtype=torch.float64).to(device)
    with pytest.warns(UserWarning, match="different to the input size"):
        theirs = getattr(F, loss_name)(input, target)
    with pytest.warns(UserWarning, match="different to the input size"):
        ours = getattr(losses, loss_name)(input, target)
    torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False], ids=["log-input", "rate-input"])
@pytest.mark.parametrize("full", [False, True], ids=["partial", "full"])
@pytest.mark.parametrize("eps", [1e-8, 0.1])
def test_poisson_nll_loss(device, dtype, reduction, log_input, full, eps):
    g = generator(int(log_input), int(full))
    input = torch.randn(4, 5, generator=g, dtype=dtype)
    if not log_input:
        input = input.exp()
    counts = torch.poisson(torch.full((4, 5), 3.0, dtype=dtype), generator=g)
    args = (input.to(device), counts.clamp_min(2.0).to(device))  # the Stirling term needs y > 1
    kwargs = {"log_input": log_input, "full": full, "eps": eps, "reduction": reduction}
    assert_same_as_torch(losses.poisson_nll_loss, F.poisson_nll_loss, args, kwargs, grad=(0, 1))


def test_poisson_nll_loss_counts_of_zero_and_one(device):
    """``full`` drops the Stirling term for y <= 1 (where it is undefined or meaningless)."""
    input = torch.tensor([0.3, -0.2, 1.0, 0.5], dtype=torch.float64, device=device)
    target = torch.tensor([0.0, 1.0, 2.0, 5.0], dtype=torch.float64, device=device)
    kwargs = {"full": True, "reduction": "none"}
    assert_same_as_torch(losses.poisson_nll_loss, F.poisson_nll_loss, (input, target), kwargs)


VAR_SHAPES = {
    "heteroscedastic": (4, 3), "one per row": (4, 1), "last dim missing": (4,), "scalar": None
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True], ids=["partial", "full"])
@pytest.mark.parametrize("var_shape", list(VAR_SHAPES))
def test_gaussian_nll_loss(device, dtype, reduction, full, var_shape):
    input, target = _pair((4, 3), dtype, device)
    shape = VAR_SHAPES[var_shape]
    if shape is None:
        var, grad = 0.7, (0, 1)
    else:
        var = (torch.rand(shape, generator=generator(8), dtype=dtype) + 0.1).to(device)
        grad = (0, 1, 2)
    args, kwargs = (input, target, var), {"full": full, "reduction": reduction}
    assert_same_as_torch(losses.gaussian_nll_loss, F.gaussian_nll_loss, args, kwargs, grad=grad)


def test_gaussian_nll_loss_clamps_small_variances_but_keeps_their_gradient(device):
    input, target = _pair((5,), torch.float64, device)
    var = torch.tensor([0.0, 1e-9, 1e-3, 1.0, 4.0], dtype=torch.float64, device=device)
    kwargs = {"eps": 1e-4, "reduction": "sum"}
    args = (input, target, var)
    assert_same_as_torch(
        losses.gaussian_nll_loss, F.gaussian_nll_loss, args, kwargs, grad=(0, 1, 2)
    )


BAD_REGRESSION_INPUTS = {
    "shapes not broadcastable": ("l1_loss", (torch.rand(3), torch.rand(4)), {}),
    "weight size": ("mse_loss", (torch.rand(3), torch.rand(3)), {"weight": torch.rand(1)}),
    "huber delta 0": ("huber_loss", (torch.rand(3), torch.rand(3)), {"delta": 0.0}),
    "smooth l1 negative beta": ("smooth_l1_loss", (torch.rand(3), torch.rand(3)), {"beta": -1.0}),
    "negative variance": (
        "gaussian_nll_loss", (torch.rand(3), torch.rand(3), torch.tensor([1.0, -1.0, 1.0])), {}
    ),
    "negative scalar variance": ("gaussian_nll_loss", (torch.rand(3), torch.rand(3), -1.0), {}),
    "variance shape": (
        "gaussian_nll_loss", (torch.rand(3, 2), torch.rand(3, 2), torch.rand(2)), {}
    ),
}


@pytest.mark.filterwarnings("ignore:Using a target size:UserWarning")
@pytest.mark.parametrize("case", list(BAD_REGRESSION_INPUTS))
def test_bad_regression_input_raises_like_torch(case):
    loss_name, args, kwargs = BAD_REGRESSION_INPUTS[case]
    assert_raises_like_torch(getattr(losses, loss_name), getattr(F, loss_name), *args, **kwargs)
