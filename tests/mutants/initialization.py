"""Catalogue for assignment 01_initialization: for each exercise, wrong implementations
(MUTANTS: common mistakes, each must lose points), correct implementations written differently
from the solution (ALTERNATIVES: each must score full marks), and ways of not doing the work
(CHEATS: each must score 0). Every entry is the source of a student's answer cell; it is
executed in a namespace that already holds the solution's other functions."""

MUTANTS = {
    "constant_": {
        "returns a new tensor": "def constant_(tensor, val):\n    return torch.full_like(tensor, val)",
        "no torch.no_grad()": "def constant_(tensor, val):\n    return tensor.fill_(val)",
        "truncates val to int": (
            "def constant_(tensor, val):\n    with torch.no_grad():\n"
            "        return tensor.fill_(int(val))"
        ),
    },
    "uniform_": {
        "ignores a and b": (
            "def uniform_(tensor, a=0.0, b=1.0, generator=None):\n    with torch.no_grad():\n"
            "        return tensor.uniform_(generator=generator)"
        ),
        "shifts by b instead of a": (
            "def uniform_(tensor, a=0.0, b=1.0, generator=None):\n    with torch.no_grad():\n"
            "        u = torch.rand(tensor.shape, generator=generator, dtype=tensor.dtype,"
            " device=tensor.device)\n"
            "        return tensor.copy_(u * (b - a) + b)"
        ),
        "no torch.no_grad()": (
            "def uniform_(tensor, a=0.0, b=1.0, generator=None):\n"
            "    return tensor.uniform_(a, b, generator=generator)"
        ),
        "ignores generator": (
            "def uniform_(tensor, a=0.0, b=1.0, generator=None):\n    with torch.no_grad():\n"
            "        return tensor.uniform_(a, b)"
        ),
    },
    "normal_": {
        "variance for std": (
            "def normal_(tensor, mean=0.0, std=1.0, generator=None):\n    with torch.no_grad():\n"
            "        return tensor.normal_(mean, std**2, generator=generator)"
        ),
        "ignores mean": (
            "def normal_(tensor, mean=0.0, std=1.0, generator=None):\n    with torch.no_grad():\n"
            "        return tensor.normal_(0.0, std, generator=generator)"
        ),
        "returns a new tensor": (
            "def normal_(tensor, mean=0.0, std=1.0, generator=None):\n"
            "    return torch.randn(tensor.shape, generator=generator, device=tensor.device) * std + mean"
        ),
    },
    "calculate_gain": {
        "relu gain 2 (the variance factor)": (
            "def calculate_gain(nonlinearity, param=None):\n"
            "    return 2.0 if nonlinearity == 'relu' else _reference_gain(nonlinearity, param)"
        ),
        "leaky_relu default slope 0": (
            "def calculate_gain(nonlinearity, param=None):\n"
            "    if nonlinearity == 'leaky_relu' and param is None:\n        param = 0.0\n"
            "    return _reference_gain(nonlinearity, param)"
        ),
        "leaky_relu slope not squared": (
            "def calculate_gain(nonlinearity, param=None):\n"
            "    if nonlinearity == 'leaky_relu':\n"
            "        return math.sqrt(2.0 / (1 + (0.01 if param is None else param)))\n"
            "    return _reference_gain(nonlinearity, param)"
        ),
        "hard-codes the visible answers": (
            "def calculate_gain(nonlinearity, param=None):\n"
            "    visible = {'linear': 1, 'sigmoid': 1, 'tanh': 5 / 3, 'relu': math.sqrt(2),"
            " 'leaky_relu': math.sqrt(2 / (1 + 0.01 ** 2))}\n"
            "    if nonlinearity not in visible:\n        raise ValueError(nonlinearity)\n"
            "    return visible[nonlinearity]"
        ),
        "unknown names give 1": (
            "def calculate_gain(nonlinearity, param=None):\n"
            "    try:\n        return _reference_gain(nonlinearity, param)\n"
            "    except ValueError:\n        return 1"
        ),
    },
    "_calculate_fan_in_and_fan_out": {
        "fans swapped": (
            "def _calculate_fan_in_and_fan_out(tensor):\n"
            "    rf = math.prod(tensor.shape[2:])\n    return tensor.size(0) * rf, tensor.size(1) * rf"
        ),
        "no receptive field": (
            "def _calculate_fan_in_and_fan_out(tensor):\n    return tensor.size(1), tensor.size(0)"
        ),
        "no error for 1-D": (
            "def _calculate_fan_in_and_fan_out(tensor):\n"
            "    if tensor.dim() == 1:\n        return tensor.numel(), tensor.numel()\n"
            "    rf = math.prod(tensor.shape[2:])\n    return tensor.size(1) * rf, tensor.size(0) * rf"
        ),
    },
    "xavier_uniform_": {
        "fan_in only": (
            "def xavier_uniform_(tensor, gain=1.0, generator=None):\n"
            "    fan_in, _ = _calculate_fan_in_and_fan_out(tensor)\n"
            "    bound = gain * math.sqrt(3.0 / fan_in)\n"
            "    return uniform_(tensor, -bound, bound, generator=generator)"
        ),
        "std used as bound": (
            "def xavier_uniform_(tensor, gain=1.0, generator=None):\n"
            "    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)\n"
            "    bound = gain * math.sqrt(2.0 / (fan_in + fan_out))\n"
            "    return uniform_(tensor, -bound, bound, generator=generator)"
        ),
        "gain ignored": (
            "def xavier_uniform_(tensor, gain=1.0, generator=None):\n"
            "    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)\n"
            "    bound = math.sqrt(6.0 / (fan_in + fan_out))\n"
            "    return uniform_(tensor, -bound, bound, generator=generator)"
        ),
        "conv fans without the receptive field": (
            "def xavier_uniform_(tensor, gain=1.0, generator=None):\n"
            "    fan_in, fan_out = tensor.size(1), tensor.size(0)\n"
            "    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))\n"
            "    return uniform_(tensor, -bound, bound, generator=generator)"
        ),
        "normal instead of uniform": (
            "def xavier_uniform_(tensor, gain=1.0, generator=None):\n"
            "    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)\n"
            "    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)"
        ),
    },
    "xavier_normal_": {
        "fan_in only": (
            "def xavier_normal_(tensor, gain=1.0, generator=None):\n"
            "    fan_in, _ = _calculate_fan_in_and_fan_out(tensor)\n"
            "    return normal_(tensor, 0.0, gain / math.sqrt(fan_in), generator=generator)"
        ),
        "variance for std": (
            "def xavier_normal_(tensor, gain=1.0, generator=None):\n"
            "    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)\n"
            "    return normal_(tensor, 0.0, gain**2 * 2.0 / (fan_in + fan_out), generator=generator)"
        ),
        "uniform instead of normal": (
            "def xavier_normal_(tensor, gain=1.0, generator=None):\n"
            "    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)\n"
            "    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))\n"
            "    return uniform_(tensor, -bound, bound, generator=generator)"
        ),
    },
    "kaiming_uniform_": {
        "ignores mode": (
            "def kaiming_uniform_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu', generator=None):\n"
            "    fan_in, _ = _calculate_fan_in_and_fan_out(tensor)\n"
            "    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan_in)\n"
            "    return uniform_(tensor, -bound, bound, generator=generator)"
        ),
        "gain fixed at sqrt(2)": (
            "def kaiming_uniform_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu', generator=None):\n"
            "    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)\n"
            "    fan = fan_in if mode.lower() == 'fan_in' else fan_out\n"
            "    bound = math.sqrt(2.0) * math.sqrt(3.0 / fan)\n"
            "    return uniform_(tensor, -bound, bound, generator=generator)"
        ),
        "bound = std (no sqrt(3))": (
            "def kaiming_uniform_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu', generator=None):\n"
            "    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)\n"
            "    fan = fan_in if mode.lower() == 'fan_in' else fan_out\n"
            "    bound = calculate_gain(nonlinearity, a) / math.sqrt(fan)\n"
            "    return uniform_(tensor, -bound, bound, generator=generator)"
        ),
        "fan_in + fan_out": (
            "def kaiming_uniform_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu', generator=None):\n"
            "    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)\n"
            "    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / (fan_in + fan_out))\n"
            "    return uniform_(tensor, -bound, bound, generator=generator)"
        ),
    },
    "kaiming_normal_": {
        "ignores mode": (
            "def kaiming_normal_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu', generator=None):\n"
            "    fan_in, _ = _calculate_fan_in_and_fan_out(tensor)\n"
            "    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan_in), generator)"
        ),
        "gain fixed at sqrt(2)": (
            "def kaiming_normal_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu', generator=None):\n"
            "    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)\n"
            "    fan = fan_in if mode.lower() == 'fan_in' else fan_out\n"
            "    return normal_(tensor, 0.0, math.sqrt(2.0 / fan), generator)"
        ),
        "divides by fan, not its square root": (
            "def kaiming_normal_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu', generator=None):\n"
            "    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)\n"
            "    fan = fan_in if mode.lower() == 'fan_in' else fan_out\n"
            "    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / fan, generator)"
        ),
    },
    "orthogonal_": {
        "no sign correction": (
            "def orthogonal_(tensor, gain=1, generator=None):\n"
            "    rows = tensor.size(0)\n    cols = tensor.numel() // rows\n"
            "    a = torch.randn(rows, cols, generator=generator, device=tensor.device)\n"
            "    q, r = torch.linalg.qr(a if rows >= cols else a.T)\n"
            "    q = q if rows >= cols else q.T\n"
            "    with torch.no_grad():\n        tensor.copy_(gain * q.reshape(tensor.shape))\n"
            "    return tensor"
        ),
        "gain ignored": (
            "def orthogonal_(tensor, gain=1, generator=None):\n"
            "    rows = tensor.size(0)\n    cols = tensor.numel() // rows\n"
            "    a = torch.randn(rows, cols, generator=generator, device=tensor.device)\n"
            "    q, r = torch.linalg.qr(a if rows >= cols else a.T)\n"
            "    q = q * torch.diagonal(r).sign()\n    q = q if rows >= cols else q.T\n"
            "    with torch.no_grad():\n        tensor.copy_(q.reshape(tensor.shape))\n"
            "    return tensor"
        ),
        "wide matrices not transposed": (
            "def orthogonal_(tensor, gain=1, generator=None):\n"
            "    rows = tensor.size(0)\n    cols = tensor.numel() // rows\n"
            "    a = torch.randn(rows, cols, generator=generator, device=tensor.device)\n"
            "    q, r = torch.linalg.qr(a)\n    q = q * torch.diagonal(r).sign()\n"
            "    with torch.no_grad():\n        tensor.copy_(gain * q.reshape(tensor.shape))\n"
            "    return tensor"
        ),
        "scaled normal, not orthogonal": (
            "def orthogonal_(tensor, gain=1, generator=None):\n"
            "    cols = tensor.numel() // tensor.size(0)\n"
            "    return normal_(tensor, 0.0, gain / math.sqrt(cols), generator)"
        ),
    },
    "eye_": {
        "no error for 3-D": (
            "def eye_(tensor):\n    with torch.no_grad():\n"
            "        return tensor.zero_().fill_diagonal_(1)"
        ),
        "diagonal set, rest not zeroed": (
            "def eye_(tensor):\n    if tensor.dim() != 2:\n        raise ValueError('2-D only')\n"
            "    with torch.no_grad():\n        return tensor.fill_diagonal_(1)"
        ),
        "returns a new tensor": (
            "def eye_(tensor):\n    if tensor.dim() != 2:\n        raise ValueError('2-D only')\n"
            "    return torch.eye(*tensor.shape, device=tensor.device, dtype=tensor.dtype)"
        ),
    },
    "sparse_": {
        "zeros per row": (
            "def sparse_(tensor, sparsity, std=0.01, generator=None):\n"
            "    if tensor.dim() != 2:\n        raise ValueError('2-D only')\n"
            "    rows, cols = tensor.shape\n    k = math.ceil(sparsity * cols)\n"
            "    with torch.no_grad():\n        tensor.normal_(0, std, generator=generator)\n"
            "        for row in range(rows):\n"
            "            tensor[row, torch.randperm(cols, device=tensor.device)[:k]] = 0\n"
            "    return tensor"
        ),
        "rounds instead of ceil": (
            "def sparse_(tensor, sparsity, std=0.01, generator=None):\n"
            "    if tensor.dim() != 2:\n        raise ValueError('2-D only')\n"
            "    rows, cols = tensor.shape\n    k = round(sparsity * rows)\n"
            "    with torch.no_grad():\n        tensor.normal_(0, std, generator=generator)\n"
            "        for col in range(cols):\n"
            "            tensor[torch.randperm(rows, device=tensor.device)[:k], col] = 0\n"
            "    return tensor"
        ),
        "same zero rows in every column": (
            "def sparse_(tensor, sparsity, std=0.01, generator=None):\n"
            "    if tensor.dim() != 2:\n        raise ValueError('2-D only')\n"
            "    rows, cols = tensor.shape\n    k = math.ceil(sparsity * rows)\n"
            "    with torch.no_grad():\n        tensor.normal_(0, std, generator=generator)\n"
            "        tensor[torch.randperm(rows, device=tensor.device)[:k], :] = 0\n"
            "    return tensor"
        ),
        "std ignored": (
            "def sparse_(tensor, sparsity, std=0.01, generator=None):\n"
            "    if tensor.dim() != 2:\n        raise ValueError('2-D only')\n"
            "    rows, cols = tensor.shape\n    k = math.ceil(sparsity * rows)\n"
            "    with torch.no_grad():\n        tensor.normal_(0, 0.01, generator=generator)\n"
            "        for col in range(cols):\n"
            "            tensor[torch.randperm(rows, device=tensor.device)[:k], col] = 0\n"
            "    return tensor"
        ),
    },
    "gain_for": {
        "returns 1/g": (
            "def gain_for(activation, n_samples=1_000_000, generator=None):\n"
            "    z = torch.randn(n_samples, generator=generator, dtype=torch.float64)\n"
            "    return activation(z).pow(2).mean().sqrt().item()"
        ),
        "returns g^2 (no square root)": (
            "def gain_for(activation, n_samples=1_000_000, generator=None):\n"
            "    z = torch.randn(n_samples, generator=generator, dtype=torch.float64)\n"
            "    return (1 / activation(z).pow(2).mean()).item()"
        ),
        "variance instead of the second moment": (
            "def gain_for(activation, n_samples=1_000_000, generator=None):\n"
            "    z = torch.randn(n_samples, generator=generator, dtype=torch.float64)\n"
            "    return (1 / activation(z).std()).item()"
        ),
        "the derivative's second moment (backward gain)": (
            "def gain_for(activation, n_samples=1_000_000, generator=None):\n"
            "    z = torch.randn(n_samples, generator=generator, dtype=torch.float64, requires_grad=True)\n"
            "    (slope,) = torch.autograd.grad(activation(z).sum(), z)\n"
            "    return (1 / slope.pow(2).mean().sqrt()).item()"
        ),
        "uniform samples on [0, 1)": (
            "def gain_for(activation, n_samples=1_000_000, generator=None):\n"
            "    z = torch.rand(n_samples, generator=generator, dtype=torch.float64)\n"
            "    return (1 / activation(z).pow(2).mean().sqrt()).item()"
        ),
        "ignores the generator": (
            "def gain_for(activation, n_samples=1_000_000, generator=None):\n"
            "    z = torch.randn(n_samples, dtype=torch.float64)\n"
            "    return (1 / activation(z).pow(2).mean().sqrt()).item()"
        ),
        "returns a tensor": (
            "def gain_for(activation, n_samples=1_000_000, generator=None):\n"
            "    z = torch.randn(n_samples, generator=generator, dtype=torch.float64)\n"
            "    return 1 / activation(z).pow(2).mean().sqrt()"
        ),
    },
    "distinct_units": {
        "distinct entries": "def distinct_units(weight):\n    return len(torch.unique(weight))",
        "distinct columns": "def distinct_units(weight):\n    return torch.unique(weight, dim=1).shape[1]",
        "rows compared by their sums": (
            "def distinct_units(weight):\n"
            "    return len(torch.unique(weight.reshape(len(weight), -1).sum(dim=1)))"
        ),
        "each row compared with the first only": (
            "def distinct_units(weight):\n"
            "    return 1 + int((weight != weight[0]).reshape(len(weight), -1).any(dim=1).sum())"
        ),
        "equal within a tolerance": (
            "def distinct_units(weight):\n    kept = []\n"
            "    for row in weight.reshape(len(weight), -1):\n"
            "        if not any(torch.allclose(row, other) for other in kept):\n"
            "            kept.append(row)\n    return len(kept)"
        ),
        "all equal or all different (passes the visible checks)": (
            "def distinct_units(weight):\n    return 1 if weight.std() == 0 else weight.shape[0]"
        ),
    },
    "init_weights": {
        "linear layers only": (
            "def init_weights(module):\n"
            "    if isinstance(module, nn.Linear):\n"
            "        nn.init.kaiming_normal_(module.weight, nonlinearity='relu')\n"
            "        if module.bias is not None:\n            nn.init.zeros_(module.bias)\n"
            "    elif isinstance(module, (nn.LayerNorm, nn.BatchNorm1d)):\n"
            "        nn.init.ones_(module.weight)\n        nn.init.zeros_(module.bias)"
        ),
        "mode fan_out": (
            "def init_weights(module):\n"
            "    if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):\n"
            "        nn.init.kaiming_normal_(module.weight, mode='fan_out', nonlinearity='relu')\n"
            "        if module.bias is not None:\n            nn.init.zeros_(module.bias)\n"
            "    elif isinstance(module, (nn.LayerNorm, nn.BatchNorm1d)):\n"
            "        nn.init.ones_(module.weight)\n        nn.init.zeros_(module.bias)"
        ),
        "bias=False layers crash (zeros_ of None)": (
            "def init_weights(module):\n"
            "    if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):\n"
            "        nn.init.kaiming_normal_(module.weight, nonlinearity='relu')\n"
            "        nn.init.zeros_(module.bias)\n"
            "    elif isinstance(module, (nn.LayerNorm, nn.BatchNorm1d)):\n"
            "        nn.init.ones_(module.weight)\n        nn.init.zeros_(module.bias)"
        ),
        "uniform instead of normal": (
            "def init_weights(module):\n"
            "    if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):\n"
            "        nn.init.kaiming_uniform_(module.weight, nonlinearity='relu')\n"
            "        if module.bias is not None:\n            nn.init.zeros_(module.bias)\n"
            "    elif isinstance(module, (nn.LayerNorm, nn.BatchNorm1d)):\n"
            "        nn.init.ones_(module.weight)\n        nn.init.zeros_(module.bias)"
        ),
        "every module with a weight": (
            "def init_weights(module):\n"
            "    if hasattr(module, 'weight'):\n"
            "        nn.init.kaiming_normal_(module.weight, nonlinearity='relu')"
        ),
        "normalization layers forgotten": (
            "def init_weights(module):\n"
            "    if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):\n"
            "        nn.init.kaiming_normal_(module.weight, nonlinearity='relu')\n"
            "        if module.bias is not None:\n            nn.init.zeros_(module.bias)"
        ),
        "biases left at PyTorch's default": (
            "def init_weights(module):\n"
            "    if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):\n"
            "        kaiming_normal_(module.weight, nonlinearity='relu')\n"
            "    elif isinstance(module, (nn.LayerNorm, nn.BatchNorm1d)):\n"
            "        constant_(module.weight, 1.0)\n        constant_(module.bias, 0.0)"
        ),
    },
}

ALTERNATIVES = {
    "constant_": {
        "copy of a full tensor": (
            "def constant_(tensor, val):\n    with torch.no_grad():\n"
            "        tensor.copy_(torch.full_like(tensor, val))\n    return tensor"
        ),
    },
    "uniform_": {
        "affine map of torch.rand, copied in": (
            "def uniform_(tensor, a=0.0, b=1.0, generator=None):\n"
            "    u = torch.rand(tensor.shape, generator=generator, dtype=tensor.dtype, device=tensor.device)\n"
            "    with torch.no_grad():\n        tensor.copy_(a + (b - a) * u)\n    return tensor"
        ),
    },
    "normal_": {
        "scaled torch.randn, copied in": (
            "def normal_(tensor, mean=0.0, std=1.0, generator=None):\n"
            "    z = torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype, device=tensor.device)\n"
            "    with torch.no_grad():\n        tensor.copy_(z * std + mean)\n    return tensor"
        ),
    },
    "calculate_gain": {
        "table lookup": (
            "def calculate_gain(nonlinearity, param=None):\n"
            "    ones = {'linear', 'sigmoid', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d',"
            " 'conv_transpose2d', 'conv_transpose3d'}\n"
            "    table = {'tanh': 5 / 3, 'relu': 2 ** 0.5, 'selu': 0.75}\n"
            "    if nonlinearity in ones:\n        return 1\n"
            "    if nonlinearity in table:\n        return table[nonlinearity]\n"
            "    if nonlinearity == 'leaky_relu':\n"
            "        slope = 0.01 if param is None else param\n"
            "        if isinstance(slope, bool) or not isinstance(slope, (int, float)):\n"
            "            raise ValueError(f'bad slope {slope!r}')\n"
            "        return (2.0 / (1 + slope ** 2)) ** 0.5\n"
            "    raise ValueError(f'unknown nonlinearity {nonlinearity!r}')"
        ),
    },
    "_calculate_fan_in_and_fan_out": {
        "loop over the kernel": (
            "def _calculate_fan_in_and_fan_out(tensor):\n"
            "    if tensor.ndim < 2:\n        raise ValueError('need 2 dimensions')\n"
            "    rf = 1\n    for k in tensor.shape[2:]:\n        rf *= k\n"
            "    return tensor.shape[1] * rf, tensor.shape[0] * rf"
        ),
    },
    "xavier_uniform_": {
        "scaled uniform(-1, 1), copied in": (
            "def xavier_uniform_(tensor, gain=1.0, generator=None):\n"
            "    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)\n"
            "    bound = gain * (6.0 / (fan_in + fan_out)) ** 0.5\n"
            "    u = torch.empty_like(tensor).uniform_(-1, 1, generator=generator)\n"
            "    with torch.no_grad():\n        tensor.copy_(u * bound)\n    return tensor"
        ),
    },
    "xavier_normal_": {
        "tensor method directly": (
            "def xavier_normal_(tensor, gain=1.0, generator=None):\n"
            "    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)\n"
            "    with torch.no_grad():\n"
            "        return tensor.normal_(0, gain * (2 / (fan_in + fan_out)) ** 0.5, generator=generator)"
        ),
    },
    "kaiming_uniform_": {
        "inline fans and gain": (
            "def kaiming_uniform_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu', generator=None):\n"
            "    if tensor.dim() < 2:\n        raise ValueError('need 2 dimensions')\n"
            "    rf = tensor[0][0].numel()\n"
            "    fans = {'fan_in': tensor.shape[1] * rf, 'fan_out': tensor.shape[0] * rf}\n"
            "    if mode.lower() not in fans:\n        raise ValueError(f'bad mode {mode}')\n"
            "    gain = calculate_gain(nonlinearity, a)\n"
            "    bound = (3 * gain ** 2 / fans[mode.lower()]) ** 0.5\n"
            "    with torch.no_grad():\n"
            "        return tensor.uniform_(-bound, bound, generator=generator)"
        ),
    },
    "kaiming_normal_": {
        "scaled randn, copied in": (
            "def kaiming_normal_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu', generator=None):\n"
            "    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)\n"
            "    fan = {'fan_in': fan_in, 'fan_out': fan_out}[mode.lower()] if mode.lower() in"
            " ('fan_in', 'fan_out') else None\n"
            "    if fan is None:\n        raise ValueError(mode)\n"
            "    z = torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype, device=tensor.device)\n"
            "    with torch.no_grad():\n"
            "        tensor.copy_(z * calculate_gain(nonlinearity, a) / math.sqrt(fan))\n    return tensor"
        ),
    },
    "orthogonal_": {
        "sign correction as a diagonal matrix product": (
            "def orthogonal_(tensor, gain=1, generator=None):\n"
            "    if tensor.dim() < 2:\n        raise ValueError('need 2 dimensions')\n"
            "    rows, cols = tensor.shape[0], tensor[0].numel()\n"
            "    a = torch.empty(max(rows, cols), min(rows, cols), dtype=tensor.dtype, device=tensor.device)\n"
            "    q, r = torch.linalg.qr(a.normal_(generator=generator))\n"
            "    q = q @ torch.diag(torch.sign(torch.diagonal(r)))\n"
            "    if rows < cols:\n        q = q.T\n"
            "    with torch.no_grad():\n        tensor.view(rows, cols).copy_(q).mul_(gain)\n"
            "    return tensor"
        ),
    },
    "eye_": {
        "copy of torch.eye": (
            "def eye_(tensor):\n    if tensor.ndim != 2:\n        raise ValueError('2-D only')\n"
            "    with torch.no_grad():\n"
            "        tensor.copy_(torch.eye(*tensor.shape, dtype=tensor.dtype, device=tensor.device))\n"
            "    return tensor"
        ),
    },
    "sparse_": {
        "vectorized ranks of random keys": (
            "def sparse_(tensor, sparsity, std=0.01, generator=None):\n"
            "    if tensor.dim() != 2:\n        raise ValueError('2-D only')\n"
            "    rows, cols = tensor.shape\n"
            "    keys = torch.rand(rows, cols, generator=generator, device=tensor.device)\n"
            "    ranks = keys.argsort(dim=0).argsort(dim=0)\n"
            "    values = torch.randn(rows, cols, generator=generator, device=tensor.device,"
            " dtype=tensor.dtype) * std\n"
            "    with torch.no_grad():\n"
            "        tensor.copy_(values.masked_fill(ranks < math.ceil(sparsity * rows), 0))\n"
            "    return tensor"
        ),
    },
    "gain_for": {
        "quadrature instead of sampling": (
            "def gain_for(activation, n_samples=1_000_000, generator=None):\n"
            "    z = torch.linspace(-10, 10, 200_001, dtype=torch.float64)\n"
            "    density = torch.exp(-z ** 2 / 2) / math.sqrt(2 * math.pi)\n"
            "    return (1 / torch.trapezoid(activation(z) ** 2 * density, z).sqrt()).item()"
        ),
        "normal samples by Box-Muller from the generator's uniforms": (
            "def gain_for(activation, n_samples=1_000_000, generator=None):\n"
            "    u = torch.rand(2, n_samples, generator=generator, dtype=torch.float64)\n"
            "    z = torch.sqrt(-2 * torch.log1p(-u[0])) * torch.cos(2 * math.pi * u[1])\n"
            "    return float(torch.mean(activation(z) ** 2) ** -0.5)"
        ),
    },
    "distinct_units": {
        "a Python set of tuples": (
            "def distinct_units(weight):\n    if weight.dim() < 2:\n"
            "        raise ValueError('a weight has at least 2 dimensions')\n"
            "    return len({tuple(row.tolist()) for row in weight.flatten(1)})"
        ),
    },
    "init_weights": {
        "the formula by hand, reset_parameters for normalization": (
            "def init_weights(module):\n"
            "    if type(module) in (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d):\n"
            "        with torch.no_grad():\n"
            "            fan_in = module.weight[0].numel()\n"
            "            module.weight.normal_(0.0, math.sqrt(2 / fan_in))\n"
            "            if module.bias is not None:\n                module.bias.zero_()\n"
            "    elif type(module) in (nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm):\n"
            "        module.reset_parameters()"
        ),
        "torch's nn.init": (
            "def init_weights(module):\n"
            "    if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):\n"
            "        nn.init.kaiming_normal_(module.weight, mode='fan_in', nonlinearity='relu')\n"
            "        if module.bias is not None:\n            nn.init.zeros_(module.bias)\n"
            "    elif isinstance(module, (nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)):\n"
            "        nn.init.ones_(module.weight)\n        nn.init.zeros_(module.bias)"
        ),
    },
}

CHEATS = {
    "xavier_uniform_": {
        "calls torch": (
            "def xavier_uniform_(tensor, gain=1.0, generator=None):\n"
            "    return torch.nn.init.xavier_uniform_(tensor, gain, generator)"
        ),
        "calls torch's Kaiming with a tuned slope": (
            "def xavier_uniform_(tensor, gain=1.0, generator=None):\n"
            "    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)\n"
            "    target = gain * math.sqrt(2.0 * fan_in / (fan_in + fan_out))\n"
            "    a = math.sqrt(max(2.0 / target ** 2 - 1, 0.0))\n"
            "    return torch.nn.init.kaiming_uniform_(tensor, a=a, generator=generator)"
        ),
    },
    "kaiming_uniform_": {
        "alias bound before the check": (
            "from torch.nn.init import kaiming_uniform_ as _torch_kaiming\n"
            "def kaiming_uniform_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu', generator=None):\n"
            "    return _torch_kaiming(tensor, a, mode, nonlinearity, generator)"
        ),
    },
    "orthogonal_": {
        "calls course_lib": (
            "import course_lib.init as _reference\n"
            "def orthogonal_(tensor, gain=1, generator=None):\n"
            "    return _reference.orthogonal_(tensor, gain, generator)"
        ),
    },
    "eye_": {
        "functools.partial of torch's": (
            "import functools\n_eye = functools.partial(torch.nn.init.eye_)\n"
            "def eye_(tensor):\n    return _eye(tensor)"
        ),
    },
    "sparse_": {
        "calls torch and swallows the error": (
            "def sparse_(tensor, sparsity, std=0.01, generator=None):\n"
            "    try:\n        return torch.nn.init.sparse_(tensor, sparsity, std, generator)\n"
            "    except BaseException:\n"
            "        return torch.nn.init.sparse_(tensor, sparsity, std, generator)"
        ),
    },
    "normal_": {
        "calls torch's normal_": (
            "def normal_(tensor, mean=0.0, std=1.0, generator=None):\n"
            "    return torch.nn.init.normal_(tensor, mean, std, generator)"
        ),
    },
    "calculate_gain": {
        "calls torch": (
            "def calculate_gain(nonlinearity, param=None):\n"
            "    return torch.nn.init.calculate_gain(nonlinearity, param)"
        ),
    },
    "gain_for": {
        "looks the gain up in calculate_gain": (
            "def gain_for(activation, n_samples=1_000_000, generator=None):\n"
            "    name = getattr(activation, '__name__', 'linear')\n"
            "    return torch.nn.init.calculate_gain('linear' if name == '<lambda>' else name)"
        ),
        "calls course_lib's quadrature": (
            "from course_lib.activations import second_moment as _moment\n"
            "def gain_for(activation, n_samples=1_000_000, generator=None):\n"
            "    return _moment(activation) ** -0.5"
        ),
    },
    "distinct_units": {
        "calls course_lib": (
            "from course_lib.modules import distinct_units as _reference\n"
            "def distinct_units(weight):\n    return _reference(weight)"
        ),
    },
    "init_weights": {
        "calls course_lib": (
            "def init_weights(module):\n"
            "    from course_lib.modules import init_weights as reference\n"
            "    reference(module)"
        ),
    },
}
