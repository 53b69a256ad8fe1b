"""Checks for assignment 00_foundations: activation derivatives (autograd is the oracle, and
is off limits inside them), per-layer gradient statistics, one training step, and gradient
accumulation. Everything is deterministic, so comparisons are exact up to float rounding.
The networks and optimizers are built on the student's side from plain descriptions
(:mod:`course_lib.grading._harness`); only numbers and tensors come back."""

from collections.abc import Callable

import torch

from course_lib import train
from course_lib.grading._harness import Call
from course_lib.grading._runner import Case, Draws, Exercise

AUTOGRAD = (torch.autograd.grad, torch.autograd.backward, torch.Tensor.backward)
ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


def _inputs(shape, dtype, seed, scale=4.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return scale * torch.randn(shape, generator=generator, dtype=dtype)


def _autograd_derivative(activation: Callable) -> Callable:
    """The reference: the derivative as autograd computes it."""

    def derivative(x: torch.Tensor) -> torch.Tensor:
        x = x.detach().requires_grad_()
        (grad,) = torch.autograd.grad(activation(x).sum(), x)
        return grad

    return derivative


def _close(got, expected: torch.Tensor) -> bool:
    tolerance = {"rtol": 1e-10, "atol": 1e-12} if expected.dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-6}
    return torch.allclose(got.to(expected.device), expected, equal_nan=False, **tolerance)


def _compare(got, expected: torch.Tensor, what: str, hint: str = "") -> str | None:
    if not isinstance(got, torch.Tensor):
        return f"returned {type(got).__name__}, expected a tensor"
    if got.shape != expected.shape or got.dtype != expected.dtype:
        return f"returned shape {tuple(got.shape)} {got.dtype}, expected {tuple(expected.shape)} {expected.dtype}"
    if not _close(got, expected):
        worst = (got.to(expected.device) - expected).abs().nan_to_num(float("inf")).argmax()
        return (
            f"{what}: at input index {worst.item()} got {got.flatten()[worst].item():.6g}, "
            f"expected {expected.flatten()[worst].item():.6g}" + (f": {hint}" if hint else "")
        )
    return None


def _derivative_exercise(name: str, hint: str) -> Exercise:
    reference = _autograd_derivative(ACTIVATIONS[name])

    def case(description: str, x: torch.Tensor, what: str, weight: float = 1.0) -> Case:
        expected = reference(x)
        return Case(description, Call("returned", (x,)), lambda got: _compare(got, expected, what, hint), weight)

    def cases(draws: Draws | None) -> list[Case]:
        grid = torch.linspace(-6, 6, 121, dtype=torch.float64)
        result = [case("x from -6 to 6 (including 0), float64", grid, "float64 grid")]
        if draws:
            extreme = torch.tensor([-100.0, -30.0, -1e-8, 0.0, 1e-8, 30.0, 100.0])
            result += [
                case("random (3, 4, 5) float32", _inputs((3, 4, 5), torch.float32, draws.seed()), "float32"),
                case("random (7,) float64", _inputs((7,), torch.float64, draws.seed()), "float64"),
                case("extreme inputs (|x| up to 100) float32", extreme, "extreme inputs", 0.5),
            ]
        return result

    return Exercise(f"{name}_derivative", cases, reference, lambda: AUTOGRAD)


def _gradient_std_reference(model, loss_fn, x, y) -> list[float]:
    model.zero_grad()
    loss_fn(model(x), y).backward()
    return [m.weight.grad.std().item() for m in model.modules() if isinstance(m, torch.nn.Linear)]


def _gradient_std_cases(draws: Draws | None) -> list[Case]:
    exercise = GRADIENT_STD

    def compare(activation: str, stale: bool, seed: int) -> Case:
        call = Call("gradient_std", (activation, seed, stale))

        def judge(got) -> str | None:
            expected = exercise.expected(call)
            if not isinstance(got, (list, tuple)) or len(got) != len(expected):
                return f"expected a list of {len(expected)} floats (one per Linear layer), got {got!r}"[:300]
            if not all(isinstance(g, float) for g in got):
                return f"expected Python floats (tensor.item()), got {[type(g).__name__ for g in got]}"
            if list(got) == expected[::-1] and expected != expected[::-1]:
                return "the values come in reverse order: list layers from the input to the output"
            if not all(abs(g - e) <= 1e-9 * abs(e) for g, e in zip(got, expected)):
                hint = ": zero the gradients before backward(), or they add to stale ones" if stale else ""
                return f"got {[f'{g:.4g}' for g in got]}, expected {[f'{e:.4g}' for e in expected]}{hint}"
            return None

        label = f"deep {activation} network" + (", stale gradients in .grad" if stale else "")
        return Case(label, call, judge)

    cases = [compare("sigmoid", False, 0), compare("relu", True, 1)]
    if draws:
        cases += [compare("tanh", False, draws.seed()), compare("sigmoid", True, draws.seed())]
    return cases


def _train_step_cases(draws: Draws | None) -> list[Case]:
    exercise = TRAIN_STEP

    def compare(description: str, optimizer: str, hyper: dict, steps: int, stale: bool, seed: int) -> Case:
        call = Call("train_steps", (optimizer, hyper, steps, stale, seed))

        def judge(got) -> str | None:
            expected = exercise.expected(call)
            for step in range(steps):
                loss, want = got["losses"][step], expected["losses"][step]
                if not isinstance(loss, float):
                    return f"returned {type(loss).__name__}, expected the loss as a Python float (loss.item())"
                if abs(loss - want) > 1e-9 * abs(want):
                    return f"step {step + 1}: returned loss {loss:.6g}, expected {want:.6g}"
                for name, p in expected["parameters"][step].items():
                    if not torch.allclose(got["parameters"][step][name], p, rtol=1e-10, atol=1e-12):
                        hint = ": call optimizer.zero_grad() before backward()" if stale or step else ""
                        return f"after step {step + 1}, parameter {name} differs from a correct step{hint}"
            return None

        return Case(description, call, judge)

    cases = [
        compare("one SGD step", "SGD", {"lr": 0.1}, 1, False, 10),
        compare("three SGD steps", "SGD", {"lr": 0.1}, 3, False, 11),
    ]
    if draws:
        cases += [
            compare("stale gradients before the first step", "SGD", {"lr": 0.1}, 1, True, draws.seed()),
            compare("five steps of SGD with momentum", "SGD", {"lr": 0.05, "momentum": 0.9}, 5, False, draws.seed()),
            compare("Adam, stale gradients", "Adam", {"lr": 0.01}, 3, True, draws.seed()),
        ]
    return cases


def _accumulate_cases(draws: Draws | None) -> list[Case]:
    exercise = ACCUMULATE

    def compare(description: str, n: int, micro: int, stale: bool, seed: int) -> Case:
        call = Call("accumulated", (n, micro, stale, seed))

        def judge(got) -> str | None:
            expected = exercise.expected(call)
            for name, e in expected.items():
                g = got.get(name)
                if not isinstance(g, torch.Tensor) or g.shape != e.shape:
                    return f"{name}.grad is missing after the call: call backward() on each micro-batch's loss"
                if not torch.allclose(g, e, rtol=1e-10, atol=1e-12):
                    if torch.allclose(g, e * -(-n // micro), rtol=1e-8, atol=1e-12):
                        return (
                            f"{name}.grad is the sum of the micro-batch mean gradients: weight each "
                            "micro-batch's mean loss by its share of the batch, len(xb) / len(x)"
                        )
                    return (
                        f"{name}.grad differs from the full-batch gradient (relative error "
                        f"{((g - e).norm() / e.norm()).item():.3g}): weight each micro-batch's mean "
                        "loss by its share of the batch, zero the gradients once before the loop "
                        "and never inside it"
                    )
            return None

        return Case(description, call, judge)

    cases = [
        compare("12 samples in micro-batches of 4", 12, 4, False, 20),
        compare("10 samples in micro-batches of 4 (last one smaller)", 10, 4, False, 21),
    ]
    if draws:
        cases += [
            compare("stale gradients in .grad", 12, 3, True, draws.seed()),
            compare("micro-batch larger than the batch", 5, 8, False, draws.seed()),
            compare("17 samples in micro-batches of 5", 17, 5, True, draws.seed()),
        ]
    return cases


GRADIENT_STD = Exercise("gradient_std_per_layer", _gradient_std_cases, _gradient_std_reference)
TRAIN_STEP = Exercise(
    "train_step", _train_step_cases, train.train_step, lambda: (train.train_step,), imports=("torch._dynamo",)
)
ACCUMULATE = Exercise(
    "accumulate_gradients", _accumulate_cases, train.accumulate_gradients, lambda: (train.accumulate_gradients,)
)
EXERCISES = [
    _derivative_exercise("sigmoid", "sigma'(x) = sigma(x) (1 - sigma(x)); it never overflows"),
    _derivative_exercise("tanh", "tanh'(x) = 1 - tanh(x)^2"),
    _derivative_exercise("relu", "1 where x > 0, else 0 (torch uses 0 at x = 0), in x's dtype"),
    GRADIENT_STD,
    TRAIN_STEP,
    ACCUMULATE,
]
