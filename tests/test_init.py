"""course_lib.init against torch.nn.init: bit-identical given the same generator."""

import math
import warnings

import pytest
import torch
from torch import nn

from course_lib import init

# Weights of nn.Linear(20, 30), Conv1d(4, 8, 3), Conv2d(3, 16, 5), Conv3d(2, 4, 3), a tall and a
# wide matrix, and a ConvTranspose2d-style weight whose dim 0 is the input channels.
SHAPES = {
    "linear": (30, 20),
    "conv1d": (8, 4, 3),
    "conv2d": (16, 3, 5, 5),
    "conv3d": (4, 2, 3, 3, 3),
    "wide": (3, 50),
    "conv_transpose2d": (3, 16, 4, 2),
}
DTYPES = [torch.float32, torch.float64]


def both(shape, dtype, device, fn, **kwargs):
    """Run course_lib's and torch's initializer ``fn`` from identical generators and global
    seeds (sparse_ draws from the global generator); return (ours, theirs)."""
    results = []
    for module in (init, nn.init):
        torch.manual_seed(1234)
        tensor = torch.empty(shape, dtype=dtype, device=device)
        generator = torch.Generator(device=device).manual_seed(42)
        results.append(getattr(module, fn)(tensor, generator=generator, **kwargs))
    return results


def assert_identical(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert torch.equal(ours, theirs), f"max difference {(ours - theirs).abs().max().item()}"


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "fn, kwargs",
    [
        ("uniform_", {}),
        ("uniform_", {"a": -0.3, "b": 0.7}),
        ("normal_", {}),
        ("normal_", {"mean": 1.0, "std": 0.02}),
        ("trunc_normal_", {}),
        ("trunc_normal_", {"std": 0.02}),
        ("trunc_normal_", {"mean": 0.0, "std": 1.0, "a": 1.5, "b": 3.0}),
        ("trunc_normal_", {"mean": 0.5, "std": 1.0, "a": -0.1, "b": 0.2}),
        ("xavier_uniform_", {}),
        ("xavier_uniform_", {"gain": 5 / 3}),
        ("xavier_normal_", {}),
        ("xavier_normal_", {"gain": math.sqrt(2)}),
        ("orthogonal_", {}),
        ("orthogonal_", {"gain": 2.0}),
    ],
)
def test_random_initializers_are_bit_identical(shape, dtype, fn, kwargs, device):
    assert_identical(*both(shape, dtype, device, fn, **kwargs))


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("fn", ["kaiming_uniform_", "kaiming_normal_"])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "FAN_OUT"])
@pytest.mark.parametrize(
    "nonlinearity, a",
    [("leaky_relu", 0), ("leaky_relu", 0.2), ("relu", 0), ("tanh", 0), ("selu", 0), ("linear", 0)],
)
def test_kaiming_is_bit_identical(shape, fn, mode, nonlinearity, a, device):
    ours, theirs = both(shape, torch.float32, device, fn, a=a, mode=mode, nonlinearity=nonlinearity)
    assert_identical(ours, theirs)


@pytest.mark.parametrize("shape", [(10, 4), (7, 7), (100, 30), (1, 5)])
@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.5, 0.99])
def test_sparse_is_bit_identical(shape, sparsity, device):
    ours, theirs = both(shape, torch.float32, device, "sparse_", sparsity=sparsity, std=0.5)
    assert_identical(ours, theirs)


def test_sparse_zeros_are_counted_per_column():
    weight = init.sparse_(torch.empty(20, 6), sparsity=0.25)
    assert (weight == 0).sum(dim=0).tolist() == [5] * 6


@pytest.mark.parametrize(
    "nonlinearity, param",
    [
        (name, None)
        for name in [
            "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
            "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu",
        ]
    ]
    + [("leaky_relu", 0.2), ("leaky_relu", 1), ("leaky_relu", 0.0)],
)
def test_calculate_gain(nonlinearity, param):
    ours = init.calculate_gain(nonlinearity, param)
    theirs = nn.init.calculate_gain(nonlinearity, param)
    assert ours == theirs and type(ours) is type(theirs)


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_fans(shape):
    tensor = torch.empty(shape)
    assert init._calculate_fan_in_and_fan_out(tensor) == nn.init._calculate_fan_in_and_fan_out(
        tensor
    )
    for mode in ("fan_in", "fan_out", "Fan_In"):
        assert init._calculate_correct_fan(tensor, mode) == nn.init._calculate_correct_fan(
            tensor, mode
        )


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (6, 1)])
def test_eye(shape, device):
    for dtype in DTYPES:
        assert_identical(
            init.eye_(torch.empty(shape, dtype=dtype, device=device)),
            nn.init.eye_(torch.empty(shape, dtype=dtype, device=device)),
        )


@pytest.mark.parametrize(
    "shape, groups",
    [((4, 4, 3), 1), ((6, 2, 3, 3), 3), ((4, 6, 5), 2), ((2, 3, 3, 3, 3), 1), ((8, 2, 4, 4), 2)],
)
def test_dirac(shape, groups, device):
    assert_identical(
        init.dirac_(torch.empty(shape, device=device), groups),
        nn.init.dirac_(torch.empty(shape, device=device), groups),
    )


@pytest.mark.parametrize("fn, args", [("zeros_", ()), ("ones_", ()), ("constant_", (7.7,))])
def test_constants(fn, args, device):
    for shape in SHAPES.values():
        assert_identical(
            getattr(init, fn)(torch.empty(shape, device=device), *args),
            getattr(nn.init, fn)(torch.empty(shape, device=device), *args),
        )


@pytest.mark.parametrize(
    "fn, kwargs",
    [
        ("uniform_", {}), ("normal_", {}), ("trunc_normal_", {}), ("constant_", {"val": 0.5}),
        ("ones_", {}), ("zeros_", {}), ("xavier_uniform_", {}), ("xavier_normal_", {}),
        ("kaiming_uniform_", {}), ("kaiming_normal_", {}), ("orthogonal_", {}),
        ("eye_", {}), ("sparse_", {"sparsity": 0.5}),
    ],
)
def test_fills_a_parameter_in_place_without_autograd(fn, kwargs):
    weight = nn.Linear(5, 4).weight
    out = getattr(init, fn)(weight, **kwargs)
    assert out is weight and weight.requires_grad and weight.grad_fn is None and weight.is_leaf


def test_worked_example_of_fixed_values():
    """SYLLABUS I3: weights set by hand with no_grad + copy_; the bias is also fixed here so the
    output is deterministic: y = x W^T + b."""
    net = nn.Linear(2, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.1, 0.2], [0.3, 0.4]]))
        init.zeros_(net.bias)
    out = net(torch.tensor([[0.1, 0.95]]))
    torch.testing.assert_close(out, torch.tensor([[0.2, 0.41]]), rtol=0, atol=1e-7)


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: init.xavier_uniform_(torch.empty(5)), ValueError),
        (lambda: init.kaiming_normal_(torch.empty(5)), ValueError),
        (lambda: init.kaiming_uniform_(torch.empty(3, 3), mode="fan_avg"), ValueError),
        (lambda: init.kaiming_uniform_(torch.empty(3, 3), nonlinearity="gelu"), ValueError),
        (lambda: init.calculate_gain("swish"), ValueError),
        (lambda: init.calculate_gain("leaky_relu", True), ValueError),
        (lambda: init.calculate_gain("leaky_relu", "0.1"), ValueError),
        (lambda: init.eye_(torch.empty(2, 2, 2)), ValueError),
        (lambda: init.dirac_(torch.empty(3, 3)), ValueError),
        (lambda: init.dirac_(torch.empty(5, 2, 3), groups=2), ValueError),
        (lambda: init.orthogonal_(torch.empty(4)), ValueError),
        (lambda: init.sparse_(torch.empty(2, 2, 2), 0.5), ValueError),
        (lambda: init._calculate_fan_in_and_fan_out(torch.empty(3)), ValueError),
    ],
)
def test_bad_input_raises_what_torch_raises(call, error):
    with pytest.raises(error):
        call()


def test_bad_input_messages_say_what_to_fix():
    with pytest.raises(ValueError, match="fewer than 2 dimensions.*zeros_ or uniform_"):
        init.xavier_uniform_(torch.empty(5))
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu; use one of"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="use dirac_"):
        init.eye_(torch.empty(2, 2, 2))


def test_zero_element_tensors_warn_as_torch_does():
    for module in (init, nn.init):
        with pytest.warns(UserWarning, match="zero-element"):
            module.kaiming_uniform_(torch.empty(0, 3))


def test_trunc_normal_warns_when_mean_is_far_from_the_interval():
    with pytest.warns(UserWarning, match="more than 2 std"):
        init.trunc_normal_(torch.empty(10), mean=5.0, std=1.0, a=-1.0, b=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init.trunc_normal_(torch.empty(10))


def test_public_names_match_torch():
    public = {name for name in dir(nn.init) if name.endswith("_") and not name.startswith("_")}
    assert set(init.__all__) == public | {"calculate_gain"}
