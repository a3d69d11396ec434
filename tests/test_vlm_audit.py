"""The retrieval audit's measures (chapter 7, So-B-IT) against hand-computed values and their null behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest

from support.stats import benjamini_hochberg
from support.vlm import audit


def test_group_counts_by_brute_force():
    groups = np.array([[0, 2, 2, 1], [1, 1, 1, 1]])
    assert audit.group_counts(groups, 3).tolist() == [[1, 1, 2], [0, 4, 0]]


def test_normalized_entropy_by_hand():
    assert audit.normalized_entropy([5, 5, 5, 5]) == pytest.approx(1.0)
    assert audit.normalized_entropy([0, 7, 0, 0]) == 0.0
    assert audit.normalized_entropy([2, 2, 0, 0]) == pytest.approx(math.log(2) / math.log(4))
    assert audit.normalized_entropy([[1, 1], [3, 0]]).tolist() == pytest.approx([1.0, 0.0])
    with pytest.raises(ValueError, match="positive total"):
        audit.normalized_entropy([0, 0])


def test_max_skew_and_kl_are_zero_at_the_prior_and_positive_elsewhere():
    prior = np.array([0.5, 0.3, 0.2])
    assert audit.max_skew([50, 30, 20], prior) == pytest.approx(0.0)
    assert audit.kl_to_prior([50, 30, 20], prior) == pytest.approx(0.0)
    assert audit.max_skew([3, 1], [0.5, 0.5]) == pytest.approx(math.log(1.5))
    assert audit.max_skew([0, 4], [0.5, 0.5]) == pytest.approx(math.log(2))  # the empty group is not the maximum
    assert audit.kl_to_prior([3, 1], [0.5, 0.5]) == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5))
    counts = np.random.default_rng(0).integers(0, 20, size=(200, 3)) + np.array([1, 0, 0])
    assert (audit.max_skew(counts, prior) >= -1e-12).all() and (audit.kl_to_prior(counts, prior) >= -1e-12).all()


def test_the_permutation_test_finds_a_planted_skew_and_holds_its_level_on_unbiased_retrieval():
    gallery = np.repeat([0, 1, 2], [100, 60, 40])  # a prior that is not uniform
    prior = np.bincount(gallery) / len(gallery)

    def skew(counts):
        return audit.max_skew(counts, prior)

    planted = audit.group_counts(np.full(20, 2), 3)  # every retrieved item from the smallest group
    assert audit.permutation_p(float(skew(planted)), gallery, 20, skew, 3, draws=999) == pytest.approx(1 / 1000)
    rng = np.random.default_rng(1)
    pvalues = []
    for seed in range(200):  # retrieval that ignores the groups: a random top-20
        retrieved = gallery[rng.choice(len(gallery), 20, replace=False)]
        observed = float(skew(audit.group_counts(retrieved, 3)))
        pvalues.append(audit.permutation_p(observed, gallery, 20, skew, 3, draws=499, seed=seed))
    pvalues = np.array(pvalues)
    assert 0.01 <= (pvalues <= 0.05).mean() <= 0.10  # about the nominal 5% (discreteness makes it conservative)
    assert not benjamini_hochberg(pvalues, 0.1).any()  # no word survives false-discovery control under the null
