r"""Muon: momentum whose update matrix is orthogonalized by a Newton-Schulz iteration."""

import math

import torch
from torch import Tensor

from course_lib.optim._base import TensorwiseOptimizer, check
from course_lib.regularization import decoupled_weight_decay

__all__ = ["Muon", "adjusted_lr", "muon_update", "newton_schulz"]


def newton_schulz(
    grad: Tensor, ns_coefficients: tuple[float, float, float], ns_steps: int, eps: float
) -> Tensor:
    r"""Approximately orthogonalize a matrix: map :math:`G = U S V^\top` to about
    :math:`U V^\top` (every singular value pushed towards 1), in bfloat16.

    After scaling :math:`X_0 = G / \max(\lVert G \rVert_F, \epsilon)` (so that all singular
    values are at most 1), iterate the odd quintic polynomial

    .. math::

        A = X_k X_k^\top, \qquad X_{k+1} = a X_k + (b A + c A^2)\, X_k

    whose coefficients :math:`(a, b, c)` are tuned for a steep slope at 0, so that small
    singular values grow fast; the result has singular values roughly in :math:`[0.7, 1.2]`
    rather than exactly 1 (Jordan et al., 2024). A tall matrix is transposed first so that
    :math:`A` is the smaller Gram matrix.

    >>> q = newton_schulz(torch.diag(torch.tensor([3.0, 0.5])), (3.4445, -4.7750, 2.0315), 5,
    ...                   1e-7)
    >>> q.dtype, [round(s, 1) for s in torch.linalg.svdvals(q.float()).tolist()]
    (torch.bfloat16, [1.0, 0.7])
    """
    check(ns_steps < 100, "Number of steps must be less than 100 for computational efficiency")
    check(len(grad.shape) == 2, "Input tensor gradient must be a 2D matrix")
    check(len(ns_coefficients) == 3, "Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    tall = grad.size(0) > grad.size(1)
    x = grad.to(torch.bfloat16, copy=True)  # a copy even of a bfloat16 grad: x changes in place
    x = x.T if tall else x
    x.div_(x.norm().clamp(min=eps))
    for _ in range(ns_steps):
        gram = x @ x.T
        x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.T if tall else x


def adjusted_lr(lr: float, adjust_lr_fn: str | None, shape: torch.Size) -> float:
    r"""Scale :math:`\eta` for an :math:`A \times B` matrix so that updates of different
    shapes have comparable size: ``"original"`` (the default, Jordan et al.) multiplies by
    :math:`\sqrt{\max(1, A/B)}`, ``"match_rms_adamw"`` (Liu et al., 2025) by
    :math:`0.2\sqrt{\max(A, B)}`, which lets Muon reuse AdamW's learning rate and weight decay.

    >>> adjusted_lr(0.1, None, torch.Size([400, 100])), adjusted_lr(0.1, "match_rms_adamw",
    ...                                                             torch.Size([400, 100]))
    (0.2, 0.4)
    """
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, rows / cols))
    check(adjust_lr_fn == "match_rms_adamw", _unknown_adjust_lr_fn(adjust_lr_fn))
    return lr * (0.2 * math.sqrt(max(rows, cols)))


def _unknown_adjust_lr_fn(adjust_lr_fn: object) -> str:
    return (
        f"Adjust learning rate function {adjust_lr_fn} is not supported "
        "(use None, 'original' or 'match_rms_adamw')"
    )


def muon_update(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    lr: float = 1e-3,
    weight_decay: float = 0.1,
    momentum: float = 0.95,
    nesterov: bool = True,
    ns_coefficients: tuple[float, float, float] = (3.4445, -4.7750, 2.0315),
    eps: float = 1e-7,
    ns_steps: int = 5,
    adjust_lr_fn: str | None = None,
) -> tuple[Tensor, dict]:
    r"""One Muon step for a 2-D parameter (Jordan et al., 2024, "Muon: An optimizer for hidden
    layers in neural networks"; Liu et al., 2025, "Muon is Scalable for LLM Training").

    Momentum (as a moving average), optionally Nesterov's look-ahead, then the update matrix is
    replaced by its orthogonalization :func:`newton_schulz`, so that every direction of the
    layer moves by about the same amount:

    .. math::

        b_t = \mu b_{t-1} + (1-\mu) g_t, \qquad
        \tilde b_t = \begin{cases} (1-\mu) g_t + \mu b_t & \text{nesterov} \\ b_t &
            \text{otherwise} \end{cases}, \qquad
        \theta_t = (1-\eta\lambda)\,\theta_{t-1} - \eta'\,\mathrm{NS}(\tilde b_t)

    with the shape-adjusted :math:`\eta'` of :func:`adjusted_lr`. ``state`` holds
    ``momentum_buffer`` (:math:`b`).

    >>> state = {"momentum_buffer": torch.zeros(2, 2)}
    >>> param, state = muon_update(torch.eye(2), torch.eye(2), state, lr=0.1, weight_decay=0.0)
    >>> param
    tensor([[0.8875, 0.0000],
            [0.0000, 0.8875]])
    """
    buf = state["momentum_buffer"].lerp(grad, 1 - momentum)
    # Memory: newton_schulz works in bfloat16, so the direction goes in converted (the float32
    # one is freed before the iterations allocate theirs), and the result comes back converted
    # (exactly) to the parameter's dtype (adding it in bfloat16 would convert a copy anyway)
    ortho = newton_schulz(
        (grad.lerp(buf, momentum) if nesterov else buf).to(torch.bfloat16),
        ns_coefficients,
        ns_steps,
        eps,
    ).to(param.dtype)
    new_param = decoupled_weight_decay(param, lr=lr, weight_decay=weight_decay)
    new_param.add_(ortho, alpha=-adjusted_lr(lr, adjust_lr_fn, param.shape))
    return new_param, {"momentum_buffer": buf}


class Muon(TensorwiseOptimizer):
    r"""Muon: :func:`muon_update` for every parameter, with ``torch.optim.Muon``'s signature,
    defaults and state. Only 2-D parameters (the weight matrices of hidden layers); give
    biases, embeddings and the output layer to AdamW.

    >>> w = torch.nn.Parameter(torch.eye(2))
    >>> opt = Muon([w], lr=0.1, weight_decay=0.0)
    >>> w.grad = torch.eye(2)
    >>> opt.step()
    >>> w.data
    tensor([[0.8875, 0.0000],
            [0.0000, 0.8875]])
    """

    _update = staticmethod(muon_update)
    _options = (
        "lr",
        "weight_decay",
        "momentum",
        "nesterov",
        "ns_coefficients",
        "eps",
        "ns_steps",
        "adjust_lr_fn",
    )

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = (3.4445, -4.7750, 2.0315),
        eps: float = 1e-7,
        ns_steps: int = 5,
        adjust_lr_fn: str | None = None,
    ) -> None:
        check(not isinstance(lr, Tensor) or lr.numel() == 1, "Tensor lr must be 1-element")
        check(0.0 <= lr, f"Learning rate should be >= 0 but is: {lr}")
        check(0.0 <= momentum, f"momentum should be >= 0 but is: {momentum}")
        check(0.0 <= weight_decay, f"weight decay should be >= 0 but is: {weight_decay}")
        check(
            adjust_lr_fn in (None, "original", "match_rms_adamw"),
            _unknown_adjust_lr_fn(adjust_lr_fn),
        )
        defaults = dict(
            lr=lr,
            weight_decay=weight_decay,
            momentum=momentum,
            nesterov=nesterov,
            ns_coefficients=ns_coefficients,
            eps=eps,
            ns_steps=ns_steps,
            adjust_lr_fn=adjust_lr_fn,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:
            for param in group["params"]:
                check(
                    param.ndim == 2,
                    f"Muon only supports 2D parameters whereas we found a parameter with size: "
                    f"{param.size()}",
                )

    def _init_state(self, param: Tensor, group: dict) -> dict:
        buf = torch.zeros_like(param.grad, memory_format=torch.preserve_format)
        return {"momentum_buffer": buf}
