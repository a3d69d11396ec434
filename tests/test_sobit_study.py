"""Chapter 7's study steps: word choice, recovery bookkeeping, FairFace labels, and the paper path on a saved model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from support.models import cached
from support.profiles import resolve
from support.sobit import study
from support.vlm import people, planted


def smoke(**overrides):
    return resolve("smoke", study.PARAMS, **overrides)


def test_a_small_run_takes_words_from_every_category():
    cfg = smoke(n_words=18)
    rows = study.taxonomy_rows(cfg)
    assert rows.word.nunique() == 18 and rows.category.nunique() == 9
    summary = study.taxonomy_summary(cfg)
    assert list(summary.category) == list(study.taxonomy.PAPER_CATEGORIES)
    assert summary.set_index("category").words["stereotyping"] == 0


def test_controls_are_unplanted_and_held_out():
    cfg = smoke()
    controls = set(study.control_words(cfg))
    planted_words = {p.word for p in study.plants(cfg)}
    free = set(study.audited_words(cfg)) - planted_words
    assert controls <= free and not controls & planted_words
    assert len(controls) == round(cfg.control_share * len(free))


def test_recovery_counts_hits_and_false_flags_by_hand():
    cfg = smoke(strengths=[0.5], plants_per_strength=3, ks=[10, 20], k=10)
    plants = study.plants(cfg)
    rows = []
    for p in plants:  # every planted word flagged by the control null only, the first with a wrong group
        rows.append({"word": p.word, "attribute": p.attribute, "k": 10, "control": False, "planted": True,
                     "right_group": p is not plants[0], "rejected_control": True, "rejected_gallery": False})
        rows.append({"word": p.word, "attribute": p.attribute, "k": 20, "control": False, "planted": True,
                     "right_group": True, "rejected_control": False, "rejected_gallery": False})
    tint_plant = next(p for p in plants if p.attribute == "tint")  # raised in its cells too: a right flag there
    rows.append({"word": tint_plant.word, "attribute": "tint x frame", "k": 10, "control": False, "planted": True,
                 "right_group": True, "rejected_control": True, "rejected_gallery": False})
    rows.append({"word": "x", "attribute": "tint", "k": 10, "control": False, "planted": False,
                 "right_group": False, "rejected_control": True, "rejected_gallery": True})
    rows.append({"word": "y", "attribute": "tint", "k": 10, "control": True, "planted": False,
                 "right_group": False, "rejected_control": False, "rejected_gallery": True})  # controls not counted
    full = study.recovery(pd.DataFrame(rows), cfg)
    table = full[full.k == 10].set_index("null")
    assert table.recall["control"] == pytest.approx(2 / 3) and table.recall["gallery"] == 0
    assert table.loc["control", "flags"] == 5 and table.loc["control", "false flags"] == 2
    assert table.loc["gallery", "flags"] == 1 and table.FDR["gallery"] == 1.0
    nothing = full[full.k == 20]  # no flag at k = 20: no recall, no flags, a false share of zero
    assert (nothing.recall == 0).all() and (nothing["flags"] == 0).all() and (nothing.FDR == 0).all()


def test_fairface_labels_map_onto_the_people_groups():
    groups = people.fairface_groups(["White", "Middle Eastern", "Latino_Hispanic"], ["Male", "Female", "Female"])
    assert groups["race"].tolist() == [0, 6, 2] and groups["gender"].tolist() == [0, 1, 1]
    assert groups["race x gender"].tolist() == [0, 13, 5]
    with pytest.raises(ValueError, match="unknown FairFace labels"):
        people.fairface_groups(["Martian"], ["Male"])


def test_the_paper_path_audits_a_locally_saved_clip(tmp_cache):
    cfg = smoke(n_words=12, plants_per_strength=1, strengths=[0.8], clip_steps=4, clip_batch=16, fairface_ks=[20],
                draws=200)
    spec = study.clip_spec(cfg)
    cached.ensure(spec, progress=False)
    images, gallery = planted.marked_gallery(60, seed=3)
    groups = {"race": gallery.tint.to_numpy(), "gender": gallery.frame.to_numpy()}
    groups["race x gender"] = groups["race"] * 2 + groups["gender"]
    table = study.clip_audit(str(spec.folder), images, groups, cfg)
    assert len(table) == 12 * 3 and set(table.attribute) == {"race", "gender", "race x gender"}
    assert table.entropy.between(0, 1).all() and (table.max_skew >= -1e-9).all()
    assert table.p_gallery.between(0, 1).all() and (table.model == str(spec.folder)).all()
    assert np.isin(table.top_group_name, sum(map(list, study.people.group_names().values()), [])).all()

