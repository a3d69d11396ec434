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
# # 3. ENCORE: thousands of sequential edits without collapse
#
# **Claim of the paper** {cite}`gupta2025encore`. Locate-then-edit methods such as MEMIT
# {cite}`meng2023memit` and AlphaEdit {cite}`fang2025alphaedit` write each new fact into an MLP
# matrix by a closed-form update towards a target vector $z$ found by gradient descent. Two things
# go wrong when thousands of edits pile up: the targets *overfit* (an edited fact ends up far more
# probable than the facts the model learned in pretraining, whose probability sits around
# {glue:text}`paper_known_p:.2f` on Llama-3-8B), and the edited matrices' *norms grow* with every
# batch until the model's other abilities collapse. ENCORE fixes both: **MPES** (most-probable
# early stopping) stops the $z$ optimisation shortly after the new object becomes the top
# prediction on every context prompt, and a **norm penalty** $\lambda_n\lVert\Delta W\rVert^2$
# enters MEMIT's least-squares objective. The paper reports {glue:text}`paper_num_edits:,`
# sequential edits on Llama-3-8B without loss of downstream ability, and less time per edit than
# MEMIT ({glue:text}`paper_memit_s:.2f` s to {glue:text}`paper_memit_mpes_s:.2f` s) and AlphaEdit
# ({glue:text}`paper_alphaedit_s:.2f` s to {glue:text}`paper_alphaedit_mpes_s:.2f` s).
#
# **What runs where.** `local`: a tiny Llama that `python -m support prepare 03` trains once
# ({glue:text}`world_train_minutes:.0f` minutes on two CPU cores) on a synthetic world of
# {glue:text}`world_facts:,` facts; MEMIT and ENCORE each make {glue:text}`num_edits:,`
# sequential edits of it, four more editors {glue:text}`compare_edits:,`, plus a handful of edits
# of SmolLM2-135M; this page took {glue:text}`chapter_minutes:.1f` minutes. `paper`: Llama-3-8B
# with CounterFact and Wikipedia statistics from the Hugging Face Hub, on a GPU.

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
compare_edits = None
batch_size = None
eval_every = None
score_every = None
lam_p_grid = None
min_efficacy = None
mpes_grid = None
lam_n_grid = None
null_threshold = None
null_relative = None
z_steps = None
smollm2_edits = None
smollm2_layers = None
results_path = None  # where the results JSON goes (batch runs set it)

# %% tags=["hide-cell"] mystnb={"code_prompt_show": "Show the imports and the resolved configuration", "code_prompt_hide": "Hide the imports and the configuration"}
# NBVAL_CHECK_OUTPUT
import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from support import models, plots
from support.device import pick_device
from support.editing import Method, context_prefixes, encore_methods, world
from support.editing.settings import (downstream, editing_setup, edits_per_key_dimension, make_editor,
                                      shared_token_groups, smollm2_setting)
from support.encore import study
from support.glue import glue, glued
from support.profiles import resolve
from support.results import save_results
from support.seed import seed_everything
from support.stats import rate_interval

cfg = resolve(profile, study.PARAMS, seed=seed, device=device, model=model, layers=layers,
              num_edits=num_edits, compare_edits=compare_edits, batch_size=batch_size,
              eval_every=eval_every, score_every=score_every, lam_p_grid=lam_p_grid,
              min_efficacy=min_efficacy, mpes_grid=mpes_grid, lam_n_grid=lam_n_grid,
              null_threshold=null_threshold, null_relative=null_relative, z_steps=z_steps,
              smollm2_edits=smollm2_edits, smollm2_layers=smollm2_layers)
seed_everything(cfg.seed)
torch_device = str(pick_device(cfg.device))
plots.set_style()
chapter_start = time.perf_counter()
paper_settings = study.PAPER_LLAMA3_SETTINGS
glue("paper_num_edits", paper_settings["num_edits"])
glue("paper_lam_p", paper_settings["lam_p"])
glue("paper_lam_n", paper_settings["lam_n"])
glue("paper_mpes_extra", paper_settings["mpes_extra"])
glue("paper_batch_size", paper_settings["batch_size"])
glue("paper_known_p", study.PAPER_LLAMA3_OVERFIT["MEMIT"][0])
for method, (known, without, with_mpes, s_without, s_with) in study.PAPER_LLAMA3_OVERFIT.items():
    key = method.lower()
    glue(f"paper_{key}_p_new", without)
    glue(f"paper_{key}_mpes_p_new", with_mpes)
    glue(f"paper_{key}_s", s_without)
    glue(f"paper_{key}_mpes_s", s_with)
glue("num_edits", cfg.num_edits)
glue("compare_edits", min(cfg.compare_edits, cfg.num_edits))
spec = world.WORLDS.get(cfg.model)
glue("world_facts", spec.n_facts if spec else float("nan"))
glue("world_people", spec.n_subjects if spec else float("nan"))
glue("world_editable", spec.n_editable if spec else float("nan"))
glue("world_never_edited", spec.n_never_edited if spec else float("nan"))
glue("world_calibration", spec.n_calibration if spec else float("nan"))
cfg.table()

# %% [markdown]
# ## A model whose facts we know
#
# To count edits in the thousands on a CPU we need a model that knows thousands of facts and
# whose ground truth we know. `prepare` trains a four-layer Llama on {glue:text}`world_people:,`
# invented people, one fact each, over eight relations (city, language, instrument, profession,
# colour, pet, sport, food), each fact written in three sentence templates and mixed with Jane
# Austen's novels. Template zero is an edit's rewrite prompt, the other two its paraphrases. The
# people are split before anything is edited: {glue:text}`world_editable:,` whom edits may touch,
# each edit its own person (as in ENCORE's CounterFact edits, no two edits share a subject);
# {glue:text}`world_calibration` for a held-out calibration batch; and
# {glue:text}`world_never_edited:,` whom no edit ever touches. Neighbourhood prompts (another
# person with the same relation and the same true object, CounterFact's recipe
# {cite}`meng2022rome`) and the probe facts of the downstream check all come from that last group,
# so no edit rewrites what it is scored against. In seven of the eight rewrite prompts the subject
# is not the first word ("The city where Dorin Mavrel lives is"): in a causal LM a template that
# opens with the subject would give all of that subject's relations one key. Edits are made at the
# MLP output matrices of layers `layers`; the Llama-3 experiments of the paper edit five middle
# layers of thirty-two.

# %%
setting, editor, prefixes, calibration = editing_setup(cfg, torch_device)
example = setting.cases[0]
print(f"rewrite:    {example.prompt!r}  {example.target_true!r} -> {example.target_new!r}")
print(f"paraphrase: {example.paraphrases[0]!r}")
print(f"neighbour:  {example.neighbours[0]!r} (true object {example.target_true!r})")
known_probability = study.known_fact_probability(setting)
before = downstream(setting)
glue("known_p", known_probability)
glue("recall_before", before.get("probe_recall", float("nan")))
glue("heldout_before", before["heldout_loss"])
glue("n_probe", len(setting.probe_cases))
world_models = [m for m in study.models(cfg) if setting.name == "world"][:1]
glue("world_train_minutes",
     models.training_record(world_models[0])["seconds"] / 60 if world_models else float("nan"))
glue("world_params", sum(p.numel() for p in setting.model.parameters()))
d_ff = editor.c0[setting.layers[0]].shape[0]
crowding = pd.DataFrame([
    {"setting": "paper: Llama-3-8B", "edits": paper_settings["num_edits"], "edited layers": 5, "d_ff": 14336},
    {"setting": f"this run: {setting.name}", "edits": cfg.num_edits, "edited layers": len(setting.layers),
     "d_ff": d_ff}])
crowding["edits per key dimension"] = [edits_per_key_dimension(r["edits"], r["edited layers"], r["d_ff"])
                                       for _, r in crowding.iterrows()]
glue("key_crowding", crowding["edits per key dimension"].iloc[1])
glue("paper_key_crowding", crowding["edits per key dimension"].iloc[0])
glue("crowding_factor", crowding["edits per key dimension"].iloc[1] / crowding["edits per key dimension"].iloc[0])
display(crowding.round(3))
pd.Series(before)

# %% [markdown]
# The table's last column is the number of edits per dimension of the keys they are written
# into, edits / (edited layers x $d_\text{ff}$): {glue:text}`key_crowding:.2f` here against
# {glue:text}`paper_key_crowding:.3f` for the paper's Llama-3-8B, so this small model's edits are
# {glue:text}`crowding_factor:.0f` times more crowded. A small model cannot have Llama-3's room;
# keep the factor in mind when reading the collapse below.
#
# ## The editors
#
# Every editor shares MEMIT's two steps. First the **value target**: a vector $\delta$ added to
# the residual stream after the last edited layer at the subject's last token is optimised by Adam
# (at most `z_steps` steps) so the model predicts the new object after the bare rewrite prompt and
# after five short prefixes the model itself wrote (after "The", "Therefore", "Because", "I",
# "You"), with a KL term that keeps what the model says after "{subject} is a" (KL of the edited
# from the unedited distribution, MEMIT's direction), a weight decay and a norm clamp.
# Here all edits of a batch are optimised at once, one $\delta$ row each, on hidden states cached
# below the injection layer (the same result as one edit at a time, tested to $10^{-9}$ in
# float64). Then the **update** of each edited layer, keys $K$ (the matrix's inputs at the subject
# token), residual $R$ spread over the layers:
#
# $$\Delta W_{\text{MEMIT/ENCORE}} = R K^\top\left(\lambda_p C_0 + K_p K_p^\top + K K^\top + \lambda_n I\right)^{-1},
# \qquad
# \Delta W_{\text{AlphaEdit}} = R K^\top P\left((K_p K_p^\top + K K^\top) P + \alpha I\right)^{-1}$$
#
# with $C_0 = \mathbb E[k k^\top]$ over ordinary text, $K_p$ the keys of all earlier edits, and $P$
# the projector onto $C_0$'s near-null space. MEMIT has $\lambda_n = 0$; ENCORE adds $\lambda_n$ and
# MPES (stop the $z$ loop at the $(m+1)$-th step at which the new object is top-1 on all five
# prefixed prompts).
#
# $\lambda_p$ depends on the scale of a model's keys: Llama-3-8B's value
# ({glue:text}`paper_lam_p:,`) leaves a model this small unable to edit at all. We pick it the
# same way for every method, before any sequential run: one held-out batch of edits with MEMIT at
# each value of `lam_p_grid`, and the largest $\lambda_p$ whose efficacy reaches `min_efficacy`.
# AlphaEdit's null space is the span of $C_0$'s eigenvectors whose eigenvalues lie below
# `null_threshold` times the largest one (`null_relative`); the reference's absolute threshold
# (2e-2) is tuned to Llama-3-8B's keys and would leave this model's first layer no null space.

# %%
null_dims = {layer: int(editor.projector(layer).trace().round()) for layer in setting.layers}
glue("lam_p", editor.lam_p)
glue("null_dims", ", ".join(f"{d} at layer {layer}" for layer, d in null_dims.items()))
glue("key_dims", d_ff)
calibration.round(3)

# %% [markdown]
# The calibration chose $\lambda_p$ = {glue:text}`lam_p:g`. AlphaEdit's preserved null space has
# {glue:text}`null_dims` dimensions (of {glue:text}`key_dims`). The `probe_recall` column is
# recall of never-edited people's facts after that one batch of edits: it falls from
# {glue:text}`recall_before:.0%` to {glue:text}`calibration_recall:.0%` at the chosen
# $\lambda_p$. An update written for one key moves the output at another key through their inner
# product under $C_0^{-1}$, so we measure how alike the keys of edits and of never-edited people
# are in that metric, for pairs that share the relation (the rewrite template) and pairs that do
# not:

# %%
overlap = study.key_overlap(setting, editor, prefixes)
first_layer = overlap[overlap.layer == setting.layers[0]].set_index(["probe_position", "same_relation"])
glue("calibration_recall", calibration.set_index("lam_p").loc[editor.lam_p].get("probe_recall", float("nan")))
glue("overlap_same", first_layer.loc[("subject", True), "mean_cos"])
glue("overlap_other", first_layer.loc[("subject", False), "mean_cos"])
glue("overlap_last_same", first_layer.loc[("last token", True), "mean_cos"])
glue("first_edited_layer", setting.layers[0])
chosen = calibration.set_index("lam_p").loc[editor.lam_p]
shared = (shared_token_groups(setting.tokenizer, setting.calibration_cases, setting.probe_cases)["shared_token"]
          if "probe_recall_shared_token" in chosen else None)
if shared is not None and 0 < shared.sum() < len(shared):
    glue("shared_token_share", shared.mean())
    glue("recall_shared_token", chosen["probe_recall_shared_token"])
    glue("recall_other_token", chosen["probe_recall_other_token"])
    token_sentence = (f"Shared name tokens: {shared.mean():.0%} of the never-edited people's names end in "
                      "the same token as some edited person's (where the editors read the key), and after the "
                      f"batch their facts are recalled {chosen['probe_recall_shared_token']:.0%} of the time, "
                      f"the others' {chosen['probe_recall_other_token']:.0%}.")
    gap = chosen["probe_recall_other_token"] - chosen["probe_recall_shared_token"]
    token_reading = (f"People whose names end in an edited name's token lost {abs(100 * gap):.0f} points "
                     f"{'more' if gap >= 0 else 'less'} recall than the others" + (", so a shared token explains little of the loss; " if abs(gap) < 0.1
                                          else "; "))
else:
    token_sentence, token_reading = "", ""
glue("token_sentence", token_sentence)
no_mechanism = "we measured no mechanism; crowding remains our reading, not a result."
glue("token_reading", token_reading + no_mechanism if token_reading else no_mechanism.capitalize())
overlap.round(3)

# %% [markdown]
# At layer {glue:text}`first_edited_layer` a never-edited person's key has mean whitened cosine
# {glue:text}`overlap_same:.2f` with the key of an edit of the same relation and
# {glue:text}`overlap_other:.2f` with one of another relation; at the prompt's last token, the
# position that predicts the object, {glue:text}`overlap_last_same:.2f` with an edit of the same
# relation. {glue:text}`token_sentence`
#
# ## ENCORE tuned on the calibration batch
#
# ENCORE has two settings of its own: how many extra all-top-1 checks MPES waits for, and the
# norm penalty $\lambda_n$. The paper's Llama-3-8B values (+{glue:text}`paper_mpes_extra`,
# $\lambda_n$ = {glue:text}`paper_lam_n` at $\lambda_p$ = {glue:text}`paper_lam_p:,`) do not carry
# over to a model whose $\lambda_p$ is {glue:text}`lam_p:g`, so both are chosen on the same
# held-out batch by the rule that chose $\lambda_p$: the smallest number of extra checks, then the
# largest $\lambda_n$, whose batch still reaches `min_efficacy`% efficacy. $\lambda_n$ is swept in
# units of the paper's ratio $\lambda_n/\lambda_p$ ({glue:text}`paper_lam_n` over
# {glue:text}`paper_lam_p:,`) times our $\lambda_p$ ({glue:text}`lam_n_unit:.3g`), so one unit is
# the paper's setting rescaled.

# %%
tuning, mpes_extra, lam_n = study.tune_encore(setting, editor, prefixes, cfg.mpes_grid, cfg.lam_n_grid,
                                              cfg.min_efficacy)
glue("lam_n_unit", study.lam_n_unit(editor.lam_p))
glue("mpes_extra", mpes_extra)
glue("lam_n", lam_n)
glue("lam_n_units", lam_n / study.lam_n_unit(editor.lam_p))
tuning.round(3)

# %% [markdown]
# The rule chose MPES +{glue:text}`mpes_extra` and $\lambda_n$ = {glue:text}`lam_n:.3g`
# ({glue:text}`lam_n_units:g` times the paper's ratio). The `delta_fro` column is the size of the
# one batch's update at the last edited layer: the penalty's job is to keep it small.
#
# ## Six editors, the same edits
#
# Each editor starts from the unedited model and makes the same edits in the same order in
# batches of `batch_size`: MEMIT and ENCORE all {glue:text}`num_edits:,`, the four others (MEMIT
# with only MPES or only the norm penalty, AlphaEdit with and without MPES) the first
# {glue:text}`compare_edits:,`. Every `eval_every` edits we record the edited matrices' norms,
# downstream ability (recall of {glue:text}`n_probe` never-edited facts, and loss on held-out
# Austen) and ES/PS/NS/S over the edits made so far among a fixed sample (every `score_every`-th
# edit); right after each batch, the probability the just-edited facts now get.

# %%
methods = encore_methods(lam_n, mpes_extra)
long_runs = ("MEMIT", "ENCORE")
edits_of = {m.name: cfg.num_edits if m.name in long_runs else min(cfg.compare_edits, cfg.num_edits) for m in methods}
runs = study.run_methods(setting, methods, editor, prefixes, cfg.batch_size, cfg.eval_every, edits_of,
                         cfg.score_every)
last = setting.layers[-1]
norms = runs.norms[runs.norms.layer == last].copy()
first_norm = norms[norms.edits == 0].set_index("method").fro
norms["norm_ratio"] = norms.fro / norms.method.map(first_norm)
checkpoints = runs.checkpoints.merge(norms[["method", "edits", "norm_ratio"]], on=["method", "edits"])
compare_at = min(cfg.compare_edits, cfg.num_edits)
compared = checkpoints[checkpoints.edits == compare_at].set_index("method")
columns = ["n_scored", "ES", "PS", "NS", "S", "probe_recall", "heldout_loss", "norm_ratio"]
compared[[c for c in columns if c in compared]].round(3)

# %% [markdown]
# ## {glue:text}`num_edits:,` edits: MEMIT against ENCORE
#
# The checkpoints of the two long runs, and the paper's scores after its
# {glue:text}`paper_num_edits:,` edits of Llama-3-8B.

# %%
trajectory = checkpoints[checkpoints.method.isin(long_runs)]
recall_column = "probe_recall" if "probe_recall" in trajectory else "mc_accuracy"
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
for method, rows in trajectory.groupby("method", sort=False):
    rows = rows[rows.edits > 0]
    axes[0].plot(rows.edits, rows.S, marker="o", ms=3, label=f"{method}: S")
    axes[0].plot(rows.edits, rows.ES, ls="--", lw=1, label=f"{method}: ES")
    axes[1].plot(rows.edits, rows.norm_ratio, marker="o", ms=3, label=method)
    axes[2].plot(rows.edits, rows[recall_column], marker="o", ms=3, label=method)
plots.labelled(axes[0], "Edit scores over the sampled edits so far", "sequential edits", "score (%)")
plots.labelled(axes[1], f"Edited matrix norm (layer {last})", "sequential edits", "||W|| / ||W0||")
plots.labelled(axes[2], "Downstream: never-edited facts recalled", "sequential edits", "top-1 recall")
for ax in axes:
    ax.legend(fontsize=7)
plt.tight_layout()
plt.show()
paper_llama = study.paper_scores().query("model == 'Llama-3-8B'").set_index("method")
end = trajectory[trajectory.edits == trajectory.edits.max()].set_index("method")
beside = pd.DataFrame({
    f"this run, {cfg.num_edits:,} edits": end[["ES", "PS", "NS", "S"]].stack(),
    "paper, Llama-3-8B, 10,000 edits": paper_llama.loc[list(long_runs), ["ES", "PS", "NS", "S"]].stack()}).unstack()
display(beside.round(1))
trajectory.pivot_table(index="edits", columns="method",
                       values=["S", "ES", "NS", recall_column, "heldout_loss", "norm_ratio"]).round(3)

# %% [markdown]
# ## Overfitting: how sure is the model of what it was just told?
#
# The paper's diagnosis: without early stopping the $z$ loop keeps pushing until the edited fact
# is far more probable than anything the model learned in pretraining. We read P(new object |
# rewrite prompt) right after each batch is written (averaged over the first
# {glue:text}`compare_edits:,` edits, which all six editors made), and compare it with P(true
# object) on facts the unedited model knows; the last column is P(new) of the sampled edits after
# each run's last edit.

# %%
summary = runs.final.set_index("method")
same_batches = runs.batches[runs.batches.batch < compare_at // cfg.batch_size]  # the edits all six made
overfit = same_batches.groupby("method", sort=False).agg(
    p_new_just_edited=("p_new_just_edited", "mean"), z_steps=("z_steps", "mean"))
overfit["p_new_after_all_edits"] = summary.p_new_edited
overfit.loc["known facts, unedited model", "p_new_just_edited"] = known_probability
overfit.round(3)

# %% [markdown]
# ## Time per edit, and where it goes
#
# Editing time alone (measurements are not timed), same cases, same machine, split into the
# value-target optimisation ($z$), the keys and current outputs, and the closed-form solves with
# the weight updates; the checkpoints' cost is shown apart.

# %%
profile_table = study.phase_profile(runs.batches, runs.checkpoints, cfg.batch_size)
profile_table["speed-up vs MEMIT"] = profile_table.loc["MEMIT", "total"] / profile_table.total
first_batches = runs.batches[runs.batches.batch < compare_at // cfg.batch_size]
same_cases = study.phase_profile(first_batches, runs.checkpoints, cfg.batch_size)
glue("encore_speedup", profile_table.loc["MEMIT", "total"] / profile_table.loc["ENCORE", "total"])
glue("encore_speedup_same", same_cases.loc["MEMIT", "total"] / same_cases.loc["ENCORE", "total"])
glue("z_step_ratio", profile_table.loc["MEMIT", "z_steps"] / profile_table.loc["ENCORE", "z_steps"])
glue("memit_z_steps", profile_table.loc["MEMIT", "z_steps"])
glue("encore_z_steps", profile_table.loc["ENCORE", "z_steps"])
glue("memit_z_share", profile_table.loc["MEMIT", "z_share"])
glue("encore_z_share", profile_table.loc["ENCORE", "z_share"])
glue("memit_ms_per_step", profile_table.loc["MEMIT", "ms_per_z_step"])
glue("encore_ms_per_step", profile_table.loc["ENCORE", "ms_per_z_step"])
glue("paper_encore_speedup", study.PAPER_LLAMA3_OVERFIT["MEMIT"][3] / study.PAPER_LLAMA3_OVERFIT["MEMIT"][4])
memit_batches = runs.batches[runs.batches.method == "MEMIT"].z_steps
tenth = max(1, len(memit_batches) // 10)
glue("memit_z_steps_first", memit_batches.iloc[:tenth].mean())
glue("memit_z_steps_last", memit_batches.iloc[-tenth:].mean())
glue("memit_ms", profile_table.loc["MEMIT", "total"])
glue("encore_ms", profile_table.loc["ENCORE", "total"])
profile_table.round(2)

# %% [markdown]
# ## A real pretrained model: SmolLM2-135M
#
# The same code on SmolLM2-135M {cite}`allal2025smollm2` (edited at layers `smollm2_layers`, with
# Llama-3's settings: $\lambda_p$ = {glue:text}`paper_lam_p:,`, $\lambda_n$ =
# {glue:text}`paper_lam_n`, MPES +{glue:text}`paper_mpes_extra`) with CounterFact-style cases
# built from real geography that the model already gets right (a city's country, a US city's
# state, a province's country, a country's continent, official language and currency; GeoNames
# cities and the `countryinfo` package), the new object being another object of the same relation.
# One $z$ step runs most of the model's blocks forwards and backwards, so on two CPU cores
# `local` makes only `smollm2_edits` edits per method, MEMIT against ENCORE, in one batch.
# Downstream: one-shot multiple choice on countries' capitals (a relation no edit asks about) and
# held-out loss on Austen paragraphs the world model never saw. Stand-ins: CounterFact's Wikidata
# facts and Wikipedia text (neither ships in a package registry).

# %%
smol_rows = pd.DataFrame()
smol_keys = ("smol_memit_es", "smol_encore_es", "smol_memit_z_steps", "smol_encore_z_steps",
             "smol_memit_ms", "smol_encore_ms", "smol_edits")
if cfg.smollm2_edits > 0:
    smol = smollm2_setting(cfg.smollm2_edits, cfg.smollm2_layers, cfg.seed, device=torch_device,
                           n_probe=20, n_c0=400, n_mc=24)
    smol_editor = make_editor(smol, float(paper_settings["lam_p"]), cfg.null_threshold, cfg.null_relative)
    smol_prefixes = context_prefixes(smol.model, smol.tokenizer, n_tokens=5, seed=cfg.seed)
    smol_before = downstream(smol)
    smol_methods = [Method("MEMIT", "memit"),
                    Method("ENCORE", "memit", paper_settings["lam_n"], paper_settings["mpes_extra"])]
    smol_runs = study.run_methods(smol, smol_methods, smol_editor, smol_prefixes,
                                  batch_size=cfg.smollm2_edits, eval_every=cfg.smollm2_edits,
                                  score_every=1, with_downstream=False)
    smol_rows = pd.concat([pd.DataFrame([{"method": "unedited", **smol_before}]),
                           smol_runs.final], ignore_index=True).set_index("method")
    smol_rows["p_new_right_after"] = smol_runs.batches.set_index("method").p_new_just_edited
    for method, key in (("MEMIT", "memit"), ("ENCORE", "encore")):
        glue(f"smol_{key}_es", smol_rows.loc[method, "ES"])
        glue(f"smol_{key}_z_steps", smol_rows.loc[method, "z_steps"])
        glue(f"smol_{key}_ms", smol_rows.loc[method, "ms_per_edit"])
    glue("smol_edits", cfg.smollm2_edits)
    display(smol_rows.round(3))
else:
    for key in smol_keys:
        glue(key, float("nan"))  # this profile does not edit SmolLM2

# %% [markdown]
# ## The paper's numbers beside ours
#
# The paper's numbers (arXiv v1, CounterFact, {glue:text}`paper_num_edits:,` sequential edits,
# GPU; Tables 1-3 for Llama-3-8B, Table 4 for GPT2-XL) next to this run's six editors after
# {glue:text}`compare_edits:,` edits and MEMIT and ENCORE after {glue:text}`num_edits:,` (a small
# Llama, synthetic facts, batches of `batch_size`, $\lambda_p$ calibrated, CPU). Generation
# entropy is ROME's measure, which the papers print in hundredths of a bit (ENCORE's
# {glue:text}`paper_encore_entropy:.1f` on Llama-3-8B); we print ours the same way, over
# {glue:text}`n_entropy` short samples instead of long generations. The paper's time ratios compare each method with and without MPES (Table 1).

# %%
columns = ["ES", "PS", "NS", "S", "entropy"]
ours = summary[columns].copy()
ours["entropy"] *= 100
ours.index = [f"{m} ({summary.loc[m, 'edits']:,} edits)" for m in summary.index]
paper_scores = study.paper_scores().pivot_table(index="method", columns="model", values=columns)
display(paper_scores.swaplevel(axis=1).sort_index(axis=1).round(2))
display(ours.round(2))
glue("n_entropy", 20)
overfit_paper = pd.DataFrame([
    {"method": name, "paper: P(known fact)": known, "paper: P(edited) w/o MPES": without,
     "paper: P(edited) w/ MPES": with_mpes, "paper: s/edit ratio w/o : w/ MPES": t0 / t1,
     "run: P(known fact)": known_probability,
     "run: P(edited) w/o MPES": overfit.loc[name, "p_new_just_edited"],
     "run: P(edited) w/ MPES": overfit.loc[f"{name}+MPES", "p_new_just_edited"],
     "run: s/edit ratio w/o : w/ MPES": same_cases.loc[name, "total"] / same_cases.loc[f"{name}+MPES", "total"]}
    for name, (known, without, with_mpes, t0, t1) in study.PAPER_LLAMA3_OVERFIT.items()]
).set_index("method")
paper_gpt2 = study.paper_scores().query("model == 'GPT2-XL'").set_index("method")
for method in compared.index:
    key = method.lower().replace("+", "_")
    for column in ("ES", "PS", "NS", "S"):
        glue(f"{key}_{column}_at_compare", compared.loc[method, column])
    glue(f"{key}_recall_at_compare", compared.loc[method].get("probe_recall", float("nan")))
    glue(f"{key}_norm_ratio_at_compare", compared.loc[method, "norm_ratio"])
    glue(f"{key}_z_steps_same", overfit.loc[method, "z_steps"])
    glue(f"{key}_p_new", overfit.loc[method, "p_new_just_edited"])
    glue(f"paper_llama_{key}_S", paper_llama.loc[method, "S"])
    glue(f"paper_gpt2_{key}_S", paper_gpt2.loc[method, "S"])
for method in long_runs:
    key = method.lower()
    row = end.loc[method]
    n = int(row.n_scored)
    for column in ("ES", "PS", "NS", "S"):
        glue(f"{key}_{column}", row[column])
    low, high = rate_interval(round(row.ES / 100 * n), n)
    glue(f"{key}_ES_low", 100 * low)
    glue(f"{key}_ES_high", 100 * high)
    glue(f"{key}_norm_ratio", row.norm_ratio)
    glue(f"{key}_recall", row.get("probe_recall", float("nan")))
    glue(f"{key}_heldout", row.heldout_loss)
    glue(f"{key}_entropy", 100 * summary.loc[method, "entropy"])
    glue(f"paper_{key}_entropy", paper_llama.loc[method, "entropy"])
glue("n_scored_end", int(end.n_scored.iloc[0]))
for key, sentence in study.long_run_verdicts(end, before, recall_column, len(setting.probe_cases)).items():
    glue(key, sentence)
overfit_paper.round(3)

# %% [markdown]
# ## Reading
#
# **The setting is now well posed, and crowded.** Every one of the {glue:text}`num_edits:,` edits
# has its own person, and every probe and neighbour is a person no edit touches. The keys of edits
# and probes are nearly orthogonal in MEMIT's metric (mean whitened cosine
# {glue:text}`overlap_same:.2f`), yet one calibration batch of {glue:text}`paper_batch_size`
# MEMIT edits already cuts recall of never-edited facts from {glue:text}`recall_before:.0%` to
# {glue:text}`calibration_recall:.0%`: this model has {glue:text}`crowding_factor:.0f` times less
# room per edit than Llama-3-8B. {glue:text}`token_reading`
#
# **ENCORE against MEMIT after {glue:text}`num_edits:,` edits.** {glue:text}`verdict_s`
# {glue:text}`verdict_downstream` {glue:text}`verdict_norm` {glue:text}`verdict_headline` The
# paper reports S {glue:text}`paper_llama_encore_S:.1f` for ENCORE against
# {glue:text}`paper_llama_memit_S:.1f` for MEMIT on Llama-3-8B, where MEMIT's own edits have
# collapsed by the end, and no loss of downstream ability. Here the never-edited facts are lost
# within the first {glue:text}`compare_edits:,` edits by every editor (next paragraph): at that
# point ENCORE has held the norm to {glue:text}`encore_norm_ratio_at_compare:.2f`x against MEMIT's
# {glue:text}`memit_norm_ratio_at_compare:.2f`x, and recall has fallen about as far
# ({glue:text}`encore_recall_at_compare:.0%` against {glue:text}`memit_recall_at_compare:.0%`), so
# on this model the loss of never-edited facts does not follow the norm. Between
# {glue:text}`compare_edits:,` and {glue:text}`num_edits:,` edits both editors lose their own
# edits at a similar pace (ES {glue:text}`encore_ES_at_compare:.1f` to
# {glue:text}`encore_ES:.1f` under ENCORE, {glue:text}`memit_ES_at_compare:.1f` to
# {glue:text}`memit_ES:.1f` under MEMIT; figure).
#
# **The six editors after {glue:text}`compare_edits:,` edits.** S: MEMIT
# {glue:text}`memit_S_at_compare:.1f`, MEMIT+MPES {glue:text}`memit_mpes_S_at_compare:.1f`,
# MEMIT+norm {glue:text}`memit_norm_S_at_compare:.1f`, ENCORE {glue:text}`encore_S_at_compare:.1f`,
# AlphaEdit {glue:text}`alphaedit_S_at_compare:.1f`, AlphaEdit+MPES
# {glue:text}`alphaedit_mpes_S_at_compare:.1f`; recall of never-edited facts
# {glue:text}`memit_recall_at_compare:.0%`, {glue:text}`memit_mpes_recall_at_compare:.0%`,
# {glue:text}`memit_norm_recall_at_compare:.0%`, {glue:text}`encore_recall_at_compare:.0%`,
# {glue:text}`alphaedit_recall_at_compare:.0%` and {glue:text}`alphaedit_mpes_recall_at_compare:.0%`
# in the same order.
#
# **Overfitting: not the paper's picture.** The tiny model gives facts it knows probability
# {glue:text}`known_p:.2f` (the paper's Llama-3-8B: {glue:text}`paper_known_p:.2f`); over the
# first {glue:text}`compare_edits:,` edits MEMIT's edits reach {glue:text}`memit_p_new:.2f` right
# after their batch, MEMIT+MPES's {glue:text}`memit_mpes_p_new:.2f` and ENCORE's
# {glue:text}`encore_p_new:.2f`: nothing is pushed above what the model believes of facts it
# knows. MPES still does what it is built to do and stops $z$ early, after
# {glue:text}`memit_mpes_z_steps_same:.1f` steps on average instead of MEMIT's
# {glue:text}`memit_z_steps_same:.1f` on the same edits.
#
# **Time per edit.** ENCORE took {glue:text}`encore_ms:.0f` ms an edit against MEMIT's
# {glue:text}`memit_ms:.0f` over all their edits ({glue:text}`encore_speedup:.2f`x; on the first
# {glue:text}`compare_edits:,`, the same cases for all six editors,
# {glue:text}`encore_speedup_same:.2f`x), against the paper's
# {glue:text}`paper_encore_speedup:.1f`x. The profile says where the time goes: the value-target
# optimisation is {glue:text}`memit_z_share:.0%` of MEMIT's time and {glue:text}`encore_z_share:.0%`
# of ENCORE's; MEMIT takes {glue:text}`memit_z_steps:.1f` steps on average and ENCORE
# {glue:text}`encore_z_steps:.1f` ({glue:text}`z_step_ratio:.1f` times fewer), at
# {glue:text}`memit_ms_per_step:.1f` and {glue:text}`encore_ms_per_step:.1f` ms per edit and step
# (the z loop's fixed work per batch, encoding and the blocks below the injection layer, is spread
# over fewer steps for ENCORE). MEMIT needs more steps as the run goes on: from
# {glue:text}`memit_z_steps_first:.1f` in the first tenth of its batches to
# {glue:text}`memit_z_steps_last:.1f` in the last. Every $z$ step runs the blocks above the injection layer only
# from the subject's last token on: nothing to its left can change, so those positions' keys and
# values are computed once per batch and reused (`benchmarks/editing.py` times this against
# recomputing every position).
#
# **SmolLM2.** A handful of edits of a real pretrained model take minutes on a CPU, so this is a
# check that the same code edits a real Llama, not a measurement of sequential degradation. With
# Llama-3's settings, ENCORE stopped $z$ after {glue:text}`smol_encore_z_steps:.0f` steps instead
# of MEMIT's {glue:text}`smol_memit_z_steps:.0f` and took {glue:text}`smol_encore_ms:,.0f` ms an
# edit against {glue:text}`smol_memit_ms:,.0f`; its edits took at ES
# {glue:text}`smol_encore_es:.0f` against MEMIT's {glue:text}`smol_memit_es:.0f` over
# {glue:text}`smol_edits` edits. We did not tune ENCORE for SmolLM2.
#
# What differs from the paper: a four-layer model trained here on synthetic facts instead of
# Llama-3-8B ({glue:text}`crowding_factor:.0f` times more edits per key dimension), batches of
# `batch_size` (the paper's {glue:text}`paper_batch_size`), $\lambda_p$ calibrated
# ({glue:text}`lam_p:g`) instead of {glue:text}`paper_lam_p:,`, ENCORE's MPES and $\lambda_n$
# chosen on a calibration batch, the first layers instead of middle ones, ES/PS/NS/S at
# checkpoints over a fixed sample (every `score_every`-th edit, {glue:text}`n_scored_end:,` edits
# at the end), one seed, and downstream measured as recall of never-edited facts and held-out loss
# instead of GLUE/MMLU.

# %% [markdown]
# ## Results

# %%
glue("chapter_minutes", (time.perf_counter() - chapter_start) / 60)
saved = save_results("03_encore", cfg, glued(),
                     tables={"final": runs.final, "norms": runs.norms, "checkpoints": runs.checkpoints,
                             "batches": runs.batches, "calibration": calibration, "tuning": tuning,
                             "profile": profile_table.reset_index(), "smollm2": smol_rows.reset_index()},
                     path=results_path)
print(f"wrote {saved}")
pd.Series(glued()).head(12)
