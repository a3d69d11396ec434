"""Chapter 1's molecule corpus: MOSES molecules as SMILES or SELFIES, one token per atom, bond, branch or ring.

SMILES tokens follow Schwaller et al. (2019): bracket atoms, two-letter halogens, bonds, branches and
ring-closure digits are single tokens, so a masked-diffusion model fills in chemistry, not characters.
SELFIES (Krenn et al., 2020) writes the same molecules in bracketed symbols whose every sequence
decodes to a valid molecule: a denoiser cannot leave a ring or branch open. :class:`MoleculeCorpus`
gives the molecule MDLM its training rows (one molecule per row, right-padded with ``<|pad|>``)
through the same ``tokenizer``/``sampler`` interface as a text corpus; :func:`to_smiles` turns
decoded strings of either notation into SMILES for RDKit.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import torch

from .. import resources
from ..cache import atomic_dir, cache_dir, is_complete, stable_hash

SMILES_REGEX = r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>|\*|\$|%[0-9]{2}|[0-9])"
SELFIES_REGEX = r"(\[[^\]]+])"
SPECIALS = ("<|pad|>", "<|mask|>", "<|unk|>")
NOTATIONS = {"smiles": SMILES_REGEX, "selfies": SELFIES_REGEX}


def _check_notation(notation: str) -> str:
    if notation not in NOTATIONS:
        raise ValueError(f"molecule notation {notation!r} must be one of {sorted(NOTATIONS)}")
    return notation


def molecule_tokens(string: str, notation: str = "smiles") -> list[str]:
    """The tokens of one SMILES or SELFIES string (raises when they do not cover the whole string)."""
    tokens = re.findall(NOTATIONS[_check_notation(notation)], string)
    if "".join(tokens) != string:
        raise ValueError(f"{notation} {string!r} has characters outside the {notation} token grammar")
    return tokens


def encode(smiles: Sequence[str], notation: str = "smiles") -> list[str | None]:
    """SMILES in the given notation (SELFIES: None for a molecule the encoder rejects)."""
    if _check_notation(notation) == "smiles":
        return list(smiles)
    import selfies

    out = []
    for smi in smiles:
        try:
            out.append(selfies.encoder(smi))
        except selfies.EncoderError:
            out.append(None)
    return out


def to_smiles(strings: Sequence[str], notation: str = "smiles") -> list[str]:
    """Decoded strings of the notation as SMILES ('' where SELFIES decoding fails, which RDKit counts invalid)."""
    if _check_notation(notation) == "smiles":
        return list(strings)
    import selfies

    out = []
    for string in strings:
        try:
            out.append(selfies.decoder(string) or "")
        except selfies.DecoderError:
            out.append("")
    return out


def _molecule_tokenizer(vocab: list[str], notation: str):
    """A ``transformers`` fast tokenizer: regex split, word-level ids, tokens fused back on decode."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    pad, mask, unk = SPECIALS
    core = Tokenizer(models.WordLevel({tok: i for i, tok in enumerate(vocab)}, unk_token=unk))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(NOTATIONS[notation]), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token=pad, mask_token=mask, unk_token=unk)


def molecule_rows(smiles: Sequence[str], tokenizer, seq_len: int, notation: str = "smiles") -> torch.Tensor:
    """Token ids [n, seq_len] of the molecules that encode and fit ``seq_len`` tokens, right-padded with ``<|pad|>``."""
    rows = []
    for string in encode(smiles, notation):
        if string is None:
            continue
        ids = tokenizer(string, add_special_tokens=False)["input_ids"]
        if len(ids) <= seq_len:
            rows.append(ids + [tokenizer.pad_token_id] * (seq_len - len(ids)))
    return torch.tensor(rows, dtype=torch.long).view(-1, seq_len)


def fits(smiles: Sequence[str], tokenizer, seq_len: int, notation: str = "smiles") -> list[bool]:
    """Whether each molecule encodes and fits ``seq_len`` tokens (the rows :func:`molecule_rows` keeps)."""
    return [s is not None and len(tokenizer(s, add_special_tokens=False)["input_ids"]) <= seq_len
            for s in encode(smiles, notation)]


@lru_cache(maxsize=4)
def _training_rows(n_molecules: int, seq_len: int, notation: str) -> torch.Tensor:
    """The padded rows of the first ``n_molecules`` MOSES training molecules that fit ``seq_len`` tokens."""
    corpus = MoleculeCorpus(n_molecules, notation)
    return molecule_rows(resources.moses_smiles("train")[:n_molecules], corpus.tokenizer(), seq_len, notation)


@dataclass(frozen=True)
class MoleculeCorpus:
    """The first ``n_molecules`` MOSES training molecules, written in ``notation``, as a corpus for the MDLM trainer."""

    n_molecules: int = 200_000
    notation: str = "smiles"

    def __post_init__(self):
        _check_notation(self.notation)

    @property
    def name(self) -> str:
        """``moses`` (SMILES) or ``moses-selfies``."""
        return "moses" if self.notation == "smiles" else f"moses-{self.notation}"

    def describe(self) -> dict:
        """What a model trained on it depends on (part of its cache key)."""
        described = {"corpus": self.name, "moses": resources.get("moses").sha256, "n_molecules": self.n_molecules,
                     "regex": NOTATIONS[self.notation], "specials": SPECIALS}
        if self.notation == "selfies":
            import selfies

            described["selfies"] = selfies.__version__
        return described

    def tokenizer_folder(self) -> Path:
        """Folder of the word-level tokenizer whose vocabulary is every token of these molecules."""
        folder = cache_dir() / "tokenizers" / f"moses-{self.notation}-{stable_hash(self.describe())}"
        if not is_complete(folder):
            strings = encode(resources.moses_smiles("train")[:self.n_molecules], self.notation)
            counts = Counter(tok for s in strings if s is not None for tok in molecule_tokens(s, self.notation))
            vocab = list(SPECIALS) + sorted(counts, key=lambda t: (-counts[t], t))
            with atomic_dir(folder, {"n_molecules": self.n_molecules, "vocab_size": len(vocab)}) as scratch:
                _molecule_tokenizer(vocab, self.notation).save_pretrained(scratch)
        return folder

    def tokenizer(self, vocab_size: int | None = None):
        """The molecule tokenizer (``vocab_size`` is ignored: the molecules decide the vocabulary)."""
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.tokenizer_folder())

    def sampler(self, vocab_size: int, seq_len: int, batch_size: int) -> Callable[[torch.Generator], torch.Tensor]:
        """``generator -> [batch_size, seq_len]``: random molecules (rows) of the corpus."""
        rows = _training_rows(self.n_molecules, seq_len, self.notation)
        return lambda generator: rows[torch.randint(0, len(rows), (batch_size,), generator=generator)]
