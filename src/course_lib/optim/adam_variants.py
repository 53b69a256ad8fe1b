r"""Two refinements of Adam: NAdam (Nesterov's look-ahead) and RAdam (a rectified start)."""

import torch
from torch import Tensor

from course_lib.optim._base import (
    TensorwiseOptimizer,
    apply_weight_decay,
    check_nonnegative,
    check_production_flags,
    step_counter,
    zero_state,
)
from course_lib.optim.adam import _check_adam_family
from course_lib.regularization import coupled_weight_decay

__all__ = ["NAdam", "RAdam", "nadam_update", "radam_update"]


def nadam_update(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    lr: float = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> tuple[Tensor, dict]:
    r"""One NAdam step (Dozat, 2016, "Incorporating Nesterov Momentum into Adam").

    Adam with Nesterov's look-ahead: the step mixes the current gradient and the updated first
    moment, with a momentum :math:`\mu_t` that warms up over the first steps
    (:math:`\psi` = ``momentum_decay``):

    .. math::

        \mu_t = \beta_1\bigl(1 - \tfrac12\, 0.96^{t\psi}\bigr), \qquad
        \Pi_t = \textstyle\prod_{s \le t} \mu_s, \qquad
        \theta_t = \theta_{t-1} - \eta\left(\frac{(1-\mu_t)\, g_t}{1 - \Pi_t}
            + \frac{\mu_{t+1}\, m_t}{1 - \Pi_t\,\mu_{t+1}}\right)
            \Big/ \left(\sqrt{\frac{v_t}{1-\beta_2^t}} + \epsilon\right)

    with :math:`m_t, v_t` as in Adam and weight decay as in :func:`adam_update`. ``state``
    holds ``step``, ``mu_product`` (:math:`\Pi`, a 0-dim tensor), ``exp_avg`` and
    ``exp_avg_sq``.

    >>> zeros = torch.zeros(1)
    >>> state = {"step": torch.tensor(0.0), "mu_product": torch.tensor(1.0),
    ...          "exp_avg": zeros, "exp_avg_sq": zeros}
    >>> param, state = nadam_update(torch.tensor([1.0]), torch.tensor([0.5]), state, lr=0.1)
    >>> param, state["mu_product"]
    (tensor([0.8944]), tensor(0.4501))
    """
    beta1, beta2 = betas
    grad = -grad if maximize else grad
    param, grad = apply_weight_decay(
        param, grad, lr=lr, weight_decay=weight_decay, decoupled=decoupled_weight_decay
    )
    step = state["step"] + 1
    t = step.item()
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * momentum_decay)))
    mu_product = state["mu_product"] * mu
    exp_avg = state["exp_avg"].lerp(grad, 1 - beta1)
    exp_avg_sq = state["exp_avg_sq"].mul(beta2).addcmul_(grad, grad, value=1 - beta2)
    denom = exp_avg_sq.div(1 - beta2**t).sqrt_().add_(eps)
    product = mu_product.item()
    new_param = torch.addcdiv(param, grad, denom, value=-lr * (1.0 - mu) / (1.0 - product))
    new_param.addcdiv_(exp_avg, denom, value=(-lr * mu_next) / (1.0 - product * mu_next))
    new_state = {"step": step, "mu_product": mu_product, "exp_avg": exp_avg}
    return new_param, {**new_state, "exp_avg_sq": exp_avg_sq}


def radam_update(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> tuple[Tensor, dict]:
    r"""One RAdam step (Liu et al., 2020, "On the Variance of the Adaptive Learning Rate and
    Beyond").

    Early on, :math:`v_t` averages too few gradients to be trusted. RAdam estimates the length
    :math:`\rho_t` of the simple moving average that :math:`v_t` approximates and, while it is
    short (:math:`\rho_t \le 5`), takes a momentum-SGD step; afterwards an Adam step scaled by
    the rectification :math:`r_t`:

    .. math::

        \rho_\infty = \frac{2}{1-\beta_2} - 1, \qquad
        \rho_t = \rho_\infty - \frac{2 t \beta_2^t}{1-\beta_2^t}, \qquad
        r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}

    .. math::

        \theta_t = \theta_{t-1} - \eta\,\hat m_t \cdot
            \begin{cases} r_t\,\dfrac{\sqrt{1-\beta_2^t}}{\sqrt{v_t} + \epsilon}
                & \rho_t > 5 \\ 1 & \text{otherwise} \end{cases}

    ``state`` holds ``step``, ``exp_avg`` and ``exp_avg_sq``; weight decay as in
    :func:`adam_update`.

    >>> zeros = torch.zeros(1)
    >>> state = {"step": torch.tensor(0.0), "exp_avg": zeros, "exp_avg_sq": zeros}
    >>> radam_update(torch.tensor([1.0]), torch.tensor([0.5]), state, lr=0.1)[0]
    tensor([0.9500])
    """
    beta1, beta2 = betas
    grad = -grad if maximize else grad
    param, grad = apply_weight_decay(
        param, grad, lr=lr, weight_decay=weight_decay, decoupled=decoupled_weight_decay
    )
    step = state["step"] + 1
    t = step.item()
    exp_avg = state["exp_avg"].lerp(grad, 1 - beta1)
    exp_avg_sq = state["exp_avg_sq"].mul(beta2).addcmul_(grad, grad, value=1 - beta2)
    bias_correction2 = 1 - beta2**t
    update = exp_avg.div(1 - beta1**t).mul_(lr)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * (beta2**t) / bias_correction2
    if rho_t > 5.0:
        rect = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
        update.mul_(bias_correction2**0.5 / exp_avg_sq.sqrt().add_(eps)).mul_(rect**0.5)
    new_param = torch.add(param, update, alpha=-1.0, out=update)
    return new_param, {"step": step, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}


class NAdam(TensorwiseOptimizer):
    r"""NAdam: :func:`nadam_update` for every parameter, with ``torch.optim.NAdam``'s
    signature, defaults and state.

    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = NAdam([w], lr=0.1)
    >>> w.grad = torch.tensor([0.5])
    >>> opt.step()
    >>> w.data, opt.state[w]["mu_product"]
    (tensor([0.8944]), tensor(0.4501))
    """

    _update = staticmethod(nadam_update)
    _elementwise = True
    _options = (
        "lr",
        "betas",
        "eps",
        "weight_decay",
        "momentum_decay",
        "decoupled_weight_decay",
        "maximize",
    )

    @staticmethod
    def _in_place(
        param: Tensor,
        grad: Tensor,
        state: dict,
        *,
        lr: float,
        betas: tuple[float, float],
        eps: float,
        weight_decay: float,
        momentum_decay: float,
        maximize: bool,
        decoupled_weight_decay: bool,
    ) -> None:
        """:func:`nadam_update` written into ``param`` and ``state``: the moments, the product
        of the momentum coefficients and the parameter change in place."""
        beta1, beta2 = betas
        grad = -grad if maximize else grad
        if weight_decay != 0 and decoupled_weight_decay:
            param.mul_(1 - lr * weight_decay)
        elif weight_decay != 0:
            grad = coupled_weight_decay(grad, param, weight_decay)
        state["step"] += 1
        t = state["step"].item()
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * momentum_decay)))
        product = state["mu_product"].mul_(mu).item()
        exp_avg = state["exp_avg"].lerp_(grad, 1 - beta1)
        exp_avg_sq = state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = exp_avg_sq.div(1 - beta2**t).sqrt_().add_(eps)
        param.addcdiv_(grad, denom, value=-lr * (1.0 - mu) / (1.0 - product))
        param.addcdiv_(exp_avg, denom, value=(-lr * mu_next) / (1.0 - product * mu_next))

    def __init__(
        self,
        params,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_adam_family(lr, betas, eps, weight_decay)
        check_nonnegative(momentum_decay, "momentum_decay")
        check_production_flags(
            foreach=foreach, capturable=capturable, differentiable=differentiable
        )
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        state = zero_state(param, "exp_avg", "exp_avg_sq")
        return {"step": state.pop("step"), "mu_product": step_counter(1.0), **state}


class RAdam(TensorwiseOptimizer):
    r"""RAdam: :func:`radam_update` for every parameter, with ``torch.optim.RAdam``'s
    signature, defaults and state.

    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = RAdam([w], lr=0.1)
    >>> w.grad = torch.tensor([0.5])
    >>> opt.step()
    >>> w.data
    tensor([0.9500])
    """

    _update = staticmethod(radam_update)
    _elementwise = True
    _options = ("lr", "betas", "eps", "weight_decay", "decoupled_weight_decay", "maximize")

    @staticmethod
    def _in_place(
        param: Tensor,
        grad: Tensor,
        state: dict,
        *,
        lr: float,
        betas: tuple[float, float],
        eps: float,
        weight_decay: float,
        maximize: bool,
        decoupled_weight_decay: bool,
    ) -> None:
        """:func:`radam_update` written into ``param`` and ``state``: the moments and the
        parameter change in place; only the (rectified) step is new."""
        beta1, beta2 = betas
        grad = -grad if maximize else grad
        if weight_decay != 0 and decoupled_weight_decay:
            param.mul_(1 - lr * weight_decay)
        elif weight_decay != 0:
            grad = coupled_weight_decay(grad, param, weight_decay)
        state["step"] += 1
        t = state["step"].item()
        exp_avg = state["exp_avg"].lerp_(grad, 1 - beta1)
        exp_avg_sq = state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_correction2 = 1 - beta2**t
        update = exp_avg.div(1 - beta1**t).mul_(lr)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2**t) / bias_correction2
        if rho_t > 5.0:
            rect = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            update.mul_(bias_correction2**0.5 / exp_avg_sq.sqrt().add_(eps)).mul_(rect**0.5)
        param.add_(update, alpha=-1.0)

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_adam_family(lr, betas, eps, weight_decay)
        check_production_flags(
            foreach=foreach, capturable=capturable, differentiable=differentiable
        )
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            decoupled_weight_decay=decoupled_weight_decay,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        return zero_state(param, "exp_avg", "exp_avg_sq")
