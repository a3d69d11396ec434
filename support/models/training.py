"""One small training loop for every model this book trains from scratch, and how it stays reproducible.

:func:`train_loop` takes a model, a batch sampler and a loss: the causal LMs (next-token loss), the
masked-diffusion denoisers (MDLM's NELBO) and the coming SAE and contrastive image-text trainers
all run through it. AdamW with decoupled weight decay on matrices only, a linear warmup then a
cosine, constant or warmup-stable-decay schedule, gradient clipping at 1, and one seeded generator
for everything random in the data (windows, masks, diffusion times), so a config names its model.

Reproducibility (measured; README "Reproducibility"): inside :func:`deterministic_training` the
thread count is fixed and torch's deterministic kernels are on, so two trainings on machines with
the same CPU instruction set give bitwise-equal weights whatever their core counts. A machine
whose CPU lacks AVX-512 runs other vectorised kernels that round differently; its models differ
in the last bits and, after thousands of steps, in a few percent of individual predictions.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Callable

import torch

from ..progress import bar

#: Torch threads while a model trains. CPU kernels split their reductions by thread count: on this
#: project's machines 1 and 2 threads gave bitwise-equal weights and 3 did not.
TRAIN_THREADS = 2
SCHEDULES = ("cosine", "constant", "wsd")


@contextlib.contextmanager
def deterministic_training(threads: int = TRAIN_THREADS):
    """Inside the block: a fixed torch thread count and torch's deterministic kernels; both restored after."""
    threads_before = torch.get_num_threads()
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    warn_only_before = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)  # warn, not fail, where CUDA lacks such a kernel
    try:
        yield
    finally:
        torch.set_num_threads(threads_before)
        torch.use_deterministic_algorithms(deterministic_before, warn_only=warn_only_before)


@dataclass(frozen=True)
class Schedule:
    """Peak learning rate, warmup and decay of a training run of ``steps`` steps."""

    steps: int
    lr: float
    warmup_steps: int = 0
    kind: str = "cosine"  # "cosine", "constant" or "wsd" (warmup-stable-decay, the last 20% decays)
    min_lr_ratio: float = 0.1

    def __post_init__(self):
        if self.kind not in SCHEDULES:
            raise ValueError(f"schedule={self.kind!r} must be one of {SCHEDULES}")
        if not (self.lr > 0 and math.isfinite(self.lr) and 0 <= self.min_lr_ratio <= 1 and self.warmup_steps >= 0):
            raise ValueError("a schedule needs a finite lr > 0, 0 <= min_lr_ratio <= 1 and warmup_steps >= 0")

    def factor(self, step: int) -> float:
        """Learning-rate multiplier at ``step`` (0-based): linear warmup, then the schedule."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.kind == "constant":
            return 1.0
        if self.kind == "cosine":
            progress = (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps)
            return self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        decay_start = self.steps - max(1, self.steps // 5)
        if step < decay_start:
            return 1.0
        progress = (step - decay_start) / max(1, self.steps - decay_start)
        return 1.0 - (1 - self.min_lr_ratio) * progress


def adamw(model: torch.nn.Module, lr: float, weight_decay: float, betas: tuple[float, float]) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices (and embeddings) only, none on biases and norms."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=betas)


Sampler = Callable[[torch.Generator], torch.Tensor]
Loss = Callable[[torch.nn.Module, torch.Tensor, torch.Generator], torch.Tensor]


@torch.enable_grad()  # trains even when the caller turned gradients off globally (as the benchmarks do)
def train_loop(model: torch.nn.Module, sample: Sampler, loss_fn: Loss, schedule: Schedule, *, data_seed: int,
               weight_decay: float = 0.0, betas: tuple[float, float] = (0.9, 0.95), log_every: int = 10,
               desc: str = "train", progress: bool = True, device: str | torch.device = "cpu",
               on_step: Callable[[int], None] | None = None) -> list[dict]:
    """Train ``model`` for ``schedule.steps`` steps; return the logged history (step, loss, lr, seconds).

    Each step draws a batch with ``sample(generator)``, computes ``loss_fn(model, batch, generator)``
    (the generator also draws the loss's own noise), clips the gradient norm at 1 and steps AdamW.
    ``on_step(done)`` runs after each step (e.g. to save a checkpoint).
    """
    model.to(device).train()
    optimizer = adamw(model, schedule.lr, weight_decay, betas)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule.factor)
    generator = torch.Generator().manual_seed(data_seed)
    history, start = [], time.perf_counter()
    steps = bar(range(schedule.steps), desc=desc, disable=not progress)
    for step in steps:
        batch = sample(generator).to(device)
        loss = loss_fn(model, batch, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        done = step + 1
        if done % log_every == 0 or done == 1 or done == schedule.steps:
            history.append({"step": done, "loss": loss.item(), "lr": scheduler.get_last_lr()[0],
                            "seconds": time.perf_counter() - start})
            steps.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        if on_step is not None:
            on_step(done)
    return history
