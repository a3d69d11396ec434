"""Batch runs: one notebook executed by papermill over a grid of parameters.

``python -m support batch NOTEBOOK -p name value ... --grid name=v1,v2 ... --out DIR`` writes, for
every point of the grid, ``DIR/runs/<run>/notebook.ipynb`` and ``DIR/runs/<run>/results.json``,
then one table ``DIR/results.csv`` with a row per run. A run whose results JSON already exists is
skipped (resumable); a failing run is recorded with its error and the others go on.
"""

from __future__ import annotations

import argparse
import itertools
import re
import traceback
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .progress import tqdm
from .results import load_results

RESULTS_PARAM = "results_path"  # every chapter's parameters cell has it


def parse_value(text: str) -> Any:
    """A command-line value as a literal: ``3`` -> int, ``0.1`` -> float, ``true`` -> bool, else str."""
    value = yaml.safe_load(text)
    return text if isinstance(value, (dict, list)) else value


def parse_grid(items: list[str]) -> dict[str, list]:
    """``["lr=0.1,0.3", "n=2,4"]`` -> ``{"lr": [0.1, 0.3], "n": [2, 4]}``."""
    grid = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name or not values:
            raise ValueError(f"--grid {item!r} must look like name=v1,v2,...")
        grid[name.strip()] = [parse_value(v.strip()) for v in values.split(",")]
    return grid


def expand_grid(fixed: dict[str, Any], grid: dict[str, list]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, each merged over the fixed parameters."""
    clash = sorted(set(fixed) & set(grid))
    if clash:
        raise ValueError(f"parameters {clash} are given both with -p and with --grid")
    names = list(grid)
    return [{**fixed, **dict(zip(names, combo))} for combo in itertools.product(*(grid[n] for n in names))]


def run_name(point: dict[str, Any]) -> str:
    """A folder name for one grid point's swept values, e.g. ``lr=0.1__n=2``."""
    if not point:
        return "default"
    text = "__".join(f"{k}={v}" for k, v in point.items())
    return re.sub(r"[^A-Za-z0-9_.=+-]", "-", text)


def load_notebook(path: Path):
    """A notebook object from a jupytext ``.py`` source or an ``.ipynb`` file (python3 kernel by default)."""
    import jupytext

    notebook = jupytext.read(path)
    notebook.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    return notebook


def execute(notebook: Path, parameters: dict[str, Any], run_dir: Path, kernel_name: str | None = None,
            cell_timeout: int | None = None) -> dict:
    """Execute ``notebook`` with papermill into ``run_dir``; return its validated results JSON."""
    import papermill

    run_dir.mkdir(parents=True, exist_ok=True)
    results_path = run_dir / "results.json"
    results_path.unlink(missing_ok=True)
    papermill.execute_notebook(
        load_notebook(notebook), str(run_dir / "notebook.ipynb"),
        parameters={**parameters, RESULTS_PARAM: str(results_path.resolve())},
        kernel_name=kernel_name, cwd=str(notebook.parent), progress_bar=False,
        execution_timeout=cell_timeout,
    )
    if not results_path.is_file():
        raise RuntimeError(f"{notebook.name} finished without writing {results_path} (is its results cell "
                           f"passing path={RESULTS_PARAM}?)")
    return load_results(results_path)


def error_summary(err: Exception) -> str:
    """One line naming what failed: the notebook cell's own exception for papermill errors."""
    if getattr(err, "ename", None):  # papermill's PapermillExecutionError carries the cell's exception
        name, message = err.ename, str(err.evalue)
    else:
        name, message = type(err).__name__, str(err)
    first = message.strip().splitlines()
    return f"{name}: {first[0] if first else ''}"


def _row(name: str, point: dict, status: str, results: dict | None, error: str = "") -> dict:
    """One row of the combined table: run, status, parameters, then metrics."""
    row = {"run": name, "status": status, "error": error, **point}
    for metric, value in (results or {}).get("metrics", {}).items():
        row[metric if metric not in row else f"metric_{metric}"] = value
    return row


def run_batch(notebook: str | Path, fixed: dict[str, Any], grid: dict[str, list], out: str | Path,
              kernel_name: str | None = None, cell_timeout: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Run ``notebook`` over the grid into ``out``; return (and write as CSV) the table of runs."""
    notebook, out = Path(notebook).resolve(), Path(out)
    if not notebook.is_file():
        raise FileNotFoundError(f"notebook {notebook} does not exist")
    points = expand_grid(fixed, grid)
    rows = []
    bar = tqdm(points, desc=f"batch {notebook.stem}", unit=" run", disable=not progress)
    for point in bar:
        name = run_name({k: point[k] for k in grid})
        run_dir = out / "runs" / name
        bar.set_postfix_str(name)
        try:
            rows.append(_row(name, point, "cached", load_results(run_dir / "results.json")))
            continue
        except (FileNotFoundError, ValueError):
            pass
        try:
            results = execute(notebook, point, run_dir, kernel_name, cell_timeout)
            (run_dir / "error.txt").unlink(missing_ok=True)
            rows.append(_row(name, point, "ok", results))
        except Exception as err:  # a failed run must not stop the others
            (run_dir / "error.txt").write_text("".join(traceback.format_exception(err)))
            rows.append(_row(name, point, "failed", None, error_summary(err)))
    table = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "results.csv", index=False)
    return table


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``batch`` sub-command's arguments."""
    parser.add_argument("notebook", type=Path, help="a chapter (.py jupytext source or .ipynb)")
    parser.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a fixed parameter for every run")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2",
                        help="a parameter to sweep; several --grid give their product")
    parser.add_argument("--out", type=Path, required=True, help="folder for runs and results.csv")
    parser.add_argument("--kernel", default=None, help="Jupyter kernel name (default: the notebook's)")
    parser.add_argument("--cell-timeout", type=int, default=None, help="seconds a cell may run")


def run_batch_from_args(args: argparse.Namespace) -> int:
    """Run the ``batch`` sub-command; exit status 1 when any run failed."""
    fixed = {name: parse_value(value) for name, value in args.param}
    table = run_batch(args.notebook, fixed, parse_grid(args.grid), args.out, args.kernel, args.cell_timeout)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table.drop(columns=["error"]).to_string(index=False))
    failed = table[table.status == "failed"]
    for _, row in failed.iterrows():
        print(f"FAILED {row.run}: {row.error}  (see {args.out / 'runs' / row.run / 'error.txt'})")
    print(f"{len(table)} runs: {(table.status != 'failed').sum()} ok or cached, {len(failed)} failed; "
          f"table: {args.out / 'results.csv'}")
    return 1 if len(failed) else 0
