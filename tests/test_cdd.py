"""Chapter 1 (constrained discrete diffusion): reverse step, projection vs cvxpy, counters, novelty, SMILES."""

from __future__ import annotations

import itertools
from dataclasses import replace
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from support import models
from support.cdd import constraints as C
from support.cdd import diffusion, metrics, projection
from support.cdd.projection import ALMSettings, cvxpy_projection, kl_projection, project_each
from support.cdd.molecules import encode, molecule_rows, molecule_tokens, to_smiles


class RandomDenoiser(torch.nn.Module):
    """A stand-in denoiser with fixed random logits per (position, token): enough to test the sampler's bookkeeping."""

    def __init__(self, seq_len: int, vocab: int, seed: int = 0):
        super().__init__()
        self.logits = torch.randn(seq_len, vocab, generator=torch.Generator().manual_seed(seed)) * 2

    def forward(self, input_ids):
        return SimpleNamespace(logits=self.logits[: input_ids.shape[1]].expand(input_ids.shape[0], -1, -1).clone())


class CountingDenoiser(torch.nn.Module):
    """A stand-in denoiser whose logits depend on each row's tokens (a per-position base plus the row's token counts)."""

    def __init__(self, seq_len: int, vocab: int, seed: int = 0):
        super().__init__()
        self.base = torch.randn(seq_len, vocab, generator=torch.Generator().manual_seed(seed))
        self.rows_seen = 0

    def forward(self, input_ids):
        self.rows_seen += input_ids.shape[0]
        counts = torch.nn.functional.one_hot(input_ids, self.base.shape[1]).sum(1, keepdim=True).float()
        return SimpleNamespace(logits=self.base[: input_ids.shape[1]] + 0.7 * counts)


def random_simplex(shape, seed, concentration=1.0):
    """Random probability vectors along the last axis."""
    gen = torch.Generator().manual_seed(seed)
    x = (-torch.rand(shape, generator=gen).log()) ** (1 / concentration)
    return (x / x.sum(-1, keepdim=True)).double()


# --------------------------------------------------------------------------- reverse process

def test_reverse_step_sums_to_one_and_keeps_decoded_positions():
    vocab, mask = 7, 6
    x_theta = random_simplex((3, 5, vocab), 0)
    x_theta[..., mask] = 0
    x_theta = x_theta / x_theta.sum(-1, keepdim=True)
    noisy = torch.tensor([[6, 1, 6, 2, 6], [0, 6, 6, 6, 3], [6, 6, 6, 6, 6]])
    probs = diffusion.reverse_step_probs(x_theta, noisy, mask, t=0.8, s=0.6)
    torch.testing.assert_close(probs.sum(-1), torch.ones(3, 5, dtype=probs.dtype))
    decoded = noisy != mask
    assert torch.equal(probs[decoded].argmax(-1), noisy[decoded]) and torch.all(probs[decoded].max(-1).values == 1)
    # masked: stays masked with (1 - alpha_s)/(1 - alpha_t) = 0.6 / 0.8, unmasks to v with 0.2/0.8 x_theta(v)
    assert torch.allclose(probs[~decoded][:, mask], torch.tensor(0.75, dtype=probs.dtype))
    torch.testing.assert_close(probs[~decoded][:, :mask], x_theta[~decoded][:, :mask] * 0.25)
    last = diffusion.reverse_step_probs(x_theta, noisy, mask, t=0.1, s=0.0)
    assert torch.all(last[..., mask] == 0)  # the last step decodes everything


def test_reverse_step_draw_has_the_law_of_reverse_step_probs():
    vocab, mask = 5, 4
    x_theta = random_simplex((1, 3, vocab), 1)
    x_theta[..., mask] = 0
    x_theta = x_theta / x_theta.sum(-1, keepdim=True)
    noisy = torch.tensor([[4, 2, 4]])
    expected = diffusion.reverse_step_probs(x_theta, noisy, mask, t=0.7, s=0.4)[0]
    draws = 40_000
    generator = torch.Generator().manual_seed(0)
    rows = diffusion.reverse_step_draw(x_theta.expand(draws, -1, -1), noisy.expand(draws, -1), mask, 0.7, 0.4,
                                       generator)
    freq = torch.stack([torch.bincount(rows[:, pos], minlength=vocab) for pos in range(3)]).double() / draws
    assert torch.all(rows[:, 1] == 2)  # a decoded position never changes
    # every frequency within 4.5 standard errors of its probability (binomial)
    se = (expected * (1 - expected) / draws).sqrt().clamp_min(1e-9)
    assert torch.all((freq - expected).abs() <= 4.5 * se + 1e-12)
    last = diffusion.reverse_step_draw(x_theta, noisy, mask, 0.1, 0.0, generator)
    assert torch.all(last != mask)  # the last step decodes everything


def test_subs_probs_forbid_mask_and_copy_decoded():
    model = RandomDenoiser(6, 9)
    noisy = torch.tensor([[8, 3, 8, 8, 0, 8]])
    probs = diffusion.clean_token_probs(model, noisy, mask_id=8)
    assert torch.all(probs[..., 8] == 0)
    assert probs[0, 1, 3] == 1 and probs[0, 4, 0] == 1
    torch.testing.assert_close(probs.sum(-1), torch.ones(1, 6))


def test_sampler_never_changes_decoded_positions_and_keeps_the_prefix():
    vocab, mask, length = 9, 8, 12
    model = RandomDenoiser(length, vocab, seed=3)
    prefix = torch.tensor([[1, 2, 3]] * 4)
    ids, trace = diffusion.sample(model, 4, length, steps=6, mask_id=mask, prefix=prefix, seed=0, record=4)
    assert torch.all(ids != mask) and torch.equal(ids[:, :3], prefix)
    for before, after in zip(trace.states, trace.states[1:]):
        kept = before != mask
        assert torch.equal(after[kept], before[kept])
    again, _ = diffusion.sample(model, 4, length, steps=6, mask_id=mask, prefix=prefix, seed=0)
    assert torch.equal(ids, again)  # same seed, same samples


def test_reusing_unchanged_rows_gives_the_same_samples_with_fewer_denoiser_rows():
    """The denoiser reads no time, so a row no step changed keeps its x_theta: same draws, fewer denoiser rows."""
    from support.cdd.projection import projector

    length, vocab, batch, steps = 12, 9, 16, 24
    must = torch.zeros(vocab)
    must[5] = 1
    con = C.ExpectedCount(must, C.region_mask(length), low=3)
    for projected in (False, True):
        runs = {}
        for reuse in (False, True):
            model = CountingDenoiser(length, vocab, seed=5)
            kwargs = {"project": projector(con, ALMSettings(), True), "feasible": con.hard,  # fresh warm state
                      "commit_projected": True} if projected else {}
            ids, trace = diffusion.sample(model, batch, length, steps, vocab - 1, seed=3, reuse_unchanged=reuse,
                                          **kwargs)
            assert trace.denoised_rows == model.rows_seen
            runs[reuse] = (ids, trace.denoised_rows)
        assert torch.equal(runs[True][0], runs[False][0])
        assert runs[False][1] == batch * steps and runs[True][1] < 0.8 * batch * steps, runs


def test_projection_in_place_gives_the_same_samples_as_a_copy():
    """A projector writing into the cached x_theta makes the sampler re-run those rows: same samples as copying."""
    from support.cdd.projection import projector

    length, vocab, batch, steps = 12, 9, 16, 24
    must = torch.zeros(vocab)
    must[5] = 1
    con = C.ExpectedCount(must, C.region_mask(length), low=3)
    runs = {}
    for inplace in (False, True):
        model = CountingDenoiser(length, vocab, seed=5)
        ids, trace = diffusion.sample(model, batch, length, steps, vocab - 1, seed=3, feasible=con.hard,
                                      project=projector(con, ALMSettings(), True, inplace=inplace))
        runs[inplace] = (ids, trace)
    assert torch.equal(runs[True][0], runs[False][0]) and runs[True][1].projected_rows > 0
    # the overwritten rows cost denoiser passes the copy did not need
    assert runs[True][1].denoised_rows > runs[False][1].denoised_rows


def test_categorical_draw_never_draws_a_zero_probability_token():
    probs = torch.tensor([[0.0, 0.5, 0.5, 0.0], [0.0, 0.5, 0.5, 0.0], [0.2, 0.0, 0.0, 0.8]])
    u = torch.tensor([0.0, 1.0 - 2.0 ** -24, 0.2])  # the lowest uniform, the highest below 1, a tie at a cdf step
    assert diffusion.categorical_draw(probs, u).tolist() == [1, 2, 3]
    # a row whose cdf rounds short of u * total lands past the end and falls back to its most likely token
    assert diffusion.categorical_draw(torch.tensor([[0.3, 0.7, 0.0]]), torch.tensor([1.0])).tolist() == [1]


def test_sampler_draws_of_a_row_do_not_depend_on_what_other_rows_hold():
    length, vocab, steps = 10, 9, 10
    model = CountingDenoiser(length, vocab, seed=2)  # each row's logits read that row's tokens
    prefix = torch.tensor([[1, 2], [3, 4]])
    other = torch.tensor([[1, 2], [6, 7]])
    first, _ = diffusion.sample(model, 2, length, steps, vocab - 1, prefix=prefix, seed=4)
    second, _ = diffusion.sample(model, 2, length, steps, vocab - 1, prefix=other, seed=4)
    assert torch.equal(first[0], second[0]) and not torch.equal(first[1], second[1])


def test_head_on_masked_positions_only_equals_the_whole_model():
    """ModernBERT's head run on the masked positions only gives the same x_theta as running the whole MLM."""
    from transformers import ModernBertConfig, ModernBertForMaskedLM

    torch.manual_seed(0)
    model = ModernBertForMaskedLM(ModernBertConfig(vocab_size=12, hidden_size=32, num_hidden_layers=2,
                                                   num_attention_heads=2, intermediate_size=64,
                                                   max_position_embeddings=10, pad_token_id=0, bos_token_id=0,
                                                   eos_token_id=0, cls_token_id=0, sep_token_id=0,
                                                   mask_token_id=11)).eval()
    noisy = torch.randint(0, 11, (5, 10), generator=torch.Generator().manual_seed(1))
    noisy[torch.rand(5, 10, generator=torch.Generator().manual_seed(2)) < 0.5] = 11
    whole = model(input_ids=noisy).logits.float()
    whole[..., 11] = float("-inf")
    expected = torch.softmax(whole, -1)
    decoded = noisy != 11
    expected[decoded] = torch.nn.functional.one_hot(noisy[decoded], 12).float()
    torch.testing.assert_close(diffusion.clean_token_probs(model, noisy, 11), expected, atol=1e-6, rtol=1e-5)
    # the refresh writes the same values into a cache row by row
    cache = torch.full_like(expected, 7.0)
    diffusion.write_clean_token_probs(model, noisy, 11, cache, torch.tensor([1, 3]))
    torch.testing.assert_close(cache[[1, 3]], expected[[1, 3]], atol=1e-6, rtol=1e-5)
    assert torch.all(cache[[0, 2, 4]] == 7.0)


def test_masked_diffusion_loss_by_hand():
    vocab, mask = 5, 4
    logits = torch.zeros(1, 2, vocab)  # uniform over the 4 non-mask tokens after SUBS
    clean = torch.tensor([[0, 2]])
    is_masked = torch.tensor([[True, False]])
    t = torch.tensor([0.5])
    loss = models.masked_diffusion_loss(logits, clean, is_masked, t, mask)
    assert loss.item() == pytest.approx(math.log(4) / 0.5 / 2)


# --------------------------------------------------------------------------- projection

#: The projection in exact mode (no Gumbel noise): agrees with cvxpy to ~3e-5 on these instances.
EXACT = ALMSettings(outer_steps=25, inner_steps=40, lr=0.1, mu_rate=1.3, mu_max=1e4, lr_decay=0.85, deterministic=True)


def _count(weights, low=None, high=None, length=3):
    return C.ExpectedCount(torch.tensor(weights, dtype=torch.float64), C.region_mask(length).double(), low, high)


def test_projection_returns_input_when_already_feasible():
    x = random_simplex((2, 3, 4), 1)
    con = _count([0.0, 0.0, 0.0, 1.0], high=10)  # at most 10 of token 3 in 3 positions: always true
    y, info = kl_projection(x, torch.ones(2, 3, dtype=torch.bool), con, ALMSettings())
    assert info["changed"] == 0 and y is x  # returned as given, not copied
    assert torch.equal(info["top_in"], x.argmax(-1)) and torch.equal(info["top_out"], info["top_in"])
    y, info = kl_projection(x, torch.ones(2, 3, dtype=torch.bool), con, ALMSettings(deterministic=True))
    assert info["changed"] == 0 and torch.allclose(y, x)


@pytest.mark.parametrize("seed", range(4))
def test_alm_reaches_the_cvxpy_kl_projection(seed):
    """Convex cases (expected counts in a box, an upper bound, banned-token mass): y within 1e-3 of cvxpy's.

    Measured on these seeds: max |y - y*| <= 2.3e-4, constraint violation <= 8e-4 (the banned-mass
    case is the hardest: its KL is within 0.6%).
    """
    length, vocab = 3, 6
    gen = torch.Generator().manual_seed(seed)
    x = random_simplex((1, length, vocab), 10 + seed)
    a = torch.rand(vocab, generator=gen, dtype=torch.float64) * 2
    expected = float((x[0] @ a).sum())
    banned = torch.zeros(vocab, dtype=torch.float64)
    banned[:2] = 1
    cases = [(a, expected + 0.6, expected + 1.2), (a, None, expected - 0.5), (banned, None, 0.05)]
    settings = EXACT
    for weights, low, high in cases:
        con = C.ExpectedCount(weights, C.region_mask(length).double(), low, high)
        y, _ = kl_projection(x, torch.ones(1, length, dtype=torch.bool), con, settings)
        reference = cvxpy_projection(x[0].numpy(), [np.tile(weights.numpy(), (length, 1))], [(low, high)])
        kl = lambda q: float(np.sum(x[0].numpy() * np.log(x[0].numpy() / np.clip(q, 1e-300, None))))  # noqa: E731
        assert np.abs(y[0].numpy() - reference).max() < 1e-3, (low, high)
        assert kl(y[0].numpy()) == pytest.approx(kl(reference), rel=1e-2)
        assert float(con.violation(y).max()) < 1e-3


def test_alm_matches_cvxpy_with_a_decoded_position():
    length, vocab = 3, 5
    x = random_simplex((1, length, vocab), 42)
    x[0, 1] = torch.nn.functional.one_hot(torch.tensor(4), vocab).double()  # decoded position
    free = torch.tensor([[True, False, True]])
    w = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    con = C.ExpectedCount(w, C.region_mask(length).double(), low=2.5)
    settings = EXACT
    y, _ = kl_projection(x, free, con, settings)
    reference = cvxpy_projection(x[0].numpy(), [np.tile(w.numpy(), (length, 1))], [(2.5, None)], free[0].numpy())
    assert torch.equal(y[0, 1], x[0, 1])
    assert np.abs(y[0].numpy() - reference).max() < 1e-3


def test_gumbel_projection_makes_the_argmax_satisfy_a_lexical_constraint():
    length, vocab = 8, 20
    x = random_simplex((16, length, vocab), 5, concentration=0.5).float()
    must = torch.zeros(vocab)
    must[7] = 1  # token 7 must appear at least twice
    con = C.ExpectedCount(must, C.region_mask(length), low=2)
    free = torch.ones(16, length, dtype=torch.bool)
    free[:, 0] = False
    y, info = kl_projection(x, free, con, ALMSettings(outer_steps=10, inner_steps=15))
    assert bool(con.hard(y.argmax(-1)).all())
    assert torch.equal(y[:, 0], x[:, 0])  # decoded column untouched
    assert info["kl_mean"] > 0


class _WholeSequence(C.Constraint):
    """The same constraint read through the whole soft sequence (no per-position features): the solver's old path."""

    def __init__(self, inner):
        self.inner, self.n_terms, self.vocab_size = inner, inner.n_terms, inner.vocab_size

    def violation(self, soft):
        return self.inner.violation(soft)

    def hard(self, ids):
        return self.inner.hard(ids)


def test_projection_through_features_equals_projection_through_the_whole_sequence():
    """Reading g through soft @ W (decoded positions' features fixed) gives the same y as rebuilding [B, L, V]."""
    length, vocab = 6, 12
    x = random_simplex((8, length, vocab), 3, concentration=0.5).float()
    free = torch.rand(8, length, generator=torch.Generator().manual_seed(0)) < 0.7
    texts = ["a", " b", "c ", " d e", "x", "yy", " ", "q", "", "zz ", " w", "k"]
    region = C.region_mask(length)
    must = torch.zeros(vocab)
    must[[1, 7]] = 1
    cases = [C.ExpectedCount(must, region, low=2), C.WordCount(texts, region, high=3),
             C.AllOf([C.ExpectedCount(must, region, low=1), C.LinearScore(torch.randn(vocab), 0.1, region, 0.3)])]
    for con in cases:
        assert con.feature_weights() is not None
        settings = ALMSettings(outer_steps=4, inner_steps=10, lr=0.5, seed=1)
        y, info = kl_projection(x, free, con, settings)
        y_whole, info_whole = kl_projection(x, free, _WholeSequence(con), settings)
        torch.testing.assert_close(y, y_whole, atol=1e-5, rtol=1e-4)
        assert torch.equal(info["satisfied"], info_whole["satisfied"]) and info["changed"] > 0, con.name
        assert torch.equal(info["top_out"], y.argmax(-1))


def test_network_score_through_its_embedding_equals_the_network_on_soft_tokens():
    torch.manual_seed(0)
    net = C.PropertyNet(vocab_size=9, seq_len=5).eval().requires_grad_(False)
    soft = torch.softmax(torch.randn(4, 5, 9), -1)
    ids = torch.randint(0, 9, (4, 5))
    one_hot = torch.nn.functional.one_hot(ids, 9).float()
    scored = C.NetworkScore(lambda h: net.from_embedded(h)[:, 0], 0.1, 9, embedding=net.embedding())
    plain = C.NetworkScore(lambda s: net(s)[:, 0], 0.1, 9)
    torch.testing.assert_close(scored.violation(soft), plain.violation(soft))
    torch.testing.assert_close(scored.violation(one_hot), plain.violation(one_hot))
    assert torch.equal(scored.surrogate_holds(ids), plain.surrogate_holds(ids))
    assert plain.feature_weights() is None and scored.feature_weights().shape == (9, 32)


def test_hand_gradient_equals_autograd_of_kl_plus_penalty():
    """step_gradient's closed form (KL part, chain rule through lift and softmax) against autograd of the loss."""
    torch.manual_seed(0)
    batch, length, vocab = 3, 5, 7
    xp = torch.softmax(torch.randn(batch, length, vocab, dtype=torch.float64), -1)
    free = torch.rand(batch, length) < 0.6
    free[:, 0] = True
    r, c = free.nonzero(as_tuple=True)
    x_free = xp[r, c]
    z = torch.randn(len(r), vocab, dtype=torch.float64)
    noise = torch.randn(len(r), vocab, dtype=torch.float64)
    lam = torch.rand(batch, 2, dtype=torch.float64)
    mu = torch.rand(batch, 1, dtype=torch.float64) + 0.5
    texts = ["a", " b", "c ", " d e", "x", "yy", "k"]
    for con in (C.ExpectedCount(torch.rand(vocab), C.region_mask(length), low=2.0, high=2.5),
                C.WordCount(texts, C.region_mask(length), low=2, high=3),
                _WholeSequence(C.ExpectedCount(torch.rand(vocab), C.region_mask(length), low=2.0, high=2.5))):
        reader = projection._Reader(con, xp)
        hand = projection.step_gradient(z, noise, x_free, 0.5, lam, mu, reader, reader.base, r, c)
        z_var = z.clone().requires_grad_(True)
        kl = (x_free * (x_free.log() - torch.log_softmax(z_var, -1))).sum()
        g = con.violation(xp.index_put((r, c), torch.softmax((z_var + noise) / 0.5, -1)))
        shifted = (lam + mu * g).clamp_min(0)
        loss = kl + ((shifted * shifted - lam * lam) / (2 * mu)).sum()
        expected, = torch.autograd.grad(loss, z_var)
        torch.testing.assert_close(hand, expected)


def test_batched_projection_equals_solving_each_sample():
    x = random_simplex((5, 4, 6), 9)
    con = _count([1.0, 0.5, 0.0, 0.0, 0.0, 2.0], low=3.0, length=4)
    free = torch.ones(5, 4, dtype=torch.bool)
    settings = ALMSettings(outer_steps=5, inner_steps=20, lr=0.1, deterministic=True)
    batched, _ = kl_projection(x, free, con, settings)
    single, _ = project_each(x, free, con, settings)
    torch.testing.assert_close(batched, single)


def test_patience_gives_up_on_a_sample_without_progress_and_leaves_the_solvable_one_alone():
    """Sample 0 cannot be fixed (its decoded positions already hold 3 of token 7, at most 1 allowed); sample 1 can."""
    length, vocab = 6, 12
    x = random_simplex((2, length, vocab), 3, concentration=0.5).float()
    x[:, :3] = 0.01
    x[0, :3, 7] = 1.0  # decoded as token 7
    x[1, :3, 2] = 1.0  # decoded as token 2
    x[:, 3:, 4] += 2.0  # the free positions' argmax is token 4: nothing there can lower sample 0's violation
    x[:, 3:, 7] += 1.0
    x[1, 3:, 7] += 2.0  # sample 1's free positions are token 7 (3 > 1): solvable by moving two of them
    x = x / x.sum(-1, keepdim=True)
    con = C.ExpectedCount(torch.eye(vocab)[7], C.region_mask(length), high=1)
    free = torch.zeros(2, length, dtype=torch.bool)
    free[:, 3:] = True
    budget = ALMSettings(outer_steps=8, inner_steps=10, seed=1)
    y_full, full = kl_projection(x, free, con, budget)
    y_pat, pat = kl_projection(x, free, con, replace(budget, patience=2))
    assert full["satisfied"].tolist() == pat["satisfied"].tolist() == [False, True]
    assert full["inner_steps"][0] == 8 * 10  # the whole budget, for nothing
    assert pat["inner_steps"][0] == 3 * 10  # the first outer iteration sets the best, two more without progress
    assert 0 < pat["inner_steps"][1] == full["inner_steps"][1]
    torch.testing.assert_close(y_pat[1], y_full[1])
    with pytest.raises(ValueError, match="patience"):
        ALMSettings(patience=-1)


def test_top_ids_is_argmax_with_first_maximum_on_ties():
    ties = torch.tensor([[0.0, 1.0, 1.0, 0.5], [2.0, 2.0, 2.0, 2.0], [0.1, 0.2, 0.3, 0.4]])
    assert C.top_ids(ties).tolist() == [1, 0, 3]
    x = torch.randint(0, 3, (7, 5, 40)).float()  # many ties
    assert torch.equal(C.top_ids(x), x.argmax(-1))


def test_in_place_adam_equals_torch_adam_with_per_row_step_counts():
    """Rows with different step counts each follow torch.optim.Adam run for that many steps."""
    torch.manual_seed(0)
    start, target = torch.randn(3, 5), torch.randn(3, 5)
    z, m, v, count = start.clone(), torch.zeros(3, 5), torch.zeros(3, 5), torch.zeros(3)
    steps_per_row = [4, 1, 7]
    for step in range(max(steps_per_row)):
        rows = torch.tensor([r for r, n in enumerate(steps_per_row) if step < n])
        block_z, block_m, block_v, block_c = z[rows], m[rows], v[rows], count[rows]
        projection._adam_(block_z, 2 * (block_z - target[rows]), block_m, block_v, block_c, lr=0.1)
        z[rows], m[rows], v[rows], count[rows] = block_z, block_m, block_v, block_c
    for r, n in enumerate(steps_per_row):
        w = start[r].clone().requires_grad_(True)
        opt = torch.optim.Adam([w], lr=0.1, eps=1e-8)
        for _ in range(n):
            opt.zero_grad()
            ((w - target[r]) ** 2).sum().backward()
            opt.step()
        torch.testing.assert_close(z[r], w.detach())
    assert count.tolist() == steps_per_row


def test_solver_block_gathers_the_solving_samples_and_writes_back_only_them():
    """The working set of the batched solver: views when every sample is solved, copies written back otherwise."""
    free = torch.tensor([[True, False, True], [False, True, False], [True, True, True]])
    pair_row, pair_col = free.nonzero(as_tuple=True)
    p, vocab = len(pair_row), 4
    z, m, v = torch.randn(p, vocab), torch.zeros(p, vocab), torch.zeros(p, vocab)
    count, const = torch.zeros(p), torch.randn(p, vocab)
    xp = random_simplex((3, 3, vocab), 1)
    con = _count([1.0, 0.0, 0.0, 0.0], low=1.0, length=3)
    tensors = (z, m, v, count, const, const)
    rows = torch.arange(3)
    block = projection._Block.gather(torch.tensor([True, True, True]), pair_row, pair_col, tensors, xp,
                                     xp.argmax(-1), con, rows)
    assert block.sel is None and block.z.data_ptr() == z.data_ptr()  # all solved: no copy
    partial = projection._Block.gather(torch.tensor([True, False, True]), pair_row, pair_col, tensors, xp,
                                       xp.argmax(-1), con, rows)
    assert partial.act.tolist() == [0, 2] and partial.sel.tolist() == [0, 1, 3, 4, 5]
    assert list(zip(partial.r.tolist(), partial.c.tolist())) == [(0, 0), (0, 2), (1, 0), (1, 1), (1, 2)]
    torch.testing.assert_close(partial.base, xp[[0, 2]])
    before = z.clone()
    partial.z += 1.0
    partial.count += 1
    partial.flush(z, m, v, count)
    assert torch.equal(z[partial.sel], before[partial.sel] + 1) and torch.equal(z[2], before[2])  # sample 1 untouched
    assert count.tolist() == [1, 1, 0, 1, 1, 1]


class ScriptedDenoiser(torch.nn.Module):
    """A denoiser whose clean-token distribution is fixed per position (``probs`` [L, V]), whatever it is shown."""

    def __init__(self, probs: torch.Tensor):
        super().__init__()
        self.logits = probs.clamp_min(1e-12).log()

    def forward(self, input_ids):
        return SimpleNamespace(logits=self.logits[: input_ids.shape[1]].expand(input_ids.shape[0], -1, -1).clone())


def _scripted(length: int, vocab: int, rows: dict[int, dict[int, float]], default: dict[int, float]) -> torch.Tensor:
    """Per-position distributions [L, V]: ``default`` everywhere, ``rows[l]`` at position l; the last token is the mask."""
    probs = torch.full((length, vocab), 1e-6)
    for pos in range(length):
        for token, p in rows.get(pos, default).items():
            probs[pos, token] = p
    probs[:, vocab - 1] = 0
    return probs / probs.sum(-1, keepdim=True)


def test_repair_replaces_draws_that_break_the_exact_check():
    """Token 2 has 45% at every position but is never the argmax: the projection stays idle, the draws break "no 2"."""
    length, vocab = 8, 6
    model = ScriptedDenoiser(_scripted(length, vocab, {}, {0: 0.5, 2: 0.45, 1: 0.05}))
    no_two = C.ExpectedCount(torch.nn.functional.one_hot(torch.tensor(2), vocab).float(), C.region_mask(length),
                             high=0)
    tok = SimpleNamespace(mask_token_id=vocab - 1)
    from support.cdd import study as S

    bare, bare_trace = S.run_sampler(model, tok, 64, length, 8, no_two, ALMSettings(), repair=False, search=False)
    assert bare_trace.unsolved > 0  # once a 2 is drawn it is decoded, and the projection may not move it
    assert (~no_two.hard(bare)).float().mean() > 0.9  # 1 - 0.55**8 = 0.99 of the samples draw a 2
    fixed, trace = S.run_sampler(model, tok, 64, length, 8, no_two, ALMSettings(), search=False)
    assert bool(no_two.hard(fixed).all()) and trace.repaired.float().mean() > 0.9


def test_search_makes_the_cheapest_change_the_surrogate_cannot_see():
    """The surrogate has no gradient (weights 0); the exact check wants token 3; it is likeliest at position 5."""
    length, vocab = 8, 6
    probs = _scripted(length, vocab, {5: {0: 0.6, 3: 0.35, 1: 0.05}}, {0: 0.9, 1: 0.09, 3: 0.01})
    model = ScriptedDenoiser(probs)
    wants_three = C.ExpectedCount(torch.zeros(vocab), C.region_mask(length), low=1,
                                  exact_count=lambda ids: (ids == 3).sum(-1))
    tok = SimpleNamespace(mask_token_id=vocab - 1)
    from support.cdd import study as S

    bare, _ = S.run_sampler(model, tok, 16, length, 8, wants_three, ALMSettings(outer_steps=2, inner_steps=2),
                            search=False)
    ids, trace = S.run_sampler(model, tok, 16, length, 8, wants_three, ALMSettings(outer_steps=2, inner_steps=2))
    assert bool(wants_three.hard(ids).all())
    assert trace.searched == int((~wants_three.hard(bare)).sum()) > 0 and trace.search_failed == 0
    searched = ~wants_three.hard(bare)
    # repair made every failing sample greedy (all token 0); the cheapest fix is token 3 at position 5
    expected = torch.zeros(length, dtype=torch.long)
    expected[5] = 3
    assert torch.equal(ids[searched], expected.expand(int(searched.sum()), -1))


def test_warm_multipliers_solve_the_next_step_in_fewer_inner_steps():
    length, vocab = 8, 20
    x = random_simplex((16, length, vocab), 5, concentration=0.5).float()
    must = torch.zeros(vocab)
    must[7] = 1
    con = C.ExpectedCount(must, C.region_mask(length), low=2)  # token 7 at least twice
    free = torch.ones(16, length, dtype=torch.bool)
    settings = ALMSettings(outer_steps=10, inner_steps=15)
    _, cold = kl_projection(x, free, con, settings)
    _, warm = kl_projection(x, free, con, settings, start=cold["multipliers"], step=1)
    assert bool(cold["satisfied"].all()) and bool(warm["satisfied"].all())
    assert warm["inner_steps"].sum() < cold["inner_steps"].sum()
    x[:4, :2, 7] = 10.0  # four samples already satisfy the constraint: never solved, multipliers untouched
    _, again = kl_projection(x / x.sum(-1, keepdim=True), free, con, settings, start=cold["multipliers"], step=2)
    torch.testing.assert_close(again["multipliers"].mu[:4], cold["multipliers"].mu[:4])
    torch.testing.assert_close(again["multipliers"].lam[:4], cold["multipliers"].lam[:4])
    assert int(again["inner_steps"][:4].sum()) == 0 and again["changed"] == 12


def test_commit_decodes_a_projected_position_at_once():
    length, vocab = 6, 5
    model = ScriptedDenoiser(_scripted(length, vocab, {}, {0: 0.7, 1: 0.2, 2: 0.1}))

    def move_position_two_to_token_one(x_theta, free):
        out = x_theta.clone()
        out[:, 2] = torch.nn.functional.one_hot(torch.tensor(1), vocab).to(out) * free[:, 2, None]
        out[:, 2] += x_theta[:, 2] * ~free[:, 2, None]
        return out, {"changed": int(free[:, 2].sum()), "kl_mean": 1.0}

    ids, trace = diffusion.sample(model, 3, length, 6, vocab - 1, project=move_position_two_to_token_one,
                                  record=3, commit_projected=True, keep_probs=True)
    assert torch.all(trace.states[0][:, 2] == 1)  # decoded at the first step, not whenever the draw falls
    assert trace.committed == 3 and torch.all(ids[:, 2] == 1)
    assert torch.all(trace.decode_probs[:, 2, 1] == 1)  # the search sees the distribution it was decoded from


def test_warm_start_inside_the_sampler_spends_fewer_inner_steps():
    """Same denoiser, constraint and seed: carrying multipliers across reverse steps needs fewer Adam steps."""
    from support.cdd.projection import projector

    length, vocab = 12, 9
    model = RandomDenoiser(length, vocab, seed=4)
    must = torch.zeros(vocab)
    must[5] = 1
    con = C.ExpectedCount(must, C.region_mask(length), low=3)  # token 5 at least three times
    runs = {}
    for warm in (False, True):
        ids, trace = diffusion.sample(model, 32, length, 12, vocab - 1, project=projector(con, ALMSettings(), warm),
                                      feasible=con.hard, seed=0)
        runs[warm] = (sum(trace.inner_steps), float(con.hard(ids).float().mean()))
    assert runs[True][0] < runs[False][0], runs
    assert runs[True][1] >= runs[False][1] - 0.1, runs


def test_chapter_solver_configuration_matches_cvxpy(monkeypatch):
    """The local profile's solver (Gumbel off) vs cvxpy on 12 convex instances; without the step decay it is far off.

    Measured: max |y - y*| 0.028, KL ratio 0.85-1.004, violation <= 0.021; lr 1 without decay: KL up to 22x.
    """
    from dataclasses import replace

    from support.cdd import study as S
    from support.profiles import resolve

    monkeypatch.delenv("SUPPORT_PROFILE", raising=False)  # the local profile's own solver, whatever the run
    chapter = S.alm_settings(resolve("local", S.PARAMS))
    table = S.solver_vs_cvxpy({"chapter": chapter, "no decay": replace(chapter, lr_decay=1.0)})
    ours = table[table.solver == "chapter"]
    assert ours.max_abs_diff.max() < 0.05 and ours.violation.max() < 0.03
    assert ours.kl_ratio.between(0.8, 1.05).all()
    assert table[table.solver == "no decay"].kl_ratio.max() > 2


# --------------------------------------------------------------------------- exact counters and constraints

def test_exact_counters_on_hand_made_strings():
    text = "The theatre, then the end. THE other; the"
    assert metrics.count_word(text, "the") == 4  # The, the, THE, the (not theatre/then/other)
    assert metrics.count_char("Elizabeth's letter", "e") == 3
    assert metrics.count_words("Mr. Darcy's letter -- it was 2 pages!") == 6
    assert metrics.count_words("") == 0


def test_token_tables():
    texts = [" the", "The", "other", " Eliz", "abeth", ",", " 1", "ee"]
    assert C.word_token_weights(texts, "the").tolist() == [1, 1, 0, 0, 0, 0, 0, 0]
    assert C.word_token_weights(texts, "the", contains=True).tolist() == [1, 1, 1, 0, 0, 0, 0, 0]
    assert C.char_weights(texts, "e").tolist() == [1, 1, 1, 0, 1, 0, 0, 2]


def test_word_count_surrogate_is_exact_on_one_hot_sequences():
    texts = [" the", "The", "other", " Eliz", "abeth", ",", " 1", "ee", "\n", '"I', "s", "--and"]  # no empty (special) tokens
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, len(texts), (200, 7), generator=gen)
    con = C.WordCount(texts, C.region_mask(7), high=3)
    expected = con.expected(torch.nn.functional.one_hot(ids, len(texts)).float())
    truth = torch.tensor([float(metrics.count_words("".join(texts[i] for i in row))) for row in ids.tolist()])
    assert torch.equal(expected, truth)
    region = C.region_mask(7, 2)  # words of the continuation only: nothing before the region joins it
    con = C.WordCount(texts, region, high=3)
    expected = con.expected(torch.nn.functional.one_hot(ids, len(texts)).float())
    truth = torch.tensor([float(metrics.count_words("".join(texts[i] for i in row[2:]))) for row in ids.tolist()])
    assert torch.equal(expected, truth)


def test_expected_count_bounds_and_exact_hook():
    con = C.ExpectedCount(torch.tensor([0.0, 1.0]), C.region_mask(4, 1), low=1, high=2,
                          exact_count=lambda ids: (ids[:, 1:] == 1).sum(-1))
    ids = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 1]])
    assert con.hard(ids).tolist() == [False, True, False]
    soft = torch.nn.functional.one_hot(ids, 2).float()
    assert torch.equal(con.violation(soft), torch.tensor([[1.0, -2.0], [0.0, -1.0], [-2.0, 1.0]]))
    with pytest.raises(ValueError):
        C.ExpectedCount(torch.ones(2), C.region_mask(2), low=3, high=1)


# --------------------------------------------------------------------------- novelty search

def test_novelty_search_finds_the_cheapest_accepted_edit_by_brute_force():
    gen = torch.Generator().manual_seed(0)
    for trial in range(5):
        length, vocab, k = 4, 5, 2
        probs = torch.softmax(torch.randn(length, vocab, generator=gen) * 2, -1)
        ids = torch.multinomial(probs, 1, generator=gen).squeeze(1).tolist()
        taken = {tuple(ids)}
        # forbid a random handful of nearby strings too
        options = []
        for pos in range(length):
            others = [int(v) for v in torch.argsort(probs[pos], descending=True) if int(v) != ids[pos]][:k]
            options.append([ids[pos]] + others)
        combos = list(itertools.product(*options))
        rng = np.random.default_rng(trial)
        taken |= {combos[i] for i in rng.choice(len(combos), size=len(combos) // 2, replace=False)}
        accept = lambda c: tuple(c) not in taken  # noqa: E731

        def cost(c):
            return sum(0.0 if c[p] == ids[p] else
                       max(0.0, float(probs[p, ids[p]].log() - probs[p, c[p]].log())) + 1e-3 for p in range(length))

        best = min((cost(c), c) for c in combos if accept(c))
        found, found_cost = C.cheapest_accepted(ids, probs, accept, range(length), top_k=k, max_candidates=10_000)
        assert found is not None and accept(found)
        assert found_cost == pytest.approx(best[0], abs=1e-9)
        assert cost(found) == pytest.approx(best[0], abs=1e-9)


def test_novelty_search_leaves_accepted_input_alone_and_reports_failure():
    probs = torch.full((2, 3), 1 / 3)
    assert C.cheapest_accepted([0, 1], probs, lambda c: True, range(2))[0] == [0, 1]
    assert C.cheapest_accepted([0, 1], probs, lambda c: False, range(2), max_candidates=50) == (None, float("inf"))


# --------------------------------------------------------------------------- molecules

def test_invalid_smiles_are_counted_invalid_without_crashing_the_batch():
    table = metrics.molecule_table(["C1CC", "CCO", "", "((((", "c1ccccc1", "C(=O)(=O)(=O)(=O)C", None],
                                   training=frozenset({"CCO"}))
    assert table.valid.tolist() == [False, True, False, False, True, False, False]
    assert table.novel.tolist() == [False, False, False, False, True, False, False]
    assert np.isnan(table.sa[0]) and 1 <= table.sa[1] <= 10 and 0 <= table.qed[4] <= 1
    assert metrics.canonical("OCC") == "CCO"


def test_molecule_tokens_round_trip_and_reject_foreign_characters():
    assert molecule_tokens("CC(=O)N[C@@H](Cl)c1ccccc1Br") == [
        "C", "C", "(", "=", "O", ")", "N", "[C@@H]", "(", "Cl", ")", "c", "1", "c", "c", "c", "c", "c", "1", "Br"]
    with pytest.raises(ValueError):
        molecule_tokens("CC&C")
    selfies = encode(["CC(=O)O"], "selfies")[0]
    assert molecule_tokens(selfies, "selfies") == ["[C]", "[C]", "[=Branch1]", "[C]", "[=O]", "[O]"]
    assert metrics.canonical(to_smiles([selfies], "selfies")[0]) == "CC(=O)O"
    # any sequence of SELFIES symbols decodes to a molecule; a SMILES ring left open does not
    assert metrics.canonical(to_smiles(["[C][Ring1][O][Branch1]"], "selfies")[0]) is not None
    assert metrics.canonical("C1CC") is None
    with pytest.raises(ValueError):
        encode(["C"], "inchi")


def test_perplexity_of_a_uniform_judge_is_the_vocabulary_size():
    class Uniform(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))

        def forward(self, input_ids):
            return SimpleNamespace(logits=torch.zeros(*input_ids.shape, 11))

    ids = torch.randint(0, 11, (3, 9))
    assert models.perplexity(Uniform(), ids, start=2) == pytest.approx(11.0)
    assert metrics.distinct_n([[1, 2, 3], [1, 2, 4]], 2) == pytest.approx(3 / 4)


# --------------------------------------------------------------------------- trained models (slow)

@pytest.mark.slow
def test_tiny_mdlm_trains_and_reloads_through_the_hub_path():
    from support.cdd import study as S

    model, tokenizer = models.tiny_mdlm(S.SMOKE_TEXT_MDLM, progress=False)
    log = models.mdlm_training_log(S.SMOKE_TEXT_MDLM)
    assert log[-1]["loss"] < log[0]["loss"]
    again, tok_again = S.hub_mdlm(str(S.SMOKE_TEXT_MDLM.folder), "cpu")  # hub-format folder
    ids = torch.randint(3, len(tokenizer), (2, S.SMOKE_TEXT_MDLM.seq_len))
    with torch.no_grad():
        torch.testing.assert_close(model(input_ids=ids).logits, again(input_ids=ids).logits)
    assert tok_again.mask_token_id == tokenizer.mask_token_id


@pytest.mark.slow
def test_a_trained_molecule_mdlm_beats_the_unigram_floor(fresh_model_cache):
    """A short training run must learn context: held-out NELBO below the unigram cross-entropy."""
    from dataclasses import replace

    from support.cdd import study as S

    config = replace(S.SMOKE_MOLECULE_MDLM, steps=300, d_model=64, n_heads=2, d_ff=128, batch_size=32,
                     lr=2e-3, warmup_steps=20)
    model, tokenizer = models.tiny_mdlm(config, progress=False)
    floor = S.denoiser_floor(model, tokenizer, config, n_rows=256)
    assert floor["heldout_nelbo"] < floor["unigram_nats"] - 0.2, floor


@pytest.mark.slow
def test_smiles_mdlm_samples_decode_and_never_crash_the_scorer():
    from support.cdd import study as S

    model, tokenizer = models.tiny_mdlm(S.SMOKE_MOLECULE_MDLM, progress=False)
    ids, _ = diffusion.sample(model, 6, S.SMOKE_MOLECULE_MDLM.seq_len, 4, tokenizer.mask_token_id, seed=0)
    smiles = S.decode_smiles(tokenizer, ids)
    table = metrics.molecule_table(smiles + ["C1CC"])
    assert len(table) == 7 and not table.valid.iloc[-1] and table.heavy_atoms.iloc[-1] == 0
    assert metrics.heavy_atoms("c1ccccc1O") == 7 and metrics.heavy_atoms("[H][H]") == 0
    rows = molecule_rows(["CCO", "C" * 100], tokenizer, S.SMOKE_MOLECULE_MDLM.seq_len)
    assert rows.shape == (1, S.SMOKE_MOLECULE_MDLM.seq_len)  # the over-long molecule is dropped
    assert S.decode_smiles(tokenizer, rows) == ["CCO"]


def test_perplexity_counts_every_scored_token_once():
    class Fixed(torch.nn.Module):
        """Predicts token 0 with probability 1/2 and the other 3 tokens with 1/6 each, everywhere."""

        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))

        def forward(self, input_ids):
            logits = torch.log(torch.tensor([0.5, 1 / 6, 1 / 6, 1 / 6]))
            return SimpleNamespace(logits=logits.expand(*input_ids.shape, 4).clone())

    ids = torch.tensor([[0, 1, 0, 2]])
    # with a BOS (id 3) in front all four tokens are scored: NLL = 2 log 2 + 2 log 6
    assert models.perplexity(Fixed(), ids, 0, bos_id=3) == pytest.approx(math.exp((2 * math.log(2) + 2 * math.log(6)) / 4))
    # continuation after a 2-token prompt: tokens 0 and 2 -> log 2 + log 6
    assert models.perplexity(Fixed(), ids, 2, bos_id=3) == pytest.approx(math.exp((math.log(2) + math.log(6)) / 2))


def test_bag_of_tokens_equals_the_one_hot_sum_over_the_region():
    ids = torch.randint(0, 9, (5, 6), generator=torch.Generator().manual_seed(1))
    region = C.region_mask(6, 2)
    expected = (torch.nn.functional.one_hot(ids, 9).float() * region[None, :, None]).sum(1)
    torch.testing.assert_close(C.bag_of_tokens(ids, 9, region), expected)
    w = torch.randn(9)
    score = C.LinearScore(w, 0.3, region, 0.5)
    torch.testing.assert_close(score.logit(torch.nn.functional.one_hot(ids, 9).float()),
                               C.bag_of_tokens(ids, 9, region) @ w + 0.3)


@pytest.mark.slow
def test_moses_splits_and_bad_split_name():
    from support import resources

    assert len(resources.moses_smiles("train")) == 1_584_663 and len(resources.moses_smiles("test")) == 176_074
    assert metrics.canonical(resources.moses_smiles("train")[0]) is not None
    sizes = [metrics.heavy_atoms(s) for s in resources.moses_smiles("train")[:5000]]
    assert min(sizes) == metrics.MOSES_MIN_HEAVY_ATOMS  # the size the chapter calls MOSES-sized
    with pytest.raises(ValueError, match="split"):
        resources.moses_smiles("valid")


def test_pad_diagnosis_counts_interior_pads_and_reads_both_ways():
    from support.cdd import study as S
    from support.cdd.molecules import SPECIALS, _molecule_tokenizer

    tokenizer = _molecule_tokenizer([*SPECIALS, "C", "O", "c", "1", "(", ")"], "smiles")
    pad = tokenizer.pad_token_id
    ring = tokenizer("c1ccccc1", add_special_tokens=False)["input_ids"]
    chain = tokenizer("CCCCCCCCCCCC", add_special_tokens=False)["input_ids"]
    rows = torch.tensor([
        ring[:4] + [pad] + ring[4:] + [pad] * 7,  # benzene broken by a pad: only dropping it closes the ring
        chain + [pad] * 4,  # dodecane, 12 heavy atoms, pads only at the end
        ring[:2] + [pad] * 14,  # "c1": invalid either way
    ])
    out = S.pad_diagnosis(tokenizer, rows)
    assert out == {"samples": 3, "tokens_after_first_pad": 1, "valid_cut": 1, "moses_sized_cut": 1,
                   "valid_drop": 2, "moses_sized_drop": 1}


def test_toxicity_summary_pools_seeds_and_tests_pooled_counts():
    import pandas as pd

    from support.cdd import study
    from support.stats import fisher_p, mean_interval

    def run(method, seed, bad, n=100):
        return {"constraint": "toxicity <= 0.25", "tau": 0.25, "method": method, "seed": seed, "n": n,
                "violations_%": 100 * bad / n, "violations_n": bad, "surrogate_viol_n": 0, "surrogate_missed_%": 0.0,
                "surrogate_caught_n": bad // 2,
                "mean_toxicity": 0.1, "ppl": 10.0, "kl_moved": 0.0, "inner_steps_per_step": 0.0, "projected_%": 0.0,
                "s_per_sample": 0.01}

    runs = pd.DataFrame([run("MDLM", 0, 6), run("MDLM", 2, 4), run("MDLM", 3, 8),
                         run("CDD", 0, 1), run("CDD", 2, 3), run("CDD", 3, 2)])
    summary = study.toxicity_summary(runs).set_index("method")
    assert summary.loc["MDLM", "samples"] == 300 and summary.loc["MDLM", "violations_n"] == 18
    assert summary.loc["CDD", "violations_%"] == pytest.approx(2.0)
    assert summary.loc["CDD", "seed_min_%"] == 1.0 and summary.loc["CDD", "seed_max_%"] == 3.0
    assert summary.loc["MDLM", "seed_interval_%"] == pytest.approx(mean_interval([6.0, 4.0, 8.0]))
    assert summary.loc["CDD", "fisher_p"] == pytest.approx(fisher_p(6, 300, 18, 300))
    assert summary.loc["MDLM", "surrogate_recall_%"] == pytest.approx(100 * (3 + 2 + 4) / 18)
    assert math.isnan(summary.loc["MDLM", "fisher_p"])
    assert study.toxicity_seeds(SimpleNamespace(seed=5, tox_seeds=3)) == [5, 7, 8]  # 6 made the surrogate's data


def test_toxicity_words_and_their_single_token_share():
    from support.cdd import study

    heavy, lighter = metrics.toxicity_words(2.0), metrics.toxicity_words(1.0)
    assert "bastard" in heavy and "elizabeth" not in lighter and set(heavy) < set(lighter)
    assert max(metrics.toxicity([" ".join(["the", w]) for w in heavy[:20]])) > 0.5  # the judge agrees they weigh

    class OneTokenForOk:
        def __call__(self, text, add_special_tokens=True):
            return {"input_ids": [7] if text == " ok" else [7, 8]}

    assert study.single_token_share(OneTokenForOk(), ["ok", "fine", "ok", "no"]) == 0.5


def test_violation_causes_split_every_rdkit_violation_by_hand():
    import pandas as pd

    from support.cdd import study

    checks = pd.DataFrame([  # SA <= 3.5 with margin 0.3: aim 3.2; QED >= 0.6
        {"constraint": "SA <= 3.5", "sa_rdkit": 3.0, "sa_surrogate": 3.9, "qed_rdkit": 0.1, "qed_surrogate": 0.1},
        {"constraint": "SA <= 3.5", "sa_rdkit": 3.6, "sa_surrogate": 3.1, "qed_rdkit": 0.1, "qed_surrogate": 0.1},
        {"constraint": "SA <= 3.5", "sa_rdkit": 4.0, "sa_surrogate": 3.4, "qed_rdkit": 0.1, "qed_surrogate": 0.1},
        {"constraint": "SA <= 3.5", "sa_rdkit": 4.0, "sa_surrogate": 3.6, "qed_rdkit": 0.1, "qed_surrogate": 0.1},
        {"constraint": "QED >= 0.6", "sa_rdkit": 9.0, "sa_surrogate": 9.0, "qed_rdkit": 0.5, "qed_surrogate": 0.7},
        {"constraint": "QED >= 0.6", "sa_rdkit": 9.0, "sa_surrogate": 9.0, "qed_rdkit": 0.5, "qed_surrogate": 0.4},
        {"constraint": "QED >= 0.6", "sa_rdkit": 9.0, "sa_surrogate": 9.0, "qed_rdkit": 0.6, "qed_surrogate": 0.4},
    ])
    out = study.violation_causes(checks, sa_margin=0.3, qed_min=0.6)
    assert out.cause.tolist() == ["", "surrogate fooled", "short of the aim", "unsolved",
                                  "surrogate fooled", "unsolved", ""]
    table = study.cause_table(out)
    assert table.loc["SA <= 3.5"].tolist() == [4, 3, 1, 1, 1]
    assert table.loc["QED >= 0.6"].tolist() == [3, 2, 1, 0, 1]


def test_property_surrogate_is_prepared_after_its_molecule_mdlm(fresh_model_cache, monkeypatch):
    from support.cdd import study
    from support.models import ModelNotPrepared
    from support.profiles import resolve

    cfg = resolve("smoke", study.PARAMS)
    specs = study.models(cfg)
    assert isinstance(specs[-1], study.PropertySurrogate)
    assert specs[-1].mdlm == study.molecule_mdlm_config(cfg) and specs[-2] == specs[-1].mdlm
    assert study.property_surrogate_spec(resolve("smoke", study.PARAMS, mol_steps=4)).folder != specs[-1].folder
    monkeypatch.setenv("SUPPORT_NO_TRAINING", "1")
    with pytest.raises(ModelNotPrepared, match="python -m support prepare"):
        study.property_surrogate(cfg)


def test_surrogate_lookups_equal_the_one_hot_path():
    generator = torch.Generator().manual_seed(0)
    vocab, length = 50, 12
    ids = torch.randint(0, vocab, (64, length), generator=generator)
    region = C.region_mask(length, 3)
    texts = [("a" * (i % 4)) + (" " if i % 3 == 0 else "") + ("b" if i % 5 == 0 else "") for i in range(vocab)]
    counts = torch.randint(0, 3, (vocab,), generator=generator).float()
    constraints = [C.ExpectedCount(counts, region, 2.0, 6.0), C.ExpectedCount(counts, region, high=4.0),
                   C.LinearScore(torch.randn(vocab, generator=generator), -0.3, region, 0.4),
                   C.WordCount(texts, region, high=3.0)]
    constraints.append(C.AllOf(constraints[:2]))
    onehot = torch.nn.functional.one_hot(ids, vocab).float()
    for con in constraints:
        by_one_hot = (con.violation(onehot) <= 1e-6).all(-1)
        assert torch.equal(con.surrogate_holds(ids), by_one_hot), con.name
        assert torch.equal(con.hard(ids), by_one_hot), con.name  # no exact counter: hard is the surrogate
        assert 0 < int(by_one_hot.sum()) < len(ids) or isinstance(con, C.AllOf), con.name  # both outcomes occur
