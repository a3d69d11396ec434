"""Chapter 4's study pieces: Gemma Scope loading, skipping the first token, the grid's comparisons, the
transfer probe and the top features, on hand-made cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import f1_score

from support.profiles import resolve
from support.sae import classify, features, gemma_scope, study
from support.stats import mean_interval
from support.models.activations import TokenActivations


def _gemma_scope_arrays(d: int = 6, width: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    g = np.random.default_rng(seed)
    return {"W_enc": g.normal(size=(d, width)).astype(np.float32),
            "W_dec": g.normal(size=(width, d)).astype(np.float32),
            "b_enc": g.normal(size=width).astype(np.float32), "b_dec": g.normal(size=d).astype(np.float32),
            "threshold": g.uniform(0.1, 1.0, size=width).astype(np.float32)}


def test_a_gemma_scope_file_saved_locally_loads_as_the_same_function(tmp_path):
    arrays = _gemma_scope_arrays()
    for l0 in (22, 70, 176):
        folder = tmp_path / "layer_3" / "width_16k" / f"average_l0_{l0}"
        folder.mkdir(parents=True)
        np.savez(folder / "params.npz", **_gemma_scope_arrays(seed=l0 if l0 != 70 else 0))
    assert gemma_scope.closest_l0(gemma_scope.sae_folders(str(tmp_path)), 3, 16384, 64) == \
        "layer_3/width_16k/average_l0_70/params.npz"
    with pytest.raises(FileNotFoundError, match="layer 4, width 16k"):
        gemma_scope.closest_l0(gemma_scope.sae_folders(str(tmp_path)), 4, 16384, 64)
    sae = gemma_scope.gemma_scope_sae(str(tmp_path), 3, 16384, target_l0=64)
    x = torch.randn(5, 6)
    pre = x @ torch.tensor(arrays["W_enc"]) + torch.tensor(arrays["b_enc"])  # Gemma Scope reads x, not x - b_dec
    expected = pre * (pre > torch.tensor(arrays["threshold"]))
    with torch.no_grad():
        torch.testing.assert_close(sae.encode(x), expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(sae.decode(expected), expected @ torch.tensor(arrays["W_dec"])
                                   + torch.tensor(arrays["b_dec"]))


def test_skip_first_pools_every_token_but_each_texts_first():
    values = torch.tensor([[1.0, 0.0, 2.0], [3.0, -1.0, 0.5], [0.0, 4.0, 1.0], [2.0, 2.0, 0.0], [0.5, 0.0, 3.0],
                           [9.0, 9.0, 9.0]])
    acts = TokenActivations({0: values}, torch.tensor([0, 2, 5, 6]))  # the third text has one token
    assert features.text_features(acts, 0, "sum", skip_first=True).tolist() == [[3.0, -1.0, 0.5], [2.5, 2.0, 3.0],
                                                                                 [0.0, 0.0, 0.0]]
    torch.testing.assert_close(features.text_features(acts, 0, "mean", skip_first=True),
                               torch.tensor([[3.0, -1.0, 0.5], [1.25, 1.0, 1.5], [0.0, 0.0, 0.0]]))
    assert features.text_features(acts, 0, "max", skip_first=True).tolist() == [[3.0, -1.0, 0.5], [2.0, 2.0, 3.0],
                                                                                 [0.0, 0.0, 0.0]]
    assert features.text_features(acts, 0, "last", skip_first=True).tolist() == [[3.0, -1.0, 0.5], [0.5, 0.0, 3.0],
                                                                                  [9.0, 9.0, 9.0]]
    with pytest.raises(ValueError, match="no token rows"):
        features.text_features(TokenActivations({0: values[:2]}, torch.tensor([0, 1, 2])), 0, "sum", skip_first=True)


def test_bootstrap_f1_is_sklearns_with_an_interval_around_it():
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 0, 1, 2] * 5)
    predicted = np.array([0, 1, 1, 1, 0, 2, 1, 0, 1, 2] * 5)
    f1, low, high = classify.bootstrap_f1(labels, predicted, resamples=500, seed=0)
    assert f1 == pytest.approx(f1_score(labels, predicted, average="macro"))
    assert low < f1 < high
    assert classify.bootstrap_f1(labels, labels, resamples=50) == (1.0, 1.0, 1.0)
    # by hand: class 0 has precision 1, recall 1/2 (F1 2/3); class 1 precision 2/3, recall 1 (F1 4/5)
    assert classify.bootstrap_f1([0, 0, 1, 1], [0, 1, 1, 1], resamples=10)[0] == pytest.approx((2 / 3 + 4 / 5) / 2)


def test_the_ridge_probe_separates_a_separable_task_and_not_a_shuffled_one():
    g = np.random.default_rng(1)
    labels = np.repeat([0, 1, 2], 30)
    x = g.normal(size=(90, 40)) + 4 * np.eye(3, 40)[labels]
    folds = classify.cross_validated_f1(classify.ridge_probe, x, labels, folds=3)
    assert folds.macro_f1.min() > 0.9
    shuffled = classify.cross_validated_f1(classify.ridge_probe, x, g.permutation(labels), folds=3)
    assert shuffled.macro_f1.mean() < 0.6


def _runs() -> pd.DataFrame:
    rows = []
    for fold, (a, b, h, t) in enumerate([(0.8, 0.7, 0.75, 0.6), (0.9, 0.7, 0.8, 0.6), (0.85, 0.75, 0.8, 0.7)]):
        rows += [{"task": "toy", "source": "SAE", "layer": 1, "width": 8, "kind": "topk", "variant": "binary",
                  "fold": fold, "macro_f1": a},
                 {"task": "toy", "source": "SAE", "layer": 1, "width": 8, "kind": "topk", "variant": "sum",
                  "fold": fold, "macro_f1": b},
                 {"task": "toy", "source": "hidden", "layer": 1, "width": 0, "kind": "", "variant": "mean",
                  "fold": fold, "macro_f1": h},
                 {"task": "toy", "source": "TF-IDF", "layer": -1, "width": 0, "kind": "", "variant": "1-2-grams",
                  "fold": fold, "macro_f1": t}]
    return pd.DataFrame(rows)


def test_best_rows_and_paired_differences_by_hand():
    runs = _runs()
    best = study.best_rows(study.summarise_grid(runs))
    assert best.set_index("source").variant.to_dict() == {"SAE": "binary", "TF-IDF": "1-2-grams", "hidden": "mean"}
    versus = study.sae_vs_hidden(runs, best).iloc[0]
    gaps = np.array([0.05, 0.1, 0.05])
    assert versus.gap == pytest.approx(gaps.mean()) and versus.folds == 3
    assert versus.interval == pytest.approx(mean_interval(gaps))
    binary = study.variant_gaps(runs, "binary", "sum").iloc[0]
    assert binary.gap == pytest.approx(0.4 / 3) and binary.interval == pytest.approx(mean_interval(
        np.array([0.1, 0.2, 0.1])))
    tally = study.tally_gaps(pd.DataFrame({"gap": [0.1, -0.2, 0.01], "interval": [0.05, 0.1, 0.05]}))
    assert tally == {"comparisons": 3, "above": 1, "below": 1, "neither": 1, "mean gap": pytest.approx(-0.03)}


class _Digits:
    """A tokenizer stand-in whose token ids decode to themselves."""

    def decode(self, ids) -> str:
        return " ".join(str(int(i)) for i in ids)


def test_top_features_name_the_latent_that_marks_a_class_and_the_token_it_fires_on():
    g = torch.Generator().manual_seed(0)
    n_texts, length, width = 40, 5, 6
    values = torch.rand(n_texts * length, width, generator=g) * 0.1
    labels = np.arange(n_texts) % 2
    for text in np.flatnonzero(labels):
        values[text * length + 2, 4] = 1.0 + text / 100  # latent 4 fires at position 2 of class-1 texts
    values[0::length] = 50.0  # first tokens are huge and must be ignored
    acts = TokenActivations({0: values}, torch.arange(0, n_texts * length + 1, length),
                            torch.arange(n_texts * length) + 100)
    task = study.tasks.Task("toy", tuple(map(str, range(n_texts))), labels, ("no", "yes"), "hand-made")
    cfg = resolve("smoke", study.PARAMS, top_features=1)
    table = study.top_features(task, acts, lambda rows: rows, 0,
                               features.text_features(acts, 0, "sum", skip_first=True).numpy(), _Digits(), cfg,
                               context=1)
    top = table.set_index("class").loc["yes"]
    last = int(np.flatnonzero(labels)[-1])  # the strongest firing: the last class-1 text
    token = 100 + last * length + 2
    assert top.latent == 4 and top.span == f"{token - 1}[{token}]{token + 1}"
    assert top.fires_in_class == pytest.approx(1.0) and top.fires_in_others == pytest.approx(1.0)  # all rows > 0
    assert table.set_index("class").loc["no"].span != top.span


def test_transfer_fits_on_one_task_and_scores_on_another():
    g = np.random.default_rng(0)
    labels = np.repeat([0, 1], 30)
    make = lambda: g.normal(size=(60, 5)) + 3 * np.eye(2, 5)[labels]  # noqa: E731
    texts = tuple(f"{'good' if y else 'bad'} item {i}" for i, y in enumerate(labels))
    source = study.tasks.Task("a", texts, labels, ("neg", "pos"), "hand-made")
    target = study.tasks.Task("b", texts, labels, ("neg", "pos"), "hand-made")
    key = ("SAE", 0, 5, "topk", "sum")
    cfg = resolve("smoke", study.PARAMS)
    table = study.transfer(source, target, {key: make()}, {key: make()}, [key], cfg, resamples=100)
    assert table.source.tolist() == ["SAE", "TF-IDF"]
    assert (table.transfer_f1 > 0.9).all() and (table.low <= table.transfer_f1).all()


def test_the_paper_path_runs_on_a_locally_saved_model_and_gemma_scope_sae(tmp_path):
    from test_sae_features import _tiny_llama_and_tokenizer

    from support.models import language_model

    model, tokenizer = _tiny_llama_and_tokenizer()
    model.save_pretrained(tmp_path / "lm")
    tokenizer.save_pretrained(tmp_path / "lm")
    folder = tmp_path / "scope" / "layer_1" / "width_16k" / "average_l0_12"
    folder.mkdir(parents=True)
    np.savez(folder / "params.npz", **_gemma_scope_arrays(d=16, width=32))
    cfg = resolve("paper", study.PARAMS, lm=str(tmp_path / "lm"), sae_repo=str(tmp_path / "scope"), layers=(1,),
                  widths=(16384,), folds=2, inner_folds=2, device="cpu", text_tokens=16, batch_size=4)
    assert study.models(cfg) == []  # nothing to train: the SAEs come from Gemma Scope's files
    loaded, loaded_tokenizer = language_model(cfg.lm)
    saes = study.load_saes(cfg)
    assert list(saes) == [(1, 16384, "jumprelu")]
    texts = ("the cat sat", "the dog sat on the cat", "a cat ran", "the cat sat far away",
             "hello dog", "a dog ran far away today", "hello hello dog", "dog ran today")
    task = study.tasks.Task("toy", texts, np.array([0, 0, 0, 0, 1, 1, 1, 1]), ("cat", "dog"), "hand-made")
    acts = study.task_activations(cfg, loaded, loaded_tokenizer, task)
    sets = study.feature_sets(acts, saes, cfg)
    ids = loaded_tokenizer(texts[1], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        hidden = loaded(input_ids=ids, output_hidden_states=True).hidden_states[2][0]  # block 1's output
        expected = saes[(1, 16384, "jumprelu")](hidden[1:]).sum(0)  # every token but the first
    torch.testing.assert_close(torch.as_tensor(sets[("SAE", 1, 16384, "jumprelu", "sum")][1]), expected,
                               atol=1e-4, rtol=1e-4)
    runs = study.grid(task, sets, cfg)
    assert set(runs.source) == {"SAE", "hidden", "TF-IDF"}
    assert len(runs) == (len(study.VARIANTS) + len(study.HIDDEN_POOLS) + 1) * cfg.folds
    with pytest.raises(ValueError, match="needs sae_repo"):
        study.load_saes(resolve("paper", study.PARAMS, sae_repo=""))
