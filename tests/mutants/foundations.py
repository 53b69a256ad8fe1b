"""Catalogue for assignment 00_foundations (see tests/mutants/initialization.py for the format)."""

# DropoutNet as the exercise gives it, up to its forward (the part the student rewrites).
_DROPOUT_NET = (
    "class DropoutNet(nn.Module):\n"
    "    def __init__(self, n_in, n_hidden, n_out, p=0.5):\n"
    "        super().__init__()\n"
    "        self.hidden = nn.Linear(n_in, n_hidden)\n"
    "        self.out = nn.Linear(n_hidden, n_out)\n"
    "        self.p = p\n\n"
    "    def forward(self, x):\n"
)


def _dropout_net(forward_body: str) -> str:
    """The source of DropoutNet with ``forward_body`` (indented 8 spaces) as its forward."""
    return _DROPOUT_NET + forward_body


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
    "softmax_jacobian": {
        "diagonal term forgotten": (
            "def softmax_jacobian(z):\n    p = torch.softmax(z, dim=-1)\n"
            "    return -p.unsqueeze(-1) * p.unsqueeze(-2)"
        ),
        "sigmoid's rule, p (1 - p) on the diagonal only": (
            "def softmax_jacobian(z):\n    p = torch.softmax(z, dim=-1)\n"
            "    return torch.diag_embed(p * (1 - p))"
        ),
        "exp without subtracting the largest logit": (
            "def softmax_jacobian(z):\n    if z.dim() == 0:\n        raise ValueError('no classes')\n"
            "    e = torch.exp(z)\n    p = e / e.sum(dim=-1, keepdim=True)\n"
            "    return torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)"
        ),
        "one Jacobian for the flattened batch": (
            "def softmax_jacobian(z):\n    p = torch.softmax(z, dim=-1).flatten()\n"
            "    return torch.diag(p) - torch.outer(p, p)"
        ),
        "softmax over the batch dimension": (
            "def softmax_jacobian(z):\n    if z.dim() == 0:\n        raise ValueError('no classes')\n"
            "    p = torch.softmax(z, dim=0)\n"
            "    return torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)"
        ),
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
    "DropoutNet": {
        "the bug left in place (training defaults to True)": _dropout_net(
            "        h = torch.relu(self.hidden(x))\n        return self.out(F.dropout(h, self.p))"
        ),
        "fixed by deleting dropout": _dropout_net(
            "        return self.out(torch.relu(self.hidden(x)))"
        ),
        "the mode inverted": _dropout_net(
            "        h = torch.relu(self.hidden(x))\n"
            "        return self.out(F.dropout(h, self.p, training=not self.training))"
        ),
        "a mask without the 1/(1 - p) scaling": _dropout_net(
            "        h = torch.relu(self.hidden(x))\n        if self.training:\n"
            "            h = h * (torch.rand_like(h) >= self.p)\n        return self.out(h)"
        ),
        "dropout on the output instead of the hidden units": _dropout_net(
            "        h = torch.relu(self.hidden(x))\n"
            "        return F.dropout(self.out(h), self.p, training=self.training)"
        ),
        "a fresh nn.Dropout inside forward (always in training mode)": _dropout_net(
            "        h = torch.relu(self.hidden(x))\n        return self.out(nn.Dropout(self.p)(h))"
        ),
        "p taken as the probability to keep": _dropout_net(
            "        h = torch.relu(self.hidden(x))\n"
            "        return self.out(F.dropout(h, 1 - self.p, training=self.training))"
        ),
        "one mask drawn in __init__, reused in every pass": (
            "class DropoutNet(nn.Module):\n"
            "    def __init__(self, n_in, n_hidden, n_out, p=0.5):\n"
            "        super().__init__()\n"
            "        self.hidden = nn.Linear(n_in, n_hidden)\n"
            "        self.out = nn.Linear(n_hidden, n_out)\n"
            "        self.p = p\n"
            "        self.keep = (torch.rand(n_hidden) >= p) / (1 - p)\n\n"
            "    def forward(self, x):\n"
            "        h = torch.relu(self.hidden(x))\n"
            "        return self.out(h * self.keep.to(h.device) if self.training else h)"
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
    "softmax_jacobian": {
        "p_i (delta_ij - p_j) with an identity matrix": (
            "def softmax_jacobian(z):\n    if z.dim() == 0:\n"
            "        raise ValueError('z needs a class dimension')\n"
            "    p = torch.softmax(z, dim=-1)\n"
            "    eye = torch.eye(z.shape[-1], dtype=z.dtype, device=z.device)\n"
            "    return p.unsqueeze(-1) * (eye - p.unsqueeze(-2))"
        ),
        "own stable softmax, outer product by matmul": (
            "def softmax_jacobian(z):\n    if z.ndim == 0:\n        raise ValueError('0-d logits')\n"
            "    e = torch.exp(z - z.max(dim=-1, keepdim=True).values)\n"
            "    p = e / e.sum(dim=-1, keepdim=True)\n"
            "    return torch.diag_embed(p) - p[..., :, None] @ p[..., None, :]"
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
    "DropoutNet": {
        "own mask, scaled by 1/(1 - p)": _dropout_net(
            "        h = torch.relu(self.hidden(x))\n"
            "        if self.training and self.p > 0:\n"
            "            h = h * (torch.rand_like(h) >= self.p) / (1 - self.p)\n"
            "        return self.out(h)"
        ),
        "an nn.Dropout module made in __init__": (
            "class DropoutNet(nn.Module):\n"
            "    def __init__(self, n_in, n_hidden, n_out, p=0.5):\n"
            "        super().__init__()\n"
            "        self.hidden = nn.Linear(n_in, n_hidden)\n"
            "        self.drop = nn.Dropout(p)\n"
            "        self.out = nn.Linear(n_hidden, n_out)\n"
            "        self.p = p\n\n"
            "    def forward(self, x):\n"
            "        return self.out(self.drop(torch.relu(self.hidden(x))))"
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
    "softmax_jacobian": {
        "torch.func.jacrev": (
            "def softmax_jacobian(z):\n"
            "    row = torch.func.jacrev(lambda t: torch.softmax(t, dim=-1))\n"
            "    flat = z.reshape(-1, z.shape[-1])\n"
            "    return torch.func.vmap(row)(flat).reshape(*z.shape, z.shape[-1])"
        ),
        "calls course_lib": (
            "from course_lib.activations import softmax_jacobian as _reference\n"
            "def softmax_jacobian(z):\n    return _reference(z)"
        ),
    },
    "DropoutNet": {
        "subclass of course_lib's network": (
            "from course_lib.modules import DropoutNet as _Reference\n"
            "class DropoutNet(_Reference):\n    pass"
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
