"""Batch runs: one notebook executed by papermill over a grid of parameters, here, in parallel, or on a Dask cluster.

``python -m support batch NOTEBOOK -p name value ... --grid name=v1,v2 ... [--grid-file FILE] --out DIR``
writes, for every point of the grid, ``DIR/runs/<run>/notebook.ipynb``, ``results.json`` and
``run.json`` (what the run is: a hash of the notebook source, every parameter and the installed
``support`` package), then one table ``DIR/results.csv`` and ``DIR/results.parquet`` with a row
per run. A rerun reuses a finished run only when its identity is the same (``--force`` reruns
anyway); a failing run is recorded with its error and the others go on.

Where the runs execute: one after another (default); ``--jobs N`` processes on this machine, each
kernel given ``cores / N`` threads; or a Dask ``distributed`` cluster, ``--scheduler ADDRESS`` (any
cluster: ``dask-jobqueue`` on Slurm/PBS, ``dask-kubernetes``, ``dask scheduler`` + ``dask worker``)
or ``--dask-local N`` (a ``LocalCluster`` of N single-threaded worker processes). Workers run
papermill and send the row back; only this process writes the table. Runs on this machine (``--jobs``,
``--dask-local``) divide its cores between them. A worker that dies mid-run
leaves no results file (each attempt writes its own file, renamed into place when complete); Dask
retries the run on another worker, and a run that cannot finish is recorded as failed.

Values are JSON literals (``3``, ``1e-3``, ``true``, ``null``, ``[2, 4]``), anything else a string;
a grid file is YAML (read with YAML 1.2's core scalars, so ``1e-3`` is a float and ``on`` a string)
or TOML. Every point is checked against the notebook's parameters cell and, for a chapter, its
``PARAMS`` before anything runs.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import itertools
import json
import os
import re
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .progress import bar as progress_bar
from .results import load_results

RESULTS_PARAM = "results_path"  # every chapter's parameters cell has it
#: ipykernel's own start-up warnings (e.g. "Kernel is running over TCP without encryption") go to the kernel's
#: standard error, which inside a chapter (chapter 0's batch demo) lands on the built page; errors still show
KERNEL_ARGUMENTS = ["--log-level=ERROR"]
IDENTITY_FILE = "run.json"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


# --------------------------------------------------------------------------- values and grids

def parse_value(text: str) -> Any:
    """A command-line value as a JSON literal (``3``, ``1e-3``, ``true``, ``null``, ``[2, 4]``), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def split_values(text: str) -> list[str]:
    """``"1,[2,3],'a,b'"`` -> ``["1", "[2,3]", "'a,b'"]``: commas inside brackets or quotes do not split."""
    parts, depth, quote, current = [], 0, None, ""
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    return parts + [current]


def parse_grid(items: list[str]) -> dict[str, list]:
    """``["lr=0.1,1e-3", "bits=[2,4],[3]"]`` -> ``{"lr": [0.1, 0.001], "bits": [[2, 4], [3]]}``."""
    grid = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise ValueError(f"--grid {item!r} must look like name=v1,v2,...")
        grid[name.strip()] = [parse_value(v.strip()) for v in split_values(values)]
    return grid


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core-schema scalars: ``1e-3`` a float, ``on``/``yes`` strings, no base 60."""


_YAML11_TAGS = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _YAML11_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+.0123456789"))
_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", lambda loader, node: int(loader.construct_scalar(node)))
_Yaml12Loader.add_constructor(
    "tag:yaml.org,2002:float",
    lambda loader, node: float(loader.construct_scalar(node).lower().replace(".inf", "inf").replace(".nan", "nan")))


def load_grid_file(path: str | Path) -> tuple[dict[str, Any], dict[str, list]]:
    """(fixed, grid) from a YAML or TOML file with sections ``fixed`` and ``grid`` (or only a grid mapping)."""
    path = Path(path)
    text = path.read_text()
    if path.suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        data = tomllib.loads(text)
    elif path.suffix in (".yaml", ".yml"):
        data = yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 (a safe loader with other scalar rules)
    else:
        raise ValueError(f"grid file {path} must end in .yaml, .yml or .toml")
    if not isinstance(data, dict):
        raise ValueError(f"grid file {path} must hold a mapping")
    fixed, grid = (data.get("fixed", {}), data.get("grid", {})) if {"fixed", "grid"} & set(data) else ({}, data)
    extra = sorted(set(data) - {"fixed", "grid"}) if {"fixed", "grid"} & set(data) else []
    if extra:
        raise ValueError(f"grid file {path}: unknown section(s) {extra}; use 'fixed' and 'grid'")
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"grid file {path}: grid parameter {name!r} needs a non-empty list of values "
                             f"(a list-valued parameter takes a list of lists)")
    return dict(fixed), {name: list(values) for name, values in grid.items()}


def expand_grid(fixed: dict[str, Any], grid: dict[str, list]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, each merged over the fixed parameters."""
    clash = sorted(set(fixed) & set(grid))
    if clash:
        raise ValueError(f"parameters {clash} are given both as fixed and swept values")
    repeated = {name: values for name, values in grid.items()
                if len({json.dumps(v, sort_keys=True) for v in values}) < len(values)}
    if repeated:
        raise ValueError(f"grid values repeat: {repeated}; each point of a grid runs once")
    names = list(grid)
    return [{**fixed, **dict(zip(names, combo))} for combo in itertools.product(*(grid[n] for n in names))]


# --------------------------------------------------------------------------- checking a grid before it runs

def load_notebook(path: Path):
    """A notebook object from a jupytext ``.py`` source or an ``.ipynb`` file (python3 kernel by default)."""
    import jupytext

    notebook = jupytext.read(path)
    notebook.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    return notebook


def notebook_parameters(notebook) -> dict[str, Any]:
    """The names and default values of a notebook's ``parameters`` cell (literal assignments)."""
    for cell in notebook.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            defaults = {}
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    defaults[node.targets[0].id] = ast.literal_eval(node.value)
            return defaults
    raise ValueError("the notebook has no cell tagged 'parameters'; papermill cannot set its parameters")


def check_points(notebook_path: Path, notebook, points: list[dict[str, Any]]) -> None:
    """Refuse, naming the parameter, any point with an unknown name or (for a chapter) a value its PARAMS reject."""
    from .chapters import CHAPTERS, study_module
    from .profiles import COMMON, resolve

    defaults = notebook_parameters(notebook)
    for point in points:
        unknown = sorted(set(point) - set(defaults))
        if unknown:
            raise ValueError(f"parameter(s) {unknown} are not in {notebook_path.name}'s parameters cell; "
                             f"it has {sorted(defaults)}")
        if RESULTS_PARAM in point:
            raise ValueError(f"{RESULTS_PARAM} is set by the batch runner (one per run); do not pass it")
    if notebook_path.stem not in CHAPTERS:
        return
    spec = study_module(notebook_path.stem).PARAMS
    for point in points:
        overrides = {k: v for k, v in point.items() if k in COMMON or k in spec}
        try:
            resolve(point.get("profile", defaults.get("profile", "local")), spec, **overrides)
        except ValueError as err:
            raise ValueError(f"run {json.dumps(point, sort_keys=True)} would fail: {err}") from None


# --------------------------------------------------------------------------- what a run is

def support_fingerprint() -> str:
    """Installed ``support`` package: its version and a hash of its Python sources (a code change reruns)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("trustml-book-support")
    except PackageNotFoundError:
        installed = "not installed"
    digest = hashlib.sha256()
    root = Path(__file__).parent
    for source in sorted(root.rglob("*.py")):
        digest.update(str(source.relative_to(root)).encode() + b"\0" + source.read_bytes())
    return f"{installed}+{digest.hexdigest()[:16]}"


def run_identity(notebook_source: str, point: dict[str, Any], package: str) -> dict:
    """Everything a run's numbers depend on that the batch runner knows: notebook, parameters, package."""
    return {"notebook_sha256": hashlib.sha256(notebook_source.encode()).hexdigest(),
            "parameters": json.loads(json.dumps(point, sort_keys=True)), "package": package}


def run_name(swept: dict[str, Any], identity: dict) -> str:
    """A folder name: the swept values, readable, then a hash of the run's identity, e.g. ``lr=0.1__n=2-3f9a0c1e``."""
    text = "__".join(f"{k}={json.dumps(v) if isinstance(v, (list, dict)) else v}" for k, v in swept.items())
    readable = re.sub(r"[^A-Za-z0-9_.=+-]", "-", text) or "default"
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]
    return f"{readable}-{key}"


def reusable(run_dir: Path, identity: dict) -> dict | None:
    """The results of a finished run in ``run_dir`` with exactly this identity, else None."""
    try:
        same = json.loads((run_dir / IDENTITY_FILE).read_text()) == identity
        return load_results(run_dir / "results.json") if same else None
    except (FileNotFoundError, ValueError):
        return None


# --------------------------------------------------------------------------- executing one run (here or on a worker)

def execute(notebook: Path, parameters: dict[str, Any], run_dir: Path, kernel_name: str | None = None,
            cell_timeout: int | None = None) -> dict:
    """Execute ``notebook`` with papermill into ``run_dir``; return its validated results JSON.

    The notebook writes an attempt-private file, renamed to ``results.json`` only when valid, so a
    killed run never leaves a results file a later run would trust.
    """
    import papermill

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "results.json").unlink(missing_ok=True)
    attempt = run_dir / f"results.{uuid.uuid4().hex[:8]}.partial.json"
    try:
        papermill.execute_notebook(
            load_notebook(notebook), str(run_dir / "notebook.ipynb"),
            parameters={**parameters, RESULTS_PARAM: str(attempt.resolve())},
            kernel_name=kernel_name, cwd=str(notebook.parent), progress_bar=False,
            execution_timeout=cell_timeout, extra_arguments=KERNEL_ARGUMENTS,
        )
        if not attempt.is_file():
            raise RuntimeError(f"{notebook.name} finished without writing its results (is its results cell "
                               f"passing path={RESULTS_PARAM}?)")
        results = load_results(attempt)
        os.replace(attempt, run_dir / "results.json")
        return results
    finally:
        attempt.unlink(missing_ok=True)


def error_summary(err: BaseException) -> str:
    """One line naming what failed: the notebook cell's own exception for papermill errors."""
    if getattr(err, "ename", None):  # papermill's PapermillExecutionError carries the cell's exception
        name, message = err.ename, str(err.evalue)
    else:
        name, message = type(err).__name__, str(err)
    first = message.strip().splitlines()
    return f"{name}: {first[0] if first else ''}"


def execute_task(task: dict) -> dict:
    """Run one point (in this process, a pool process or a Dask worker) and return its table row.

    ``task``: notebook, point, run_dir, identity, threads (or None), kernel_name, cell_timeout.
    """
    run_dir = Path(task["run_dir"])
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    if task.get("threads"):
        os.environ.update({name: str(task["threads"]) for name in THREAD_VARIABLES})  # the kernel inherits them
    start = time.perf_counter()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / IDENTITY_FILE).unlink(missing_ok=True)
        results = execute(Path(task["notebook"]), task["point"], run_dir, task.get("kernel_name"),
                          task.get("cell_timeout"))
        (run_dir / IDENTITY_FILE).write_text(json.dumps(task["identity"], indent=1))
        (run_dir / "error.txt").unlink(missing_ok=True)
        return _row(task, "ok", results, seconds=time.perf_counter() - start)
    except Exception as err:  # a failed run must not stop the others
        (run_dir / "error.txt").write_text("".join(traceback.format_exception(err)))
        return _row(task, "failed", None, error_summary(err), seconds=time.perf_counter() - start)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _cell(value: Any) -> Any:
    """A table cell: lists and dicts as JSON text (one type per column for CSV and Parquet)."""
    return json.dumps(value) if isinstance(value, (list, tuple, dict)) else value


def _row(task: dict, status: str, results: dict | None, error: str = "", seconds: float = float("nan"),
         reused: bool = False) -> dict:
    """One row of the combined table: run, status, reused, seconds, error, every parameter, then metrics."""
    row = {"run": Path(task["run_dir"]).name, "status": status, "reused": reused, "seconds": seconds, "error": error,
           **{name: _cell(value) for name, value in task["point"].items()}}
    for metric, value in (results or {}).get("metrics", {}).items():
        row[metric if metric not in row else f"metric_{metric}"] = value
    return row


# --------------------------------------------------------------------------- the grid, on one of three engines

def _run_pool(tasks: list[dict], jobs: int, on_row) -> None:
    """Run ``tasks`` in ``jobs`` processes on this machine."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    # spawned, not forked: a fork of a process with torch's thread pools running can hang
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(execute_task, task): task for task in tasks}
        try:
            for future in as_completed(futures):
                try:
                    on_row(future.result())
                except BrokenProcessPool as err:  # a pool process died (killed, out of memory)
                    on_row(_row(futures[future], "failed", None, f"worker process died: {err}"))
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _run_dask(tasks: list[dict], scheduler: str | None, local_workers: int, on_row) -> None:
    """Run ``tasks`` on a Dask cluster: at ``scheduler``, or a LocalCluster of ``local_workers`` processes."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ImportError("Dask runs need the `distributed` package: pip install 'dask[distributed]'") from None
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(scheduler or cluster)
    try:
        futures = {client.submit(execute_task, task, key=f"run-{Path(task['run_dir']).name}", pure=False): task
                   for task in tasks}
        for future in as_completed(futures):
            try:
                on_row(future.result())
            except Exception as err:  # KilledWorker after the scheduler's retries, a lost connection, ...
                on_row(_row(futures[future], "failed", None, f"run lost on the cluster: {error_summary(err)}"))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_batch(notebook: str | Path, fixed: dict[str, Any], grid: dict[str, list], out: str | Path, *,
              jobs: int = 1, scheduler: str | None = None, dask_local: int = 0, force: bool = False,
              kernel_name: str | None = None, cell_timeout: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Run ``notebook`` over the grid into ``out``; return (and write as CSV and Parquet) the table of runs."""
    notebook, out = Path(notebook).resolve(), Path(out)
    if not notebook.is_file():
        raise FileNotFoundError(f"notebook {notebook} does not exist")
    source = notebook.read_text()
    points = expand_grid(fixed, grid)
    check_points(notebook, load_notebook(notebook), points)
    package = support_fingerprint()
    # runs sharing this machine share its cores (a remote cluster's workers keep their own settings)
    sharing = dask_local if dask_local and not scheduler else jobs
    threads = max(1, (os.cpu_count() or 1) // sharing) if sharing > 1 else None
    rows, tasks = {}, []
    for index, point in enumerate(points):
        identity = run_identity(source, point, package)
        run_dir = out / "runs" / run_name({k: point[k] for k in grid}, identity)
        task = {"notebook": str(notebook), "point": point, "run_dir": str(run_dir), "identity": identity,
                "threads": threads, "kernel_name": kernel_name, "cell_timeout": cell_timeout, "index": index}
        results = None if force else reusable(run_dir, identity)
        if results is not None:
            rows[index] = _row(task, "ok", results, reused=True)
        else:
            tasks.append(task)
    bar = progress_bar(total=len(points), initial=len(rows), desc=f"batch {notebook.stem}", unit=" run",
                       disable=not progress)
    index_of = {task["run_dir"]: task["index"] for task in tasks}

    def on_row(row: dict) -> None:
        rows[index_of[str(out / "runs" / row["run"])]] = row
        bar.update()
        bar.set_postfix_str(f"{row['run']}: {row['status']}")

    try:
        if scheduler or dask_local:
            _run_dask(tasks, scheduler, dask_local, on_row)
        elif jobs > 1:
            _run_pool(tasks, jobs, on_row)
        else:
            for task in tasks:
                on_row(execute_task(task))
    finally:  # Ctrl-C included: the table holds what finished; a rerun redoes only the rest
        bar.close()
        table = pd.DataFrame([rows[i] for i in sorted(rows)])
        write_table(table, out)
    return table


def write_table(table: pd.DataFrame, out: Path) -> None:
    """``results.csv`` and ``results.parquet`` in ``out`` (mixed-type columns as text in the Parquet file)."""
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "results.csv", index=False)
    typed = table.copy()
    for column in typed.columns[typed.dtypes == object]:
        kinds = {type(v) for v in typed[column] if v is not None and not (isinstance(v, float) and pd.isna(v))}
        if len(kinds) > 1:
            typed[column] = typed[column].map(lambda v: None if v is None else str(v))
    try:
        typed.to_parquet(out / "results.parquet", index=False)
    except ImportError:  # no pyarrow / fastparquet: the CSV is the table
        pass


def read_table(out: str | Path) -> pd.DataFrame:
    """The results table of a batch folder (Parquet when present, else CSV)."""
    out = Path(out)
    parquet = out / "results.parquet"
    try:
        return pd.read_parquet(parquet) if parquet.is_file() else pd.read_csv(out / "results.csv")
    except FileNotFoundError:
        raise FileNotFoundError(f"{out} holds no results table; run `python -m support batch ... --out {out}` first") from None


def report(out: str | Path, x: str, y: str, hue: str | None = None) -> Path:
    """One figure from a batch table: ``y`` against ``x`` over the ok runs, a line per value of ``hue``; its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = read_table(out)
    missing = [name for name in (x, y, hue) if name and name not in table.columns]
    if missing:
        raise ValueError(f"column(s) {missing} are not in the table; it has {list(table.columns)}")
    ok = table[table["status"] == "ok"].sort_values(x)
    fig, ax = plt.subplots(figsize=(5.2, 3.6), layout="constrained")
    for label, rows in (ok.groupby(hue) if hue else [(None, ok)]):
        ax.plot(rows[x], rows[y], marker="o", label=None if hue is None else f"{hue}={label}")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{y} by {x} ({len(ok)} ok runs of {len(table)})")
    if hue:
        ax.legend(fontsize=8)
    path = Path(out) / f"report_{re.sub(r'[^A-Za-z0-9_.-]', '-', y)}_by_{re.sub(r'[^A-Za-z0-9_.-]', '-', x)}.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- command line

def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``batch`` sub-command's arguments."""
    parser.add_argument("notebook", type=Path, help="a chapter (.py jupytext source or .ipynb)")
    parser.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a fixed parameter for every run (a JSON literal: 3, 1e-3, true, null, [2,4]; else text)")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2",
                        help="a parameter to sweep; several --grid give their product; lists as [2,4],[3]")
    parser.add_argument("--grid-file", type=Path, help="YAML or TOML file with 'fixed' and 'grid' mappings")
    parser.add_argument("--out", type=Path, required=True, help="folder for runs and results.csv / .parquet")
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument("--jobs", type=int, default=1, help="parallel runs on this machine (threads divided)")
    engine.add_argument("--scheduler", help="address of a Dask scheduler (tcp://host:8786) to run on")
    engine.add_argument("--dask-local", type=int, default=0, metavar="N", help="start a Dask LocalCluster of N workers")
    parser.add_argument("--force", action="store_true", help="rerun even runs whose identical results exist")
    parser.add_argument("--kernel", default=None, help="Jupyter kernel name (default: the notebook's)")
    parser.add_argument("--cell-timeout", type=int, default=None, help="seconds a cell may run")


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``report`` sub-command's arguments."""
    parser.add_argument("out", type=Path, help="a batch folder (the --out of `batch`)")
    parser.add_argument("--x", required=True, help="parameter on the x axis")
    parser.add_argument("--y", required=True, help="metric on the y axis")
    parser.add_argument("--hue", default=None, help="parameter whose values get one line each")


def run_batch_from_args(args: argparse.Namespace) -> int:
    """Run the ``batch`` sub-command; exit status 1 when any run failed, 2 when the grid is refused."""
    try:
        fixed, grid = load_grid_file(args.grid_file) if args.grid_file else ({}, {})
        fixed.update({name: parse_value(value) for name, value in args.param})
        extra = parse_grid(args.grid)
        clash = sorted(set(grid) & set(extra))
        if clash:
            raise ValueError(f"parameters {clash} are swept both in the grid file and with --grid")
        table = run_batch(args.notebook, fixed, {**grid, **extra}, args.out, jobs=args.jobs, scheduler=args.scheduler,
                          dask_local=args.dask_local, force=args.force, kernel_name=args.kernel,
                          cell_timeout=args.cell_timeout)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}")
        return 2
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table.drop(columns=["error"]).to_string(index=False))
    failed = table[table.status == "failed"]
    for _, row in failed.iterrows():
        print(f"FAILED {row.run}: {row.error}  (see {args.out / 'runs' / row.run / 'error.txt'})")
    print(f"{len(table)} runs: {(table.status == 'ok').sum()} ok ({int(table.reused.sum())} reused), "
          f"{len(failed)} failed; table: {args.out / 'results.csv'}")
    return 1 if len(failed) else 0
