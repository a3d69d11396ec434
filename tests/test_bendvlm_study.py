"""Chapter 8's study steps: the shared tiny CLIP, the query sets, fold bookkeeping, a planted-bias known answer,
the LLM's caption parsing, and the paper path on a locally saved CLIP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from support.bendvlm import study
from support.models import cached
from support.profiles import resolve
from support.sobit import study as sobit_study
from support.vlm import debias, people, planted


def smoke(**overrides):
    return resolve("smoke", study.PARAMS, **overrides)


@pytest.mark.parametrize("profile", ["smoke", "local", "paper"])
def test_the_chapter_loads_chapter_7s_tiny_clip(profile):
    ours = study.clip_spec(resolve(profile, study.PARAMS))
    theirs = sobit_study.clip_spec(resolve(profile, sobit_study.PARAMS))
    assert ours.folder == theirs.folder  # one cached model, trained once by `prepare`


def test_planted_queries_are_the_strong_plants_of_the_attribute_and_words_nothing_touches():
    cfg = smoke()
    plants = study.plants(cfg)
    for attribute in ("tint", "frame"):
        queries = study.planted_queries(cfg, attribute)
        biased = {p.word for p in plants if p.strength >= cfg.min_strength
                  and (p.attribute == attribute or p.attribute == "tint x frame")}
        assert set(queries[queries.planted].word) == biased
        unplanted = set(queries[~queries.planted].word)
        assert len(unplanted) == len(biased) and not unplanted & {p.word for p in plants}
        assert (queries.groupby("word").size() == len(planted.NOUNS)).all()  # every garment once
        assert queries.text.iloc[0] == planted.caption(queries.word.iloc[0], planted.NOUNS[0])
    with pytest.raises(ValueError, match="attribute"):
        study.planted_queries(cfg, "tint x frame")


def test_prompt_texts_write_each_group_into_each_query():
    cfg = smoke()
    queries = study.planted_queries(cfg, "tint").head(3)
    texts = study.planted_prompt_texts(queries, "tint")
    assert texts["generic"][0] == "a photo of a red item" and len(texts["generic"]) == len(planted.TINTS)
    for (word, noun), row in zip(zip(queries.word, queries.noun), texts["augmented"]):
        assert row == [planted.caption(word, noun, tint=t) for t in planted.TINTS]
    assert len(texts["pairs"]) == (len(planted.NOUNS) + 1) * 21  # every noun, every pair of 7 tints
    frame = study.planted_prompt_texts(queries, "frame")
    assert frame["generic"] == ["a photo of an item without a frame", "a photo of an item with a frame"]


def test_people_prompts_by_template():
    assert people.augment("lazy", "adjective", "race", "Black") == "a photo of a lazy Black person"
    assert people.augment("angry", "adjective", "gender", "woman") == "a photo of an angry woman"
    assert people.augment("nurse", "noun", "gender", "man") == "a photo of a male nurse"
    assert people.augment("nurse", "noun", "race", "East Asian") == "a photo of an East Asian nurse"
    assert people.attribute_prompts("gender") == ["a photo of a man", "a photo of a woman"]
    rows = pd.DataFrame({"word": ["nurse"], "pos": ["noun"], "text": ["a photo of a nurse"]})
    texts = study.people_prompt_texts(rows, "race")
    assert len(texts["augmented"][0]) == 7 and len(texts["pairs"]) == len(people.CALIBRATION_NOUNS) * 21


def test_fold_summary_is_the_mean_over_folds_of_query_means_with_a_t_interval():
    per_query = pd.DataFrame({"method": ["a"] * 6, "fold": [0, 0, 1, 1, 2, 2],
                              "max_skew": [0.1, 0.3, 0.5, 0.7, 0.2, 0.2]})
    summary = study.fold_summary(per_query, ["method"]).iloc[0]
    fold_means = np.array([0.2, 0.6, 0.2])
    assert summary.max_skew == pytest.approx(fold_means.mean())
    half = stats.t.ppf(0.975, 2) * fold_means.std(ddof=1) / np.sqrt(3)
    assert summary.max_skew_ci == pytest.approx(half)


def test_bend_vlm_removes_a_planted_lean_that_the_gallery_makes_plain():
    """Items are class + group directions; the query leans to group 0. Vanilla retrieves group 0 only, Bend-VLM's
    step 2 (closed form, from the reference half) spreads the top k over the groups and keeps the class."""
    rng = np.random.default_rng(0)
    dim, n_groups, n_classes, per_cell = 16, 2, 3, 80
    basis = torch.eye(dim)
    cls = np.repeat(np.arange(n_classes), n_groups * per_cell)
    grp = np.tile(np.repeat(np.arange(n_groups), per_cell), n_classes)
    items = basis[cls] + basis[n_classes + grp] + 0.05 * torch.from_numpy(rng.normal(size=(len(cls), dim))).float()
    items = torch.nn.functional.normalize(items, dim=-1)
    queries = torch.nn.functional.normalize(basis[:n_classes] + 0.5 * basis[n_classes], dim=-1)
    # step 1's augmented versions: the class with each group written in (their centred span is the group
    # difference); the generic prompt is an unrelated direction, so step 1 removes the lean alone
    augmented = torch.nn.functional.normalize(basis[:n_classes, None] + basis[n_classes:n_classes + n_groups][None],
                                              dim=-1)
    prompts = debias.DebiasPrompts(generic=basis[-1:], augmented=augmented,
                                   pairs_a=basis[n_classes:n_classes + 1], pairs_b=basis[n_classes + 1:n_classes + 2])
    splits = debias.reference_target_splits(len(items), folds=2, seed=0)
    table = study.compare_methods(queries, prompts, items, grp, n_groups, splits, m=10, k=20, strength=1000.0,
                                  query_classes=np.arange(n_classes), item_classes=cls,
                                  methods=("vanilla", "step2", "bend_vlm"))
    means = table.groupby("method")[["max_skew", "precision"]].mean()
    for fold, (_, target) in enumerate(splits):  # vanilla's top 20 are all group 0: MaxSkew = log(1 / q_0)
        vanilla = table[(table.method == "vanilla") & (table.fold == fold)]
        assert vanilla.max_skew.tolist() == pytest.approx([np.log(1 / np.mean(grp[target] == 0))] * n_classes)
    # after step 2 the group no longer orders the class's items: the top 20 look like a random draw of them
    from support.vlm import audit

    null = audit.null_statistic([per_cell // 2, per_cell // 2], 20, lambda c: audit.max_skew(c, [1, 1]), 4000)
    for method in ("step2", "bend_vlm"):
        assert means.max_skew[method] < np.quantile(null, 0.95) < means.max_skew["vanilla"]
        assert means.precision[method] == pytest.approx(1.0)
    bend = table[table.method == "bend_vlm"]
    assert (bend.cosine_to_query < 0.99).all() and bend.neighbour_purity.between(0.99, 1.0).all()
    vanilla_cosines = table.cosine_to_query[table.method == "vanilla"].tolist()
    assert vanilla_cosines == pytest.approx([1.0] * len(vanilla_cosines), abs=1e-6)


def test_below_reads_means_and_intervals():
    assert study._below((0.2, 0.05), (0.5, 0.05)) == "below (intervals apart)"
    assert study._below((0.4, 0.1), (0.5, 0.1)) == "below, within the intervals,"
    assert study._below((0.6, 0.1), (0.5, 0.1)) == "not below"
    low, high = pd.Series({"m": 5, "x": 0.5, "x_ci": 0.01}), pd.Series({"m": 50, "x": 0.7, "x_ci": 0.01})
    assert study._trend(low, high, "x") == "rises from 0.50 to 0.70"
    assert study._trend(high, low, "x") == "falls from 0.70 to 0.50"
    assert study._trend(low, high.replace(0.7, 0.51), "x").startswith("stays within its intervals")


def test_llm_replies_are_cleaned_and_checked_for_the_group():
    assert study.clean_reply('\n Caption: "a photo of a Black nurse"\nmore') == "a photo of a Black nurse"
    assert not study._names_group("a photo of a whitewashed wall", "race", "White")
    assert study._names_group("a photo of a Hispanic nurse", "race", "Latino")
    assert study._names_group("a photo of a female nurse", "gender", "woman")
    assert not study._names_group("a photo of a nurse", "gender", "man")
    assert study._names_group("a photo of an east asian nurse", "race", "East Asian")
    rows = pd.DataFrame({"word": ["nurse"], "pos": ["noun"], "text": ["a photo of a nurse"]})
    requests = study.augmentation_requests(rows, "gender")
    assert len(requests) == 2 and "a man" in requests[0] and requests[0].endswith("Caption: a photo of a nurse")


def test_the_paper_path_debiases_a_locally_saved_clip(tmp_cache, monkeypatch):
    cfg = smoke(n_words=12, plants_per_strength=1, strengths=[0.8], clip_steps=4, clip_batch=16, fairface_k=10,
                fairface_m=3, folds=2)
    spec = study.clip_spec(cfg)
    cached.ensure(spec, progress=False)
    images, gallery = planted.marked_gallery(80, seed=3)
    groups = {"race": gallery.tint.to_numpy(), "gender": gallery.frame.to_numpy()}
    rows = study.text_query_rows(cfg).head(5)
    table = study.image_text_comparison(str(spec.folder), images, groups, rows, cfg)
    assert set(table.method) == set(debias.METHODS) and set(table.attribute) == {"race", "gender"}
    assert len(table) == 2 * len(debias.METHODS) * 2 * 5  # attributes x methods x folds x queries
    assert (table.max_skew >= -1e-9).all() and (table.kl >= -1e-9).all()
    # augmentations handed in (as an LLM's would be) take the templates' place: the templates' own give the same
    written = {a: [[f"{q} ({g})" for g in people.group_names()[a]] for q in rows.text]
               for a in study.PEOPLE_ATTRIBUTES}
    seen = []
    original = study.embed_prompts
    monkeypatch.setattr(study, "embed_prompts", lambda texts, embed: seen.append(texts) or original(texts, embed))
    again = study.image_text_comparison(str(spec.folder), images, groups, rows, cfg, augmented=written)
    assert [texts["augmented"] for texts in seen] == [written["race"], written["gender"]]
    assert len(again) == len(table)
