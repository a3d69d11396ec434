# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
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
# model's other abilities degrade. This chapter measures each of those quantities for six update
# types on the same model and the same facts.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/trustml-book/trustml-book/blob/main/notebooks/02_norm_growth.ipynb)
#
# **What runs where.** `local`: the tiny Llama of the synthetic fact world (trained once by the
# zoo, about 11 minutes on 2 CPU cores, shared with chapter 3), 24 successive updates of each of
# six kinds; about 9 minutes on 2 cores. `paper`: Llama-3-8B with CounterFact and Wikipedia
# statistics from the Hugging Face Hub, on a GPU.

# %%
# Setup: install the book's `support` package when it is missing (e.g. in Colab).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("support") is None:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                           "trustml-book-support[paper] @ git+https://github.com/trustml-book/trustml-book"])

# %% tags=["parameters"]
profile = "local"  # "smoke" (seconds), "local" (minutes on a CPU), "paper" (GPU + hub)
seed = None  # None keeps the profile's default
device = None
model = None
layers = None
num_edits = None
batch_size = None
lam_p_grid = None
min_efficacy = None
null_threshold = None
z_steps = None
cpt_lr = None
results_path = None  # where the results JSON goes (batch runs set it)

# %%
import time
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from support import plots
from support.device import pick_device
from support.editing import study as E
from support.profiles import resolve
from support.results import save_results
from support.seed import seed_everything

cfg = resolve(profile, E.NORM_PARAMS, seed=seed, device=device, model=model, layers=layers, num_edits=num_edits,
              batch_size=batch_size, lam_p_grid=lam_p_grid, min_efficacy=min_efficacy, null_threshold=null_threshold,
              z_steps=z_steps, cpt_lr=cpt_lr)
seed_everything(cfg.seed)
torch_device = str(pick_device(cfg.device))
plots.set_style()
chapter_start = time.perf_counter()
cfg.table()

# %% [markdown]
# ## The model and the updates
#
# The model is chapter 3's tiny Llama (4 layers, d = 128), trained by the zoo on a synthetic world
# of 10,000 subject-relation-object facts mixed with Austen, so that every edit has a known true
# and new object. The edited matrices are the MLP output projections of layers `layers`. Six kinds
# of update are applied `num_edits / batch_size` times each, every time to `batch_size` new facts
# (or, for continued pretraining, `batch_size` windows of ordinary text):
#
# | update | what changes | objective |
# |---|---|---|
# | continued pretraining | every parameter | next-token loss on ordinary text (Adam, `cpt_lr`) |
# | full fine-tuning | every parameter | NLL of the new objects on the edit prompts |
# | LoRA | a rank-4 adapter on each edited matrix, merged after each update | same |
# | fine-tuning (one layer) | the last edited matrix | same |
# | MEMIT | the edited matrices, closed form | least squares to the value targets |
# | AlphaEdit | the same, projected on the preserved null space | same |
#
# ROME is MEMIT's one-layer, one-fact special case and is not run separately. MEMIT's
# $\lambda_p$ is chosen as in chapter 3 (largest value in `lam_p_grid` whose one held-out batch
# reaches `min_efficacy`% efficacy).

# %%
setting, state, prefixes, _, lam_p = E.prepare(cfg, torch_device)
n_updates = cfg.num_edits // cfg.batch_size
unedited = E.downstream(setting)
print(f"lam_p = {lam_p:g}; {n_updates} updates of {cfg.batch_size} facts (or text windows) each")

# %%
trajectories = {kind: E.norm_trajectory(setting, state, kind, n_updates, cfg.batch_size, prefixes,
                                        cpt_lr=cfg.cpt_lr, seed=cfg.seed) for kind in E.NORM_GROWTH_KINDS}

# %% [markdown]
# ## 1. The norm of the updated matrices only grows
#
# $\lVert W\rVert_F$ of each edited matrix after every update, relative to its value before the
# first update (left: the first edited layer, middle: the last), and the distance travelled
# $\lVert W - W_0\rVert_F$ (right).

# %%
first, last = setting.layers[0], setting.layers[-1]
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
for kind, out in trajectories.items():
    rows = pd.DataFrame(out["rows"])
    axes[0].plot(rows["update"], rows[f"fro_{first}"] / rows[f"fro_{first}"][0], label=kind)
    axes[1].plot(rows["update"], rows[f"fro_{last}"] / rows[f"fro_{last}"][0], label=kind)
    axes[2].plot(rows["update"], rows[f"delta_fro_{last}"], label=kind)
plots.labelled(axes[0], f"Layer {first}: ||W|| / ||W0||", "update", "relative Frobenius norm")
plots.labelled(axes[1], f"Layer {last}: ||W|| / ||W0||", "update", "relative Frobenius norm")
plots.labelled(axes[2], f"Layer {last}: ||W - W0||", "update", "Frobenius distance")
axes[2].set_yscale("symlog", linthresh=1e-2)
axes[0].legend(fontsize=7)
plt.tight_layout()
plt.show()

# %%
def monotone_share(values):
    """Share of updates after which the norm went up."""
    steps = np.diff(np.asarray(values))
    return float((steps > 0).mean()) if len(steps) else float("nan")


growth = pd.DataFrame([{
    "update": kind,
    f"||W_{first}|| / ||W0||": out["rows"][-1][f"fro_{first}"] / out["rows"][0][f"fro_{first}"],
    f"||W_{last}|| / ||W0||": out["rows"][-1][f"fro_{last}"] / out["rows"][0][f"fro_{last}"],
    f"||W_{last} - W0||": out["rows"][-1][f"delta_fro_{last}"],
    f"sigma_1 ratio (layer {last})": out["rows"][-1][f"sv1_{last}"] / out["rows"][0][f"sv1_{last}"],
    "updates that raised ||W||": monotone_share([r[f"fro_{last}"] for r in out["rows"]]),
    **{k: v for k, v in out["downstream"].items()}} for kind, out in trajectories.items()]).set_index("update")
growth.round(3)

# %% [markdown]
# ## 2. Activation norms and the residual stream's shares
#
# On a fixed probe set of held-out Austen (32 passages, 64 tokens each) we record, for every
# block, the norm of the residual stream after it and of its MLP output, and each block's
# attention and MLP share of the summed norms of all components written into the residual
# stream. "Importance hacking" is the edited layers' MLP share rising at the expense of the rest.

# %%
base = trajectories[E.NORM_GROWTH_KINDS[0]]["before"]
n_layers = len(base["act_norms"]["resid"])
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
x = np.arange(n_layers)
width = 0.8 / (len(trajectories) + 1)
axes[0].bar(x, base["act_norms"]["mlp"], width, label="unedited", color="black")
axes[1].bar(x, base["shares"]["mlp"], width, label="unedited", color="black")
for i, (kind, out) in enumerate(trajectories.items(), start=1):
    axes[0].bar(x + i * width, out["after"]["act_norms"]["mlp"], width, label=kind)
    axes[1].bar(x + i * width, out["after"]["shares"]["mlp"], width, label=kind)
    axes[2].plot(x, out["after"]["subspace_cos"], marker="o", label=kind)
plots.labelled(axes[0], "MLP output norm per block (probe set)", "block", "mean L2 norm")
plots.labelled(axes[1], "MLP share of the residual stream", "block", "share of summed component norms")
plots.labelled(axes[2], "Subspace kept: mean cos of principal angles", "block", "top-8 PCA subspaces, before vs after")
axes[0].legend(fontsize=6)
plt.tight_layout()
plt.show()

# %%
activation = pd.DataFrame([{
    "update": kind,
    **{f"resid norm L{i}": out["after"]["act_norms"]["resid"][i] / base["act_norms"]["resid"][i]
       for i in range(n_layers)},
    **{f"MLP share L{i}": out["after"]["shares"]["mlp"][i] - base["shares"]["mlp"][i] for i in setting.layers},
    **{f"CKA L{i}": out["after"]["cka"][i] for i in range(n_layers)}} for kind, out in trajectories.items()])
activation.set_index("update").round(3)

# %% [markdown]
# Columns: `resid norm Li` is the residual-stream norm after block i relative to the unedited
# model; `MLP share Li` the change of the edited blocks' MLP share (positive = the edited layer
# takes up more of the stream); `CKA Li` the linear CKA between the unedited and updated
# residual streams (1 = same representation up to rotation and scale).

# %% [markdown]
# ## The paper's findings beside ours
#
# The paper measures GPT-2-XL, Llama-2/3 and others over thousands of edits; here one tiny model,
# `num_edits` facts per update kind. We compare directions, not magnitudes.

# %%
act = activation.set_index("update")
ratio = growth[f"||W_{last}|| / ||W0||"]
paper_vs_run = pd.DataFrame([
    {"finding": "||W|| grows under every update type", "paper": "yes, for every method studied",
     "this run": f"{int((ratio > 1).sum())} of {len(ratio)} kinds; {ratio.min():.3f}x ({ratio.idxmin()}) to "
                 f"{ratio.max():.1f}x ({ratio.idxmax()})"},
    {"finding": "the growth is monotone", "paper": "the norm only increases",
     "this run": f"{100 * growth['updates that raised ||W||'].min():.0f}% to "
                 f"{100 * growth['updates that raised ||W||'].max():.0f}% of updates raised it"},
    {"finding": "activation norms fall", "paper": "yes",
     "this run": f"residual norm after block {last}: " + ", ".join(
         f"{k} {act.loc[k, f'resid norm L{last}']:.2f}x" for k in act.index)},
    {"finding": "activations move to other subspaces", "paper": "yes",
     "this run": f"CKA at block {last}: " + ", ".join(f"{k} {act.loc[k, f'CKA L{last}']:.2f}" for k in act.index)},
    {"finding": "edited layer's MLP share rises (importance hacking)", "paper": "yes",
     "this run": ", ".join(f"{k} {act.loc[k, f'MLP share L{last}']:+.3f}" for k in act.index)},
    {"finding": "downstream ability degrades", "paper": "yes, with the number of edits",
     "this run": f"never-edited recall {unedited['probe_recall']:.2f} before; after: "
                 + ", ".join(f"{k} {growth.loc[k, 'probe_recall']:.2f}" for k in growth.index)},
]).set_index("finding")
with pd.option_context("display.max_colwidth", None):
    display(paper_vs_run)

# %% [markdown]
# ## Reading
#
# Numbers quoted here are from the `local` run (deterministic on a CPU).
#
# **Norm growth: reproduced for every update type, in very different amounts.** After 24
# updates of 25 facts (600 edits), the last edited matrix has grown about 20x under MEMIT, 5.7x
# under LoRA, 4.3x under one-layer fine-tuning and 4.2x under AlphaEdit, and only 0.2-0.6% under
# continued pretraining and full fine-tuning, which spread their change over every parameter.
# In every case at least 92% of the updates raised the norm, and for the four localized updates
# every single one did, as the paper says. The magnitudes depend on our learning rates (LoRA at
# 1e-2, one-layer fine-tuning at 5e-3, full fine-tuning at 1e-4, none tuned), so compare
# directions across rows, not sizes.
#
# **Importance hacking: reproduced.** The edited block's MLP output takes a larger share of the
# residual stream after localized editing (+0.25 MEMIT, +0.17 one-layer fine-tuning, +0.16 LoRA),
# hardly under AlphaEdit (+0.02), which writes only into the null space of ordinary keys.
#
# **Activation norms: not reproduced.** The paper finds internal activation norms falling; here
# the residual stream grows after the edited blocks under MEMIT (1.9x after block 1), LoRA and
# one-layer fine-tuning, and falls only under full fine-tuning (0.6x). A 4-layer model whose
# edited matrix grew 20x has little depth in which layer norms could compensate; we report it as
# we measured it.
#
# **Subspace drift and downstream ability.** Linear CKA between the unedited and edited residual
# streams falls to about 0.3 after MEMIT and LoRA, 0.75 after full and one-layer fine-tuning,
# and stays near 0.99 after AlphaEdit and continued pretraining. Recall of never-edited facts
# follows: from 0.99 to 0.13 (MEMIT), 0.16 (fine-tuning), 0.09 (LoRA, whose held-out loss
# explodes), 0.60 (AlphaEdit) and 0.96 (continued pretraining).
#
# What differs from the paper: one 4-layer model trained here on synthetic facts instead of
# GPT-2-XL and Llama models, 600 edits instead of thousands, untuned learning rates for the
# gradient-based updates, MEMIT's $\lambda_p$ calibrated to 100, one seed.

# %% [markdown]
# ## Results

# %%
metrics_out = {"lam_p": lam_p, "updates": n_updates, "chapter_seconds": time.perf_counter() - chapter_start}
for kind in growth.index:
    key = kind.split(" (")[0].replace(" ", "_").replace("-", "_").lower()
    metrics_out[f"{key}_norm_ratio"] = float(growth.loc[kind, f"||W_{last}|| / ||W0||"])
    metrics_out[f"{key}_monotone_share"] = float(growth.loc[kind, "updates that raised ||W||"])
    metrics_out[f"{key}_probe_recall"] = float(growth.loc[kind].get("probe_recall", np.nan))
    metrics_out[f"{key}_mlp_share_change"] = float(activation.set_index("update").loc[kind, f"MLP share L{last}"])
saved = save_results("02_norm_growth", cfg, metrics_out, tables={"growth": growth.reset_index(),
                                                                 "activation": activation}, path=results_path)
print(f"wrote {saved}")
pd.Series(metrics_out)
