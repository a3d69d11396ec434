"""The retrieval audit of So-B-IT (Hamidieh et al., AIES 2024, arXiv 2411.00997): who a query retrieves.

For a query (a taxonomy word in a template) a model retrieves the top-k items of a gallery whose
items each belong to one group (race, gender or their intersection). With ``counts`` the number
of retrieved items per group and ``prior`` the gallery's group shares:

- ``normalized_entropy``: H(p) / log(G) of the retrieved shares p over G groups; 1 when retrieval
  is spread evenly over the groups, 0 when every item comes from one group (the paper's measure);
- ``max_skew``: max_g log(p_g / prior_g) (Geyik et al., KDD 2019): how over-represented the most
  over-represented group is against the gallery; >= 0, and 0 exactly when p equals the prior;
- ``kl_to_prior``: KL(p || prior), the whole distribution's distance from the gallery's make-up;
- ``permutation_p``: for a statistic of the retrieved set, the share of random top-k draws from the
  gallery (without replacement, same k) at least as extreme, with the +1 correction, so that a
  word's skew is judged against what chance retrieval gives with this gallery's prior.

A share of zero contributes nothing to the entropy and the KL; MaxSkew only looks at groups that
were retrieved (a log of zero would be minus infinity, never the maximum). The paper reports
normalized entropy per word; MaxSkew, KL and the permutation test are this book's additions, for
a prior that is not uniform and for a p-value per word (controlled over words with
``support.stats.benjamini_hochberg``).
"""

from __future__ import annotations

import numpy as np


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


def permutation_p(observed: float, gallery_groups: np.ndarray, k: int, statistic, n_groups: int,
                  draws: int = 2000, seed: int = 0) -> float:
    """P-value of ``observed`` (larger = more extreme) against ``statistic`` of random k-subsets of the gallery."""
    rng = np.random.default_rng(seed)
    gallery_groups = np.asarray(gallery_groups)
    picks = np.argsort(rng.random((draws, len(gallery_groups))), axis=1)[:, :k]  # k without replacement per draw
    null = statistic(group_counts(gallery_groups[picks], n_groups))
    return float((1 + (null >= observed - 1e-12).sum()) / (1 + draws))
