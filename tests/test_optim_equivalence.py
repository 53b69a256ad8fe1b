"""course_lib.optim against torch.optim: from the same start with the same gradients, 50 steps
give identical parameters and identical state (every key, dtype and value), over a grid of
each optimizer's options, float64 and float32, on a small MLP with real gradients and on random
gradient streams. Also: several param groups, learning-rate schedulers, state dicts moved
between ours and torch's in both directions, and the pure updates (no input is modified, and
they are what the classes do).

The comparisons are exact (``torch.equal``): every update performs torch's single-tensor
arithmetic, op for op. Torch runs with ``foreach=False`` (its CPU default) so that the
reference does not depend on the device.
"""

import copy
import inspect
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import course_lib.optim as optim
from course_lib.optim._base import TensorwiseOptimizer
from course_lib.data import batches, noisy_quadratic

STEPS = 50
NO_FOREACH_ARG = {"SparseAdam", "LBFGS", "Muon"}

# (optimizer, options): the grid of each optimizer's options that the tests walk.
CASES = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "betas": (0.8, 0.9), "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "maximize": True, "amsgrad": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.5, "amsgrad": True, "maximize": True}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "weight_decay": 0.1, "betas": (0.5, 0.9)}),
    ("Adamax", {"maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"weight_decay": 0.1, "momentum_decay": 0.01}),
    ("NAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "betas": (0.9, 0.9)}),
    ("RAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1}),
    ("Adagrad", {"eps": 1e-6, "maximize": True}),
    ("RMSprop", {"lr": 0.001}),
    ("RMSprop", {"lr": 0.001, "centered": True, "alpha": 0.9}),
    ("RMSprop", {"lr": 0.001, "momentum": 0.9, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.001, "momentum": 0.5, "centered": True, "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-4, "weight_decay": 0.1}),
    ("Adadelta", {"maximize": True}),
    ("ASGD", {}),
    ("ASGD", {"lambd": 1e-2, "alpha": 0.5, "t0": 10, "weight_decay": 0.1}),
    ("ASGD", {"t0": 0, "maximize": True}),
    ("Rprop", {}),
    ("Rprop", {"etas": (0.3, 1.5), "step_sizes": (1e-3, 0.1)}),
    ("Rprop", {"lr": 0.001, "maximize": True}),
    ("Adafactor", {}),
    ("Adafactor", {"weight_decay": 0.1, "beta2_decay": -0.5, "d": 1.5}),
    ("Adafactor", {"lr": 0.001, "eps": (1e-5, 1e-2), "maximize": True}),
    ("Muon", {"lr": 0.01}),
    ("Muon", {"lr": 0.01, "nesterov": False, "weight_decay": 0.0, "ns_steps": 3}),
    ("Muon", {"lr": 0.01, "momentum": 0.5, "adjust_lr_fn": "match_rms_adamw"}),
]
NAMES = sorted({name for name, _ in CASES})
CASE_IDS = [
    f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw in CASES
]
DTYPES = [pytest.param(torch.float64, id="float64"), pytest.param(torch.float32, id="float32")]


def build(module, name, params, kwargs):
    """The optimizer ``name`` of ``module`` on ``params``, with ``foreach=False`` where the
    signature has it (ours accepts False), so that the param groups compare equal."""
    if name not in NO_FOREACH_ARG:
        kwargs = {**kwargs, "foreach": False}
    return getattr(module, name)(params, **kwargs)


def copies(params):
    return [p.detach().clone().requires_grad_() for p in params]


def make_pair(name, params, kwargs):
    """Ours and torch's optimizer of that name, each on its own copy of ``params``."""
    return build(optim, name, copies(params), kwargs), build(
        torch.optim, name, copies(params), kwargs
    )


def assert_same_value(ours, theirs, where: str) -> None:
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, torch.Tensor), f"{where}: {type(ours)} instead of a tensor"
        assert (ours.dtype, ours.device, ours.shape) == (
            theirs.dtype,
            theirs.device,
            theirs.shape,
        ), where
        assert torch.equal(ours, theirs), f"{where}: max diff {(ours - theirs).abs().max()}"
    elif isinstance(theirs, dict):
        assert list(ours) == list(theirs), f"{where}: keys {list(ours)} != {list(theirs)}"
        for key, value in theirs.items():
            assert_same_value(ours[key], value, f"{where}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_same_value(a, b, f"{where}[{i}]")
    else:
        assert type(ours) is type(theirs) and ours == theirs, f"{where}: {ours!r} != {theirs!r}"


def assert_same(ours, theirs) -> None:
    """Parameters, state (keys in torch's order, dtypes, values) and param groups are equal."""
    ours_params = [p for g in ours.param_groups for p in g["params"]]
    theirs_params = [p for g in theirs.param_groups for p in g["params"]]
    for i, (a, b) in enumerate(zip(ours_params, theirs_params, strict=True)):
        assert_same_value(a.detach(), b.detach(), f"param {i}")
        assert (a in ours.state) == (b in theirs.state), f"param {i}: state created or not"
        if b in theirs.state:
            assert list(ours.state[a]) == list(theirs.state[b]), f"param {i}: state keys"
            for key, value in theirs.state[b].items():
                assert_same_value(ours.state[a][key], value, f"param {i} state[{key!r}]")
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]


def random_params(name, device, dtype):
    """A matrix, a vector, a 3-D tensor and a scalar (only matrices for Muon)."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(4, 3), (5, 2)] if name == "Muon" else [(4, 3), (3,), (2, 3, 5), ()]
    return [torch.randn(s, generator=gen, dtype=dtype).to(device) for s in shapes]


def random_grads(params, steps, seed=1):
    """A seeded stream of gradients; the second parameter gets none every third step."""
    gen = torch.Generator().manual_seed(seed)
    stream = []
    for step in range(steps):
        grads = [torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device) for p in params]
        if step % 3 == 2:
            grads[1] = None
        stream.append(grads)
    return stream


def set_grads(opt, grads) -> None:
    params = [p for g in opt.param_groups for p in g["params"]]
    for p, g in zip(params, grads, strict=True):
        p.grad = None if g is None else g.clone()


def step_both(ours, theirs, grads) -> None:
    for opt in (ours, theirs):
        set_grads(opt, grads)
        opt.step()


def mlp(device, dtype):
    torch.manual_seed(0)
    layers = [torch.nn.Linear(1, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16), torch.nn.Tanh()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(16, 1)).to(device=device, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=CASE_IDS)
def test_random_gradient_stream(name, kwargs, dtype, device):
    params = random_params(name, device, dtype)
    ours, theirs = make_pair(name, params, kwargs)
    for grads in random_grads(params, STEPS):
        step_both(ours, theirs, grads)
    assert_same(ours, theirs)


BLOCKWISE_CASES = [(n, kw) for n, kw in CASES if getattr(optim, n)._elementwise]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("name", "kwargs"), BLOCKWISE_CASES, ids=[f"{n}-{kw}" for n, kw in BLOCKWISE_CASES]
)
def test_blockwise_updates_equal_whole_tensor_updates(name, kwargs, dtype, device, monkeypatch):
    """The pure update of an elementwise optimizer runs in blocks of a large CPU tensor's
    entries (a GPU takes whole tensors); with blocks of 4 entries (the last one shorter) and
    the in-place form switched off, 20 steps still equal torch's exactly."""
    monkeypatch.setattr(TensorwiseOptimizer, "_block_numel", 4)
    monkeypatch.setattr(getattr(optim, name), "_in_place", None)
    params = random_params(name, device, dtype)
    ours, theirs = make_pair(name, params, kwargs)
    for grads in random_grads(params, 20):
        step_both(ours, theirs, grads)
    largest = ours.param_groups[0]["params"][2]
    split = ours._splitter(largest, ours.state.get(largest, {}))
    assert len(split(largest)) == (8 if device.type == "cpu" else 1)  # 30 entries: 7 x 4 + 2
    assert_same(ours, theirs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=CASE_IDS)
def test_mlp_real_gradients(name, kwargs, dtype, device):
    """Train the 1-16-16-1 tanh MLP on y = x^2 + noise with minibatches: the gradients come
    from each side's own parameters, so any difference would compound."""
    models = [mlp(device, dtype), mlp(device, dtype)]
    x, y = noisy_quadratic(256, device=device, dtype=dtype)
    groups = [[p for p in m.parameters() if p.ndim == 2 or name != "Muon"] for m in models]
    ours, theirs = (
        build(optim, name, groups[0], kwargs),
        build(torch.optim, name, groups[1], kwargs),
    )
    gen = torch.Generator().manual_seed(0)
    data = [b for _ in range(2) for b in batches(x, y, 10, generator=gen)][:STEPS]
    for xb, yb in data:
        for model, opt in zip(models, (ours, theirs), strict=True):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(xb), yb).backward()
            opt.step()
    assert_same(ours, theirs)


GROUP_OVERRIDES = {
    "SGD": {"lr": 0.01, "momentum": 0.5, "nesterov": True},
    "Adam": {"lr": 0.002, "amsgrad": True, "betas": (0.5, 0.6)},
    "AdamW": {"lr": 0.002, "weight_decay": 0.0},
    "Adamax": {"lr": 0.01, "eps": 1e-3},
    "NAdam": {"lr": 0.01, "momentum_decay": 0.1},
    "RAdam": {"lr": 0.01, "decoupled_weight_decay": True, "weight_decay": 0.2},
    "Adagrad": {"lr": 0.1, "lr_decay": 0.1},
    "RMSprop": {"lr": 0.01, "alpha": 0.5},
    "Adadelta": {"lr": 0.1, "rho": 0.5},
    "ASGD": {"lr": 0.1, "t0": 3},
    "Rprop": {"lr": 0.1, "etas": (0.2, 2.0)},
    "Adafactor": {"lr": 0.1, "d": 3.0},
    "Muon": {"lr": 0.1, "nesterov": False},
}


@pytest.mark.parametrize("name", NAMES)
def test_param_groups_with_different_hyperparameters(name, device):
    params = random_params(name, device, torch.float64)
    base = dict(CASES[[n for n, _ in CASES].index(name)][1])
    pairs = []
    for module in (optim, torch.optim):
        tensors = copies(params)
        groups = [{"params": tensors[:1]}, {"params": tensors[1:], **GROUP_OVERRIDES[name]}]
        pairs.append(build(module, name, groups, base))
    for grads in random_grads(params, STEPS):
        step_both(*pairs, grads)
    assert_same(*pairs)


@pytest.mark.parametrize("name", ["Adam", "Adagrad", "SGD"])
def test_add_param_group_mid_training(name, device):
    params = random_params(name, device, torch.float64)
    ours, theirs = make_pair(name, params[:1], {"lr": 0.01} if name == "SGD" else {})
    grads = random_grads(params, STEPS)
    for i, step_grads in enumerate(grads):
        if i == 10:
            for opt in (ours, theirs):
                opt.add_param_group({"params": copies(params[1:])})
        step_both(ours, theirs, step_grads if i >= 10 else step_grads[:1])
    assert_same(ours, theirs)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Rprop", "ASGD"])
def test_torch_schedulers_drive_our_learning_rate(name, device):
    params = random_params(name, device, torch.float64)
    ours, theirs = make_pair(name, params, {"lr": 0.01})
    schedulers = [
        torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5) for opt in (ours, theirs)
    ]
    for grads in random_grads(params, STEPS):
        step_both(ours, theirs, grads)
        for scheduler in schedulers:
            scheduler.step()
    assert ours.param_groups[0]["lr"] == 0.01 * 0.5 ** (STEPS // 7)
    assert_same(ours, theirs)


LAST_CASES = list({name: (name, kwargs) for name, kwargs in CASES}.values())  # the richest


@pytest.mark.parametrize("direction", ["ours_to_torch", "torch_to_ours"])
@pytest.mark.parametrize(("name", "kwargs"), LAST_CASES, ids=[name for name, _ in LAST_CASES])
def test_state_dict_continues_in_the_other_implementation(name, kwargs, direction, device):
    """20 steps in one implementation, its state dict loaded into a fresh optimizer of the
    other on the same parameters, 30 more steps: the same as torch saving and loading its own
    state dict. (Loading casts floating-point state other than ``step`` to the parameter's
    dtype, e.g. NAdam's ``mu_product``, so the reference must be loaded too.)"""
    first_module, second_module = (optim, torch.optim)[:: 1 if direction == "ours_to_torch" else -1]
    params = random_params(name, device, torch.float64)
    grads = random_grads(params, STEPS)
    first = build(first_module, name, copies(params), kwargs)
    reference = build(torch.optim, name, copies(params), kwargs)
    for step_grads in grads[:20]:
        step_both(first, reference, step_grads)
    assert_same_value(first.state_dict(), reference.state_dict(), "state dict after 20 steps")
    second = build(second_module, name, first.param_groups[0]["params"], kwargs)
    second.load_state_dict(copy.deepcopy(first.state_dict()))
    reloaded = build(torch.optim, name, reference.param_groups[0]["params"], kwargs)
    reloaded.load_state_dict(copy.deepcopy(reference.state_dict()))
    for step_grads in grads[20:]:
        step_both(second, reloaded, step_grads)
    assert_same(second, reloaded)


UPDATES = {
    "SGD": optim.sgd_update,
    "Adam": optim.adam_update,
    "AdamW": optim.adamw_update,
    "Adamax": optim.adamax_update,
    "NAdam": optim.nadam_update,
    "RAdam": optim.radam_update,
    "Adagrad": optim.adagrad_update,
    "RMSprop": optim.rmsprop_update,
    "Adadelta": optim.adadelta_update,
    "ASGD": optim.asgd_update,
    "Rprop": optim.rprop_update,
    "Adafactor": optim.adafactor_update,
    "Muon": optim.muon_update,
}


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=CASE_IDS)
def test_pure_update_modifies_nothing_and_is_the_class_step(name, kwargs, device):
    """Three class steps, then one call of the pure update with the group's options: the
    inputs are left untouched, and the outputs equal the class's fourth step."""
    params = random_params(name, device, torch.float64)
    opt = build(optim, name, copies(params), kwargs)
    grads = random_grads(params, 4)
    for step_grads in grads[:3]:
        set_grads(opt, step_grads)
        opt.step()
    update = UPDATES[name]
    group = opt.param_groups[0]
    options = {k: v for k, v in group.items() if k in inspect.signature(update).parameters}
    param = group["params"][0]
    grad, state = grads[3][0], opt.state[param]
    before = [param.detach().clone(), grad.clone(), copy.deepcopy(dict(state))]
    new_param, new_state = update(param.detach(), grad, state, **options)
    assert_same_value([param.detach(), grad, dict(state)], before, "inputs after the update")
    set_grads(opt, [grad] + [None] * (len(params) - 1))
    opt.step()
    assert_same_value(param.detach(), new_param, "class step vs pure update")
    assert_same_value(dict(opt.state[param]), {**before[2], **new_state}, "state")


def test_decoupled_weight_decay_is_the_regularization_piece():
    """AdamW with zero gradients only decays: theta <- (1 - lr * wd)^t theta, as the named
    piece of course_lib.regularization computes it."""
    w = torch.nn.Parameter(torch.tensor([2.0, -4.0], dtype=torch.float64))
    opt = optim.AdamW([w], lr=0.1, weight_decay=0.5)
    for _ in range(3):
        w.grad = torch.zeros_like(w)
        opt.step()
    assert torch.allclose(
        w.detach(), torch.tensor([2.0, -4.0], dtype=torch.float64) * 0.95**3, rtol=1e-15, atol=0
    )
    assert math.isclose(opt.state[w]["step"].item(), 3.0)


@settings(max_examples=100, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    channels_last=st.booleans(),
    lr=st.floats(1e-4, 0.5),
    weight_decay=st.sampled_from([0.0, 0.05]),
    maximize=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_random_shapes_layouts_and_hyperparameters(
    name, shape, channels_last, lr, weight_decay, maximize, seed
):
    """Any shape (Muon: made 2-D), channels-last 4-D parameters (with gradients in the same
    layout, as autograd makes them), learning rates, weight decay and maximize: 10 steps equal
    torch's, the layout of the state included (ours is computed out of place, torch's in
    place)."""
    if name == "Muon":
        shape = shape[:2] if len(shape) >= 2 else shape * 2
    gen = torch.Generator().manual_seed(seed)
    param = torch.randn(shape, generator=gen, dtype=torch.float64)
    if channels_last and param.dim() == 4:
        param = param.to(memory_format=torch.channels_last)
    kwargs = {"lr": lr}
    if name not in ("Rprop", "SparseAdam"):
        kwargs["weight_decay"] = weight_decay
    if name != "Muon":
        kwargs["maximize"] = maximize
    ours, theirs = make_pair(name, [param], kwargs)
    for _ in range(10):
        grad = torch.randn(shape, generator=gen, dtype=torch.float64)
        step_both(ours, theirs, [torch.empty_like(param).copy_(grad)])
    assert_same(ours, theirs)
    for a, b in zip(ours.state.values(), theirs.state.values(), strict=True):
        for key, value in b.items():
            if isinstance(value, torch.Tensor):  # the layout: strides of dimensions > 1
                assert layout(a[key]) == layout(value), key


def layout(t: torch.Tensor) -> list[int]:
    return [stride for stride, size in zip(t.stride(), t.shape, strict=True) if size > 1]
