"""Sparse autoencoders (support/models/sae.py): activations on hand cases, pseudo-derivatives, training, resampling."""

from __future__ import annotations

import pytest
import torch

from support.models import sae as S


def test_topk_keeps_the_k_largest_and_relus_them():
    pre = torch.tensor([[0.5, -0.2, 3.0, 1.0], [-1.0, -2.0, -0.5, -3.0]])
    out = S.topk_activation(pre, 2)
    assert out.tolist() == [[0.0, 0.0, 3.0, 1.0], [0.0, 0.0, 0.0, 0.0]]  # a kept negative is 0 after the ReLU


def test_jumprelu_passes_the_value_not_the_excess_and_has_the_papers_pseudo_derivatives():
    eps = 0.1
    theta = torch.tensor([0.3, 0.3, 0.3, 0.3], requires_grad=True)
    z = torch.tensor([[0.5, 0.32, 0.2, 0.27]], requires_grad=True)
    out = S._JumpReLU.apply(z, theta, eps)
    assert torch.allclose(out, torch.tensor([[0.5, 0.32, 0.0, 0.0]]))  # z itself above theta, 0 below
    out.sum().backward()
    # d/dz = H(z - theta); d/dtheta = -(theta / eps) K((z - theta) / eps), K = 1 on |u| < 1/2 (|z - theta| < eps / 2)
    assert z.grad.tolist() == [[1.0, 1.0, 0.0, 0.0]]
    assert torch.allclose(theta.grad, torch.tensor([0.0, -3.0, 0.0, -3.0]))
    theta.grad = None
    S._Step.apply(z, theta, eps).sum().backward()
    assert torch.allclose(theta.grad, torch.tensor([0.0, -10.0, 0.0, -10.0]))  # -(1 / eps) K


def _sparse_data(n: int, d: int = 32, atoms: int = 64, active: int = 4, seed: int = 0) -> torch.Tensor:
    """x = sum of ``active`` unit dictionary atoms with positive weights (a known sparse code) plus a mean."""
    g = torch.Generator().manual_seed(seed)
    dictionary = torch.randn(atoms, d, generator=torch.Generator().manual_seed(99))
    dictionary = dictionary / dictionary.norm(dim=-1, keepdim=True)
    codes = torch.zeros(n, atoms)
    chosen = torch.rand(n, atoms, generator=g).argsort(-1)[:, :active]
    codes.scatter_(1, chosen, 0.5 + torch.rand(n, active, generator=g))
    return codes @ dictionary + 0.3


@pytest.mark.parametrize("kind", S.SAE_KINDS)
def test_an_sae_learns_a_known_sparse_code_and_beats_the_mean_on_held_out_rows(kind):
    train, heldout = _sparse_data(20_000), _sparse_data(2_000, seed=1)
    cfg = S.SAEConfig(d_in=32, width=128, kind=kind, k=4, l0_coefficient=0.1, threshold_init=0.1,
                      bandwidth=0.05, dead_after=20_000, resample_every=400)
    sae, history = S.train_sae(cfg, train, steps=1500, batch_size=256, lr=3e-3)
    metrics = S.sae_metrics(sae, heldout)
    assert history[-1]["loss"] < 0.2 * history[0]["loss"]
    assert metrics["mse"] < 0.2 * metrics["mean_baseline_mse"] and metrics["fve"] > 0.8
    assert metrics["l0"] <= (4 if kind == "topk" else 8)  # the true code has 4 atoms
    assert torch.allclose(sae.W_dec.norm(dim=-1), torch.ones(128), atol=1e-5)


def test_metrics_by_hand():
    cfg = S.SAEConfig(d_in=2, width=2, kind="topk", k=1)
    sae = S.SparseAutoencoder(cfg)
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(2))
        sae.W_dec.copy_(torch.eye(2))
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    x = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # the last row loses one coordinate (k = 1)
    m = S.sae_metrics(sae, x)
    variance = float(((x - x.mean(0)) ** 2).sum())
    assert m["l0"] == 1.0 and m["mse"] == pytest.approx(1 / 3) and m["fve"] == pytest.approx(1 - 1.0 / variance)
    assert m["dead_fraction"] == 0.0


def test_dead_latents_are_counted_and_resampled_towards_badly_reconstructed_rows():
    cfg = S.SAEConfig(d_in=8, width=6, kind="topk", k=2, dead_after=100)
    sae = S.SparseAutoencoder(cfg, torch.Generator().manual_seed(0))
    with torch.no_grad():
        sae.b_enc[:3] = -1e6  # latents 0-2 can never win a top-k slot with a positive value
    x = torch.randn(64, 8, generator=torch.Generator().manual_seed(1))
    for _ in range(2):
        sae.loss(x)
    assert sae.dead().tolist()[:3] == [True, True, True]
    dead_before = int(sae.dead().sum())
    n = sae.resample_dead(x, torch.Generator().manual_seed(2))
    assert n == dead_before >= 3 and not sae.dead().any()
    assert torch.allclose(sae.W_dec[:3].norm(dim=-1), torch.ones(3)) and (sae.b_enc[:3] == 0).all()
    with pytest.raises(ValueError, match="kind"):
        S.SAEConfig(d_in=8, width=6, kind="relu")


def _hub_format_tiny_llama(folder):
    """A tiny random Llama with the book's Austen tokenizer, saved as a hub-format folder (the paper path)."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    from support.models import AUSTEN

    tokenizer = AUSTEN.tokenizer(2048)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=24, num_hidden_layers=3,
                         num_attention_heads=2, num_key_value_heads=2, pad_token_id=tokenizer.pad_token_id)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def test_activation_set_and_sae_are_made_once_then_loaded(fresh_model_cache, tmp_path, monkeypatch):
    from support.models import cached

    acts_spec = S.ActivationSet(_hub_format_tiny_llama(tmp_path / "lm"), layers=(0, 2), n_texts=24, max_tokens=16)
    spec = S.TrainedSAE(acts_spec, layer=2, sae=S.SAEConfig(d_in=16, width=32, k=4, resample_every=0), steps=40,
                        batch_size=64, lr=1e-3)
    sae, scale = cached.load(spec)
    record = cached.training_record(spec)
    rows = acts_spec.load_from(acts_spec.folder, "cpu")
    assert set(rows) == {0, 2} and rows[2].shape[1] == 16
    assert cached.training_record(acts_spec)["rows"] == len(rows[2]) < cached.training_record(acts_spec)["tokens"]
    heldout = record["heldout"]
    assert heldout["l0"] <= 4 and heldout["fve"] > 0 and scale == pytest.approx(S.activation_scale(
        rows[2][: int(len(rows[2]) * 0.95)]))
    monkeypatch.setattr(S, "train_sae", lambda *a, **k: pytest.fail("retrained a cached SAE"))
    again, _ = cached.load(spec)
    assert all(torch.equal(a, b) for a, b in zip(sae.state_dict().values(), again.state_dict().values()))
    other = S.TrainedSAE(acts_spec, layer=0, sae=S.SAEConfig(d_in=16, width=32, k=4), steps=40)
    assert other.folder != spec.folder and acts_spec.folder.name.startswith("sae-acts-")
