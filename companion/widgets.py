"""Live training curves and a model playground, with ipywidgets API common to versions 7 and 8.

`LiveCurves` draws loss and accuracy (train vs test) while `fit` runs: in a notebook it updates
one image in place (JupyterLab, Colab, VS Code; executed headless, the final frame stays as a
static image); in a plain script it prints one line per epoch.

`Playground` turns a model-building function and a few controls into a small lab: parameter
count and layer shapes update as the controls change, and Train trains with live curves.
Used in: the intro and every chapter with a playground.
"""
import html
import io
import time

import torch

from .summary import count_params, summary

FIT_SETTINGS = ("lr", "epochs", "batch_size", "optimizer")
TRAIN_COLOR, TEST_COLOR = "#1f77b4", "#d62728"


def in_notebook():
    """True inside a Jupyter kernel (JupyterLab, Colab, VS Code, nbclient), else False."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class CurvesPlot:
    """Two panels, loss and accuracy per epoch, train vs test, on a matplotlib Figure.

    The axes and lines are made once; `update` only moves the data, so a redraw stays cheap.
    """

    def __init__(self, fig):
        self.fig = fig
        self.lines = {}
        for ax, label in zip(fig.subplots(1, 2), ("loss", "accuracy")):
            train_line, = ax.plot([], [], "-o", color=TRAIN_COLOR, markersize=3, label="train")
            test_line, = ax.plot([], [], "-s", color=TEST_COLOR, markersize=3, label="test")
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
            self.lines[label] = (ax, train_line, test_line)
        self.title = fig.suptitle("", fontsize=10)
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.86, wspace=0.25)

    def update(self, history, title=None, partial=None):
        """Show `history`; `partial`: (epochs, losses, accs) lists of mid-epoch train points."""
        epochs = list(range(1, history.epochs + 1))
        for label, train, test in (("loss", history.train_loss, history.test_loss),
                                   ("accuracy", history.train_acc, history.test_acc)):
            ax, train_line, test_line = self.lines[label]
            points = list(zip(epochs, train))
            if partial is not None:
                points += list(zip(partial[0], partial[1] if label == "loss" else partial[2]))
            points.sort()
            train_line.set_data([p[0] for p in points], [p[1] for p in points])
            test_line.set_data(epochs[:len(test)], test)
            ax.relim()
            ax.autoscale_view()
            shown = [line for line in (train_line, test_line) if len(line.get_xdata())]
            if shown:
                ax.legend(handles=shown, loc="best", fontsize=8)
        self.title.set_text(title or "")
        return self.fig


def draw_curves(fig, history, title=None):
    """Draw loss and accuracy panels for a History on an empty matplotlib Figure."""
    return CurvesPlot(fig).update(history, title=title)


def _png(fig, dpi=80):
    """Any matplotlib Figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _fast_png(fig):
    """PNG bytes of a Figure with an Agg canvas: render, then a light PNG compression."""
    from PIL import Image
    fig.canvas.draw()
    buffer = io.BytesIO()
    Image.frombuffer("RGBA", fig.canvas.get_width_height(), fig.canvas.buffer_rgba(),
                     "raw", "RGBA", 0, 1).convert("RGB").save(buffer, format="png",
                                                               compress_level=1)
    return buffer.getvalue()


class LiveCurves:
    """Loss and accuracy curves that redraw in place while a model trains.

    Redraws at most every `min_interval` seconds within an epoch (and no more often than every
    50 redraw-times, so drawing stays about 2 % of the time) and at every epoch end, except when
    epochs are shorter than `min_epoch_gap` seconds or 10 redraw-times; the final frame is always
    drawn. `out`: an ipywidgets.Output to draw into. `mode`: "notebook", "text" (one line per
    epoch), "render" (draw PNGs without showing them: benchmarks and tests) or "off"; by default
    "notebook" in a kernel, else "text".
    """

    min_epoch_gap = 0.25            # seconds
    interval_per_draw_cost = 50     # mid-epoch redraws at most every 50 redraw-times
    epoch_gap_per_draw_cost = 10    # epoch-end redraws at most every 10 redraw-times

    def __init__(self, num_epochs, *, title=None, out=None, min_interval=1.5, mode=None):
        self.num_epochs, self.title, self.out = num_epochs, title, out
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
        self._last_draw = self._last_text = time.perf_counter()
        self._history = None

    def __repr__(self):
        return (f"LiveCurves(num_epochs={self.num_epochs}, mode='{self.mode}', "
                f"draws={self.draws}, draw_seconds={self.draw_seconds:.2f})")

    # -- called by fit ----------------------------------------------------------------------
    def batch(self, epoch, batch, num_batches, loss_sum, correct, seen):
        """Called after every batch; cheap unless a redraw is due."""
        if not self._drawing:
            return
        now = time.perf_counter()
        if now - self._last_text > 0.5 and self.out is None and self.mode == "notebook":
            self._show_text(f"epoch {epoch + 1}/{self.num_epochs} · batch {batch}/{num_batches}")
            self._last_text = now
        interval = max(self.min_interval, self.interval_per_draw_cost * self._draw_cost())
        if now - self._last_draw > interval:
            px, ploss, pacc = self._partial
            px.append(epoch + batch / num_batches)
            ploss.append(float(loss_sum) / seen)
            pacc.append(float(correct) / seen)
            if self._history is None:
                from .training import History
                self._history = History()
            self._draw(self._history, f"epoch {epoch + 1}/{self.num_epochs} · "
                                      f"batch {batch}/{num_batches}")

    def epoch_end(self, history):
        """Called after every epoch (and its evaluation)."""
        self._history = history
        epoch = history.epochs
        line = (f"epoch {epoch}/{self.num_epochs}  train loss {history.train_loss[-1]:.4f}  "
                f"acc {history.train_acc[-1]:.2%}")
        if history.test_acc:
            line += f"  test loss {history.test_loss[-1]:.4f}  acc {history.test_acc[-1]:.2%}"
        line += f"  ({history.seconds[-1]:.1f} s)"
        if self.mode == "text":
            print(line, flush=True)
        elif self._drawing and (time.perf_counter() - self._last_draw
                                >= max(self.min_epoch_gap,
                                       self.epoch_gap_per_draw_cost * self._draw_cost())):
            # every epoch end, unless epochs are so short that drawing would dominate
            self._draw(history, f"epoch {epoch}/{self.num_epochs}")

    def close(self, history):
        """Draw the final frame, which stays as a static image."""
        if not self._drawing or history.epochs == 0:
            return
        done = (f"done: {history.epochs} epochs in {history.total_seconds:.1f} s of training"
                + (f", test accuracy {history.test_acc[-1]:.2%}" if history.test_acc else ""))
        self._draw(history, done, keep_partial=False)
        if self.out is None and self.mode == "notebook":
            self._show_text(done)

    # -- drawing ----------------------------------------------------------------------------
    def _draw_cost(self):
        """Mean seconds per redraw so far (a guess of 50 ms before the first)."""
        return self.draw_seconds / self.draws if self.draws else 0.05

    def _show_text(self, text):
        from IPython.display import HTML, display
        content = HTML(f"<code>{html.escape(text)}</code>")
        if self._text_handle is None:
            self._text_handle = display(content, display_id=True)
        else:
            self._text_handle.update(content)

    def _draw(self, history, status, keep_partial=True):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        start = time.perf_counter()
        if self._plot is None:
            fig = Figure(figsize=(9, 3.2), dpi=80)
            FigureCanvasAgg(fig)
            self._plot = CurvesPlot(fig)
        title = f"{self.title} — {status}" if self.title else status
        partial = self._partial if keep_partial else None
        self.last_png = _fast_png(self._plot.update(history, title=title, partial=partial))
        if self.mode == "notebook":
            from IPython.display import Image, display
            image = Image(self.last_png)
            if self.out is not None:
                with self.out:
                    self.out.clear_output(wait=True)
                    display(image)
            elif self._image_handle is None:
                self._image_handle = display(image, display_id=True)
            else:
                self._image_handle.update(image)
        self._last_draw = time.perf_counter()
        self.draws += 1
        self.draw_seconds += self._last_draw - start


def _shapes_html(model, input_shape):
    table = summary(model, input_shape)
    rows = "".join(
        f"<tr><td>{html.escape(r.name)}</td><td>{html.escape(r.kind)}</td>"
        f"<td>{html.escape(str(tuple(r.shape)))}</td><td style='text-align:right'>{r.params:,}</td></tr>"
        for r in table.rows)
    return (f"<b>{count_params(model):,} parameters</b>"
            f"<table style='font-size:85%'><tr><th>layer</th><th>type</th><th>output shape</th>"
            f"<th>params</th></tr>{rows}</table>")


class Playground:
    """Controls → model → live training. `build(**model_settings)` returns an nn.Module.

    Controls named lr, epochs, batch_size or optimizer go to `fit`; all others to `build`.
    `after_train(model, history, settings)` may return a matplotlib Figure to show below the
    curves. With `autorun`, displaying the playground trains once with the default settings.
    """

    def __init__(self, build, controls, train, test, *, input_shape=(1, 1, 28, 28),
                 fit_kwargs=None, after_train=None, autorun=True, title=None, seed=0):
        import ipywidgets as widgets
        if not controls:
            raise ValueError("Playground needs at least one control")
        self.build, self.train_data, self.test_data = build, train, test
        self.controls = dict(controls)
        self.input_shape, self.after_train = tuple(input_shape), after_train
        self.fit_kwargs = dict(fit_kwargs or {})
        self.title, self.seed, self.autorun = title, seed, autorun
        self.model = self.history = None
        for name, control in self.controls.items():
            if not getattr(control, "description", None):
                control.description = name
            if hasattr(control, "style") and hasattr(control.style, "description_width"):
                control.style.description_width = "110px"  # room for "learning rate"
            control.observe(self._on_change, names="value")
        self.train_button = widgets.Button(description="Train", button_style="primary")
        self.train_button.on_click(lambda _button: self.train())
        self.status = widgets.HTML()
        self.info = widgets.HTML()
        self.out = widgets.Output()
        self.extra = widgets.Output()
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox(list(self.controls.values())),
                          widgets.VBox([self.info])]),
            widgets.HBox([self.train_button, self.status]),
            self.out, self.extra])
        self._on_change()

    def __repr__(self):
        return f"Playground(settings={self.settings()})"

    def settings(self):
        """The current value of every control, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def _split_settings(self):
        settings = self.settings()
        fit_settings = {k: v for k, v in settings.items() if k in FIT_SETTINGS}
        model_settings = {k: v for k, v in settings.items() if k not in FIT_SETTINGS}
        return model_settings, fit_settings

    def _make_model(self):
        """Build the model and run a dummy batch; return (model, html) or (None, message)."""
        model_settings, _ = self._split_settings()
        try:
            torch.manual_seed(self.seed)
            model = self.build(**model_settings)
            shapes = _shapes_html(model, self.input_shape)
        except (ValueError, RuntimeError) as error:
            message = str(error).strip().splitlines()[0]
            return None, (f"<span style='color:#b00020'><b>This setting does not work:</b> "
                          f"{html.escape(message)}</span>")
        return model, shapes

    def _on_change(self, change=None):
        model, text = self._make_model()
        self.info.value = text
        self.train_button.disabled = model is None
        if change is not None:
            self.status.value = "settings changed: press Train" if model is not None else ""

    def train(self):
        """Build a fresh model with the current settings and train it with live curves."""
        model, text = self._make_model()
        if model is None:
            self.status.value = text
            return None
        _, fit_settings = self._split_settings()
        kwargs = {**self.fit_kwargs, **fit_settings}
        kwargs.setdefault("epochs", 3)
        from .training import fit
        self.train_button.disabled = True
        self.status.value = "training…"
        self.extra.clear_output()
        try:
            history = fit(model, self.train_data, self.test_data, live=True, out=self.out,
                          seed=self.seed, title=self.title, **kwargs)
        finally:
            self.train_button.disabled = False
        self.model, self.history = model, history
        self.status.value = html.escape(repr(history))
        if self.after_train is not None:
            fig = self.after_train(model, history, self.settings())
            if fig is not None:
                from IPython.display import Image, display
                with self.extra:
                    display(Image(_png(fig)))
                import matplotlib.pyplot as plt
                plt.close(fig)
        return history

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
        if self.autorun and self.history is None:
            self.train()
