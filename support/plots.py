"""One plotting style for the whole book, and small helpers that keep every figure labelled."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import seaborn as sns

PALETTE = "colorblind"


def set_style() -> None:
    """Apply the book's seaborn theme (white grid, colour-blind palette, readable sizes)."""
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook")
    matplotlib.rcParams.update({"figure.figsize": (6.4, 3.6), "figure.dpi": 110, "axes.titleweight": "bold",
                                "savefig.bbox": "tight"})


def labelled(ax: plt.Axes, title: str, xlabel: str, ylabel: str) -> plt.Axes:
    """Set title and axis labels; every figure in the book goes through this."""
    if not (title and xlabel and ylabel):
        raise ValueError("every figure needs a title and both axis labels")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax
