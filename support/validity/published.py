"""Published benchmark results as data: a models x benchmarks table where every number cites its source.

``data/published_scores.csv`` holds one row per (model, benchmark, score in percent, source_id);
``data/published_sources.csv`` the citation, location (file and commit, or table) and evaluation
setting of each source; ``data/published_evidence.md`` the verbatim lines each number was read from.
Medical columns come from the Open Medical-LLM Leaderboard's result files (zero-shot, EleutherAI
harness); non-medical ones from the data released with Ruan et al. (2024, "Observational Scaling
Laws"), most of it the Open LLM Leaderboard v1 (few-shot). The two were run separately, with
different shot counts: a correlation between a medical and a non-medical column also carries that.
"""

from __future__ import annotations

from importlib import resources as package_files

import pandas as pd

#: benchmark -> construct it is meant to measure
CONSTRUCT = {
    "MedQA_USMLE_4opt": "medical", "MedMCQA_dev": "medical", "PubMedQA": "medical",
    "MMLU_anatomy": "medical", "MMLU_clinical_knowledge": "medical", "MMLU_college_biology": "medical",
    "MMLU_college_medicine": "medical", "MMLU_medical_genetics": "medical", "MMLU_professional_medicine": "medical",
    "MMLU_avg57": "general", "ARC_Challenge": "general", "HellaSwag": "general", "Winogrande": "general",
    "TruthfulQA_mc2": "general", "GSM8K": "general", "HumanEval": "general", "XWinograd": "general",
}
#: sources left out of the default table: a model card's older leaderboard snapshot (one model), not pooled
#: with the released ObsScaling numbers without a sensitivity check
SET_ASIDE_SOURCES = ("OLLB_ZEPHYR_CARD",)


def _read(name: str) -> pd.DataFrame:
    """One of the package's data files."""
    with package_files.files("support.validity").joinpath("data", name).open(encoding="utf-8") as handle:
        return pd.read_csv(handle)


def scores(set_aside: tuple[str, ...] = SET_ASIDE_SOURCES) -> pd.DataFrame:
    """Long table: model, benchmark, score (percent), source_id, construct; sources in ``set_aside`` dropped."""
    table = _read("published_scores.csv")
    unknown = set(table.benchmark) - set(CONSTRUCT)
    if unknown:
        raise ValueError(f"benchmarks without a construct: {sorted(unknown)}")
    missing = set(table.source_id) - set(sources().source_id)
    if missing:
        raise ValueError(f"scores cite sources that are not listed: {sorted(missing)}")
    table = table[~table.source_id.isin(set_aside)]
    return table.assign(construct=table.benchmark.map(CONSTRUCT)).reset_index(drop=True)


def sources() -> pd.DataFrame:
    """The sources: source_id, citation, location, setting, notes."""
    return _read("published_sources.csv")


def wide(table: pd.DataFrame, benchmarks: list[str] | None = None, complete: bool = True) -> pd.DataFrame:
    """Models x benchmarks scores; only models with every benchmark when ``complete``."""
    out = table.pivot_table(index="model", columns="benchmark", values="score", aggfunc="first")
    if benchmarks is not None:
        out = out.reindex(columns=benchmarks)
    return out.dropna() if complete else out
