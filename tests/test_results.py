import json
import math

import numpy as np
import pytest

from support.profiles import resolve
from support.results import default_path, load_results, save_results, validate


def test_roundtrip_with_numpy_values(tmp_path, monkeypatch):
    monkeypatch.delenv("SUPPORT_PROFILE", raising=False)
    cfg = resolve("smoke")
    path = save_results("99_demo", cfg, {"acc": np.float32(0.5), "n": np.int64(3), "missing": None},
                        tables={"rows": [{"a": 1, "b": np.float64(2.0)}]}, path=tmp_path / "r.json")
    data = load_results(path)
    assert data["chapter"] == "99_demo" and data["profile"] == "smoke"
    assert data["metrics"] == {"acc": 0.5, "n": 3, "missing": None}
    assert data["tables"]["rows"] == [{"a": 1, "b": 2.0}]
    assert data["config"]["seed"] == 0 and "torch" in data["versions"]


def test_default_path_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SUPPORT_RESULTS_DIR", str(tmp_path))
    assert default_path("07_x") == tmp_path / "07_x.json"


def _valid():
    return {"chapter": "c", "profile": "local", "config": {}, "metrics": {"a": 1.0}, "tables": {},
            "created": "2026-01-01T00:00:00+00:00", "versions": {}}


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("metrics"), "lacks the field 'metrics'"),
    (lambda d: d.update(chapter=3), "field 'chapter' must be str"),
    (lambda d: d["metrics"].update(a="high"), "metric 'a'='high' must be a number"),
    (lambda d: d["metrics"].update(a=True), "metric 'a'=True must be a number"),
    (lambda d: d["metrics"].update(a=math.nan), "metric 'a'=nan must be finite"),
    (lambda d: d["tables"].update(t={"a": 1}), "table 't' must be a list of row dicts"),
])
def test_schema_errors_name_the_field(mutate, message):
    data = _valid()
    mutate(data)
    with pytest.raises(ValueError, match=message):
        validate(data)


def test_invalid_json_file_is_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json is not valid JSON"):
        load_results(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_valid()))
    assert load_results(good)["metrics"] == {"a": 1.0}
