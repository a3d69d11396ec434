"""The book's chapters and the study module behind each: what ``prepare``, the book build and the tests iterate.

Every chapter's study module (``support/<study>/study.py``) declares the same four things:
``PARAMS`` (its parameters per profile), ``RESOURCES`` (registry packages it reads),
``models(cfg)`` (the cached models it loads, for ``prepare``) and its paper's constants. A new
chapter adds one line here and copies ``support/tour/study.py``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: chapter (notebook stem) -> study module
CHAPTERS: dict[str, str] = {
    "00_using_this_book": "support.tour.study",
    "01_constrained_diffusion": "support.cdd.study",
    "02_norm_growth": "support.norm_growth.study",
    "03_encore": "support.encore.study",
    "04_sae_features": "support.sae.study",
    "05_quantization_scaling": "support.qid.study",
    "06_dialect_bias": "support.dialect.study",
    "07_sobit": "support.sobit.study",
    "08_bend_vlm": "support.bendvlm.study",
    "09_construct_validity": "support.validity.study",
    "10_skipsnn": "support.skipsnn.study",
}


def chapter_name(label: str) -> str:
    """The chapter a label names: ``"5"``, ``"05"`` or ``"05_quantization_scaling"``."""
    label = str(label).strip()
    if label in CHAPTERS:
        return label
    if label.isdigit():
        matches = [name for name in CHAPTERS if int(name.split("_")[0]) == int(label)]
        if matches:
            return matches[0]
    raise ValueError(f"unknown chapter {label!r}; chapters: {', '.join(CHAPTERS)} (or their numbers)")


def study_module(label: str) -> ModuleType:
    """The study module of a chapter."""
    return importlib.import_module(CHAPTERS[chapter_name(label)])
