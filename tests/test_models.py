"""The models package: configs, schedules, training and caching, hub loading, SmolLM2, anatomy, scoring."""

import math

import numpy as np
import pytest
import torch

from support import models
from support.models import AUSTEN, HubUnavailable, ModelNotPrepared, Schedule, TinyLMConfig
from support.models import training as training_module

SMOKE = TinyLMConfig(vocab_size=2048, d_model=32, n_layers=1, n_heads=2, d_ff=128, seq_len=64, batch_size=8,
                     steps=40, lr=3e-3, warmup_steps=4, checkpoint_steps=(20,), log_every=5)


@pytest.mark.parametrize("change, message", [
    ({"d_model": 0}, "d_model=0 must be a positive integer"),
    ({"arch": "mamba"}, "arch='mamba'"),
    ({"schedule": "step"}, "schedule='step'"),
    ({"lr": float("nan")}, "finite lr"),
    ({"corpus": "austen"}, "must be a TextCorpus"),
    ({"d_model": 30, "n_heads": 4}, "divisible by n_heads"),
    ({"checkpoint_steps": (0, 5)}, r"checkpoint_steps \[0\]"),
    ({"vocab_size": 100}, "vocab_size=100 must be >= 300"),
])
def test_config_validation(change, message):
    with pytest.raises(ValueError, match=message):
        TinyLMConfig(**change)


def test_lr_schedules_known_values():
    cosine = Schedule(steps=110, lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    assert cosine.factor(0) == pytest.approx(0.1)
    assert cosine.factor(9) == pytest.approx(1.0)
    assert cosine.factor(60) == pytest.approx(0.1 + 0.9 * 0.5)  # half-way through the cosine
    assert cosine.factor(110) == pytest.approx(0.1)
    constant = Schedule(steps=110, lr=1.0, warmup_steps=10, kind="constant")
    assert constant.factor(100) == 1.0
    wsd = Schedule(steps=100, lr=1.0, warmup_steps=10, kind="wsd", min_lr_ratio=0.0)
    assert wsd.factor(79) == 1.0 and wsd.factor(90) == pytest.approx(0.5)


def test_sample_windows_are_contiguous_slices():
    ids = torch.arange(1000)
    batch = models.sample_windows(ids, 5, 16, torch.Generator().manual_seed(0))
    assert batch.shape == (5, 16)
    assert torch.equal(batch - batch[:, :1], torch.arange(16).expand(5, 16))


class _Uniform(torch.nn.Module):
    """A 'model' whose logits are all zero: its cross-entropy is exactly log(vocab)."""

    def __init__(self, vocab):
        super().__init__()
        self.vocab, self.dummy = vocab, torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids):
        return type("Out", (), {"logits": torch.zeros(*input_ids.shape, self.vocab)})()


def test_eval_loss_known_answer():
    assert models.eval_loss(_Uniform(50), torch.randint(0, 50, (1000,)), seq_len=32) == pytest.approx(math.log(50))


def test_tokenizer_roundtrip_and_specials():

    tok = AUSTEN.tokenizer(2048)
    text = "It is a truth universally acknowledged, that a single man..."
    assert tok.decode(tok(text)["input_ids"]) == text
    assert len(tok) == 2048 and tok.mask_token == "<|mask|>" and tok.eos_token == "<|endoftext|>"


def test_tiny_lm_trains_caches_and_reloads_identically(fresh_model_cache, monkeypatch):
    model, tok = models.tiny_lm(SMOKE, progress=False)
    history = models.training_log(SMOKE)
    assert history[0]["step"] == 1 and history[-1]["step"] == SMOKE.steps
    assert history[-1]["loss"] < history[0]["loss"] - 0.5  # the loss goes down
    assert history[-1]["val_loss"] < math.log(SMOKE.vocab_size)  # better than uniform on held-out text
    probe = tok("Mr. Darcy walked into the room", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        trained_logits = model(probe).logits

    def no_training(*args, **kwargs):
        raise AssertionError("trained again instead of loading the cached model")

    monkeypatch.setattr(TinyLMConfig, "produce", no_training)
    reloaded, _ = models.tiny_lm(SMOKE)
    with torch.no_grad():
        assert torch.equal(reloaded(probe).logits, trained_logits)
        early, _ = models.tiny_lm(SMOKE, revision="step20")
        assert not torch.equal(early(probe).logits, trained_logits)
    with pytest.raises(ValueError, match="revision='step7' is not a checkpoint"):
        models.tiny_lm(SMOKE, revision="step7")


def test_gpt_neox_build_and_non_embedding_count():
    tok = AUSTEN.tokenizer(2048)
    cfg = TinyLMConfig(arch="gpt_neox", d_model=64, n_layers=2, n_heads=4, d_ff=256)
    model = models.build_causal_lm(cfg, tok)
    total = sum(p.numel() for p in model.parameters())
    embeddings = 2 * len(tok) * cfg.d_model  # untied input embedding and output head
    assert models.non_embedding_params(model) == total - embeddings
    assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, len(tok))


def test_hub_loads_a_local_checkpoint_in_hub_format(fresh_model_cache, tmp_path):
    tok = AUSTEN.tokenizer(2048)
    model = models.build_causal_lm(TinyLMConfig(d_model=32, n_layers=1, n_heads=2, d_ff=64), tok).eval()
    model.save_pretrained(tmp_path / "org--model")
    tok.save_pretrained(tmp_path / "org--model")
    loaded, loaded_tok = models.hub(str(tmp_path / "org--model"))
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, model(ids).logits)
    assert loaded_tok.get_vocab() == tok.get_vocab()


def test_hub_offline_fails_early_pointing_at_local(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(HubUnavailable, match=r"'EleutherAI/pythia-70m' at revision 'step1000'.*profile='local'"):
        models.hub("EleutherAI/pythia-70m", revision="step1000")
    assert not models.hub_reachable()


def test_smollm2_answers_a_known_question():
    model, tok = models.smollm2()
    assert model.config.num_hidden_layers == 30 and model.config.hidden_size == 576
    assert "Paris" in models.chat(model, tok, "What is the capital of France?", max_new_tokens=16)


def test_training_gives_the_same_weights_whatever_the_thread_count(fresh_model_cache, tmp_path, monkeypatch):
    # training pins its own thread count (models.training.TRAIN_THREADS), so the caller's setting cannot change the
    # weights; without the pin this config's weights differed in the last bits between 1 and 3 threads here
    cfg = TinyLMConfig(vocab_size=2048, d_model=64, n_layers=1, n_heads=2, d_ff=256, seq_len=64, batch_size=16, steps=6,
                       warmup_steps=2, log_every=2)
    weights = []
    for threads in (1, 3):
        cache = tmp_path / f"cache{threads}"
        cache.mkdir()
        for name in ("resources", "tokenizers"):
            (cache / name).symlink_to(fresh_model_cache / name)
        monkeypatch.setenv("TRUSTML_CACHE", str(cache))
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            model, _ = models.tiny_lm(cfg, progress=False)
        finally:
            torch.set_num_threads(before)
        weights.append({k: v.clone() for k, v in model.state_dict().items()})
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert torch.get_num_threads() == before  # restored after training


def test_deterministic_training_restores_the_callers_settings():
    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    with training_module.deterministic_training(threads=1):
        assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == before


def test_a_missing_model_with_training_off_names_the_prepare_command(fresh_model_cache, monkeypatch):
    monkeypatch.setenv("SUPPORT_NO_TRAINING", "1")
    cfg = TinyLMConfig(vocab_size=2048, d_model=32, n_layers=1, n_heads=2, d_ff=64, steps=3, warmup_steps=1)
    with pytest.raises(ModelNotPrepared, match=r"python -m support prepare 05"):
        models.ensure(cfg, chapter="05")
    assert not cfg.folder.exists()


def test_an_interrupted_training_leaves_nothing_in_the_cache(fresh_model_cache, monkeypatch):
    cfg = TinyLMConfig(vocab_size=2048, d_model=32, n_layers=1, n_heads=2, d_ff=64, steps=3, warmup_steps=1)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(models.causal_lm, "train_loop", crash)
    with pytest.raises(KeyboardInterrupt):
        models.ensure(cfg)
    assert not cfg.is_ready() and not any(cfg.folder.parent.glob(f".{cfg.folder.name}*"))


# --------------------------------------------------------------------------- anatomy

def _tiny(kind: str):
    from transformers import (
        AutoModelForCausalLM,
        GPT2Config,
        GPTNeoXConfig,
        LlamaConfig,
        ModernBertConfig,
        ModernBertForMaskedLM,
    )

    torch.manual_seed(0)
    if kind == "modernbert":
        config = ModernBertConfig(vocab_size=50, hidden_size=16, intermediate_size=24, num_hidden_layers=3,
                                  num_attention_heads=2, max_position_embeddings=32, global_attn_every_n_layers=1,
                                  pad_token_id=0, bos_token_id=0, eos_token_id=0, cls_token_id=0, sep_token_id=0)
        return ModernBertForMaskedLM(config).eval()
    config = {"llama": LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=24, num_hidden_layers=3,
                                   num_attention_heads=2, num_key_value_heads=2),
              "gpt2": GPT2Config(vocab_size=50, n_embd=16, n_layer=3, n_head=2, n_positions=32),
              "gpt_neox": GPTNeoXConfig(vocab_size=50, hidden_size=16, intermediate_size=24, num_hidden_layers=3,
                                        num_attention_heads=2)}[kind]
    return AutoModelForCausalLM.from_config(config).eval()


@pytest.mark.parametrize("kind", ["llama", "gpt2", "gpt_neox", "modernbert"])
def test_run_blocks_reproduces_the_model_and_weight_edits_land(kind):
    model = _tiny(kind)
    anat = models.anatomy(model)
    assert anat.causal == (kind != "modernbert")
    ids = torch.randint(1, 50, (2, 7))
    with torch.no_grad():
        expected = model(input_ids=ids).logits
        got = anat.logits(anat.run_blocks(anat.embed_tokens(ids), 0, anat.n_layers))
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
        half = anat.run_blocks(anat.embed_tokens(ids), 0, 1)
        torch.testing.assert_close(anat.logits(anat.run_blocks(half, 1, anat.n_layers)), expected, rtol=1e-4, atol=1e-5)
    w = anat.weight(1)
    assert w.shape == (16, 24 if kind != "gpt2" else 64)  # [out = d_model, in = d_ff]
    delta = torch.randn_like(w)
    with torch.no_grad(), anat.capture("edit", [1], inputs=True) as keys, anat.capture("edit", [1]) as values:
        model(input_ids=ids)
        before_k, before_v = keys[1], values[1]
        anat.add_to_weight(1, delta)
        model(input_ids=ids)
    torch.testing.assert_close(values[1] - before_v, before_k @ delta.T, rtol=1e-4, atol=1e-5)  # v' = v + dW k


def test_capture_removes_its_hooks():
    model = _tiny("llama")
    anat = models.anatomy(model)
    with anat.capture("mlp", [0, 2]) as outputs:
        model(input_ids=torch.tensor([[1, 2, 3]]))
    assert set(outputs) == {0, 2} and outputs[0].shape == (1, 3, 16)
    assert not any(anat.submodule(i, "mlp")._forward_hooks for i in range(3))


# --------------------------------------------------------------------------- scoring

class _Fixed(torch.nn.Module):
    """A 'causal LM' whose next-token distribution is fixed: p(v) proportional to v + 1 over a vocabulary of 6."""

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids):
        logits = torch.log(torch.arange(1.0, 7.0)).expand(*input_ids.shape, 6)
        return type("Out", (), {"logits": logits})()


def test_next_token_nll_and_sequence_nll_by_hand():
    ids = torch.tensor([[0, 5, 1], [2, 3, 4]])
    expected = -torch.log(torch.tensor([[6.0, 2.0], [4.0, 5.0]]) / 21)
    torch.testing.assert_close(models.next_token_nll(_Fixed(), ids), expected)
    torch.testing.assert_close(models.sequence_nll(_Fixed(), ids, start=2), expected[:, 1])
    assert models.perplexity(_Fixed(), ids, start=1) == pytest.approx(math.exp(float(expected.mean())))


class _Chars:
    """A character tokenizer (ids 1..26) with offsets, padding id 0; ``merge`` (two letters) is one token (27)."""

    pad_token_id, eos_token_id = 0, 0

    def __init__(self, merge: str | None = None):
        self.merge = merge

    def _one(self, text):
        ids, offsets, i = [], [], 0
        while i < len(text):
            if self.merge and text.startswith(self.merge, i):
                ids.append(27), offsets.append((i, i + 2))
                i += 2
            else:
                ids.append(ord(text[i]) - 96), offsets.append((i, i + 1))
                i += 1
        return ids, offsets

    def __call__(self, texts, return_offsets_mapping=False, add_special_tokens=False):
        pairs = [self._one(t) for t in texts]
        return {"input_ids": [p[0] for p in pairs], "offset_mapping": [p[1] for p in pairs]}


def test_continuation_nll_equals_a_one_at_a_time_loop():
    model = _tiny("llama")
    prompts, conts = ["abc", "hello", "q"], ["de", "x", "rstu"]
    got = models.continuation_nll(model, _Chars(), prompts, conts)
    for i, (p, c) in enumerate(zip(prompts, conts)):
        ids = torch.tensor([[ord(ch) - 96 for ch in p + c]])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1], -1)
        targets = ids[0, 1:]
        nll = -logp[torch.arange(len(targets)), targets][len(p) - 1:].mean()
        assert got[i] == pytest.approx(float(nll), rel=1e-5)


def test_shared_prompt_nll_equals_continuation_nll_row_by_row():
    """The packed rows (prompt once, options masked from each other) give each option's NLL as its own row does,
    also where a token merges across the prompt/option boundary and where batches are split."""
    model = _tiny("llama")
    prompts = ["abc", "hello", "q", "zzzzzzzzzzzzx"]
    options = [["de", "x", "rstu"], ["a"], ["bb", "cd"], ["y", "yz", "ab", "k"]]  # 'xy' merges: shared prefix shrinks
    tokenizer = _Chars(merge="xy")
    plain = models.continuation_nll(model, tokenizer, [p for p, os in zip(prompts, options) for _ in os],
                                    [o for os in options for o in os])
    for max_tokens in (2048, 1):  # all rows in one batch; one row per batch
        packed = models.scoring.shared_prompt_nll(model, tokenizer, prompts, options, max_tokens=max_tokens)
        assert [len(n) for n in packed] == [len(os) for os in options]
        np.testing.assert_allclose(np.concatenate(packed), plain, rtol=1e-4, atol=1e-5)
    assert models.scoring._PACKING_AGREES[model] is True
    per_row = models.scoring.per_row_nll(model, tokenizer, prompts, options)  # the fallback, split back per prompt
    assert [len(n) for n in per_row] == [len(os) for os in options]
    np.testing.assert_allclose(np.concatenate(per_row), plain, rtol=1e-6)
    packed = models.scoring.pack_options(tokenizer, "zzx", ["y", "k"])
    assert packed.ids[:2] == [26, 26] and packed.segment == [-1, -1, 0, 1, 1]  # 'xy' is option 0's own token


def test_shared_prompt_nll_falls_back_where_the_model_ignores_the_mask():
    """A model that drops the 4-D mask and position ids would let options see each other, and one may refuse the mask:
    both caught by the first-call check, with a warning, and the scores are then each option's own row."""
    inner = _tiny("llama")

    class NoMask(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, **ignored):
            return self.inner(input_ids=input_ids)

    class Refuses(NoMask):
        def forward(self, input_ids, attention_mask=None, **ignored):
            if attention_mask is not None and attention_mask.dim() == 4:
                raise ValueError("this attention kernel takes no 4-D mask")
            return self.inner(input_ids=input_ids)

    tokenizer = _Chars()
    prompts, options = ["abc", "hello"], [["de", "x", "rstu"], ["a", "bcd"]]
    plain = models.continuation_nll(inner, tokenizer, ["abc"] * 3 + ["hello"] * 2, ["de", "x", "rstu", "a", "bcd"])
    for model in (NoMask(), Refuses()):
        with pytest.warns(UserWarning, match="does not honour the packed attention mask"):
            packed = models.scoring.shared_prompt_nll(model, tokenizer, prompts, options)
        np.testing.assert_allclose(np.concatenate(packed), plain, rtol=1e-5)


def test_multiple_choice_accuracy_picks_the_likelier_option(monkeypatch):
    examples = [{"input": "a", "target_scores": {"x": 1, "y": 0}}, {"input": "b", "target_scores": {"x": 0, "y": 1}}]
    # an NLL that always prefers option "x": accuracy 1/2
    monkeypatch.setattr(models.scoring, "shared_prompt_nll",
                        lambda model, tok, prompts, options: [np.array(
                            [0.1 if o == " x" else 0.9 for o in os]) for os in options])
    assert models.multiple_choice_accuracy(None, None, examples) == 0.5
    assert models.multiple_choice_correct(None, None, examples).tolist() == [True, False]


def test_train_loop_trains_with_gradients_turned_off_globally():
    """A script that calls torch.set_grad_enabled(False) first (the benchmarks do) can still train a model."""
    model = torch.nn.Linear(3, 1)
    before = model.weight.detach().clone()
    target = torch.tensor([[1.0, -2.0, 0.5]])

    def loss(m, batch, generator):
        return ((m(batch) - batch @ target.T) ** 2).mean()

    with torch.no_grad():
        history = training_module.train_loop(model, lambda g: torch.randn(16, 3, generator=g), loss,
                                             Schedule(steps=50, lr=0.05, kind="constant"), data_seed=0,
                                             progress=False)
        assert not torch.is_grad_enabled()  # the caller's mode is restored
    assert history[-1]["loss"] < 0.2 * history[0]["loss"]
    assert not torch.equal(model.weight, before)


def test_disjoint_windows_read_every_window_once_before_any_repeats():
    from support.models.corpora import disjoint_windows

    ids = torch.arange(1000)
    sample = disjoint_windows(ids, batch_size=4, seq_len=10)  # 100 windows: 25 batches make one pass
    generator = torch.Generator().manual_seed(0)
    first_pass = torch.cat([sample(generator) for _ in range(25)])
    assert sorted(first_pass[:, 0].tolist()) == list(range(0, 1000, 10))  # each window exactly once
    assert all(torch.equal(row, torch.arange(row[0], row[0] + 10)) for row in first_pass)
    assert first_pass[:, 0].tolist() != list(range(0, 1000, 10))  # shuffled
    second = torch.cat([sample(generator) for _ in range(25)])
    assert sorted(second[:, 0].tolist()) == list(range(0, 1000, 10))
    assert not torch.equal(first_pass, second)  # a new order for the second pass


def test_windows_setting_keeps_earlier_cache_keys_and_is_validated():
    assert "windows" not in models.TinyLMConfig().key()
    disjoint = models.TinyLMConfig(windows="disjoint")
    assert disjoint.key()["windows"] == "disjoint" and disjoint.folder != models.TinyLMConfig().folder
    with pytest.raises(ValueError, match="windows"):
        models.TinyLMConfig(windows="sequential")


def test_interleave_takes_one_piece_of_every_text_per_round():
    from support.models.corpora import interleave

    a = "\n\n".join(f"a{i}" for i in range(4))
    b = "\n\n".join(f"b{i}" for i in range(2))
    assert interleave([a, b], 2).split("\n\n") == ["a0", "a1", "b0", "a2", "a3", "b1"]
    assert sorted(interleave([a, b], 3).split("\n\n")) == sorted(["a0", "a1", "a2", "a3", "b0", "b1"])
