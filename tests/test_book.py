"""The book builds with Jupyter Book 1 exactly as `make book` builds it (every chapter executed,
warnings as errors), and a chapter that raises, or a broken link, fails the build."""

import pathlib
import shutil
import subprocess
import sys

import nbformat
import pytest
import yaml

from tests.notebooks import ROOT

pytestmark = pytest.mark.slow
BUILD_OPTIONS = ["--warningiserror", "--nitpick", "--keep-going"]


def build(source: pathlib.Path, output: pathlib.Path) -> subprocess.CompletedProcess:
    jupyter_book = pathlib.Path(sys.executable).parent / "jupyter-book"
    return subprocess.run(
        [str(jupyter_book), "build", str(source), "--path-output", str(output), *BUILD_OPTIONS],
        capture_output=True,
        text=True,
    )


def test_makefile_builds_with_these_options():
    recipe = (ROOT / "Makefile").read_text()
    assert "jupyter-book build . " + " ".join(BUILD_OPTIONS) in recipe


def test_book_builds_with_every_chapter_executed(built_book):
    result, html = built_book
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    for page in pages:
        assert (html / f"{page}.html").exists(), page
    chapter = (html / "book" / "01_initialization.html").read_text()
    assert "<img" in chapter, "the Initialization chapter shows no figure: was it executed?"
    assert "_static/mathjax/tex-svg-full.js" in chapter and "cdn.jsdelivr" not in chapter, (
        "formulas must render offline, with the MathJax shipped in _static/mathjax"
    )
    assert (html / "_static" / "mathjax" / "tex-svg-full.js").exists()
    for exercise in (html / "exercises").glob("*/*.html"):
        text = exercise.read_text()
        assert "NotImplementedError" in text, exercise
        assert "checks pass" not in text, f"{exercise.name} was executed at build: it must not be"


def small_book(root: pathlib.Path, page: nbformat.NotebookNode) -> pathlib.Path:
    """A one-page book with the course's configuration."""
    root.mkdir()
    shutil.copy(ROOT / "_config.yml", root)
    shutil.copytree(ROOT / "_ext", root / "_ext")
    (root / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    page.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nbformat.write(page, str(root / "page.ipynb"))
    return root


def test_a_chapter_that_raises_fails_the_build(tmp_path):
    page = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# Broken"), nbformat.v4.new_code_cell("1 / 0")]
    )
    result = build(small_book(tmp_path / "book", page), tmp_path / "out")
    assert result.returncode != 0
    assert "ZeroDivisionError" in result.stdout + result.stderr


def test_a_broken_link_fails_the_build(tmp_path):
    page = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# Page\n\nSee [the missing chapter](missing.ipynb).")]
    )
    result = build(small_book(tmp_path / "book", page), tmp_path / "out")
    assert result.returncode != 0
