import json
import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT
from support import batch
from support.batch import expand_grid, load_grid_file, parse_grid, parse_value, run_batch
from support.results import load_results

# A chapter-shaped notebook that is quick to run: a parameters cell, failure and kill switches, a results cell.
NOTEBOOK = '''# %% [markdown]
# Batch test notebook

# %% tags=["parameters"]
a = 1
b = 1
fail_when_a = -1
kill_worker_once = ""
results_path = None

# %%
import os
import signal
from pathlib import Path

from support.profiles import Param, resolve
from support.results import save_results

cfg = resolve("smoke", {"a": Param(int, 1, 1, 1), "b": Param(int, 1, 1, 1)}, a=a, b=b)
if cfg.a == fail_when_a:
    raise RuntimeError(f"planned failure for a={cfg.a}")
if kill_worker_once and not Path(kill_worker_once).exists():
    Path(kill_worker_once).write_text(str(os.getppid()))
    os.kill(os.getppid(), signal.SIGKILL)  # the process running papermill: a Dask worker
    os._exit(1)

# %%
save_results("batch_test", cfg, {"product": cfg.a * cfg.b}, path=results_path)
'''


@pytest.fixture
def notebook(tmp_path):
    path = tmp_path / "nb" / "batch_test.py"
    path.parent.mkdir()
    path.write_text(NOTEBOOK)
    return path


def test_values_are_json_literals_not_yaml_1_1():
    assert parse_value("1e-3") == 0.001 and isinstance(parse_value("1e-3"), float)  # YAML 1.1 gave the string
    assert parse_value("on") == "on" and parse_value("1:30") == "1:30"  # YAML 1.1 gave True and 90
    assert parse_value("3") == 3 and parse_value("true") is True and parse_value("null") is None
    assert parse_value("[2, 4]") == [2, 4] and parse_value("local") == "local"
    assert parse_grid(["lr=0.1,1e-3", "bits=[2,4],[3]", "name=a,'b,c'"]) == {
        "lr": [0.1, 0.001], "bits": [[2, 4], [3]], "name": ["a", "'b,c'"]}
    with pytest.raises(ValueError, match="name=v1,v2"):
        parse_grid(["lr"])
    points = expand_grid({"p": "smoke"}, {"a": [1, 2], "b": [3, 4]})
    assert points == [{"p": "smoke", "a": 1, "b": 3}, {"p": "smoke", "a": 1, "b": 4},
                      {"p": "smoke", "a": 2, "b": 3}, {"p": "smoke", "a": 2, "b": 4}]
    with pytest.raises(ValueError, match=r"\['a'\] are given both"):
        expand_grid({"a": 1}, {"a": [2]})
    with pytest.raises(ValueError, match="grid values repeat"):
        expand_grid({}, {"a": [1, 1]})


def test_grid_files_in_yaml_and_toml_sweep_list_valued_parameters(tmp_path):
    yaml_file = tmp_path / "grid.yaml"
    yaml_file.write_text("fixed:\n  profile: smoke\n  flag: on\n  when: 1:30\n  lr: 1e-3\n"
                         "grid:\n  bits: [[2, 4], [3]]\n  seed: [0, 1]\n")
    fixed, grid = load_grid_file(yaml_file)
    assert fixed == {"profile": "smoke", "flag": "on", "when": "1:30", "lr": 0.001}
    assert grid == {"bits": [[2, 4], [3]], "seed": [0, 1]}
    toml_file = tmp_path / "grid.toml"
    toml_file.write_text('[fixed]\nprofile = "smoke"\nlr = 1e-3\n[grid]\nbits = [[2, 4], [3]]\n')
    assert load_grid_file(toml_file) == ({"profile": "smoke", "lr": 0.001}, {"bits": [[2, 4], [3]]})
    bare = tmp_path / "bare.yml"
    bare.write_text("seed: [0, 1]\n")
    assert load_grid_file(bare) == ({}, {"seed": [0, 1]})
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid:\n  seed: 3\n")
    with pytest.raises(ValueError, match="'seed' needs a non-empty list"):
        load_grid_file(bad)


def test_a_wrong_value_is_refused_before_any_run_naming_the_parameter(notebook, tmp_path):
    chapter = ROOT / "notebooks" / "05_quantization_scaling.py"
    with pytest.raises(ValueError, match="parameter lr="):
        run_batch(chapter, {"profile": "smoke", "lr": "fast"}, {"seed": [0, 1]}, tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match=r"\['bitz'\] are not in"):
        run_batch(chapter, {"profile": "smoke"}, {"bitz": [[2], [4]]}, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    # a single value of a list-valued parameter, and lists swept, pass the check
    points = expand_grid({"profile": "smoke", "lr": 1e-3}, {"bits": [4, [2, 8]]})
    batch.check_points(chapter, batch.load_notebook(chapter), points)


def test_grid_runs_survive_a_failure_and_an_identical_rerun_reuses_only_finished_runs(notebook, tmp_path):
    out = tmp_path / "out"
    table = run_batch(notebook, {"fail_when_a": 3}, {"a": [2, 3], "b": [5, 7]}, out, progress=False)
    assert list(table.status) == ["ok", "ok", "failed", "failed"] and not table.reused.any()
    assert list(table["product"].iloc[:2]) == [10, 14]
    failed = out / "runs" / table.run.iloc[2]
    assert "planned failure for a=3" in (failed / "error.txt").read_text()
    assert table.error.iloc[2] == "RuntimeError: planned failure for a=3"
    assert not (failed / "results.json").exists() and not list(failed.glob("*.partial.json"))
    finished = out / "runs" / table.run.iloc[1]
    assert load_results(finished / "results.json")["metrics"] == {"product": 14}
    assert json.loads((finished / "run.json").read_text())["parameters"] == {"a": 2, "b": 7, "fail_when_a": 3}
    assert pd.read_csv(out / "results.csv").shape[0] == 4 and pd.read_parquet(out / "results.parquet").shape[0] == 4

    again = run_batch(notebook, {"fail_when_a": 3}, {"a": [2, 3], "b": [5, 7]}, out, progress=False)
    assert list(again.reused) == [True, True, False, False] and list(again.status) == list(table.status)
    forced = run_batch(notebook, {"fail_when_a": 3}, {"a": [2]}, out, force=True, progress=False)
    assert list(forced.reused) == [False] and list(forced.status) == ["ok"]


def test_another_fixed_parameter_is_another_run_never_a_stale_result(notebook, tmp_path):
    out = tmp_path / "out"
    first = run_batch(notebook, {"b": 5}, {"a": [2]}, out, progress=False)
    second = run_batch(notebook, {"b": 7}, {"a": [2]}, out, progress=False)  # was `cached` with product 10
    assert list(first["product"]) == [10] and list(second["product"]) == [14]
    assert not second.reused.any() and first.run.iloc[0] != second.run.iloc[0]
    changed = notebook.read_text().replace("cfg.a * cfg.b", "cfg.a * cfg.b + 1")
    notebook.write_text(changed)  # the notebook's source is part of a run's identity too
    third = run_batch(notebook, {"b": 7}, {"a": [2]}, out, progress=False)
    assert list(third["product"]) == [15] and not third.reused.any()


def test_an_interrupted_batch_resumes_without_redoing_finished_runs(notebook, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real = batch.execute_task
    calls = []

    def interrupted(task):
        calls.append(task["point"]["a"])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(batch, "execute_task", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_batch(notebook, {}, {"a": [1, 2, 3, 4]}, out, progress=False)
    assert pd.read_csv(out / "results.csv").shape[0] == 2  # the table holds what finished
    calls.clear()
    table = run_batch(notebook, {}, {"a": [1, 2, 3, 4]}, out, progress=False)
    assert calls == [3, 4] and list(table.reused) == [True, True, False, False]
    assert list(table["product"]) == [1, 2, 3, 4]


def test_jobs_run_in_parallel_processes(notebook, tmp_path):
    table = run_batch(notebook, {"fail_when_a": 2}, {"a": [1, 2, 3]}, tmp_path / "out", jobs=2, progress=False)
    assert list(table.status) == ["ok", "failed", "ok"] and list(table["product"].dropna()) == [1, 3]


@pytest.mark.slow
def test_a_local_dask_cluster_runs_the_grid_and_survives_a_killed_worker(notebook, tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "dask"
    marker = tmp_path / "killed-once"
    table = run_batch(notebook, {"fail_when_a": 3}, {"a": [1, 2, 3, 4]}, out, dask_local=2, progress=False)
    assert list(table.status) == ["ok", "ok", "failed", "ok"] and list(table["product"].dropna()) == [1, 2, 4]
    assert "planned failure" in table.error.iloc[2]
    # the notebook kills the worker running it (once); the scheduler reruns it on a fresh worker
    killed = run_batch(notebook, {"kill_worker_once": str(marker)}, {"a": [5, 6]}, out, dask_local=2, progress=False)
    assert marker.is_file()
    assert list(killed.status) == ["ok", "ok"] and list(killed["product"]) == [5, 6]
    for run in killed.run:
        assert load_results(out / "runs" / run / "results.json")["metrics"]["product"] in (5, 6)


def test_report_draws_a_metric_against_a_parameter(notebook, tmp_path):
    out = tmp_path / "out"
    run_batch(notebook, {}, {"a": [1, 2, 3], "b": [1, 2]}, out, progress=False)
    path = batch.report(out, x="a", y="product", hue="b")
    assert path.is_file() and path.stat().st_size > 5_000
    with pytest.raises(ValueError, match=r"\['nope'\]"):
        batch.report(out, x="a", y="nope")


def test_cli_reports_failures_with_exit_status(notebook, tmp_path):
    out = tmp_path / "cli"
    run = subprocess.run([sys.executable, "-m", "support", "batch", str(notebook), "-p", "fail_when_a", "2",
                          "--grid", "a=1,2", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1, run.stderr
    assert "FAILED a=2-" in run.stdout and "2 runs: 1 ok (0 reused), 1 failed" in run.stdout
    assert list(pd.read_csv(out / "results.csv").status) == ["ok", "failed"]
    refused = subprocess.run([sys.executable, "-m", "support", "batch", str(notebook), "-p", "c", "1",
                              "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == 2 and "['c'] are not in" in refused.stdout
    figure = subprocess.run([sys.executable, "-m", "support", "report", str(out), "--x", "a", "--y", "product"],
                            capture_output=True, text=True, cwd=ROOT)
    assert figure.returncode == 0 and figure.stdout.strip().endswith(".png")
