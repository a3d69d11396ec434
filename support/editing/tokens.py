"""Tokenising prompts with a continuation, and finding a subject's last token, by character offsets.

Tokenising the whole string once and reading positions from the offsets avoids the boundary
mismatches of tokenising pieces separately (a BPE merge can cross the prompt/target boundary).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


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
