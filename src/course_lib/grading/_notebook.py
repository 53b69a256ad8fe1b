"""Grading one notebook, the pure step: code cells in, each cell's outputs out.

The submission's cells run, in order, in a sandboxed worker (:class:`~course_lib.grading.
_sandbox.Session`). A graded test cell does not: its source is the instructor's (nbgrader
restores it from the gradebook before this step), and it is evaluated here, on the grader's
side, in a namespace where every name the cell does not define stands for the student's
function of that name in the worker (:class:`RemoteFunction`). So ``check("eye_", eye_,
points=1)`` runs the grader's check, which sends plain inputs to the worker's ``eye_`` and
judges the plain results here: the score, the expected values, the hidden seed and the report
never enter the student's process, and nothing the submission prints, patches or returns can
change them. The result depends only on the cells, the seed and the grading code, so it can be
computed anywhere (a pool of local processes, a Dask cluster) and cached by content.
"""

import ast
import base64
import binascii
import builtins
import contextlib
import hashlib
import io
import json
import pathlib
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import course_lib
from course_lib.grading import _seed
from course_lib.grading._sandbox import Session

MAX_CELL_TEXT = 50_000
MAX_PNG_BYTES = 2_000_000


@dataclass(frozen=True)
class GradingCell:
    """A code cell as grading sees it: ``test`` for a graded test cell (instructor's code)."""

    source: str
    test: bool = False
    grade_id: str = ""


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test_cell(cell) -> bool:
    """A locked, graded cell without a solution: the instructor's test code."""
    meta = _nbgrader(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def grading_input(notebook) -> list[GradingCell]:
    """The code cells of a notebook, in order, as :func:`grade_notebook` takes them."""
    return [
        GradingCell(cell.source, is_test_cell(cell), str(_nbgrader(cell).get("grade_id", "")))
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]


def cache_key(cells: list[GradingCell], seed: int, time_limit: float) -> str:
    """What a grading result depends on: the cells, the seed, the limit and the grading code."""
    grading_code = pathlib.Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(grading_code.glob("*.py")):
        digest.update(path.read_bytes())
    payload = json.dumps([[asdict(c) for c in cells], seed, time_limit, course_lib.__name__])
    digest.update(payload.encode())
    return digest.hexdigest()


class RemoteFunction:
    """The student's function called ``name``, living in the worker: what a test cell's free
    names stand for. :func:`course_lib.grading.check` recognises it and sends its cases through
    the session."""

    def __init__(self, session: Session, name: str, hidden_checks: frozenset[str]):
        self.session, self.name, self.hidden_checks = session, name, hidden_checks

    def caller(self):
        return lambda exercise, call: self.session.call(exercise.name, self.name, call.plain())


class _TestCellNames(dict):
    """Locals of a test cell: names it binds itself, else the student's remote functions."""

    def __init__(self, session: Session, hidden_checks: frozenset[str]):
        super().__init__()
        self._session, self._hidden = session, hidden_checks

    def __missing__(self, name: str):
        if hasattr(builtins, name):
            raise KeyError(name)
        return RemoteFunction(self._session, name, self._hidden)


def _hidden_checks(tree: ast.Module) -> frozenset[str]:
    """Exercises a test cell checks with ``hidden=True``: its visible check of the same exercise
    is then skipped at autograde, so that feedback shows the one report that counts."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check":
            hidden = any(
                k.arg == "hidden" and getattr(k.value, "value", False) is True
                for k in node.keywords
            )
            if hidden and node.args and isinstance(node.args[0], ast.Constant):
                names.add(str(node.args[0].value))
    return frozenset(names)


def evaluate_test_cell(source: str, session: Session) -> list[dict]:
    """Run an instructor's test cell on the grader's side; its outputs (the reports it printed,
    then the value of its last expression, which nbgrader reads as the cell's score)."""
    printed = io.StringIO()
    try:
        tree = ast.parse(source)
        names = _TestCellNames(session, _hidden_checks(tree))
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        scope = {"__builtins__": builtins, "__name__": "__grader__"}
        with contextlib.redirect_stdout(printed), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(tree, "<test cell>", "exec"), scope, names)
            value = (
                eval(compile(ast.Expression(last.value), "<test cell>", "eval"), scope, names)
                if last
                else None
            )
    except Exception as error:
        outputs = [_stream(printed.getvalue())] if printed.getvalue() else []
        return outputs + [_error("GradingError", f"{type(error).__name__}: {error}")]
    outputs = [_stream(printed.getvalue())] if printed.getvalue() else []
    if value is not None:
        outputs.append(
            {
                "output_type": "execute_result",
                "execution_count": None,
                "metadata": {},
                "data": {"text/plain": repr(value)},
            }
        )
    return outputs


def _cut(text: Any, limit: int = MAX_CELL_TEXT) -> str:
    text = text if isinstance(text, str) else ""
    return (
        text if len(text) <= limit else text[:limit] + f"\n... [{len(text) - limit} characters cut]"
    )


def _stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": _cut(text)}


def _error(name: str, value: str) -> dict:
    return {
        "output_type": "error",
        "ename": _cut(name, 200),
        "evalue": _cut(value, 2000),
        "traceback": [f"{_cut(name, 200)}: {_cut(value, 2000)}"],
    }


def _png(data: Any) -> str | None:
    if not isinstance(data, str) or len(data) > MAX_PNG_BYTES:
        return None
    try:
        return data if base64.b64decode(data, validate=True).startswith(b"\x89PNG") else None
    except (binascii.Error, ValueError):
        return None


def student_outputs(raw: Any) -> list[dict]:
    """A worker's report of a cell's outputs as nbformat outputs, keeping only text and PNG
    images (never HTML or scripts, which would run in the instructor's browser)."""
    outputs = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "stream" and item.get("name") in ("stdout", "stderr"):
            outputs.append(_stream(item.get("text"), item["name"]))
        elif item.get("type") == "display_data" and isinstance(item.get("data"), dict):
            data = {"text/plain": _cut(item["data"].get("text/plain"))}
            if (png := _png(item["data"].get("image/png"))) is not None:
                data["image/png"] = png
            outputs.append({"output_type": "display_data", "metadata": {}, "data": data})
        elif item.get("type") == "error":
            outputs.append(_error(item.get("ename"), item.get("evalue")))
    return outputs


def grade_notebook(
    cells: list[GradingCell],
    seed: int,
    *,
    mode: str | None = None,
    cell_timeout: float = 60.0,
    call_timeout: float = 10.0,
) -> list[list[dict]]:
    """Each code cell's outputs: student cells run in a sandboxed worker, test cells evaluated
    here, hidden checks drawing their cases from the instructor's ``seed``."""
    session = Session(mode, cell_timeout=cell_timeout, call_timeout=call_timeout)
    try:
        with _seed.using(seed):
            return [
                evaluate_test_cell(cell.source, session)
                if cell.test
                else student_outputs(session.run_cell(cell.source))
                for cell in cells
            ]
    finally:
        session.close()
