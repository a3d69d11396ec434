"""Known answers for the editors' closed forms, MPES and the scores (no model needed)."""

import itertools

import numpy as np
import pytest
import torch

from support.editing import (
    alphaedit_delta,
    memit_delta,
    mpes_should_stop,
    null_space_projector,
)
from support.editing.metrics import generation_entropy, harmonic_mean, ngram_entropy


def _problem(seed=0, d_in=12, d_out=7, b=4, p=5):
    g = torch.Generator().manual_seed(seed)
    keys = torch.randn(d_in, b, generator=g, dtype=torch.float64)
    resid = torch.randn(d_out, b, generator=g, dtype=torch.float64)
    a = torch.randn(d_in, 3 * d_in, generator=g, dtype=torch.float64)
    c0 = a @ a.T / (3 * d_in)
    prev = torch.randn(d_in, p, generator=g, dtype=torch.float64)
    return keys, resid, c0, prev


def _lstsq(blocks):
    """min_dW sum ||dW X_i - Y_i||^2 by stacking: dW [X_1 .. X_n] = [Y_1 .. Y_n]."""
    x = torch.cat([b[0] for b in blocks], 1)
    y = torch.cat([b[1] for b in blocks], 1)
    return torch.linalg.lstsq(x.T, y.T).solution.T


@pytest.mark.parametrize("lam_n", [0.0, 3.0])
def test_memit_and_encore_equal_least_squares(lam_n):
    keys, resid, c0, prev = _problem()
    lam_p = 2.5
    root = torch.linalg.cholesky(c0)  # C0 = L L^T, so ||dW L||^2 = tr(dW C0 dW^T)
    d_out, d_in = resid.shape[0], keys.shape[0]
    blocks = [(keys, resid), (lam_p ** 0.5 * root, torch.zeros(d_out, d_in, dtype=torch.float64)),
              (prev, torch.zeros(d_out, prev.shape[1], dtype=torch.float64))]
    if lam_n:
        blocks.append((lam_n ** 0.5 * torch.eye(d_in, dtype=torch.float64), torch.zeros(d_out, d_in, dtype=torch.float64)))
    expected = _lstsq(blocks)
    got = memit_delta(keys, resid, c0, prev @ prev.T, lam_p, lam_n)
    torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-10)


def test_rome_writes_the_key_exactly_with_the_smallest_c0_weighted_change():
    from support.editing.rome import rome_delta

    keys, resid, c0, _ = _problem(4)
    k, r = keys[:, 0], resid[:, 0]
    delta = rome_delta(k, r, c0)
    torch.testing.assert_close(delta @ k, r, rtol=1e-10, atol=1e-12)  # W' k* = W k* + (v* - W k*) = v*
    assert int(torch.linalg.matrix_rank(delta)) == 1

    def cost(d):
        return float(torch.trace(d @ c0 @ d.T))

    g = torch.Generator().manual_seed(5)
    for _ in range(20):  # any other change that also maps k to r costs more in tr(dW C0 dW^T)
        e = torch.randn(*delta.shape, generator=g, dtype=torch.float64)
        e = e - torch.outer(e @ k, k) / (k @ k)  # e k = 0: still feasible
        assert cost(delta + 0.1 * e) > cost(delta)
    # MEMIT with one key and lam_p -> 0 is ROME (Sherman-Morrison)
    torch.testing.assert_close(memit_delta(k[:, None], r[:, None], c0, None, lam_p=1e-9), delta, rtol=1e-4, atol=1e-6)


def test_norm_penalty_to_infinity_drives_update_to_zero():
    keys, resid, c0, prev = _problem(1)
    norms = [float(memit_delta(keys, resid, c0, prev @ prev.T, 1.0, lam).norm()) for lam in (0, 10, 1e3, 1e6, 1e9)]
    assert all(a > b for a, b in itertools.pairwise(norms))
    assert norms[-1] < 1e-6 * norms[0]


def test_alphaedit_equals_projected_least_squares_and_spares_preserved_keys():
    keys, resid, _, prev = _problem(2)
    d_in = keys.shape[0]
    g = torch.Generator().manual_seed(3)
    basis = torch.linalg.qr(torch.randn(d_in, d_in, generator=g, dtype=torch.float64)).Q
    spectrum = torch.tensor([5.0, 3.0, 2.0, 1.0, 0.5, 0.3, 0.2, 0.1] + [1e-4] * (d_in - 8), dtype=torch.float64)
    c0 = basis @ torch.diag(spectrum) @ basis.T
    proj = null_space_projector(c0, threshold=2e-2)
    assert int(torch.linalg.matrix_rank(proj)) == d_in - 8
    # relative to the largest eigenvalue (5): below 0.05 x 5 = 0.25 lie 0.2, 0.1 and the 1e-4s
    assert int(torch.linalg.matrix_rank(null_space_projector(c0, 0.05, relative=True))) == d_in - 6
    torch.testing.assert_close(null_space_projector(100 * c0, 0.05, relative=True),  # scale-free
                               null_space_projector(c0, 0.05, relative=True))
    alpha = 10.0
    got = alphaedit_delta(keys, resid, proj, prev @ prev.T, alpha)
    # minimise over D: ||D P K - R||^2 + ||D P K_p||^2 + alpha ||D P||^2; the update is D P
    d_out = resid.shape[0]
    blocks = [(proj @ keys, resid), (proj @ prev, torch.zeros(d_out, prev.shape[1], dtype=torch.float64)),
              (alpha ** 0.5 * proj, torch.zeros(d_out, d_in, dtype=torch.float64))]
    expected = _lstsq(blocks) @ proj
    torch.testing.assert_close(got, expected, rtol=1e-7, atol=1e-9)
    preserved = basis[:, :8] @ torch.randn(8, 20, generator=g, dtype=torch.float64)  # keys C0 has seen
    assert float((got @ preserved).abs().max()) < 1e-9 * float(preserved.abs().max())
    assert float((got @ keys).abs().max()) > 1e-3  # the new keys do move


def test_mpes_counter_stops_at_the_m_plus_first_all_top1_check():
    script = torch.tensor([[0, 1, 0, 1, 1, 1],   # top-1 reached at checks 2, 4, 5, 6
                           [1, 1, 1, 1, 1, 1],   # from the start
                           [0, 0, 0, 0, 0, 0]])  # never
    for extra, expected in ((0, [1, 0, None]), (2, [4, 2, None])):
        counter = torch.zeros(3, dtype=torch.long)
        stopped_at = [None] * 3
        for step in range(script.shape[1]):
            stop, counter = mpes_should_stop(script[:, step].bool(), counter, extra)
            for row in range(3):
                if stop[row] and stopped_at[row] is None:
                    stopped_at[row] = step
        assert stopped_at == expected


def test_harmonic_mean_of_the_paper_example():
    assert harmonic_mean([81.04, 64.67, 60.95]) == pytest.approx(67.86, abs=0.01)
    assert harmonic_mean([50.0, 0.0, 90.0]) == 0.0


def test_kl_term_is_kl_of_the_edited_from_the_unedited_distribution():
    from support.editing.compute import kl_from_unedited

    now, init = torch.tensor([[0.7, 0.2, 0.1]]).log(), torch.tensor([[0.4, 0.4, 0.2]]).log()
    by_hand = 0.7 * np.log(0.7 / 0.4) + 0.2 * np.log(0.2 / 0.4) + 0.1 * np.log(0.1 / 0.2)  # sum p_now log(p_now/p_init)
    assert float(kl_from_unedited(now, init)[0]) == pytest.approx(by_hand, rel=1e-6)
    assert float(kl_from_unedited(init, now)[0]) != pytest.approx(by_hand, rel=1e-2)  # the other direction differs


def test_ngram_entropy_by_hand():
    assert ngram_entropy("a b a b", 2) == pytest.approx(-(2 / 3) * np.log2(2 / 3) - (1 / 3) * np.log2(1 / 3))
    assert ngram_entropy("x x x x", 3) == 0.0
    text = "the cat sat on the mat"  # 5 distinct bigrams, 4 distinct trigrams
    # ROME's compute_n_gram_entropy: np.mean([2/3 * H2, 4/3 * H3]) (the weighted terms averaged, not summed)
    assert generation_entropy([text]) == pytest.approx(((2 / 3) * np.log2(5) + (4 / 3) * np.log2(4)) / 2)
    assert generation_entropy([text, "x x x x"]) == pytest.approx(((2 / 3) * np.log2(5) + (4 / 3) * 2) / 4)


def test_bad_parameters_name_what_is_valid():
    from support.editing import Method
    from support.encore import study
    from support.profiles import resolve

    assert resolve("local", study.PARAMS, layers="4,5,6").layers == (4, 5, 6)
    with pytest.raises(ValueError, match="layers: item 'a' is not a int"):
        resolve("local", study.PARAMS, layers="a,b")
    with pytest.raises(ValueError, match="lam_p_grid: item 'x' is not a float"):
        resolve("local", study.PARAMS, lam_p_grid="x")
    with pytest.raises(ValueError, match="Method.kind"):
        Method("bad", "ike")
    with pytest.raises(ValueError, match="lam_n"):
        Method("bad", "memit", lam_n=-1.0)


def test_phase_profile_by_hand():
    import pandas as pd

    from support.encore.study import phase_profile, score_sample

    batches = pd.DataFrame({"method": ["A", "A", "B"], "batch": [0, 1, 0], "z_steps": [10.0, 20.0, 5.0],
                            "t_z": [1.0, 3.0, 0.5], "t_keys": [0.2, 0.2, 0.2], "t_solve": [0.1, 0.1, 0.1]})
    checkpoints = pd.DataFrame({"method": ["A", "A", "B"], "edits": [0, 200, 100], "seconds": [1.0, 3.0, 0.4]})
    table = phase_profile(batches, checkpoints, batch_size=100)
    assert table.loc["A", "t_z"] == pytest.approx(20.0)  # mean 2 s per batch of 100 edits
    assert table.loc["A", "total"] == pytest.approx(23.0) and table.loc["B", "total"] == pytest.approx(8.0)
    assert table.loc["A", "ms_per_z_step"] == pytest.approx(20.0 / 15)
    assert table.loc["A", "checkpoint_ms_per_edit"] == pytest.approx(4.0 * 1000 / 200)
    assert score_sample(12, 5).tolist() == [0, 5, 10]


def test_lam_n_unit_keeps_the_papers_ratio():
    from support.encore.study import lam_n_unit

    assert lam_n_unit(15000.0) == pytest.approx(20.0) and lam_n_unit(150.0) == pytest.approx(0.2)


def test_headline_verdict_names_what_held_and_what_did_not():
    from support.encore.study import headline_verdict

    sentence = headline_verdict({"S above MEMIT's": False, "norm growth below MEMIT's": True, "recall": None})
    assert sentence == ("Of the paper's claims, held: ENCORE's norm growth below MEMIT's, "
                        "and did not hold: ENCORE's S above MEMIT's, and could not be told apart: ENCORE's recall.")


def test_long_run_verdicts_do_not_count_a_recall_gap_chance_explains():
    import pandas as pd

    from support.encore.study import long_run_verdicts

    def end(encore_recall):
        return pd.DataFrame({"S": [54.0, 53.5], "ES": [55.0, 53.0], "NS": [53.0, 57.0], "n_scored": [2000, 2000],
                             "probe_recall": [0.10, encore_recall], "heldout_loss": [5.4, 4.9],
                             "norm_ratio": [3.0, 2.3]}, index=["MEMIT", "ENCORE"])

    before = {"probe_recall": 0.98, "heldout_loss": 4.46}
    assert "could not be told apart: ENCORE's recall" in long_run_verdicts(end(0.12), before)["verdict_headline"]
    assert "held: ENCORE's held-out loss below MEMIT's; its recall" in long_run_verdicts(
        end(0.30), before)["verdict_headline"]
