"""The paper's conversion path: an instruction-tuned LLM rewrites each question in AAE, then the regex post-pass.

arXiv 2503.04099 gives the model a persona (a speaker of African American English), the thirteen
linguistic features of :mod:`.rules` as instructions, and asks for the question rewritten with its
meaning kept; the reply then goes through the post-pass. The prompt here is written for this book
from that description (the authors' wording is not reused). The ``paper`` profile runs it with a
hub chat model; ``local`` runs the same prompt with SmolLM2-135M-Instruct to show what a small
model does with it, beside the rule-based converter.
"""

from __future__ import annotations

from typing import Callable

from .rules import post_pass

FEATURES = (
    "drop the copula is/are where AAE drops it (\"she smart\", \"they working\")",
    "use negative concord (\"don't want no help\")",
    "use negative inversion (\"can't nobody stop him\")",
    "drop the possessive 's (\"my cousin bike\")",
    "use habitual be for repeated actions (\"he be working late\")",
    "use stressed BEEN for something true for a long time (\"she BEEN married\")",
    "use preterite had for simple past events (\"they had went\")",
    "invert embedded questions (\"I wonder is he home\")",
    "use ain't for negation (\"that ain't fair\")",
    "write talking about as \"talkin' 'bout\"",
    "write trying to as \"tryna\"",
    "use existential it (\"it's some milk in the fridge\")",
    "write -ing as -in' (\"runnin'\")",
)


def conversion_prompt(text: str) -> str:
    """The instruction that asks a chat model to rewrite ``text`` in AAE."""
    features = "\n".join(f"{i}. {feature}" for i, feature in enumerate(FEATURES, 1))
    return ("You are a native speaker of African American English (AAE). Rewrite the question below the way you "
            "would ask it in AAE. Keep its meaning, its facts, its numbers and any answer options exactly; change "
            f"only the wording. Use the features of AAE where they fit naturally:\n{features}\n"
            f"Reply with the rewritten question only.\n\nQuestion: {text}")


def clean_reply(reply: str) -> str:
    """The rewritten question in a chat reply: a leading "Here is ...:" line, a "Question:" label and quotes
    taken off."""
    lines = reply.strip().splitlines()
    if len(lines) > 1 and lines[0].rstrip().endswith(":"):
        lines = lines[1:]
    return "\n".join(lines).strip().removeprefix("Question:").strip().strip('"').strip()


def llm_convert(texts: list[str], replies: Callable[[list[str]], list[str]]) -> list[str]:
    """Each text rewritten by ``replies`` (a chat model: prompts -> its answers) from :func:`conversion_prompt`, then
    the post-pass; an empty reply keeps the original text (so it counts as an unchanged question)."""
    answers = replies([conversion_prompt(text) for text in texts])
    return [post_pass(clean_reply(answer)) if clean_reply(answer) else text for text, answer in zip(texts, answers)]


def chat_reply(model, tokenizer, max_new_tokens: int = 96, batch_size: int = 16) -> Callable[[list[str]], list[str]]:
    """A ``replies`` function for :func:`llm_convert`: the model's greedy chat answers, batched."""
    from ..models.generation import chat_many

    return lambda prompts: chat_many(model, tokenizer, prompts, max_new_tokens, batch_size)
