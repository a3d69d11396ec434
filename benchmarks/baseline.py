"""Baseline throughputs later chapters compare against, measured in one run on this machine.

Prints SmolLM2-135M forward throughput (tokens/s) at batch 1 and batch 16 and the tiny-LM training
throughput (tokens/s), with the batch-16 / batch-1 ratio. Run: ``python benchmarks/baseline.py``.
"""

from __future__ import annotations

import argparse

import torch
from timing import best_seconds

from support import models
from support.models import TinyLMConfig, next_token_loss
from support.models.training import adamw
from support.device import pick_device


@torch.no_grad()
def forward_tokens_per_second(model, batch: int, seq_len: int, repeats: int, device) -> float:
    """Tokens per second of one full forward pass over a [batch, seq_len] block of random ids."""
    ids = torch.randint(0, model.config.vocab_size, (batch, seq_len), device=device)
    return batch * seq_len / best_seconds(lambda: model(input_ids=ids), repeats)


def training_tokens_per_second(cfg: TinyLMConfig, steps: int, device) -> float:
    """Tokens per second of AdamW training steps of a freshly built tiny LM (the steps ``models.train_loop`` runs)."""
    model = models.build_causal_lm(cfg, cfg.tokenizer()).to(device).train()
    optimizer = adamw(model, cfg.lr, cfg.weight_decay, (0.9, 0.95))
    sample = cfg.corpus.sampler(cfg.vocab_size, cfg.seq_len, cfg.batch_size)
    generator = torch.Generator().manual_seed(0)

    def step():
        loss = next_token_loss(model, sample(generator).to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    seconds = best_seconds(lambda: [step() for _ in range(steps)], repeats=2)
    return steps * cfg.batch_size * cfg.seq_len / seconds


def main() -> None:
    """Measure and print the baseline table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = pick_device(args.device)
    print(f"device={device}, torch threads={torch.get_num_threads()}, torch {torch.__version__}")

    model, _ = models.smollm2(device=device)
    b1 = forward_tokens_per_second(model, 1, args.seq_len, args.repeats, device)
    b16 = forward_tokens_per_second(model, 16, args.seq_len, args.repeats, device)
    local_tiny = TinyLMConfig(vocab_size=2048, d_model=128, n_layers=4, n_heads=4, d_ff=512, seq_len=128,
                              batch_size=16)
    train = training_tokens_per_second(local_tiny, steps=10, device=device)

    print(f"SmolLM2-135M forward, batch 1,  seq {args.seq_len}: {b1:10.0f} tokens/s")
    print(f"SmolLM2-135M forward, batch 16, seq {args.seq_len}: {b16:10.0f} tokens/s")
    print(f"  ratio batch 16 / batch 1: {b16 / b1:.2f}x")
    print(f"tiny Llama (d128 x 4 layers, batch 16 x 128) training: {train:10.0f} tokens/s")
    print(f"  ratio SmolLM2 batch-16 forward / tiny training: {b16 / train:.2f}x")


if __name__ == "__main__":
    main()
