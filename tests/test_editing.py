"""Editing on real (tiny) models: batched z, MEMIT edits, C0, cases, gradient editors, scores."""

import copy

import numpy as np
import pytest
import torch

from support import models
from support.editing import (
    Editor,
    Method,
    compute_keys,
    compute_z,
    finetune,
    memit_delta,
    metrics,
    run_sequential,
    second_moment,
    world_cases,
)
from support.editing import world as factworld
from support.editing.cases import GEO_TEMPLATES, capital_questions, geo_candidates, geo_facts
from support.editing.compute import ZConfig, current_outputs
from support.models import anatomy, continuation_nll, encode

PREFIXES = ["The day was long. ", "I think so. "]


@pytest.fixture(scope="module")
def world():
    """The smoke world model (a small world learned in about a minute, edits take) and its tokenizer."""
    model, tokenizer = models.tiny_lm(factworld.SMOKE_WORLD_MODEL, progress=False)
    return model, tokenizer


def smoke_cases(n: int, seed: int):
    """``n`` edit cases of the smoke world (the facts the smoke model learned)."""
    return world_cases(n, seed=seed, n_subjects=factworld.SMOKE_SUBJECTS)


def test_encode_marks_subject_and_target_tokens(world):
    _, tokenizer = world
    batch = encode(tokenizer, ["Mr. Darcy walked to", "Emma lives in the city of"], [" London", " Bath"],
                   ["Darcy", "Emma"])
    for row, (subject, target) in enumerate([("Darcy", " London"), ("Emma", " Bath")]):
        tokens = batch.input_ids[row, :batch.lengths[row]]
        assert tokenizer.decode(tokens[batch.target_mask[row, :batch.lengths[row]]]) == target
        assert tokenizer.decode(tokens[: batch.subject_pos[row] + 1]).endswith(subject)
    # the predicting position of each target token is the one before it
    assert torch.equal(batch.predict_mask.nonzero()[:, 1] + 1, batch.target_mask.nonzero()[:, 1])


def test_world_cases_are_counterfactual_with_true_neighbours():
    cases = world_cases(50, seed=1)
    world = {(f.subject, f.relation): f.obj for f in factworld.facts()}
    assert len({(c.subject, c.relation) for c in cases}) == 50
    for case in cases:
        assert case.target_true == " " + world[(case.subject, case.relation)] != case.target_new
        assert case.subject in case.prompt and all(case.subject in p for p in case.paraphrases)
        assert len(case.neighbours) == 5 and all(case.subject not in p for p in case.neighbours)
        assert case.target_new in case.alternatives


def test_geo_cases_follow_the_counterfact_recipe():
    cases = geo_candidates(40, seed=0)
    facts = geo_facts()
    truth = {(r, s): o for r, s, o in facts}
    assert len(cases) == 40 and len({c.subject for c in cases}) == 40
    for case in cases:
        prompt, *paraphrases = GEO_TEMPLATES[case.relation]
        assert case.prompt == prompt.format(s=case.subject)
        assert case.target_true == " " + truth[(case.relation, case.subject)]
        assert case.target_new != case.target_true and case.target_new in case.alternatives
        assert case.paraphrases == tuple(t.format(s=case.subject) for t in paraphrases)
        assert len(case.neighbours) == 5
        for neighbour in case.neighbours:  # same relation, another subject, the same true object
            subject = next(s for r, s, _ in facts if r == case.relation and prompt.format(s=s) == neighbour)
            assert subject != case.subject and truth[(case.relation, subject)] == case.target_true.strip()


def test_geo_facts_hold_known_geography():
    truth = {(r, s): o for r, s, o in geo_facts()}
    assert truth[("city-country", "Lyon")] == "France"
    assert truth[("us-city-state", "Houston")] == "Texas"
    assert truth[("continent", "Brazil")] == "South America" and truth[("continent", "Canada")] == "North America"
    assert truth[("official-language", "France")] == "French"
    assert truth[("currency", "Germany")] == "Euro"
    assert truth[("province-country", "Bayern")] == "Germany"  # countryinfo names provinces as their country does
    assert ("city-country", "Springfield") not in truth  # ambiguous names are left out


def test_capital_questions_have_one_right_answer():
    questions = capital_questions(30, seed=2)
    assert len(questions) == 30 and len({q["input"] for q in questions}) == 30
    for q in questions:
        assert len(q["target_scores"]) == 4 and sum(q["target_scores"].values()) == 1
    france = [q for q in capital_questions(300) if q["input"] == "What is the capital of France?"][0]
    assert max(france["target_scores"], key=france["target_scores"].get) == "Paris"


@pytest.mark.slow
def test_smollm2_knows_the_geography_it_is_edited_on():
    """Real facts: SmolLM2 prefers the true object to CounterFact's new one, and answers capitals above chance."""
    model, tokenizer = models.smollm2()
    cases = geo_candidates(300, seed=0)
    prefers = np.array(metrics.preference(model, tokenizer, [c.prompt for c in cases],
                                          [c.target_true for c in cases], [c.target_new for c in cases]))
    assert prefers.mean() > 0.65  # measured 0.77 (chance 0.5)
    questions = capital_questions(61, seed=0)
    assert models.multiple_choice_accuracy(model, tokenizer, questions[1:], questions[:1]) > 0.6  # 0.87; chance 0.25


def test_second_moment_equals_a_brute_force_sum(world):
    model, tokenizer = world
    anat = anatomy(model)
    texts = ["It is a truth universally acknowledged.", "Emma Woodhouse, handsome, clever and rich"]
    c0 = second_moment(anat, tokenizer, texts, [1], batch_size=2, progress=False)[1]
    keys, captured = [], {}
    hook = anat.edit_module(1).register_forward_hook(lambda m, args, out: captured.update(k=args[0]))
    for text in texts:  # one text at a time, no padding
        with torch.no_grad():
            model(input_ids=tokenizer(text, return_tensors="pt")["input_ids"])
        keys.append(captured["k"][0])
    hook.remove()
    keys = torch.cat(keys).double()
    torch.testing.assert_close(c0, keys.T @ keys / len(keys), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("mpes", [None, 1])
def test_batched_z_equals_one_edit_at_a_time(world, mpes):
    # float64: Adam divides by sqrt(v) + 1e-8, so float32 rounding in gradients near 1e-8 would be amplified
    model, tokenizer = copy.deepcopy(world[0]).double(), world[1]
    anat = anatomy(model)
    cases = smoke_cases(4, seed=2)
    cfg = ZConfig(steps=25, mpes_extra=mpes)
    together = compute_z(anat, tokenizer, cases, 1, PREFIXES, cfg)
    alone = [compute_z(anat, tokenizer, [case], 1, PREFIXES, cfg) for case in cases]
    torch.testing.assert_close(together.z, torch.cat([a.z for a in alone], 1), rtol=1e-9, atol=1e-10)
    assert together.steps.tolist() == [int(a.steps[0]) for a in alone]


def _new_object_is_top1(model, tokenizer, cases) -> np.ndarray:
    """Per case: is the first token of the new object the argmax after the rewrite prompt?"""
    hits = []
    for case in cases:
        ids = tokenizer(case.prompt, return_tensors="pt")["input_ids"]
        new_first = tokenizer(case.prompt + case.target_new)["input_ids"][ids.shape[1]]
        with torch.no_grad():
            hits.append(int(model(input_ids=ids).logits[0, -1].argmax()) == new_first)
    return np.array(hits)


# One MEMIT batch of 20 edits of the smoke world at layers (0, 1), lam_p = 100, measured over 8 case seeds on two
# models: weights trained with AVX-512 kernels (2 or 3 threads: identical) and with AVX2 kernels (ATEN_CPU_CAPABILITY=
# avx2, what a machine without AVX-512 runs). New object top-1 before: 0-3 of 20; gain after - before: 6-13 of 20;
# ES after: 60-90. The bounds are about half the worst measured value, so another machine's rounding cannot break them.
MAX_TOP1_BEFORE = 0.3
MIN_TOP1_GAIN = 0.15
MIN_ES = 45.0


def test_a_batch_of_20_memit_edits_makes_most_new_objects_top1(world):
    model, tokenizer = world
    anat = anatomy(model)
    texts = factworld.training_text(n_subjects=factworld.SMOKE_SUBJECTS, passes=1).split("\n")[:1000]
    c0 = second_moment(anat, tokenizer, texts, [0, 1], progress=False)
    cases = smoke_cases(20, seed=3)
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    before = _new_object_is_top1(model, tokenizer, cases)
    editor = Editor(anat, (0, 1), c0, lam_p=100.0)
    run_sequential(editor, tokenizer, cases, Method("MEMIT", "memit"), PREFIXES, 20, 20, progress=False)
    after = _new_object_is_top1(model, tokenizer, cases)
    scores = metrics.edit_scores(model, tokenizer, cases)
    model.load_state_dict(saved)
    assert before.mean() <= MAX_TOP1_BEFORE, f"{before.sum()} of 20 new objects were top-1 before any edit"
    assert after.mean() - before.mean() >= MIN_TOP1_GAIN, f"top-1 new objects: {before.sum()} -> {after.sum()} of 20"
    assert scores["ES"] >= MIN_ES, f"efficacy {scores['ES']:.0f}% after one batch of MEMIT edits"


def test_memit_spread_reaches_the_target_on_the_last_layer(world):
    model, tokenizer = world
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    anat = anatomy(model)
    cases = smoke_cases(3, seed=4)
    z = compute_z(anat, tokenizer, cases, 1, [], ZConfig(steps=5)).z
    eye = torch.eye(anat.weight(1).shape[1], dtype=torch.float64)
    # one layer, bare prompts only (keys = the bare prompt's), tiny lam_p: dW K = R almost exactly
    keys = compute_keys(anat, tokenizer, cases, 1, [])
    resid = z - current_outputs(anat, tokenizer, cases, 1)
    anat.add_to_weight(1, memit_delta(keys, resid, eye, None, lam_p=1e-6))
    torch.testing.assert_close(current_outputs(anat, tokenizer, cases, 1), z, rtol=1e-3, atol=1e-3)
    model.load_state_dict(saved)


@pytest.mark.parametrize("editor", ["ft", "lora", "full_ft"])
def test_gradient_editors_lower_the_loss_on_the_new_facts(world, editor):
    model, tokenizer = world
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    anat = anatomy(model)
    cases = smoke_cases(4, seed=5)
    nll_before = continuation_nll(model, tokenizer, [c.prompt for c in cases], [c.target_new for c in cases])
    w_before = anat.weight(1)
    if editor == "ft":
        finetune.ft_edit(anat, tokenizer, cases, 1, PREFIXES, steps=10, lr=1e-2)
    elif editor == "lora":
        finetune.lora_edit(anat, tokenizer, cases, [1], PREFIXES, steps=10, lr=5e-2)
    else:
        finetune.full_finetune(anat, tokenizer, cases, PREFIXES, steps=10, lr=1e-2)
    nll_after = continuation_nll(model, tokenizer, [c.prompt for c in cases], [c.target_new for c in cases])
    assert nll_after.mean() < nll_before.mean() - 0.1
    delta = anat.weight(1) - w_before
    assert float(delta.norm()) > 0
    if editor == "lora":
        assert int(torch.linalg.matrix_rank(delta.double(), atol=1e-5)) <= 4
    model.load_state_dict(saved)


def test_edit_scores_on_the_unedited_model_and_hub_format_reload(world, tmp_path):
    model, tokenizer = world
    cases = smoke_cases(10, seed=6)
    scores = metrics.edit_scores(model, tokenizer, cases)
    assert set(scores) == {"ES", "PS", "NS", "S"} and all(0 <= v <= 100 for v in scores.values())
    locality = metrics.baseline_locality(model, tokenizer, cases)
    assert metrics.edit_scores(model, tokenizer, cases, locality)["NS"] == 100.0 or not locality.any()
    model.save_pretrained(tmp_path)  # the hub loading path of the paper profile, on a local folder
    tokenizer.save_pretrained(tmp_path)
    loaded, loaded_tok = models.hub(str(tmp_path))
    assert np.allclose(continuation_nll(loaded, loaded_tok, [cases[0].prompt], [cases[0].target_new]),
                       continuation_nll(model, tokenizer, [cases[0].prompt], [cases[0].target_new]), atol=1e-5)
