"""Open every page of the built book in headless Chromium, as a reader would, on a wide screen and
on a phone, and fail on what a reader would see go wrong.

At 1280 px, for each page: a JavaScript or console error, a request that failed or that left
this machine (the book must work offline), a widget that did not render, math that MathJax did
not render or could not parse, a broken image, a code or output block wider than the text
column, a traceback in a cell not tagged `raises-exception`, raw markup in the visible text
outside code (`:::`, a `{note}`-style directive or role name, `**`, an unrendered `$...$`, TeX
such as `p_t` in a link or a heading), a control outside an explorer that looks live but needs a
kernel, a frozen widget without its note. Every explorer (class `book-explorer`) gets a control
moved, and what it shows must change. The page's weight is what a first visit loads
(uncompressed, empty cache) on arrival and after scrolling to the end; over --max-mib fails.

At 390 px (a phone), for each page: the page is no wider than the screen, no slider track is
narrower than 100 px, the ☰ menu opens and lists every chapter, the Contents button opens, and
the menu's link to the next page leads there (so every chapter is reachable from a phone).

Pages without an explorer are listed; with --require-explorers (or BOOK_REQUIRE_EXPLORERS=1)
every chapter page and the landing page must have one that responds. Prints one line per page;
exits 1 if any page failed. Saves a screenshot of the landing page as _static/screenshot.png in
the built book (the README shows it); --shots DIR saves screenshots of every page at both
widths, with the phone menu open, and of every explorer.

    .venv/bin/python scripts/check_pages.py [_build/html] [--chromium /usr/bin/chromium]

Uses Playwright (PyPI) to drive Debian's Chromium (`apt-get install chromium`).
"""
import argparse
import functools
import http.server
import os
import re
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urljoin, urlparse

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SKIP = {"genindex.html", "search.html", "py-modindex.html"}
MAX_MIB = 4.0
MIN_TRACK_PX = 100
NOT_CHAPTERS = ("references.html",)     # pages that need no explorer

# What the page shows a reader, gathered in the browser once scripts and math have run.
INSPECT = """() => {
  const text = document.body ? document.body.innerText : '';
  const views = [...document.querySelectorAll(
      'script[type="application/vnd.jupyter.widget-view+json"]')];
  const emptyViews = views.filter(s => {
      const box = s.parentElement;
      return !box.querySelector('.jupyter-widgets, .widget-container, .lm-Widget, .p-Widget');
  }).length;
  const brokenImages = [...document.images].filter(img => img.getAttribute('src') &&
      img.complete && img.naturalWidth === 0).map(img => img.src.slice(-60));
  const tracebacks = [...document.querySelectorAll('.cell')].filter(cell =>
      !cell.classList.contains('tag_raises-exception') &&
      [...cell.querySelectorAll('.cell_output')].some(out =>
          /Traceback \\(most recent call last\\)|^\\S*Error: /m.test(out.innerText) &&
          out.querySelector('.traceback, .output.traceback, .stderr'))).length;
  const frozen = [...document.querySelectorAll('.book-frozen')];
  const live = [...document.querySelectorAll(
      '.bd-article input, .bd-article select, .bd-article button')].filter(
      el => !el.disabled && !el.closest('.book-explorer') && !el.matches('.copybtn') &&
            el.closest('.cell_output, .jupyter-widgets'));
  return {
    widgetErrors: (text.match(/Error displaying widget/g) || []).length,
    views: views.length, emptyViews, brokenImages, tracebacks,
    mathErrors: document.querySelectorAll('mjx-merror, .MathJax_Error').length,
    unrenderedMath: [...document.querySelectorAll('.bd-article .math')].filter(
        el => !el.querySelector('mjx-container')).length,
    explorers: document.querySelectorAll('.book-explorer').length,
    frozen: frozen.length,
    frozenWithoutNote: frozen.filter(el => !el.querySelector('.book-frozen-note')).length,
    liveControls: live.length,
    overflowing: [...document.querySelectorAll('.cell_input pre, .cell_output pre')].filter(
        pre => pre.offsetParent !== null && pre.scrollWidth > pre.clientWidth + 2).length,
  };
}"""

# Raw markup in what a reader sees: visible text outside code and math, by text node.
RAW_MARKUP = r"""() => {
  const root = document.querySelector('.bd-article') || document.body;
  const skip = 'pre, code, kbd, samp, script, style, .highlight, mjx-container, .math, ' +
               'textarea, .MathJax';
  const found = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const rules = [
    [/:::/, 'a ":::" fence'],
    [/\{(?:[a-z]+:)?[a-z][a-z-]*\}`?/, 'a {directive} or {role} name'],
    [/\*\*/, '"**"'],
    [/\$[^$\s][^$\n]{0,80}\$/, 'unrendered $...$ math'],
  ];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(skip) || el.offsetParent === null && el.tagName !== 'BODY') continue;
    for (const [pattern, what] of rules) {
      const m = node.textContent.match(pattern);
      if (m) found.push(`${what}: "...${node.textContent.slice(
          Math.max(0, m.index - 30), m.index + 40).replace(/\s+/g, ' ')}..."`);
    }
  }
  // TeX left as text where math cannot render: link texts and headings (e.g. "p_t")
  const tex = /(^|[^\w`])[A-Za-z]_[A-Za-z0-9{]|\\[a-zA-Z]{2,}|\^\{/;
  for (const el of document.querySelectorAll(
      '.bd-article a.reference, .bd-article h1, .bd-article h2, .bd-article h3, ' +
      '.bd-toc a, .bd-sidebar a')) {
    const clone = el.cloneNode(true);
    clone.querySelectorAll(skip).forEach(x => x.remove());
    const m = clone.textContent.match(tex);
    if (m) found.push(`TeX as text in "${clone.textContent.trim().slice(0, 70)}"`);
  }
  return [...new Set(found)].slice(0, 8);
}"""

# What counts as a problem, by the key INSPECT reports it under.
PROBLEMS = {
    "widgetErrors": lambda s: f"{s['widgetErrors']} 'Error displaying widget'",
    "emptyViews": lambda s: f"{s['emptyViews']} of {s['views']} widget views did not render",
    "brokenImages": lambda s: f"broken images: {s['brokenImages']}",
    "tracebacks": lambda s: f"{s['tracebacks']} cells show a traceback without raises-exception",
    "mathErrors": lambda s: f"{s['mathErrors']} MathJax errors",
    "unrenderedMath": lambda s: f"{s['unrenderedMath']} math elements MathJax did not render",
    "liveControls": lambda s: f"{s['liveControls']} controls look live but need a kernel",
    "overflowing": lambda s: f"{s['overflowing']} code or output blocks run past the column",
    "frozenWithoutNote": lambda s: f"{s['frozenWithoutNote']} frozen widgets without a note",
}

# The explorer's result that is visible now (an image's address or an HTML result's text).
SHOWN = """(explorer) => {
  const visible = [...explorer.querySelectorAll(
      '.book-explorer-result:not([hidden]), .widget-html-content, img')].filter(
      el => el.offsetParent !== null);
  return visible.map(el => el.currentSrc || el.src ||
      (el.querySelector('img') || {}).src || el.innerHTML).join('|').slice(0, 2000);
}"""

# Slider tracks narrower than a thumb can travel on (explorers and snapshots alike).
NARROW_SLIDERS = """(limit) => [...document.querySelectorAll(
    'input[type=range], .noUi-target, .slider-container, .ui-slider')].filter(
    el => el.offsetParent !== null && el.getBoundingClientRect().width < limit).map(
    el => Math.round(el.getBoundingClientRect().width))"""

WAIT_FOR_MATH = """() => (window.MathJax && MathJax.startup && MathJax.startup.promise)
    ? Promise.race([MathJax.startup.promise.then(() => true),
                    new Promise(done => setTimeout(() => done(false), 10000))]) : true"""


def shot_name(path):
    """A screenshot's name for a page: book/intro.html -> book_intro, zh/intro.html -> zh_intro."""
    return str(Path(path).with_suffix("")).replace("/", "_")


def serve(root):
    """Serve `root` on a free localhost port in a background thread; return the base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def end_headers(self):
            self.send_header("Cache-Control", "no-store")   # every page: a first visit
            super().end_headers()
    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass                   # a page that navigated away mid-file (the phone menu walk)
    handler = functools.partial(Quiet, directory=str(root))
    server = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def watch(page, problems):
    """Record console errors, failed or remote requests and the bytes each response carried."""
    transferred, remote = [], []
    page.on("console", lambda msg: msg.type == "error" and problems.append(
        f"console: {msg.text[:160]}"))
    page.on("pageerror", lambda error: problems.append(f"JavaScript: {str(error)[:160]}"))
    page.on("requestfailed", lambda req: urlparse(req.url).hostname == "127.0.0.1" and
            problems.append(f"failed request: {req.url[-80:]}"))
    page.on("response", lambda res: res.status >= 400 and problems.append(
        f"HTTP {res.status}: {res.url[-80:]}"))

    def finished(request):
        if not request.url.startswith("data:"):
            try:
                transferred.append(request.sizes()["responseBodySize"])
            except Exception:   # a request the page cancelled while navigating away
                pass
    page.on("requestfinished", finished)

    def route(r):
        if urlparse(r.request.url).hostname in ("127.0.0.1", None) or \
                r.request.url.startswith("data:"):
            return r.continue_()
        remote.append(r.request.url)
        return r.abort()
    page.route("**/*", route)
    return transferred, remote


def settle(page, wait_ms=1200):
    page.wait_for_timeout(wait_ms)
    page.evaluate(WAIT_FOR_MATH)


def scroll_through(page):
    """Scroll to the end, as a reader does, so lazy images load."""
    height = page.evaluate("document.documentElement.scrollHeight")
    for y in range(0, height, 700):
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(40)
    page.wait_for_timeout(600)
    page.evaluate("window.scrollTo(0, 0)")


def move_explorer(page, explorer):
    """Move the explorer's first control to another value; return True if the result changed."""
    explorer.scroll_into_view_if_needed()
    before = explorer.evaluate(SHOWN)
    select = explorer.query_selector("select:not([disabled])")
    handle = explorer.query_selector("input[type=range]:not([disabled]), .noUi-handle")
    if select is not None:
        options = select.eval_on_selector_all("option", "os => os.map(o => o.value)")
        if len(options) < 2:
            select = None
        else:
            select.select_option(options[-1] if select.input_value() != options[-1]
                                 else options[0])
    if select is None:
        if handle is None:
            return False
        handle.focus()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        if explorer.evaluate(SHOWN) == before:
            for _ in range(6):
                page.keyboard.press("ArrowLeft")
    page.wait_for_timeout(300)
    return explorer.evaluate(SHOWN) != before


def check_wide(browser, base, path, args, shots):
    problems = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    transferred, remote = watch(page, problems)
    page.goto(f"{base}/{path}", wait_until="load")
    settle(page)
    arrival = sum(transferred)
    if shots:
        page.screenshot(path=str(shots / f"w1280_{shot_name(path)}.png"))
    scroll_through(page)
    settle(page, 300)
    read = sum(transferred)
    seen = page.evaluate(INSPECT)
    problems += [message(seen) for key, message in PROBLEMS.items() if seen[key]]
    problems += [f"raw markup: {found}" for found in page.evaluate(RAW_MARKUP)]
    problems += [f"slider track {w} px wide (< {MIN_TRACK_PX})"
                 for w in page.evaluate(NARROW_SLIDERS, MIN_TRACK_PX)]
    if read > args.max_mib * 2**20:
        problems.append(f"a first visit loads {read / 2**20:.2f} MiB (> {args.max_mib} MiB)")
    moved = 0
    for i, explorer in enumerate(page.query_selector_all(".book-explorer")):
        if move_explorer(page, explorer):
            moved += 1
        else:
            problems.append(f"explorer {i + 1} did not change when its control moved")
        if shots:
            explorer.screenshot(path=str(shots / f"ex1280_{shot_name(path)}_{i + 1}.png"))
    problems += [f"remote request: {url[:100]}" for url in remote]
    context.close()
    return problems, dict(seen, moved=moved, arrival=arrival, read=read)


def phone_menu(page):
    """Open the ☰ menu the reader sees; return the chapter links it lists (None if it did
    not open)."""
    toggle = next((b for b in page.query_selector_all(".primary-toggle") if b.is_visible()), None)
    if toggle is None:
        return None
    toggle.click()
    try:
        page.wait_for_selector("#pst-primary-sidebar-modal[open] nav.bd-docs-nav a",
                               state="visible", timeout=3000)
    except Exception:
        return None
    return page.eval_on_selector_all(
        "#pst-primary-sidebar-modal[open] nav.bd-docs-nav a.reference",
        "links => links.filter(a => a.offsetParent !== null).map(a => a.href)")


def check_phone(browser, base, path, next_path, chapters, shots):
    problems = []
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    page = context.new_page()
    watch(page, problems)
    url = f"{base}/{path}"
    page.goto(url, wait_until="load")
    settle(page)
    if shots:
        page.screenshot(path=str(shots / f"m390_{shot_name(path)}.png"))
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > 392:
        problems.append(f"the page is {width} px wide on a 390 px screen (scrolls sideways)")
    problems += [f"slider track {w} px wide at 390 px (< {MIN_TRACK_PX})"
                 for w in page.evaluate(NARROW_SLIDERS, MIN_TRACK_PX)]
    for i, explorer in enumerate(page.query_selector_all(".book-explorer")):
        if shots:
            explorer.scroll_into_view_if_needed()
            explorer.screenshot(path=str(shots / f"ex390_{shot_name(path)}_{i + 1}.png"))
    page.evaluate("window.scrollTo(0, 0)")
    # the Contents button (this page's sections)
    contents = next((b for b in page.query_selector_all(".secondary-toggle") if b.is_visible()),
                    None)
    if contents is not None:
        contents.click()
        try:
            page.wait_for_selector("#pst-secondary-sidebar-modal[open]", timeout=3000)
            page.keyboard.press("Escape")
            page.wait_for_timeout(200)
        except Exception:
            problems.append("the Contents button does not open this page's contents")
    # the ☰ menu: every chapter listed, and its link to the next page leads there
    links = phone_menu(page)
    if links is None:
        problems.append("the ☰ menu does not open")
    else:
        if shots:
            page.screenshot(path=str(shots / f"m390_menu_{shot_name(path)}.png"))
        missing = [c for c in chapters if urljoin(f"{base}/", c) not in links and c != path]
        if missing:
            problems.append(f"the ☰ menu does not list {missing}")
        if next_path is not None:
            target = urljoin(f"{base}/", next_path)
            link = page.query_selector(
                f'#pst-primary-sidebar-modal[open] nav.bd-docs-nav a[href="{Path(next_path).name}"]')
            if link is None:
                problems.append(f"the ☰ menu has no link to {next_path}")
            else:
                link.click()
                page.wait_for_load_state("load")
                if page.url.split("#")[0] != target:
                    problems.append(f"the ☰ menu's link to {next_path} led to {page.url}")
    context.close()
    return problems


def toc_order(root, pages):
    """The chapter pages in the order the book's sidebar lists them."""
    first = next((p for p in pages if p.endswith("intro.html")), pages[0])
    text = (root / first).read_text(errors="ignore")
    nav = text[text.find('bd-docs-nav'):]
    order = [first]
    for href in re.findall(r'<a class="[^"]*reference internal[^"]*" href="([^"#]+)"', nav):
        candidate = str(Path(first).parent / href)
        if candidate in pages and candidate not in order:
            order.append(candidate)
    return order + [p for p in pages if p not in order]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default="_build/html")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--max-mib", type=float, default=MAX_MIB,
                        help="the most a first visit of a page may load (MiB, uncompressed)")
    parser.add_argument("--require-explorers", action="store_true",
                        default=os.environ.get("BOOK_REQUIRE_EXPLORERS") == "1",
                        help="fail a chapter or landing page that has no explorer")
    parser.add_argument("--shots", help="save screenshots of every page into this folder")
    args = parser.parse_args()
    root = Path(args.root)
    pages = sorted(str(p.relative_to(root)) for p in root.rglob("*.html")
                   if p.name not in SKIP and "_static" not in p.parts
                   and 'http-equiv="Refresh"' not in p.read_text(errors="ignore")[:300])
    if not pages:
        sys.exit(f"check_pages: no HTML pages under {root}; build the book first (make book)")
    # Each edition is its own book (the Chinese one under zh/, issue 24): its ☰ menu lists its
    # own chapters, and the next page is the next chapter of the same edition.
    chinese = [p for p in pages if Path(p).parts[0] == "zh"]
    books = [toc_order(root, group) for group in
             ([p for p in pages if p not in chinese], chinese) if group]
    pages = [path for book in books for path in book]
    shots = Path(args.shots) if args.shots else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    base, server = serve(root)
    failed, without_explorer = 0, []
    start = time.perf_counter()
    print(f"{'':6}{'page':28}{'arrival':>9}{'read':>9}  (MiB, uncompressed, first visit)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        for book, i, path in ((book, i, path) for book in books
                              for i, path in enumerate(book)):
            problems, seen = check_wide(browser, base, path, args, shots)
            following = book[i + 1] if i + 1 < len(book) else None
            problems += [f"phone: {problem}" for problem in
                         check_phone(browser, base, path, following, book, shots)]
            if not seen["explorers"] and not path.endswith(NOT_CHAPTERS):
                without_explorer.append(path)
                if args.require_explorers:
                    problems.append("no explorer (a control that responds without a kernel)")
            failed += bool(problems)
            print(f"{'FAIL' if problems else 'ok':6}{path:28}{seen['arrival'] / 2**20:9.2f}"
                  f"{seen['read'] / 2**20:9.2f}  {seen['explorers']} explorers "
                  f"({seen['moved']} responded), {seen['frozen']} snapshots", flush=True)
            for problem in problems:
                print(f"       - {problem}")
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{base}/{pages[0]}", wait_until="load")
        settle(page)
        page.screenshot(path=str(root / "_static" / "screenshot.png"))
        browser.close()
    server.shutdown()
    if without_explorer:
        print(f"pages without an explorer{' (required)' if args.require_explorers else ''}: "
              f"{', '.join(without_explorer)}")
    print(f"check_pages: {len(pages) - failed} of {len(pages)} pages passed "
          f"({time.perf_counter() - start:.0f} s)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
