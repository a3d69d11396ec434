"""Criterion validity: does a benchmark predict the criterion it stands for, across models and across items?

Across models: Spearman's rho and Kendall's tau between benchmark scores and criterion scores, with
percentile bootstrap intervals over models, and the number of model pairs whose order the two
disagree on (rank inversions; Kendall's tau = 1 - 2 inversions / pairs when there are no ties).
Across items (the paper's matched design: each exam item paired with a real case): the 2x2 table of
benchmark-right by criterion-right, its odds ratio (Woolf interval, Haldane's 0.5 when a cell is
empty), the phi coefficient and the AUC of benchmark correctness as a predictor of criterion
correctness (for a binary predictor, (sensitivity + specificity) / 2; for a graded one, Mann-Whitney).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..stats import auc



def rank_inversions(first, second) -> tuple[int, int]:
    """(pairs ordered oppositely by ``first`` and ``second``, pairs strictly ordered by both): a brute-force count."""
    x, y = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    i, j = np.triu_indices(len(x), 1)
    dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    return int((dx * dy < 0).sum()), int((dx * dy != 0).sum())


def rank_agreement(benchmark, criterion, resamples: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Spearman and Kendall correlations of two scores over models, bootstrap intervals, and rank inversions."""
    x, y = np.asarray(benchmark, dtype=float), np.asarray(criterion, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 3:
        raise ValueError(f"need two 1-d score arrays over the same >= 3 models, got {x.shape} and {y.shape}")
    spearman = lambda d: stats.spearmanr(x[d], y[d]).statistic  # noqa: E731
    kendall = lambda d: stats.kendalltau(x[d], y[d]).statistic  # noqa: E731
    inverted, ordered = rank_inversions(x, y)
    out = {"models": len(x), "spearman": float(spearman(slice(None))), "kendall": float(kendall(slice(None))),
           "inversions": inverted, "pairs": ordered}
    draws = np.random.default_rng(seed).integers(0, len(x), (resamples, len(x)))
    for name, statistic in (("spearman", spearman), ("kendall", kendall)):
        with np.errstate(invalid="ignore"):  # a resample of tied scores has no rank correlation: left out
            values = np.array([statistic(d) for d in draws], dtype=float)
        out[f"{name}_lo"], out[f"{name}_hi"] = (float(v) for v in np.nanquantile(values, [(1 - level) / 2,
                                                                                            (1 + level) / 2]))
    return out


def contingency(benchmark_right, criterion_right) -> np.ndarray:
    """The 2x2 table [[both right, bench right only], [criterion right only, both wrong]] of paired outcomes."""
    a, c = np.asarray(benchmark_right, dtype=bool), np.asarray(criterion_right, dtype=bool)
    if a.shape != c.shape:
        raise ValueError(f"paired outcomes need the same shape, got {a.shape} and {c.shape}")
    return np.array([[(a & c).sum(), (a & ~c).sum()], [(~a & c).sum(), (~a & ~c).sum()]])


def odds_ratio(table: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Odds ratio of a 2x2 table and its Woolf (log-normal) interval; 0.5 is added to every cell if one is 0."""
    t = np.asarray(table, dtype=float)
    if (t == 0).any():
        t = t + 0.5
    log_or = np.log(t[0, 0] * t[1, 1] / (t[0, 1] * t[1, 0]))
    half = stats.norm.ppf(0.5 + level / 2) * np.sqrt((1 / t).sum())
    return float(np.exp(log_or)), float(np.exp(log_or - half)), float(np.exp(log_or + half))


def phi(table: np.ndarray) -> float:
    """The phi coefficient (Pearson correlation of two binary variables) of a 2x2 table."""
    (n11, n10), (n01, n00) = np.asarray(table, dtype=float)
    denominator = np.sqrt((n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00))
    return float("nan") if denominator == 0 else float((n11 * n00 - n10 * n01) / denominator)


def item_criterion(benchmark_right, criterion_right, level: float = 0.95) -> dict:
    """Odds ratio (with interval), phi and AUC of benchmark correctness predicting criterion correctness per item."""
    table = contingency(benchmark_right, criterion_right)
    ratio, low, high = odds_ratio(table, level)
    return {"items": int(table.sum()), "both_right": int(table[0, 0]), "odds_ratio": ratio, "odds_ratio_lo": low,
            "odds_ratio_hi": high, "phi": phi(table),
            "auc": auc(np.asarray(benchmark_right, dtype=float), criterion_right)}

