"""The smoke runs of every chapter (nbval on papermill-prepared copies) and the smoke book built from them.

``run_smoke`` executes one chapter in the ``smoke`` profile with ``pytest --nbval-lax``: papermill injects
the parameters (``prepare_only``), the cells marked ``# NBVAL_CHECK_OUTPUT`` get their stored outputs from
``tests/smoke_outputs/<chapter>.json``, and nbval executes every cell, failing on an error or on a checked
cell whose output changed (after :func:`sanitizers`: this run's paths and durations in words).
``NBVAL_REFRESH=1`` stores the new outputs, sanitized, instead (review the diff of ``tests/smoke_outputs``
before committing it).

The passed runs are kept in ``EXECUTED``; ``build_smoke_book`` seeds Jupyter Book's execution cache with
them, so the smoke book does not execute a chapter twice.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from support.batch import RESULTS_PARAM, load_notebook
from support.book import build
from support.glue import STRICT_ENV
from support.models.cached import NO_TRAINING_ENV
from support.results import RESULTS_ENV, load_results

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
STORED = TESTS / "smoke_outputs"
CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"
REFRESH_ENV = "NBVAL_REFRESH"
#: what the kernels of the smoke runs and the smoke book see: training off, glue checked, no progress bars
SMOKE_ENV = {NO_TRAINING_ENV: "1", STRICT_ENV: "1", "TQDM_DISABLE": "1", "SUPPORT_PROFILE": "smoke"}
#: this session's smoke runs that passed: chapter source -> (executed notebook, results JSON)
EXECUTED: dict[Path, tuple[Path, Path]] = {}


def checked_cells(notebook) -> list:
    """The code cells whose output nbval compares (marked ``# NBVAL_CHECK_OUTPUT``)."""
    return [c for c in notebook.cells if c.cell_type == "code" and CHECK_MARKER in c.source]


def stored_path(chapter: str) -> Path:
    """Where a chapter's stored smoke outputs live."""
    return STORED / f"{chapter}.json"


def sanitizers(run_dir: Path) -> list[tuple[str, str]]:
    """(regex, placeholder) pairs for one run: this run's cache, checkout, run and temporary folders (their exact
    paths, so a changed file name still shows) and durations written as '<number> seconds/minutes'.

    Stored outputs are saved sanitized, so they hold placeholders, not one machine's paths."""
    import re
    import tempfile

    from support.cache import cache_dir

    folders = {"<CACHE>": cache_dir(), "<CHECKOUT>": ROOT, "<RUN>": run_dir, "<TMP>": Path(tempfile.gettempdir())}
    spelled = {(str(path), name) for name, path in folders.items()} | {
        (str(Path(path).resolve()), name) for name, path in folders.items()}
    pairs = [(re.escape(path), name) for path, name in sorted(spelled, key=lambda p: -len(p[0]))]
    return [*pairs, (r"\b\d+(\.\d+)? (seconds|minutes)\b", "<DURATION>")]


def sanitizer_file(pairs: list[tuple[str, str]], path: Path) -> Path:
    """Write ``pairs`` as nbval's sanitizer file."""
    path.write_text("\n".join(f"[s{i}]\nregex: {regex}\nreplace: {name}\n" for i, (regex, name) in enumerate(pairs)))
    return path


def sanitized(outputs: list[dict], pairs: list[tuple[str, str]]) -> list[dict]:
    """Outputs with every text field passed through the sanitizers (what is stored)."""
    import re

    def clean(value):
        if isinstance(value, list):
            value = "".join(value)
        for regex, name in pairs:
            value = re.sub(regex, name, value)
        return value

    result = []
    for output in outputs:
        output = json.loads(json.dumps(output))
        if "text" in output:
            output["text"] = clean(output["text"])
        for mime, value in output.get("data", {}).items():
            if mime.startswith("text/") or mime.startswith("application/papermill"):
                output["data"][mime] = clean(value) if isinstance(value, (str, list)) else value
        result.append(output)
    return result


def prepare(source: Path, parameters: dict, target: Path, stored: list | None) -> None:
    """Write ``source`` with ``parameters`` injected (papermill) and the checked cells' stored outputs."""
    import papermill

    notebook = papermill.execute_notebook(load_notebook(source), None, parameters=parameters, prepare_only=True,
                                          progress_bar=False)
    cells = checked_cells(notebook)
    if stored is not None:
        if len(stored) != len(cells):
            raise AssertionError(f"{stored_path(source.stem).name} holds outputs of {len(stored)} checked cells, "
                                 f"{source.name} marks {len(cells)}: refresh with {REFRESH_ENV}=1")
        for cell, outputs in zip(cells, stored):
            cell.outputs = [nbformat.from_dict(o) for o in outputs]
            cell.execution_count = 1  # nbval compares only cells that carry an execution count
    nbformat.write(notebook, target)


def run_smoke(source: Path, run_dir: Path, stored_file: Path | None = None) -> tuple[dict, Path]:
    """Execute a chapter in ``smoke`` with nbval; return its results and the executed notebook.

    ``stored_file``: the checked cells' stored outputs (default ``tests/smoke_outputs/<chapter>.json``)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    refresh = os.environ.get(REFRESH_ENV) == "1"
    stored_file = stored_file or stored_path(source.stem)
    stored = None if refresh or not stored_file.is_file() else json.loads(stored_file.read_text())
    if stored is None and not refresh:
        raise AssertionError(f"no stored smoke outputs for {source.stem}: run `{REFRESH_ENV}=1 pytest "
                             f"tests/test_notebooks.py -k {source.stem}` and commit {stored_file}")
    results, executed = run_dir / "results.json", run_dir / "notebook.ipynb"
    # the kernel's working folder is the prepared copy's: beside the chapter, as in the book build
    prepared = source.parent / f".nbval-{source.stem}-{os.getpid()}.ipynb"
    try:
        prepare(source, {"profile": "smoke", RESULTS_PARAM: str(results)}, prepared, stored)
        pairs = sanitizers(run_dir)
        sanitizer_file(pairs, run_dir / "sanitize.cfg")
        command = [sys.executable, "-m", "pytest", str(prepared), "--nbval-lax", "--nbval-current-env",
                   "--nbval-sanitize-with", str(run_dir / "sanitize.cfg"),
                   "-p", "nbval_record", "-p", "no:cacheprovider",
                   "-o", "addopts=", "-o", "testpaths=", "-q", "--rootdir", str(run_dir), "--timeout", "0"]
        env = {**os.environ, **SMOKE_ENV, "NBVAL_RECORD_TO": str(executed),
               "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
        run = subprocess.run(command, capture_output=True, text=True, env=env, cwd=run_dir)
    finally:
        prepared.unlink(missing_ok=True)
    if run.returncode != 0:
        raise AssertionError(f"nbval run of {source.name} failed (exit {run.returncode}):\n{run.stdout[-6000:]}"
                             f"\n{run.stderr[-2000:]}")
    if refresh:
        notebook = nbformat.read(executed, as_version=4)
        outputs = [sanitized([dict(o) for o in cell.outputs], pairs) for cell in checked_cells(notebook)]
        stored_file.write_text(json.dumps(outputs, indent=1, sort_keys=True) + "\n")
    loaded = load_results(results)
    EXECUTED[source] = (executed, results)
    return loaded, executed


def book_notebook_with_outputs(source: Path, executed: Path) -> nbformat.NotebookNode:
    """The notebook the book reads from ``source`` (jupytext), carrying the outputs of ``executed`` (a smoke run
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


def seed_execution_cache(cache_dir: Path, executed: dict[Path, tuple[Path, Path]]) -> int:
    """Put the smoke runs into a Jupyter Book execution cache; returns how many notebooks it now holds."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(cache_dir)
    for source, (notebook, _) in executed.items():
        bundle = CacheBundleIn(book_notebook_with_outputs(source, notebook), uri=str(source))
        cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
    return len(cache.list_cache_records())


def build_smoke_book(out: Path) -> dict:
    """Build the book with -W in the smoke profile into ``out``, reusing this session's smoke runs.

    Returns status, the build's output, the html folder and how many notebooks the cache was seeded with."""
    import contextlib
    import io

    cache_dir = out / "_build" / ".jupyter_cache"
    seeded = seed_execution_cache(cache_dir, EXECUTED)
    results_dir = out / "_build" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    for source, (_, results) in EXECUTED.items():
        shutil.copy(results, results_dir / f"{source.stem}.json")
    buffer = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(buffer):
        for name, value in {**SMOKE_ENV, RESULTS_ENV: str(results_dir)}.items():
            patch.setenv(name, value)
        status = build(root=ROOT, out=out, heartbeat=3600)
    return {"status": status, "output": buffer.getvalue(), "html": out / "_build" / "html", "seeded": seeded,
            "cache_dir": cache_dir}
