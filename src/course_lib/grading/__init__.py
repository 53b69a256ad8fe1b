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
from course_lib.grading import foundations, initialization
from course_lib.grading._runner import Exercise, report, run_exercise, score

__all__ = ["check", "device", "exercise_names"]

_EXERCISES: dict[str, Exercise] = {
    exercise.name: exercise
    for module in (foundations, initialization)
    for exercise in module.EXERCISES
}


def exercise_names() -> list[str]:
    """Names of every exercise :func:`check` can grade."""
    return sorted(_EXERCISES)


def check(name: str, function: Callable, *, points: float, hidden: bool = False) -> float:
    """Grade ``function`` as the exercise ``name``; print what is right and wrong, return the
    points earned out of ``points``. Never raises because of the student's code."""
    if name not in _EXERCISES:
        raise ValueError(f"no exercise named {name!r}; known exercises: {exercise_names()}")
    if points <= 0:
        raise ValueError(f"points must be positive, got {points}")
    exercise = _EXERCISES[name]
    if not callable(function):
        print(f"{name}: 0 / {points:g} points: expected a function, got {type(function).__name__}")
        return 0.0
    outcomes = run_exercise(exercise, function, hidden)
    earned = score(outcomes, points)
    print(report(name, outcomes, earned, points))
    if not hidden:
        print("  (hidden tests will check more shapes, options and dtypes)")
    return earned
