"""Margin losses: a score must beat another by at least a margin; once it does, the loss (and
its gradient) is zero. They are built on the hinge :math:`[u]_+ = \\max(0, u)`.

- :func:`margin_ranking_loss`: rank :math:`x_1` above (or below) :math:`x_2`;
- :func:`hinge_embedding_loss`: small distances for similar pairs, large for dissimilar;
- :func:`soft_margin_loss` and :func:`multilabel_soft_margin_loss`: the smooth hinge
  :math:`\\log(1 + e^{-yx})` (logistic loss), per label;
- :func:`multi_margin_loss`: the multi-class SVM hinge (Weston & Watkins, 1999);
- :func:`multilabel_margin_loss`: every true label above every other label.
"""

import math

import torch

from ._reduction import _check_class_target, _reduce
from .classification import _softplus


def margin_ranking_loss(
    input1: torch.Tensor,
    input2: torch.Tensor,
    target: torch.Tensor,
    margin: float = 0.0,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    """Ranking hinge, like ``torch.nn.functional.margin_ranking_loss``: ``target``
    :math:`y_i = 1` says :math:`x_{1,i}` should rank above :math:`x_{2,i}`, :math:`y_i = -1`
    below,

    .. math:: \\ell_i = \\max(0, -y_i (x_{1,i} - x_{2,i}) + \\text{margin}).

    The loss is elementwise: one value per pair, never an n x n matrix. Such a matrix only
    appears when shapes (n, 1) and (1, n) broadcast against each other, which torch allows
    for inputs of equal dimensions (and refuses, like this function, for (n,) against (n, 1)).

    >>> x1, x2 = torch.tensor([3.0, 1.0]), torch.tensor([1.0, 2.0])
    >>> margin_ranking_loss(x1, x2, torch.tensor([1.0, 1.0]), margin=0.5, reduction="none")
    tensor([0.0000, 1.5000])
    """
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(
            "margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {input1.size()}, input2: {input2.size()}, target: {target.size()} "
        )
    loss = (-target * (input1 - input2) + margin).clamp_min(0)
    return _reduce(loss, reduction)


def hinge_embedding_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    margin: float = 1.0,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    """Hinge embedding loss, like ``torch.nn.functional.hinge_embedding_loss``. ``input`` is
    a distance :math:`x_i` between two embeddings, ``target`` says similar (1) or not (-1):

    .. math::
        \\ell_i = \\begin{cases} x_i & y_i = 1 \\\\
                  \\max(0, \\text{margin} - x_i) & y_i = -1. \\end{cases}

    >>> hinge_embedding_loss(torch.tensor([0.3, 0.3]), torch.tensor([1.0, -1.0]), reduction="none")
    tensor([0.3000, 0.7000])
    """
    pull_apart = torch.where(target != 1, (margin - input).clamp_min(0), 0.0)
    pull_together = torch.where(target != -1, input, 0.0)
    return _reduce(pull_apart + pull_together, reduction)


def soft_margin_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    """Two-class logistic loss, like ``torch.nn.functional.soft_margin_loss``, for labels
    :math:`y_i \\in \\{-1, 1\\}`:

    .. math:: \\ell_i = \\log(1 + e^{-y_i x_i}) = -\\log\\sigma(y_i x_i),

    a hinge with a smooth corner. Evaluated stably, so large margins give exact losses where
    torch's direct formula overflows to ``inf``.

    >>> soft_margin_loss(torch.tensor([0.0, 2.0]), torch.tensor([1.0, -1.0]), reduction="none")
    tensor([0.6931, 2.1269])
    """
    return _reduce(_softplus(-target.expand_as(input) * input), reduction)


def multilabel_soft_margin_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    """Binary cross-entropy of logits averaged over the :math:`C` labels of each sample, like
    ``torch.nn.functional.multilabel_soft_margin_loss``:

    .. math::
        \\ell_i = -\\frac{1}{C} \\sum_c w_c \\left[ y_{ic} \\log\\sigma(x_{ic})
                  + (1 - y_{ic}) \\log\\sigma(-x_{ic}) \\right].

    >>> multilabel_soft_margin_loss(torch.zeros(1, 3), torch.tensor([[1.0, 0.0, 1.0]]))
    tensor(0.6931)
    """
    loss = target * _softplus(-input) + (1 - target) * _softplus(input)  # -log sigma(+-x)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.mean(dim=-1), reduction)


def _check_margin_shapes(input: torch.Tensor, target: torch.Tensor, weight) -> None:
    """Shapes of ``multi_margin_loss``: input (C) or (N, C), target () or (N), weight (C)."""
    if input.dim() > 2 or input.size(-1) == 0:
        raise RuntimeError(
            "Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
            f"{list(input.shape)}"
        )
    batch = input.size(0) if input.dim() == 2 else 1
    if target.dim() > 1 or target.numel() != batch:
        raise RuntimeError(
            "multi_margin_loss: target tensor should be 1-D with size equal to the number of "
            f"input samples (batch size). Expected target size [{batch}], but got "
            f"{list(target.shape)}. Input has shape {list(input.shape)}."
        )
    if weight is not None and weight.numel() != input.size(-1):
        raise RuntimeError(
            f"inconsistent weight size, expected {input.size(-1)} but got {list(weight.shape)}"
        )


def multi_margin_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: torch.Tensor | None = None,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    """Multi-class hinge (Weston & Watkins, 1999, "Support Vector Machines for Multi-Class
    Pattern Recognition"), like ``torch.nn.functional.multi_margin_loss``: the true class
    :math:`y_i` must score at least ``margin`` above every other class,

    .. math::
        \\ell_i = \\frac{1}{C} \\sum_{c \\ne y_i} w_{y_i}
                  \\max(0, \\text{margin} - x_{i, y_i} + x_{ic})^p, \\qquad p \\in \\{1, 2\\}.

    >>> x = torch.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> round(multi_margin_loss(x, torch.tensor([3])).item(), 4)  # (0.3 + 0.4 + 0.6) / 4
    0.325
    """
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    _check_class_target(target, (torch.int64,))
    _check_margin_shapes(input, target, weight)
    scores = input.view(-1, input.size(-1))
    labels = target.view(-1, 1)
    if ((labels < 0) | (labels >= scores.size(1))).any():
        raise RuntimeError(f"target out of range: class indices must lie in [0, {scores.size(1)})")
    # The true class scores -inf as an other class: max(0, -inf) = 0, with a zero gradient.
    others = scores.scatter(1, labels, -math.inf)
    hinge = torch.relu(margin - scores.gather(1, labels) + others)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * weight[labels]
    loss = hinge.mean(dim=1)
    return _reduce(loss.view(target.shape), reduction)


def multilabel_margin_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    """Multi-label hinge, like ``torch.nn.functional.multilabel_margin_loss``. Row :math:`i`
    of ``target`` lists the true labels :math:`Y_i` of sample :math:`i`, padded after them with
    -1 (what follows the first -1 is ignored); every true label must beat every other:

    .. math::
        \\ell_i = \\frac{1}{C} \\sum_{j \\in Y_i} \\sum_{k \\notin Y_i}
                  \\max(0, 1 - (x_{ij} - x_{ik})).

    The sums run over the pairs (sample :math:`i`, true label :math:`j`) that the targets
    list, one row of :math:`C` hinges each: the work is the number of listed labels times
    :math:`C`, as in torch's loop, not the longest list times :math:`C` for every sample.

    >>> x = torch.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> y = torch.tensor([[3, 0, -1, 1]])  # labels 3 and 0
    >>> round(multilabel_margin_loss(x, y).item(), 4)
    0.85
    """
    _check_class_target(target, (torch.int64,))
    if input.dim() > 2 or input.size(-1) == 0 or target.shape != input.shape:
        raise RuntimeError(
            f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}"
        )
    scores = input.reshape(-1, input.size(-1))
    labels = target.reshape(scores.shape)
    padding = labels == -1
    first_pad = padding.to(torch.uint8).argmax(dim=1)  # the first -1 of a row (0 if none)
    counts = torch.where(padding.any(dim=1), first_pad, scores.size(1))  # labels listed per row
    listed = torch.arange(scores.size(1), device=scores.device) < counts.unsqueeze(1)
    if (listed & ((labels < 0) | (labels >= scores.size(1)))).any():
        raise RuntimeError("argument #2 'target' is out of range: labels lie in [0, C) or are -1")
    # one pair (i, j) per listed label, by sample: row i repeated counts[i] times
    rows = torch.repeat_interleave(counts)
    starts = counts.cumsum(0) - counts
    slots = torch.arange(rows.numel(), device=scores.device) - starts[rows]
    pair_labels = labels[rows, slots]
    is_label = torch.zeros_like(scores, dtype=torch.bool).index_put_(
        (rows, pair_labels), torch.tensor(True, device=scores.device)
    )
    # A true label k scores -inf as the other label of a pair: max(0, -inf) = 0, zero gradient.
    other_scores = scores.masked_fill(is_label, -math.inf)[rows]
    hinge = torch.relu((1 - scores[rows, pair_labels]).unsqueeze(1) + other_scores)
    loss = scores.new_zeros(scores.size(0)).index_add(0, rows, hinge.sum(dim=1)) / scores.size(1)
    return _reduce(loss.view(target.shape[:-1]), reduction)
