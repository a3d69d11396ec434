"""Text features from token activations: pooling over a text's tokens, top-n latent counts, binarization.

Following arXiv 2502.11367 (and its reference code): with ``top_n`` > 0 each token marks its n
most active SAE latents and the marks are pooled (summed: counts of how many tokens had the latent
among their top n); with ``top_n`` = 0 the activations themselves are pooled; binarization then
keeps ``pooled > threshold`` (the reference uses 1.0 on counts). Pools: sum, mean, max, and the
last real token (whose features a causal LM's last position has seen the whole text through).
"""

from __future__ import annotations

import torch

from .activations import TokenActivations

POOLS = ("sum", "mean", "max", "last")


def top_n_marks(latents: torch.Tensor, top_n: int) -> torch.Tensor:
    """1 where a latent is among a row's ``top_n`` most active and active (> 0), else 0; [tokens, width]."""
    values, indices = latents.topk(min(top_n, latents.shape[-1]), dim=-1)
    return torch.zeros_like(latents).scatter(-1, indices, (values > 0).to(latents.dtype))


def pool_rows(rows: torch.Tensor, text_index: torch.Tensor, n_texts: int, pool: str) -> torch.Tensor:
    """Pool token rows [tokens, k] into one row per text [n_texts, k] (rows of one text contiguous, in order)."""
    if pool not in POOLS:
        raise ValueError(f"pool={pool!r} must be one of {POOLS}")
    if pool == "last":
        last = torch.zeros(n_texts, dtype=torch.long).scatter_reduce(
            0, text_index, torch.arange(len(text_index)), "amax", include_self=False)
        return rows[last]
    if pool == "max":
        out = torch.full((n_texts, rows.shape[-1]), float("-inf"), dtype=rows.dtype)
        return out.scatter_reduce(0, text_index[:, None].expand_as(rows), rows, "amax", include_self=True)
    summed = torch.zeros(n_texts, rows.shape[-1], dtype=rows.dtype).index_add_(0, text_index, rows)
    if pool == "sum":
        return summed
    counts = torch.bincount(text_index, minlength=n_texts).clamp_min(1).to(rows.dtype)
    return summed / counts[:, None]


@torch.no_grad()
def text_features(acts: TokenActivations, layer: int, pool: str = "sum", encoder=None, top_n: int = 0,
                  binarize: float | None = None, chunk: int = 4096) -> torch.Tensor:
    """One feature row per text [n_texts, k]: the block's activations, or ``encoder``'s latents (e.g. an SAE's
    ``encode``), optionally as top-n marks, pooled over the text's tokens, optionally binarized (> ``binarize``)."""
    values, text_index = acts.values[layer], acts.text_index
    n_texts = len(acts.lengths)
    pooled = None
    for start in range(0, len(values), chunk):  # encode in chunks: tokens x width is large
        rows = values[start:start + chunk]
        if encoder is not None:
            rows = encoder(rows)
        if top_n:
            rows = top_n_marks(rows, top_n)
        part = pool_rows(rows, text_index[start:start + chunk], n_texts, "sum" if pool == "mean" else pool)
        if pooled is None:
            pooled = part
        elif pool == "max":
            pooled = torch.maximum(pooled, part)
        elif pool == "last":  # texts whose rows lie in this chunk take this chunk's last row
            present = torch.bincount(text_index[start:start + chunk], minlength=n_texts) > 0
            pooled[present] = part[present]
        else:
            pooled = pooled + part
    if pool == "mean":
        pooled = pooled / acts.lengths.clamp_min(1).to(pooled.dtype)[:, None]
    return (pooled > binarize).to(pooled.dtype) if binarize is not None else pooled
