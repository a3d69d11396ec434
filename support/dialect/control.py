"""The control of chapter 6: a meaning-preserving, dialect-neutral surface change (synonym swaps).

If answers get worse under the AAE conversion, is it the dialect or any change of the surface
form? The control changes words with swaps that belong to no dialect (standard synonyms from a
small hand-made table, both directions), so the two gaps can be set side by side. The table
holds common words whose swap keeps the meaning in a question's usual senses; it is small, so it
changes fewer words than the conversion (the chapter reports both counts).
"""

from __future__ import annotations

import re

from .rules import Rule, convert, match_case, sub

SYNONYMS = (
    ("big", "large"), ("small", "little"), ("begin", "start"), ("begins", "starts"), ("began", "started"),
    ("end", "finish"), ("buy", "purchase"), ("bought", "purchased"), ("help", "assist"), ("helps", "assists"),
    ("show", "demonstrate"), ("shows", "demonstrates"), ("often", "frequently"), ("quickly", "rapidly"),
    ("happy", "glad"), ("sad", "unhappy"), ("hard", "difficult"), ("easy", "simple"), ("maybe", "perhaps"),
    ("choose", "select"), ("chose", "selected"), ("need", "require"), ("needs", "requires"), ("get", "obtain"),
    ("gets", "obtains"), ("enough", "sufficient"), ("mostly", "largely"), ("whole", "entire"),
    ("also", "additionally"), ("however", "but"), ("because of", "due to"), ("person", "individual"),
    ("people", "individuals"), ("answer", "response"), ("idea", "notion"), ("kind", "type"), ("kinds", "types"),
    ("near", "close to"), ("below", "under"), ("above", "over"), ("usually", "typically"),
)
_FORWARD = {a: b for a, b in SYNONYMS} | {b: a for a, b in SYNONYMS}
_PATTERN = r"\b(" + "|".join(sorted(map(re.escape, _FORWARD), key=len, reverse=True)) + r")\b"


def swap_synonyms(text: str, keep) -> str:
    """Each word of the synonym table swapped for its partner, where ``keep()`` says so (a rule of :mod:`.rules`)."""
    return sub(_PATTERN, lambda m: match_case(m.group(0), _FORWARD[m.group(0).lower()]), text, keep)


def control_paraphrase(text: str, probability: float = 1.0, seed: int = 0) -> str:
    """``text`` with each word of the synonym table swapped (kept with ``probability``; a seed fixes the draw)."""
    return convert(text, (Rule("synonyms", swap_synonyms, probability),), seed, post=False)
