"""Grading a class in parallel, and the instructor's report on it.

Grading one submission is a pure step: its sanitized cells and the seed in, each cell's outputs
out (:func:`course_lib.grading._notebook.grade_notebook`). :func:`pregrade` runs that step for
every submission of an assignment on N local processes, or on a Dask cluster (its scheduler runs
on one machine, on Kubernetes or on SLURM alike), and stores the results in the course's cache.
``nbgrader autograde`` then finds every result there and is the one process that writes the
gradebook, the autograded notebooks and the feedback, exactly as in a sequential run.

:func:`similarity_report` lists, per exercise, the submissions whose answer is the reference
solution or another student's answer up to names, comments and docstrings, and what the
grader's reading of the code flagged: best-effort evidence for an instructor to look at, not a
verdict.
"""

import ast
import concurrent.futures
import csv
import hashlib
import io
import multiprocessing
import pathlib
from collections import defaultdict
from dataclasses import dataclass

import nbformat
import torch

from course_lib.grading import _runner, _static
from course_lib.grading._notebook import GradingCell, grade_notebook, grading_input, is_test_cell
from course_lib.grading._seed import instructor_seed
from course_lib.grading.autograde import cached_path, sanitized, store

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


@dataclass(frozen=True)
class Job:
    """One submission to grade: who, and its sanitized code cells."""

    student: str
    notebook: str
    cells: list[GradingCell]


def submissions(course: pathlib.Path, assignment: str) -> list[tuple[str, pathlib.Path]]:
    """``(student, notebook path)`` of every submitted notebook of ``assignment``."""
    return sorted(
        (path.parent.parent.name, path)
        for path in (course / "submitted").glob(f"*/{assignment}/*.ipynb")
    )


def jobs(course: pathlib.Path, assignment: str) -> tuple[list[Job], list[str]]:
    """The submissions to grade, and the problems of those that cannot be read (nbgrader
    records those students itself; the others are not held up)."""
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    found, problems = [], []
    for student, path in submissions(course, assignment):
        try:
            notebook = sanitized(path, db_url, assignment, student)
        except Exception as error:  # a submission nbgrader will report as unreadable
            problems.append(f"{student}/{path.name}: {type(error).__name__}: {error}")
            continue
        found.append(Job(student, path.stem, grading_input(notebook)))
    return found, problems


def grade_job(
    cells: list[GradingCell], seed: int, time_limit: float, cell_timeout: float
) -> list[list[dict]]:
    """The pure step, as a top-level function that a process pool or a Dask worker can run."""
    _runner.TIME_LIMIT_S = time_limit
    # One thread per job: N jobs share N cores, and more threads each would only contend.
    torch.set_num_threads(1)
    return grade_notebook(cells, seed, cell_timeout=cell_timeout, call_timeout=time_limit)


def pregrade(
    course: pathlib.Path,
    assignment: str,
    *,
    workers: int = 2,
    scheduler: str | None = None,
    local_cluster: bool = False,
    cell_timeout: float = 60.0,
) -> dict:
    """Grade every submission of ``assignment`` not in the cache yet, ``workers`` at a time
    (or on the Dask scheduler at ``scheduler``, or a local Dask cluster); what was done."""
    seed = instructor_seed()
    cache = course / ".grading-cache"
    pending, problems = jobs(course, assignment)
    pending = [job for job in pending if not cached_path(job.cells, cache, seed).is_file()]
    arguments = [(job.cells, seed, _runner.TIME_LIMIT_S, cell_timeout) for job in pending]
    for job, outputs in zip(
        pending, _run(arguments, workers, scheduler, local_cluster), strict=True
    ):
        store(cached_path(job.cells, cache, seed), outputs)
    return {"graded": [f"{job.student}/{job.notebook}" for job in pending], "unreadable": problems}


def _run(arguments: list[tuple], workers: int, scheduler: str | None, local_cluster: bool):
    if not arguments:
        return []
    if scheduler or local_cluster:
        from dask.distributed import Client, LocalCluster

        cluster = (
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)
            if local_cluster
            else None
        )
        with Client(scheduler or cluster) as client:
            futures = [client.submit(grade_job, *args, pure=False) for args in arguments]
            results = client.gather(futures)
        if cluster is not None:
            cluster.close()
        return results
    if workers <= 1:
        return [grade_job(*args) for args in arguments]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(grade_job, *zip(*arguments, strict=True)))


# ---------------------------------------------------------------- the instructor's report


def _answer_source(source: str) -> str:
    lines = [line for line in source.splitlines() if line.strip() not in SOLUTION_MARKERS]
    return "\n".join(lines)


def fingerprint(source: str) -> str | None:
    """A hash of the code's structure: equal for code that differs only in names, comments,
    docstrings and layout; None for code that does not parse."""
    try:
        tree = ast.parse(_answer_source(source))
    except SyntaxError:
        return None
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(getattr(body[0], "value", None), ast.Constant)
        ):
            body.pop(0)
        for field in ("id", "arg", "name"):
            value = getattr(node, field, None)
            if isinstance(value, str):
                setattr(node, field, names.setdefault(value, f"v{len(names)}"))
    text = ast.dump(tree, annotate_fields=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _answers(notebook) -> dict[str, str]:
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("solution")
    }


def similarity_report(course: pathlib.Path, assignment: str) -> str:
    """CSV rows ``student, exercise, finding`` for answers equal (up to names) to the reference
    or to another student's, and for code the grader's reading flags."""
    from course_lib.grading import _EXERCISES

    references, stubs = {}, set()
    for path in (course / "solutions" / assignment).glob("*.ipynb"):
        references.update(
            {k: fingerprint(v) for k, v in _answers(nbformat.read(str(path), 4)).items()}
        )
    for path in (course / "exercises" / assignment).glob("*.ipynb"):
        stubs.update(fingerprint(v) for v in _answers(nbformat.read(str(path), 4)).values())
    by_print: dict[tuple[str, str], list[str]] = defaultdict(list)
    rows = []
    for student, path in submissions(course, assignment):
        try:
            notebook = nbformat.read(str(path), 4)
        except Exception as error:
            rows.append((student, "", f"unreadable notebook: {error}"))
            continue
        answers = _answers(notebook)
        code = [c.source for c in notebook.cells if c.cell_type == "code" and not is_test_cell(c)]
        for exercise, source in answers.items():
            print_ = fingerprint(source)
            print_ = None if print_ in stubs else print_
            if print_ and print_ == references.get(exercise):
                rows.append((student, exercise, "same as the reference solution (up to names)"))
            if print_:
                by_print[exercise, print_].append(student)
            if exercise in _EXERCISES:
                found = _static.findings(
                    code, exercise, _EXERCISES[exercise].forbidden(), _EXERCISES[exercise].given
                )
                if found:
                    rows.append((student, exercise, "code " + "; ".join(found)))
    for (exercise, _), students in sorted(by_print.items()):
        if len(students) > 1:
            rows += [
                (s, exercise, f"same as {', '.join(o for o in students if o != s)} (up to names)")
                for s in students
            ]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", "exercise", "finding"])
    writer.writerows(sorted(rows))
    return buffer.getvalue()
