"""A chapter's results JSON: what its last cell writes and what tests and batch runs read.

Schema: ``{"chapter": str, "profile": str, "config": {...}, "metrics": {name: number|null},
"tables": {name: [row dicts]}, "created": ISO time, "versions": {package: version}}``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
from pathlib import Path
from typing import Any, Mapping

from .cache import atomic_write_text

RESULTS_ENV = "SUPPORT_RESULTS_DIR"
REQUIRED = {"chapter": str, "profile": str, "config": dict, "metrics": dict, "tables": dict,
            "created": str, "versions": dict}


def _versions() -> dict[str, str]:
    """Versions of the packages that decide a chapter's numbers."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("torch", "transformers", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def _plain(value: Any) -> Any:
    """Convert numpy/torch scalars and arrays into JSON-native values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def validate(results: Mapping) -> dict:
    """Check ``results`` against the schema; raise ValueError naming the first bad field."""
    for key, kind in REQUIRED.items():
        if key not in results:
            raise ValueError(f"results JSON lacks the field {key!r}")
        if not isinstance(results[key], kind):
            raise ValueError(f"results field {key!r} must be {kind.__name__}, got {type(results[key]).__name__}")
    for name, value in results["metrics"].items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"metric {name!r}={value!r} must be a number or null")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"metric {name!r}={value!r} must be finite (use null for missing)")
    for name, rows in results["tables"].items():
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError(f"table {name!r} must be a list of row dicts")
    return dict(results)


def default_path(chapter: str) -> Path:
    """Where a chapter's results go: ``$SUPPORT_RESULTS_DIR/<chapter>.json`` or ``results/<chapter>.json``."""
    return Path(os.environ.get(RESULTS_ENV, "results")) / f"{chapter}.json"


def save_results(chapter: str, config: Mapping, metrics: Mapping[str, Any],
                 tables: Mapping[str, Any] | None = None, path: str | Path | None = None) -> Path:
    """Validate and atomically write a chapter's results JSON; return its path."""
    config_dict = config.as_dict() if hasattr(config, "as_dict") else dict(config)
    results = {
        "chapter": chapter,
        "profile": str(config_dict.get("profile", "unknown")),
        "config": _plain(config_dict),
        "metrics": {k: (None if v is None else float(v) if not isinstance(v, int) else v)
                    for k, v in _plain(dict(metrics)).items()},
        "tables": {k: _plain(v.to_dict("records") if hasattr(v, "to_dict") else v) for k, v in (tables or {}).items()},
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
    }
    validate(results)
    target = Path(path) if path else default_path(chapter)
    atomic_write_text(target, json.dumps(results, indent=1))
    return target


def load_results(path: str | Path) -> dict:
    """Read and validate a results JSON."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"results file {path} is not valid JSON: {err}") from err
    return validate(data)
