"""Models trained (or converted) once into the cache, then only loaded: the objects ``prepare`` works through.

Each cached model is a frozen config that knows its cache folder (a hash of everything its weights
depend on), how to produce the weights into a scratch folder, and how to load them. :func:`ensure`
produces a missing model inside :func:`~support.models.training.deterministic_training` and an
atomic folder, so an interrupted run leaves nothing a later run would trust.

``python -m support prepare CHAPTER`` calls :func:`ensure` for every model a chapter lists; the book
build then sets ``SUPPORT_NO_TRAINING=1`` so that a chapter asking for a model that ``prepare`` did
not make fails at once, naming the command, instead of training inside a notebook cell.
"""

from __future__ import annotations

import json
import os
import time
from abc import ABC, abstractmethod
from dataclasses import fields
from pathlib import Path

from ..cache import atomic_dir, cache_dir, is_complete, stable_hash
from .training import SCHEDULES, TRAIN_THREADS, Schedule, deterministic_training

NO_TRAINING_ENV = "SUPPORT_NO_TRAINING"


class ModelNotPrepared(RuntimeError):
    """A cached model is missing and training is switched off (``SUPPORT_NO_TRAINING=1``)."""


class CachedModel(ABC):
    """A model this book makes itself: cache folder from a key, produced once, then loaded."""

    kind: str = "model"  # folder prefix

    @abstractmethod
    def key(self) -> dict:
        """Everything the weights depend on (hashed into the folder name)."""

    @abstractmethod
    def label(self) -> str:
        """A short human-readable name for progress lines and tables."""

    @abstractmethod
    def produce(self, folder: Path, device: str, progress: bool) -> dict:
        """Write the model into ``folder`` (hub format); return a JSON-safe training record."""

    @abstractmethod
    def load_from(self, folder: Path, device: str):
        """``(model, tokenizer)`` from a finished folder."""

    @property
    def folder(self) -> Path:
        """The model's cache folder."""
        return cache_dir() / "models" / f"{self.kind}-{stable_hash(self.key())}"

    def is_ready(self) -> bool:
        """Whether the model is in the cache."""
        return is_complete(self.folder)


def require_positive_ints(config, names) -> None:
    """Raise naming the field when one of ``names`` of a config dataclass is not a positive int."""
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{type(config).__name__}.{name}={value!r} must be a positive integer")


class TrainedOnCorpus(CachedModel):
    """A tiny model trained from scratch on a corpus (the shared part of the tiny LM and MDLM configs).

    Subclasses are frozen dataclasses with the fields named below, a ``corpus`` that has
    ``describe()`` and ``tokenizer(vocab_size)``, and a class attribute ``version``.
    """

    version: int = 0  # bump in a subclass when its training code changes what a config produces

    def check_fields(self) -> None:
        """Validate the fields every tiny config has, naming the bad one."""
        require_positive_ints(self, ("vocab_size", "d_model", "n_layers", "n_heads", "d_ff", "seq_len",
                                     "batch_size", "steps", "log_every"))
        name = type(self).__name__
        if self.schedule not in SCHEDULES:
            raise ValueError(f"{name}.schedule={self.schedule!r} must be one of {SCHEDULES}")
        if self.d_model % self.n_heads:
            raise ValueError(f"{name}.d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        self.lr_schedule()  # validates lr, min_lr_ratio and warmup_steps

    def lr_schedule(self) -> Schedule:
        """The learning-rate schedule of the run."""
        return Schedule(self.steps, self.lr, self.warmup_steps, self.schedule, self.min_lr_ratio)

    def key(self) -> dict:
        """Every field (the corpus by its fingerprint) and the trainer version."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "corpus"}
        return {**values, **self.corpus.describe(), "trainer": self.version}

    def tokenizer(self):
        """The tokenizer of the model's corpus."""
        return self.corpus.tokenizer(self.vocab_size)


def training_allowed() -> bool:
    """False while ``SUPPORT_NO_TRAINING`` is set (the book build: ``prepare`` already ran)."""
    return os.environ.get(NO_TRAINING_ENV, "").lower() not in ("1", "true", "yes", "on")


def training_machine(device: str) -> dict:
    """What a trained model's last bits depend on beyond its key: torch version, CPU vector kernels, threads."""
    import torch

    return {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": TRAIN_THREADS, "device": str(device)}


def ensure(spec: CachedModel, device: str = "cpu", progress: bool = True, chapter: str | None = None) -> Path:
    """The folder of ``spec``, produced first when missing (and training is allowed)."""
    folder = spec.folder
    if is_complete(folder):
        return folder
    if not training_allowed():
        command = f"python -m support prepare {chapter}" if chapter else "python -m support prepare CHAPTER"
        raise ModelNotPrepared(f"model {spec.label()} is not in the cache ({folder}); training is switched off "
                               f"here ({NO_TRAINING_ENV}=1), so run `{command}` first")
    start = time.perf_counter()
    with atomic_dir(folder, {"key": spec.key(), "label": spec.label()}) as scratch, deterministic_training():
        record = spec.produce(scratch, device, progress)
        record = {"label": spec.label(), "key": spec.key(), "seconds": time.perf_counter() - start,
                  **training_machine(device), **record}
        (scratch / "training_log.json").write_text(json.dumps(record, indent=1, default=str))
    return folder


def load(spec: CachedModel, device: str = "cpu", progress: bool = True):
    """``(model, tokenizer)`` of ``spec``: produced once when missing, then loaded from the cache."""
    return spec.load_from(ensure(spec, device, progress), device)


def training_record(spec: CachedModel) -> dict:
    """What :func:`ensure` stored about a produced model (its key, seconds and per-step history)."""
    if not spec.is_ready():
        raise FileNotFoundError(f"model {spec.label()} is not in the cache yet; run `python -m support prepare`")
    return json.loads((spec.folder / "training_log.json").read_text())
