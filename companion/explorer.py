"""Precomputed explorers: move a slider or pick from a menu to switch between results the chapter
computed in advance — in the built web page with no kernel, in JupyterLab and in Colab.

`Explorer({"depth": [1, 5, 10], "residual": [False, True]}, render)` calls
`render(depth=..., residual=...)` once for every combination, at build time. Each result (a
matplotlib Figure, an HTML string or PNG bytes) becomes a widget, and the controls switch
between them in the browser: every control's `index` is linked (`jslink`) to the
`selected_index` of a `Stack` of results, one Stack level per control. ipywidgets 7 (Colab) has
no Stack; there an ordinary callback swaps what is shown, which needs the running kernel that
Colab has.

Used in: the chapters' explorers (depth sweep, activation explorer, confusion matrix, ...).
"""
import io
import itertools

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display
from matplotlib.figure import Figure

HAS_STACK = hasattr(widgets, "Stack")   # ipywidgets >= 8


def _as_widget(result, dpi):
    """A Figure, an HTML string or PNG bytes as a widget (a Figure is closed after saving)."""
    if isinstance(result, Figure):
        buffer = io.BytesIO()
        result.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(result)
        return widgets.Image(value=buffer.getvalue(), format="png",
                             layout=widgets.Layout(max_width="100%", height="auto"))
    if isinstance(result, bytes):
        return widgets.Image(value=result, format="png",
                             layout=widgets.Layout(max_width="100%", height="auto"))
    if isinstance(result, str):
        return widgets.HTML(result)
    raise ValueError(f"Explorer: render must return a matplotlib Figure, an HTML string or PNG "
                     f"bytes; got {type(result).__name__}")


def _control(name, values, description):
    labels = [str(v) for v in values]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        control = widgets.SelectionSlider(options=labels, value=labels[0])
    else:
        control = widgets.Dropdown(options=labels, value=labels[0])
    control.description = description.get(name, name)
    control.style.description_width = "initial"
    return control


class Explorer:
    """Controls that switch between precomputed results, with or without a kernel.

    choices: {name: list of values}, one control per name (a slider for numbers, else a menu);
    render(**{name: value}) -> Figure | HTML str | PNG bytes, called once per combination.
    `value` picks the combination shown first; `description` relabels controls.
    """

    def __init__(self, choices, render, *, value=None, description=None, dpi=100):
        if not choices or any(len(list(v)) == 0 for v in choices.values()):
            raise ValueError("Explorer needs at least one control with at least one value")
        self.choices = {name: list(values) for name, values in choices.items()}
        self.names = list(self.choices)
        description = description or {}
        self.controls = [_control(n, self.choices[n], description) for n in self.names]
        self.results, self.links = {}, []
        for combo in itertools.product(*self.choices.values()):
            self.results[combo] = _as_widget(render(**dict(zip(self.names, combo))), dpi)
        for name, chosen in (value or {}).items():
            if name not in self.choices or chosen not in self.choices[name]:
                raise ValueError(f"Explorer: cannot show {name}={chosen!r}; the choices are "
                                 f"{self.choices}")
            self.controls[self.names.index(name)].index = self.choices[name].index(chosen)
        self.view = self._build_stacks() if HAS_STACK else self._build_swapper()
        self.widget = widgets.VBox([widgets.HBox(self.controls), self.view])
        self.widget.add_class("book-explorer")

    def __repr__(self):
        sizes = " x ".join(f"{len(v)} {n}" for n, v in self.choices.items())
        return f"Explorer({sizes}: {len(self.results)} precomputed results)"

    @property
    def shown(self):
        """The combination of values the controls select now."""
        return tuple(self.choices[n][c.index] for n, c in zip(self.names, self.controls))

    def _build_stacks(self, level=0, prefix=()):
        """One Stack per level, linked in the browser to that level's control."""
        if level == len(self.names):
            return self.results[prefix]
        stack = widgets.Stack([self._build_stacks(level + 1, prefix + (v,))
                               for v in self.choices[self.names[level]]],
                              selected_index=self.controls[level].index)
        self.links.append(widgets.jslink((self.controls[level], "index"),
                                         (stack, "selected_index")))
        return stack

    def _build_swapper(self):
        """ipywidgets 7: a box whose child a kernel callback swaps."""
        box = widgets.Box([self.results[self.shown]])

        def show(change=None):
            box.children = [self.results[self.shown]]
        for control in self.controls:
            control.observe(show, names="index")
        return box

    def _ipython_display_(self):
        display(self.widget)
