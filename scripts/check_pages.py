"""Open every page of the built book in headless Chromium, as a reader would, and fail on what a
reader would see go wrong.

For each page: a JavaScript error or console error, a request that failed or that left this
machine (the book must work offline), a widget that did not render, a MathJax error, a broken
image, a code or output block wider than the text column, or a traceback in a cell not tagged
`raises-exception`. Every precomputed explorer
(`companion.explorer`, class `book-explorer`) gets one control moved, and what it shows must
change; every frozen control (a widget that needs a kernel) must be disabled and explained.
Prints one line per page; exits 1 if any page failed. Saves a screenshot of the first page as
_static/screenshot.png in the built book (the README shows it from the published book).

    .venv/bin/python scripts/check_pages.py [_build/html] [--chromium /usr/bin/chromium]

Uses Playwright (PyPI) to drive Debian's Chromium (`apt-get install chromium`).
"""
import argparse
import functools
import http.server
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SKIP = {"genindex.html", "search.html", "py-modindex.html"}

# What the page shows a reader, gathered in the browser once widgets have had time to render.
INSPECT = """() => {
  const text = document.body ? document.body.innerText : '';
  const views = [...document.querySelectorAll(
      'script[type="application/vnd.jupyter.widget-view+json"]')];
  const emptyViews = views.filter(s => {
      const box = s.parentElement;
      return !box.querySelector('.jupyter-widgets, .widget-container, .lm-Widget, .p-Widget');
  }).length;
  const brokenImages = [...document.images].filter(
      img => img.complete && img.naturalWidth === 0).map(img => img.src.slice(-60));
  const tracebacks = [...document.querySelectorAll('.cell')].filter(cell =>
      !cell.classList.contains('tag_raises-exception') &&
      [...cell.querySelectorAll('.cell_output')].some(out =>
          /Traceback \\(most recent call last\\)|^\\S*Error: /m.test(out.innerText) &&
          out.querySelector('.traceback, .output.traceback, .stderr'))).length;
  const frozen = [...document.querySelectorAll('.book-frozen')];
  const live = [...document.querySelectorAll(
      '.jupyter-widgets input, .jupyter-widgets select, .jupyter-widgets button')].filter(
      el => !el.disabled && !el.closest('.book-explorer'));
  return {
    widgetErrors: (text.match(/Error displaying widget/g) || []).length,
    views: views.length, emptyViews, brokenImages, tracebacks,
    mathErrors: document.querySelectorAll('mjx-merror, .MathJax_Error').length,
    explorers: document.querySelectorAll('.book-explorer').length,
    frozen: frozen.length,
    frozenWithoutNote: frozen.filter(el => !el.querySelector('.book-frozen-note')).length,
    liveControls: live.length,
    overflowing: [...document.querySelectorAll('.cell_input pre, .cell_output pre')].filter(
        pre => pre.scrollWidth > pre.clientWidth + 2).length,
  };
}"""

# What counts as a problem, by the key INSPECT reports it under.
PROBLEMS = {
    "widgetErrors": lambda s: f"{s['widgetErrors']} 'Error displaying widget'",
    "emptyViews": lambda s: f"{s['emptyViews']} of {s['views']} widget views did not render",
    "brokenImages": lambda s: f"broken images: {s['brokenImages']}",
    "tracebacks": lambda s: f"{s['tracebacks']} cells show a traceback without raises-exception",
    "mathErrors": lambda s: f"{s['mathErrors']} MathJax errors",
    "liveControls": lambda s: f"{s['liveControls']} controls look live but need a kernel",
    "overflowing": lambda s: f"{s['overflowing']} code or output blocks run past the column",
    "frozenWithoutNote": lambda s: f"{s['frozenWithoutNote']} frozen widgets without a note",
}

# The explorer's first result that is visible now (an image's bytes or an HTML widget's text).
SHOWN = """(explorer) => {
  const visible = [...explorer.querySelectorAll('img, .widget-html-content')].filter(
      el => el.offsetParent !== null);
  return visible.map(el => el.src || el.innerHTML).join('|').slice(0, 2000);
}"""


def serve(root):
    """Serve `root` on a free localhost port in a background thread; return the base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def move_explorer(page, explorer):
    """Move the explorer's first control to another value; return True if the result changed."""
    before = explorer.evaluate(SHOWN)
    select = explorer.query_selector("select")
    if select is not None:
        options = select.eval_on_selector_all("option", "os => os.map(o => o.value)")
        select.select_option(options[-1] if len(options) > 1 else options[0])
    else:
        handle = explorer.query_selector(".noUi-handle, .ui-slider-handle, input[type=range]")
        if handle is None:
            return False
        handle.focus()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
    page.wait_for_timeout(300)
    return explorer.evaluate(SHOWN) != before


def check_page(context, base, path):
    problems, remote = [], []
    page = context.new_page()
    page.on("console", lambda msg: msg.type == "error" and problems.append(
        f"console: {msg.text[:160]}"))
    page.on("pageerror", lambda error: problems.append(f"JavaScript: {str(error)[:160]}"))
    page.on("requestfailed", lambda req: urlparse(req.url).hostname == "127.0.0.1" and
            problems.append(f"failed request: {req.url[-80:]}"))
    page.on("response", lambda res: res.status >= 400 and problems.append(
        f"HTTP {res.status}: {res.url[-80:]}"))

    def route(r):
        if urlparse(r.request.url).hostname in ("127.0.0.1", None) or r.request.url.startswith("data:"):
            return r.continue_()
        remote.append(r.request.url)
        return r.abort()
    page.route("**/*", route)
    page.goto(f"{base}/{path}", wait_until="load")
    page.wait_for_timeout(1500)                      # widgets and MathJax render after load
    seen = page.evaluate(INSPECT)
    problems += [message(seen) for key, message in PROBLEMS.items() if seen[key]]
    moved = 0
    for explorer in page.query_selector_all(".book-explorer"):
        if move_explorer(page, explorer):
            moved += 1
        else:
            problems.append("an explorer did not change when its control moved")
    problems += [f"remote request: {url[:100]}" for url in remote]
    page.close()
    summary = (f"{seen['views']} widgets, {seen['explorers']} explorers ({moved} moved), "
               f"{seen['frozen']} frozen")
    return problems, summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default="_build/html")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    root = Path(args.root)
    pages = sorted(str(p.relative_to(root)) for p in root.rglob("*.html")
                   if p.name not in SKIP and "_static" not in p.parts
                   and 'http-equiv="Refresh"' not in p.read_text(errors="ignore")[:300])
    if not pages:
        sys.exit(f"check_pages: no HTML pages under {root}; build the book first (make book)")
    base, server = serve(root)
    failed = 0
    start = time.perf_counter()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        for path in pages:
            problems, summary = check_page(context, base, path)
            failed += bool(problems)
            print(f"{'FAIL' if problems else 'ok  '} {path}: {summary}", flush=True)
            for problem in problems:
                print(f"       - {problem}")
        first = next((p for p in pages if p.endswith("intro.html")), pages[0])
        page = context.new_page()
        page.goto(f"{base}/{first}", wait_until="load")
        page.wait_for_timeout(1000)
        page.screenshot(path=str(root / "_static" / "screenshot.png"))
        browser.close()
    server.shutdown()
    print(f"check_pages: {len(pages) - failed} of {len(pages)} pages passed "
          f"({time.perf_counter() - start:.0f} s)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
