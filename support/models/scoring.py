"""Scoring with a causal LM, one implementation for every chapter: token NLL and everything built on it.

:func:`next_token_nll` is the one place logits become losses (float32 log-softmax, gathered at the
next token). On top of it: the loss of a token stream in windows (:func:`eval_loss`; per window,
:func:`window_losses`), of padded
texts (:func:`text_loss`), of a continuation after its prompt (:func:`continuation_nll`, the
CounterFact and multiple-choice primitive), of generated tokens after a prompt
(:func:`sequence_nll`, :func:`perplexity`), multiple choice by option log-likelihood
(:func:`multiple_choice_nll`, whose options share one copy of their prompt in a packed row:
:func:`shared_prompt_nll`) and by the next letter after lettered options (:func:`lettered_choice`).
:func:`encode` tokenises ``prompt + continuation`` once and reads positions from character offsets,
so a BPE merge across the prompt/continuation boundary cannot shift them.
"""

from __future__ import annotations

import math
import warnings
import weakref
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


@dataclass
class _Packed:
    """One prompt's options packed into a row: the shared prompt tokens, then each option's own tokens."""

    ids: list[int]  # shared tokens, then every option's segment
    positions: list[int]  # position ids: each segment restarts after the shared tokens
    segment: list[int]  # -1 on shared tokens, else the option's index
    scored: list[tuple[int, int, int]]  # (option, predicting position, token id) per continuation token


def pack_options(tokenizer, prompt: str, continuations: list[str]) -> _Packed:
    """Tokenise ``prompt + c`` for each continuation as :func:`encode` does; the tokens before the first
    continuation token that all rows share are kept once, the rest of each row becomes its own segment."""
    rows = encode(tokenizer, [prompt] * len(continuations), continuations)
    ids = [rows.input_ids[r, :rows.lengths[r]].tolist() for r in range(len(continuations))]
    first = [int(rows.target_mask[r, :rows.lengths[r]].int().argmax()) if rows.target_mask[r].any()
             else int(rows.lengths[r]) for r in range(len(continuations))]
    shared = min(first)
    while shared and any(row[:shared] != ids[0][:shared] for row in ids):
        shared -= 1
    packed = _Packed(ids[0][:shared], list(range(shared)), [-1] * shared, [])
    for option, (row, start) in enumerate(zip(ids, first)):
        for t in range(shared, len(row)):
            if t >= start and t > 0:  # predicted from the token before: shared, or this option's own previous one
                before = shared - 1 if t == shared else len(packed.ids) - 1
                packed.scored.append((option, before, row[t]))
            packed.ids.append(row[t])
            packed.positions.append(t)
            packed.segment.append(option)
    return packed


def _packed_mask(segments: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[B, 1, L, L] additive mask: causal, and a segment's tokens see the shared tokens and their own segment
    (-2 marks padding, which sees only itself so that no softmax row is empty)."""
    length = segments.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=segments.device).tril()
    query, key = segments[:, :, None], segments[:, None, :]
    allowed = causal & ((key == -1) | (key == query)) & (key != -2)
    allowed |= torch.eye(length, dtype=torch.bool, device=segments.device)
    return torch.zeros(allowed.shape, dtype=dtype, device=segments.device).masked_fill(
        ~allowed, torch.finfo(dtype).min)[:, None]


@torch.no_grad()
def _packed_nll(model, packs: list[_Packed], counts: list[int], max_tokens: int) -> list[np.ndarray]:
    """Mean per-token NLL of every option of every packed prompt, rows batched up to ``max_tokens``."""
    device, dtype = _device(model), next(model.parameters()).dtype
    out = [np.zeros(n) for n in counts]
    order = np.argsort([len(p.ids) for p in packs], kind="stable")
    start = 0
    while start < len(order):
        length = len(packs[order[start]].ids)
        stop = start + 1
        while stop < len(order) and (stop - start + 1) * len(packs[order[stop]].ids) <= max(max_tokens, length):
            stop += 1
        rows = [packs[i] for i in order[start:stop]]
        width = max(len(p.ids) for p in rows)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        positions = torch.zeros(len(rows), width, dtype=torch.long)
        segments = torch.full((len(rows), width), -2, dtype=torch.long)
        for r, p in enumerate(rows):
            ids[r, :len(p.ids)], positions[r, :len(p.ids)] = torch.tensor(p.ids), torch.tensor(p.positions)
            segments[r, :len(p.ids)] = torch.tensor(p.segment)
        logits = model(input_ids=ids.to(device), position_ids=positions.to(device),
                       attention_mask=_packed_mask(segments.to(device), dtype)).logits
        for r, (i, p) in enumerate(zip(order[start:stop], rows)):
            if not p.scored:
                continue
            option, before, token = (torch.tensor(c) for c in zip(*p.scored))
            nll = -logits[r, before.to(device)].float().log_softmax(-1)[torch.arange(len(token)), token.to(device)]
            sums = torch.zeros(counts[i]).index_add_(0, option, nll.cpu())
            out[i] = (sums / torch.bincount(option, minlength=counts[i]).clamp_min(1)).numpy()
        start = stop
    return out


def per_row_nll(model, tokenizer, prompts: list[str], continuations: list[list[str]], nll_of=None,
                batch_size: int = 16) -> list[np.ndarray]:
    """Per prompt, its continuations' NLL with one row per (prompt, continuation), by ``nll_of`` (default
    :func:`continuation_nll`): what packing must equal, and its fallback."""
    nll_of = nll_of or continuation_nll
    flat = nll_of(model, tokenizer, [p for p, cs in zip(prompts, continuations) for _ in cs],
                  [c for cs in continuations for c in cs], batch_size=batch_size)
    bounds = np.cumsum([0, *map(len, continuations)])
    return [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


#: models on which packed scoring was checked against :func:`continuation_nll` (True: it agrees)
_PACKING_AGREES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@torch.no_grad()
def shared_prompt_nll(model, tokenizer, prompts: list[str], continuations: list[list[str]],
                      max_tokens: int = 2048) -> list[np.ndarray]:
    """Per prompt, the mean per-token NLL of each of its continuations, equal to :func:`continuation_nll` on
    every ``(prompt, continuation)`` pair but with the prompt encoded once: the prompt's tokens and every
    continuation's go in one row, each continuation attending to the prompt and to itself (a 4-D attention
    mask, position ids restarting after the prompt). The first call on a model checks one prompt against
    :func:`continuation_nll` and falls back to it where the model ignores custom masks."""
    if model not in _PACKING_AGREES and prompts:
        plain = continuation_nll(model, tokenizer, [prompts[0]] * len(continuations[0]), continuations[0])
        try:
            packed = _packed_nll(model, [pack_options(tokenizer, prompts[0], continuations[0])],
                                 [len(continuations[0])], max_tokens)[0]
        except (TypeError, ValueError, RuntimeError) as error:  # e.g. an attention kernel that takes no 4-D mask
            packed = f"an error ({error})"
        _PACKING_AGREES[model] = not isinstance(packed, str) and bool(np.allclose(packed, plain, atol=2e-3,
                                                                                  rtol=1e-3))
        if not _PACKING_AGREES[model]:
            warnings.warn(f"{type(model).__name__} does not honour the packed attention mask (NLL {packed} vs "
                          f"{plain}): scoring each option in its own row instead", stacklevel=2)
    if not _PACKING_AGREES.get(model, True):
        return per_row_nll(model, tokenizer, prompts, continuations)
    packs = [pack_options(tokenizer, p, cs) for p, cs in zip(prompts, continuations)]
    return _packed_nll(model, packs, [len(cs) for cs in continuations], max_tokens)


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
                        template: str = MC_TEMPLATE, nll_of=None) -> list[np.ndarray]:
    """Per example, the per-token NLL of each option (in ``target_scores`` order) after the prompt and any shots.

    ``nll_of(model, tokenizer, prompts, options_per_prompt)`` scores them (default :func:`shared_prompt_nll`).
    """
    context = "".join(f"{multiple_choice_prompt(s, template)} {_key(s)}\n\n" for s in shots)
    prompts = [context + multiple_choice_prompt(example, template) for example in examples]
    return (nll_of or shared_prompt_nll)(model, tokenizer, prompts,
                                         [[" " + o for o in e["target_scores"]] for e in examples])


def multiple_choice_correct(model, tokenizer, examples: list[dict], shots: list[dict] = (),
                            template: str = MC_TEMPLATE, nll_of=None) -> np.ndarray:
    """Per example [n] bool: whether the option of lowest per-token NLL (by ``nll_of``) is a best-scored one."""
    hits = []
    for example, nll in zip(examples, multiple_choice_nll(model, tokenizer, examples, shots, template, nll_of)):
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
