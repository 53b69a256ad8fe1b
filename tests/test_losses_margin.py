"""Margin and embedding losses against torch.nn.functional."""

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


def _randn(shape, dtype, device, seed):
    return torch.randn(shape, generator=generator(seed, len(shape)), dtype=dtype).to(device)


def _signs(shape, device, dtype, seed, values=(-1.0, 1.0)):
    index = torch.randint(len(values), shape, generator=generator(seed, 11))
    return torch.tensor(values, dtype=dtype)[index].to(device)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
@pytest.mark.parametrize("shape", [(), (9,), (3, 4)], ids=str)
def test_margin_ranking_loss_is_exact(device, dtype, reduction, margin, shape):
    x1, x2 = _randn(shape, dtype, device, 1), _randn(shape, dtype, device, 2)
    args = (x1, x2, _signs(shape, device, dtype, 3))
    kwargs = {"margin": margin, "reduction": reduction}
    assert_same_as_torch(
        losses.margin_ranking_loss, F.margin_ranking_loss, args, kwargs, grad=(0, 1, 2), tol=EXACT
    )


def test_margin_ranking_loss_broadcasting_pitfall(device):
    """SYLLABUS L8: the loss is elementwise. Shapes (n,) against (n, 1) are refused (torch
    checks the number of dimensions); (n, 1) against (1, n) broadcast to an n x n matrix of
    every pair, in torch as here -- the "n*n loss matrix" of note 000 is this accident."""
    n = 4
    x1, x2 = _randn((n,), torch.float64, device, 1), _randn((n,), torch.float64, device, 2)
    y = torch.ones(n, dtype=torch.float64, device=device)
    assert losses.margin_ranking_loss(x1, x2, y, reduction="none").shape == (n,)
    assert_raises_like_torch(
        losses.margin_ranking_loss, F.margin_ranking_loss, x1, x2.view(n, 1), y,
        match="same dimension",
    )
    args = (x1.view(n, 1), x2.view(1, n), y.view(1, n))
    ours, _ = assert_same_as_torch(
        losses.margin_ranking_loss, F.margin_ranking_loss, args, {"reduction": "none"}, grad=(0, 1)
    )
    assert ours.shape == (n, n)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("shape", [(), (9,), (3, 4)], ids=str)
def test_hinge_embedding_loss_is_exact(device, dtype, reduction, margin, shape):
    distances = _randn(shape, dtype, device, 4).abs() * 2
    target = _signs(shape, device, dtype, 5, values=(-1.0, 1.0, 0.0))  # 0: both terms, as torch
    kwargs = {"margin": margin, "reduction": reduction}
    args = (distances, target)
    assert_same_as_torch(
        losses.hinge_embedding_loss, F.hinge_embedding_loss, args, kwargs, tol=EXACT
    )


def test_hinges_at_the_kink(device):
    """Exactly at the margin, torch's margin-ranking and hinge-embedding gradients are those
    of the active side (a clamp), its multi-margin gradient is 0 (a strict inequality); each
    loss here follows its torch counterpart."""
    x = torch.tensor([0.5, 1.0, 1.5], dtype=torch.float64, device=device)
    y = torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64, device=device)
    summed = {"reduction": "sum"}
    assert_same_as_torch(
        losses.margin_ranking_loss, F.margin_ranking_loss, (x, x, y), summed, grad=(0, 1)
    )
    kwargs = {"margin": 1.0, "reduction": "sum"}
    assert_same_as_torch(losses.hinge_embedding_loss, F.hinge_embedding_loss, (x, y), kwargs)
    scores = torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64, device=device)
    target = torch.tensor([1], device=device)
    assert_same_as_torch(losses.multi_margin_loss, F.multi_margin_loss, (scores, target), summed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(), (9,), (3, 4)], ids=str)
def test_soft_margin_loss(device, dtype, reduction, shape):
    args = (_randn(shape, dtype, device, 6) * 3, _signs(shape, device, dtype, 7))
    kwargs = {"reduction": reduction}
    assert_same_as_torch(losses.soft_margin_loss, F.soft_margin_loss, args, kwargs)


def test_soft_margin_loss_is_stable_where_torch_overflows(device):
    """Deviation: torch evaluates log(1 + exp(-y x)) directly, which is inf once -y x > 88
    in float32; here it is -log(sigmoid(y x)) evaluated stably, so the loss is -y x."""
    x = torch.tensor([100.0, -100.0], device=device)
    y = torch.tensor([-1.0, 1.0], device=device)
    assert torch.isinf(F.soft_margin_loss(x, y, reduction="none")).all()
    ours = losses.soft_margin_loss(x, y, reduction="none")
    torch.testing.assert_close(ours, torch.tensor([100.0, 100.0], device=device))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("shape", [(5,), (4, 5), (2, 3, 5)], ids=str)
def test_multilabel_soft_margin_loss(device, dtype, reduction, weighted, shape):
    target = torch.rand(shape, generator=generator(8), dtype=dtype).round().to(device)
    weight = (torch.rand(5, generator=generator(9), dtype=dtype) + 0.1).to(device)
    args = (_randn(shape, dtype, device, 8) * 3, target)
    kwargs = {"weight": weight if weighted else None, "reduction": reduction}
    assert_same_as_torch(
        losses.multilabel_soft_margin_loss, F.multilabel_soft_margin_loss, args, kwargs, grad=(0, 1)
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [0.5, 1.0])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
def test_multi_margin_loss(device, dtype, reduction, p, margin, weighted, batched):
    scores = _randn((6, 5) if batched else (5,), dtype, device, 10)
    target = torch.randint(5, (6,) if batched else (), generator=generator(10)).to(device)
    weight = (torch.rand(5, generator=generator(11), dtype=dtype) + 0.1).to(device)
    kwargs = {"p": p, "margin": margin, "weight": weight if weighted else None}
    kwargs["reduction"] = reduction
    assert_same_as_torch(losses.multi_margin_loss, F.multi_margin_loss, (scores, target), kwargs)


MULTILABEL_TARGETS = {
    "some labels": [[3, 0, -1, 1, 2], [1, -1, 2, 2, 2], [4, 3, -1, 1, 1]],
    "all labels": [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 1, 4, 3]],
    "no labels": [[-1, 0, 0, 0, 0], [-1, -1, -1, -1, -1], [-1, 3, 2, 1, 0]],
    "repeated labels": [[2, 2, -1, 0, 0], [1, 1, 1, 1, 1], [0, 4, 0, -1, 3]],
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("targets", list(MULTILABEL_TARGETS))
def test_multilabel_margin_loss(device, dtype, reduction, targets):
    scores = _randn((3, 5), dtype, device, 12)
    target = torch.tensor(MULTILABEL_TARGETS[targets], device=device)
    kwargs = {"reduction": reduction}
    for args in [(scores, target), (scores[0], target[0])]:  # batched and unbatched
        assert_same_as_torch(losses.multilabel_margin_loss, F.multilabel_margin_loss, args, kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [-0.5, 0.0, 0.5])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
def test_cosine_embedding_loss(device, dtype, reduction, margin, batched):
    shape = (6, 4) if batched else (4,)
    target = _signs(shape[:-1], device, dtype, 13)
    args = (_randn(shape, dtype, device, 14), _randn(shape, dtype, device, 15), target)
    kwargs = {"margin": margin, "reduction": reduction}
    assert_same_as_torch(
        losses.cosine_embedding_loss, F.cosine_embedding_loss, args, kwargs, grad=(0, 1)
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("eps", [1e-6, 0.1])
@pytest.mark.parametrize("swap", [False, True], ids=["no-swap", "swap"])
@pytest.mark.parametrize("shape", [(5,), (6, 5), (2, 3, 5)], ids=str)
def test_triplet_margin_loss(device, dtype, reduction, p, eps, swap, shape):
    args = tuple(_randn(shape, dtype, device, seed) for seed in (16, 17, 18))
    kwargs = {"margin": 0.7, "p": p, "eps": eps, "swap": swap, "reduction": reduction}
    assert_same_as_torch(
        losses.triplet_margin_loss, F.triplet_margin_loss, args, kwargs, grad=(0, 1, 2)
    )


def _cosine_distance(x1, x2):
    return 1 - (x1 * x2).sum(-1) / (x1.norm(dim=-1) * x2.norm(dim=-1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("distance", [None, _cosine_distance], ids=["default", "cosine"])
@pytest.mark.parametrize("swap", [False, True], ids=["no-swap", "swap"])
@pytest.mark.parametrize("margin", [0.3, 2.0])
def test_triplet_margin_with_distance_loss(device, dtype, reduction, distance, swap, margin):
    args = tuple(_randn((6, 5), dtype, device, seed) for seed in (19, 20, 21))
    kwargs = {"distance_function": distance, "margin": margin, "swap": swap, "reduction": reduction}
    assert_same_as_torch(
        losses.triplet_margin_with_distance_loss, F.triplet_margin_with_distance_loss,
        args, kwargs, grad=(0, 1, 2),
    )


x35, labels3 = torch.randn(3, 5), torch.tensor([0, 1, 1])
long2 = torch.zeros(2, dtype=torch.long)
BAD_MARGIN_INPUTS = {
    "multi_margin p=3": ("multi_margin_loss", (x35, labels3), {"p": 3}),
    "multi_margin 2-D weight": ("multi_margin_loss", (x35, labels3), {"weight": torch.ones(5, 1)}),
    "multi_margin weight size": ("multi_margin_loss", (x35, labels3), {"weight": torch.ones(4)}),
    "multi_margin target out of range": ("multi_margin_loss", (x35, torch.tensor([0, 5, 1])), {}),
    "multi_margin float target": ("multi_margin_loss", (x35, labels3.float()), {}),
    "multi_margin target size": ("multi_margin_loss", (x35, labels3[:2]), {}),
    "multi_margin 3-D input": ("multi_margin_loss", (torch.rand(2, 3, 4), long2), {}),
    "multilabel_margin target shape": ("multilabel_margin_loss", (x35, torch.full((3, 4), -1)), {}),
    "multilabel_margin out of range": ("multilabel_margin_loss", (x35, torch.full((3, 5), 7)), {}),
    "multilabel_margin float target": ("multilabel_margin_loss", (x35, -torch.ones(3, 5)), {}),
    "cosine 2-D target": ("cosine_embedding_loss", (x35, x35, torch.ones(3, 1)), {}),
    "cosine input dims": ("cosine_embedding_loss", (x35[0], x35[1], torch.ones(3)), {}),
    "triplet margin 0": ("triplet_margin_loss", (x35, x35, x35), {"margin": 0.0}),
    "triplet dims": ("triplet_margin_loss", (x35, x35, torch.rand(5)), {}),
    "triplet with distance margin": (
        "triplet_margin_with_distance_loss", (x35, x35, x35), {"margin": -1.0}
    ),
    "triplet with distance dims": (
        "triplet_margin_with_distance_loss", (x35, x35, torch.rand(5)), {}
    ),
}


@pytest.mark.parametrize("case", list(BAD_MARGIN_INPUTS))
def test_bad_margin_input_raises_like_torch(case):
    loss_name, args, kwargs = BAD_MARGIN_INPUTS[case]
    assert_raises_like_torch(getattr(losses, loss_name), getattr(F, loss_name), *args, **kwargs)
