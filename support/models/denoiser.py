"""Tiny masked-diffusion denoisers (MDLM) trained from scratch: a bidirectional transformer and its loss.

The objective is MDLM's continuous-time NELBO for the log-linear schedule alpha_t = 1 - t (Sahoo
et al., 2024, eq. 10): mask each token with probability t, predict the clean token at masked
positions with the mask token forbidden (SUBS), weight by 1/t. Times are antithetic (one uniform
offset, evenly spaced), MDLM's variance reduction. The denoiser has ModernBERT's layout (pre-norm,
rotary, GeGLU): a post-norm BERT of the same size sat on the unigram plateau for 4,000 steps.
Sampling lives with the chapter that uses it (``support.cdd.diffusion``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .cached import TrainedOnCorpus, load, training_record
from .corpora import AUSTEN
from .hub import load_masked_lm, quiet_transformers
from .training import train_loop


@dataclass(frozen=True)
class TinyMDLMConfig(TrainedOnCorpus):
    """A small bidirectional denoiser trained with the masked-diffusion (MDLM) objective.

    ``corpus`` is any object with ``name``, ``describe()``, ``tokenizer(vocab_size)`` and
    ``sampler(vocab_size, seq_len, batch_size)``: :data:`~support.models.AUSTEN` (random windows of
    ``seq_len`` BPE tokens) or chapter 1's SMILES corpus (one molecule a row, padded).
    """

    corpus: Any = AUSTEN
    vocab_size: int = 2048  # BPE size of a text corpus; a SMILES corpus has its own vocabulary
    seq_len: int = 32
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 384
    batch_size: int = 64
    steps: int = 2500
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    schedule: str = "cosine"
    weight_decay: float = 0.0
    seed: int = 0
    data_seed: int = 0
    log_every: int = 20

    kind = "tiny-mdlm"
    version = 3  # 2: ModernBERT denoiser; 3: one training loop (models.training)

    def __post_init__(self):
        for method in ("describe", "tokenizer", "sampler"):
            if not callable(getattr(self.corpus, method, None)):
                raise ValueError(f"TinyMDLMConfig.corpus={self.corpus!r} has no {method}() method")
        self.check_fields()

    def label(self) -> str:
        """e.g. ``MDLM d128x4 (austen, 2500 steps)``."""
        return f"MDLM d{self.d_model}x{self.n_layers} ({self.corpus.name}, {self.steps} steps)"

    def produce(self, folder: Path, device: str, progress: bool) -> dict:
        """Train the denoiser from scratch with the MDLM loss and save it into ``folder``."""
        quiet_transformers()
        tokenizer = self.tokenizer()
        model = build_denoiser(self, tokenizer)
        mask_id = tokenizer.mask_token_id

        def loss(model, clean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
            t = antithetic_times(clean.shape[0], generator)
            noisy, is_masked = mask_tokens(clean, t, mask_id, generator)
            logits = model(input_ids=noisy).logits
            return masked_diffusion_loss(logits, clean, is_masked, t.to(clean.device), mask_id)

        history = train_loop(model, self.corpus.sampler(self.vocab_size, self.seq_len, self.batch_size), loss,
                             self.lr_schedule(),
                             data_seed=self.data_seed, weight_decay=self.weight_decay, betas=(0.9, 0.98),
                             log_every=self.log_every, desc=f"train {self.label()}", progress=progress,
                             device=device)
        model.eval()
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        return {"history": history}

    def load_from(self, folder: Path, device: str):
        """``(denoiser, tokenizer)`` from the cache."""
        return load_masked_lm(folder, device=device)


def build_denoiser(cfg: TinyMDLMConfig, tokenizer):
    """A freshly initialised bidirectional transformer (ModernBERT layout: pre-norm, rotary, GeGLU) with an LM head."""
    from transformers import ModernBertConfig, ModernBertForMaskedLM

    special = tokenizer.pad_token_id
    config = ModernBertConfig(vocab_size=len(tokenizer), hidden_size=cfg.d_model, num_hidden_layers=cfg.n_layers,
                              num_attention_heads=cfg.n_heads, intermediate_size=cfg.d_ff,
                              max_position_embeddings=cfg.seq_len, global_attn_every_n_layers=1,
                              local_attention=2 * cfg.seq_len, pad_token_id=special, bos_token_id=special,
                              eos_token_id=special, cls_token_id=special, sep_token_id=special,
                              mask_token_id=tokenizer.mask_token_id, embedding_dropout=0.0, mlp_dropout=0.0,
                              attention_dropout=0.0, tie_word_embeddings=True)
    torch.manual_seed(cfg.seed)
    return ModernBertForMaskedLM(config)


def masked_diffusion_loss(logits: torch.Tensor, clean: torch.Tensor, is_masked: torch.Tensor, t: torch.Tensor,
                          mask_id: int) -> torch.Tensor:
    """MDLM's NELBO per token: logits [B, L, V], clean/is_masked [B, L], t [B]; only masked positions count."""
    logits = logits.clone()
    logits[..., mask_id] = float("-inf")
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), clean, reduction="none")  # [B, L]
    return (nll * is_masked / t[:, None]).sum() / clean.numel()


def mask_tokens(clean: torch.Tensor, t: torch.Tensor, mask_id: int, generator: torch.Generator) -> tuple:
    """Forward process: each token becomes ``mask_id`` with probability t; returns (noisy, is_masked)."""
    is_masked = (torch.rand(clean.shape, generator=generator) < t[:, None]).to(clean.device)
    return torch.where(is_masked, torch.full_like(clean, mask_id), clean), is_masked


def antithetic_times(batch_size: int, generator: torch.Generator, eps: float = 1e-3) -> torch.Tensor:
    """Low-discrepancy diffusion times in [eps, 1]: one uniform offset, evenly spaced."""
    u = (torch.rand(1, generator=generator) + torch.arange(batch_size) / batch_size) % 1.0
    return eps + (1 - eps) * u


@torch.no_grad()
def heldout_nelbo(model, rows: torch.Tensor, mask_id: int, draws: int = 4, batch_size: int = 64,
                  seed: int = 0) -> float:
    """MDLM's NELBO per token (nats) on held-out rows [N, L]: the training loss, averaged over ``draws`` maskings."""
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for _ in range(draws):
        for start in range(0, len(rows), batch_size):
            clean = rows[start:start + batch_size].to(device)
            t = antithetic_times(clean.shape[0], generator)
            noisy, is_masked = mask_tokens(clean, t, mask_id, generator)
            logits = model(input_ids=noisy).logits.float()
            total += float(masked_diffusion_loss(logits, clean, is_masked, t.to(device), mask_id)) * clean.numel()
            count += clean.numel()
    return total / count


def tiny_mdlm(cfg: TinyMDLMConfig, device: str = "cpu", progress: bool = True):
    """``(denoiser, tokenizer)`` of a tiny MDLM: trained once (normally by ``prepare``), then loaded."""
    return load(cfg, device, progress)


def mdlm_training_log(cfg: TinyMDLMConfig) -> list[dict]:
    """The per-step NELBO history of a trained (cached) tiny MDLM."""
    return training_record(cfg)["history"]
