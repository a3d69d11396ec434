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

from ..progress import bar

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


@torch.no_grad()
def sampled_replies(model, tokenizer, prompts: list[str], runs: int, max_new_tokens: int, temperature: float,
                    seed: int = 0, batch_size: int = 32) -> list[list[str]]:
    """[prompt][run] chat replies sampled at ``temperature`` (one seed for the whole call), batched, prompts cut off."""
    device = next(model.parameters()).device
    chats = [tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                           tokenize=False) for p in prompts]
    repeated = [c for c in chats for _ in range(runs)]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    torch.manual_seed(seed)
    replies = []
    for start in bar(range(0, len(repeated), batch_size), desc="sampled answers", leave=False):
        enc = tokenizer(repeated[start:start + batch_size], return_tensors="pt", padding=True, padding_side="left",
                        add_special_tokens=False).to(device)
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=True, temperature=temperature,
                             top_k=0, top_p=1.0, pad_token_id=pad)
        replies += [r.strip() for r in tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:],
                                                                skip_special_tokens=True)]
    return [replies[i * runs:(i + 1) * runs] for i in range(len(prompts))]
