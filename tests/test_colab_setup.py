"""Every chapter's setup cell derives from ``_config.yml``, and run where torch and numpy are already installed
(as in Colab) it installs ``support`` without reinstalling either; then every chapter's imports work."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
from conftest import ROOT

from support.colab import SOURCE_ENV, repository, setup_cell, setup_cell_of

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def test_every_setup_cell_is_the_one_config_yml_gives():
    """Each chapter's setup cell is generated from repository.url and branch."""
    expected = setup_cell(*repository())
    assert "git+https://github.com/trustml-book/trustml-book@main" in expected
    for source in NOTEBOOKS:
        assert setup_cell_of(source.read_text()) == expected, (
            f"{source.name}'s setup cell differs from _config.yml's repository: run `python -m support setup-cells`")


def test_setup_cells_follow_a_changed_repository_url(tmp_path):
    """A fork's address in _config.yml rewrites the setup cell (and its .ipynb); a second run changes nothing."""
    from support.colab import write_setup_cells

    (tmp_path / "notebooks").mkdir()
    shutil.copy(NOTEBOOKS[0], tmp_path / "notebooks" / NOTEBOOKS[0].name)
    config = (ROOT / "_config.yml").read_text().replace("https://github.com/trustml-book/trustml-book",
                                                        "https://github.com/someone/fork")
    (tmp_path / "_config.yml").write_text(config)
    assert write_setup_cells(tmp_path) == [tmp_path / "notebooks" / NOTEBOOKS[0].name]
    text = (tmp_path / "notebooks" / NOTEBOOKS[0].name).read_text()
    assert "git+https://github.com/someone/fork@main" in setup_cell_of(text)
    assert (tmp_path / "notebooks" / NOTEBOOKS[0].name).with_suffix(".ipynb").is_file()
    assert write_setup_cells(tmp_path) == []  # nothing left to change


def chapter_imports(source: Path) -> list[str]:
    """The import statements of a chapter's code cells."""
    statements = []
    for cell in jupytext.read(source).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # a cell with IPython magics
            continue
        statements += [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    return sorted(set(statements))


def with_requirements(names: list[str]) -> list[str]:
    """These installed distributions and everything they require (extras left out), recursively."""
    found, todo = [], list(names)
    while todo:
        name = todo.pop()
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # a requirement for another platform
        if dist.metadata["Name"].lower() in found:
            continue
        found.append(dist.metadata["Name"].lower())
        todo += [re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0] for r in dist.requires or [] if "extra ==" not in r]
    return found


def expose(packages: list[str], folder: Path) -> None:
    """Make ``folder`` hold links to these installed distributions (their top-level folders and dist-info)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in packages:
        dist = importlib.metadata.distribution(name)
        site = Path(dist.locate_file(""))
        tops = {Path(f).parts[0] for f in dist.files if Path(f).parts[0] != ".."}
        for top in tops:
            if (site / top).exists() and not (folder / top).exists():
                (folder / top).symlink_to(site / top)


def _where(python: Path, package: str, env: dict, cwd: Path) -> str:
    """Version and folder of a package as an environment's Python imports it."""
    code = f"import importlib.metadata as m, {package}; print(m.version('{package}'), {package}.__file__)"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True, env=env,
                          cwd=cwd).stdout.strip()


@pytest.mark.slow
def test_setup_cell_keeps_the_installed_torch_and_numpy(tmp_path):
    """A fresh venv that already has torch and numpy (this machine's, linked in, as Colab has its own):
    pip's plan for the setup cell, resolved from scratch, installs neither; then, with the other
    requirements present too, the cell installs the package (a wheel, not this checkout) and every
    chapter's imports work, with the same torch and numpy as before."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    preinstalled = tmp_path / "preinstalled"
    expose(with_requirements(["torch", "numpy"]), preinstalled)
    (site / "00-preinstalled.pth").write_text(f"{preinstalled}\n")  # .pth files are read in name order
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_COMPILE": "1"}
    env.pop("PYTHONPATH", None)
    before = {name: _where(python, name, env, tmp_path) for name in ("torch", "numpy")}

    # the package as pip gets it from git: pyproject, README and support/ (no build folder in this checkout)
    source = tmp_path / "source"
    shutil.copytree(ROOT / "support", source / "support", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"  # built once: pip's options in the environment would reach a build's own pip
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
                   check=True, env={k: v for k, v in env.items() if k != "PIP_NO_COMPILE"})
    cell = setup_cell_of(NOTEBOOKS[1].read_text())
    env[SOURCE_ENV] = next(wheels.glob("trustml_book_support-*.whl")).as_uri()

    report = tmp_path / "plan.json"  # pip's own options as environment variables: the cell runs unchanged
    plan = subprocess.run([str(python), "-c", cell], capture_output=True, text=True, cwd=tmp_path,
                          env={**env, "PIP_DRY_RUN": "1", "PIP_REPORT": str(report)})
    assert plan.returncode == 0, plan.stderr[-3000:]
    planned = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert {"trustml-book-support", "transformers", "pandas"} <= planned  # resolved from scratch
    assert not planned & {"torch", "numpy"}, f"the setup cell would reinstall {planned & {'torch', 'numpy'}}"

    (site / "50-others.pth").write_text(f"{Path(importlib.metadata.distribution('pandas').locate_file(''))}\n")
    run = subprocess.run([str(python), "-c", cell], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    after = {name: _where(python, name, env, tmp_path) for name in ("torch", "numpy")}
    assert after == before, f"the setup cell replaced torch or numpy: {before} -> {after}"
    imports = sorted({line for source in NOTEBOOKS for line in chapter_imports(source)})
    check = subprocess.run([str(python), "-c", "\n".join(imports)], capture_output=True, text=True, cwd=tmp_path,
                           env=env)
    assert check.returncode == 0, f"a chapter's imports fail after the setup cell:\n{check.stderr[-3000:]}"
    installed = subprocess.run([str(python), "-c", "import support; print(support.__file__)"], capture_output=True,
                               text=True, check=True, env=env, cwd=tmp_path).stdout
    assert installed.startswith(str(site))  # the wheel's package, not this checkout
