"""Scaling laws of quantization-induced degradation (QiD), after Ouyang et al. (ACL 2025, arXiv 2411.17691).

QiD(N, D, P) = k * D^beta / (N^alpha * P^gamma), with N non-embedding parameters, D training tokens
and P bits (their eq. for the unified law; paper fit on GPTQ-quantized Pythia: k = 0.017,
beta = 0.5251, alpha = 0.2261, gamma = 5.4967; one-factor fits beta = 0.5316, alpha = 0.2276,
gamma = 5.4812). Fits here are ordinary least squares in log space,
log QiD = log k + beta log D - alpha log N - gamma log P, on points with QiD > 0 (a log cannot
take the others; how many were dropped is reported), with percentile-bootstrap intervals. The
points are not independent (every checkpoint of a member shares its weights' history, the bit
widths of one checkpoint share its weights), so the bootstrap resamples whole members and, within
each drawn member, whole checkpoints (all their bit widths together); given no grouping it falls
back to resampling points. The paper does not release its fitting code; whether it fit in log space or
on QiD directly is not stated, so R^2 is reported both in log space and on QiD itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PAPER_UNIFIED = {"k": 0.017, "alpha": 0.2261, "beta": 0.5251, "gamma": 5.4967}
PAPER_ONE_FACTOR = {"alpha": 0.2276, "beta": 0.5316, "gamma": 5.4812}
PYTHIA_TOKENS_PER_STEP = 2_097_152
#: Non-embedding parameters of the Pythia suite (Biderman et al. 2023, Table 1), by model name.
PYTHIA_NON_EMBEDDING = {"pythia-70m": 18_915_328, "pythia-160m": 85_056_000, "pythia-410m": 302_311_424,
                        "pythia-1b": 805_736_448, "pythia-1.4b": 1_208_602_624, "pythia-2.8b": 2_517_652_480,
                        "pythia-6.9b": 6_444_163_072, "pythia-12b": 11_327_027_200}


def _positive(name: str, values) -> np.ndarray:
    """``values`` as a float array, refusing non-positive entries with an error naming them."""
    array = np.asarray(values, dtype=float)
    if np.any(~np.isfinite(array)) or np.any(array <= 0):
        raise ValueError(f"{name} must be positive and finite; got {array[(array <= 0) | ~np.isfinite(array)][:3]}")
    return array


def _bits(values) -> np.ndarray:
    """Bit widths as a float array, refusing anything outside 2..8."""
    array = np.asarray(values, dtype=float)
    if np.any((array < 2) | (array > 8)):
        raise ValueError(f"bits must lie in 2..8; got {np.unique(array[(array < 2) | (array > 8)])}")
    return array


def qid_law(n_params, tokens, bits, k: float, alpha: float, beta: float, gamma: float) -> np.ndarray:
    """Predicted QiD = k * D^beta / (N^alpha * P^gamma)."""
    n, d, p = _positive("N (non-embedding parameters)", n_params), _positive("D (training tokens)", tokens), _bits(bits)
    return k * d**beta / (n**alpha * p**gamma)


def pythia_loss_16bit(n_params, tokens) -> np.ndarray:
    """The paper's fit of 16-bit Pythia loss: [(4.74e19 / N)^(0.045/0.399) + 7.63e10 / D]^0.399."""
    n, d = _positive("N (non-embedding parameters)", n_params), _positive("D (training tokens)", tokens)
    return ((4.74e19 / n) ** (0.045 / 0.399) + 7.63e10 / d) ** 0.399


def tokens_for_qid(n_params, bits, qid: float, k: float, alpha: float, beta: float, gamma: float) -> np.ndarray:
    """Training tokens D at which the law reaches ``qid`` for N and P (the inversion behind the paper's Table 1)."""
    n, p = _positive("N (non-embedding parameters)", n_params), _bits(bits)
    target = float(_positive("qid", qid))
    return (target * n**alpha * p**gamma / k) ** (1 / beta)


@dataclass
class Fit:
    """A fitted law: parameters, their bootstrap intervals, goodness of fit and data counts."""

    params: dict[str, float]
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    r2_log: float = float("nan")
    r2_qid: float = float("nan")
    n_points: int = 0
    n_dropped: int = 0


def _design(n, d, p, factors: tuple[str, ...]) -> np.ndarray:
    """Columns [1, log D, -log N, -log P] restricted to the requested factors."""
    columns = {"beta": np.log(d), "alpha": -np.log(n), "gamma": -np.log(p)}
    return np.column_stack([np.ones_like(n)] + [columns[f] for f in factors])


def _solve(x: np.ndarray, log_qid: np.ndarray, factors: tuple[str, ...]) -> dict[str, float]:
    """Least-squares parameters of log QiD on the design matrix."""
    coef, *_ = np.linalg.lstsq(x, log_qid, rcond=None)
    return {"k": float(np.exp(coef[0])), **{f: float(c) for f, c in zip(factors, coef[1:])}}


def _r2(observed: np.ndarray, predicted: np.ndarray) -> float:
    """Coefficient of determination."""
    residual = np.sum((observed - predicted) ** 2)
    total = np.sum((observed - observed.mean()) ** 2)
    return float(1 - residual / total) if total > 0 else float("nan")


def _fit_points(n_params, tokens, bits, qid) -> tuple[np.ndarray, ...]:
    """Validated (N, D, P, QiD) restricted to QiD > 0 (a log cannot take the rest), plus how many were dropped."""
    n = _positive("N (non-embedding parameters)", n_params)
    d = _positive("D (training tokens)", tokens)
    p = _bits(bits)
    y = np.asarray(qid, dtype=float)
    keep = y > 0
    return n[keep], d[keep], p[keep], y[keep], int((~keep).sum())


def resample_groups(rng: np.random.Generator, groups: np.ndarray | None, subgroups: np.ndarray | None,
                    n_rows: int) -> np.ndarray:
    """Row indices of one bootstrap draw: whole groups with replacement, then whole subgroups within each.

    ``groups`` None resamples rows; ``subgroups`` None keeps each drawn group whole.
    """
    if groups is None:
        return rng.integers(0, n_rows, n_rows)
    labels = np.unique(groups)
    drawn = []
    for label in rng.choice(labels, len(labels)):
        rows = np.flatnonzero(groups == label)
        if subgroups is None:
            drawn.append(rows)
            continue
        inner = np.unique(subgroups[rows])
        drawn.extend(rows[subgroups[rows] == sub] for sub in rng.choice(inner, len(inner)))
    return np.concatenate(drawn)


def _kept(values, keep: np.ndarray) -> np.ndarray | None:
    """``values`` as an array restricted to the rows kept for the fit (None stays None)."""
    return None if values is None else np.asarray(values)[keep]


def fit_qid(n_params, tokens, bits, qid, factors: tuple[str, ...] = ("alpha", "beta", "gamma"),
            n_boot: int = 1000, seed: int = 0, groups=None, subgroups=None) -> Fit:
    """Fit QiD = k D^beta / (N^alpha P^gamma) (or the law restricted to ``factors``) with bootstrap 95% intervals.

    ``groups`` (e.g. the member of each point) and ``subgroups`` (its checkpoint) make the bootstrap
    resample whole members and whole checkpoints; without them it resamples points.
    """
    unknown = set(factors) - {"alpha", "beta", "gamma"}
    if unknown or not factors:
        raise ValueError(f"factors must be a non-empty subset of ('alpha', 'beta', 'gamma'); got {factors}")
    keep = np.asarray(qid, dtype=float) > 0
    groups, subgroups = _kept(groups, keep), _kept(subgroups, keep)
    n, d, p, y, dropped = _fit_points(n_params, tokens, bits, qid)
    if len(y) <= len(factors) + 1:
        raise ValueError(f"only {len(y)} points with QiD > 0: too few to fit {len(factors) + 1} parameters")
    x, log_y = _design(n, d, p, factors), np.log(y)
    params = _solve(x, log_y, factors)
    predicted_log = x @ np.array([np.log(params["k"])] + [params[f] for f in factors])
    rng = np.random.default_rng(seed)
    draws = {name: [] for name in params}
    for _ in range(n_boot):
        idx = resample_groups(rng, groups, subgroups, len(y))
        if np.linalg.matrix_rank(x[idx]) < x.shape[1]:
            continue
        for name, value in _solve(x[idx], log_y[idx], factors).items():
            draws[name].append(value)
    intervals = {name: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for name, v in draws.items() if v}
    return Fit(params=params, intervals=intervals, r2_log=_r2(log_y, predicted_log),
               r2_qid=_r2(y, np.exp(predicted_log)), n_points=int(len(y)), n_dropped=dropped)


def fit_one_factor(n_params, tokens, bits, qid, factor: str, n_boot: int = 1000, seed: int = 0,
                   groups=None, subgroups=None) -> Fit:
    """Exponent of one factor with the other two held fixed: log QiD = c_group + exponent * log(factor).

    Each combination of the other two factors gets its own intercept (so N and P do not leak into
    beta, say); ``params`` holds only the exponent, and R^2 is of the whole model in log space.
    """
    if factor not in ("alpha", "beta", "gamma"):
        raise ValueError(f"factor={factor!r} must be 'alpha', 'beta' or 'gamma'")
    keep = np.asarray(qid, dtype=float) > 0
    groups, subgroups = _kept(groups, keep), _kept(subgroups, keep)
    n, d, p, y, dropped = _fit_points(n_params, tokens, bits, qid)
    column = {"beta": np.log(d), "alpha": -np.log(n), "gamma": -np.log(p)}[factor]
    others = {"beta": (n, p), "alpha": (d, p), "gamma": (n, d)}[factor]
    _, group = np.unique(np.column_stack(others), axis=0, return_inverse=True)
    group = group.ravel()
    x = np.column_stack([np.eye(group.max() + 1)[group], column])
    if len(y) <= x.shape[1] or np.linalg.matrix_rank(x) < x.shape[1]:
        raise ValueError(f"{factor}: {len(y)} points with QiD > 0 in {group.max() + 1} groups do not vary the factor enough to fit it")
    log_y = np.log(y)
    coef, *_ = np.linalg.lstsq(x, log_y, rcond=None)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        idx = resample_groups(rng, groups, subgroups, len(y))
        if np.linalg.matrix_rank(x[idx]) == x.shape[1]:
            draws.append(np.linalg.lstsq(x[idx], log_y[idx], rcond=None)[0][-1])
    interval = {factor: (float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5)))} if draws else {}
    return Fit(params={factor: float(coef[-1])}, intervals=interval, r2_log=_r2(log_y, x @ coef),
               n_points=int(len(y)), n_dropped=dropped)


def fit_per_bits(n_params, tokens, bits, qid, n_boot: int = 500, seed: int = 0, groups=None,
                 subgroups=None) -> dict[int, Fit]:
    """Separate fits of QiD = k_P D^beta / N^alpha for each bit width P (bootstrap grouped as :func:`fit_qid`)."""
    bits = np.asarray(bits)
    n, d, y = np.asarray(n_params), np.asarray(tokens), np.asarray(qid)
    fits = {}
    for b in np.unique(bits):
        rows = bits == b
        fits[int(b)] = fit_qid(n[rows], d[rows], bits[rows], y[rows], ("alpha", "beta"), n_boot, seed,
                               _kept(groups, rows), _kept(subgroups, rows))
    return fits


def clustered_family(rng: np.random.Generator, law: dict[str, float], sizes, tokens, bits=(2, 3, 4),
                     member_sd: float = 0.3, slope_sd: float = 0.05, checkpoint_sd: float = 0.15,
                     noise_sd: float = 0.05) -> dict[str, np.ndarray]:
    """A simulated family whose points share errors, QiD = law x exp(error), for testing intervals.

    Each member gets its own log offset and token slope (around log 1e8), each checkpoint one error
    shared by its bit widths, each point its own. Returns arrays n, d, p, qid, member, step.
    """
    rows = []
    for member, n in enumerate(sizes):
        offset, slope = member_sd * rng.standard_normal(), slope_sd * rng.standard_normal()
        for step, d in enumerate(tokens):
            shared = checkpoint_sd * rng.standard_normal()
            for p in bits:
                error = offset + slope * np.log(d / 1e8) + shared + noise_sd * rng.standard_normal()
                rows.append((n, d, p, float(qid_law(n, d, p, **law)) * np.exp(error), member, step))
    return dict(zip(("n", "d", "p", "qid", "member", "step"), (np.array(c) for c in zip(*rows))))
