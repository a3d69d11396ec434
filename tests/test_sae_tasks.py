"""Chapter 4's labelled tasks: sizes, label sources, caps and seeds (reads the fetched resources)."""

from __future__ import annotations

import pytest

from support import resources
from support.models.scoring import multiple_choice_prompt
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


def test_transfer_tasks_split_the_harmful_task_by_source_without_overlap():
    source, target = (tasks.load_task(name) for name in tasks.TRANSFER_TASKS)
    whole = tasks.load_task("harmful")
    assert source.label_names == target.label_names == whole.label_names
    assert not set(source.texts) & set(target.texts)
    assert set(source.texts) | set(target.texts) <= set(whole.texts)
    assert source.counts()["harmful request"] + target.counts()["harmful request"] == whole.counts()["harmful request"]


def test_task_from_rows_groups_labels_and_refuses_a_single_class():
    rows = [{"t": f"text {i}", "y": i % 3} for i in range(30)] + [{"t": "text 0", "y": 0}]
    task = tasks.task_from_rows("toy", rows, "t", "y", "hand-made", per_class=5, seed=1)
    assert task.label_names == ("0", "1", "2") and task.counts() == {"0": 5, "1": 5, "2": 5}
    assert all(int(text.split()[1]) % 3 == int(task.label_names[y]) for text, y in zip(task.texts, task.labels))
    with pytest.raises(ValueError, match="needs two"):
        tasks.task_from_rows("toy", [{"t": "a", "y": 1}], "t", "y", "hand-made")


def test_behaviour_items_carry_the_passage_and_one_keyed_option():
    items = resources.multiple_choice_examples("SIQA/test.jsonl", 50, seed=0)
    assert len(items) == 50 and all(sum(item["target_scores"].values()) == 1 for item in items)
    first = resources.multiple_choice_examples("SIQA/test.jsonl", seed=0)[0]
    assert first == items[0] and multiple_choice_prompt(first) == f"Q: {first['input']}\nA:"
    raw = [r for r in resources.multiple_choice("SIQA/test.jsonl")
           if first["input"] == f"{r['passage']} {r['question']}"]
    assert raw and first["target_scores"] == {o: int(k == raw[0]["answer"]) for k, o in enumerate(raw[0]["options"])}
