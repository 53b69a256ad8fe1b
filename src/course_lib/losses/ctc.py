"""Connectionist Temporal Classification (Graves et al., 2006, "Connectionist Temporal
Classification: Labelling Unsegmented Sequence Data with Recurrent Neural Networks").

A model emits, at each of :math:`T` frames, log-probabilities over :math:`C` symbols, one of
which is the *blank*. A target :math:`y = (y_1, \\dots, y_S)` with :math:`S \\le T` is reached
by every frame-by-frame path that reads :math:`y` after merging repeated symbols and then
dropping blanks ("-aa-b-" and "ab---" both read "ab"). The loss is

.. math:: \\ell = -\\log \\sum_{\\pi \\to y} \\prod_t q_t(\\pi_t),

summed over those paths by the *forward algorithm* on the extended label
:math:`y' = (\\text{-}, y_1, \\text{-}, y_2, \\dots, y_S, \\text{-})` of length :math:`2S + 1`:
:math:`\\alpha_t(s)`, the log-probability of all paths that read :math:`y'_{1..s}` after frame
:math:`t`, comes from the same state, the previous one, or (skipping a blank between two
different symbols) the one before:

.. math::
    \\alpha_t(s) = \\log q_t(y'_s) + \\log\\Big( e^{\\alpha_{t-1}(s)} + e^{\\alpha_{t-1}(s-1)}
                   + [y'_s \\ne \\text{-},\\, y'_s \\ne y'_{s-2}]\\, e^{\\alpha_{t-1}(s-2)}
                   \\Big),

and :math:`\\ell = -\\log(e^{\\alpha_{T-1}(2S)} + e^{\\alpha_{T-1}(2S-1)})` (the path may end
on the last symbol or on a blank after it). The gradient runs the same recursion backwards
(:class:`_ForwardAlgorithm`).
"""

import math

import torch
from torch.autograd.function import once_differentiable
from torch.nn.utils.rnn import pad_sequence

from ._reduction import _reduce


def _lengths(lengths, batch_size: int, name: str, device) -> torch.Tensor:
    """Lengths as a (N,) int64 tensor; torch accepts tensors, lists and tuples."""
    lengths = torch.as_tensor(lengths, device=device).long().reshape(-1)
    if lengths.numel() != batch_size:
        raise RuntimeError(
            f"{name} must be of size batch_size ({batch_size}), got {lengths.numel()}"
        )
    if (lengths < 0).any():
        raise RuntimeError(
            f"Expected {name} to have value at least 0, but got value {lengths.min().item()}"
        )
    return lengths


def _padded_targets(targets: torch.Tensor, target_lengths: torch.Tensor) -> torch.Tensor:
    """Targets as (N, S): kept when already padded, split and padded when concatenated."""
    batch_size = target_lengths.numel()
    if targets.dim() == 1:
        if targets.numel() != target_lengths.sum():
            raise RuntimeError(
                f"Expected concatenated targets of size {target_lengths.sum().item()} (the sum of "
                f"target_lengths), but got size {targets.numel()}"
            )
        pieces = targets.long().split(target_lengths.tolist())
        return pad_sequence(list(pieces), batch_first=True).view(batch_size, -1)
    if targets.size(0) != batch_size:
        raise RuntimeError(
            f"Expected targets to have size {batch_size} at dimension 0, but got size "
            f"{targets.size(0)}"
        )
    longest = target_lengths.max().item() if batch_size else 0
    if targets.size(1) < longest:
        raise RuntimeError(
            f"Expected targets to have size at least {longest} at dimension 1, but got size "
            f"{targets.size(1)}"
        )
    return targets.long()


def _transitions(targets: torch.Tensor, blank: int):
    """Extended labels :math:`y'` (N, 2S+1) and, for every state s, the states it can be
    entered from: s, s-1 and (when allowed) s-2, as indices into :math:`\\alpha`, where index
    2S+1 is an extra state that is never reachable and stands for "no predecessor"."""
    batch_size, length = targets.size(0), 2 * targets.size(1) + 1
    extended = targets.new_full((batch_size, length), blank)
    extended[:, 1::2] = targets
    s = torch.arange(length + 1, device=targets.device)
    step = torch.where((s >= 1) & (s < length), s - 1, length)
    skip_allowed = torch.zeros(batch_size, length + 1, dtype=torch.bool, device=targets.device)
    skip_allowed[:, 3:length:2] = targets[:, 1:] != targets[:, :-1]
    skip = torch.where(skip_allowed, s - 2, length)
    previous = torch.stack([s.expand_as(skip), step.expand_as(skip), skip], dim=1)
    return extended, previous.view(batch_size, -1)


def _exp_floor(tensor: torch.Tensor) -> float:
    """A floor for exponents, :math:`2\\log\\epsilon` of ``tensor``'s dtype (-31.8 in float32,
    -72.1 in float64), whose exponential :math:`\\epsilon^2` is far below half an ulp of 1.

    The log-sum-exps below exponentiate :math:`x - \\max x \\le 0`, and log 0's stand-in makes
    most of those hugely negative; ``exp`` takes a slow path (3-10x) near and past underflow.
    Flooring the exponents of a sum changes nothing: its largest term is :math:`e^0 = 1`."""
    return 2 * math.log(torch.finfo(tensor.dtype).eps)


class _ForwardAlgorithm(torch.autograd.Function):
    r"""The forward variables :math:`\alpha_0, \dots, \alpha_T` (T+1, N, 2S+2) from the
    log-emissions (T, N, 2S+2) of the extended labels, and their gradient by the reverse pass
    of the same recursion.

    Each :math:`\alpha_t(s) = e_t(s) + \log\sum_{p \in P(s)} e^{\alpha_{t-1}(p)}` sums over
    the (at most three) predecessors :math:`P(s)`, so the adjoint
    :math:`\delta_t = \partial \ell / \partial \alpha_t` flows back along the same edges,
    weighted by the softmax of the predecessors:

    .. math::
        \frac{\partial \ell}{\partial e_t(s)} = \delta_t(s), \qquad
        \delta_{t-1}(p) = \frac{\partial \ell}{\partial \alpha_{t-1}(p)}\Big|_\text{direct}
            + \sum_{s:\, p \in P(s)} \delta_t(s)\, e^{\alpha_{t-1}(p) - r_t(s)},

    with :math:`r_t(s) = \alpha_t(s) - e_t(s)` the log-sum-exp over the predecessors, kept
    from the forward pass.

    This is Graves et al.'s backward variable :math:`\beta` in another guise: written out, it
    runs the frame loop once in each direction, where autograd would record and replay a
    dozen small nodes per frame (it takes about 3x torch's time instead of 4-5x). Like
    torch's, the gradient cannot be differentiated again.
    """

    generate_vmap_rule = False  # vmap folds its samples into the batch: see vmap()

    @staticmethod
    def forward(emit, previous, log_zero):
        frames, batch_size, states = emit.shape
        alphas = emit.new_full((frames + 1, batch_size, states), log_zero)
        alphas[0, :, 0] = 0.0  # before the first frame: the empty prefix, with probability 1
        reaches = torch.empty_like(emit)  # log-sum-exp over the predecessors, kept for backward
        floor = _exp_floor(emit)
        for t in range(frames):
            candidates = alphas[t].gather(1, previous).view(batch_size, 3, states)
            most = candidates.amax(1)  # finite: log 0 is a finite stand-in, so no inf to handle
            shifted = candidates.sub_(most.unsqueeze(1)).clamp_min_(floor)
            torch.sum(shifted.exp_(), 1, out=reaches[t])
            reaches[t].log_().add_(most)
            torch.add(emit[t], reaches[t], out=alphas[t + 1])
            alphas[t + 1].clamp_min_(log_zero)  # log 0 + log 0 stays log 0, not -inf
        return alphas, reaches

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[1], *output)
        ctx.mark_non_differentiable(output[1])

    @staticmethod
    def vmap(info, in_dims, emit, previous, log_zero):
        """Under ``torch.func.vmap``, the mapped copies join the N samples of one batch."""
        emit_dim, previous_dim, _ = in_dims
        copies = info.batch_size
        if emit_dim is None:
            emit = emit.unsqueeze(1).expand(-1, copies, -1, -1)
        else:
            emit = emit.movedim(emit_dim, 1)
        if previous_dim is None:
            previous = previous.expand(copies, -1, -1)
        else:
            previous = previous.movedim(previous_dim, 0)
        frames, _, batch_size, states = emit.shape
        emit = emit.reshape(frames, copies * batch_size, states)
        previous = previous.reshape(copies * batch_size, -1)
        alphas, reaches = _ForwardAlgorithm.apply(emit, previous, log_zero)
        alphas = alphas.view(frames + 1, copies, batch_size, states)
        return (alphas, reaches.view(frames, copies, batch_size, states)), (1, 1)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_alphas, _):
        previous, alphas, reaches = ctx.saved_tensors
        frames, batch_size, states = reaches.shape
        # The edge weights e^{alpha_{t-1}(p) - r_t(s)} do not depend on the adjoint: all frames
        # at once, leaving two small kernels per frame in the loop.
        predecessors = previous.expand(frames, -1, -1)
        weights = alphas[:-1].gather(2, predecessors).view(frames, batch_size, 3, states)
        exponents = weights.sub_(reaches.unsqueeze(2))
        floor = _exp_floor(exponents)
        # Below the floor a weight is exactly 0, not e^floor: among states no path reaches
        # every weight is e^0 = 1, and a floored weight would leak gradient into them that
        # grows up to threefold per frame.
        negligible = exponents < floor
        weights = exponents.clamp_min_(floor).exp_().masked_fill_(negligible, 0.0)
        grad_emit = grad_alphas[1:].clone()  # delta_t, once the later frames are added in
        for t in range(frames - 1, 0, -1):
            share = torch.mul(weights[t], grad_emit[t].unsqueeze(1)).view(batch_size, -1)
            grad_emit[t - 1].scatter_add_(1, previous, share)
        return grad_emit, None, None


def _log_likelihood(log_probs, targets, input_lengths, target_lengths, blank):
    r""":math:`\log p(y \mid x)` per sample by the forward algorithm, looping over frames and
    vectorized over the batch and the states (:class:`_ForwardAlgorithm`).

    Log 0 is represented by the most negative finite float instead of :math:`-\infty`: a
    log-sum-exp of three :math:`-\infty` has a ``nan`` gradient (:math:`-\infty + \infty`),
    while states that no path reaches must get a zero one. A log-likelihood still equal to that
    stand-in at the end means no alignment exists."""
    frames, batch_size, _ = log_probs.shape
    log_zero = torch.finfo(log_probs.dtype).min
    extended, previous = _transitions(targets, blank)
    states = extended.size(1) + 1
    emit = log_probs.gather(2, extended.expand(frames, -1, -1)).clamp_min(log_zero)
    emit = torch.cat([emit, emit.new_zeros(frames, batch_size, 1)], dim=2)  # extra state: log 1
    alphas, _ = _ForwardAlgorithm.apply(emit, previous, log_zero)
    final = alphas[input_lengths, torch.arange(batch_size, device=alphas.device)]
    last_label = torch.where(target_lengths > 0, 2 * target_lengths - 1, states - 1)
    ends = final.gather(1, torch.stack([2 * target_lengths, last_label], dim=1))
    log_likelihood = ends.logsumexp(dim=1)
    return torch.where(log_likelihood > log_zero, log_likelihood, -torch.inf)


def ctc_loss(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    input_lengths,
    target_lengths,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> torch.Tensor:
    """CTC loss, like ``torch.nn.functional.ctc_loss``.

    ``log_probs`` (T, N, C) or unbatched (T, C) are log-probabilities (a log-softmax over C);
    ``targets`` are padded (N, S) or concatenated (sum of ``target_lengths``), without blanks;
    ``input_lengths`` and ``target_lengths`` (N) give each sample's frames and symbols.
    ``reduction="mean"`` divides each loss by its target length, then averages over the batch.
    A target that no alignment reaches (too few frames) has an infinite loss, or zero
    (with a zero gradient) under ``zero_infinity``.

    Two frames, symbols {blank, a}, target "a": the paths "a-", "-a" and "aa" read "a".

    >>> q = torch.tensor([[[0.5, 0.5]], [[0.5, 0.5]]])  # (T=2, N=1, C=2)
    >>> loss = ctc_loss(q.log(), torch.tensor([[1]]), [2], [1], reduction="sum")
    >>> round(loss.item(), 4), round(-torch.tensor(3 / 4).log().item(), 4)
    (0.2877, 0.2877)
    """
    unbatched = log_probs.dim() == 2
    if unbatched:
        log_probs, targets = log_probs.unsqueeze(1), targets.unsqueeze(0)
    if log_probs.dim() != 3:
        raise RuntimeError(
            f"Expected 3-dimensional tensor, but got {log_probs.dim()}-dimensional tensor for "
            "argument #1 'log_probs' (T, N, C)"
        )
    frames, batch_size, num_classes = log_probs.shape
    if not 0 <= blank < num_classes:
        raise RuntimeError(f"blank must be in label range [0, {num_classes}), got {blank}")
    input_lengths = _lengths(input_lengths, batch_size, "input_lengths", log_probs.device)
    target_lengths = _lengths(target_lengths, batch_size, "target_lengths", log_probs.device)
    if batch_size and input_lengths.max() > frames:
        raise RuntimeError(
            f"Expected input_lengths to have value at most {frames}, but got value "
            f"{input_lengths.max().item()}"
        )
    targets = _padded_targets(targets, target_lengths)
    loss = -_log_likelihood(log_probs, targets, input_lengths, target_lengths, blank)
    if zero_infinity:
        loss = torch.where(loss.isinf(), 0.0, loss)
    if reduction == "mean":
        loss = loss / target_lengths.clamp_min(1)
    loss = _reduce(loss, reduction)
    return loss.squeeze(0) if unbatched and reduction == "none" else loss
