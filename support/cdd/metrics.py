"""Exact scorers of CDD's outputs: counters on decoded text, real toxicity, RDKit properties, FCD.

These are the measurements, never the surrogates the projection optimises: lexical and character
constraints are counted on the decoded string, toxicity is alt-profanity-check's probability
(the stand-in for Perspective API used by Cardei et al., 2025), molecular properties come from
RDKit (SA score of Ertl & Schuffenhauer 2009, QED), FCD from the ``fcd`` package's ChemNet.
Perplexity under the autoregressive judge (the stand-in for GPT-2-XL) is the book's one
implementation, :func:`support.models.perplexity`.
"""

from __future__ import annotations

import os
import re
import sys
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np

WORD_RE = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


def count_word(text: str, word: str) -> int:
    """Occurrences of ``word`` as a whole word in ``text`` (case-insensitive)."""
    return len(re.findall(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", text, flags=re.IGNORECASE))


def count_char(text: str, char: str) -> int:
    """Occurrences of the character ``char`` in ``text``."""
    return text.count(char)


def count_words(text: str) -> int:
    """Number of words (letter runs, with inner apostrophes) in ``text``."""
    return len(WORD_RE.findall(text))


def toxicity(texts: Sequence[str]) -> np.ndarray:
    """alt-profanity-check's probability that each text is offensive [n]."""
    import profanity_check

    if len(texts) == 0:
        return np.zeros(0)
    return np.asarray(profanity_check.predict_prob(list(texts)), dtype=float)


def toxicity_words(min_weight: float = 1.0) -> list[str]:
    """alt-profanity-check's alphabetic words whose linear weight (mean over its calibrated folds) exceeds min_weight."""
    from profanity_check import profanity_check as judge

    weight = np.mean([fold.estimator.coef_[0] for fold in judge.model.calibrated_classifiers_], 0)
    return [w for w, c in zip(judge.vectorizer.get_feature_names_out(), weight) if c > min_weight and w.isalpha()]


def distinct_n(token_lists: Iterable[Sequence[int]], n: int = 2) -> float:
    """Share of distinct n-grams among all n-grams of the samples (diversity; 1 = no repeats)."""
    grams = [tuple(toks[i:i + n]) for toks in token_lists for i in range(len(toks) - n + 1)]
    return len(set(grams)) / max(1, len(grams))


# --------------------------------------------------------------------------- molecules

def _quiet_rdkit() -> None:
    """Silence RDKit's parse errors: invalid SMILES are counted, not printed."""
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")


@lru_cache(maxsize=1)
def _sascorer():
    """RDKit's contributed SA-score module (Ertl & Schuffenhauer, 2009)."""
    from rdkit.Chem import RDConfig

    path = os.path.join(RDConfig.RDContribDir, "SA_Score")
    if path not in sys.path:
        sys.path.append(path)
    import sascorer

    return sascorer


def parse_molecule(smiles: str):
    """An RDKit molecule, or None for an empty or invalid SMILES (never raises)."""
    _quiet_rdkit()
    from rdkit import Chem

    if not smiles or not isinstance(smiles, str):
        return None
    try:
        mol = Chem.MolFromSmiles(smiles)
    except Exception:  # RDKit raises on some malformed inputs instead of returning None
        return None
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    return mol


def canonical(smiles: str) -> str | None:
    """Canonical SMILES, or None when invalid."""
    from rdkit import Chem

    mol = parse_molecule(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


def sa_score(smiles: str) -> float:
    """Synthetic accessibility (1 easy ... 10 hard), NaN for an invalid SMILES."""
    mol = parse_molecule(smiles)
    return float("nan") if mol is None else float(_sascorer().calculateScore(mol))


def qed_score(smiles: str) -> float:
    """Quantitative estimate of drug-likeness (0 ... 1), NaN for an invalid SMILES."""
    from rdkit.Chem import QED

    mol = parse_molecule(smiles)
    return float("nan") if mol is None else float(QED.qed(mol))


MOSES_MIN_HEAVY_ATOMS = 12  # the smallest MOSES molecule (its 250-350 Da filter); tests check it on the data


def heavy_atoms(smiles: str) -> int:
    """Heavy atoms of a SMILES (0 when invalid)."""
    mol = parse_molecule(smiles)
    return 0 if mol is None else mol.GetNumHeavyAtoms()


def molecule_table(smiles: Sequence[str], training: set[str] | frozenset[str] = frozenset()):
    """One row per generated SMILES: valid, canonical, heavy atoms, SA, QED, novel (valid and not in ``training``)."""
    import pandas as pd

    rows = []
    for smi in smiles:
        can = canonical(smi)
        rows.append({"smiles": smi, "valid": can is not None, "canonical": can, "heavy_atoms": heavy_atoms(smi),
                     "sa": sa_score(smi) if can else float("nan"), "qed": qed_score(smi) if can else float("nan"),
                     "novel": can is not None and can not in training})
    return pd.DataFrame(rows)


@lru_cache(maxsize=1)
def _chemnet():
    """The pretrained ChemNet of the ``fcd`` package (shipped in its wheel)."""
    import fcd

    return fcd.load_ref_model()


def fcd_distance(generated: Sequence[str], reference: Sequence[str]) -> float:
    """Frechet ChemNet Distance between valid generated and reference SMILES (NaN with < 2 valid)."""
    import fcd

    valid = [c for c in (canonical(s) for s in generated) if c]
    if len(valid) < 2 or len(reference) < 2:
        return float("nan")
    return float(fcd.get_fcd(valid, list(reference), _chemnet()))
