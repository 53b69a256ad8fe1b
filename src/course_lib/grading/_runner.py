"""Run an exercise's cases against a student's function and turn them into points.

An :class:`Exercise` is a named list of :class:`Case` s. A case says what to run on the
student's side (a :class:`~course_lib.grading._harness.Call`: a harness and plain arguments)
and how to judge the plain result on the grader's side (``judge(value) -> None | diagnosis``).
A *caller* carries the call across: in a student's own kernel it runs in-process, at autograde
it runs in the student's sandboxed worker (:mod:`course_lib.grading._sandbox`). Either way the
judge sees only plain data, so the expected values and the score never depend on anything the
student's code can reach. The score is the weighted fraction of passing cases times the cell's
points, and it is 0 for the whole exercise when the function delegates to a forbidden
implementation.
"""

import importlib
import math
import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from course_lib.grading import _guard
from course_lib.grading._channel import ChannelError, round_trip
from course_lib.grading._harness import Call, call_student

# Seconds one case may spend in the student's code before it is stopped and failed; after a
# timeout the exercise's remaining cases are not run. Instructors on slow machines may raise it.
TIME_LIMIT_S = float(os.environ.get("COURSE_GRADING_TIME_LIMIT_S", "10"))
# Failing cases listed under a test cell; the rest are counted.
MAX_FAILURES_SHOWN = 8


class Draws:
    """The random choices of an exercise's hidden cases, drawn from the instructor's grading
    seed: the same seed gives the same cases (reproducible regrading), and without the seed
    nobody can know them in advance."""

    def __init__(self, seed: int, exercise: str):
        self._random = random.Random(f"{seed}/{exercise}")

    def seed(self) -> int:
        """A seed for a generator that makes the case's random inputs."""
        return self._random.randrange(2**31)

    def uniform(self, low: float, high: float) -> float:
        """A number in [low, high], rounded to 3 significant digits so reports read well."""
        value = self._random.uniform(low, high)
        return float(f"{value:.3g}")

    def choice(self, options: Sequence) -> Any:
        return options[self._random.randrange(len(options))]

    def integer(self, low: int, high: int) -> int:
        """An integer in [low, high]."""
        return self._random.randint(low, high)


@dataclass(frozen=True)
class Case:
    """One behaviour to check: run ``call`` on the student's side, then ``judge`` its value
    (``None`` when right, else what is wrong). A case with ``raises`` expects the call to raise
    that built-in exception class instead, as torch does for the same input."""

    description: str
    call: Call
    judge: Callable[[Any], str | None] = lambda value: None
    weight: float = 1.0
    raises: str | None = None


@dataclass(frozen=True)
class Exercise:
    """An exercise: its cases (the visible ones when ``draws`` is None, else all of them), the
    reference implementation (what the grader runs to know the expected results), the
    implementations the student must not call, and reference helpers given to it under the names
    of other exercises (so that a mistake in ``calculate_gain`` is not charged again to
    ``kaiming_uniform_``)."""

    name: str
    cases: Callable[[Draws | None], Sequence[Case]]
    reference: Callable
    forbidden: Callable[[], Sequence[Callable]] = lambda: ()
    given: Mapping[str, Callable] = field(default_factory=dict)
    # Modules the student's side imports before the first call, outside its time limit (the
    # first torch optimizer imports torch._dynamo, which takes about a second).
    imports: tuple[str, ...] = ()

    def expected(self, call: Call) -> Any:
        """What the reference returns for ``call``: run on the grader's side, never sent."""
        reply = call_student(call, self.reference, (), {})
        if "value" not in reply:
            raise RuntimeError(f"the reference of {self.name} raised on {call}: {reply['message']}")
        return round_trip(reply["value"])


class Caller(Protocol):
    """Carries a call to the student's function and brings back its plain reply."""

    def __call__(self, exercise: Exercise, call: Call) -> dict: ...


@dataclass(frozen=True)
class Outcome:
    case: Case
    diagnosis: str | None
    delegated_to: str | None = None
    timed_out: bool = False

    @property
    def passed(self) -> bool:
        return self.diagnosis is None and self.delegated_to is None


def in_process_caller(function: Callable) -> Caller:
    """A caller for a student's own kernel: runs the call here, under a time limit, and passes
    the reply through the channel's format so that it sees exactly what autograde would."""

    def call(exercise: Exercise, call: Call) -> dict:
        for module in exercise.imports:
            importlib.import_module(module)
        try:
            with _guard.time_limit(TIME_LIMIT_S):
                reply = call_student(call, function, exercise.forbidden(), exercise.given)
        except _guard.TimeLimitExceeded:
            return {"timed_out": True}
        return plain_reply(reply)

    return call


def plain_reply(reply: dict) -> dict:
    """``reply`` as it crosses the channel; a value that is not plain data becomes a reply
    saying so."""
    try:
        return round_trip(reply)
    except ChannelError as error:
        return {
            "not_plain": str(error),
            **({"delegated": reply["delegated"]} if "delegated" in reply else {}),
        }


def judge_reply(case: Case, reply: dict) -> Outcome:
    """The outcome of one case from the student's plain reply; never raises."""
    delegated = reply.get("delegated")
    if delegated:
        return Outcome(case, None, delegated_to=str(delegated[0]))
    if reply.get("timed_out"):
        return Outcome(
            case,
            f"did not finish within {TIME_LIMIT_S:g} s: is there an endless loop?",
            timed_out=True,
        )
    if "crashed" in reply:
        return Outcome(
            case, f"the kernel died while running it ({reply['crashed']})", timed_out=True
        )
    if "not_plain" in reply:
        return Outcome(case, f"returned something that is not plain data ({reply['not_plain']})")
    if "raised" in reply:
        names = [str(name) for name in reply["raised"]] if isinstance(reply["raised"], list) else []
        if case.raises and case.raises in names:
            return Outcome(case, None)
        if case.raises:
            return Outcome(
                case,
                f"raised {names[0] if names else 'an exception'}; torch raises {case.raises} here",
            )
        return Outcome(case, f"raised {reply.get('message', 'an exception')}")
    if case.raises:
        return Outcome(case, f"returned without an error; torch raises {case.raises} here")
    try:
        return Outcome(case, case.judge(reply.get("value")))
    except Exception as error:  # a value of an unexpected type or shape
        return Outcome(
            case, f"returned a value that could not be checked ({type(error).__name__}: {error})"
        )


def run_exercise(exercise: Exercise, caller: Caller, draws: Draws | None) -> list[Outcome]:
    """Run every case in order; after a timeout, fail the rest without running them."""
    outcomes: list[Outcome] = []
    for case in exercise.cases(draws):
        if any(outcome.timed_out for outcome in outcomes):
            outcomes.append(Outcome(case, "not run after the timeout above"))
        else:
            outcomes.append(judge_reply(case, caller(exercise, case.call)))
    return outcomes


def score(outcomes: Sequence[Outcome], points: float) -> float:
    """Points earned: the weighted share of passing cases, 0 if any case delegated."""
    if any(outcome.delegated_to for outcome in outcomes):
        return 0.0
    total = sum(outcome.case.weight for outcome in outcomes)
    passed = sum(outcome.case.weight for outcome in outcomes if outcome.passed)
    if passed == total:
        return float(points)
    # Round down to hundredths: any failing case must cost something, however small its share.
    return math.floor(100 * points * passed / total) / 100


def report(name: str, outcomes: Sequence[Outcome], earned: float, points: float) -> str:
    """The text a student reads under the test cell."""
    delegated = next((o.delegated_to for o in outcomes if o.delegated_to), None)
    passed = sum(outcome.passed for outcome in outcomes)
    lines = [f"{name}: {passed} of {len(outcomes)} checks pass, {earned:g} / {points:g} points"]
    if delegated:
        lines.append(
            f"  0 points: {name} calls {delegated}. Write the computation yourself; "
            "calling torch's or course_lib's implementation of this exercise earns nothing."
        )
    failures = [o for o in outcomes if o.diagnosis is not None]
    lines += [f"  FAIL {o.case.description}: {o.diagnosis}" for o in failures[:MAX_FAILURES_SHOWN]]
    if len(failures) > MAX_FAILURES_SHOWN:
        lines.append(f"  ... and {len(failures) - MAX_FAILURES_SHOWN} more failing checks")
    return "\n".join(lines)
