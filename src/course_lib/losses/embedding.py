"""Embedding losses: shape a space in which similar things lie close and different things
far apart (face verification, retrieval).

- :func:`cosine_embedding_loss`: pairs, compared by the angle between their embeddings;
- :func:`triplet_margin_loss`: an anchor must be closer to a positive than to a negative by
  a margin (Schroff et al., 2015, "FaceNet"); :func:`triplet_margin_with_distance_loss`
  takes any distance.
"""

from collections.abc import Callable

import torch

from ._reduction import _reduce


def cosine_embedding_loss(
    input1: torch.Tensor,
    input2: torch.Tensor,
    target: torch.Tensor,
    margin: float = 0.0,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    """Cosine embedding loss, like ``torch.nn.functional.cosine_embedding_loss``. With the
    cosine similarity :math:`\\cos_i` of the two embeddings of pair :math:`i`,

    .. math::
        \\ell_i = \\begin{cases} 1 - \\cos_i & y_i = 1 \\\\
                  \\max(0, \\cos_i - \\text{margin}) & y_i = -1, \\end{cases} \\qquad
        \\cos_i = \\frac{x_{1,i} \\cdot x_{2,i}}{\\sqrt{(\\lVert x_{1,i}\\rVert^2 + \\epsilon)
                  (\\lVert x_{2,i}\\rVert^2 + \\epsilon)}}, \\ \\epsilon = 10^{-12}.

    >>> x1, x2 = torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    >>> cosine_embedding_loss(x1, x2, torch.tensor([1.0, -1.0]), reduction="none")
    tensor([0.2929, 0.7071])
    """
    if target.dim() not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if input1.dim() != target.dim() + 1:
        raise RuntimeError(
            f"{target.dim()}D target tensor expects {target.dim() + 1}D input tensors, but "
            f"found inputs with sizes {list(input1.shape)} and {list(input2.shape)}."
        )
    dim = target.dim()
    dot = (input1 * input2).sum(dim)
    squared_norms = ((input1 * input1).sum(dim) + 1e-12) * ((input2 * input2).sum(dim) + 1e-12)
    cos = dot / squared_norms.sqrt()
    similar = torch.where(target == 1, 1 - cos, 0.0)
    dissimilar = torch.where(target == -1, (cos - margin).clamp_min(0), 0.0)
    return _reduce(similar + dissimilar, reduction)


def _pairwise_distance(x1: torch.Tensor, x2: torch.Tensor, p: float = 2.0, eps: float = 1e-6):
    """:math:`\\lVert x_1 - x_2 + \\epsilon \\rVert_p` over the last dimension, as
    ``torch.nn.functional.pairwise_distance`` computes it."""
    return torch.linalg.vector_norm(x1 - x2 + eps, ord=p, dim=-1)


def triplet_margin_with_distance_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    *,
    distance_function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    """Triplet loss with any distance :math:`d` (the Euclidean one by default), like
    ``torch.nn.functional.triplet_margin_with_distance_loss``:

    .. math:: \\ell_i = \\max(0, d(a_i, p_i) - d(a_i, n_i) + \\text{margin}).

    With ``swap`` the negative distance is :math:`\\min(d(a_i, n_i), d(p_i, n_i))`, the harder
    of the two (Balntas et al., 2016, "Learning local feature descriptors with triplets and
    shallow convolutional neural networks").

    >>> a, p, n = torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0]]), torch.tensor([[1.0, 0.0]])
    >>> l1 = lambda x, y: (x - y).abs().sum(-1)
    >>> triplet_margin_with_distance_loss(a, p, n, distance_function=l1, margin=0.5)
    tensor(6.5000)
    """
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    if not anchor.dim() == positive.dim() == negative.dim():
        raise RuntimeError(
            "The anchor, positive, and negative tensors are expected to have the same number "
            f"of dimensions, but got: anchor {anchor.dim()}D, positive {positive.dim()}D, and "
            f"negative {negative.dim()}D inputs"
        )
    distance = _pairwise_distance if distance_function is None else distance_function
    d_positive = distance(anchor, positive)
    d_negative = distance(anchor, negative)
    if swap:
        d_negative = torch.minimum(d_negative, distance(positive, negative))
    loss = (margin + d_positive - d_negative).clamp_min(0)
    return _reduce(loss, reduction)


def triplet_margin_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    """Triplet loss with the :math:`p`-norm distance :math:`d(x, y) = \\lVert x - y + \\epsilon
    \\rVert_p`, like ``torch.nn.functional.triplet_margin_loss``: the anchor must be closer to
    the positive than to the negative by ``margin`` (Schroff et al., 2015, "FaceNet: A Unified
    Embedding for Face Recognition and Clustering"),

    .. math:: \\ell_i = \\max(0, d(a_i, p_i) - d(a_i, n_i) + \\text{margin}).

    >>> a, p, n = torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0]]), torch.tensor([[6.0, 8.0]])
    >>> triplet_margin_loss(a, p, n, eps=0.0), triplet_margin_loss(a, n, p, eps=0.0)
    (tensor(0.), tensor(6.))
    """
    return triplet_margin_with_distance_loss(
        anchor,
        positive,
        negative,
        distance_function=lambda x1, x2: _pairwise_distance(x1, x2, p, eps),
        margin=margin,
        swap=swap,
        reduction=reduction,
    )
