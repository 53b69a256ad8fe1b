r"""Weight initialization, written out: the 14 functions of ``torch.nn.init``, plus
:func:`calculate_gain` and the fan computations.

Every function fills its tensor in place, without recording the operation for autograd, and
returns it, exactly like torch's. Given the same ``torch.Generator`` the results are bit-identical
to ``torch.nn.init`` (tests/test_init.py checks this for Linear and Conv1d/2d/3d weights).

The variance argument behind Xavier and Kaiming (see the Initialization chapter): a unit
:math:`y = \sum_{j=1}^{n_\text{in}} W_j x_j` with independent, zero-mean weights and inputs has
:math:`\mathrm{Var}(y) = n_\text{in}\,\mathrm{Var}(W)\,\mathrm{Var}(x)`, so
:math:`\mathrm{Var}(W) = 1/n_\text{in}` keeps activations at the same scale layer after layer,
and :math:`\mathrm{Var}(W) = 1/n_\text{out}` does the same for gradients flowing backwards.
"""

import math
import warnings

import torch
from torch import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "dirac_",
    "eye_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "sparse_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_LINEAR_FUNCTIONS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    r"""The gain :math:`a` that keeps :math:`\mathrm{Var}` constant through a nonlinearity.

    ===================  ==============================================
    nonlinearity         gain :math:`a`
    ===================  ==============================================
    linear, conv*, sigmoid  :math:`1`
    tanh                 :math:`5/3`
    relu                 :math:`\sqrt{2}` (ReLU zeroes half of a symmetric input)
    leaky_relu           :math:`\sqrt{2 / (1 + \text{negative\_slope}^2)}`
    selu                 :math:`3/4`
    ===================  ==============================================

    ``param`` is leaky ReLU's negative slope (default 0.01).

    >>> calculate_gain("relu")
    1.4142135623730951
    >>> calculate_gain("leaky_relu", 0.2)
    1.3867504905630728
    """
    if nonlinearity in _LINEAR_FUNCTIONS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"Unsupported nonlinearity {nonlinearity}; use one of "
        f"{', '.join(_LINEAR_FUNCTIONS)}, sigmoid, tanh, relu, leaky_relu, selu"
    )


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    r"""Fan-in and fan-out of a weight of shape :math:`(n_\text{out}, n_\text{in}, k_1, \dots)`.

    :math:`n_\text{in} = \text{size}(1) \cdot k_1 k_2\cdots` and
    :math:`n_\text{out} = \text{size}(0) \cdot k_1 k_2\cdots`: each output unit of a convolution
    sees ``in_channels`` times the receptive field :math:`k_1 k_2 \cdots` inputs.

    >>> _calculate_fan_in_and_fan_out(torch.empty(16, 3, 5, 5))  # Conv2d(3, 16, kernel_size=5)
    (75, 400)
    """
    if tensor.dim() < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
            f"(got shape {tuple(tensor.shape)}); initialize biases with zeros_ or uniform_"
        )
    receptive_field_size = math.prod(tensor.shape[2:])
    return tensor.size(1) * receptive_field_size, tensor.size(0) * receptive_field_size


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    """Fan-in for ``mode='fan_in'`` (forward pass), fan-out for ``'fan_out'`` (backward pass)."""
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(
    tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    r"""Fill ``tensor`` with samples of :math:`\mathcal{U}(a, b)`.

    >>> uniform_(torch.empty(2, 3), -0.1, 0.1).abs().max() <= 0.1
    tensor(True)
    """
    with torch.no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    r"""Fill ``tensor`` with samples of :math:`\mathcal{N}(\text{mean}, \text{std}^2)`."""
    with torch.no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Fill ``tensor`` with samples of :math:`\mathcal{N}(\text{mean}, \text{std}^2)`
    conditioned on :math:`[a, b]` (values outside are redrawn, never clipped).

    When the interval holds more than 30% of the probability, normal samples outside it are
    redrawn until none is left. Otherwise (a narrow or far interval) that would take many
    rounds, so candidates are drawn uniformly on :math:`[a, b]` and accepted with probability
    :math:`\exp(-\tfrac12 ((x-\text{mean})/\text{std})^2)` relative to the density's peak on
    :math:`[a, b]` (rejection sampling). The order of random draws is torch's, so the result is
    bit-identical given the same generator.

    >>> t = trunc_normal_(torch.empty(1000), std=1.0, a=-0.5, b=0.5)
    >>> bool(t.min() >= -0.5 and t.max() <= 0.5)
    True
    """
    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=2,
        )
    with torch.no_grad():
        if _normal_cdf(b, mean, std) - _normal_cdf(a, mean, std) > 0.3:
            _redraw_outside(tensor, mean, std, a, b, generator)
        else:
            _uniform_rejection(tensor, mean, std, a, b, generator)
    return tensor


def _normal_cdf(x: float, mean: float, std: float) -> float:
    return (1.0 + math.erf((x - mean) / std / math.sqrt(2.0))) / 2.0


def _redraw_outside(tensor, mean, std, a, b, generator) -> None:
    """Sample normally, then redraw every value outside [a, b] until none is left."""
    # Compare with the bounds as the tensor's dtype represents them.
    lo = tensor.new_tensor(a, device="cpu").item()
    hi = tensor.new_tensor(b, device="cpu").item()
    result = tensor.normal_(mean, std, generator=generator)
    while (outside := (result < lo) | (result > hi)).any():
        redraw = torch.empty_like(result).normal_(mean, std, generator=generator)
        result = torch.where(outside, redraw, result)
    tensor.copy_(result)


def _uniform_rejection(tensor, mean, std, a, b, generator) -> None:
    """Draw x ~ U(a, b) and accept it when log(u) <= log p(x) - log p(peak), u ~ U(0, 1)."""
    peak = max(a, min(mean, b))
    log_peak = -0.5 * ((peak - mean) / std) ** 2

    def log_density_over_peak(x: Tensor) -> Tensor:
        return x.sub(mean).div_(std).pow_(2).mul_(-0.5).sub_(log_peak)

    def rejected(x: Tensor) -> Tensor:
        return torch.empty_like(x).uniform_(generator=generator).log_().gt(log_density_over_peak(x))

    result = tensor.uniform_(a, b, generator=generator)
    pending = rejected(result)
    while pending.any():
        candidates = torch.empty_like(result).uniform_(a, b, generator=generator)
        result = torch.where(pending, candidates, result)
        pending = torch.where(pending, rejected(candidates), pending)
    tensor.copy_(result)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` with ``val``.

    >>> constant_(torch.empty(2, 2), 7.7)
    tensor([[7.7000, 7.7000],
            [7.7000, 7.7000]])
    """
    with torch.no_grad():
        return tensor.fill_(val)


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with ones. Any constant makes all units of a layer identical."""
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with zeros: right for biases, wrong for weights (no symmetry breaking)."""
    with torch.no_grad():
        return tensor.zero_()


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D ``tensor`` with the identity matrix (ones on the main diagonal), so that a
    ``Linear`` layer passes its first ``min(n_in, n_out)`` inputs through unchanged.

    >>> eye_(torch.empty(2, 3))
    tensor([[1., 0., 0.],
            [0., 1., 0.]])
    """
    if tensor.dim() != 2:
        raise ValueError(
            f"Only tensors with 2 dimensions are supported (got {tensor.dim()}); "
            "use dirac_ for convolution weights"
        )
    with torch.no_grad():
        tensor.zero_().fill_diagonal_(1)
    return tensor


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3-, 4- or 5-D convolution weight with the Dirac delta: output channel ``d`` of
    each group copies input channel ``d`` at the kernel's centre, so the convolution is the
    identity on as many channels as possible.

    >>> dirac_(torch.empty(2, 2, 3))[:, :, 1]
    tensor([[1., 0.],
            [0., 1.]])
    """
    if tensor.dim() not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    out_channels, in_channels, *kernel = tensor.shape
    if out_channels % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = out_channels // groups
    centre = tuple(k // 2 for k in kernel)
    with torch.no_grad():
        tensor.zero_()
        for g in range(groups):
            for d in range(min(out_per_group, in_channels)):
                tensor[(g * out_per_group + d, d, *centre)] = 1
    return tensor


def xavier_uniform_(
    tensor: Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    r"""Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward
    neural networks": :math:`W \sim \mathcal{U}(-b, b)` with

    .. math::
        \mathrm{Var}(W) = a^2 \frac{2}{n_\text{in} + n_\text{out}}, \qquad
        b = \sqrt{3\,\mathrm{Var}(W)} = a\sqrt{\frac{6}{n_\text{in} + n_\text{out}}}

    (a uniform on :math:`[-b, b]` has variance :math:`b^2/3`). The harmonic compromise between
    keeping the forward variance (:math:`1/n_\text{in}`) and the backward variance
    (:math:`1/n_\text{out}`).

    >>> w = xavier_uniform_(torch.empty(300, 200), generator=torch.Generator().manual_seed(0))
    >>> bool(w.abs().max() <= math.sqrt(6 / 500))
    True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(
    tensor: Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    r"""Glorot & Bengio (2010): :math:`W \sim \mathcal{N}(0, \sigma^2)` with
    :math:`\sigma = a\sqrt{2 / (n_\text{in} + n_\text{out})}`.
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    r""":math:`\sigma = a_\text{gain} / \sqrt{n_\text{mode}}`."""
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""He et al. (2015), "Delving deep into rectifiers": :math:`W \sim \mathcal{U}(-b, b)` with

    .. math::
        b = \text{gain}\sqrt{\frac{3}{n_\text{mode}}}, \qquad
        \mathrm{Var}(W) = \frac{\text{gain}^2}{n_\text{mode}}
        \;\;(= 2/n_\text{in} \text{ for ReLU})

    ``mode='fan_in'`` keeps activations' variance in the forward pass, ``'fan_out'`` gradients'
    in the backward pass. ``a`` is the negative slope of a leaky ReLU (used only with
    ``nonlinearity='leaky_relu'``, whose default slope 0 makes it a ReLU).

    >>> w = kaiming_uniform_(torch.empty(256, 128), nonlinearity="relu")
    >>> bool(w.abs().max() <= math.sqrt(6 / 128))
    True
    """
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""He et al. (2015): :math:`W \sim \mathcal{N}(0, \sigma^2)`,
    :math:`\sigma = \text{gain} / \sqrt{n_\text{mode}}`.
    """
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    return normal_(tensor, 0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(
    tensor: Tensor, gain: float = 1, generator: torch.Generator | None = None
) -> Tensor:
    r"""Saxe et al. (2013), "Exact solutions to the nonlinear dynamics of learning in deep
    linear neural networks": a (semi-)orthogonal :math:`W` scaled by ``gain``.

    Draw :math:`A \in \R^{r \times c}` with standard normal entries (trailing dimensions
    flattened; transposed when :math:`r < c` so that QR sees a tall matrix), factor
    :math:`A = QR`, and multiply column :math:`j` of :math:`Q` by :math:`\operatorname{sign}
    R_{jj}`. The sign correction makes :math:`Q` uniformly (Haar) distributed over orthogonal
    matrices (Mezzadri, 2007); without it, QR's sign convention biases the result.

    >>> w = orthogonal_(torch.empty(3, 5))
    >>> torch.allclose(w @ w.T, torch.eye(3), atol=1e-6)
    True
    """
    if tensor.dim() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.size(0)
    cols = tensor.numel() // rows
    flattened = tensor.new_empty((rows, cols)).normal_(0, 1, generator=generator)
    if rows < cols:
        flattened.t_()
    q, r = torch.linalg.qr(flattened)
    q *= torch.diag(r, 0).sign()
    if rows < cols:
        q.t_()
    with torch.no_grad():
        tensor.view_as(q).copy_(q)
        tensor.mul_(gain)
    return tensor


def sparse_(
    tensor: Tensor,
    sparsity: float,
    std: float = 0.01,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Martens (2010), "Deep learning via Hessian-free optimization": a 2-D weight whose
    entries are :math:`\mathcal{N}(0, \text{std}^2)`, except that in every **column**
    :math:`\lceil \text{sparsity} \cdot \text{rows} \rceil` entries, at random rows, are zero.

    torch draws the zero positions with ``torch.randperm`` from the *global* generator, even
    when ``generator`` is given; this function does the same so that results stay bit-identical
    (seed both to reproduce them).

    >>> w = sparse_(torch.empty(10, 4), sparsity=0.3)
    >>> (w == 0).sum(dim=0).tolist()
    [3, 3, 3, 3]
    """
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    num_zeros = math.ceil(sparsity * rows)
    with torch.no_grad():
        tensor.normal_(0, std, generator=generator)
        for col in range(cols):
            zero_rows = torch.randperm(rows)[:num_zeros]
            tensor[zero_rows, col] = 0
    return tensor
