"""Helpers shared by the tests of ``course_lib.losses`` (torch is the oracle), and the tests
of what every loss shares: the reduction and its error."""

import pytest
import torch
import torch.nn.functional as F

from course_lib import losses
from course_lib.losses._reduction import _reduce

DTYPES = [pytest.param(torch.float64, id="f64"), pytest.param(torch.float32, id="f32")]
REDUCTIONS = ["none", "mean", "sum"]
TOLERANCES = {
    torch.float64: {"rtol": 1e-10, "atol": 1e-12},
    torch.float32: {"rtol": 1e-5, "atol": 1e-6},
}
EXACT = {"rtol": 0.0, "atol": 0.0}


def generator(*seed: int) -> torch.Generator:
    """A torch.Generator seeded from the numbers that identify a test case."""
    return torch.Generator().manual_seed(hash(seed) % 2**31)


def _leaf(value, requires_grad: bool):
    if not isinstance(value, torch.Tensor):
        return value
    return value.detach().clone().requires_grad_(requires_grad)


def assert_same_as_torch(ours, theirs, args, kwargs=None, *, grad=(0,), tol=None):
    """Call ``ours`` and ``theirs`` on fresh copies of ``args`` and assert equal outputs
    (values, shape, dtype, device) and equal gradients of a seeded random upstream gradient
    with respect to ``args[i]`` for every ``i`` in ``grad``. Returns both outputs."""
    kwargs = kwargs or {}
    ours_args = [_leaf(a, i in grad) for i, a in enumerate(args)]
    theirs_args = [_leaf(a, i in grad) for i, a in enumerate(args)]
    ours_out = ours(*ours_args, **kwargs)
    theirs_out = theirs(*theirs_args, **kwargs)
    tol = tol or TOLERANCES[theirs_out.dtype]
    torch.testing.assert_close(ours_out, theirs_out, equal_nan=True, **tol)
    if grad:
        upstream = torch.randn(
            theirs_out.shape, generator=generator(len(grad)), dtype=theirs_out.dtype
        ).to(theirs_out.device)
        ours_grads = torch.autograd.grad(
            ours_out, [ours_args[i] for i in grad], upstream, materialize_grads=True
        )
        theirs_grads = torch.autograd.grad(
            theirs_out, [theirs_args[i] for i in grad], upstream, materialize_grads=True
        )
        for i, ours_grad, theirs_grad in zip(grad, ours_grads, theirs_grads, strict=True):
            torch.testing.assert_close(
                ours_grad, theirs_grad, equal_nan=True, msg=lambda m, i=i: f"grad {i}: {m}", **tol
            )
    return ours_out, theirs_out


def assert_raises_like_torch(ours, theirs, *args, match=None, **kwargs):
    """Both calls raise, with exactly the same exception class (ours optionally matching
    ``match``)."""
    with pytest.raises(Exception) as theirs_error:
        theirs(*args, **kwargs)
    with pytest.raises(Exception, match=match) as ours_error:
        ours(*args, **kwargs)
    assert type(ours_error.value) is type(theirs_error.value), (ours_error, theirs_error)


def test_reduce_modes():
    loss = torch.tensor([1.0, 2.0, 6.0])
    assert torch.equal(_reduce(loss, "none"), loss)
    assert _reduce(loss, "sum").item() == 9.0
    assert _reduce(loss, "mean").item() == 3.0
    assert _reduce(loss, "mean", weight=torch.tensor([0.5, 0.5, 2.0])).item() == 3.0
    assert _reduce(torch.zeros(0), "mean").isnan()
    assert _reduce(torch.zeros(3), "mean", weight=torch.zeros(3)).isnan()


def _call_with_reduction(name: str, reduction: str):
    """Call the loss ``name`` (ours or torch's) on valid inputs with ``reduction``."""
    x, y = torch.rand(3, 4) * 0.8 + 0.1, torch.rand(3, 4)
    labels, signs = torch.tensor([0, 3, 1]), torch.tensor([1.0, -1.0, 1.0])
    args = {
        "cross_entropy": (x, labels), "nll_loss": (x, labels), "binary_cross_entropy": (x, y),
        "binary_cross_entropy_with_logits": (x, y), "l1_loss": (x, y), "mse_loss": (x, y),
        "smooth_l1_loss": (x, y), "huber_loss": (x, y), "poisson_nll_loss": (x, y),
        "gaussian_nll_loss": (x, y, torch.ones(3, 4)), "kl_div": (x, y),
        "margin_ranking_loss": (x[:, 0], y[:, 0], signs), "hinge_embedding_loss": (x, y),
        "soft_margin_loss": (x, y), "multilabel_soft_margin_loss": (x, y),
        "multi_margin_loss": (x, labels), "multilabel_margin_loss": (x, labels.expand(4, 3).T),
        "cosine_embedding_loss": (x, y, signs), "triplet_margin_loss": (x, y, x.flip(0)),
        "triplet_margin_with_distance_loss": (x, y, x.flip(0)),
        "ctc_loss": (
            torch.randn(5, 3, 4).log_softmax(2), labels.clamp(1, 3).view(3, 1), [5, 5, 4], [1, 1, 1]
        ),
    }[name]

    def call(module):
        return getattr(module, name)(*args, reduction=reduction)

    return call


LOSS_NAMES = [
    "cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "poisson_nll_loss",
    "gaussian_nll_loss", "kl_div", "margin_ranking_loss", "hinge_embedding_loss",
    "soft_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss",
    "multilabel_margin_loss", "cosine_embedding_loss", "triplet_margin_loss",
    "triplet_margin_with_distance_loss", "ctc_loss",
]


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_unknown_reduction_raises_value_error_like_torch(name):
    call = _call_with_reduction(name, "average")
    with pytest.raises(ValueError) as theirs:
        call(F)
    with pytest.raises(ValueError, match="average is not a valid value for reduction"):
        call(losses)
    assert type(theirs.value) is ValueError


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")
@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_every_loss_accepts_every_reduction(name, reduction):
    call = _call_with_reduction(name, reduction)
    ours, theirs = call(losses), call(F)
    torch.testing.assert_close(ours, theirs, **TOLERANCES[torch.float32])


def _second_order_case(name: str, device):
    """Float64 inputs for the losses whose backward pass is written out by hand, and the
    indices of the inputs to differentiate twice (those torch differentiates)."""
    g = generator(7, len(name))
    x = (torch.randn(6, 5, generator=g, dtype=torch.float64) * 2).to(device)
    y = (torch.randn(6, 5, generator=g, dtype=torch.float64) * 2).to(device)
    if name in ("cross_entropy", "nll_loss"):
        return (x, torch.tensor([0, 4, 2, 2, 1, 3], device=device)), (0,)
    if name == "binary_cross_entropy_with_logits":
        return (x, torch.rand(6, 5, generator=g, dtype=torch.float64).to(device)), (0, 1)
    return (x, y), (0, 1)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("cross_entropy", {}),
        ("cross_entropy", {"label_smoothing": 0.3}),
        ("binary_cross_entropy_with_logits", {}),
        ("mse_loss", {}),
        ("huber_loss", {"delta": 1.5}),
        ("smooth_l1_loss", {"beta": 0.5}),
    ],
    ids=str,
)
def test_second_derivatives_equal_torch(device, name, kwargs, reduction):
    """The hand-written backward passes are themselves differentiable (create_graph=True):
    Hessian-vector products equal torch's, for every differentiable input."""
    args, wrt = _second_order_case(name, device)
    kwargs = {**kwargs, "reduction": reduction}
    products = []
    for module in (losses, F):
        leaves = [_leaf(a, i in wrt) for i, a in enumerate(args)]
        out = getattr(module, name)(*leaves, **kwargs)
        upstream = torch.ones_like(out)
        grads = torch.autograd.grad(out, [leaves[i] for i in wrt], upstream, create_graph=True)
        g = generator(3)
        direction = [torch.randn(a.shape, generator=g, dtype=a.dtype).to(device) for a in grads]
        products.append(torch.autograd.grad(
            grads, [leaves[i] for i in wrt], direction, allow_unused=True,
            materialize_grads=True,
        ))
    for ours, theirs in zip(*products, strict=True):
        assert theirs.abs().max() > 0  # a curvature that a wrong backward would get wrong
        torch.testing.assert_close(ours, theirs, **TOLERANCES[torch.float64])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "name",
    ["cross_entropy", "binary_cross_entropy_with_logits", "mse_loss", "huber_loss",
     "smooth_l1_loss"],
)
def test_a_retained_graph_gives_the_same_gradients_twice(device, name, reduction):
    """The first backward pass may reuse memory of the forward pass in place; a second one
    through the retained graph must still get torch's gradients."""
    args, wrt = _second_order_case(name, device)
    theirs_leaves = [_leaf(a, i in wrt) for i, a in enumerate(args)]
    theirs_out = getattr(F, name)(*theirs_leaves, reduction=reduction)
    upstream = torch.rand(theirs_out.shape, generator=generator(5), dtype=theirs_out.dtype)
    upstream = upstream.to(device)
    expected = torch.autograd.grad(theirs_out, [theirs_leaves[i] for i in wrt], upstream)
    leaves = [_leaf(a, i in wrt) for i, a in enumerate(args)]
    out = getattr(losses, name)(*leaves, reduction=reduction)
    for retain in (True, False):
        grads = torch.autograd.grad(out, [leaves[i] for i in wrt], upstream, retain_graph=retain)
        for ours, theirs in zip(grads, expected, strict=True):
            torch.testing.assert_close(ours, theirs, **TOLERANCES[torch.float64])


WRITTEN_OUT = ["cross_entropy", "nll_loss", "binary_cross_entropy_with_logits", "mse_loss",
               "huber_loss", "smooth_l1_loss"]


@pytest.mark.filterwarnings("error")  # a missing batching rule warns (and would reach stderr)
@pytest.mark.parametrize("reduction", ["none", "mean"])
@pytest.mark.parametrize("name", WRITTEN_OUT)
def test_written_out_derivatives_work_under_torch_func(device, name, reduction):
    """torch.func.grad, torch.func.vmap and vectorized Jacobians (a batched backward pass)
    give torch's results through the losses whose backward is written by hand."""
    (x, target), _ = _second_order_case(name, device)
    if name == "nll_loss":
        x = x.log_softmax(1)
    def ours(a):
        return getattr(losses, name)(a, target, reduction=reduction)

    def theirs(a):
        return getattr(F, name)(a, target, reduction=reduction)

    batch = torch.randn(3, *x.shape, generator=generator(11), dtype=x.dtype).to(device)
    for transform in (
        lambda f: torch.func.grad(lambda a: f(a).sum())(x),
        lambda f: torch.func.vmap(f)(batch),
        lambda f: torch.autograd.functional.jacobian(f, x, vectorize=True),
    ):
        torch.testing.assert_close(transform(ours), transform(theirs), **TOLERANCES[x.dtype])
