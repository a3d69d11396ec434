"""Where things are inside a transformer: blocks, the MLP output matrix, hooks, and a forward pass from mid-model.

One small adapter per architecture family (Llama/SmolLM2, GPT-NeoX/Pythia, GPT-2, ModernBERT) so
study code reads and writes the MLP output matrix ``W`` as ``[out, in]`` whatever the layer type
(GPT-2's ``Conv1D`` stores the transpose), hooks a block's attention or MLP by one name, and runs
blocks ``start..stop`` on cached hidden states (the knowledge editors' value-target loop then never
recomputes the frozen layers below its injection point). Causal models get a causal mask;
ModernBERT, a bidirectional denoiser, attends everywhere.
"""

from __future__ import annotations

import inspect

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import torch

RotaryFn = Callable[[torch.Tensor, torch.Tensor, int], tuple]  # (hidden, positions, layer) -> (cos, sin)


@dataclass
class Anatomy:
    """Handles into one model: its blocks, embedding, final norm, head and per-block modules."""

    model: torch.nn.Module
    blocks: torch.nn.ModuleList
    embed: torch.nn.Module
    final_norm: torch.nn.Module
    head: torch.nn.Module
    rotary: RotaryFn | None
    position_embed: torch.nn.Module | None
    edit_name: str  # attribute path of the MLP output matrix inside a block, e.g. "mlp.down_proj"
    attn_name: str
    mlp_name: str
    transposed: bool  # True when the module stores W^T (GPT-2 Conv1D)
    causal: bool = True

    @property
    def n_layers(self) -> int:
        """Number of transformer blocks."""
        return len(self.blocks)

    def submodule(self, layer: int, name: str) -> torch.nn.Module:
        """The module ``name`` (dotted) of block ``layer``."""
        return self.blocks[layer].get_submodule(name)

    def edit_module(self, layer: int) -> torch.nn.Module:
        """The MLP output projection of block ``layer`` (the matrix the knowledge editors change)."""
        return self.submodule(layer, self.edit_name)

    def weight(self, layer: int) -> torch.Tensor:
        """The MLP output matrix of ``layer`` as ``[out, in]`` (a detached copy)."""
        w = self.edit_module(layer).weight.detach()
        return (w.T if self.transposed else w).clone()

    @torch.no_grad()
    def add_to_weight(self, layer: int, delta: torch.Tensor) -> None:
        """``W += delta`` for the MLP output matrix of ``layer``, ``delta`` given as ``[out, in]``."""
        param = self.edit_module(layer).weight
        param.add_((delta.T if self.transposed else delta).to(param.dtype))

    @torch.no_grad()
    def set_weight(self, layer: int, w: torch.Tensor) -> None:
        """Overwrite the MLP output matrix of ``layer`` with ``w`` given as ``[out, in]``."""
        param = self.edit_module(layer).weight
        param.copy_((w.T if self.transposed else w).to(param.dtype))

    def embed_tokens(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Input embeddings [batch, seq, d] (plus learned positions for GPT-2)."""
        hidden = self.embed(input_ids)
        if self.position_embed is not None:
            hidden = hidden + self.position_embed(torch.arange(input_ids.shape[1], device=input_ids.device))
        return hidden

    def run_blocks(self, hidden: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """Apply blocks ``start..stop-1`` to ``hidden`` [batch, seq, d] (causal mask for causal models).

        For causal models sequences are right-padded, so the causal mask alone keeps padding out of
        every real position. A bidirectional model attends everywhere: pass it unpadded batches.
        """
        seq = hidden.shape[1]
        mask = None
        if self.causal:
            mask = torch.full((seq, seq), torch.finfo(hidden.dtype).min, device=hidden.device,
                              dtype=hidden.dtype).triu(1)[None, None]
        positions = torch.arange(seq, device=hidden.device)[None].expand(hidden.shape[0], -1)
        return self.run_blocks_with(hidden, start, stop, mask, positions)

    def run_blocks_with(self, hidden: torch.Tensor, start: int, stop: int, mask: torch.Tensor | None,
                        positions: torch.Tensor, cache=None) -> torch.Tensor:
        """Blocks ``start..stop-1`` with an additive mask [b, 1, q, kv], positions [b, q] and a key/value cache."""
        for layer in range(start, stop):
            kwargs = {"attention_mask": mask}
            if cache is not None:
                kwargs["cache"] = cache
            if self.rotary is not None:
                kwargs["position_embeddings"] = self.rotary(hidden, positions, layer)
                kwargs["position_ids"] = positions
            out = self.blocks[layer](hidden, **kwargs)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    @property
    def takes_cache(self) -> bool:
        """Whether blocks take a ``cache`` and rotary positions (what :meth:`run_blocks_with` needs to resume)."""
        return self.rotary is not None and "cache" in inspect.signature(self.blocks[0].forward).parameters

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Token logits from last-block hidden states of any shape [..., d]."""
        return self.head(self.final_norm(hidden))

    @contextmanager
    def capture(self, kind: str, layers: list[int], inputs: bool = False) -> Iterator[dict[int, torch.Tensor]]:
        """Record the output (or input, ``inputs=True``) of each layer's ``kind`` module: "attn", "mlp" or "edit"."""
        name = {"attn": self.attn_name, "mlp": self.mlp_name, "edit": self.edit_name}[kind]
        captured: dict[int, torch.Tensor] = {}
        hooks = []
        for layer in layers:
            module = self.submodule(layer, name)
            if inputs:
                hooks.append(module.register_forward_pre_hook(
                    lambda m, args, layer=layer: captured.__setitem__(layer, args[0])))
            else:
                hooks.append(module.register_forward_hook(
                    lambda m, args, out, layer=layer: captured.__setitem__(
                        layer, out[0] if isinstance(out, tuple) else out)))
        try:
            yield captured
        finally:
            for hook in hooks:
                hook.remove()


def anatomy(model: torch.nn.Module) -> Anatomy:
    """The :class:`Anatomy` of a Llama-, GPT-NeoX-, GPT-2- or ModernBERT-style ``transformers`` model."""
    kind = model.config.model_type
    if kind == "modernbert":
        body = model.model
        rotary = lambda hidden, positions, layer: body.rotary_emb(  # noqa: E731
            hidden, positions, body.layers[layer].attention_type)
        return Anatomy(model, body.layers, body.embeddings, body.final_norm,
                       torch.nn.Sequential(model.head, model.decoder), rotary, None, "mlp.Wo", "attn", "mlp",
                       transposed=False, causal=False)
    if hasattr(model, "model") and hasattr(model.model, "layers"):  # llama, mistral, qwen2, smollm
        body = model.model
        return Anatomy(model, body.layers, body.embed_tokens, body.norm, model.lm_head,
                       lambda hidden, positions, layer: body.rotary_emb(hidden, positions), None,
                       "mlp.down_proj", "self_attn", "mlp", transposed=False)
    if hasattr(model, "gpt_neox"):
        body = model.gpt_neox
        return Anatomy(model, body.layers, body.embed_in, body.final_layer_norm, model.get_output_embeddings(),
                       lambda hidden, positions, layer: body.rotary_emb(hidden, positions), None,
                       "mlp.dense_4h_to_h", "attention", "mlp", transposed=False)
    if hasattr(model, "transformer") and hasattr(model.transformer, "h"):  # gpt2
        body = model.transformer
        return Anatomy(model, body.h, body.wte, body.ln_f, model.lm_head, None, body.wpe, "mlp.c_proj", "attn", "mlp",
                       transposed=True)
    raise ValueError(f"model type {kind!r} is not supported; supported: Llama-style, GPT-NeoX, GPT-2, ModernBERT")
