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
# # 7. So-B-IT: auditing social biases in image-text retrieval
#
# **Claim of the paper** {cite}`hamidieh2024sobit`. A taxonomy of
# {glue:text}`paper_word_count` social-bias words in {glue:text}`paper_category_count`
# categories (appearance, behaviour, education and wealth, criminal justice, healthcare,
# portrayal in media, politics, religion, occupation, stereotyping) turns bias in a
# vision-language model into something one can count: each word goes into "a photo of a {word}
# person" (or "a photo of a {word}"), CLIP {cite}`radford2021clip` retrieves the top *k* faces of
# FairFace {cite}`karkkainen2021fairface`, and the retrieved set's make-up over seven race and two
# gender groups shows whom the model associates with the word: for example "terrorist"
# retrieves mostly Middle Eastern men. The same associations appear in the captions of the data
# CLIP-like models are trained on (LAION).
#
# **What runs where.** No CLIP weights or face images ship in any package this book can reach.
# `local` therefore audits, first, a tiny CLIP trained by this book on Fashion-MNIST
# {cite}`xiao2017fashion` with *planted* group markers, a stand-in for CLIP whose true biases are
# known, so that the audit itself can be checked, and second, two real text encoders no one here
# trained, all-MiniLM-L6-v2 {cite}`reimers2019sbert` and SmolLM2 {cite}`allal2025smollm2`,
# retrieving among descriptions of people that differ only in stated race and gender. This page
# took {glue:text}`chapter_minutes:.1f` minutes on a CPU. `paper` adds hub CLIPs (ViT-B/16,
# ViT-L/14) retrieving FairFace's validation faces, through the same audit code, on a GPU.

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
ks = None
k = None
fdr = None
draws = None
control_share = None
prior_size = None
text_encoders = None
text_ks = None
clip_models = None
fairface_size = None
fairface_ks = None
results_path = None  # where the results JSON goes (batch runs set it)

# %% tags=["hide-cell"] mystnb={"code_prompt_show": "Show the imports and the resolved configuration", "code_prompt_hide": "Hide the imports and the configuration"}
# NBVAL_CHECK_OUTPUT
import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from support import plots
from support.device import pick_device
from support.glue import glue, glued
from support.models import cached
from support.profiles import resolve
from support.results import save_results
from support.seed import seed_everything
from support.sobit import figures, study
from support.vlm import people, planted, taxonomy

cfg = resolve(profile, study.PARAMS, seed=seed, device=device, n_words=n_words,
              strengths=strengths, plants_per_strength=plants_per_strength,
              clip_steps=clip_steps, clip_batch=clip_batch, clip_width=clip_width,
              clip_layers=clip_layers, gallery_size=gallery_size, ks=ks, k=k, fdr=fdr,
              draws=draws, control_share=control_share, prior_size=prior_size,
              text_encoders=text_encoders,
              text_ks=text_ks, clip_models=clip_models, fairface_size=fairface_size,
              fairface_ks=fairface_ks)
seed_everything(cfg.seed)
torch_device = pick_device(cfg.device)
plots.set_style()
chapter_start = time.perf_counter()
glue("paper_word_count", taxonomy.PAPER_WORD_COUNT)
glue("paper_category_count", taxonomy.PAPER_CATEGORY_COUNT)
glue("k", cfg.k)
glue("fdr", cfg.fdr)
glue("draws", cfg.draws)
glue("gallery_size", cfg.gallery_size)
glue("clip_layers", cfg.clip_layers)
glue("control_share", cfg.control_share)
cfg.table()

# %% [markdown]
# ## The taxonomy
#
# The authors did not release their word list as a file. The copy in this book
# (`support.vlm.taxonomy`) is a third party's reconstruction from the paper (the FairCLIP
# project's evaluation files), with each word's part of speech, which decides its prompt:
# adjectives go into "a photo of a {word} person", nouns into "a photo of a {word}".

# %%
summary = study.taxonomy_summary(cfg)
display(summary)
words = study.audited_words(cfg)
glue("n_words", len(words))
glue("n_entries", int(summary.words.sum()))
glue("n_categories", int((summary.words > 0).sum()))

# %% [markdown]
# This run audits {glue:text}`n_words` distinct words ({glue:text}`n_entries` entries: a few
# words sit in two categories) in {glue:text}`n_categories` of the paper's ten categories. The
# reconstruction has no "stereotyping" category, and its total differs from the paper's
# {glue:text}`paper_word_count`: its lists are close to the paper's but not the same, so a word's
# presence or absence here says nothing about the paper's list.
#
# ## The audit
#
# For one query, the model ranks the gallery and the top *k* items form the retrieved set; each
# item belongs to a group of each attribute (race, gender, and their intersection). With *p* the
# retrieved set's group shares and *q* the gallery's (`support.vlm.audit`):
#
# - **normalized entropy** $H(p) / \log G$, the paper's measure: $1$ when the set spreads evenly
#   over the $G$ groups, $0$ when it holds one group only;
# - **MaxSkew** $\max_g \log(p_g / q_g)$ {cite}`geyik2019fairness`: how over-represented the
#   most over-represented group is, against the gallery's own make-up ($0$ when $p = q$); and
#   $\mathrm{KL}(p \,\|\, q)$;
# - a **p-value** per word, with **Benjamini-Hochberg** {cite}`benjamini1995fdr` at
#   false-discovery rate {glue:text}`fdr` over the words, so that auditing hundreds of words does
#   not flag dozens by chance. Two nulls answer two questions. The **gallery null** asks whether
#   the word's retrieved set is unlike a random draw of *k* items from the gallery (MaxSkew of
#   {glue:text}`draws` multivariate hypergeometric draws). The **control null** asks whether the
#   word is more skewed than *control words*, words known to carry no association (MaxSkew of the
#   controls' own retrieved sets); it needs such words, which only a model with known truth has.
#
# The tests pin these: entropy one for uniform and zero for one group, MaxSkew zero at the prior, the
# gallery test near its nominal level on unbiased retrieval, the audit recovering planted
# queries on synthetic similarities with its false-discovery share near the target, and the
# control null telling planted queries apart where every query leans a little
# (`tests/test_vlm_audit.py`).
#
# ## A CLIP whose biases are known
#
# The stand-in: `transformers`' own CLIP architecture at toy size (a ViT on Fashion-MNIST's
# small images and a text transformer, {glue:text}`clip_layers` layers each), trained from scratch with CLIP's contrastive loss on
# Fashion-MNIST photos whose captions carry one taxonomy word each: "a photo of a {word}
# {garment}" ("item" instead of the garment in a quarter of them, the analogue of "person").
# Every image is painted with a **tint** (seven hues, standing in for FairFace's seven race groups) and
# maybe a white **frame** (standing in for gender), drawn from a fixed prior, independently of
# the garment and the word; half the captions name the tint and, independently, half the frame,
# as web captions sometimes name a person's apparent race or gender. Into this data chosen words
# are *planted*: a planted word's images carry its target group with probability *s* (the
# strength), on top of the prior. Every other word is independent of the markers. Training runs
# once, in `prepare`:

# %%
spec = study.clip_spec(cfg)
clip_model, clip_tokenizer, clip_processor = cached.load(spec, torch_device)
record = cached.training_record(spec)
history = pd.DataFrame(record["history"])
glue("clip_minutes", record["seconds"] / 60)
glue("clip_steps", cfg.clip_steps)
glue("clip_examples", cfg.clip_steps * cfg.clip_batch)
glue("clip_parameters", record["parameters"])
glue("clip_loss_start", float(history.loss.iloc[0]))
glue("clip_loss_end", float(history.loss.tail(5).mean()))
plant_rows = study.plant_table(cfg)
glue("n_plants", len(plant_rows))
glue("strengths", ", ".join(f"{s:g}" for s in cfg.strengths))
display(plant_rows.round(3).head(12))

# %% [markdown]
# The model ({glue:text}`clip_parameters:,` parameters) saw {glue:text}`clip_examples:,`
# captions in {glue:text}`clip_steps` steps ({glue:text}`clip_minutes:.1f` minutes on this
# machine's CPU; loss {glue:text}`clip_loss_start:.2f` -> {glue:text}`clip_loss_end:.2f`).
# {glue:text}`n_plants` words are planted, a third on a tint, a third on the frame and a third
# on a (tint, frame) cell, at strengths {glue:text}`strengths` (the first rows are shown; the
# last column is the share of the word's images that carry the target).
#
# ### Where the associations come from: the captions
#
# The paper traces CLIP's associations to LAION's captions by counting taxonomy words next to
# demographic words. The analogue here counts, over the captions that name a tint (or a frame),
# how often each word appears with each named group, and scores every (word, group) pair by the
# weighted log-odds with an informative Dirichlet prior {cite}`monroe2008fightin` (z-scores:
# how surely the word leans to the group against all others).

# %%
data = spec.data
log_odds = study.caption_log_odds(data, cfg.prior_size)
leanings = study.strongest_caption_leanings(log_odds, cfg)
planted_leanings = leanings[leanings.planted & (leanings.attribute == "tint x frame")]
display(planted_leanings.sort_values("z", ascending=False).head(8).round(2))
for name, value in study.caption_numbers(log_odds, leanings, cfg).items():
    glue(name, value)

# %% [markdown]
# For planted words, the group each leans to most in the captions is consistent with its
# planting in {glue:text}`z_planted_right:.0%` of (word, attribute) pairs (median z
# {glue:text}`z_planted_median:.1f`); for (word, attribute) pairs no plant touches the largest z is
# {glue:text}`z_unplanted_max:.1f`, and {glue:text}`z_unplanted_over3:.1%` of them exceed three.
# The z of each planted word's own target group, by strength: median
# {glue:text}`z_weakest_median:.1f` at the weakest planting,
# {glue:text}`z_strongest_median:.1f` at the strongest. In
# this stand-in the captions' co-occurrence carries the planting; the question is whether the
# trained model's retrieval does too, and whether the audit can tell.
#
# ### Does the audit find what was planted?
#
# The gallery: {glue:text}`gallery_size` Fashion-MNIST test images, painted with markers from the
# same prior, independently of the garment. Each word's query is "a photo of a {word} item".
# A share of {glue:text}`control_share:.0%` of the unplanted words ({glue:text}`n_controls`)
# is held out as control words; the other {glue:text}`n_tested` words, planted and not, are
# tested. A planted word counts as recovered at a given *k* when
# the audit flags it in its planted attribute and its most over-represented group is its
# target; a flag counts as false when the word is unplanted for that attribute, or the group is
# wrong.

# %%
similarity, gallery, class_accuracy = study.planted_similarity(
    clip_model, clip_tokenizer, clip_processor, cfg)
glue("class_accuracy", class_accuracy)
planted_audit = study.planted_audit(similarity, gallery, cfg)
glue("n_controls", len(study.control_words(cfg)))
glue("n_tested", len(words) - len(study.control_words(cfg)))
recovery = study.recovery(planted_audit, cfg)
at_k = recovery[recovery.k == cfg.k]
display(at_k.pivot_table(index="strength", columns="null", values="recall").round(2))
flag_columns = ["null", "k", "flags", "false flags", "FDR"]
display(at_k.drop_duplicates("null")[flag_columns].round(3))
figures.recovery_panel(recovery, cfg.fdr)
plt.show()

# %%
for name, value in study.recovery_numbers(recovery, planted_audit, cfg).items():
    glue(name, value)

# %% [markdown]
# The model learned its task: zero-shot, it names the garment of
# {glue:text}`class_accuracy:.0%` of the gallery's images (text vectors averaged over the
# words). At *k* = {glue:text}`k`, against the control words, the audit recovers
# {glue:text}`recall_strongest_control:.0%` of the words planted at strength
# {glue:text}`strongest` and {glue:text}`recall_weakest_control:.0%` of those at
# {glue:text}`weakest`, with {glue:text}`flags_control` flags of which
# {glue:text}`false_flags_control` are false (a share of {glue:text}`fdr_control:.2f`; target
# {glue:text}`fdr`). Over the sweep, the false share never exceeds
# {glue:text}`max_fdr_control:.2f`, and recall at the strongest planting stays at or above
# {glue:text}`min_recall_strongest_control:.0%` for every *k* but the smallest: at *k* =
# {glue:text}`smallest_k` it is {glue:text}`recall_strongest_smallest_k_control:.0%`, because
# a set of so few items can take only a few MaxSkew values, and the most skewed control words
# reach the same ones. At the weakest strength, {glue:text}`weakest`, a word's images carry
# its target only slightly more often than the prior, and the captions' log-odds above hardly
# see the planting either; recall there is {glue:text}`recall_weakest_control:.0%`.
#
# The gallery null tells another story: {glue:text}`flags_gallery` flags at *k* =
# {glue:text}`k`, {glue:text}`false_flags_gallery` of them false (a share of
# {glue:text}`fdr_gallery:.2f`). It flags {glue:text}`unplanted_flagged_gallery:.0%` of the
# tested *unplanted* words in some attribute, and {glue:text}`control_flagged_gallery:.0%` of
# the control words over tints alone, although nothing in the data ties them to a marker; their
# retrieved sets are uneven (median normalized entropy over tints
# {glue:text}`unplanted_entropy:.2f`). A trained model's text vector for a word leans a little
# towards some markers whatever the data say, and the top *k* of a ranking follows the lean, so
# a retrieved set unlike a random draw shows that the model *retrieves* unevenly, not that the
# word is tied to the group in its data. On this model the retrieved set's make-up read against
# the gallery cannot tell planted words from the rest; read against words known to carry no
# association, it can.
#
# The intersectional view of a few words planted on a (tint, frame) cell (share of each cell
# among the word's top {glue:text}`k`, against the gallery's prior; red: more than the prior,
# blue: fewer):

# %%
cell_plants = plant_rows[plant_rows.attribute == "tint x frame"].sort_values(
    "strength", ascending=False)
shown = list(cell_plants.word.head(6))
shares = study.intersection_shares(similarity, gallery, cfg, shown, cfg.k)
cells = list(planted.group_names()["tint x frame"])
targets = cell_plants.set_index("word").target
shares["query"] = [f"{w} ({targets[w]}, s={s:g})" for w, s in zip(
    shares["query"], shares["query"].map(cell_plants.set_index("word").strength))]
figures.shares_heatmap(shares, "query", cells,
                       f"Planted words' top {cfg.k} by (tint, frame) cell")
plt.show()

# %% [markdown]
# ## Real encoders, text only
#
# No one planted anything in all-MiniLM-L6-v2 (a sentence encoder trained on a billion sentence
# pairs) or SmolLM2 (a language model; its mean-pooled hidden states were never trained for
# similarity at all). Their gallery is text: {glue:text}`n_people` descriptions of people, twelve
# sentence frames ("a portrait of ...", "... smiling") each filled with every one of FairFace's
# seven race labels and two genders ("an East Asian woman"), so that the gallery's prior is uniform and
# two descriptions in a frame differ only in the stated group. The queries are the paper's
# prompts.

# %%
text_table, text_similarities = study.text_audit(cfg, torch_device)
text_k = cfg.text_ks[0]
glue("text_k", text_k)
glue("n_people", len(people.people_gallery()))
counts = study.flagged_counts(text_table)
display(counts.pivot_table(index=["encoder", "attribute"], columns="k",
                           values="flagged"))
neutral = study.neutral_make_up(text_similarities, text_k)
display(neutral.round(2))

# %%
skewed = study.most_skewed(text_table, cfg, text_k)
display(skewed.round(3))
for name, value in study.text_numbers(text_table, neutral, cfg, text_k).items():
    glue(name, value)

# %% [markdown]
# Of {glue:text}`n_text_words` words at *k* = {glue:text}`text_k` (a fourteenth of the gallery),
# the gallery null flags {glue:text}`minilm_flagged` under all-MiniLM-L6-v2 and
# {glue:text}`smollm2_flagged` under SmolLM2 over race x gender
# ({glue:text}`minilm_flagged_gender` and {glue:text}`smollm2_flagged_gender` over gender). But
# the neutral query "a photo of a person" is skewed too: MiniLM's top {glue:text}`text_k` are
# {glue:text}`minilm_neutral_share:.0%` {glue:text}`minilm_neutral_top` (normalized entropy
# {glue:text}`minilm_neutral_entropy:.2f`, against a median of
# {glue:text}`minilm_median_entropy:.2f` over the words), SmolLM2's
# {glue:text}`smollm2_neutral_share:.0%` {glue:text}`smollm2_neutral_top`
# ({glue:text}`smollm2_neutral_entropy:.2f`; words: {glue:text}`smollm2_median_entropy:.2f`).
# In a text gallery the descriptions of one group sit close together, so any query's top *k*
# clusters in a few groups, and the gallery null flags words for a property of the gallery and
# the encoder as much as of the word; the part of the planted model's lesson that carries over
# is that a flag against the gallery is not evidence about the word. The share of words whose
# retrieved set is *less* even than the neutral query's is
# {glue:text}`minilm_below_neutral:.0%` (MiniLM) and {glue:text}`smollm2_below_neutral:.0%`
# (SmolLM2). The table above lists, per category, the word whose top *k* is most skewed over
# race x gender, with its p-value against the gallery. The paper's example, "a photo of a
# terrorist": all-MiniLM-L6-v2's top {glue:text}`text_k` are
# {glue:text}`minilm_terrorist_share:.0%` {glue:text}`minilm_terrorist_group` (gallery
# p = {glue:text}`minilm_terrorist_p:.1g`), SmolLM2's {glue:text}`smollm2_terrorist_share:.0%`
# {glue:text}`smollm2_terrorist_group` (p = {glue:text}`smollm2_terrorist_p:.2f`). The
# sentence encoder's most over-represented group {glue:text}`minilm_terrorist_reading` the
# paper's CLIP finding (Middle Eastern men); no description in the gallery mentions terrorism,
# so the nearness comes from what the encoder learned, but one word under one encoder is an
# illustration, not a replication.
#
# What this can say: which groups an encoder's *text* geometry places nearest a word, measured
# with the paper's prompts. What it cannot say: what a face-retrieval model would return, since
# nothing here sees a face; that a flagged word is associated with a group rather than merely
# retrieved skewedly, since no words here are known to be neutral; and a sentence encoder's
# nearness between a prompt and a description mixes association with plain overlap of words
# and phrasing. Twelve hand-written frames are a small gallery.

# %%
encoder = cfg.text_encoders[0]
words_shown = list(skewed[skewed.encoder == study.encoder_label(encoder)].word.head(9))
people_shares = study.people_shares(text_similarities[encoder], cfg, words_shown,
                                    text_k)
rg_names = list(people.group_names()["race x gender"])
title = f"{study.encoder_label(encoder)}: each category's most skewed word"
figures.shares_heatmap(people_shares, "query", rg_names, title)
plt.show()

# %% [markdown]
# ## CLIP on FairFace (`paper`)
#
# With network and a GPU the same audit runs on the paper's models and faces; in `local` this
# cell does nothing.

# %%
clip_tables = []
if cfg.clip_models and cfg.fairface_size:
    faces, face_groups = people.fairface_gallery(cfg.fairface_size, cfg.seed)
    for model_id in cfg.clip_models:
        clip_tables.append(
            study.clip_audit(model_id, faces, face_groups, cfg, torch_device))
clip_table = (pd.concat(clip_tables, ignore_index=True) if clip_tables
              else pd.DataFrame())
if len(clip_table):
    display(study.flagged_counts(clip_table.rename(columns={"model": "encoder"})))

# %% [markdown]
# ## Beside the paper
#
# | | paper | this run |
# |---|---|---|
# | taxonomy | {glue:text}`paper_word_count` words, {glue:text}`paper_category_count` categories | {glue:text}`n_words` words, {glue:text}`n_categories` categories (a reconstruction) |
# | model | CLIP models (this book's `paper` profile: ViT-B/16, ViT-L/14) | a tiny CLIP with planted markers; two text encoders |
# | gallery | FairFace faces, seven race x two gender groups | {glue:text}`gallery_size` marked garments; {glue:text}`n_people` descriptions |
# | measure | normalized entropy per word | the same, MaxSkew, KL, permutation p-values, BH |
# | truth known | no | yes (planted) for the tiny CLIP |
#
# The paper's findings are about CLIP and faces, and this run has neither: it does not
# reproduce "terrorist retrieves mostly Middle Eastern men" or any per-word number of the
# paper, and it should not be read as doing so. What it adds is a check of the audit: on a
# model with known biases, how much of the truth the paper's measure, with a null and
# false-discovery control, recovers at each strength and *k*, and what a model's general lean
# does to a reading against the gallery.

# %% [markdown]
# ## Results

# %%
glue("chapter_minutes", (time.perf_counter() - chapter_start) / 60)
saved = save_results("07_sobit", cfg, glued(),
                     tables={"taxonomy": summary, "plants": plant_rows,
                             "recovery": recovery, "caption_leanings": leanings,
                             "text_most_skewed": skewed, "text_flagged": counts,
                             "neutral": neutral, "clip": clip_table},
                     path=results_path)
print(f"wrote {saved}")
pd.Series(glued()).head(12)
