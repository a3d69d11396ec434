"""``python -m support book [CHAPTER ...]``: build the Jupyter Book, saying every minute what it is doing.

Runs ``jupyter-book build . -W`` with ``SUPPORT_NO_TRAINING=1`` (``prepare`` has made every model;
a chapter that would train fails at once instead of hitting the cell timeout) and streams its
output. While a chapter executes, Jupyter Book prints nothing for minutes; this wrapper prints a
line naming the chapter and the time spent on it whenever the build has been silent for
``HEARTBEAT`` seconds. With chapters named, only those execute: the others stay in the table of
contents, rendered without outputs, and their glued numbers are left blank (their missing glue
keys are not reported, and that build runs without ``-W``).

Every chapter's line says whether it executed or came from the execution cache, and how long it took;
the build ends with a table of chapter times, and a failing chapter names its cell and its error.
Progress bars are switched off in the kernels (``TQDM_DISABLE``): a built page shows results, not bars.
Chapters write their results JSON to ``_build/results`` (``SUPPORT_RESULTS_DIR``), which the results page reads.
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
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import yaml

from .chapters import CHAPTERS, chapter_name
from .glue import STRICT_ENV
from .models.cached import NO_TRAINING_ENV
from .results import RESULTS_ENV

HEARTBEAT = 60.0  # seconds of silence before the wrapper prints a progress line
_DOC = re.compile(r"(?:^|/)((?:notebooks|book)/[\w.-]+?)(?:\.py|\.md|\.ipynb)?:\s?(.*)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ERROR_LINE = re.compile(r"^(\w*(?:Error|Exception|Interrupt|Exit)\w*): (.*)$")
_CELL_NUMBER = re.compile(r"In\[(\d+)\]")


class ChapterLog:
    """What the build did with each chapter, read off Jupyter Book's output lines."""

    def __init__(self):
        self.rows: dict[str, dict] = {}
        self._failing: str | None = None
        self._failure_lines: list[str] = []

    def feed(self, line: str) -> str | None:
        """Read one output line; return a one-line announcement when a chapter starts, is cached or ends."""
        text = _ANSI.sub("", line).rstrip("\n")
        if self._failing is not None:
            return self._read_failure(text)
        match = _DOC.search(text)
        if not match:
            return None
        doc, message = Path(match.group(1)).name, match.group(2)
        if message.startswith("Using cached notebook"):
            self.rows[doc] = {"chapter": doc, "status": "cached", "seconds": None, "error": ""}
            return f"[book] {doc}: cached (not executed)"
        if message.startswith("Executing notebook using"):
            self.rows[doc] = {"chapter": doc, "status": "executing", "seconds": None, "error": "",
                              "started": time.perf_counter()}
            return f"[book {time.strftime('%H:%M:%S')}] {doc}: executing"
        if message.startswith("Executed notebook in"):
            seconds = float(message.split()[3])
            self.rows.setdefault(doc, {"chapter": doc, "error": ""}).update(status="executed", seconds=seconds)
            return f"[book {time.strftime('%H:%M:%S')}] {doc}: executed in {seconds / 60:.1f} min"
        if re.match(r"(WARNING: )?Executing notebook failed", message):  # 'WARNING: ' unless -W made it an error
            row = self.rows.setdefault(doc, {"chapter": doc, "error": ""})
            row.update(status="failed", seconds=time.perf_counter() - row.get("started", time.perf_counter()))
            self._failing, self._failure_lines = doc, []
        return None

    def current(self) -> str | None:
        """The chapter executing now (None between chapters)."""
        running = [row["chapter"] for row in self.rows.values() if row["status"] == "executing"]
        return f"notebooks/{running[-1]}" if running else None

    def _read_failure(self, text: str) -> str | None:
        """Collect a failed chapter's traceback until its cell's error line; then name the cell and error."""
        self._failure_lines.append(text)
        found = _ERROR_LINE.match(text.strip())
        if not found or found.group(1) in ("CellExecutionError", "ExecutionError"):
            return None
        cells = [int(n) for n in _CELL_NUMBER.findall("\n".join(self._failure_lines))]
        where = f"code cell {cells[-1]}" if cells else "a cell"
        doc, self._failing = self._failing, None
        self.rows[doc]["error"] = f"{where}: {found.group(1)}: {found.group(2)}"
        return f"[book] {doc}: FAILED in {where}: {found.group(1)}: {found.group(2)}"

    def summary(self) -> str:
        """The table of chapters: status and minutes, with the error of a failed one."""
        lines = [f"{'chapter':34s} {'status':9s} {'minutes':>7s}"]
        for row in self.rows.values():
            minutes = "-" if row.get("seconds") is None else f"{row['seconds'] / 60:.1f}"
            lines.append(f"{row['chapter']:34s} {row['status']:9s} {minutes:>7s}  {row.get('error', '')}".rstrip())
        executed = sum(r["seconds"] or 0 for r in self.rows.values() if r["status"] in ("executed", "failed"))
        if not self.rows:
            lines.append("no notebook was read: every page was up to date")
        lines.append(f"{len(self.rows)} notebooks, {executed / 60:.1f} min of execution")
        return "\n".join(lines)


class _Links(HTMLParser):
    """The link targets (href, src) and the anchor ids of one HTML page."""

    def __init__(self):
        super().__init__()
        self.targets: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(name):
                self.ids.add(attrs[name])
        for name in ("href", "src"):
            if attrs.get(name) and not (tag == "link" and attrs.get("rel") in ("preconnect", "dns-prefetch")):
                self.targets.append(attrs[name])


def _parse_page(path: Path) -> _Links:
    """The links and ids of one page."""
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def broken_internal_links(site: str | Path) -> list[str]:
    """Every link of the built site to a page, file or anchor of the site that does not exist ('page -> target')."""
    site = Path(site).resolve()
    pages = {path: _parse_page(path) for path in site.rglob("*.html") if "_static" not in path.parts}
    broken = []
    for page, links in sorted(pages.items()):
        for target in links.targets:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
                continue  # http(s), mailto, data, javascript: not a target inside the site
            path_part, _, fragment = target.partition("#")
            path_part = unquote(path_part.split("?")[0])
            destination = (page.parent / path_part).resolve() if path_part else page
            if destination.is_dir():
                destination = destination / "index.html"
            if not destination.exists():
                broken.append(f"{page.relative_to(site)} -> {target}")
            elif fragment and destination.suffix == ".html":
                ids = (pages.get(destination) or _parse_page(destination)).ids
                if unquote(fragment) not in ids:
                    broken.append(f"{page.relative_to(site)} -> {target} (no such anchor)")
    return broken


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
    build_dir = (Path(out) if out is not None else root).resolve() / "_build"
    env = {RESULTS_ENV: str(build_dir / "results"), **os.environ, NO_TRAINING_ENV: "1", STRICT_ENV: "1",
           "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1"}
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    current, current_since, last_output = "the book", started, time.perf_counter()
    log = ChapterLog()
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
            announcement = log.feed(line)
            if announcement:
                print(announcement)
            sys.stdout.flush()
            last_output = time.perf_counter()
            if (log.current() or "the book") != current:  # a chapter started, or the build went on past it
                current, current_since = log.current() or "the book", time.perf_counter()
        status = process.wait()
        print(f"[book] chapters of this build ({(time.perf_counter() - started) / 60:.1f} min in all):")
        print(log.summary(), flush=True)
        site = build_dir / "html"
        if status == 0 and site.is_dir():
            broken = broken_internal_links(site)
            for link in broken:
                print(f"[book] broken internal link: {link}")
            print(f"[book] internal links: {'all resolve' if not broken else f'{len(broken)} broken'}", flush=True)
            status = 1 if broken else 0
        return status
    finally:
        if config is not None:
            config.unlink(missing_ok=True)
