"""Content validity: does a benchmark's mix of items match the blueprint of what it should cover?

A blueprint is a distribution over content categories (task types, specialties). The checks:
coverage (which target categories the benchmark has no item in), the total-variation distance
between the benchmark's shares and the target's (half the L1 distance: the share of items that
would have to move category), and Pearson's chi-square goodness-of-fit of the counts to the target.
:func:`task_type` sorts a question stem into the clinical task it asks for by its wording, the
categories the paper compared real cases with (diagnosis vs treatment and others); it is a keyword
rule, not a clinician's label, and the chapter shows its assignments.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import stats

#: clinical task a question asks for, tried in this order on the question's last sentence (lower case)
TASK_PATTERNS: dict[str, str] = {
    "investigation": r"diagnostic (test|step|study|procedure|modality)|most appropriate (test|investigation|imaging|"
                     r"study|screening)|next (best )?step in (the )?(diagnosis|evaluation"
                     r"|workup)|most likely (show|reveal|be (found|seen|observed))|(finding|result|test|study|imaging|"
                     r"laboratory|serum level|biopsy)s?\b.{0,40}(most likely|expected|confirm|show|reveal)|"
                     r"would (most likely|you) (show|reveal|expect)|investigation of choice|to confirm",
    "diagnosis": r"diagnos|most likely cause\b|most likely cause of (his|her|this|the)|underlying (cause|condition|"
                 r"disease|diagnosis)|etiolog|caus(al|ative) (organism|agent|pathogen)|condition is most likely|"
                 r"most likely (has|suffers|affected|infected)|likely affected by",
    "treatment": r"treatment|management|next (best )?step|most appropriate (next )?(step|pharmaco|therapy|action|"
                 r"intervention|recommendation|medication|drug)|drug of choice|pharmacotherapy|therap|"
                 r"(medication|drug|agent)s? .{0,40}(prescribed|given|administered|suitable|appropriate|indicated|"
                 r"alternative)|should (be|have been) (given|administered|prescribed|done|performed)",
    "mechanism": r"mechanism|pathophysiolog|pathogenesis|explanation|best explains?|most likely (due to|responsible|involved|impaired)|"
                 r"impaired|deficien|derived|process|(enzyme|receptor|gene|structure|nerve|artery|cell|protein)s?\b"
                 r".{0,40}(most likely|affected|involved)",
    "prognosis": r"prognos|risk|complication|most likely (to develop|outcome)|sequela",
    "ethics_communication": r"\b(tell|inform|disclose|respond|response to|say to|communicat|consent|confidential|"
                            r"ethic)",
}
OTHER = "knowledge_other"


#: a sentence ends at . ? or ! after a lower-case letter, digit or bracket (not "E. coli"), unless the word is one of
#: the abbreviations "Dr", "Mr", "Mrs", "Ms", "St" or "vs", and the next sentence starts with a capital or a quote
_SENTENCE_END = re.compile(r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMrs\.)(?<!\bMs\.)(?<!\bSt\.)(?<!\bvs\.)"
                           r"(?<=[a-z0-9)\]%][.?!])\s+(?=[A-Z\"'])")


def last_sentence(question: str) -> str:
    """The question's last sentence (where a vignette states what it asks)."""
    parts = [p for p in _SENTENCE_END.split(question.strip()) if p]
    return parts[-1] if parts else question


def task_type(question: str) -> str:
    """The clinical task a question asks for (a :data:`TASK_PATTERNS` key, or :data:`OTHER`), by keyword rule."""
    asked = last_sentence(question).lower()
    for name, pattern in TASK_PATTERNS.items():
        if re.search(pattern, asked):
            return name
    return OTHER


def shares(labels, categories) -> pd.Series:
    """The share of ``labels`` in each category (categories with no label get 0)."""
    counts = pd.Series(list(labels)).value_counts().reindex(list(categories), fill_value=0)
    return counts / max(int(counts.sum()), 1)


def total_variation(p, q) -> float:
    """Total-variation distance between two distributions on the same categories: half the L1 distance."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())


def blueprint_check(counts: pd.Series, target: pd.Series) -> dict:
    """Coverage, total-variation distance and chi-square goodness-of-fit of category ``counts`` to ``target`` shares."""
    target = target.reindex(counts.index.union(target.index), fill_value=0.0)
    counts = counts.reindex(target.index, fill_value=0).astype(float)
    if (target <= 0).any() and (counts[target <= 0] > 0).any():
        raise ValueError(f"items fall in categories the target gives no weight: {list(counts[target <= 0].index)}")
    keep = target > 0
    expected = target[keep] / target[keep].sum() * counts.sum()
    chi2 = stats.chisquare(counts[keep], expected)
    return {"items": int(counts.sum()), "categories": int(keep.sum()),
            "uncovered": [str(c) for c in counts[keep].index[counts[keep] == 0]],
            "tvd": total_variation(counts[keep], target[keep]), "chi2": float(chi2.statistic),
            "dof": int(keep.sum() - 1), "p": float(chi2.pvalue)}
