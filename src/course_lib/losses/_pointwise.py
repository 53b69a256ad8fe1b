"""Pointwise losses with their derivative written out: one autograd node per loss.

A loss such as the squared error is a chain of elementwise steps. Left to autograd, every
step stores its own output and replays a backward step of its own: for a large batch that is
several passes over memory in each direction, against the single fused kernel of torch. Here
a loss states two things instead,

- ``value(input, target)``: the elementwise loss :math:`\\ell(\\hat y, y)`, in a freshly
  allocated tensor that it may update in place (the steps add no memory);
- ``gradients(input, target, upstream, need_target)``: :math:`\\partial\\ell/\\partial\\hat y`
  and (when ``need_target``) :math:`\\partial\\ell/\\partial y`, times the upstream gradient,
  recomputed from the inputs (the only tensors kept for the backward pass, as torch keeps
  them),

and :class:`PointwiseLoss` reduces the value and scales the upstream gradient of the
reduction. The derivative is computed with differentiable operations on the saved inputs, so
second derivatives (``create_graph=True``) work too.
"""

from collections.abc import Callable

import torch

from ._reduction import _reduce

Value = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Gradients = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, bool], tuple[torch.Tensor, torch.Tensor | None]
]


class PointwiseLoss(torch.autograd.Function):
    """``reduction`` of ``value(input, target)``, whose backward pass is ``gradients``.

    ``gradients(input, target, upstream, need_target)`` returns the gradients for ``input``
    and for ``target`` (``None`` unless ``need_target``). ``upstream`` is the gradient of the
    elementwise loss: the incoming tensor for ``"none"``, the incoming 0-dim gradient for
    ``"sum"``, divided by :math:`N` for ``"mean"``. Broadcast inputs get gradients of the broadcast shape, which
    autograd sums back to each input's shape.
    """

    @staticmethod
    def forward(ctx, input, target, value: Value, gradients: Gradients, reduction: str):
        ctx.save_for_backward(input, target)
        ctx.gradients, ctx.reduction = gradients, reduction
        loss = value(input, target)
        ctx.numel = loss.numel()
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, upstream):
        input, target = ctx.saved_tensors
        if ctx.reduction == "mean":
            upstream = upstream / ctx.numel
        wants_input, wants_target = ctx.needs_input_grad[:2]
        grad_input, grad_target = ctx.gradients(input, target, upstream, wants_target)
        return grad_input if wants_input else None, grad_target, None, None, None
