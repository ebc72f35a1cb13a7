"""Training curves: a two-panel plot of a run, and the live version that redraws while `fit` runs.

`CurvesPlot` draws loss and a second panel — accuracy, or perplexity when a run has no accuracy
(a language model), or nothing for plain regression — for train, validation and test.
`LiveCurves` is a `fit` callback: in a notebook it updates one image in place (JupyterLab,
Colab, VS Code; executed headless, the final frame stays as a static image); in a plain script
it prints one line per epoch. Both read any History-like object (lists `train_loss`,
`train_acc`, `val_loss`, ...), so this module needs nothing from `companion.training`.

Used in: `fit(live=True)`, `History.plot()`, the playgrounds.
"""
import html
import io
import math
import time

from IPython.display import HTML, Image, display
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image as PILImage

FIGSIZE = (7.2, 2.9)   # inches: the width of the book's text column at 100 px per inch
LIVE_DPI = 150          # rendered at 1.5x and shown at the column's width: sharp on hi-dpi screens
COLORS = {"train": "#1f77b4", "validation": "#ff7f0e", "test": "#d62728"}
MARKERS = {"train": "o", "validation": "^", "test": "s"}


def in_notebook():
    """True inside a Jupyter kernel (JupyterLab, Colab, VS Code, nbclient), else False."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def second_metric(history, partial_acc=False):
    """What the second panel shows for this run: "accuracy", "perplexity" or None."""
    if history.train_acc or history.val_acc or history.test_acc or partial_acc:
        return "accuracy"
    return "perplexity" if getattr(history, "perplexity", False) else None


def _series(history, split, metric):
    if metric == "loss":
        return getattr(history, f"{split}_loss")
    if metric == "accuracy":
        return getattr(history, f"{split}_acc")
    return [math.exp(min(value, 50.0)) for value in getattr(history, f"{split}_loss")]


class CurvesPlot:
    """Loss (and accuracy or perplexity) per epoch, train vs validation vs test, on a Figure.

    The axes and lines are made once; `update` only moves the data, so a redraw stays cheap.
    A test set evaluated only once, at the end, shows as a single point.
    """

    def __init__(self, fig, second="accuracy"):
        self.fig, self.second = fig, second
        metrics = ["loss"] + ([second] if second else [])
        self.lines = {}
        for ax, metric in zip(fig.subplots(1, len(metrics), squeeze=False)[0], metrics):
            lines = {split: ax.plot([], [], "-" + MARKERS[split], color=COLORS[split],
                                    markersize=3, label=split)[0]
                     for split in ("train", "validation", "test")}
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))   # epochs are whole numbers
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
            self.lines[metric] = (ax, lines)
        self.title = fig.suptitle("", fontsize=10)
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.86, wspace=0.25)

    def update(self, history, title=None, partial=None):
        """Show `history`; `partial`: (epochs, losses, accs) lists of mid-epoch train points."""
        num_epochs = len(history.train_loss)
        for metric, (ax, lines) in self.lines.items():
            for split, line in lines.items():
                values = _series(history, {"validation": "val"}.get(split, split), metric)
                epochs = list(range(1, num_epochs + 1))
                if split == "test" and len(values) == 1 and num_epochs > 1:
                    epochs = [num_epochs]                     # reported once, at the end
                points = list(zip(epochs, values))
                if split == "train" and partial is not None:
                    if metric == "loss":
                        points += list(zip(partial[0], partial[1]))
                    elif metric == "accuracy":
                        points += [(x, a) for x, a in zip(partial[0], partial[2]) if a is not None]
                    else:
                        points += [(x, math.exp(min(v, 50.0))) for x, v in zip(partial[0], partial[1])]
                points.sort()
                line.set_data([p[0] for p in points], [p[1] for p in points])
            ax.relim()
            ax.autoscale_view()
            if metric == "accuracy":
                low = min((min(line.get_ydata()) for line in lines.values()
                           if len(line.get_ydata())), default=1.0)
                if low < 0.5:   # near chance: show the whole range, so noise looks like noise
                    ax.set_ylim(0.0, 1.0)
            shown = [line for line in lines.values() if len(line.get_xdata())]
            if shown:
                ax.legend(handles=shown, loc="best", fontsize=8)
        self.title.set_text(title or "")
        return self.fig


def show_in(out, *objects):
    """Make `objects` (an IPython Image, HTML, ...) the whole content of the ipywidgets.Output
    `out`: one state update sent by the kernel (`out.outputs = ...`), the same in ipywidgets 7
    and 8.

    Not `with out: clear_output(wait=True); display(...)`: that routes each display through
    the frontend, and a headless one (nbclient, which nbmake and Jupyter Book use) answers every
    display it captures with a comm message on the shell channel while it waits there for the
    cell's reply. jupyter_client sends it through a blocking shadow of the asyncio socket, which
    can swallow the wake-up of a reply arriving at that moment: the reply then sits unread
    until the cell's timeout (nbclient issue 312; measured in scripts/stress_execute.py).
    """
    from IPython.core.interactiveshell import InteractiveShell

    outputs = []
    for obj in objects:
        data, metadata = InteractiveShell.instance().display_formatter.format(obj)
        outputs.append({"output_type": "display_data", "data": data, "metadata": metadata})
    out.outputs = tuple(outputs)


def draw_curves(fig, history, title=None):
    """Draw a History's curves on an empty matplotlib Figure."""
    return CurvesPlot(fig, second_metric(history)).update(history, title=title)


def _fast_png(fig):
    """PNG bytes of a Figure with an Agg canvas: render, then a light PNG compression."""
    fig.canvas.draw()
    buffer = io.BytesIO()
    PILImage.frombuffer("RGBA", fig.canvas.get_width_height(), fig.canvas.buffer_rgba(),
                     "raw", "RGBA", 0, 1).convert("RGB").save(buffer, format="png",
                                                               compress_level=1)
    return buffer.getvalue()


def epoch_line(history, num_epochs):
    """One line of text for the last epoch of `history`."""
    parts = [f"epoch {history.epochs}/{num_epochs}"]
    for split in ("train", "val", "test"):
        losses, accs = getattr(history, f"{split}_loss"), getattr(history, f"{split}_acc")
        if len(losses) == history.epochs:        # this split was measured this epoch
            text = f"{split} loss {losses[-1]:.4f}"
            if len(accs) == history.epochs:
                text += f" acc {accs[-1]:.2%}"
            elif getattr(history, "perplexity", False):
                text += f" ppl {math.exp(min(losses[-1], 50.0)):.3g}"
            parts.append(text)
    return "  ".join(parts) + f"  ({history.seconds[-1]:.1f} s)"


def result_sentence(history):
    """One sentence with the result of a run: time, and the last validation and test scores."""
    epochs = f"{history.epochs} epoch{'s' if history.epochs != 1 else ''}"
    text = f"Trained {epochs} in {history.total_seconds:.1f} s"
    scores = []
    for split, name in (("val", "validation"), ("test", "test")):
        accs, losses = getattr(history, f"{split}_acc"), getattr(history, f"{split}_loss")
        if accs:
            scores.append(f"{name} accuracy {accs[-1]:.2%}")
        elif losses and getattr(history, "perplexity", False):
            scores.append(f"{name} perplexity {math.exp(min(losses[-1], 50.0)):.3g}")
        elif losses:
            scores.append(f"{name} loss {losses[-1]:.4g}")
    return text + (": " + ", ".join(scores) if scores else "") + "."


class LiveCurves:
    """A `fit` callback: curves that redraw in place while a model trains.

    Redraws at most every `min_interval` seconds within an epoch (and no more often than every
    50 redraw-times, so drawing stays about 2 % of the time) and at every epoch end, except when
    epochs are shorter than `min_epoch_gap` seconds or 6 redraw-times; the final frame is always
    drawn. `out`: an ipywidgets.Output to draw into. `mode`: "notebook", "text" (one line per
    epoch), "render" (draw PNGs without showing them: benchmarks and tests) or "off"; by default
    "notebook" in a kernel, else "text". `clock`: seconds as a float (tests pass their own).
    """

    min_epoch_gap = 0.25            # seconds
    interval_per_draw_cost = 50     # mid-epoch redraws at most every 50 redraw-times
    epoch_gap_per_draw_cost = 6     # epoch-end redraws at most every 6 redraw-times

    def __init__(self, num_epochs, *, title=None, out=None, min_interval=1.5, mode=None,
                 clock=time.perf_counter):
        self.num_epochs, self.title, self.out = num_epochs, title, out
        self.clock = clock
        self.min_interval = min_interval
        self.mode = mode or ("notebook" if in_notebook() else "text")
        if self.mode not in ("notebook", "text", "render", "off"):
            raise ValueError(f"LiveCurves: unknown mode {self.mode!r}; "
                             "choose 'notebook', 'text', 'render' or 'off'")
        self._drawing = self.mode in ("notebook", "render")
        self.last_png = None
        self.draws, self.draw_seconds = 0, 0.0
        self._plot = None
        self._image_handle = self._text_handle = None
        self._partial = ([], [], [])
        self._last_draw = self._last_text = self.clock()

    def __repr__(self):
        return (f"LiveCurves(num_epochs={self.num_epochs}, mode='{self.mode}', "
                f"draws={self.draws}, draw_seconds={self.draw_seconds:.2f})")

    # -- the callback hooks fit calls ---------------------------------------------------------
    def batch_end(self, record):
        """After every batch; cheap unless a redraw is due."""
        if not self._drawing:
            return
        now = self.clock()
        status = f"epoch {record.epoch + 1}/{self.num_epochs} · batch {record.batch}/{record.num_batches}"
        if now - self._last_text > 0.5 and self.out is None and self.mode == "notebook":
            self._show_text(status)
            self._last_text = now
        interval = max(self.min_interval, self.interval_per_draw_cost * self._draw_cost())
        if now - self._last_draw > interval:
            xs, losses, accs = self._partial
            xs.append(record.epoch + record.batch / record.num_batches)
            losses.append(record.mean_loss)
            accs.append(record.mean_acc)
            self._draw(record.history, status)

    def epoch_end(self, history):
        """After every epoch (and its evaluation)."""
        if self.mode == "text":
            print(epoch_line(history, self.num_epochs), flush=True)
        elif self._drawing and (self.clock() - self._last_draw
                                >= max(self.min_epoch_gap,
                                       self.epoch_gap_per_draw_cost * self._draw_cost())):
            # every epoch end, unless epochs are so short that drawing would dominate
            self._draw(history, f"epoch {history.epochs}/{self.num_epochs}")

    def fit_end(self, history):
        """Draw the final frame, which stays as a static image."""
        if not self._drawing or history.epochs == 0:
            return
        # The figure's title says what ran; the result is said once, in the line below it.
        self._draw(history, f"{history.epochs} epoch{'s' if history.epochs != 1 else ''}",
                   keep_partial=False)
        if self.out is None and self.mode == "notebook":
            self._show_text(result_sentence(history))

    # -- drawing ----------------------------------------------------------------------------
    def _draw_cost(self):
        """Mean seconds per redraw so far (a guess of 50 ms before the first)."""
        return self.draw_seconds / self.draws if self.draws else 0.05

    def _show_text(self, text):
        content = HTML(f"<code>{html.escape(text)}</code>")
        if self._text_handle is None:
            self._text_handle = display(content, display_id=True)
        else:
            self._text_handle.update(content)

    def _draw(self, history, status, keep_partial=True):
        start = self.clock()
        if self._plot is None:   # made at the first draw, when we know what the run reports
            partial_acc = any(a is not None for a in self._partial[2])
            fig = Figure(figsize=FIGSIZE, dpi=LIVE_DPI)
            FigureCanvasAgg(fig)
            self._plot = CurvesPlot(fig, second_metric(history, partial_acc))
        title = f"{self.title} — {status}" if self.title else status
        partial = self._partial if keep_partial else None
        self.last_png = _fast_png(self._plot.update(history, title=title, partial=partial))
        if self.mode == "notebook":
            image = Image(self.last_png, width=round(FIGSIZE[0] * 100))
            if self.out is not None:
                show_in(self.out, image)
            elif self._image_handle is None:
                self._image_handle = display(image, display_id=True)
            else:
                self._image_handle.update(image)
        self._last_draw = self.clock()
        self.draws += 1
        self.draw_seconds += self._last_draw - start
