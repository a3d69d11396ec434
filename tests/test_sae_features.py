"""Chapter 4's pipeline pieces: activation extraction (layer indexing), pooling, top-n marks, probes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from support.sae import classify, features
from support.models.activations import TokenActivations, residual_activations

TEXTS = ["the cat sat", "a dog ran far away today", "hello", "the dog sat on the cat"]


def _tiny_llama_and_tokenizer():
    from tokenizers import Tokenizer, models as token_models, pre_tokenizers
    from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedTokenizerFast

    words = sorted(set(" ".join(TEXTS).split()))
    vocab = {"<pad>": 0, "<unk>": 1, **{w: i + 2 for i, w in enumerate(words)}}
    backend = Tokenizer(token_models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=24, num_hidden_layers=3,
                         num_attention_heads=2, num_key_value_heads=2, pad_token_id=0)
    return AutoModelForCausalLM.from_config(config).eval(), tokenizer


def test_block_activations_are_the_block_outputs_and_padding_changes_nothing():
    """Block L's output is hidden_states[L + 1] (the last one before the final norm): no off-by-one."""
    model, tokenizer = _tiny_llama_and_tokenizer()
    tokenizer.padding_side = "left"  # restored afterwards; extraction pads on the right itself
    acts = residual_activations(model, tokenizer, TEXTS, layers=[0, 1, 2], batch_size=3)
    assert tokenizer.padding_side == "left"
    assert acts.lengths.tolist() == [len(t.split()) for t in TEXTS]
    for i, text in enumerate(TEXTS):
        ids = tokenizer(text, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            hidden = model(input_ids=ids, output_hidden_states=True).hidden_states
        rows = slice(int(acts.offsets[i]), int(acts.offsets[i + 1]))
        torch.testing.assert_close(acts.values[0][rows], hidden[1][0])
        torch.testing.assert_close(acts.values[1][rows], hidden[2][0])
        torch.testing.assert_close(model.model.norm(acts.values[2][rows]), hidden[3][0])  # last: pre-norm
    with pytest.raises(ValueError, match="outside"):
        residual_activations(model, tokenizer, TEXTS, layers=[3])


def _hand_activations() -> TokenActivations:
    # text 0: two tokens, text 1: three tokens; 3 latents
    values = torch.tensor([[1.0, 0.0, 2.0], [3.0, -1.0, 0.5], [0.0, 4.0, 1.0], [2.0, 2.0, 0.0], [0.5, 0.0, 3.0]])
    return TokenActivations({5: values}, torch.tensor([0, 2, 5]))


def test_positions_and_training_rows_leave_each_texts_first_token_out():
    acts = _hand_activations()
    assert acts.positions.tolist() == [0, 1, 0, 1, 2] and acts.text_index.tolist() == [0, 0, 1, 1, 1]
    assert acts.training_rows(5).tolist() == [[3.0, -1.0, 0.5], [2.0, 2.0, 0.0], [0.5, 0.0, 3.0]]


def test_pools_top_n_and_binarization_by_hand():
    acts = _hand_activations()
    assert features.text_features(acts, 5, "sum").tolist() == [[4.0, -1.0, 2.5], [2.5, 6.0, 4.0]]
    torch.testing.assert_close(features.text_features(acts, 5, "mean"),
                               torch.tensor([[2.0, -0.5, 1.25], [2.5 / 3, 2.0, 4.0 / 3]]))
    assert features.text_features(acts, 5, "max").tolist() == [[3.0, 0.0, 2.0], [2.0, 4.0, 3.0]]
    assert features.text_features(acts, 5, "last").tolist() == [[3.0, -1.0, 0.5], [0.5, 0.0, 3.0]]
    # top-1 marks per token: latent 2, 0 | 1, 0 (tie 2.0 vs 2.0: the first), 2 -> counts
    assert features.text_features(acts, 5, "sum", top_n=1).tolist() == [[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]
    # top-2 marks: text 0 counts [2, 0, 2], text 1 [2, 2, 2]; binarized at > 1
    assert features.text_features(acts, 5, "sum", top_n=2).tolist() == [[2.0, 0.0, 2.0], [2.0, 2.0, 2.0]]
    assert features.text_features(acts, 5, "sum", top_n=2, binarize=1.0).tolist() == [[1.0, 0.0, 1.0],
                                                                                        [1.0, 1.0, 1.0]]
    doubled = features.text_features(acts, 5, "sum", encoder=lambda rows: 2 * rows)
    assert doubled.tolist() == [[8.0, -2.0, 5.0], [5.0, 12.0, 8.0]]
    with pytest.raises(ValueError, match="pool"):
        features.text_features(acts, 5, "median")


@pytest.mark.parametrize("pool", features.POOLS)
def test_chunked_pooling_equals_one_pass(pool):
    g = torch.Generator().manual_seed(0)
    lengths = torch.tensor([3, 1, 7, 2, 5])
    acts = TokenActivations({0: torch.randn(int(lengths.sum()), 6, generator=g)},
                            torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)]))
    whole = features.text_features(acts, 0, pool, chunk=10_000)
    torch.testing.assert_close(features.text_features(acts, 0, pool, chunk=4), whole)
    torch.testing.assert_close(features.text_features(acts, 0, pool, top_n=2, chunk=3),
                               features.text_features(acts, 0, pool, top_n=2, chunk=10_000))


def test_probes_separate_a_separable_task_and_not_a_shuffled_one():
    g = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 40)
    x = g.normal(size=(120, 5)) + 3 * np.eye(3, 5)[labels]
    folds = classify.cross_validated_f1(classify.probe, x, labels, folds=5, name="toy")
    assert len(folds) == 5 and folds.macro_f1.min() > 0.9
    shuffled = classify.cross_validated_f1(classify.probe, x, g.permutation(labels), folds=5, name="shuffled")
    assert shuffled.macro_f1.mean() < 0.6  # chance is 1/3
    table = classify.summarise(__import__("pandas").concat([folds, shuffled]))
    assert table.features.tolist() == ["toy", "shuffled"] and (table.folds == 5).all()
    texts = [f"{w} item number {i}" for i, w in enumerate(["good", "bad"] * 30)]
    text_folds = classify.cross_validated_f1(classify.tfidf_probe, texts, np.array([0, 1] * 30), folds=3)
    assert text_folds.macro_f1.min() == 1.0


def test_splicing_identity_recovers_everything_and_the_mean_nothing():
    from support.models.activations import replaced_block_output, spliced_losses

    model, tokenizer = _tiny_llama_and_tokenizer()
    mean_row = torch.randn(16)
    same = spliced_losses(model, tokenizer, TEXTS, 1, lambda hidden: hidden, mean_row)
    assert same["spliced"] == pytest.approx(same["clean"]) and same["recovered"] == pytest.approx(1.0)
    ablated = spliced_losses(model, tokenizer, TEXTS, 1, lambda hidden: mean_row.expand_as(hidden), mean_row)
    assert ablated["spliced"] == pytest.approx(ablated["mean_ablated"]) and ablated["recovered"] == pytest.approx(0.0)
    seen = {}
    block = model.model.layers[1]
    with replaced_block_output(model, 1, torch.zeros_like):
        handle = block.register_forward_hook(lambda m, a, out: seen.__setitem__("h", out[0] if isinstance(out, tuple)
                                                                                  else out))
        with torch.no_grad():
            model(input_ids=tokenizer(["the cat sat"], return_tensors="pt")["input_ids"])
        handle.remove()
    assert seen["h"][0, 0].abs().sum() > 0 and seen["h"][0, 1:].abs().sum() == 0  # the first position passes
    assert not block._forward_hooks  # removed on exit
