"""Helpers for tests that read the course's notebooks: answer cells, their solutions, and a
namespace in which the solutions (or a student's replacements) are defined."""

import pathlib
import re

import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOLUTION_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*\n", re.MULTILINE)


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def read(path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def answer_cells(notebook) -> dict[str, nbformat.NotebookNode]:
    """Answer cells by grade_id (the name of the function each defines)."""
    return {
        nbgrader_meta(c)["grade_id"]: c
        for c in notebook.cells
        if nbgrader_meta(c).get("solution") and c.cell_type == "code"
    }


def graded_cells(notebook) -> dict[str, nbformat.NotebookNode]:
    """Autograded test cells by grade_id."""
    return {nbgrader_meta(c)["grade_id"]: c for c in notebook.cells if nbgrader_meta(c).get("grade")}


def solution_source(cell) -> str:
    """An answer cell's code with nbgrader's solution markers removed."""
    return SOLUTION_MARKERS.sub("", cell.source)


def solution_namespace(path) -> dict:
    """Execute a solution notebook's setup and answer cells (not its tests) in a fresh
    namespace, as a student's kernel would hold them."""
    notebook = read(path)
    namespace: dict = {"__name__": "__student__"}
    for cell in notebook.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type == "code" and not meta.get("grade"):
            exec(compile(solution_source(cell), f"<{meta.get('grade_id', 'cell')}>", "exec"), namespace)
    return namespace
