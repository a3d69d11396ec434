"""Chapter 4's two heavy kernels against one-at-a-time loops: activation extraction and SAE training steps.

Extraction: SmolLM2-135M-Instruct's block outputs for Austen paragraphs (64 tokens at most),
batched (``--batch`` texts a forward pass, right-padded, real tokens gathered) against one text a
forward pass; tokens per second and the ratio, after checking that both give the same activations.
SAE training: optimiser steps on real block activations, one batch of ``--rows`` rows a step
against the same rows one at a time (the per-sample loop), activations per second and the ratio,
for a TopK and a JumpReLU SAE of width 4 x d.
Run: ``python benchmarks/sae.py [--texts 64 --batch 16 --rows 256 --layer 15 --device cpu]``.
"""

from __future__ import annotations

import argparse
import time

import torch
from timing import best_seconds

from support.models import austen_paragraphs, smollm2
from support.models import sae as S
from support.models.activations import residual_activations


def sae_steps(sae: S.SparseAutoencoder, rows: torch.Tensor, per_row: bool) -> None:
    """One Adam step on all ``rows`` at once, or one step per row."""
    optimizer = torch.optim.Adam([p for p in sae.parameters() if p.requires_grad], lr=1e-4)
    for batch in (rows.split(1) if per_row else [rows]):
        optimizer.zero_grad()
        sae.loss(batch).backward()
        optimizer.step()
        sae.normalise_decoder()


def main() -> None:
    """Time both kernels and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--layer", type=int, default=15)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    model, tokenizer = smollm2(args.device)
    texts = austen_paragraphs()[0][: args.texts]
    layer = [args.layer]

    start = time.perf_counter()
    batched = residual_activations(model, tokenizer, texts, layer, batch_size=args.batch, max_tokens=64,
                                   device=args.device)
    batched_s = time.perf_counter() - start
    start = time.perf_counter()
    single = residual_activations(model, tokenizer, texts, layer, batch_size=1, max_tokens=64, device=args.device)
    single_s = time.perf_counter() - start
    tokens = int(batched.offsets[-1])
    same = torch.allclose(batched.values[args.layer], single.values[args.layer], rtol=1e-3, atol=1e-3)
    print(f"extraction, {tokens} tokens at block {args.layer}: batched ({args.batch} texts) {tokens / batched_s:,.0f} "
          f"tokens/s, one text at a time {tokens / single_s:,.0f} tokens/s -> {single_s / batched_s:.1f}x; "
          f"same activations: {same}")

    x = batched.training_rows(args.layer)
    x = (x * S.activation_scale(x))[: args.rows].to(args.device)
    for kind in S.SAE_KINDS:
        sae = S.SparseAutoencoder(S.SAEConfig(d_in=x.shape[1], width=4 * x.shape[1], kind=kind)).to(args.device)
        whole = best_seconds(lambda: sae_steps(sae, x, per_row=False))
        each = best_seconds(lambda: sae_steps(sae, x, per_row=True), repeats=1)
        print(f"SAE {kind} x{4 * x.shape[1]}: one batch of {len(x)} rows {len(x) / whole:,.0f} activations/s, "
              f"one row a step {len(x) / each:,.0f} activations/s -> {each / whole:.0f}x")


if __name__ == "__main__":
    main()
