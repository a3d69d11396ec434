"""Numbers the prose quotes, bound to the run that produced them.

A chapter never types a measured number into its prose. It computes the number in a code cell and
calls ``glue("name", value)``; the prose writes ``{glue:text}`name:.2f``` and the book inserts the
value from the executed notebook (myst-nb's glue). A build whose prose names a value the run did
not glue fails (``-W``), and ``tests/test_prose.py`` fails on any number typed in prose outside the
few places the convention allows (README, "Numbers in prose"). The paper's own numbers are glued
from the study module's constants the same way, so prose and tables cannot disagree.
Every numeric value glued is also kept for the chapter's results JSON (:func:`glued`).

myst-nb refuses a name glued twice in one notebook (a build warning, so an error under ``-W``). With
``SUPPORT_STRICT_GLUE=1`` (set by ``python -m support book`` and the notebook tests) :func:`glue`
raises at the second call instead, naming the key, so the chapter fails where the mistake is; an
interactive session may re-run a cell and re-glue freely.
"""

from __future__ import annotations

import math
import os
from typing import Any

STRICT_ENV = "SUPPORT_STRICT_GLUE"

_VALUES: dict[str, Any] = {}


def _plain(value: Any) -> Any:
    """numpy and torch scalars as Python numbers (numpy 2's repr would reach the page otherwise)."""
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", 0) == 0 else value


def glue(name: str, value: Any) -> Any:
    """Record ``value`` under ``name`` for the prose (myst-nb glue, when installed) and the results; return it."""
    value = _plain(value)
    if name in _VALUES and os.environ.get(STRICT_ENV) == "1":
        raise ValueError(f"glue key {name!r} was already glued in this run; myst-nb refuses duplicates, "
                         "so glue each name once (a placeholder only in the branch that has no value)")
    _VALUES[name] = value
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # e.g. Colab without the book extra: the prose shows the role, the run is the same
        return value
    myst_glue(name, value, display=False)
    return value


def glue_many(prefix: str, values: dict[str, Any]) -> None:
    """``glue(f"{prefix}_{key}", value)`` for every item."""
    for key, value in values.items():
        glue(f"{prefix}_{key}", value)


def glued() -> dict[str, float]:
    """Every finite number glued so far in this kernel (what the results JSON keeps)."""
    return {k: v for k, v in _VALUES.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
