"""Sequential editing: batches of edits applied one after another to the same model, with measurements.

A :class:`Method` names one editor and its settings (MEMIT, ENCORE = MEMIT + MPES + norm
penalty, AlphaEdit, fine-tuning, LoRA, ...). :func:`run_sequential` applies ``cases`` in batches,
keeps the running K_p K_p^T per layer (earlier edits' keys, as in the ENCORE/AlphaEdit sequential
setting), times the editing work alone, and calls ``measure(model, n_done)`` every ``eval_every``
edits. :func:`restore` puts the original weights back so methods compare on one model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from ..progress import tqdm
from . import finetune
from .alphaedit import alphaedit_delta, null_space_projector
from .anatomy import Anatomy
from .cases import EditCase
from .compute import ZConfig, ZResult, compute_keys, compute_z, current_outputs
from .memit import memit_delta

KINDS = ("memit", "alphaedit", "ft", "lora", "full_ft")


@dataclass(frozen=True)
class Method:
    """An editor and its settings."""

    name: str
    kind: str  # one of KINDS
    lam_n: float = 0.0  # ENCORE's norm penalty (MEMIT kind)
    mpes_extra: int | None = None  # MPES stopping (MEMIT and AlphaEdit kinds)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Method.kind={self.kind!r} must be one of {KINDS}")
        if self.lam_n < 0:
            raise ValueError(f"Method.lam_n={self.lam_n} must be >= 0")


def encore_methods(lam_n: float, mpes_extra: int) -> list[Method]:
    """The six editors the ENCORE chapter compares, side by side."""
    return [Method("MEMIT", "memit"), Method("MEMIT+MPES", "memit", mpes_extra=mpes_extra),
            Method("MEMIT+norm", "memit", lam_n=lam_n), Method("ENCORE", "memit", lam_n, mpes_extra),
            Method("AlphaEdit", "alphaedit"), Method("AlphaEdit+MPES", "alphaedit", mpes_extra=mpes_extra)]


@dataclass
class EditorState:
    """What persists across batches: C0 and projectors per layer, earlier keys, original weights."""

    anatomy: Anatomy
    layers: list[int]
    c0: dict[int, torch.Tensor]
    lam_p: float = 15000.0
    alpha: float = 10.0
    null_threshold: float = 2e-2
    zcfg: ZConfig = field(default_factory=ZConfig)
    ft_lr: float = 5e-3
    full_lr: float = 1e-4
    lora_rank: int = 4

    def __post_init__(self):
        self.prev_kkt: dict[int, torch.Tensor] = {}
        self.originals = {layer: self.anatomy.weight(layer) for layer in self.layers}
        self.projectors: dict[int, torch.Tensor] = {}

    def projector(self, layer: int) -> torch.Tensor:
        """AlphaEdit's null-space projector of ``layer`` (computed once)."""
        if layer not in self.projectors:
            self.projectors[layer] = null_space_projector(self.c0[layer], self.null_threshold).float()
        return self.projectors[layer]


def locate_then_edit(state: EditorState, tokenizer, cases: list[EditCase], method: Method,
                     prefixes: list[str], zres: ZResult | None = None) -> dict:
    """One batch of MEMIT / ENCORE / AlphaEdit edits spread over ``state.layers`` (``zres``: reuse targets)."""
    anatomy, layers = state.anatomy, state.layers
    if zres is None:
        zres = compute_z(anatomy, tokenizer, cases, layers[-1], prefixes,
                         replace(state.zcfg, mpes_extra=method.mpes_extra))
    for i, layer in enumerate(layers):
        keys = compute_keys(anatomy, tokenizer, cases, layer, prefixes)  # [d_in, B]
        resid = (zres.z - current_outputs(anatomy, tokenizer, cases, layers[-1])) / (len(layers) - i)
        prev = state.prev_kkt.get(layer)
        if method.kind == "memit":
            delta = memit_delta(keys, resid, state.c0[layer], prev, state.lam_p, method.lam_n)
        else:
            delta = alphaedit_delta(keys, resid, state.projector(layer), prev, state.alpha)
        anatomy.add_to_weight(layer, delta)
        state.prev_kkt[layer] = (prev if prev is not None else 0) + (keys @ keys.T).double()
    return {"z_steps": float(zres.steps.float().mean()), "z_prob_new": float(zres.prob_new.mean())}


def edit_batch(state: EditorState, tokenizer, cases: list[EditCase], method: Method, prefixes: list[str]) -> dict:
    """Apply one batch of edits with ``method``; returns per-batch statistics."""
    if method.kind in ("memit", "alphaedit"):
        return locate_then_edit(state, tokenizer, cases, method, prefixes)
    if method.kind == "ft":
        return {"z_steps": finetune.ft_edit(state.anatomy, tokenizer, cases, state.layers[-1], prefixes,
                                            steps=state.zcfg.steps, lr=state.ft_lr)}
    if method.kind == "lora":
        return {"z_steps": finetune.lora_edit(state.anatomy, tokenizer, cases, state.layers, prefixes,
                                              rank=state.lora_rank, steps=state.zcfg.steps)}
    return {"z_steps": finetune.full_finetune(state.anatomy, tokenizer, cases, prefixes, steps=state.zcfg.steps,
                                              lr=state.full_lr)}


def snapshot(model) -> dict[str, torch.Tensor]:
    """A copy of every parameter (to restore the unedited model between methods)."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}


@torch.no_grad()
def restore(model, saved: dict[str, torch.Tensor]) -> None:
    """Put back the parameters of :func:`snapshot`."""
    for name, p in model.named_parameters():
        p.copy_(saved[name])


def run_sequential(state: EditorState, tokenizer, cases: list[EditCase], method: Method, prefixes: list[str],
                   batch_size: int, eval_every: int, measure: Callable[[int], dict] | None = None,
                   progress: bool = True, after_batch: Callable[[list[EditCase]], dict] | None = None) -> dict:
    """Apply ``cases`` in batches of ``batch_size``; measure every ``eval_every`` edits and after the last.

    ``after_batch(chunk)`` runs right after each batch (untimed), e.g. to read the just-edited facts' probability.
    """
    state.prev_kkt = {}
    history = [dict(edits=0, **(measure(0) if measure else {}))]
    edit_seconds, stats = 0.0, []
    bar = tqdm(range(0, len(cases), batch_size), desc=f"{method.name}: {len(cases)} edits", disable=not progress)
    for start in bar:
        chunk = cases[start:start + batch_size]
        began = time.perf_counter()
        stats.append(edit_batch(state, tokenizer, chunk, method, prefixes))
        edit_seconds += time.perf_counter() - began
        if after_batch:
            stats[-1].update(after_batch(chunk))
        done = start + len(chunk)
        if measure and (done % eval_every == 0 or done == len(cases)):
            history.append(dict(edits=done, **measure(done)))
    return {"method": method.name, "history": history, "seconds_per_edit": edit_seconds / max(1, len(cases)),
            "z_steps": float(sum(s["z_steps"] for s in stats) / max(1, len(stats))),
            "batches": stats}
