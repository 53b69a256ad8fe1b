"""The in-place form of an update (``_in_place``: every elementwise optimizer but Rprop, and
SparseAdam) is the pure update, bit for bit: called on the same inputs, it writes exactly the
pure update's new parameter and new state into the parameter and the state's own tensors; and
an optimizer stepping in place equals the same optimizer stepping through its pure update (in
blocks), every dtype, for 20 steps, sparse gradients included. Equality with torch is
tests/test_optim_equivalence.py's and tests/test_optim_sparse.py's."""

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import course_lib.optim as optim
from course_lib.optim._base import TensorwiseOptimizer

IN_PLACE = [
    "ASGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "SGD",
    "SparseAdam",
]
CASES = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "maximize": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "maximize": True}),
    ("ASGD", {}),
    ("ASGD", {"lambd": 1e-2, "alpha": 0.5, "t0": 5, "weight_decay": 0.1}),
    ("ASGD", {"lr": 0.1, "t0": 0, "maximize": True}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "weight_decay": 0.1, "betas": (0.5, 0.9)}),
    ("Adamax", {"lr": 0.1, "eps": 1e-3, "maximize": True}),
    ("RMSprop", {"lr": 0.001}),
    ("RMSprop", {"lr": 0.001, "centered": True, "alpha": 0.9}),
    ("RMSprop", {"lr": 0.001, "momentum": 0.9, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.001, "momentum": 0.5, "centered": True, "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-4, "weight_decay": 0.1}),
    ("Adadelta", {"maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1}),
    ("Adagrad", {"eps": 1e-6, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "betas": (0.8, 0.9), "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "maximize": True, "amsgrad": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.5, "amsgrad": True, "maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"weight_decay": 0.1, "momentum_decay": 0.01}),
    ("NAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "betas": (0.9, 0.9)}),
    ("RAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
]
IDS = [f"{name}-{kw}" for name, kw in CASES]
DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]


def test_the_optimizers_with_an_in_place_form():
    """Exactly these optimizers write their update out in place; the others (and any subclass
    that brings its own ``_update``) take the pure update."""
    names = [name for name in optim.__all__ if isinstance(getattr(optim, name), type)]
    found = sorted(n for n in names if getattr(getattr(optim, n), "_in_place", None) is not None)
    assert found == IN_PLACE

    class OwnUpdate(optim.Adamax):
        _update = staticmethod(optim.adamax_update)

    assert OwnUpdate._in_place is None and TensorwiseOptimizer._in_place is None


def _start(name, kwargs, dtype, seed=0):
    """A parameter of 30 entries with a gradient, its state after three steps of the class,
    and the param group's options."""
    gen = torch.Generator().manual_seed(seed)
    param = torch.nn.Parameter(torch.randn(2, 3, 5, generator=gen).to(dtype))
    opt = getattr(optim, name)([param], **kwargs)
    for _ in range(3):
        param.grad = torch.randn(param.shape, generator=gen).to(dtype)
        opt.step()
    param.grad = torch.randn(param.shape, generator=gen).to(dtype)
    group = opt.param_groups[0]
    options = {key: group[key] for key in opt._options}
    return opt, param, dict(opt.state[param]), options


def _equal(a, b) -> bool:
    if isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    return a == b


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_the_in_place_form_writes_the_pure_update(name, kwargs, dtype):
    """From the same parameter, gradient and state (three steps in): the pure update's new
    parameter and state are exactly what the in-place form leaves in the parameter and in
    the very same state tensors."""
    opt, param, state, options = _start(name, kwargs, dtype)
    grad = param.grad.clone()
    new_param, new_state = opt._update(param.detach(), grad, state, **options)
    held = {key: value for key, value in state.items() if isinstance(value, torch.Tensor)}
    before = param.detach().clone()
    with torch.no_grad():
        opt._in_place(param, grad, state, **options)
    assert not torch.equal(param.detach(), before)  # the step was written into the parameter
    assert _equal(param.detach(), new_param)
    assert list(state) == list({**held, **new_state})
    for key, value in new_state.items():
        assert _equal(state[key], value), key
        if key in held:
            assert state[key] is held[key], f"{key} was replaced, not written in place"


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_stepping_in_place_equals_stepping_through_the_pure_update(name, kwargs, dtype):
    """Two optimizers from the same start, one in place, one through its pure update in blocks
    of 4 entries (the whole tensor for float16 and bfloat16): after 20 steps, with a gradient
    missing every third step, parameters and state are identical."""
    gen = torch.Generator().manual_seed(1)
    start = [torch.randn(shape, generator=gen).to(dtype) for shape in [(2, 3, 5), (7,), ()]]
    opts = []
    for in_place in (True, False):
        opt = getattr(optim, name)([torch.nn.Parameter(t.clone()) for t in start], **kwargs)
        if not in_place:
            opt._in_place, opt._block_numel = None, 4
        opts.append(opt)
    for step in range(20):
        grads = [torch.randn(t.shape, generator=gen).to(dtype) for t in start]
        for opt in opts:
            for i, p in enumerate(opt.param_groups[0]["params"]):
                p.grad = None if i == 1 and step % 3 == 2 else grads[i].clone()
            opt.step()
    ours, pure = ([p.detach() for p in opt.param_groups[0]["params"]] for opt in opts)
    assert all(_equal(a, b) for a, b in zip(ours, pure, strict=True))
    assert not _equal(ours[0], start[0])
    for a, b in zip(*(opt.state.values() for opt in opts), strict=True):
        assert list(a) == list(b)
        assert all(_equal(a[key], b[key]) for key in b), name


@pytest.mark.parametrize("sparse_dims", [1, 2])
@pytest.mark.parametrize(
    ("name", "kwargs"), [("SGD", {"momentum": 0.9}), ("Adagrad", {"lr_decay": 0.1})], ids=str
)
def test_sparse_gradients_step_in_place_as_the_pure_update(name, kwargs, sparse_dims):
    """SGD and Adagrad accept sparse gradients (an embedding's rows, or single entries): in
    place, they give the pure update's parameter and state (SGD's momentum buffer stays
    sparse, as in torch)."""
    gen = torch.Generator().manual_seed(2)
    start = torch.randn(10, 3, generator=gen, dtype=torch.float64)
    results = []
    for in_place in (True, False):
        weight = torch.nn.Parameter(start.clone())
        opt = getattr(optim, name)([weight], lr=0.1, **kwargs)
        if not in_place:
            opt._in_place = None
        stream = torch.Generator().manual_seed(3)
        for _ in range(10):  # 12 entries of 30 (or rows of 10), some repeated
            indices = torch.stack([torch.randint(0, n, (12,), generator=stream) for n in (10, 3)])
            values = torch.randn((12, 3)[: 3 - sparse_dims], generator=stream, dtype=torch.float64)
            grad = torch.sparse_coo_tensor(
                indices[:sparse_dims], values, (10, 3), check_invariants=True
            )
            weight.grad = grad
            opt.step()
        state = {key: v.to_dense() if v.is_sparse else v for key, v in opt.state[weight].items()}
        sparse = [key for key, v in opt.state[weight].items() if v.is_sparse]
        results.append((weight.detach().clone(), state, sparse))
    (w1, state1, sparse1), (w2, state2, sparse2) = results
    assert torch.equal(w1, w2) and not torch.equal(w1, start)
    assert list(state1) == list(state2) and all(_equal(state1[k], state2[k]) for k in state2)
    assert sparse1 == sparse2 == (["momentum_buffer"] if name == "SGD" else [])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("sparse_dims", [1, 2])
@pytest.mark.parametrize(
    "kwargs", [{}, {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-4, "maximize": True}], ids=str
)
def test_sparse_adam_in_place_equals_its_pure_update(kwargs, sparse_dims, dtype):
    """SparseAdam on random sparse gradients with repeated indices (coalesced by the step) and
    an empty one: in place, the parameter and moments equal the pure update's rows put back."""
    gen = torch.Generator().manual_seed(3)
    start = torch.randn(12, 4, generator=gen).to(dtype)
    grads = []
    for step in range(15):
        nnz = 0 if step == 5 else 6
        indices = torch.stack([torch.randint(0, n, (nnz,), generator=gen) for n in (12, 4)])
        values = torch.randn((nnz, *start.shape[sparse_dims:]), generator=gen).to(dtype)
        indices = indices[:sparse_dims]
        grads.append(torch.sparse_coo_tensor(indices, values, start.shape, check_invariants=True))
    results = []
    for in_place in (True, False):
        param = torch.nn.Parameter(start.clone())
        opt = optim.SparseAdam([param], **kwargs)
        if not in_place:
            opt._in_place = None
        for grad in grads:
            param.grad = grad.clone()
            opt.step()
        results.append([param.detach(), *opt.state[param].values()])
    assert list(opt.state[param]) == ["step", "exp_avg", "exp_avg_sq"]
    assert all(_equal(a, b) for a, b in zip(*results, strict=True))
    assert results[0][1] == 15 and not torch.equal(results[0][0], start)


@settings(max_examples=60, deadline=None)
@given(
    case=st.sampled_from(CASES),
    shape=st.lists(st.integers(1, 6), min_size=0, max_size=4),
    channels_last=st.booleans(),
    lr=st.floats(1e-4, 0.5),
    seed=st.integers(0, 2**16),
)
def test_any_shape_layout_and_learning_rate(case, shape, channels_last, lr, seed):
    """Any shape, channels-last 4-D tensors and any learning rate: after a first step (which
    creates the state), each of three steps in place equals the pure update."""
    name, kwargs = case
    gen = torch.Generator().manual_seed(seed)
    param = torch.randn(shape, generator=gen, dtype=torch.float64)
    if channels_last and param.dim() == 4:
        param = param.to(memory_format=torch.channels_last)
    param = torch.nn.Parameter(param)
    opt = getattr(optim, name)([param], **{**kwargs, "lr": lr})
    for step in range(4):
        param.grad = torch.empty_like(param).copy_(torch.randn(shape, generator=gen))
        if step == 0:
            opt.step()
            continue
        state = copy.deepcopy(dict(opt.state[param]))
        options = {key: opt.param_groups[0][key] for key in opt._options}
        expected, expected_state = opt._update(param.detach(), param.grad, state, **options)
        opt.step()
        assert _equal(param.detach(), expected)
        assert all(_equal(opt.state[param][k], v) for k, v in expected_state.items())
