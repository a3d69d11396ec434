"""Text generation helpers shared by the chapters: a chat answer, a seeded continuation, batched samples."""

from __future__ import annotations

import torch

from ..progress import bar


def _device(model) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def chat(model, tokenizer, question: str, max_new_tokens: int = 32) -> str:
    """Greedy answer of a chat model to one user message (its chat template applied)."""
    messages = [{"role": "user", "content": question}]
    encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                            return_dict=True)
    input_ids = encoded["input_ids"].to(_device(model))
    output = model.generate(input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=max_new_tokens,
                            do_sample=False, pad_token_id=tokenizer.eos_token_id)
    return tokenizer.decode(output[0, input_ids.shape[1]:], skip_special_tokens=True).strip()


@torch.no_grad()
def chat_many(model, tokenizer, questions: list[str], max_new_tokens: int = 32, batch_size: int = 16,
              temperature: float | None = None, desc: str = "chat answers") -> list[str]:
    """Answers of a chat model to many user messages, batched with left padding: greedy (as :func:`chat` each, up
    to padding's floating-point effects), or sampled at ``temperature`` (plain sampling: no top-k or top-p; seed
    torch before the call)."""
    chats = [tokenizer.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True,
                                           tokenize=False) for q in questions]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    sampling = {"do_sample": False} if temperature is None else {"do_sample": True, "temperature": temperature,
                                                                   "top_k": 0, "top_p": 1.0}
    replies = []
    for start in bar(range(0, len(chats), batch_size), desc=desc, leave=False):
        enc = tokenizer(chats[start:start + batch_size], return_tensors="pt", padding=True, padding_side="left",
                        add_special_tokens=False).to(_device(model))
        out = model.generate(**enc, max_new_tokens=max_new_tokens, pad_token_id=pad, **sampling)
        replies += [r.strip() for r in tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:],
                                                                skip_special_tokens=True)]
    return replies


@torch.no_grad()
def continue_text(model, tokenizer, prompt: str, max_new_tokens: int = 40, temperature: float = 0.8,
                  seed: int = 0) -> str:
    """A sampled continuation of ``prompt`` (seeded, so the book shows the same text every build)."""
    torch.manual_seed(seed)
    input_ids = tokenizer(prompt, return_tensors="pt")["input_ids"].to(_device(model))
    output = model.generate(input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=max_new_tokens,
                            do_sample=True, temperature=temperature, top_k=50, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(output[0], skip_special_tokens=True)


@torch.no_grad()
def sample_texts(model, tokenizer, prompts: list[str], max_new_tokens: int = 40, top_k: int = 5,
                 seed: int = 0) -> list[str]:
    """Top-k sampled continuations of each prompt (seeded), batched with left padding; prompts excluded."""
    torch.manual_seed(seed)
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False, padding_side="left")
    out = model.generate(enc["input_ids"].to(_device(model)), attention_mask=enc["attention_mask"].to(_device(model)),
                         max_new_tokens=max_new_tokens, do_sample=True, top_k=top_k,
                         pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
    return tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
