"""Sparse gradients: SparseAdam, and Adagrad and SGD with sparse gradients, against torch on
an ``nn.Embedding(sparse=True)`` trained with real gradients and on random sparse streams
(uncoalesced, with repeated indices, empty)."""

import copy

import pytest
import torch

import course_lib.optim as optim

pytestmark = pytest.mark.filterwarnings("ignore:Sparse invariant checks are implicitly disabled")
STEPS = 50
DTYPES = [pytest.param(torch.float64, id="float64"), pytest.param(torch.float32, id="float32")]
CASES = [
    ("SparseAdam", {}),
    ("SparseAdam", {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-4}),
    ("SparseAdam", {"lr": 0.01, "maximize": True}),
    ("Adagrad", {"foreach": False}),
    ("Adagrad", {"foreach": False, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("Adagrad", {"foreach": False, "maximize": True, "eps": 1e-6}),
    ("SGD", {"foreach": False, "lr": 0.1}),
    ("SGD", {"foreach": False, "lr": 0.1, "momentum": 0.9, "maximize": True}),
]
IDS = [
    f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items() if k != 'foreach') or 'defaults'}"
    for name, kw in CASES
]


def assert_same(ours, theirs):
    for a, b in zip(ours.param_groups[0]["params"], theirs.param_groups[0]["params"], strict=True):
        assert a.dtype == b.dtype and torch.equal(a, b), f"param: max diff {(a - b).abs().max()}"
        assert list(ours.state[a]) == list(theirs.state[b])
        for key, value in theirs.state[b].items():
            mine = ours.state[a][key]
            if isinstance(value, torch.Tensor):
                assert mine.dtype == value.dtype and mine.layout == value.layout, key
                assert torch.equal(mine.to_dense(), value.to_dense()), key
            else:
                assert type(mine) is type(value) and mine == value, key


def embedding_pair(name, kwargs, dtype, device):
    embeddings, opts = [], []
    for module in (optim, torch.optim):
        torch.manual_seed(0)
        emb = torch.nn.Embedding(20, 4, sparse=True).to(device=device, dtype=dtype)
        embeddings.append(emb)
        opts.append(getattr(module, name)(emb.parameters(), **kwargs))
    return embeddings, opts


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_embedding_with_real_sparse_gradients(name, kwargs, dtype, device):
    """Regress a target from the mean of 6 looked-up rows (indices repeat within a batch)."""
    (emb_ours, emb_theirs), (ours, theirs) = embedding_pair(name, kwargs, dtype, device)
    gen = torch.Generator().manual_seed(1)
    for _ in range(STEPS):
        idx = torch.randint(0, 12, (5, 6), generator=gen).to(device)
        target = torch.randn(5, 4, generator=gen, dtype=dtype).to(device)
        for emb, opt in ((emb_ours, ours), (emb_theirs, theirs)):
            opt.zero_grad()
            torch.nn.functional.mse_loss(emb(idx).mean(dim=1), target).backward()
            assert emb.weight.grad.is_sparse
            opt.step()
    assert_same(ours, theirs)
    never_used = slice(12, 20)
    torch.manual_seed(0)
    start = torch.nn.Embedding(20, 4).to(device=device, dtype=dtype).weight.detach()
    assert torch.equal(emb_ours.weight.detach()[never_used], start[never_used])


def random_sparse_grads(shape, dtype, device, steps, sparse_dims=2):
    """Uncoalesced COO gradients with repeated indices; every fifth one is empty."""
    gen = torch.Generator().manual_seed(2)
    grads = []
    for step in range(steps):
        nnz = 0 if step % 5 == 4 else 8
        indices = torch.stack(
            [torch.randint(0, n, (nnz,), generator=gen) for n in shape[:sparse_dims]]
        )
        values = torch.randn((nnz, *shape[sparse_dims:]), generator=gen, dtype=dtype)
        grads.append(
            torch.sparse_coo_tensor(indices, values, shape, check_invariants=True).to(device)
        )
    return grads


@pytest.mark.parametrize("sparse_dims", [1, 2])
@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_random_sparse_gradient_stream(name, kwargs, sparse_dims, device):
    shape = (6, 5)
    start = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    params = [torch.nn.Parameter(start.clone().to(device)) for _ in range(2)]
    ours = getattr(optim, name)(params[:1], **kwargs)
    theirs = getattr(torch.optim, name)(params[1:], **kwargs)
    for grad in random_sparse_grads(shape, torch.float64, device, STEPS, sparse_dims):
        for p, opt in zip(params, (ours, theirs), strict=True):
            p.grad = grad.clone()
            opt.step()
    assert_same(ours, theirs)


@pytest.mark.parametrize("direction", ["ours_to_torch", "torch_to_ours"])
def test_sparse_adam_state_dict_continues_in_the_other_implementation(direction, device):
    first, second = (optim, torch.optim) if direction == "ours_to_torch" else (torch.optim, optim)
    shape = (6, 5)
    grads = random_sparse_grads(shape, torch.float64, device, STEPS, sparse_dims=1)
    params = [
        torch.nn.Parameter(torch.zeros(shape, dtype=torch.float64, device=device)) for _ in range(2)
    ]
    opt, reference = (
        first.SparseAdam(params[:1], lr=0.1),
        torch.optim.SparseAdam(params[1:], lr=0.1),
    )
    for i, grad in enumerate(grads):
        if i == 20:
            saved = copy.deepcopy(opt.state_dict())
            opt = second.SparseAdam(params[:1], lr=0.1)
            opt.load_state_dict(saved)
        for p, o in zip(params, (opt, reference), strict=True):
            p.grad = grad.clone()
            o.step()
    assert_same(opt, reference)


def test_pure_sparse_adam_update_returns_only_the_touched_rows():
    grad = torch.sparse_coo_tensor([[3, 1, 3]], torch.ones(3, 2), (5, 2), check_invariants=True)
    state = {"step": 0, "exp_avg": torch.zeros(5, 2), "exp_avg_sq": torch.zeros(5, 2)}
    before = copy.deepcopy(state)
    new_param, new_state = optim.sparse_adam_update(torch.zeros(5, 2), grad, state, lr=0.1)
    assert new_param.is_sparse and new_param._indices().tolist() == [[1, 3]]
    # the first Adam step is -lr * sign(g), up to eps
    torch.testing.assert_close(new_param._values(), torch.full((2, 2), -0.1), rtol=1e-6, atol=0)
    assert new_state["step"] == 1
    torch.testing.assert_close(new_state["exp_avg"]._values(), torch.tensor([[0.1] * 2, [0.2] * 2]))
    assert state["step"] == 0 and all(
        torch.equal(state[k], before[k]) for k in ("exp_avg", "exp_avg_sq")
    )
