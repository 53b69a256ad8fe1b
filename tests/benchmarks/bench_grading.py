"""Grading a class: N submissions of 01_initialization (100 unless BENCH_GRADING_SUBMISSIONS says
otherwise), graded three ways in a temporary course: nbgrader's own sequential autograde with a
kernel per notebook and the checks inside it (the path before the sandbox), and the sandboxed
path (`python -m course_lib.grading autograde`) with 1 and with 2 worker processes. Also the
per-submission overhead of the sandboxed path beyond the submission's own compute (its cells and
checks run in one process)."""

import contextlib
import io
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import nbformat

from tests.benchmarks.timing import markdown_table
from tests.notebooks import ROOT, solution_namespace
from tests.test_grading_pipeline import nbgrader, read, solved, submission, submit

ASSIGNMENT = "01_initialization"
BIN = pathlib.Path(sys.executable).parent
SEED = "424242"


def _course(root: pathlib.Path, sandboxed: bool, count: int) -> pathlib.Path:
    root.mkdir()
    config = (ROOT / "nbgrader_config.py").read_text()
    if not sandboxed:  # nbgrader's own preprocessors: a kernel per notebook, checks inside it
        config = "\n".join(
            line
            for line in config.splitlines()
            if "course_lib.grading" not in line
            and not line.startswith(("c.Autograde.", "c.SandboxedExecute."))
        )
    (root / "nbgrader_config.py").write_text(config)
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, root / "solutions" / ASSIGNMENT)
    nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")
    release = read(root / "exercises" / ASSIGNMENT / "initialization.ipynb")
    students = {}
    for k in range(count):  # distinct notebooks, so that no result is reused from the cache
        notebook = submission(release, solved(ASSIGNMENT))
        notebook.cells.append(nbformat.v4.new_code_cell(f"# student {k}"))
        students[f"student{k:03d}"] = notebook
    submit(root, ASSIGNMENT, students)
    return root


def _run(command: list[str], course: pathlib.Path) -> float:
    environment = {
        **os.environ,
        "COURSE_GRADING_SEED": SEED,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    start = time.perf_counter()
    result = subprocess.run(command, cwd=course, env=environment, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
    return elapsed


def _own_compute_seconds() -> float:
    """One submission's cells and hidden checks in one process: the work any grader must do."""
    from course_lib import grading

    os.environ["COURSE_GRADING_SEED"] = SEED
    namespace = solution_namespace(ROOT / "solutions" / ASSIGNMENT / "initialization.ipynb")
    names = [n for n in grading.exercise_names() if n in namespace]
    with contextlib.redirect_stdout(io.StringIO()):
        grading.check(names[0], namespace[names[0]], points=1, hidden=True)  # warm-up
        start = time.perf_counter()
        for name in names:
            grading.check(name, namespace[name], points=1, hidden=True)
        return time.perf_counter() - start


def main() -> str:
    count = int(os.environ.get("BENCH_GRADING_SUBMISSIONS", "100"))
    nbgrader_bin = str(BIN / "nbgrader")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = pathlib.Path(scratch)
        before = _run(
            [nbgrader_bin, "autograde", ASSIGNMENT], _course(scratch / "before", False, count)
        )
        sandboxed = _course(scratch / "sandboxed", True, count)
        timings = {}
        for workers in (1, 2):
            shutil.rmtree(sandboxed / ".grading-cache", ignore_errors=True)
            command = [
                sys.executable,
                "-m",
                "course_lib.grading",
                "autograde",
                ASSIGNMENT,
                "--workers",
                str(workers),
                "--force",
            ]
            timings[workers] = _run(command, sandboxed)
    own = _own_compute_seconds()
    per_submission = timings[1] / count
    rows = [
        ("nbgrader autograde, sequential, no sandbox (before)", before, before / count, ""),
        (
            "sandboxed, 1 worker",
            timings[1],
            per_submission,
            f"{before / timings[1]:.2f}x the speed of before (goal >= 1)",
        ),
        (
            "sandboxed, 2 workers",
            timings[2],
            timings[2] / count,
            f"{timings[1] / timings[2]:.2f}x 1 worker (goal >= 1.8)",
        ),
        ("one submission's own compute, in-process", own, own, ""),
        (
            "overhead per submission beyond its own compute",
            per_submission - own,
            per_submission - own,
            "",
        ),
    ]
    table = markdown_table(["path", "seconds", "per submission (s)", "ratio"], rows)
    return (
        f"## Grading a class: {count} submissions of {ASSIGNMENT} on {os.cpu_count()} cores\n\n"
        + table
    )
