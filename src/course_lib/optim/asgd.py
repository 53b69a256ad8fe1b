r"""ASGD: stochastic gradient descent that also keeps a running average of the iterates."""

import torch
from torch import Tensor

from course_lib.optim._base import (
    TensorwiseOptimizer,
    check_lr,
    check_nonnegative,
    check_production_flags,
    scalar,
    step_counter,
)
from course_lib.regularization import coupled_weight_decay

__all__ = ["ASGD", "asgd_update"]


def asgd_update(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    lr: float = 1e-2,
    lambd: float = 1e-4,
    alpha: float = 0.75,
    t0: float = 1e6,
    weight_decay: float = 0,
    maximize: bool = False,
) -> tuple[Tensor, dict]:
    r"""One ASGD step (Polyak & Juditsky, 1992, "Acceleration of Stochastic Approximation by
    Averaging"; the schedule of Bottou, 2012, "Stochastic Gradient Descent Tricks").

    SGD with a decaying step :math:`\eta_t` and a shrink by :math:`\lambda` (``lambd``),
    plus the average :math:`\bar\theta_t` (``ax``) of the iterates from step :math:`t_0` on,
    which is the estimate to use at the end:

    .. math::

        \theta_t = (1 - \lambda\eta_{t-1})\,\theta_{t-1} - \eta_{t-1} g_t, \qquad
        \bar\theta_t = \bar\theta_{t-1} + \mu_{t-1}(\theta_t - \bar\theta_{t-1})

    .. math::

        \eta_t = \frac{\eta}{(1 + \lambda\eta t)^{\alpha}}, \qquad
        \mu_t = \frac{1}{\max(1,\ t - t_0)}

    with :math:`g_t \leftarrow g_t + \lambda_\text{wd}\theta_{t-1}` first when
    ``weight_decay`` is set. Before :math:`t_0`, :math:`\mu = 1` and the "average" is just the
    last iterate. ``state`` holds ``step``, ``eta`` (:math:`\eta_t`), ``mu``
    (:math:`\mu_t`), all 0-dim tensors, and ``ax`` (:math:`\bar\theta`).

    >>> state = {"step": torch.tensor(0.0), "eta": torch.tensor(0.1), "mu": torch.tensor(1.0),
    ...          "ax": torch.zeros(1)}
    >>> param, state = asgd_update(torch.tensor([1.0]), torch.tensor([0.5]), state, lr=0.1,
    ...                            lambd=0.0, t0=0)
    >>> param, state["ax"], state["mu"]
    (tensor([0.9500]), tensor([0.9500]), tensor(1.))
    """
    grad = -grad if maximize else grad
    if weight_decay != 0:
        grad = coupled_weight_decay(grad, param, weight_decay)
    step, eta, mu = state["step"] + 1, state["eta"].item(), state["mu"]
    new_param = param.mul(1 - lambd * eta).add_(grad, alpha=-eta)
    if mu.item() == 1:
        ax = new_param  # the same values: one tensor serves as both
    else:
        ax = state["ax"].add(new_param.sub(state["ax"]).mul_(mu))
    t = step.item()
    # as in torch, eta and mu pass through a tensor of the default dtype
    new_eta = torch.as_tensor(lr / ((1 + lambd * lr * t) ** alpha)).to(state["eta"])
    new_mu = torch.as_tensor(1 / max(1, t - t0)).to(mu)
    return new_param, {"step": step, "eta": new_eta, "mu": new_mu, "ax": ax}


class ASGD(TensorwiseOptimizer):
    r"""Averaged SGD: :func:`asgd_update` for every parameter, with ``torch.optim.ASGD``'s
    signature, defaults and state. The averaged parameters are ``opt.state[p]["ax"]``.

    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = ASGD([w], lr=0.1, lambd=0.0, t0=0)
    >>> for _ in range(3):
    ...     w.grad = torch.tensor([1.0])
    ...     opt.step()
    >>> w.data, opt.state[w]["ax"]
    (tensor([0.7000]), tensor([0.7500]))
    """

    _update = staticmethod(asgd_update)
    _elementwise = True
    _options = ("lr", "lambd", "alpha", "t0", "weight_decay", "maximize")

    @staticmethod
    def _in_place(
        param: Tensor,
        grad: Tensor,
        state: dict,
        *,
        lr: float,
        lambd: float,
        alpha: float,
        t0: float,
        weight_decay: float,
        maximize: bool,
    ) -> None:
        """:func:`asgd_update` written into ``param`` and ``state``: three passes over memory
        (shrink, step, average) where the pure update's new tensors add two copies."""
        grad = -grad if maximize else grad
        step, eta, mu, ax = state["step"], state["eta"], state["mu"], state["ax"]
        step += 1
        if weight_decay != 0:
            grad = coupled_weight_decay(grad, param, weight_decay)
        eta_value = eta.item()
        param.mul_(1 - lambd * eta_value).add_(grad, alpha=-eta_value)
        if mu.item() == 1:
            ax.copy_(param)
        else:
            ax.add_(param.sub(ax).mul_(mu))
        t = step.item()
        eta.copy_(torch.as_tensor(lr / ((1 + lambd * lr * t) ** alpha)))
        mu.copy_(torch.as_tensor(1 / max(1, t - t0)))

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        check_lr(lr)
        check_nonnegative(weight_decay, "weight_decay")
        check_production_flags(
            foreach=foreach, differentiable=differentiable, capturable=capturable
        )
        defaults = dict(
            lr=lr,
            lambd=lambd,
            alpha=alpha,
            t0=t0,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        lr = scalar(group["lr"])
        return {
            "step": step_counter().to(param.device),
            "eta": step_counter(lr).to(param.device),
            "mu": step_counter(1.0).to(param.device),
            "ax": torch.zeros_like(param, memory_format=torch.preserve_format),
        }
