"""Each conversion rule scored on Multi-VALUE's eWAVE example pairs (Ziems et al. 2023, ``resources.dialect_pairs``).

Multi-VALUE ships one standard -> dialect example pair per feature it implements. For a rule of
:mod:`.rules` and the eWAVE features it stands for (:data:`RULE_FEATURES`), applied alone to every
pair's standard sentence:

- ``recall``: of its own features' pairs, the share whose conversion equals the dialect sentence;
- ``precision``: of the pairs it changed (any feature's), the share it changed into their dialect
  sentence. A rule that fires on another feature's pair counts against it: the pair's dialect
  sentence differs from the standard only by that other feature.

Sentences are compared after lowercasing and collapsing spaces and apostrophe forms. With one or
two pairs a feature these are small counts, reported as counts beside the shares.
"""

from __future__ import annotations

import re

import pandas as pd

from .rules import RULE_NAMES, convert, only

#: The eWAVE features (ids) each rule stands for; rules without one are phonological or lexical.
RULE_FEATURES: dict[str, tuple[int, ...]] = {
    "null_copula": (174, 176, 177, 178), "negative_concord": (154,), "negative_inversion": (226,),
    "possessive_s": (77,), "habitual_be": (), "stressed_been": (111,), "preterite_had": (),
    "embedded_inversion": (227,), "aint": (155, 156, 157), "existential_it": (173,), "talkin_bout": (),
    "tryna": (), "g_dropping": (),
}


def normalise(sentence: str) -> str:
    """Lowercase, one space between words, straight apostrophes."""
    return re.sub(r"\s+", " ", sentence.replace("’", "'").strip().lower())


def rule_scores(pairs: tuple[dict, ...]) -> pd.DataFrame:
    """Per rule: pairs of its features, how many it converts exactly (recall), how many pairs it changed and how many
    of those it changed right (precision)."""
    rows = []
    for name in RULE_NAMES:
        rule = only([name])
        outs = [normalise(convert(pair["standard"], rule, post=False)) for pair in pairs]
        wanted = [normalise(pair["dialect"]) for pair in pairs]
        is_changed = [out != normalise(pair["standard"]) for out, pair in zip(outs, pairs)]
        changed = sum(is_changed)
        right = sum(c and out == want for c, out, want in zip(is_changed, outs, wanted))
        own = [i for i, pair in enumerate(pairs) if pair["feature"] in RULE_FEATURES[name]]
        hits = sum(outs[i] == wanted[i] for i in own)
        rows.append({"rule": name, "features": ", ".join(map(str, RULE_FEATURES[name])) or "-", "own_pairs": len(own),
                     "converted": hits, "recall": hits / len(own) if own else float("nan"), "changed": changed,
                     "changed_right": right, "precision": right / changed if changed else float("nan")})
    return pd.DataFrame(rows)
