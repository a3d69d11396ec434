"""The editing chapters' shared recipes: a model with its edit cases, C0 texts and downstream checks.

A :class:`Setting` bundles one model with everything its experiments need. ``world`` is the tiny
Llama trained on :mod:`support.editing.world` (ground truth known, thousands of edits on a CPU);
``smollm2`` is SmolLM2-135M (a real pretrained Llama) with cases from real geography; a hub id
(``paper``) loads e.g. ``gpt2-xl`` or ``meta-llama/Meta-Llama-3-8B`` with CounterFact from the hub.
Downstream ability is what a reader would check after editing: recall of facts that were never
edited (top-1 among the relation's objects) and held-out loss for the world model; one-shot multiple
choice on capitals (a relation no edit touches) and held-out loss for SmolLM2 and hub models.
Functions that edit the model to measure something (:func:`calibrate_lam_p`) put the original
weights back before they return.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch

from ..models import austen_paragraphs, hub, multiple_choice_accuracy, require_hub, smollm2, text_loss, tiny_lm
from ..profiles import Param
from ..models.anatomy import Anatomy, anatomy
from ..models.scoring import encode
from . import metrics, world
from .cases import EditCase, capital_questions, geo_candidates, world_cases
from .compute import compute_z, context_prefixes, second_moment
from .sequential import Editor, Method, locate_then_edit, restore, snapshot
from .world import SMOKE_WORLD_MODEL, WORLD_MODEL


#: The parameters every editing chapter has: which model and layers, and how MEMIT's lam_p is chosen.
SETTING_PARAMS = {
    "model": Param(str, smoke="world-smoke", local="world", paper="meta-llama/Meta-Llama-3-8B",
                   help="'world' (tiny Llama on the synthetic facts), 'smollm2', or a hub id (gpt2-xl, Llama-3-8B)"),
    "layers": Param(int, many=True, smoke=(0, 1), local=(0, 1), paper=(4, 5, 6, 7, 8), low=0,
                    help="edited layers"),
    "lam_p_grid": Param(float, many=True, smoke=(100.0,), local=(1000.0, 300.0, 100.0, 30.0, 10.0),
                        paper=(15000.0,), low=0.0,
                        help="MEMIT's weight on C0 (mom2_update_weight): the largest value whose one held-out batch "
                             "reaches ES >= min_efficacy is used (paper: 15,000 for Llama-3, 20,000 for GPT2-XL)"),
    "min_efficacy": Param(float, smoke=0.0, local=85.0, paper=0.0, low=0.0, high=100.0,
                          help="ES (%) one batch of MEMIT edits must reach for a lam_p to be chosen"),
    "null_threshold": Param(float, smoke=1e-2, local=1e-2, paper=2e-2, low=0.0,
                            help="AlphaEdit: eigenvalues of C0 below this span the preserved null space"),
    "null_relative": Param(bool, smoke=True, local=True, paper=False,
                           help="AlphaEdit's threshold as a fraction of C0's largest eigenvalue (False: absolute, "
                                "the reference's 2e-2 tuned to Llama-3-8B)"),
    "z_steps": Param(int, smoke=3, local=25, paper=25, low=1, help="max Adam steps of the value target z"),
}


@dataclass
class Setting:
    """One model and what the experiments on it need."""

    name: str
    model: torch.nn.Module
    tokenizer: object
    layers: tuple[int, ...]
    cases: list[EditCase]
    c0_texts: list[str]
    heldout_texts: list[str]
    probe_cases: list[EditCase]  # facts never edited: downstream recall (world) / locality checks
    mc_examples: list[dict] = field(default_factory=list)  # few-shot multiple choice (SmolLM2 / paper)
    mc_shots: list[dict] = field(default_factory=list)
    calibration_cases: list[EditCase] = field(default_factory=list)  # one held-out batch to choose lam_p on

    @property
    def anatomy(self) -> Anatomy:
        """Handles into the model."""
        return anatomy(self.model)


def world_setting(num_edits: int, layers: tuple[int, ...], seed: int = 0, smoke: bool = False, device: str = "cpu",
                  n_probe: int = 400, n_c0: int = 4000) -> Setting:
    """The synthetic world: its tiny Llama, ``num_edits`` cases of distinct people, never-edited probes, C0 texts.

    Every edit has its own person; probes and neighbourhood prompts are facts of people no edit
    touches; the calibration batch is a third, disjoint set of people.
    """
    spec = world.SMOKE_WORLD if smoke else world.LOCAL_WORLD
    if num_edits > spec.n_editable:
        raise ValueError(f"num_edits={num_edits}: the world {spec.name!r} has {spec.n_editable:,} people an edit may "
                         f"touch (each edit its own person); use num_edits <= {spec.n_editable}")
    model, tokenizer = tiny_lm(SMOKE_WORLD_MODEL if smoke else WORLD_MODEL, device=device)
    edited = world_cases(spec, "edit", num_edits, seed=seed)
    probe = world_cases(spec, "never_edited", min(n_probe, len(world.roles(spec)["never_edited"])), seed=seed)
    calibration = world_cases(spec, "calibration", seed=seed)
    rng = random.Random(seed)
    sentences = world.training_text(spec, passes=1).split("\n")
    austen, heldout = austen_paragraphs()
    c0_texts = rng.sample(sentences, min(n_c0 // 2, len(sentences))) + rng.sample(austen, n_c0 // 2)
    return Setting("world", model, tokenizer, tuple(layers), edited, c0_texts, heldout, probe,
                   calibration_cases=calibration)


def edits_per_key_dimension(num_edits: int, n_layers_edited: int, d_ff: int) -> float:
    """Edits per dimension of the edited keys, num_edits / (layers x d_ff): how crowded the key space is."""
    return num_edits / (n_layers_edited * d_ff)


@torch.no_grad()
def known_cases(model, tokenizer, candidates: list[EditCase], n: int) -> list[EditCase]:
    """The first ``n`` candidates whose true object the model prefers to the new one (CounterFact's filter)."""
    prefers = metrics.preference(model, tokenizer, [c.prompt for c in candidates], [c.target_true for c in candidates],
                                 [c.target_new for c in candidates])
    kept = [c for c, ok in zip(candidates, prefers) if ok]
    if len(kept) < n:
        raise ValueError(f"only {len(kept)} of {len(candidates)} candidate facts are known to the model; "
                         f"ask for num_edits <= {len(kept)}")
    return kept[:n]


def smollm2_setting(num_edits: int, layers: tuple[int, ...], seed: int = 0, device: str = "cpu", n_probe: int = 100,
                    n_c0: int = 2000, n_mc: int = 60) -> Setting:
    """SmolLM2-135M with geography cases it already knows, Austen C0 texts, one-shot MC on capitals."""
    model, tokenizer = smollm2(device=device)
    candidates = geo_candidates(4 * (num_edits + n_probe) + 200, seed=seed)
    cases = known_cases(model, tokenizer, candidates, num_edits + n_probe)
    austen, heldout = austen_paragraphs()
    mc = capital_questions(n_mc + 1, seed)
    return Setting("smollm2", model, tokenizer, tuple(layers), cases[:num_edits],
                   random.Random(seed).sample(austen, n_c0), heldout[:100], cases[num_edits:], mc[1:], mc[:1])


def counterfact_cases(n: int, n_neighbours: int = 5) -> list[EditCase]:
    """The first ``n`` CounterFact records from the hub (``paper`` profile; needs ``datasets`` and network)."""
    from datasets import load_dataset

    records = load_dataset("azhx/counterfact", split="train").select(range(n))
    cases = []
    for record in records:
        rewrite = record["requested_rewrite"]
        subject = rewrite["subject"]
        cases.append(EditCase(subject, rewrite["relation_id"], rewrite["prompt"].format(subject),
                              " " + rewrite["target_new"]["str"], " " + rewrite["target_true"]["str"],
                              tuple(record["paraphrase_prompts"]), tuple(record["neighborhood_prompts"][:n_neighbours])))
    return cases


def hub_setting(model_id: str, num_edits: int, layers: tuple[int, ...], device: str = "cpu", n_c0: int = 10000,
                n_mc: int = 60) -> Setting:
    """A hub model (e.g. ``meta-llama/Meta-Llama-3-8B``) with CounterFact cases and Wikipedia C0 texts."""
    require_hub(f"model={model_id!r} (with CounterFact and Wikipedia)")
    from datasets import load_dataset

    model, tokenizer = hub(model_id, device=device)  # float32: the z loop's Adam and the solves need it
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    cases = counterfact_cases(num_edits + 200)
    wiki = load_dataset("wikimedia/wikipedia", "20231101.en", split="train", streaming=True)
    texts = [row["text"] for _, row in zip(range(n_c0 + 200), wiki)]
    mc = capital_questions(n_mc + 3, seed=0)
    return Setting(model_id, model, tokenizer, tuple(layers), cases[:num_edits], texts[:n_c0], texts[n_c0:],
                   cases[num_edits:], mc[3:3 + n_mc], mc[:3], calibration_cases=cases[num_edits:num_edits + 100])


def setting_for(model: str, num_edits: int, layers: tuple[int, ...], seed: int, device: str) -> Setting:
    """``"world"``, ``"world-smoke"``, ``"smollm2"`` or a hub id -> its :class:`Setting`."""
    if model in ("world", "world-smoke"):
        small = model == "world-smoke"
        return world_setting(num_edits, layers, seed, smoke=small, device=device, n_probe=40 if small else 400,
                             n_c0=200 if small else 4000)
    if model == "smollm2":
        return smollm2_setting(num_edits, layers, seed, device=device)
    return hub_setting(model, num_edits, layers, device=device)


def setting_models(model: str) -> list:
    """The cached models a setting named ``model`` loads (for ``prepare``)."""
    from ..models import SMOLLM2

    return {"world": [WORLD_MODEL], "world-smoke": [SMOKE_WORLD_MODEL], "smollm2": [SMOLLM2]}.get(model, [])


def downstream(setting: Setting, probe_groups: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """Downstream ability now: held-out loss, plus probe-fact recall (world) or MC accuracy (SmolLM2).

    ``probe_groups`` (name -> boolean mask over the probes) adds ``probe_recall_<name>`` per group.
    """
    out = {"heldout_loss": text_loss(setting.model, setting.tokenizer, setting.heldout_texts)}
    if setting.mc_examples:
        out["mc_accuracy"] = multiple_choice_accuracy(setting.model, setting.tokenizer, setting.mc_examples,
                                                      setting.mc_shots)
    else:
        hits = metrics.top1_hits(setting.model, setting.tokenizer, setting.probe_cases)
        out["probe_recall"] = float(hits.mean())
        for name, mask in (probe_groups or {}).items():
            out[f"probe_recall_{name}"] = float(hits[mask].mean()) if mask.any() else float("nan")
    return out


def last_subject_tokens(tokenizer, cases: list[EditCase]) -> np.ndarray:
    """Token id at each case's subject's last token in its rewrite prompt (where the editors read keys)."""
    batch = encode(tokenizer, [c.prompt for c in cases], None, [c.subject for c in cases])
    return batch.input_ids[torch.arange(len(cases)), batch.subject_pos].numpy()


def shared_token_groups(tokenizer, edited: list[EditCase], probes: list[EditCase]) -> dict[str, np.ndarray]:
    """Probes whose subject ends in the same token as some edited subject's ("shared_token"), and the rest."""
    shared = np.isin(last_subject_tokens(tokenizer, probes), last_subject_tokens(tokenizer, edited))
    return {"shared_token": shared, "other_token": ~shared}


def make_editor(setting: Setting, lam_p: float, null_threshold: float, null_relative: bool = False,
                progress: bool = True, **kwargs) -> Editor:
    """An :class:`Editor` with C0 measured on the setting's ordinary text at each edited layer."""
    c0 = second_moment(setting.anatomy, setting.tokenizer, setting.c0_texts, list(setting.layers), progress=progress)
    return Editor(setting.anatomy, setting.layers, c0, lam_p=lam_p, null_threshold=null_threshold,
                  null_relative=null_relative, **kwargs)


def calibrate_lam_p(setting: Setting, editor: Editor, prefixes: list[str], grid: tuple[float, ...],
                    min_efficacy: float) -> tuple[pd.DataFrame, float]:
    """One held-out batch edited by MEMIT at each lam_p (same z); the largest lam_p with ES >= ``min_efficacy``.

    Returns (one row per lam_p: ES/PS/NS/S and downstream, the chosen lam_p); the model is restored.
    """
    cases = setting.calibration_cases
    groups = None if setting.mc_examples else shared_token_groups(setting.tokenizer, cases, setting.probe_cases)
    original = snapshot(setting.model)
    zres = compute_z(editor.anatomy, setting.tokenizer, cases, editor.layers[-1], prefixes, editor.zcfg)
    rows = []
    for lam in sorted(grid, reverse=True):
        restore(setting.model, original)
        locate_then_edit(editor.with_settings(lam_p=lam), setting.tokenizer, cases, Method("MEMIT", "memit"),
                         prefixes, {}, zres)
        rows.append({"lam_p": lam, **metrics.edit_scores(setting.model, setting.tokenizer, cases),
                     **downstream(setting, groups)})
    restore(setting.model, original)
    passing = [r["lam_p"] for r in rows if r["ES"] >= min_efficacy]
    return pd.DataFrame(rows), max(passing) if passing else min(grid)


def editing_setup(cfg, device: str, progress: bool = True) -> tuple[Setting, Editor, list[str], pd.DataFrame]:
    """Both chapters' first steps: setting, C0, context prefixes, and lam_p calibrated on a held-out batch.

    Returns (setting, editor with the chosen lam_p and ``z_steps``, prefixes, calibration table).
    """
    setting = setting_for(cfg.model, cfg.num_edits, cfg.layers, cfg.seed, device)
    editor = make_editor(setting, max(cfg.lam_p_grid), cfg.null_threshold, cfg.null_relative, progress=progress)
    editor = editor.with_settings(zcfg=replace(editor.zcfg, steps=cfg.z_steps))
    prefixes = context_prefixes(setting.model, setting.tokenizer, seed=cfg.seed)
    calibration, lam_p = calibrate_lam_p(setting, editor, prefixes, cfg.lam_p_grid, cfg.min_efficacy)
    return setting, editor.with_settings(lam_p=lam_p), prefixes, calibration


def weight_norm_rows(setting: Setting, originals: dict[int, torch.Tensor]) -> list[dict]:
    """One row per edited layer: ||W||_F, ||W - W0||_F and the top singular value of the matrix now."""
    from .diagnostics import weight_norms

    norms = weight_norms(setting.anatomy, list(setting.layers), originals, top_k=1)
    return [{"layer": layer, "fro": v["fro"], "delta_fro": v["delta_fro"], "sv1": v["sv"][0]}
            for layer, v in norms.items()]
