"""The instructor's pipeline, end to end, in a temporary course directory: generate the release
from solutions/, autograde a batch of submissions with nbgrader, generate feedback, export
grades. Also checks that the committed exercises/ are what nbgrader generates now."""

import csv
import os
import pathlib
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
POINTS = {
    f"test_{name}": points
    for name, points in [
        ("constant_", 1), ("uniform_", 1), ("normal_", 1), ("calculate_gain", 2),
        ("_calculate_fan_in_and_fan_out", 2), ("xavier_uniform_", 3), ("xavier_normal_", 2),
        ("kaiming_uniform_", 3), ("kaiming_normal_", 2), ("orthogonal_", 3), ("eye_", 1),
        ("sparse_", 2),
    ]
}


def nbgrader(course: pathlib.Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    bin_dir = pathlib.Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "COURSE_GRADING_TIME_LIMIT_S": "1",
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


class Course(NamedTuple):
    root: pathlib.Path
    autograde_log: str


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    """A course directory with the release generated and six submissions autograded."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")

    release = read(course / "exercises" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    solved = {
        name: solution_source(cell)
        for name, cell in answer_cells(read(ROOT / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")).items()
    }
    # The first mutant of each exercise that runs on its own (some call the solution's gain).
    first_mutants = {
        name: next(src for src in cases.values() if "_reference_gain" not in src)
        for name, cases in MUTANTS.items()
    }
    submissions = {
        "solver": submission(release, solved),
        "blank": submission(release, {}),
        "mutant": submission(release, first_mutants),
        "cheater": submission(
            release,
            {
                **solved,
                "xavier_uniform_": CHEATS["xavier_uniform_"]["calls torch"],
                "kaiming_uniform_": CHEATS["kaiming_uniform_"]["alias bound before the check"],
                "eye_": MUTANTS["eye_"]["returns a new tensor"],
            },
            edited_tests={"test_eye_": "1"},
        ),
        "hanger": submission(
            release, {**solved, "sparse_": "def sparse_(tensor, sparsity, std=0.01, generator=None):\n    while True:\n        pass"}
        ),
        "crasher": submission(
            release, {**solved, "eye_": "import os\ndef eye_(tensor):\n    os._exit(1)"}
        ),
    }
    for student, notebook in submissions.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(notebook, str(folder / f"{NOTEBOOK}.ipynb"))
    autograde = nbgrader(course, "autograde", ASSIGNMENT, "--force", check=False)
    return Course(course, autograde.stdout + autograde.stderr)


def grades(course: Course, student: str) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
        return {grade.name: grade.score for grade in notebook.grades if grade.name.startswith("test_")}


def test_release_has_no_solutions_or_hidden_tests(course):
    text = (course.root / "exercises" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert "hidden=True" not in text and "raise NotImplementedError()" in text


def test_committed_exercises_are_generated_from_solutions(course):
    generated = read(course.root / "exercises" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    committed = read(ROOT / "exercises" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    assert committed == generated, "exercises/ is out of date: run `make exercises` and commit"


def test_solution_scores_full_marks(course):
    assert grades(course, "solver") == POINTS


def test_blank_release_scores_zero_without_stopping_the_batch(course):
    assert grades(course, "blank") == dict.fromkeys(POINTS, 0)


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


def test_a_crashed_kernel_fails_one_submission_and_the_batch_goes_on(course):
    assert "error processing assignment '01_initialization' for student 'crasher'" in course.autograde_log
    for student in ("solver", "blank", "mutant", "cheater", "hanger"):
        assert grades(course, student), student


def test_feedback_shows_the_diagnosis(course):
    nbgrader(course.root, "generate_feedback", ASSIGNMENT, "--force")
    html = (course.root / "feedback" / "mutant" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "did you use fan_in only?" in html
    assert (course.root / "feedback" / "solver" / ASSIGNMENT / f"{NOTEBOOK}.html").exists()


def test_grades_export_to_csv(course):
    nbgrader(course.root, "export", "--to", "grades.csv")
    with open(course.root / "grades.csv", newline="") as file:
        rows = {row["student_id"]: row for row in csv.DictReader(file)}
    assert float(rows["solver"]["score"]) == sum(POINTS.values())
    assert float(rows["blank"]["score"]) == 0
