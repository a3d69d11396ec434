"""Residual-stream activations of a causal LM at chosen blocks, one row per real (non-pad) token.

Block ``L`` here is the L-th transformer block (0-based) and its activation is that block's
*output* residual stream, read by a forward hook on the block. With ``output_hidden_states``,
``transformers`` lists the embeddings first, so block L's output is ``hidden_states[L + 1]`` for
every block but the last, whose entry has the final norm applied already. Gemma Scope's
"layer L" SAEs read block L's output; the reference code of arXiv 2502.11367 indexes
``hidden_states[L]`` (one block early) and drops each text's last token. Here the hook removes
both pitfalls, and a test checks the equality with ``hidden_states`` block by block.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import torch

from .anatomy import anatomy
from .scoring import text_loss


@dataclass
class TokenActivations:
    """Activations of many texts: ``values[L]`` [total tokens, d] per block, text i's rows offsets[i]:offsets[i+1]."""

    values: dict[int, torch.Tensor]
    offsets: torch.Tensor  # [n_texts + 1]
    tokens: torch.Tensor | None = None  # [total tokens] the token id of each row

    @property
    def lengths(self) -> torch.Tensor:
        """Tokens per text [n_texts]."""
        return self.offsets[1:] - self.offsets[:-1]

    @property
    def text_index(self) -> torch.Tensor:
        """Which text each row belongs to [total tokens]."""
        return torch.repeat_interleave(torch.arange(len(self.lengths)), self.lengths)

    @property
    def positions(self) -> torch.Tensor:
        """Each row's position within its text [total tokens] (0 = the text's first token)."""
        return torch.arange(int(self.offsets[-1])) - self.offsets[:-1][self.text_index]

    def training_rows(self, layer: int) -> torch.Tensor:
        """The rows an SAE is trained and scored on: every token but each text's first.

        A causal LM's first position is an attention sink with a massive activation: in SmolLM2-135M
        (Austen paragraphs, blocks 15 and 25) its norm is ~25,600 against a median of 167 and 528,
        so it alone would dominate the reconstruction loss and the variance that FVE divides by
        (FVE 0.999 with 95% of latents dead when it was kept). Gemma Scope and SAELens leave the
        BOS position out for the same reason.
        """
        return self.values[layer][self.positions > 0]


@torch.no_grad()
def residual_activations(model, tokenizer, texts: list[str], layers: list[int], batch_size: int = 16,
                         max_tokens: int = 128, device: str = "cpu", dtype: torch.dtype = torch.float32
                         ) -> TokenActivations:
    """Block outputs at ``layers`` for every real token of each text (truncated to ``max_tokens``), batched."""
    blocks = anatomy(model).blocks
    if not texts:
        raise ValueError("residual_activations needs at least one text")
    bad = [layer for layer in layers if not 0 <= layer < len(blocks)]
    if bad:
        raise ValueError(f"layers {bad} outside the model's blocks 0..{len(blocks) - 1}")
    if tokenizer.pad_token is None:
        raise ValueError("the tokenizer has no pad token: set tokenizer.pad_token (e.g. to its eos token) first")
    model.eval().to(device)
    side, tokenizer.padding_side = tokenizer.padding_side, "right"  # real tokens keep positions 0..n-1
    pieces: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    lengths, ids = [], []
    captured: dict[int, torch.Tensor] = {}
    hooks = [blocks[layer].register_forward_hook(
        lambda m, args, out, layer=layer: captured.__setitem__(layer, out[0] if isinstance(out, tuple) else out))
        for layer in layers]
    try:
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start:start + batch_size], return_tensors="pt", padding=True, truncation=True,
                              max_length=max_tokens)
            mask = batch["attention_mask"].bool()
            model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device))
            for layer in layers:
                pieces[layer].append(captured[layer][mask.to(device)].to("cpu", dtype))  # row-major: text by text
            lengths.append(mask.sum(-1))
            ids.append(batch["input_ids"][mask])
    finally:
        tokenizer.padding_side = side
        for hook in hooks:
            hook.remove()
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), torch.cat(lengths).cumsum(0)])
    return TokenActivations({layer: torch.cat(parts) for layer, parts in pieces.items()}, offsets, torch.cat(ids))


@contextmanager
def replaced_block_output(model, layer: int, replace: Callable[[torch.Tensor], torch.Tensor]):
    """Inside the context, block ``layer``'s output residual at every position but the first is ``replace(it)``.

    The first position (the attention sink, whose activation SAEs here never see) is passed through.
    """
    block = anatomy(model).blocks[layer]

    def hook(module, args, out):
        hidden = out[0] if isinstance(out, tuple) else out
        changed = torch.cat([hidden[:, :1], replace(hidden[:, 1:])], 1)
        return (changed, *out[1:]) if isinstance(out, tuple) else changed

    handle = block.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def replaced_loss(model, tokenizer, texts: list[str], layer: int | None = None, replace=None,
                  max_tokens: int = 64) -> float:
    """Next-token loss on ``texts`` with block ``layer``'s output replaced by ``replace(output)`` (as is when None)."""
    if layer is None:
        return text_loss(model, tokenizer, texts, max_len=max_tokens)
    with replaced_block_output(model, layer, replace):
        return text_loss(model, tokenizer, texts, max_len=max_tokens)


def mean_replacement(mean_row: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """A ``replace`` for mean ablation: every position's output becomes ``mean_row``."""
    return lambda hidden: mean_row.to(hidden).expand_as(hidden)


def loss_recovered(clean: float, spliced: float, ablated: float) -> float:
    """The share of the loss that mean ablation loses which the splice keeps: (ablated - spliced) / (ablated - clean)."""
    return (ablated - spliced) / (ablated - clean)


def spliced_losses(model, tokenizer, texts: list[str], layer: int, reconstruct, mean_row: torch.Tensor,
                   max_tokens: int = 64) -> dict:
    """Next-token loss with block ``layer``'s output as is, replaced by ``reconstruct(output)`` (e.g. an SAE's), and
    replaced by ``mean_row`` (mean ablation); ``recovered`` = :func:`loss_recovered`."""
    clean = replaced_loss(model, tokenizer, texts, max_tokens=max_tokens)
    spliced = replaced_loss(model, tokenizer, texts, layer, reconstruct, max_tokens)
    ablated = replaced_loss(model, tokenizer, texts, layer, mean_replacement(mean_row), max_tokens)
    return {"clean": clean, "spliced": spliced, "mean_ablated": ablated,
            "recovered": loss_recovered(clean, spliced, ablated)}
