"""The results page's table: each headline judged from a chapter's results JSON (known answers by hand)."""

import datetime as dt

import pytest

from support import headlines
from support.headlines import Headline, headline_table, table_html
from support.results import save_results


def _results(folder, chapter, metrics, profile="local"):
    """Write a chapter's results file as the chapters do."""
    save_results(chapter, {"profile": profile}, metrics, path=folder / f"{chapter}.json")


def test_verdicts_by_hand(tmp_path, monkeypatch):
    """Rules on numbers, on the largest of other metrics, on the smallest of several; absent and null metrics."""
    rules = {
        "01_constrained_diffusion": [Headline("low is good", "0%", "rate", "<=", 2.0),
                                     Headline("beats the rival", "x", "ours", ">", ("rival_a", "rival_b"))],
        "02_norm_growth": [Headline("every kind", "all", ("a", "b"), ">=", "n")],
        "03_encore": [Headline("not measured here", "y", "absent", ">", 0.0)],
    }
    monkeypatch.setattr(headlines, "chapter_headlines", lambda chapter: rules.get(chapter, []))
    _results(tmp_path, "01_constrained_diffusion", {"rate": 2.5, "ours": 0.6, "rival_a": 0.5, "rival_b": 0.7})
    _results(tmp_path, "02_norm_growth", {"a": 7, "b": 7, "n": 7})
    _results(tmp_path, "03_encore", {"absent": None})
    table = headline_table(tmp_path, chapters=[*rules, "04_sae_features"])
    assert list(table.verdict) == ["missed", "missed", "met", "not measured"]  # 2.5 > 2; 0.6 < max(0.5, 0.7)
    assert list(table.target) == ["<= 2", "> 0.7 (rival_a, rival_b)", ">= 7 (n)", "> 0"]
    assert table.value.iloc[2] == 7 and table.run_on.iloc[0] == dt.datetime.now(dt.timezone.utc).date().isoformat()
    rules["04_sae_features"] = [Headline("never ran", "z", "m", "<", 1.0)]
    table = headline_table(tmp_path, chapters=list(rules))
    assert table.verdict.iloc[-1] == "not run" and table.this_build.iloc[-1] == ""
    page = table_html(table, root="../")
    assert page.count("<tr>") == 1 + len(table) and 'href="../notebooks/01_constrained_diffusion.html"' in page
    assert '<td class="missed">missed</td>' in page and '<td class="met">met</td>' in page


def test_a_headline_refuses_an_unknown_rule_and_a_lenient_minimum():
    """An unknown comparison, and 'the smallest of several metrics is below' (met when only one is), are refused."""
    with pytest.raises(ValueError, match="rule"):
        Headline("c", "p", "m", "=>", 1.0)
    with pytest.raises(ValueError, match="smallest"):
        Headline("c", "p", ("a", "b"), "<=", 1.0)


def test_every_studied_chapter_declares_headlines():
    """Chapters 1-10 each give the results page at least one row."""
    from support.chapters import CHAPTERS

    for chapter in CHAPTERS:
        if not chapter.startswith("00_"):
            assert headlines.chapter_headlines(chapter), f"{chapter}'s study module declares no HEADLINES"
