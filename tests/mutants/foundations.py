"""Catalogue for assignment 00_foundations (see tests/mutants/initialization.py for the format)."""

MUTANTS = {
    "sigmoid_derivative": {
        "sigma (1 + sigma)": "def sigmoid_derivative(x):\n    s = torch.sigmoid(x)\n    return s * (1 + s)",
        "the function, not its derivative": "def sigmoid_derivative(x):\n    return torch.sigmoid(x)",
        "overflowing exp form": (
            "def sigmoid_derivative(x):\n    e = torch.exp(-x)\n    return e / (1 + e) ** 2"
        ),
    },
    "tanh_derivative": {
        "1 - tanh, not squared": "def tanh_derivative(x):\n    return 1 - torch.tanh(x)",
        "1 - x^2": "def tanh_derivative(x):\n    return 1 - x ** 2",
        "sigmoid's derivative": (
            "def tanh_derivative(x):\n    s = torch.sigmoid(x)\n    return s * (1 - s)"
        ),
    },
    "relu_derivative": {
        "1 at x = 0": "def relu_derivative(x):\n    return (x >= 0).to(x.dtype)",
        "boolean tensor": "def relu_derivative(x):\n    return x > 0",
        "sign of x": "def relu_derivative(x):\n    return torch.sign(x)",
    },
    "gradient_std_per_layer": {
        "stale gradients not zeroed": (
            "def gradient_std_per_layer(model, loss_fn, x, y):\n"
            "    loss_fn(model(x), y).backward()\n"
            "    return [m.weight.grad.std().item() for m in model.modules() if isinstance(m, nn.Linear)]"
        ),
        "output to input": (
            "def gradient_std_per_layer(model, loss_fn, x, y):\n    model.zero_grad()\n"
            "    loss_fn(model(x), y).backward()\n"
            "    return [m.weight.grad.std().item() for m in model.modules() if isinstance(m, nn.Linear)][::-1]"
        ),
        "std of the weights": (
            "def gradient_std_per_layer(model, loss_fn, x, y):\n"
            "    return [m.weight.std().item() for m in model.modules() if isinstance(m, nn.Linear)]"
        ),
    },
    "train_step": {
        "no zero_grad": (
            "def train_step(model, loss_fn, optimizer, x, y):\n"
            "    loss = loss_fn(model(x), y)\n    loss.backward()\n    optimizer.step()\n"
            "    return loss.item()"
        ),
        "step before backward": (
            "def train_step(model, loss_fn, optimizer, x, y):\n    optimizer.zero_grad()\n"
            "    loss = loss_fn(model(x), y)\n    optimizer.step()\n    loss.backward()\n"
            "    return loss.item()"
        ),
        "returns the loss tensor": (
            "def train_step(model, loss_fn, optimizer, x, y):\n    optimizer.zero_grad()\n"
            "    loss = loss_fn(model(x), y)\n    loss.backward()\n    optimizer.step()\n    return loss"
        ),
    },
    "accumulate_gradients": {
        "means summed without weights": (
            "def accumulate_gradients(model, loss_fn, x, y, micro_batch_size):\n    model.zero_grad()\n"
            "    for xb, yb in zip(x.split(micro_batch_size), y.split(micro_batch_size)):\n"
            "        loss_fn(model(xb), yb).backward()"
        ),
        "zeroed inside the loop": (
            "def accumulate_gradients(model, loss_fn, x, y, micro_batch_size):\n"
            "    for xb, yb in zip(x.split(micro_batch_size), y.split(micro_batch_size)):\n"
            "        model.zero_grad()\n        (loss_fn(model(xb), yb) * len(xb) / len(x)).backward()"
        ),
        "divided by the number of micro-batches": (
            "def accumulate_gradients(model, loss_fn, x, y, micro_batch_size):\n    model.zero_grad()\n"
            "    chunks = list(zip(x.split(micro_batch_size), y.split(micro_batch_size)))\n"
            "    for xb, yb in chunks:\n        (loss_fn(model(xb), yb) / len(chunks)).backward()"
        ),
        "stale gradients not zeroed": (
            "def accumulate_gradients(model, loss_fn, x, y, micro_batch_size):\n"
            "    for xb, yb in zip(x.split(micro_batch_size), y.split(micro_batch_size)):\n"
            "        (loss_fn(model(xb), yb) * len(xb) / len(x)).backward()"
        ),
    },
}

ALTERNATIVES = {
    "sigmoid_derivative": {
        "stable exp of -|x|": (
            "def sigmoid_derivative(x):\n    e = torch.exp(-x.abs())\n    return e / (1 + e) ** 2"
        ),
    },
    "tanh_derivative": {
        "1 / cosh^2": "def tanh_derivative(x):\n    return 1 / torch.cosh(x) ** 2",
    },
    "relu_derivative": {
        "torch.where": (
            "def relu_derivative(x):\n"
            "    return torch.where(x > 0, torch.ones_like(x), torch.zeros_like(x))"
        ),
    },
    "gradient_std_per_layer": {
        "gradients set to None first": (
            "def gradient_std_per_layer(model, loss_fn, x, y):\n"
            "    for p in model.parameters():\n        p.grad = None\n"
            "    loss_fn(model(x), y).backward()\n"
            "    layers = [m for m in model if isinstance(m, nn.Linear)]\n"
            "    return [float(layer.weight.grad.std()) for layer in layers]"
        ),
    },
    "train_step": {
        "model.zero_grad, float()": (
            "def train_step(model, loss_fn, optimizer, x, y):\n    model.zero_grad(set_to_none=False)\n"
            "    loss = loss_fn(model(x), y)\n    loss.backward()\n    optimizer.step()\n"
            "    return float(loss)"
        ),
    },
    "accumulate_gradients": {
        "sums of losses, index slicing": (
            "def accumulate_gradients(model, loss_fn, x, y, micro_batch_size):\n"
            "    for p in model.parameters():\n        p.grad = None\n"
            "    for start in range(0, len(x), micro_batch_size):\n"
            "        xb, yb = x[start:start + micro_batch_size], y[start:start + micro_batch_size]\n"
            "        (loss_fn(model(xb), yb) * xb.shape[0]).div(x.shape[0]).backward()"
        ),
    },
}

CHEATS = {
    "sigmoid_derivative": {
        "autograd": (
            "def sigmoid_derivative(x):\n    x = x.detach().requires_grad_()\n"
            "    torch.sigmoid(x).sum().backward()\n    return x.grad"
        ),
    },
    "tanh_derivative": {
        "torch.autograd.grad via an alias": (
            "from torch.autograd import grad as _g\n"
            "def tanh_derivative(x):\n    x = x.detach().requires_grad_()\n"
            "    return _g(torch.tanh(x).sum(), x)[0]"
        ),
    },
    "train_step": {
        "calls course_lib": (
            "from course_lib.train import train_step as _reference\n"
            "def train_step(model, loss_fn, optimizer, x, y):\n"
            "    return _reference(model, loss_fn, optimizer, x, y)"
        ),
    },
}
