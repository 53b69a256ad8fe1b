"""Checks for assignment 01_initialization: the student's initializers against course_lib.init,
the gain of any activation measured by Monte Carlo, the number of distinct units of a layer, and
a function for ``model.apply``.

Random initializers are judged by the distribution of what they produce (a correct answer may
sample with other calls than torch's), deterministic ones exactly; a Monte Carlo gain within 6
standard errors of the exact value (a quadrature on the grader's side). The tensors to fill and
the models are made on the student's side from plain descriptions
(:mod:`course_lib.grading._harness`), and hidden cases draw their seeds and some of their options
from the instructor's grading seed.
"""

import math
from collections.abc import Callable

import torch
from torch import nn

from course_lib import activations, init, modules
from course_lib.grading._guard import pristine_copy
from course_lib.grading._harness import Call, gain_activation
from course_lib.grading._runner import Case, Draws, Exercise
from course_lib.grading._stats import Z, normal_diagnosis, uniform_diagnosis

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
FLOAT32 = "float32"


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


def _seed(draws: Draws | None, visible: int) -> int:
    """A generator seed: fixed for a visible case, drawn from the grading seed for a hidden one."""
    return draws.seed() if draws else visible


def _fill(shape, *args, dtype: str = FLOAT32, seed: int | None = None, **kwargs) -> Call:
    """Call the student's fill on a NaN tensor of ``shape`` (with a seeded generator)."""
    if seed is not None:
        kwargs["generator_seed"] = seed
    return Call("fill", (tuple(shape), dtype, *args), kwargs)


def _returned(*args, **kwargs) -> Call:
    return Call("returned", args, kwargs)


def _tensor(value) -> str | None:
    """A diagnosis when a fill returned something other than a tensor."""
    return (
        None
        if isinstance(value, torch.Tensor)
        else f"returned {type(value).__name__}, expected the filled tensor"
    )


# ---------------------------------------------------------------- behaviour every fill shares


def _fills_parameter_in_place(*args, **kwargs) -> Case:
    """The fill must fill a Parameter that requires grad, in place, and return it."""

    def judge(facts: dict) -> str | None:
        if "leaf_error" in facts:
            if facts["leaf_error"]:
                return "in-place fill of a parameter failed: fill it inside `with torch.no_grad():`"
            return f"raised RuntimeError: {facts['message']}"
        if not facts["same_object"]:
            return "must return the tensor it was given (the same object), filled in place"
        if not facts["filled"]:
            return "the tensor passed in was not filled: write into it in place (e.g. with copy_)"
        if facts["recorded"] or not facts["requires_grad"]:
            return "the fill was recorded by autograd or changed requires_grad: use torch.no_grad()"
        return None

    return Case(
        "fills a Parameter in place", Call("fill_parameter", (LINEAR, *args), kwargs), judge
    )


def _reproducible(seed: int, *args, **kwargs) -> Case:
    def judge(pair) -> str | None:
        first, second = pair
        if _tensor(first) or _tensor(second):
            return _tensor(first) or _tensor(second)
        if not torch.equal(first, second):
            return (
                "two calls with generators seeded alike gave different values: pass "
                "generator= to every random call"
            )
        return None

    call = Call("fill_twice", (LINEAR, FLOAT32, *args), {**kwargs, "generator_seed": seed})
    return Case("same generator seed, same values", call, judge, weight=0.5)


def _raises(error: type[Exception], call: Call, what: str) -> Case:
    return Case(f"raises {error.__name__} for {what}", call, weight=0.5, raises=error.__name__)


def _statistics(diagnosis: Callable[[torch.Tensor], str | None]) -> Callable:
    return lambda values: _tensor(values) or diagnosis(values)


# ---------------------------------------------------------------- basic fills


def _uniform_cases(draws: Draws | None) -> list[Case]:
    bounds = [
        (0.0, 1.0, {}),
        (-2.0, 3.0, {"a": -2.0, "b": 3.0}),
        (-0.5, 0.5, {"a": -0.5, "b": 0.5}),
    ]
    if draws:
        low = draws.uniform(-8.0, 1.0)
        high = float(f"{low + draws.uniform(0.2, 5.0):.3g}")
        bounds += [(-7.0, -6.5, {"a": -7.0, "b": -6.5}), (low, high, {"a": low, "b": high})]

    def stats(low, high, kwargs, dtype=FLOAT32) -> Case:
        mistakes = {"did you use the range [0, 1) and ignore a and b?": 0.5}
        call = _fill(LINEAR, dtype=dtype, seed=_seed(draws, 1), **kwargs)
        label = f"U({low:g}, {high:g})" + (f", {dtype}" if dtype != FLOAT32 else "")
        return Case(label, call, _statistics(lambda v: uniform_diagnosis(v, low, high, mistakes)))

    cases = [_fills_parameter_in_place(-1.0, 1.0), *[stats(lo, hi, kw) for lo, hi, kw in bounds]]
    if draws:
        cases += [
            stats(-1.0, 2.0, {"a": -1.0, "b": 2.0}, "float64"),
            _reproducible(draws.seed(), -1.0, 1.0),
        ]
    return cases


def _normal_cases(draws: Draws | None) -> list[Case]:
    params = [
        (0.0, 1.0, {}),
        (2.0, 0.5, {"mean": 2.0, "std": 0.5}),
        (-1.0, 3.0, {"mean": -1.0, "std": 3.0}),
    ]
    if draws:
        mean, std = draws.uniform(-5.0, 5.0), draws.uniform(0.01, 4.0)
        params += [
            (0.0, 0.02, {"std": 0.02}),
            (10.0, 1e-3, {"mean": 10.0, "std": 1e-3}),
            (mean, std, {"mean": mean, "std": std}),
        ]

    def stats(mean, std, kwargs, dtype=FLOAT32) -> Case:
        mistakes = {"did you pass the variance std**2 where torch expects the std?": std**2}
        call = _fill(LINEAR, dtype=dtype, seed=_seed(draws, 2), **kwargs)
        label = f"N({mean:g}, {std:g}^2)" + (f", {dtype}" if dtype != FLOAT32 else "")
        return Case(label, call, _statistics(lambda v: normal_diagnosis(v, mean, std, mistakes)))

    cases = [_fills_parameter_in_place(0.0, 0.1), *[stats(m, s, kw) for m, s, kw in params]]
    if draws:
        cases += [
            stats(1.0, 2.0, {"mean": 1.0, "std": 2.0}, "float64"),
            _reproducible(draws.seed(), 0.0, 1.0),
        ]
    return cases


def _constant_cases(draws: Draws | None) -> list[Case]:
    values = [7.7, 0.0] + ([-3.25, 1e-8, draws.uniform(-100.0, 100.0)] if draws else [])

    def exact(val, dtype=FLOAT32) -> Case:
        shape = (30, 20)

        def judge(out) -> str | None:
            expected = torch.full(shape, val, dtype=getattr(torch, dtype))
            if _tensor(out) or not torch.equal(out, expected):
                found = (
                    out.unique()[:5].tolist()
                    if isinstance(out, torch.Tensor) and out.numel()
                    else out
                )
                return f"expected every entry to be {val} ({dtype}), got values {found}"
            return None

        return Case(
            f"constant {val:g}" + (f", {dtype}" if dtype != FLOAT32 else ""),
            _fill(shape, val, dtype=dtype),
            judge,
        )

    cases = [_fills_parameter_in_place(0.3), *[exact(v) for v in values]]
    if draws:
        cases.append(exact(0.1, "float64"))
    return cases


# ---------------------------------------------------------------- gain and fans


def _calculate_gain_cases(draws: Draws | None) -> list[Case]:
    arguments = [
        ("linear", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
    ]
    if draws:
        arguments += [
            ("conv2d", None),
            ("conv_transpose3d", None),
            ("selu", None),
            ("leaky_relu", 0.2),
            ("leaky_relu", 1),
            ("leaky_relu", 0.0),
            ("relu", 0.5),
            ("leaky_relu", draws.uniform(0.01, 0.9)),
        ]
    hints = {
        ("relu", None): "ReLU's gain is sqrt(2): Var doubles, so the std grows by sqrt(2)",
        ("tanh", None): "tanh's gain is 5/3",
    }

    def exact(nonlinearity, param) -> Case:
        expected = init.calculate_gain(nonlinearity, param)

        def judge(got) -> str | None:
            if (
                isinstance(got, bool)
                or not isinstance(got, (int, float))
                or not math.isclose(got, expected, rel_tol=1e-12)
            ):
                hint = hints.get((nonlinearity, param), "")
                if nonlinearity == "leaky_relu" and isinstance(got, (int, float)):
                    slope = 0.01 if param is None else param
                    if math.isclose(got, math.sqrt(2 / (1 + slope)), rel_tol=1e-9):
                        hint = "the slope is squared: gain = sqrt(2 / (1 + negative_slope^2))"
                    elif param is None and math.isclose(got, math.sqrt(2.0), rel_tol=1e-9):
                        hint = "leaky_relu's default negative slope is 0.01, not 0"
                return f"returned {got!r}, expected {expected!r}" + (f": {hint}" if hint else "")
            return None

        return Case(
            f"{nonlinearity}" + (f", param={param}" if param is not None else ""),
            _returned(nonlinearity, param),
            judge,
        )

    cases = [exact(n, p) for n, p in arguments]
    cases.append(_raises(ValueError, _returned("swish"), "an unknown nonlinearity"))
    if draws:
        cases.append(
            _raises(ValueError, _returned("leaky_relu", "0.1"), "a slope that is a string")
        )
        cases.append(_raises(ValueError, _returned("leaky_relu", True), "a slope that is a bool"))
    return cases


def _fan_cases(draws: Draws | None) -> list[Case]:
    shapes = [(30, 20), (16, 3, 5, 5)]
    if draws:
        shapes += [(8, 4, 3), (4, 2, 3, 3, 3), (5, 7, 1, 2), (1, 1)]
        shapes.append(tuple(draws.integer(1, 9) for _ in range(draws.integer(2, 5))))

    def exact(shape) -> Case:
        expected = _fans(shape)

        def judge(got) -> str | None:
            if not isinstance(got, (tuple, list)) or tuple(got) != expected:
                hint = ""
                if isinstance(got, (tuple, list)) and tuple(got) == expected[::-1]:
                    hint = (
                        ": swapped; a weight has shape (out, in, *kernel), so fan_in uses size(1)"
                    )
                elif (
                    isinstance(got, (tuple, list))
                    and len(shape) > 2
                    and tuple(got) == (shape[1], shape[0])
                ):
                    hint = ": multiply by the receptive field (the product of the kernel sizes)"
                shown = tuple(got) if isinstance(got, (tuple, list)) else got
                return f"returned {shown}, expected (fan_in, fan_out) = {expected}{hint}"
            return None

        return Case(f"weight of shape {shape}", _returned(torch.zeros(shape)), judge)

    return [
        *[exact(s) for s in shapes],
        _raises(ValueError, _returned(torch.zeros(5)), "a 1-D tensor"),
    ]


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


def _zero_mean_diagnosis(std: float, uniform: bool, mistakes: dict) -> Callable:
    """Judge values as :math:`\\mathcal{U}(-\\sqrt3\\sigma, \\sqrt3\\sigma)` when ``uniform``,
    else as :math:`\\mathcal{N}(0, \\sigma^2)`: the two shapes of Xavier and Kaiming."""
    if uniform:
        bound = math.sqrt(3.0) * std
        return _statistics(lambda values: uniform_diagnosis(values, -bound, bound, mistakes))
    return _statistics(lambda values: normal_diagnosis(values, 0.0, std, mistakes))


def _xavier_cases(uniform: bool) -> Callable[[Draws | None], list[Case]]:
    def cases(draws: Draws | None) -> list[Case]:
        gains = [1.0, 5 / 3] + ([math.sqrt(2), 0.5, draws.uniform(0.3, 3.0)] if draws else [])
        shapes = SHAPES_HIDDEN if draws else SHAPES_VISIBLE

        def stats(shape, gain) -> Case:
            fan_in, fan_out = _fans(shape)
            std = gain * math.sqrt(2.0 / (fan_in + fan_out))
            judge = _zero_mean_diagnosis(std, uniform, _scale_mistakes(shape, std, gain, uniform))
            return Case(
                f"shape {shape}, gain {gain:.3g}",
                _fill(shape, gain=gain, seed=_seed(draws, 3)),
                judge,
            )

        result = [
            _fills_parameter_in_place(),
            *[stats(s, g) for s in shapes for g in gains[:2]],
            *[stats(LINEAR, g) for g in gains[2:]],
            _raises(ValueError, _returned(torch.zeros(5)), "a 1-D tensor"),
        ]
        if draws:
            result.append(_reproducible(draws.seed()))
        return result

    return cases


def _kaiming_cases(uniform: bool) -> Callable[[Draws | None], list[Case]]:
    def cases(draws: Draws | None) -> list[Case]:
        options = [
            ({}, "defaults (a=0, fan_in, leaky_relu)"),
            ({"nonlinearity": "relu"}, "relu"),
            ({"mode": "fan_out", "nonlinearity": "relu"}, "relu, fan_out"),
            ({"a": 0.2}, "leaky_relu a=0.2"),
        ]
        if draws:
            slope = draws.uniform(0.05, 0.9)
            options += [
                ({"a": slope, "mode": "fan_out"}, f"leaky_relu a={slope:g}, fan_out"),
                ({"nonlinearity": "tanh", "mode": "fan_out"}, "tanh, fan_out"),
                ({"nonlinearity": "linear"}, "linear"),
                ({"mode": "FAN_OUT", "nonlinearity": "relu"}, "relu, mode='FAN_OUT' (any case)"),
            ]
        shapes = SHAPES_HIDDEN if draws else SHAPES_VISIBLE

        def stats(shape, kwargs, label) -> Case:
            fan_in, fan_out = _fans(shape)
            mode = kwargs.get("mode", "fan_in").lower()
            slope = kwargs.get("a", 0)
            gain = init.calculate_gain(kwargs.get("nonlinearity", "leaky_relu"), slope)
            fan = fan_in if mode == "fan_in" else fan_out
            std = gain / math.sqrt(fan)
            other_fan = fan_out if mode == "fan_in" else fan_in
            convert = math.sqrt(3.0) if uniform else 1.0
            mistakes = {
                f"did you ignore mode? mode='{mode}' uses {mode}": gain
                / math.sqrt(other_fan)
                * convert,
                "did you fix the gain at sqrt(2)? take it from calculate_gain(nonlinearity, a)": (
                    math.sqrt(2.0) / math.sqrt(fan) * convert
                ),
                "did you use fan_in + fan_out? Kaiming uses one fan": gain
                / math.sqrt(fan_in + fan_out)
                * convert,
            }
            if slope:
                mistakes["the slope is squared in the gain: sqrt(2 / (1 + a^2))"] = (
                    math.sqrt(2 / (1 + slope)) / math.sqrt(fan) * convert
                )
            if uniform:
                mistakes["bound and std confused: b = gain * sqrt(3 / fan)"] = std
            judge = _zero_mean_diagnosis(std, uniform, mistakes)
            return Case(
                f"shape {shape}, {label}", _fill(shape, seed=_seed(draws, 4), **kwargs), judge
            )

        result = [
            _fills_parameter_in_place(),
            *[stats(LINEAR, kw, label) for kw, label in options],
            *[stats(s, kw, label) for s in shapes[1:] for kw, label in options[1:3]],
            _raises(ValueError, _fill((4, 4), mode="fan_avg"), "mode='fan_avg'"),
        ]
        if draws:
            result += [
                _raises(ValueError, _returned(torch.zeros(5)), "a 1-D tensor"),
                _reproducible(draws.seed()),
            ]
        return result

    return cases


# ---------------------------------------------------------------- orthogonal, eye, sparse


def _orthogonal_cases(draws: Draws | None) -> list[Case]:
    shapes = [(300, 200), (200, 300)] + ([(256, 256), (64, 32, 3, 3), (10, 1)] if draws else [])
    gains = [1.0, 2.0] + ([draws.uniform(0.2, 4.0)] if draws else [])

    def orthonormal(shape, gain) -> Case:
        def judge(values) -> str | None:
            if _tensor(values):
                return _tensor(values)
            w = values.reshape(shape[0], -1).double()
            tall = w.shape[0] > w.shape[1]
            small = w.T @ w if tall else w @ w.T
            error = (small - gain**2 * torch.eye(len(small), dtype=w.dtype)).abs().max()
            if not error < 1e-4 * gain**2:
                which, product = ("columns", "W^T W") if tall else ("rows", "W W^T")
                return (
                    f"the {which} of W (flattened to 2-D) are not orthonormal times the gain: "
                    f"{product} differs from gain^2 I = {gain**2:g} I by up to {error.item():.3g}"
                )
            return None

        return Case(
            f"shape {shape}, gain {gain:g}", _fill(shape, gain=gain, seed=_seed(draws, 5)), judge
        )

    def haar(values) -> str | None:
        # For a uniformly (Haar) distributed Q, mean(diag(Q)) * n ~ N(0, 1); QR without the sign
        # correction gives about -0.6 * sqrt(n) = -12.
        if _tensor(values):
            return _tensor(values)
        statistic = (values.diagonal().double().mean() * len(values)).item()
        if abs(statistic) > 6:
            return (
                f"the diagonal of Q is biased (mean * n = {statistic:.1f}, expected within ±6): "
                "multiply each column of Q by the sign of R's diagonal entry"
            )
        return None

    cases = [
        _fills_parameter_in_place(),
        *[orthonormal(shapes[0], g) for g in gains[1:]],
        *[orthonormal(s, gains[0]) for s in shapes],
        Case(
            "uniformly distributed (sign correction)", _fill((400, 400), seed=_seed(draws, 6)), haar
        ),
        _raises(ValueError, _returned(torch.zeros(5)), "a 1-D tensor"),
    ]
    if draws:
        cases.append(_reproducible(draws.seed()))
    return cases


def _eye_cases(draws: Draws | None) -> list[Case]:
    shapes = [(3, 3), (2, 5)] + (
        [(6, 1), (4, 7), (1, 1), (draws.integer(1, 9), draws.integer(1, 9))] if draws else []
    )

    def exact(shape, dtype=FLOAT32) -> Case:
        def judge(out) -> str | None:
            expected = torch.eye(*shape, dtype=getattr(torch, dtype))
            if _tensor(out) or not torch.equal(out, expected):
                shown = out.tolist() if isinstance(out, torch.Tensor) else out
                return f"expected {expected.tolist()}, got {shown}"
            return None

        return Case(
            f"shape {shape}" + (f", {dtype}" if dtype != FLOAT32 else ""),
            _fill(shape, dtype=dtype),
            judge,
        )

    cases = [
        _fills_parameter_in_place(),
        *[exact(s) for s in shapes],
        _raises(ValueError, _fill((2, 2, 2)), "a 3-D tensor"),
    ]
    if draws:
        cases += [exact((3, 4), "float64"), _raises(ValueError, _fill((4,)), "a 1-D tensor")]
    return cases


def _sparse_cases(draws: Draws | None) -> list[Case]:
    settings = [((400, 300), 0.1, 0.01), ((400, 300), 1 / 3, 0.5)]
    if draws:
        settings += [((250, 80), 0.9, 1.0), ((401, 50), 0.25, 0.02), ((30, 400), 0.0, 0.1)]
        settings.append(((300, 120), draws.uniform(0.05, 0.95), draws.uniform(0.01, 2.0)))

    def zeros_per_column(shape, sparsity, std) -> Case:
        rows, cols = shape
        expected = math.ceil(sparsity * rows)

        def judge(w) -> str | None:
            if _tensor(w):
                return _tensor(w)
            counts = (w == 0).sum(dim=0)
            if not (counts == expected).all():
                per_row = (w == 0).sum(dim=1)
                hint = ""
                if (per_row == math.ceil(sparsity * cols)).all():
                    hint = (
                        ": zeros were counted per row; sparsity is the fraction zeroed in each "
                        "column"
                    )
                elif (counts == round(sparsity * rows)).all() or (
                    counts == int(sparsity * rows)
                ).all():
                    hint = ": round up, ceil(sparsity * rows)"
                return (
                    f"zeros per column range over [{counts.min().item()}, {counts.max().item()}], "
                    f"expected exactly {expected} in every column{hint}"
                )
            return normal_diagnosis(w[w != 0], 0.0, std, {"did you ignore std?": 0.01})

        call = _fill(shape, sparsity, std=std, seed=_seed(draws, 8))
        return Case(f"shape {shape}, sparsity {sparsity:.3g}, std {std:g}", call, judge)

    def positions_vary(w) -> str | None:
        if _tensor(w):
            return _tensor(w)
        if (w == 0).all(dim=1).any():
            return "some rows are zero in every column: draw the zero rows anew for each column"
        return None

    return [
        _fills_parameter_in_place(0.5),
        *[zeros_per_column(s, p, d) for s, p, d in settings],
        Case(
            "zero positions differ between columns",
            _fill((400, 300), 0.5, seed=_seed(draws, 9)),
            positions_vary,
        ),
        _raises(ValueError, _fill((4, 4, 4), 0.5), "a 3-D tensor"),
    ]


# ---------------------------------------------------------------- the gain of any activation

GAIN_SAMPLES = 200_000
# Step of the central difference that gives f' on the grader's side (float64: error ~1e-10).
SLOPE_STEP = 1e-6


def _gain_case(description: str, name: str, params: dict, n_samples: int, seed: int) -> Case:
    r"""``gain_for`` on activation ``name``: within :math:`Z` standard errors of
    :math:`1/\sqrt{\mathbb{E}[f(z)^2]}`. By the delta method the estimate
    :math:`\hat m^{-1/2}` of :math:`m = \mathbb{E}[f^2]` from :math:`n` samples has standard error
    :math:`\sqrt{(\mathbb{E}[f^4] - m^2)/n} / (2 m^{3/2})`; all moments are exact here."""
    f = gain_activation(name, params)
    m2 = activations.second_moment(f)
    m4 = activations.second_moment(f, power=4)
    mean = activations.second_moment(f, power=1)
    slope = activations.second_moment(
        lambda z: (f(z + SLOPE_STEP) - f(z - SLOPE_STEP)) / (2 * SLOPE_STEP)
    )
    gain = m2**-0.5
    se = math.sqrt((m4 - m2**2) / n_samples) / (2 * m2**1.5)
    mistakes = {
        "this is 1/g: g = 1 / sqrt(E[f(z)^2])": m2**0.5,
        "this is g^2: take the square root, g = 1 / sqrt(E[f(z)^2])": 1 / m2,
        "f(z) is not zero-mean here: use the second moment E[f(z)^2], not the variance": (
            m2 - mean**2
        )
        ** -0.5,
        "this is the backward gain 1 / sqrt(E[f'(z)^2]); the forward gain uses f(z) itself": slope
        ** -0.5,
    }

    def judge(got) -> str | None:
        if not isinstance(got, list) or len(got) != 2:
            return f"expected a float, got {got!r}"[:200]
        first, second = got
        if type(first) is not float or type(second) is not float:
            return f"returned {type(first).__name__}, expected a Python float (use .item())"
        if first != second:
            return (
                "two calls with generators seeded alike returned different gains: draw the "
                "samples with the generator you are given"
            )
        if abs(first - gain) <= Z * se:
            return None
        hint = next((h for h, v in mistakes.items() if abs(first - v) <= Z * se), "")
        return (
            f"returned {first:.5g}, expected {gain:.5g} within {Z * se:.2g} ({Z:g} standard errors "
            f"of a {n_samples}-sample estimate)" + (f": {hint}" if hint else "")
        )

    return Case(description, Call("gain_twice", (name, params, n_samples, seed)), judge)


def _gain_for_cases(draws: Draws | None) -> list[Case]:
    cases = [
        _gain_case("ReLU (sqrt(2))", "relu", {}, GAIN_SAMPLES, _seed(draws, 50)),
        _gain_case("tanh (not 5/3)", "tanh", {}, GAIN_SAMPLES, _seed(draws, 51)),
    ]
    if draws:
        cases += [
            _gain_case("identity", "identity", {}, GAIN_SAMPLES, draws.seed()),
            _gain_case(
                "leaky ReLU, negative slope 0.2",
                "leaky_relu",
                {"negative_slope": 0.2},
                GAIN_SAMPLES,
                draws.seed(),
            ),
            _gain_case("GELU (not in calculate_gain)", "gelu", {}, GAIN_SAMPLES, draws.seed()),
            _gain_case("sigmoid", "sigmoid", {}, GAIN_SAMPLES, draws.seed()),
            _gain_case("SiLU", "silu", {}, GAIN_SAMPLES, draws.seed()),
        ]
        name, n_samples = (
            draws.choice(("elu", "gelu", "tanh", "silu")),
            draws.integer(100_000, 1_000_000),
        )
        cases.append(_gain_case(f"{name}, {n_samples} samples", name, {}, n_samples, draws.seed()))
    return cases


# ---------------------------------------------------------------- distinct units


def _allclose_groups(rows: torch.Tensor) -> int:
    kept: list[torch.Tensor] = []
    for row in rows:
        if not any(torch.allclose(row, other) for other in kept):
            kept.append(row)
    return len(kept)


def _unit_mistakes(weight: torch.Tensor) -> dict[str, Callable[[], int]]:
    """What common mistakes count for ``weight``: a hint for each."""
    rows = weight.reshape(len(weight), -1)
    return {
        "count units (slices along dimension 0), not distinct entries": lambda: len(
            torch.unique(weight)
        ),
        "units are the rows (dimension 0); the columns are inputs": lambda: torch.unique(
            weight, dim=1
        ).shape[1],
        "compare whole units, not a summary such as their sum": lambda: len(
            torch.unique(rows.sum(dim=1))
        ),
        "compare every pair of units, not only each with the first": lambda: (
            1 + int((rows != rows[0]).any(dim=1).sum())
        ),
        "equal means equal in every entry: no tolerance": lambda: _allclose_groups(rows),
    }


def _units_case(description: str, weight: torch.Tensor, weight_of_case: float = 1.0) -> Case:
    expected = modules.distinct_units(weight)

    def judge(got) -> str | None:
        if type(got) is not int:
            return f"returned {type(got).__name__}, expected a Python int"
        if got == expected:
            return None
        hint = ""
        for text, mistake in _unit_mistakes(weight).items():
            try:
                if mistake() == got:
                    hint = f": {text}"
                    break
            except (RuntimeError, IndexError):
                continue
        return f"returned {got}, expected {expected}{hint}"

    return Case(description, _returned(weight), judge, weight_of_case)


def _trained_from_constant(seed: int) -> torch.Tensor:
    """The first weight of a 64-32-32-10 tanh network started from the constant 0.05 and trained
    for 20 steps of SGD on random data (the book's symmetry demonstration, smaller)."""
    generator = torch.Generator().manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 10)
    )
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(0.05)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(20):
        x, y = (
            torch.randn(32, 64, generator=generator),
            torch.randint(0, 10, (32,), generator=generator),
        )
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model[0].weight.detach().clone()


def _distinct_units_cases(draws: Draws | None) -> list[Case]:
    generator = torch.Generator().manual_seed(_seed(draws, 60))
    cases = [
        _units_case("32 equal units (all zeros)", torch.zeros(32, 64)),
        _units_case("32 random units", torch.randn(32, 64, generator=generator)),
    ]
    if draws:
        conv = torch.randn(8, 3, 3, 3, generator=generator)
        conv[1] = conv[0]
        conv[1, 2, 2, 2] += 1.0
        conv[4:] = conv[0]
        tiny = torch.ones(3, 4)
        tiny[1, 2] = 1 + 2**-20
        cases += [
            _units_case(
                "rows that are permutations of each other",
                torch.tensor([[1.0, 2.0], [2.0, 1.0], [1.0, 2.0]]),
            ),
            _units_case(
                "four units in three groups",
                torch.tensor([[1.0, 1.0], [2.0, 2.0], [2.0, 2.0], [3.0, 3.0]]),
            ),
            _units_case("convolution weight (8, 3, 3, 3), channels 4-7 copy channel 0", conv),
            _units_case("units that differ by 2^-20 in one entry", tiny),
            _units_case("0.0 and -0.0 are equal", torch.tensor([[0.0, 1.0], [-0.0, 1.0]])),
            _units_case(
                "a layer trained from a constant start", _trained_from_constant(draws.seed())
            ),
            _units_case("a weight with no units, shape (0, 4)", torch.empty(0, 4), 0.5),
            _raises(ValueError, _returned(torch.zeros(5)), "a 1-D tensor"),
        ]
    return cases


# ---------------------------------------------------------------- init_weights for model.apply

WEIGHTED = ("linear", "conv1d", "conv2d")
NORMALIZATION = ("layernorm", "batchnorm1d")


def _init_weights_case(
    description: str, spec: list, seed: int, perturb: tuple[int, ...] = ()
) -> Case:
    """``model.apply(init_weights)`` on ``build_model(spec, seed)``: Kaiming-normal weights and
    zero biases in linear and convolution layers, normalization layers reset (those at
    ``perturb`` start at weight 3, bias -1), everything else as PyTorch made it."""

    def kaiming(where: str, kind: str, weight: torch.Tensor, default: torch.Tensor) -> str | None:
        if torch.equal(weight, default):
            hint = ": convolutions need Kaiming too, not only nn.Linear" if kind != "linear" else ""
            return f"{where} keeps PyTorch's default weight{hint}"
        fan_in, fan_out = _fans(tuple(weight.shape))
        mistakes = {
            "mode fan_in: the variance is 2 / fan_in, not 2 / fan_out": math.sqrt(2 / fan_out),
            "the gain for ReLU is sqrt(2): the variance is 2 / fan_in": math.sqrt(1 / fan_in),
        }
        diagnosis = normal_diagnosis(weight, 0.0, math.sqrt(2 / fan_in), mistakes)
        if diagnosis is not None and "normal distribution" in diagnosis:
            diagnosis += " (kaiming_normal_, not kaiming_uniform_)"
        return None if diagnosis is None else f"{where} weight: {diagnosis}"

    def layer(index: int, kind: str, got: dict, default: dict) -> str | None:
        where = f"layer {index} ({kind})"
        weight, bias = f"{index}.weight", f"{index}.bias"
        untouched = [n for n in default if n.startswith(f"{index}.")]
        if kind in WEIGHTED:
            if (diagnosis := kaiming(where, kind, got[weight], default[weight])) is not None:
                return diagnosis
            if bias in got and bool(got[bias].any()):
                return (
                    f"{where} bias is not zero: zero the biases (bias=False layers have "
                    "module.bias None)"
                )
            untouched = []
        elif kind in NORMALIZATION:
            if not bool((got[weight] == 1).all()) or bool(got[bias].any()):
                return f"{where} is not reset: normalization layers get weight 1 and bias 0"
            untouched = [n for n in untouched if n not in (weight, bias)]
        if not all(torch.equal(got[n], default[n]) for n in untouched):
            return (
                f"{where} changed: only linear and convolution layers get Kaiming weights and "
                "normalization layers a reset; test the module's type, not "
                "hasattr(module, 'weight')"
            )
        return None

    def judge(got) -> str | None:
        default = modules.build_model(spec, seed).state_dict()
        if not isinstance(got, dict) or set(got) != set(default):
            return "the model's parameters and buffers changed: change their values only"
        if any(
            not isinstance(got[n], torch.Tensor) or got[n].shape != default[n].shape
            for n in default
        ):
            return "a parameter changed its shape: fill the existing tensors in place"
        for index, (kind, *_) in enumerate(spec):
            if (diagnosis := layer(index, kind, got, default)) is not None:
                return diagnosis
        return None

    return Case(description, Call("applied", (spec, seed, list(perturb))), judge)


def _init_weights_cases(draws: Draws | None) -> list[Case]:
    cases = [
        _init_weights_case(
            "linear 400-300-10 with ReLU",
            [["linear", 400, 300], ["relu"], ["linear", 300, 10]],
            _seed(draws, 70),
        ),
    ]
    if draws:
        mixed = [
            ["conv1d", 16, 64, 5],
            ["relu"],
            ["flatten"],
            ["linear", 240, 400],
            ["layernorm", 400],
            ["relu"],
            ["linear", 400, 300, {"bias": False}],
            ["embedding", 10, 4],
        ]
        cases += [
            _init_weights_case(
                "conv1d, LayerNorm (perturbed), a linear layer without bias, an embedding",
                mixed,
                draws.seed(),
                (4,),
            ),
            _init_weights_case(
                "two conv2d layers",
                [["conv2d", 16, 64, 3], ["relu"], ["conv2d", 64, 8, 3]],
                draws.seed(),
            ),
            _init_weights_case(
                "linear layers around a BatchNorm1d (perturbed)",
                [["linear", 300, 200], ["batchnorm1d", 200], ["tanh"], ["linear", 200, 100]],
                draws.seed(),
                (1,),
            ),
        ]
    return cases


def _exercise(name: str, cases: Callable, *given: str) -> Exercise:
    return Exercise(
        name, cases, pristine_copy(getattr(init, name)), _forbidden(name), _given(*given)
    )


EXERCISES = [
    _exercise("uniform_", _uniform_cases),
    _exercise("normal_", _normal_cases),
    _exercise("constant_", _constant_cases),
    _exercise("calculate_gain", _calculate_gain_cases),
    _exercise("_calculate_fan_in_and_fan_out", _fan_cases),
    _exercise(
        "xavier_uniform_", _xavier_cases(uniform=True), "_calculate_fan_in_and_fan_out", "uniform_"
    ),
    _exercise(
        "xavier_normal_", _xavier_cases(uniform=False), "_calculate_fan_in_and_fan_out", "normal_"
    ),
    _exercise(
        "kaiming_uniform_",
        _kaiming_cases(uniform=True),
        "_calculate_fan_in_and_fan_out",
        "calculate_gain",
        "uniform_",
    ),
    _exercise(
        "kaiming_normal_",
        _kaiming_cases(uniform=False),
        "_calculate_fan_in_and_fan_out",
        "calculate_gain",
        "normal_",
    ),
    _exercise("orthogonal_", _orthogonal_cases),
    _exercise("eye_", _eye_cases),
    _exercise("sparse_", _sparse_cases),
    Exercise(
        "gain_for",
        _gain_for_cases,
        pristine_copy(activations.gain_for),
        lambda: (
            nn.init.calculate_gain,
            init.calculate_gain,
            activations.gain_for,
            activations.second_moment,
        ),
    ),
    Exercise(
        "distinct_units",
        _distinct_units_cases,
        pristine_copy(modules.distinct_units),
        lambda: (modules.distinct_units,),
    ),
    # init_weights is a torch.no_grad() wrapper (a closure): its tripwire goes on the function it
    # wraps, which every call reaches.
    Exercise(
        "init_weights",
        _init_weights_cases,
        modules.init_weights,
        lambda: (modules.init_weights, modules.init_weights.__wrapped__),
        _given(
            "kaiming_normal_",
            "normal_",
            "constant_",
            "calculate_gain",
            "_calculate_fan_in_and_fan_out",
        ),
    ),
]
