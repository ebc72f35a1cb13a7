import ipywidgets as widgets
import nbformat
import pytest
import torch
from nbclient import NotebookClient
from nbclient.output_widget import OutputWidget
from torch import nn

import companion.widgets
from companion.data import make_spirals
from companion.training import History, fit
from companion.widgets import Playground


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
    assert playground.status.value.startswith("Trained 3 epochs in")
    assert "test accuracy" in playground.status.value


def test_playground_needs_controls():
    with pytest.raises(ValueError, match="at least one control"):
        Playground(build, {}, *spirals())


@pytest.mark.slow
def test_in_a_kernel_the_playground_trains_once_and_saves_its_result(monkeypatch):
    """Executed headless (as the book build does), the saved widget state holds the curves,
    and the client never has to answer a captured display on the shell channel (which can hide
    a cell's reply until its timeout: see companion.curves.show_in)."""
    answered = []
    monkeypatch.setattr(OutputWidget, "sync_state", lambda self: answered.append(self.comm_id))
    source = '''
import ipywidgets as widgets
from torch import nn
from companion.data import make_spirals
import companion.widgets
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
    assert answered == []
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    outputs = [out for model in state.values() if model["model_name"] == "OutputModel"
               for out in model["state"]["outputs"]]
    assert sum("image/png" in out.get("data", {}) for out in outputs) == 2  # curves + extra
    html = " ".join(m["state"].get("value", "") for m in state.values()
                    if m["model_name"] == "HTMLModel")
    assert "42 parameters" in html and "Trained 2 epochs" in html


def finished_run(epochs=1):
    """A History as fit returns it, for a spy that stands in for fit."""
    history = History()
    history.train_loss, history.train_acc = [0.5] * epochs, [0.75] * epochs
    history.test_loss, history.test_acc, history.seconds = [0.6], [0.7], [0.1] * epochs
    return history


def test_controls_named_after_fit_parameters_reach_fit(monkeypatch):
    seen = {}

    def spy_build(width, momentum=None, clip_grad=None):
        seen["build"] = (momentum, clip_grad)
        return build(width)

    def spy_fit(model, train, test, **kwargs):
        seen["fit"] = (model, train, test, kwargs)
        return finished_run(kwargs["epochs"])

    monkeypatch.setattr(companion.widgets, "fit", spy_fit)
    train, test = spirals()
    controls = {"width": widgets.IntSlider(value=4, min=1, max=8),
                "momentum": widgets.FloatSlider(value=0.5, min=0.0, max=0.99),
                "clip_grad": widgets.FloatSlider(value=0.25, min=0.1, max=2.0),
                "optimizer": widgets.Dropdown(options=["nesterov", "adam"],
                                             value="nesterov"),
                "epochs": widgets.IntSlider(value=2, min=1, max=3)}
    playground = Playground(spy_build, controls, train, test, input_shape=(1, 2),
                            fit_kwargs={"batch_size": 32}, seed=7, title="spy",
                            autorun=False)
    playground.train()
    model, fit_train, fit_test, kwargs = seen["fit"]
    assert seen["build"] == (None, None)                 # fit settings never reach build
    assert model[0].out_features == 4 and fit_train is train and fit_test is test
    assert kwargs == {"momentum": 0.5, "clip_grad": 0.25, "optimizer": "nesterov",
                      "epochs": 2, "batch_size": 32, "seed": 7, "title": "spy",
                      "live": True, "out": playground.out}
    assert playground.history.epochs == 2


@pytest.mark.parametrize("where", ["controls", "fit_kwargs"])
@pytest.mark.parametrize("name", ["seed", "title", "live", "out"])
def test_a_control_named_like_the_playgrounds_own_fit_keywords_is_refused(where, name):
    controls = {"width": widgets.IntSlider(value=4, min=1, max=8)}
    extra = {"fit_kwargs": {name: 1}} if where == "fit_kwargs" else {}
    if where == "controls":
        controls[name] = widgets.IntSlider(value=1)
    with pytest.raises(ValueError, match=f"'{name}' collides with a keyword the playground"):
        Playground(build, controls, *spirals(), input_shape=(1, 2), autorun=False, **extra)


def test_a_fit_setting_keeps_the_model_and_a_model_setting_rebuilds_it():
    built = []

    def counting_build(width, activation="relu"):
        built.append(width)
        return build(width, activation)

    train, test = spirals()
    playground = Playground(counting_build, {
        "width": widgets.IntSlider(value=8, min=1, max=64),
        "lr": widgets.FloatLogSlider(value=1e-2, base=10, min=-4, max=0),
        "epochs": widgets.IntSlider(value=2, min=1, max=10)},
        train, test, input_shape=(1, 2), autorun=False)
    assert built == [8]
    table = playground.info.value
    playground.controls["lr"].value = 1e-3
    playground.controls["epochs"].value = 5
    assert built == [8] and playground.info.value == table    # no rebuild, no new trace
    assert playground.status.value == "settings changed: press Train"
    playground.controls["width"].value = 16
    assert built == [8, 16] and "82 parameters" in playground.info.value


def test_an_input_example_feeds_the_layer_table_of_a_sequence_model():
    def build_lm(hidden):
        return nn.Sequential(nn.Embedding(10, hidden), nn.Linear(hidden, 10))

    X = torch.randint(0, 10, (64, 5))
    playground = Playground(build_lm, {"hidden": widgets.IntSlider(value=8, min=1, max=16)},
                            (X, X), (X, X), input_example=X[:1], autorun=False)
    assert "(1, 5, 10)" in playground.info.value and "170 parameters" in playground.info.value  # 10*8 + 8*10+10


def test_a_data_function_makes_the_task_from_its_controls():
    made = []

    def data(length):
        made.append(length)
        X = torch.randint(0, 10, (64, length))
        return (X, X), (X[:16], X[:16])

    def build_pair(hidden, length):
        return Pair(hidden)

    class Pair(nn.Module):
        def __init__(self, hidden):
            super().__init__()
            self.embed, self.head = nn.Embedding(10, hidden), nn.Linear(hidden, 10)

        def forward(self, X, Y=None):
            return self.head(self.embed(X))

    def step(model, batch, loss_fn):
        X, Y = batch
        return loss_fn(model(X).flatten(0, 1), Y.flatten()), Y.numel()

    X = torch.randint(0, 10, (1, 4))
    playground = Playground(build_pair, {"hidden": widgets.IntSlider(value=4, min=1, max=8),
                                         "length": widgets.IntSlider(value=3, min=2, max=9),
                                         "epochs": widgets.IntSlider(value=1, min=1, max=2)},
                            data=data, input_example=(X, X), fit_kwargs={"step": step},
                            autorun=False)
    assert "(1, 4, 10)" in playground.info.value            # model(*example) ran
    playground.controls["length"].value = 7
    playground.train()
    assert made == [7] and playground.train_data[0].shape == (64, 7)
    with pytest.raises(ValueError, match="either train data or a data"):
        Playground(build, {"width": widgets.IntSlider(value=2)})


def test_a_playground_without_test_data_shows_no_test_score_of_a_chapter_run():
    train, test = spirals()
    model = build(8)
    history = fit(model, train, test, val=test, epochs=2, live=False)
    assert history.test_acc                               # the chapter's run has one
    controls = {"width": widgets.IntSlider(value=8), "epochs": widgets.IntSlider(value=2)}
    playground = Playground(build, controls, train, input_shape=(1, 2),
                            fit_kwargs={"val": test}, initial=(model, history))
    playground._ipython_display_()
    assert playground.history.test_acc == [] and playground.history.test_loss == []
    assert "validation accuracy" in playground.status.value
    assert "test" not in playground.status.value
    assert history.test_acc                               # the chapter's own is untouched


def test_a_data_function_may_give_validation_data_instead_of_a_test_set():
    train, test = spirals()
    controls = {"width": widgets.IntSlider(value=8), "epochs": widgets.IntSlider(value=1)}
    playground = Playground(build, controls, data=lambda: (train, None, test),
                            input_shape=(1, 2), autorun=False)
    history = playground.train()
    assert len(history.val_acc) == 1 and history.test_acc == []
    bad = Playground(build, controls, data=lambda: (train,), input_shape=(1, 2),
                     autorun=False)
    with pytest.raises(ValueError, match=r"must return \(train, test\) or"):
        bad.train()


def test_a_run_the_chapter_made_is_shown_without_training_again(monkeypatch):
    train, test = spirals()
    model = build(8)
    history = fit(model, train, test, epochs=2, live=False)
    playground = make_playground(initial=(model, history))
    monkeypatch.setattr(playground, "train", lambda: pytest.fail("trained again"))
    playground._ipython_display_()
    assert playground.history is history and playground.model is model
    assert playground.status.value.startswith("Trained 2 epochs")
