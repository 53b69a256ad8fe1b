"""The grader's reading of a submission's code: every catalogued cheat is found, no solution,
mutant, honest alternative or harmless oddity is, and a finding is charged to the function whose
code holds it, not to its neighbours."""

import pytest

from course_lib.grading import _EXERCISES
from course_lib.grading._static import findings
from tests.attacks import catalogue
from tests.mutants import foundations, initialization
from tests.notebooks import ROOT, answer_cells, read, solution_source

NOTEBOOKS = {
    initialization: ROOT / "solutions" / "01_initialization" / "initialization.ipynb",
    foundations: ROOT / "solutions" / "00_foundations" / "foundations.ipynb",
}


def notebook_code(path) -> tuple[list[str], dict[str, str]]:
    notebook = read(path)
    setup = [
        c.source
        for c in notebook.cells
        if c.metadata.get("nbgrader", {}).get("grade_id") == "imports"
    ]
    return setup, {name: solution_source(cell) for name, cell in answer_cells(notebook).items()}


def flagged(setup: list[str], answers: dict[str, str], extra: str = "") -> list[str]:
    sources = setup + ([extra] if extra else []) + list(answers.values())
    return [
        name
        for name in answers
        if findings(sources, name, _EXERCISES[name].forbidden(), _EXERCISES[name].given)
    ]


@pytest.mark.parametrize("catalogue_module", NOTEBOOKS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_the_catalogue_is_read_right(catalogue_module):
    setup, answers = notebook_code(NOTEBOOKS[catalogue_module])
    assert flagged(setup, answers) == []
    for kind in ("MUTANTS", "ALTERNATIVES", "CHEATS"):
        for name, cases in getattr(catalogue_module, kind).items():
            for label, source in cases.items():
                found = flagged(setup, {**answers, name: source})
                assert found == ([name] if kind == "CHEATS" else []), (kind, name, label, found)


def test_each_attack_is_charged_to_its_own_function_only():
    setup, answers = notebook_code(NOTEBOOKS[initialization])
    caught_when_run = {"tensor subclass that equals anything", "NaN poison"}
    for label, (name, source) in catalogue.CHEATS.items():
        assert flagged(setup, {**answers, name: source}) == (
            [] if label in caught_when_run else [name]
        ), label
    for label, source in catalogue.HARMLESS.items():
        assert flagged(setup, answers, source) == [], label
    setup, answers = notebook_code(NOTEBOOKS[foundations])
    for label, (name, source) in catalogue.FOUNDATIONS_CHEATS.items():
        assert flagged(setup, {**answers, name: source}) == [name], label


@pytest.mark.parametrize(
    "source, finding",
    [
        (
            "import torch.nn.init as I\ndef eye_(t):\n    return I.eye_(t)",
            "calls torch.nn.init.eye_",
        ),
        (
            "from torch.nn import init\nf = init.eye\ndef eye_(t):\n    return f(t)",
            "calls torch.nn.init.eye_",
        ),
        (
            "import torch\ndef eye_(t):\n    return getattr(torch.nn.init, 'eye_')(t)",
            "calls torch.nn.init.eye_",
        ),
        (
            "from course_lib import init as ref\ndef eye_(t):\n    return ref.eye_(t)",
            "calls course_lib.init.eye_",
        ),
        ("from torch.nn.init import *\ndef eye_(t):\n    return t", "imports * from torch.nn.init"),
        ("def eye_(t):\n    return eval('t')", "uses eval()"),
        (
            "import sys\ndef eye_(t):\n    return sys.modules['torch'].nn.init.eye_(t)",
            "uses sys.modules",
        ),
        (
            "def helper(t):\n    return t.__class__.__dict__\ndef eye_(t):\n    return helper(t)",
            "uses .__dict__",
        ),
    ],
)
def test_aliases_and_hiding_places_are_followed(source, finding):
    assert finding in findings([source], "eye_", _EXERCISES["eye_"].forbidden())


def test_torchs_versions_may_be_explored_outside_the_answer():
    demo = "import torch\nw = torch.empty(3, 3)\ntorch.nn.init.eye_(w)\nprint(w)"
    answer = "def eye_(t):\n    return t.fill_(0)"
    assert findings([demo, answer], "eye_", _EXERCISES["eye_"].forbidden()) == []
