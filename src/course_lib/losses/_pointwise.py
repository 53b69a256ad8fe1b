"""Pointwise losses with their derivative written out: one autograd node per loss.

A loss such as the squared error is a chain of elementwise steps. Left to autograd, every
step stores its own output and replays a backward step of its own: for a large batch that is
several passes over memory in each direction, against the single fused kernel of torch. Here
a loss states two things instead,

- ``value(input, target) -> (loss, slope)``: the elementwise loss :math:`\\ell(\\hat y, y)`, in
  a freshly allocated tensor that it may update in place (the steps add no memory), and the
  derivative :math:`\\partial\\ell/\\partial\\hat y` when the computation of the loss produced it
  on the way (else ``None``);
- ``gradients(input, target, upstream, need_target, slope)``:
  :math:`\\partial\\ell/\\partial\\hat y` and (when ``need_target``)
  :math:`\\partial\\ell/\\partial y`, times the upstream gradient, recomputed from the inputs
  (the tensors torch keeps too), or made in place from the ``slope`` of the forward pass when
  there is one,

and :class:`PointwiseLoss` reduces the value and scales the upstream gradient of the
reduction. The recomputation uses differentiable operations on the saved inputs, so second
derivatives (``create_graph=True``) work too.
"""

from collections.abc import Callable

import torch

from ._reduction import _reduce

Value = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]
Gradients = Callable[..., tuple[torch.Tensor, torch.Tensor | None]]


def _scaled(tensor: torch.Tensor, upstream: torch.Tensor) -> torch.Tensor:
    """``tensor * upstream``, in place in ``tensor`` (a fresh tensor of the backward pass)
    unless autograd records this backward (``create_graph=True``) or a functorch transform
    runs it with a batched ``upstream`` (vectorized Jacobians), where it must stay out of
    place."""
    functorch = torch._C._functorch
    batched = functorch.is_functorch_wrapped_tensor(upstream)
    batched = batched or functorch.is_legacy_batchedtensor(upstream)  # autograd's own vmap
    if torch.is_grad_enabled() or batched or torch._C._are_functorch_transforms_active():
        return tensor * upstream
    return tensor.mul_(upstream)


class PointwiseLoss(torch.autograd.Function):
    """``reduction`` of ``value(input, target)``, whose backward pass is ``gradients``.

    ``gradients(input, target, upstream, need_target, slope)`` returns the gradients for
    ``input`` and for ``target`` (``None`` unless ``need_target``). ``upstream`` is the
    gradient of the elementwise loss: the incoming tensor for ``"none"``, the incoming 0-dim
    gradient for ``"sum"``, divided by :math:`N` for ``"mean"``. Broadcast inputs get
    gradients of the broadcast shape, which autograd sums back to each input's shape.

    The ``slope`` kept from the forward pass is handed to the first backward pass only,
    which may turn it into the gradient in place (no new memory); a second backward pass
    through a retained graph, or one that records a graph of its own, gets ``None`` and
    recomputes.
    """

    generate_vmap_rule = True  # torch.func transforms (grad, vmap, jacrev) run it as written

    @staticmethod
    def forward(input, target, value: Value, gradients: Gradients, reduction: str):
        loss, slope = value(input, target)
        return _reduce(loss, reduction), slope

    @staticmethod
    def setup_context(ctx, inputs, output):
        input, target, _, gradients, reduction = inputs
        ctx.save_for_backward(input, target)
        ctx.gradients, ctx.reduction = gradients, reduction
        ctx.numel = torch.broadcast_shapes(input.shape, target.shape).numel()
        slope = output[1]
        if slope is not None:
            ctx.mark_non_differentiable(slope)
        ctx.slope = slope  # kept off save_for_backward: the first backward may consume it

    @staticmethod
    def backward(ctx, upstream, _):
        input, target = ctx.saved_tensors
        if ctx.reduction == "mean":
            upstream = upstream / ctx.numel
        slope, ctx.slope = ctx.slope, None
        if torch.is_grad_enabled():  # create_graph=True: differentiable recomputation
            slope = None
        wants_input, wants_target = ctx.needs_input_grad[:2]
        grad_input, grad_target = ctx.gradients(input, target, upstream, wants_target, slope)
        return grad_input if wants_input else None, grad_target, None, None, None


def pointwise_loss(input, target, value: Value, gradients: Gradients, reduction: str):
    """The reduced loss of :class:`PointwiseLoss` (without the slope it keeps for backward)."""
    return PointwiseLoss.apply(input, target, value, gradients, reduction)[0]
