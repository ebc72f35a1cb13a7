"""Precomputed explorers: move a slider or pick from a menu to switch between results the chapter
computed in advance — in the built web page with no kernel, in JupyterLab and in Colab.

`Explorer({"depth": [1, 5, 10], "residual": [False, True]}, render)` calls
`render(depth=..., residual=...)` once for every combination, at build time. Each result (a
matplotlib Figure, an HTML string or PNG bytes) is kept (figures as 256-colour PNGs), and the
explorer is displayed two ways at once, for whoever shows it:

- as widgets, for a notebook with a kernel (JupyterLab, Colab, VS Code): every control's
  `index` is linked (`jslink`) to the `selected_index` of a `Stack` of results, one Stack level
  per control. ipywidgets 7 (Colab) has no Stack; there a kernel callback swaps the result.
- as plain HTML with a few lines of its own script (`text/html`), for the web book, which
  prefers it (`nb_mime_priority_overrides` in `_config.yml`) and so needs no widget JavaScript:
  the first result is an ordinary image (what a reader without JavaScript sees), the others are
  loaded when the reader first reaches for a control.

A control whose values are all numbers is a slider (ordered, e.g. epochs of a training run),
any other a menu; `play=name` adds a play button that steps that slider through its values
(scrubbing through training). Used in: the chapters' explorers (depth sweep, activation
explorer, confusion matrix, ...).
"""
import base64
import html
import io
import itertools
import json

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display
from matplotlib.figure import Figure
from PIL import Image as PILImage

HAS_STACK = hasattr(widgets, "Stack")   # ipywidgets >= 8
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
BADGE = "Interactive: runs in your browser, no Python needed. Try the controls."

# The HTML explorer's script (one copy per explorer, so the HTML works on its own): show the
# result whose key is the controls' indices; load the other images once the reader reaches for
# a control; a play button steps its slider to the end.
SCRIPT = """(function(root){
if(!root||root.getAttribute("data-ready"))return;root.setAttribute("data-ready","1");
var each=function(list,f){Array.prototype.forEach.call(list,f)};
var ctl=Array.prototype.slice.call(root.querySelectorAll("[data-level]"));
var res=root.querySelectorAll("[data-key]");
function load(el){each(el.querySelectorAll("img[data-src]"),function(i){
i.src=i.getAttribute("data-src");i.removeAttribute("data-src")})}
function show(){var key=ctl.map(function(c){
return c.tagName=="SELECT"?c.selectedIndex:+c.value}).join(",");
ctl.forEach(function(c){var o=c.parentNode.querySelector("output");
if(o)o.textContent=JSON.parse(c.getAttribute("data-labels"))[+c.value]});
each(res,function(r){var on=r.getAttribute("data-key")==key;r.hidden=!on;if(on)load(r)})}
ctl.forEach(function(c){c.addEventListener("input",show);c.addEventListener("change",show)});
["pointerenter","focusin","touchstart"].forEach(function(t){
root.addEventListener(t,function(){load(root)},{once:true,passive:true})});
each(root.querySelectorAll("button[data-play]"),function(b){
var c=ctl[+b.getAttribute("data-play")],timer=null,label=b.textContent;
function stop(){clearInterval(timer);timer=null;b.textContent=label}
b.addEventListener("click",function(){if(timer)return stop();load(root);
if(+c.value>=+c.max){c.value=0;show()}b.textContent="\\u275a\\u275a pause";
timer=setInterval(function(){if(+c.value>=+c.max)return stop();
c.value=+c.value+1;show()},700)})});
root.classList.add("book-explorer-live");show();
})(document.currentScript&&document.currentScript.parentNode);"""


def _palette_png(png):
    """PNG bytes as a 256-colour (palette) PNG, if that is smaller (about 3x for a plot)."""
    image = PILImage.open(io.BytesIO(png))
    if image.mode == "P":
        return png
    if image.mode == "RGBA" and image.getextrema()[3][0] == 255:
        image = image.convert("RGB")                 # opaque: the alpha channel says nothing
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA")
    method = (PILImage.Quantize.MEDIANCUT if image.mode == "RGB"
              else PILImage.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    image.quantize(256, method=method).save(buffer, format="png", optimize=True)
    return min(png, buffer.getvalue(), key=len)


def _as_result(result, dpi):
    """A Figure, an HTML string or PNG bytes as ("png", bytes) or ("html", str); a Figure is
    closed after saving."""
    if isinstance(result, Figure):
        buffer = io.BytesIO()
        result.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(result)
        return "png", _palette_png(buffer.getvalue())
    if isinstance(result, bytes):
        if not result.startswith(b"\x89PNG"):
            raise ValueError("Explorer: render returned bytes that are not a PNG image")
        return "png", _palette_png(result)
    if isinstance(result, str):
        return "html", result
    raise ValueError(f"Explorer: render must return a matplotlib Figure, an HTML string or PNG "
                     f"bytes; got {type(result).__name__}")


def _as_widget(kind, content):
    if kind == "png":
        return widgets.Image(value=content, format="png",
                             layout=widgets.Layout(max_width="100%", height="auto"))
    return widgets.HTML(content)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _control(name, values, description):
    labels = [str(v) for v in values]
    if all(_is_number(v) for v in values):
        control = widgets.SelectionSlider(options=labels, value=labels[0])
    else:
        control = widgets.Dropdown(options=labels, value=labels[0])
    control.description = description.get(name, name)
    control.style.description_width = "initial"
    return control


class Explorer:
    """Controls that switch between precomputed results, with or without a kernel.

    choices: {name: list of values}, one control per name (a slider when every value is a
    number, in the order given, else a menu); render(**{name: value}) -> Figure | HTML str |
    PNG bytes, called once per combination. `value` picks the combination shown first;
    `description` relabels controls; `play` names a slider control that gets a play button
    (e.g. "epoch": the reader watches training unfold). Figures are saved at `dpi` (100: the
    book's 7.2-inch column at its width on screen).
    """

    def __init__(self, choices, render, *, value=None, description=None, dpi=100, play=None):
        if not choices or any(len(list(v)) == 0 for v in choices.values()):
            raise ValueError("Explorer needs at least one control with at least one value")
        self.choices = {name: list(values) for name, values in choices.items()}
        self.names = list(self.choices)
        self.description = dict(description or {})
        if play is not None and (play not in self.choices or
                                 not all(_is_number(v) for v in self.choices[play])):
            raise ValueError(f"Explorer: play={play!r} must name a control whose values are all "
                             f"numbers (a slider); the controls are {self.names}")
        self.play = play
        self.controls = [_control(n, self.choices[n], self.description) for n in self.names]
        self.outputs, self.results, self.links = {}, {}, []
        for combo in itertools.product(*self.choices.values()):
            self.outputs[combo] = _as_result(render(**dict(zip(self.names, combo))), dpi)
            self.results[combo] = _as_widget(*self.outputs[combo])
        for name, chosen in (value or {}).items():
            if name not in self.choices or chosen not in self.choices[name]:
                raise ValueError(f"Explorer: cannot show {name}={chosen!r}; the choices are "
                                 f"{self.choices}")
            self.controls[self.names.index(name)].index = self.choices[name].index(chosen)
        self.first = self.shown          # what the HTML shows before anything moves
        self.view = self._build_stacks() if HAS_STACK else self._build_swapper()
        row = list(self.controls)
        if play is not None:
            slider = self.controls[self.names.index(play)]
            player = widgets.Play(min=0, max=len(self.choices[play]) - 1, value=slider.index,
                                  interval=700, description=f"play {play}")
            self.links.append(widgets.jslink((player, "value"), (slider, "index")))
            row.insert(self.names.index(play) + 1, player)
        self.widget = widgets.VBox([widgets.HBox(row, layout=widgets.Layout(flex_flow="row wrap")),
                                    self.view])
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

    def _html_control(self, level, name):
        values = self.choices[name]
        label = html.escape(self.description.get(name, name))
        chosen = values.index(self.first[level])
        labels = [str(v) for v in values]
        if all(_is_number(v) for v in values):
            control = (f'<input type="range" min="0" max="{len(values) - 1}" step="1" '
                       f'value="{chosen}" data-level="{level}" '
                       f'data-labels="{html.escape(json.dumps(labels))}" '
                       f'aria-label="{label}"><output>{html.escape(labels[chosen])}</output>')
            kind = "slider"
        else:
            options = "".join(
                f'<option{" selected" if i == chosen else ""}>{html.escape(text)}</option>'
                for i, text in enumerate(labels))
            control = f'<select data-level="{level}">{options}</select>'
            kind = "menu"
        play = ""
        if name == self.play:
            play = (f'<button type="button" data-play="{level}" '
                    f'class="book-explorer-play">\u25b6 play</button>')
        return (f'<label class="book-explorer-control book-explorer-{kind}">'
                f'<span>{label}</span>{control}</label>{play}')

    def _html_result(self, combo):
        kind, content = self.outputs[combo]
        key = ",".join(str(self.choices[n].index(v)) for n, v in zip(self.names, combo))
        shown = combo == self.first
        if kind == "png":
            width, height = PILImage.open(io.BytesIO(content)).size
            alt = ", ".join(f"{self.description.get(n, n)} {v}" for n, v in zip(self.names, combo))
            source = "data:image/png;base64," + base64.b64encode(content).decode("ascii")
            content = (f'<img {"src" if shown else "data-src"}="{source}" width="{width}" '
                       f'height="{height}" alt="{html.escape(alt)}">')
        return (f'<div class="book-explorer-result" data-key="{key}"'
                f'{"" if shown else " hidden"}>{content}</div>')

    def to_html(self):
        """The explorer as plain HTML and a few lines of script (no kernel, no widgets)."""
        controls = "".join(self._html_control(i, n) for i, n in enumerate(self.names))
        results = "".join(self._html_result(combo) for combo in self.outputs)
        return (f'<div class="book-explorer book-explorer-html">'
                f'<p class="book-explorer-badge">{BADGE}</p>'
                f'<div class="book-explorer-controls" '
                f'style="display:flex;flex-wrap:wrap;gap:.4em 1.2em;align-items:center">'
                f'{controls}</div>'
                f'<div class="book-explorer-results">{results}</div>'
                f'<noscript><p class="book-explorer-badge">JavaScript is off, so the controls '
                f'do nothing: the figure shows one setting.</p></noscript>'
                f'<script>{SCRIPT}</script></div>')

    def _repr_mimebundle_(self, include=None, exclude=None):
        """Widgets for a kernel (they come first there) and HTML for the web book."""
        return {"text/plain": repr(self), "text/html": self.to_html(),
                WIDGET_VIEW: {"version_major": 2, "version_minor": 0,
                              "model_id": self.widget.model_id}}

    def _ipython_display_(self):
        display(self._repr_mimebundle_(), raw=True)
