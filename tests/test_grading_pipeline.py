"""The instructor's pipeline, end to end, in a temporary course directory: generate the release
from solutions/, autograde a batch of submissions with nbgrader, generate feedback, export
grades. Also checks that the committed exercises/ are what nbgrader generates now."""

import csv
import os
import pathlib
import re
import shutil
import subprocess
import sys
from typing import NamedTuple

import nbformat
import pytest
from nbgrader.api import Gradebook

from tests.mutants.initialization import CHEATS, MUTANTS
from tests.notebooks import ROOT, answer_cells, read, solution_source, graded_cells

pytestmark = pytest.mark.slow

ASSIGNMENT = "01_initialization"
NOTEBOOK = "initialization"
ASSIGNMENTS = {"00_foundations": "foundations", ASSIGNMENT: NOTEBOOK}


def points(assignment: str) -> dict[str, float]:
    """Points of each autograded test cell, as the instructor's notebook declares them."""
    notebook = read(ROOT / "solutions" / assignment / f"{ASSIGNMENTS[assignment]}.ipynb")
    return {name: float(cell.metadata["nbgrader"]["points"]) for name, cell in graded_cells(notebook).items()}


POINTS = points(ASSIGNMENT)


def nbgrader(course: pathlib.Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    bin_dir = pathlib.Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "COURSE_GRADING_TIME_LIMIT_S": "2",
        "COURSE_GRADING_SEED": "20261203",
    }
    result = subprocess.run(
        [str(bin_dir / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True
    )
    if check and result.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def submission(release, replacements: dict[str, str], edited_tests: dict[str, str] = {}):
    """The release notebook with answer cells replaced (name -> source) and test cells edited."""
    notebook = nbformat.from_dict(release)
    for name, cell in answer_cells(notebook).items():
        if name in replacements:
            cell.source = replacements[name]
    for name, source in edited_tests.items():
        graded_cells(notebook)[name].source = source
    return notebook


def solved(assignment: str) -> dict[str, str]:
    notebook = read(ROOT / "solutions" / assignment / f"{ASSIGNMENTS[assignment]}.ipynb")
    return {name: solution_source(cell) for name, cell in answer_cells(notebook).items()}


def submit(course: pathlib.Path, assignment: str, submissions: dict) -> None:
    for student, notebook in submissions.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(notebook, str(folder / f"{ASSIGNMENTS[assignment]}.ipynb"))


class Course(NamedTuple):
    root: pathlib.Path
    autograde_log: str


@pytest.fixture(scope="module")
def course(tmp_path_factory, sandbox) -> Course:
    """A course directory with the release generated and six submissions autograded."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    for assignment in ASSIGNMENTS:
        shutil.copytree(ROOT / "solutions" / assignment, course / "solutions" / assignment)
        nbgrader(course, "generate_assignment", assignment, "--force")

    release = read(course / "exercises" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    solution = solved(ASSIGNMENT)
    # The first mutant of each exercise that runs on its own (some call the solution's gain).
    first_mutants = {
        name: next(src for src in cases.values() if "_reference_gain" not in src)
        for name, cases in MUTANTS.items()
    }
    hang = "def sparse_(tensor, sparsity, std=0.01, generator=None):\n    while True:\n        pass"
    submit(course, ASSIGNMENT, {
        "solver": submission(release, solution),
        "blank": submission(release, {}),
        "mutant": submission(release, first_mutants),
        "cheater": submission(
            release,
            {
                **solution,
                "xavier_uniform_": CHEATS["xavier_uniform_"]["calls torch"],
                "kaiming_uniform_": CHEATS["kaiming_uniform_"]["alias bound before the check"],
                "eye_": MUTANTS["eye_"]["returns a new tensor"],
            },
            edited_tests={"test_eye_": "1"},
        ),
        "hanger": submission(release, {**solution, "sparse_": hang}),
        "crasher": submission(release, {**solution, "eye_": "import os\ndef eye_(tensor):\n    os._exit(1)"}),
    })
    autograde = nbgrader(course, "autograde", ASSIGNMENT, "--force", check=False)

    foundations = read(course / "exercises" / "00_foundations" / "foundations.ipynb")
    submit(course, "00_foundations", {
        "solver": submission(foundations, solved("00_foundations")),
        "blank": submission(foundations, {}),
    })
    nbgrader(course, "autograde", "00_foundations", "--force")
    return Course(course, autograde.stdout + autograde.stderr)


def grades(course: Course, student: str, assignment: str = ASSIGNMENT) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(ASSIGNMENTS[assignment], assignment, student)
        return {grade.name: grade.score for grade in notebook.grades if grade.name.startswith("test_")}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_no_solutions_or_hidden_tests(course, assignment):
    text = (course.root / "exercises" / assignment / f"{ASSIGNMENTS[assignment]}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert "hidden=True" not in text and "raise NotImplementedError()" in text


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_exercises_are_generated_from_solutions(course, assignment):
    name = f"{ASSIGNMENTS[assignment]}.ipynb"
    generated = read(course.root / "exercises" / assignment / name)
    committed = read(ROOT / "exercises" / assignment / name)
    assert committed == generated, "exercises/ is out of date: run `make exercises` and commit"


def test_every_assignment_is_tested_here():
    assert set(ASSIGNMENTS) == {p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_marks(course, assignment):
    assert grades(course, "solver", assignment) == points(assignment)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_release_scores_zero_without_stopping_the_batch(course, assignment):
    assert grades(course, "blank", assignment) == dict.fromkeys(points(assignment), 0)


def test_every_first_mutant_loses_points(course):
    scores = grades(course, "mutant")
    assert all(scores[name] < POINTS[name] for name in POINTS), scores


def test_delegation_scores_zero_and_edited_tests_are_restored(course):
    scores = grades(course, "cheater")
    assert scores["test_xavier_uniform_"] == 0
    assert scores["test_kaiming_uniform_"] == 0
    assert scores["test_eye_"] < POINTS["test_eye_"]
    honest = {name: POINTS[name] for name in POINTS if name not in {"test_xavier_uniform_", "test_kaiming_uniform_", "test_eye_"}}
    assert {name: scores[name] for name in honest} == honest


def test_a_hanging_function_costs_only_its_own_points(course):
    scores = grades(course, "hanger")
    assert scores["test_sparse_"] == 0
    assert {n: s for n, s in scores.items() if n != "test_sparse_"} == {
        n: p for n, p in POINTS.items() if n != "test_sparse_"
    }


def test_a_function_that_kills_its_worker_costs_only_its_own_points(course):
    scores = grades(course, "crasher")
    assert scores["test_eye_"] == 0
    assert {n: s for n, s in scores.items() if n != "test_eye_"} == {
        n: p for n, p in POINTS.items() if n != "test_eye_"
    }
    for student in ("solver", "blank", "mutant", "cheater", "hanger"):
        assert grades(course, student), student


def test_only_a_real_edit_of_a_test_cell_is_reported(course):
    changed = re.findall(r"Attribute 'checksum' for cell (\S+) has changed", course.autograde_log)
    assert changed == ["test_eye_"], course.autograde_log[-3000:]


def test_feedback_shows_the_diagnosis(course):
    nbgrader(course.root, "generate_feedback", ASSIGNMENT, "--force")
    html = (course.root / "feedback" / "mutant" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "did you use fan_in only?" in html
    assert (course.root / "feedback" / "solver" / ASSIGNMENT / f"{NOTEBOOK}.html").exists()


def test_grades_export_to_csv(course):
    nbgrader(course.root, "export", "--to", "grades.csv")
    with open(course.root / "grades.csv", newline="") as file:
        rows = {(row["assignment"], row["student_id"]): row for row in csv.DictReader(file)}
    for assignment in ASSIGNMENTS:
        assert float(rows[assignment, "solver"]["score"]) == sum(points(assignment).values())
        assert float(rows[assignment, "blank"]["score"]) == 0
