"""Reliability of a benchmark's scores: Cronbach's alpha, split-half with Spearman-Brown, item-total, test-retest.

Textbook classical test theory (Lord & Novick 1968; Cronbach 1951): a score matrix has one row per
examinee (here a model, or one prompt configuration of a model) and one column per item (1 right,
0 wrong, or any graded score). Alpha is KR-20 when the items are binary. Test-retest compares the
same examinee's item outcomes under two administrations (here: prompt templates, option orders),
with Cohen's kappa correcting agreement for chance. ``pingouin.cronbach_alpha`` gives the same alpha
(the tests check it); these versions take NumPy arrays and batch over bootstrap resamples.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd


def _matrix(scores) -> np.ndarray:
    """A float [examinees, items] array from an array or DataFrame, with at least two of each."""
    x = np.asarray(scores, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"need a score matrix [examinees, items] with at least 2 x 2 entries, got shape {x.shape}")
    if np.isnan(x).any():
        raise ValueError("the score matrix has missing entries; drop or impute them first")
    return x


def cronbach_alpha(scores) -> float:
    """Cronbach's alpha k/(k-1) (1 - sum of item variances / variance of the total) of a [examinees, items] matrix."""
    x = _matrix(scores)
    return float(batched_alpha(x[None])[0])


def batched_alpha(scores: np.ndarray) -> np.ndarray:
    """Alpha of each matrix in a stack [B, examinees, items] (NaN where the total does not vary)."""
    k = scores.shape[-1]
    item_var = scores.var(axis=1, ddof=1).sum(-1)
    total_var = scores.sum(-1).var(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total_var > 0, k / (k - 1) * (1 - item_var / total_var), np.nan)


def spearman_brown(correlation: float, factor: float = 2.0) -> float:
    """The reliability of a test ``factor`` times as long, from the reliability (or half-test correlation) given."""
    denominator = 1 + (factor - 1) * correlation
    return float("nan") if denominator == 0 else float(factor * correlation / denominator)


def split_half(scores, splits: int = 0, seed: int = 0) -> dict:
    """Split-half reliability: correlation of the two halves' totals, stepped up by Spearman-Brown.

    ``splits=0`` uses the odd/even split; otherwise the mean over that many random splits.
    """
    x = _matrix(scores)
    k = x.shape[1]
    if splits == 0:
        halves = [np.arange(k) % 2 == 0]
    else:
        rng = np.random.default_rng(seed)
        halves = [np.isin(np.arange(k), rng.permutation(k)[: k // 2]) for _ in range(splits)]
    with np.errstate(divide="ignore", invalid="ignore"):  # a constant half gives NaN, skipped below
        correlations = np.array([np.corrcoef(x[:, h].sum(1), x[:, ~h].sum(1))[0, 1] for h in halves])
    finite = correlations[np.isfinite(correlations)]  # a split with a constant half has no correlation
    r = float(finite.mean()) if finite.size else float("nan")
    return {"half_correlation": r, "reliability": spearman_brown(r), "splits": len(halves)}


def item_total(scores) -> np.ndarray:
    """[items] corrected item-total correlations: each item against the total of the other items."""
    x = _matrix(scores)
    rest = x.sum(1, keepdims=True) - x
    xc, rc = x - x.mean(0), rest - rest.mean(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (xc * rc).sum(0) / np.sqrt((xc ** 2).sum(0) * (rc ** 2).sum(0))


def cohen_kappa(first, second) -> float:
    """Cohen's kappa of two raters' labels on the same items: (observed - chance agreement) / (1 - chance)."""
    a, b = np.asarray(first), np.asarray(second)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"two 1-d label arrays of the same length are needed, got {a.shape} and {b.shape}")
    labels = np.union1d(a, b)
    observed = float((a == b).mean())
    chance = float(sum((a == v).mean() * (b == v).mean() for v in labels))
    return float("nan") if chance == 1 else (observed - chance) / (1 - chance)


def retest_table(outcomes: pd.DataFrame, by: str = "benchmark", administration: str = "administration",
                 item: str = "item", value: str = "correct") -> pd.DataFrame:
    """Test-retest per group and pair of administrations: agreement, Cohen's kappa on ``value`` and each score.

    ``outcomes`` holds one row per (group, administration, item). Pairs are every two administrations.
    """
    rows = []
    for group, part in outcomes.groupby(by, sort=False):
        wide = part.pivot_table(index=item, columns=administration, values=value, aggfunc="first")
        for first, second in itertools.combinations(wide.columns, 2):
            both = wide[[first, second]].dropna()
            rows.append({by: group, "first": first, "second": second, "items": len(both),
                         "agreement": float((both[first] == both[second]).mean()),
                         "kappa": cohen_kappa(both[first].to_numpy(), both[second].to_numpy()),
                         "first_score": float(both[first].mean()), "second_score": float(both[second].mean())})
    return pd.DataFrame(rows)
