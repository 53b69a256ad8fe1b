"""ctc_loss against torch.nn.functional.ctc_loss.

Gradients are compared with respect to the logits in front of a log-softmax, where torch's
and the exact gradient agree: torch's CTC backward returns, with respect to ``log_probs``,
the exact gradient plus exp(log_probs) * grad_output (it assumes a log-softmax in front and
folds part of its backward in), which ``test_torch_log_probs_gradient_convention`` pins down."""

import pytest
import torch
import torch.nn.functional as F

from course_lib import losses
from tests.test_losses_common import DTYPES, REDUCTIONS, assert_raises_like_torch, generator

TOLERANCES = {
    torch.float64: {"rtol": 1e-10, "atol": 1e-12},
    torch.float32: {"rtol": 1e-4, "atol": 1e-5},  # torch's float32 backward cancels large terms
}


def _ctc_case(dtype, device, *, blank=0, frames=12, batch=4, classes=5, longest=4, seed=0):
    """Logits (T, N, C), padded targets without blanks, input and target lengths; sample 0
    has the longest target with a repeated symbol, the last sample an empty target."""
    g = generator(seed, blank)
    logits = torch.randn(frames, batch, classes, generator=g, dtype=dtype) * 2
    targets = torch.randint(classes - 1, (batch, longest), generator=g)
    targets += (targets >= blank).long()  # never the blank
    targets[0, 1] = targets[0, 0]
    target_lengths = torch.randint(1, longest + 1, (batch,), generator=g)
    target_lengths[0], target_lengths[-1] = longest, 0
    input_lengths = torch.randint(min(2 * longest + 1, frames), frames + 1, (batch,), generator=g)
    input_lengths[0] = frames
    return tuple(t.to(device) for t in (logits, targets, input_lengths, target_lengths))


def _concatenated(targets, target_lengths):
    lengths = target_lengths.tolist()
    return torch.cat([row[:length] for row, length in zip(targets, lengths, strict=True)])


def _compare(logits, targets, input_lengths, target_lengths, **kwargs):
    """Values, and gradients with respect to the logits of a log-softmax, equal to torch's;
    gradients are compared on the samples whose loss is finite."""
    results = []
    for ctc_loss in (losses.ctc_loss, F.ctc_loss):
        leaf = logits.detach().clone().requires_grad_()
        loss = ctc_loss(leaf.log_softmax(-1), targets, input_lengths, target_lengths, **kwargs)
        upstream = torch.randn(loss.shape, generator=generator(7), dtype=loss.dtype).to(loss.device)
        if loss.dim():
            upstream = upstream * loss.isfinite()  # no gradient flows back through inf
        grad, = torch.autograd.grad(loss, leaf, upstream)
        results.append((loss, grad))
    (ours, ours_grad), (theirs, theirs_grad) = results
    tol = TOLERANCES[logits.dtype]
    torch.testing.assert_close(ours, theirs, **tol)
    log_probs = logits.log_softmax(-1)
    feasible = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, reduction="none")
    feasible = feasible.isfinite()
    if logits.dim() == 3:
        ours_grad, theirs_grad = ours_grad[:, feasible], theirs_grad[:, feasible]
    if feasible.any():
        torch.testing.assert_close(ours_grad, theirs_grad, **tol)
    return ours, theirs, results[0][1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("zero_infinity", [False, True], ids=["inf", "zero-inf"])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("blank", [0, 4])
def test_ctc_loss(device, dtype, reduction, zero_infinity, layout, blank):
    logits, targets, input_lengths, target_lengths = _ctc_case(dtype, device, blank=blank)
    if layout == "concatenated":
        targets = _concatenated(targets, target_lengths)
    kwargs = {"blank": blank, "reduction": reduction, "zero_infinity": zero_infinity}
    _compare(logits, targets, input_lengths, target_lengths, **kwargs)


@pytest.mark.parametrize("seed", range(6))
def test_ctc_loss_random_sizes(device, seed):
    g = generator(seed, 3)
    ranges = {"frames": (1, 30), "batch": (1, 6), "classes": (2, 8), "longest": (1, 10)}
    sizes = {name: int(torch.randint(*bounds, (), generator=g)) for name, bounds in ranges.items()}
    _compare(*_ctc_case(torch.float64, device, seed=seed, **sizes), reduction="none")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("zero_infinity", [False, True], ids=["inf", "zero-inf"])
def test_infeasible_alignments(device, dtype, zero_infinity):
    """A target needs S frames plus one per repeated neighbour; with fewer the loss is inf
    (or 0 under zero_infinity). Its gradient is 0 here; torch's is nan without
    zero_infinity (an infinite loss has no gradient), 0 with it."""
    logits, targets, _, target_lengths = _ctc_case(dtype, device)
    targets[1, :3] = torch.tensor([1, 1, 2])
    target_lengths[1] = 3
    input_lengths = torch.tensor([12, 3, 12, 1], device=device)  # sample 1 needs 4 frames
    target_lengths[3] = 2
    kwargs = {"reduction": "none", "zero_infinity": zero_infinity}
    ours, _, _ = _compare(logits, targets, input_lengths, target_lengths, **kwargs)
    expected = 0.0 if zero_infinity else float("inf")
    assert ours[1].item() == expected and ours[3].item() == expected
    leaf = logits.detach().clone().requires_grad_()
    total = losses.ctc_loss(leaf.log_softmax(-1), targets, input_lengths, target_lengths,
                            reduction="sum", zero_infinity=zero_infinity)
    grad, = torch.autograd.grad(total, leaf)
    assert grad.isfinite().all() and grad[:, [1, 3]].eq(0).all() and grad[:, 0].ne(0).any()
    if not zero_infinity:
        leaf = logits.detach().clone().requires_grad_()
        log_probs = leaf.log_softmax(-1)
        theirs = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, reduction="none")
        theirs_grad, = torch.autograd.grad(theirs[0], leaf)
        assert theirs_grad[:3, 1].isnan().all()  # the 3 frames sample 1 uses


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_empty_targets_and_empty_inputs(device, reduction):
    """Zero-length targets (all frames blank), and zero-length inputs (probability 1 for an
    empty target, 0 for any other)."""
    logits, targets, input_lengths, _ = _ctc_case(torch.float64, device)
    target_lengths = torch.tensor([0, 0, 2, 0], device=device)
    input_lengths[1:3] = 0
    kwargs = {"reduction": reduction, "zero_infinity": True}
    _compare(logits, targets, input_lengths, target_lengths, **kwargs)
    no_symbols = torch.zeros(0, dtype=torch.long, device=device)
    zero_lengths = torch.zeros(4, dtype=torch.long, device=device)
    _compare(logits, no_symbols, input_lengths, zero_lengths, reduction=reduction)


def test_unbatched_and_length_sequences(device):
    logits, targets, input_lengths, target_lengths = _ctc_case(torch.float64, device)
    for reduction in REDUCTIONS:
        _compare(logits[:, 0], targets[0], input_lengths[0], target_lengths[0], reduction=reduction)
    as_lists = (input_lengths.tolist(), tuple(target_lengths.tolist()))
    _compare(logits, targets, *as_lists, reduction="none")


def test_log_probs_with_impossible_symbols(device):
    """log_probs of -inf (a symbol ruled out at some frames): equal values, finite gradients
    (torch's are nan at those entries)."""
    logits, targets, input_lengths, target_lengths = _ctc_case(torch.float64, device)
    log_probs = logits.log_softmax(-1)
    log_probs[2:5, :, 3] = -torch.inf
    log_probs[7, 1, 0] = -torch.inf
    leaf = log_probs.detach().clone().requires_grad_()
    ours = losses.ctc_loss(leaf, targets, input_lengths, target_lengths, reduction="none")
    theirs = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, reduction="none")
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)
    grad, = torch.autograd.grad(ours.sum(), leaf)
    assert grad.isfinite().all()


def test_torch_log_probs_gradient_convention(device):
    """torch's gradient with respect to log_probs = the exact gradient (ours) + exp(log_probs)
    * grad_output on the frames each sample uses."""
    logits, targets, input_lengths, target_lengths = _ctc_case(torch.float64, device)
    log_probs = logits.log_softmax(-1)
    upstream = torch.randn(4, generator=generator(9), dtype=torch.float64).to(device)
    grads = []
    for ctc_loss in (losses.ctc_loss, F.ctc_loss):
        leaf = log_probs.detach().clone().requires_grad_()
        loss = ctc_loss(leaf, targets, input_lengths, target_lengths, reduction="none")
        grads.append(torch.autograd.grad(loss, leaf, upstream)[0])
    frames = torch.arange(logits.size(0), device=device).view(-1, 1, 1)
    used = frames < input_lengths.view(1, -1, 1)
    folded_in = log_probs.exp() * upstream.view(1, -1, 1) * used
    torch.testing.assert_close(grads[1], grads[0] + folded_in)


def test_ctc_loss_counts_every_alignment(device):
    """Three frames, target 'ab' (symbols 1, 2; blank 0): the paths reading 'ab' are
    aab, abb, -ab, a-b, ab-."""
    q = torch.tensor([[0.5, 0.3, 0.2], [0.2, 0.4, 0.4], [0.3, 0.1, 0.6]], dtype=torch.float64)
    q = q.to(device)
    paths = [(1, 1, 2), (1, 2, 2), (0, 1, 2), (1, 0, 2), (1, 2, 0)]
    probability = sum(q[0, a] * q[1, b] * q[2, c] for a, b, c in paths)
    loss = losses.ctc_loss(q.log(), torch.tensor([1, 2], device=device), 3, 2, reduction="sum")
    torch.testing.assert_close(loss, -probability.log())


@pytest.mark.parametrize(("frames", "length"), [(60, 60), (100, 95), (200, 50)])
def test_long_and_tight_alignments(device, frames, length):
    """Many frames, and targets that use all or most of them (no repeated symbols): most
    states are out of reach at most frames, and the reverse pass must leave them exactly
    zero (a leak into them grows up to threefold per frame). Float32, where it shows first."""
    g = generator(frames, length)
    logits = torch.randn(frames, 2, 10, generator=g).to(device)
    targets = (torch.arange(length) % 9 + 1).repeat(2, 1).to(device)
    input_lengths = torch.tensor([frames, frames - 3]).clamp_min(length).to(device)
    _compare(logits, targets, input_lengths, torch.tensor([length, length - 1]).to(device))


def test_gradient_cannot_be_differentiated_again_as_in_torch(device):
    """The written-out reverse pass is once differentiable, like torch's CTC backward: asking
    for a second derivative raises torch's RuntimeError instead of returning a wrong one."""
    logits, targets, input_lengths, target_lengths = _ctc_case(torch.float64, device)
    for ctc_loss in (losses.ctc_loss, F.ctc_loss):
        log_probs = logits.log_softmax(-1).requires_grad_()
        loss = ctc_loss(log_probs, targets, input_lengths, target_lengths)
        grad, = torch.autograd.grad(loss, log_probs, create_graph=True)
        with pytest.raises(RuntimeError):
            grad.sum().backward()


def test_works_under_torch_func(device):
    """torch.func.grad gives autograd's gradient (torch's own CTC fails there), and vmap over
    log_probs gives each copy's loss (the mapped copies join the batch)."""
    logits, targets, input_lengths, target_lengths = _ctc_case(torch.float64, device)
    copies = torch.stack([logits, logits.flip(0), 0.5 * logits]).log_softmax(-1)

    def loss(log_probs):
        return losses.ctc_loss(log_probs, targets, input_lengths, target_lengths)

    leaf = copies[0].clone().requires_grad_()
    expected, = torch.autograd.grad(loss(leaf), leaf)
    torch.testing.assert_close(torch.func.grad(loss)(copies[0]), expected, rtol=0, atol=0)
    theirs = torch.stack([
        F.ctc_loss(c, targets, input_lengths, target_lengths, reduction="none") for c in copies
    ])
    ours = torch.func.vmap(
        lambda c: losses.ctc_loss(c, targets, input_lengths, target_lengths, reduction="none")
    )(copies)
    torch.testing.assert_close(ours, theirs, **TOLERANCES[torch.float64])
    per_copy = torch.stack([torch.func.grad(loss)(c) for c in copies])
    torch.testing.assert_close(torch.func.vmap(torch.func.grad(loss))(copies), per_copy)


log_probs_3x2x4 = torch.randn(5, 2, 4).log_softmax(2)
targets_2x2 = torch.tensor([[1, 2], [1, 1]])
BAD_CTC_INPUTS = {
    "blank out of range": ((log_probs_3x2x4, targets_2x2, [5, 4], [2, 2]), {"blank": 4}),
    "negative blank": ((log_probs_3x2x4, targets_2x2, [5, 4], [2, 2]), {"blank": -1}),
    "input longer than T": ((log_probs_3x2x4, targets_2x2, [6, 4], [2, 2]), {}),
    "target longer than padding": ((log_probs_3x2x4, targets_2x2, [5, 4], [3, 2]), {}),
    "concatenated size": ((log_probs_3x2x4, torch.tensor([1, 2, 1]), [5, 4], [2, 2]), {}),
    "lengths size": ((log_probs_3x2x4, targets_2x2, [5, 4, 3], [2, 2]), {}),
    "targets batch": ((log_probs_3x2x4, targets_2x2.repeat(2, 1), [5, 4], [2, 2]), {}),
    "negative length": ((log_probs_3x2x4, targets_2x2, [5, 4], [-1, 2]), {}),
    "4-D log_probs": ((log_probs_3x2x4.unsqueeze(-1), targets_2x2, [5, 4], [2, 2]), {}),
}


@pytest.mark.parametrize("case", list(BAD_CTC_INPUTS))
def test_bad_ctc_input_raises_like_torch(case):
    args, kwargs = BAD_CTC_INPUTS[case]
    assert_raises_like_torch(losses.ctc_loss, F.ctc_loss, *args, **kwargs)
