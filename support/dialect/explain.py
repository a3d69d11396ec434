"""Generated answers with explanations (arXiv 2503.04099's second measure): the model writes a letter and why.

The paper asks each model to answer a question and explain its reasoning, several times with
sampling, then compares the explanations' length and readability and the spread of the answers
between the SAE and AAE versions. Here the question (in one dialect) and its lettered options go
into the chat template with one instruction; replies are sampled ``runs`` times (seeded, batched
with left padding), the letter is read from the reply, and the reply is the explanation.

A 135M model often writes no letter at all, or a letter and text that do not match; a reply
without a readable letter counts as wrong and as its own answer ("-") in the answer entropy,
and the share of readable letters is reported beside the accuracy.
"""

from __future__ import annotations

import re

import torch

from ..models.generation import chat_many

LETTERS = "ABCDEFGHIJ"
NO_LETTER = "-"


def answer_prompt(question: str, options: list[str]) -> str:
    """The user message: the question, its lettered options, and the instruction to answer then explain."""
    lettered = "\n".join(f"{LETTERS[k]}. {option}" for k, option in enumerate(options))
    return (f"{question}\n{lettered}\nAnswer with the letter of the right option, then explain your answer in one "
            "or two sentences.")


def parse_letter(reply: str, n_options: int) -> str:
    """The first option letter (a capital) the reply names ("B.", "(B)", "B:" or "answer is B"), else
    ``NO_LETTER``."""
    letters = LETTERS[:n_options]
    found = [m for m in (re.search(rf"(?:^|[\s(])([{letters}])(?:[.):]|\s*$)", reply),
                         re.search(rf"\b(?i:answer|option)\s*(?:is\s*)?:?\s*\(?([{letters}])\b", reply))
             if m]  # the letter itself is case-sensitive: "the answer is a bird" names no option
    if not found:
        return NO_LETTER
    return min(found, key=lambda m: m.start(1)).group(1).upper()


def sampled_replies(model, tokenizer, prompts: list[str], runs: int, max_new_tokens: int, temperature: float,
                    seed: int = 0, batch_size: int = 32) -> list[list[str]]:
    """[prompt][run] chat replies sampled at ``temperature`` (one seed for the whole call), batched, prompts cut off."""
    torch.manual_seed(seed)
    replies = chat_many(model, tokenizer, [p for p in prompts for _ in range(runs)], max_new_tokens, batch_size,
                        temperature, desc="sampled answers")
    return [replies[i * runs:(i + 1) * runs] for i in range(len(prompts))]
