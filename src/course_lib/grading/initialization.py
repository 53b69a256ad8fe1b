"""Checks for assignment 01_initialization: the student's initializers against course_lib.init.

Random initializers are judged by the distribution of what they produce (a correct answer may
sample with other calls than torch's), deterministic ones exactly. Every check runs on
``course_lib.device()`` with hidden inputs drawn from fixed seeds.
"""

import math
from collections.abc import Callable

import torch
from torch import nn

from course_lib import device, init
from course_lib.grading._guard import pristine_copy
from course_lib.grading._runner import Case, Exercise
from course_lib.grading._stats import normal_diagnosis, uniform_diagnosis

# Weight shapes (out, in, *kernel) with fan_in != fan_out and 3-6 * 10^4 values each: enough for
# the mistakes (a factor of 1.1 or more in scale) to lie over 15 standard errors away.
LINEAR = (200, 300)
CONV1D = (128, 64, 7)
CONV2D = (64, 32, 5, 5)
CONV3D = (48, 24, 3, 3, 3)
SHAPES_VISIBLE = (LINEAR,)
SHAPES_HIDDEN = (LINEAR, CONV1D, CONV2D, CONV3D)
BASIC_FILLS = ("uniform_", "normal_", "constant_", "zeros_", "ones_")
INIT_FUNCTIONS = tuple(init.__all__) + ("_calculate_fan_in_and_fan_out", "_calculate_correct_fan")


def _generator(seed: int) -> torch.Generator:
    return torch.Generator(device=device()).manual_seed(seed)


def _empty(shape, dtype=torch.float32) -> torch.Tensor:
    """A tensor full of NaN, so that any entry the student's function leaves unfilled shows."""
    return torch.full(shape, math.nan, dtype=dtype, device=device())


def _forbidden(name: str) -> Callable[[], list[Callable]]:
    """torch's and course_lib's initializers; the basic fills stay allowed as building blocks,
    except in the exercises that ask for those fills themselves."""
    names = [n for n in INIT_FUNCTIONS if name in BASIC_FILLS or n not in BASIC_FILLS]
    return lambda: [getattr(module, n) for module in (nn.init, init) for n in names]


def _given(*names: str) -> dict[str, Callable]:
    return {name: pristine_copy(getattr(init, name)) for name in names}


def _fans(shape) -> tuple[int, int]:
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


# ---------------------------------------------------------------- behaviour every fill shares


def _fills_parameter_in_place(call: Callable) -> Callable:
    """``call(fn, tensor)`` must fill a Parameter that requires grad, in place, and return it."""

    def test(fn):
        weight = nn.Parameter(_empty(LINEAR))
        try:
            out = call(fn, weight)
        except RuntimeError as error:
            if "leaf Variable that requires grad" in str(error):
                return "in-place fill of a parameter failed: fill it inside `with torch.no_grad():`"
            raise
        if out is not weight:
            return "must return the tensor it was given (the same object), filled in place"
        if weight.isnan().any():
            return "the tensor passed in was not filled: write into it in place (e.g. with copy_)"
        if weight.grad_fn is not None or not weight.requires_grad:
            return "the fill was recorded by autograd or changed requires_grad: use torch.no_grad()"
        return None

    return test


def _reproducible(call: Callable) -> Case:
    def test(fn):
        first = call(fn, _empty(LINEAR), _generator(7))
        second = call(fn, _empty(LINEAR), _generator(7))
        if not torch.equal(first, second):
            return (
                "two calls with generators seeded alike gave different values: pass "
                "generator= to every random call"
            )
        return None

    return Case("same generator seed, same values", test, weight=0.5)


def _raises(error: type[Exception], call: Callable, what: str) -> Case:
    def test(fn):
        try:
            call(fn)
        except error:
            return None
        except Exception as other:
            return f"raised {type(other).__name__}; torch raises {error.__name__} here"
        return f"returned without an error; torch raises {error.__name__} here"

    return Case(f"raises {error.__name__} for {what}", test, weight=0.5)


# ---------------------------------------------------------------- basic fills


def _uniform_cases(hidden: bool) -> list[Case]:
    bounds = [(0.0, 1.0, {}), (-2.0, 3.0, {"a": -2.0, "b": 3.0}), (-0.5, 0.5, {"a": -0.5, "b": 0.5})]
    if hidden:
        bounds += [(-7.0, -6.5, {"a": -7.0, "b": -6.5}), (0.25, 4.0, {"a": 0.25, "b": 4.0})]

    def stats(low, high, kwargs, dtype=torch.float32):
        mistakes = {"did you use the range [0, 1) and ignore a and b?": 0.5}
        return lambda fn: uniform_diagnosis(
            fn(_empty(LINEAR, dtype), generator=_generator(1), **kwargs), low, high, mistakes
        )

    cases = [
        Case("fills a Parameter in place", _fills_parameter_in_place(lambda fn, t: fn(t, -1.0, 1.0))),
        *[Case(f"U({lo:g}, {hi:g})", stats(lo, hi, kw)) for lo, hi, kw in bounds],
    ]
    if hidden:
        cases += [
            Case("float64 tensor", stats(-1.0, 2.0, {"a": -1.0, "b": 2.0}, torch.float64)),
            _reproducible(lambda fn, t, g: fn(t, -1.0, 1.0, generator=g)),
        ]
    return cases


def _normal_cases(hidden: bool) -> list[Case]:
    params = [(0.0, 1.0, {}), (2.0, 0.5, {"mean": 2.0, "std": 0.5}), (-1.0, 3.0, {"mean": -1.0, "std": 3.0})]
    if hidden:
        params += [(0.0, 0.02, {"std": 0.02}), (10.0, 1e-3, {"mean": 10.0, "std": 1e-3})]

    def stats(mean, std, kwargs, dtype=torch.float32):
        mistakes = {"did you pass the variance std**2 where torch expects the std?": std**2}
        return lambda fn: normal_diagnosis(
            fn(_empty(LINEAR, dtype), generator=_generator(2), **kwargs), mean, std, mistakes
        )

    cases = [
        Case("fills a Parameter in place", _fills_parameter_in_place(lambda fn, t: fn(t, 0.0, 0.1))),
        *[Case(f"N({m:g}, {s:g}^2)", stats(m, s, kw)) for m, s, kw in params],
    ]
    if hidden:
        cases += [
            Case("float64 tensor", stats(1.0, 2.0, {"mean": 1.0, "std": 2.0}, torch.float64)),
            _reproducible(lambda fn, t, g: fn(t, 0.0, 1.0, generator=g)),
        ]
    return cases


def _constant_cases(hidden: bool) -> list[Case]:
    values = [7.7, 0.0] + ([-3.25, 1e-8] if hidden else [])

    def exact(val, dtype=torch.float32):
        def test(fn):
            out = fn(_empty((30, 20), dtype), val)
            expected = torch.full((30, 20), val, dtype=dtype, device=device())
            if not torch.equal(out, expected):
                return f"expected every entry to be {val} ({dtype}), got values {out.unique()[:5].tolist()}"
            return None

        return test

    cases = [
        Case("fills a Parameter in place", _fills_parameter_in_place(lambda fn, t: fn(t, 0.3))),
        *[Case(f"constant {v:g}", exact(v)) for v in values],
    ]
    if hidden:
        cases.append(Case("float64 tensor", exact(0.1, torch.float64)))
    return cases


# ---------------------------------------------------------------- gain and fans


def _calculate_gain_cases(hidden: bool) -> list[Case]:
    arguments = [("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None)]
    if hidden:
        arguments += [
            ("conv2d", None), ("conv_transpose3d", None), ("selu", None), ("leaky_relu", 0.2),
            ("leaky_relu", 1), ("leaky_relu", 0.0), ("relu", 0.5),
        ]
    hints = {
        ("relu", None): "ReLU's gain is sqrt(2): Var doubles, so the std grows by sqrt(2)",
        ("tanh", None): "tanh's gain is 5/3",
        ("leaky_relu", None): "leaky_relu's default negative slope is 0.01",
    }

    def exact(nonlinearity, param):
        expected = init.calculate_gain(nonlinearity, param)

        def test(fn):
            got = fn(nonlinearity, param)
            if not isinstance(got, (int, float)) or not math.isclose(got, expected, rel_tol=1e-12):
                hint = hints.get((nonlinearity, param), "")
                return f"returned {got!r}, expected {expected!r}" + (f": {hint}" if hint else "")
            return None

        return test

    cases = [Case(f"{n}" + (f", param={p}" if p is not None else ""), exact(n, p)) for n, p in arguments]
    cases.append(_raises(ValueError, lambda fn: fn("swish"), "an unknown nonlinearity"))
    if hidden:
        cases.append(_raises(ValueError, lambda fn: fn("leaky_relu", "0.1"), "a slope that is a string"))
    return cases


def _fan_cases(hidden: bool) -> list[Case]:
    shapes = [(30, 20), (16, 3, 5, 5)] + ([(8, 4, 3), (4, 2, 3, 3, 3), (5, 7, 1, 2), (1, 1)] if hidden else [])

    def exact(shape):
        expected = _fans(shape)

        def test(fn):
            got = fn(torch.empty(shape, device=device()))
            if tuple(got) != expected:
                hint = ""
                if tuple(got) == expected[::-1]:
                    hint = ": swapped; a weight has shape (out, in, *kernel), so fan_in uses size(1)"
                elif len(shape) > 2 and tuple(got) == (shape[1], shape[0]):
                    hint = ": multiply by the receptive field (the product of the kernel sizes)"
                return f"returned {tuple(got)}, expected (fan_in, fan_out) = {expected}{hint}"
            return None

        return test

    cases = [Case(f"weight of shape {s}", exact(s)) for s in shapes]
    cases.append(_raises(ValueError, lambda fn: fn(torch.empty(5, device=device())), "a 1-D tensor"))
    return cases


# ---------------------------------------------------------------- Xavier and Kaiming


def _scale_mistakes(shape, correct_std: float, gain: float, uniform: bool) -> dict[str, float]:
    """What common mistakes predict: the half-width of a uniform, else the std of a normal."""
    fan_in, fan_out = _fans(shape)
    convert = math.sqrt(3.0) if uniform else 1.0
    mistakes = {
        "did you use fan_in only? Var(W) = 2 / (fan_in + fan_out)": gain * math.sqrt(1 / fan_in),
        "did you use fan_out only? Var(W) = 2 / (fan_in + fan_out)": gain * math.sqrt(1 / fan_out),
        "did you forget the gain?": correct_std / gain,
        "did you square the gain? it multiplies the std": correct_std * gain,
    }
    if len(shape) > 2:
        fan_in_no_rf, fan_out_no_rf = shape[1], shape[0]
        mistakes["multiply the fans by the receptive field (the product of the kernel sizes)"] = (
            gain * math.sqrt(2 / (fan_in_no_rf + fan_out_no_rf))
        )
    mistakes = {hint: std * convert for hint, std in mistakes.items()}
    if uniform:
        mistakes["bound and std confused: for U(-b, b) the std is b / sqrt(3)"] = correct_std
        mistakes["bound and std confused: b = sqrt(3) * std"] = 3 * correct_std
    return mistakes


def _zero_mean_diagnosis(values, std: float, uniform: bool, mistakes: dict) -> str | None:
    """Judge ``values`` as :math:`\\mathcal{U}(-\\sqrt3\\sigma, \\sqrt3\\sigma)` when ``uniform``,
    else as :math:`\\mathcal{N}(0, \\sigma^2)`: the two shapes of Xavier and Kaiming."""
    if uniform:
        bound = math.sqrt(3.0) * std
        return uniform_diagnosis(values, -bound, bound, mistakes)
    return normal_diagnosis(values, 0.0, std, mistakes)


def _xavier_cases(uniform: bool) -> Callable[[bool], list[Case]]:
    def cases(hidden: bool) -> list[Case]:
        gains = [1.0, 5 / 3] + ([math.sqrt(2), 0.5] if hidden else [])
        shapes = SHAPES_HIDDEN if hidden else SHAPES_VISIBLE

        def stats(shape, gain):
            fan_in, fan_out = _fans(shape)
            std = gain * math.sqrt(2.0 / (fan_in + fan_out))
            mistakes = _scale_mistakes(shape, std, gain, uniform)

            def test(fn):
                values = fn(_empty(shape), gain=gain, generator=_generator(3))
                return _zero_mean_diagnosis(values, std, uniform, mistakes)

            return test

        result = [
            Case("fills a Parameter in place", _fills_parameter_in_place(lambda fn, t: fn(t))),
            *[Case(f"shape {s}, gain {g:.3g}", stats(s, g)) for s in shapes for g in gains[:2]],
            *[Case(f"shape {LINEAR}, gain {g:.3g}", stats(LINEAR, g)) for g in gains[2:]],
            _raises(ValueError, lambda fn: fn(torch.empty(5, device=device())), "a 1-D tensor"),
        ]
        if hidden:
            result.append(_reproducible(lambda fn, t, g: fn(t, generator=g)))
        return result

    return cases


def _kaiming_cases(uniform: bool) -> Callable[[bool], list[Case]]:
    def cases(hidden: bool) -> list[Case]:
        options = [
            ({}, "defaults (a=0, fan_in, leaky_relu)"),
            ({"nonlinearity": "relu"}, "relu"),
            ({"mode": "fan_out", "nonlinearity": "relu"}, "relu, fan_out"),
        ]
        if hidden:
            options += [
                ({"a": 0.2}, "leaky_relu a=0.2"),
                ({"a": 0.2, "mode": "fan_out"}, "leaky_relu a=0.2, fan_out"),
                ({"nonlinearity": "tanh", "mode": "fan_out"}, "tanh, fan_out"),
                ({"nonlinearity": "linear"}, "linear"),
            ]
        shapes = SHAPES_HIDDEN if hidden else SHAPES_VISIBLE

        def stats(shape, kwargs):
            fan_in, fan_out = _fans(shape)
            mode = kwargs.get("mode", "fan_in")
            gain = init.calculate_gain(kwargs.get("nonlinearity", "leaky_relu"), kwargs.get("a", 0))
            fan = fan_in if mode == "fan_in" else fan_out
            std = gain / math.sqrt(fan)
            other_fan = fan_out if mode == "fan_in" else fan_in
            convert = math.sqrt(3.0) if uniform else 1.0
            mistakes = {
                f"did you ignore mode? mode='{mode}' uses {mode}": gain / math.sqrt(other_fan) * convert,
                "did you fix the gain at sqrt(2)? take it from calculate_gain(nonlinearity, a)": (
                    math.sqrt(2.0) / math.sqrt(fan) * convert
                ),
                "did you use fan_in + fan_out? Kaiming uses one fan": gain / math.sqrt(fan_in + fan_out) * convert,
            }
            if uniform:
                mistakes["bound and std confused: b = gain * sqrt(3 / fan)"] = std

            def test(fn):
                values = fn(_empty(shape), generator=_generator(4), **kwargs)
                return _zero_mean_diagnosis(values, std, uniform, mistakes)

            return test

        result = [
            Case("fills a Parameter in place", _fills_parameter_in_place(lambda fn, t: fn(t))),
            *[Case(f"shape {LINEAR}, {label}", stats(LINEAR, kw)) for kw, label in options],
            *[Case(f"shape {s}, {label}", stats(s, kw)) for s in shapes[1:] for kw, label in options[1:3]],
            _raises(ValueError, lambda fn: fn(_empty((4, 4)), mode="fan_avg"), "mode='fan_avg'"),
        ]
        if hidden:
            result += [
                _raises(ValueError, lambda fn: fn(torch.empty(5, device=device())), "a 1-D tensor"),
                _reproducible(lambda fn, t, g: fn(t, generator=g)),
            ]
        return result

    return cases


# ---------------------------------------------------------------- orthogonal, eye, sparse


def _orthogonal_cases(hidden: bool) -> list[Case]:
    shapes = [(300, 200), (200, 300)] + ([(256, 256), (64, 32, 3, 3), (10, 1)] if hidden else [])
    gains = [1.0] + ([2.0] if hidden else [])

    def orthonormal(shape, gain):
        def test(fn):
            w = fn(_empty(shape), gain=gain, generator=_generator(5)).reshape(shape[0], -1).double()
            small = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
            error = (small - gain**2 * torch.eye(len(small), dtype=w.dtype, device=w.device)).abs().max()
            if not error < 1e-4 * gain**2:
                which = "rows" if w.shape[0] <= w.shape[1] else "columns"
                return (
                    f"the {which} of W (flattened to 2-D) are not orthonormal times the gain: "
                    f"W W^T differs from gain^2 I by {error.item():.3g}"
                )
            return None

        return test

    def haar(fn):
        n = 400
        w = fn(_empty((n, n)), generator=_generator(6))
        # For a uniformly (Haar) distributed Q, mean(diag(Q)) * n ~ N(0, 1); QR without the sign
        # correction gives about -0.6 * sqrt(n) = -12.
        statistic = (w.diagonal().double().mean() * n).item()
        if abs(statistic) > 6:
            return (
                f"the diagonal of Q is biased (mean * n = {statistic:.1f}, expected within ±6): "
                "multiply each column of Q by the sign of R's diagonal entry"
            )
        return None

    cases = [
        Case("fills a Parameter in place", _fills_parameter_in_place(lambda fn, t: fn(t))),
        *[Case(f"shape {s}, gain {g:g}", orthonormal(s, g)) for s in shapes for g in gains],
        Case("uniformly distributed (sign correction)", haar),
        _raises(ValueError, lambda fn: fn(torch.empty(5, device=device())), "a 1-D tensor"),
    ]
    if hidden:
        cases.append(_reproducible(lambda fn, t, g: fn(t, generator=g)))
    return cases


def _eye_cases(hidden: bool) -> list[Case]:
    shapes = [(3, 3), (2, 5)] + ([(6, 1), (4, 7), (1, 1)] if hidden else [])

    def exact(shape, dtype=torch.float32):
        def test(fn):
            out = fn(_empty(shape, dtype))
            expected = torch.eye(*shape, dtype=dtype, device=device())
            if not torch.equal(out, expected):
                return f"expected {expected.tolist()}, got {out.tolist()}"
            return None

        return test

    cases = [
        Case("fills a Parameter in place", _fills_parameter_in_place(lambda fn, t: fn(t))),
        *[Case(f"shape {s}", exact(s)) for s in shapes],
        _raises(ValueError, lambda fn: fn(_empty((2, 2, 2))), "a 3-D tensor"),
    ]
    if hidden:
        cases += [
            Case("float64", exact((3, 4), torch.float64)),
            _raises(ValueError, lambda fn: fn(_empty((4,))), "a 1-D tensor"),
        ]
    return cases


def _sparse_cases(hidden: bool) -> list[Case]:
    settings = [((400, 300), 0.1, 0.01), ((400, 300), 1 / 3, 0.5)]
    if hidden:
        settings += [((250, 80), 0.9, 1.0), ((401, 50), 0.25, 0.02), ((30, 400), 0.0, 0.1)]

    def zeros_per_column(shape, sparsity, std):
        rows, cols = shape
        expected = math.ceil(sparsity * rows)

        def test(fn):
            w = fn(_empty(shape), sparsity, std=std, generator=_generator(8))
            counts = (w == 0).sum(dim=0)
            if not (counts == expected).all():
                per_row = (w == 0).sum(dim=1)
                hint = ""
                if (per_row == math.ceil(sparsity * cols)).all():
                    hint = ": zeros were counted per row; sparsity is the fraction zeroed in each column"
                elif (counts == round(sparsity * rows)).all() or (counts == int(sparsity * rows)).all():
                    hint = ": round up, ceil(sparsity * rows)"
                return (
                    f"zeros per column range over [{counts.min().item()}, {counts.max().item()}], "
                    f"expected exactly {expected} in every column{hint}"
                )
            return normal_diagnosis(w[w != 0], 0.0, std, {"did you ignore std?": 0.01})

        return test

    def positions_vary(fn):
        w = fn(_empty((400, 300)), 0.5, generator=_generator(9))
        if (w == 0).all(dim=1).any():
            return "some rows are zero in every column: draw the zero rows anew for each column"
        return None

    cases = [
        Case("fills a Parameter in place", _fills_parameter_in_place(lambda fn, t: fn(t, 0.5))),
        *[Case(f"shape {s}, sparsity {p:.3g}, std {d:g}", zeros_per_column(s, p, d)) for s, p, d in settings],
        Case("zero positions differ between columns", positions_vary),
        _raises(ValueError, lambda fn: fn(_empty((4, 4, 4)), 0.5), "a 3-D tensor"),
    ]
    return cases


EXERCISES = [
    Exercise("uniform_", _uniform_cases, _forbidden("uniform_")),
    Exercise("normal_", _normal_cases, _forbidden("normal_")),
    Exercise("constant_", _constant_cases, _forbidden("constant_")),
    Exercise("calculate_gain", _calculate_gain_cases, _forbidden("calculate_gain")),
    Exercise("_calculate_fan_in_and_fan_out", _fan_cases, _forbidden("_calculate_fan_in_and_fan_out")),
    Exercise(
        "xavier_uniform_", _xavier_cases(uniform=True), _forbidden("xavier_uniform_"),
        _given("_calculate_fan_in_and_fan_out", "uniform_"),
    ),
    Exercise(
        "xavier_normal_", _xavier_cases(uniform=False), _forbidden("xavier_normal_"),
        _given("_calculate_fan_in_and_fan_out", "normal_"),
    ),
    Exercise(
        "kaiming_uniform_", _kaiming_cases(uniform=True), _forbidden("kaiming_uniform_"),
        _given("_calculate_fan_in_and_fan_out", "calculate_gain", "uniform_"),
    ),
    Exercise(
        "kaiming_normal_", _kaiming_cases(uniform=False), _forbidden("kaiming_normal_"),
        _given("_calculate_fan_in_and_fan_out", "calculate_gain", "normal_"),
    ),
    Exercise("orthogonal_", _orthogonal_cases, _forbidden("orthogonal_")),
    Exercise("eye_", _eye_cases, _forbidden("eye_")),
    Exercise("sparse_", _sparse_cases, _forbidden("sparse_")),
]
