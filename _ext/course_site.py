"""Sphinx extension for the course's HTML site.

Every script on a page exactly once. Two causes made pages load scripts twice, and both second
copies failed in the browser:

- Jupyter Book 1 adds every ``.js`` file under ``_static/`` to ``html_js_files``, so the MathJax
  shipped in ``_static/mathjax`` was loaded on every page as a plain script, and again (deferred,
  after its configuration) by ``sphinx.ext.mathjax`` on every page with a formula: the second
  copy throws "Cannot set property Package". MathJax is left to ``sphinx.ext.mathjax``, which
  loads it, once, on the pages that have formulas.
- Sphinx 7.4 records an inline script that an extension adds after the builder has started
  (sphinx-thebe's ``THEBE_JS_URL``, sphinx-togglebutton's selector) twice, once with file name
  ``None`` and once with ``''``, and writes both: "Identifier 'THEBE_JS_URL' has already been
  declared". Each page's scripts are de-duplicated by content before the page is written.

Search shows a few lines of each page it finds, also when the book is opened as files. Sphinx's
search fetches each result's page for those lines, which a browser refuses for ``file://``
pages; so the search page also loads the text of every page (``_static/page_texts.js``, written
once the pages are) and answers those fetches from it.
"""

import json
import pathlib

from bs4 import BeautifulSoup
from sphinx.application import Sphinx
from sphinx.config import Config

PAGE_TEXTS = "page_texts.js"
# Tags whose text is followed by a space when the tags are dropped, so that words stay apart.
BLOCKS = {"p", "div", "li", "pre", "td", "th", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6"}
# On file:// pages, answer searchtools.js's fetch of a result's page from page_texts.js.
ANSWER_FETCH_FROM_PAGE_TEXTS = """(() => {
  if (location.protocol !== "file:") return;
  const fetchPage = window.fetch;
  window.fetch = (resource, options) => {
    const url = new URL(resource, location.href);
    const root = new URL(document.documentElement.dataset.content_root || "./", location.href);
    const page = decodeURIComponent(url.pathname.slice(root.pathname.length));
    const text = (window.COURSE_PAGE_TEXTS || {})[page];
    if (url.protocol === "file:" && text !== undefined)
      return Promise.resolve(new Response(text, { headers: { "Content-Type": "text/html" } }));
    return fetchPage(resource, options);
  };
})();"""


def _file_name(entry) -> str:
    """``html_js_files`` holds names, or (name, attributes) pairs once Sphinx has read them."""
    return entry if isinstance(entry, str) else entry[0]


def leave_mathjax_to_its_extension(app: Sphinx, config: Config) -> None:
    config.html_js_files = [
        entry for entry in config.html_js_files if _file_name(entry) != config.mathjax_path
    ]


def each_script_once(app: Sphinx, pagename: str, templatename: str, context: dict, doctree):
    seen = set()
    unique = []
    for script in context.get("script_files", []):
        key = (script.filename or "", script.priority, tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique


def search_reads_page_texts(app: Sphinx, pagename: str, templatename: str, context, doctree):
    # Like sphinx.ext.mathjax: a script added here is on this page only.
    if pagename == "search":
        app.builder.add_js_file(PAGE_TEXTS)
        app.builder.add_js_file(None, body=ANSWER_FETCH_FROM_PAGE_TEXTS)


def page_text(html: str) -> str:
    """A page's main column as search reads it: its text, and the ids that links to its
    sections name (every other tag dropped)."""
    main = BeautifulSoup(html, "html.parser").select_one('[role="main"]')
    if main is None:
        return ""
    for tag in main.select("script, style, img, svg, button, .headerlink"):
        tag.decompose()
    for tag in main.find_all(True):
        if tag.name in BLOCKS:
            tag.append(" ")
        if tag.get("id"):
            tag.attrs = {"id": tag["id"]}
        else:
            tag.unwrap()
    return f'<div role="main">{main.decode_contents()}</div>'


def write_page_texts(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.name != "html":
        return
    outdir = pathlib.Path(app.builder.outdir)
    texts = {}
    for docname in sorted(app.env.found_docs):
        page = outdir / f"{docname}.html"
        if page.is_file():
            texts[f"{docname}.html"] = page_text(page.read_text(encoding="utf-8"))
    (outdir / "_static" / PAGE_TEXTS).write_text(
        "window.COURSE_PAGE_TEXTS = " + json.dumps(texts) + ";\n", encoding="utf-8"
    )


def setup(app: Sphinx) -> dict:
    # Before Sphinx turns html_js_files' names into (name, attributes) pairs (priority 800).
    app.connect("config-inited", leave_mathjax_to_its_extension, priority=400)
    # After every other extension has added its scripts to the page (default priority 500).
    app.connect("html-page-context", each_script_once, priority=900)
    app.connect("html-page-context", search_reads_page_texts)
    app.connect("build-finished", write_page_texts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
