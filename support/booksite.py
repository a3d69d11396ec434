"""Sphinx extension of the book (``sphinx.extra_extensions`` in ``_config.yml``): pages that work offline.

- MathJax 3 is served from the build (``_static/mathjax``), copied from the ``django-static-mathjax``
  wheel on PyPI, so equations render with no network.
- Every chapter page gets an "Open in Colab" badge under its title, a local SVG whose link is derived
  from ``repository.url`` and ``repository.branch`` in ``_config.yml`` (the launch buttons use the same two).
- ``book/_static/book.css`` wraps long code lines and outputs to the page width.
- ``{chapter-results}`` (the results page) is filled after every chapter has executed, from the
  chapters' results JSON files and each study module's ``HEADLINES`` (see ``support.headlines``), and
  rewritten in every build (its source never changes, its numbers do).
"""

from __future__ import annotations

import html
import os
import shutil
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive

from .colab import ROOT, colab_url

STATIC = ROOT / "book" / "_static"
MATHJAX_SCRIPT = "mathjax/tex-chtml.js"
#: what of MathJax's es5 build the pages load: the TeX input + CHTML output component, its fonts, and the
#: TeX extensions it autoloads on first use (``\require``, ``\boldsymbol``, ...)
MATHJAX_PARTS = ("tex-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions")
BADGE = "colab-badge.svg"
RESULTS_PAGE = "book/results"


def mathjax_source() -> Path:
    """The es5 folder of the installed MathJax 3 (package ``django-static-mathjax``)."""
    try:
        import mathjax
    except ImportError as err:  # the book extra brings it; say so rather than render raw TeX
        raise RuntimeError("MathJax for offline equations is missing: pip install -e '.[book]' "
                           "(it installs django-static-mathjax)") from err
    return Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"


def copy_mathjax(static_out: Path) -> Path:
    """Copy the MathJax parts the pages load into ``static_out/mathjax``; return the script's path."""
    source, target = mathjax_source(), static_out / "mathjax"
    for part in MATHJAX_PARTS:
        src, dst = source / part, target / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    return target / "tex-chtml.js"


def to_root(docname: str) -> str:
    """The relative path from a page to the site's root ('' or '../', ...: pages sit at their docname's depth)."""
    return "../" * docname.count("/")


def _theme_repository(app) -> tuple[str, str]:
    """Repository URL and branch as Jupyter Book passed them to the theme (from ``_config.yml``)."""
    options = app.config.html_theme_options or {}
    return options.get("repository_url", ""), options.get("repository_branch", "main") or "main"


def add_colab_badge(app, doctree) -> None:
    """Put a local "Open in Colab" badge, linked to the paired ``.ipynb``, under a chapter's title."""
    docname = app.env.docname
    if not docname.startswith("notebooks/"):
        return
    url, branch = _theme_repository(app)
    if "github.com/" not in url:
        return
    link = colab_url(url, branch, f"{docname}.ipynb")
    badge = (f'<p class="colab-badge"><a href="{html.escape(link)}">'
             f'<img src="{to_root(docname)}_static/{BADGE}" alt="Open In Colab" width="117" height="20"></a></p>')
    section = next(iter(doctree.findall(nodes.section)), None)
    title = next(iter(section.findall(nodes.title)), None) if section is not None else None
    if title is not None:
        title.parent.insert(title.parent.index(title) + 1, nodes.raw("", badge, format="html"))


class chapter_results(nodes.General, nodes.Element):
    """Placeholder for the results table, filled once every chapter has run."""


class ChapterResultsDirective(Directive):
    """``{chapter-results}``: the table of every chapter's headline numbers."""

    def run(self):
        """The placeholder node."""
        return [chapter_results()]


def results_dir(app) -> Path:
    """Where the chapters wrote their results JSON: ``SUPPORT_RESULTS_DIR`` (set by ``python -m support book``),
    else ``notebooks/results``, where a kernel started by a bare ``jupyter-book build`` (working folder
    ``notebooks/``) writes them by ``support.results.default_path``."""
    from .results import RESULTS_ENV

    folder = os.environ.get(RESULTS_ENV)
    return Path(folder) if folder else Path(app.srcdir) / "notebooks" / "results"


def fill_results(app, doctree, docname) -> None:
    """Replace the placeholder with the headline table, built now that the chapters have executed."""
    from .headlines import headline_table, table_html

    for node in list(doctree.findall(chapter_results)):
        table = headline_table(results_dir(app))
        node.replace_self(nodes.raw("", table_html(table, root=to_root(docname)), format="html"))


def always_rewrite_results(app, env, added, changed, removed) -> list[str]:
    """The results page, re-read and re-written in every build: its table comes from files, not from its source."""
    return [RESULTS_PAGE] if RESULTS_PAGE in env.found_docs else []


def configure(app, config) -> None:
    """Point MathJax at the local copy, add the book's static folder, and keep the theme's header bar empty."""
    config.mathjax_path = MATHJAX_SCRIPT
    # pydata-sphinx-theme 0.17 fills an unset navbar_persistent with a search field, which sphinx-book-theme
    # (>= 1.2) then shows as a second search bar over the sidebar's title (executablebooks/sphinx-book-theme#999)
    config.html_theme_options.setdefault("navbar_persistent", [])
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def finish(app, exception) -> None:
    """Copy MathJax into the built site."""
    if exception is None and app.builder.format == "html":
        copy_mathjax(Path(app.outdir) / "_static")


def setup(app):
    """Register the extension's hooks."""
    app.connect("config-inited", configure)
    app.connect("doctree-read", add_colab_badge)
    app.connect("doctree-resolved", fill_results)
    app.connect("env-get-outdated", always_rewrite_results)
    app.connect("build-finished", finish)
    app.add_node(chapter_results)
    app.add_directive("chapter-results", ChapterResultsDirective)
    app.add_css_file("book.css")
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
