"""Every chapter runs in the smoke profile (nbval on a papermill-prepared copy, checked cells compared with
their stored outputs), is paired with an output-free .ipynb, and the book builds.

The smoke-sized models of every chapter are made once by ``prepare`` (as ``make book`` does for
``local``); the chapters then run with training switched off, so a chapter that would train a
model ``prepare`` does not list fails here instead of hitting a cell timeout in the book build.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from conftest import ROOT, unglued_prose_names
from smoke_book import CHECK_MARKER, EXECUTED, REFRESH_ENV, checked_cells, run_smoke, stored_path

from support.prepare import prepare

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")


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


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_smoke_profile(source, tmp_path, smoke_models):
    results, executed = run_smoke(source, tmp_path / source.stem)
    assert results["profile"] == "smoke" and results["chapter"] == source.stem
    named, missing = unglued_prose_names(source, executed)
    assert not missing, f"the prose names glue keys no cell glued: {sorted(missing)}"
    if source.stem == "00_using_this_book":
        metrics = results["metrics"]
        assert metrics["smollm2_answer_correct"] == 1
        assert metrics["tiny_final_loss"] < metrics["tiny_first_loss"]
        assert metrics["batch_runs_ok"] == 4 and len(results["tables"]["batch"]) == 4


def test_every_chapter_checks_some_cells_against_stored_smoke_outputs():
    """Each chapter marks its deterministic cells (configuration, paper constants) and their outputs are stored."""
    for source in NOTEBOOKS:
        marked = checked_cells(jupytext.read(source))
        assert marked, f"{source.name} marks no cell {CHECK_MARKER!r}"
        stored = json.loads(stored_path(source.stem).read_text())
        assert len(stored) == len(marked) and all(stored), f"refresh {stored_path(source.stem)} with {REFRESH_ENV}=1"


def test_a_changed_checked_output_fails_the_nbval_run(tmp_path, smoke_models, monkeypatch):
    """A checked cell whose output differs from the stored one fails, naming the cell; sanitized parts do not."""
    monkeypatch.delenv(REFRESH_ENV, raising=False)
    source = tmp_path / "notebooks" / "99_toy.py"
    source.parent.mkdir()
    source.write_text('# %% tags=["parameters"]\nprofile = "local"\nresults_path = None\n\n'
                      '# %%\n# NBVAL_CHECK_OUTPUT\nfrom support.cache import cache_dir\n'
                      'print("answer", 41 + 1, "in 3.2 seconds from", cache_dir() / "models")\n\n'
                      '# %%\nfrom support.results import save_results\n'
                      'save_results("99_toy", {"profile": profile}, {"answer": 42}, path=results_path)\n')
    # stored as a refresh stores them: this machine's cache folder and the duration as placeholders
    good = [[{"name": "stdout", "output_type": "stream", "text": "answer 42 in <DURATION> from <CACHE>/models\n"}]]
    bad = [[{"name": "stdout", "output_type": "stream", "text": "answer 43 in <DURATION> from <CACHE>/models\n"}]]
    for stored, passes in ((good, True), (bad, False)):
        stored_file = tmp_path / f"stored-{passes}.json"
        stored_file.write_text(json.dumps(stored))
        try:
            results, _ = run_smoke(source, tmp_path / ("good" if passes else "bad"), stored_file)
            assert passes and results["metrics"]["answer"] == 42
        except AssertionError as err:
            assert not passes and "Cell outputs differ" in str(err) and "answer 43" in str(err), str(err)[-2000:]
        finally:
            EXECUTED.pop(source, None)


def test_every_headline_metric_is_in_the_smoke_results():
    """A headline whose metric key the chapter never writes would read 'not measured' on the results page."""
    from support.headlines import chapter_headlines, keys_of

    if not EXECUTED:
        pytest.skip("no smoke run in this session")
    for source, (_, results) in EXECUTED.items():
        metrics = json.loads(results.read_text())["metrics"]
        for headline in chapter_headlines(source.stem):
            keys = [*keys_of(headline.metric), *headline.target_keys()]
            assert set(keys) <= set(metrics), f"{source.stem}: {sorted(set(keys) - set(metrics))} not in its results"


def _build(book_root: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(JUPYTER_BOOK), "build", str(book_root), "-W", "--path-output", str(out)],
                          capture_output=True, text=True)


def test_book_builds_with_warnings_as_errors(smoke_book):
    """Sphinx with -W over every chapter in the smoke profile. The chapters' smoke runs above already executed
    every notebook (and failed on any error); their outputs seed the build's execution cache, so a chapter
    executes here only when this test runs without them (e.g. alone)."""
    output = smoke_book["output"]
    assert smoke_book["status"] == 0, output[-5000:]
    if len(EXECUTED) == len(NOTEBOOKS):  # a seeded chapter that did not match would run again and be cached beside it
        from jupyter_cache import get_cache

        records = get_cache(smoke_book["cache_dir"]).list_cache_records()
        assert len(records) == smoke_book["seeded"] == len(NOTEBOOKS), output[-3000:]
        assert output.count(": cached (not executed)") == len(NOTEBOOKS), output[-3000:]
    html = smoke_book["html"]
    assert (html / "index.html").is_file()
    chapter = (html / "notebooks" / "00_using_this_book.html").read_text()
    assert "Paris" in chapter and "<img" in chapter  # executed outputs and figures are on the page
    assert "chapters of this build" in output and "00_using_this_book" in output.split("chapters of this build")[-1]


def test_book_build_fails_when_a_cell_raises(tmp_path, capfd):
    """With warnings as errors (every chapter) and without (named chapters), the build fails and names the cell."""
    from support.book import build

    book = tmp_path / "book"
    (book / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    shutil.copy(ROOT / "book" / "references.bib", book / "book" / "references.bib")
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: broken\n")
    (book / "intro.md").write_text("# Intro\n")
    (book / "broken.py").write_text('# %% [markdown]\n# # Broken\n\n# %%\nx = 1\n\n# %%\n'
                                    'raise RuntimeError("cell failed on purpose")\n')
    run = _build(book, tmp_path / "out")
    assert run.returncode != 0
    assert "cell failed on purpose" in run.stdout + run.stderr
    for chapters, out in ((None, "strict"), (["00"], "subset")):
        assert build(chapters, root=book, out=tmp_path / out) != 0
        said = capfd.readouterr().out
        assert "[book] broken: FAILED in code cell 2: RuntimeError: cell failed on purpose" in said, said[-3000:]
