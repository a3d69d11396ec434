"""CounterFact-style scores (ES, PS, NS, S), generation entropy, and downstream ability.

Definitions follow ROME/MEMIT's CounterFact evaluation: a prompt "prefers" an object when its
length-normalised NLL of ``" " + object`` is lower. ES = share of cases whose rewrite prompt prefers
the new object; PS = the same averaged over paraphrases; NS = share of neighbourhood prompts that
still prefer the true object, counted over the neighbourhood prompts the unedited model got right
(locality is measured against the original model); S = harmonic mean of ES, PS, NS.
Generation entropy is ROME's ``compute_n_gram_entropy``: per text, the mean of (2/3) H_2 and (4/3) H_3
(word 2- and 3-gram entropies in bits), averaged over texts; papers print it x100 (ENCORE's 523.6 is
5.236 bits). ROME splits words with NLTK's tokenizer, we split on whitespace.
The NLL underneath is the book's one implementation, :func:`support.models.continuation_nll`.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import torch

from ..models.scoring import continuation_nll, encode, preference
from .cases import EditCase


def harmonic_mean(values) -> float:
    """Harmonic mean (0 when any value is 0)."""
    values = [float(v) for v in values]
    return 0.0 if min(values) <= 0 else len(values) / sum(1 / v for v in values)


def neighbour_rows(cases: list[EditCase]) -> tuple[list[str], list[str], list[str]]:
    """(prompts, true objects, new objects) of every neighbourhood prompt."""
    rows = [(p, c.target_true, c.target_new) for c in cases for p in c.neighbours]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def baseline_locality(model, tokenizer, cases: list[EditCase]) -> np.ndarray:
    """Which neighbourhood prompts the unedited model answers right (P(true) > P(new))."""
    prompts, true, new = neighbour_rows(cases)
    return preference(model, tokenizer, prompts, true, new)


def edit_scores(model, tokenizer, cases: list[EditCase], locality_mask: np.ndarray | None = None) -> dict[str, float]:
    """ES, PS, NS and S (percent) of ``cases`` on the model as it is now."""
    es = preference(model, tokenizer, [c.prompt for c in cases], [c.target_new for c in cases],
                    [c.target_true for c in cases])
    para = [(p, c.target_new, c.target_true, i) for i, c in enumerate(cases) for p in c.paraphrases]
    ps_rows = preference(model, tokenizer, [r[0] for r in para], [r[1] for r in para], [r[2] for r in para])
    case_index = np.array([r[3] for r in para])
    ps = np.array([ps_rows[case_index == i].mean() for i in range(len(cases)) if (case_index == i).any()])
    prompts, true, new = neighbour_rows(cases)
    ns_rows = preference(model, tokenizer, prompts, true, new)
    if locality_mask is not None:
        ns_rows = ns_rows[locality_mask]
    scores = {"ES": 100 * es.mean(), "PS": 100 * ps.mean() if len(ps) else float("nan"),
              "NS": 100 * ns_rows.mean() if len(ns_rows) else float("nan")}
    scores["S"] = harmonic_mean([scores["ES"], scores["PS"], scores["NS"]])
    return {k: float(v) for k, v in scores.items()}


@torch.no_grad()
def object_probabilities(model, tokenizer, cases: list[EditCase], which: str = "new") -> np.ndarray:
    """P(object | rewrite prompt) per case, ``which`` = "new" or "true" (product over the object's tokens)."""
    targets = [c.target_new if which == "new" else c.target_true for c in cases]
    batch = encode(tokenizer, [c.prompt for c in cases], targets)
    nll = continuation_nll(model, tokenizer, [c.prompt for c in cases], targets)
    n_tokens = batch.target_mask.sum(1).numpy()
    return np.exp(-nll * n_tokens)


def top1_hits(model, tokenizer, cases: list[EditCase], which: str = "true") -> np.ndarray:
    """Per case: does its ``which`` object rank first among its relation's objects on the rewrite prompt?"""
    prompts, conts, owner = [], [], []
    for i, case in enumerate(cases):
        for obj in case.alternatives:
            prompts.append(case.prompt)
            conts.append(obj)
            owner.append(i)
    nll = continuation_nll(model, tokenizer, prompts, conts, batch_size=256)
    owner = np.array(owner)
    hits = []
    for i, case in enumerate(cases):
        best = case.alternatives[int(np.argmin(nll[owner == i]))]  # rows of case i follow its alternatives' order
        hits.append(best == (case.target_true if which == "true" else case.target_new))
    return np.array(hits, dtype=bool)


def top1_recall(model, tokenizer, cases: list[EditCase], which: str = "true") -> float:
    """Share of cases whose ``which`` object ranks first among its relation's objects."""
    return float(top1_hits(model, tokenizer, cases, which).mean())


def ngram_entropy(text: str, n: int) -> float:
    """Entropy (bits) of the word n-gram distribution of ``text``."""
    words = text.split()
    grams = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    total = sum(grams.values())
    return -sum(c / total * math.log2(c / total) for c in grams.values()) if total else 0.0


def generation_entropy(texts: list[str]) -> float:
    """ROME's fluency score in bits: mean over texts of mean((2/3) H_2, (4/3) H_3), word n-grams."""
    return float(np.mean([((2 / 3) * ngram_entropy(t, 2) + (4 / 3) * ngram_entropy(t, 3)) / 2 for t in texts]))
