"""Profiles: ``smoke`` (seconds, tests), ``local`` (minutes on a 2-core CPU, the published book)
and ``paper`` (the paper's models and sizes on a GPU), resolved into one frozen config.

A chapter declares its parameters once as ``{name: Param(type, smoke=..., local=..., paper=...)}``;
:func:`resolve` picks the profile's values, applies the notebook's overrides (``None`` keeps the
profile default) and validates each value's type and range, naming the parameter on error.
A list-valued parameter (``Param(int, many=True, ...)``, e.g. bit widths) takes a list, a tuple
or a comma-separated string and becomes a tuple whose every item is checked. NaN and infinities
are refused. ``$SUPPORT_PROFILE`` forces a profile on every notebook (the tests use it); the
notebook's output then says so.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Mapping

PROFILES = ("smoke", "local", "paper")
PROFILE_ENV = "SUPPORT_PROFILE"  # forces a profile for every notebook (tests, smoke book builds)


@dataclass(frozen=True)
class Param:
    """One chapter parameter: its type, its value in each profile, and its valid range."""

    kind: type | tuple[type, ...]
    smoke: Any
    local: Any
    paper: Any
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    help: str = ""
    many: bool = False  # a list of values of ``kind`` (stored as a tuple), each checked against the range

    def default(self, profile: str) -> Any:
        """The value this parameter takes in ``profile``."""
        return getattr(self, profile)


#: Parameters every chapter has.
COMMON = {
    "seed": Param(int, smoke=0, local=0, paper=0, low=0, help="seed of every random generator"),
    "device": Param(str, smoke="cpu", local="cpu", paper="auto", choices=("auto", "cpu", "cuda", "mps"),
                    help="torch device; 'auto' picks a GPU when there is one"),
}


class Config(Mapping):
    """A frozen, attribute-accessible mapping of a chapter's resolved parameters."""

    __slots__ = ("_values", "profile")

    def __init__(self, profile: str, values: Mapping[str, Any]):
        object.__setattr__(self, "profile", profile)
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"config has no parameter {name!r}; it has {sorted(self._values)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Config is frozen: pass a different value to resolve() instead")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def as_dict(self) -> dict:
        """A plain dict of the parameters plus the profile name (what results JSON stores)."""
        return {"profile": self.profile, **self._values}

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Config(profile={self.profile!r}, {body})"

    def table(self):
        """The config as a two-column pandas DataFrame, for display in a notebook."""
        import pandas as pd

        rows = [("profile", self.profile)] + [(k, v) for k, v in self._values.items()]
        return pd.DataFrame(rows, columns=["parameter", "value"]).set_index("parameter")


def _check_scalar(name: str, value: Any, param: Param) -> Any:
    """Validate one value against its Param, converting an int to float where a float is wanted."""
    kinds = param.kind if isinstance(param.kind, tuple) else (param.kind,)
    if value is None and type(None) in kinds:
        return value
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    is_bool = isinstance(value, bool)
    if not isinstance(value, kinds) or (is_bool and bool not in kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise ValueError(f"parameter {name}={value!r} has type {type(value).__name__}; expected {names}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"parameter {name}={value!r} must be a finite number")
    if param.choices is not None and value not in param.choices:
        raise ValueError(f"parameter {name}={value!r} is not one of {param.choices}")
    if isinstance(value, (int, float)) and not is_bool:
        if param.low is not None and value < param.low:
            raise ValueError(f"parameter {name}={value!r} is below its minimum {param.low}")
        if param.high is not None and value > param.high:
            raise ValueError(f"parameter {name}={value!r} is above its maximum {param.high}")
    return value


def _parse_item(name: str, text: str, param: Param) -> Any:
    """One item of a comma-separated list-valued parameter, converted to the parameter's type."""
    kinds = param.kind if isinstance(param.kind, tuple) else (param.kind,)
    text = text.strip()
    if str in kinds:
        return text
    for kind in (k for k in (int, float) if k in kinds):
        try:
            return kind(text)
        except ValueError:
            pass
    names = " or ".join(k.__name__ for k in kinds)
    raise ValueError(f"parameter {name}: item {text!r} is not a {names}")


def _check_value(name: str, value: Any, param: Param) -> Any:
    """Validate a value (each item of a list-valued parameter) and return it, lists as tuples."""
    if not param.many:
        return _check_scalar(name, value, param)
    if isinstance(value, str):
        value = [_parse_item(name, item, param) for item in value.split(",") if item.strip()]
    elif not isinstance(value, (list, tuple)):
        value = [value]
    if not value:
        raise ValueError(f"parameter {name} is an empty list; give at least one value")
    return tuple(_check_scalar(f"{name}[{i}]", item, param) for i, item in enumerate(value))
def resolve(profile: str, spec: Mapping[str, Param] | None = None, **overrides: Any) -> Config:
    """Resolve ``profile`` plus ``overrides`` against a chapter's parameter ``spec`` into a Config.

    ``$SUPPORT_PROFILE``, when set, replaces ``profile`` (used by the tests and smoke book builds),
    and a line in the output says so. An override of ``None`` keeps the profile's default.
    """
    forced = os.environ.get(PROFILE_ENV)
    if forced and forced != profile:
        print(f"profile {forced!r} forced by ${PROFILE_ENV} (the parameters cell asked for {profile!r})")
    profile = forced or profile
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r} is unknown; choose one of {PROFILES}")
    full_spec = {**COMMON, **(spec or {})}
    unknown = sorted(set(overrides) - set(full_spec))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; this chapter accepts {sorted(full_spec)}")
    values = {}
    for name, param in full_spec.items():
        chosen = overrides.get(name)
        value = param.default(profile) if chosen is None else chosen
        values[name] = _check_value(name, value, param)
    return Config(profile, values)
