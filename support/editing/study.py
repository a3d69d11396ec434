"""The two editing chapters' recipes: models, edit cases, C0 texts, what is measured, and their parameters.

A :class:`Setting` bundles one model with everything its experiments need. ``world`` is the tiny
Llama trained by the zoo on :mod:`support.factworld` (ground truth known, thousands of edits on a
CPU); ``smollm2`` is SmolLM2-135M (a real pretrained Llama) with cases from BIG-bench qa_wikidata;
a hub id (``paper``) loads e.g. ``gpt2-xl`` or ``meta-llama/Meta-Llama-3-8B`` with CounterFact from
the hub. Downstream ability is what a reader would check after editing: recall of facts that were
never edited (top-1 among the relation's objects) and held-out loss for the world model; few-shot
BIG-bench multiple choice and held-out loss for SmolLM2.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from .. import factworld, resources, zoo
from ..profiles import Param
from ..progress import tqdm
from . import finetune, metrics
from .anatomy import Anatomy, anatomy
from .cases import EditCase, wikidata_candidates, world_cases
from .compute import compute_z, context_prefixes, second_moment
from .diagnostics import (
    activation_norms,
    linear_cka,
    principal_cosines,
    probe_activations,
    residual_shares,
    weight_norms,
)
from .sequential import (
    EditorState,
    Method,
    edit_batch,
    locate_then_edit,
    restore,
    run_sequential,
    snapshot,
)

#: The tiny Llama of the synthetic world (trained once by the zoo: 691 s measured on 2 cores).
WORLD_MODEL = zoo.TinyLMConfig(corpus="factworld", vocab_size=4096, d_model=128, n_layers=4, n_heads=4, d_ff=512,
                               seq_len=64, batch_size=32, steps=3000, lr=3e-3, warmup_steps=100, log_every=50)
#: The smoke profile's and the tests' world model: a small world alone (96 people), learned in about a minute so
#: that edits of it take (the earlier 200-step model of the whole world had learned nothing an edit could move).
SMOKE_WORLD_MODEL = zoo.TinyLMConfig(corpus="factworld-smoke", vocab_size=1024, d_model=64, n_layers=4, n_heads=4,
                                     d_ff=256, seq_len=64, batch_size=16, steps=800, warmup_steps=30, log_every=50)


@dataclass
class Setting:
    """One model and what the experiments on it need."""

    name: str
    model: torch.nn.Module
    tokenizer: object
    layers: list[int]
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


def parse_layers(text: str) -> list[int]:
    """``"4,5,6"`` or ``"4-8"`` -> the list of edited layers."""
    try:
        if "-" in text:
            low, high = (int(x) for x in text.split("-"))
            return list(range(low, high + 1))
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"layers={text!r} must look like '4,5,6' or '4-8'") from None


def world_setting(num_edits: int, layers: str, seed: int = 0, smoke: bool = False, device: str = "cpu",
                  n_probe: int = 400, n_c0: int = 4000, n_calibration: int = 50) -> Setting:
    """The synthetic-world setting: its tiny Llama, ``num_edits`` cases, never-edited probe facts, C0 texts."""
    model, tokenizer = zoo.tiny_lm(SMOKE_WORLD_MODEL if smoke else WORLD_MODEL, device=device)
    n_subjects = zoo.SMOKE_WORLD_SUBJECTS if smoke else 1250
    cases = world_cases(num_edits + n_probe + n_calibration, seed=seed, n_subjects=n_subjects)
    edited, probe = cases[:num_edits], cases[num_edits:num_edits + n_probe]
    rng = random.Random(seed)
    sentences = factworld.training_text(n_subjects=n_subjects, passes=1).split("\n")
    austen = [p for p in resources.english_corpus().split("\n\n") if len(p) > 200]
    heldout = austen[-200:]  # the tail of Persuasion, outside the training split
    c0_texts = rng.sample(sentences, n_c0 // 2) + rng.sample(austen[:-200], n_c0 // 2)
    return Setting("world", model, tokenizer, parse_layers(layers), edited, c0_texts, heldout, probe,
                   calibration_cases=cases[num_edits + n_probe:])


def wikipedia_like_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` Wikipedia-style paragraphs from BIG-bench (contexts of contextual_parametric_knowledge_conflicts)."""
    texts = [e["input"].split("Context:", 1)[-1].strip()
             for e in resources.bigbench_examples("contextual_parametric_knowledge_conflicts")]
    return random.Random(seed).sample(texts, min(n, len(texts)))


@torch.no_grad()
def known_cases(model, tokenizer, candidates: list[EditCase], n: int) -> list[EditCase]:
    """The first ``n`` candidates whose true object the model prefers to the new one (CounterFact's filter)."""
    prefers = metrics.preference(model, tokenizer, [c.prompt for c in candidates], [c.target_true for c in candidates],
                                 [c.target_new for c in candidates])
    kept = [c for c, ok in zip(candidates, prefers) if ok]
    if len(kept) < n:
        raise ValueError(f"only {len(kept)} of {len(candidates)} qa_wikidata candidates are known to the model; "
                         f"ask for num_edits <= {len(kept)}")
    return kept[:n]


def smollm2_setting(num_edits: int, layers: str, seed: int = 0, device: str = "cpu", n_probe: int = 100,
                    n_c0: int = 2000, n_mc: int = 60) -> Setting:
    """SmolLM2-135M with qa_wikidata cases it already knows, Wikipedia-style C0 texts, BIG-bench MC."""
    model, tokenizer = zoo.smollm2(device=device)
    candidates = wikidata_candidates(4 * (num_edits + n_probe) + 200, seed=seed)
    cases = known_cases(model, tokenizer, candidates, num_edits + n_probe)
    texts = wikipedia_like_texts(n_c0 + 100, seed)
    mc = resources.bigbench_examples("general_knowledge")
    return Setting("smollm2", model, tokenizer, parse_layers(layers), cases[:num_edits], texts[:n_c0], texts[n_c0:],
                   cases[num_edits:], mc[1:1 + n_mc], mc[:1])


def heldout_loss(setting: Setting, max_len: int = 128) -> float:
    """Mean next-token loss on the setting's held-out texts."""
    device = next(setting.model.parameters()).device
    enc = setting.tokenizer(setting.heldout_texts, truncation=True, max_length=max_len, padding=True,
                            return_tensors="pt", add_special_tokens=False, padding_side="right")
    total, count = 0.0, 0
    with torch.no_grad():
        for ids, real in zip(enc["input_ids"].split(16), enc["attention_mask"].split(16)):
            ids, real = ids.to(device), real.to(device)
            logits = setting.model(input_ids=ids).logits[:, :-1]
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1),
                                                     reduction="none")
            keep = real[:, 1:].reshape(-1).bool()
            total += float(loss[keep].sum())
            count += int(keep.sum())
    return total / count


def downstream(setting: Setting) -> dict[str, float]:
    """Downstream ability now: held-out loss, plus probe-fact recall (world) or MC accuracy (SmolLM2)."""
    out = {"heldout_loss": heldout_loss(setting)}
    if setting.mc_examples:
        out["mc_accuracy"] = metrics.multiple_choice_accuracy(setting.model, setting.tokenizer, setting.mc_examples,
                                                              setting.mc_shots)
    else:
        out["probe_recall"] = metrics.top1_recall(setting.model, setting.tokenizer, setting.probe_cases)
    return out


def make_state(setting: Setting, lam_p: float, null_threshold: float, progress: bool = True, **kwargs) -> EditorState:
    """An :class:`EditorState` with C0 measured on the setting's ordinary text at each edited layer."""
    c0 = second_moment(setting.anatomy, setting.tokenizer, setting.c0_texts, setting.layers, progress=progress)
    return EditorState(setting.anatomy, setting.layers, c0, lam_p=lam_p, null_threshold=null_threshold, **kwargs)


def weight_measure(setting: Setting, state: EditorState, with_downstream: bool) -> Callable[[int], dict]:
    """A ``measure`` callback: edited-layer norms (and downstream ability when asked)."""
    def measure(done: int) -> dict:
        row = _norm_row(setting, state)
        if with_downstream:
            row.update(downstream(setting))
        return row
    return measure


def final_scores(setting: Setting, locality: np.ndarray, n_entropy: int = 20, seed: int = 0) -> dict:
    """After the last edit: ES/PS/NS/S over every edit made (retention), entropy, probabilities, downstream."""
    model, tok = setting.model, setting.tokenizer
    scores = metrics.edit_scores(model, tok, setting.cases, locality)
    scores.update(downstream(setting))
    prompts = [c.prompt for c in setting.cases[:n_entropy]]
    scores["entropy"] = metrics.generation_entropy(metrics.sample_texts(model, tok, prompts, seed=seed))
    scores["p_new_edited"] = float(metrics.object_probabilities(model, tok, setting.cases, "new").mean())
    return scores


def run_methods(setting: Setting, methods: list[Method], state: EditorState, prefixes: list[str], batch_size: int,
                eval_every: int, with_downstream: bool = True, progress: bool = True) -> list[dict]:
    """Each method from the same unedited model: curves, final scores, overfitting and time per edit."""
    original = snapshot(setting.model)
    locality = metrics.baseline_locality(setting.model, setting.tokenizer, setting.cases)
    results = []
    for method in methods:
        restore(setting.model, original)
        measure = weight_measure(setting, state, with_downstream)
        out = run_sequential(state, setting.tokenizer, setting.cases, method, prefixes, batch_size, eval_every,
                             measure, progress=progress, after_batch=lambda chunk: {
                                 "p_new_just_edited": float(metrics.object_probabilities(
                                     setting.model, setting.tokenizer, chunk, "new").mean())})
        out["final"] = final_scores(setting, locality)
        results.append(out)
    restore(setting.model, original)
    return results


def known_fact_probability(setting: Setting) -> float:
    """Mean P(true object | rewrite prompt) over never-edited facts the model ranks first (facts it knows)."""
    model, tok = setting.model, setting.tokenizer
    probs = metrics.object_probabilities(model, tok, setting.probe_cases, "true")
    known = metrics.top1_hits(model, tok, setting.probe_cases, "true")
    return float(probs[known].mean()) if known.any() else float("nan")


def calibrate_lam_p(setting: Setting, state: EditorState, prefixes: list[str], grid: list[float],
                    min_efficacy: float) -> tuple[list[dict], float]:
    """One held-out batch edited by MEMIT at each lam_p (same z); pick the largest with ES >= ``min_efficacy``."""
    cases = setting.calibration_cases
    original = snapshot(setting.model)
    zres = compute_z(state.anatomy, setting.tokenizer, cases, state.layers[-1], prefixes, state.zcfg)
    rows = []
    for lam in sorted(grid, reverse=True):
        restore(setting.model, original)
        state.lam_p, state.prev_kkt = lam, {}
        locate_then_edit(state, setting.tokenizer, cases, Method("MEMIT", "memit"), prefixes, zres)
        row = {"lam_p": lam, **metrics.edit_scores(setting.model, setting.tokenizer, cases)}
        row.update(downstream(setting))
        rows.append(row)
    restore(setting.model, original)
    state.prev_kkt = {}
    passing = [r["lam_p"] for r in rows if r["ES"] >= min_efficacy]
    state.lam_p = max(passing) if passing else min(grid)
    return rows, state.lam_p


def probe_ids(setting: Setting, n_texts: int = 32, max_len: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed probe set of ordinary text: (input ids, real-token mask)."""
    device = next(setting.model.parameters()).device
    enc = setting.tokenizer(setting.heldout_texts[:n_texts], truncation=True, max_length=max_len, padding=True,
                            return_tensors="pt", add_special_tokens=False, padding_side="right")
    return enc["input_ids"].to(device), enc["attention_mask"].bool().to(device)


def activation_report(setting: Setting, before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> dict:
    """Activation norms and residual shares after an update sequence, and drift of each block's output."""
    n = setting.anatomy.n_layers
    report = {"act_norms": activation_norms(after, n), "shares": residual_shares(after, n)}
    report["subspace_cos"] = [float(principal_cosines(before[f"resid{i}"], after[f"resid{i}"]).mean())
                              for i in range(n)]
    report["cka"] = [linear_cka(before[f"resid{i}"], after[f"resid{i}"]) for i in range(n)]
    return report


def text_windows(setting: Setting, n: int, seq_len: int, seed: int) -> torch.Tensor:
    """``n`` windows of ordinary training text for continued pretraining [n, seq_len]."""
    generator = torch.Generator().manual_seed(seed)
    ids = setting.tokenizer("\n\n".join(setting.c0_texts), return_tensors="pt",
                            add_special_tokens=False)["input_ids"][0]
    starts = torch.randint(0, len(ids) - seq_len, (n,), generator=generator)
    return ids[starts[:, None] + torch.arange(seq_len)].to(next(setting.model.parameters()).device)


NORM_GROWTH_KINDS = ("continued pretraining", "full fine-tuning", "LoRA", "fine-tuning (one layer)", "MEMIT",
                     "AlphaEdit")


def norm_trajectory(setting: Setting, state: EditorState, kind: str, n_updates: int, batch_size: int,
                    prefixes: list[str], cpt_lr: float = 3e-4, seed: int = 0, progress: bool = True) -> dict:
    """Apply ``n_updates`` successive updates of one kind; edited-matrix norms after each, activations at the end."""
    if kind not in NORM_GROWTH_KINDS:
        raise ValueError(f"kind={kind!r} must be one of {NORM_GROWTH_KINDS}")
    original = snapshot(setting.model)
    ids, real = probe_ids(setting)
    before = probe_activations(setting.anatomy, ids, real)
    method = {"full fine-tuning": Method(kind, "full_ft"), "LoRA": Method(kind, "lora"),
              "fine-tuning (one layer)": Method(kind, "ft"), "MEMIT": Method(kind, "memit"),
              "AlphaEdit": Method(kind, "alphaedit")}.get(kind)
    state.prev_kkt = {}
    rows = [{"update": 0, **_norm_row(setting, state)}]
    for update in tqdm(range(1, n_updates + 1), desc=kind, disable=not progress):
        if method is None:
            windows = text_windows(setting, batch_size, 64, seed + update)
            finetune.continued_pretraining(setting.model, windows, lr=cpt_lr)
        else:
            chunk = setting.cases[(update - 1) * batch_size: update * batch_size]
            edit_batch(state, setting.tokenizer, chunk, method, prefixes)
        rows.append({"update": update, **_norm_row(setting, state)})
    after = probe_activations(setting.anatomy, ids, real)
    out = {"kind": kind, "rows": rows, "before": activation_report(setting, before, before),
           "after": activation_report(setting, before, after), "downstream": downstream(setting)}
    restore(setting.model, original)
    state.prev_kkt = {}
    return out


def _norm_row(setting: Setting, state: EditorState) -> dict:
    norms = weight_norms(setting.anatomy, setting.layers, state.originals, top_k=1)
    row = {f"fro_{layer}": v["fro"] for layer, v in norms.items()}
    row.update({f"delta_fro_{layer}": v["delta_fro"] for layer, v in norms.items()})
    row.update({f"sv1_{layer}": v["sv"][0] for layer, v in norms.items()})
    return row


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


def hub_setting(model_id: str, num_edits: int, layers: str, device: str = "cpu", n_c0: int = 10000,
                n_mc: int = 60) -> Setting:
    """A hub model (e.g. ``meta-llama/Meta-Llama-3-8B``) with CounterFact cases and Wikipedia C0 texts."""
    if not zoo.hub_reachable():
        raise zoo.HubUnavailable(f"model={model_id!r} needs the Hugging Face Hub (CounterFact, Wikipedia and the "
                                 "weights come from there); run this chapter with profile='local' instead")
    from datasets import load_dataset

    model, tokenizer = zoo.hub(model_id, device=device)  # float32: the z loop's Adam and the solves need it
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    cases = counterfact_cases(num_edits + 200)
    wiki = load_dataset("wikimedia/wikipedia", "20231101.en", split="train", streaming=True)
    texts = [row["text"] for _, row in zip(range(n_c0 + 200), wiki)]
    mc = resources.bigbench_examples("general_knowledge")
    return Setting(model_id, model, tokenizer, parse_layers(layers), cases[:num_edits], texts[:n_c0], texts[n_c0:],
                   cases[num_edits:], mc[3:3 + n_mc], mc[:3], calibration_cases=cases[num_edits:num_edits + 100])


def setting_for(model: str, num_edits: int, layers: str, seed: int, device: str) -> Setting:
    """``"world"``, ``"world-smoke"``, ``"smollm2"`` or a hub id -> its :class:`Setting`."""
    if model in ("world", "world-smoke"):
        return world_setting(num_edits, layers, seed, smoke=model == "world-smoke", device=device,
                             n_probe=400 if model == "world" else 40, n_c0=4000 if model == "world" else 200,
                             n_calibration=50 if model == "world" else 10)
    if model == "smollm2":
        return smollm2_setting(num_edits, layers, seed, device=device)
    return hub_setting(model, num_edits, layers, device=device)


def parse_floats(text: str, name: str) -> list[float]:
    """``"1000,100"`` -> [1000.0, 100.0], naming the parameter on bad input."""
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"parameter {name}={text!r} must be comma-separated numbers") from None
    if not values:
        raise ValueError(f"parameter {name} is empty")
    return values


def prepare(cfg, device: str, progress: bool = True) -> tuple[Setting, EditorState, list[str], list[dict], float]:
    """Both chapters' first steps: setting, C0, context prefixes, and lam_p calibrated on a held-out batch."""
    setting = setting_for(cfg.model, cfg.num_edits, cfg.layers, cfg.seed, device)
    grid = parse_floats(cfg.lam_p_grid, "lam_p_grid")
    state = make_state(setting, grid[0], cfg.null_threshold, progress=progress)
    state.zcfg = replace(state.zcfg, steps=cfg.z_steps)
    prefixes = context_prefixes(setting.model, setting.tokenizer, seed=cfg.seed)
    calibration, lam_p = calibrate_lam_p(setting, state, prefixes, grid, cfg.min_efficacy)
    return setting, state, prefixes, calibration, lam_p


# --------------------------------------------------------------------------- the paper's numbers

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


# --------------------------------------------------------------------------- chapter parameters

COMMON_PARAMS = {
    "model": Param(str, smoke="world-smoke", local="world", paper="meta-llama/Meta-Llama-3-8B",
                   help="'world' (tiny Llama on the synthetic facts), 'smollm2', or a hub id (gpt2-xl, Llama-3-8B)"),
    "layers": Param(str, smoke="0,1", local="0,1", paper="4-8", help="edited layers, e.g. '0,1' or '4-8'"),
    "lam_p_grid": Param(str, smoke="100", local="1000,300,100,30,10", paper="15000",
                        help="MEMIT's weight on C0 (mom2_update_weight): the largest value whose one held-out batch "
                             "reaches ES >= min_efficacy is used (paper: 15,000 for Llama-3, 20,000 for GPT2-XL)"),
    "min_efficacy": Param(float, smoke=0.0, local=85.0, paper=0.0, low=0.0, high=100.0,
                          help="ES (%) one batch of MEMIT edits must reach for a lam_p to be chosen"),
    "null_threshold": Param(float, smoke=2e-2, local=2e-2, paper=2e-2, low=0.0,
                            help="AlphaEdit: eigenvalues of C0 below this span the preserved null space"),
    "z_steps": Param(int, smoke=3, local=25, paper=25, low=1, help="max Adam steps of the value target z"),
    "num_edits": Param(int, smoke=20, local=1000, paper=10000, low=1, high=10000,
                       help="sequential edits (the world holds 10,000 facts; num_edits=10000 is the paper's scale)"),
    "batch_size": Param(int, smoke=10, local=50, paper=100, low=1, help="edits per sequential batch"),
}

ENCORE_PARAMS = {
    **COMMON_PARAMS,
    "eval_every": Param(int, smoke=10, local=250, paper=1000, low=1, help="measure downstream ability every N edits"),
    "lam_n": Param(float, smoke=20.0, local=20.0, paper=20.0, low=0.0,
                   help="ENCORE's norm penalty (paper: 10 GPT2-XL / Llama-2, 20 Llama-3)"),
    "mpes_extra": Param(int, smoke=1, local=1, paper=1, low=0,
                        help="MPES: stop at the (m+1)-th all-top-1 check (paper: +3 GPT2-XL, +2 Llama-2, +1 Llama-3)"),
    "smollm2_edits": Param(int, smoke=0, local=8, paper=0, low=0,
                           help="edits on SmolLM2-135M (MEMIT vs ENCORE); ~8 s an edit (MEMIT) on 2 CPU cores"),
    "smollm2_layers": Param(str, smoke="4-8", local="4-8", paper="4-8", help="SmolLM2's edited layers"),
}

NORM_PARAMS = {
    **COMMON_PARAMS,
    "num_edits": Param(int, smoke=20, local=600, paper=2000, low=1, high=10000,
                       help="edits made by each editor (updates x batch size)"),
    "batch_size": Param(int, smoke=10, local=25, paper=100, low=1, help="edits (or text windows) per update"),
    "cpt_lr": Param(float, smoke=3e-4, local=3e-4, paper=1e-5, low=0.0, help="continued-pretraining learning rate"),
}
