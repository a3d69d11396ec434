"""The results page: one row per chapter headline, the paper's number beside this build's, and the verdict.

Each study module declares ``HEADLINES``: a list of :class:`Headline` (the claim, the paper's number as
text, the metric of the chapter's results JSON that measures it here, and the target it must meet).
:func:`headline_table` reads the latest results JSON of every chapter (written when its page executed,
in this build or, for a page served from the execution cache, an earlier one; each row gives its date)
and judges each row; a chapter with no results file reads "not run".
"""

from __future__ import annotations

import html
import operator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .chapters import CHAPTERS, study_module
from .results import load_results

RULES = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


@dataclass(frozen=True)
class Headline:
    """A claim of the paper, the metric that measures it in this book, and the target it is judged by."""

    claim: str
    paper: str  # the paper's number, as the paper reports it
    metric: str | tuple[str, ...]  # key(s) of the results JSON's ``metrics``; of several, the smallest is judged
    rule: str  # one of RULES: metric <rule> target
    target: float | str | tuple[str, ...]  # a number, or metric key(s) of the same run (of several, the largest)
    fmt: str = "{:.3g}"
    note: str = ""  # what differs in setting, one short phrase

    def __post_init__(self):
        if self.rule not in RULES:
            raise ValueError(f"rule {self.rule!r} is not one of {sorted(RULES)}")
        if not isinstance(self.metric, str) and self.rule in ("<", "<="):
            raise ValueError("several metrics are judged by their smallest: give them a >= or > rule")

    def measured(self, metrics: dict) -> float | None:
        """This run's number: the metric (the smallest of several); None when any is null or absent."""
        values = [metrics.get(key) for key in keys_of(self.metric)]
        return None if any(v is None for v in values) else min(values)

    def target_keys(self) -> tuple[str, ...]:
        """The metric keys the target is read from (none for a fixed number)."""
        return () if isinstance(self.target, (int, float)) else keys_of(self.target)

    def threshold(self, metrics: dict) -> float | None:
        """The number the metric is compared with (the largest of several target metrics)."""
        if not self.target_keys():
            return float(self.target)
        values = [metrics.get(key) for key in self.target_keys()]
        return None if any(v is None for v in values) else max(values)

    def judge(self, metrics: dict) -> str:
        """'met', 'missed', or 'not measured' (a metric is null or absent in this run)."""
        value, threshold = self.measured(metrics), self.threshold(metrics)
        if value is None or threshold is None:
            return "not measured"
        return "met" if RULES[self.rule](value, threshold) else "missed"

    def target_text(self, metrics: dict) -> str:
        """The target as a reader reads it, e.g. '<= 2' or '> 51.8 (memit_S)'."""
        if not self.target_keys():
            return f"{self.rule} {self.fmt.format(self.target)}"
        threshold = self.threshold(metrics)
        number = "?" if threshold is None else self.fmt.format(threshold)
        return f"{self.rule} {number} ({', '.join(self.target_keys())})"


def keys_of(spec: str | tuple[str, ...]) -> tuple[str, ...]:
    """One metric key or several, as a tuple."""
    return (spec,) if isinstance(spec, str) else tuple(spec)


def chapter_headlines(chapter: str) -> list[Headline]:
    """The headlines a chapter's study module declares (none for the tour)."""
    return list(getattr(study_module(chapter), "HEADLINES", []))


def read_results(folder: Path, chapter: str) -> dict | None:
    """A chapter's results JSON in ``folder``, validated (None when the chapter has not written one)."""
    path = Path(folder) / f"{chapter}.json"
    return load_results(path) if path.is_file() else None


def headline_table(folder: Path, chapters: list[str] | None = None) -> pd.DataFrame:
    """One row per headline of every chapter: claim, paper, this build, target, verdict, profile."""
    rows = []
    for chapter in chapters or list(CHAPTERS):
        results = read_results(folder, chapter)
        metrics = {} if results is None else results["metrics"]
        for headline in chapter_headlines(chapter):
            value = headline.measured(metrics)
            rows.append({"chapter": chapter, "claim": headline.claim, "paper": headline.paper,
                         "metric": ", ".join(keys_of(headline.metric)), "value": value,
                         "this_build": "" if value is None else headline.fmt.format(value),
                         "target": headline.target_text(metrics),
                         "verdict": "not run" if results is None else headline.judge(metrics),
                         "profile": "" if results is None else results["profile"],
                         "run_on": "" if results is None else results["created"][:10], "note": headline.note})
    return pd.DataFrame(rows, columns=["chapter", "claim", "paper", "metric", "value", "this_build", "target",
                                       "verdict", "profile", "run_on", "note"])


def table_html(table: pd.DataFrame, root: str) -> str:
    """The table as HTML for a page whose path to the site's root is ``root``, chapters linked to their pages."""
    head = ("<table class=\"table chapter-results\"><thead><tr><th>Chapter</th><th>Claim</th><th>Paper</th>"
            "<th>This build</th><th>Target</th><th>Verdict</th><th>Profile, run on</th></tr></thead><tbody>")
    body = []
    for row in table.itertuples():
        number = int(row.chapter.split("_")[0])
        link = f'<a href="{root}notebooks/{row.chapter}.html">{number}</a>'
        verdict_class = {"met": "met", "missed": "missed"}.get(row.verdict, "absent")
        note = f"<br><small>{html.escape(row.note)}</small>" if row.note else ""
        body.append(f"<tr><td>{link}</td><td>{html.escape(row.claim)}{note}</td><td>{html.escape(row.paper)}</td>"
                    f"<td>{html.escape(row.this_build)}</td><td>{html.escape(row.target)}</td>"
                    f"<td class=\"{verdict_class}\">{row.verdict}</td>"
                    f"<td>{html.escape(row.profile)}{', ' if row.run_on else ''}{row.run_on}</td></tr>")
    return head + "".join(body) + "</tbody></table>"
