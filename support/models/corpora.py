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

    def sampler(self, vocab_size: int, seq_len: int, batch_size: int,
                windows: str = "random") -> Callable[[torch.Generator], torch.Tensor]:
        """``generator -> [batch_size, seq_len]`` windows of the training split, ``"random"`` or ``"disjoint"``.

        ``random``: windows at random offsets, drawn with replacement (tokens recur long before the
        split is used up). ``disjoint``: the split cut into non-overlapping windows, taken in one
        shuffled order, so no token is seen twice until every window has been seen once.
        """
        train, _ = self.splits(vocab_size)
        if windows == "random":
            return lambda generator: sample_windows(train, batch_size, seq_len, generator)
        if windows == "disjoint":
            return disjoint_windows(train, batch_size, seq_len)
        raise ValueError(f"windows={windows!r} must be 'random' or 'disjoint'")


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


def split_windows(ids: torch.Tensor, seq_len: int) -> torch.Tensor:
    """[n, seq_len]: the stream ``ids`` cut into its whole non-overlapping windows (a shorter tail dropped)."""
    return ids[: len(ids) // seq_len * seq_len].view(-1, seq_len)


def disjoint_windows(ids: torch.Tensor, batch_size: int, seq_len: int) -> Callable[[torch.Generator], torch.Tensor]:
    """A stateful sampler: the non-overlapping windows of ``ids`` in a shuffled order, reshuffled after each pass."""
    windows = split_windows(ids, seq_len)
    if len(windows) < batch_size:
        raise ValueError(f"{len(ids)} tokens make {len(windows)} windows of {seq_len}, fewer than a batch ({batch_size})")
    state = {"order": torch.empty(0, dtype=torch.long), "next": 0}

    def sample(generator: torch.Generator) -> torch.Tensor:
        if state["next"] + batch_size > len(state["order"]):  # a new pass (only when the run outlasts the corpus)
            state["order"], state["next"] = torch.randperm(len(windows), generator=generator), 0
        start = state["next"]
        state["next"] += batch_size
        return windows[state["order"][start:start + batch_size]]

    return sample


#: Jane Austen's six novels (Debian's r-cran-janeaustenr), the English every tiny model here learns from.
AUSTEN = TextCorpus("austen", resources.english_corpus, lambda: {"sha": resources.get("austen").sha256})


def interleave(texts: list[str], pieces: int) -> str:
    """Each text cut into ``pieces`` runs of whole paragraphs, joined round-robin (piece 0 of every text, then 1, ...).

    Every stretch of the stream then mixes all sources in their proportions, so a held-out tail of
    about ``1 / pieces`` holds the last piece of each source rather than the end of the last one.
    """
    split = [[p for p in text.split("\n\n") if p.strip()] for text in texts]
    rounds = [para for k in range(pieces) for paras in split
              for para in paras[k * len(paras) // pieces:(k + 1) * len(paras) // pieces]]
    return "\n\n".join(rounds)


#: Public-domain and free English that registry packages ship, for chapter 5's family (name -> text).
ENGLISH_MIX_SOURCES: dict[str, Callable[[], str]] = {
    "austen": resources.english_corpus,  # six novels, 1811-1817
    "kjv": lambda: resources.sword_text("kjv"),  # King James Bible, 1769 text
    "web-bible": lambda: resources.sword_text("web-bible"),  # World English Bible, modern
    "mhcc": lambda: resources.sword_text("mhcc"),  # Matthew Henry's concise commentary, 1706-21
    "tdavid": lambda: resources.sword_text("tdavid"),  # Spurgeon's Treasury of David, 1869-85
    "gcide": resources.gcide_text,  # Webster's 1913 + WordNet definitions and quotations
}
ENGLISH_MIX_PIECES = 100


def english_mix_text() -> str:
    """The sources of :data:`ENGLISH_MIX_SOURCES` interleaved in 100 rounds (the held-out 1% is about the last round)."""
    return interleave([text() for text in ENGLISH_MIX_SOURCES.values()], ENGLISH_MIX_PIECES)


#: 10.2 M words of English from six registry packages (about 20.7 M training tokens with a 2,048-token BPE),
#: for chapter 5's family, which reads 6.1 M of them once each. ``version`` names the text cleaning: bump it
#: when a reader's output changes (the tokenizer and every model trained on the mix are then remade).
ENGLISH_MIX = TextCorpus("english-mix", english_mix_text,
                         lambda: {"sha": [resources.get(name).sha256 for name in ENGLISH_MIX_SOURCES if name != "austen"]
                                  + [resources.get("austen").sha256], "pieces": ENGLISH_MIX_PIECES, "version": 2},
                         val_fraction=1 / ENGLISH_MIX_PIECES)


def austen_paragraphs(n_heldout: int = 200) -> tuple[list[str], list[str]]:
    """Austen's paragraphs of over 200 characters: (the rest, the last ``n_heldout``: the tail of Persuasion).

    The tiny models' training split ends before that tail, so the held-out paragraphs are unseen text.
    """
    paragraphs = [p for p in resources.english_corpus().split("\n\n") if len(p) > 200]
    return paragraphs[:-n_heldout], paragraphs[-n_heldout:]
