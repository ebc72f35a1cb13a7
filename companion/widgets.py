"""A model playground: controls -> model -> live training, with ipywidgets API common to
versions 7 and 8.

`Playground` turns a model-building function and a few controls into a small lab: parameter
count and layer shapes update as the controls change, and Train trains with live curves
(`companion.curves`). Used in: the intro and every chapter with a playground.
"""
import copy
import html
import inspect
import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import Image, display

from .curves import LiveCurves, result_sentence, show_in
from .summary import collapse, count_params, summary
from .training import fit

# Controls named after a parameter of `fit` (lr, epochs, momentum, clip_grad, ...) go to fit.
FIT_SETTINGS = frozenset(inspect.signature(fit).parameters) - {"model", "train", "test"}
# What the playground passes to fit itself: a control or fit_kwargs entry may not set these.
OWN_FIT_ARGUMENTS = frozenset({"seed", "title", "live", "out"})


def _png(fig, dpi=150):
    """Any matplotlib Figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _shapes_html(model, input_shape, example):
    table = summary(model, input_shape if example is None else None, example=example)
    rows = "".join(
        f"<tr><td>{html.escape(r.name)}</td><td>{html.escape(r.kind)}</td>"
        f"<td>{html.escape(str(tuple(r.shape)))}</td><td style='text-align:right'>{r.params:,}</td></tr>"
        for r in collapse(table.rows))
    return (f"<b>{count_params(model):,} parameters</b>"
            f"<div style='max-height:16em; overflow:auto'>"
            f"<table style='font-size:85%'><tr><th>layer</th><th>type</th><th>output shape</th>"
            f"<th>params</th></tr>{rows}</table></div>")


class Playground:
    """Controls → model → live training. `build(**model_settings)` returns an nn.Module.

    Controls named after a parameter of `fit` (lr, epochs, batch_size, optimizer, momentum,
    clip_grad, ...) go to `fit`; controls named after a parameter of `data` go to
    `data(**settings)`, which returns fresh `(train, test)`, or `(train, None, val)` so that a
    reader's choices read validation data, before each run (for a control that changes the
    task, such as a sequence length); all others go to `build` (which also gets a data control
    it names). The layer table runs one zero batch of `input_shape`, or
    `input_example` (a tensor, or a tuple of tensors for `model(*example)`).
    `fit_kwargs` are fixed `fit` arguments (a `step`, `val`, ...); neither they nor a control
    may be named `seed`, `title`, `live` or `out`, which the playground passes to fit itself.
    A change of a control that goes only to `fit` (lr, epochs, ...) keeps the model and its
    layer table as they are.
    `after_train(model, history, settings)` may return a matplotlib Figure to show below the
    curves. With `autorun`, displaying the playground trains once with the default settings;
    `initial=(model, history)` shows a run the chapter already made with those settings instead.
    """

    def __init__(self, build, controls, train=None, test=None, *, data=None,
                 input_shape=(1, 1, 28, 28), input_example=None, fit_kwargs=None,
                 after_train=None, autorun=True, title=None, seed=0, initial=None):
        if not controls:
            raise ValueError("Playground needs at least one control")
        if (train is None) == (data is None):
            raise ValueError("Playground needs either train data or a data(**settings) function")
        for where, names in (("control", controls), ("fit_kwargs entry", fit_kwargs or {})):
            taken = sorted(OWN_FIT_ARGUMENTS.intersection(names))
            if taken:
                name = taken[0]
                hint = f", or set Playground({name}=...)" if name in ("seed", "title") else ""
                raise ValueError(
                    f"Playground: the {where} {name!r} collides with a keyword the playground "
                    f"passes to fit itself ({', '.join(sorted(OWN_FIT_ARGUMENTS))}); "
                    f"rename it{hint}")
        self.data = data
        self.data_settings = set(inspect.signature(data).parameters) if data else set()
        build_params = inspect.signature(build).parameters
        self.build_takes = (set(build_params) if not any(
            p.kind is p.VAR_KEYWORD for p in build_params.values()) else None)
        self.build, self.train_data, self.test_data = build, train, test
        self.controls = dict(controls)
        self.input_shape, self.input_example = tuple(input_shape), input_example
        self.after_train = after_train
        self.fit_kwargs = dict(fit_kwargs or {})
        self.title, self.seed, self.autorun = title, seed, autorun
        self.model = self.history = None
        self.initial = initial
        for name, control in self.controls.items():
            if not getattr(control, "description", None):
                control.description = name
            if hasattr(control, "style") and hasattr(control.style, "description_width"):
                control.style.description_width = "110px"  # room for "learning rate"
            control.observe(lambda change, name=name: self._on_change(change, name),
                            names="value")
        self.train_button = widgets.Button(description="Train", button_style="primary")
        self.train_button.on_click(lambda _button: self.train())
        self.status = widgets.HTML()
        self.info = widgets.HTML()
        self.out = widgets.Output()
        self.extra = widgets.Output()
        self.widget = widgets.VBox([
            # controls beside the layer table, the table below them when the page is narrow
            widgets.HBox([widgets.VBox(list(self.controls.values())),
                          widgets.VBox([self.info], layout=widgets.Layout(max_width="100%"))],
                         layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([self.train_button, self.status]),
            self.out, self.extra])
        self._on_change()

    def __repr__(self):
        return f"Playground(settings={self.settings()})"

    def settings(self):
        """The current value of every control, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def _split_settings(self):
        """(model settings, fit settings, data settings) from the controls."""
        settings = self.settings()
        fit_settings = {k: v for k, v in settings.items() if k in FIT_SETTINGS}
        data_settings = {k: v for k, v in settings.items() if k in self.data_settings}
        model_settings = {k: v for k, v in settings.items()
                          if k not in FIT_SETTINGS and (k not in self.data_settings or (
                              self.build_takes is None or k in self.build_takes))}
        return model_settings, fit_settings, data_settings

    def _make_model(self):
        """Build the model and run a dummy batch; return (model, html) or (None, message)."""
        model_settings, _, _ = self._split_settings()
        try:
            torch.manual_seed(self.seed)
            model = self.build(**model_settings)
            shapes = _shapes_html(model, self.input_shape, self.input_example)
        except (ValueError, RuntimeError) as error:
            message = str(error).strip().splitlines()[0]
            return None, (f"<span style='color:#b00020'><b>This setting does not work:</b> "
                          f"{html.escape(message)}</span>")
        return model, shapes

    def _changes_the_model(self, name):
        """Does the control `name` reach `build` or `data` (not only `fit`)?"""
        return name not in FIT_SETTINGS or name in self.data_settings

    def _on_change(self, change=None, name=None):
        if change is not None and not self._changes_the_model(name):
            # lr, epochs, ...: the model and its layer table stay as they are
            if not self.train_button.disabled:
                self.status.value = "settings changed: press Train"
            return
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
        _, fit_settings, data_settings = self._split_settings()
        kwargs = {**self.fit_kwargs, **fit_settings}
        kwargs.setdefault("epochs", 3)
        self.train_button.disabled = True
        self.status.value = "training…"
        show_in(self.extra)                 # empty
        try:
            if self.data is not None:       # the task depends on the settings: make it afresh
                made = self.data(**data_settings)
                if len(made) not in (2, 3):
                    raise ValueError(f"Playground: data(...) must return (train, test) or "
                                     f"(train, None, val); got {len(made)} items")
                self.train_data, self.test_data = made[:2]
                if len(made) == 3:
                    kwargs["val"] = made[2]
            history = fit(model, self.train_data, self.test_data, live=True, out=self.out,
                          seed=self.seed, title=self.title, **kwargs)
        finally:
            self.train_button.disabled = False
        self._finish(model, history)
        return history

    def show(self, model, history):
        """Show a finished run (its curves, result and after_train figure) without training.

        A playground given no test data shows no test score of that run either: its own runs
        have none, and a reader's choices must not be guided by the test set."""
        if self.test_data is None and self.data is None and (history.test_loss
                                                              or history.test_acc):
            history = copy.copy(history)
            history.test_loss, history.test_acc = [], []
        LiveCurves(history.epochs, title=self.title, out=self.out).fit_end(history)
        self._finish(model, history)

    def _finish(self, model, history):
        self.model, self.history = model, history
        self.status.value = html.escape(result_sentence(history))
        if self.after_train is not None:
            fig = self.after_train(model, history, self.settings())
            if fig is not None:
                show_in(self.extra, Image(_png(fig), width=round(fig.get_figwidth() * 100)))
                plt.close(fig)

    def _ipython_display_(self):
        display(self.widget)
        if self.initial is not None and self.history is None:
            self.show(*self.initial)
        elif self.autorun and self.history is None:
            self.train()
