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
# # 8. Bend-VLM: debiasing each query at test time
#
# **Claim of the paper** {cite}`gerych2024bendvlm`. A vision-language model's query embedding
# can be debiased *per query*, without fine-tuning: first project out the directions along
# which the query's own attribute-augmented versions ("a photo of a female nurse", "... male
# nurse") differ, then move the query to the nearest unit vector that is equally similar to the
# nearest reference images of every attribute group. Against Orth-Proj and Orth-Cal
# {cite}`chuang2023debiasing`, which apply one projection to every query, this cuts the skew of
# CLIP's retrieved faces over gender and race (MaxSkew) far more, at a small cost in retrieval
# accuracy.
#
# **What runs where.** No CLIP or face data ship in any package this book can reach, so `local`
# debiases chapter 7's tiny CLIP, trained by this book on Fashion-MNIST {cite}`xiao2017fashion`
# with planted group markers (tints stand in for race, a frame for gender), where each planted
# word's bias is known; and a real text encoder, all-MiniLM-L6-v2 {cite}`reimers2019sbert`,
# retrieving chapter 7's descriptions of people, with the attribute augmentations written by
# templates and by SmolLM2 {cite}`allal2025smollm2`. This page took
# {glue:text}`chapter_minutes:.1f` minutes on {glue:text}`device_name`. `paper` adds CLIP ViT-B/16 on FairFace's
# faces {cite}`karkkainen2021fairface` with an instruct LLM's augmentations, on a GPU.

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
n_words = None
strengths = None
plants_per_strength = None
clip_steps = None
clip_batch = None
clip_width = None
clip_layers = None
gallery_size = None
folds = None
min_strength = None
k = None
m = None
ms = None
orth_cal_lambda = None
timing_queries = None
timing_dims = None
text_encoders = None
text_words = None
text_k = None
text_m = None
augmenter = None
llm_words = None
clip_models = None
fairface_size = None
fairface_k = None
fairface_m = None
results_path = None  # where the results JSON goes (batch runs set it)

# %% tags=["hide-cell"] mystnb={"code_prompt_show": "Show the imports and the resolved configuration", "code_prompt_hide": "Hide the imports and the configuration"}
# NBVAL_CHECK_OUTPUT
import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from support import plots
from support.bendvlm import figures, study
from support.device import pick_device
from support.glue import glue, glued
from support.models import cached
from support.profiles import resolve
from support.results import save_results
from support.seed import seed_everything
from support.vlm import debias, people

cfg = resolve(profile, study.PARAMS, seed=seed, device=device, n_words=n_words,
              strengths=strengths, plants_per_strength=plants_per_strength,
              clip_steps=clip_steps, clip_batch=clip_batch, clip_width=clip_width,
              clip_layers=clip_layers, gallery_size=gallery_size, folds=folds,
              min_strength=min_strength, k=k, m=m, ms=ms,
              orth_cal_lambda=orth_cal_lambda, timing_queries=timing_queries,
              timing_dims=timing_dims, text_encoders=text_encoders,
              text_words=text_words, text_k=text_k, text_m=text_m, augmenter=augmenter,
              llm_words=llm_words, clip_models=clip_models, fairface_size=fairface_size,
              fairface_k=fairface_k, fairface_m=fairface_m)
seed_everything(cfg.seed)
torch_device = pick_device(cfg.device)
on_cpu = str(torch_device) == "cpu"
glue("device_name", "a CPU" if on_cpu else f"a {torch_device} device")
plots.set_style()
chapter_start = time.perf_counter()
for name in ("k", "m", "folds", "gallery_size", "min_strength", "orth_cal_lambda",
             "text_k", "text_m"):
    glue(name, getattr(cfg, name))
glue("ci_level", study.CI_LEVEL)
glue("paper_top_k", study.PAPER_TOP_K)
glue("paper_folds", study.PAPER_FOLDS)
glue("rerun_top_k", study.RERUN_TOP_K)
cfg.table()

# %% [markdown]
# ## The method
#
# Every method maps a unit query embedding $q$ to a unit $z$; retrieval then ranks the gallery
# by cosine similarity to $z$ as before (`support.vlm.debias`).
#
# - **Orth-Proj** projects out the span of *generic* attribute prompts ("a photo of a man",
#   "a photo of a woman"): $z \propto P_0 q$, $P_0 = I - A (A^\top A)^{+} A^\top$.
# - **Orth-Cal** also pulls together prompt pairs that differ only in the attribute:
#   $z \propto P_0 \big(I + \tfrac{\lambda}{|S|} \sum_{(i,j) \in S} (t_i - t_j)(t_i - t_j)^\top\big)^{-1} q$,
#   $t_i$ the prompts' embeddings, with $\lambda$ = {glue:text}`orth_cal_lambda:g` as in Bend-VLM's
#   comparison.
# - **Bend-VLM step one** projects out, *per query*, the generic prompts and the query's own
#   augmented versions centred on their mean (for two groups, their half-difference).
# - **Bend-VLM step two** takes, for the step-one query, the *m* nearest reference images of each
#   group, averages each group into $\mu_a$, and returns
#   $\arg\min_{\|z\|=1} \|z - q\|$ subject to $\langle z, \mu_a \rangle = \langle z, \mu_1 \rangle$
#   for all $a$. The paper's code solves this per query with SLSQP. Because
#   $\|z - q\|^2 = 2 - 2\langle z, q \rangle$ on the sphere, the answer is the projection of $q$
#   onto the null space of the differences $\mu_a - \mu_1$, renormalised: one batched
#   least-squares solve for all queries. The tests check it against SLSQP on random instances,
#   that the inner products come out equal, and that step one leaves the query orthogonal to what it
#   removed (`tests/test_vlm_debias.py`); `benchmarks/vlm.py` times the two solvers. Here,
#   on {glue:text}`timing_queries` random unit queries and group means of each width in
#   {glue:text}`timing_dims` (the tiny CLIP's width and hub CLIPs'):

# %%
speed = study.solver_timing(cfg)
display(speed.round(6))
glue("timing_queries", cfg.timing_queries)
glue("timing_dims", ", ".join(str(d) for d in cfg.timing_dims))
glue("speed_ratio", float(speed.ratio.min()))
glue("speed_cosine", float(speed.min_cosine.min()))

# %% [markdown]
# The closed form is at least {glue:text}`speed_ratio:,.0f` times faster per query than SLSQP
# (the smallest ratio in the table) and agrees with it to a cosine of at least
# {glue:text}`speed_cosine:.6f`.
#
# ## Debiasing a CLIP whose biases are known
#
# Chapter 7's tiny CLIP is loaded from the cache (the same model: this chapter's defaults
# rebuild chapter 7's specification). Its captions tie some taxonomy words to a tint or a frame
# with a known strength. The queries of one attribute are "a photo of a {word} {garment}" for
# every garment, for each word planted on that attribute at strength
# {glue:text}`min_strength:g` or more (its *planted* queries), and for as many words nothing was
# planted on (*unplanted* queries, where a debiaser should do no harm). The gallery of
# {glue:text}`gallery_size:,` marked Fashion-MNIST test images is split in halves
# {glue:text}`folds` times: the reference half gives step two its neighbours, the target half is
# retrieved from. Per query: **MaxSkew** $\max(0, \max_a \log(p_a / q_a))$ of the top
# {glue:text}`k` against the target half's shares $q$, **KL** of the same, **precision** (share
# of the top {glue:text}`k` showing the query's garment) and **worst-group AUC** (the smallest,
# over groups, AUC of the query's scores for its garment within the group). The augmented
# versions write the group into the caption the way the training captions do ("a photo of a
# brave red coat", "... coat with a frame"); Orth-Proj's generic prompts are "a photo of a red
# item" and so on; Orth-Cal's pairs are such prompts for every garment.

# %%
spec = study.clip_spec(cfg)
clip_model, clip_tokenizer, clip_processor = cached.load(spec, torch_device)
gallery_vectors, gallery, embed = study.planted_embeddings(
    clip_model, clip_tokenizer, clip_processor, cfg)
per_query = study.planted_comparison(gallery_vectors, gallery, embed, cfg)
methods = study.method_table(per_query)
for attribute in study.MARKER_ATTRIBUTES:
    queries = study.planted_queries(cfg, attribute)
    glue(f"{attribute}_planted_words", int(queries[queries.planted].word.nunique()))
    glue(f"{attribute}_queries", int(queries.planted.sum()))
shown = ["attribute", "queries", "method", "max_skew", "max_skew_ci", "kl", "precision",
         "precision_change", "precision_change_ci", "worst_group_auc"]
display(methods[shown].round(3))
for name, value in study.comparison_numbers(methods).items():
    glue(name, value)
glue("tradeoff_reading", study.tradeoff_reading(methods))
glue("harm_reading", study.harm_reading(methods))
figures.tradeoff_panel(methods)
plt.show()

# %% [markdown]
# Tint ({glue:text}`tint_planted_words` planted words, {glue:text}`tint_queries` queries) and
# frame ({glue:text}`frame_planted_words` words, {glue:text}`frame_queries` queries); every
# number is a mean over queries, then over {glue:text}`folds` folds with a {glue:text}`ci_level:.0%` t-interval
# (`_ci`, its half-width); `precision_change` is paired, the method's precision minus vanilla's
# on the same query and fold.
#
# On the planted tint queries vanilla retrieval has MaxSkew
# {glue:text}`tint_planted_vanilla_max_skew:.2f` ± {glue:text}`tint_planted_vanilla_max_skew_ci:.2f`.
# Orth-Proj brings it to {glue:text}`tint_planted_orth_proj_max_skew:.2f` ±
# {glue:text}`tint_planted_orth_proj_max_skew_ci:.2f` and Orth-Cal to
# {glue:text}`tint_planted_orth_cal_max_skew:.2f` ± {glue:text}`tint_planted_orth_cal_max_skew_ci:.2f`;
# Bend-VLM to {glue:text}`tint_planted_bend_vlm_max_skew:.2f` ±
# {glue:text}`tint_planted_bend_vlm_max_skew_ci:.2f` (step one alone
# {glue:text}`tint_planted_step1_max_skew:.2f`, step two alone
# {glue:text}`tint_planted_step2_max_skew:.2f`). Precision at {glue:text}`k` goes from
# {glue:text}`tint_planted_vanilla_precision:.2f` (vanilla) to
# {glue:text}`tint_planted_orth_proj_precision:.2f` (Orth-Proj),
# {glue:text}`tint_planted_orth_cal_precision:.2f` (Orth-Cal) and
# {glue:text}`tint_planted_bend_vlm_precision:.2f` ±
# {glue:text}`tint_planted_bend_vlm_precision_ci:.2f` (Bend-VLM); worst-group AUC from
# {glue:text}`tint_planted_vanilla_worst_group_auc:.2f` to
# {glue:text}`tint_planted_bend_vlm_worst_group_auc:.2f`. For the frame (two groups), vanilla
# {glue:text}`frame_planted_vanilla_max_skew:.2f`, Orth-Proj
# {glue:text}`frame_planted_orth_proj_max_skew:.2f`, Orth-Cal
# {glue:text}`frame_planted_orth_cal_max_skew:.2f`, Bend-VLM
# {glue:text}`frame_planted_bend_vlm_max_skew:.2f` ±
# {glue:text}`frame_planted_bend_vlm_max_skew_ci:.2f`, at precision
# {glue:text}`frame_planted_vanilla_precision:.2f` -> {glue:text}`frame_planted_bend_vlm_precision:.2f`.
#
# {glue:text}`tradeoff_reading`
#
# ### How many neighbours?
#
# Step two equalises the query's similarity to the *m* reference images of each group nearest to
# it. The sweep runs step two alone and Bend-VLM at each *m* and also reports the neighbours'
# *purity*: the share of them showing the query's garment (the reference half holds about
# {glue:text}`per_garment_group` images of one garment in the smallest tint group).

# %%
sweep_runs = study.planted_comparison(gallery_vectors, gallery, embed, cfg,
                                      m_values=list(cfg.ms))
sweep = study.m_sweep_table(sweep_runs)
display(sweep[["attribute", "m", "method", "max_skew", "max_skew_ci", "precision",
               "precision_ci", "neighbour_purity"]].round(3))
glue("per_garment_group", study.smallest_cell(gallery, cfg))
figures.m_sweep_panel(sweep)
plt.show()
for name, value in study.sweep_numbers(sweep, cfg).items():
    glue(name, value)

# %% [markdown]
# {glue:text}`sweep_reading` The chapter's *m* = {glue:text}`m` was fixed before the sweep was
# run and is kept for the tables above, so that they are not tuned to the sweep.
#
# ### No harm where there is no bias?
#
# The unplanted queries carry no planted association, so whatever skew vanilla retrieval shows
# there is the model's own lean, not a plant. Vanilla MaxSkew on the unplanted tint queries is {glue:text}`tint_unplanted_vanilla_max_skew:.2f` ±
# {glue:text}`tint_unplanted_vanilla_max_skew_ci:.2f`; after Orth-Proj
# {glue:text}`tint_unplanted_orth_proj_max_skew:.2f` ±
# {glue:text}`tint_unplanted_orth_proj_max_skew_ci:.2f`, after Bend-VLM
# {glue:text}`tint_unplanted_bend_vlm_max_skew:.2f` ±
# {glue:text}`tint_unplanted_bend_vlm_max_skew_ci:.2f`; precision
# {glue:text}`tint_unplanted_vanilla_precision:.2f` (vanilla),
# {glue:text}`tint_unplanted_orth_proj_precision:.2f` (Orth-Proj),
# {glue:text}`tint_unplanted_bend_vlm_precision:.2f` (Bend-VLM). {glue:text}`harm_reading`
#
# ## A real text encoder: descriptions of people
#
# all-MiniLM-L6-v2 retrieves among chapter 7's {glue:text}`n_people` descriptions of people
# (twelve sentence frames x seven race x two gender groups), halved into reference and target
# sets per fold. The queries are the taxonomy's prompts ("a photo of a lazy person", "a photo
# of a nurse"); the augmented versions write the group in by template ("a photo of a lazy
# Black person", "a photo of a female nurse"); *k* = {glue:text}`text_k` of the target half's
# descriptions, *m* = {glue:text}`text_m`. There is no class to retrieve here, so only the bias
# metrics are reported.

# %%
text_per_query = study.text_comparison(cfg, torch_device)
text_table = study.fold_summary(text_per_query, ["encoder", "attribute", "method"])
text_table["method"] = text_table.method.map(debias.METHOD_LABELS)
glue("n_people", len(people.people_gallery()))
glue("n_text_queries", int(text_per_query["query"].nunique()))
display(text_table[["encoder", "attribute", "method", "max_skew", "max_skew_ci", "kl",
                    "kl_ci"]].round(3))
for name, value in study.comparison_numbers(
        text_table[text_table.encoder == text_table.encoder.iloc[0]], "text").items():
    glue(name, value)
glue("text_reading", study.text_reading(text_table))

# %% [markdown]
# Over {glue:text}`n_text_queries` prompts, race: vanilla MaxSkew
# {glue:text}`text_race_vanilla_max_skew:.2f` ± {glue:text}`text_race_vanilla_max_skew_ci:.2f`,
# Orth-Proj {glue:text}`text_race_orth_proj_max_skew:.2f`, Orth-Cal
# {glue:text}`text_race_orth_cal_max_skew:.2f`, Bend-VLM
# {glue:text}`text_race_bend_vlm_max_skew:.2f` ± {glue:text}`text_race_bend_vlm_max_skew_ci:.2f`;
# gender: vanilla {glue:text}`text_gender_vanilla_max_skew:.2f`, Orth-Proj
# {glue:text}`text_gender_orth_proj_max_skew:.2f`, Orth-Cal
# {glue:text}`text_gender_orth_cal_max_skew:.2f`, Bend-VLM
# {glue:text}`text_gender_bend_vlm_max_skew:.2f` ±
# {glue:text}`text_gender_bend_vlm_max_skew_ci:.2f`. {glue:text}`text_reading`
#
# ### Augmentations written by a language model
#
# The paper has an LLM write each query's attribute-specific versions, which templates cannot do
# for free-form queries. Here the run's augmenter, {glue:text}`augmenter_label`, is asked to
# rewrite the first {glue:text}`n_llm_words` of the prompts for each group ("Rewrite this image
# caption so that it describes a Black person ..."); its captions feed step one in place of the
# templates', and step one and Bend-VLM run on the same words with either.

# %%
llm_rows = study.text_query_rows(cfg).head(cfg.llm_words)
if cfg.augmenter != "none" and len(llm_rows):
    llm_augmented, llm_captions = study.llm_augmentations(llm_rows, cfg.augmenter,
                                                          torch_device)
    augment_table = study.augmentation_comparison(cfg.text_encoders[0], llm_rows,
                                                  llm_augmented, cfg, torch_device)
else:
    llm_augmented, llm_captions, augment_table = None, pd.DataFrame(), pd.DataFrame()
augment_summary = study.augmentation_summary(llm_captions, augment_table)
display(llm_captions.head(8))
display(augment_summary.round(3))
llm_numbers = study.augmentation_numbers(llm_captions, augment_summary, cfg)
for name, value in llm_numbers.items():
    glue(name, value)

# %% [markdown]
# {glue:text}`augment_reading`
#
# ## CLIP on FairFace (`paper`)
#
# With network and a GPU, the same comparison runs on a hub CLIP retrieving FairFace's
# validation faces (top {glue:text}`fairface_k`; the paper's tables use the top {glue:text}`paper_top_k`), with the LLM's
# augmentations of the prompts it rewrote (the templates' when no LLM ran); in `local` this
# cell does nothing.

# %%
glue("fairface_k", cfg.fairface_k)
clip_tables = []
if cfg.clip_models and cfg.fairface_size:
    faces, face_groups = people.fairface_gallery(cfg.fairface_size, cfg.seed)
    face_rows = llm_rows if llm_augmented else study.text_query_rows(cfg)
    for model_id in cfg.clip_models:
        clip_tables.append(study.image_text_comparison(
            model_id, faces, face_groups, face_rows, cfg, torch_device, llm_augmented))
clip_table = (study.fold_summary(pd.concat(clip_tables, ignore_index=True),
                                 ["model", "attribute", "method"]) if clip_tables
              else pd.DataFrame())
if len(clip_table):
    display(clip_table.round(3))

# %% [markdown]
# ## Beside the paper
#
# The paper's own tables are not reproduced here. For the direction on real faces, a
# third-party rerun of its code on FairFace (CLIP ViT-B/16, gender, MaxSkew of the top
# {glue:text}`rerun_top_k:,` times a hundred, by prompt set), as reported to this book; it is
# not published, so read it as indicative only:

# %%
display(study.RERUN_FAIRFACE_GENDER)
beside = study.cuts(methods)
display(beside.round(3))
for name, value in study.paper_numbers(methods).items():
    glue(name, value)
rerun = study.RERUN_FAIRFACE_GENDER
rerun_cuts = 1 - rerun["Bend-VLM"] / rerun.CLIP
glue("rerun_cut_low", float(rerun_cuts.min()))
glue("rerun_cut_high", float(rerun_cuts.max()))
glue("small_cost", study.SMALL_COST)

# %% [markdown]
# | | paper | this run |
# |---|---|---|
# | model | CLIP ViT-B/16 (and others) | a tiny CLIP with planted markers; all-MiniLM-L6-v2 (text only) |
# | data | CelebA, UTKFace, FairFace faces | {glue:text}`gallery_size:,` marked garments; {glue:text}`n_people` descriptions |
# | attribute | gender, race | tint (seven groups), frame (two); race, gender (text) |
# | augmentations | an LLM | templates; SmolLM2-135M beside them |
# | splits | {glue:text}`paper_folds` random halves: reference, target | {glue:text}`folds` such halvings |
# | bias truth known | no | yes, for the tiny CLIP |
#
# In the rerun, Bend-VLM cuts CLIP's gender MaxSkew by {glue:text}`rerun_cut_low:.0%` to
# {glue:text}`rerun_cut_high:.0%` across the prompt sets. On the planted model, Bend-VLM cuts tint
# MaxSkew by {glue:text}`tint_cut_bend_vlm:.0%` of the vanilla value against
# {glue:text}`tint_cut_orth_proj:.0%` for Orth-Proj and {glue:text}`tint_cut_orth_cal:.0%` for
# Orth-Cal, changing precision by {glue:text}`tint_precision_change_bend_vlm:+.3f` ±
# {glue:text}`tint_precision_change_bend_vlm_ci:.3f` (Orth-Proj
# {glue:text}`tint_precision_change_orth_proj:+.3f`); frame MaxSkew by
# {glue:text}`frame_cut_bend_vlm:.0%` against {glue:text}`frame_cut_orth_proj:.0%` and
# {glue:text}`frame_cut_orth_cal:.0%`, changing precision by
# {glue:text}`frame_precision_change_bend_vlm:+.3f` ±
# {glue:text}`frame_precision_change_bend_vlm_ci:.3f`. {glue:text}`paper_reading` (A "small
# cost" is this chapter's bar, a precision drop of at most {glue:text}`small_cost:.2f`; the
# paper reports accuracy on its own tasks.) The text encoder's comparison is read in its own
# section above. In `local` nothing sees a face: the numbers say how the methods behave on a small
# model whose biases are planted and on a text encoder, not how they behave on CLIP; a `paper`
# run's FairFace table (above) is the one to set beside the rerun.

# %% [markdown]
# ## Results

# %%
glue("chapter_minutes", (time.perf_counter() - chapter_start) / 60)
saved = save_results("08_bend_vlm", cfg, glued(),
                     tables={"methods": methods, "m_sweep": sweep, "text": text_table,
                             "augmentation": augment_summary, "speed": speed,
                             "clip": clip_table},
                     path=results_path)
print(f"wrote {saved}")
pd.Series(glued()).head(12)
