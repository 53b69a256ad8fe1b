"""nbgrader's ``autograde``, made safe: the preprocessors that ``nbgrader_config.py`` plugs in.

- :class:`RepairSubmission` runs first when nbgrader sanitizes a submission. A notebook with
  duplicated or broken nbgrader metadata (a copied cell, an edited schema version) would stop
  nbgrader's batch for every later student; this keeps the first cell of each grade_id, strips
  metadata it cannot trust, and records what it changed in a note at the top of the notebook
  (so the student's feedback says it) and in the log.
- :class:`SandboxedExecute` replaces nbgrader's ``Execute``: it grades the sanitized notebook
  with :func:`course_lib.grading._notebook.grade_notebook` (student code in a sandboxed worker,
  checks on the grader's side) and writes each cell's outputs back, where nbgrader's
  ``SaveAutoGrades`` reads the scores. Results are cached by content in ``.grading-cache/`` of
  the course, which is how a parallel pre-pass (``python -m course_lib.grading autograde``)
  hands its work to the ordinary, single-writer ``nbgrader autograde``.
"""

import json
import os
import pathlib
import tempfile

import nbformat
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    ClearOutput,
    DeduplicateIds,
    IgnorePattern,
    LimitOutput,
    NbGraderPreprocessor,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)
from traitlets import Float, Unicode

from course_lib.grading import _runner
from course_lib.grading._notebook import cache_key, grade_notebook, grading_input
from course_lib.grading._seed import instructor_seed

NOTE_TAG = "course-grading-note"


def repair(notebook) -> list[str]:
    """Make ``notebook``'s nbgrader metadata safe to grade, in place; what was changed, in words."""
    problems: list[str] = []
    seen: set[str] = set()
    validator = MetadataValidator()
    notebook.cells = [
        c for c in notebook.cells if NOTE_TAG not in c.get("metadata", {}).get("tags", [])
    ]
    for index, cell in enumerate(notebook.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            continue
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        problem = None
        if not isinstance(meta, dict) or not isinstance(grade_id, str):
            problem = f"cell {index + 1} has nbgrader metadata without a grade_id"
        elif grade_id in seen:
            problem = f"cell {index + 1} repeats grade_id {grade_id!r}; only the first is graded"
        else:
            try:
                if meta.get("schema_version") != 3:
                    meta["schema_version"] = 3
                validator.validate_cell(cell)
            except (ValidationError, KeyError, TypeError, AttributeError) as error:
                problem = f"cell {index + 1} ({grade_id}) has invalid nbgrader metadata ({error})"
        if problem:
            problems.append(problem)
            del cell.metadata["nbgrader"]
        else:
            seen.add(grade_id)
    if problems:
        text = "**Grading note.** This notebook was repaired before grading:\n\n" + "\n".join(
            f"- {p}" for p in problems
        )
        notebook.cells.insert(0, nbformat.v4.new_markdown_cell(text, metadata={"tags": [NOTE_TAG]}))
    return problems


def restore_hidden_tests(notebook, db_url: str, assignment: str, notebook_id: str) -> None:
    """Put back the hidden tests of every locked cell that is exactly as it was released.

    nbgrader releases a test cell without its hidden tests but keeps the checksum of the whole
    cell in the gradebook, so on its own it reports every untouched test cell as changed
    ("Attribute 'checksum' ... has changed!") while it restores them, and a real edit drowns in
    those reports. A cell that was edited still differs from its released form here, so nbgrader
    still reports and restores it."""
    with Gradebook(db_url) as gradebook:
        for cell in notebook.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if not meta.get("locked") or "grade_id" not in meta:
                continue
            try:
                source = gradebook.find_source_cell(meta["grade_id"], notebook_id, assignment)
            except MissingEntry:
                continue
            released = nbformat.from_dict({"cell_type": source.cell_type, "source": source.source})
            ClearHiddenTests()._remove_hidden_test_region(released)
            if cell.source == released.source:
                cell.source = source.source


class RepairSubmission(NbGraderPreprocessor):
    """First sanitizing step of autograde: see :func:`repair` and :func:`restore_hidden_tests`."""

    def preprocess(self, nb, resources):
        where = resources["nbgrader"]
        restore_hidden_tests(nb, where["db_url"], where["assignment"], where["notebook"])
        for problem in repair(nb):
            self.log.warning(
                "%s / %s: %s",
                resources.get("nbgrader", {}).get("student"),
                resources.get("unique_key"),
                problem,
            )
        return nb, resources


class SandboxedExecute(NbGraderPreprocessor):
    """Autograde's execution step: grade the notebook with student code sandboxed and scores
    computed outside it (see the module's docstring)."""

    cell_timeout = Float(60.0, help="Seconds one cell of a submission may run.").tag(config=True)
    cache_directory = Unicode(
        ".grading-cache", help="Where graded results are cached, by content."
    ).tag(config=True)

    def preprocess(self, nb, resources):
        cells = grading_input(nb)
        outputs = grade_cached(
            cells, pathlib.Path(self.cache_directory), cell_timeout=self.cell_timeout
        )
        code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
        for count, (cell, cell_outputs) in enumerate(
            zip(code_cells, outputs, strict=True), start=1
        ):
            cell.outputs = [nbformat.from_dict(output) for output in cell_outputs]
            cell.execution_count = count
        return nb, resources


def cached_path(cells, cache: pathlib.Path, seed: int) -> pathlib.Path:
    return cache / f"{cache_key(cells, seed, _runner.TIME_LIMIT_S)}.json"


def store(path: pathlib.Path, outputs: list[list[dict]]) -> None:
    """Write a result to the cache atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as file:
        json.dump(outputs, file)
    os.replace(file.name, path)


def grade_cached(
    cells, cache: pathlib.Path, *, cell_timeout: float = 60.0, mode: str | None = None
) -> list[list[dict]]:
    """:func:`grade_notebook` with its result kept in ``cache`` under the content's key."""
    seed = instructor_seed()
    path = cached_path(cells, cache, seed)
    if path.is_file():
        return json.loads(path.read_text())
    outputs = grade_notebook(
        cells, seed, mode=mode, cell_timeout=cell_timeout, call_timeout=_runner.TIME_LIMIT_S
    )
    store(path, outputs)
    return outputs


# The preprocessor lists nbgrader_config.py gives ``Autograde``: nbgrader's own steps around ours.
SANITIZE = [
    RepairSubmission,
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    OverwriteCells,
    CheckCellMetadata,
]
AUTOGRADE = [
    SandboxedExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]


def sanitized(path: pathlib.Path, db_url: str, assignment: str, student: str):
    """A submitted notebook as autograde's sanitizing steps leave it (test cells restored from
    the gradebook): what :class:`SandboxedExecute` will grade."""
    notebook = nbformat.read(str(path), as_version=4)
    resources = {
        "nbgrader": {
            "db_url": db_url,
            "assignment": assignment,
            "notebook": path.stem,
            "student": student,
        }
    }
    for step in SANITIZE:
        notebook, resources = step().preprocess(notebook, resources)
    return notebook
