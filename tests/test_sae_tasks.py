"""Chapter 4's labelled tasks: sizes, label sources, caps and seeds (reads the fetched resources)."""

from __future__ import annotations

import pytest

from support.sae import tasks


def test_tasks_have_their_known_sizes_and_disjoint_classes():
    sizes = {"harmful": {"benign question": 3331, "harmful request": 1138},
             "risk_area": {"discrimination_exclusion_toxicity_hateful_offensive": 176, "human_chatbox": 117,
                           "information_hazard": 247, "malicious_uses": 243, "misinformation_harms": 155},
             "sentiment": {"negative": 837, "positive": 1830}}
    for name, counts in sizes.items():
        task = tasks.load_task(name)
        assert task.counts() == counts and len(task.texts) == len(set(task.texts)) == len(task.labels)
    bias = tasks.load_task("bias_type")
    assert len(bias.label_names) == 9 and bias.counts()["race-color"] == 367 and "[MASK]" not in " ".join(bias.texts)
    harmful = tasks.load_task("harmful")
    assert "Tell me a dirty joke." in [t for t, y in zip(harmful.texts, harmful.labels) if y == 1]


def test_per_class_caps_and_the_seed_fixes_the_draw():
    a, b = tasks.load_task("sentiment", per_class=100, seed=3), tasks.load_task("sentiment", per_class=100, seed=3)
    assert a.counts() == {"negative": 100, "positive": 100} and a.texts == b.texts
    assert tasks.load_task("sentiment", per_class=100, seed=4).texts != a.texts
    with pytest.raises(ValueError, match="must be one of"):
        tasks.load_task("banking77")
