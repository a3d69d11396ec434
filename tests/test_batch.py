import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT
from support.batch import expand_grid, parse_grid, parse_value, run_batch, run_name
from support.results import load_results

# A chapter-shaped notebook that is quick to run: a parameters cell, a failure switch, a results cell.
NOTEBOOK = '''# %% [markdown]
# Batch test notebook

# %% tags=["parameters"]
a = 1
b = 1
fail_when_a = -1
results_path = None

# %%
from support.profiles import Param, resolve
from support.results import save_results

cfg = resolve("smoke", {"a": Param(int, 1, 1, 1), "b": Param(int, 1, 1, 1)}, a=a, b=b)
if cfg.a == fail_when_a:
    raise RuntimeError(f"planned failure for a={cfg.a}")

# %%
save_results("batch_test", cfg, {"product": cfg.a * cfg.b}, path=results_path)
'''


@pytest.fixture
def notebook(tmp_path):
    path = tmp_path / "nb" / "batch_test.py"
    path.parent.mkdir()
    path.write_text(NOTEBOOK)
    return path


def test_parse_helpers():
    assert parse_value("3") == 3 and parse_value("0.1") == 0.1 and parse_value("true") is True
    assert parse_value("null") is None and parse_value("local") == "local"
    assert parse_grid(["lr=0.1,0.3", "n=2,4"]) == {"lr": [0.1, 0.3], "n": [2, 4]}
    with pytest.raises(ValueError, match="name=v1,v2"):
        parse_grid(["lr"])
    points = expand_grid({"p": "smoke"}, {"a": [1, 2], "b": [3, 4]})
    assert points == [{"p": "smoke", "a": 1, "b": 3}, {"p": "smoke", "a": 1, "b": 4},
                      {"p": "smoke", "a": 2, "b": 3}, {"p": "smoke", "a": 2, "b": 4}]
    with pytest.raises(ValueError, match=r"\['a'\] are given both"):
        expand_grid({"a": 1}, {"a": [2]})
    assert run_name({"lr": 0.1, "model": "org/x"}) == "lr=0.1__model=org-x"


def test_grid_runs_survive_a_failure_and_resume(notebook, tmp_path):
    out = tmp_path / "out"
    table = run_batch(notebook, {"fail_when_a": 3}, {"a": [2, 3], "b": [5, 7]}, out, progress=False)
    assert len(table) == 4
    by_run = table.set_index("run")
    assert list(by_run.status) == ["ok", "ok", "failed", "failed"]
    assert by_run.loc["a=2__b=5", "product"] == 10 and by_run.loc["a=2__b=7", "product"] == 14
    assert "planned failure for a=3" in (out / "runs" / "a=3__b=5" / "error.txt").read_text()
    assert by_run.loc["a=3__b=5", "error"] == "RuntimeError: planned failure for a=3"
    assert load_results(out / "runs" / "a=2__b=7" / "results.json")["metrics"] == {"product": 14}
    assert (out / "runs" / "a=2__b=7" / "notebook.ipynb").is_file()
    assert pd.read_csv(out / "results.csv").shape[0] == 4

    # Rerun with the failure switched off: finished runs are skipped, failed ones are retried.
    table = run_batch(notebook, {"fail_when_a": -1}, {"a": [2, 3], "b": [5, 7]}, out, progress=False)
    assert list(table.status) == ["cached", "cached", "ok", "ok"]
    assert list(table["product"]) == [10, 14, 15, 21]
    assert not (out / "runs" / "a=3__b=5" / "error.txt").exists()


def test_cli_reports_failures_with_exit_status(notebook, tmp_path):
    out = tmp_path / "cli"
    run = subprocess.run([sys.executable, "-m", "support", "batch", str(notebook), "-p", "fail_when_a", "2",
                          "--grid", "a=1,2", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1, run.stderr
    assert "FAILED a=2" in run.stdout and "2 runs: 1 ok or cached, 1 failed" in run.stdout
    assert list(pd.read_csv(out / "results.csv").status) == ["ok", "failed"]
