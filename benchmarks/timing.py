"""Timing helper shared by the benchmark scripts."""

from __future__ import annotations

import time

import torch


def best_seconds(step, repeats: int = 3, warmup: bool = True) -> float:
    """Fastest wall time of ``repeats`` calls of ``step`` (after one untimed warm-up call when ``warmup``)."""
    if warmup:
        step()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best
