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
    return world_cases(factworld.SMOKE_WORLD, "edit", n, seed=seed)


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


def test_shared_token_groups_match_a_loop_over_subject_tokens(world):
    from support.editing.settings import last_subject_tokens, shared_token_groups

    _, tokenizer = world
    edited, probes = smoke_cases(6, seed=0), world_cases(factworld.SMOKE_WORLD, "never_edited", 12, seed=0)
    probes = probes + [edited[0]]  # a subject that surely ends in an edited subject's token
    tokens = last_subject_tokens(tokenizer, probes)
    for case, token in zip(probes, tokens):
        assert token in tokenizer(case.prompt).input_ids and case.subject.endswith(tokenizer.decode([token]).strip())
    edited_tokens = set(last_subject_tokens(tokenizer, edited).tolist())
    groups = shared_token_groups(tokenizer, edited, probes)
    assert groups["shared_token"].tolist() == [int(t) in edited_tokens for t in tokens]
    assert groups["shared_token"][-1] and not (groups["shared_token"] & groups["other_token"]).any()


def test_world_cases_are_counterfactual_with_true_neighbours():
    spec = factworld.LOCAL_WORLD
    truth = {(f.subject, f.relation): f.obj for f in factworld.facts(spec)}
    roles = factworld.roles(spec)
    assert spec.n_facts >= 12_000 and len(roles["edit"]) == 10_000
    assert not set(roles["edit"]) & set(roles["never_edited"]) and not set(roles["calibration"]) & set(roles["edit"])
    cases = world_cases(spec, "edit", 10_000, seed=1)
    assert len({c.subject for c in cases}) == 10_000  # every edit its own person
    never = set(roles["never_edited"])
    for case in cases[:100]:
        assert case.target_true == " " + truth[(case.subject, case.relation)] != case.target_new
        assert case.subject in case.prompt and all(case.subject in p for p in case.paraphrases)
        assert len(case.neighbours) == 5 and case.target_new in case.alternatives
        for prompt in case.neighbours:  # a never-edited person with the same relation and true object
            subject = next(s for s in never if factworld.Fact(s, case.relation, "").prompt(0) == prompt)
            assert truth[(subject, case.relation)] == case.target_true.strip()
    assert world_cases(spec, "edit", 50, seed=1) == cases[:50]  # the first n edits do not depend on n
    probes = world_cases(spec, "never_edited", 400, seed=1)
    assert {c.subject for c in probes} <= never
    with pytest.raises(ValueError, match="at most 10000"):
        world_cases(spec, "edit", 10_001)


def test_rewrite_prompts_mostly_do_not_open_with_the_subject():
    """In a causal LM a prompt that opens with the subject gives all its relations one key."""
    openers = [r for r, (templates, _) in factworld.RELATIONS.items() if templates[0].startswith("{s}")]
    assert len(openers) <= 1


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


def test_reused_prefix_keys_give_the_same_outputs_and_targets(world):
    """Positions left of the subject run once (their keys and values reused): same outputs as recomputing all."""
    from support.editing.compute import AboveInjection, hidden_at, rewrite_rows

    model, tokenizer = copy.deepcopy(world[0]).double(), world[1]
    anat = anatomy(model)
    cases = smoke_cases(4, seed=2)
    batch = encode(tokenizer, *rewrite_rows(cases, PREFIXES))
    with torch.no_grad():
        base = hidden_at(anat, batch, 2)
        cached, full = AboveInjection(anat, base, batch, 2, True), AboveInjection(anat, base, batch, 2, False)
        assert cached.cached and not full.cached
        rows = torch.tensor([5, 0, 7, 2])  # a subset, out of order, as the z loop asks for live edits
        add = torch.randn(len(rows), base.shape[-1], dtype=base.dtype, generator=torch.Generator().manual_seed(0))
        at_cached, at_full = cached(rows, add), full(rows, add)
        which, positions = batch.predict_mask[rows].nonzero(as_tuple=True)
        torch.testing.assert_close(at_cached(which, positions), at_full(which, positions), rtol=1e-10, atol=1e-12)
    targets = [compute_z(anat, tokenizer, cases, 1, PREFIXES, ZConfig(mpes_extra=1, cache_prefix=flag))
               for flag in (True, False)]
    torch.testing.assert_close(targets[0].z, targets[1].z, rtol=1e-9, atol=1e-10)
    assert targets[0].steps.tolist() == targets[1].steps.tolist()


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
    texts = factworld.training_text(factworld.SMOKE_WORLD, passes=1).split("\n")[:1000]
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


def _prefers_by_hand(model, tokenizer, prompt: str, first: str, second: str) -> bool:
    """Does ``prompt`` give ``first`` a lower mean per-token NLL than ``second``? One prompt at a time, no batching."""
    def mean_nll(continuation: str) -> float:
        ids = tokenizer(prompt + continuation, return_tensors="pt", add_special_tokens=False)["input_ids"]
        n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1], -1)
        targets = ids[0, 1:]
        return float(-logp[torch.arange(len(targets)), targets][n_prompt - 1:].mean())

    return mean_nll(first) < mean_nll(second)


def test_edit_scores_equal_a_prompt_by_prompt_count_after_edits(world):
    model, tokenizer = world
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    anat = anatomy(model)
    cases = smoke_cases(10, seed=6)
    neighbours = [(p, c.target_true, c.target_new) for c in cases for p in c.neighbours]
    right_before = np.array([_prefers_by_hand(model, tokenizer, *row) for row in neighbours])
    locality = metrics.baseline_locality(model, tokenizer, cases)
    assert locality.tolist() == right_before.tolist()
    es_before = np.mean([_prefers_by_hand(model, tokenizer, c.prompt, c.target_new, c.target_true) for c in cases])
    texts = factworld.training_text(factworld.SMOKE_WORLD, passes=1).split("\n")[:500]
    editor = Editor(anat, (0, 1), second_moment(anat, tokenizer, texts, [0, 1], progress=False), lam_p=30.0)
    run_sequential(editor, tokenizer, cases, Method("MEMIT", "memit"), PREFIXES, 10, 10, progress=False)
    scores = metrics.edit_scores(model, tokenizer, cases, locality)
    es = np.mean([_prefers_by_hand(model, tokenizer, c.prompt, c.target_new, c.target_true) for c in cases])
    right_after = np.array([_prefers_by_hand(model, tokenizer, *row) for row in neighbours])
    model.load_state_dict(saved)
    assert scores["ES"] == pytest.approx(100 * es)
    assert scores["NS"] == pytest.approx(100 * right_after[right_before].mean())
    assert es > es_before  # the edits moved what is scored


def test_edited_model_reloads_in_hub_format(world, tmp_path):
    model, tokenizer = world
    cases = smoke_cases(2, seed=6)
    model.save_pretrained(tmp_path)  # the hub loading path of the paper profile, on a local folder
    tokenizer.save_pretrained(tmp_path)
    loaded, loaded_tok = models.hub(str(tmp_path))
    assert np.allclose(continuation_nll(loaded, loaded_tok, [cases[0].prompt], [cases[0].target_new]),
                       continuation_nll(model, tokenizer, [cases[0].prompt], [cases[0].target_new]), atol=1e-5)


def test_encore_tuning_restores_the_model_and_waits_longer_with_more_checks(world):
    from support.editing import restore, snapshot
    from support.editing.settings import make_editor, world_setting
    from support.encore import study

    setting = world_setting(10, (0, 1), smoke=True, n_probe=10, n_c0=200)
    editor = make_editor(setting, 30.0, 1e-2, True, progress=False)
    before = snapshot(setting.model)
    table, extra, lam_n = study.tune_encore(setting, editor, PREFIXES, (0, 1, 2), (1.0, 1000.0), min_efficacy=0.0)
    after = snapshot(setting.model)
    restore(setting.model, before)
    assert all(torch.equal(before[name], after[name]) for name in before)
    steps = table[(table.sweep == "MPES") & table.mpes_extra.notna()].sort_values("mpes_extra").z_steps.to_numpy()
    assert (np.diff(steps) > 0).all()  # one more check: more steps (every target starts from the unedited model)
    assert extra == 0 and lam_n == pytest.approx(1000 * study.lam_n_unit(30.0))  # ES >= 0: smallest m, largest lam_n
    swept = table[table.sweep == "lam_n"].sort_values("lam_n")
    assert swept.delta_fro.iloc[-1] < swept.delta_fro.iloc[0]  # the penalty shrinks the update
