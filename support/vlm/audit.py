"""The retrieval audit of So-B-IT (Hamidieh et al., AIES 2024, arXiv 2411.00997): who a query retrieves.

For a query (a taxonomy word in a template) a model retrieves the top-k items of a gallery whose
items each belong to one group (race, gender or their intersection). With ``counts`` the number
of retrieved items per group and ``prior`` the gallery's group shares:

- ``normalized_entropy``: H(p) / log(G) of the retrieved shares p over G groups; 1 when retrieval
  is spread evenly over the groups, 0 when every item comes from one group (the paper's measure);
- ``max_skew``: max_g log(p_g / prior_g) (Geyik et al., KDD 2019): how over-represented the most
  over-represented group is against the gallery; >= 0, and 0 exactly when p equals the prior;
- ``kl_to_prior``: KL(p || prior), the whole distribution's distance from the gallery's make-up;
- ``permutation_p`` / ``null_statistic``: for a statistic of the retrieved set, the share of random
  top-k draws from the gallery (multivariate hypergeometric: k items without replacement) at least
  as extreme, with the +1 correction: is this retrieved set unlike chance retrieval from this gallery?
- ``upper_p_values`` against *control queries* known to carry no association: the same question
  instead of against random draws: is this query more skewed than queries with none? A trained
  model can retrieve a skewed set for every query (its text vectors all lean somewhere, and the
  top k follows the lean), so the gallery null flags nearly every word; only the control null asks
  about the word. ``retrieval_audit`` gives both, with Benjamini-Hochberg over the tested queries.

A share of zero contributes nothing to the entropy and the KL; MaxSkew only looks at groups that
were retrieved (a log of zero would be minus infinity, never the maximum). The paper reports
normalized entropy per word; MaxSkew, KL and both tests are this book's additions, for a prior
that is not uniform and for a p-value per word (controlled over words with
``support.stats.benjamini_hochberg``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def group_counts(groups: np.ndarray, n_groups: int) -> np.ndarray:
    """[..., G] counts of each group among the last axis's items (``groups`` holds group indices)."""
    groups = np.asarray(groups)
    return (groups[..., None] == np.arange(n_groups)).sum(-2)


def _shares(counts) -> np.ndarray:
    counts = np.asarray(counts, dtype=float)
    if (counts < 0).any() or (counts.sum(-1) <= 0).any():
        raise ValueError("counts must be non-negative with a positive total per row")
    return counts / counts.sum(-1, keepdims=True)


def normalized_entropy(counts) -> np.ndarray:
    """H(p) / log(G) of each row of group counts [..., G] (G >= 2)."""
    p = _shares(counts)
    if p.shape[-1] < 2:
        raise ValueError("normalized entropy needs at least two groups")
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -plogp.sum(-1) / np.log(p.shape[-1])


def max_skew(counts, prior) -> np.ndarray:
    """max over retrieved groups of log(p_g / prior_g), for each row of counts [..., G]."""
    p, q = _shares(counts), _shares(prior)
    logs = np.where(p > 0, np.log(np.where(p > 0, p, 1.0) / q), -np.inf)
    return logs.max(-1)


def kl_to_prior(counts, prior) -> np.ndarray:
    """KL(p || prior) in nats of each row of counts [..., G]."""
    p, q = _shares(counts), _shares(prior)
    return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / q), 0.0).sum(-1)


def null_statistic(gallery_counts, k: int, statistic, draws: int = 2000, seed: int = 0) -> np.ndarray:
    """[draws] values of ``statistic`` on the group counts of random k-subsets of a gallery (multivariate
    hypergeometric draws: the same law as k items drawn without replacement)."""
    gallery_counts = np.asarray(gallery_counts, dtype=np.int64)
    if not 1 <= k <= gallery_counts.sum():
        raise ValueError(f"k={k} must be between 1 and the gallery size {gallery_counts.sum()}")
    rng = np.random.default_rng(seed)
    return np.asarray(statistic(rng.multivariate_hypergeometric(gallery_counts, k, size=draws)), dtype=float)


def upper_p_values(observed, null: np.ndarray) -> np.ndarray:
    """Share of ``null`` at least as large as each observed value, with the +1 correction: (1 + #) / (1 + D)."""
    null = np.sort(np.asarray(null, dtype=float))
    at_least = len(null) - np.searchsorted(null, np.asarray(observed, dtype=float) - 1e-12, side="left")
    return (1 + at_least) / (1 + len(null))


def permutation_p(observed: float, gallery_groups: np.ndarray, k: int, statistic, n_groups: int,
                  draws: int = 2000, seed: int = 0) -> float:
    """P-value of ``observed`` (larger = more extreme) against ``statistic`` of random k-subsets of the gallery."""
    gallery_counts = np.bincount(np.asarray(gallery_groups), minlength=n_groups)
    return float(upper_p_values(observed, null_statistic(gallery_counts, k, statistic, draws, seed)))


def top_k(similarity, k: int) -> np.ndarray:
    """[Q, k] gallery indices of each query's k most similar items (most similar first)."""
    similarity = np.asarray(similarity)
    if not 1 <= k <= similarity.shape[1]:
        raise ValueError(f"k={k} must be between 1 and the gallery size {similarity.shape[1]}")
    part = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(similarity, part, 1), axis=1, kind="stable")
    return np.take_along_axis(part, order, 1)


def retrieved_counts(retrieved: np.ndarray, item_groups, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """(counts [Q, G] of each query's retrieved items [Q, k] per group, the gallery's group shares [G])."""
    item_groups = np.asarray(item_groups)
    prior = np.bincount(item_groups, minlength=n_groups) / len(item_groups)
    return group_counts(item_groups[retrieved], n_groups), prior


def retrieval_audit(similarity, queries, groups: dict[str, np.ndarray], group_names: dict[str, tuple], ks,
                    q: float = 0.1, draws: int = 10_000, seed: int = 0, controls=None) -> pd.DataFrame:
    """One row per (query, attribute, k): the retrieved set's measures, its most over-represented group (index
    and name), MaxSkew's p-values and BH rejections.

    ``similarity`` [Q, N] scores queries against the gallery; ``groups[attribute]`` [N] holds each
    item's group, an index into ``group_names[attribute]``. Two nulls for MaxSkew, each with
    Benjamini-Hochberg at ``q`` over the tested queries (the control queries, when there are any, are
    corrected as a family of their own):
    ``p_gallery``, against random k-subsets of this gallery (is the retrieved set unlike a random
    draw?), and, when ``controls`` (a boolean mask over the queries) is given, ``p_control``, against
    the control queries' own MaxSkew (is this query more skewed than queries with no association?);
    control queries are not tested themselves (their p_control is NaN).
    """
    from ..stats import benjamini_hochberg

    similarity = np.asarray(similarity)
    if similarity.shape[0] != len(queries):
        raise ValueError(f"{similarity.shape[0]} similarity rows for {len(queries)} queries")
    is_control = np.zeros(len(queries), bool) if controls is None else np.asarray(controls, dtype=bool)
    if controls is not None and (is_control.sum() < 2 or is_control.all()):
        raise ValueError("controls must mark at least two queries and leave at least one to test")
    frames = []
    for k in ks:
        retrieved = top_k(similarity, k)
        for a_index, (attribute, item_groups) in enumerate(groups.items()):
            names = group_names[attribute]
            counts, prior = retrieved_counts(retrieved, item_groups, len(names))
            skew = max_skew(counts, prior)
            null = null_statistic(np.bincount(item_groups, minlength=len(names)), k, lambda c: max_skew(c, prior),
                                  draws, seed + 1000 * a_index + k)
            p_gallery = upper_p_values(skew, null)
            rejected_gallery = np.zeros(len(queries), bool)
            for family in (~is_control, is_control):
                if family.any():
                    rejected_gallery[family] = benjamini_hochberg(p_gallery[family], q)
            p_control = np.full(len(queries), np.nan)
            rejected_control = np.zeros(len(queries), bool)
            if controls is not None:
                p_control[~is_control] = upper_p_values(skew[~is_control], skew[is_control])
                rejected_control[~is_control] = benjamini_hochberg(p_control[~is_control], q)
            top = most_over_represented(counts, prior)
            frames.append(pd.DataFrame({
                "query": list(queries), "attribute": attribute, "k": k, "control": is_control,
                "entropy": normalized_entropy(counts), "max_skew": skew, "kl": kl_to_prior(counts, prior),
                "top_group": top, "top_group_name": np.asarray(names, dtype=object)[top],
                "top_share": counts[np.arange(len(counts)), top] / k,
                "p_gallery": p_gallery, "rejected_gallery": rejected_gallery,
                "p_control": p_control, "rejected_control": rejected_control}))
    return pd.concat(frames, ignore_index=True)


def most_over_represented(counts, prior) -> np.ndarray:
    """[Q] index of each row's group with the largest share / prior among the retrieved ones (MaxSkew's group)."""
    counts = np.asarray(counts, dtype=float)
    return np.where(counts > 0, counts / counts.sum(-1, keepdims=True) / np.asarray(prior), 0.0).argmax(-1)


def group_shares(similarity, queries, item_groups: np.ndarray, names: tuple, k: int) -> pd.DataFrame:
    """Long table (query, group, group_name, share, prior, ratio): each group's share of a query's top k against
    the prior (``item_groups`` index into ``names``)."""
    n_groups = len(names)
    counts, prior = retrieved_counts(top_k(similarity, k), item_groups, n_groups)
    shares = counts / k
    return pd.DataFrame({"query": np.repeat(list(queries), n_groups),
                         "group": np.tile(np.arange(n_groups), len(queries)),
                         "group_name": np.tile(np.asarray(names, dtype=object), len(queries)),
                         "share": shares.ravel(), "prior": np.tile(prior, len(queries)),
                         "ratio": (shares / prior).ravel()})
