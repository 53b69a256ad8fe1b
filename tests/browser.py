"""The built book as a reader sees it: every page of `_toc.yml` opened in headless Chromium
(Debian's `chromium` package, driven by Playwright) with the network blocked, and what the page
shows checked. `tests/test_site.py` asserts on these findings;
`python -m tests.browser HTML_DIR OUT_DIR` (`make screenshots`) saves a full-page screenshot of
every page at desktop and phone width.

Nothing is downloaded: Playwright drives the system's Chromium (`executable_path`), and every
request that is not for a local file is aborted and reported.
"""

import argparse
import dataclasses
import pathlib
import re
import shutil
import sys
import urllib.parse

import yaml
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.notebooks import ROOT

WIDTHS = {"desktop": 1280, "phone": 375}
HEIGHT = 900
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "Chromium is not installed, so the browser test of the book is skipped: install Debian's "
    "package with `apt-get install chromium` (as root) and run it again"
)
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
# A figure shown at less than this fraction of its size in pixels (matplotlib's 100 dpi) at
# desktop width has tick labels (10 pt, 14 px) under 8.3 px: unreadable without zooming.
MIN_FIGURE_SCALE = 0.6
# Code lines of this many characters (the book's line length) fit the column at desktop width;
# a longer line scrolls inside its box.
CODE_LINE = 88


def chromium() -> str | None:
    """The system's Chromium, or None where it is not installed."""
    return shutil.which("chromium")


def toc_pages(toc_path: pathlib.Path = ROOT / "_toc.yml") -> list[str]:
    """Every page `_toc.yml` lists, root first, in reading order (sections included)."""
    toc = yaml.safe_load(toc_path.read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(re.sub(r"\.(md|ipynb|rst)$", "", entry["file"]))
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    walk(toc.get("sections"))
    return pages


def launch(playwright: Playwright) -> Browser:
    # Playwright gives every launch a fresh, temporary profile (--user-data-dir) of its own.
    return playwright.chromium.launch(
        executable_path=chromium(), headless=True, args=CHROMIUM_FLAGS
    )


@dataclasses.dataclass
class Findings:
    """What a reader would trip over on one page at one width; every list empty is a clean page."""

    console_errors: list[str] = dataclasses.field(default_factory=list)
    requests_off_machine: list[str] = dataclasses.field(default_factory=list)
    missing_files: list[str] = dataclasses.field(default_factory=list)
    duplicate_scripts: list[str] = dataclasses.field(default_factory=list)
    raw_tex: list[str] = dataclasses.field(default_factory=list)
    math_errors: list[str] = dataclasses.field(default_factory=list)
    broken_images: list[str] = dataclasses.field(default_factory=list)
    too_wide: list[str] = dataclasses.field(default_factory=list)
    split_outputs: list[str] = dataclasses.field(default_factory=list)
    code_scrolls: list[str] = dataclasses.field(default_factory=list)
    small_figures: list[str] = dataclasses.field(default_factory=list)
    links: list[str] = dataclasses.field(default_factory=list)

    def problems(self) -> dict[str, list[str]]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v and k != "links"}


# Runs in the page once MathJax (if any) has typeset it. Returns the page's problems by kind.
INSPECT_JS = r"""
async ({ minFigureScale, codeLine }) => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise)
    await MathJax.startup.promise;
  const images = Array.from(document.images);
  for (const img of images) img.loading = "eager";
  await Promise.all(images.map((img) => img.decode().catch(() => null)));

  const describe = (el) => {
    const cls = typeof el.className === "string" && el.className.trim()
      ? "." + el.className.trim().split(/\s+/).join(".") : "";
    const text = (el.textContent || el.getAttribute("src") || "").replace(/\s+/g, " ").trim();
    return `<${el.tagName.toLowerCase()}${cls}> "${text.slice(0, 70)}"`;
  };
  const column = document.querySelector("article.bd-article")
    || document.querySelector('[role="main"]');
  const found = { duplicate_scripts: [], raw_tex: [], math_errors: [], broken_images: [],
                  too_wide: [], split_outputs: [], code_scrolls: [], small_figures: [], links: [] };

  // Each script once: by file (ignoring Sphinx's ?v= checksum) and by inline text.
  const seen = new Set();
  for (const s of document.querySelectorAll("script")) {
    const key = s.src ? "src " + s.src.split("?")[0] : "inline " + s.textContent.trim();
    if (s.type && !/javascript|module/.test(s.type)) continue;
    if (key === "inline ") continue;
    if (seen.has(key)) found.duplicate_scripts.push(key.slice(0, 120));
    seen.add(key);
  }

  // Formulas typeset: no TeX left in the visible text outside code, no MathJax error boxes.
  const skip = "pre, code, kbd, samp, script, style, mjx-container, .MathJax, textarea, [hidden]";
  const walker = document.createTreeWalker(column, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip) || !parent.getClientRects().length) continue;
    const match = node.textContent.match(/.{0,30}(\$|\\[A-Za-z]{2,}|\\\(|\\\[).{0,30}/s);
    if (match) found.raw_tex.push(match[0].replace(/\s+/g, " "));
  }
  for (const err of column.querySelectorAll("mjx-merror, .mjx-merror"))
    found.math_errors.push(err.getAttribute("data-mjx-error") || err.textContent.slice(0, 80));

  // Every image loaded.
  for (const img of images)
    if (!img.complete || img.naturalWidth === 0) found.broken_images.push(img.getAttribute("src"));

  // Nothing wider than the column: an element either fits the column, or sits inside a box of
  // the column that scrolls sideways (which must fit itself). A page that scrolls sideways, or
  // a box that clips what it holds, cuts content off.
  const doc = document.documentElement;
  const px = Math.round;
  if (doc.scrollWidth > doc.clientWidth + 1)
    found.too_wide.push(
      `the page scrolls sideways: ${doc.scrollWidth} px in a ${doc.clientWidth} px window`);
  const col = column.getBoundingClientRect();
  if (col.left < -1 || col.right > doc.clientWidth + 1)
    found.too_wide.push(
      `the column spans ${px(col.left)}..${px(col.right)} px of a ${doc.clientWidth} px window`);
  const reported = new Set();
  for (const el of column.querySelectorAll("*")) {
    if (el.closest("svg, mjx-container") && !el.matches("mjx-container")) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === "hidden") continue;
    let box = null;
    for (let a = el.parentElement; a && a !== column; a = a.parentElement) {
      const ov = getComputedStyle(a).overflowX;
      if (ov !== "visible") { box = { el: a, overflow: ov }; break; }
    }
    if (box && (box.overflow === "auto" || box.overflow === "scroll")) continue;
    const bounds = box ? box.el.getBoundingClientRect() : col;
    if (r.left < bounds.left - 1 || r.right > bounds.right + 1) {
      if ([...reported].some((p) => p.contains(el))) continue;
      reported.add(el);
      const how = box
        ? `cut off by ${describe(box.el).split(" ")[0]} (${px(bounds.width)} px)`
        : `column ${px(col.width)} px`;
      const span = `${px(r.left - col.left)}..${px(r.right - col.left)} px`;
      found.too_wide.push(`${describe(el)}: ${px(r.width)} px wide, spans ${span}, ${how}`);
    }
  }

  // One output box per stream: consecutive writes of a cell are one box.
  for (const out of column.querySelectorAll(".cell_output")) {
    const boxes = Array.from(out.children);
    for (let i = 1; i < boxes.length; i++) {
      const stream = (el) => ["stdout", "stderr"].find((s) => el.classList.contains(s));
      if (stream(boxes[i]) && stream(boxes[i]) === stream(boxes[i - 1]))
        found.split_outputs.push(describe(boxes[i]));
    }
  }

  // Code whose lines are all short enough shows whole, without scrolling.
  for (const pre of column.querySelectorAll("div.highlight pre")) {
    if (!pre.checkVisibility()) continue;  // e.g. in a collapsed "show code" toggle
    const longest = Math.max(...pre.textContent.split("\n").map((line) => line.length));
    if (codeLine && longest <= codeLine && pre.scrollWidth > pre.clientWidth + 1)
      found.code_scrolls.push(`${describe(pre)}: lines of at most ${longest} characters scroll`);
  }

  // Figures shown large enough for their text to be read.
  for (const img of column.querySelectorAll(".cell_output img, figure img, img.figure")) {
    const shown = img.getBoundingClientRect().width;
    const scale = shown / img.naturalWidth;
    if (img.naturalWidth && scale < minFigureScale)
      found.small_figures.push(`${img.getAttribute("src")}: ${img.naturalWidth} px shown at `
        + `${px(shown)} px (scale ${scale.toFixed(2)} < ${minFigureScale})`);
  }

  for (const a of document.querySelectorAll("a[href]")) found.links.push(a.href);
  return found;
}
"""


def open_page(browser: Browser, url: str, width: int) -> tuple[Page, Findings]:
    """Open `url` at `width` px with every request that leaves the machine aborted; the page is
    loaded and typeset when this returns. Close the page's context when done."""
    findings = Findings()
    context = browser.new_context(
        viewport={"width": width, "height": HEIGHT}, service_workers="block"
    )

    def off_machine(address: str) -> None:
        if not address.startswith(LOCAL_SCHEMES) and address not in findings.requests_off_machine:
            findings.requests_off_machine.append(address)

    def route(route) -> None:
        off_machine(route.request.url)
        if route.request.url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            route.abort()

    def console(message) -> None:
        if message.type == "error":
            findings.console_errors.append(message.text)

    def failed(request) -> None:
        if request.url.startswith("file:"):
            findings.missing_files.append(request.url)

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", console)
    page.on("pageerror", lambda error: findings.console_errors.append(f"uncaught: {error}"))
    page.on("request", lambda request: off_machine(request.url))
    page.on("websocket", lambda socket: off_machine(socket.url))
    page.on("requestfailed", failed)
    page.goto(url, wait_until="load")
    return page, findings


def inspect(browser: Browser, url: str, width: int) -> Findings:
    """Everything a reader would trip over on the page at `url`, shown `width` px wide."""
    page, findings = open_page(browser, url, width)
    # Figures and code lines are judged at desktop width: on a phone every figure shrinks and
    # long lines scroll, and readers zoom.
    desktop = width >= WIDTHS["desktop"]
    limits = {
        "minFigureScale": MIN_FIGURE_SCALE if desktop else 0,
        "codeLine": CODE_LINE if desktop else 0,
    }
    try:
        found = page.evaluate(INSPECT_JS, limits)
    finally:
        page.context.close()
    for kind, items in found.items():
        getattr(findings, kind).extend(items)
    return findings


ID = re.compile(r"""\bid=["']([^"']+)["']""")


def dangling_links(html_root: pathlib.Path, links: list[str]) -> list[str]:
    """Links (absolute URLs, as the browser resolved them) to a local file that is missing, lies
    outside the built site, or lacks the anchor the link names. Links to the web are not
    followed (opening them is the reader's choice); the page's own loading is checked separately."""
    root = html_root.resolve()
    dangling = []
    ids: dict[pathlib.Path, set[str]] = {}
    for link in dict.fromkeys(links):
        parsed = urllib.parse.urlsplit(link)
        if parsed.scheme != "file":
            continue
        target = pathlib.Path(urllib.parse.unquote(parsed.path))
        if not target.is_relative_to(root):
            dangling.append(f"{link}: outside the built book")
        elif not target.is_file():
            dangling.append(f"{link}: no such page")
        elif parsed.fragment and target.suffix == ".html":
            if target not in ids:
                ids[target] = set(ID.findall(target.read_text(errors="replace")))
            if urllib.parse.unquote(parsed.fragment) not in ids[target]:
                dangling.append(f"{link}: no such anchor")
    return dangling


def screenshots(html_root: pathlib.Path, out: pathlib.Path) -> list[pathlib.Path]:
    """A full-page PNG of every page of the table of contents at each width of WIDTHS, in `out`
    (whose earlier PNG files are removed first)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    written = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        for number, name in enumerate(toc_pages()):
            for label, width in WIDTHS.items():
                url = (html_root / f"{name}.html").resolve().as_uri()
                page, _ = open_page(browser, url, width)
                page.evaluate(INSPECT_JS, {"minFigureScale": 0, "codeLine": 0})  # typeset, loaded
                path = out / f"{number:02d}-{name.replace('/', '-')}-{label}-{width}px.png"
                page.screenshot(path=str(path), full_page=True)
                page.context.close()
                written.append(path)
        browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=screenshots.__doc__)
    parser.add_argument("html", type=pathlib.Path, help="the built book, e.g. _build/html")
    parser.add_argument("out", type=pathlib.Path, help="folder for the PNG files")
    args = parser.parse_args(argv)
    if chromium() is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 1
    for path in screenshots(args.html, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
