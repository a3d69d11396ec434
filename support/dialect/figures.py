"""Chapter 6's figures: accuracy per task in each dialect, and what each conversion rule costs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import plots
from .study import DIALECTS


def accuracy_panel(table: pd.DataFrame) -> plt.Figure:
    """Option-likelihood accuracy per task (and pooled) in SAE, AAE and the control, with bootstrap intervals and
    each task's chance level."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    x = np.arange(len(table))
    for i, dialect in enumerate(DIALECTS):
        at = x + 0.22 * (i - 1)
        ax.errorbar(at, table[dialect], yerr=[table[dialect] - table[f"{dialect} low"],
                                              table[f"{dialect} high"] - table[dialect]],
                    fmt="o", ms=5, capsize=3, label=dialect)
    ax.scatter(x, table.chance, marker="_", s=600, color="0.4", label="chance", zorder=0)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{t}\n(n={n})" for t, n in zip(table.task, table.n)], fontsize=8)
    low, high = ax.get_ylim()
    ax.set_ylim(low, high + 0.25 * (high - low))  # room for the legend above the intervals
    ax.legend(fontsize=8, ncol=4, loc="upper left")
    plots.labelled(ax, "Accuracy by dialect (95% bootstrap intervals)", "task", "accuracy (option likelihood)")
    fig.tight_layout()
    return fig


def ablation_panel(ablation: pd.DataFrame) -> plt.Figure:
    """Per rule: accuracy without it minus with every rule, on the questions it changed, with paired intervals."""
    shown = ablation.dropna(subset=["cost"]).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(shown) + 1.4))
    y = np.arange(len(shown))
    ax.errorbar(shown.cost, y, xerr=[shown.cost - shown["cost low"], shown["cost high"] - shown.cost], fmt="o",
                ms=4, capsize=2)
    ax.axvline(0, color="0.4", lw=1)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{r.rule} ({r.questions})" for r in shown.itertuples()], fontsize=8)
    plots.labelled(ax, "What each rule costs (left out once)", "accuracy without the rule - with all rules",
                   "rule (questions it changed)")
    fig.tight_layout()
    return fig
