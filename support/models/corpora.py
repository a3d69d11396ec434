"""Training text for the models trained here, each with its own byte-level BPE tokenizer, cached.

A :class:`TextCorpus` is a name, a function returning the raw text, and a fingerprint of what that
text depends on (a resource's sha256, a generator's version), so the cache key of every tokenizer
and model trained on it changes when the text does. The core knows Jane Austen's novels
(:data:`AUSTEN`); chapters build their own corpora (chapters 2-3's fact world lives in
``support.editing.world``, chapter 1's molecules in ``support.cdd.molecules``) and hand them to the trainers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import resources
from ..cache import atomic_dir, cache_dir, is_complete, stable_hash

SPECIAL_TOKENS = ("<|endoftext|>", "<|pad|>", "<|mask|>")


@dataclass(frozen=True)
class TextCorpus:
    """A named training text; ``text()`` builds it, ``fingerprint()`` says what it depends on."""

    name: str
    text: Callable[[], str] = field(compare=False, repr=False)
    fingerprint: Callable[[], dict] = field(compare=False, repr=False)
    val_fraction: float = 0.05  # the last 5% of the token stream is held out

    def describe(self) -> dict:
        """What a model trained on this corpus depends on (part of its cache key)."""
        return {"corpus": self.name, "fingerprint": self.fingerprint(), "val_fraction": self.val_fraction}

    def tokenizer_folder(self, vocab_size: int) -> Path:
        """Folder of this corpus' BPE tokenizer and token stream (trained on first use, a few seconds)."""
        key = stable_hash({**self.describe(), "vocab": vocab_size, "specials": SPECIAL_TOKENS})
        folder = cache_dir() / "tokenizers" / f"{self.name}-bpe{vocab_size}-{key}"
        if not is_complete(folder):
            text = self.text()
            tokenizer = train_bpe(text, vocab_size)
            ids = np.asarray(tokenizer(text)["input_ids"], dtype=np.uint16 if vocab_size <= 65535 else np.int32)
            with atomic_dir(folder, {"corpus": self.name, "vocab_size": vocab_size, "n_tokens": int(ids.size)}) as tmp:
                tokenizer.save_pretrained(tmp)
                np.save(tmp / "corpus_ids.npy", ids)
        return folder

    def tokenizer(self, vocab_size: int):
        """The corpus' ``transformers`` fast tokenizer with ``vocab_size`` entries."""
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.tokenizer_folder(vocab_size))

    def splits(self, vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids of the corpus as (train, validation); validation is the stream's last ``val_fraction``."""
        ids = np.load(self.tokenizer_folder(vocab_size) / "corpus_ids.npy").astype(np.int64)
        cut = int(len(ids) * (1 - self.val_fraction))
        return torch.from_numpy(ids[:cut]), torch.from_numpy(ids[cut:])

    def sampler(self, vocab_size: int, seq_len: int, batch_size: int) -> Callable[[torch.Generator], torch.Tensor]:
        """``generator -> [batch_size, seq_len]`` random windows of the training split."""
        train, _ = self.splits(vocab_size)
        return lambda generator: sample_windows(train, batch_size, seq_len, generator)


def train_bpe(text: str, vocab_size: int):
    """A byte-level BPE tokenizer (GPT-2 style) trained on ``text``, wrapped for ``transformers``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    paragraphs = [line for p in paragraphs for line in (p.split("\n") if len(p) > 100_000 else [p])]
    bpe.train_from_iterator(paragraphs, trainer)
    eos, pad, mask = SPECIAL_TOKENS
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=eos, eos_token=eos, pad_token=pad,
                                   mask_token=mask)


def sample_windows(ids: torch.Tensor, batch_size: int, seq_len: int, generator: torch.Generator) -> torch.Tensor:
    """A batch [batch_size, seq_len] of random contiguous windows of ``ids``."""
    starts = torch.randint(0, len(ids) - seq_len, (batch_size,), generator=generator)
    return ids[starts[:, None] + torch.arange(seq_len)]


#: Jane Austen's six novels (Debian's r-cran-janeaustenr), the English every tiny model here learns from.
AUSTEN = TextCorpus("austen", resources.english_corpus, lambda: {"sha": resources.get("austen").sha256})


def austen_paragraphs(n_heldout: int = 200) -> tuple[list[str], list[str]]:
    """Austen's paragraphs of over 200 characters: (the rest, the last ``n_heldout``: the tail of Persuasion).

    The tiny models' training split ends before that tail, so the held-out paragraphs are unseen text.
    """
    paragraphs = [p for p in resources.english_corpus().split("\n\n") if len(p) > 200]
    return paragraphs[:-n_heldout], paragraphs[-n_heldout:]
