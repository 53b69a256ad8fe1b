"""The attack suite: submissions that try to earn points they did not compute, read what they
must not, damage the course, or stop the batch, graded the instructor's way (the parallel
command, then nbgrader autograde) in a temporary copy of the course. Each attack must score only
what its honest parts earn, change no file outside its own results, leave no process behind,
reach no network, and let the rest of the class be graded."""

import hashlib
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import threading

import nbformat
import pytest
from nbgrader.api import Gradebook

from course_lib.grading import _batch, _runner
from course_lib.grading.autograde import cached_path
from tests.attacks import catalogue
from tests.notebooks import ROOT, read
from tests.test_grading_pipeline import ASSIGNMENTS, nbgrader, points, solved, submission, submit

pytestmark = pytest.mark.slow

ASSIGNMENT = "01_initialization"
SEED = "777000111"
GENERATED = ("autograded", "feedback", "gradebook.db", ".grading-cache", ".nbgrader.log")


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def with_cell(notebook, source: str):
    """``notebook`` with a cell of the student's own after the setup cell."""
    index = next(
        i
        for i, c in enumerate(notebook.cells)
        if c.metadata.get("nbgrader", {}).get("grade_id") == "imports"
    )
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return notebook


def tree_digest(root: pathlib.Path, skip=()) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and not any(part in skip for part in p.relative_to(root).parts)
        and "__pycache__" not in p.parts
    }


class Listener:
    """A TCP server on the loopback that records whether anything connected."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()


@pytest.fixture(scope="module")
def attacked(tmp_path_factory, sandbox):
    course = tmp_path_factory.mktemp("attacked")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    for assignment in ASSIGNMENTS:
        shutil.copytree(ROOT / "solutions" / assignment, course / "solutions" / assignment)
        nbgrader(course, "generate_assignment", assignment, "--force")
    listener = Listener()
    release = read(course / "exercises" / ASSIGNMENT / "initialization.ipynb")
    solution = solved(ASSIGNMENT)
    students = {"solver": submission(release, solution)}
    for label, source in catalogue.BLANK_FULL_MARKS.items():
        students[slug(label)] = with_cell(submission(release, {}), source)
    for label, (name, source) in {**catalogue.CHEATS, **catalogue.CONTAINED}.items():
        students[slug(label)] = submission(release, {**solution, name: source})
    for label, source in catalogue.HARMLESS.items():
        students[slug(label)] = with_cell(
            submission(release, solution), source.replace("PORT", str(listener.port))
        )
    duplicated = submission(release, solution)
    duplicated.cells.append(
        nbformat.from_dict(
            next(
                c
                for c in duplicated.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "eye_"
            )
        )
    )
    students["duplicated-cell"] = duplicated
    odd = submission(release, solution)
    odd.metadata.kernelspec = {"name": "ir", "display_name": "R", "language": "R"}
    odd.cells[-1].metadata["nbgrader"]["schema_version"] = 1
    students["wrong-kernel-and-schema"] = odd
    submit(course, ASSIGNMENT, students)
    unreadable = course / "submitted" / "unreadable" / ASSIGNMENT
    unreadable.mkdir(parents=True)
    (unreadable / "initialization.ipynb").write_text("{ this is not a notebook")

    foundations = read(course / "exercises" / "00_foundations" / "foundations.ipynb")
    foundation_solution = solved("00_foundations")
    submit(
        course,
        "00_foundations",
        {
            slug(label): submission(foundations, {**foundation_solution, name: source})
            for label, (name, source) in catalogue.FOUNDATIONS_CHEATS.items()
        },
    )

    protected = tree_digest(course, skip=GENERATED)
    library = tree_digest(ROOT / "src" / "course_lib" / "grading")
    environment = {
        **os.environ,
        "COURSE_GRADING_SEED": SEED,
        "COURSE_GRADING_TIME_LIMIT_S": "3",
        "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    parallel = subprocess.run(
        [sys.executable, "-m", "course_lib.grading", "autograde", ASSIGNMENT, "--workers", "2"],
        cwd=course,
        env=environment,
        capture_output=True,
        text=True,
    )
    cached = len(list((course / ".grading-cache").glob("*.json")))
    plain = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "nbgrader"), "autograde", "00_foundations"],
        cwd=course,
        env=environment,
        capture_output=True,
        text=True,
    )
    report = subprocess.run(
        [sys.executable, "-m", "course_lib.grading", "report", ASSIGNMENT],
        cwd=course,
        env=environment,
        capture_output=True,
        text=True,
    )
    listener.server.close()
    return {
        "course": course,
        "students": students,
        "protected": protected,
        "library": library,
        "log": parallel.stdout + parallel.stderr + plain.stdout + plain.stderr,
        "listener": listener,
        "cached": cached,
        "report": report.stdout,
    }


def grades(course: pathlib.Path, student: str, assignment: str = ASSIGNMENT) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(ASSIGNMENTS[assignment], assignment, student)
        return {
            grade.name: grade.score for grade in notebook.grades if grade.name.startswith("test_")
        }


def expected(zero: set[str], assignment: str = ASSIGNMENT, blank: bool = False) -> dict[str, float]:
    return {
        name: 0.0 if blank or name in zero else value for name, value in points(assignment).items()
    }


@pytest.mark.parametrize("label", catalogue.BLANK_FULL_MARKS)
def test_a_blank_notebook_cannot_award_itself_points(attacked, label):
    assert grades(attacked["course"], slug(label)) == expected(set(), blank=True), attacked["log"][
        -3000:
    ]


@pytest.mark.parametrize("label", catalogue.CHEATS)
def test_delegation_the_tripwires_miss_scores_zero(attacked, label):
    name, _ = catalogue.CHEATS[label]
    assert grades(attacked["course"], slug(label)) == expected({f"test_{name}"})


@pytest.mark.parametrize("label", catalogue.FOUNDATIONS_CHEATS)
def test_autograd_where_it_is_forbidden_scores_zero(attacked, label):
    name, _ = catalogue.FOUNDATIONS_CHEATS[label]
    got = grades(attacked["course"], slug(label), "00_foundations")
    assert got == expected({f"test_{name}"}, "00_foundations"), attacked["log"][-3000:]


@pytest.mark.parametrize("label", catalogue.CONTAINED)
def test_a_runaway_function_costs_only_its_own_points(attacked, label):
    name, _ = catalogue.CONTAINED[label]
    assert grades(attacked["course"], slug(label)) == expected({f"test_{name}"})


@pytest.mark.parametrize("label", catalogue.HARMLESS)
def test_damage_fails_and_honest_work_keeps_full_marks(attacked, label):
    assert grades(attacked["course"], slug(label)) == expected(set())


def test_no_file_outside_the_results_changes(attacked):
    assert tree_digest(attacked["course"], skip=GENERATED) == attacked["protected"]
    assert tree_digest(ROOT / "src" / "course_lib" / "grading") == attacked["library"]


def test_no_process_outlives_its_submission(attacked):
    lingering = subprocess.run(["pgrep", "-f", catalogue.LINGER], capture_output=True, text=True)
    assert lingering.stdout == "", lingering.stdout


def test_no_submission_reaches_the_network(attacked):
    assert attacked["listener"].connections == 0


def test_nothing_secret_reaches_the_feedback(attacked):
    autograded = attacked["course"] / "autograded"
    for path in autograded.rglob("*.ipynb"):
        text = path.read_text()
        assert "BEGIN SOLUTION" not in text and SEED not in text, path
    leak = (
        autograded / "harvest-the-hidden-cases" / ASSIGNMENT / "initialization.ipynb"
    ).read_text()
    assert catalogue.SEED_LEAK in leak


def test_the_sandbox_shows_no_course_file(attacked):
    path = attacked["course"] / "autograded" / "search-the-whole-file-system" / ASSIGNMENT
    text = (path / "initialization.ipynb").read_text()
    found = re.search(re.escape(catalogue.FOUND) + r" (\[.*?\])", text)
    assert found, "the search printed nothing"
    for secret in ("gradebook.db", "grading_seed", "nbgrader_config.py", ".ipynb"):
        assert secret not in found.group(1), found.group(1)


def test_malformed_notebooks_are_graded_and_the_batch_goes_on(attacked):
    course = attacked["course"]
    assert grades(course, "duplicated-cell") == expected(set())
    assert grades(course, "wrong-kernel-and-schema") == expected(set())
    assert grades(course, "solver") == expected(set())
    assert "unreadable" in attacked["log"]


def test_outputs_are_bounded(attacked):
    path = attacked["course"] / "autograded" / "a-huge-output" / ASSIGNMENT / "initialization.ipynb"
    assert path.stat().st_size < 2_000_000


def test_the_parallel_pass_caches_one_result_per_distinct_submission(attacked, monkeypatch):
    monkeypatch.setattr(_runner, "TIME_LIMIT_S", 3.0)
    cache = attacked["course"] / ".grading-cache"
    jobs, unreadable = _batch.jobs(attacked["course"], ASSIGNMENT)
    # The wrong-kernel student's code is the solver's: one result serves both.
    assert len(jobs) == len(attacked["students"]) and len(unreadable) == 1
    keys = {cached_path(job.cells, cache, int(SEED)).name for job in jobs}
    assert len(keys) == len(jobs) - 1 == attacked["cached"]
    assert keys <= {path.name for path in cache.glob("*.json")}


def test_the_instructor_report_flags_copies_and_delegation(attacked):
    rows = attacked["report"]
    assert "solver,eye_,same as the reference solution (up to names)" in rows
    assert "getattr-with-a-computed-name,eye_,code uses getattr() with a computed name" in rows
    assert "second-copy-of-torch-nn-init-via-importlib,xavier_uniform_,code uses importlib;" in rows
    assert not any(row.startswith("solver,") and ",code " in row for row in rows.splitlines())
