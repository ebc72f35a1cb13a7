import time

import ipywidgets as widgets
import nbformat
import pytest
import torch
from nbclient import NotebookClient
from torch import nn

from companion.data import make_spirals
from companion.training import fit
from companion.widgets import LiveCurves, Playground

PNG_MAGIC = b"\x89PNG"


def spirals(n=400):
    X, y = make_spirals(n, seed=0)
    return (X[:300], y[:300]), (X[300:], y[300:])


def build(width, activation="relu"):
    if width < 1:
        raise ValueError(f"width must be at least 1; got {width}")
    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[activation]
    return nn.Sequential(nn.Linear(2, width), act(), nn.Linear(width, 2))


def make_playground(**kwargs):
    train, test = spirals()
    controls = {
        "width": widgets.IntSlider(value=8, min=0, max=64),
        "activation": widgets.Dropdown(options=["relu", "tanh"], value="relu"),
        "lr": widgets.FloatLogSlider(value=1e-2, base=10, min=-4, max=0),
        "epochs": widgets.IntSlider(value=2, min=1, max=10),
    }
    return Playground(build, controls, train, test, input_shape=(1, 2), **kwargs)


def replay(curves, history):
    """Feed a finished History into LiveCurves epoch by epoch, as fit does."""
    for epoch in range(1, history.epochs + 1):
        partial = type(history)()
        for key, values in history.as_dict().items():
            getattr(partial, key).extend(values[:epoch])
        curves.epoch_end(partial)
    curves.close(history)


def test_live_curves_draw_every_epoch_and_a_final_frame():
    train, test = spirals()
    history = fit(build(8), train, test, epochs=3, live=False)
    curves = LiveCurves(3, mode="render")
    curves.min_epoch_gap = curves.epoch_gap_per_draw_cost = 0   # long epochs
    replay(curves, history)
    assert curves.draws == 4 and curves.last_png.startswith(PNG_MAGIC)


def test_very_short_epochs_skip_epoch_end_redraws_but_keep_the_final_frame():
    train, test = spirals()
    history = fit(build(8), train, test, epochs=20, live=False)
    curves = LiveCurves(20, mode="render")
    replay(curves, history)                                    # 20 epochs in a blink
    assert 1 <= curves.draws < 10 and curves.last_png.startswith(PNG_MAGIC)


def test_mid_epoch_redraws_are_throttled_by_time():
    curves = LiveCurves(1, mode="render", min_interval=0.2)
    curves.interval_per_draw_cost = 0
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < 1.0:
        calls += 1
        curves.batch(0, calls, 10**9, torch.tensor(0.5 * calls), torch.tensor(calls), calls)
    assert calls > 100 and 1 <= curves.draws <= 5
    assert curves.last_png.startswith(PNG_MAGIC)


def test_a_slow_redraw_stretches_the_interval():
    curves = LiveCurves(1, mode="render", min_interval=0.05)
    curves.draws, curves.draw_seconds = 1, 0.1       # as if one redraw had taken 100 ms
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < 0.5:         # 0.5 s < 50 redraw-times = 5 s
        calls += 1
        curves.batch(0, calls, 10**9, torch.tensor(0.5 * calls), torch.tensor(calls), calls)
    assert curves.draws == 1 and curves.last_png is None


def test_fit_draws_in_render_mode_and_rejects_unknown_modes():
    X = torch.randn(512, 2)
    y = (X[:, 0] > 0).long()
    assert fit(build(4), (X, y), epochs=2, batch_size=8, live="render").epochs == 2
    with pytest.raises(ValueError, match="unknown mode 'fancy'"):
        LiveCurves(1, mode="fancy")


def test_controls_update_the_parameter_count_and_shapes():
    playground = make_playground(autorun=False)
    assert "42 parameters" in playground.info.value          # 2*8+8 + 8*2+2
    playground.controls["width"].value = 16
    assert "82 parameters" in playground.info.value
    assert "(1, 16)" in playground.info.value                 # a layer's output shape
    assert playground.settings()["width"] == 16


def test_a_bad_setting_shows_a_message_and_disables_training():
    playground = make_playground(autorun=False)
    playground.controls["width"].value = 0
    assert "width must be at least 1" in playground.info.value
    assert playground.train_button.disabled
    playground.controls["width"].value = 4
    assert not playground.train_button.disabled


def test_pressing_train_trains_with_the_current_settings():
    seen = {}

    def after_train(model, history, settings):
        seen.update(settings)
        return None

    playground = make_playground(autorun=False, after_train=after_train)
    playground.controls["activation"].value = "tanh"
    playground.controls["epochs"].value = 3
    playground.train_button.click()
    assert playground.history is not None and playground.history.epochs == 3
    assert isinstance(playground.model[1], nn.Tanh)
    assert seen["activation"] == "tanh"
    assert "History(3 epochs" in playground.status.value


def test_playground_needs_controls():
    with pytest.raises(ValueError, match="at least one control"):
        Playground(build, {}, *spirals())


def test_in_a_kernel_the_playground_trains_once_and_saves_its_result():
    """Executed headless (as the book build does), the saved widget state holds the curves."""
    source = '''
import ipywidgets as widgets
from torch import nn
from companion.data import make_spirals
from companion.widgets import Playground
import matplotlib.pyplot as plt
X, y = make_spirals(300, seed=0)
def build(width):
    return nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Linear(width, 2))
def after(model, history, settings):
    fig, ax = plt.subplots()
    ax.plot(history.train_loss)
    return fig
Playground(build, {"width": widgets.IntSlider(value=8, min=1, max=32),
                   "epochs": widgets.IntSlider(value=2, min=1, max=5)},
           (X[:200], y[:200]), (X[200:], y[200:]), input_shape=(1, 2), after_train=after)
'''
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    outputs = [out for model in state.values() if model["model_name"] == "OutputModel"
               for out in model["state"]["outputs"]]
    assert sum("image/png" in out.get("data", {}) for out in outputs) == 2  # curves + extra
    html = " ".join(m["state"].get("value", "") for m in state.values()
                    if m["model_name"] == "HTMLModel")
    assert "42 parameters" in html and "History(2 epochs" in html


def test_fit_accepts_live_curves_of_your_own():
    train, test = spirals()
    curves = LiveCurves(2, mode="render")
    fit(build(4), train, test, epochs=2, live=curves)
    assert curves.draws >= 1 and curves.last_png.startswith(PNG_MAGIC)
