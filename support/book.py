"""``python -m support book [CHAPTER ...]``: build the Jupyter Book, saying every minute what it is doing.

Runs ``jupyter-book build . -W`` with ``SUPPORT_NO_TRAINING=1`` (``prepare`` has made every model;
a chapter that would train fails at once instead of hitting the cell timeout) and streams its
output. While a chapter executes, Jupyter Book prints nothing for minutes; this wrapper prints a
line naming the chapter and the time spent on it whenever the build has been silent for
``HEARTBEAT`` seconds. With chapters named, only those execute: the others stay in the table of
contents, rendered without outputs, and their glued numbers are left blank (their missing glue
keys are not reported, and that build runs without ``-W``).
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from .chapters import CHAPTERS, chapter_name
from .glue import STRICT_ENV
from .models.cached import NO_TRAINING_ENV

HEARTBEAT = 60.0  # seconds of silence before the wrapper prints a progress line
_EXECUTING = re.compile(r"(notebooks/\d\d_\w+)")


def subset_config(root: Path, chapters: list[str]) -> Path:
    """A copy of ``_config.yml`` that executes only ``chapters`` (the others are listed, not executed)."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    skipped = [f"notebooks/{name}.py" for name in CHAPTERS if name not in chapters]
    config.setdefault("execute", {})["exclude_patterns"] = skipped
    sphinx = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx["suppress_warnings"] = [*sphinx.get("suppress_warnings", []), "mystnb.glue"]  # the unexecuted ones
    handle, path = tempfile.mkstemp(prefix="_config.subset.", suffix=".yml", dir=root)
    with os.fdopen(handle, "w") as out:
        yaml.safe_dump(config, out, sort_keys=False)
    return Path(path)


def _pump(stream, lines: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)
    lines.put(None)


def build(chapters: list[str] | None = None, root: str | Path = ".", heartbeat: float = HEARTBEAT,
          out: str | Path | None = None) -> int:
    """Build the book under ``root`` (every chapter, or only ``chapters``) into ``out``; return the exit status."""
    root = Path(root).resolve()
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root)]
    if out is not None:
        command += ["--path-output", str(out)]
    config = None
    if chapters:
        names = [chapter_name(c) for c in chapters]
        config = subset_config(root, names)
        command += ["--config", str(config)]
        print(f"[book] executing {', '.join(names)}; the other chapters are listed without outputs", flush=True)
    else:
        command.append("-W")
    env = {**os.environ, NO_TRAINING_ENV: "1", STRICT_ENV: "1", "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    current, current_since, last_output = "the book", started, time.perf_counter()
    try:
        while True:
            try:
                line = lines.get(timeout=5.0)
            except queue.Empty:
                if time.perf_counter() - last_output >= heartbeat:
                    spent = time.perf_counter() - current_since
                    print(f"[book {time.strftime('%H:%M:%S')}] still working on {current} "
                          f"({spent / 60:.1f} min; build {((time.perf_counter() - started) / 60):.1f} min)", flush=True)
                    last_output = time.perf_counter()
                continue
            if line is None:
                break
            sys.stdout.write(line)
            sys.stdout.flush()
            last_output = time.perf_counter()
            match = _EXECUTING.search(line)
            if match and "xecut" in line:
                current, current_since = match.group(1), time.perf_counter()
        return process.wait()
    finally:
        if config is not None:
            config.unlink(missing_ok=True)
