"""Chapter 9's figures: the simulated world (inversions, detection power), published correlations, real answers."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import plots
from .simulate import inversion_probability


def simulation_panel(inverted: pd.DataFrame, power: pd.DataFrame) -> plt.Figure:
    """Left: share of model pairs ranked oppositely against rho (closed form, true skills, test scores).
    Right: how often rho < 1 is detected, per number of models, one line per test length."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.3))
    grid = np.linspace(min(inverted.rho.min(), 0), 1, 100)
    left.plot(grid, inversion_probability(grid), color="grey", lw=1, label="closed form (skills)")
    left.errorbar(inverted.rho, inverted.skills, yerr=inverted.skills_ci, fmt="o", ms=4, capsize=2,
                  label="true skills")
    left.errorbar(inverted.rho, inverted.exam_vs_criterion_score, yerr=inverted.exam_vs_criterion_score_ci, fmt="s",
                  ms=4, capsize=2, label="exam vs criterion score")
    left.legend(fontsize=7)
    plots.labelled(left, "Rank inversions", "rho (exam skill, clinical skill)", "share of model pairs inverted")
    for n_items, part in power.groupby("items"):
        right.errorbar(part.models, part.detected, yerr=[part.detected - part.detected_lo,
                                                         part.detected_hi - part.detected],
                       fmt="o-", ms=4, capsize=2, label=f"{n_items} items")
    right.set_xscale("log")
    right.minorticks_off()
    right.set_xticks(sorted(power.models.unique()), [str(m) for m in sorted(power.models.unique())])
    right.set_ylim(-0.03, 1.03)
    right.legend(fontsize=7)
    plots.labelled(right, f"Detecting rho = {power.rho.iloc[0]:g} < 1", "models", "share of worlds detected")
    fig.tight_layout()
    return fig


def correlation_heatmap(corr: pd.DataFrame, construct: dict[str, str]) -> plt.Figure:
    """Spearman correlations of published benchmark scores over models, medical benchmarks first."""
    order = sorted(corr.columns, key=lambda c: (construct[c] != "medical", c))
    corr = corr.loc[order, order]
    fig, ax = plt.subplots(figsize=(7.0, 5.8))
    image = ax.imshow(corr.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
    ax.grid(False)
    labels = [c.replace("MMLU_", "MMLU ").replace("_", " ") for c in order]
    ax.set_xticks(range(len(order)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(order)), labels, fontsize=7)
    split = sum(construct[c] == "medical" for c in order) - 0.5
    ax.axhline(split, color="black", lw=1)
    ax.axvline(split, color="black", lw=1)
    fig.colorbar(image, ax=ax, shrink=0.8, label="Spearman correlation over models")
    ax.set_title("Published scores: medical (top left) and general benchmarks")
    fig.tight_layout()
    return fig


def answers_panel(accuracy: pd.DataFrame, letters: pd.DataFrame) -> plt.Figure:
    """Left: accuracy per benchmark and administration with exact intervals, chance marked.
    Right: where the lettered answers fall, against where the keys are."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.9))
    benchmarks = list(dict.fromkeys(accuracy.benchmark))
    administrations = list(dict.fromkeys(accuracy.administration))
    width = 0.8 / len(administrations)
    for k, name in enumerate(administrations):
        part = accuracy[accuracy.administration == name].set_index("benchmark").reindex(benchmarks)
        x = np.arange(len(benchmarks)) + (k - (len(administrations) - 1) / 2) * width
        left.errorbar(x, part.accuracy, yerr=[part.accuracy - part.accuracy_lo, part.accuracy_hi - part.accuracy],
                      fmt="o", ms=4, capsize=2, label=name)
    chance = accuracy.groupby("benchmark").chance.mean().reindex(benchmarks)
    left.scatter(np.arange(len(benchmarks)), chance, marker="_", s=300, color="black", label="chance", zorder=3)
    left.set_xticks(range(len(benchmarks)), benchmarks, rotation=30, ha="right", fontsize=7)
    handles, names = left.get_legend_handles_labels()
    plots.labelled(left, "Accuracy by administration", "benchmark", "accuracy")
    if len(letters):
        shown = letters.groupby("letter")[["answers", "keys"]].mean()
        x = np.arange(len(shown))
        right.bar(x - 0.2, shown.answers, 0.4, label="answers")
        right.bar(x + 0.2, shown["keys"], 0.4, label="keys")
        right.set_xticks(x, shown.index)
        right.legend(fontsize=7)
    plots.labelled(right, "Lettered answers", "letter", "share")
    fig.legend(handles, names, loc="lower center", ncol=3, fontsize=7)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig
