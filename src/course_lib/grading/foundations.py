"""Checks for assignment 00_foundations: activation derivatives and softmax's Jacobian
(autograd is the oracle, and is off limits inside them), per-layer gradient statistics, one
training step, gradient accumulation, and a dropout network that must follow ``train()`` and
``eval()``. Everything but dropout's masks is deterministic, so comparisons are exact up to float
rounding; the masks are judged by their statistics. The networks and optimizers are built on the
student's side from plain descriptions (:mod:`course_lib.grading._harness`); only numbers and
tensors come back."""

import math
from collections.abc import Callable

import torch

from course_lib import activations, modules, train
from course_lib.grading._guard import pristine_copy
from course_lib.grading._harness import Call, dropout_setup
from course_lib.grading._runner import Case, Draws, Exercise
from course_lib.grading._stats import Z

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
    tolerance = (
        {"rtol": 1e-10, "atol": 1e-12}
        if expected.dtype == torch.float64
        else {"rtol": 1e-5, "atol": 1e-6}
    )
    return torch.allclose(got.to(expected.device), expected, equal_nan=False, **tolerance)


def _compare(got, expected: torch.Tensor, what: str, hint: str = "") -> str | None:
    if not isinstance(got, torch.Tensor):
        return f"returned {type(got).__name__}, expected a tensor"
    if got.shape != expected.shape or got.dtype != expected.dtype:
        return (
            f"returned shape {tuple(got.shape)} {got.dtype}, "
            f"expected {tuple(expected.shape)} {expected.dtype}"
        )
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
        return Case(
            description,
            Call("returned", (x,)),
            lambda got: _compare(got, expected, what, hint),
            weight,
        )

    def cases(draws: Draws | None) -> list[Case]:
        grid = torch.linspace(-6, 6, 121, dtype=torch.float64)
        result = [case("x from -6 to 6 (including 0), float64", grid, "float64 grid")]
        if draws:
            extreme = torch.tensor([-100.0, -30.0, -1e-8, 0.0, 1e-8, 30.0, 100.0])
            result += [
                case(
                    "random (3, 4, 5) float32",
                    _inputs((3, 4, 5), torch.float32, draws.seed()),
                    "float32",
                ),
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
                wanted = f"expected a list of {len(expected)} floats (one per Linear layer)"
                return f"{wanted}, got {got!r}"[:300]
            if not all(isinstance(g, float) for g in got):
                return (
                    f"expected Python floats (tensor.item()), got {[type(g).__name__ for g in got]}"
                )
            if list(got) == expected[::-1] and expected != expected[::-1]:
                return "the values come in reverse order: list layers from the input to the output"
            if not all(abs(g - e) <= 1e-9 * abs(e) for g, e in zip(got, expected, strict=True)):
                hint = (
                    ": zero the gradients before backward(), or they add to stale ones"
                    if stale
                    else ""
                )
                shown = [f"{g:.4g}" for g in got], [f"{e:.4g}" for e in expected]
                return f"got {shown[0]}, expected {shown[1]}{hint}"
            return None

        label = f"deep {activation} network" + (", stale gradients in .grad" if stale else "")
        return Case(label, call, judge)

    cases = [compare("sigmoid", False, 0), compare("relu", True, 1)]
    if draws:
        cases += [compare("tanh", False, draws.seed()), compare("sigmoid", True, draws.seed())]
    return cases


def _train_step_cases(draws: Draws | None) -> list[Case]:
    exercise = TRAIN_STEP

    def compare(
        description: str, optimizer: str, hyper: dict, steps: int, stale: bool, seed: int
    ) -> Case:
        call = Call("train_steps", (optimizer, hyper, steps, stale, seed))

        def judge(got) -> str | None:
            expected = exercise.expected(call)
            for step in range(steps):
                loss, want = got["losses"][step], expected["losses"][step]
                if not isinstance(loss, float):
                    return (
                        f"returned {type(loss).__name__}, expected the loss as a Python float "
                        "(loss.item())"
                    )
                if abs(loss - want) > 1e-9 * abs(want):
                    return f"step {step + 1}: returned loss {loss:.6g}, expected {want:.6g}"
                for name, p in expected["parameters"][step].items():
                    if not torch.allclose(got["parameters"][step][name], p, rtol=1e-10, atol=1e-12):
                        hint = (
                            ": call optimizer.zero_grad() before backward()"
                            if stale or step
                            else ""
                        )
                        return (
                            f"after step {step + 1}, parameter {name} differs from a correct "
                            f"step{hint}"
                        )
            return None

        return Case(description, call, judge)

    cases = [
        compare("one SGD step", "SGD", {"lr": 0.1}, 1, False, 10),
        compare("three SGD steps", "SGD", {"lr": 0.1}, 3, False, 11),
    ]
    if draws:
        cases += [
            compare(
                "stale gradients before the first step", "SGD", {"lr": 0.1}, 1, True, draws.seed()
            ),
            compare(
                "five steps of SGD with momentum",
                "SGD",
                {"lr": 0.05, "momentum": 0.9},
                5,
                False,
                draws.seed(),
            ),
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
                    return (
                        f"{name}.grad is missing after the call: call backward() on each "
                        "micro-batch's loss"
                    )
                if not torch.allclose(g, e, rtol=1e-10, atol=1e-12):
                    if torch.allclose(g, e * -(-n // micro), rtol=1e-8, atol=1e-12):
                        return (
                            f"{name}.grad is the sum of the micro-batch mean gradients: weight "
                            "each micro-batch's mean loss by its share of the batch, "
                            "len(xb) / len(x)"
                        )
                    return (
                        f"{name}.grad differs from the full-batch gradient (relative error "
                        f"{((g - e).norm() / e.norm()).item():.3g}): weight each micro-batch's "
                        "mean loss by its share of the batch, zero the gradients once before the "
                        "loop and never inside it"
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


# ---------------------------------------------------------------- softmax's Jacobian

SOFTMAX_JACOBIAN_FORBIDDEN = AUTOGRAD + (
    torch.autograd.functional.jacobian,
    torch.func.jacrev,
    torch.func.jacfwd,
    torch.func.vjp,
    torch.func.jvp,
    activations.softmax_jacobian,
)


def _jacobian_diagnosis(got, expected: torch.Tensor) -> str | None:
    """What is wrong with a softmax Jacobian, judged against the reference's."""
    if not isinstance(got, torch.Tensor):
        return f"returned {type(got).__name__}, expected a tensor"
    if got.shape != expected.shape:
        return (
            f"returned shape {tuple(got.shape)}, expected {tuple(expected.shape)}: one "
            "Jacobian per row of logits, shape (..., C, C), with softmax over the last dimension"
        )
    if got.dtype != expected.dtype:
        return f"returned {got.dtype}, expected {expected.dtype} (the dtype of z)"
    got = got.to(expected.device)
    if not bool(torch.isfinite(got).all()):
        return (
            "NaN or infinite entries: exp overflows for large logits; subtract the largest logit "
            "before exp, or use torch.softmax"
        )
    if _close(got, expected):
        return None
    off = ~torch.eye(expected.shape[-1], dtype=torch.bool, device=expected.device)
    diagonal = (got.diagonal(dim1=-2, dim2=-1), expected.diagonal(dim1=-2, dim2=-1))
    if _close(got[..., off], expected[..., off]):
        hint = "the diagonal is p_i (1 - p_i): J = diag(p) - p p^T"
    elif _close(*diagonal) and not bool(got[..., off].any()):
        hint = "every output depends on every logit: J_ij = -p_i p_j for i != j"
    else:
        hint = "J_ij = p_i (delta_ij - p_j), with p = softmax(z) over the last dimension"
    return _compare(got, expected, "Jacobian entries", hint)


def _softmax_jacobian_cases(draws: Draws | None) -> list[Case]:
    def case(description: str, z: torch.Tensor, weight: float = 1.0) -> Case:
        expected = activations.softmax_jacobian(z)
        return Case(
            description,
            Call("returned", (z,)),
            lambda got: _jacobian_diagnosis(got, expected),
            weight,
        )

    cases = [
        case("z = [1.5, 2.0, 0.5], float32", torch.tensor([1.5, 2.0, 0.5])),
        case(
            "random (4, 5) float32: one Jacobian per row",
            _inputs((4, 5), torch.float32, 30, scale=2.0),
        ),
    ]
    if draws:
        cases += [
            case("one class, z of shape (1,)", torch.tensor([0.7])),
            case(
                "random (2, 3, 7) float64",
                _inputs((2, 3, 7), torch.float64, draws.seed(), scale=2.0),
            ),
            case(
                "large logits [1000, 0, -1000], float32", torch.tensor([1000.0, 0.0, -1000.0]), 0.5
            ),
            case("equal logits [0, 0], float64", torch.zeros(2, dtype=torch.float64)),
            case(
                "random (6, 10) float32", _inputs((6, 10), torch.float32, draws.seed(), scale=3.0)
            ),
            Case(
                "raises ValueError for a 0-dimensional z",
                Call("returned", (torch.tensor(0.5),)),
                weight=0.5,
                raises="ValueError",
            ),
        ]
    return cases


# ---------------------------------------------------------------- dropout in train and eval mode

# (n_in, n_hidden, n_out) of the checked network and its inputs (course_lib.grading._harness.
# dropout_setup). With the identity as readout and a bias of 5, output [i, j] is 5 when hidden
# unit j was dropped for input i, else 5 + h/(1 - p).
DROPOUT_SIZES = (12, 400, 400)
DROPOUT_INPUTS = 50
DROPOUT_CALLS = 2
# Hidden units with h above this count as active: a kept one is then 0.01 away from a dropped one.
ACTIVE = 1e-2
DROPOUT_ATOL = 1e-4


def _dropout_outputs(got) -> list[torch.Tensor] | str:
    """The forward passes as float64 CPU tensors, or what is wrong with them."""
    shape = (DROPOUT_INPUTS, DROPOUT_SIZES[2])
    if not isinstance(got, list) or not all(isinstance(o, torch.Tensor) for o in got):
        return "forward must return a tensor"
    if any(tuple(o.shape) != shape for o in got):
        return f"forward returned shape {tuple(got[0].shape)}, expected {shape}"
    return [o.detach().double().cpu() for o in got]


def _judge_deterministic(expected: list, mode: str) -> Callable:
    """Judge passes that must all equal the network's without dropout (``mode`` says why)."""

    def judge(got) -> str | None:
        outputs = _dropout_outputs(got)
        if isinstance(outputs, str):
            return outputs
        if all(
            torch.allclose(o, e.double().cpu(), rtol=1e-5, atol=DROPOUT_ATOL)
            for o, e in zip(outputs, expected, strict=True)
        ):
            return None
        if mode == "eval" and not torch.equal(outputs[0], outputs[1]):
            return (
                "after eval() the output changes from call to call: F.dropout drops whenever "
                "training=True, its default; pass training=self.training"
            )
        if mode == "eval":
            return (
                "after eval() the output must be the network's without dropout (nothing dropped, "
                "nothing scaled)"
            )
        return (
            "with p = 0 nothing is dropped and nothing scaled: the output must be the network's "
            "without dropout"
        )

    return judge


def _judge_train(p: float, hidden: torch.Tensor) -> Callable:
    """Judge training-mode passes through the identity readout with bias 5, given the hidden
    activations ``hidden`` of the network without dropout."""

    def judge(got) -> str | None:
        outputs = _dropout_outputs(got)
        if isinstance(outputs, str):
            return outputs
        active = hidden > ACTIVE
        n = int(active.sum())
        se = math.sqrt(p * (1 - p) / n)
        for o in outputs:
            if bool((o == 0).any()):
                return (
                    "some outputs are exactly 0 where the readout's bias is 5: dropout was applied "
                    "to the output, after the last layer; it belongs on the hidden units"
                )
            dropped = (o - 5).abs() <= DROPOUT_ATOL
            if not bool(dropped[active].any()):
                return "no hidden unit was dropped in training mode: dropout must act after train()"
            fraction = dropped[active].double().mean().item()
            if abs(fraction - p) > Z * se:
                hint = ""
                if abs(fraction - (1 - p)) <= Z * se:
                    hint = ": p is the probability to drop a unit, not to keep it"
                return (
                    f"{fraction:.1%} of the active hidden units were dropped, "
                    f"expected p = {p:g}{hint}"
                )
            kept = torch.isclose(o, 5 + hidden / (1 - p), rtol=1e-5, atol=DROPOUT_ATOL)
            if not bool((dropped | kept).all()):
                if bool(torch.isclose(o, 5 + hidden, rtol=1e-5, atol=DROPOUT_ATOL)[~dropped].all()):
                    return (
                        "the kept units are not scaled: multiply them by 1/(1 - p) (inverted "
                        "dropout), so that each unit keeps its expected value"
                    )
                return "each hidden unit must be 0 (dropped) or h / (1 - p) (kept)"
        if torch.equal(outputs[0], outputs[1]):
            return "two passes dropped the same units: draw a new mask in every forward pass"
        return None

    return judge


def _dropout_cases(draws: Draws | None) -> list[Case]:
    exercise = DROPOUT_NET

    def call(p: float, mode: str, seed: int, identity_readout: bool = True) -> Call:
        sizes = list(DROPOUT_SIZES)
        arguments = (sizes, p, DROPOUT_INPUTS, seed, identity_readout, mode, DROPOUT_CALLS)
        return Call("dropout_net", arguments)

    def evaluation(description: str, p: float, seed: int, identity_readout: bool = True) -> Case:
        c = call(p, "eval", seed, identity_readout)
        return Case(
            description, c, lambda got: _judge_deterministic(exercise.expected(c), "eval")(got)
        )

    def training(description: str, p: float, seed: int) -> Case:
        c = call(p, "train", seed)
        if p == 0:
            return Case(
                description, c, lambda got: _judge_deterministic(exercise.expected(c), "train")(got)
            )
        state, x = dropout_setup(list(DROPOUT_SIZES), DROPOUT_INPUTS, seed, True)
        weight, bias = state["hidden.weight"].double(), state["hidden.bias"].double()
        return Case(description, c, _judge_train(p, torch.relu(x.double() @ weight.T + bias)))

    cases = [
        evaluation("eval mode, p = 0.5: deterministic, nothing dropped", 0.5, 40),
        training(
            "train mode, p = 0.5: half the hidden units dropped, the rest scaled by 2", 0.5, 41
        ),
    ]
    if draws:
        cases += [
            training("train mode, p = 0.2", 0.2, draws.seed()),
            training("train mode, p = 0: nothing dropped", 0.0, draws.seed()),
            evaluation("eval mode, p = 0.8", 0.8, draws.seed()),
            evaluation(
                "eval mode, random readout weights", 0.5, draws.seed(), identity_readout=False
            ),
        ]
    return cases


GRADIENT_STD = Exercise("gradient_std_per_layer", _gradient_std_cases, _gradient_std_reference)
TRAIN_STEP = Exercise(
    "train_step",
    _train_step_cases,
    train.train_step,
    lambda: (train.train_step,),
    imports=("torch._dynamo",),
)
ACCUMULATE = Exercise(
    "accumulate_gradients",
    _accumulate_cases,
    train.accumulate_gradients,
    lambda: (train.accumulate_gradients,),
)
SOFTMAX_JACOBIAN = Exercise(
    "softmax_jacobian",
    _softmax_jacobian_cases,
    pristine_copy(activations.softmax_jacobian),
    lambda: SOFTMAX_JACOBIAN_FORBIDDEN,
)
# The class itself for the reading of the code; its methods for the tripwires (which catch the
# constructor: the harness calls the student's class, then runs its forward passes itself).
DROPOUT_NET = Exercise(
    "DropoutNet",
    _dropout_cases,
    modules.DropoutNet,
    lambda: (modules.DropoutNet, modules.DropoutNet.__init__, modules.DropoutNet.forward),
)
EXERCISES = [
    _derivative_exercise("sigmoid", "sigma'(x) = sigma(x) (1 - sigma(x)); it never overflows"),
    _derivative_exercise("tanh", "tanh'(x) = 1 - tanh(x)^2"),
    _derivative_exercise("relu", "1 where x > 0, else 0 (torch uses 0 at x = 0), in x's dtype"),
    SOFTMAX_JACOBIAN,
    GRADIENT_STD,
    TRAIN_STEP,
    ACCUMULATE,
    DROPOUT_NET,
]
