"""Choosing the torch device a chapter runs on."""

from __future__ import annotations

import torch

VALID_DEVICES = ("auto", "cpu", "cuda", "mps")


def pick_device(preference: str = "auto") -> torch.device:
    """The device to use: ``auto`` picks CUDA, then Apple MPS, then the CPU."""
    kind = str(preference).split(":")[0]
    if kind not in VALID_DEVICES:
        raise ValueError(f"device={preference!r} is not valid; use one of {VALID_DEVICES} (optionally 'cuda:N')")
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={preference!r} was asked for but no CUDA GPU is visible; use 'cpu' or 'auto'")
    return torch.device(preference)
