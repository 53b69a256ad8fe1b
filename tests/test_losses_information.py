"""Information-theory helpers (against torch.distributions) and kl_div (against torch)."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Categorical, kl_divergence

from course_lib import losses
from tests.test_losses_common import (
    DTYPES,
    assert_raises_like_torch,
    assert_same_as_torch,
    generator,
)


def _distributions(dtype, device, shape=(4, 6), seed=0, zeros=False):
    g = generator(seed, int(zeros))
    p = torch.rand(shape, generator=g, dtype=dtype)
    q = torch.rand(shape, generator=g, dtype=dtype) + 0.05
    if zeros:
        p[..., ::3] = 0.0  # outcomes that p rules out: 0 log 0 = 0
    return (p / p.sum(-1, keepdim=True)).to(device), (q / q.sum(-1, keepdim=True)).to(device)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("zeros", [False, True], ids=["positive", "with-zeros"])
def test_entropy_matches_torch_distributions(device, dtype, zeros):
    p, _ = _distributions(dtype, device, zeros=zeros)
    torch.testing.assert_close(losses.entropy(p), Categorical(probs=p).entropy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("zeros", [False, True], ids=["positive", "with-zeros"])
def test_kl_divergence_matches_torch_distributions(device, dtype, zeros):
    p, q = _distributions(dtype, device, zeros=zeros)
    expected = kl_divergence(Categorical(probs=p), Categorical(probs=q))
    torch.testing.assert_close(losses.kl_divergence(p, q), expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("zeros", [False, True], ids=["positive", "with-zeros"])
def test_cross_entropy_of_distributions_is_the_soft_target_cross_entropy(device, dtype, zeros):
    """H(p, q) = -sum p log q, which F.cross_entropy computes from logits log q and target p;
    and H(p, q) = H(p) + KL(p || q), values and gradients."""
    p, q = _distributions(dtype, device, zeros=zeros)
    expected = F.cross_entropy(q.log(), p, reduction="none")
    torch.testing.assert_close(losses.cross_entropy_of_distributions(p, q), expected)
    assert_same_as_torch(
        losses.cross_entropy_of_distributions,
        lambda p, q: -(p * q.log()).sum(-1),
        (p, q),
        grad=(1,),
    )


def test_information_in_nats(device):
    fair_coin = torch.tensor([0.5, 0.5], dtype=torch.float64, device=device)
    certain = torch.tensor([1.0, 0.0], dtype=torch.float64, device=device)
    assert losses.entropy(fair_coin).item() == pytest.approx(math.log(2), rel=1e-15)
    assert losses.entropy(certain).item() == 0.0
    assert losses.self_information(torch.tensor(0.25)).item() == pytest.approx(math.log(4))
    assert losses.self_information(torch.tensor(0.0)).item() == math.inf
    assert losses.kl_divergence(fair_coin, fair_coin).item() == 0.0
    assert losses.kl_divergence(fair_coin, certain).item() == math.inf  # q rules out what p allows
    assert losses.kl_divergence(certain, fair_coin).item() == pytest.approx(math.log(2))


def test_entropy_is_expected_self_information(device):
    p, _ = _distributions(torch.float64, device)
    torch.testing.assert_close(losses.entropy(p), (p * losses.self_information(p)).sum(-1))


def test_gibbs_inequality(device):
    """Cross-entropy is never below the entropy; KL is never negative, 0 only at q = p."""
    p, q = _distributions(torch.float64, device, shape=(50, 5), seed=3)
    assert (losses.kl_divergence(p, q) > 0).all()
    assert (losses.cross_entropy_of_distributions(p, q) > losses.entropy(p)).all()
    zeros = torch.zeros(50, dtype=torch.float64, device=device)
    torch.testing.assert_close(losses.kl_divergence(p, p), zeros)


def test_dim_argument(device):
    p, q = _distributions(torch.float64, device, shape=(3, 4, 5))
    pt, qt = p.transpose(1, 2), q.transpose(1, 2)
    torch.testing.assert_close(losses.entropy(pt, dim=1), losses.entropy(p))
    torch.testing.assert_close(losses.kl_divergence(pt, qt, dim=1), losses.kl_divergence(p, q))


KL_REDUCTIONS = ["none", "sum", "mean", "batchmean"]


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", KL_REDUCTIONS)
@pytest.mark.parametrize("log_target", [False, True], ids=["target-probs", "log-target"])
@pytest.mark.parametrize("shape", [(), (6,), (4, 6), (2, 3, 6)], ids=str)
def test_kl_div(device, dtype, reduction, log_target, shape):
    p, q = _distributions(dtype, device, shape=shape, zeros=False) if shape else (
        torch.tensor(0.3, dtype=dtype, device=device), torch.tensor(0.6, dtype=dtype, device=device)
    )
    target = p.log() if log_target else p
    args, kwargs = (q.log(), target), {"reduction": reduction, "log_target": log_target}
    assert_same_as_torch(losses.kl_div, F.kl_div, args, kwargs, grad=(0, 1))


@pytest.mark.parametrize("reduction", ["none", "sum", "batchmean"])
def test_kl_div_with_zero_target_probabilities(device, reduction):
    """0 log 0 = 0 in the value; the gradient with respect to a zero target is nan in both."""
    p, q = _distributions(torch.float64, device, zeros=True)
    kwargs = {"reduction": reduction}
    assert_same_as_torch(losses.kl_div, F.kl_div, (q.log(), p), kwargs, grad=(0, 1))


def test_kl_div_batchmean_is_the_mean_kl_divergence(device):
    p, q = _distributions(torch.float64, device)
    loss = losses.kl_div(q.log(), p, reduction="batchmean")
    torch.testing.assert_close(loss, losses.kl_divergence(p, q).mean())


def test_kl_div_mean_warns_like_torch(device):
    p, q = _distributions(torch.float64, device)
    with pytest.warns(UserWarning, match="batchmean"):
        theirs = F.kl_div(q.log(), p)
    with pytest.warns(UserWarning, match="batchmean"):
        ours = losses.kl_div(q.log(), p)
    torch.testing.assert_close(ours, theirs)


def test_kl_div_integer_inputs_raise_like_torch():
    assert_raises_like_torch(
        losses.kl_div, F.kl_div, torch.rand(3), torch.ones(3, dtype=torch.long), reduction="sum"
    )
