"""Chapter 7's figures: recovery of planted associations, and group make-up heat maps of retrieved sets."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import plots


def recovery_panel(recovery: pd.DataFrame, fdr: float) -> plt.Figure:
    """Left: recall of planted words vs planting strength, one line per k (each null); right: FDR vs k."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.2))
    styles = {"control": "-", "gallery": "--"}
    ks = sorted(recovery.k.unique())
    colours = plt.cm.viridis(np.linspace(0, 0.85, len(ks)))
    for null, style in styles.items():
        for k, colour in zip(ks, colours):
            rows = recovery[(recovery.null == null) & (recovery.k == k)].sort_values("strength")
            left.plot(rows.strength, rows.recall, style, marker="o", ms=3, color=colour,
                      label=f"k={k}" if null == "control" else None)
        per_k = recovery[recovery.null == null].drop_duplicates("k").sort_values("k")
        right.plot(per_k.k, per_k.FDR, style, marker="o", ms=3, color="0.2", label=f"{null} null")
    strengths = sorted(recovery.strength.unique())
    left.set_xscale("log")
    left.set_xticks(strengths, [f"{x:g}" for x in strengths])
    left.minorticks_off()
    left.set_ylim(-0.05, 1.05)
    left.legend(fontsize=7, title="control null (solid)\ngallery null (dashed)", title_fontsize=7)
    plots.labelled(left, "Planted words recovered", "planting strength", "recall")
    right.axhline(fdr, color="tab:red", lw=1, label=f"target {fdr:g}")
    right.set_xscale("log")
    right.set_xticks(ks, [str(k) for k in ks])
    right.minorticks_off()
    right.set_ylim(-0.05, 1.05)
    right.legend(fontsize=7)
    plots.labelled(right, "False discoveries among flags", "k (retrieved images)", "false-discovery share")
    fig.tight_layout()
    return fig


def shares_heatmap(shares: pd.DataFrame, row: str, column_groups: list[str], title: str) -> plt.Figure:
    """Heat map of share / prior (log2) per ``row`` (a word) and group, groups in the given order."""
    table = shares.pivot_table(index=row, columns="group_name", values="ratio", sort=False)[column_groups]
    logs = np.log2(table.clip(lower=1 / 16))
    fig, ax = plt.subplots(figsize=(7.2, 0.3 * len(table) + 1.9))
    image = ax.imshow(logs.to_numpy(), cmap="RdBu_r", vmin=-4, vmax=4, aspect="auto")
    ax.set_xticks(range(len(column_groups)))
    ax.set_xticklabels(column_groups, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(table)))
    ax.set_yticklabels(table.index, fontsize=8)
    colourbar = fig.colorbar(image, ax=ax, shrink=0.8)
    colourbar.set_label("log2(share / prior); -4 = absent", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.grid(False)
    fig.tight_layout()
    return fig
