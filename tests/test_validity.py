"""Chapter 9's psychometric toolkit against textbook values, reference libraries and brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from support.profiles import resolve
from support.validity import content, criterion, factor, irt, published, reliability, simulate, study

# ---------------------------------------------------------------- reliability


def test_alpha_of_identical_items_is_one_and_matches_pingouin():
    rng = np.random.default_rng(0)
    column = rng.integers(0, 2, 30).astype(float)
    assert reliability.cronbach_alpha(np.column_stack([column] * 5)) == pytest.approx(1.0)
    pingouin = pytest.importorskip("pingouin")
    scores = (rng.random((40, 12)) < 0.3 + 0.4 * rng.random((40, 1))).astype(float)
    expected = pingouin.cronbach_alpha(pd.DataFrame(scores))[0]
    assert reliability.cronbach_alpha(scores) == pytest.approx(expected, abs=1e-10)


def test_alpha_by_hand_and_bad_input():
    x = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 0, 0]], dtype=float)
    item_var, total_var = x.var(0, ddof=1).sum(), x.sum(1).var(ddof=1)
    assert reliability.cronbach_alpha(x) == pytest.approx(1.5 * (1 - item_var / total_var))
    with pytest.raises(ValueError, match="missing"):
        reliability.cronbach_alpha(np.array([[1.0, np.nan], [0.0, 1.0]]))


def test_spearman_brown_and_split_half():
    assert reliability.spearman_brown(0.5) == pytest.approx(2 / 3)
    assert np.isnan(reliability.spearman_brown(-1.0))
    assert reliability.spearman_brown(0.5, 3) == pytest.approx(0.75)
    x = np.array([[1, 1, 1, 1], [1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 0, 1], [0, 1, 0, 0]], dtype=float)
    odd, even = x[:, ::2].sum(1), x[:, 1::2].sum(1)
    r = np.corrcoef(odd, even)[0, 1]
    assert reliability.split_half(x)["reliability"] == pytest.approx(2 * r / (1 + r))


def test_cohen_kappa_by_hand_and_retest_table():
    a = np.array([1, 1, 0, 0, 1, 0, 1, 1])
    b = np.array([1, 0, 0, 0, 1, 1, 1, 1])
    p_o = 6 / 8
    p_e = (5 / 8) * (5 / 8) + (3 / 8) * (3 / 8)
    assert reliability.cohen_kappa(a, b) == pytest.approx((p_o - p_e) / (1 - p_e))
    assert reliability.cohen_kappa(a, a) == pytest.approx(1.0)
    rows = pd.DataFrame({"benchmark": "x", "administration": np.repeat(["p", "q"], 8), "item": np.tile(range(8), 2),
                         "correct": np.concatenate([a, b])})
    table = reliability.retest_table(rows)
    assert table.agreement.iloc[0] == pytest.approx(p_o)
    assert table.kappa.iloc[0] == pytest.approx(reliability.cohen_kappa(a, b))


def test_item_total_matches_a_loop():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2, (25, 6)).astype(float)
    expected = [np.corrcoef(x[:, i], x.sum(1) - x[:, i])[0, 1] for i in range(6)]
    assert np.allclose(reliability.item_total(x), expected)


# ---------------------------------------------------------------- IRT


def test_2pl_recovers_simulated_parameters():
    rng = np.random.default_rng(0)
    items = simulate.item_bank(30, rng)
    theta = rng.standard_normal(1500)
    fit = irt.fit_2pl(simulate.answer(theta, items, rng))
    assert fit.converged
    assert np.corrcoef(fit.items.difficulty, items.difficulty)[0, 1] > 0.97
    assert np.corrcoef(fit.items.discrimination, items.discrimination)[0, 1] > 0.85
    assert np.sqrt(np.mean((fit.items.difficulty - items.difficulty) ** 2)) < 0.25
    assert np.sqrt(np.mean((fit.items.discrimination - items.discrimination) ** 2)) < 0.25
    assert np.corrcoef(fit.ability, theta)[0, 1] > 0.9


def test_2pl_agrees_with_girth():
    girth = pytest.importorskip("girth")
    rng = np.random.default_rng(3)
    items = simulate.item_bank(20, rng)
    responses = simulate.answer(rng.standard_normal(800), items, rng)
    ours = irt.fit_2pl(responses, prior_sd=1e4)  # flat prior: the same likelihood as girth's
    theirs = girth.twopl_mml(responses.T.astype(int))
    assert np.abs(ours.items.difficulty - theirs["Difficulty"]).max() < 0.01
    assert np.abs(ours.items.discrimination - theirs["Discrimination"]).max() < 0.01


def test_2pl_handles_missing_responses_and_information_by_hand():
    rng = np.random.default_rng(4)
    items = simulate.item_bank(10, rng)
    responses = simulate.answer(rng.standard_normal(600), items, rng)
    responses[rng.random(responses.shape) < 0.2] = np.nan
    fit = irt.fit_2pl(responses)
    assert np.corrcoef(fit.items.difficulty, items.difficulty)[0, 1] > 0.9
    p = 1 / (1 + np.exp(-1.5 * (0.5 - 0.2)))
    assert irt.test_information(np.array([1.5]), np.array([0.2]), np.array([0.5]))[0] == pytest.approx(
        1.5 ** 2 * p * (1 - p))
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        irt.fit_2pl(np.full((3, 2), 0.5))


# ---------------------------------------------------------------- criterion


def test_rank_agreement_matches_scipy_and_brute_force():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(12), rng.standard_normal(12)
    out = criterion.rank_agreement(x, y, resamples=200)
    assert out["spearman"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert out["kendall"] == pytest.approx(stats.kendalltau(x, y).statistic)
    loop = sum(np.sign(x[i] - x[j]) * np.sign(y[i] - y[j]) < 0 for i, j in itertools.combinations(range(12), 2))
    assert out["inversions"] == loop
    assert out["kendall"] == pytest.approx(1 - 2 * loop / out["pairs"])  # no ties
    assert out["kendall_lo"] <= out["kendall"] <= out["kendall_hi"]


def test_item_criterion_by_hand():
    bench = np.array([1] * 30 + [0] * 20, dtype=bool)
    crit = np.array([1] * 20 + [0] * 10 + [1] * 5 + [0] * 15, dtype=bool)
    table = criterion.contingency(bench, crit)
    assert table.tolist() == [[20, 10], [5, 15]]
    ratio, low, high = criterion.odds_ratio(table)
    assert ratio == pytest.approx(20 * 15 / (10 * 5))
    half = 1.959964 * np.sqrt(1 / 20 + 1 / 10 + 1 / 5 + 1 / 15)
    assert low == pytest.approx(6.0 * np.exp(-half), rel=1e-5) and high == pytest.approx(6.0 * np.exp(half), rel=1e-5)
    assert criterion.phi(table) == pytest.approx(np.corrcoef(bench, crit)[0, 1])
    sensitivity, specificity = 20 / 25, 15 / 25
    assert criterion.item_criterion(bench, crit)["auc"] == pytest.approx((sensitivity + specificity) / 2)


def test_auc_matches_a_pair_loop():
    rng = np.random.default_rng(2)
    scores, labels = rng.integers(0, 5, 40).astype(float), rng.random(40) < 0.4
    pos, neg = scores[labels], scores[~labels]
    expected = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert criterion.auc(scores, labels) == pytest.approx(expected)


# ---------------------------------------------------------------- content


def test_blueprint_check_by_hand():
    counts = pd.Series({"diagnosis": 60, "treatment": 30, "prognosis": 10})
    target = pd.Series({"diagnosis": 1 / 3, "treatment": 1 / 3, "prognosis": 1 / 3})
    out = content.blueprint_check(counts, target)
    assert out["tvd"] == pytest.approx(0.5 * (abs(0.6 - 1 / 3) + abs(0.3 - 1 / 3) + abs(0.1 - 1 / 3)))
    expected = 100 / 3
    assert out["chi2"] == pytest.approx(sum((c - expected) ** 2 / expected for c in (60, 30, 10)))
    assert out["uncovered"] == []
    assert content.blueprint_check(pd.Series({"diagnosis": 5, "treatment": 0}),
                                   pd.Series({"diagnosis": 0.5, "treatment": 0.5}))["uncovered"] == ["treatment"]


def test_task_type_reads_the_last_sentence():
    stem = "A 45-year-old man has chest pain for two hours. Which of the following is the most likely diagnosis?"
    assert content.task_type(stem) == "diagnosis"
    assert content.task_type("He is stable. What is the most appropriate next step in management?") == "treatment"
    assert content.task_type("Which of the following is the mechanism of action of this drug?") == "mechanism"
    assert content.task_type("Which vitamin is fat soluble?") == content.OTHER
    assert content.task_type("Cultures grow E. coli. Which of the following best explains these findings?") == "mechanism"
    assert content.last_sentence("He saw Dr. Lee. What is the next step?") == "What is the next step?"
    assert content.last_sentence("Seen by Dr. Lee today") == "Seen by Dr. Lee today"


# ---------------------------------------------------------------- structure


def test_parallel_analysis_finds_one_factor_in_one_factor_data():
    rng = np.random.default_rng(0)
    general = rng.standard_normal(200)
    table = pd.DataFrame({f"b{i}": general + 0.5 * rng.standard_normal(200) for i in range(6)})
    pa = factor.parallel_analysis(table, simulations=100)
    assert pa.keep.sum() == 1
    loadings = factor.factor_loadings(table, 1)
    assert (loadings.factor_1 > 0.8).all()  # true loading 1 / sqrt(1.25) = 0.89


def test_principal_axis_agrees_with_maximum_likelihood_factor_analysis():
    from sklearn.decomposition import FactorAnalysis

    rng = np.random.default_rng(5)
    f = rng.standard_normal((2000, 2))
    true = np.array([[0.9, 0.0], [0.8, 0.1], [0.7, 0.0], [0.0, 0.8], [0.1, 0.7], [0.0, 0.9]])
    data = f @ true.T + rng.standard_normal((2000, 6)) * np.sqrt(1 - (true ** 2).sum(1))
    table = pd.DataFrame(data, columns=[f"b{i}" for i in range(6)])
    ours = factor.factor_loadings(table, 2).drop(columns="communality").to_numpy()
    z = (data - data.mean(0)) / data.std(0)
    ml = FactorAnalysis(2, rotation="varimax").fit(z).components_.T
    ml = ml * np.sign(ml.sum(0))
    order = [int(np.argmax(np.abs(np.corrcoef(ours[:, k], ml.T)[0, 1:]))) for k in range(2)]
    assert np.abs(ours - ml[:, order]).max() < 0.05
    assert np.abs(np.sort(np.abs(ours), 1) - np.sort(np.abs(true), 1)).max() < 0.08


def test_mtmm_recovers_the_campbell_fiske_pattern():
    scores = simulate.mtmm_world(40000, rho=0.0, method_variance=0.5, noise_variance=0.2, seed=0)
    _, cells = factor.mtmm(scores)
    mean = factor.mtmm_summary(cells).set_index("kind")["mean"]
    # trait 1, method 0.5, noise 0.2: validity 1/1.7, heterotrait-monomethod 0.5/1.7, heteromethod 0
    assert mean["validity"] == pytest.approx(1 / 1.7, abs=0.03)
    assert mean["heterotrait_monomethod"] == pytest.approx(0.5 / 1.7, abs=0.03)
    assert mean["heterotrait_heteromethod"] == pytest.approx(0.0, abs=0.04)


def test_convergent_discriminant_of_a_two_construct_table():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(300), rng.standard_normal(300)
    table = pd.DataFrame({"m1": a + 0.3 * rng.standard_normal(300), "m2": a + 0.3 * rng.standard_normal(300),
                          "g1": b + 0.3 * rng.standard_normal(300), "g2": b + 0.3 * rng.standard_normal(300)})
    out = factor.convergent_discriminant(table, {"m1": "med", "m2": "med", "g1": "gen", "g2": "gen"})
    assert (out.convergent > 0.8).all() and (out.discriminant.abs() < 0.2).all()


# ---------------------------------------------------------------- simulation


def test_inversions_of_true_skills_match_the_closed_form():
    rows = simulate.inversion_table([0.0, 0.5, 0.9], n_models=60, n_items=10, repetitions=30)
    assert np.allclose(rows.skills, rows.closed_form, atol=0.03)
    assert simulate.inversion_probability(1.0) == pytest.approx(0.0)
    assert simulate.inversion_probability(0.0) == pytest.approx(0.5)


def test_disattenuated_correlation_recovers_rho():
    table = simulate.rho_recovery([0.5], n_models=300, n_items=60, repetitions=8, resamples=100)
    assert table.rho_hat.iloc[0] == pytest.approx(0.5, abs=0.06)
    assert table.observed_r.iloc[0] < 0.47  # attenuated: alpha is about 0.9 per test at these sizes
    assert table.coverage.iloc[0] >= 0.75


def test_rho_one_is_rarely_called_below_one():
    table = simulate.rho_recovery([1.0], n_models=100, n_items=40, repetitions=20, resamples=200)
    assert table.detected.iloc[0] <= 0.15


# ---------------------------------------------------------------- published data


def test_every_published_score_is_cited_and_in_range():
    long = published.scores(set_aside=())
    sources = published.sources()
    assert set(long.source_id) <= set(sources.source_id)
    assert sources.set_index("source_id").loc[sorted(set(long.source_id)), "location"].str.len().min() > 10
    assert long.score.between(0, 100).all()
    assert not long.duplicated(["model", "benchmark"]).any()
    assert long.model.nunique() >= 8 and set(long.construct) == {"medical", "general"}


def test_hub_rows_become_items_in_both_layouts():
    medqa = {"question": "Q?", "options": {"A": "x", "B": "y", "C": "z", "D": "w"}, "answer_idx": "C"}
    assert study.hub_row_item(medqa)["target_scores"] == {"x": 0, "y": 0, "z": 1, "w": 0}
    medmcqa = {"question": "Q2?", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 1}
    assert study.hub_row_item(medmcqa)["target_scores"] == {"a": 0, "b": 1, "c": 0, "d": 0}
    with pytest.raises(ValueError, match="layout"):
        study.hub_row_item({"question": "?"})
    with pytest.raises(ValueError, match="hub_datasets"):
        study.parse_hub_dataset("NoSuch=foo:test")


def test_hub_items_from_a_saved_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = [{"question": f"Question {i}?", "options": {"A": f"a{i}", "B": f"b{i}"}, "answer_idx": "B"}
            for i in range(5)]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "medqa"))
    items = study.hub_items("MedQA", str(tmp_path / "medqa"), "test", 3)
    assert len(items) == 3 and (items.benchmark == "MedQA").all()
    assert all(max(t, key=t.get).startswith("b") for t in items.target_scores)


def test_params_resolve_in_every_profile():
    for profile in ("smoke", "local", "paper"):
        cfg = resolve(profile, study.PARAMS)
        assert set(cfg.benchmarks) <= set(study.responses.BENCHMARKS)


# ---------------------------------------------------------------- the paper path, on local stand-ins

def _word_tokenizer(texts):
    """A word-level fast tokenizer over the words of ``texts`` and the option letters."""
    from tokenizers import Tokenizer, models as token_models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for t in texts for w in t.replace("\n", " ").split()} | set("A B C D E . : Q Question Answer".split()))
    vocab = {"<pad>": 0, "<unk>": 1, "<eos>": 2, **{w: i + 3 for i, w in enumerate(words)}}
    backend = Tokenizer(token_models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>", eos_token="<eos>")


class _AlwaysLetterA(torch.nn.Module):
    """A stand-in LM whose next token is always the letter A (to check how letters map back to options)."""

    def __init__(self, vocab_size: int, letter_a: int):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.vocab_size, self.letter_a = vocab_size, letter_a

    def forward(self, input_ids):
        logits = torch.zeros(*input_ids.shape, self.vocab_size)
        logits[..., self.letter_a] = 5.0
        return type("Out", (), {"logits": logits})()


def test_lettered_choice_maps_letters_back_to_options():
    from support.models import lettered_choice

    examples = [{"input": "q one", "target_scores": {"x": 0, "y": 1, "z": 0}},
                {"input": "q two", "target_scores": {"u": 1, "v": 0}}]
    tokenizer = _word_tokenizer(["q one two x y z u v"])
    model = _AlwaysLetterA(len(tokenizer), tokenizer.convert_tokens_to_ids("A"))
    orders = [np.array([2, 0, 1]), np.array([1, 0])]
    scores = lettered_choice(model, tokenizer, examples, orders)
    assert [int(np.argmax(s)) for s in scores] == [2, 1]  # the option shown as A, in target_scores order


def test_the_paper_path_runs_on_a_saved_model_and_saved_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    from transformers import AutoModelForCausalLM, LlamaConfig

    medqa = [{"question": f"patient {i} has pain what next", "options": {"A": f"rest{i}", "B": f"drug{i}",
                                                                           "C": f"scan{i}", "D": f"wait{i}"},
              "answer_idx": "B"} for i in range(4)]
    medmcqa = [{"question": f"which nerve {i}", "opa": f"n{i}a", "opb": f"n{i}b", "opc": f"n{i}c", "opd": f"n{i}d",
                "cop": 2} for i in range(4)]
    datasets.Dataset.from_list(medqa).save_to_disk(str(tmp_path / "medqa"))
    datasets.DatasetDict({"validation": datasets.Dataset.from_list(medmcqa)}).save_to_disk(str(tmp_path / "medmcqa"))
    texts = [r["question"] + " " + " ".join(r["options"].values()) for r in medqa]
    texts += [" ".join(str(v) for v in r.values()) for r in medmcqa]
    tokenizer = _word_tokenizer(texts)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, pad_token_id=0, eos_token_id=2)
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / "lm")
    tokenizer.save_pretrained(tmp_path / "lm")
    cfg = resolve("paper", study.PARAMS, lms=[str(tmp_path / "lm")], device="cpu", benchmarks=["MedQA", "MedMCQA"],
                  medqa_items=3, items_per_benchmark=3, irt_min_examinees=2, resamples=100,
                  hub_datasets=f"MedQA={tmp_path / 'medqa'}:test,MedMCQA={tmp_path / 'medmcqa'}:validation")
    assert study.models(cfg) == []
    items = study.load_items(cfg)
    assert items.groupby("benchmark").size().to_dict() == {"MedMCQA": 3, "MedQA": 3}
    outcomes = study.answer_all(items, cfg, "cpu", progress=False)
    assert len(outcomes) == 6 * len(cfg.administrations)
    keys = [int(np.argmax(list(t.values()))) for t in items.target_scores]
    first = outcomes[outcomes.administration == cfg.administrations[0]]
    assert (first.correct == (first.chosen == keys).astype(int)).all()
    accuracy = study.accuracy_table(outcomes)
    assert set(accuracy.chance.round(3)) == {0.25}
    reliable = study.real_reliability(outcomes, cfg)
    assert (reliable.examinees == len(cfg.administrations)).all()
    assert len(study.retest(outcomes)) == 2 * len(cfg.administrations) * (len(cfg.administrations) - 1) // 2


def test_matched_items_share_difficulty_and_rho_raises_the_association():
    table = simulate.matched_criterion([0.0, 1.0], n_models=200, n_items=40, resamples=100)
    world = simulate.matched_world(5, 7, 0.5)
    assert world["criterion_items"].equals(world["exam_items"])
    assert table.odds_ratio.iloc[0] > 1.2  # shared difficulty links the pairs even with unrelated skills
    assert table.odds_ratio.iloc[1] > table.odds_ratio_hi.iloc[0]
    assert (table.odds_ratio_lo < table.odds_ratio).all() and (table.odds_ratio < table.odds_ratio_hi).all()


def test_readings_follow_the_numbers():
    assert study.kappa_band(0.1) == "no agreement beyond chance" and study.kappa_band(0.65) == "substantial agreement"
    assert study.kappa_band(float("nan")) == "not measured"
    stable = study.retest_reading({"retest_wording_kappa": 0.7, "retest_order_kappa": 0.0, "real_above_chance": 0})
    assert "reliable without" in stable
    assert "reliable without" not in study.retest_reading({"retest_wording_kappa": 0.7, "retest_order_kappa": 0.0,
                                                           "real_above_chance": 2})
    assert "includes zero" in study.margin_reading({"margin_lo": -0.1})
    assert "excludes zero" in study.margin_reading({"margin_lo": 0.05})


def test_margin_interval_matches_a_direct_count():
    rng = np.random.default_rng(0)
    general = rng.standard_normal(40)
    table = pd.DataFrame({"MedQA_USMLE_4opt": general + rng.standard_normal(40), "PubMedQA": general + rng.standard_normal(40),
                          "MedMCQA_dev": general + rng.standard_normal(40), "GSM8K": rng.standard_normal(40),
                          "HellaSwag": rng.standard_normal(40)})
    out = study.margin_interval(table, resamples=200)
    corr = table.corr(method="spearman").to_numpy()
    within = np.mean([corr[0, 1], corr[0, 2], corr[1, 2]])
    across = corr[:3, 3:].mean()
    assert out["within_medical"] == pytest.approx(within) and out["medical_general"] == pytest.approx(across)
    assert out["margin_lo"] < out["margin"] < out["margin_hi"] and out["margin_lo"] > 0


def test_letter_bias_pools_the_lettered_administrations():
    letters = pd.DataFrame({"lm": "m", "administration": ["x"] * 2 + ["y"] * 2, "letter": ["A", "B"] * 2,
                            "answers": [1.0, 0.0, 0.5, 0.5], "keys": [0.2, 0.8, 0.4, 0.6]})
    accuracy = pd.DataFrame({"administration": ["letters, as listed", "likelihood, Q/A"], "benchmark": ["b", "b"],
                             "accuracy": [0.9, 0.3], "accuracy_lo": [0.8, 0.1],
                             "chance": [0.25, 0.25]})
    retested = pd.DataFrame({"first": ["likelihood, a"], "second": ["likelihood, b"], "kappa": [0.5],
                             "agreement": [0.8]})
    reliable = pd.DataFrame({"examinees": [4], "alpha": [0.2], "irt_fitted": [False]})
    numbers = study.real_numbers(accuracy, retested, letters, reliable)
    assert numbers["letter_top"] == "A" and numbers["letter_top_share"] == pytest.approx(0.75)
    assert numbers["letter_top_keys"] == pytest.approx(0.3) and numbers["real_above_chance"] == 0  # letters ignored
    assert numbers["real_best_accuracy"] == pytest.approx(0.3)


#: the harness's task keys and the ObsScaling files' columns -> this book's benchmark names
_OMLL_KEYS = {"medmcqa": "MedMCQA_dev", "medqa_4options": "MedQA_USMLE_4opt", "pubmedqa": "PubMedQA"}
_OBS_COLUMNS = {"MMLU": "MMLU_avg57", "ARC-C": "ARC_Challenge", "HellaSwag": "HellaSwag", "Winograd": "Winogrande",
                "Winogrande": "Winogrande", "TruthfulQA": "TruthfulQA_mc2", "GSM8K": "GSM8K",
                "XWinograd": "XWinograd", "HumanEval": "HumanEval"}


def test_every_leaderboard_and_obsscaling_score_is_in_the_evidence_file():
    import io
    import re
    from importlib import resources as package_files

    text = package_files.files("support.validity").joinpath("data", "published_evidence.md").read_text("utf-8")
    scores = published.scores(set_aside=())
    checked = 0
    for block in re.split(r"^### ", text, flags=re.M)[1:]:
        source = block.split()[0]
        rows = scores[scores.source_id == source]
        if source.startswith("OMLL"):
            found = {_OMLL_KEYS.get(key, "MMLU_" + key[5:]): 100 * float(acc) for key, acc in re.findall(
                r'"(medmcqa|medqa_4options|pubmedqa|mmlu_\w+)":\s*\{[^{}]*?"acc,none":\s*([0-9.]+)', block)}
            quoted = [found.get(r.benchmark, np.nan) for r in rows.itertuples()]
        elif source.startswith("OBS"):
            table = pd.read_csv(io.StringIO(re.search(r"```\n(.*?)```", block, re.S).group(1)))
            table = table.set_index(table.Model.str.split("/").str[-1].str.lower())
            column = {b: c for c, b in _OBS_COLUMNS.items() if c in table.columns}
            quoted = [100 * table.loc[r.model.split("/")[-1].lower(), column[r.benchmark]] for r in rows.itertuples()]
        else:
            continue
        assert np.allclose(np.array(quoted, dtype=float), rows.score.to_numpy(), atol=0.01), source
        checked += len(rows)
    assert checked >= 300  # all but the one set-aside model card's numbers


def test_split_half_skips_constant_halves_without_warnings():
    """A split with a constant half has no correlation: skipped, and NaN when every split is such, silently."""
    import warnings

    x = np.zeros((6, 4))
    x[:, 1], x[:, 3] = [0, 1, 0, 1, 1, 0], [1, 0, 1, 0, 0, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(reliability.split_half(x)["reliability"])  # odd/even: the even half is all zeros
        mixed = reliability.split_half(x, splits=5, seed=0)
    assert mixed["half_correlation"] == pytest.approx(-1.0)  # the splits that pair a varying item on each side
