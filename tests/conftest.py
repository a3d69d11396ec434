"""Shared fixtures: an isolated cache, and a tiny local package index for resource tests."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from support import resources
from support.cache import cache_dir, sha256_file
from support.models import AUSTEN
from support.resources import Resource, keep_prefix

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """An empty cache directory for one test."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("TRUSTML_CACHE", str(cache))
    return cache


@pytest.fixture
def fresh_model_cache(tmp_path, monkeypatch):
    """A cache with the real resources and tokenizers linked in but no trained models."""
    shared = cache_dir()
    AUSTEN.tokenizer_folder(2048)  # make sure the shared tokenizer exists
    fresh = tmp_path / "cache"
    fresh.mkdir()
    for name in ("resources", "tokenizers"):
        (fresh / name).symlink_to(shared / name)
    monkeypatch.setenv("TRUSTML_CACHE", str(fresh))
    return fresh


@pytest.fixture
def offline_pip(tmp_path, monkeypatch):
    """Make pip see only a local find-links folder (no index): the returned folder."""
    links = tmp_path / "links"
    links.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    return links


def make_wheel(folder: Path, name: str = "demo_data", version: str = "1.0",
               files: dict[str, bytes] | None = None) -> Path:
    """Write a minimal valid wheel holding ``files`` under the package folder; return its path."""
    files = files or {"data/a.txt": b"alpha\n", "data/b.txt": b"beta beta\n", "__init__.py": b""}
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as zf:
        for rel, data in files.items():
            zf.writestr(f"{name}/{rel}", data)
        zf.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n")
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{info}/RECORD", "")
    return wheel


def make_deb(path: Path, files: dict[str, bytes]) -> Path:
    """Write a minimal .deb (an ar archive with debian-binary, control and data.tar.xz)."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:xz") as tf:
        for rel, blob in files.items():
            info = tarfile.TarInfo(f"./{rel}")
            info.size = len(blob)
            tf.addfile(info, io.BytesIO(blob))
    members = [("debian-binary", b"2.0\n"), ("control.tar.xz", b""), ("data.tar.xz", data.getvalue())]
    out = bytearray(b"!<arch>\n")
    for name, payload in members:
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(payload):<10}`\n".encode()
        out += header + payload + (b"\n" if len(payload) % 2 else b"")
    path.write_bytes(bytes(out))
    return path


@pytest.fixture
def register(monkeypatch):
    """Register a resource for one test: ``register(Resource(...))``."""

    def _register(res: Resource) -> Resource:
        monkeypatch.setitem(resources.REGISTRY, res.name, res)
        return res

    return _register


@pytest.fixture
def demo_wheel_resource(offline_pip, register):
    """A registered pip resource served from the local find-links folder."""
    wheel = make_wheel(offline_pip)
    return register(Resource(
        name="demo", client="pip", package="demo-data", version="1.0", filename=wheel.name,
        sha256=sha256_file(wheel), size_mb=0.001, description="test data", license="MIT",
        keep=keep_prefix("demo_data/data/", (".txt",)),
    ))


def unglued_prose_names(source: Path, executed: Path) -> tuple[set, set]:
    """(glue names a notebook's prose uses, those its executed copy ``executed`` did not glue)."""
    import re

    import jupytext
    import nbformat

    out = nbformat.read(executed, as_version=4)
    glued = {o.metadata["scrapbook"]["name"] for c in out.cells if c.cell_type == "code" for o in c.outputs
             if "scrapbook" in o.get("metadata", {})}
    prose = "\n".join(c.source for c in jupytext.read(source).cells if c.cell_type == "markdown")
    prose = re.sub(r"``.+?``", " ", prose)  # inline code that shows the glue syntax is not a glue
    named = set(re.findall(r"\{glue:text\}`([\w]+)", prose))
    return named, named - glued


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    """The book built with -W in the smoke profile (from this session's smoke runs where they passed)."""
    from smoke_book import build_smoke_book

    return build_smoke_book(tmp_path_factory.mktemp("smoke-book"))
