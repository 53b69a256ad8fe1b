r"""Per-coordinate step sizes from the history of squared gradients: Adagrad, RMSprop,
Adadelta."""

import torch
from torch import Tensor

from course_lib.optim._base import (
    TensorwiseOptimizer,
    as_rows,
    check,
    check_lr,
    check_nonnegative,
    check_production_flags,
    rows_of,
    sparse_like,
    step_counter,
    zero_state,
)
from course_lib.regularization import coupled_weight_decay

__all__ = [
    "Adadelta",
    "Adagrad",
    "RMSprop",
    "adadelta_update",
    "adagrad_update",
    "rmsprop_update",
]


def adagrad_update(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    lr: float = 1e-2,
    lr_decay: float = 0,
    weight_decay: float = 0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> tuple[Tensor, dict]:
    r"""One Adagrad step (Duchi, Hazan & Singer, 2011, "Adaptive Subgradient Methods for
    Online Learning and Stochastic Optimization").

    Every coordinate accumulates its squared gradients, so frequently updated coordinates slow
    down while rare (sparse) features keep large steps:

    .. math::

        \eta_t = \frac{\eta}{1 + (t-1)\,\text{lr\_decay}}, \qquad
        s_t = s_{t-1} + g_t^2, \qquad
        \theta_t = \theta_{t-1} - \eta_t\,\frac{g_t}{\sqrt{s_t} + \epsilon}

    with :math:`g_t \leftarrow g_t + \lambda\theta_{t-1}` first when :math:`\lambda \ne 0`.
    ``state`` holds ``step`` and ``sum`` (:math:`s`, starting at
    ``initial_accumulator_value``). A sparse ``grad`` updates only the rows it lists: the
    new parameter and ``sum`` then come back as sparse tensors of those rows.

    >>> state = {"step": torch.tensor(0.0), "sum": torch.zeros(2)}
    >>> param, state = adagrad_update(torch.tensor([1.0, 1.0]), torch.tensor([2.0, -0.5]),
    ...                               state, lr=0.1)
    >>> param, state["sum"]
    (tensor([0.9000, 1.1000]), tensor([4.0000, 0.2500]))
    """
    grad = -grad if maximize else grad
    step = state["step"] + 1
    if weight_decay != 0:
        if grad.is_sparse:
            raise RuntimeError("weight_decay option is not compatible with sparse gradients")
        grad = coupled_weight_decay(grad, param, weight_decay)
    step_size = lr / (1 + (step.item() - 1) * lr_decay)
    if grad.is_sparse:
        return _sparse_adagrad(param, grad.coalesce(), state["sum"], step, step_size, eps)
    state_sum = state["sum"].addcmul(grad, grad, value=1)
    std = state_sum.sqrt().add_(eps)
    new_param = torch.addcdiv(param, grad, std, value=-step_size, out=std)
    return new_param, {"step": step, "sum": state_sum}


def _sparse_adagrad(param, grad, state_sum, step, step_size, eps) -> tuple[Tensor, dict]:
    """Adagrad on the rows of a coalesced sparse gradient; the other rows do not move."""
    values = grad._values()
    sum_rows = rows_of(state_sum, grad).add(values.pow(2))
    std = sum_rows.sqrt().add_(eps)
    param_rows = rows_of(param, grad).add(values / std, alpha=-step_size)
    return as_rows(grad, param_rows), {"step": step, "sum": as_rows(grad, sum_rows)}


def rmsprop_update(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0,
    momentum: float = 0,
    centered: bool = False,
    maximize: bool = False,
) -> tuple[Tensor, dict]:
    r"""One RMSprop step (Hinton, 2012, Neural Networks for Machine Learning, lecture 6e;
    centered: Graves, 2013, "Generating Sequences With Recurrent Neural Networks").

    Adagrad's growing sum becomes a moving average, so old gradients are forgotten:

    .. math::

        v_t = \alpha v_{t-1} + (1-\alpha) g_t^2, \qquad
        \tilde v_t = \begin{cases} v_t - \bar g_t^2 & \text{centered, with }
            \bar g_t = \alpha \bar g_{t-1} + (1-\alpha) g_t \\ v_t & \text{otherwise}
            \end{cases}

    .. math::

        b_t = \mu b_{t-1} + \frac{g_t}{\sqrt{\tilde v_t} + \epsilon}, \qquad
        \theta_t = \theta_{t-1} - \eta\, b_t

    (without momentum :math:`b_t` is just the fraction). The centered variant divides by an
    estimate of the variance instead of the raw second moment. ``state`` holds ``step``,
    ``square_avg`` (:math:`v`), and ``momentum_buffer`` (:math:`b`) when :math:`\mu > 0`,
    ``grad_avg`` (:math:`\bar g`) when centered.

    >>> state = {"step": torch.tensor(0.0), "square_avg": torch.zeros(1)}
    >>> rmsprop_update(torch.tensor([1.0]), torch.tensor([0.5]), state, lr=0.01)[0]
    tensor([0.9000])
    """
    grad = -grad if maximize else grad
    if weight_decay != 0:
        grad = coupled_weight_decay(grad, param, weight_decay)
    square_avg = state["square_avg"].mul(alpha).addcmul_(grad, grad, value=1 - alpha)
    new_state = {"step": state["step"] + 1, "square_avg": square_avg}
    if centered:
        grad_avg = new_state["grad_avg"] = state["grad_avg"].lerp(grad, 1 - alpha)
        avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
    else:
        avg = square_avg.sqrt()
    avg.add_(eps)
    # the new parameter goes into avg's memory: avg is not needed afterwards
    if momentum > 0:
        buf = state["momentum_buffer"].mul(momentum).addcdiv_(grad, avg)
        new_state["momentum_buffer"] = buf
        return torch.add(param, buf, alpha=-lr, out=avg), new_state
    return torch.addcdiv(param, grad, avg, value=-lr, out=avg), new_state


def adadelta_update(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    lr: float = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0,
    maximize: bool = False,
) -> tuple[Tensor, dict]:
    r"""One Adadelta step (Zeiler, 2012, "ADADELTA: An Adaptive Learning Rate Method").

    Two moving averages: of squared gradients (:math:`v`) and of squared updates
    (:math:`u`). Their ratio gives the step the units of :math:`\theta`, so :math:`\eta = 1`
    works without tuning:

    .. math::

        v_t = \rho v_{t-1} + (1-\rho) g_t^2, \qquad
        \Delta_t = \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t, \qquad
        u_t = \rho u_{t-1} + (1-\rho) \Delta_t^2, \qquad
        \theta_t = \theta_{t-1} - \eta\,\Delta_t

    with :math:`g_t \leftarrow g_t + \lambda\theta_{t-1}` first when :math:`\lambda \ne 0`.
    ``state`` holds ``step``, ``square_avg`` (:math:`v`) and ``acc_delta`` (:math:`u`).

    >>> zeros = torch.zeros(1)
    >>> state = {"step": torch.tensor(0.0), "square_avg": zeros, "acc_delta": zeros}
    >>> adadelta_update(torch.tensor([1.0]), torch.tensor([1.0]), state, eps=1e-2)[0]
    tensor([0.6985])
    """
    grad = -grad if maximize else grad
    if weight_decay != 0:
        grad = coupled_weight_decay(grad, param, weight_decay)
    square_avg = state["square_avg"].mul(rho).addcmul_(grad, grad, value=1 - rho)
    std = square_avg.add(eps).sqrt_()
    delta = state["acc_delta"].add(eps).sqrt_().div_(std).mul_(grad)
    # std and then delta are spent: their memory takes the new acc_delta and parameter
    acc_delta = torch.mul(state["acc_delta"], rho, out=std).addcmul_(delta, delta, value=1 - rho)
    new_param = torch.add(param, delta, alpha=-lr, out=delta)
    new_state = {"step": state["step"] + 1, "square_avg": square_avg, "acc_delta": acc_delta}
    return new_param, new_state


class Adagrad(TensorwiseOptimizer):
    r"""Adagrad: :func:`adagrad_update` for every parameter, with ``torch.optim.Adagrad``'s
    signature, defaults and state. As in torch, the state is created in the constructor and
    sparse gradients are accepted.

    >>> w = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
    >>> opt = Adagrad([w], lr=0.1)
    >>> w.grad = torch.tensor([2.0, -0.5])
    >>> opt.step()
    >>> w.data, opt.state[w]["sum"]
    (tensor([0.9000, 1.1000]), tensor([4.0000, 0.2500]))
    """

    _update = staticmethod(adagrad_update)
    _elementwise = True
    _options = ("lr", "lr_decay", "weight_decay", "eps", "maximize")
    _sparse_grads = True

    @staticmethod
    def _in_place(
        param: Tensor,
        grad: Tensor,
        state: dict,
        *,
        lr: float,
        lr_decay: float,
        weight_decay: float,
        eps: float,
        maximize: bool,
    ) -> None:
        """:func:`adagrad_update` written into ``param`` and ``state``: the sum and the
        parameter change in place (for a sparse gradient, the rows it lists)."""
        grad = -grad if maximize else grad
        state["step"] += 1
        if weight_decay != 0:
            if grad.is_sparse:
                raise RuntimeError("weight_decay option is not compatible with sparse gradients")
            grad = coupled_weight_decay(grad, param, weight_decay)
        step_size = lr / (1 + (state["step"].item() - 1) * lr_decay)
        state_sum = state["sum"]
        if grad.is_sparse:
            grad = grad.coalesce()
            values = grad._values()
            state_sum.add_(sparse_like(grad, values.pow(2)))
            std = rows_of(state_sum, grad).sqrt_().add_(eps)
            param.add_(sparse_like(grad, values / std), alpha=-step_size)
            return
        state_sum.addcmul_(grad, grad, value=1)
        param.addcdiv_(grad, state_sum.sqrt().add_(eps), value=-step_size)

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_lr(lr)
        check_nonnegative(lr_decay, "lr_decay")
        check_nonnegative(weight_decay, "weight_decay")
        check_nonnegative(initial_accumulator_value, "initial_accumulator_value")
        check_nonnegative(eps, "epsilon")
        check_production_flags(foreach=foreach, differentiable=differentiable, fused=fused)
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:
            for param in group["params"]:
                self.state[param] = self._init_state(param, group)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        # torch fills the sum from the constructor's value, also for groups added later
        value = self.defaults["initial_accumulator_value"]
        sum_ = torch.full_like(param, value, memory_format=torch.preserve_format)
        return {"step": step_counter(), "sum": sum_}

    def share_memory(self) -> None:
        """Move every ``sum`` to shared memory (for Hogwild-style multiprocess training)."""
        for group in self.param_groups:
            for param in group["params"]:
                self.state[param]["sum"].share_memory_()


class RMSprop(TensorwiseOptimizer):
    r"""RMSprop: :func:`rmsprop_update` for every parameter, with ``torch.optim.RMSprop``'s
    signature, defaults and state.

    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = RMSprop([w], lr=0.01, momentum=0.9, centered=True)
    >>> w.grad = torch.tensor([0.5])
    >>> opt.step()
    >>> sorted(opt.state[w])
    ['grad_avg', 'momentum_buffer', 'square_avg', 'step']
    """

    _update = staticmethod(rmsprop_update)
    _elementwise = True
    _options = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")

    @staticmethod
    def _in_place(
        param: Tensor,
        grad: Tensor,
        state: dict,
        *,
        lr: float,
        alpha: float,
        eps: float,
        weight_decay: float,
        momentum: float,
        centered: bool,
        maximize: bool,
    ) -> None:
        """:func:`rmsprop_update` written into ``param`` and ``state``: the averages, the
        momentum buffer and the parameter change in place; only the denominator is new."""
        grad = -grad if maximize else grad
        square_avg = state["square_avg"]
        state["step"] += 1
        if weight_decay != 0:
            grad = coupled_weight_decay(grad, param, weight_decay)
        square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        if centered:
            grad_avg = state["grad_avg"].lerp_(grad, 1 - alpha)
            avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
        else:
            avg = square_avg.sqrt()
        avg.add_(eps)
        if momentum > 0:
            buf = state["momentum_buffer"].mul_(momentum).addcdiv_(grad, avg)
            param.add_(buf, alpha=-lr)
        else:
            param.addcdiv_(grad, avg, value=-lr)

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_lr(lr)
        check_nonnegative(eps, "epsilon")
        check_nonnegative(momentum, "momentum")
        check_nonnegative(weight_decay, "weight_decay")
        check_nonnegative(alpha, "alpha")
        check_production_flags(
            capturable=capturable, foreach=foreach, differentiable=differentiable
        )
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        names = ("square_avg",) + ("momentum_buffer",) * (group["momentum"] > 0)
        return zero_state(param, *names, *("grad_avg",) * group["centered"])


class Adadelta(TensorwiseOptimizer):
    r"""Adadelta: :func:`adadelta_update` for every parameter, with ``torch.optim.Adadelta``'s
    signature, defaults and state.

    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = Adadelta([w], eps=1e-2)
    >>> w.grad = torch.tensor([1.0])
    >>> opt.step()
    >>> w.data
    tensor([0.6985])
    """

    _update = staticmethod(adadelta_update)
    _elementwise = True
    _options = ("lr", "rho", "eps", "weight_decay", "maximize")

    @staticmethod
    def _in_place(
        param: Tensor,
        grad: Tensor,
        state: dict,
        *,
        lr: float,
        rho: float,
        eps: float,
        weight_decay: float,
        maximize: bool,
    ) -> None:
        """:func:`adadelta_update` written into ``param`` and ``state``: both averages and the
        parameter change in place; only the two roots are new."""
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        state["step"] += 1
        grad = -grad if maximize else grad
        if weight_decay != 0:
            grad = coupled_weight_decay(grad, param, weight_decay)
        square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
        std = square_avg.add(eps).sqrt_()
        delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad)
        acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        param.add_(delta, alpha=-lr)

    def __init__(
        self,
        params,
        lr: float | Tensor = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_lr(lr)
        check(0.0 <= rho <= 1.0, f"Invalid rho value: {rho} (rho must lie in [0, 1])")
        check_nonnegative(eps, "epsilon")
        check_nonnegative(weight_decay, "weight_decay")
        check_production_flags(
            foreach=foreach, capturable=capturable, differentiable=differentiable
        )
        defaults = dict(
            lr=lr,
            rho=rho,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            capturable=capturable,
            foreach=foreach,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        return zero_state(param, "square_avg", "acc_delta")
