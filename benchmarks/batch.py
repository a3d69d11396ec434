"""Batch runs on three engines: 8 smoke runs of chapter 0 one after another, with ``--jobs 2``, and on a 2-worker
Dask ``LocalCluster``, timed in one run and printed as ratios to the sequential time.

A warm-up pass first makes every tiny model the grid needs (so each engine does the same work,
all of it executing notebooks); each engine then reruns the 8 points with ``force=True`` into its
own folder. The cluster's own overhead (starting and closing a LocalCluster of 2 workers, no runs)
is timed separately. Run: ``python benchmarks/batch.py`` (about 6 minutes on 2 cores).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from support.batch import run_batch

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "notebooks" / "00_using_this_book.py"
FIXED = {"profile": "smoke", "batch_demo": False}
GRID = {"tiny_lr": [0.001, 0.003, 0.01, 0.03], "tiny_d_model": [32, 64]}  # 8 runs


def timed(engine: dict, out: Path) -> float:
    """Seconds to run the grid with ``engine`` (jobs / dask_local) into ``out``; every run must succeed."""
    start = time.perf_counter()
    table = run_batch(CHAPTER, FIXED, GRID, out, force=True, progress=False, **engine)
    seconds = time.perf_counter() - start
    if (table.status != "ok").any():
        raise RuntimeError(f"runs failed with {engine}: {table[table.status != 'ok'].error.tolist()}")
    return seconds


def cluster_overhead() -> float:
    """Seconds to start and close a 2-worker LocalCluster and connect a client to it."""
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster):
            pass
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="batch-bench-") as tmp:
        tmp = Path(tmp)
        run_batch(CHAPTER, FIXED, GRID, tmp / "warmup", progress=False)  # trains the grid's tiny models once
        sequential = timed({}, tmp / "sequential")
        jobs = timed({"jobs": 2}, tmp / "jobs")
        dask = timed({"dask_local": 2}, tmp / "dask")
    overhead = cluster_overhead()
    print(f"8 smoke runs of {CHAPTER.name}: sequential {sequential:.1f} s")
    print(f"  --jobs 2          {jobs:.1f} s  ratio {jobs / sequential:.2f} (target <= 0.70)")
    print(f"  --dask-local 2    {dask:.1f} s  ratio {dask / sequential:.2f} (target <= 0.70)")
    print(f"  LocalCluster start + close alone: {overhead:.1f} s")


if __name__ == "__main__":
    main()
