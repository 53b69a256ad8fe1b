r"""SparseAdam: Adam on the rows that a sparse gradient touches."""

import math

from torch import Tensor

from course_lib.optim._base import (
    TensorwiseOptimizer,
    as_rows,
    check,
    check_betas,
    check_lr,
    rows_of,
    sparse_like,
    zero_state,
)

__all__ = ["SparseAdam", "sparse_adam_update"]


def sparse_adam_update(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    maximize: bool = False,
) -> tuple[Tensor, dict]:
    r"""One SparseAdam step: the Adam update (Kingma & Ba, 2015) applied only to the entries
    where the sparse gradient has values (e.g. the rows of an ``nn.Embedding(sparse=True)``
    that the batch used). For those entries

    .. math::

        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \qquad
        \theta_t = \theta_{t-1} - \frac{\eta\sqrt{1-\beta_2^t}}{1-\beta_1^t}\,
                   \frac{m_t}{\sqrt{v_t} + \epsilon}

    and every other entry of :math:`\theta, m, v` stays as it is, however long ago it was
    last seen (the moments are not decayed in between: this is what makes it cheap, and what
    makes it an approximation of Adam). ``state`` holds ``step`` (a Python int, as in torch),
    ``exp_avg`` and ``exp_avg_sq``. The new parameter and moments come back as sparse tensors
    holding the new values of the touched entries only.

    >>> import torch
    >>> grad = torch.sparse_coo_tensor([[1]], [[0.5, -3.0]], (3, 2), check_invariants=True)
    >>> state = {"step": 0, "exp_avg": torch.zeros(3, 2), "exp_avg_sq": torch.zeros(3, 2)}
    >>> rows, state = sparse_adam_update(torch.ones(3, 2), grad, state, lr=0.1)
    >>> rows.to_dense()
    tensor([[0.0000, 0.0000],
            [0.9000, 1.1000],
            [0.0000, 0.0000]])
    """
    beta1, beta2 = betas
    grad = (-grad if maximize else grad).coalesce()
    step = state["step"] + 1
    values = grad._values()
    if values.numel() == 0:
        return grad, {"step": step}
    old_exp_avg = rows_of(state["exp_avg"], grad)
    exp_avg_change = values.sub(old_exp_avg).mul_(1 - beta1)
    old_exp_avg_sq = rows_of(state["exp_avg_sq"], grad)
    exp_avg_sq_change = values.pow(2).sub_(old_exp_avg_sq).mul_(1 - beta2)
    exp_avg = old_exp_avg + exp_avg_change
    exp_avg_sq = old_exp_avg_sq + exp_avg_sq_change
    step_size = lr * math.sqrt(1 - beta2**step) / (1 - beta1**step)
    update = -step_size * exp_avg.div(exp_avg_sq.sqrt().add_(eps))
    new_param = as_rows(grad, rows_of(param, grad) + update)
    new_state = {"step": step, "exp_avg": as_rows(grad, exp_avg)}
    return new_param, {**new_state, "exp_avg_sq": as_rows(grad, exp_avg_sq)}


class SparseAdam(TensorwiseOptimizer):
    r"""SparseAdam: :func:`sparse_adam_update` for every parameter, with
    ``torch.optim.SparseAdam``'s signature, defaults and state. Parameters must be dense,
    gradients sparse; each step touches only the rows the gradient lists.

    >>> import torch
    >>> emb = torch.nn.Embedding(3, 2, sparse=True)
    >>> opt = SparseAdam(emb.parameters(), lr=0.1)
    >>> before = emb.weight.detach().clone()
    >>> emb(torch.tensor([1])).sum().backward()
    >>> opt.step()
    >>> (emb.weight != before).any(dim=1).tolist()
    [False, True, False]
    """

    _update = staticmethod(sparse_adam_update)
    _options = ("lr", "betas", "eps", "maximize")
    _sparse_grads = True

    @staticmethod
    def _in_place(
        param: Tensor,
        grad: Tensor,
        state: dict,
        *,
        lr: float,
        betas: tuple[float, float],
        eps: float,
        maximize: bool,
    ) -> None:
        """:func:`sparse_adam_update` written into ``param`` and ``state``: the changes of the
        touched rows are added in place, with no rows gathered from the parameter and put
        back."""
        beta1, beta2 = betas
        grad = (-grad if maximize else grad).coalesce()
        state["step"] += 1
        values = grad._values()
        if values.numel() == 0:
            return
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        old_exp_avg = rows_of(exp_avg, grad)
        exp_avg_change = values.sub(old_exp_avg).mul_(1 - beta1)
        exp_avg.add_(sparse_like(grad, exp_avg_change))
        old_exp_avg_sq = rows_of(exp_avg_sq, grad)
        exp_avg_sq_change = values.pow(2).sub_(old_exp_avg_sq).mul_(1 - beta2)
        exp_avg_sq.add_(sparse_like(grad, exp_avg_sq_change))
        numer = exp_avg_change.add_(old_exp_avg)
        denom = exp_avg_sq_change.add_(old_exp_avg_sq).sqrt_().add_(eps)
        step = state["step"]
        step_size = lr * math.sqrt(1 - beta2**step) / (1 - beta1**step)
        param.add_(sparse_like(grad, -step_size * numer.div_(denom)))

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        maximize: bool = False,
    ) -> None:
        check_lr(lr, positive=True)
        check(0.0 < eps, f"Invalid epsilon value: {eps} (eps must be > 0)")
        check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))
        sparse, complex_ = [], []
        for index, group in enumerate(self.param_groups):
            for d_index, param in enumerate(group["params"]):
                if param.is_sparse:
                    sparse.append([index, d_index])
                if param.is_complex():
                    complex_.append([index, d_index])
        check(
            not sparse,
            f"Sparse params at indices {sparse}: SparseAdam requires dense parameter tensors",
        )
        check(
            not complex_,
            f"Complex params at indices {complex_}: SparseAdam does not support complex parameters",
        )

    def _init_state(self, param: Tensor, group: dict) -> dict:
        return {**zero_state(param, "exp_avg", "exp_avg_sq"), "step": 0}  # an int, as in torch

    def _check_param(self, param: Tensor) -> None:
        if not param.grad.is_sparse:
            raise RuntimeError(
                "SparseAdam does not support dense gradients, please consider Adam instead"
            )
