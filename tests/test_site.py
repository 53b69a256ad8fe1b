"""The built book as a new reader opens it: every page that `_toc.yml` lists, at desktop (1280 px)
and phone (375 px) width, in headless Chromium with the network blocked (tests/browser.py).

Each page must load with no console error and no request leaving the machine, each script once,
every formula typeset, every image loaded, nothing wider than the text column (a box that
scrolls sideways inside the column is fine; a page that scrolls sideways, or content cut off,
is not), one output box per stream, figures large enough to read at desktop width, and every
link to a page or anchor of the book that exists. Search must find pages and show a few lines of
each, offline. The checks are first shown to catch what they look for, on small pages made here.

Needs Debian's `chromium` package; where it is missing these tests skip and say how to install
it, except under CI (`CI=true`), where they fail: `.ci/run` installs it. The book is built once
per session (the `built_book` fixture, shared with test_book.py).
"""

import os
import re

import pytest
from bs4 import BeautifulSoup
from PIL import Image
from playwright.sync_api import sync_playwright

from tests import browser

pytestmark = pytest.mark.slow
PAGES = browser.toc_pages()


@pytest.fixture(scope="module")
def chromium():
    if browser.chromium() is None:
        if os.environ.get("CI"):  # .ci/run installs Chromium: CI must run the browser test
            pytest.fail(browser.INSTALL_HINT)
        pytest.skip(browser.INSTALL_HINT)
    with sync_playwright() as playwright:
        chromium = browser.launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(built_book):
    result, html = built_book
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return html


def url(site, page: str) -> str:
    path = site / f"{page}.html"
    assert path.is_file(), f"{page} is in _toc.yml but was not built"
    return path.resolve().as_uri()


@pytest.mark.parametrize("width", browser.WIDTHS.values(), ids=list(browser.WIDTHS))
@pytest.mark.parametrize("page", PAGES)
def test_page_reads_cleanly(chromium, site, page, width):
    findings = browser.inspect(chromium, url(site, page), width)
    assert findings.problems() == {}, f"{page} at {width} px"
    assert browser.dangling_links(site, findings.links) == [], f"{page}: links that lead nowhere"
    assert findings.links, f"{page}: no links at all, so none were checked"


def test_index_html_opens_the_first_page(chromium, site):
    """The README tells readers to open _build/html/index.html."""
    page, findings = browser.open_page(chromium, (site / "index.html").resolve().as_uri(), 1280)
    try:
        page.wait_for_url(f"**/{PAGES[0]}.html", timeout=10_000)
        heading = page.locator("article h1").first.inner_text()
    finally:
        page.context.close()
    assert heading.strip()
    assert findings.problems() == {}


@pytest.mark.parametrize("query", ["xavier", "gradient"])
def test_search_finds_pages_and_shows_their_text_offline(chromium, site, query):
    page, findings = browser.open_page(chromium, url(site, "search") + f"?q={query}", 1280)
    try:
        page.wait_for_selector("#search-results li p.context", timeout=20_000)
        results = page.locator("#search-results li").count()
        summaries = page.locator("#search-results li p.context").all_inner_texts()
    finally:
        page.context.close()
    assert results >= 1
    assert any(query in s.lower() for s in summaries), summaries
    assert findings.problems() == {}


def test_each_script_once_in_the_html(site):
    """The same, without a browser: every built page lists each script file and each inline
    script once."""
    for path in sorted(site.rglob("*.html")):
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        scripts = [
            re.sub(r"\?v=\w+$", "", s["src"]) if s.get("src") else s.get_text().strip()
            for s in soup.find_all("script")
        ]
        scripts = [s for s in scripts if s]
        duplicates = sorted({s[:80] for s in scripts if scripts.count(s) > 1})
        assert duplicates == [], path.relative_to(site)


def test_no_page_but_the_toc_and_search(site):
    """No empty index, no page that nothing links to."""
    pages = {
        p.relative_to(site).with_suffix("").as_posix()
        for p in site.rglob("*.html")
        if not p.relative_to(site).parts[0].startswith("_")  # _static's templates
    }
    assert pages == set(PAGES) | {"index", "search"}


# The checks themselves, on small pages made here: each kind of problem is caught, and a page
# without one passes.

CLEAN = """<!doctype html><html><head><meta charset="utf-8"><style>img {max-width: 100%}</style>
</head><body style="margin:0">
<article class="bd-article" style="width:600px;margin-left:20px">
<p>A formula, typeset: <mjx-container>x</mjx-container>. <a href="#here">A link</a>.</p>
<div style="overflow-x:auto"><pre style="width:1500px">a line that scrolls in its box</pre></div>
<div class="cell_output"><img src="small.png"></div>
<section id="here">Here.</section>
</article></body></html>"""

BROKEN = {
    "console_errors": '<script>console.error("boom")</script>',
    "requests_off_machine": '<img src="https://example.invalid/a.png">',
    "missing_files": '<script src="missing.js"></script>',
    "duplicate_scripts": "<script>var once = 1;</script><script>var once = 1;</script>",
    "raw_tex": r"<p>The loss $\frac{1}{n}\sum_i \ell_i$ in raw TeX.</p>",
    "math_errors": "<mjx-container><mjx-merror data-mjx-error='Undefined control sequence'>"
    "x</mjx-merror></mjx-container>",
    "broken_images": '<img src="missing.png">',
    "too_wide": '<div style="width:900px">wider than the column</div>',
    "split_outputs": '<div class="cell_output"><div class="output stream stdout">a</div>'
    '<div class="output stream stdout">b</div></div>',
    "small_figures": '<div class="cell_output"><img src="large.png"></div>',
    "code_scrolls": '<div class="highlight"><pre style="overflow:auto;font:14px monospace">'
    + "x = 1  # " + "a line of 80 characters, as short as the book's lines ...".ljust(71, ".")
    + "</pre></div>",
}


@pytest.fixture(scope="module")
def made_pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pages")
    Image.new("RGB", (300, 100), "white").save(folder / "small.png")
    Image.new("RGB", (3000, 100), "white").save(folder / "large.png")
    (folder / "clean.html").write_text(CLEAN)
    for kind, html in BROKEN.items():
        (folder / f"{kind}.html").write_text(CLEAN.replace("</article>", html + "</article>"))
    return folder


def test_a_clean_page_passes_the_checks(chromium, made_pages):
    findings = browser.inspect(chromium, (made_pages / "clean.html").as_uri(), 1280)
    assert findings.problems() == {}
    assert browser.dangling_links(made_pages, findings.links) == []


# A file that fails to load is also a console error, and an image that fails a broken image.
ALSO = {
    "requests_off_machine": {"console_errors", "broken_images"},
    "missing_files": {"console_errors"},
    "broken_images": {"console_errors", "missing_files"},
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_the_checks_catch_each_problem(chromium, made_pages, kind):
    findings = browser.inspect(chromium, (made_pages / f"{kind}.html").as_uri(), 1280)
    assert set(findings.problems()) == {kind} | ALSO.get(kind, set()), findings.problems()


@pytest.mark.parametrize(
    "html",
    [
        '<div style="overflow:hidden;width:200px"><pre style="width:900px">cut off</pre></div>',
        '<div style="width:400px;margin-left:400px">pushed past the edge</div>',
    ],
    ids=["clipped", "shifted"],
)
def test_content_cut_off_or_past_the_column_is_too_wide(chromium, made_pages, html):
    path = made_pages / "wide.html"
    path.write_text(CLEAN.replace("</article>", html + "</article>"))
    assert browser.inspect(chromium, path.as_uri(), 1280).too_wide


def test_a_page_that_scrolls_sideways_at_phone_width_is_too_wide(chromium, made_pages):
    assert browser.inspect(chromium, (made_pages / "clean.html").as_uri(), 375).too_wide


def test_links_to_missing_pages_and_anchors_dangle(made_pages):
    root = made_pages.resolve()
    links = [
        (root / "clean.html").as_uri() + "#here",
        (root / "clean.html").as_uri() + "#nowhere",
        (root / "02_losses.html").as_uri(),
        (root.parent / "elsewhere.html").as_uri(),
        "https://pytorch.org/docs/",
    ]
    dangling = browser.dangling_links(made_pages, links)
    assert [d.split(": ")[-1] for d in dangling] == [
        "no such anchor",
        "no such page",
        "outside the built book",
    ]
