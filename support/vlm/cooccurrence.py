"""Where an association comes from: words against groups in the training captions, by weighted log-odds.

So-B-IT traces CLIP's associations back to its training data by counting how often taxonomy words
co-occur with demographic terms in LAION's captions. Chapter 7's stand-in for that analysis counts,
in the tiny CLIP's own training set, how often each taxonomy word's captions sit on images of each
marker group, and scores the association with the log-odds ratio with an informative Dirichlet
prior of Monroe, Colaresi & Quinn (2008, "Fightin' Words", eqs. 16-22). For word w and group i
against all other groups j, with counts y, group totals n and prior pseudo-counts
alpha_w = alpha_0 * (share of w in the whole corpus):

    delta_w = log[(y_wi + a_w) / (n_i + a_0 - y_wi - a_w)] - log[(y_wj + a_w) / (n_j + a_0 - y_wj - a_w)]
    var(delta_w) ~ 1 / (y_wi + a_w) + 1 / (y_wj + a_w),    z_w = delta_w / sqrt(var)

The prior shrinks rare words' log-odds towards zero; z ranks words by how surely they lean to a
group. Here every caption holds exactly one taxonomy word, so counts are captions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def word_group_counts(words: np.ndarray, groups: np.ndarray, n_words: int, n_groups: int) -> np.ndarray:
    """[n_words, n_groups] counts of (word, group) pairs over the captions."""
    counts = np.zeros((n_words, n_groups), dtype=np.int64)
    np.add.at(counts, (np.asarray(words), np.asarray(groups)), 1)
    return counts


def log_odds_dirichlet(counts, prior_size: float) -> tuple[np.ndarray, np.ndarray]:
    """(delta, z) [W, G]: each word's log-odds of group i against the rest, informative Dirichlet prior.

    ``prior_size`` is alpha_0, the prior's total pseudo-count, spread over words by their corpus shares.
    A word that never occurs has no log-odds (NaN).
    """
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 2 or (counts < 0).any() or prior_size <= 0:
        raise ValueError("log_odds_dirichlet needs a [words, groups] array of counts >= 0 and prior_size > 0")
    alpha = prior_size * counts.sum(1, keepdims=True) / counts.sum()  # [W, 1]
    alpha = np.where(alpha > 0, alpha, np.nan)
    y_i, y_j = counts, counts.sum(1, keepdims=True) - counts  # this group, all other groups
    n_i = counts.sum(0, keepdims=True)
    n_j = counts.sum() - n_i
    delta = (np.log((y_i + alpha) / (n_i + prior_size - y_i - alpha))
             - np.log((y_j + alpha) / (n_j + prior_size - y_j - alpha)))
    return delta, delta / np.sqrt(1 / (y_i + alpha) + 1 / (y_j + alpha))


def log_odds_table(counts, words, group_names, prior_size: float) -> pd.DataFrame:
    """Long table (word, group, count, delta, z) of :func:`log_odds_dirichlet`."""
    delta, z = log_odds_dirichlet(counts, prior_size)
    n_words, n_groups = delta.shape
    return pd.DataFrame({"word": np.repeat(list(words), n_groups), "group": np.tile(list(group_names), n_words),
                         "count": np.asarray(counts).ravel(), "delta": delta.ravel(), "z": z.ravel()})
