"""Intervals and exact tests the chapters share: every "fewer" or "better" in the book rests on one of these."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def mean_interval(values: pd.Series | np.ndarray, level: float = 0.95) -> float:
    """Half-width of the t-interval of the mean (over seeds, say); NaN for fewer than two values."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2:
        return float("nan")
    return float(stats.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / np.sqrt(n))


def rate_interval(count: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson (exact) interval of a rate ``count / total``, as fractions; (nan, nan) when total is 0."""
    if total <= 0:
        return float("nan"), float("nan")
    ci = stats.binomtest(int(count), int(total)).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def fisher_p(count_a: int, total_a: int, count_b: int, total_b: int) -> float:
    """Two-sided Fisher exact p-value that two rates ``count / total`` are equal."""
    table = [[int(count_a), int(total_a - count_a)], [int(count_b), int(total_b - count_b)]]
    return float(stats.fisher_exact(table).pvalue)


def rate_columns(count: int, total: int, prefix: str = "violations", level: float = 0.95) -> dict:
    """``{prefix}_%``, ``{prefix}_lo_%``, ``{prefix}_hi_%`` and the count: a rate in percent with its exact interval."""
    low, high = rate_interval(count, total, level)
    return {f"{prefix}_%": 100 * count / total if total else float("nan"), f"{prefix}_lo_%": 100 * low,
            f"{prefix}_hi_%": 100 * high, f"{prefix}_n": int(count)}


def auc(scores, labels):
    """Area under the ROC curve of ``scores`` for binary ``labels`` along the last axis (Mann-Whitney, ties count one
    half): a float for one row, an array for a stack of rows; NaN where a row lacks either kind."""
    s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    ranks = stats.rankdata(s, axis=-1)
    n_pos, n_neg = y.sum(-1), (~y).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where((n_pos > 0) & (n_neg > 0), ((ranks * y).sum(-1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg),
                         np.nan)
    return float(value) if value.ndim == 0 else value


def mcnemar_p(first_right, second_right) -> float:
    """Exact two-sided McNemar p-value that two paired per-item outcomes (bool arrays) have the same success rate.

    Only the discordant items count: b (right first, wrong second) and c (the reverse); under the
    null, b ~ Binomial(b + c, 1/2). 1.0 when there is no discordant item.
    """
    first, second = np.asarray(first_right, dtype=bool), np.asarray(second_right, dtype=bool)
    if first.shape != second.shape:
        raise ValueError(f"paired outcomes need the same shape, got {first.shape} and {second.shape}")
    b, c = int((first & ~second).sum()), int((~first & second).sum())
    return 1.0 if b + c == 0 else float(stats.binomtest(b, b + c, 0.5).pvalue)


def bootstrap_interval(statistic, n_items: int, resamples: int = 2000, seed: int = 0, level: float = 0.95
                       ) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(indices)`` over ``n_items`` items drawn with replacement."""
    draws = np.random.default_rng(seed).integers(0, n_items, (resamples, n_items))
    values = np.array([statistic(d) for d in draws])
    tail = (1 - level) / 2
    return float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail))


def paired_gap_interval(first, second, resamples: int = 2000, seed: int = 0, level: float = 0.95
                        ) -> tuple[float, float, float]:
    """Mean of ``first - second`` over paired items and its percentile bootstrap interval: (gap, low, high)."""
    diff = np.asarray(first, dtype=float) - np.asarray(second, dtype=float)
    return (float(diff.mean()), *bootstrap_interval(lambda d: diff[d].mean(), len(diff), resamples, seed, level))


def benjamini_hochberg(pvalues, q: float = 0.1) -> np.ndarray:
    """Boolean mask of the hypotheses rejected by the Benjamini-Hochberg step-up procedure at false-discovery
    rate ``q``: the k smallest p-values, for the largest k with p_(k) <= k q / m."""
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1 or np.isnan(p).any():
        raise ValueError("benjamini_hochberg needs a 1-d array of p-values without NaN")
    order = np.argsort(p, kind="stable")
    passed = p[order] <= q * np.arange(1, len(p) + 1) / max(len(p), 1)
    rejected = np.zeros(len(p), dtype=bool)
    if passed.any():
        rejected[order[: int(np.nonzero(passed)[0].max()) + 1]] = True
    return rejected
