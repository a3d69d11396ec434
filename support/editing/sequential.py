"""Sequential editing: batches of edits applied one after another to the same model, with measurements.

A :class:`Method` names one editor and its settings (MEMIT, ENCORE = MEMIT + MPES + norm
penalty, AlphaEdit, ROME, fine-tuning, LoRA, ...). An :class:`Editor` holds what every batch needs and
never changes during a run (the model's anatomy, the edited layers, C0 per layer, the settings);
the one thing that accumulates, K_p K_p^T per layer (the keys of all earlier edits, as in the
ENCORE/AlphaEdit sequential setting), is passed in and returned explicitly. :func:`run_sequential`
applies ``cases`` in batches to the model it is given (that model ends up edited, which is the
point), times the editing work alone, and calls ``measure(n_done)`` every ``eval_every`` edits;
:func:`snapshot` / :func:`restore` let callers compare methods on one unedited model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from ..models.anatomy import Anatomy
from ..progress import bar
from . import finetune
from .alphaedit import alphaedit_delta, null_space_projector
from .cases import EditCase
from .compute import ZConfig, ZResult, compute_keys, compute_z, current_outputs
from .memit import memit_delta
from .rome import rome_delta

KINDS = ("memit", "alphaedit", "rome", "ft", "lora", "full_ft")
KeptKeys = dict[int, torch.Tensor]  # layer -> K_p K_p^T of every edit made so far in this run


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


@dataclass(frozen=True, eq=False)
class Editor:
    """What every batch of edits needs, fixed for a run: model handles, edited layers, C0, settings."""

    anatomy: Anatomy
    layers: tuple[int, ...]
    c0: dict[int, torch.Tensor] = field(repr=False)
    lam_p: float = 15000.0
    alpha: float = 10.0
    null_threshold: float = 2e-2
    null_relative: bool = False  # the threshold as a fraction of C0's largest eigenvalue
    zcfg: ZConfig = field(default_factory=ZConfig)
    ft_lr: float = 5e-3
    full_lr: float = 1e-4
    lora_rank: int = 4
    _projectors: dict = field(default_factory=dict, repr=False, compare=False)  # memo of projector()

    def projector(self, layer: int) -> torch.Tensor:
        """AlphaEdit's null-space projector of ``layer`` (computed once per editor)."""
        if layer not in self._projectors:
            self._projectors[layer] = null_space_projector(self.c0[layer], self.null_threshold,
                                                          self.null_relative).float()
        return self._projectors[layer]

    def with_settings(self, **changes) -> "Editor":
        """A copy with other settings (e.g. ``lam_p``); projectors are kept when C0 and the threshold are."""
        kept = {} if {"c0", "null_threshold", "null_relative", "layers"} & set(changes) else self._projectors
        return replace(self, **changes, _projectors=kept)


def locate_then_edit(editor: Editor, tokenizer, cases: list[EditCase], method: Method, prefixes: list[str],
                     kept: KeptKeys, zres: ZResult | None = None) -> tuple[dict, KeptKeys]:
    """One batch of MEMIT / ENCORE / AlphaEdit edits spread over the layers; returns (stats, updated K_p K_p^T).

    ``zres`` reuses value targets computed earlier (the calibration of lam_p edits one batch many ways).
    The statistics include the seconds spent on z (``t_z``), on keys and current outputs (``t_keys``)
    and on the closed-form solves and weight updates (``t_solve``).
    """
    anatomy, layers = editor.anatomy, editor.layers
    clock = time.perf_counter()
    if zres is None:
        zres = compute_z(anatomy, tokenizer, cases, layers[-1], prefixes,
                         replace(editor.zcfg, mpes_extra=method.mpes_extra))
    times = {"t_z": time.perf_counter() - clock, "t_keys": 0.0, "t_solve": 0.0}
    kept = dict(kept)
    for i, layer in enumerate(layers):
        clock = time.perf_counter()
        keys = compute_keys(anatomy, tokenizer, cases, layer, prefixes)  # [d_in, B]
        resid = (zres.z - current_outputs(anatomy, tokenizer, cases, layers[-1])) / (len(layers) - i)
        times["t_keys"] += time.perf_counter() - clock
        clock = time.perf_counter()
        prev = kept.get(layer)
        if method.kind == "memit":
            delta = memit_delta(keys, resid, editor.c0[layer], prev, editor.lam_p, method.lam_n)
        else:
            delta = alphaedit_delta(keys, resid, editor.projector(layer), prev, editor.alpha)
        anatomy.add_to_weight(layer, delta)
        kept[layer] = (prev if prev is not None else 0) + (keys @ keys.T).double()
        times["t_solve"] += time.perf_counter() - clock
    return {"z_steps": float(zres.steps.float().mean()), "z_prob_new": float(zres.prob_new.mean()), **times}, kept


def rome_edits(editor: Editor, tokenizer, cases: list[EditCase], prefixes: list[str]) -> dict:
    """ROME: each case in turn, its own z and one rank-one update of the last edited layer."""
    anatomy, layer = editor.anatomy, editor.layers[-1]
    steps, prob_new = [], []
    for case in cases:
        zres = compute_z(anatomy, tokenizer, [case], layer, prefixes, editor.zcfg)
        key = compute_keys(anatomy, tokenizer, [case], layer, prefixes)[:, 0]
        resid = zres.z[:, 0] - current_outputs(anatomy, tokenizer, [case], layer)[:, 0]
        anatomy.add_to_weight(layer, rome_delta(key, resid, editor.c0[layer]))
        steps.append(float(zres.steps[0]))
        prob_new.append(float(zres.prob_new[0]))
    return {"z_steps": sum(steps) / len(steps), "z_prob_new": sum(prob_new) / len(prob_new)}


def edit_batch(editor: Editor, tokenizer, cases: list[EditCase], method: Method, prefixes: list[str],
               kept: KeptKeys) -> tuple[dict, KeptKeys]:
    """Apply one batch of edits with ``method``; returns (per-batch statistics, updated K_p K_p^T)."""
    if method.kind in ("memit", "alphaedit"):
        return locate_then_edit(editor, tokenizer, cases, method, prefixes, kept)
    if method.kind == "rome":
        return rome_edits(editor, tokenizer, cases, prefixes), kept
    anatomy, steps = editor.anatomy, editor.zcfg.steps
    if method.kind == "ft":
        used = finetune.ft_edit(anatomy, tokenizer, cases, editor.layers[-1], prefixes, steps=steps, lr=editor.ft_lr)
    elif method.kind == "lora":
        used = finetune.lora_edit(anatomy, tokenizer, cases, list(editor.layers), prefixes, rank=editor.lora_rank,
                                  steps=steps)
    else:
        used = finetune.full_finetune(anatomy, tokenizer, cases, prefixes, steps=steps, lr=editor.full_lr)
    return {"z_steps": used}, kept


def snapshot(model) -> dict[str, torch.Tensor]:
    """A copy of every parameter (to restore the unedited model between methods)."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}


@torch.no_grad()
def restore(model, saved: dict[str, torch.Tensor]) -> None:
    """Put back the parameters of :func:`snapshot`."""
    for name, p in model.named_parameters():
        p.copy_(saved[name])


def run_sequential(editor: Editor, tokenizer, cases: list[EditCase], method: Method, prefixes: list[str],
                   batch_size: int, eval_every: int, measure: Callable[[int], dict] | None = None,
                   progress: bool = True, after_batch: Callable[[list[EditCase]], dict] | None = None) -> dict:
    """Apply ``cases`` in batches of ``batch_size`` to the editor's model; measure every ``eval_every`` edits.

    Returns ``{"history": [rows of measure()], "batches": [per-batch statistics], "seconds_per_edit",
    "z_steps"}``. ``after_batch(chunk)`` runs right after each batch (untimed), e.g. to read the
    just-edited facts' probability.
    """
    kept: KeptKeys = {}
    history = [dict(edits=0, **(measure(0) if measure else {}))]
    edit_seconds, stats = 0.0, []
    for start in bar(range(0, len(cases), batch_size), desc=f"{method.name}: {len(cases)} edits",
                     disable=not progress):
        chunk = cases[start:start + batch_size]
        began = time.perf_counter()
        batch_stats, kept = edit_batch(editor, tokenizer, chunk, method, prefixes, kept)
        edit_seconds += time.perf_counter() - began
        if after_batch:
            batch_stats.update(after_batch(chunk))
        stats.append({"batch": len(stats), **batch_stats})
        done = start + len(chunk)
        if measure and (done % eval_every == 0 or done == len(cases)):
            history.append(dict(edits=done, **measure(done)))
    return {"history": history, "batches": stats, "seconds_per_edit": edit_seconds / max(1, len(cases)),
            "z_steps": float(sum(s["z_steps"] for s in stats) / max(1, len(stats)))}
