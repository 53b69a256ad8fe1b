"""course_lib.regularization against hand-written formulas and torch: penalties and their
gradients, L2 penalty vs SGD's weight_decay, decoupled decay vs AdamW, the decay / no-decay
parameter split, soft thresholding (equal to softshrink, and the proximal step of L1), and
dropout (bit-identical to torch's CPU kernel given the same generator
state; statistically equal on any device)."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.regularization import (
    NORMALIZATION_LAYERS,
    Dropout,
    coupled_weight_decay,
    decoupled_weight_decay,
    dropout,
    l1_penalty,
    l2_penalty,
    param_groups_with_decay,
    soft_threshold,
)

DTYPES = [torch.float32, torch.float64]
SHAPES = [(7,), (3, 5), (2, 3, 4, 5)]


def tensors(device, dtype, seed=0, requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(s, generator=g, dtype=dtype).to(device).requires_grad_(requires_grad)
        for s in SHAPES
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_penalties_equal_the_formulas_and_their_gradients(device, dtype):
    params = tensors(device, dtype)
    lambd = 0.37
    l1, l2 = l1_penalty(params, lambd), l2_penalty(params, lambd)
    flat = torch.cat([p.detach().flatten() for p in params])
    torch.testing.assert_close(l1, lambd * flat.abs().sum())
    torch.testing.assert_close(l2, 0.5 * lambd * (flat * flat).sum())
    grads_l1 = torch.autograd.grad(l1, params)
    grads_l2 = torch.autograd.grad(l2, params)
    for p, g1, g2 in zip(params, grads_l1, grads_l2, strict=True):
        assert torch.equal(g1, lambd * p.detach().sign())
        assert torch.equal(g2, lambd * p.detach())  # the 1/2 convention: gradient lambda*theta


def test_penalties_accept_a_single_tensor_and_reject_nothing():
    theta = torch.tensor([3.0, -4.0])
    assert l1_penalty(theta, 1.0).item() == 7.0 and l2_penalty(theta, 2.0).item() == 25.0
    for penalty in (l1_penalty, l2_penalty):
        with pytest.raises(ValueError, match="empty parameter list"):
            penalty([], 0.1)


def _sgd_step(params, x, lambd, *, weight_decay, momentum):
    """One SGD step on a least-squares loss, the L2 term either in the loss or the optimizer."""
    optimizer = torch.optim.SGD(
        params, lr=0.05, momentum=momentum, weight_decay=weight_decay, foreach=False
    )
    for _ in range(3):
        optimizer.zero_grad()
        weight, bias = params
        loss = (x @ weight.T + bias).pow(2).mean()
        if weight_decay == 0:
            loss = loss + l2_penalty(params, lambd)
        loss.backward()
        optimizer.step()
    return [p.detach() for p in params]


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("dtype", DTYPES)
def test_l2_penalty_in_the_loss_equals_sgd_weight_decay(device, dtype, momentum):
    """Same regularizer: the penalty's gradient lambda*theta is computed exactly (previous test),
    and torch's fused grad.add(param, alpha=lambda) rounds the sum once instead of twice, so
    the parameters agree to a few ulps."""
    lambd = 0.1
    g = torch.Generator().manual_seed(1)
    x = torch.randn(16, 3, generator=g, dtype=dtype).to(device)
    start = [
        torch.randn(5, 3, generator=g, dtype=dtype).to(device),
        torch.randn(5, generator=g, dtype=dtype).to(device),
    ]
    with_decay = _sgd_step(
        [p.clone().requires_grad_() for p in start], x, lambd, weight_decay=lambd, momentum=momentum
    )
    with_penalty = _sgd_step(
        [p.clone().requires_grad_() for p in start], x, lambd, weight_decay=0.0, momentum=momentum
    )
    eps = torch.finfo(dtype).eps
    for a, b in zip(with_decay, with_penalty, strict=True):
        torch.testing.assert_close(a, b, rtol=8 * eps, atol=8 * eps)
    assert not torch.equal(with_decay[1], start[1])  # the decay did act on the bias-like tensor


def test_coupled_and_decoupled_decay_equal_the_formulas():
    g = torch.Generator().manual_seed(2)
    grad, param = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    ulp = torch.finfo(grad.dtype).eps * (grad.abs() + param.abs())
    assert ((coupled_weight_decay(grad, param, 0.3) - (grad + 0.3 * param)).abs() <= ulp).all()
    assert torch.equal(
        decoupled_weight_decay(param, lr=0.1, weight_decay=0.3), param * (1 - 0.1 * 0.3)
    )


def test_coupled_decay_is_sgd_weight_decay_exactly():
    g = torch.Generator().manual_seed(3)
    param = torch.randn(6, 2, generator=g, requires_grad=True)
    param.grad = torch.randn(6, 2, generator=g)
    expected = param.detach().add(coupled_weight_decay(param.grad, param.detach(), 0.2), alpha=-0.1)
    torch.optim.SGD([param], lr=0.1, weight_decay=0.2, foreach=False).step()
    assert torch.equal(param.detach(), expected)


def test_decoupled_decay_then_adam_is_adamw_exactly():
    g = torch.Generator().manual_seed(4)
    start, grad = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
    adamw = start.clone().requires_grad_()
    adamw.grad = grad.clone()
    torch.optim.AdamW([adamw], lr=0.01, weight_decay=0.5, foreach=False).step()
    adam = decoupled_weight_decay(start, lr=0.01, weight_decay=0.5).requires_grad_()
    adam.grad = grad.clone()
    torch.optim.Adam([adam], lr=0.01, weight_decay=0.0, foreach=False).step()
    assert torch.equal(adamw.detach(), adam.detach())


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.conv = nn.Conv1d(4, 6, 3)
        self.bn = nn.BatchNorm1d(6)
        self.gn = nn.GroupNorm(2, 6)
        self.ln = nn.LayerNorm(6)
        self.rms = nn.RMSNorm(6)
        self.head = nn.Linear(6, 3, bias=False)
        self.tied = nn.Linear(3, 6)
        self.tied.weight = nn.Parameter(self.head.weight.T.contiguous())
        self.scale = nn.Parameter(torch.ones(1))
        self.rnn = nn.GRU(3, 2)


def test_param_groups_exempt_biases_and_normalization():
    model = seeded_net()
    decay, no_decay = param_groups_with_decay(model, 0.05)
    named = {id(p): n for n, p in model.named_parameters()}
    assert sorted(named[id(p)] for p in decay["params"]) == [
        "conv.weight",
        "embed.weight",
        "head.weight",
        "rnn.weight_hh_l0",
        "rnn.weight_ih_l0",
        "scale",
        "tied.weight",
    ]
    assert sorted(named[id(p)] for p in no_decay["params"]) == [
        "bn.bias",
        "bn.weight",
        "conv.bias",
        "gn.bias",
        "gn.weight",
        "ln.bias",
        "ln.weight",
        "rms.weight",
        "rnn.bias_hh_l0",
        "rnn.bias_ih_l0",
        "tied.bias",
    ]
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (0.05, 0.0)
    assert all(issubclass(layer, nn.Module) for layer in NORMALIZATION_LAYERS)


def test_param_groups_list_a_shared_parameter_once():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    decay, no_decay = param_groups_with_decay(model, 0.1)
    assert decay["params"] == [shared.weight] and no_decay["params"] == [shared.bias]


def seeded_net() -> Net:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return Net()


def test_only_the_decay_group_shrinks():
    model = seeded_net()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.SGD(param_groups_with_decay(model, 0.5), lr=0.1, foreach=False)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    for name, p in model.named_parameters():
        decayed = "bias" not in name and name.split(".")[0] not in {"bn", "gn", "ln", "rms"}
        zero = torch.zeros_like(p)
        shrunk = before[name].add(coupled_weight_decay(zero, before[name], 0.5), alpha=-0.1)
        assert torch.equal(p.detach(), shrunk if decayed else before[name]), name


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.77])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_dropout_bit_identical_to_torch_on_cpu(p, dtype, inplace):
    """torch's CPU dropout: empty_like(input).bernoulli_(1 - p), div_(1 - p), input * noise.
    The same generator state gives the same mask and the same arithmetic."""
    x = torch.randn(33, 65, generator=torch.Generator().manual_seed(5)).to(dtype)
    with torch.random.fork_rng():
        torch.manual_seed(123)
        expected = F.dropout(x.clone(), p=p, inplace=inplace)
    ours = dropout(x.clone(), p=p, inplace=inplace, generator=torch.Generator().manual_seed(123))
    assert torch.equal(ours, expected)
    with torch.random.fork_rng():
        torch.manual_seed(7)
        global_state = dropout(x.clone(), p=p, inplace=inplace)  # generator=None: global RNG
        torch.manual_seed(7)
        assert torch.equal(global_state, F.dropout(x.clone(), p=p, inplace=inplace))


def test_dropout_gradient_and_module_identical_to_torch():
    x = torch.randn(20, 30, generator=torch.Generator().manual_seed(6))
    results = []
    for layer in (Dropout(p=0.3), nn.Dropout(p=0.3)):
        inp = x.clone().requires_grad_()
        with torch.random.fork_rng():
            torch.manual_seed(11)
            out = layer.train()(inp)
        out.pow(2).sum().backward()
        results.append((out.detach(), inp.grad, layer.eval()(x)))
    for ours, theirs in zip(*results, strict=True):
        assert torch.equal(ours, theirs)
    assert repr(Dropout(p=0.3)) == repr(nn.Dropout(p=0.3))


def test_dropout_edge_cases_like_torch():
    x = torch.tensor([1.0, float("inf"), -2.0])
    assert dropout(x, 0.5, training=False) is x and F.dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0) is x
    dropped = dropout(x, 1.0)  # x * 0: inf becomes nan, as in torch
    assert dropped[1].isnan() and dropped[0] == 0
    torch.testing.assert_close(dropped, F.dropout(x, 1.0), equal_nan=True, rtol=0, atol=0)
    empty = torch.empty(0, 3)
    assert dropout(empty, 0.5) is empty
    y = x.clone()
    assert dropout(y, 1.0, inplace=True) is y and y[0] == 0


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_rejects_probabilities_outside_0_1(p):
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        dropout(torch.ones(3), p)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        Dropout(p)


N = 1_000_000
DELTA = 1e-7  # each bound below fails with probability < DELTA for a correct implementation


def hoeffding(n: int, value_range: float) -> float:
    """Deviation t with P(|mean - E| >= t) <= DELTA for n independent values in a range."""
    return value_range * math.sqrt(math.log(2 / DELTA) / (2 * n))


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_zero_fraction_and_expectation_match_torch(device, p):
    """On any device (torch's CUDA kernel samples differently): the zero fraction is p and the
    mean output is the input, for ours and for torch alike, within Hoeffding bounds."""
    x = torch.full((N,), 2.0, device=device)
    generator = torch.Generator(device=device).manual_seed(8)
    for out in (dropout(x, p, generator=generator), F.dropout(x, p)):
        zero_fraction = (out == 0).double().mean().item()
        assert abs(zero_fraction - p) < hoeffding(N, 1.0)
        assert abs(out.double().mean().item() - 2.0) < hoeffding(N, 2.0 / (1 - p))
        survivors = out[out != 0]
        assert torch.equal(survivors, torch.full_like(survivors, 2.0) / (1 - p))


def test_dropout_module_follows_train_and_eval(device):
    layer = Dropout(p=0.5).to(device)
    x = torch.ones(10_000, device=device)
    assert (layer(x) == 0).any()
    layer.eval()
    assert layer(x) is x
    model = nn.Sequential(nn.Linear(3, 3), Dropout(0.5)).to(device)
    assert model.eval()[1].training is False and model.train()[1].training is True



@pytest.mark.parametrize("lambd", [0.0, 0.375, 1.0, 2.5])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_soft_threshold_equals_softshrink_values_and_gradient(device, dtype, lambd):
    """Values and gradients identical to torch's softshrink, including entries exactly at the
    threshold (value 0, gradient 0) and infinities; nan stays nan (torch's gradient at nan
    differs between its vectorized and scalar kernels, so it is not compared). The thresholds
    are exact in every dtype: torch's half-precision backward compares |x| with lambda rounded
    to half, its forward with lambda in float32. The input is left unchanged."""
    g = torch.Generator().manual_seed(9)
    x = (2 * torch.randn(4, 257, generator=g)).to(device=device, dtype=dtype)
    x[0, :4] = torch.tensor([lambd, -lambd, float("inf"), float("nan")])
    ours_in, torch_in = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours, theirs = soft_threshold(ours_in, lambd), F.softshrink(torch_in, lambd)
    assert ours.dtype == dtype
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(ours_in.detach(), x, rtol=0, atol=0, equal_nan=True)
    upstream = torch.randn(x.shape, generator=g).to(device=device, dtype=dtype)
    ours.backward(upstream)
    theirs.backward(upstream)
    compared = ~x.isnan()
    assert torch.equal(ours_in.grad[compared], torch_in.grad[compared])
    assert (ours_in.grad[x.abs() <= lambd] == 0).all()


def test_soft_threshold_is_the_formula_and_the_proximal_step_of_l1():
    """sign(x) max(|x| - lambda, 0), and the minimizer of (theta - x)^2 / 2 + lambda |theta|,
    found by brute force on a fine grid of theta."""
    x = torch.linspace(-3, 3, 61, dtype=torch.float64)
    lambd = 0.8
    expected = x.sign() * (x.abs() - lambd).clamp(min=0)
    assert torch.equal(soft_threshold(x, lambd), expected)
    assert (soft_threshold(x, lambd) == 0).sum().item() == (x.abs() <= lambd).sum().item() == 17
    theta = torch.linspace(-4, 4, 80_001, dtype=torch.float64)
    objective = (theta - x[:, None]).pow(2) / 2 + lambd * theta.abs()
    minimizer = theta[objective.argmin(dim=1)]
    torch.testing.assert_close(minimizer, expected, rtol=0, atol=1e-4)


def test_ista_with_soft_threshold_finds_exact_zeros_that_subgradient_sgd_misses():
    """On a least-squares problem whose first two coefficients are 0, proximal gradient steps
    reach the lasso solution with exact zeros; the same number of subgradient steps on
    loss + l1_penalty leaves every coefficient non-zero."""
    g = torch.Generator().manual_seed(10)
    x = torch.randn(200, 6, generator=g, dtype=torch.float64)
    y = x @ torch.tensor([0.0, 0.0, 0.5, -1.0, 2.0, 0.3], dtype=torch.float64)
    y = y + 0.1 * torch.randn(200, generator=g, dtype=torch.float64)
    lambd, lr = 0.1, 0.1
    prox = torch.zeros(6, dtype=torch.float64)
    subgradient = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    for _ in range(500):
        prox = soft_threshold(prox - lr * x.T @ (x @ prox - y) / len(x), lr * lambd)
        loss = (x @ subgradient - y).pow(2).mean() / 2 + l1_penalty(subgradient, lambd)
        (grad,) = torch.autograd.grad(loss, subgradient)
        with torch.no_grad():
            subgradient -= lr * grad
    assert (prox[:2] == 0).all() and (prox[2:] != 0).all()
    assert (subgradient != 0).all()
    # The lasso's optimality conditions: |gradient| <= lambda at zeros, = lambda elsewhere.
    grad = x.T @ (x @ prox - y) / len(x)
    assert (grad[:2].abs() <= lambd).all()
    torch.testing.assert_close(grad[2:], -lambd * prox[2:].sign(), rtol=0, atol=1e-9)


@pytest.mark.parametrize("lambd", [-0.1, float("nan"), float("inf")])
def test_soft_threshold_rejects_lambdas_like_softshrink(lambd):
    x = torch.randn(3)
    with pytest.raises(RuntimeError, match=r"lambda must be in range \[0, "):
        soft_threshold(x, lambd)
    with pytest.raises(RuntimeError, match=r"lambda must be in range \[0, "):
        F.softshrink(x, lambd)


def test_soft_threshold_rejects_half_precision_overflow_and_integers_like_softshrink():
    half = torch.randn(3, dtype=torch.float16)
    for fn in (soft_threshold, F.softshrink):
        with pytest.raises(RuntimeError, match="lambda must be in range"):
            fn(half, 1e6)
        with pytest.raises(NotImplementedError, match="not implemented for"):
            fn(torch.tensor([1, 2]), 0.5)
