"""Chapter 4's figures: the grid per task, and paired differences between feature variants."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import plots
from .study import VARIANTS


def grid_panels(summary: pd.DataFrame, kind: str) -> plt.Figure:
    """Macro-F1 per feature set with fold intervals, one panel per task (two a row): every SAE variant at each
    layer x width of ``kind``, the hidden-state pools, and TF-IDF as a dashed line."""
    names = list(summary.task.unique())
    fig, axes = plt.subplots((len(names) + 1) // 2, 2, figsize=(11, 3.6 * ((len(names) + 1) // 2)), squeeze=False)
    variants = list(VARIANTS)
    for ax, name in zip(axes.flat, names):
        here = summary[summary.task == name]
        sae = here[(here.source == "SAE") & (here.kind == kind)]
        configs = list(sae[["layer", "width"]].drop_duplicates().itertuples(index=False))
        for i, (layer, width) in enumerate(configs):
            rows = sae[(sae.layer == layer) & (sae.width == width)].set_index("variant").loc[variants]
            x = np.arange(len(variants)) + 0.18 * (i - (len(configs) - 1) / 2)
            ax.errorbar(x, rows.macro_f1, yerr=rows.interval, fmt="o", ms=4, capsize=2,
                        label=f"SAE block {layer}, x{width}")
        hidden = here[here.source == "hidden"]
        spots = len(variants) + 0.5 + 0.35 * np.arange(len(hidden))
        ax.errorbar(spots, hidden.macro_f1, yerr=hidden.interval, fmt="s", ms=4, capsize=2, color="0.3",
                    label="hidden state")
        ax.axhline(here[here.source == "TF-IDF"].macro_f1.iloc[0], ls="--", color="0.5", lw=1, label="TF-IDF")
        ax.set_xticks(list(range(len(variants))) + list(spots))
        ax.set_xticklabels(variants + [f"h{r.layer} {r.variant}" for r in hidden.itertuples()], rotation=45,
                           fontsize=7)
        plots.labelled(ax, name, "feature set (SAE variants, then hidden-state pools)", "macro-F1 (held-out folds)")
    axes.flat[0].legend(fontsize=6)
    for ax in list(axes.flat)[len(names):]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def gap_panels(gaps: dict[str, pd.DataFrame]) -> plt.Figure:
    """Paired differences of two variants per task x SAE, with fold intervals; one panel per comparison (<= 2)."""
    fig, axes = plt.subplots(1, len(gaps), figsize=(11, 3.4), sharey=True, squeeze=False)
    for ax, (title, frame) in zip(axes.flat, gaps.items()):
        ax.errorbar(np.arange(len(frame)), frame.gap, yerr=frame.interval, fmt="o", ms=4, capsize=2)
        ax.axhline(0, color="0.4", lw=1)
        ax.set_xticks(np.arange(len(frame)))
        ax.set_xticklabels([f"{r.task} b{r.layer} x{r.width} {r.kind}" for r in frame.itertuples()], rotation=90,
                           fontsize=6)
        plots.labelled(ax, f"macro-F1, {title}", "task, block, width, SAE kind", "difference (paired over folds)")
    fig.tight_layout()
    return fig
