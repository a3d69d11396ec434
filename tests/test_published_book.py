"""The built book in a real headless browser: Debian's chromium and chromedriver, driven by Selenium.

The pages are served from 127.0.0.1 and chromium resolves no other host, so whatever renders here renders
offline. By default the checks read the smoke build of ``tests/test_notebooks.py``; ``BOOK_HTML=<folder>``
checks another build instead (``make book``'s ``_build/html``, the ``local`` profile). A screenshot of
every chapter goes to ``_build/test-artifacts/screenshots/<build>/``.

``make test`` installs the browser (``make browser``: ``apt-get install chromium chromium-driver``).
"""

from __future__ import annotations

import functools
import http.server
import io
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from conftest import ROOT

from support.book import broken_internal_links
from support.chapters import CHAPTERS
from support.colab import colab_url, repository

BOOK_HTML_ENV = "BOOK_HTML"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "_build" / "test-artifacts" / "screenshots"
CHAPTER_PAGES = [f"notebooks/{name}.html" for name in CHAPTERS]
#: chromium's options for a closed network: no background connections, every host but loopback unresolvable
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                  "--no-first-run", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                  "--window-size=1280,1600", "--hide-scrollbars"]


@pytest.fixture(scope="module")
def site(request) -> Path:
    """The built site under test: $BOOK_HTML, or the smoke build (which must have succeeded)."""
    if os.environ.get(BOOK_HTML_ENV):
        return Path(os.environ[BOOK_HTML_ENV]).resolve()
    book = request.getfixturevalue("smoke_book")
    assert book["status"] == 0, book["output"][-5000:]
    return book["html"]


#: paths the server answered 404 for (a missing font, script or image of the site), in order
NOT_FOUND: list[str] = []


@pytest.fixture(scope="module")
def server(site):
    """An HTTP server on loopback serving the site; yields its base URL."""
    handler = functools.partial(_RecordingHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class _RecordingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site silently, keeping the paths it could not find."""

    def log_message(self, *args):
        pass

    def send_error(self, code, message=None, explain=None):
        if code == 404 and self.path != "/favicon.ico":  # the browser's own guess, not a file the pages ask for
            NOT_FOUND.append(self.path)
        super().send_error(code, message, explain)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless chromium under Selenium (no download: the Debian browser and driver)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run `make browser` (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def screenshots(site) -> Path:
    """The folder of this build's screenshots (emptied first)."""
    if not os.environ.get(BOOK_HTML_ENV):
        label = "smoke"
    elif site.parent.name == "_build":  # <root>/_build/html: named after the checkout
        label = f"{site.parent.parent.name}-build"
    else:  # a copied site, e.g. /tmp/site-local
        label = site.name
    folder = ARTIFACTS / label
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _open(browser, url: str) -> None:
    """Load a page and wait until MathJax has typeset it (pages without MathJax return at once)."""
    browser.get(url)
    state = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "if (!window.MathJax || !MathJax.startup) { done('none'); return; }"
        "MathJax.startup.promise.then(() => done('typeset'), e => done('failed: ' + e));")
    assert state in ("none", "typeset"), f"MathJax on {url}: {state}"


_PAGE_FACTS = """
const article = document.querySelector('article') || document.body;
const visible = el => el.checkVisibility();  // false inside a closed <details> (content-visibility)
const hidden_cells = [...document.querySelectorAll('div.cell.tag_hide-cell')];
const facts = {
  title: (document.querySelector('article h1') || {}).textContent || '',
  errors: [...article.querySelectorAll('.output.error, .output.traceback, .output.stderr')].map(e => e.textContent.slice(0, 300)),
  raw_math: (article.innerText.match(/\\\\\\(|\\\\\\[/g) || []).length,
  math: article.querySelectorAll('span.math, div.math').length,
  math_untypeset: [...article.querySelectorAll('span.math, div.math')].filter(m => !m.querySelector('mjx-container')).length,
  mathjax_src: [...document.querySelectorAll('script[src*="mathjax"], script[src*="MathJax"]')].map(s => s.src),
  images: [...article.querySelectorAll('img')].map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0})),
  links: [...document.querySelectorAll('a[href*="colab.research.google.com"]')].map(a => a.href),
  badge: [...article.querySelectorAll('p.colab-badge a')].map(a => ({href: a.href, src: a.querySelector('img').src,
                                                                     ok: a.querySelector('img').naturalWidth > 0})),
  header_search: [...document.querySelectorAll('.bd-header .search-button-field')].filter(visible).length,
  hidden_cells: hidden_cells.length,
  hidden_cells_showing_code: hidden_cells.filter(c => [...c.querySelectorAll('div.cell_input pre')].some(visible)).length,
  progress: [...article.querySelectorAll('div.cell_output')]
    .filter(o => /\\d+%\\|[^\\n]*\\|/.test(o.textContent) || /it\\/s\\]/.test(o.textContent)).length,
  resources: performance.getEntriesByType('resource').map(r => r.name),
};
return facts;
"""

_OVERFLOWING_CODE = """
document.querySelectorAll('details').forEach(d => d.open = true);
return [...document.querySelectorAll('article pre')]
  .filter(p => p.scrollWidth > p.clientWidth + 1)
  .map(p => p.textContent.split('\\n').sort((a, b) => b.length - a.length)[0].slice(0, 160));
"""


@pytest.mark.parametrize("page", CHAPTER_PAGES, ids=lambda p: Path(p).stem)
def test_chapter_page_renders_offline(page, site, server, browser, screenshots):
    """Renders, no error or stderr output, figures load and are not blank, equations typeset from the local
    MathJax, the Colab badge links the paired .ipynb, the setup cells are collapsed, no progress bars, one search
    field (the sidebar's), no code line needs horizontal scrolling, nothing is loaded from another host."""
    NOT_FOUND.clear()
    _open(browser, server + page)
    facts = browser.execute_script(_PAGE_FACTS)
    browser.save_screenshot(str(screenshots / f"{Path(page).stem}.png"))
    assert facts["title"].strip(), f"{page} has no title"
    assert not facts["errors"], f"{page} shows error or stderr output: {facts['errors'][:3]}"
    assert facts["progress"] == 0, f"{page} shows {facts['progress']} progress-bar outputs"
    assert facts["header_search"] == 0, f"{page}: a second search bar in the header covers the sidebar's title"
    source = (ROOT / "notebooks" / Path(page).stem).with_suffix(".py").read_text()
    if re.search(r"^# .*\$[^$\n]+\$", source, re.M):  # the chapter writes math: the page must show it typeset
        assert facts["math"] > 0, f"{page}: the chapter has $...$ math but the page has none (dollarmath?)"
    assert facts["math"] == 0 or facts["mathjax_src"], f"{page} has equations but loads no MathJax"
    assert all(src.startswith(server) for src in facts["mathjax_src"]), facts["mathjax_src"]
    assert facts["math_untypeset"] == 0 and facts["raw_math"] == 0, (
        f"{page}: {facts['math_untypeset']} equations not typeset, {facts['raw_math']} raw \\( or \\[ on the page")
    broken = [i["src"] for i in facts["images"] if not i["ok"]]
    assert not broken, f"{page}: images that did not load: {broken}"
    blank = [i["src"] for i in facts["images"] if _is_blank(site, server, i["src"])]
    assert not blank, f"{page}: blank images: {blank}"
    url, branch = repository()
    notebook = f"notebooks/{Path(page).stem}.ipynb"
    assert (ROOT / notebook).is_file()
    assert colab_url(url, branch, notebook) in facts["links"], f"{page}: no Colab link to {notebook}: {facts['links']}"
    assert [b["href"] for b in facts["badge"]] == [colab_url(url, branch, notebook)], facts["badge"]
    assert all(b["ok"] and b["src"].startswith(server) for b in facts["badge"]), facts["badge"]
    assert facts["hidden_cells"] >= 3, f"{page}: the setup, parameters and imports cells are not collapsed"
    assert facts["hidden_cells_showing_code"] == 0, f"{page}: a collapsed cell shows its code"
    remote = [r for r in facts["resources"] if not r.startswith(server)]
    assert not remote, f"{page} asked other hosts for: {remote[:5]}"
    overflowing = browser.execute_script(_OVERFLOWING_CODE)
    assert not overflowing, f"{page}: code that needs horizontal scrolling: {overflowing[:3]}"
    assert not NOT_FOUND, f"{page} asked for files the site lacks: {NOT_FOUND[:5]}"


def _is_blank(site: Path, server: str, src: str) -> bool:
    """Whether an image of the site is a single colour (data URIs and other hosts are not checked here)."""
    if not src.startswith(server) or not src.lower().endswith((".png", ".jpg", ".jpeg")):
        return False
    from PIL import Image

    with Image.open(io.BytesIO((site / src[len(server):]).read_bytes())) as image:
        low, high = image.convert("L").getextrema()
        return low == high


def test_search_finds_a_word_of_a_chapter(server, browser):
    """Sphinx's search page, offline, finds a chapter by a word of its prose."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "search.html?q=spiking")
    WebDriverWait(browser, 30).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#search-results ul.search li a")))
    hits = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#search-results ul.search li a")]
    assert any("notebooks/10_skipsnn.html" in h for h in hits), hits


def test_results_page_lists_every_chapter(server, browser, screenshots):
    """The results page has a row per headline, every studied chapter linked, and a verdict in each row; in the
    smoke build, after every chapter's smoke run, no row reads 'not run'."""
    from selenium.webdriver.common.by import By
    from smoke_book import EXECUTED

    _open(browser, server + "book/results.html")
    browser.save_screenshot(str(screenshots / "results.png"))
    rows = browser.find_elements(By.CSS_SELECTOR, "table.chapter-results tbody tr")
    linked = {a.get_attribute("href").rsplit("/", 1)[-1] for r in rows for a in r.find_elements(By.TAG_NAME, "a")}
    studied = {f"{name}.html" for name in CHAPTERS if not name.startswith("00_")}
    assert studied <= linked, f"chapters missing from the results page: {sorted(studied - linked)}"
    verdicts = {r.find_elements(By.TAG_NAME, "td")[5].text for r in rows}
    assert verdicts <= {"met", "missed", "not measured", "not run"} and verdicts, verdicts
    if not os.environ.get(BOOK_HTML_ENV) and len(EXECUTED) == len(CHAPTERS):
        assert "not run" not in verdicts and "not measured" not in verdicts, verdicts
    assert "Results" in browser.find_element(By.CSS_SELECTOR, "article h1").text


def test_intro_links_the_results_page(site):
    """The introduction sends a reader to the results page."""
    assert 'href="results.html"' in (site / "book" / "intro.html").read_text()


def test_every_internal_link_and_anchor_resolves(site):
    """The build's own link check, here on the site under test."""
    assert broken_internal_links(site) == []


def test_the_link_check_finds_missing_pages_and_anchors(tmp_path):
    """Known answer: of five links, one to a missing page and one to a missing anchor are reported."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="sub/page.html#here">ok</a><a href="sub/page.html#gone">anchor</a><a href="missing.html">page</a>'
        '<a href="https://example.org/x.html">remote</a><img src="sub/figure.png"><p id="top"></p>'
        '<a href="#top">self</a>')
    (tmp_path / "sub" / "page.html").write_text('<h1 id="here">Here</h1><a href="../index.html#top">back</a>')
    (tmp_path / "sub" / "figure.png").write_bytes(b"png")
    assert broken_internal_links(tmp_path) == ["index.html -> sub/page.html#gone (no such anchor)",
                                               "index.html -> missing.html"]
