"""cross_entropy, nll_loss, binary_cross_entropy(_with_logits) against torch.nn.functional."""

import pytest
import torch
import torch.nn.functional as F

from course_lib import losses
from tests.test_losses_common import (
    DTYPES,
    REDUCTIONS,
    assert_raises_like_torch,
    assert_same_as_torch,
    generator,
)

# (input shape, target shape): batched, spatial (N, C, d1, d2), unbatched (C,)
CLASS_SHAPES = {
    "batch": ((7, 5), (7,)),
    "spatial": ((3, 4, 2, 3), (3, 2, 3)),
    "unbatched": ((5,), ()),
}


def _class_case(shape_name, dtype, device, *, ignore, seed=0):
    """Logits, class targets (some equal to -100 when ``ignore``) and class weights."""
    g = generator(seed, len(shape_name), ignore)
    input_shape, target_shape = CLASS_SHAPES[shape_name]
    num_classes = input_shape[0] if len(input_shape) == 1 else input_shape[1]
    logits = torch.randn(input_shape, generator=g, dtype=dtype) * 3
    target = torch.randint(num_classes, target_shape, generator=g)
    if ignore and target.dim() > 0:
        target.view(-1)[::3] = -100
    weight = torch.rand(num_classes, generator=g, dtype=dtype) + 0.1
    return logits.to(device), target.to(device), weight.to(device)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("ignore", [False, True], ids=["all", "ignore"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
@pytest.mark.parametrize("shape", list(CLASS_SHAPES))
def test_cross_entropy_class_targets(
    device, dtype, reduction, weighted, ignore, label_smoothing, shape
):
    logits, target, weight = _class_case(shape, dtype, device, ignore=ignore)
    kwargs = {"reduction": reduction, "label_smoothing": label_smoothing}
    kwargs["weight"] = weight if weighted else None
    assert_same_as_torch(losses.cross_entropy, F.cross_entropy, (logits, target), kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
@pytest.mark.parametrize("shape", list(CLASS_SHAPES))
def test_cross_entropy_probability_targets(
    device, dtype, reduction, weighted, label_smoothing, shape
):
    logits, _, weight = _class_case(shape, dtype, device, ignore=False)
    probs = torch.rand(logits.shape, generator=generator(1), dtype=dtype).to(device)
    probs = probs / probs.sum(dim=0 if logits.dim() == 1 else 1, keepdim=True)
    kwargs = {"reduction": reduction, "label_smoothing": label_smoothing}
    kwargs["weight"] = weight if weighted else None
    args = (logits, probs)
    assert_same_as_torch(losses.cross_entropy, F.cross_entropy, args, kwargs, grad=(0, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("ignore", [False, True], ids=["all", "ignore"])
@pytest.mark.parametrize("shape", list(CLASS_SHAPES))
def test_nll_loss(device, dtype, reduction, weighted, ignore, shape):
    logits, target, weight = _class_case(shape, dtype, device, ignore=ignore)
    log_q = torch.log_softmax(logits, dim=0 if logits.dim() == 1 else 1)
    kwargs = {"reduction": reduction, "weight": weight if weighted else None}
    assert_same_as_torch(losses.nll_loss, F.nll_loss, (log_q, target), kwargs)


@pytest.mark.parametrize("seed", range(12))
def test_cross_entropy_random_shapes_and_options(device, seed):
    g = generator(seed, 99)
    batch, classes = torch.randint(1, 9, (2,), generator=g).tolist()
    spatial_dims = int(torch.randint(0, 3, (), generator=g))
    spatial = torch.randint(1, 4, (spatial_dims,), generator=g).tolist()
    logits = torch.randn([batch, classes, *spatial], generator=g, dtype=torch.float64) * 5
    target = torch.randint(classes, [batch, *spatial], generator=g)
    ignore_index = int(torch.randint(-1, classes, (), generator=g))
    kwargs = {
        "weight": torch.rand(classes, generator=g, dtype=torch.float64) if seed % 2 else None,
        "ignore_index": ignore_index,
        "reduction": REDUCTIONS[seed % 3],
        "label_smoothing": float(torch.rand((), generator=g)) * (seed % 4 > 1),
    }
    args = (logits.to(device), target.to(device))
    assert_same_as_torch(losses.cross_entropy, F.cross_entropy, args, kwargs)
    del kwargs["label_smoothing"]
    assert_same_as_torch(losses.nll_loss, F.nll_loss, args, kwargs)


@pytest.mark.parametrize("loss_name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_every_target_ignored(device, loss_name, reduction, weighted):
    logits, target, weight = _class_case("batch", torch.float64, device, ignore=False)
    target = torch.full_like(target, 2)
    kwargs = {"reduction": reduction, "ignore_index": 2, "weight": weight if weighted else None}
    ours, _ = assert_same_as_torch(
        getattr(losses, loss_name), getattr(F, loss_name), (logits, target), kwargs
    )
    if reduction == "mean":
        assert ours.isnan()
    else:
        assert (ours == 0).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_zero_class_weights(device, reduction):
    logits, target, weight = _class_case("batch", torch.float64, device, ignore=False)
    weight[target[0]] = 0.0
    for w in (weight, torch.zeros_like(weight)):
        for loss_name in ("cross_entropy", "nll_loss"):
            args, kwargs = (logits, target), {"reduction": reduction, "weight": w}
            assert_same_as_torch(getattr(losses, loss_name), getattr(F, loss_name), args, kwargs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_empty_batch(device, reduction):
    logits = torch.zeros(0, 4, dtype=torch.float64, device=device)
    labels = torch.zeros(0, dtype=torch.long, device=device)
    probs = torch.zeros(0, 4, dtype=torch.float64, device=device)
    for target in (labels, probs):
        args, kwargs = (logits, target), {"reduction": reduction}
        assert_same_as_torch(losses.cross_entropy, F.cross_entropy, args, kwargs)


@pytest.mark.parametrize("scale", [1e2, 1e4])
def test_cross_entropy_extreme_logits(device, scale):
    logits = torch.tensor([[1.0, -1.0, 0.0], [-1.0, -1.0, 1.0], [0.0, 0.0, 0.0]])
    args = ((logits.double() * scale).to(device), torch.tensor([1, 0, 2], device=device))
    kwargs = {"reduction": "none"}
    ours, _ = assert_same_as_torch(losses.cross_entropy, F.cross_entropy, args, kwargs)
    assert ours.isfinite().all()


def test_cross_entropy_is_nll_of_log_softmax(device):
    """SYLLABUS L3: CrossEntropyLoss = LogSoftmax + NLLLoss, on note 003's example."""
    logits = torch.tensor([[1.5, 2.0, 0.5], [0.5, 1.0, 1.5]], device=device)
    target = torch.tensor([1, 2], device=device)
    by_hand = losses.nll_loss(logits - logits.logsumexp(dim=1, keepdim=True), target)
    torch.testing.assert_close(losses.cross_entropy(logits, target), by_hand)
    assert round(by_hand.item(), 4) == 0.6422


def test_cross_entropy_uint8_targets(device):
    logits, target, _ = _class_case("batch", torch.float64, device, ignore=False)
    assert_same_as_torch(losses.cross_entropy, F.cross_entropy, (logits, target.to(torch.uint8)))


def _bce_case(dtype, device, shape=(6, 4), seed=0):
    g = generator(seed, 7)
    probs = torch.rand(shape, generator=g, dtype=dtype) * 0.98 + 0.01
    target = torch.rand(shape, generator=g, dtype=dtype)
    logits = torch.randn(shape, generator=g, dtype=dtype) * 4
    return probs.to(device), target.to(device), logits.to(device)


WEIGHT_SHAPES = {"none": None, "per-class": (4,), "full": (6, 4)}


def _weight(name, dtype, device):
    shape = WEIGHT_SHAPES[name]
    if shape is None:
        return None
    return torch.rand(shape, generator=generator(3), dtype=dtype).to(device)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", list(WEIGHT_SHAPES))
def test_binary_cross_entropy(device, dtype, reduction, weight_shape):
    probs, target, _ = _bce_case(dtype, device)
    kwargs = {"reduction": reduction, "weight": _weight(weight_shape, dtype, device)}
    assert_same_as_torch(
        losses.binary_cross_entropy, F.binary_cross_entropy, (probs, target), kwargs, grad=(0, 1)
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", list(WEIGHT_SHAPES))
@pytest.mark.parametrize("pos_weight", [False, True], ids=["no-pos-weight", "pos-weight"])
def test_binary_cross_entropy_with_logits(device, dtype, reduction, weight_shape, pos_weight):
    _, target, logits = _bce_case(dtype, device)
    pos = (torch.rand(4, generator=generator(4), dtype=dtype) * 3).to(device)
    kwargs = {"reduction": reduction, "weight": _weight(weight_shape, dtype, device)}
    kwargs["pos_weight"] = pos if pos_weight else None
    assert_same_as_torch(
        losses.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits,
        (logits, target), kwargs, grad=(0, 1),
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("magnitude", [100.0, 1e4])
@pytest.mark.parametrize("pos_weight", [None, 2.5])
def test_binary_cross_entropy_with_logits_extreme_logits(device, dtype, magnitude, pos_weight):
    logits = torch.tensor([magnitude, -magnitude, 0.0] * 3, dtype=dtype, device=device)
    target = torch.tensor([0.0] * 3 + [0.3] * 3 + [1.0] * 3, dtype=dtype, device=device)
    kwargs = {"reduction": "none"}
    if pos_weight is not None:
        kwargs["pos_weight"] = torch.tensor(pos_weight, dtype=dtype, device=device)
    ours, _ = assert_same_as_torch(
        losses.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits,
        (logits, target), kwargs, grad=(0, 1),
    )
    assert ours.isfinite().all()
    loss = losses.binary_cross_entropy_with_logits(logits.requires_grad_(), target, reduction="sum")
    grad, = torch.autograd.grad(loss, logits)
    torch.testing.assert_close(grad, torch.sigmoid(logits) - target)  # sigma(z) - y, any magnitude


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_at_zero_and_one(device, dtype):
    """Probabilities exactly 0 or 1: the clamped value (100 per confident mistake) equals
    torch's; the gradient is the derivative of the clamped formula, finite, where torch's
    hand-written backward divides by max(x(1 - x), 1e-12) instead."""
    def tensor(*values):
        return torch.tensor(values, dtype=dtype, device=device)

    probs = tensor(0.0, 0.0, 1.0, 1.0, 0.0, 1.0).requires_grad_()
    target = tensor(0.0, 1.0, 0.0, 1.0, 0.5, 0.5)
    ours = losses.binary_cross_entropy(probs, target, reduction="none")
    torch.testing.assert_close(ours, F.binary_cross_entropy(probs, target, reduction="none"))
    torch.testing.assert_close(ours.detach(), tensor(0, 100, 100, 0, 50, 50))
    grad, = torch.autograd.grad(ours.sum(), probs)
    # d/dx of -(y max(log x, -100) + (1 - y) max(log(1 - x), -100)): only unclamped logs count
    torch.testing.assert_close(grad, tensor(1.0, 0.0, 0.0, -1.0, 0.5, -0.5))


# Bad input: the same exception class as torch, and a message that says what to fix.
x35, labels3 = torch.randn(3, 5), torch.tensor([0, 1, 1])
BAD_CLASS_INPUTS = {
    "index out of range": (x35, torch.tensor([0, 5, 1]), {}, "out of bounds"),
    "negative index": (x35, torch.tensor([0, -1, 1]), {}, "out of bounds"),
    "float class target": (x35, labels3.float(), {}, "target.long"),
    "int32 class target": (x35, labels3.int(), {}, "target.long"),
    "batch mismatch": (x35, labels3[:2], {}, "batch_size"),
    "spatial mismatch": (torch.randn(2, 5, 3), torch.zeros(2, 4, dtype=torch.long), {}, "size"),
    "2-D target": (x35, labels3.view(3, 1), {}, "multi-target"),
    "weight size": (x35, labels3, {"weight": torch.ones(4)}, "weight"),
}


@pytest.mark.parametrize("case", list(BAD_CLASS_INPUTS))
@pytest.mark.parametrize("loss_name", ["cross_entropy", "nll_loss"])
def test_bad_class_input_raises_like_torch(loss_name, case):
    input, target, kwargs, match = BAD_CLASS_INPUTS[case]
    assert_raises_like_torch(
        getattr(losses, loss_name), getattr(F, loss_name), input, target, match=match, **kwargs
    )


BAD_CROSS_ENTROPY_INPUTS = {
    "probability target of integers": (x35, torch.zeros(3, 5, dtype=torch.long), {}),
    "ignore_index with probabilities": (x35, torch.rand(3, 5), {"ignore_index": 1}),
    "weight size with probabilities": (x35, torch.rand(3, 5), {"weight": torch.ones(4)}),
    "label smoothing above 1": (x35, labels3, {"label_smoothing": 1.5}),
}


@pytest.mark.parametrize("case", list(BAD_CROSS_ENTROPY_INPUTS))
def test_bad_cross_entropy_input_raises_like_torch(case):
    input, target, kwargs = BAD_CROSS_ENTROPY_INPUTS[case]
    assert_raises_like_torch(losses.cross_entropy, F.cross_entropy, input, target, **kwargs)


def test_nll_loss_of_a_scalar_raises_like_torch():
    assert_raises_like_torch(
        losses.nll_loss, F.nll_loss, torch.tensor(1.0), torch.tensor(0), match="dimensions"
    )


BAD_BCE_INPUTS = {
    "above one": (torch.tensor([0.5, 1.5]), torch.tensor([1.0, 0.0]), {}, "between 0 and 1"),
    "below zero": (torch.tensor([-0.1, 0.5]), torch.tensor([1.0, 0.0]), {}, "between 0 and 1"),
    "nan": (torch.tensor([float("nan"), 0.5]), torch.tensor([1.0, 0.0]), {}, "between 0 and 1"),
    "shape mismatch": (torch.rand(3), torch.rand(3, 1), {}, "same size"),
    "integer target": (torch.rand(3), torch.tensor([0, 1, 1]), {}, "dtype"),
    "double target": (torch.rand(3), torch.rand(3, dtype=torch.float64), {}, "dtype"),
    "weight not broadcastable": (
        torch.rand(3, 2), torch.rand(3, 2), {"weight": torch.rand(3)}, None
    ),
}


@pytest.mark.parametrize("case", list(BAD_BCE_INPUTS))
def test_bad_binary_cross_entropy_input_raises_like_torch(case):
    input, target, kwargs, match = BAD_BCE_INPUTS[case]
    assert_raises_like_torch(
        losses.binary_cross_entropy, F.binary_cross_entropy, input, target, match=match, **kwargs
    )


BAD_BCE_LOGITS_INPUTS = {
    "shape mismatch": (torch.rand(3), torch.rand(3, 1), {}, "same as input size"),
    "integer target": (torch.rand(3), torch.tensor([0, 1, 1]), {}, "floating point target"),
    "pos_weight not broadcastable": (
        torch.rand(3, 2), torch.rand(3, 2), {"pos_weight": torch.rand(3)}, None
    ),
    "weight larger than input": (
        torch.rand(3, 2), torch.rand(3, 2), {"weight": torch.rand(4, 3, 2)}, None
    ),
}


@pytest.mark.parametrize("case", list(BAD_BCE_LOGITS_INPUTS))
def test_bad_binary_cross_entropy_with_logits_input_raises_like_torch(case):
    input, target, kwargs, match = BAD_BCE_LOGITS_INPUTS[case]
    assert_raises_like_torch(
        losses.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits,
        input, target, match=match, **kwargs,
    )


# (shape, dim) for log_softmax: 0-D, unbatched, batched along either dim, negative dims, 3-D
LOG_SOFTMAX_CASES = [
    ((), 0), ((), -1), ((5,), 0), ((4, 7), 1), ((4, 7), 0), ((4, 7), -1), ((2, 3, 4), 1),
    ((2, 3, 4), -3), ((2, 1, 4), 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dim", LOG_SOFTMAX_CASES)
def test_log_softmax(device, dtype, shape, dim):
    logits = (torch.randn(shape, generator=generator(len(shape), dim), dtype=dtype) * 3).to(device)
    assert_same_as_torch(losses.log_softmax, F.log_softmax, (logits, dim))


@pytest.mark.parametrize(
    "input_dtype, dtype",
    [(torch.float64, torch.float32), (torch.float32, torch.float64), (torch.float16, torch.float32)],
)
def test_log_softmax_dtype_casts_first(device, input_dtype, dtype):
    logits = (torch.randn(3, 6, generator=generator(7)) * 4).to(device, input_dtype)
    ours, _ = assert_same_as_torch(
        losses.log_softmax, F.log_softmax, (logits, 1), {"dtype": dtype}
    )
    assert ours.dtype == dtype


def test_log_softmax_of_integers_with_a_float_dtype(device):
    counts = torch.tensor([[3, 0, 1], [2, 2, 9]], device=device)
    ours = losses.log_softmax(counts, 1, dtype=torch.float64)
    theirs = F.log_softmax(counts, 1, dtype=torch.float64)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1e3, 1e5, 1e30])
def test_log_softmax_extreme_logits(device, dtype, scale):
    """Logits spread over many times the range of exp: exact where the unshifted formula
    log(exp(z) / sum exp(z)) gives nan or -inf."""
    logits = (torch.randn(6, 10, generator=generator(11), dtype=dtype) * scale).to(device)
    ours, theirs = assert_same_as_torch(losses.log_softmax, F.log_softmax, (logits, 1))
    assert ours.isfinite().all()
    naive = torch.log(torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True))
    assert not naive.isfinite().all(), "the case must be one the unshifted formula gets wrong"


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_non_finite_logits(device, dtype):
    """A masked class (-inf) gets log-probability -inf and gradient 0 for its softmax share;
    rows with +inf, nan or only -inf are nan, as in torch."""
    inf, nan = float("inf"), float("nan")
    logits = torch.tensor(
        [[-inf, 0.0, 1.0], [inf, 0.0, 1.0], [nan, 0.0, 1.0], [-inf, -inf, -inf]], dtype=dtype
    ).to(device)
    ours, _ = assert_same_as_torch(losses.log_softmax, F.log_softmax, (logits, 1), grad=())
    assert ours[0, 0] == -inf and ours[1:].isnan().all()
    masked = logits[:1]
    assert_same_as_torch(losses.log_softmax, F.log_softmax, (masked, 1))


def test_log_softmax_second_derivative():
    logits = torch.randn(3, 5, generator=generator(5), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda z: losses.log_softmax(z, 1), (logits,))


@pytest.mark.parametrize("shape, dim", [((0, 4), 1), ((3, 0), 1), ((0,), 0)])
def test_log_softmax_empty(device, shape, dim):
    empty = torch.empty(shape, device=device)
    ours, theirs = losses.log_softmax(empty, dim), F.log_softmax(empty, dim)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype


@pytest.mark.parametrize("shape", [(), (5,), (4, 5), (2, 3, 4), (2, 3, 4, 5)])
def test_log_softmax_implicit_dim_warns_and_picks_torchs(shape):
    logits = torch.randn(shape, generator=generator(len(shape)))
    with pytest.warns(UserWarning, match="Implicit dimension choice") as theirs_warnings:
        theirs = F.log_softmax(logits)
    with pytest.warns(UserWarning, match="Implicit dimension choice") as ours_warnings:
        ours = losses.log_softmax(logits)
    torch.testing.assert_close(ours, theirs)
    assert ours_warnings[0].filename == theirs_warnings[0].filename == __file__


BAD_LOG_SOFTMAX_INPUTS = {
    "dim out of range": ((torch.randn(3, 4), 2), {}, "Dimension out of range"),
    "negative dim out of range": ((torch.randn(3, 4), -3), {}, "Dimension out of range"),
    "dim 1 of a 0-D tensor": ((torch.tensor(2.0), 1), {}, "Dimension out of range"),
    "string dim": ((torch.randn(3), "0"), {}, "must be int"),
    "float dim": ((torch.randn(3), 0.0), {}, "must be int"),
    "bool dim": ((torch.randn(3), True), {}, "must be int"),
    "integer input": ((torch.tensor([1, 2]), 0), {}, "not implemented"),
    "integer dtype": ((torch.randn(3), 0), {"dtype": torch.int64}, "not implemented"),
    "dtype not a dtype": ((torch.randn(3), 0), {"dtype": "float32"}, "must be torch.dtype"),
    "integer input, dim out of range": ((torch.tensor([1, 2]), 3), {}, "Dimension out of"),
}


@pytest.mark.parametrize("case", list(BAD_LOG_SOFTMAX_INPUTS))
def test_bad_log_softmax_input_raises_like_torch(case):
    args, kwargs, match = BAD_LOG_SOFTMAX_INPUTS[case]
    assert_raises_like_torch(losses.log_softmax, F.log_softmax, *args, match=match, **kwargs)


def test_cross_entropy_is_nll_of_our_log_softmax(device):
    logits = (torch.randn(8, 5, generator=generator(3)) * 20).to(device)
    target = torch.randint(5, (8,), generator=generator(4)).to(device)
    via_log_softmax = losses.nll_loss(losses.log_softmax(logits, 1), target)
    torch.testing.assert_close(via_log_softmax, losses.cross_entropy(logits, target))
