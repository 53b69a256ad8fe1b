r"""Stochastic gradient descent, with momentum, dampening and Nesterov's look-ahead."""

from torch import Tensor

from course_lib.optim._base import (
    TensorwiseOptimizer,
    check,
    check_lr,
    check_nonnegative,
    check_production_flags,
    descend,
)
from course_lib.regularization import coupled_weight_decay

__all__ = ["SGD", "sgd_direction", "sgd_update"]


def sgd_direction(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    momentum: float = 0,
    dampening: float = 0,
    weight_decay: float = 0,
    nesterov: bool = False,
    maximize: bool = False,
) -> tuple[Tensor, dict]:
    r"""The direction :math:`d_t` of SGD's step :math:`\theta_t = \theta_{t-1} - \eta d_t` for
    one tensor, and the new state.

    With weight decay :math:`\lambda` folded into the gradient (L2 in the gradient) and, when
    :math:`\mu \ne 0`, a momentum buffer :math:`b_t` (Polyak, 1964; Sutskever et al., 2013,
    "On the importance of initialization and momentum in deep learning"):

    .. math::

        g_t \leftarrow g_t + \lambda\theta_{t-1}, \qquad
        b_t = \begin{cases} g_t & t = 1 \\ \mu b_{t-1} + (1-\tau) g_t & t > 1 \end{cases},
        \qquad
        d_t = \begin{cases} g_t + \mu b_t & \text{nesterov} \\
        b_t & \text{otherwise} \end{cases}

    Without momentum :math:`d_t = g_t`: with neither weight decay nor ``maximize``, the
    gradient tensor itself (no new tensor). Nesterov's variant (Nesterov, 1983) looks ahead
    along the buffer. ``maximize`` ascends: :math:`g_t` is the negated gradient. ``state``
    holds ``"momentum_buffer"`` once momentum is used.

    >>> import torch
    >>> direction, state = sgd_direction(torch.tensor([1.0]), torch.tensor([0.5]), {}, momentum=0.9)
    >>> sgd_direction(torch.tensor([1.0]), torch.tensor([0.5]), state, momentum=0.9)[0]
    tensor([0.9500])
    """
    grad = -grad if maximize else grad
    if weight_decay != 0:
        grad = coupled_weight_decay(grad, param, weight_decay)
    if momentum == 0:
        return grad, {}
    buf = state.get("momentum_buffer")
    buf = grad.clone() if buf is None else buf.mul(momentum).add_(grad, alpha=1 - dampening)
    direction = grad.add(buf, alpha=momentum) if nesterov else buf
    return direction, {"momentum_buffer": buf}


def sgd_update(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    lr: float = 1e-3,
    momentum: float = 0,
    dampening: float = 0,
    weight_decay: float = 0,
    nesterov: bool = False,
    maximize: bool = False,
) -> tuple[Tensor, dict]:
    r"""One step of SGD for one tensor, :math:`\theta_t = \theta_{t-1} - \eta d_t` with the
    direction :math:`d_t` of :func:`sgd_direction` (the gradient, or a momentum buffer):
    returns the new parameter and the new state.

    >>> import torch
    >>> param, grad = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 0.5])
    >>> param, state = sgd_update(param, grad, {}, lr=0.1, momentum=0.9)
    >>> param, state["momentum_buffer"]
    (tensor([ 0.9500, -2.0500]), tensor([0.5000, 0.5000]))
    >>> sgd_update(param, grad, state, lr=0.1, momentum=0.9)[0]
    tensor([ 0.8550, -2.1450])
    """
    direction, new_state = sgd_direction(
        param,
        grad,
        state,
        momentum=momentum,
        dampening=dampening,
        weight_decay=weight_decay,
        nesterov=nesterov,
        maximize=maximize,
    )
    return descend(param, direction, lr=lr), new_state


class SGD(TensorwiseOptimizer):
    r"""Stochastic gradient descent (optionally with momentum): :func:`sgd_update` for every
    parameter, with ``torch.optim.SGD``'s signature, defaults and state.

    Sparse gradients (``nn.Embedding(sparse=True)``) are accepted, as in torch.

    >>> import torch
    >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> w.grad = torch.tensor([0.5, 0.5])
    >>> opt.step(); opt.step()
    >>> w.data, opt.state[w]["momentum_buffer"]
    (tensor([ 0.8550, -2.1450]), tensor([0.9500, 0.9500]))
    """

    _update = staticmethod(sgd_update)
    _elementwise = True
    _options = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")
    _sparse_grads = True

    @staticmethod
    def _in_place(
        param: Tensor,
        grad: Tensor,
        state: dict,
        *,
        lr: float,
        momentum: float,
        dampening: float,
        weight_decay: float,
        nesterov: bool,
        maximize: bool,
    ) -> None:
        """:func:`sgd_update` written into ``param`` and ``state``: the momentum buffer
        decays and takes the gradient in place, and the parameter descends in place."""
        grad = -grad if maximize else grad
        if weight_decay != 0:
            grad = coupled_weight_decay(grad, param, weight_decay)
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.clone()
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - dampening)
            grad = grad.add(buf, alpha=momentum) if nesterov else buf
        param.add_(grad, alpha=-lr)

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float | Tensor = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_lr(lr)
        check_nonnegative(momentum, "momentum")
        check_nonnegative(weight_decay, "weight_decay")
        check(
            not nesterov or (momentum > 0 and dampening == 0),
            "Nesterov momentum requires a momentum and zero dampening "
            f"(got momentum={momentum}, dampening={dampening})",
        )
        check_production_flags(foreach=foreach, differentiable=differentiable, fused=fused)
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)
