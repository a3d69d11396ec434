# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. Sparse-autoencoder features for safety classification
#
# **Claim of the paper** {cite}`gallifant2025sae`. A sparse autoencoder (SAE) rewrites a language
# model's residual stream as a few active latents out of many, and many latents read as
# human concepts. The paper turns Gemma Scope's SAEs {cite}`lieberum2024gemmascope` over Gemma-2
# into text features (each token marks its most active latents; the marks are summed over the
# text and binarized) and trains logistic regressions on them for safety tasks: toxic prompts,
# jailbreaks, prompts a model should refuse, intents, sentiment in several languages, and the
# model's own behaviour. They report macro-F1 above hidden-state and bag-of-words baselines
# (best settings averaging {glue:text}`paper_average_f1:.3f` ± {glue:text}`paper_average_sd:.3f`),
# with middle layers, summation over tokens and binarized features working best, and features that
# transfer across models and languages.
#
# **What runs where.** `local`: SmolLM2-135M {cite}`allal2025smollm2`, SAEs trained here on its
# activations over Austen's novels (`python -m support prepare 04`, once, on two CPU cores:
# extraction {glue:text}`prepare_extract_minutes:.1f` minutes, SAEs
# {glue:text}`prepare_sae_minutes:.1f` minutes), {glue:text}`n_tasks` labelled tasks from
# registry packages, {glue:text}`folds`-fold cross-validation; this page took
# {glue:text}`chapter_minutes:.1f` minutes. `paper`: Gemma-2-2B with Gemma Scope's SAEs and the
# paper's hub datasets, on a GPU.

# %% tags=["hide-cell"] mystnb={"code_prompt_show": "Show the setup cell (installs the support package where it is missing)", "code_prompt_hide": "Hide the setup cell"}
# Setup: install the book's `support` package when it is missing (e.g. in Colab).
# Only what is missing is installed: Colab's own torch and numpy are kept.
import importlib
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("support") is None:
    source = os.environ.get("TRUSTML_SUPPORT_SOURCE", "git+https://github.com/trustml-book/trustml-book@main")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"trustml-book-support[paper] @ {source}"])
    importlib.invalidate_caches()

# %% tags=["parameters", "hide-cell"] mystnb={"code_prompt_show": "Show the parameters cell (profile and overrides)", "code_prompt_hide": "Hide the parameters cell"}
profile = "local"  # "smoke" (seconds), "local" (minutes on a CPU), "paper" (GPU + downloads)
seed = None  # None keeps the profile's default
device = None
lm = None
layers = None
sae_source = None
widths = None
sae_k = None
jumprelu_lambda = None
sae_texts = None
sae_tokens = None
sae_steps = None
sae_batch = None
sae_lr = None
sae_repo = None
gemma_scope_l0 = None
tasks = None
per_class = None
text_tokens = None
top_n = None
binarize_at = None
folds = None
inner_folds = None
behaviour_file = None
behaviour_items = None
quality_texts = None
top_features = None
batch_size = None
results_path = None  # where the results JSON goes (batch runs set it)

# %% tags=["hide-cell"] mystnb={"code_prompt_show": "Show the imports and the resolved configuration", "code_prompt_hide": "Hide the imports and the configuration"}
# NBVAL_CHECK_OUTPUT
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from support import plots, resources
from support.device import pick_device
from support.glue import glue, glued
from support.models import cached
from support.models import language_model
from support.profiles import resolve
from support.results import save_results
from support.sae import figures, study
from support.sae import tasks as task_data
from support.seed import seed_everything

cfg = resolve(profile, study.PARAMS, seed=seed, device=device, lm=lm, layers=layers,
              sae_source=sae_source, widths=widths, sae_k=sae_k,
              jumprelu_lambda=jumprelu_lambda, sae_texts=sae_texts,
              sae_tokens=sae_tokens, sae_steps=sae_steps, sae_batch=sae_batch,
              sae_lr=sae_lr, sae_repo=sae_repo, gemma_scope_l0=gemma_scope_l0,
              tasks=tasks, per_class=per_class, text_tokens=text_tokens, top_n=top_n,
              binarize_at=binarize_at, folds=folds,
              inner_folds=inner_folds, behaviour_file=behaviour_file,
              behaviour_items=behaviour_items, quality_texts=quality_texts,
              top_features=top_features, batch_size=batch_size)
seed_everything(cfg.seed)
torch_device = pick_device(cfg.device)
plots.set_style()
chapter_start = time.perf_counter()
glue("paper_average_f1", study.PAPER_AVERAGE_F1)
glue("paper_average_sd", study.PAPER_AVERAGE_SD)
glue("folds", cfg.folds)
glue("n_tasks", len(cfg.tasks) + (cfg.behaviour_items > 0))
glue("layers_text", " and ".join(map(str, cfg.layers)))
glue("widths_text", " and ".join(f"{w:,}" for w in cfg.widths))
glue("sae_k", cfg.sae_k)
glue("top_n", cfg.top_n)
glue("binarize_at", cfg.binarize_at)
glue("n_variants", len(study.VARIANTS))
cfg.table()

# %% [markdown]
# ## The model and its sparse autoencoders
#
# An SAE reads an activation $x \in \mathbb{R}^d$ as latents
# $f = \sigma(W_{\mathrm{enc}}^\top (x - b_{\mathrm{dec}}) + b_{\mathrm{enc}})$ and writes it back as
# $\hat x = W_{\mathrm{dec}}^\top f + b_{\mathrm{dec}}$, with unit-norm decoder rows so that a
# latent's activation is its size. Two activations, each with its paper's objective:
# TopK {cite}`gao2024topk` keeps each token's {glue:text}`sae_k` largest pre-activations (sparsity
# fixed, loss $\lVert x - \hat x\rVert^2$), and JumpReLU {cite}`rajamanoharan2024jumprelu`, Gemma
# Scope's, zeroes what falls below a learned per-latent threshold and pays $\lambda$ per active
# latent, trained through a straight-through estimate of the threshold's gradient. Latents that
# stop firing are re-pointed at badly reconstructed inputs during training.
#
# In `local` the SAEs read the output of SmolLM2's blocks {glue:text}`layers_text` (of
# {glue:text}`n_blocks`: a middle and a late one) on {glue:text}`sae_train_tokens:,` tokens of
# Austen's novels, at widths {glue:text}`widths_text` (four and eight times the residual width), plus
# one JumpReLU SAE for comparison. Each text's first token is left out of training and of every
# feature below: SmolLM2 has no start token, so its first position is the attention sink, whose
# activation is many times larger than the others' and nearly the same in every text. Block $L$
# here is the output of the $L$-th block (0-based), read by a hook; a test checks that it equals
# `transformers`' `hidden_states[L + 1]`. The paper's reference code indexes `hidden_states[L]`
# (one block early for Gemma Scope's layer-$L$ SAEs) and drops each text's last token; neither
# happens here.
#
# How good are the SAEs? On held-out activations: the mean number of active latents (L0), the
# fraction of variance explained (FVE) and the share of latents that never fire; and on held-out
# paragraphs, the language-model loss when the block's output is replaced by the SAE's
# reconstruction, as a fraction of the loss lost when it is replaced by its mean.

# %%
model, tokenizer = language_model(cfg.lm, torch_device)
saes = study.load_saes(cfg, torch_device)
quality = study.sae_quality(cfg, saes, model, tokenizer)
if cfg.sae_source == "trained":
    activation_record = cached.training_record(study.activation_set(cfg))
    glue("sae_train_tokens", activation_record["rows"])
    glue("prepare_extract_minutes", activation_record.get("seconds", float("nan")) / 60)
    glue("prepare_sae_minutes", quality.train_seconds.sum() / 60)
else:
    glue("sae_train_tokens", 0)
    glue("prepare_extract_minutes", 0.0)
    glue("prepare_sae_minutes", 0.0)
glue("n_blocks", model.config.num_hidden_layers)
topk = quality[quality.kind == study.grid_kind(cfg)]
glue("topk_fve_min", topk.fve.min())
glue("topk_fve_max", topk.fve.max())
glue("topk_dead_max", topk.dead_fraction.max())
glue("topk_recovered_min", topk.loss_recovered.min())
glue("topk_recovered_max", topk.loss_recovered.max())
bar = study.SAE_BAR
meets_bar = ((quality.fve >= bar["fve"]) & (quality.l0 <= bar["l0"])
             & (quality.dead_fraction <= bar["dead"]))
glue("bar_fve", bar["fve"])
glue("bar_l0", bar["l0"])
glue("bar_dead", bar["dead"])
glue("n_meeting", int(meets_bar.sum()))
glue("n_saes", len(quality))
glue("jumprelu_lambda", cfg.jumprelu_lambda)
jump = quality[(quality.kind == "jumprelu") & (cfg.sae_source == "trained")]
for column in ("l0", "fve", "loss_recovered"):
    value = float(jump[column].iloc[0]) if len(jump) else float("nan")
    glue(f"jumprelu_{column}", value)
display(quality.round(3))

# %% [markdown]
# The TopK SAEs explain {glue:text}`topk_fve_min:.3f` to {glue:text}`topk_fve_max:.3f` of the
# variance with at most {glue:text}`topk_dead_max:.1%` of latents dead, and spliced back into the
# model they recover {glue:text}`topk_recovered_min:.1%` to {glue:text}`topk_recovered_max:.1%`
# of the loss that mean ablation loses. The JumpReLU SAE ($\lambda =$
# {glue:text}`jumprelu_lambda:.4f`) has L0 {glue:text}`jumprelu_l0:.1f`, explains
# {glue:text}`jumprelu_fve:.3f` and recovers {glue:text}`jumprelu_loss_recovered:.1%`. In all,
# {glue:text}`n_meeting` of the {glue:text}`n_saes` SAEs meet the bar set for this chapter (FVE at
# least {glue:text}`bar_fve:.1f` at L0 at most {glue:text}`bar_l0`, at most
# {glue:text}`bar_dead:.0%` of latents dead). $\lambda$ sets JumpReLU's trade between sparsity
# and fidelity: in development runs (not rerun here), penalties two and four times as large gave
# sparser codes that fell just short of the FVE bar.
#
# ## The tasks and where their labels come from
#
# The paper's datasets live on the model hub, out of reach here. The `local` stand-ins come from
# registry packages, each with labels written by people (or, for the last, by the model itself):

# %%
labelled = study.load_tasks(cfg)
if cfg.behaviour_items:
    labelled["behaviour"] = study.behaviour_task(cfg, model, tokenizer)
task_table = pd.DataFrame([
    {"task": t.name, "texts": len(t.texts), "classes": len(t.label_names),
     "paper's counterpart": study.PAPER_ANALOGUE.get(t.name) or "-",
     "labels from": t.source}
    for t in labelled.values()])
if "behaviour" in labelled:
    glue("behaviour_accuracy", float(labelled["behaviour"].labels.mean()))
    first_item = resources.multiple_choice_examples(cfg.behaviour_file, 1)[0]
    glue("behaviour_options", len(first_item["target_scores"]))
else:
    glue("behaviour_accuracy", float("nan"))
    glue("behaviour_options", 0)
with pd.option_context("display.max_colwidth", 70):
    display(task_table)

# %% [markdown]
# - *harmful*: requests a model should refuse, from Do-Not-Answer {cite}`wang2024donotanswer`
#   and HarmBench {cite}`mazeika2024harmbench`, against benign exam questions: the analogue of the
#   paper's rejected prompts. The two sides also differ in style (requests against exam
#   questions), which a bag-of-words baseline can read as well as any feature.
# - *risk_area*: which of Do-Not-Answer's five risk areas a harmful request belongs to, a small
#   taxonomy standing in for banking77's intents.
# - *bias_type*: which of CrowS-Pairs' {cite}`nangia2020crowspairs` nine bias types a
#   stereotyped sentence is about.
# - *sentiment*: tweets whose mean human rating in VADER's ground truth {cite}`hutto2014vader`
#   is clearly negative or positive.
# - *behaviour*: whether SmolLM2 picks the right option of a Social IQa {cite}`sap2019siqa`
#   item (lowest per-token loss of the option after the question), predicted from its
#   activations on the question alone. It got {glue:text}`behaviour_accuracy:.1%` of them right,
#   with {glue:text}`behaviour_options` options an item: near chance, so its labels are mostly
#   the noise of a weak model, and a probe has little to find.
#
# ## Features: pooling, counts and binarization
#
# Each text becomes one vector per layer and SAE. With the SAE's latents per token,
# {glue:text}`n_variants` variants: the latents summed, averaged, or maxed over the text's tokens,
# or read at its last token (`sum`, `mean`, `max`, `last`); the paper's, where each token marks
# its {glue:text}`top_n` most active latents and the marks are summed into counts (`counts`) and
# binarized as count > {glue:text}`binarize_at:.0f` (`binary`, the reference's threshold: a latent
# among a token's top few on at least two tokens); and the plainest binarization, whether a latent
# fired on any token of the text (`fired`). The hidden-state baselines are the block's activations
# averaged over tokens or at the last token; the bag-of-words baseline is TF-IDF over word
# 1-2-grams.
#
# Every feature set is scored by macro-F1 on held-out folds of a stratified
# {glue:text}`folds`-fold cross-validation; each fold's transforms (standardisation, the TF-IDF
# vocabulary) are fitted on its training part only. The grid's probe is a ridge classifier whose
# penalty is chosen by exact leave-one-out on the training part (a closed form:
# {glue:text}`ridge_seconds_per_set:.1f` s a feature set here, all folds), with classes weighted
# inversely to their frequency so that a rare class is not simply never predicted; the paper's
# classifier, logistic regression with $C$ chosen by an inner cross-validation, took
# {glue:text}`logistic_seconds_per_set:.0f` s a set and is run below on each task's best
# settings only.

# %%
activations, sets, fold_rows, grid_seconds = {}, {}, [], 0.0
for name, task in labelled.items():
    activations[name] = study.task_activations(cfg, model, tokenizer, task,
                                               torch_device)
    sets[name] = study.feature_sets(activations[name], saes, cfg)
    began = time.perf_counter()
    fold_rows.append(study.grid(task, sets[name], cfg))
    grid_seconds += time.perf_counter() - began
runs = pd.concat(fold_rows, ignore_index=True)
summary = study.summarise_grid(runs)
best = study.best_rows(summary)
glue("n_feature_sets", len(sets[next(iter(sets))]) + 1)
glue("ridge_seconds_per_set", grid_seconds / summary.shape[0])
glue("n_task_tokens", sum(int(a.offsets[-1]) for a in activations.values()))
display(best.round(3))

# %% [markdown]
# The grid, one panel per task: macro-F1 of every SAE variant at every layer and width (TopK), the
# hidden-state baselines of each layer, and TF-IDF (the dashed line); bars are
# {glue:text}`ci_level:.0%` intervals over folds.

# %%
glue("ci_level", 0.95)


figures.grid_panels(summary, study.grid_kind(cfg))
plt.show()

# %% [markdown]
# ## Do SAE features beat the hidden state?
#
# Per task, the best SAE feature set against the best hidden-state set, paired over the same
# folds (the difference of their fold scores, with its interval). Choosing the best of many sets
# by the same folds that score them flatters both sides, the SAE side more (it has more sets to
# choose from); the paper's "best setting per dataset" has the same bias.

# %%
versus = study.sae_vs_hidden(runs, best)
display(versus.round(3))
glue("n_sae_at_least_hidden", int((versus.gap >= 0).sum()))
glue("n_sae_clearly_above", int((versus.gap - versus.interval > 0).sum()))
glue("n_sae_clearly_below", int((versus.gap + versus.interval < 0).sum()))
glue("n_versus", len(versus))
glue("n_sae_within_noise", int((versus.gap.abs() <= versus.interval).sum()))

# %% [markdown]
# The best SAE features scored at least as high as the best hidden-state features on
# {glue:text}`n_sae_at_least_hidden` of {glue:text}`n_versus` tasks; the difference's interval
# lies above zero on {glue:text}`n_sae_clearly_above`, below zero on
# {glue:text}`n_sae_clearly_below` and across zero on {glue:text}`n_sae_within_noise`.
#
# ## Binarized or raw, summed or averaged?
#
# The paper finds binarized counts and summation best. Per task and SAE, paired over folds:
# `binary` minus `sum` (the paper's binarized counts against summed activations), `fired` minus
# `sum` (binarized at zero against summed) and `sum` minus `mean`.

# %%
comparisons = {"binary - sum": ("binary", "sum"), "fired - sum": ("fired", "sum"),
               "sum - mean": ("sum", "mean")}
variant_gaps = {title: study.variant_gaps(runs, *pair)
                for title, pair in comparisons.items()}
tally = pd.DataFrame({title: study.tally_gaps(g)
                      for title, g in variant_gaps.items()}).T
display(tally)
for title, counts in tally.iterrows():
    label = title.split()[0]
    glue(f"{label}_n", int(counts["comparisons"]))
    glue(f"{label}_above", int(counts["above"]))
    glue(f"{label}_below", int(counts["below"]))
    glue(f"{label}_mean_gap", float(counts["mean gap"]))
glue("harmful_tokens", float(activations[next(iter(labelled))].lengths.float().mean()))
glue("first_task", next(iter(labelled)))
figures.gap_panels({k: variant_gaps[k] for k in ("binary - sum", "fired - sum")})
plt.show()

# %% [markdown]
# Over {glue:text}`binary_n` task x SAE comparisons, the paper's binarized counts beat summed
# activations with an interval above zero {glue:text}`binary_above` times and lost with one below
# zero {glue:text}`binary_below` times (mean difference {glue:text}`binary_mean_gap:+.3f`).
# Binarizing at zero instead (`fired`) beat summation {glue:text}`fired_above` times and lost
# {glue:text}`fired_below` times (mean {glue:text}`fired_mean_gap:+.3f`); summation beat
# averaging {glue:text}`sum_above` times and lost {glue:text}`sum_below` times (mean
# {glue:text}`sum_mean_gap:+.3f`). The paper's threshold asks for a latent among a token's top
# {glue:text}`top_n` on at least two tokens; the texts here are short (the
# {glue:text}`first_task` task's average {glue:text}`harmful_tokens:.1f` tokens), so that
# keeps few latents per text, and what binarization earns here it earns at zero.
#
# ## The paper's classifier on the best settings
#
# Logistic regression with $C$ chosen by an inner {glue:text}`inner_folds`-fold cross-validation
# on macro-F1, on each task's best SAE set, best hidden-state set and TF-IDF (the best by the
# ridge grid above; same outer folds).

# %%
glue("inner_folds", cfg.inner_folds)
began = time.perf_counter()
headline_runs = pd.concat([study.headline(task, sets[name], best, cfg)
                           for name, task in labelled.items()], ignore_index=True)
glue("logistic_seconds_per_set", (time.perf_counter() - began) / len(best))
headline = study.summarise_grid(headline_runs)
headline_wide = headline.pivot(index="task", columns="source", values="macro_f1")
display(headline.round(3))
sae_f1, hidden_f1, tfidf_f1 = (headline_wide[k] for k in ("SAE", "hidden", "TF-IDF"))
glue("logistic_sae_mean", float(sae_f1.mean()))
glue("logistic_hidden_mean", float(hidden_f1.mean()))
glue("logistic_tfidf_mean", float(tfidf_f1.mean()))
glue("n_logistic_sae_at_least_hidden", int((sae_f1 >= hidden_f1).sum()))
glue("n_sae_above_tfidf", int((sae_f1 > tfidf_f1).sum()))
glue("n_hidden_above_tfidf", int((hidden_f1 > tfidf_f1).sum()))
logistic_versus = study.sae_vs_hidden(headline_runs, best)
clear = logistic_versus.gap.abs() > logistic_versus.interval
glue("n_logistic_clear", int(clear.sum()))

# %% [markdown]
# With the paper's classifier the best settings average {glue:text}`logistic_sae_mean:.3f`
# macro-F1 for SAE features, {glue:text}`logistic_hidden_mean:.3f` for the hidden state and
# {glue:text}`logistic_tfidf_mean:.3f` for TF-IDF. SAE features score at least as high as the
# hidden state on {glue:text}`n_logistic_sae_at_least_hidden` of {glue:text}`n_versus` tasks
# here (against {glue:text}`n_sae_at_least_hidden` with the ridge probe); the paired difference's
# interval excludes zero on {glue:text}`n_logistic_clear` of them. TF-IDF scores below the SAE
# features on {glue:text}`n_sae_above_tfidf` of the {glue:text}`n_versus` tasks and below the
# hidden state on {glue:text}`n_hidden_above_tfidf`.
#
# ## Transfer: trained on one source, tested on another
#
# The paper moves a classifier's features across models (2B to 9B) and languages. The registry
# data here allows a transfer across sources instead: a refusal classifier trained on
# Do-Not-Answer requests against MMLU questions, tested on HarmBench requests against
# OpenBookQA questions (no text in both). The features are the middle block's widest SAE
# (`sum` and `binary`), its hidden-state mean, and TF-IDF; the interval is a bootstrap over the
# test texts.

# %%
source_task, target_task = (task_data.load_task(n, cfg.per_class or None, cfg.seed)
                            for n in task_data.TRANSFER_TASKS)
transfer_table = study.transfer_experiment(cfg, model, tokenizer, saes, source_task,
                                           target_task, torch_device)
display(transfer_table.round(3))
by_source = transfer_table.set_index(["source", "variant"])
glue("transfer_train_n", len(source_task.texts))
glue("transfer_test_n", len(target_task.texts))
for label, row in (("sae_sum", ("SAE", "sum")), ("sae_binary", ("SAE", "binary")),
                   ("hidden", ("hidden", "mean")), ("tfidf", ("TF-IDF", "1-2-grams"))):
    glue(f"transfer_{label}", float(by_source.loc[row, "transfer_f1"]))
    glue(f"transfer_{label}_within", float(by_source.loc[row, "within_f1"]))
    glue(f"transfer_{label}_low", float(by_source.loc[row, "low"]))
    glue(f"transfer_{label}_high", float(by_source.loc[row, "high"]))

# %% [markdown]
# Trained on {glue:text}`transfer_train_n` texts and tested on {glue:text}`transfer_test_n`
# others, summed SAE features reached {glue:text}`transfer_sae_sum:.3f` macro-F1
# ({glue:text}`transfer_sae_sum_low:.3f` to {glue:text}`transfer_sae_sum_high:.3f`; within the
# training source: {glue:text}`transfer_sae_sum_within:.3f`), binarized counts
# {glue:text}`transfer_sae_binary:.3f`, the hidden state {glue:text}`transfer_hidden:.3f`
# ({glue:text}`transfer_hidden_low:.3f` to {glue:text}`transfer_hidden_high:.3f`; within:
# {glue:text}`transfer_hidden_within:.3f`) and TF-IDF {glue:text}`transfer_tfidf:.3f` (within:
# {glue:text}`transfer_tfidf_within:.3f`). The drop from the within-source score measures how
# much a classifier learned its source (the style and topics of Do-Not-Answer against MMLU)
# rather than "a request to refuse".
#
# ## What the features are
#
# For the first task's best SAE set: the latents whose weights (on standardised features) push a
# ridge probe fitted on all of the task hardest toward each class, the share of the class's texts
# and of the other texts each fires on, and the span of the class's texts where it fires most
# strongly (the token in brackets).

# %%
spans = study.explain_best(labelled, activations, sets, saes, best, tokenizer, cfg)
with pd.option_context("display.max_colwidth", 60):
    display(spans.round(3))

# %% [markdown]
# ## Beside the paper
#
# The paper's best macro-F1 per dataset (Gemma-2-2B, Gemma Scope) beside the best SAE setting of
# this run on the task that stands in for it (the ridge probe's grid; the headline table above
# has the logistic regression's).

# %%
paper_vs_run = study.paper_comparison(best)
display(paper_vs_run.round(3))
best_sae = best[best.source == "SAE"]
glue("run_average_f1", float(best_sae.macro_f1.mean()))
glue("run_average_sd", float(best_sae.macro_f1.std()))
glue("run_average_no_behaviour", float(best_sae[best_sae.task != "behaviour"].macro_f1.mean()))
glue("n_best_binary", int(best_sae.variant.isin(["binary", "fired"]).sum()))
glue("n_best_paper_binary", int((best_sae.variant == "binary").sum()))
glue("n_best_middle", int((best_sae.layer == cfg.layers[0]).sum()))

# %% [markdown]
# Across this run's tasks the best SAE settings average {glue:text}`run_average_f1:.3f` ±
# {glue:text}`run_average_sd:.3f` macro-F1 (the paper: {glue:text}`paper_average_f1:.3f` ±
# {glue:text}`paper_average_sd:.3f` over its datasets); without the behaviour task, whose labels
# are near chance, {glue:text}`run_average_no_behaviour:.3f`. Of the paper's three findings on
# settings: the middle block gave the best SAE set on {glue:text}`n_best_middle` of
# {glue:text}`n_versus` tasks; a binarized variant on {glue:text}`n_best_binary` (the paper's
# own, counts above its threshold, on {glue:text}`n_best_paper_binary`); and summation against
# averaging is in the tally above.
#
# What differs from the paper: a 135M-parameter model instead of Gemma-2-2B and Gemma-2-9B; SAEs of a few
# thousand latents trained here on {glue:text}`sae_train_tokens:,` tokens of novels (Gemma
# Scope's have 16K to 1M latents, trained on billions of tokens); registry stand-ins for the
# paper's hub datasets, a few hundred texts a task; cross-validated intervals where the paper
# reports one split; a ridge probe for the grid; and a transfer across data sources rather than
# across models and languages. The `paper` profile runs the paper's model, SAEs and datasets
# through the same code.

# %% [markdown]
# ## Results

# %%
glue("chapter_minutes", (time.perf_counter() - chapter_start) / 60)
saved = save_results("04_sae_features", cfg, glued(),
                     tables={"quality": quality, "grid": runs, "summary": summary,
                             "headline": headline, "transfer": transfer_table,
                             "spans": spans, "paper": paper_vs_run}, path=results_path)
print(f"wrote {saved}")
pd.Series(glued()).head(12)
