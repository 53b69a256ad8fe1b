"""Checks for assignment 00_foundations: activation derivatives (autograd is the oracle, and
is off limits inside them), per-layer gradient statistics, one training step, and gradient
accumulation. Everything is deterministic, so comparisons are exact up to float rounding."""

import copy
import importlib
from collections.abc import Callable

import torch
from torch import nn

from course_lib import device, train
from course_lib.grading._runner import Case, Exercise

AUTOGRAD = (torch.autograd.grad, torch.autograd.backward, torch.Tensor.backward)
ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


def _inputs(shape, dtype, seed, scale=4.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(shape, generator=generator, dtype=dtype)).to(device())


def _autograd_derivative(activation: Callable, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_()
    (grad,) = torch.autograd.grad(activation(x).sum(), x)
    return grad


def _compare(got, expected: torch.Tensor, what: str, hint: str = "") -> str | None:
    if not isinstance(got, torch.Tensor):
        return f"returned {type(got).__name__}, expected a tensor"
    if got.shape != expected.shape or got.dtype != expected.dtype:
        return f"returned shape {tuple(got.shape)} {got.dtype}, expected {tuple(expected.shape)} {expected.dtype}"
    tolerance = {"rtol": 1e-10, "atol": 1e-12} if expected.dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-6}
    if not torch.allclose(got, expected, equal_nan=False, **tolerance):
        worst = (got - expected).abs().nan_to_num(float("inf")).argmax()
        return (
            f"{what}: at input index {worst.item()} got {got.flatten()[worst].item():.6g}, "
            f"expected {expected.flatten()[worst].item():.6g}" + (f": {hint}" if hint else "")
        )
    return None


def _derivative_cases(name: str, hint: str) -> Callable[[bool], list[Case]]:
    activation = ACTIVATIONS[name]

    def on(x: torch.Tensor, what: str):
        def test(fn):
            return _compare(fn(x.clone()), _autograd_derivative(activation, x), what, hint)

        return test

    def cases(hidden: bool) -> list[Case]:
        grid = torch.linspace(-6, 6, 121, dtype=torch.float64, device=device())
        result = [Case("x from -6 to 6 (including 0), float64", on(grid, "float64 grid"))]
        if hidden:
            extreme = torch.tensor([-100.0, -30.0, -1e-8, 0.0, 1e-8, 30.0, 100.0], device=device())
            result += [
                Case("random (3, 4, 5) float32", on(_inputs((3, 4, 5), torch.float32, 1), "float32")),
                Case("random (7,) float64", on(_inputs((7,), torch.float64, 2), "float64")),
                Case("extreme inputs (|x| up to 100) float32", on(extreme, "extreme inputs"), weight=0.5),
            ]
        return result

    return cases


def _deep_model(activation: type[nn.Module], seed: int, depth: int = 8) -> nn.Sequential:
    torch.manual_seed(seed)
    return train.mlp([12] + [16] * depth + [4], activation=activation).double().to(device())


def _batch(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, generator=generator, dtype=torch.float64)
    y = torch.randint(0, 4, (n,), generator=generator)
    return x.to(device()), y.to(device())


def _stale_gradients(model: nn.Module) -> None:
    """Leave gradients from an earlier, unrelated batch in ``.grad``, as a training loop would
    (random, since a constant would not change a standard deviation)."""
    generator = torch.Generator().manual_seed(99)
    for parameter in model.parameters():
        stale = torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype)
        parameter.grad = stale.to(parameter.device)


def _gradient_std_cases(hidden: bool) -> list[Case]:
    loss_fn = nn.functional.cross_entropy

    def compare(activation, stale: bool, seed: int):
        def test(fn):
            model = _deep_model(activation, seed)
            x, y = _batch(32, seed)
            weights = [m.weight for m in model if isinstance(m, nn.Linear)]
            expected = [g.std().item() for g in torch.autograd.grad(loss_fn(model(x), y), weights)]
            if stale:
                _stale_gradients(model)
            got = fn(model, loss_fn, x, y)
            if not isinstance(got, (list, tuple)) or len(got) != len(expected):
                return f"expected a list of {len(expected)} floats (one per Linear layer), got {got!r}"
            if got == expected[::-1] and expected != expected[::-1]:
                return "the values come in reverse order: list layers from the input to the output"
            if not all(abs(g - e) <= 1e-9 * abs(e) for g, e in zip(got, expected)):
                hint = ": zero the gradients before backward(), or they add to stale ones" if stale else ""
                return f"got {[f'{g:.4g}' for g in got]}, expected {[f'{e:.4g}' for e in expected]}{hint}"
            return None

        return test

    cases = [
        Case("deep sigmoid network", compare(nn.Sigmoid, False, 0)),
        Case("deep ReLU network, stale gradients in .grad", compare(nn.ReLU, True, 1)),
    ]
    if hidden:
        cases += [
            Case("deep tanh network", compare(nn.Tanh, False, 2)),
            Case("deep sigmoid network, stale gradients in .grad", compare(nn.Sigmoid, True, 3)),
        ]
    return cases


def _train_step_cases(hidden: bool) -> list[Case]:
    # The first torch optimizer imports torch._dynamo (about a second). Cases are built before
    # any runs, so importing it here keeps it out of their time limit, which could cut the
    # import short, leave it half done and break every later case.
    importlib.import_module("torch._dynamo")
    loss_fn = nn.functional.cross_entropy

    def compare(make_optimizer: Callable, steps: int, stale: bool, seed: int):
        def test(fn):
            ours = _deep_model(nn.ReLU, seed, depth=2)
            theirs = copy.deepcopy(ours)
            optimizers = make_optimizer(ours.parameters()), make_optimizer(theirs.parameters())
            if stale:
                _stale_gradients(ours)
                _stale_gradients(theirs)
            for step in range(steps):
                x, y = _batch(16, seed + step)
                expected = train.train_step(theirs, loss_fn, optimizers[1], x, y)
                got = fn(ours, loss_fn, optimizers[0], x, y)
                if not isinstance(got, float):
                    return f"returned {type(got).__name__}, expected the loss as a Python float (loss.item())"
                if abs(got - expected) > 1e-9 * abs(expected):
                    return f"step {step + 1}: returned loss {got:.6g}, expected {expected:.6g}"
                for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
                    if not torch.allclose(p, q, rtol=1e-10, atol=1e-12):
                        hint = ": call optimizer.zero_grad() before backward()" if stale or step else ""
                        return f"after step {step + 1}, parameter {name} differs from a correct step{hint}"
            return None

        return test

    def sgd(params):
        return torch.optim.SGD(params, lr=0.1)

    def momentum(params):
        return torch.optim.SGD(params, lr=0.05, momentum=0.9)

    cases = [
        Case("one SGD step", compare(sgd, 1, False, 10)),
        Case("three SGD steps", compare(sgd, 3, False, 11)),
    ]
    if hidden:
        cases += [
            Case("stale gradients before the first step", compare(sgd, 1, True, 12)),
            Case("five steps of SGD with momentum", compare(momentum, 5, False, 13)),
            Case("Adam, stale gradients", compare(lambda p: torch.optim.Adam(p, lr=0.01), 3, True, 14)),
        ]
    return cases


def _accumulate_cases(hidden: bool) -> list[Case]:
    loss_fn = nn.functional.cross_entropy

    def compare(n: int, micro: int, stale: bool, seed: int):
        def test(fn):
            model = _deep_model(nn.Tanh, seed, depth=2)
            x, y = _batch(n, seed)
            expected = torch.autograd.grad(loss_fn(model(x), y), list(model.parameters()))
            if stale:
                _stale_gradients(model)
            fn(model, loss_fn, x, y, micro)
            for (name, p), e in zip(model.named_parameters(), expected):
                if p.grad is None or not torch.allclose(p.grad, e, rtol=1e-10, atol=1e-12):
                    ratio = (p.grad.norm() / e.norm()).item() if p.grad is not None else float("nan")
                    return (
                        f"{name}.grad is {ratio:.3g} times the full-batch gradient: weight each "
                        "micro-batch's mean loss by its share of the batch, zero the gradients "
                        "once before the loop and never inside it"
                    )
            return None

        return test

    cases = [
        Case("12 samples in micro-batches of 4", compare(12, 4, False, 20)),
        Case("10 samples in micro-batches of 4 (last one smaller)", compare(10, 4, False, 21)),
    ]
    if hidden:
        cases += [
            Case("stale gradients in .grad", compare(12, 3, True, 22)),
            Case("micro-batch larger than the batch", compare(5, 8, False, 23)),
            Case("17 samples in micro-batches of 5", compare(17, 5, True, 24)),
        ]
    return cases


EXERCISES = [
    Exercise(
        "sigmoid_derivative",
        _derivative_cases("sigmoid", "sigma'(x) = sigma(x) (1 - sigma(x)); it never overflows"),
        lambda: AUTOGRAD,
    ),
    Exercise("tanh_derivative", _derivative_cases("tanh", "tanh'(x) = 1 - tanh(x)^2"), lambda: AUTOGRAD),
    Exercise(
        "relu_derivative",
        _derivative_cases("relu", "1 where x > 0, else 0 (torch uses 0 at x = 0), in x's dtype"),
        lambda: AUTOGRAD,
    ),
    Exercise("gradient_std_per_layer", _gradient_std_cases),
    Exercise("train_step", _train_step_cases, lambda: (train.train_step,)),
    Exercise("accumulate_gradients", _accumulate_cases, lambda: (train.accumulate_gradients,)),
]
