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
# # 2. Norm growth in sequential knowledge editing
#
# **Claim of the paper** {cite}`gupta2025normgrowth`. Update a model again and again, by
# continued pretraining, full fine-tuning, LoRA, or any of the localized knowledge editors
# (fine-tuning one layer, ROME {cite}`meng2022rome`, MEMIT {cite}`meng2023memit`, AlphaEdit
# {cite}`fang2025alphaedit`), and the Frobenius norm of the updated matrices only grows. The
# paper follows the growth into the forward pass: the edited layers' outputs come to dominate the
# residual stream ("importance hacking"), the activations drift into other subspaces, and the
# model's other abilities degrade. This chapter measures each of those quantities for seven update
# types on the same model and the same facts.
#
# **What runs where.** `local`: the tiny Llama of the synthetic fact world (trained once by
# `python -m support prepare 02` in {glue:text}`world_train_minutes:.0f` minutes on two CPU
# cores, shared with chapter 3), {glue:text}`n_updates` successive updates of each of seven kinds;
# this page took {glue:text}`chapter_minutes:.1f` minutes. `paper`: Llama-3-8B with CounterFact
# and Wikipedia statistics from the Hugging Face Hub, on a GPU.

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
profile = "local"  # "smoke" (seconds), "local" (minutes on a CPU), "paper" (GPU + hub)
seed = None  # None keeps the profile's default
device = None
model = None
layers = None
num_edits = None
batch_size = None
memit_batch_sizes = None
lam_p_grid = None
min_efficacy = None
null_threshold = None
null_relative = None
z_steps = None
cpt_lr = None
results_path = None  # where the results JSON goes (batch runs set it)

# %% tags=["hide-cell"] mystnb={"code_prompt_show": "Show the imports and the resolved configuration", "code_prompt_hide": "Hide the imports and the configuration"}
# NBVAL_CHECK_OUTPUT
import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from support import models, plots
from support.device import pick_device
from support.editing.settings import downstream, editing_setup
from support.glue import glue, glued
from support.norm_growth import study
from support.profiles import resolve
from support.results import save_results
from support.seed import seed_everything

cfg = resolve(profile, study.PARAMS, seed=seed, device=device, model=model, layers=layers,
              num_edits=num_edits, batch_size=batch_size, memit_batch_sizes=memit_batch_sizes,
              lam_p_grid=lam_p_grid, min_efficacy=min_efficacy, null_threshold=null_threshold,
              null_relative=null_relative,
              z_steps=z_steps, cpt_lr=cpt_lr)
seed_everything(cfg.seed)
torch_device = str(pick_device(cfg.device))
plots.set_style()
chapter_start = time.perf_counter()
cfg.table()

# %% [markdown]
# ## The model and the updates
#
# The model is chapter 3's tiny Llama, trained on a synthetic world of invented people and their
# facts (city, language, instrument, ...) mixed with Austen, so that every edit has a known true
# and new object; each edit is about its own person, and the probe facts are about people no edit
# touches. The edited matrices are the MLP output projections of layers `layers`. Seven kinds of
# update are applied `num_edits / batch_size` times each, every time to `batch_size` new facts
# (or, for continued pretraining, `batch_size` windows of ordinary text):
#
# | update | what changes | objective |
# |---|---|---|
# | continued pretraining | every parameter | next-token loss on ordinary text (Adam, `cpt_lr`) |
# | full fine-tuning | every parameter | NLL of the new objects on the edit prompts |
# | LoRA | a low-rank adapter on each edited matrix, merged after each update | same |
# | fine-tuning (one layer) | the last edited matrix | same |
# | ROME | the last edited matrix, one rank-one update per fact | exact write of each value target, smallest $C_0$-weighted change |
# | MEMIT | the edited matrices, closed form | least squares to the value targets |
# | AlphaEdit | the same, projected on the preserved null space | same |
#
# ROME {cite}`meng2022rome` has no batch form: it writes the `batch_size` facts of an update one
# after another (its own value target each), so one "update" of ROME is `batch_size` rank-one
# updates, and its curve below counts those groups. AlphaEdit's null space is spanned by $C_0$'s
# eigenvectors with eigenvalues below `null_threshold` times the largest (`null_relative`). MEMIT's
# $\lambda_p$ is chosen as in chapter 3 (the largest value in `lam_p_grid` whose one held-out
# batch reaches `min_efficacy`% efficacy). MEMIT also makes the same edits in batches of each size
# in `memit_batch_sizes`, chapter 3's batch size among them, to see whether norm growth follows
# the number of edits or the number of updates.

# %%
setting, editor, prefixes, calibration = editing_setup(cfg, torch_device)
n_updates = cfg.num_edits // cfg.batch_size
unedited = downstream(setting)
glue("lam_p", editor.lam_p)
glue("n_updates", n_updates)
glue("num_edits", cfg.num_edits)
glue("batch_size", cfg.batch_size)
world_models = study.models(cfg) if setting.name == "world" else []
glue("world_train_minutes",
     models.training_record(world_models[0])["seconds"] / 60 if world_models else float("nan"))
calibration.round(3)

# %%
growth = study.norm_growth(setting, editor, prefixes, cfg.num_edits, cfg.batch_size,
                           cfg.memit_batch_sizes, cpt_lr=cfg.cpt_lr, seed=cfg.seed)
first, last = setting.layers[0], setting.layers[-1]
summary = study.growth_summary(growth, last)
main = summary[summary.batch_size == cfg.batch_size].set_index("kind")
summary.round(3)

# %% [markdown]
# ## 1. The norm of the updated matrices only grows
#
# $\lVert W\rVert_F$ of each edited matrix after every update, relative to its value before the
# first update (left: the first edited layer, right: the last), and below, the distance
# travelled $\lVert W - W_0\rVert_F$ at the last edited layer.

# %%
norms = growth.norms[growth.norms.batch_size == cfg.batch_size]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
for ax, layer in zip(axes, (first, last)):
    for kind, rows in norms[norms.layer == layer].groupby("kind", sort=False):
        ax.plot(rows["update"], rows.fro / rows.fro.iloc[0], label=kind)
    plots.labelled(ax, f"Layer {layer}: ||W|| / ||W0||", "update", "relative Frobenius norm")
axes[0].legend(fontsize=7)
plt.tight_layout()
plt.show()

fig, ax = plt.subplots(figsize=(6, 3.6))
for kind, rows in norms[norms.layer == last].groupby("kind", sort=False):
    ax.plot(rows["update"], rows.delta_fro, label=kind)
ax.set_yscale("symlog", linthresh=1e-2)
plots.labelled(ax, f"Layer {last}: ||W - W0||", "update", "Frobenius distance")
ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# ## 2. Activation norms and the residual stream's shares
#
# On a fixed probe set of held-out Austen passages we record, for every block, the norm of the
# residual stream after it and of its MLP output, and each block's attention and MLP share of the
# summed norms of all components written into the residual stream. "Importance hacking" is the
# edited layers' MLP share rising at the expense of the rest. Columns of the table:
# `resid_ratio` is the residual-stream norm after the block relative to the unedited model;
# `mlp_share_change` the change of the block's MLP share (positive = the block takes up more of
# the stream); `cka` the linear CKA between the unedited and updated residual streams (one = the
# same representation up to rotation and scale).

# %%
change = study.activation_change(growth)
change = change[change.batch_size == cfg.batch_size]
acts = growth.activations[growth.activations.batch_size == cfg.batch_size]
base = acts[(acts.stage == "before")].drop_duplicates("block")
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
kinds = list(study.NORM_GROWTH_KINDS)
width = 0.8 / (len(kinds) + 1)
axes[0].bar(base.block, base.mlp_share, width, label="unedited", color="black")
for i, kind in enumerate(kinds, start=1):
    after = acts[(acts.kind == kind) & (acts.stage == "after")]
    axes[0].bar(after.block + i * width, after.mlp_share, width, label=kind)
    axes[1].plot(after.block, after.subspace_cos, marker="o", label=kind)
plots.labelled(axes[0], "MLP share of the residual stream", "block", "share of summed component norms")
plots.labelled(axes[1], "Subspace kept: mean cos of principal angles", "block",
               "top-8 PCA subspaces, before vs after")
axes[0].legend(fontsize=6)
plt.tight_layout()
plt.show()
change.pivot_table(index="kind", columns="block",
                   values=["resid_ratio", "mlp_share_change", "cka"]).round(3)

# %% [markdown]
# ## 3. Growth per edit or per update?
#
# MEMIT made the same `num_edits` edits in batches of different sizes. If the norm grew with the
# number of edits, every batch size would end at the same norm; if it grows with the number of
# updates, fewer, larger batches grow it less.

# %%
memit = summary[summary.kind == "MEMIT"].sort_values("batch_size")
memit_norms = growth.norms[(growth.norms.kind == "MEMIT") & (growth.norms.layer == last)]
fig, ax = plt.subplots(figsize=(6, 3.6))
for size, rows in memit_norms.groupby("batch_size"):
    ax.plot(rows.edits, rows.fro / rows.fro.iloc[0], marker=".", label=f"batches of {size}")
plots.labelled(ax, f"MEMIT, layer {last}: ||W|| / ||W0|| against edits made", "edits",
               "relative Frobenius norm")
ax.legend(fontsize=8)
plt.show()
small, large = memit.iloc[0], memit.iloc[-1]
glue("memit_small_batch", int(small.batch_size))
glue("memit_small_updates", int(small.updates))
glue("memit_small_ratio", small.norm_ratio)
glue("memit_large_batch", int(large.batch_size))
glue("memit_large_updates", int(large.updates))
glue("memit_large_ratio", large.norm_ratio)
if large.norm_ratio < 0.8 * small.norm_ratio:
    verdict = ("fewer, larger batches grew it less: the norm follows the number of closed-form "
               "updates more than the number of facts written")
elif large.norm_ratio > 1.25 * small.norm_ratio:
    verdict = "larger batches grew it more: the norm follows the facts written, not the updates"
else:
    verdict = "the batch size made little difference: the norm follows the facts written"
glue("batch_verdict", verdict)
memit[[c for c in ("batch_size", "updates", "norm_ratio", "delta_fro", "probe_recall", "mc_accuracy")
       if c in memit]].round(3)

# %% [markdown]
# ## The paper's findings beside ours
#
# The paper measures GPT-2-XL, Llama-2/3 and others over thousands of edits; here one tiny model,
# `num_edits` facts per update kind. We compare directions, not magnitudes.

# %%
ratio = main.norm_ratio
last_change = change[change.block == last].set_index("kind")
glue("kinds_grown", int((ratio > 1).sum()))
glue("n_kinds", len(ratio))
glue("raised_min", main.raised_share.min())
localized = ["LoRA", "fine-tuning (one layer)", "ROME", "MEMIT", "AlphaEdit"]
glue("raised_localized_min", main.loc[localized, "raised_share"].min())
for kind, key in (("MEMIT", "memit"), ("LoRA", "lora"), ("fine-tuning (one layer)", "ft"), ("ROME", "rome"),
                  ("AlphaEdit", "alphaedit"), ("continued pretraining", "cpt"),
                  ("full fine-tuning", "full_ft")):
    glue(f"{key}_norm_ratio", main.loc[kind, "norm_ratio"])
    glue(f"{key}_norm_growth_pct", 100 * (main.loc[kind, "norm_ratio"] - 1))
    glue(f"{key}_mlp_share_change", last_change.loc[kind, "mlp_share_change"])
    glue(f"{key}_resid_ratio", last_change.loc[kind, "resid_ratio"])
    glue(f"{key}_cka", last_change.loc[kind, "cka"])
    glue(f"{key}_recall", main.loc[kind, "probe_recall"] if "probe_recall" in main else float("nan"))
glue("unedited_recall", unedited.get("probe_recall", float("nan")))
glue("last_layer", last)
glue("resid_fall_kinds", ", ".join(k for k in last_change.index if last_change.loc[k, "resid_ratio"] < 1)
     or "none")
grown = ratio > 1
glue("growth_verdict", "every update kind raised the norm, in very different amounts" if grown.all() else
     f"{int(grown.sum())} of {len(ratio)} update kinds raised the norm (not "
     + ", ".join(ratio.index[~grown]) + ")")
share_rose = [k for k in localized if last_change.loc[k, "mlp_share_change"] > 0]
glue("share_rose_kinds", ", ".join(share_rose) or "none")
glue("share_rose_count", len(share_rose))
glue("n_localized", len(localized))
recall_after = main.get("probe_recall", pd.Series(dtype=float))
if len(recall_after):
    rho = ratio.rank().corr(recall_after.rank())  # Spearman over the update kinds
    glue("norm_recall_spearman", rho)
    unmoved = ratio.index[ratio < 1.01]
    lost_without_growth = [k for k in unmoved if recall_after[k] < unedited["probe_recall"] - 0.1]
    recall_reading = (f"the kinds whose norm moved by less than 1% end at recall "
                      + ", ".join(f"{recall_after[k]:.2f} ({k})" for k in unmoved) + ": "
                      + ("on this model facts are lost without norm growth too, so norm growth is one route to "
                         "forgetting, not the only one" if lost_without_growth else
                         "those kept their facts (within 0.1)") if len(unmoved) else
                      "every kind moved the norm by at least 1%")
else:  # the paper profile measures multiple-choice accuracy instead of probe recall
    glue("norm_recall_spearman", float("nan"))
    recall_reading = "recall was not measured in this profile"
glue("recall_reading", recall_reading)
findings = pd.DataFrame([
    {"finding": "||W|| grows under every update type", "paper": "yes, for every method studied",
     "this run": f"{int((ratio > 1).sum())} of {len(ratio)} kinds; {ratio.min():.3f}x "
                 f"({ratio.idxmin()}) to {ratio.max():.1f}x ({ratio.idxmax()})"},
    {"finding": "the growth is monotone", "paper": "the norm only increases",
     "this run": f"{100 * main.raised_share.min():.0f}% to {100 * main.raised_share.max():.0f}% "
                 "of updates raised it"},
    {"finding": "activation norms fall", "paper": "yes",
     "this run": f"residual norm after block {last}: " + ", ".join(
         f"{k} {v:.2f}x" for k, v in last_change.resid_ratio.items())},
    {"finding": "activations move to other subspaces", "paper": "yes",
     "this run": f"CKA at block {last}: " + ", ".join(
         f"{k} {v:.2f}" for k, v in last_change.cka.items())},
    {"finding": "edited layer's MLP share rises (importance hacking)", "paper": "yes",
     "this run": ", ".join(f"{k} {v:+.3f}" for k, v in last_change.mlp_share_change.items())},
    {"finding": "downstream ability degrades", "paper": "yes, with the number of edits",
     "this run": f"never-edited recall {unedited.get('probe_recall', float('nan')):.2f} before; "
                 "after: " + ", ".join(f"{k} {v:.2f}" for k, v in main.get(
                     "probe_recall", pd.Series(dtype=float)).items())},
]).set_index("finding")
with pd.option_context("display.max_colwidth", None):
    display(findings)

# %% [markdown]
# ## Reading
#
# **Norm growth.** After {glue:text}`n_updates` updates of {glue:text}`batch_size` facts
# ({glue:text}`num_edits:,` edits), {glue:text}`growth_verdict`: the last edited matrix ends at
# {glue:text}`memit_norm_ratio:.1f` times its norm under MEMIT, {glue:text}`rome_norm_ratio:.1f`x
# under ROME, {glue:text}`lora_norm_ratio:.1f`x under LoRA, {glue:text}`ft_norm_ratio:.1f`x under
# one-layer fine-tuning and {glue:text}`alphaedit_norm_ratio:.1f`x under AlphaEdit, and changes by
# {glue:text}`cpt_norm_growth_pct:+.1f`% and {glue:text}`full_ft_norm_growth_pct:+.1f`% under
# continued pretraining and full fine-tuning, which spread their change over every parameter. The
# paper finds the norm only increasing; here at least {glue:text}`raised_localized_min:.0%` of the
# localized updates raised it, and at least {glue:text}`raised_min:.0%` of the updates of every
# kind. The magnitudes depend on our learning rates (none tuned), so compare directions across
# rows, not sizes.
#
# **Per update or per edit?** The same edits made by MEMIT in batches of
# {glue:text}`memit_small_batch` ({glue:text}`memit_small_updates` updates) grew the matrix to
# {glue:text}`memit_small_ratio:.2f`x, in batches of {glue:text}`memit_large_batch`
# ({glue:text}`memit_large_updates` updates) to {glue:text}`memit_large_ratio:.2f`x:
# {glue:text}`batch_verdict`. Chapter 3 edits more facts, in larger batches (its own `batch_size`)
# and with $\lambda_p$ calibrated on its own cases, so its norm ratios differ from this chapter's
# for more reasons than the batch size; the figure above isolates the batch size alone.
#
# **Importance hacking.** At the last edited block the MLP output's share of the residual stream
# changed by {glue:text}`memit_mlp_share_change:+.3f` under MEMIT,
# {glue:text}`rome_mlp_share_change:+.3f` under ROME, {glue:text}`ft_mlp_share_change:+.3f` under
# one-layer fine-tuning, {glue:text}`lora_mlp_share_change:+.3f` under LoRA and
# {glue:text}`alphaedit_mlp_share_change:+.3f` under AlphaEdit; it rose under
# {glue:text}`share_rose_count` of the {glue:text}`n_localized` localized updates
# ({glue:text}`share_rose_kinds`).
#
# **Activation norms.** The paper finds internal activation norms falling; here the residual
# stream after block {glue:text}`last_layer` changes by a factor of
# {glue:text}`memit_resid_ratio:.2f` under MEMIT, {glue:text}`rome_resid_ratio:.2f` under ROME,
# {glue:text}`lora_resid_ratio:.2f` under LoRA, {glue:text}`ft_resid_ratio:.2f` under one-layer
# fine-tuning and {glue:text}`alphaedit_resid_ratio:.2f` under AlphaEdit, and falls only under:
# {glue:text}`resid_fall_kinds`.
#
# **Subspace drift and downstream ability.** Linear CKA between the unedited and edited residual
# streams at block {glue:text}`last_layer` ends at {glue:text}`memit_cka:.2f` after MEMIT,
# {glue:text}`rome_cka:.2f` after ROME, {glue:text}`lora_cka:.2f` after LoRA,
# {glue:text}`full_ft_cka:.2f` after full fine-tuning,
# {glue:text}`ft_cka:.2f` after one-layer fine-tuning, {glue:text}`alphaedit_cka:.2f` after
# AlphaEdit and {glue:text}`cpt_cka:.2f` after continued pretraining. Recall of never-edited facts
# goes from {glue:text}`unedited_recall:.2f` to {glue:text}`memit_recall:.2f` (MEMIT),
# {glue:text}`rome_recall:.2f` (ROME), {glue:text}`ft_recall:.2f` (one-layer fine-tuning),
# {glue:text}`lora_recall:.2f` (LoRA), {glue:text}`alphaedit_recall:.2f` (AlphaEdit),
# {glue:text}`full_ft_recall:.2f` (full fine-tuning) and {glue:text}`cpt_recall:.2f` (continued
# pretraining). Across the seven kinds the rank correlation of norm ratio and recall is
# {glue:text}`norm_recall_spearman:.2f`, and {glue:text}`recall_reading`. Seven kinds and one
# seed make this a description, not a test.
#
# What differs from the paper: one four-layer model trained here on synthetic facts instead of
# GPT-2-XL and Llama models, {glue:text}`num_edits:,` edits per kind instead of thousands, untuned learning rates for
# the gradient-based updates, MEMIT's $\lambda_p$ calibrated to {glue:text}`lam_p:g`, one seed.

# %% [markdown]
# ## Results

# %%
glue("chapter_minutes", (time.perf_counter() - chapter_start) / 60)
saved = save_results("02_norm_growth", cfg, glued(),
                     tables={"summary": summary, "norms": growth.norms,
                             "activations": growth.activations, "calibration": calibration},
                     path=results_path)
print(f"wrote {saved}")
pd.Series(glued()).head(12)
