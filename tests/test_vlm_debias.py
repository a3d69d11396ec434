"""Debiasing kernels (chapter 8 groundwork): projections, Orth-Cal's closed form, Bend-VLM against SLSQP, AUC."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from support.vlm import debias


def unit(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(*shape, generator=g, dtype=torch.float64), dim=-1)


def test_the_projector_is_symmetric_idempotent_and_kills_its_span():
    span = unit(3, 10)
    p = debias.projector_out(span)
    assert torch.allclose(p, p.T, atol=1e-10) and torch.allclose(p @ p, p, atol=1e-10)
    assert torch.allclose(span @ p, torch.zeros(3, 10, dtype=torch.float64), atol=1e-10)
    out = debias.orth_proj(unit(5, 10, seed=1), span)
    assert torch.allclose(out @ span.T, torch.zeros(5, 3, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(out.norm(dim=-1), torch.ones(5, dtype=torch.float64))


def test_orth_cal_is_the_minimiser_of_its_objective():
    """P* = P0 (I + lambda/|S| sum d d^T)^-1 minimises ||P - P0||_F^2 + lambda/|S| sum ||P d||^2 (zero gradient)."""
    d, spurious, a, b = 8, unit(2, 8), unit(4, 8, seed=1), unit(4, 8, seed=2)
    lam = 5.0
    p0 = debias.projector_out(spurious)
    diff = a - b
    p_star = p0 @ torch.linalg.inv(torch.eye(d, dtype=torch.float64) + lam / 4 * diff.T @ diff)
    gradient = 2 * (p_star - p0) + 2 * lam / 4 * p_star @ diff.T @ diff
    assert gradient.abs().max() < 1e-10
    queries = unit(3, 8, seed=3)
    assert torch.allclose(debias.orth_cal(queries, spurious, a, b, lam),
                          torch.nn.functional.normalize(queries @ p_star.T, dim=-1), atol=1e-10)


def test_step1_leaves_the_query_orthogonal_to_the_removed_span():
    queries, generic, augmented = unit(4, 12), unit(2, 12, seed=1), unit(4, 3, 12, seed=2)
    out = debias.step1(queries, generic, augmented)
    centred = augmented - augmented.mean(1, keepdim=True)
    assert (out @ generic.T).abs().max() < 1e-9
    assert torch.einsum("qd,qad->qa", out, centred).abs().max() < 1e-9
    assert torch.allclose(out.norm(dim=-1), torch.ones(4, dtype=torch.float64))


def test_the_closed_form_equals_slsqp_and_equalises_the_group_means():
    for seed in range(5):
        queries, means = unit(6, 16, seed=seed), unit(6, 3, 16, seed=seed + 100)
        closed = debias.equalize_closed_form(queries, means)
        products = torch.einsum("qd,qgd->qg", closed, means)
        assert (products - products[:, :1]).abs().max() < 1e-9
        for i in range(len(queries)):
            reference = debias.equalize_slsqp(queries[i].numpy(), means[i].numpy())
            assert float(closed[i] @ torch.from_numpy(reference)) > 1 - 1e-6


def test_group_means_by_brute_force():
    queries, references = unit(3, 6), unit(20, 6, seed=1)
    groups = torch.tensor([0, 1] * 10)
    means = debias.group_means(queries, references, groups, 2, m=3)
    for q in range(3):
        for g in range(2):
            members = [r for r in range(20) if groups[r] == g]
            best = sorted(members, key=lambda r: -float(queries[q] @ references[r]))[:3]
            assert torch.allclose(means[q, g], references[best].mean(0))
    with pytest.raises(ValueError, match="m=11"):
        debias.group_means(queries, references, groups, 2, m=11)


def test_bend_vlm_steps_compose():
    queries, generic, augmented = unit(4, 12), unit(2, 12, seed=1), unit(4, 2, 12, seed=2)
    references, groups = unit(30, 12, seed=3), torch.arange(30) % 2
    both = debias.bend_vlm(queries, generic, augmented, references, groups, 2, m=5)
    first = debias.step1(queries, generic, augmented)
    by_hand = debias.equalize_closed_form(first, debias.group_means(first, references, groups, 2, 5))
    assert torch.allclose(both, by_hand)
    with pytest.raises(ValueError, match="steps"):
        debias.bend_vlm(queries, generic, augmented, references, groups, 2, m=5, steps="three")


def test_auc_and_worst_group_auc_by_brute_force():
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=(4, 60)), 1)  # ties on purpose; four queries batched
    positive, groups = rng.random((4, 60)) < 0.4, rng.integers(0, 3, 60)

    def brute(s, p):
        pairs = [(1.0 if a > b else 0.5 if a == b else 0.0) for a in s[p] for b in s[~p]]
        return float(np.mean(pairs))

    assert debias.auc(scores[0], positive[0]) == pytest.approx(brute(scores[0], positive[0]))
    worst = [min(brute(s[groups == g], p[groups == g]) for g in range(3)) for s, p in zip(scores, positive)]
    assert debias.worst_group_auc(scores, positive, groups) == pytest.approx(worst)


def test_retrieval_metrics_by_hand():
    similarity = np.array([[0.9, 0.8, 0.1, 0.2], [0.1, 0.2, 0.9, 0.8]])
    groups = np.array([0, 0, 1, 1])  # prior 1/2 each
    classes = np.array([5, 6, 5, 6])
    table = debias.retrieval_metrics(similarity, groups, 2, k=2, query_classes=np.array([5, 6]),
                                     item_classes=classes)
    assert table.max_skew.tolist() == pytest.approx([np.log(2), np.log(2)])  # both top-2 sets are one group
    assert table.kl.tolist() == pytest.approx([np.log(2), np.log(2)])
    assert table.precision.tolist() == [0.5, 0.5]  # query 0 retrieves items 0 (class 5) and 1 (class 6)
    # within group 0, query 0 ranks its class-5 item above the class-6 one (AUC 1); within group 1 below (0)
    assert table.worst_group_auc.tolist() == [0.0, 0.0]
    balanced = debias.retrieval_metrics(np.array([[0.9, 0.1, 0.8, 0.2]]), groups, 2, k=2)
    assert balanced.max_skew.tolist() == pytest.approx([0.0]) and list(balanced.columns) == ["max_skew", "kl"]


def test_debias_dispatches_to_each_method_and_rejects_unknown_names():
    generator = torch.Generator().manual_seed(3)

    def unit(*shape):
        return torch.nn.functional.normalize(torch.randn(*shape, generator=generator), dim=-1)

    queries, references = unit(5, 16), unit(40, 16)
    groups = torch.arange(40) % 2
    prompts = debias.DebiasPrompts(generic=unit(2, 16), augmented=unit(5, 2, 16), pairs_a=unit(6, 16),
                                   pairs_b=unit(6, 16))
    expected = {
        "vanilla": queries,
        "orth_proj": debias.orth_proj(queries, prompts.generic),
        "orth_cal": debias.orth_cal(queries, prompts.generic, prompts.pairs_a, prompts.pairs_b, 1000.0),
        "step1": debias.step1(queries, prompts.generic, prompts.augmented),
        "step2": debias.bend_vlm(queries, prompts.generic, prompts.augmented, references, groups, 2, 5, "step2"),
        "bend_vlm": debias.bend_vlm(queries, prompts.generic, prompts.augmented, references, groups, 2, 5),
    }
    assert set(expected) == set(debias.METHODS)
    for method, want in expected.items():
        assert torch.allclose(debias.debias(method, queries, prompts, references, groups, 2, 5), want, atol=1e-6)
    with pytest.raises(ValueError, match="method"):
        debias.debias("fair", queries, prompts, references, groups, 2, 5)


def test_splits_halve_the_items_into_disjoint_reference_and_target_sets():
    splits = debias.reference_target_splits(11, folds=3, seed=1)
    assert len(splits) == 3
    for reference, target in splits:
        assert len(reference) == 5 and len(target) == 6
        assert sorted(np.concatenate([reference, target]).tolist()) == list(range(11))
    assert not np.array_equal(splits[0][0], splits[1][0])  # each fold draws its own halving


def test_solver_comparison_reports_agreeing_answers_and_positive_times():
    row = debias.step2_solver_comparison(n_queries=3, dim=12, n_groups=3, seed=2, repeats=1)
    assert row["min_cosine"] > 1 - 1e-6  # the closed form and SLSQP land on the same vector
    assert row["closed_form_s"] > 0 and row["slsqp_s"] > 0 and row["groups"] == 3 and row["dim"] == 12
