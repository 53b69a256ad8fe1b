"""Grading a class is a pure step per submission: the same outputs from one process, from a pool
of processes and from a Dask cluster, cached by content, and recorded by nbgrader from the
cache."""

import json
import shutil

import pytest

from course_lib.grading import _batch, _runner
from tests.notebooks import ROOT, read
from tests.test_grading_pipeline import nbgrader, points, solved, submission, submit

pytestmark = pytest.mark.slow
ASSIGNMENT = "00_foundations"
SEED = "20261203"  # and a 2 s limit: what tests.test_grading_pipeline.nbgrader gives nbgrader


@pytest.fixture(autouse=True)
def grading_settings(monkeypatch):
    monkeypatch.setenv("COURSE_GRADING_SEED", SEED)
    monkeypatch.setattr(_runner, "TIME_LIMIT_S", 2.0)


@pytest.fixture(scope="module")
def course(tmp_path_factory, sandbox):
    course = tmp_path_factory.mktemp("batch")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    release = read(course / "exercises" / ASSIGNMENT / "foundations.ipynb")
    solution = solved(ASSIGNMENT)
    submit(
        course,
        ASSIGNMENT,
        {
            "solver": submission(release, solution),
            "blank": submission(release, {}),
            "half": submission(release, {k: v for k, v in solution.items() if "derivative" in k}),
        },
    )
    return course


def cached(course) -> dict[str, list]:
    return {p.name: json.loads(p.read_text()) for p in (course / ".grading-cache").glob("*.json")}


def test_sequential_pool_and_dask_cluster_give_the_same_results(course):
    done = _batch.pregrade(course, ASSIGNMENT, workers=1)
    assert sorted(done["graded"]) == ["blank/foundations", "half/foundations", "solver/foundations"]
    sequential = cached(course)
    assert _batch.pregrade(course, ASSIGNMENT, workers=2)["graded"] == []  # all cached
    for runner in ({"workers": 2}, {"workers": 2, "local_cluster": True}):
        shutil.rmtree(course / ".grading-cache")
        _batch.pregrade(course, ASSIGNMENT, **runner)
        again = cached(course)
        assert again.keys() == sequential.keys()
        for key in sequential:  # scores and reports equal; student output may differ in timing text
            scores = [
                [o for o in cell if o["output_type"] == "execute_result"] for cell in again[key]
            ]
            assert scores == [
                [o for o in cell if o["output_type"] == "execute_result"]
                for cell in sequential[key]
            ]


def test_nbgrader_records_the_cached_results(course, monkeypatch):
    _batch.pregrade(course, ASSIGNMENT, workers=2)
    monkeypatch.setenv("COURSE_GRADING_SANDBOX", "refuse-if-used")  # a cache miss would fail
    nbgrader(course, "autograde", ASSIGNMENT, "--force")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:

        def total(student):
            return sum(
                g.score
                for g in gradebook.find_submission_notebook(
                    "foundations", ASSIGNMENT, student
                ).grades
            )

        full = sum(points(ASSIGNMENT).values())
        assert total("solver") == full and total("blank") == 0 and 0 < total("half") < full
