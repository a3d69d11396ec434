"""Chapter 1's molecule corpus: MOSES SMILES, a regex tokenizer with one token per atom, bond or ring digit.

The tokenizer follows Schwaller et al. (2019): bracket atoms, two-letter halogens, bonds, branches
and ring-closure digits are single tokens, so a masked-diffusion model fills in chemistry, not
characters. :class:`SmilesCorpus` gives the molecule MDLM its training rows (one molecule per row,
right-padded with ``<|pad|>``) through the same ``tokenizer``/``sampler`` interface as a text corpus.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import torch

from .. import resources
from ..cache import atomic_dir, cache_dir, is_complete, stable_hash

SMILES_REGEX = r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>|\*|\$|%[0-9]{2}|[0-9])"
SMILES_SPECIALS = ("<|pad|>", "<|mask|>", "<|unk|>")


def smiles_tokens(smiles: str) -> list[str]:
    """The regex tokens of one SMILES string (raises when they do not cover the whole string)."""
    tokens = re.findall(SMILES_REGEX, smiles)
    if "".join(tokens) != smiles:
        raise ValueError(f"SMILES {smiles!r} has characters outside the SMILES token grammar")
    return tokens


def _smiles_tokenizer(vocab: list[str]):
    """A ``transformers`` fast tokenizer: regex split, word-level ids, tokens fused back on decode."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    pad, mask, unk = SMILES_SPECIALS
    core = Tokenizer(models.WordLevel({tok: i for i, tok in enumerate(vocab)}, unk_token=unk))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(SMILES_REGEX), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token=pad, mask_token=mask, unk_token=unk)


def smiles_rows(smiles: list[str] | tuple[str, ...], tokenizer, seq_len: int) -> torch.Tensor:
    """Token ids [n, seq_len] of the SMILES that fit ``seq_len`` tokens, right-padded with ``<|pad|>``."""
    rows = []
    for smi in smiles:
        ids = tokenizer(smi, add_special_tokens=False)["input_ids"]
        if len(ids) <= seq_len:
            rows.append(ids + [tokenizer.pad_token_id] * (seq_len - len(ids)))
    return torch.tensor(rows, dtype=torch.long).view(-1, seq_len)


@lru_cache(maxsize=4)
def _training_rows(n_molecules: int, seq_len: int) -> torch.Tensor:
    """The padded rows of the first ``n_molecules`` MOSES training molecules that fit ``seq_len`` tokens."""
    return smiles_rows(resources.moses_smiles("train")[:n_molecules], SmilesCorpus(n_molecules).tokenizer(),
                       seq_len)


@dataclass(frozen=True)
class SmilesCorpus:
    """The first ``n_molecules`` MOSES training molecules as a corpus for the masked-diffusion trainer."""

    n_molecules: int = 200_000
    name: str = "moses"

    def describe(self) -> dict:
        """What a model trained on it depends on (part of its cache key)."""
        return {"corpus": self.name, "moses": resources.get("moses").sha256, "n_molecules": self.n_molecules,
                "regex": SMILES_REGEX, "specials": SMILES_SPECIALS}

    def tokenizer_folder(self) -> Path:
        """Folder of the word-level SMILES tokenizer whose vocabulary is every token of these molecules."""
        folder = cache_dir() / "tokenizers" / f"moses-smiles-{stable_hash(self.describe())}"
        if not is_complete(folder):
            counts = Counter(tok for smi in resources.moses_smiles("train")[:self.n_molecules]
                             for tok in smiles_tokens(smi))
            vocab = list(SMILES_SPECIALS) + sorted(counts, key=lambda t: (-counts[t], t))
            with atomic_dir(folder, {"n_molecules": self.n_molecules, "vocab_size": len(vocab)}) as scratch:
                _smiles_tokenizer(vocab).save_pretrained(scratch)
        return folder

    def tokenizer(self, vocab_size: int | None = None):
        """The SMILES tokenizer (``vocab_size`` is ignored: the molecules decide the vocabulary)."""
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.tokenizer_folder())

    def sampler(self, vocab_size: int, seq_len: int, batch_size: int) -> Callable[[torch.Generator], torch.Tensor]:
        """``generator -> [batch_size, seq_len]``: random molecules (rows) of the corpus."""
        rows = _training_rows(self.n_molecules, seq_len)
        return lambda generator: rows[torch.randint(0, len(rows), (batch_size,), generator=generator)]
