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


def test_upper_p_values_by_hand_and_against_the_single_query_function():
    null = np.array([0.0, 1.0, 1.0, 2.0])
    assert audit.upper_p_values([2.0, 1.0, 5.0, -1.0], null).tolist() == pytest.approx([2 / 5, 4 / 5, 1 / 5, 1.0])
    gallery = np.repeat([0, 1], [30, 10])
    prior = np.array([0.75, 0.25])
    p_single = audit.permutation_p(0.5, gallery, 8, lambda c: audit.max_skew(c, prior), 2, draws=300, seed=4)
    null = audit.null_statistic([30, 10], 8, lambda c: audit.max_skew(c, prior), draws=300, seed=4)
    assert p_single == pytest.approx(float(audit.upper_p_values(0.5, null)))


def test_top_k_matches_a_full_sort():
    similarity = np.random.default_rng(0).normal(size=(5, 40))
    expected = np.argsort(-similarity, axis=1)[:, :7]
    assert (audit.top_k(similarity, 7) == expected).all()
    with pytest.raises(ValueError, match="gallery size"):
        audit.top_k(similarity, 41)


def test_the_retrieval_audit_recovers_planted_queries_and_controls_false_discoveries():
    n_items, n_queries, planted = 600, 60, np.arange(6)  # queries 0-5 lean to group 2
    names = [f"q{i}" for i in range(n_queries)]
    recalls, false_shares = [], []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        groups = rng.choice(3, n_items, p=[0.5, 0.3, 0.2])
        similarity = rng.normal(size=(n_queries, n_items))
        similarity[planted] += 1.5 * (groups == 2)
        table = audit.retrieval_audit(similarity, names, {"g": groups}, {"g": ("a", "b", "c")}, ks=(20, 50), q=0.1,
                                      draws=2000, seed=seed)
        for _, rows in table.groupby("k"):
            flagged = rows.loc[rows["rejected_gallery"]]
            true = flagged["query"].isin([names[i] for i in planted]) & (flagged["top_group"] == 2)
            recalls.append(true.sum() / len(planted))
            false_shares.append(1 - true.mean() if len(flagged) else 0.0)
    assert np.mean(recalls) == 1.0
    assert np.mean(false_shares) <= 0.12  # BH at q = 0.1 bounds the expected false-discovery share
    assert set(table.columns) >= {"query", "attribute", "k", "entropy", "max_skew", "kl", "top_group", "p_gallery"}
    shares = audit.group_shares(similarity, names, groups, ("a", "b", "c"), 20)
    assert shares.groupby("query")["share"].sum().to_numpy() == pytest.approx(np.ones(n_queries))


def test_the_control_null_separates_planted_queries_from_a_model_that_skews_every_query():
    rng = np.random.default_rng(1)
    n_items, n_queries = 800, 240
    groups = rng.integers(0, 4, n_items)
    leaning = np.zeros((n_queries, 4))  # every query leans a little to some group ...
    leaning[np.arange(n_queries), rng.integers(0, 4, n_queries)] = np.abs(rng.normal(0, 0.03, n_queries))
    leaning[:5] = [0, 0, 0, 0.3]  # ... queries 0-4 much more, to group 3 (the planted ones)
    similarity = rng.normal(0, 0.1, (n_queries, n_items)) + leaning[:, groups]
    controls = np.arange(n_queries) >= 40  # 200 queries known to carry no planted association
    four = {"g": ("a", "b", "c", "d")}
    table = audit.retrieval_audit(similarity, [f"q{i}" for i in range(n_queries)], {"g": groups}, four,
                                  ks=(25,), draws=2000, controls=controls)
    tested = table[~table.control]
    assert tested.rejected_gallery[5:].sum() >= 5  # against random draws, unplanted queries get flagged too
    flagged = set(tested.index[tested.rejected_control])
    assert set(range(5)) <= flagged and len(flagged) <= 6  # against the controls: the planted, at most one more
    assert (tested.loc[list(range(5)), "top_group"] == 3).all()
    assert table[table.control].p_control.isna().all() and not table[table.control].rejected_control.any()
    with pytest.raises(ValueError, match="controls"):
        audit.retrieval_audit(similarity, list(range(n_queries)), {"g": groups}, four, ks=(25,),
                              controls=np.arange(n_queries) == 0)
