"""A world where the truth is known: models with an exam skill and a clinical skill correlated rho, and 2PL items.

Each simulated model has abilities (exam, clinical) ~ bivariate normal with unit variances and
correlation ``rho``; the exam benchmark's items load on the exam skill, the criterion's (the matched
real cases) on the clinical skill, each item a 2PL item (:mod:`.irt`). The chapter asks of this world
what it cannot ask of real data: does the toolkit recover rho and the item parameters, how many models
and items does it take to tell rho < 1 from rho = 1, and how often are two models ranked the other way
round? For true abilities the last has a closed form: for a bivariate normal, Kendall's tau is
(2/pi) arcsin(rho) (Greiner's relation), so a pair is inverted with probability 1/2 - arcsin(rho)/pi.

rho is estimated by Spearman's (1904) correction for attenuation, r(exam total, criterion total) /
sqrt(alpha_exam alpha_criterion), with a percentile bootstrap interval over models; "rho < 1 is
detected" when the interval's upper end is below 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats import mean_interval, rate_interval
from .criterion import contingency, item_criterion, odds_ratio
from .irt import fit_2pl, probability
from .reliability import batched_alpha


def abilities(n_models: int, rho: float, rng: np.random.Generator) -> np.ndarray:
    """[n_models, 2] (exam, clinical) abilities, standard bivariate normal with correlation ``rho``."""
    if not -1 <= rho <= 1:
        raise ValueError(f"rho must lie in [-1, 1], got {rho}")
    z = rng.standard_normal((n_models, 2))
    return np.column_stack([z[:, 0], rho * z[:, 0] + np.sqrt(1 - rho ** 2) * z[:, 1]])


def item_bank(n_items: int, rng: np.random.Generator, discrimination: tuple[float, float] = (0.5, 2.0),
              difficulty_sd: float = 1.0) -> pd.DataFrame:
    """``n_items`` 2PL items: discrimination uniform on the range given, difficulty normal(0, sd)."""
    return pd.DataFrame({"discrimination": rng.uniform(*discrimination, n_items),
                         "difficulty": rng.normal(0, difficulty_sd, n_items)})


def answer(theta: np.ndarray, items: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """[models, items] 0/1 responses drawn from the 2PL."""
    p = probability(items.discrimination.to_numpy(), items.difficulty.to_numpy(), theta)
    return (rng.random(p.shape) < p).astype(float)


def world(n_models: int, n_exam: int, n_criterion: int, rho: float, seed: int = 0) -> dict:
    """One simulated world: abilities, both item banks and both response matrices."""
    rng = np.random.default_rng(seed)
    theta = abilities(n_models, rho, rng)
    exam_items, criterion_items = item_bank(n_exam, rng), item_bank(n_criterion, rng)
    return {"theta": theta, "exam_items": exam_items, "criterion_items": criterion_items,
            "exam": answer(theta[:, 0], exam_items, rng), "criterion": answer(theta[:, 1], criterion_items, rng)}


def _batched_correlation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row pair of [B, n] arrays."""
    xc, yc = x - x.mean(-1, keepdims=True), y - y.mean(-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (xc * yc).sum(-1) / np.sqrt((xc ** 2).sum(-1) * (yc ** 2).sum(-1))


def disattenuated(exam: np.ndarray, criterion: np.ndarray) -> np.ndarray:
    """Correction for attenuation of each stacked pair [B, models, items]: r(totals) / sqrt(alpha alpha)."""
    r = _batched_correlation(exam.sum(-1), criterion.sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return r / np.sqrt(batched_alpha(exam) * batched_alpha(criterion))


def estimate_rho(exam: np.ndarray, criterion: np.ndarray, resamples: int = 500, seed: int = 0,
                 level: float = 0.95) -> dict:
    """Observed and disattenuated correlation of the two tests over models, with a bootstrap interval over models
    (resamples in which a test's alpha is not positive have no estimate and are left out)."""
    n = exam.shape[0]
    draws = np.random.default_rng([seed, 1]).integers(0, n, (resamples, n))  # not the stream that made the world
    boot = disattenuated(exam[draws], criterion[draws])
    tail = (1 - level) / 2
    low, high = np.nanquantile(boot, [tail, 1 - tail])
    return {"observed_r": float(_batched_correlation(exam.sum(-1), criterion.sum(-1))),
            "alpha_exam": float(batched_alpha(exam[None])[0]), "alpha_criterion": float(batched_alpha(criterion[None])[0]),
            "rho_hat": float(disattenuated(exam[None], criterion[None])[0]), "rho_lo": float(low), "rho_hi": float(high),
            "detected": bool(high < 1)}


def rho_recovery(rhos, n_models: int, n_items: int, repetitions: int, resamples: int = 300, seed: int = 0
                 ) -> pd.DataFrame:
    """Per true rho: the mean estimate over repeated worlds, its t-interval, the interval coverage and detection rate."""
    rows = []
    for rho in rhos:
        runs = [_one_estimate(n_models, n_items, rho, seed + 1000 * r, resamples) for r in range(repetitions)]
        table = pd.DataFrame(runs)
        covered = ((table.rho_lo <= rho) & (rho <= table.rho_hi)).sum()
        detected = int(table.detected.sum())
        low, high = rate_interval(detected, repetitions)
        rows.append({"rho": rho, "models": n_models, "items": n_items, "worlds": repetitions,
                     "rho_hat": table.rho_hat.mean(), "rho_hat_ci": mean_interval(table.rho_hat),
                     "observed_r": table.observed_r.mean(), "coverage": covered / repetitions,
                     "detected": detected / repetitions, "detected_lo": low, "detected_hi": high})
    return pd.DataFrame(rows)


def _one_estimate(n_models: int, n_items: int, rho: float, seed: int, resamples: int) -> dict:
    """The rho estimate of one simulated world."""
    w = world(n_models, n_items, n_items, rho, seed)
    return estimate_rho(w["exam"], w["criterion"], resamples, seed)


def detection_grid(rho: float, models: tuple[int, ...], items: tuple[int, ...], repetitions: int,
                   resamples: int = 300, seed: int = 0) -> pd.DataFrame:
    """Share of worlds (with exact interval) in which rho < 1 is detected, per number of models and items."""
    cells = [rho_recovery([rho], n_models, n_items, repetitions, resamples, seed) for n_models in models
             for n_items in items]
    return pd.concat(cells, ignore_index=True)[["rho", "models", "items", "worlds", "detected", "detected_lo",
                                                 "detected_hi"]]


def inversion_probability(rho) -> np.ndarray:
    """Chance that two models drawn from the bivariate normal are ordered oppositely by the two skills."""
    return 0.5 - np.arcsin(np.asarray(rho, dtype=float)) / np.pi


def inverted_share(products: np.ndarray) -> float:
    """Share of pairs ordered oppositely among pairs both scores order strictly (ties are not inversions)."""
    return float((products < 0).sum() / max(int((products != 0).sum()), 1))


def inversion_table(rhos, n_models: int, n_items: int, repetitions: int, seed: int = 0) -> pd.DataFrame:
    """Per rho: the share of model pairs the exam score orders against true clinical skill and against the
    criterion score, beside the closed form for true abilities."""
    rows = []
    i, j = np.triu_indices(n_models, 1)
    for rho in rhos:
        by_truth, by_score, by_skill = [], [], []
        for r in range(repetitions):
            w = world(n_models, n_items, n_items, rho, seed + 1000 * r)
            exam, criterion, theta = w["exam"].sum(1), w["criterion"].sum(1), w["theta"]
            flip = lambda x, y: inverted_share((x[i] - x[j]) * (y[i] - y[j]))  # noqa: E731
            by_skill.append(flip(theta[:, 0], theta[:, 1]))
            by_truth.append(flip(exam, theta[:, 1]))
            by_score.append(flip(exam, criterion))
        rows.append({"rho": rho, "closed_form": float(inversion_probability(rho)),
                     "skills": np.mean(by_skill), "skills_ci": mean_interval(by_skill),
                     "exam_vs_clinical_skill": np.mean(by_truth), "exam_vs_criterion_score": np.mean(by_score),
                     "exam_vs_criterion_score_ci": mean_interval(by_score)})
    return pd.DataFrame(rows)


def parameter_recovery(n_models: int, n_items: int, repetitions: int, seed: int = 0) -> pd.DataFrame:
    """2PL fitted to simulated exam responses, against the true parameters: correlation, RMSE and bias per repetition."""
    rows = []
    for r in range(repetitions):
        w = world(n_models, n_items, 1, 1.0, seed + 1000 * r)
        fit = fit_2pl(w["exam"])
        truth = {"discrimination": w["exam_items"].discrimination.to_numpy(),
                 "difficulty": w["exam_items"].difficulty.to_numpy(), "ability": w["theta"][:, 0]}
        estimate = {"discrimination": fit.items.discrimination.to_numpy(),
                    "difficulty": fit.items.difficulty.to_numpy(), "ability": fit.ability}
        for name in truth:
            error = estimate[name] - truth[name]
            rows.append({"repetition": r, "parameter": name, "correlation": float(np.corrcoef(estimate[name],
                                                                                               truth[name])[0, 1]),
                         "rmse": float(np.sqrt((error ** 2).mean())), "bias": float(error.mean()),
                         "converged": fit.converged})
    return pd.DataFrame(rows)


def recovery_summary(recovery: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% t-interval over repetitions of each recovery measure, per parameter."""
    out = recovery.groupby("parameter", sort=False)[["correlation", "rmse", "bias"]].agg(["mean", mean_interval])
    out.columns = [f"{m}{'' if s == 'mean' else '_ci'}" for m, s in out.columns]
    return out.reset_index().assign(repetitions=recovery.repetition.nunique())


def matched_world(n_models: int, n_items: int, rho: float, seed: int = 0) -> dict:
    """A world whose criterion items are the exam items' twins: real case i has exam item i's discrimination and
    difficulty (the best a matched design can do), answered with the clinical skill."""
    rng = np.random.default_rng(seed)
    theta = abilities(n_models, rho, rng)
    items = item_bank(n_items, rng)
    return {"theta": theta, "exam_items": items, "criterion_items": items,
            "exam": answer(theta[:, 0], items, rng), "criterion": answer(theta[:, 1], items, rng)}


def matched_criterion(rhos, n_models: int, n_items: int, resamples: int = 500, seed: int = 0,
                      level: float = 0.95) -> pd.DataFrame:
    """The paper's matched design in the simulated world, each real case as hard as its exam item: odds ratio
    (bootstrap interval over models, whose pairs are not independent), phi and AUC of exam correctness
    predicting case correctness, pooled over models and pairs."""
    rows = []
    for rho in rhos:
        w = matched_world(n_models, n_items, rho, seed)
        exam, case = w["exam"].astype(bool), w["criterion"].astype(bool)
        draws = np.random.default_rng([seed, 1]).integers(0, n_models, (resamples, n_models))
        boot = [odds_ratio(contingency(exam[d].ravel(), case[d].ravel()))[0] for d in draws]
        low, high = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
        rows.append({"rho": rho, **item_criterion(exam.ravel(), case.ravel()), "odds_ratio_lo": float(low),
                     "odds_ratio_hi": float(high), "exam_accuracy": float(exam.mean()),
                     "criterion_accuracy": float(case.mean())})
    return pd.DataFrame(rows)


def mtmm_world(n_models: int, rho: float, method_variance: float, noise_variance: float = 0.2, seed: int = 0
               ) -> pd.DataFrame:
    """Scores of simulated models on two traits (exam, clinical skill; correlation ``rho``) each measured by two
    methods (multiple choice, free text); a method factor shared by both traits adds ``method_variance``."""
    rng = np.random.default_rng(seed)
    theta = abilities(n_models, rho, rng)
    method = rng.standard_normal((n_models, 2)) * np.sqrt(method_variance)
    columns = {}
    for t, trait in enumerate(("exam_skill", "clinical_skill")):
        for m, name in enumerate(("multiple_choice", "free_text")):
            columns[(trait, name)] = theta[:, t] + method[:, m] + rng.standard_normal(n_models) * np.sqrt(noise_variance)
    return pd.DataFrame(columns)
