"""The API of course_lib.optim is torch.optim's: names, signatures (argument names, order,
kinds, defaults), the defaults stored in param groups, and the errors for bad input (same
class, a message that contains torch's and says what to fix)."""

import inspect
import re

import pytest
import torch

import course_lib.optim as optim
from course_lib.optim._base import TensorwiseOptimizer

OPTIMIZERS = [
    name
    for name in torch.optim.__all__
    if isinstance(getattr(torch.optim, name), type)
    and issubclass(getattr(torch.optim, name), torch.optim.Optimizer)
    and name != "Optimizer"
]


def test_every_torch_optimizer_is_exported():
    assert len(OPTIMIZERS) == 15
    assert set(OPTIMIZERS) <= set(optim.__all__)
    assert all(hasattr(optim, name) for name in optim.__all__)


def _param(name):
    shape = (3, 2) if name == "Muon" else (3,)
    return torch.nn.Parameter(torch.zeros(shape))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_signature_matches_torch(name):
    ours = inspect.signature(getattr(optim, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == [
        (p.name, p.kind, p.default) for p in theirs.values()
    ]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_defaults_and_fresh_state_dict_match_torch(name):
    ours = getattr(optim, name)([_param(name)])
    theirs = getattr(torch.optim, name)([_param(name)])
    assert ours.defaults == theirs.defaults
    assert repr(ours.state_dict()) == repr(theirs.state_dict())  # Adagrad: state from the start


INVALID = [
    *[(name, {"lr": -1.0}) for name in OPTIMIZERS],
    ("SparseAdam", {"lr": 0.0}),
    ("SGD", {"lr": torch.tensor([0.1, 0.2])}),
    *[(name, {"betas": (1.0, 0.999)}) for name in ("Adam", "AdamW", "Adamax", "NAdam", "RAdam")],
    *[
        (name, {"betas": (0.9, -0.1)})
        for name in ("Adam", "Adamax", "NAdam", "RAdam", "SparseAdam")
    ],
    *[(name, {"eps": -1e-8}) for name in ("Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Adagrad")],
    *[(name, {"eps": -1e-8}) for name in ("RMSprop", "Adadelta")],
    ("SparseAdam", {"eps": 0.0}),
    *[
        (name, {"weight_decay": -0.1})
        for name in OPTIMIZERS
        if name not in ("SparseAdam", "LBFGS", "Rprop")
    ],
    ("Adam", {"betas": (0, 0.9)}),
    ("SGD", {"momentum": -0.9}),
    ("SGD", {"nesterov": True}),
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}),
    ("Adagrad", {"lr_decay": -0.1}),
    ("Adagrad", {"initial_accumulator_value": -0.1}),
    ("RMSprop", {"alpha": -0.5}),
    ("RMSprop", {"momentum": -0.5}),
    ("Adadelta", {"rho": 1.5}),
    ("Adadelta", {"rho": -0.1}),
    ("NAdam", {"momentum_decay": -0.1}),
    ("Rprop", {"etas": (1.2, 0.5)}),
    ("Rprop", {"etas": (0.0, 1.2)}),
    ("Rprop", {"etas": (0.5, 1.0)}),
    ("Adafactor", {"beta2_decay": 0.5}),
    ("Adafactor", {"eps": (-1.0, 1e-3)}),
    ("Adafactor", {"eps": (None, -1e-3)}),
    ("Adafactor", {"d": 0.5}),
    ("Muon", {"momentum": -0.5}),
    ("Muon", {"adjust_lr_fn": "sqrt"}),
]


def _raised(fn):
    with pytest.raises(Exception) as info:
        fn()
    return info.value


@pytest.mark.parametrize(("name", "kwargs"), INVALID, ids=lambda v: repr(v)[:40])
def test_invalid_hyperparameters_raise_torch_error(name, kwargs):
    theirs = _raised(lambda: getattr(torch.optim, name)([_param(name)], **kwargs))
    with pytest.raises(type(theirs), match=re.escape(str(theirs))) as ours:
        getattr(optim, name)([_param(name)], **kwargs)
    assert type(ours.value) is type(theirs)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("Muon", [torch.nn.Parameter(torch.zeros(3))]),
        ("SparseAdam", [torch.nn.Parameter(torch.zeros(2, 2).to_sparse())]),
        ("SparseAdam", [torch.nn.Parameter(torch.zeros(2, dtype=torch.complex64))]),
        ("LBFGS", [{"params": [_param("LBFGS")]}, {"params": [_param("LBFGS")], "lr": 0.1}]),
    ],
    ids=["Muon-1d", "SparseAdam-sparse-param", "SparseAdam-complex", "LBFGS-two-groups"],
)
def test_invalid_parameters_raise_torch_error(name, params):
    theirs = _raised(lambda: getattr(torch.optim, name)(params))
    with pytest.raises(type(theirs), match=re.escape(str(theirs))):
        getattr(optim, name)(params)


def _sparse_grad():
    return torch.sparse_coo_tensor([[0, 2]], [1.0, -1.0], (3,), check_invariants=True)


@pytest.mark.parametrize(
    "name", [n for n in OPTIMIZERS if n not in ("SGD", "Adagrad", "SparseAdam", "LBFGS", "Muon")]
)
def test_sparse_gradients_are_refused_where_torch_refuses_them(name, device):
    p = torch.nn.Parameter(torch.zeros(3, device=device))
    p.grad = _sparse_grad().to(device)
    with pytest.raises(RuntimeError, match="does not support sparse gradients"):
        getattr(optim, name)([p]).step()


@pytest.mark.parametrize(
    ("name", "kwargs", "grad"),
    [
        ("SparseAdam", {}, lambda: torch.ones(3)),
        ("Adagrad", {"weight_decay": 0.1}, _sparse_grad),
    ],
    ids=["SparseAdam-dense-grad", "Adagrad-sparse-weight-decay"],
)
def test_step_errors_match_torch(name, kwargs, grad):
    params = [torch.nn.Parameter(torch.zeros(3)) for _ in range(2)]
    for p in params:
        p.grad = grad()
    theirs = _raised(getattr(torch.optim, name)(params[:1], **kwargs).step)
    with pytest.raises(type(theirs), match=re.escape(str(theirs))):
        getattr(optim, name)(params[1:], **kwargs).step()


def test_lbfgs_unknown_line_search_fails_at_step_like_torch():
    w = torch.nn.Parameter(torch.ones(2))

    def closure():
        w.grad = torch.ones(2)
        return w.sum()

    theirs = _raised(lambda: torch.optim.LBFGS([w], line_search_fn="armijo").step(closure))
    with pytest.raises(type(theirs), match=re.escape(str(theirs))):
        optim.LBFGS([w], line_search_fn="armijo").step(closure)


PRODUCTION_FLAGS = [
    (name, flag)
    for name in OPTIMIZERS
    for flag in ("foreach", "fused", "capturable", "differentiable")
    if flag in inspect.signature(getattr(optim, name)).parameters
]


@pytest.mark.parametrize(("name", "flag"), PRODUCTION_FLAGS)
def test_production_flags_are_refused_clearly(name, flag):
    getattr(optim, name)([_param(name)], **{flag: False})
    with pytest.raises(ValueError, match=f"{flag}=True is not supported"):
        getattr(optim, name)([_param(name)], **{flag: True})


def test_complex_parameters_are_refused_clearly(device):
    p = torch.nn.Parameter(torch.zeros(2, dtype=torch.complex64, device=device))
    p.grad = torch.ones_like(p)
    with pytest.raises(RuntimeError, match="does not support complex parameters"):
        optim.Adam([p]).step()


@pytest.mark.parametrize("set_to_none", [True, False])
def test_inherited_machinery_zero_grad_and_step_hooks(set_to_none, device):
    """zero_grad, step hooks and the closure's return value behave as in torch, because they
    are torch.optim.Optimizer's own."""
    w = torch.nn.Parameter(torch.ones(2, device=device))
    opt = optim.Adam([w], lr=0.1)
    calls = []
    opt.register_step_pre_hook(lambda *_: calls.append("pre"))
    opt.register_step_post_hook(lambda *_: calls.append("post"))

    def closure():
        opt.zero_grad(set_to_none=set_to_none)
        loss = (w**2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 2.0
    assert calls == ["pre", "post"]
    opt.zero_grad(set_to_none=set_to_none)
    assert (w.grad is None) if set_to_none else torch.equal(w.grad, torch.zeros_like(w))


def _param_pair(device):
    """Equal parameters for our optimizer and torch's, with one gradient each."""
    ours, theirs = (torch.nn.Parameter(torch.arange(6.0, device=device).view(2, 3))
                    for _ in range(2))
    for p in (ours, theirs):
        p.grad = torch.full_like(p, 0.5)
    return ours, theirs


def test_step_updates_parameters_and_state_in_their_own_memory(device):
    """As torch's in-place kernels do: the parameter and every state tensor keep their memory
    (and identity) from step to step; only the values change."""
    ours, theirs = _param_pair(device)
    opt = optim.SGD([ours], lr=0.1, momentum=0.9)
    opt.step()
    buffer = opt.state[ours]["momentum_buffer"]
    addresses = ours.data_ptr(), buffer.data_ptr()
    opt.step()
    assert opt.state[ours]["momentum_buffer"] is buffer
    assert (ours.data_ptr(), buffer.data_ptr()) == addresses
    reference = torch.optim.SGD([theirs], lr=0.1, momentum=0.9)
    reference.step()
    reference.step()
    assert torch.equal(ours, theirs)
    assert torch.equal(buffer, reference.state[theirs]["momentum_buffer"])


@pytest.mark.parametrize("name", ["SGD", "Adam"])  # descent in place; a new parameter copied back
@pytest.mark.parametrize("holder", ["data", "view", "detach"])
def test_what_else_sees_the_parameter_sees_the_update(holder, name, device):
    """A ``.data`` alias, a view or a detached tensor share the parameter's memory: as with
    torch's in-place update, they see the new values."""
    ours, theirs = _param_pair(device)
    held = {"data": lambda p: p.data, "view": lambda p: p[0], "detach": lambda p: p.detach()}
    ours_held, theirs_held = held[holder](ours), held[holder](theirs)
    before = ours_held.clone()
    getattr(optim, name)([ours], lr=0.1).step()
    getattr(torch.optim, name)([theirs], lr=0.1).step()
    assert not torch.equal(ours_held, before)  # the step reached what was held
    assert torch.equal(ours_held, theirs_held)


def test_plain_sgd_descends_along_the_gradient_itself():
    """Without momentum, weight decay or maximize, SGD's direction is the gradient tensor
    itself (no copy), and :func:`descend` steps along it: theta - lr * d."""
    param, grad = torch.arange(4.0), torch.full((4,), 0.5)
    direction, state = optim.sgd_direction(param, grad, {})
    assert direction is grad and state == {}
    assert torch.equal(optim.descend(param, direction, lr=0.1), param - 0.1 * grad)


def test_a_subclass_that_replaces_the_update_gets_it_applied():
    """SGD steps in place (``_in_place``); a subclass that brings its own pure update (here:
    steps clipped to 0.01) must have that update applied, not the inherited in-place step."""

    def clipped_sgd_update(param, grad, state, **options):
        new_param, new_state = optim.sgd_update(param, grad, state, **options)
        return param + (new_param - param).clamp(-0.01, 0.01), new_state

    class ClippedSGD(optim.SGD):
        _update = staticmethod(clipped_sgd_update)

    param = torch.nn.Parameter(torch.zeros(3))
    param.grad = torch.tensor([100.0, -100.0, 0.05])
    ClippedSGD([param], lr=0.1).step()
    torch.testing.assert_close(param.detach(), torch.tensor([-0.01, 0.01, -0.005]))


def test_updates_run_in_blocks_only_where_they_are_elementwise():
    """Only an optimizer that declares its update elementwise has large tensors split into
    blocks: Muon, Adafactor and any subclass that does not opt in (a norm-based update
    would be wrong blockwise) take whole tensors."""
    param = torch.nn.Parameter(torch.zeros(64, 64))
    param.grad = torch.ones_like(param)
    for name, blocks in [("Adam", 4096 // 1024), ("Muon", 1), ("Adafactor", 1)]:
        opt = getattr(optim, name)([param])
        opt._block_numel = 1024
        assert len(opt._splitter(param, {})(param)) == blocks, name
    assert not TensorwiseOptimizer._elementwise  # a subclass opts in


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_takes_whole_tensors_and_equals_torch(dtype):
    """torch's float16 and bfloat16 kernels round a tensor's tail differently from its body,
    so a blockwise update would differ from torch's in a few entries: those dtypes go whole."""
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(600, 1000, generator=gen).to(dtype)
    grads = [torch.randn(600, 1000, generator=gen).to(dtype) for _ in range(2)]
    results = []
    for module in (optim, torch.optim):
        param = torch.nn.Parameter(start.clone())
        opt = module.SGD([param], lr=0.1, momentum=0.9)
        for grad in grads:
            param.grad = grad.clone()
            opt.step()
        results.append(param.detach())
    assert len(optim.SGD([param])._splitter(param, {})(param)) == 1
    assert torch.equal(*results)
