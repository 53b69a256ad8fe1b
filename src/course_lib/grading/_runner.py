"""Run an exercise's cases against a student's function and turn them into points.

An :class:`Exercise` is a named list of :class:`Case` s. A case's ``test`` receives the student's
function and returns ``None`` when the behaviour is right or a sentence saying what is wrong;
anything the student's code raises becomes such a sentence too. The score is the weighted
fraction of passing cases times the cell's points, and it is 0 for the whole exercise when the
function delegates to a forbidden implementation.
"""

import contextlib
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from course_lib.grading import _guard

# Seconds one case may spend in the student's code before it is stopped and failed; after a
# timeout the exercise's remaining cases are not run. Instructors on slow machines may raise it.
TIME_LIMIT_S = float(os.environ.get("COURSE_GRADING_TIME_LIMIT_S", "10"))
# Failing cases listed under a test cell; the rest are counted.
MAX_FAILURES_SHOWN = 8


@dataclass(frozen=True)
class Case:
    """One behaviour to check: ``test(student_function) -> None | diagnosis``."""

    description: str
    test: Callable[[Callable], str | None]
    weight: float = 1.0


@dataclass(frozen=True)
class Exercise:
    """An exercise: its cases (visible ones, or all of them when hidden), the implementations
    it must not call, and reference helpers given to it under the names of other exercises
    (so that a mistake in ``calculate_gain`` is not charged again to ``kaiming_uniform_``)."""

    name: str
    cases: Callable[[bool], Sequence[Case]]
    forbidden: Callable[[], Sequence[Callable]] = lambda: ()
    given: Mapping[str, Callable] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    case: Case
    diagnosis: str | None
    delegated_to: str | None = None
    timed_out: bool = False

    @property
    def passed(self) -> bool:
        return self.diagnosis is None and self.delegated_to is None


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


def run_case(exercise: Exercise, case: Case, function: Callable) -> Outcome:
    """Run one case; never raises for anything the student's code does. The forbidden
    implementations are trapped only while the student's function runs, so the case itself may
    use references (and autograd) to compute what it expects."""
    calls: list[str] = []

    def guarded(*args, **kwargs):
        tripped: list[str] = []
        try:
            with _guard.forbid(exercise.forbidden()) as tripped:
                return function(*args, **kwargs)
        finally:
            calls.extend(tripped)

    timed_out = False
    try:
        with _given(function, exercise.given), _guard.quiet(), _guard.time_limit(TIME_LIMIT_S):
            diagnosis = case.test(guarded)
    except _guard.Delegated:
        diagnosis = None
    except _guard.TimeLimitExceeded:
        diagnosis = f"did not finish within {TIME_LIMIT_S:g} s: is there an endless loop?"
        timed_out = True
    except (Exception, SystemExit) as error:
        diagnosis = f"raised {type(error).__name__}: {error}"
    return Outcome(case, diagnosis, calls[0] if calls else None, timed_out)


def run_exercise(exercise: Exercise, function: Callable, hidden: bool) -> list[Outcome]:
    """Run every case in order; after a timeout, fail the rest without running them."""
    outcomes: list[Outcome] = []
    for case in exercise.cases(hidden):
        if any(outcome.timed_out for outcome in outcomes):
            outcomes.append(Outcome(case, "not run after the timeout above"))
        else:
            outcomes.append(run_case(exercise, case, function))
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
