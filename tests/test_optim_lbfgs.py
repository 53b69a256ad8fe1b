"""L-BFGS against torch.optim.LBFGS: the same iterates, line-search trials and state (history,
step, curvature scaling, ...), on Rosenbrock's function and on an MLP, with and without the
strong Wolfe line search; convergence; the state dict moved between the two."""

import copy

import pytest
import torch

import course_lib.optim as optim
from course_lib.data import noisy_quadratic

DTYPES = [pytest.param(torch.float64, id="float64"), pytest.param(torch.float32, id="float32")]
OPTIONS = [
    {"line_search_fn": "strong_wolfe"},
    {"line_search_fn": "strong_wolfe", "history_size": 3, "max_iter": 7},
    {"line_search_fn": "strong_wolfe", "max_eval": 4, "tolerance_change": 1e-5},
    {"lr": 0.1},
    {"lr": 0.05, "history_size": 2, "max_iter": 4, "tolerance_grad": 1e-4},
]


def rosenbrock(w):
    return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2


def closure_for(opt, params, loss_fn):
    def closure():
        opt.zero_grad()
        loss = loss_fn(*params)
        loss.backward()
        return loss

    return closure


def assert_same(a, b, where="state"):
    if isinstance(b, torch.Tensor):
        assert isinstance(a, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b), f"{where}: max diff {(a - b).abs().max()}"
    elif isinstance(b, dict):
        assert list(a) == list(b) or set(a) == set(b), f"{where}: keys {list(a)} != {list(b)}"
        for key in b:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(b, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"


def run(module, kwargs, start, calls, loss_fn=rosenbrock):
    params = [torch.nn.Parameter(p.clone()) for p in start]
    opt = module.LBFGS(params, **kwargs)
    closure = closure_for(opt, params, loss_fn)
    losses = [opt.step(closure).detach() for _ in range(calls)]
    return params, opt, losses


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "kwargs", OPTIONS, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items())
)
def test_rosenbrock_matches_torch(kwargs, dtype, device):
    start = [torch.tensor([-1.5, 2.0], dtype=dtype, device=device)]
    ours = run(optim, kwargs, start, calls=8)
    theirs = run(torch.optim, kwargs, start, calls=8)
    assert_same([p.detach() for p in ours[0]], [p.detach() for p in theirs[0]], "params")
    assert_same([x.item() for x in ours[2]], [x.item() for x in theirs[2]], "losses")
    assert_same(ours[1].state_dict()["state"], theirs[1].state_dict()["state"])
    assert ours[1].state_dict()["param_groups"] == theirs[1].state_dict()["param_groups"]


def test_rosenbrock_converges_with_strong_wolfe(device):
    start = [torch.tensor([-1.5, 2.0], dtype=torch.float64, device=device)]
    (w,), opt, _ = run(optim, {"line_search_fn": "strong_wolfe"}, start, calls=5)
    assert torch.allclose(w.detach(), torch.ones(2, dtype=torch.float64, device=device), atol=1e-8)
    assert opt.state[w]["func_evals"] < 100


def test_quadratic_converges_without_line_search(device):
    """On a convex quadratic even the fixed step lr=1 works: the first L-BFGS steps learn
    the curvature and the iterates reach the minimizer."""
    scale = torch.tensor([1.0, 10.0], dtype=torch.float64, device=device)
    start = [torch.tensor([3.0, -2.0], dtype=torch.float64, device=device)]
    tolerances = {"tolerance_grad": 1e-12, "tolerance_change": 1e-20}
    (w,), _, _ = run(optim, tolerances, start, calls=2, loss_fn=lambda w: (scale * w**2).sum())
    assert w.detach().abs().max() < 1e-8


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_mlp_full_batch_matches_torch(line_search_fn, dtype, device):
    x, y = noisy_quadratic(64, device=device, dtype=dtype)
    results = []
    for module in (optim, torch.optim):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        model = model.to(device=device, dtype=dtype)
        opt = module.LBFGS(
            model.parameters(), lr=0.5, history_size=5, line_search_fn=line_search_fn
        )

        def closure(model=model, opt=opt):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            return loss

        losses = [opt.step(closure).item() for _ in range(4)]
        results.append(([p.detach() for p in model.parameters()], losses, opt.state_dict()))
    assert_same(results[0][0], results[1][0], "params")
    assert results[0][1] == results[1][1]
    assert results[1][1][-1] < results[1][1][0]
    assert_same(results[0][2]["state"], results[1][2]["state"])


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("direction", ["ours_to_torch", "torch_to_ours"])
def test_state_dict_continues_in_the_other_implementation(direction, line_search_fn, device):
    first, second = (optim, torch.optim) if direction == "ours_to_torch" else (torch.optim, optim)
    kwargs = {"line_search_fn": line_search_fn, "max_iter": 3, "lr": 1 if line_search_fn else 0.1}
    start = [torch.tensor([-1.5, 2.0], dtype=torch.float64, device=device)]
    params, opt, _ = run(first, kwargs, start, calls=2)
    resumed = second.LBFGS(params, **kwargs)
    resumed.load_state_dict(copy.deepcopy(opt.state_dict()))
    closure = closure_for(resumed, params, rosenbrock)
    for _ in range(3):
        resumed.step(closure)
    reference = run(torch.optim, kwargs, start, calls=5)
    assert_same([p.detach() for p in params], [p.detach() for p in reference[0]], "params")
    assert_same(resumed.state_dict()["state"], reference[1].state_dict()["state"])


def test_two_loop_direction_is_newton_after_conjugate_pairs():
    """With curvature pairs along the eigenvectors of a quadratic's Hessian A (mutually
    A-conjugate steps), the L-BFGS matrix is exactly A^{-1}: the two-loop recursion returns
    Newton's direction -A^{-1} g."""
    gen = torch.Generator().manual_seed(0)
    m = torch.randn(4, 4, generator=gen, dtype=torch.float64)
    hessian = m @ m.T + 4 * torch.eye(4, dtype=torch.float64)
    steps = list(torch.linalg.eigh(hessian).eigenvectors.T)
    changes = [hessian @ s for s in steps]
    ro = [1.0 / y.dot(s) for s, y in zip(steps, changes, strict=True)]
    g = torch.randn(4, generator=gen, dtype=torch.float64)
    h_diag = steps[-1].dot(changes[-1]) / changes[-1].dot(changes[-1])
    d, al = optim.two_loop_direction(g, changes, steps, ro, h_diag)
    assert len(al) == 4
    torch.testing.assert_close(d, -torch.linalg.solve(hessian, g), rtol=1e-10, atol=1e-12)
