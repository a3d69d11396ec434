"""The shared intervals and exact tests, against values computed by hand."""

from __future__ import annotations

import math

import numpy as np

import pytest

from support import stats


def test_clopper_pearson_by_hand():
    low, high = stats.rate_interval(0, 10)
    assert low == 0 and high == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-6)  # 0.3085
    low, high = stats.rate_interval(10, 10)
    assert high == 1 and low == pytest.approx(0.025 ** (1 / 10), rel=1e-6)
    assert all(math.isnan(v) for v in stats.rate_interval(0, 0))


def test_fisher_exact_by_hand():
    # [[3, 0], [0, 3]]: the observed table and the equally extreme one have 1/20 each
    assert stats.fisher_p(3, 3, 0, 3) == pytest.approx(0.1)
    assert stats.fisher_p(6, 128, 3, 128) == pytest.approx(0.4991, abs=1e-3)  # "halved" at n = 128 is no evidence


def test_rate_columns_and_mean_interval():
    row = stats.rate_columns(3, 128)
    assert row["violations_%"] == pytest.approx(100 * 3 / 128) and row["violations_n"] == 3
    assert row["violations_lo_%"] < row["violations_%"] < row["violations_hi_%"]
    assert stats.mean_interval([1.0, 2.0, 3.0]) == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    assert math.isnan(stats.mean_interval([1.0]))


def test_mcnemar_exact_by_hand():
    # 10 items right only in the first, 2 only in the second, 8 right in both, 5 wrong in both
    first = [True] * 10 + [False] * 2 + [True] * 8 + [False] * 5
    second = [False] * 10 + [True] * 2 + [True] * 8 + [False] * 5
    # two-sided exact: 2 * P(X <= 2 | n = 12, p = 1/2) = 2 * (1 + 12 + 66) / 4096
    assert stats.mcnemar_p(first, second) == pytest.approx(2 * 79 / 4096)
    assert stats.mcnemar_p(first, first) == 1.0
    with pytest.raises(ValueError, match="same shape"):
        stats.mcnemar_p([True, False], [True])


def test_paired_gap_interval_brackets_the_mean_gap():
    first = [1] * 30 + [0] * 10
    second = [1] * 20 + [0] * 20
    gap, low, high = stats.paired_gap_interval(first, second, resamples=500, seed=0)
    assert gap == pytest.approx(0.25) and low < gap < high and high - low < 0.4
    assert stats.paired_gap_interval(first, first, resamples=50) == (0.0, 0.0, 0.0)


def test_benjamini_hochberg_by_hand():
    from support.stats import benjamini_hochberg

    # m = 5, q = 0.1: thresholds .02 .04 .06 .08 .10; sorted p .01 .03 .07 .075 .5 -> k = 4 (.075 <= .08),
    # so .07 is rejected although it is above its own threshold .06 (step-up)
    p = [0.075, 0.5, 0.01, 0.07, 0.03]
    assert benjamini_hochberg(p, 0.1).tolist() == [True, False, True, True, True]
    assert benjamini_hochberg(p, 0.01).tolist() == [False, False, False, False, False]  # .01 > .01 * 1 / 5
    assert benjamini_hochberg([0.001], 0.05).tolist() == [True]
    assert benjamini_hochberg([], 0.1).tolist() == []
    with pytest.raises(ValueError, match="p-values"):
        benjamini_hochberg([0.1, float("nan")])


def test_benjamini_hochberg_agrees_with_scipys_adjusted_p_values():
    from scipy.stats import false_discovery_control

    from support.stats import benjamini_hochberg

    rng = np.random.default_rng(0)
    for _ in range(20):
        p = np.concatenate([rng.uniform(size=30), rng.uniform(0, 0.01, size=int(rng.integers(0, 10)))])
        for q in (0.05, 0.1, 0.2):
            assert (benjamini_hochberg(p, q) == (false_discovery_control(p) <= q)).all()
