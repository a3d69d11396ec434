"""No chapter's prose carries a hand-typed measured number (the convention of README, "Numbers in prose").

Measured numbers reach the prose through myst-nb glue: ``{glue:text}`name:fmt```. A number typed
in a markdown cell is allowed only where it cannot be a measurement: inside math, inline code,
link targets and roles (citations, glue); as part of a name (``Llama-3-8B``, ``4-bit``, ``top-1``);
after a reference word (Table 4, eq. 10, chapter 3, arXiv 2502.01636); as a year in a citation;
and as a heading's section number. Everything else, counts of a setting included, is glued or
spelled out.
"""

import re

import jupytext
import pytest

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))

_STRIP = [
    re.compile(r"<!--.*?-->", re.S),  # comments
    re.compile(r"^```.*?^```", re.S | re.M),  # fenced code blocks
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"\$[^$\n]+\$"),  # inline math
    re.compile(r"``.+?``"),  # inline code that shows backticks
    re.compile(r"\{[\w:-]+\}`[^`]*`"),  # roles: {glue:text}`x:.2f`, {cite}`key`
    re.compile(r"`[^`\n]*`"),  # inline code
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"https?://\S+"),  # bare URLs
    re.compile(r"^#+\s*\d+(\.\d+)*\.?\s", re.M),  # section numbers of headings
    re.compile(r"\b(?:Tables?|Figures?|Fig\.|Sections?|Sec\.|[Ee]qs?\.|[Ee]quations?|[Cc]hapters?|Part|"
               r"Appendix|App\.|Algorithm|arXiv|version)\s+\d+(?:[.-]\d+)*"),
    re.compile(r"(?:\(|, |et al\. )(?:19|20)\d\d\b"),  # years in citations
]
_NUMBER = re.compile(r"(?<![\w./-])[-+−]?\d(?:[\d,]*\d)?(?:\.\d+)?(?:\s?%|x\b|×)?(?![\w-])")


def typed_numbers(markdown: str) -> list[str]:
    """The numbers in a markdown text that the convention does not allow."""
    for pattern in _STRIP:
        markdown = pattern.sub(" ", markdown)
    return _NUMBER.findall(markdown)


@pytest.mark.parametrize("text, expected", [
    ("MEMIT grew 20x after 600 edits.", ["20x", "600"]),
    ("accuracy 0.84 and 12.5% of runs", ["0.84", "12.5%"]),
    ("grew {glue:text}`norm_ratio:.1f`x after {glue:text}`n_edits:,` edits", []),
    ("Llama-3-8B, GPT2-XL, SmolLM2-135M, 4-bit, top-1 and a 30-layer model", []),
    ("Table 4, eq. 10, chapter 3, Tables 2-3, arXiv 2502.01636, {cite}`meng2023memit` (2023)", []),
    ("# 3. ENCORE\n## 1. The norm", []),
    ("$\\lambda_p = 15000$ and `num_edits=10000`", []),
    ("run\n```bash\npython -m support batch --grid lr=0.1,1\n```\nthen 3 more", ["3"]),
])
def test_the_checker_itself(text, expected):
    assert typed_numbers(text) == expected


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_prose_has_no_hand_typed_numbers(source):
    notebook = jupytext.read(source)
    found = [(i, n) for i, cell in enumerate(notebook.cells) if cell.cell_type == "markdown"
             for n in typed_numbers(cell.source)]
    assert not found, (f"{source.name}: numbers typed into prose (markdown cell, number): {found[:20]}; "
                       "glue measured and paper numbers from the run (support.glue) or spell settings out")
