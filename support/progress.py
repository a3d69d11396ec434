"""The book's progress bars: tqdm.auto in Jupyter and terminals, plain dated lines in logs.

In a notebook or a terminal the bar redraws in place. Where standard error is neither (``make book``
piped into a log, CI), a redrawn bar would be one endless line, so the same bar prints one line at
most every ``LOG_INTERVAL`` seconds instead: a newcomer watching a long ``prepare`` sees it move.
``TQDM_DISABLE=1`` (set by the book build and the smoke tests) switches every bar off, also the ones a
caller asked for explicitly: a built page shows results, not progress.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

from tqdm import TqdmExperimentalWarning, TqdmWarning

with warnings.catch_warnings():
    # Without ipywidgets tqdm.auto falls back to text bars and warns once; text bars are fine here.
    warnings.simplefilter("ignore", category=TqdmWarning)
    warnings.simplefilter("ignore", category=TqdmExperimentalWarning)
    from tqdm.auto import tqdm

LOG_INTERVAL = 30.0  # seconds between progress lines in a log


class _LineWriter:
    """A file-like target for tqdm that turns each redraw into one stamped line."""

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip()
        if text:
            sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {text}\n")
            sys.stderr.flush()

    def flush(self) -> None:
        sys.stderr.flush()


def interactive() -> bool:
    """Whether progress can redraw in place (a Jupyter kernel or a terminal)."""
    return "ipykernel" in sys.modules or sys.stderr.isatty()


def bar(iterable=None, **kwargs):
    """A tqdm bar that redraws in place where it can and prints a line every 30 s where it cannot."""
    if os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes"):
        kwargs["disable"] = True
    if not interactive() and not kwargs.get("disable"):
        kwargs.setdefault("mininterval", LOG_INTERVAL)
        # tqdm's monitor thread forces a redraw once maxinterval (10 s) has passed since the last one, which
        # printed every log line twice (the second 10-12 s after the first) during long training runs
        kwargs.setdefault("maxinterval", LOG_INTERVAL)
        kwargs.update(file=_LineWriter(), ascii=True, ncols=100, dynamic_ncols=False)
    else:
        kwargs.setdefault("mininterval", 1.0)
    return tqdm(iterable, **kwargs)


__all__ = ["bar", "interactive", "tqdm"]
