"""Chapter 8's figures: bias against accuracy per debiasing method, and Bend-VLM's neighbour count m."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import plots


def tradeoff_panel(table: pd.DataFrame) -> plt.Figure:
    """One panel per attribute: MaxSkew (y) against precision at k (x) of each method on the planted queries,
    with 95% fold intervals on both axes."""
    attributes = list(dict.fromkeys(table.attribute))
    fig, axes = plt.subplots(1, len(attributes), figsize=(7.2, 3.4), squeeze=False)
    methods = list(dict.fromkeys(table.method))
    colours = dict(zip(methods, plt.cm.tab10(np.arange(len(methods)))))
    for ax, attribute in zip(axes[0], attributes):
        rows = table[(table.attribute == attribute) & (table.queries == "planted")]
        for row in rows.itertuples():
            ax.errorbar(row.precision, row.max_skew, xerr=row.precision_ci, yerr=row.max_skew_ci, fmt="o", ms=5,
                        capsize=2, color=colours[row.method], label=row.method)
        ax.set_ylim(bottom=0)
        plots.labelled(ax, f"Planted words, {attribute}", "precision at k (garment)", "MaxSkew (lower: fairer)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def m_sweep_panel(sweep: pd.DataFrame) -> plt.Figure:
    """Left: MaxSkew against m; right: precision at k against m; one line per (attribute, method), with intervals."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.2))
    styles = {"step 2 only": "--", "Bend-VLM": "-"}
    colours = {"tint": "tab:purple", "frame": "tab:green"}
    for (attribute, method), rows in sweep.groupby(["attribute", "method"], sort=False):
        rows = rows.sort_values("m")
        for ax, metric in ((left, "max_skew"), (right, "precision")):
            ax.errorbar(rows.m, rows[metric], yerr=rows[f"{metric}_ci"], fmt=styles.get(method, ":"), marker="o",
                        ms=3, capsize=2, color=colours.get(attribute, "0.3"), label=f"{method}, {attribute}")
    for ax in (left, right):
        ax.set_xscale("log")
        ms = sorted(sweep.m.unique())
        ax.set_xticks(ms, [str(m) for m in ms])
        ax.minorticks_off()
    left.legend(fontsize=7)
    plots.labelled(left, "Bias left", "m (reference items per group)", "MaxSkew")
    plots.labelled(right, "Accuracy kept", "m (reference items per group)", "precision at k")
    fig.tight_layout()
    return fig
