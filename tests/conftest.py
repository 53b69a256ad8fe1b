"""Shared fixtures: every test that computes takes `device`; CUDA cases carry the `gpu` mark
and are skipped where CUDA is absent (`pytest -m gpu` runs only them). `built_book` is the book
built once per session, shared by the build test and the browser test."""

import os

import pytest
import torch

# Hidden checks draw from the instructor's grading seed; the test suite (including nbval's run of
# the instructor notebooks, whose kernels inherit this environment) grades with its own.
os.environ.setdefault("COURSE_GRADING_SEED", "20261203")

DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param(
        "cuda",
        id="cuda",
        marks=[
            pytest.mark.gpu,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available"),
        ],
    ),
]


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """The book built as `make book` builds it (every chapter executed, warnings as errors) into
    a fresh folder: (the build's CompletedProcess, its _build/html folder)."""
    from tests.test_book import build
    from tests.notebooks import ROOT

    output = tmp_path_factory.mktemp("book")
    return build(ROOT, output), output / "_build" / "html"


@pytest.fixture(scope="session")
def sandbox() -> str:
    """Autograding's sandbox (bubblewrap). Tests of the grading path need it; they skip where it
    cannot be made, except under CI (``CI=true``), which installs it and must run them."""
    from course_lib.grading._sandbox import SandboxUnavailable, sandbox_mode

    try:
        return sandbox_mode()
    except SandboxUnavailable as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{error} (Debian/Ubuntu: apt-get install bubblewrap)")
