"""Tiny causal language models trained from scratch (Llama or GPT-NeoX/Pythia layout), cached by config.

Used where no registry package ships the model a chapter needs: a family of sizes for scaling laws
(chapter 5), a model whose facts are known exactly (chapters 2-3), an autoregressive judge
(chapter 1). Each is a standard ``transformers`` model saved in hub format, so the study code that
reads it is the code that reads Pythia or Llama-3 in the ``paper`` profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from .cached import TrainedOnCorpus, ensure, load, training_record
from .corpora import AUSTEN, TextCorpus
from .hub import load_pretrained, quiet_transformers
from .scoring import eval_loss
from .training import train_loop

ARCHES = ("llama", "gpt_neox")


@dataclass(frozen=True)
class TinyLMConfig(TrainedOnCorpus):
    """Architecture, data and optimisation of a small causal LM trained from scratch."""

    arch: str = "llama"  # "llama" or "gpt_neox" (Pythia's architecture)
    vocab_size: int = 2048
    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    d_ff: int = 512
    seq_len: int = 128
    batch_size: int = 16
    steps: int = 300
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 30
    schedule: str = "cosine"  # "cosine", "constant" or "wsd" (warmup-stable-decay, last 20% decays)
    weight_decay: float = 0.1
    seed: int = 0  # initialisation
    data_seed: int = 0  # order of training windows (shared across sizes, like Pythia)
    corpus: TextCorpus = AUSTEN
    checkpoint_steps: tuple[int, ...] = field(default_factory=tuple)
    log_every: int = 10
    windows: str = "random"  # "random" offsets, or "disjoint": no token seen twice before the corpus is used up

    kind = "tiny-lm"
    version = 2  # 2: one training loop for every model (models.training); bump when results change

    def __post_init__(self):
        self.check_fields()
        if self.arch not in ARCHES:
            raise ValueError(f"TinyLMConfig.arch={self.arch!r} must be one of {ARCHES}")
        if self.windows not in ("random", "disjoint"):
            raise ValueError(f"TinyLMConfig.windows={self.windows!r} must be 'random' or 'disjoint'")
        if not isinstance(self.corpus, TextCorpus):
            raise ValueError(f"TinyLMConfig.corpus must be a TextCorpus (e.g. models.AUSTEN), got {self.corpus!r}")
        if self.vocab_size < 300:
            raise ValueError(f"TinyLMConfig.vocab_size={self.vocab_size} must be >= 300 (256 bytes + merges)")
        bad = [s for s in self.checkpoint_steps if not 0 < s <= self.steps]
        if bad:
            raise ValueError(f"TinyLMConfig.checkpoint_steps {bad} must lie in 1..steps={self.steps}")
        object.__setattr__(self, "checkpoint_steps", tuple(sorted(set(self.checkpoint_steps))))

    @property
    def tokens(self) -> int:
        """Training tokens seen over the whole run."""
        return self.steps * self.batch_size * self.seq_len

    def key(self) -> dict:
        """As :meth:`TrainedOnCorpus.key`, leaving out ``windows`` at its default so earlier models keep their folders."""
        key = super().key()
        if self.windows == "random":
            del key["windows"]
        return key

    def label(self) -> str:
        """e.g. ``tiny llama d128x4 (austen, 3000 steps, lr 0.001)``, the schedule named when it is not cosine."""
        schedule = "" if self.schedule == "cosine" else f", {self.schedule}"
        return (f"tiny {self.arch} d{self.d_model}x{self.n_layers} ({self.corpus.name}, {self.steps} steps, "
                f"lr {self.lr:g}{schedule})")

    def produce(self, folder: Path, device: str, progress: bool) -> dict:
        """Train from scratch, saving checkpoints in ``step<N>/`` and the final model in ``folder``."""
        quiet_transformers()
        tokenizer = self.tokenizer()
        model = build_causal_lm(self, tokenizer)

        def save_checkpoint(done: int) -> None:
            if done in self.checkpoint_steps and done != self.steps:
                model.save_pretrained(folder / f"step{done}")
                tokenizer.save_pretrained(folder / f"step{done}")

        history = train_loop(model, self.corpus.sampler(self.vocab_size, self.seq_len, self.batch_size, self.windows),
                             next_token_loss, self.lr_schedule(), data_seed=self.data_seed,
                             weight_decay=self.weight_decay, log_every=self.log_every, desc=f"train {self.label()}",
                             progress=progress, device=device, on_step=save_checkpoint)
        model.eval()
        for row in history:
            row["tokens"] = row["step"] * self.batch_size * self.seq_len
        train_ids, held_out = self.corpus.splits(self.vocab_size)
        history[-1]["val_loss"] = eval_loss(model, held_out, self.seq_len, max_tokens=200_000)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        return {"history": history, "corpus_train_tokens": len(train_ids)}

    def load_from(self, folder: Path, device: str, revision: str | None = None):
        """``(model, tokenizer)`` from the cache; ``revision="step64"`` reads an intermediate checkpoint."""
        if revision is not None and revision != f"step{self.steps}":
            steps = [f"step{s}" for s in self.checkpoint_steps if s != self.steps]
            if revision not in steps:
                raise ValueError(f"revision={revision!r} is not a checkpoint of this model; available: {steps}")
            folder = folder / revision
        return load_pretrained(folder, device=device)


def build_causal_lm(cfg: TinyLMConfig, tokenizer):
    """A freshly initialised ``transformers`` causal LM of the config's architecture (seeded)."""
    from transformers import AutoModelForCausalLM, GPTNeoXConfig, LlamaConfig

    common = dict(vocab_size=len(tokenizer), hidden_size=cfg.d_model, num_hidden_layers=cfg.n_layers,
                  num_attention_heads=cfg.n_heads, intermediate_size=cfg.d_ff, max_position_embeddings=cfg.seq_len,
                  bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                  pad_token_id=tokenizer.pad_token_id)
    if cfg.arch == "llama":
        config = LlamaConfig(num_key_value_heads=cfg.n_heads, tie_word_embeddings=True, **common)
    else:  # Pythia: partial rotary, parallel residual, untied embeddings
        config = GPTNeoXConfig(rotary_pct=0.25, use_parallel_residual=True, tie_word_embeddings=False, **common)
    torch.manual_seed(cfg.seed)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32)


def next_token_loss(model, batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mean next-token cross-entropy of a batch [batch, seq_len] (the causal LM objective)."""
    return model(input_ids=batch, labels=batch).loss


def non_embedding_params(model) -> int:
    """Parameters outside the token embedding and output head (the N of scaling laws)."""
    skip = {id(p) for p in (model.get_input_embeddings().weight, model.get_output_embeddings().weight)}
    return sum(p.numel() for p in model.parameters() if id(p) not in skip)


def tiny_lm(cfg: TinyLMConfig, revision: str | None = None, device: str = "cpu", progress: bool = True):
    """``(model, tokenizer)`` of a tiny LM: trained once (normally by ``prepare``), then loaded.

    ``revision="step64"`` loads an intermediate checkpoint listed in ``cfg.checkpoint_steps``,
    mirroring the hub's ``revision`` argument for Pythia.
    """
    if revision is None:
        return load(cfg, device, progress)
    return cfg.load_from(ensure(cfg, device, progress), device, revision)


def training_log(cfg: TinyLMConfig) -> list[dict]:
    """The per-step training history of a trained (cached) tiny LM."""
    return training_record(cfg)["history"]
