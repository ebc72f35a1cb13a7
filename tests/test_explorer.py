"""Precomputed explorers: every combination rendered once, controls linked to the shown result."""
import ipywidgets as widgets
import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

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
