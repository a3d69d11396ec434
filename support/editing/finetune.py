"""Gradient-based updates whose norms the norm-growth chapter tracks beside MEMIT/AlphaEdit.

- ``ft_edit``: constrained fine-tuning of one edited matrix on the new facts (ROME/MEMIT's FT-L
  baseline without its L-infinity clamp: the growth of the unconstrained update is the point);
- ``lora_edit``: a rank-r adapter dW = B A on the edited matrices, trained on the new facts, then merged;
- ``full_finetune``: every parameter, on the new facts;
- ``continued_pretraining``: every parameter, next-token loss on ordinary text.
All share the loss of :func:`rewrite_loss`: mean NLL of the new object over the bare and prefixed
rewrite prompts, from hidden states cached below the lowest trained block.
"""

from __future__ import annotations

import torch

from ..models.anatomy import Anatomy
from ..models.scoring import Batch, encode
from .cases import EditCase
from .compute import frozen_weights, hidden_at, rewrite_rows


def rewrite_loss(anatomy: Anatomy, batch: Batch, base: torch.Tensor | None, start: int) -> torch.Tensor:
    """Mean NLL of the continuation tokens, running blocks ``start..`` on cached ``base`` (or from the embedding)."""
    hidden = anatomy.embed_tokens(batch.input_ids) if base is None else base
    out = anatomy.run_blocks(hidden, 0 if base is None else start, anatomy.n_layers)
    rows, pos = batch.predict_mask.nonzero(as_tuple=True)
    logp = torch.log_softmax(anatomy.logits(out[rows, pos]), -1)
    return -logp.gather(1, batch.next_ids[rows, pos][:, None]).mean()


def _edit_batch(anatomy: Anatomy, tokenizer, cases: list[EditCase], prefixes: list[str]) -> Batch:
    device = next(anatomy.model.parameters()).device
    return encode(tokenizer, *rewrite_rows(cases, prefixes)).to(device)


def ft_edit(anatomy: Anatomy, tokenizer, cases: list[EditCase], layer: int, prefixes: list[str], steps: int = 25,
            lr: float = 5e-4) -> int:
    """Fine-tune the edited matrix of ``layer`` alone on the new facts; returns the steps taken."""
    batch = _edit_batch(anatomy, tokenizer, cases, prefixes)
    with torch.no_grad():
        base = hidden_at(anatomy, batch, layer)
    weight = anatomy.edit_module(layer).weight
    optimizer = torch.optim.Adam([weight], lr=lr)
    with frozen_weights(anatomy.model, trainable=(weight,)):
        for step in range(steps):
            loss = rewrite_loss(anatomy, batch, base, layer)
            if loss.item() < 0.05:
                return step
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return steps


def lora_edit(anatomy: Anatomy, tokenizer, cases: list[EditCase], layers: list[int], prefixes: list[str],
              rank: int = 4, steps: int = 25, lr: float = 1e-2, seed: int = 0) -> int:
    """Train a rank-``rank`` adapter B A on each edited matrix on the new facts, then merge it into W."""
    batch = _edit_batch(anatomy, tokenizer, cases, prefixes)
    start = min(layers)
    with torch.no_grad():
        base = hidden_at(anatomy, batch, start)
    generator = torch.Generator().manual_seed(seed)
    adapters, hooks = {}, []
    for layer in layers:
        d_out, d_in = anatomy.weight(layer).shape
        a = (torch.randn(rank, d_in, generator=generator) / d_in ** 0.5).requires_grad_(True)
        b = torch.zeros(d_out, rank, requires_grad=True)
        adapters[layer] = (a, b)
        hooks.append(anatomy.edit_module(layer).register_forward_hook(
            lambda m, args, out, a=a, b=b: out + args[0] @ a.T @ b.T))
    optimizer = torch.optim.Adam([t for pair in adapters.values() for t in pair], lr=lr)
    taken = steps
    try:
        with frozen_weights(anatomy.model):
            for step in range(steps):
                loss = rewrite_loss(anatomy, batch, base, start)
                if loss.item() < 0.05:
                    taken = step
                    break
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    finally:
        for hook in hooks:
            hook.remove()
    for layer, (a, b) in adapters.items():
        anatomy.add_to_weight(layer, (b @ a).detach())
    return taken


def full_finetune(anatomy: Anatomy, tokenizer, cases: list[EditCase], prefixes: list[str], steps: int = 10,
                  lr: float = 1e-4) -> int:
    """Fine-tune every parameter on the new facts; returns the steps taken."""
    batch = _edit_batch(anatomy, tokenizer, cases, prefixes)
    optimizer = torch.optim.Adam(anatomy.model.parameters(), lr=lr)
    for step in range(steps):
        loss = rewrite_loss(anatomy, batch, None, 0)
        if loss.item() < 0.05:
            return step
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return steps


def continued_pretraining(model, windows: torch.Tensor, lr: float = 1e-4) -> float:
    """One AdamW pass over ``windows`` [n, seq] of ordinary text (next-token loss); returns the mean loss."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    losses = []
    for chunk in windows.split(8):
        loss = model(input_ids=chunk, labels=chunk).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return float(sum(losses) / len(losses))
