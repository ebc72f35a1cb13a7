"""Book-wide switches: fast mode, seeding, thread count, the garbage collector, and `glue` that
works anywhere.

Used in: every chapter's second cell (`setup()`), and wherever a size depends on the mode
(`pick(full, fast)`).
"""
import contextlib
import gc
import importlib.util
import os
import random
import sys

import matplotlib
import numpy as np
import torch

FAST = os.environ.get("BOOK_FAST", "0") not in ("", "0", "false", "False")
"""True when the environment variable BOOK_FAST=1: smaller data and fewer epochs (used by CI)."""


def pick(full, fast):
    """Return `fast` in fast mode (BOOK_FAST=1), else `full`."""
    return fast if FAST else full


def default_threads():
    """Torch threads to use: env BOOK_THREADS if set, else 2 (a laptop-sized default)."""
    value = os.environ.get("BOOK_THREADS")
    if value:
        return max(1, int(value))
    return max(1, min(2, os.cpu_count() or 1))


def seed_everything(seed=0):
    """Seed Python's, NumPy's and torch's random generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


COLUMN = 7.2
"""The width of the book's text column in inches: `plt.subplots(figsize=(COLUMN, 3))`."""


def style_figures():
    """The book's figure defaults: the text column's width, readable fonts, sharp on hi-dpi
    screens (retina PNGs in a notebook)."""
    matplotlib.rcParams.update({"figure.figsize": (COLUMN, 3.6), "font.size": 10,
                                "axes.titlesize": 11, "legend.fontsize": 9,
                                "xtick.labelsize": 9, "ytick.labelsize": 9})
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:   # a plain script: nothing to set
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def freeze_imports():
    """Hide what exists now from Python's garbage collector, once per process (`gc.freeze`).

    Called by `setup()` right after a chapter's imports, when what exists is the libraries (torch,
    matplotlib, IPython): hundreds of thousands of objects that live as long as the kernel. When
    the kernel exits, Python's last collections go through every object it tracks and free the
    cycles among them, the libraries' classes and functions included. Frozen, those are skipped
    and never freed (the operating system takes the memory back), which takes most of the
    seconds out of a kernel's shutdown (measured with Python 3.11). Unfrozen, they would also
    slow every full collection while the chapter runs; frozen, those skip them too.

    Objects made later are collected as usual, and their finalizers run, at exit too. What is
    frozen is everything that exists at the first call: in a chapter, the imports and the
    kernel's own objects. A cycle among those objects is never freed, its finalizers never run,
    and what it refers to stays alive; after a chapter's imports those are the libraries' own
    objects, which mostly live as long as the kernel anyway. Later calls freeze nothing more,
    also after a reload of this module (`importlib.reload`, IPython's `%autoreload`).
    """
    if getattr(sys, "_companion_imports_frozen", False):   # on sys: no reload forgets it
        return
    try:
        # torch.optim imports torch._dynamo (about a third of those objects) when the first
        # optimizer is built; imported now (the same cost, paid here instead), it is frozen
        # with the rest
        importlib.import_module("torch._dynamo")
    except ImportError:   # a torch without it: freeze the rest
        pass
    gc.freeze()
    sys._companion_imports_frozen = True


def setup(seed=0, threads=None):
    """Seed every generator, set torch's CPU thread count and the figure style, and at the first
    call take the libraries imported so far out of the garbage collector's way (`freeze_imports`:
    it also imports torch._dynamo, which the first optimizer would); print what was chosen.

    Two busy processes on few cores slow each other down several times over, so the thread count
    is set deliberately here (BOOK_THREADS, else the cores up to 2); a chapter whose models gain
    nothing from a second thread can pass `threads=1`.
    """
    seed_everything(seed)
    style_figures()
    freeze_imports()
    threads = threads or default_threads()
    torch.set_num_threads(threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    mode = "fast (BOOK_FAST=1)" if FAST else "full"
    print(f"torch {torch.__version__} | device: {device} | threads: {threads} | seed: {seed} | mode: {mode}")


GLUE_PREFIX = "application/papermill.record/"
"""Where MyST-NB looks for a value glued with display=False (its `glue`'s own format)."""


def glue(name, value, display=True):
    """Store `value` under `name` for the prose ({glue:text}`name`) and, by default, show it.

    Writes the output that MyST-NB's `myst_nb.glue` writes (the value's display data, under
    GLUE_PREFIX when not displayed, with `scrapbook` metadata naming it), without importing
    MyST-NB: that import costs about 2 s (it loads nbformat and jsonschema), in every chapter.
    Where MyST-NB is not installed (Colab) it only displays the value; outside IPython it
    only prints it (when `display`).
    """
    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        if display:
            print(value)
        return
    from IPython.display import display as ipy_display
    if importlib.util.find_spec("myst_nb") is None:   # no book build reads glue here
        if display:
            ipy_display(value)
        return
    from IPython.core.formatters import format_display_data
    bundle, metadata = format_display_data(value)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipy_display({prefix + mime: data for mime, data in bundle.items()}, raw=True,
                metadata=metadata)


@contextlib.contextmanager
def expect_error(error_type=ValueError):
    """`with expect_error(ValueError): ...` shows the one-line message of the error the block
    raises, as a reader would want to see it; raises AssertionError if the block raises none."""
    try:
        yield
    except error_type as error:
        print(f"{type(error).__name__}: {error}")
    else:
        raise AssertionError(f"expected a {error_type.__name__}, but the code ran without one")
