"""The student side of a check: call the student's function on inputs built from plain data.

A :class:`Call` names a harness of this module and gives it plain arguments (numbers, strings,
tensors); the harness builds what the exercise needs (a NaN-filled tensor to fill, a seeded
network, an optimizer from its name and hyperparameters), calls the student's function and
returns plain data. The grader runs the same harness on the reference implementation to know
what to expect, and nothing but the plain result crosses back, so a model or an optimizer never
has to cross the boundary between the grader and the student's sandbox.
"""

import contextlib
import math
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from course_lib import device, train
from course_lib.grading import _guard
from course_lib.modules import build_model

# Optimizers a train_step case may ask for, by name (never an arbitrary attribute of torch.optim).
OPTIMIZERS = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam}
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


@dataclass(frozen=True)
class Call:
    """``HARNESSES[harness](student_function, *args, **kwargs)``, all arguments plain data."""

    harness: str
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def plain(self) -> dict:
        return {"harness": self.harness, "args": tuple(self.args), "kwargs": dict(self.kwargs)}

    @classmethod
    def from_plain(cls, data: dict) -> "Call":
        return cls(data["harness"], tuple(data["args"]), dict(data["kwargs"]))


def _on_device(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device())
    if isinstance(value, (list, tuple)):
        return type(value)(_on_device(item) for item in value)
    return value


def _generator(kwargs: dict) -> dict:
    """Replace ``generator_seed=s`` by ``generator=torch.Generator(device).manual_seed(s)``."""
    seed = kwargs.pop("generator_seed", None)
    if seed is not None:
        kwargs["generator"] = torch.Generator(device=device()).manual_seed(seed)
    return kwargs


# ---------------------------------------------------------------- harnesses


def returned(function: Callable, *args, **kwargs) -> Any:
    """What ``function(*args, **kwargs)`` returns (tensor arguments on the grading device)."""
    return function(*_on_device(args), **_generator(_on_device(kwargs)))


def fill(function: Callable, shape, dtype: str, *args, **kwargs) -> Any:
    """What ``function`` returns when given a NaN-filled tensor of ``shape`` and ``dtype``."""
    tensor = torch.full(shape, math.nan, dtype=getattr(torch, dtype), device=device())
    return function(tensor, *_on_device(args), **_generator(_on_device(kwargs)))


def fill_twice(function: Callable, shape, dtype: str, *args, **kwargs) -> list:
    """Two :func:`fill` calls with the same arguments (a ``generator_seed`` seeds a fresh
    generator each time): equal results mean the function draws only from that generator."""
    return [fill(function, shape, dtype, *args, **dict(kwargs)) for _ in range(2)]


def fill_parameter(function: Callable, shape, *args, **kwargs) -> dict:
    """How ``function`` treats an ``nn.Parameter`` that requires grad: the facts a check needs
    to tell "filled in place, returned, outside autograd" from the ways it can go wrong."""
    weight = nn.Parameter(torch.full(shape, math.nan, device=device()))
    try:
        out = function(weight, *args, **kwargs)
    except RuntimeError as error:
        return {"leaf_error": "leaf Variable that requires grad" in str(error), "message": str(error)}
    return {
        "same_object": out is weight,
        "filled": not bool(weight.isnan().any()),
        "recorded": weight.grad_fn is not None,
        "requires_grad": weight.requires_grad,
    }


def _deep_model(activation: str, seed: int, depth: int) -> nn.Sequential:
    torch.manual_seed(seed)
    sizes = [12] + [16] * depth + [4]
    return train.mlp(sizes, activation=ACTIVATIONS[activation]).double().to(device())


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


def gradient_std(function: Callable, activation: str, seed: int, stale: bool, depth: int = 8) -> Any:
    """``function(model, cross_entropy, x, y)`` on a seeded deep network and batch."""
    model = _deep_model(activation, seed, depth)
    x, y = _batch(32, seed)
    if stale:
        _stale_gradients(model)
    return function(model, nn.functional.cross_entropy, x, y)


def train_steps(function: Callable, optimizer: str, hyper: dict, steps: int, stale: bool, seed: int) -> dict:
    """``steps`` calls of ``function(model, loss_fn, optimizer, x, y)`` on a seeded network and
    fresh batches: the value each call returned and the parameters after each call."""
    model = _deep_model("relu", seed, depth=2)
    step_optimizer = OPTIMIZERS[optimizer](model.parameters(), **hyper)
    if stale:
        _stale_gradients(model)
    losses, parameters = [], []
    for step in range(steps):
        x, y = _batch(16, seed + step)
        losses.append(function(model, nn.functional.cross_entropy, step_optimizer, x, y))
        parameters.append({name: p.detach().clone() for name, p in model.named_parameters()})
    return {"losses": losses, "parameters": parameters}


def accumulated(function: Callable, n: int, micro: int, stale: bool, seed: int) -> dict:
    """The ``.grad`` of every parameter after ``function(model, loss_fn, x, y, micro)``."""
    model = _deep_model("tanh", seed, depth=2)
    x, y = _batch(n, seed)
    if stale:
        _stale_gradients(model)
    function(model, nn.functional.cross_entropy, x, y, micro)
    return {name: p.grad for name, p in model.named_parameters()}


HARNESSES: dict[str, Callable] = {
    f.__name__: f for f in (returned, fill, fill_twice, fill_parameter, gradient_std, train_steps, accumulated)
}


# ---------------------------------------------------------------- modules, activations, classes

# Activations a gain_for case may ask for, by name: each entry makes the function from plain
# parameters (leaky_relu's negative slope), so that a case names an activation with plain data.
GAIN_ACTIVATIONS: dict[str, Callable[..., Callable[[torch.Tensor], torch.Tensor]]] = {
    "identity": lambda: (lambda z: z),
    "relu": lambda: torch.relu,
    "leaky_relu": lambda negative_slope: (lambda z: nn.functional.leaky_relu(z, negative_slope)),
    "tanh": lambda: torch.tanh,
    "sigmoid": lambda: torch.sigmoid,
    "gelu": lambda: nn.functional.gelu,
    "silu": lambda: nn.functional.silu,
    "elu": lambda: nn.functional.elu,
}


def gain_activation(
    name: str, params: Mapping[str, Any]
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation ``name`` of :data:`GAIN_ACTIVATIONS` with ``params``."""
    return GAIN_ACTIVATIONS[name](**params)


def gain_twice(function: Callable, name: str, params: dict, n_samples: int, seed: int) -> list:
    """Two calls of ``function(activation, n_samples, generator)``, each with a fresh CPU
    generator seeded with ``seed``: equal results mean the samples come from that generator."""
    activation = gain_activation(name, params)
    return [function(activation, n_samples, torch.Generator().manual_seed(seed)) for _ in range(2)]


def dropout_setup(
    sizes: list, n_inputs: int, seed: int, identity_readout: bool
) -> tuple[dict, torch.Tensor]:
    """A state dict for ``DropoutNet(*sizes)`` and ``n_inputs`` inputs, all from ``seed``. With
    ``identity_readout`` the readout is the identity with bias 5 (``n_out == n_hidden``), so
    that output ``[i, j]`` is 5 where hidden unit ``j`` was dropped, else 5 plus that unit."""
    generator = torch.Generator().manual_seed(seed)
    n_in, n_hidden, n_out = sizes
    state = {
        "hidden.weight": torch.randn(n_hidden, n_in, generator=generator) / math.sqrt(n_in),
        "hidden.bias": 0.1 * torch.randn(n_hidden, generator=generator),
        "out.weight": torch.eye(n_out, n_hidden),
        "out.bias": torch.full((n_out,), 5.0),
    }
    if not identity_readout:
        scale = math.sqrt(n_hidden)
        state["out.weight"] = torch.randn(n_out, n_hidden, generator=generator) / scale
        state["out.bias"] = torch.randn(n_out, generator=generator)
    return state, torch.randn(n_inputs, n_in, generator=generator)


def dropout_net(
    function: Callable,
    sizes: list,
    p: float,
    n_inputs: int,
    seed: int,
    identity_readout: bool,
    mode: str,
    calls: int,
) -> list:
    """Build the student's network class as ``function(n_in, n_hidden, n_out, p)``, load the
    weights of :func:`dropout_setup`, put it in ``mode`` ("train" or "eval"), seed the global
    generator and return ``calls`` forward passes of the inputs (without autograd). The weights
    are made here from the seed, not sent: a case's request stays small."""
    state, x = dropout_setup(sizes, n_inputs, seed, identity_readout)
    net = function(*sizes, p)
    net.load_state_dict(state)
    net.to(device())
    net.train(mode == "train")
    torch.manual_seed(seed + 1)
    with torch.no_grad():
        return [net(x.to(device())) for _ in range(calls)]


def applied(function: Callable, spec: list, seed: int, perturb: list) -> dict:
    """``model.apply(function)`` on ``course_lib.modules.build_model(spec, seed)`` whose layers
    at the indices ``perturb`` (normalization layers) hold weight 3 and bias -1 beforehand, with
    the global generator seeded with ``seed + 1``: the model's state dict afterwards."""
    model = build_model(spec, seed).to(device())
    with torch.no_grad():
        for index in perturb:
            model[index].weight.fill_(3.0)
            model[index].bias.fill_(-1.0)
    torch.manual_seed(seed + 1)
    model.apply(function)
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


HARNESSES.update({f.__name__: f for f in (gain_twice, dropout_net, applied)})


# ---------------------------------------------------------------- running one call


@contextlib.contextmanager
def _given(function: Callable, helpers: Mapping[str, Callable]) -> Iterator[None]:
    """Temporarily bind reference helpers in the namespace the student's function reads its
    globals from (the notebook), where the student defined functions of those names."""
    namespace = getattr(function, "__globals__", {})
    replaced = {name: namespace[name] for name in helpers if callable(namespace.get(name))}
    namespace.update({name: helpers[name] for name in replaced})
    try:
        yield
    finally:
        namespace.update(replaced)


def _exception_reply(error: BaseException) -> dict:
    names = [cls.__name__ for cls in type(error).__mro__ if cls.__module__ == "builtins"]
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return {"raised": names, "message": text[:500]}


def call_student(call: Call, function: Callable, forbidden, given: Mapping[str, Callable]) -> dict:
    """Run ``call`` on the student's ``function`` and say what happened, as plain data:
    ``{"value": ...}``, ``{"raised": [exception class names], "message": ...}``, with
    ``"delegated"`` naming the forbidden implementations the function called. Runs on the
    student's side: with the delegation tripwires set, reference helpers given, output silenced."""
    calls: list[str] = []

    def guarded(*args, **kwargs):
        tripped: list[str] = []
        try:
            with _guard.forbid(forbidden) as tripped:
                return function(*args, **kwargs)
        finally:
            calls.extend(tripped)

    try:
        with _given(function, given), _guard.quiet():
            reply = {"value": HARNESSES[call.harness](guarded, *call.args, **dict(call.kwargs))}
    except _guard.Delegated:
        reply = {"value": None}
    except (Exception, SystemExit, KeyboardInterrupt, GeneratorExit) as error:
        reply = _exception_reply(error)
    if calls:
        reply["delegated"] = sorted(set(calls))
    return reply
