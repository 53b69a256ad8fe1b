"""Regularization: penalties on the loss, weight decay, dropout.

Weight decay comes in two named pieces that the optimizers of :mod:`course_lib.optim` compose
(optax-style), instead of burying a flag inside every update rule:

- :func:`coupled_weight_decay` adds :math:`\\lambda\\theta` to the gradient (the L2 penalty
  :math:`\\tfrac{\\lambda}{2}\\lVert\\theta\\rVert^2` differentiated), so an adaptive optimizer
  rescales the decay along with the gradient;
- :func:`decoupled_weight_decay` shrinks the parameters directly,
  :math:`\\theta \\leftarrow (1 - \\eta\\lambda)\\,\\theta`, outside the adaptive rescaling
  (Loshchilov & Hutter, 2019, "Decoupled Weight Decay Regularization").
"""

import torch


def coupled_weight_decay(grad: torch.Tensor, param: torch.Tensor, weight_decay: float) -> torch.Tensor:
    """L2 in the gradient: :math:`g \\leftarrow g + \\lambda\\theta` (out of place).

    This is what ``weight_decay=`` does in ``torch.optim.SGD``, ``Adam``, ``RMSprop`` and most
    other optimizers.

    >>> coupled_weight_decay(torch.tensor([1.0]), torch.tensor([2.0]), 0.1)
    tensor([1.2000])
    """
    return grad.add(param, alpha=weight_decay)


def decoupled_weight_decay(param: torch.Tensor, *, lr: float, weight_decay: float) -> torch.Tensor:
    """Decoupled decay: :math:`\\theta \\leftarrow (1 - \\eta\\lambda)\\,\\theta` (out of place).

    This is what ``weight_decay=`` does in ``torch.optim.AdamW`` (and in NAdam/RAdam with
    ``decoupled_weight_decay=True``), applied before the adaptive update.

    >>> decoupled_weight_decay(torch.tensor([2.0]), lr=0.1, weight_decay=0.5)
    tensor([1.9000])
    """
    return param.mul(1 - lr * weight_decay)
