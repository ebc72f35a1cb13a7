"""Walk the path the book promises JupyterLab readers, in headless Chromium.

Starts JupyterLab on localhost (no token), opens the intro, runs all cells, checks that an
explorer (if the chapter has one) shows its widgets and switches its result, moves the
playground's first slider and checks that the parameter table changes, sets the epochs to
their maximum, presses Train and checks that the live curves image changes at least twice
before the final frame; any page error fails it. Prints what it saw; exits 1 on failure.

    .venv/bin/python scripts/check_jupyterlab.py [--notebook book/intro.ipynb]
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from check_pages import CHROMIUM_ARGS

TOP = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(port, root):
    """JupyterLab on 127.0.0.1:port with no token, serving `root`; returns the process once it
    answers."""
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
               "--ip=127.0.0.1", "--allow-root", "--IdentityProvider.token=",
               "--ServerApp.password=",
               "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
               "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    lab = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env={**os.environ, "JUPYTER_PLATFORM_DIRS": "1"})
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=1)
            return lab
        except OSError:
            time.sleep(0.5)
    lab.kill()
    sys.exit("check_jupyterlab: JupyterLab did not start within 60 s")


def fail(message):
    print(f"FAIL {message}")
    sys.exit(1)


def explorers(page):
    """An explorer in JupyterLab shows its widgets (not the HTML form the web book prefers), and
    moving its first control switches the result."""
    boxes = page.locator(".jp-OutputArea-output .book-explorer")
    if boxes.count() == 0:
        return
    if page.locator(".jp-OutputArea-output .book-explorer-html").count():
        fail("JupyterLab shows an explorer's HTML form instead of its widgets")
    box = boxes.first
    box.scroll_into_view_if_needed()
    shown = ("el => [...el.querySelectorAll('img, .widget-html-content')]"
             ".filter(e => e.offsetParent !== null).map(e => e.src || e.innerHTML).join('|')")
    before = box.evaluate(shown)
    if box.locator("select").count():
        select = box.locator("select").first
        # by position, not by label (a CI run once failed to find an option by its inner text)
        page.wait_for_function("el => el.options.length > 1", arg=select.element_handle(),
                               timeout=20_000)
        last = select.evaluate("el => el.options.length") - 1
        current = select.evaluate("el => el.selectedIndex")
        select.select_option(index=last if current != last else 0)
    else:
        box.locator(".noUi-handle, .ui-slider-handle").first.focus()
        page.keyboard.press("ArrowRight")
    page.wait_for_function(f"([el, old]) => ({shown})(el) !== old",
                           arg=[box.element_handle(), before], timeout=20_000)
    print(f"ok   {boxes.count()} explorers shown as widgets; the first switched its result")


def walk(page, port, timeout):
    """Run all cells, move a slider, press Train; exit 1 if the live curves did not move."""
    page.goto(f"http://127.0.0.1:{port}/lab/tree/chapter.ipynb")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    select = page.get_by_role("button", name="Select", exact=True)   # "Select Kernel" dialog
    try:
        select.wait_for(timeout=10_000)
        select.click()
    except Exception:
        pass                              # the kernel started without asking
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                           "#jp-main-statusbar :text('Idle')", timeout=60_000)
    start = time.perf_counter()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    table = page.locator(".widget-html-content", has_text="parameters").first
    table.wait_for(timeout=timeout * 1000)
    page.wait_for_selector(".jp-OutputArea-output img", timeout=timeout * 1000)
    # Wait until the whole notebook ran (the last cell got its execution count).
    page.wait_for_function(
        "() => { const p = [...document.querySelectorAll('.jp-InputPrompt')]"
        ".filter(e => e.closest('.jp-CodeCell')).map(e => e.textContent.trim());"
        " return p.length && p.every(t => /\\[\\d+\\]/.test(t)); }",
        timeout=timeout * 1000)
    print(f"ok   ran all cells in {time.perf_counter() - start:.0f} s")
    explorers(page)

    before = table.inner_text()
    playground = table.locator("xpath=ancestor::div[contains(@class,'widget-vbox')][last()]")
    handles = playground.locator(".noUi-handle, .ui-slider-handle")
    handles.first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("([el, old]) => el.innerText !== old",
                           arg=[table.element_handle(), before], timeout=20_000)
    after = table.inner_text()
    print(f"ok   the slider changed the table: {before.split()[0]} -> "
          f"{after.split()[0]} parameters")

    handles.last.focus()                  # epochs: as many as the slider allows
    page.keyboard.press("End")
    # Record every curves image the page shows while training (they replace each other fast).
    playground.evaluate("""root => {
        window.__frames = new Set();
        const note = () => root.querySelectorAll('.jp-OutputArea-output img').forEach(
            img => window.__frames.add(img.src.length + ':' + img.src.slice(-64)));
        note();
        window.__before = window.__frames.size;
        new MutationObserver(note).observe(root, {childList: true, subtree: true,
                                                  attributes: true, attributeFilter: ['src']});
    }""")
    playground.get_by_role("button", name="Train").click()
    status = playground.locator(".widget-html-content", has_text="Trained")
    status.first.wait_for(timeout=timeout * 1000)
    page.wait_for_timeout(500)
    seen = page.evaluate("() => window.__frames.size - window.__before")
    frames = seen                        # images drawn after pressing Train
    print(f"{'ok  ' if frames >= 3 else 'FAIL'} Train drew {frames} frames: "
          f"{status.first.inner_text() if status.count() else 'no result line'}")
    if frames < 3:
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", default="book/intro.ipynb")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--timeout", type=float, default=300, help="seconds for Run All")
    args = parser.parse_args()
    port = free_port()
    work = Path(tempfile.mkdtemp())          # a copy: JupyterLab saves what it runs
    shutil.copy(TOP / args.notebook, work / "chapter.ipynb")
    lab = start_lab(port, work)
    errors = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda error: errors.append(str(error)[:200]))
            try:
                walk(page, port, args.timeout)
            except Exception:
                page.screenshot(path=str(work / "failure.png"))
                print(f"FAIL (a screenshot is in {work / 'failure.png'})")
                raise
            browser.close()
    finally:
        lab.terminate()
        lab.wait(timeout=30)
    if errors:
        fail(f"page errors: {errors}")
    print("check_jupyterlab: the intro runs in JupyterLab, the playground responds and trains live")


if __name__ == "__main__":
    main()
