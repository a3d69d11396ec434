"""The repository's public address, one setting in ``_config.yml``, and what derives from it.

``repository.url`` and ``repository.branch`` give the launch buttons (Jupyter Book), the Colab badge under
every chapter title (``support.booksite``) and the chapters' setup cells, written here and checked by the
tests: ``python -m support setup-cells`` rewrites every chapter's setup cell after the setting changes.

The setup cell installs only what the runtime lacks. ``support``'s own requirements are floors
(``torch>=2.2``, ``numpy>=1.26``), and pip keeps an installed package that satisfies its floor, so
Colab's torch and numpy stay as they are. ``TRUSTML_SUPPORT_SOURCE`` replaces the git address (a local
checkout for the tests, a fork for a reader).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCE_ENV = "TRUSTML_SUPPORT_SOURCE"
SETUP_MARKER = "# Setup: install the book's `support` package"
EXTRAS = "paper"


def repository(root: Path = ROOT) -> tuple[str, str]:
    """The repository's public URL and branch, from ``_config.yml``."""
    config = yaml.safe_load((root / "_config.yml").read_text())["repository"]
    return config["url"].rstrip("/"), config.get("branch") or "main"


def colab_url(repository_url: str, branch: str, notebook_path: str) -> str:
    """The Colab address of a notebook of a GitHub repository."""
    owner_repo = repository_url.rstrip("/").removesuffix(".git").split("github.com/")[-1]
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/{notebook_path}"


def setup_cell(url: str, branch: str) -> str:
    """The source of every chapter's setup cell for a repository at ``url`` on ``branch``."""
    return f'''{SETUP_MARKER} when it is missing (e.g. in Colab).
# Only what is missing is installed: Colab's own torch and numpy are kept.
import importlib
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("support") is None:
    source = os.environ.get("{SOURCE_ENV}", "git+{url}@{branch}")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"trustml-book-support[{EXTRAS}] @ {{source}}"])
    importlib.invalidate_caches()'''


_CELL = re.compile(r"(# %% tags=\[\"hide-cell\"\][^\n]*\n)(" + re.escape(SETUP_MARKER) + r".*?)(?=\n\n# %%)", re.S)


def setup_cell_of(text: str) -> str | None:
    """The setup cell's source in a chapter's jupytext text (None when it has none)."""
    match = _CELL.search(text)
    return match.group(2) if match else None


def write_setup_cells(root: Path = ROOT) -> list[Path]:
    """Rewrite every chapter's setup cell from ``_config.yml`` (the .py and its paired .ipynb); return the changed."""
    from jupytext.cli import jupytext as jupytext_cli

    cell = setup_cell(*repository(root))
    changed = []
    for source in sorted((root / "notebooks").glob("[0-9][0-9]_*.py")):
        text = source.read_text(encoding="utf-8")
        if setup_cell_of(text) is None:
            raise ValueError(f"{source.name} has no setup cell starting with {SETUP_MARKER!r}")
        new = _CELL.sub(lambda m: m.group(1) + cell, text, count=1)
        if new != text:
            source.write_text(new, encoding="utf-8")
            jupytext_cli(["--sync", "--quiet", str(source)])  # the paired .ipynb keeps its cell ids
            changed.append(source)
    return changed
