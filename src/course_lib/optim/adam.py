r"""Adam (with AMSGrad), AdamW and Adamax.

All keep a first moment :math:`m_t` (moving average of :math:`g`) and a second moment
(:math:`v_t`, or Adamax's infinity norm :math:`u_t`) per parameter, and divide one by the
root of the other, so every coordinate gets its own step size. NAdam and RAdam live in
:mod:`course_lib.optim.adam_variants`, SparseAdam in :mod:`course_lib.optim.sparse_adam`.
"""

import torch
from torch import Tensor

from course_lib.optim._base import (
    TensorwiseOptimizer,
    apply_weight_decay,
    check,
    check_betas,
    check_lr,
    check_nonnegative,
    check_production_flags,
    zero_state,
)
from course_lib.regularization import coupled_weight_decay

__all__ = [
    "Adam",
    "AdamW",
    "Adamax",
    "adam_update",
    "adamax_update",
    "adamw_update",
]


def adam_update(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
) -> tuple[Tensor, dict]:
    r"""One Adam step for one tensor (Kingma & Ba, 2015, "Adam: A Method for Stochastic
    Optimization"): returns the new parameter and the new state.

    .. math::

        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \qquad
        \theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
                   \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    AMSGrad (Reddi et al., 2018, "On the Convergence of Adam and Beyond") divides by the
    running maximum :math:`\max_{s \le t} v_s` instead of :math:`v_t`. Weight decay
    :math:`\lambda` is L2 in the gradient, or decoupled (:math:`\theta \leftarrow
    (1-\eta\lambda)\theta` first, which is AdamW). ``state`` holds ``step`` (a 0-dim
    tensor), ``exp_avg`` (:math:`m`), ``exp_avg_sq`` (:math:`v`) and, for AMSGrad,
    ``max_exp_avg_sq``.

    >>> zeros = torch.zeros(2)
    >>> state = {"step": torch.tensor(0.0), "exp_avg": zeros, "exp_avg_sq": zeros}
    >>> param, state = adam_update(torch.tensor([1.0, -2.0]), torch.tensor([0.5, -3.0]),
    ...                            state, lr=0.1)
    >>> param, state["step"], state["exp_avg"]
    (tensor([ 0.9000, -1.9000]), tensor(1.), tensor([ 0.0500, -0.3000]))
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
    new_state = {"step": step, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
    if amsgrad:
        exp_avg_sq = torch.maximum(state["max_exp_avg_sq"], exp_avg_sq)
        new_state["max_exp_avg_sq"] = exp_avg_sq
    denom = exp_avg_sq.sqrt().div_((1 - beta2**t) ** 0.5).add_(eps)
    step_size = lr / (1 - beta1**t)
    # the new parameter goes into denom's memory: denom is not needed afterwards
    return torch.addcdiv(param, exp_avg, denom, value=-step_size, out=denom), new_state


def adamw_update(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    maximize: bool = False,
) -> tuple[Tensor, dict]:
    r"""One AdamW step (Loshchilov & Hutter, 2019, "Decoupled Weight Decay Regularization"):
    decoupled weight decay, then the Adam update of :func:`adam_update` without L2.

    .. math::

        \theta_{t-1} \leftarrow (1 - \eta\lambda)\,\theta_{t-1}, \qquad
        \theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
                   \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    The decay does not pass through :math:`\sqrt{v_t}`, so every weight shrinks at the same
    rate :math:`\eta\lambda`, however large its gradients.

    >>> zeros = torch.zeros(1)
    >>> state = {"step": torch.tensor(0.0), "exp_avg": zeros, "exp_avg_sq": zeros}
    >>> adamw_update(torch.tensor([2.0]), torch.tensor([0.0]), state, lr=0.1,
    ...              weight_decay=0.5)[0]
    tensor([1.9000])
    """
    return adam_update(
        param,
        grad,
        state,
        lr=lr,
        betas=betas,
        eps=eps,
        weight_decay=weight_decay,
        amsgrad=amsgrad,
        maximize=maximize,
        decoupled_weight_decay=True,
    )


def adamax_update(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    lr: float = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    maximize: bool = False,
) -> tuple[Tensor, dict]:
    r"""One Adamax step (Kingma & Ba, 2015, section 7): Adam with the infinity norm.

    The second moment becomes an exponentially weighted maximum :math:`u_t`, which needs no
    bias correction:

    .. math::

        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        u_t = \max(\beta_2 u_{t-1},\ |g_t| + \epsilon), \qquad
        \theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,\frac{m_t}{u_t}

    with :math:`g_t \leftarrow g_t + \lambda\theta_{t-1}` first when :math:`\lambda \ne 0`.
    ``state`` holds ``step``, ``exp_avg`` (:math:`m`) and ``exp_inf`` (:math:`u`).

    >>> zeros = torch.zeros(2)
    >>> state = {"step": torch.tensor(0.0), "exp_avg": zeros, "exp_inf": zeros}
    >>> param, state = adamax_update(torch.tensor([1.0, 1.0]), torch.tensor([2.0, -0.5]),
    ...                              state, lr=0.1)
    >>> param, state["exp_inf"]
    (tensor([0.9000, 1.1000]), tensor([2.0000, 0.5000]))
    """
    beta1, beta2 = betas
    grad = -grad if maximize else grad
    param, grad = apply_weight_decay(param, grad, lr=lr, weight_decay=weight_decay, decoupled=False)
    step = state["step"] + 1
    exp_avg = state["exp_avg"].lerp(grad, 1 - beta1)
    exp_inf = state["exp_inf"].mul(beta2)
    bound = grad.abs().add_(eps)
    torch.maximum(exp_inf, bound, out=exp_inf)
    step_size = lr / (1 - beta1 ** step.item())
    # bound is spent: its memory takes the new parameter
    new_param = torch.addcdiv(param, exp_avg, exp_inf, value=-step_size, out=bound)
    return new_param, {"step": step, "exp_avg": exp_avg, "exp_inf": exp_inf}


def _check_adam_family(lr, betas, eps, weight_decay) -> None:
    check_lr(lr)
    check_nonnegative(eps, "epsilon")
    check_betas(betas)
    check_nonnegative(weight_decay, "weight_decay")


class Adam(TensorwiseOptimizer):
    r"""Adam (and AMSGrad, and with ``decoupled_weight_decay=True`` AdamW): :func:`adam_update`
    for every parameter, with ``torch.optim.Adam``'s signature, defaults and state.

    >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    >>> opt = Adam([w], lr=0.1)
    >>> w.grad = torch.tensor([0.5, -3.0])
    >>> opt.step()
    >>> w.data, sorted(opt.state[w])
    (tensor([ 0.9000, -1.9000]), ['exp_avg', 'exp_avg_sq', 'step'])
    """

    _update = staticmethod(adam_update)
    _elementwise = True
    _options = (
        "lr",
        "betas",
        "eps",
        "weight_decay",
        "amsgrad",
        "maximize",
        "decoupled_weight_decay",
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
        amsgrad: bool,
        maximize: bool,
        decoupled_weight_decay: bool,
    ) -> None:
        """:func:`adam_update` written into ``param`` and ``state``: the moments (and their
        running maximum) and the parameter change in place; only the denominator is new."""
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
        if amsgrad:
            running_max = state["max_exp_avg_sq"]
            exp_avg_sq = torch.maximum(running_max, exp_avg_sq, out=running_max)
        denom = exp_avg_sq.sqrt().div_((1 - beta2**t) ** 0.5).add_(eps)
        step_size = lr / (1 - beta1**t)
        param.addcdiv_(exp_avg, denom, value=-step_size)

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        _check_adam_family(lr, betas, eps, weight_decay)
        check(
            all(isinstance(b, float) for b in betas) or all(isinstance(b, Tensor) for b in betas),
            f"betas must be either both floats or both Tensors, got {betas!r} "
            "(write 0.0 rather than 0)",
        )
        check_production_flags(
            foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused
        )
        defaults = dict(
            lr=lr,
            betas=tuple(float(b) for b in betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        names = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())
        return zero_state(param, *names)


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay (:func:`adamw_update`), with
    ``torch.optim.AdamW``'s signature (``weight_decay=1e-2``), defaults and state.

    >>> w = torch.nn.Parameter(torch.tensor([2.0]))
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = torch.tensor([0.0])
    >>> opt.step()
    >>> w.data
    tensor([1.9000])
    """

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


class Adamax(TensorwiseOptimizer):
    r"""Adamax: :func:`adamax_update` for every parameter, with ``torch.optim.Adamax``'s
    signature, defaults and state.

    >>> w = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
    >>> opt = Adamax([w], lr=0.1)
    >>> w.grad = torch.tensor([2.0, -0.5])
    >>> opt.step()
    >>> w.data
    tensor([0.9000, 1.1000])
    """

    _update = staticmethod(adamax_update)
    _elementwise = True
    _options = ("lr", "betas", "eps", "weight_decay", "maximize")

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
    ) -> None:
        """:func:`adamax_update` written into ``param`` and ``state``: both moments and the
        parameter change in place, with no new tensors to copy back."""
        beta1, beta2 = betas
        grad = -grad if maximize else grad
        step, exp_avg, exp_inf = state["step"], state["exp_avg"], state["exp_inf"]
        step += 1
        if weight_decay != 0:
            grad = coupled_weight_decay(grad, param, weight_decay)
        exp_avg.lerp_(grad, 1 - beta1)
        torch.maximum(exp_inf.mul_(beta2), grad.abs().add_(eps), out=exp_inf)
        step_size = lr / (1 - beta1 ** step.item())
        param.addcdiv_(exp_avg, exp_inf, value=-step_size)

    def __init__(
        self,
        params,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        _check_adam_family(lr, betas, eps, weight_decay)
        check_production_flags(
            foreach=foreach, differentiable=differentiable, capturable=capturable
        )
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        return zero_state(param, "exp_avg", "exp_inf")
