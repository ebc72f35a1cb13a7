"""Precomputed explorers: every combination rendered once, controls linked to the shown result,
and the same explorer as plain HTML for the web book."""
import base64
import io
import json
import re

import ipywidgets as widgets
import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image, ImageChops  # noqa: E402

from companion import explorer as explorer_module  # noqa: E402
from companion.explorer import Explorer  # noqa: E402


def render_calls():
    calls = []

    def render(depth, residual):
        calls.append((depth, residual))
        if residual == "on":
            fig, ax = plt.subplots(figsize=(2, 1))
            ax.set_title(f"{depth}")
            return fig
        return f"<b>depth {depth}</b>"
    return calls, render


def test_every_combination_is_rendered_once_and_linked_in_the_browser():
    calls, render = render_calls()
    explorer = Explorer({"depth": [1, 5, 10], "residual": ["off", "on"]}, render,
                        value={"depth": 5})
    assert sorted(calls) == sorted((d, r) for d in (1, 5, 10) for r in ("off", "on"))
    assert isinstance(explorer.controls[0], widgets.SelectionSlider)   # numbers: a slider
    assert isinstance(explorer.controls[1], widgets.Dropdown)
    assert explorer.shown == (5, "off") and "book-explorer" in explorer.widget._dom_classes
    assert isinstance(explorer.results[(10, "on")], widgets.Image)
    assert explorer.results[(10, "on")].value[:4] == b"\x89PNG"
    assert "depth 1" in explorer.results[(1, "off")].value
    if explorer_module.HAS_STACK:
        outer = explorer.view
        assert isinstance(outer, widgets.Stack) and outer.selected_index == 1  # depth 5 shown
        inner = outer.children[2]
        assert inner.children[1] is explorer.results[(10, "on")]
        linked = {(link.source[0], link.target[0]) for link in explorer.links}
        assert all(link.source[1] == "index" and link.target[1] == "selected_index"
                   for link in explorer.links)
        assert (explorer.controls[0], outer) in linked
        assert all((explorer.controls[1], stack) in linked for stack in outer.children)
    assert "6 precomputed results" in repr(explorer)


def test_without_stack_a_callback_swaps_the_result(monkeypatch):
    monkeypatch.setattr(explorer_module, "HAS_STACK", False)   # as on ipywidgets 7 (Colab)
    calls, render = render_calls()
    explorer = Explorer({"depth": [1, 5], "residual": ["off", "on"]}, render)
    assert explorer.view.children[0] is explorer.results[(1, "off")]
    explorer.controls[1].index = 1
    explorer.controls[0].index = 1
    assert explorer.view.children[0] is explorer.results[(5, "on")]


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="at least one control"):
        Explorer({}, lambda: "x")
    with pytest.raises(ValueError, match="Figure, an HTML string or PNG bytes"):
        Explorer({"k": [1, 2]}, lambda k: 42)
    with pytest.raises(ValueError, match="cannot show k=3"):
        Explorer({"k": [1, 2]}, lambda k: "x", value={"k": 3})
    with pytest.raises(ValueError, match="play='k' must name a control whose values are all"):
        Explorer({"k": ["a", "b"]}, lambda k: "x", play="k")
    with pytest.raises(ValueError, match="not a PNG image"):
        Explorer({"k": [1]}, lambda k: b"GIF89a")


def images(html):
    """(attribute, PNG bytes) of every image in the explorer's HTML, in order."""
    return [(attribute, base64.b64decode(data)) for attribute, data in re.findall(
        r'(src|data-src)="data:image/png;base64,([^"]+)"', html)]


def test_the_html_form_shows_the_chosen_result_and_holds_every_other_one():
    calls, render = render_calls()
    explorer = Explorer({"depth": [1, 5, 10], "residual": ["off", "on"]}, render,
                        value={"depth": 10, "residual": "on"}, description={"depth": "blocks"})
    bundle = explorer._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == \
        explorer.widget.model_id                  # a kernel shows the widgets
    html = bundle["text/html"]                    # the web book shows this
    assert html.count('class="book-explorer-result"') == 6
    # the combination chosen first is the one image with a src (what a reader without
    # JavaScript sees, and the only one a first visit loads); the others wait in data-src
    shown = re.search(r'data-key="2,1">(.*?)</div>', html).group(1)
    assert '<img src="data:image/png' in shown and " hidden" not in shown
    assert [a for a, _ in images(html)] == ["data-src", "data-src", "src"]
    assert html.count(" hidden>") == 5
    # numbers: a slider over the values in order, labelled; words: a menu
    slider = re.search(r'<input type="range"[^>]*>', html).group(0)
    assert 'max="2"' in slider and 'value="2"' in slider and 'data-level="0"' in slider
    labels = re.search(r'data-labels="([^"]+)"', slider).group(1).replace("&quot;", '"')
    assert json.loads(labels) == ["1", "5", "10"]
    assert "<span>blocks</span>" in html
    assert re.search(r'<select data-level="1"><option>off</option><option selected>on</option>',
                     html)
    assert "runs in your browser" in html and "<script>" in html
    # figures arrive as 256-colour PNGs, no larger than the plain ones
    for _, png in images(html):
        assert Image.open(io.BytesIO(png)).mode == "P"


def test_palette_png_is_smaller_and_keeps_the_picture():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(range(50), [i * i for i in range(50)])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    plain = buffer.getvalue()
    palette = explorer_module._palette_png(plain)
    assert len(palette) < len(plain)
    a = Image.open(io.BytesIO(plain)).convert("RGB")
    b = Image.open(io.BytesIO(palette)).convert("RGB")
    assert a.size == b.size
    worst = max(high for _, high in ImageChops.difference(a, b).getextrema())
    assert worst < 40                             # no pixel far from its colour


def test_play_adds_a_button_that_steps_the_slider():
    explorer = Explorer({"epoch": [1, 2, 3, 4], "model": ["a", "b"]},
                        lambda epoch, model: f"{model}{epoch}", play="epoch")
    html = explorer.to_html()
    assert '<button type="button" data-play="0"' in html
    players = [c for c in explorer.widget.children[0].children if isinstance(c, widgets.Play)]
    assert len(players) == 1 and players[0].max == 3
    assert any(link.source[0] is players[0] and link.target == (explorer.controls[0], "index")
               for link in explorer.links)
    # HTML results are inlined as they are
    assert re.search(r'data-key="0,0">a1</div>', html)
