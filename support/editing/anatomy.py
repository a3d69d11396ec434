"""Where things are inside a causal LM: blocks, the edited MLP matrix, and a forward pass that starts mid-model.

One small adapter per architecture family (Llama/SmolLM2, GPT-NeoX/Pythia, GPT-2) so the editors
below read and write ``W`` as an ``[out, in]`` matrix whatever the layer type (GPT-2's ``Conv1D``
stores the transpose), and can run blocks ``start..end`` on cached hidden states: the z
optimization then never recomputes the frozen layers below its injection point.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Anatomy:
    """Handles into one model: its blocks, embedding, final norm, head and per-block modules."""

    model: torch.nn.Module
    blocks: torch.nn.ModuleList
    embed: torch.nn.Module
    final_norm: torch.nn.Module
    head: torch.nn.Module
    rotary: torch.nn.Module | None
    position_embed: torch.nn.Module | None
    edit_name: str  # attribute path of the edited matrix inside a block, e.g. "mlp.down_proj"
    attn_name: str
    mlp_name: str
    transposed: bool  # True when the module stores W^T (GPT-2 Conv1D)

    @property
    def n_layers(self) -> int:
        """Number of transformer blocks."""
        return len(self.blocks)

    def submodule(self, layer: int, name: str) -> torch.nn.Module:
        """The module ``name`` (dotted) of block ``layer``."""
        return self.blocks[layer].get_submodule(name)

    def edit_module(self, layer: int) -> torch.nn.Module:
        """The edited MLP output projection of block ``layer``."""
        return self.submodule(layer, self.edit_name)

    def weight(self, layer: int) -> torch.Tensor:
        """The edited matrix of ``layer`` as ``[out, in]`` (a detached copy)."""
        w = self.edit_module(layer).weight.detach()
        return (w.T if self.transposed else w).clone()

    @torch.no_grad()
    def add_to_weight(self, layer: int, delta: torch.Tensor) -> None:
        """``W += delta`` for the edited matrix of ``layer``, ``delta`` given as ``[out, in]``."""
        param = self.edit_module(layer).weight
        param.add_((delta.T if self.transposed else delta).to(param.dtype))

    @torch.no_grad()
    def set_weight(self, layer: int, w: torch.Tensor) -> None:
        """Overwrite the edited matrix of ``layer`` with ``w`` given as ``[out, in]``."""
        param = self.edit_module(layer).weight
        param.copy_((w.T if self.transposed else w).to(param.dtype))

    def embed_tokens(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Input embeddings [batch, seq, d] (plus learned positions for GPT-2)."""
        hidden = self.embed(input_ids)
        if self.position_embed is not None:
            hidden = hidden + self.position_embed(torch.arange(input_ids.shape[1], device=input_ids.device))
        return hidden

    def run_blocks(self, hidden: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """Apply blocks ``start..stop-1`` to ``hidden`` [batch, seq, d] under a causal mask.

        Sequences are right-padded, so a causal mask alone keeps padding out of every real position.
        """
        seq = hidden.shape[1]
        mask = torch.full((seq, seq), torch.finfo(hidden.dtype).min, device=hidden.device, dtype=hidden.dtype).triu(1)[None, None]
        positions = torch.arange(seq, device=hidden.device)[None].expand(hidden.shape[0], -1)
        kwargs = {"attention_mask": mask}
        if self.rotary is not None:
            kwargs["position_embeddings"] = self.rotary(hidden, positions)
            kwargs["position_ids"] = positions
        for layer in range(start, stop):
            out = self.blocks[layer](hidden, **kwargs)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Next-token logits from last-block hidden states of any shape [..., d]."""
        return self.head(self.final_norm(hidden))


def anatomy(model: torch.nn.Module) -> Anatomy:
    """The :class:`Anatomy` of a Llama-, GPT-NeoX- or GPT-2-style ``transformers`` causal LM."""
    kind = model.config.model_type
    if hasattr(model, "model") and hasattr(model.model, "layers"):  # llama, mistral, qwen2, smollm
        body = model.model
        return Anatomy(model, body.layers, body.embed_tokens, body.norm, model.lm_head, body.rotary_emb, None,
                       "mlp.down_proj", "self_attn", "mlp", transposed=False)
    if hasattr(model, "gpt_neox"):
        body = model.gpt_neox
        return Anatomy(model, body.layers, body.embed_in, body.final_layer_norm, model.get_output_embeddings(), body.rotary_emb,
                       None, "mlp.dense_4h_to_h", "attention", "mlp", transposed=False)
    if hasattr(model, "transformer") and hasattr(model.transformer, "h"):  # gpt2
        body = model.transformer
        return Anatomy(model, body.h, body.wte, body.ln_f, model.lm_head, None, body.wpe, "mlp.c_proj", "attn", "mlp",
                       transposed=True)
    raise ValueError(f"model type {kind!r} is not supported for editing; supported: Llama-style, GPT-NeoX, GPT-2")
