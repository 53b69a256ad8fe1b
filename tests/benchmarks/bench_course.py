"""The course's own budgets: book build (cold and cached), nbval over book/ and solutions/, and
autograding one submission, measured as whole commands the way an instructor runs them."""

import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import nbformat

from tests.benchmarks.timing import markdown_table
from tests.notebooks import ROOT
from tests.test_grading_pipeline import nbgrader, read, solved, submission, submit

BIN = pathlib.Path(sys.executable).parent


def _timed(command: list[str], cwd: pathlib.Path = ROOT) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return elapsed


def book_build_seconds(output: pathlib.Path) -> tuple[float, float]:
    """(cold, cached): a build into an empty folder, then the same build again."""
    command = [str(BIN / "jupyter-book"), "build", ".", "--path-output", str(output), "--warningiserror"]
    return _timed(command), _timed(command)


def nbval_seconds() -> float:
    return _timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "book", "solutions"])


def _baseline_assignment(course: pathlib.Path) -> None:
    """An assignment that starts what every submission starts (nbgrader, the sandboxed worker
    with torch, the grading module) and does nothing else: a cell that imports torch in the
    worker, and a graded cell."""
    setup = nbformat.v4.new_code_cell("import torch")
    cell = nbformat.v4.new_code_cell("from course_lib.grading import check\n1")
    cell.metadata["nbgrader"] = {
        "grade": True, "grade_id": "start", "locked": True, "points": 1,
        "schema_version": 3, "solution": False, "task": False,
    }
    notebook = nbformat.v4.new_notebook(cells=[setup, cell])
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    folder = course / "solutions" / "baseline"
    folder.mkdir(parents=True)
    nbformat.write(notebook, str(folder / "baseline.ipynb"))


def autograde_seconds(course: pathlib.Path) -> list[tuple[str, float, float]]:
    """For each assignment: (name, median seconds to autograde one solved submission, median
    seconds of the baseline that only starts nbgrader, the kernel and torch)."""
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    _baseline_assignment(course)
    nbgrader(course, "generate_assignment", "baseline", "--force")
    baseline_folder = course / "submitted" / "student" / "baseline"
    baseline_folder.mkdir(parents=True)
    shutil.copy(course / "exercises" / "baseline" / "baseline.ipynb", baseline_folder)
    rows = []
    for assignment in sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()):
        shutil.copytree(ROOT / "solutions" / assignment, course / "solutions" / assignment)
        nbgrader(course, "generate_assignment", assignment, "--force")
        name = next((course / "exercises" / assignment).glob("*.ipynb")).stem
        release = read(course / "exercises" / assignment / f"{name}.ipynb")
        submit(course, assignment, {"student": submission(release, solved(assignment))})
        # Alternate the two, three times each: start-up varies by about half a second.
        times = {assignment: [], "baseline": []}
        for _ in range(3):
            for which in times:
                times[which].append(_timed([str(BIN / "nbgrader"), "autograde", which, "--force"], cwd=course))
        rows.append((assignment, statistics.median(times[assignment]), statistics.median(times["baseline"])))
    return rows


def main() -> str:
    with tempfile.TemporaryDirectory() as scratch:
        scratch = pathlib.Path(scratch)
        cold, cached = book_build_seconds(scratch / "book")
        nbval = nbval_seconds()
        grading = autograde_seconds(scratch / "course")
    rows = [
        ("book build, cold (all chapters executed)", cold, 90.0),
        ("book build, cached", cached, 10.0),
        ("nbval over book/ and solutions/", nbval, 120.0),
    ]
    rows += [
        (f"autograde one {assignment} submission, beyond start-up ({total:.1f} s - {base:.1f} s)", total - base, 3.0)
        for assignment, total, base in grading
    ]
    table = markdown_table(
        ["measure", "seconds", "budget (s)", "within"],
        [(what, seconds, budget, "yes" if seconds <= budget else "NO") for what, seconds, budget in rows],
    )
    return "## Course: book, nbval, autograding\n\n" + table
