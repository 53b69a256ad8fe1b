r"""Adafactor: Adam-like steps with a factored second moment, and no first moment."""

import torch
from torch import Tensor

from course_lib.optim._base import (
    TensorwiseOptimizer,
    check,
    check_production_flags,
    step_counter,
)
from course_lib.regularization import decoupled_weight_decay

__all__ = ["Adafactor", "adafactor_update"]


def adafactor_update(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    lr: float = 1e-2,
    beta2_decay: float = -0.8,
    eps: tuple[float | None, float] = (None, 1e-3),
    d: float = 1.0,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> tuple[Tensor, dict]:
    r"""One Adafactor step (Shazeer & Stern, 2018, "Adafactor: Adaptive Learning Rates with
    Sublinear Memory Cost"), as torch implements it.

    For a matrix :math:`G_t` (:math:`n \times m`, the last two dimensions) only the row means
    :math:`R_t` and column means :math:`C_t` of :math:`G_t^2` are averaged, and the second
    moment is their rank-one reconstruction: :math:`n + m` numbers instead of :math:`nm`.
    With :math:`\hat\beta_{2,t} = 1 - t^{c}` (:math:`c` = ``beta2_decay``):

    .. math::

        R_t = \hat\beta_{2,t} R_{t-1} + (1-\hat\beta_{2,t})\,\mathrm{mean}_\text{cols}(G_t^2),
        \qquad
        C_t = \hat\beta_{2,t} C_{t-1} + (1-\hat\beta_{2,t})\,\mathrm{mean}_\text{rows}(G_t^2),
        \qquad
        \hat V_t = \frac{R_t C_t}{\max(\mathrm{mean}(R_t),\ \epsilon_1)}

    (a vector keeps the full :math:`\hat V_t` as a moving average of :math:`g_t^2`). The step
    is relative to the parameter's size and clipped at RMS :math:`d`:

    .. math::

        U_t = \frac{G_t}{\sqrt{\max(\hat V_t,\ \epsilon_1^2)}}, \qquad
        \alpha_t = \max\bigl(\epsilon_2,\ \mathrm{RMS}(\theta_{t-1})\bigr)
            \min\bigl(\eta,\ t^{-1/2}\bigr), \qquad
        \theta_t = (1-\eta\lambda)\,\theta_{t-1}
            - \frac{\alpha_t\, U_t}{\max\bigl(1,\ \mathrm{RMS}(U_t)/d\bigr)}

    :math:`\epsilon_1` defaults to the machine epsilon of the parameter's dtype. ``state``
    holds ``step`` and either ``row_var`` and ``col_var`` (:math:`R, C`) or ``variance``.

    >>> state = {"step": torch.tensor(0.0), "variance": torch.zeros(2)}
    >>> param, state = adafactor_update(torch.tensor([3.0, 4.0]), torch.tensor([1.0, -1.0]),
    ...                                 state, lr=0.1)
    >>> param, state["variance"]
    (tensor([2.6464, 4.3536]), tensor([1., 1.]))
    """
    eps1, eps2 = eps
    eps1 = torch.finfo(param.dtype).eps if eps1 is None else eps1
    grad = -grad if maximize else grad
    step = state["step"] + 1
    t = step.item()
    one_minus_beta2 = t**beta2_decay
    alpha = max(eps2, param.norm(2).item() / (param.numel() ** 0.5)) * min(lr, 1 / (t**0.5))
    if weight_decay != 0:
        param = decoupled_weight_decay(param, lr=lr, weight_decay=weight_decay)
    if grad.dim() > 1:
        new_state = _factored_second_moment(grad, state, one_minus_beta2)
        row_var = new_state["row_var"]
        variance = row_var @ new_state["col_var"]
        variance.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
    else:
        new_state = {"variance": state["variance"].lerp(grad * grad, one_minus_beta2)}
        variance = new_state["variance"].clone()
    update = variance.clamp_(min=eps1 * eps1).rsqrt_().mul_(grad)
    clip = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))
    new_param = torch.add(param, update, alpha=-alpha / clip, out=update)
    return new_param, {"step": step, **new_state}


def _factored_second_moment(grad: Tensor, state: dict, weight: float) -> dict:
    r"""Moving averages of the row means and column means of :math:`G^2`, computed as squared
    norms so that :math:`G^2` is never materialized."""
    row_mean = torch.norm(grad, dim=-1, keepdim=True).square_().div_(grad.size(-1))
    col_mean = torch.norm(grad, dim=-2, keepdim=True).square_().div_(grad.size(-2))
    return {
        "row_var": state["row_var"].lerp(row_mean, weight),
        "col_var": state["col_var"].lerp(col_mean, weight),
    }


class Adafactor(TensorwiseOptimizer):
    r"""Adafactor: :func:`adafactor_update` for every parameter, with
    ``torch.optim.Adafactor``'s signature, defaults and state.

    >>> w = torch.nn.Parameter(torch.ones(3, 4))
    >>> opt = Adafactor([w])
    >>> w.grad = torch.ones(3, 4)
    >>> opt.step()
    >>> {k: tuple(v.shape) for k, v in opt.state[w].items()}
    {'step': (), 'row_var': (3, 1), 'col_var': (1, 4)}
    """

    _update = staticmethod(adafactor_update)
    _options = ("lr", "beta2_decay", "eps", "d", "weight_decay", "maximize")

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        check(not isinstance(lr, Tensor) or lr.numel() == 1, "Tensor lr must be 1-element")
        check(0.0 <= lr, f"Learning rate should be >= 0 but is: {lr}")
        check(0.0 >= beta2_decay, f"beta2_decay should be <= 0 but is: {beta2_decay}")
        check(eps[0] is None or 0.0 <= eps[0], f"epsilon1 should be >= 0 but is: {eps[0]}")
        check(0.0 <= eps[1], f"epsilon2 should be >= 0 but is: {eps[1]}")
        check(1.0 <= d, f"Clipping threshold d should be >= 1 but is: {d}")
        check(0.0 <= weight_decay, f"weight_decay should be >= 0 but is: {weight_decay}")
        check_production_flags(foreach=foreach)
        defaults = dict(
            lr=lr,
            beta2_decay=beta2_decay,
            eps=eps,
            d=d,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        grad = param.grad
        if grad.dim() <= 1:
            variance = torch.zeros_like(grad, memory_format=torch.preserve_format)
            return {"step": step_counter(), "variance": variance}
        row_shape, col_shape = list(grad.shape), list(grad.shape)
        row_shape[-1], col_shape[-2] = 1, 1
        return {
            "step": step_counter(),
            "row_var": grad.new_zeros(row_shape),
            "col_var": grad.new_zeros(col_shape),
        }
