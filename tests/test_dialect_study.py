"""Chapter 6's study steps: conversions, paired accuracy tables, rule ablation, sampled explanations, the paper path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from support import stats
from support.dialect import explain, study
from support.dialect.rules import RULE_NAMES, convert, without
from support.models import multiple_choice_correct
from support.profiles import resolve

QUESTIONS = ["she is trying to help", "they went to the store", "the cat sat on the mat", "nobody can stop him"]
OPTIONS = [{"yes": 1, "no": 0}, {"a store": 0, "the store": 1, "home": 0}, {"mat": 1, "hat": 0}, {"him": 1, "her": 0}]
CHAT_TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}assistant:{% endif %}")


def _items() -> pd.DataFrame:
    return pd.DataFrame({"task": ["A", "A", "B", "B"], "domain": "toy", "item": [0, 1, 0, 1], "SAE": QUESTIONS,
                         "target_scores": OPTIONS, "n_options": [len(o) for o in OPTIONS]})


def _tiny_chat_llama():
    """A randomly initialised 2-block Llama with a word-level tokenizer over the toy questions and a chat template."""
    from tokenizers import Tokenizer, models as token_models, pre_tokenizers
    from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedTokenizerFast

    words = sorted({w for text in QUESTIONS + [o for opts in OPTIONS for o in opts] for w in text.split()}
                   | set("A B C D . : user assistant Answer".split()))
    vocab = {"<pad>": 0, "<unk>": 1, "<eos>": 2, **{w: i + 3 for i, w in enumerate(words)}}
    backend = Tokenizer(token_models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>",
                                        eos_token="<eos>")
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, pad_token_id=0, eos_token_id=2)
    return AutoModelForCausalLM.from_config(config).eval(), tokenizer


def test_words_changed_and_kept_words_by_hand():
    assert study.words_changed("the cat sat on the mat", "the cat sat on the mat") == 0
    assert study.words_changed("she is running home", "she runnin' home") == 2  # is + running -> runnin'
    assert study.words_changed("a b c", "a x c d") == 2  # one replaced, one added
    # of which, musical, instrument, like, guitar: three kept
    assert study.kept_words("Which musical instrument is like a guitar?", "musical guitar instrument") == 0.6
    assert np.isnan(study.kept_words("a b c", "abc"))


def test_parse_letter_reads_the_named_option_and_nothing_else():
    cases = {"The correct option is D. Because": "D", "A. A snake": "A", "A scorpion is big. B. no": "B",
             "I think (C) is right": "C", "The answer is B": "B", "none here": "-", "E. five": "-",
             "A: yes": "A", "the answer is a bird": "-", "Option (C) fits": "C"}
    assert {reply: explain.parse_letter(reply, 4) for reply in cases} == cases


def test_convert_items_uses_the_rules_or_a_chat_reply_and_counts_changed_words():
    cfg = resolve("smoke", study.PARAMS)
    converted = study.convert_items(_items(), cfg)
    assert converted.AAE.tolist() == [convert(q, seed=cfg.seed * 100_003 + i) for i, q in enumerate(QUESTIONS)]
    assert converted.AAE[0] == "she tryna help"
    assert converted.AAE_words_changed.tolist() == [study.words_changed(a, b)
                                                    for a, b in zip(QUESTIONS, converted.AAE)]
    assert converted.AAE_words_changed[2] == 0 and converted.words.tolist() == [5, 5, 6, 4]
    llm = study.convert_items(_items(), resolve("smoke", study.PARAMS, converter="llm"),
                              replies=lambda prompts: ['Question: "he going to go because"'] * len(prompts))
    assert set(llm.AAE) == {"he gonna go cuz"}  # the reply, unquoted, then the post-pass
    with pytest.raises(ValueError, match="reply"):
        study.convert_items(_items(), resolve("smoke", study.PARAMS, converter="llm"))


def test_score_texts_matches_scoring_each_version_directly():
    model, tokenizer = _tiny_chat_llama()
    frame = _items().assign(AAE=["she tryna help", "they had went to the store", "the cat sat on the mat",
                                 "can't nobody stop him"], control=QUESTIONS)
    scored = study.score_texts(model, tokenizer, frame, ["SAE", "AAE", "control"], chunk=3)
    for column in ("SAE", "AAE", "control"):
        examples = [{"input": t, "target_scores": o} for t, o in zip(frame[column], frame.target_scores)]
        assert scored[column].tolist() == multiple_choice_correct(model, tokenizer, examples).tolist()
    assert scored.control.tolist() == scored.SAE.tolist()
    flipped = {(0, QUESTIONS[0]): not scored.SAE[0]}  # a known answer is taken as given, not scored again
    again = study.score_texts(model, tokenizer, frame, ["SAE"], known=flipped)
    assert again.SAE[0] != scored.SAE[0] and again.SAE[1:].tolist() == scored.SAE[1:].tolist()


def test_accuracy_table_pairs_by_question():
    cfg = resolve("smoke", study.PARAMS, resamples=500)
    scored = pd.DataFrame({"task": ["A"] * 4 + ["B"] * 4, "item": list(range(8)),
                           "SAE": [1, 1, 1, 0, 1, 0, 0, 0], "AAE": [1, 0, 0, 0, 1, 0, 0, 0],
                           "control": [1, 1, 1, 0, 1, 0, 0, 1]}).astype({d: bool for d in study.DIALECTS})
    items = pd.DataFrame({"n_options": [2] * 4 + [4] * 4})
    table = study.accuracy_table(scored, items, cfg).set_index("task")
    assert table.loc["A", "SAE"] == 0.75 and table.loc["A", "AAE"] == 0.25 and table.loc["A", "SAE-AAE"] == 0.5
    assert table.loc["pooled", "SAE-AAE"] == 0.25 and table.loc["pooled", "SAE-control"] == -0.125
    assert table.loc["A", "chance"] == 0.5 and table.loc["pooled", "chance"] == pytest.approx(0.375)
    assert table.loc["pooled", "SAE-AAE p"] == stats.mcnemar_p([1, 1, 1, 0, 1, 0, 0, 0], [1, 0, 0, 0, 1, 0, 0, 0])
    assert table.loc["pooled", "SAE-AAE discordant"] == 2 and table.loc["B", "SAE-AAE"] == 0
    assert (table["SAE-AAE low"] <= table["SAE-AAE"]).all() and (table["SAE-AAE"] <= table["SAE-AAE high"]).all()
    assert table.loc["B", "SAE-AAE low"] == table.loc["B", "SAE-AAE high"] == 0  # identical answers: no spread


def test_rule_ablation_rescores_only_what_each_rule_changed():
    model, tokenizer = _tiny_chat_llama()
    cfg = resolve("smoke", study.PARAMS, resamples=100)
    converted = study.convert_items(_items(), cfg)
    scored = study.score_texts(model, tokenizer, converted, list(study.DIALECTS))
    ablation = study.rule_ablation(model, tokenizer, converted, scored, cfg).set_index("rule")
    assert list(ablation.index) == list(RULE_NAMES) + ["post_pass"]
    for name in RULE_NAMES:
        changed = [convert(q, without(name), seed=cfg.seed * 100_003 + i) != a
                   for i, (q, a) in enumerate(zip(QUESTIONS, converted.AAE))]
        assert ablation.at[name, "questions"] == sum(changed)
    assert ablation.at["tryna", "questions"] == 1 and ablation.at["preterite_had", "questions"] == 1
    assert ablation.at["negative_inversion", "questions"] == 1 and ablation.at["null_copula", "questions"] == 1
    assert ablation.at["habitual_be", "questions"] == 0 and np.isnan(ablation.at["habitual_be", "cost"])
    tryna = ablation.loc["tryna"]
    assert tryna.cost == tryna["without it"] - tryna["all rules"]


def test_a_rule_that_makes_answers_wrong_has_a_positive_cost(monkeypatch):
    """A stand-in scorer (named as one) that is right unless the text says "tryna": the tryna rule costs one
    question, the rules that change other questions cost nothing."""
    def right_unless_tryna(model, tokenizer, examples):
        return np.array(["tryna" not in example["input"] for example in examples])

    monkeypatch.setattr(study, "multiple_choice_correct", right_unless_tryna)
    cfg = resolve("smoke", study.PARAMS, resamples=100)
    converted = study.convert_items(_items(), cfg)
    scored = study.score_texts(None, None, converted, list(study.DIALECTS))
    assert scored.SAE.all() and scored.AAE.tolist() == [False, True, True, True]
    ablation = study.rule_ablation(None, None, converted, scored, cfg).set_index("rule")
    assert ablation.at["tryna", "cost"] == 1.0 and ablation.at["tryna", "all rules"] == 0.0
    assert ablation.at["preterite_had", "cost"] == 0.0 and ablation.at["negative_inversion", "cost"] == 0.0
    # null copula also fired on question 0 ("she is trying" -> "she trying"), but without it "tryna" stays
    assert ablation.at["null_copula", "cost"] == 0.0


def test_explanation_summary_by_hand():
    cfg = resolve("smoke", study.PARAMS, resamples=100)
    rows = []
    # per question: letters over runs, words, reading ease (NaN: a reply without words) in SAE and AAE
    plan = [("AAAA", "ABAB", 10, 6, 50.0, 40.0), ("BBBB", "B-B-", 20, 20, 70.0, float("nan")),
            ("CCCC", "CCCC", 4, 8, 60.0, 30.0)]
    for item, (sae_letters, aae_letters, sae_words, aae_words, sae_ease, aae_ease) in enumerate(plan):
        for dialect, letters, words, ease in (("SAE", sae_letters, sae_words, sae_ease),
                                              ("AAE", aae_letters, aae_words, aae_ease)):
            for run, letter in enumerate(letters):
                rows.append({"task": "t", "item": item, "dialect": dialect, "run": run, "letter": letter,
                             "right": letter == "ABC"[item], "words": words, "reading_ease": ease, "grade": 8.0})
    summary = study.explanation_summary(pd.DataFrame(rows), cfg).set_index("measure")
    assert summary.at["accuracy", "SAE"] == 1.0 and summary.at["accuracy", "AAE"] == pytest.approx(2 / 3)
    assert summary.at["entropy", "SAE"] == 0.0 and summary.at["entropy", "AAE"] == pytest.approx(2 / 3)
    assert summary.at["letter_read", "AAE"] == pytest.approx(2.5 / 3)
    assert summary.at["words", "SAE-AAE"] == pytest.approx((4 + 0 - 4) / 3)  # paired per question
    assert summary.at["words", "questions"] == 3 and summary.at["reading_ease", "questions"] == 2  # NaN left out
    assert summary.at["reading_ease", "SAE-AAE"] == pytest.approx((10 + 30) / 2)
    assert summary.at["reading_ease", "SAE"] == pytest.approx(55.0)


def test_the_paper_path_runs_on_a_locally_saved_chat_model(tmp_path):
    """`paper`'s route (a hub-format instruct model answering, the LLM converter) on a model saved to a folder."""
    from support.dialect.llm_convert import chat_reply, clean_reply, conversion_prompt
    from support.dialect.rules import post_pass
    from support.models import language_model

    model, tokenizer = _tiny_chat_llama()
    model.save_pretrained(tmp_path / "lm")
    tokenizer.save_pretrained(tmp_path / "lm")
    cfg = resolve("paper", study.PARAMS, lm=str(tmp_path / "lm"), converter_model=str(tmp_path / "lm"),
                  items_per_task=3, device="cpu", convert_tokens=8, explain_items=2, explain_runs=2,
                  explain_tokens=6, resamples=100)
    assert study.models(cfg) == [] and cfg.converter == "llm" and cfg.tasks == ("MMLU/test.jsonl",)
    loaded, loaded_tokenizer = language_model(cfg.lm)
    items = study.load_items(cfg)
    assert len(items) == 3 and set(items.task) == {"MMLU"}
    replies = chat_reply(loaded, loaded_tokenizer, cfg.convert_tokens)
    converted = study.convert_items(items, cfg, replies)
    raw = replies([conversion_prompt(text) for text in items.SAE])
    assert converted.AAE.tolist() == [post_pass(clean_reply(r)) if clean_reply(r) else text
                                      for r, text in zip(raw, items.SAE)]
    scored = study.score_texts(loaded, loaded_tokenizer, converted, list(study.DIALECTS))
    table = study.accuracy_table(scored, items, cfg)
    assert table.task.tolist() == ["MMLU", "pooled"] and table.n.tolist() == [3, 3]
    answers = study.explained_answers(loaded, loaded_tokenizer, converted, cfg)
    assert len(answers) == 2 * 2 * 2 and set(answers.dialect) == {"SAE", "AAE"}
    assert (answers.letter == [explain.parse_letter(r, 4) for r in answers.reply]).all()
    assert (answers.right == (answers.letter == answers.key)).all()
    ablation = study.rule_ablation(loaded, loaded_tokenizer, converted, scored, cfg)
    assert len(ablation) == len(RULE_NAMES) + 1  # the rules' own texts are scored under the LLM converter
    paper = study.paper_vs_run(table, study.lm_label(cfg.lm))
    assert len(paper) == len(study.PAPER_ACCURACY) + 2


def test_sampled_replies_are_seeded():
    model, tokenizer = _tiny_chat_llama()
    first = explain.sampled_replies(model, tokenizer, ["the cat sat", "she is"], runs=3, max_new_tokens=5,
                                    temperature=1.0, seed=3, batch_size=4)
    again = explain.sampled_replies(model, tokenizer, ["the cat sat", "she is"], runs=3, max_new_tokens=5,
                                    temperature=1.0, seed=3, batch_size=4)
    assert first == again and [len(runs) for runs in first] == [3, 3]


def test_every_glue_the_prose_names_is_glued_with_the_optional_sections_off(tmp_path, monkeypatch):
    """The notebook with its ablation, explanations and conversion demo switched off still glues each name its
    prose uses (the book build would fail on a missing one)."""
    from conftest import ROOT, unglued_prose_names
    from support.batch import execute
    from support.glue import STRICT_ENV

    monkeypatch.setenv(STRICT_ENV, "1")
    source = ROOT / "notebooks" / "06_dialect_bias.py"
    execute(source, {"profile": "smoke", "ablation": False, "explain_items": 0, "llm_demo_items": 0}, tmp_path)
    named, missing = unglued_prose_names(source, tmp_path / "notebook.ipynb")
    assert named and not missing, sorted(missing)
