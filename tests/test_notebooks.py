"""Every chapter runs in the smoke profile, is paired with an output-free .ipynb, and the book builds.

The smoke-sized models of every chapter are made once by ``prepare`` (as ``make book`` does for
``local``); the chapters then run with training switched off, so a chapter that would train a
model ``prepare`` does not list fails here instead of hitting a cell timeout in the book build.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from conftest import ROOT, unglued_prose_names
from support.batch import execute
from support.book import build
from support.glue import STRICT_ENV
from support.models.cached import NO_TRAINING_ENV
from support.prepare import prepare

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")
#: this session's smoke runs that passed (chapter source -> executed notebook): the smoke book build reuses their
#: outputs instead of executing every chapter a second time
EXECUTED: dict[Path, Path] = {}


def book_notebook_with_outputs(source: Path, executed: Path) -> nbformat.NotebookNode:
    """The notebook the book reads from ``source`` (jupytext), carrying the outputs of ``executed`` (a papermill run
    of it: the same code cells plus the injected parameters), so that Jupyter Book's execution cache matches it."""
    book = jupytext.reads(source.read_text(encoding="utf-8"), fmt="py:percent")
    ran = [c for c in nbformat.read(executed, as_version=4).cells
           if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]
    code = [c for c in book.cells if c.cell_type == "code"]
    if [c.source for c in ran] != [c.source for c in code]:
        raise ValueError(f"{executed} was not executed from {source}'s current cells")
    for target, done in zip(code, ran):
        target.outputs, target.execution_count = done.outputs, done.execution_count
    return book


def seed_execution_cache(cache_dir: Path, executed: dict[Path, Path]) -> int:
    """Put the smoke runs into a Jupyter Book execution cache; returns how many notebooks it now holds."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(cache_dir)
    for source, notebook in executed.items():
        bundle = CacheBundleIn(book_notebook_with_outputs(source, notebook), uri=str(source))
        cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
    return len(cache.list_cache_records())


def test_there_are_chapters():
    assert NOTEBOOKS, "no notebooks/NN_*.py found"


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_paired_in_sync_and_output_free(source):
    paired = source.with_suffix(".ipynb")
    assert paired.is_file(), f"{paired.name} is missing: run `jupytext --sync {source}`"
    ipynb = nbformat.read(paired, as_version=4)
    for cell in ipynb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{paired.name} carries outputs"
    from_py = jupytext.read(source)
    assert [(c.cell_type, c.source) for c in from_py.cells] == [(c.cell_type, c.source) for c in ipynb.cells], (
        f"{paired.name} is out of sync with {source.name}: run `jupytext --sync {source}`")
    tagged = [c for c in from_py.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "a chapter needs exactly one cell tagged 'parameters'"
    assert 'profile = "local"' in tagged[0].source and "results_path = None" in tagged[0].source


@pytest.fixture(scope="session")
def smoke_models():
    """Every chapter's smoke-profile models, made once by ``prepare``: one row per model."""
    return prepare(profile="smoke", progress=False)


@pytest.fixture
def no_training(smoke_models, monkeypatch):
    """Training switched off and glue keys checked as in the book build (the papermill kernels inherit the environment)."""
    monkeypatch.setenv(NO_TRAINING_ENV, "1")
    monkeypatch.setenv(STRICT_ENV, "1")


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_smoke_profile(source, tmp_path, no_training):
    results = execute(source, {"profile": "smoke"}, tmp_path / source.stem)
    assert results["profile"] == "smoke" and results["chapter"] == source.stem
    named, missing = unglued_prose_names(source, tmp_path / source.stem / "notebook.ipynb")
    assert not missing, f"the prose names glue keys no cell glued: {sorted(missing)}"
    EXECUTED[source] = tmp_path / source.stem / "notebook.ipynb"
    if source.stem == "00_using_this_book":
        metrics = results["metrics"]
        assert metrics["smollm2_answer_correct"] == 1
        assert metrics["tiny_final_loss"] < metrics["tiny_first_loss"]
        assert metrics["batch_runs_ok"] == 4 and len(results["tables"]["batch"]) == 4


def _build(book_root: Path, out: Path, profile: str | None = "smoke") -> subprocess.CompletedProcess:
    env = {**os.environ, **({"SUPPORT_PROFILE": profile} if profile else {})}
    return subprocess.run([str(JUPYTER_BOOK), "build", str(book_root), "-W", "--path-output", str(out)],
                          capture_output=True, text=True, env=env)


def test_book_builds_with_warnings_as_errors(tmp_path, no_training, monkeypatch, capfd):
    """Sphinx with -W over every chapter in the smoke profile. The chapters' smoke runs above already executed
    every notebook (and failed on any error); their outputs seed the build's execution cache, so a chapter
    executes here only when this test runs without them (e.g. alone)."""
    monkeypatch.setenv("SUPPORT_PROFILE", "smoke")
    cache_dir = tmp_path / "_build" / ".jupyter_cache"
    seeded = seed_execution_cache(cache_dir, EXECUTED)
    status = build(root=ROOT, out=tmp_path)
    output = capfd.readouterr().out
    assert status == 0, output[-5000:]
    if len(EXECUTED) == len(NOTEBOOKS):  # a seeded chapter that did not match would run again and be cached beside it
        from jupyter_cache import get_cache

        assert len(get_cache(cache_dir).list_cache_records()) == seeded == len(NOTEBOOKS), output[-3000:]
    html = tmp_path / "_build" / "html"
    assert (html / "index.html").is_file()
    chapter = (html / "notebooks" / "00_using_this_book.html").read_text()
    assert "Paris" in chapter and "<img" in chapter  # executed outputs and figures are on the page
    assert "colab.research.google.com/github/trustml-book/trustml-book/blob/main/notebooks/00_using_this_book.ipynb" in chapter


def test_book_build_fails_when_a_cell_raises(tmp_path):
    book = tmp_path / "book"
    (book / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    shutil.copy(ROOT / "book" / "references.bib", book / "book" / "references.bib")
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: broken\n")
    (book / "intro.md").write_text("# Intro\n")
    (book / "broken.py").write_text('# %% [markdown]\n# # Broken\n\n# %%\nraise RuntimeError("cell failed on purpose")\n')
    run = _build(book, tmp_path / "out", profile=None)
    assert run.returncode != 0
    assert "cell failed on purpose" in run.stdout + run.stderr
