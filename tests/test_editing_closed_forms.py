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


def test_ngram_entropy_by_hand():
    assert ngram_entropy("a b a b", 2) == pytest.approx(-(2 / 3) * np.log2(2 / 3) - (1 / 3) * np.log2(1 / 3))
    assert ngram_entropy("x x x x", 3) == 0.0
    text = "the cat sat on the mat"  # 5 distinct bigrams, 4 distinct trigrams
    assert generation_entropy([text]) == pytest.approx((2 / 3) * np.log2(5) + (4 / 3) * np.log2(4))


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
        Method("bad", "rome")
    with pytest.raises(ValueError, match="lam_n"):
        Method("bad", "memit", lam_n=-1.0)
