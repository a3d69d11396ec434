"""Structure of a models x benchmarks table: factor analysis, parallel analysis, convergent/discriminant, MTMM.

Exploratory factor analysis is iterated principal-axis factoring of the benchmarks' correlation
matrix (communalities start at the squared multiple correlations and are refined until they settle),
with an optional varimax rotation (Kaiser 1958). ``factor_analyzer`` 0.5.1, the field's Python
library, calls scikit-learn's ``check_array(force_all_finite=...)``, which scikit-learn 1.8 removed
(this book's scikit-learn is pinned by alt-profanity-check), so it cannot run here; the test
checks these loadings against scikit-learn's maximum-likelihood ``FactorAnalysis``. Horn's (1965)
parallel analysis keeps the factors whose eigenvalues exceed those of random data of the same shape.
Convergent and discriminant evidence (Campbell & Fiske 1959): measures of the same construct should
correlate more with each other than with measures of other constructs; the multitrait-multimethod
(MTMM) matrix lays the correlations out by (trait, method) and its four cell types are summarised.
With fewer models than a factor analysis wants (a rule of thumb is 5-10 per variable), every
loading here is descriptive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def correlation(table: pd.DataFrame, method: str = "spearman") -> pd.DataFrame:
    """Benchmarks' correlation over the models that have both scores (pairwise complete)."""
    return table.corr(method=method, min_periods=3)


def eigenvalues(table: pd.DataFrame) -> np.ndarray:
    """Eigenvalues of the benchmarks' Pearson correlation matrix (complete rows), largest first."""
    values = np.linalg.eigvalsh(np.corrcoef(table.dropna().to_numpy(dtype=float), rowvar=False))
    return values[::-1]


def parallel_analysis(table: pd.DataFrame, simulations: int = 500, quantile: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Observed eigenvalues beside the ``quantile`` of random normal data's (same shape); factors to keep."""
    data = table.dropna().to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((simulations, *data.shape))
    noise = (noise - noise.mean(1, keepdims=True)) / noise.std(1, ddof=1, keepdims=True)
    random_values = np.linalg.eigvalsh(np.einsum("snp,snq->spq", noise, noise) / (data.shape[0] - 1))[:, ::-1]
    observed = eigenvalues(table)
    out = pd.DataFrame({"factor": np.arange(1, len(observed) + 1), "eigenvalue": observed,
                        "random": np.quantile(random_values, quantile, axis=0)})
    above = out.eigenvalue > out.random
    out["keep"] = above.cumprod().astype(bool)  # keep factors until the first that random data beats
    return out


def principal_axis(corr: np.ndarray, factors: int, max_iter: int = 500, tol: float = 1e-8) -> np.ndarray:
    """[variables, factors] loadings by iterated principal-axis factoring of a correlation matrix."""
    corr = np.asarray(corr, dtype=float)
    communality = np.clip(1 - 1 / np.diag(np.linalg.pinv(corr)), 0, 1)  # squared multiple correlations
    for _ in range(max_iter):
        reduced = corr.copy()
        np.fill_diagonal(reduced, communality)
        values, vectors = np.linalg.eigh(reduced)
        top = np.argsort(values)[::-1][:factors]
        loadings = vectors[:, top] * np.sqrt(np.clip(values[top], 0, None))
        updated = np.clip((loadings ** 2).sum(1), 0, 1)
        if np.abs(updated - communality).max() < tol:
            break
        communality = updated
    return loadings


def varimax(loadings: np.ndarray, max_iter: int = 200, tol: float = 1e-8) -> np.ndarray:
    """Varimax rotation of a loading matrix: Kaiser's (1958) criterion, maximised by the usual SVD iteration."""
    p, k = loadings.shape
    rotation, last = np.eye(k), 0.0
    for _ in range(max_iter):
        rotated = loadings @ rotation
        u, s, vt = np.linalg.svd(loadings.T @ (rotated ** 3 - rotated @ np.diag((rotated ** 2).sum(0)) / p))
        rotation = u @ vt
        if s.sum() < last * (1 + tol):
            break
        last = s.sum()
    return loadings @ rotation


def factor_loadings(table: pd.DataFrame, factors: int = 1, rotate: bool = True) -> pd.DataFrame:
    """Loadings (benchmarks x factors) and communalities of an exploratory factor analysis of complete rows."""
    data = table.dropna()
    if len(data) <= factors + 1:
        raise ValueError(f"factor analysis needs more complete rows than {factors + 1}, got {len(data)}")
    loadings = principal_axis(np.corrcoef(data.to_numpy(dtype=float), rowvar=False), factors)
    if factors > 1 and rotate:
        loadings = varimax(loadings)
    loadings = loadings * np.sign(loadings.sum(0, keepdims=True))  # a factor's sign is arbitrary: make it positive
    out = pd.DataFrame(loadings, index=table.columns, columns=[f"factor_{i + 1}" for i in range(factors)])
    out["communality"] = (loadings ** 2).sum(1)
    return out


def convergent_discriminant(table: pd.DataFrame, construct: dict[str, str], method: str = "spearman") -> pd.DataFrame:
    """Each benchmark's mean correlation with the other measures of its construct and with the other constructs'."""
    corr = correlation(table, method)
    rows = []
    for bench in table.columns:
        same = [b for b in table.columns if b != bench and construct[b] == construct[bench]]
        other = [b for b in table.columns if construct[b] != construct[bench]]
        rows.append({"benchmark": bench, "construct": construct[bench],
                     "convergent": float(corr.loc[bench, same].mean()) if same else np.nan,
                     "discriminant": float(corr.loc[bench, other].mean()) if other else np.nan})
    out = pd.DataFrame(rows)
    out["margin"] = out.convergent - out.discriminant
    return out


MTMM_CELLS = ("validity", "heterotrait_monomethod", "heterotrait_heteromethod")


def mtmm(scores: pd.DataFrame, method: str = "pearson") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The MTMM correlation matrix of columns (trait, method), and its off-diagonal cells typed and summarised.

    Cell types: *validity* (same trait, different method: convergent), *heterotrait-monomethod* and
    *heterotrait-heteromethod* (discriminant). Campbell and Fiske ask validity > both others.
    """
    if not isinstance(scores.columns, pd.MultiIndex) or scores.columns.nlevels != 2:
        raise ValueError("MTMM needs columns indexed by (trait, method)")
    corr = scores.corr(method=method)
    rows = []
    columns = list(corr.columns)
    for i, (trait_a, method_a) in enumerate(columns):
        for trait_b, method_b in columns[i + 1:]:
            if trait_a == trait_b and method_a == method_b:
                continue
            kind = ("validity" if trait_a == trait_b else
                    "heterotrait_monomethod" if method_a == method_b else "heterotrait_heteromethod")
            rows.append({"kind": kind, "trait_a": trait_a, "method_a": method_a, "trait_b": trait_b,
                         "method_b": method_b, "r": float(corr.loc[(trait_a, method_a), (trait_b, method_b)])})
    cells = pd.DataFrame(rows)
    return corr, cells


def mtmm_summary(cells: pd.DataFrame) -> pd.DataFrame:
    """Mean, min and max correlation of each MTMM cell type, and how many cells."""
    return (cells.groupby("kind").r.agg(["mean", "min", "max", "count"]).reindex(list(MTMM_CELLS)).reset_index())
