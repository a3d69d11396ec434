"""Scoring with a causal LM, one implementation for every chapter: token NLL and everything built on it.

:func:`next_token_nll` is the one place logits become losses (float32 log-softmax, gathered at the
next token). On top of it: the loss of a token stream in windows (:func:`eval_loss`; per window,
:func:`window_losses`), of padded
texts (:func:`text_loss`), of a continuation after its prompt (:func:`continuation_nll`, the
CounterFact and multiple-choice primitive), of generated tokens after a prompt
(:func:`sequence_nll`, :func:`perplexity`), multiple choice by option log-likelihood
(:func:`multiple_choice_nll`) and by the next letter after lettered options (:func:`lettered_choice`).
:func:`encode` tokenises ``prompt + continuation`` once and reads positions from character offsets,
so a BPE merge across the prompt/continuation boundary cannot shift them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .corpora import split_windows


def _device(model) -> torch.device:
    return next(model.parameters()).device


def unigram_cross_entropy(train: torch.Tensor, heldout: torch.Tensor, vocab_size: int) -> float:
    """Nats per held-out token under the training tokens' unigram frequencies (add-one smoothed): the floor a
    model that ignores context reaches."""
    counts = torch.bincount(train.flatten(), minlength=vocab_size).double() + 1
    logp = (counts / counts.sum()).log()
    return float(-logp[heldout.flatten()].mean())


def next_token_nll(model, input_ids: torch.Tensor) -> torch.Tensor:
    """[B, L-1]: -log p(input_ids[:, i+1] | input_ids[:, :i+1]) under ``model`` (float32)."""
    logits = model(input_ids=input_ids).logits[:, :-1].float()
    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), input_ids[:, 1:], reduction="none")


@torch.no_grad()
def eval_loss(model, ids: torch.Tensor, seq_len: int, batch_size: int = 16, max_tokens: int | None = None) -> float:
    """Mean next-token loss over non-overlapping windows of the token stream ``ids``."""
    n_windows = (len(ids) - 1) // seq_len
    if max_tokens is not None:
        n_windows = min(n_windows, max(1, max_tokens // seq_len))
    windows = ids[: n_windows * seq_len].view(n_windows, seq_len)
    total, count = 0.0, 0
    for chunk in windows.split(batch_size):
        nll = next_token_nll(model, chunk.to(_device(model)))
        total += float(nll.sum())
        count += nll.numel()
    return total / count


@torch.no_grad()
def window_losses(model, windows: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
    """[n]: mean next-token loss of each row of ``windows`` [n, seq_len] (float64, on the CPU)."""
    means = [next_token_nll(model, chunk.to(_device(model))).double().mean(dim=1).cpu()
             for chunk in windows.split(batch_size)]
    return torch.cat(means)


def spread_windows(ids: torch.Tensor, n_windows: int, seq_len: int) -> torch.Tensor:
    """[n, seq_len]: ``n_windows`` non-overlapping windows evenly spread over the stream ``ids`` (all when it has fewer)."""
    windows = split_windows(ids, seq_len)
    if n_windows >= len(windows):
        return windows
    return windows[torch.linspace(0, len(windows) - 1, n_windows).round().long()]


@torch.no_grad()
def text_loss(model, tokenizer, texts: list[str], max_len: int = 128, batch_size: int = 16) -> float:
    """Mean next-token loss over the real tokens of ``texts`` (each truncated to ``max_len`` tokens)."""
    enc = tokenizer(texts, truncation=True, max_length=max_len, padding=True, return_tensors="pt",
                    add_special_tokens=False, padding_side="right")
    total, count = 0.0, 0
    for ids, real in zip(enc["input_ids"].split(batch_size), enc["attention_mask"].split(batch_size)):
        nll = next_token_nll(model, ids.to(_device(model))).cpu()
        keep = real[:, 1:].bool()
        total += float(nll[keep].sum())
        count += int(keep.sum())
    return total / count


@torch.no_grad()
def sequence_nll(model, ids: torch.Tensor, start: int) -> torch.Tensor:
    """Summed NLL [B] of each row's tokens ``start:`` (each predicted from everything before it)."""
    nll = next_token_nll(model, ids.to(_device(model)))
    return nll[:, max(0, start - 1):].sum(-1).cpu()


def perplexity(model, ids: torch.Tensor, start: int, bos_id: int | None = None) -> float:
    """Perplexity of tokens ``start:`` of every row (a BOS token is prepended when given)."""
    if bos_id is not None:
        ids = torch.cat([torch.full((ids.shape[0], 1), bos_id, dtype=ids.dtype), ids], 1)
        start += 1
    start = max(1, start)  # the first token has no context without a BOS
    n_tokens = ids.shape[1] - start
    return math.exp(float(sequence_nll(model, ids, start).sum()) / (n_tokens * ids.shape[0]))


# --------------------------------------------------------------------------- prompts and continuations

@dataclass
class Batch:
    """Right-padded token ids with the positions the editors and metrics read."""

    input_ids: torch.Tensor  # [n, seq]
    lengths: torch.Tensor  # [n] real tokens per row
    target_mask: torch.Tensor  # [n, seq] True where the token belongs to the continuation
    subject_pos: torch.Tensor  # [n] index of the subject's last token (-1 when no subject given)

    @property
    def predict_mask(self) -> torch.Tensor:
        """[n, seq] True at positions whose next-token prediction is a continuation token."""
        return torch.nn.functional.pad(self.target_mask[:, 1:], (0, 1))

    @property
    def next_ids(self) -> torch.Tensor:
        """[n, seq] the token each position predicts (the input shifted left)."""
        return torch.nn.functional.pad(self.input_ids[:, 1:], (0, 1))

    def to(self, device) -> Batch:
        """The same batch on ``device``."""
        return Batch(*(t.to(device) for t in (self.input_ids, self.lengths, self.target_mask, self.subject_pos)))


def encode(tokenizer, prompts: list[str], continuations: list[str] | None = None,
           subjects: list[str | None] | None = None) -> Batch:
    """Tokenise ``prompt + continuation`` rows; mark continuation tokens and each subject's last token."""
    continuations = continuations or [""] * len(prompts)
    subjects = subjects or [None] * len(prompts)
    texts = [p + c for p, c in zip(prompts, continuations)]
    enc = tokenizer(texts, return_offsets_mapping=True, add_special_tokens=False)
    seq = max(len(ids) for ids in enc["input_ids"])
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    input_ids = torch.full((len(texts), seq), pad, dtype=torch.long)
    target_mask = torch.zeros(len(texts), seq, dtype=torch.bool)
    subject_pos = torch.full((len(texts),), -1, dtype=torch.long)
    lengths = torch.zeros(len(texts), dtype=torch.long)
    for row, (ids, offsets, prompt, subject) in enumerate(zip(enc["input_ids"], enc["offset_mapping"], prompts,
                                                             subjects)):
        input_ids[row, :len(ids)] = torch.tensor(ids)
        lengths[row] = len(ids)
        starts = torch.tensor([start for start, _ in offsets])
        ends = torch.tensor([end for _, end in offsets])
        target_mask[row, :len(ids)] = ends > len(prompt)  # a token merged across the boundary counts as target
        if subject is not None:
            at = prompt.rfind(subject)
            if at < 0:
                raise ValueError(f"subject {subject!r} does not occur in prompt {prompt!r}")
            last_char = at + len(subject) - 1
            covering = ((starts <= last_char) & (ends > last_char)).nonzero()
            subject_pos[row] = int(covering[0]) if len(covering) else int((ends <= last_char + 1).sum()) - 1
    return Batch(input_ids, lengths, target_mask, subject_pos)


@torch.no_grad()
def continuation_nll(model, tokenizer, prompts: list[str], continuations: list[str],
                     batch_size: int = 64) -> np.ndarray:
    """Mean per-token NLL of each continuation given its prompt, batched (rows of similar length together, so
    that little of each batch is padding; the result is in the input order)."""
    order = np.argsort([len(p) + len(c) for p, c in zip(prompts, continuations)], kind="stable")
    out = np.zeros(len(prompts))
    for start in range(0, len(prompts), batch_size):
        rows = order[start:start + batch_size]
        batch = encode(tokenizer, [prompts[i] for i in rows], [continuations[i] for i in rows])
        nll = next_token_nll(model, batch.input_ids.to(_device(model))).cpu()
        mask = batch.predict_mask[:, :-1].float()
        out[rows] = ((nll * mask).sum(1) / mask.sum(1).clamp_min(1)).numpy()
    return out


def preference(model, tokenizer, prompts: list[str], first: list[str], second: list[str]) -> np.ndarray:
    """Boolean per prompt: does the model prefer ``first`` over ``second`` (lower per-token NLL)?"""
    nll = continuation_nll(model, tokenizer, prompts + prompts, first + second)
    return nll[: len(prompts)] < nll[len(prompts):]


#: how a multiple-choice question is put to a model whose options are scored by likelihood
MC_TEMPLATE = "Q: {input}\nA:"
#: how a question with lettered options is put to a model that answers with a letter
LETTERED_TEMPLATE = "Question: {input}\n{options}\nAnswer:"
LETTERS = "ABCDEFGHIJ"


def multiple_choice_accuracy(model, tokenizer, examples: list[dict], shots: list[dict] = ()) -> float:
    """Accuracy on BIG-bench-style multiple choice (``input``, ``target_scores``) by per-token option NLL."""
    return float(np.mean(multiple_choice_correct(model, tokenizer, examples, shots)))


def multiple_choice_prompt(example: dict, template: str = MC_TEMPLATE) -> str:
    """What the model reads before an option is scored: ``Q: <input>\nA:`` by default."""
    return template.format(input=example["input"])


def _key(example: dict) -> str:
    """The best-scored option of an example."""
    return max(example["target_scores"], key=example["target_scores"].get)


@torch.no_grad()
def multiple_choice_nll(model, tokenizer, examples: list[dict], shots: list[dict] = (),
                        template: str = MC_TEMPLATE) -> list[np.ndarray]:
    """Per example, the per-token NLL of each option (in ``target_scores`` order) after the prompt and any shots."""
    context = "".join(f"{multiple_choice_prompt(s, template)} {_key(s)}\n\n" for s in shots)
    prompts, options, owner = [], [], []
    for i, example in enumerate(examples):
        for option in example["target_scores"]:
            prompts.append(context + multiple_choice_prompt(example, template))
            options.append(" " + option)
            owner.append(i)
    nll = continuation_nll(model, tokenizer, prompts, options, batch_size=16)
    owner = np.array(owner)
    return [nll[owner == i] for i in range(len(examples))]


def multiple_choice_correct(model, tokenizer, examples: list[dict], shots: list[dict] = (),
                            template: str = MC_TEMPLATE) -> np.ndarray:
    """Per example [n] bool: whether the option of lowest per-token NLL is a best-scored one."""
    hits = []
    for example, nll in zip(examples, multiple_choice_nll(model, tokenizer, examples, shots, template)):
        names = list(example["target_scores"])
        hits.append(example["target_scores"][names[int(np.argmin(nll))]] == max(example["target_scores"].values()))
    return np.array(hits, dtype=bool)


def lettered_prompt(example: dict, order, template: str = LETTERED_TEMPLATE) -> str:
    """The question with its options listed as ``A. ...`` in ``order`` (indices into ``target_scores``)."""
    names = list(example["target_scores"])
    listed = "\n".join(f"{LETTERS[k]}. {names[o]}" for k, o in enumerate(order))
    return template.format(input=example["input"], options=listed)


@torch.no_grad()
def lettered_choice(model, tokenizer, examples: list[dict], orders: list, template: str = LETTERED_TEMPLATE,
                    batch_size: int = 8) -> list[np.ndarray]:
    """Per example, the next-token log-probabilities of the letters " A", " B", ... after its lettered prompt,
    mapped back to ``target_scores`` order (``orders[i][k]`` is the option shown as letter k)."""
    letter_ids = [tokenizer.encode(" " + letter, add_special_tokens=False)[-1] for letter in LETTERS]
    prompts = [lettered_prompt(e, order, template) for e, order in zip(examples, orders)]
    out: list[np.ndarray] = []
    for start in range(0, len(prompts), batch_size):
        batch = encode(tokenizer, prompts[start:start + batch_size])
        logits = model(input_ids=batch.input_ids.to(_device(model))).logits.float()
        last = logits[torch.arange(len(batch.lengths)), batch.lengths.to(logits.device) - 1].log_softmax(-1).cpu()
        for row, order in enumerate(orders[start:start + batch_size]):
            shown = last[row, letter_ids[:len(order)]].numpy()
            back = np.empty(len(order))
            back[np.asarray(order)] = shown
            out.append(back)
    return out
