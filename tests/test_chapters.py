"""The shape every chapter shares: a study module per chapter, a clean import graph, prepare and the book build."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from support import book, chapters, resources
from support.models import CachedModel
from support.profiles import PROFILES, Param, resolve

SUPPORT = ROOT / "support"
NOTEBOOK_STEMS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def test_every_notebook_has_a_study_module_and_back():
    assert sorted(chapters.CHAPTERS) == NOTEBOOK_STEMS
    assert chapters.chapter_name("5") == chapters.chapter_name("05") == "05_quantization_scaling"
    with pytest.raises(ValueError, match="unknown chapter '11'"):
        chapters.chapter_name("11")


@pytest.mark.parametrize("chapter", sorted(chapters.CHAPTERS))
def test_study_module_declares_params_resources_and_models(chapter):
    study = chapters.study_module(chapter)
    assert study.__name__.endswith(".study") and study.__doc__
    assert isinstance(study.PARAMS, dict) and all(isinstance(p, Param) for p in study.PARAMS.values())
    assert all(name in resources.REGISTRY for name in study.RESOURCES)
    for profile in PROFILES:
        specs = study.models(resolve(profile, study.PARAMS))
        assert all(isinstance(spec, CachedModel) for spec in specs)
        labels = [spec.label() for spec in specs]  # prepare's table tells the models apart by label
        assert len(set(labels)) == len(labels), labels
    assert study.models(resolve("local", study.PARAMS)) or chapter == "10_skipsnn"


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The ``support.*`` modules a file imports (relative imports resolved; ``from pkg import mod`` is ``pkg.mod``)."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    if path.name == "__init__.py":
        module = package[: -len(".__init__")] if package.endswith(".__init__") else package
        package = module
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n.startswith("support")}
    return found


def _module_graph() -> dict[str, set[str]]:
    files = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
             for p in SUPPORT.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        graph[name] = {t for t in _imports(path, set(files)) if t in files and t != name}
    return graph


def test_the_import_graph_has_no_cycles():
    graph = _module_graph()
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = trail[trail.index(nxt):] + [nxt]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])


def test_no_chapter_package_imports_another_and_the_core_imports_none():
    chapter_packages = {m.rsplit(".", 1)[0] for m in chapters.CHAPTERS.values()}
    for name, targets in _module_graph().items():
        home = next((p for p in chapter_packages if name == p or name.startswith(p + ".")), None)
        for target in targets:
            other = next((p for p in chapter_packages if target == p or target.startswith(p + ".")), None)
            if other is None or other == home:
                continue
            assert name == "support.chapters", f"{name} imports {target}, another chapter's package"


def test_prepare_lists_models_and_fetches_resources_from_the_command_line():
    run = subprocess.run([sys.executable, "-m", "support", "prepare", "10", "--profile", "smoke"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "prepared 0 models" in run.stdout
    bad = subprocess.run([sys.executable, "-m", "support", "prepare", "11"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1 and "unknown chapter '11'" in bad.stderr


def test_a_subset_build_executes_only_the_named_chapters(tmp_path):
    (tmp_path / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    config = book.subset_config(tmp_path, ["05_quantization_scaling", "10_skipsnn"])
    try:
        subset = yaml.safe_load(config.read_text())
    finally:
        config.unlink()
    excluded = subset["execute"]["exclude_patterns"]
    assert "notebooks/05_quantization_scaling.py" not in excluded and "notebooks/10_skipsnn.py" not in excluded
    assert "notebooks/00_using_this_book.py" in excluded and len(excluded) == len(chapters.CHAPTERS) - 2
    # the unexecuted chapters' glue keys are not reported; the book's own suppressions stay
    assert subset["sphinx"]["config"]["suppress_warnings"] == ["mystnb.unknown_mime_type", "mystnb.glue"]
    assert subset["execute"]["timeout"] == yaml.safe_load((ROOT / "_config.yml").read_text())["execute"]["timeout"]


def test_the_book_build_says_every_so_often_what_it_executes(tmp_path, capfd):
    root = tmp_path / "book"
    (root / "notebooks").mkdir(parents=True)
    (root / "_config.yml").write_text("title: t\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: force\n"
                                      "sphinx:\n  config:\n    nb_custom_formats:\n      .py:\n        - jupytext.reads\n"
                                      "        - fmt: py:percent\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: notebooks/99_slow\n")
    (root / "intro.md").write_text("# Intro\n")
    (root / "notebooks" / "99_slow.py").write_text("# %% [markdown]\n# # Slow\n\n# %%\nimport time\ntime.sleep(12)\n")
    assert book.build(root=root, heartbeat=3, out=tmp_path / "out") == 0
    out = capfd.readouterr().out
    assert "still working on notebooks/99_slow" in out
    assert "99_slow: executing" in out and "99_slow: executed in" in out
    assert out.rstrip().splitlines()[-1] == "[book] internal links: all resolve"


def test_the_chapter_log_reads_executed_cached_and_failed_chapters():
    """Known answer: Jupyter Book's own lines (as printed, with colour codes) -> the table of chapters."""
    lines = [
        "\x1b[01mreading sources... \x1b[39;49;00m[ 50%] \x1b[35mnotebooks/01_a\x1b[39;49;00m\n",
        "/repo/notebooks/01_a.py: Using cached notebook: ID=3 [mystnb]\n",
        "/repo/notebooks/02_b.py: Executing notebook using local CWD [mystnb]\n",
        "/repo/notebooks/02_b.py: Executed notebook in 90.00 seconds [mystnb]\n",
        "/repo/notebooks/03_c.py: Executing notebook using local CWD [mystnb]\n",
        "/repo/notebooks/03_c.py:Executing notebook failed: CellExecutionError [mystnb.exec]\n",
        "nbclient.exceptions.CellExecutionError: An error occurred while executing the following cell:\n",
        "------------------\n", "y = 2\n", "------------------\n",
        "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[7]\x1b[39m\x1b[32m, line 2\x1b[39m\n",
        "\x1b[31mValueError\x1b[39m: no such profile\n",
    ]
    log = book.ChapterLog()
    said = [log.feed(line) for line in lines]
    assert said[1] == "[book] 01_a: cached (not executed)"
    assert said[3].endswith("02_b: executed in 1.5 min")
    assert said[-1] == "[book] 03_c: FAILED in code cell 7: ValueError: no such profile"
    table = log.summary().splitlines()
    assert table[1].split() == ["01_a", "cached", "-"] and table[2].split() == ["02_b", "executed", "1.5"]
    assert table[3].split()[:2] == ["03_c", "failed"] and table[3].endswith("code cell 7: ValueError: no such profile")
    assert table[-1].startswith("3 notebooks")
