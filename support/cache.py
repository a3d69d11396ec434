"""The on-disk cache shared by resources and trained models: location, checksums, atomic writes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

CACHE_ENV = "TRUSTML_CACHE"
COMPLETE_MARKER = ".complete.json"


def cache_dir() -> Path:
    """Root of the cache: ``$TRUSTML_CACHE`` or ``~/.cache/trustml-book``, created on demand."""
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "trustml-book").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def stable_hash(obj: Any, length: int = 16) -> str:
    """Short sha256 of a JSON-serialisable object with sorted keys (a cache key)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def atomic_write_text(path: Path, text: str) -> None:
    """Write text to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` was finished by :func:`atomic_dir` (its completion marker exists)."""
    return (Path(folder) / COMPLETE_MARKER).is_file()


def read_marker(folder: Path) -> dict:
    """The metadata stored in a finished folder's completion marker."""
    return json.loads((Path(folder) / COMPLETE_MARKER).read_text())


@contextlib.contextmanager
def atomic_dir(target: Path, marker: dict | None = None) -> Iterator[Path]:
    """Yield a scratch folder that becomes ``target`` (with a completion marker) only on success.

    Anything raised inside the block removes the scratch folder, so an interrupted download,
    unpack or training run never leaves a folder that a later run would trust.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial"))
    try:
        yield scratch
        (scratch / COMPLETE_MARKER).write_text(json.dumps(marker or {}, indent=1, sort_keys=True))
        if target.exists():
            shutil.rmtree(target)
        os.replace(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
