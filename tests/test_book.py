"""The book's own hygiene: table of contents, clean notebooks, the Colab cell."""
from pathlib import Path

import nbformat
import pytest
import yaml

TOP = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((TOP / "_config.yml").read_text())
TOC = yaml.safe_load((TOP / "_toc.yml").read_text())
NOTEBOOKS = sorted((TOP / "book").glob("*.ipynb"))
PAGES = NOTEBOOKS + sorted((TOP / "book").glob("*.md"))


def toc_files():
    files = [TOC["root"]]
    for entry in TOC.get("chapters") or []:
        files.append(entry["file"])
    return files


def test_every_chapter_is_in_the_toc_and_every_toc_entry_exists():
    listed = {str(Path(f).with_suffix("")) for f in toc_files()}
    present = {str(p.relative_to(TOP).with_suffix("")) for p in PAGES}
    assert listed == present


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_installs_the_companion_in_colab_from_the_configured_repository(path):
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    url = CONFIG["repository"]["url"]
    first = code[0].source
    assert 'if "google.colab" in sys.modules:' in first
    assert f"git+{url}.git@{CONFIG['repository']['branch']}" in first
    assert "setup(" in code[1].source  # seeds and sets threads before anything runs


MAX_CODE_LINE = 79   # what the built page's code column shows without a scroll bar (PEP 8 too)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_lines_fit_the_text_column(path):
    long = [(i, line) for i, cell in enumerate(nbformat.read(path, as_version=4).cells)
            if cell.cell_type == "code" for line in cell.source.splitlines()
            if len(line) > MAX_CODE_LINE]
    assert not long, (f"{len(long)} code lines longer than {MAX_CODE_LINE} characters, "
                      f"first in cell {long[0][0]}: {long[0][1]!r}")


@pytest.mark.slow
def test_a_cell_that_times_out_is_named_by_chapter_and_cell(tmp_path):
    """nbmake's timeout says neither chapter nor cell; conftest.py adds both to the failure."""
    import shutil
    import subprocess
    import sys

    shutil.copy(TOP / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "book").mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A chapter"), nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("import time\ntime.sleep(60)")])
    nbformat.write(nb, tmp_path / "book" / "slow.ipynb")
    run = subprocess.run([sys.executable, "-m", "pytest", "--nbmake", "book", "-ra",
                          "--nbmake-timeout=3", "-p", "no:cacheprovider"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert ("book/slow.ipynb, cell 2 (code cell 2, `import time`): A cell timed out"
            in run.stdout), run.stdout[-3000:]


def test_glue_writes_what_myst_nb_glue_writes():
    """companion.book.glue skips MyST-NB's slow import but must keep its output format: the
    book's build reads the values from these outputs."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from myst_nb import glue as myst_glue

    from companion.book import glue

    had_shell = InteractiveShell.initialized()
    InteractiveShell.instance()
    try:
        for value, display in [("the GPT is ahead", False), (0.25, True), ("1,234", False)]:
            with capture_output() as ours:
                glue("key", value, display=display)
            with capture_output() as theirs:
                myst_glue("key", value, display=display)
            assert [(o.data, o.metadata) for o in ours.outputs] == \
                [(o.data, o.metadata) for o in theirs.outputs]
            assert ours.outputs[0].metadata["scrapbook"]["name"] == "key"
    finally:
        if not had_shell:
            InteractiveShell.clear_instance()


def test_glue_outside_ipython_prints_only_what_is_shown(capsys, monkeypatch):
    import IPython

    from companion.book import glue

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    glue("shown", "a value")
    glue("hidden", "another", display=False)
    assert capsys.readouterr().out == "a value\n"


def test_glue_without_myst_nb_only_displays_the_value(monkeypatch):
    """In Colab (no MyST-NB) nothing reads glue: a glued value is shown, or nothing is."""
    import importlib.util

    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from companion.book import glue

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "myst_nb" else find_spec(name, *a))
    had_shell = InteractiveShell.initialized()
    InteractiveShell.instance()
    try:
        with capture_output() as shown:
            glue("shown", 0.25)
            glue("hidden", "the GPT is ahead", display=False)
    finally:
        if not had_shell:
            InteractiveShell.clear_instance()
    assert [o.data for o in shown.outputs] == [{"text/plain": "0.25"}]
    assert "scrapbook" not in shown.outputs[0].metadata


FREEZE_SCRIPT = r'''
import gc, sys, weakref
from companion.book import setup

class Node:
    """An object in a reference cycle, so only the garbage collector frees it."""
    def __init__(self, line=None):
        self.me, self.line = self, line
    def __del__(self):
        if self.line:                                   # a reader's log line, say
            with open(sys.argv[1], "a") as f:
                f.write(self.line + "\n")

gc.disable()                                # no collection before setup() looks
before = Node()
gone_before = weakref.ref(before)
del before                                  # garbage, but not yet collected
start = gc.get_freeze_count()               # above 0 on some Pythons (3.12)
setup()
gc.enable()
frozen = gc.get_freeze_count()
assert frozen > start + 100_000             # the imported libraries
import torch, torch._dynamo
tracked = {id(o) for o in gc.get_objects()}   # frozen objects are not listed
for module in (torch, torch._dynamo):       # torch.optim's import of it included
    assert id(vars(module)) not in tracked, f"{module.__name__} was not frozen"
gc.collect()
assert gone_before() is not None            # frozen with them: never freed

between = Node()
gone_between = weakref.ref(between)
del between
setup()                                     # a second call freezes nothing
assert gc.get_freeze_count() <= frozen       # (frozen objects can still die)
gc.collect()
assert gone_between() is None, "an object made after the first setup() was frozen"

import importlib
from IPython.extensions.autoreload import superreload   # what %autoreload may use
import companion.book
kept = Node()                       # made after the first setup(): a reader's model, say
for reload in (importlib.reload, superreload):
    reload(companion.book)
    companion.book.setup()                  # after a reload: still nothing more frozen
    assert id(kept) in {id(o) for o in gc.get_objects()}, f"frozen after {reload.__name__}"

after = Node("written at exit")
del after                                   # left for the collection at exit
print("checked")
'''


def test_setup_freezes_only_what_exists_at_its_first_call(tmp_path):
    """setup() takes the imported libraries out of the garbage collector's way (gc.freeze),
    once: what is made afterwards is collected as usual, and the finalizer of an object left in
    a cycle still runs when the process exits (an earlier design, a freeze at exit, lost such a
    finalizer's log line), also after companion.book is reloaded (importlib.reload, IPython's
    %autoreload). In a subprocess: the freeze is once per process."""
    import subprocess
    import sys

    log = tmp_path / "log.txt"
    done = subprocess.run([sys.executable, "-c", FREEZE_SCRIPT, str(log)], cwd=TOP,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "checked"
    assert log.read_text() == "written at exit\n"
