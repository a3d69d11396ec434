"""Text features from token activations: pooling over a text's tokens, top-n latent counts, binarization.

Following arXiv 2502.11367 (and its reference code): with ``top_n`` > 0 each token marks its n
most active SAE latents and the marks are pooled (summed: counts of how many tokens had the latent
among their top n); with ``top_n`` = 0 the activations themselves are pooled; binarization then
keeps ``pooled > threshold`` (the reference uses 1.0 on counts). Pools: sum, mean, max, and the
last real token (whose features a causal LM's last position has seen the whole text through).
``skip_first`` leaves each text's first position out of the pools: in a causal LM without a BOS
token it is the attention sink, whose activation is huge and nearly the same for every text, and
the SAEs here are never trained on it (``TokenActivations.training_rows``).
"""

from __future__ import annotations

import torch

from ..models.activations import TokenActivations

POOLS = ("sum", "mean", "max", "last")


def top_n_marks(latents: torch.Tensor, top_n: int) -> torch.Tensor:
    """1 where a latent is among a row's ``top_n`` most active and active (> 0), else 0; [tokens, width]."""
    values, indices = latents.topk(min(top_n, latents.shape[-1]), dim=-1)
    return torch.zeros_like(latents).scatter(-1, indices, (values > 0).to(latents.dtype))


def reduce_rows(rows: torch.Tensor, text_index: torch.Tensor, n_texts: int, how: str) -> torch.Tensor:
    """Sum or max of token rows [tokens, k] per text [n_texts, k] (``text_index``: each row's text)."""
    if how == "max":
        out = torch.full((n_texts, rows.shape[-1]), float("-inf"), dtype=rows.dtype)
        return out.scatter_reduce(0, text_index[:, None].expand_as(rows), rows, "amax", include_self=True)
    return torch.zeros(n_texts, rows.shape[-1], dtype=rows.dtype).index_add_(0, text_index, rows)


def _featurise(rows: torch.Tensor, encoder, top_n: int) -> torch.Tensor:
    """Token rows -> their features: ``encoder``'s latents if given, then top-n marks if ``top_n``."""
    rows = encoder(rows) if encoder is not None else rows
    return top_n_marks(rows, top_n) if top_n else rows


@torch.no_grad()
def text_features(acts: TokenActivations, layer: int, pool: str = "sum", encoder=None, top_n: int = 0,
                  binarize: float | None = None, chunk: int = 4096, skip_first: bool = False) -> torch.Tensor:
    """One feature row per text [n_texts, k]: the block's activations, or ``encoder``'s latents (e.g. an SAE's
    ``encode``), optionally as top-n marks, pooled over the text's tokens (all, or all but the first),
    optionally binarized (> ``binarize``). A text with no pooled token gets zeros."""
    if pool not in POOLS:
        raise ValueError(f"pool={pool!r} must be one of {POOLS}")
    values, text_index, lengths = acts.values[layer], acts.text_index, acts.lengths
    if skip_first and pool != "last":
        kept = acts.positions > 0
        values, text_index, lengths = values[kept], text_index[kept], (lengths - 1).clamp_min(0)
        if not len(values):
            raise ValueError("no token rows to pool: every text has one token and skip_first is on")
    if pool == "last":  # only each text's last token is read, so only those rows are encoded
        pooled = _featurise(values[acts.offsets[1:] - 1], encoder, top_n)
    else:
        how = "max" if pool == "max" else "sum"
        pooled = None
        for start in range(0, len(values), chunk):  # encode in chunks: tokens x width is large
            part = reduce_rows(_featurise(values[start:start + chunk], encoder, top_n),
                               text_index[start:start + chunk], len(lengths), how)
            pooled = part if pooled is None else torch.maximum(pooled, part) if how == "max" else pooled + part
        if how == "max":
            pooled = pooled.masked_fill(lengths[:, None] == 0, 0.0)
        if pool == "mean":
            pooled = pooled / lengths.clamp_min(1).to(pooled.dtype)[:, None]
    return (pooled > binarize).to(pooled.dtype) if binarize is not None else pooled
