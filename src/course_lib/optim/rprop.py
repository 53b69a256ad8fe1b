r"""Rprop: resilient backpropagation, steps from the sign of the gradient alone."""

import torch
from torch import Tensor

from course_lib.optim._base import (
    TensorwiseOptimizer,
    check,
    check_lr,
    check_production_flags,
    scalar,
    step_counter,
)

__all__ = ["Rprop", "rprop_update"]


def rprop_update(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    etas: tuple[float, float] = (0.5, 1.2),
    step_sizes: tuple[float, float] = (1e-6, 50),
    maximize: bool = False,
) -> tuple[Tensor, dict]:
    r"""One Rprop step (Riedmiller & Braun, 1993, "A Direct Adaptive Method for Faster
    Backpropagation Learning: The RPROP Algorithm").

    Every coordinate has its own step size :math:`\Delta`; the gradient's magnitude is
    ignored. While the sign of :math:`g` stays, the step grows by :math:`\eta_+`; when it
    flips (a minimum was jumped over) the step shrinks by :math:`\eta_-` and this coordinate
    pauses for one step (its gradient counts as 0, also for the next comparison):

    .. math::

        \Delta_t = \operatorname{clip}\Bigl(\Delta_{t-1} \cdot
            \begin{cases} \eta_+ & g_t\,g_{t-1} > 0 \\ \eta_- & g_t\,g_{t-1} < 0 \\
            1 & \text{otherwise} \end{cases},\ \Delta_{\min},\ \Delta_{\max}\Bigr), \qquad
        \theta_t = \theta_{t-1} - \operatorname{sign}(g_t)\,\Delta_t

    ``etas`` is :math:`(\eta_-, \eta_+)`, ``step_sizes`` is
    :math:`(\Delta_{\min}, \Delta_{\max})`; :math:`\Delta_0` is the learning rate. ``state``
    holds ``step``, ``prev`` (:math:`g_{t-1}`, zeroed where the sign flipped) and
    ``step_size`` (:math:`\Delta`). It is meant for full-batch training: minibatch noise
    flips signs at random.

    >>> state = {"step": torch.tensor(0.0), "prev": torch.tensor([1.0, 1.0]),
    ...          "step_size": torch.tensor([0.1, 0.1])}
    >>> param, state = rprop_update(torch.zeros(2), torch.tensor([2.0, -3.0]), state)
    >>> param, state["step_size"], state["prev"]
    (tensor([-0.1200,  0.0000]), tensor([0.1200, 0.0500]), tensor([2., 0.]))
    """
    eta_minus, eta_plus = etas
    grad = -grad if maximize else grad
    sign = grad.mul(state["prev"]).sign()
    same, flipped = sign.gt(0), sign.lt(0)
    factor = sign.fill_(1).masked_fill_(same, eta_plus).masked_fill_(flipped, eta_minus)
    step_size = state["step_size"].mul(factor).clamp_(*step_sizes)
    grad = grad.clone(memory_format=torch.preserve_format).masked_fill_(flipped, 0)
    # factor is spent: its memory takes sign(g) and then the new parameter
    direction = torch.sign(grad, out=factor)
    new_param = torch.addcmul(param, direction, step_size, value=-1, out=direction)
    return new_param, {"step": state["step"] + 1, "prev": grad, "step_size": step_size}


class Rprop(TensorwiseOptimizer):
    r"""Rprop: :func:`rprop_update` for every parameter, with ``torch.optim.Rprop``'s
    signature, defaults and state (every step size starts at ``lr``).

    >>> w = torch.nn.Parameter(torch.tensor([0.0, 0.0]))
    >>> opt = Rprop([w], lr=0.1)
    >>> for g in ([2.0, -3.0], [1.0, 3.0]):
    ...     w.grad = torch.tensor(g)
    ...     opt.step()
    >>> w.data, opt.state[w]["step_size"]
    (tensor([-0.2200,  0.1000]), tensor([0.1200, 0.0500]))
    """

    _update = staticmethod(rprop_update)
    _elementwise = True
    _options = ("etas", "step_sizes", "maximize")

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_lr(lr)
        check(
            0.0 < etas[0] < 1.0 < etas[1],
            f"Invalid eta values: {etas[0]}, {etas[1]} (need 0 < etaminus < 1 < etaplus)",
        )
        check_production_flags(
            capturable=capturable, foreach=foreach, differentiable=differentiable
        )
        defaults = dict(
            lr=lr,
            etas=etas,
            step_sizes=step_sizes,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        lr = scalar(group["lr"])
        return {
            "step": step_counter(),
            "prev": torch.zeros_like(param, memory_format=torch.preserve_format),
            "step_size": torch.full_like(param.grad, lr),
        }
