"""Information theory behind the classification losses (Shannon, 1948, "A Mathematical
Theory of Communication"; Kullback & Leibler, 1951, "On Information and Sufficiency").

All quantities are in nats (natural logarithms) and take distributions :math:`p, q` as
probability tensors whose last dimension (``dim``) runs over the outcomes. Terms with
:math:`p(x) = 0` contribute nothing (:math:`0 \\log 0 = 0`), which ``torch.xlogy`` encodes.

- self-information :math:`I(x) = -\\log p(x)`: rare events are surprising;
- entropy :math:`H(p) = \\mathbb{E}_{x \\sim p}[I(x)]`: the average surprise under :math:`p`;
- KL divergence :math:`D_\\mathrm{KL}(p \\Vert q) = \\sum_x p(x) \\log\\frac{p(x)}{q(x)} \\ge 0`:
  the extra surprise of expecting :math:`q` when the truth is :math:`p`;
- cross-entropy :math:`H(p, q) = H(p) + D_\\mathrm{KL}(p \\Vert q) = -\\sum_x p(x) \\log q(x)`.

Since :math:`H(p)` does not depend on the model's :math:`q`, minimising the cross-entropy
loss minimises the KL divergence to the data. :func:`kl_div` is the loss form of
:math:`D_\\mathrm{KL}` that ``torch.nn.KLDivLoss`` computes.
"""

import warnings

import torch

from ._reduction import _reduce


def self_information(p: torch.Tensor) -> torch.Tensor:
    """:math:`I(x) = -\\log p(x)` in nats, elementwise (infinite for :math:`p(x) = 0`).

    >>> self_information(torch.tensor([1.0, 0.5, 0.25]))
    tensor([-0.0000, 0.6931, 1.3863])
    """
    return -torch.log(p)


def entropy(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """:math:`H(p) = \\sum_x p(x)\\,I(x) = -\\sum_x p(x) \\log p(x)`, with :math:`0 \\log 0 = 0`.

    A fair coin carries :math:`\\log 2` nats, a certain outcome none:

    >>> entropy(torch.tensor([[0.5, 0.5], [1.0, 0.0]]))
    tensor([0.6931, -0.0000])
    """
    return -torch.xlogy(p, p).sum(dim)


def kl_divergence(p: torch.Tensor, q: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """:math:`D_\\mathrm{KL}(p \\Vert q) = \\sum_x p(x) (\\log p(x) - \\log q(x))`: zero when
    :math:`q = p`, infinite where :math:`q` rules out what :math:`p` allows.

    >>> p = torch.tensor([0.5, 0.5])
    >>> kl_divergence(p, p), kl_divergence(p, torch.tensor([0.9, 0.1]))
    (tensor(0.), tensor(0.5108))
    """
    return (torch.xlogy(p, p) - torch.xlogy(p, q)).sum(dim)


def cross_entropy_of_distributions(p: torch.Tensor, q: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """:math:`H(p, q) = H(p) + D_\\mathrm{KL}(p \\Vert q)`: the average surprise of outcomes
    drawn from :math:`p` under the model :math:`q`; at least :math:`H(p)`, equal when
    :math:`q = p`. ``cross_entropy`` is this with :math:`q` = softmax(logits) and :math:`p`
    the target.

    >>> p, q = torch.tensor([0.5, 0.5]), torch.tensor([0.9, 0.1])
    >>> cross_entropy_of_distributions(p, q)  # = -(0.5 log 0.9 + 0.5 log 0.1)
    tensor(1.2040)
    """
    return entropy(p, dim) + kl_divergence(p, q, dim)


def kl_div(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    log_target: bool = False,
) -> torch.Tensor:
    """The KL-divergence loss, like ``torch.nn.functional.kl_div``. ``input`` holds the
    model's log-probabilities :math:`\\log q` (not probabilities), ``target`` holds
    :math:`p` (or :math:`\\log p` when ``log_target``); pointwise,

    .. math::
        \\ell = p\\,(\\log p - \\log q),

    so that ``reduction="batchmean"`` (sum divided by the batch size) is
    :math:`D_\\mathrm{KL}(p \\Vert q)` averaged over samples. ``"mean"`` divides by the number
    of elements instead, which is not a KL divergence; torch warns about it, and so does this.

    >>> p = torch.tensor([[0.5, 0.5]])
    >>> kl_div(torch.log(torch.tensor([[0.9, 0.1]])), p, reduction="batchmean")
    tensor(0.5108)
    """
    if not (input.is_floating_point() and target.is_floating_point()):
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            stacklevel=2,
        )
    if log_target:
        loss = torch.exp(target) * (target - input)
    else:
        loss = torch.xlogy(target, target) - target * input
    if reduction == "batchmean":
        batch_size = input.size(0) if input.dim() > 0 else 1
        return _reduce(loss, "sum") / batch_size
    return _reduce(loss, reduction)
