"""The checks of every assignment, run in-process on the solution's functions and on the
catalogue in tests/mutants: the solution and every honest alternative score full marks, every
common mistake loses points, every delegation to torch or course_lib scores 0."""

import copy

import pytest

from course_lib import grading
from tests.mutants import foundations, initialization
from tests.notebooks import ROOT, answer_cells, read, solution_namespace

# Each assignment's solution notebook and catalogue of mutants, alternatives and cheats.
CATALOGUES = {
    ROOT / "solutions" / "00_foundations" / "foundations.ipynb": foundations,
    ROOT / "solutions" / "01_initialization" / "initialization.ipynb": initialization,
}
NOTEBOOK_OF = {name: path for path in CATALOGUES for name in answer_cells(read(path))}
EXERCISES = sorted(NOTEBOOK_OF)
MUTANTS = {k: v for catalogue in CATALOGUES.values() for k, v in catalogue.MUTANTS.items()}
ALTERNATIVES = {k: v for catalogue in CATALOGUES.values() for k, v in catalogue.ALTERNATIVES.items()}
CHEATS = {k: v for catalogue in CATALOGUES.values() for k, v in catalogue.CHEATS.items()}
_namespaces: dict = {}
GRADING_SEED = "20261203"


@pytest.fixture(autouse=True)
def grading_seed(monkeypatch):
    """Hidden checks draw their cases from the instructor's seed; tests hold one."""
    monkeypatch.setenv("COURSE_GRADING_SEED", GRADING_SEED)


@pytest.fixture
def solution(request):
    """The namespace of the solution notebook that defines the exercise under test (or the
    initialization notebook for tests of the grading machinery itself)."""
    callspec = getattr(request.node, "callspec", None)
    name = callspec.params.get("name", "eye_") if callspec else "eye_"
    path = NOTEBOOK_OF[name]
    if path not in _namespaces:
        _namespaces[path] = solution_namespace(path)
    return _namespaces[path]


def student(solution: dict, source: str) -> dict:
    """The solution's namespace with one answer cell replaced by ``source``."""
    namespace = copy.copy(solution)
    if "calculate_gain" in solution:
        namespace["_reference_gain"] = solution["calculate_gain"]
    exec(compile(source, "<student>", "exec"), namespace)
    return namespace


def grade(namespace: dict, name: str, capsys) -> tuple[float, str]:
    earned = grading.check(name, namespace[name], points=1, hidden=True)
    return earned, capsys.readouterr().out


def test_every_exercise_has_mutants_and_an_alternative():
    assert set(EXERCISES) == set(grading.exercise_names())
    for name in EXERCISES:
        assert len(MUTANTS[name]) >= 3, name
        assert name in ALTERNATIVES, name


@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
@pytest.mark.parametrize("name", EXERCISES)
def test_solution_scores_full_marks(solution, name, hidden, capsys):
    earned = grading.check(name, solution[name], points=2, hidden=hidden)
    assert earned == 2, capsys.readouterr().out


@pytest.mark.parametrize(
    "name, label", [(name, label) for name, cases in MUTANTS.items() for label in cases]
)
def test_mutant_loses_points(solution, name, label, capsys):
    earned, report = grade(student(solution, MUTANTS[name][label]), name, capsys)
    assert earned < 1, f"mutant {label!r} of {name} scored full marks:\n{report}"
    assert "FAIL" in report


@pytest.mark.parametrize(
    "name, label", [(name, label) for name, cases in ALTERNATIVES.items() for label in cases]
)
def test_honest_alternative_scores_full_marks(solution, name, label, capsys):
    earned, report = grade(student(solution, ALTERNATIVES[name][label]), name, capsys)
    assert earned == 1, f"alternative {label!r} of {name} lost points:\n{report}"


@pytest.mark.parametrize(
    "name, label", [(name, label) for name, cases in CHEATS.items() for label in cases]
)
def test_delegation_scores_zero(solution, name, label, capsys):
    earned, report = grade(student(solution, CHEATS[name][label]), name, capsys)
    assert earned == 0, report
    assert "Write the computation yourself" in report


def test_diagnoses_name_the_mistake(solution, capsys):
    expectations = {
        ("xavier_uniform_", "fan_in only"): "did you use fan_in only?",
        ("xavier_uniform_", "std used as bound"): "bound and std confused",
        ("kaiming_uniform_", "ignores mode"): "did you ignore mode?",
        ("normal_", "variance for std"): "variance std**2",
        ("sparse_", "zeros per row"): "counted per row",
        ("sparse_", "rounds instead of ceil"): "round up",
        ("orthogonal_", "no sign correction"): "sign of R's diagonal",
        ("constant_", "no torch.no_grad()"): "torch.no_grad()",
        ("_calculate_fan_in_and_fan_out", "fans swapped"): "swapped",
        ("_calculate_fan_in_and_fan_out", "no receptive field"): "receptive field",
    }
    for (name, label), words in expectations.items():
        _, report = grade(student(solution, MUTANTS[name][label]), name, capsys)
        assert words in report, f"{name} / {label}:\n{report}"


def test_a_hanging_function_is_stopped_and_scores_zero(solution, capsys, monkeypatch):
    monkeypatch.setattr(grading._runner, "TIME_LIMIT_S", 0.5)
    namespace = student(solution, "def eye_(tensor):\n    while True:\n        pass")
    earned, report = grade(namespace, "eye_", capsys)
    assert earned == 0 and "did not finish within 0.5 s" in report
    assert "not run after the timeout above" in report


def test_student_output_and_warnings_never_reach_stderr(solution, capsys):
    source = (
        "import sys, warnings\n"
        "def constant_(tensor, val):\n"
        "    print('debug', file=sys.stderr)\n    warnings.warn('careful')\n"
        "    with torch.no_grad():\n        return tensor.fill_(val)"
    )
    earned = grading.check("constant_", student(solution, source)["constant_"], points=1)
    captured = capsys.readouterr()
    assert earned == 1 and captured.err == ""


def test_a_crashing_function_costs_only_its_cases(solution, capsys):
    namespace = student(solution, "def eye_(tensor):\n    raise SystemExit(3)")
    earned, report = grade(namespace, "eye_", capsys)
    assert earned == 0 and "SystemExit" in report
    assert grading.check("sparse_", solution["sparse_"], points=1) == 1


def test_tripwires_are_removed_after_a_check(solution, capsys):
    import torch
    from torch import nn

    grade(student(solution, CHEATS["xavier_uniform_"]["calls torch"]), "xavier_uniform_", capsys)
    assert nn.init.xavier_uniform_(torch.empty(3, 3)).shape == (3, 3)


def test_unknown_exercise_and_bad_points_are_rejected(solution):
    with pytest.raises(ValueError, match="no exercise named 'xavier'"):
        grading.check("xavier", solution["eye_"], points=1)
    with pytest.raises(ValueError, match="points must be positive"):
        grading.check("eye_", solution["eye_"], points=0)


@pytest.mark.parametrize("seed", ["1", "987654321"])
def test_solution_scores_full_marks_for_other_grading_seeds(solution, seed, monkeypatch):
    monkeypatch.setenv("COURSE_GRADING_SEED", seed)
    for name in ("xavier_uniform_", "kaiming_normal_", "orthogonal_", "sparse_", "calculate_gain"):
        assert grading.check(name, solution[name], points=1, hidden=True) == 1, name


def test_hidden_cases_depend_on_the_grading_seed():
    from course_lib.grading._runner import Draws

    exercise = grading._EXERCISES["xavier_uniform_"]
    first, again = (exercise.cases(Draws(1, exercise.name)) for _ in range(2))
    other = exercise.cases(Draws(2, exercise.name))
    assert [c.call.kwargs for c in first] == [c.call.kwargs for c in again]
    assert [c.call.kwargs for c in first] != [c.call.kwargs for c in other]
    visible = [c.description for c in exercise.cases(None)]
    assert set(visible) <= {c.description for c in first}


def test_hidden_checks_refuse_without_the_instructors_seed(solution, monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_GRADING_SEED")
    monkeypatch.setenv("COURSE_GRADING_SEED_FILE", str(tmp_path / "absent"))
    with pytest.raises(grading.MissingSeed, match="only when the instructor autogrades"):
        grading.check("eye_", solution["eye_"], points=1, hidden=True)
    assert grading.check("eye_", solution["eye_"], points=1) == 1


def test_any_failing_case_costs_points():
    from course_lib.grading._harness import Call
    from course_lib.grading._runner import Case, Outcome, score

    cases = [Case(f"case {i}", Call("returned")) for i in range(999)] + [Case("small", Call("returned"), weight=0.5)]
    outcomes = [Outcome(case, None) for case in cases[:-1]] + [Outcome(cases[-1], "wrong")]
    assert score(outcomes, points=1) == 0.99
    assert score([Outcome(case, None) for case in cases], points=2.5) == 2.5
    assert score([Outcome(case, None) for case in cases], points=0.29) == 0.29
    assert score([Outcome(cases[0], None, delegated_to="torch.nn.init.eye_")], points=1) == 0
