"""Classification losses: cross-entropy, negative log-likelihood, binary cross-entropy.

All of them score a predicted distribution :math:`q` against the true label :math:`y`
by the surprise :math:`-\\log q(y)` (see :mod:`course_lib.losses.information`). They differ in
how :math:`q` is produced:

- :func:`nll_loss` takes log-probabilities :math:`\\log q` directly;
- :func:`cross_entropy` takes logits :math:`z` and applies the log-softmax itself
  (``CrossEntropyLoss = LogSoftmax + NLLLoss``, so never put a softmax before it);
- :func:`binary_cross_entropy` takes probabilities :math:`\\hat y \\in [0, 1]` of the
  positive class, :func:`binary_cross_entropy_with_logits` takes logits and applies the
  sigmoid inside, in a numerically stable form.
"""

import math

import torch

from ._pointwise import _scaled, pointwise_loss
from ._reduction import _check_class_target, _check_in_range, _reduce


def _shifted(z: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:math:`z_c - m` and the shift :math:`m = \\max_c z_c` along ``dim`` (kept), so that
    :math:`\\log\\sum_c e^{z_c} = m + \\log\\sum_c e^{z_c - m}` cannot overflow. The shift is a
    constant for autograd (the result does not depend on it), and rows without a finite
    maximum are not shifted."""
    m = z.detach().amax(dim, keepdim=True)
    m = m.masked_fill(m.isinf(), 0.0)
    return z - m, m


def _logsumexp(z: torch.Tensor, dim: int) -> torch.Tensor:
    """:math:`\\log\\sum_c e^{z_c}` along ``dim`` (kept), computed stably."""
    shifted, m = _shifted(z, dim)
    return shifted.exp_().sum(dim, keepdim=True).log() + m


class _CrossEntropyTerms(torch.autograd.Function):
    """The terms of the cross-entropy of class ``index`` along ``dim``: the log-normalizer
    :math:`\\log\\sum_c e^{z_{ic}}`, the target's logit :math:`z_{i,y_i}` and, for label
    smoothing (else ``None``), :math:`-\\sum_c w_c \\log q_{ic}` (:math:`w_c = 1` without
    ``weight``). Their derivatives are

    .. math::
        \\frac{\\partial}{\\partial z_{ic}} \\log\\sum_k e^{z_{ik}}
            = \\operatorname{softmax}(z_i)_c, \\qquad
        \\frac{\\partial z_{i,y_i}}{\\partial z_{ic}} = [c = y_i], \\qquad
        \\frac{\\partial}{\\partial z_{ic}} \\Bigl(-\\sum_k w_k \\log q_{ik}\\Bigr)
            = W \\operatorname{softmax}(z_i)_c - w_c,

    with :math:`W = \\sum_k w_k`: the gradient of the cross-entropy is
    :math:`\\operatorname{softmax}(z_i) - \\text{onehot}(y_i)`. The first backward pass scales
    the :math:`e^{z_c - m}` of the forward pass into the softmax in place (no new memory, as
    torch keeps its log-softmax); a second one (``retain_graph=True``) or one that records a
    graph recomputes it from the logits.
    """

    generate_vmap_rule = True  # torch.func transforms (grad, vmap, jacrev) run it as written

    @staticmethod
    def forward(z, index, dim, weight, smoothing):
        shifted, m = _shifted(z, dim)
        if smoothing:  # sum_c w_c (z_c - m), before the shifted logits become exponentials
            weights = _class_weight_along(weight, z) if weight is not None else None
            shifted_sum = (shifted if weights is None else shifted * weights).sum(dim)
        exp = shifted.exp_()
        total = exp.sum(dim, keepdim=True)
        log_total = total.log()
        log_normalizer = (log_total + m).squeeze(dim)
        smooth = None
        if smoothing:  # -sum_c w_c log q_c = W log sum_c e^{z_c - m} - sum_c w_c (z_c - m)
            smooth = _weight_sum(z, dim, weight) * log_total.squeeze(dim) - shifted_sum
        target_logit = z.gather(dim, index.unsqueeze(dim)).squeeze(dim)
        return log_normalizer, target_logit, smooth, exp, total

    @staticmethod
    def setup_context(ctx, inputs, output):
        z, index, dim, weight, _ = inputs
        log_normalizer, _, _, exp, total = output
        # the log-normalizer is saved as an output, so that second derivatives can reach it
        ctx.save_for_backward(z, log_normalizer, index)
        ctx.mark_non_differentiable(exp, total)
        ctx.exp, ctx.total = exp, total  # off save_for_backward: the first backward consumes it
        ctx.dim, ctx.weight, ctx.weight_sum = dim, weight, _weight_sum(z, dim, weight)

    @staticmethod
    def backward(ctx, grad_log_normalizer, grad_target_logit, grad_smooth, *_):
        z, log_normalizer, index = ctx.saved_tensors
        dim = ctx.dim
        exp, ctx.exp = ctx.exp, None
        upstream = grad_log_normalizer
        if grad_smooth is not None:
            upstream = upstream + ctx.weight_sum * grad_smooth
        upstream = upstream.unsqueeze(dim)
        if exp is None or torch.is_grad_enabled():
            grad = torch.sub(z, log_normalizer.unsqueeze(dim)).exp() * upstream
        else:
            grad = _scaled(exp, upstream / ctx.total)
        if grad_smooth is not None and ctx.weight is None:
            grad.sub_(grad_smooth.unsqueeze(dim))
        elif grad_smooth is not None:
            weights = _class_weight_along(ctx.weight, z)
            grad.addcmul_(grad_smooth.unsqueeze(dim), weights, value=-1)
        grad.scatter_add_(dim, index.unsqueeze(dim), grad_target_logit.unsqueeze(dim))
        return grad, None, None, None, None


def _cross_entropy_terms(z, index, dim, weight, smoothing):
    """The log-normalizer, the target logit and the smoothing term of
    :class:`_CrossEntropyTerms` (without what it keeps for the backward pass)."""
    return _CrossEntropyTerms.apply(z, index, dim, weight, smoothing)[:3]


def _weight_sum(z: torch.Tensor, dim: int, weight) -> float | torch.Tensor:
    """:math:`W = \\sum_c w_c`: the number of classes without ``weight``."""
    return z.size(dim) if weight is None else weight.sum()


def _softplus(z: torch.Tensor) -> torch.Tensor:
    """:math:`\\log(1 + e^{z}) = -\\log\\sigma(-z)`, evaluated as the two-term log-sum-exp
    :math:`\\operatorname{logaddexp}(0, z) = \\max(0, z) + \\log(1 + e^{-|z|})`, which neither
    overflows for :math:`z \\gg 0` nor loses :math:`e^{z}` for :math:`z \\ll 0`."""
    return torch.logaddexp(z.new_zeros(()), z)


def _class_dim(input: torch.Tensor) -> int:
    """Classes lie along dim 1 of (N, C, d1, ...) and along dim 0 of an unbatched (C,)."""
    if input.dim() == 0:
        raise ValueError("Expected 1 or more dimensions (got 0): input needs a class dimension")
    return 0 if input.dim() == 1 else 1


def _check_class_shapes(input: torch.Tensor, target: torch.Tensor, weight) -> None:
    """Shapes of ``nll_loss``: input (C,), (N, C) or (N, C, d1, ...), target (), (N) or
    (N, d1, ...), weight (C,)."""
    num_classes = input.size(_class_dim(input))
    if input.dim() > 1 and input.size(0) != target.size(0):
        raise ValueError(
            f"Expected input batch_size ({input.size(0)}) to match target batch_size "
            f"({target.size(0)})."
        )
    if input.dim() == 2 and target.dim() != 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if input.dim() > 2 and target.shape != input.shape[:1] + input.shape[2:]:
        expected = list(input.shape[:1] + input.shape[2:])
        raise RuntimeError(f"Expected target size {expected}, got {list(target.shape)}")
    if weight is not None and (weight.dim() != 1 or weight.numel() != num_classes):
        raise RuntimeError(
            f"weight tensor should be defined either for all {num_classes} classes or no "
            f"classes but got weight tensor of shape: {list(weight.shape)}"
        )


def _target_weights(input: torch.Tensor, target: torch.Tensor, weight, ignore_index: int):
    """The target classes :math:`y_i` as indices (0 where ignored), the weights
    :math:`w_{y_i}` that ``"mean"`` divides by (0 where :math:`y_i` is ``ignore_index``), and
    the mask of ignored samples."""
    _check_class_target(target, (torch.int64, torch.uint8))
    _check_class_shapes(input, target, weight)
    if weight is not None and weight.requires_grad and torch.is_grad_enabled():
        raise RuntimeError(
            "nll_loss and cross_entropy are not differentiable with respect to argument "
            "'weight' (as in torch): pass weight.detach()"
        )
    dim = _class_dim(input)
    ignored = target == ignore_index
    safe_target = target.long().masked_fill(ignored, 0)
    _check_in_range(safe_target, input.size(dim), "Target", IndexError)
    if weight is None:
        w_y = torch.where(ignored, 0.0, 1.0).to(input.dtype)
    else:
        w_y = weight[safe_target].masked_fill(ignored, 0.0)
    return safe_target, w_y, ignored


def nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    """Negative log-likelihood of class indices, like ``torch.nn.functional.nll_loss``.

    ``input`` holds log-probabilities :math:`\\log q` (for example a log-softmax); the loss
    only picks the entry of the true class and flips its sign:

    .. math::
        \\ell_i = -w_{y_i} \\log q_{i, y_i}, \\qquad
        \\mathcal{L}_\\text{mean} = \\frac{\\sum_i \\ell_i}{\\sum_i w_{y_i}},

    where samples with :math:`y_i` = ``ignore_index`` get weight 0 (all ignored: ``nan``).
    Shapes: input (C), (N, C) or (N, C, d1, ...); target (), (N) or (N, d1, ...).

    >>> log_q = torch.log(torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]))
    >>> round(nll_loss(log_q, torch.tensor([0, 2])).item(), 4)  # -(log 0.7 + log 0.8) / 2
    0.2899
    """
    safe_target, w_y, ignored = _target_weights(input, target, weight, ignore_index)
    dim = _class_dim(input)
    log_q_y = input.gather(dim, safe_target.unsqueeze(dim)).squeeze(dim)
    # masked_fill, not just the zero weight, so that when every sample is ignored the
    # gradient of the nan mean is 0 (as in torch) rather than 0 * inf
    loss = (-w_y * log_q_y).masked_fill(ignored, 0.0)
    return _reduce(loss, reduction, weight=w_y)


def _class_weight_along(weight: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """View a (C,) class weight so that it broadcasts along the class dim of ``log_q``."""
    dim = _class_dim(log_q)
    return weight.view([-1 if d == dim else 1 for d in range(log_q.dim())])


def _cross_entropy_soft(log_q, target, weight, reduction, label_smoothing):
    """Cross-entropy with a target distribution :math:`p` per sample:
    :math:`\\ell_i = -\\sum_c w_c p_{ic} \\log q_{ic}`."""
    dim = _class_dim(log_q)
    num_classes = log_q.size(dim)
    if not target.is_floating_point():
        raise RuntimeError(
            f"Expected floating point type for target with class probabilities, got "
            f"{target.dtype}; class indices need a target without the class dimension"
        )
    if weight is not None and (weight.dim() != 1 or weight.numel() != num_classes):
        raise RuntimeError(
            f"cross_entropy: weight tensor should be defined either for all {num_classes} "
            f"classes or no classes but got weight tensor of shape: {list(weight.shape)}"
        )
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / num_classes
    if weight is not None:
        target = target * _class_weight_along(weight, log_q)
    return _reduce(-(target * log_q).sum(dim), reduction)


def cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Cross-entropy between logits and targets, like ``torch.nn.functional.cross_entropy``.

    The logits :math:`z` become log-probabilities by the log-softmax, and the loss is the
    negative log-likelihood of the target (``CrossEntropyLoss = LogSoftmax + NLLLoss``):

    .. math::
        \\log q_{ic} = z_{ic} - \\log\\sum_k e^{z_{ik}}, \\qquad
        \\ell_i = -w_{y_i} \\log q_{i, y_i}.

    With ``label_smoothing`` :math:`\\varepsilon` the target becomes the mixture
    :math:`(1-\\varepsilon)\\,\\text{onehot}(y_i) + \\varepsilon/C` (Szegedy et al., 2016,
    "Rethinking the Inception Architecture for Computer Vision"):
    :math:`\\ell_i = (1-\\varepsilon)\\,\\ell_i^\\text{nll} - \\frac{\\varepsilon}{C}\\sum_c w_c
    \\log q_{ic}`. A target of the same shape as the input is read as class probabilities
    :math:`p`: :math:`\\ell_i = -\\sum_c w_c p_{ic} \\log q_{ic}`, averaged over samples.
    ``mean`` over class indices divides by :math:`\\sum_i w_{y_i}` (ignored samples excluded).

    Note 003's worked example (SYLLABUS L3): two samples, three classes.

    >>> logits = torch.tensor([[1.5, 2.0, 0.5], [0.5, 1.0, 1.5]])
    >>> round(cross_entropy(logits, torch.tensor([1, 2])).item(), 4)
    0.6422
    """
    dim = _class_dim(input)
    if label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input.shape == target.shape:
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        log_q = input - _logsumexp(input, dim)  # log q = z - log sum_k e^{z_k}
        return _cross_entropy_soft(log_q, target, weight, reduction, label_smoothing)
    safe_target, w_y, ignored = _target_weights(input, target, weight, ignore_index)
    smoothing = label_smoothing > 0
    log_normalizer, z_y, smooth = _cross_entropy_terms(input, safe_target, dim, weight, smoothing)
    log_q_y = z_y - log_normalizer  # the log-softmax, at the target only
    loss = (-w_y * log_q_y).masked_fill(ignored, 0.0)
    if smoothing:
        smooth = smooth.masked_fill(ignored, 0.0)
        loss = (1 - label_smoothing) * loss + (label_smoothing / input.size(dim)) * smooth
    return _reduce(loss, reduction, weight=w_y)


def _clamped_log(p: torch.Tensor) -> torch.Tensor:
    """:math:`\\max(\\log p, -100)`, as BCELoss clamps its logs. The input is floored at
    :math:`e^{-101}` first, so that :math:`p = 0` gives a gradient of 0 instead of ``nan``."""
    return torch.log(p.clamp_min(math.exp(-101))).clamp_min(-100.0)


def binary_cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    """Binary cross-entropy of probabilities, like ``torch.nn.functional.binary_cross_entropy``.

    ``input`` holds :math:`\\hat y = P(y = 1)` in [0, 1] (for example after a sigmoid):

    .. math::
        \\ell_i = -w_i \\left[ y_i \\log \\hat y_i + (1 - y_i) \\log(1 - \\hat y_i) \\right],

    with each log clamped to be at least -100 so that a confident mistake costs 100, not
    infinity. Prefer :func:`binary_cross_entropy_with_logits`, which is exact where a
    sigmoid saturates.

    Note 003's worked example (SYLLABUS L5):

    >>> p = torch.tensor([[0.7], [0.2], [0.9], [0.7]])
    >>> y = torch.tensor([[1.0], [0.0], [1.0], [0.0]])
    >>> round(binary_cross_entropy(p, y).item(), 4)
    0.4723
    """
    if target.size() != input.size():
        raise ValueError(
            f"Using a target size ({target.size()}) that is different to the input size "
            f"({input.size()}) is deprecated. Please ensure they have the same size."
        )
    if target.dtype != input.dtype:
        raise RuntimeError(
            f"Found dtype {target.dtype} but expected {input.dtype}: target must have the "
            "dtype of input"
        )
    if not ((input >= 0) & (input <= 1)).all():
        raise RuntimeError(
            "all elements of input should be between 0 and 1: pass probabilities (apply a "
            "sigmoid) or use binary_cross_entropy_with_logits"
        )
    loss = -(target * _clamped_log(input) + (1 - target) * _clamped_log(1 - input))
    if weight is not None:
        loss = loss * weight.expand_as(loss)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    reduction: str = "mean",
    pos_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Binary cross-entropy of logits, like
    ``torch.nn.functional.binary_cross_entropy_with_logits``.

    With :math:`\\hat y = \\sigma(z)` and the positive-class weight :math:`w_+` (``pos_weight``),

    .. math::
        \\ell_i &= -w_i \\left[ w_+ y_i \\log\\sigma(z_i)
                   + (1 - y_i) \\log(1 - \\sigma(z_i)) \\right] \\\\
               &= w_i \\left[ (1 - y_i) z_i - (1 + (w_+ - 1) y_i) \\log\\sigma(z_i) \\right],

    using :math:`\\log(1 - \\sigma(z)) = \\log\\sigma(z) - z`. :math:`\\log\\sigma` is evaluated
    stably, so logits of any magnitude give exact losses and gradients :math:`\\sigma(z) - y`.

    >>> z = torch.tensor([100.0, -100.0, 0.0])  # two confident mistakes, one coin toss
    >>> binary_cross_entropy_with_logits(z, torch.tensor([0.0, 1.0, 1.0]), reduction="none")
    tensor([100.0000, 100.0000,   0.6931])
    """
    if target.size() != input.size():
        raise ValueError(
            f"Target size ({target.size()}) must be the same as input size ({input.size()})"
        )
    if not target.is_floating_point():
        raise RuntimeError(
            f"expected a floating point target (probabilities of the positive class), got "
            f"{target.dtype}; convert it with target.float()"
        )
    if pos_weight is None and weight is None:
        return pointwise_loss(input, target, _logistic, _logistic_gradients, reduction)
    if pos_weight is None:
        loss = pointwise_loss(input, target, _logistic, _logistic_gradients, "none")
    else:
        minus_log_sigmoid = _softplus(-input)  # -log sigma(z)
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * minus_log_sigmoid
    if weight is not None:
        loss = loss * weight.expand_as(loss)
    return _reduce(loss, reduction)


def _logistic(z: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, None]:
    """:math:`(1 - y) z - \\log\\sigma(z) = \\log(1 + e^{z}) - y z`, the logistic loss without
    ``pos_weight``: one softplus, then :math:`-yz` added in place."""
    return torch.addcmul(_softplus(z), y, z, value=-1), None


def _logistic_gradients(z, y, upstream, need_target, slope):
    """:math:`\\partial\\ell/\\partial z = \\sigma(z) - y` and
    :math:`\\partial\\ell/\\partial y = -z`, times the upstream gradient."""
    sigmoid = torch.sigmoid(z)
    # in place unless this backward is recorded (create_graph=True): the second derivative of
    # the sigmoid needs the sigmoid itself
    grad = _scaled(sigmoid - y if torch.is_grad_enabled() else sigmoid.sub_(y), upstream)
    return grad, (-z * upstream if need_target else None)
