"""Weighted log-odds with an informative Dirichlet prior (chapter 7's caption analysis), by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from support.vlm.cooccurrence import log_odds_dirichlet, log_odds_table, word_group_counts


def test_word_group_counts_by_brute_force():
    counts = word_group_counts([0, 0, 1, 2, 2, 2], [1, 1, 0, 1, 0, 1], 3, 2)
    assert counts.tolist() == [[0, 2], [1, 0], [1, 2]]


def test_log_odds_by_hand_on_a_two_by_two_table():
    counts = np.array([[30, 10], [20, 40]])  # words x groups
    a0 = 10.0
    delta, z = log_odds_dirichlet(counts, a0)
    a_w = a0 * 40 / 100  # word 0's prior pseudo-count
    n_i, n_j = 50, 50  # group 0 total, the other group's total
    by_hand = (math.log((30 + a_w) / (n_i + a0 - 30 - a_w)) - math.log((10 + a_w) / (n_j + a0 - 10 - a_w)))
    assert delta[0, 0] == pytest.approx(by_hand)
    assert z[0, 0] == pytest.approx(by_hand / math.sqrt(1 / (30 + a_w) + 1 / (10 + a_w)))
    assert delta[0, 1] == pytest.approx(-by_hand)  # with two groups, group 1 vs rest is the mirror image


def test_an_independent_word_scores_near_zero_and_a_planted_one_high():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 4, 20_000)
    words = rng.integers(0, 10, 20_000)
    groups[(words == 3) & (rng.random(20_000) < 0.3)] = 2  # word 3 planted on group 2
    delta, z = log_odds_dirichlet(word_group_counts(words, groups, 10, 4), prior_size=100)
    assert z[3, 2] > 10 and z.argmax() == 3 * 4 + 2
    others = np.delete(z, 3, axis=0)
    assert np.abs(others).max() < 4
    table = log_odds_table(word_group_counts(words, groups, 10, 4), list("abcdefghij"), ["w", "x", "y", "z"], 100)
    assert table.loc[table["z"].idxmax(), ["word", "group"]].tolist() == ["d", "y"]
    with pytest.raises(ValueError, match="prior_size"):
        log_odds_dirichlet([[1, 2]], 0)
