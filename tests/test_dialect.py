"""Chapter 6's rule-based SAE -> AAE converter: each rule on hand-made sentences, seeds, and its scores on pairs."""

from __future__ import annotations

import math

import pytest

from support import resources
from support.dialect import rules, validation

# (rule, standard sentence, expected with that rule alone)
CASES = [
    ("null_copula", "She is smart.", "She smart."),
    ("null_copula", "They're at home and we are working.", "They at home and we working."),
    ("negative_concord", "I don't want any help.", "I don't want no help."),
    ("negative_concord", "He never said anything to anybody.", "He never said nothing to nobody."),
    ("negative_inversion", "Nobody can stop him.", "Can't nobody stop him."),
    ("negative_inversion", "Nobody showed up.", "Didn't nobody show up."),
    ("possessive_s", "That is my cousin's bike.", "That is my cousin bike."),
    ("habitual_be", "He is always working late.", "He always be working late."),
    ("stressed_been", "She has been married for years.", "She BEEN married for years."),
    ("preterite_had", "They went to the store.", "They had went to the store."),
    ("embedded_inversion", "I wonder if he is home.", "I wonder is he home."),
    ("embedded_inversion", "I'm wondering what you are going to do.", "I'm wondering what are you going to do."),
    ("aint", "That isn't fair and I am not done.", "That ain't fair and I ain't done."),
    ("talkin_bout", "We were talking about it.", "We were talkin' 'bout it."),
    ("tryna", "I am trying to help.", "I am tryna help."),
    ("existential_it", "There is some milk in the fridge.", "It's some milk in the fridge."),
    ("g_dropping", "She was running and singing in the morning.", "She was runnin' and singin' in the morning."),
]
# sentences none of the rules (nor the post-pass) should touch
NEUTRAL = ["What is the capital of France?", "It is cold.", "I am here.", "The dog sat on the mat.",
           "Which of these is a prime number?", "It's my turn and that's fine.", "Something is wrong.",
           "Is he at home?", "The king sang in the morning.", "Nobody knows.", "I know that it is tall."]


@pytest.mark.parametrize("name, standard, expected", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_rule_applies_where_it_should(name, standard, expected):
    assert rules.convert(standard, rules.only([name]), post=False) == expected


@pytest.mark.parametrize("sentence", NEUTRAL)
def test_no_rule_touches_a_sentence_without_its_pattern(sentence):
    assert rules.convert(sentence) == sentence


@pytest.mark.parametrize("name", rules.RULE_NAMES)
def test_each_rule_alone_leaves_the_neutral_sentences_alone(name):
    assert [rules.convert(s, rules.only([name]), post=False) for s in NEUTRAL] == NEUTRAL


def test_the_post_pass_and_the_whole_converter():
    assert rules.post_pass("I have a car because I am going to talk about it.") == \
        "I got a car cuz I am gonna talk bout it."
    assert rules.convert("I have a car because I am going to work and she is going home.") == \
        "I got a car cuz I am gonna work and she goin' home."


def test_a_seed_fixes_the_output_and_a_probability_below_one_applies_some_matches():
    text = " ".join(["She is running."] * 40)
    half = rules.only(["null_copula", "g_dropping"], probability=0.5)
    first, again, other = (rules.convert(text, half, seed=s) for s in (1, 1, 2))
    assert first == again and first != other
    kept = first.count("She is")
    assert 5 < kept < 35  # about half of the 40 copulas dropped
    assert rules.convert(text, rules.only(["null_copula"], probability=0.0)) == text


def test_leaving_a_rule_out_keeps_the_other_rules_draws():
    text = "she is running and they are singing, she is working and we are talking. " * 6
    half = tuple(rules.Rule(r.name, r.apply, 0.5) for r in rules.RULES)
    no_copula = tuple(r for r in half if r.name != "null_copula")  # an early rule, before -ing's
    for seed in range(4):
        with_all = rules.convert(text, half, seed=seed, post=False)
        without = rules.convert(text, no_copula, seed=seed, post=False)
        assert with_all != without
        # the copula is all that differs: the same -ing words lost their g
        assert [w for w in with_all.split() if w not in ("is", "are")] == \
            [w for w in without.split() if w not in ("is", "are")]


def test_only_and_without_name_rules():
    assert [r.name for r in rules.without("aint")] == [n for n in rules.RULE_NAMES if n != "aint"]
    with pytest.raises(ValueError, match="unknown rule"):
        rules.only(["copula"])
    with pytest.raises(ValueError, match="unknown rule"):
        rules.without("copula")


def test_rule_scores_by_hand():
    pairs = ({"feature": 177, "standard": "She is smart.", "dialect": "She smart."},
             {"feature": 154, "standard": "I don't want any help.", "dialect": "I don't want no help."},
             {"feature": 999, "standard": "There is milk here, she is sure.",
              "dialect": "There is milk here, isn't it?"})
    table = validation.rule_scores(pairs).set_index("rule")
    copula = table.loc["null_copula"]
    assert (copula.own_pairs, copula.converted, copula.changed, copula.changed_right) == (1, 1, 2, 1)
    assert copula.recall == 1.0 and copula.precision == 0.5
    existential = table.loc["existential_it"]
    assert (existential.own_pairs, existential.changed, existential.changed_right) == (0, 1, 0)
    assert math.isnan(existential.recall) and existential.precision == 0.0


def test_multivalue_pairs_of_urban_aave():
    pairs = resources.dialect_pairs("UAAVE")
    assert len({p["feature"] for p in pairs}) == 60 and len(pairs) == 73
    assert {"feature": 177, "name": "Deletion of copula be: before AdjPs", "function": "drop_copula_be_AP",
            "attestation": "A", "standard": "She is smart.", "dialect": "She smart."} in pairs
    assert all(p["attestation"] in ("A", "B") for p in pairs)
    with pytest.raises(ValueError, match="not in eWAVE"):
        resources.dialect_pairs("Klingon")


def test_answer_entropy_and_explanation_length_by_hand():
    from support.dialect import measures

    entropy = measures.answer_entropy([["A", "A", "A", "A"], ["A", "B", "A", "B"], ["A", "B", "C", "D"]])
    assert entropy.tolist() == pytest.approx([0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="questions, runs"):
        measures.answer_entropy(["A", "B"])
    assert measures.explanation_words("It's B, because 2 + 2 = 4.") == 6


def test_the_control_swaps_standard_synonyms_both_ways_and_adds_no_dialect_feature():
    from support.dialect.control import control_paraphrase

    assert control_paraphrase("Which big animal usually begins to help people?") == \
        "Which large animal typically starts to assist individuals?"
    assert control_paraphrase("Large and difficult") == "Big and hard"
    assert control_paraphrase("The dog sat on the mat.") == "The dog sat on the mat."
    text = " ".join(["It is big."] * 40)
    half = control_paraphrase(text, probability=0.5, seed=3)
    assert half == control_paraphrase(text, probability=0.5, seed=3) and 5 < half.count("big") < 35
    assert control_paraphrase("Maybe she is happy because of the answer.") == "Perhaps she is glad due to the response."
    swapped = control_paraphrase("I am not going to help because it has been hard, running.")
    assert swapped == "I am not going to assist because it has been difficult, running."  # no dialect marker


def test_the_llm_conversion_prompt_and_its_post_pass():
    from support.dialect import llm_convert

    prompt = llm_convert.conversion_prompt("Why is the sky blue?")
    assert prompt.endswith("Question: Why is the sky blue?") and len(llm_convert.FEATURES) == len(rules.RULE_NAMES)
    assert all(feature in prompt for feature in llm_convert.FEATURES)
    replies = {"Why is the sky blue?": 'Question: "Why the sky blue, because of the sun?"', "Hello?": "  ",
               "Is it late?": "Here is the question in AAE:\nIt be late?"}
    seen = []

    def answer(prompts):
        seen.extend(prompts)
        return [replies[p.rsplit("Question: ", 1)[1]] for p in prompts]

    out = llm_convert.llm_convert(list(replies), answer)
    # post-pass applied; an empty reply keeps the text; a "Here is ...:" line is not part of the question
    assert out == ["Why the sky blue, cuz of the sun?", "Hello?", "It be late?"]
    assert len(seen) == 3
