"""``python -m support prepare [CHAPTER ...]``: fetch each chapter's resources and make its cached models.

Run once before the book build (``make book`` does), one model at a time, each with a progress
bar (model, step, loss, ETA), so no cached model is trained in a notebook cell and no cell timeout
can be reached by that training (a chapter's own experiments, e.g. chapter 10's spiking networks,
still train in their cells, within the chapter's time budget). Models already in the cache are only checked. Returns one row per model with the
seconds it took, which the command prints as a table.
"""

from __future__ import annotations

import time

import pandas as pd

from . import resources
from .chapters import CHAPTERS, chapter_name, study_module
from .models.cached import ensure
from .profiles import resolve


def chapter_models(chapter: str, profile: str = "local", **overrides) -> list:
    """The cached models a chapter loads in ``profile`` (with parameter ``overrides``)."""
    study = study_module(chapter)
    return list(study.models(resolve(profile, study.PARAMS, **overrides)))


def prepare(chapters: list[str] | None = None, profile: str = "local", device: str = "cpu",
            progress: bool = True) -> pd.DataFrame:
    """Fetch resources and produce every missing model of ``chapters`` (all when None); one row per model."""
    names = [chapter_name(c) for c in chapters] if chapters else list(CHAPTERS)
    wanted = sorted({r for name in names for r in study_module(name).RESOURCES})
    if wanted:
        resources.fetch_many(wanted)
    rows, seen = [], set()
    for name in names:
        for spec in chapter_models(name, profile):
            if spec.folder in seen:  # shared by two chapters (e.g. the world model of chapters 2 and 3)
                continue
            seen.add(spec.folder)
            ready = spec.is_ready()
            start = time.perf_counter()
            if not ready:
                print(f"[prepare {name}] {spec.label()}: not cached, producing it", flush=True)
            ensure(spec, device=device, progress=progress, chapter=name)
            rows.append({"chapter": name, "model": spec.label(), "status": "cached" if ready else "trained",
                         "seconds": round(time.perf_counter() - start, 1), "folder": spec.folder.name})
    return pd.DataFrame(rows, columns=["chapter", "model", "status", "seconds", "folder"])
