"""The tiny CLIP (chapter 7): tokenizer, InfoNCE by hand, hub-format round trip; mean-pooled sentence embeddings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from support.models import cached
from support.models.contrastive import (ContrastiveConfig, TrainedImageText, image_embeddings, load_image_text,
                                        pixel_values, text_embeddings, tiny_clip, tiny_image_processor,
                                        word_tokenizer)
from support.models.embeddings import mean_pooled, sentence_encoder
from support.vlm import planted


def test_the_word_tokenizer_appends_eos_with_the_highest_id():
    tokenizer = word_tokenizer(["a", "photo", "of", "coat"], max_len=8)
    ids = tokenizer(["A photo of a coat", "a hat"])["input_ids"]
    assert ids[0][-1] == tokenizer.eos_token_id == len(tokenizer) - 1
    assert ids[1][1] == tokenizer.unk_token_id and len(ids[0]) == 6


def test_clip_loss_is_symmetric_infonce_by_hand():
    torch.manual_seed(0)
    tokenizer = word_tokenizer(["a", "b", "c"], 6)
    model = tiny_clip(ContrastiveConfig(d_model=16, n_heads=2, d_ff=32, projection_dim=8, n_layers=1), tokenizer)
    batch = tokenizer(["a b", "b c", "c a"], padding=True, return_tensors="pt")
    images = torch.randn(3, 3, 28, 28)
    loss = model(**batch, pixel_values=images, return_loss=True).loss.detach()
    texts = torch.nn.functional.normalize(text_embeddings(model, tokenizer, ["a b", "b c", "c a"]), dim=-1)
    with torch.no_grad():
        out = model.get_image_features(pixel_values=images)
        vision = torch.nn.functional.normalize(out if torch.is_tensor(out) else out.pooler_output, dim=-1)
        logits = model.logit_scale.exp() * texts @ vision.T
    target = torch.arange(3)
    cross_entropy = torch.nn.functional.cross_entropy
    by_hand = (cross_entropy(logits, target) + cross_entropy(logits.T, target)) / 2
    assert float(loss) == pytest.approx(float(by_hand), rel=1e-4)


def test_the_processor_matches_the_training_pixels():
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 3), dtype=np.uint8)
    processed = tiny_image_processor(28)(images=list(images), return_tensors="pt")["pixel_values"]
    assert torch.allclose(processed, pixel_values(images), atol=1e-6)


def test_a_tiny_clip_trains_saves_and_reloads_through_the_hub_path(tmp_cache):
    words = tuple(f"word{i}" for i in range(12))
    data = planted.PlantedCaptions(words, (planted.Plant("word0", "tint", 2, 0.9),), n_examples=6 * 16)
    spec = TrainedImageText(data, ContrastiveConfig(d_model=16, n_heads=2, d_ff=32, projection_dim=8, n_layers=1,
                                                    steps=6, batch_size=16))
    model, tokenizer, processor = cached.load(spec, progress=False)
    record = cached.training_record(spec)
    assert len(record["history"]) >= 2 and all(math.isfinite(h["loss"]) for h in record["history"])
    again, tokenizer_again, processor_again = load_image_text(spec.folder)
    images, _ = planted.marked_gallery(5, seed=0)
    first = image_embeddings(model, processor, images)
    assert torch.allclose(first, image_embeddings(again, processor_again, images), atol=1e-6)
    assert torch.allclose(first.norm(dim=-1), torch.ones(5), atol=1e-5)
    texts = [planted.caption("word3", "item"), planted.caption("word0", "coat", "red", "frame")]
    assert torch.allclose(text_embeddings(model, tokenizer, texts), text_embeddings(again, tokenizer_again, texts),
                          atol=1e-6)
    with pytest.raises(ValueError, match="need"):
        TrainedImageText(data, ContrastiveConfig(steps=10, batch_size=16))


def test_mean_pooling_by_hand_on_a_tiny_bert():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=16)).eval()
    tokenizer = word_tokenizer([str(i) for i in range(5)], 8)
    texts = ["1 2 3", "4"]
    pooled = mean_pooled(model, tokenizer, texts)
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    second = hidden[1, :2].mean(0)  # "4" and [EOS]; the padding is left out
    assert torch.allclose(pooled[1], second / second.norm(), atol=1e-5)


def test_minilm_from_its_wheel_finds_paraphrases():
    model, tokenizer = sentence_encoder("minilm")
    vectors = mean_pooled(model, tokenizer, ["A man is playing a guitar.", "Someone plays the guitar.",
                                             "The stock market fell sharply today."])
    assert vectors.shape == (3, 384)
    similar, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert similar > 0.5 and unrelated < 0.2
