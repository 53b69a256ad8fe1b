"""Autograding of the exercises.

A test cell of an exercise notebook calls :func:`check` with the exercise's name (the answer
cell's nbgrader ``grade_id``, which is also the function's name) and the student's function::

    from course_lib.grading import check
    check("xavier_uniform_", xavier_uniform_, points=3)
    ### BEGIN HIDDEN TESTS
    check("xavier_uniform_", xavier_uniform_, points=3, hidden=True)
    ### END HIDDEN TESTS

:func:`check` runs the student's function and course_lib's reference on the same inputs on
:func:`course_lib.device`, prints a diagnosis in words and returns the points earned, which
nbgrader reads as the cell's partial credit (the value of the cell's last expression). Students
see the visible checks; nbgrader's autograde puts the hidden line back, and its value, over all
cases with seeded random inputs, is the grade.
"""

from collections.abc import Callable

from course_lib import device
from course_lib.grading import _static, foundations, initialization
from course_lib.grading._notebook import RemoteFunction
from course_lib.grading._runner import (
    Draws,
    Exercise,
    in_process_caller,
    report,
    run_exercise,
    score,
)
from course_lib.grading._seed import MissingSeed, instructor_seed

__all__ = ["MissingSeed", "check", "device", "exercise_names"]

_EXERCISES: dict[str, Exercise] = {
    exercise.name: exercise
    for module in (foundations, initialization)
    for exercise in module.EXERCISES
}


def exercise_names() -> list[str]:
    """Names of every exercise :func:`check` can grade."""
    return sorted(_EXERCISES)


def check(name: str, function: Callable, *, points: float, hidden: bool = False) -> float | None:
    """Grade ``function`` as the exercise ``name``; print what is right and wrong, return the
    points earned out of ``points``. Never raises because of the student's code.

    In a student's kernel the checks run in-process (feedback only: the student could change
    anything there). At autograde, ``function`` is the student's function in a sandboxed worker
    (:class:`~course_lib.grading._notebook.RemoteFunction`) and this runs on the grader's side;
    there a visible check is skipped when its cell also has the hidden one, which includes its
    cases. ``hidden=True`` needs the instructor's grading seed and raises :class:`MissingSeed`
    without it."""
    if name not in _EXERCISES:
        raise ValueError(f"no exercise named {name!r}; known exercises: {exercise_names()}")
    if points <= 0:
        raise ValueError(f"points must be positive, got {points}")
    exercise = _EXERCISES[name]
    remote = isinstance(function, RemoteFunction)
    if remote and not hidden and name in function.hidden_checks:
        return None
    draws = Draws(instructor_seed(), name) if hidden else None
    if remote and (found := _static.findings(function.session.sources, name, exercise.forbidden(), exercise.given)):
        print(
            f"{name}: 0 / {points:g} points: its code {'; '.join(found)}. Write the computation "
            "yourself with tensor operations: calling torch's or course_lib's implementation, or "
            "code that hides what it calls, earns nothing."
        )
        return 0.0
    if not remote and not callable(function):
        print(f"{name}: 0 / {points:g} points: expected a function, got {type(function).__name__}")
        return 0.0
    outcomes = run_exercise(exercise, function.caller() if remote else in_process_caller(function), draws)
    earned = score(outcomes, points)
    print(report(name, outcomes, earned, points))
    if not hidden:
        print("  (when your notebook is graded, hidden checks try more shapes, options and dtypes)")
    return earned
