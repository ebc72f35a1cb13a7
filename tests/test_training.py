import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from companion.data import make_spirals
from companion.training import History, evaluate, fit


def spirals(n=600, seed=0):
    X, y = make_spirals(n, seed=seed)
    cut = int(0.8 * n)
    return TensorDataset(X[:cut], y[:cut]), TensorDataset(X[cut:], y[cut:])


def mlp(seed=0, width=64):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, 2))


def metrics(history):
    return {k: v for k, v in history.as_dict().items() if k != "seconds"}


def test_fit_learns_the_spirals():
    train, test = spirals()
    history = fit(mlp(), train, test, epochs=40, batch_size=32, lr=1e-2, live=False)
    assert history.epochs == 40 and len(history.seconds) == 40
    assert history.train_loss[-1] < history.train_loss[0] / 3
    assert history.test_acc[-1] > 0.9
    assert "test acc" in repr(history)


def test_same_seed_same_history_and_weights():
    train, test = spirals()
    model_a, model_b = mlp(), mlp()
    a = fit(model_a, train, test, epochs=3, lr=1e-2, seed=5, live=False)
    b = fit(model_b, train, test, epochs=3, lr=1e-2, seed=5, live=False)
    assert metrics(a) == metrics(b)
    for p, q in zip(model_a.parameters(), model_b.parameters()):
        assert torch.equal(p, q)
    c = fit(mlp(), train, test, epochs=3, lr=1e-2, seed=6, live=False)
    assert metrics(c) != metrics(a)


def test_dropout_is_seeded_too():
    train, _ = spirals()
    def run():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 2))
        return fit(model, train, epochs=2, seed=1, live=False)
    assert metrics(run()) == metrics(run())


def test_evaluate_matches_a_manual_computation():
    train, test = spirals()
    model = mlp()
    loss, acc = evaluate(model, test, batch_size=7)
    X, y = test.tensors
    with torch.no_grad():
        out = model(X)
    assert loss == pytest.approx(nn.functional.cross_entropy(out, y).item(), rel=1e-5)
    assert acc == pytest.approx((out.argmax(1) == y).float().mean().item())


def test_evaluate_restores_training_mode():
    model = mlp().train()
    evaluate(model, spirals()[1])
    assert model.training


def test_tuple_and_generic_dataset_inputs_train():
    train, test = spirals()

    class Plain(Dataset):  # not a TensorDataset: goes through a DataLoader
        def __init__(self, ds):
            self.ds = ds
        def __len__(self):
            return len(self.ds)
        def __getitem__(self, i):
            return self.ds[i]

    h1 = fit(mlp(), train.tensors, test.tensors, epochs=15, lr=1e-2, live=False)
    h2 = fit(mlp(), Plain(train), Plain(test), epochs=15, lr=1e-2, live=False)
    assert h1.test_acc[-1] > 0.75 and h2.test_acc[-1] > 0.75


def test_onecycle_amp_channels_last_on_a_small_cnn():
    torch.manual_seed(0)
    X = torch.rand(64, 1, 8, 8)
    y = (X.mean(dim=(1, 2, 3)) > 0.5).long()
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    history = fit(model, (X, y), (X, y), epochs=3, batch_size=16, lr=1e-2, live=False,
                  lr_schedule="onecycle", amp=True, channels_last=True, optimizer="sgd")
    assert history.epochs == 3 and all(0 <= a <= 1 for a in history.test_acc)


def test_stop_at_stops_early():
    train, test = spirals()
    history = fit(mlp(), train, test, epochs=50, lr=1e-2, stop_at=0.8, live=False)
    assert history.test_acc[-1] >= 0.8 and history.epochs < 50
    assert all(acc < 0.8 for acc in history.test_acc[:-1])


def test_text_mode_prints_one_line_per_epoch(capsys):
    train, test = spirals()
    fit(mlp(), train, test, epochs=3, live=True)  # not in a notebook: text lines
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("epoch")]
    assert len(lines) == 3 and lines[-1].startswith("epoch 3/3") and "test loss" in lines[-1]


@pytest.mark.parametrize("make_data, kwargs, message", [
    (lambda X, y: (X, y.float()), {}, "integer class indices"),
    (lambda X, y: (X, nn.functional.one_hot(y, 2)), {}, r"shape \(N,\).*one-hot"),
    (lambda X, y: (X, y[:-1]), {}, "different lengths: 480 images vs 479 labels"),
    (lambda X, y: ((X * 255).to(torch.uint8), y), {}, "floating point"),
    (lambda X, y: (X, y), {"epochs": 0}, "epochs must be an integer >= 1"),
    (lambda X, y: (X, y), {"optimizer": "adagrad"}, "unknown optimizer 'adagrad'.*adam"),
    (lambda X, y: (X, y), {"lr_schedule": "cosine"}, "unknown lr_schedule"),
    (lambda X, y: (X, y), {"batch_size": 0}, "batch_size"),
    (lambda X, y: (X, y), {"stop_at": 0.9}, "stop_at needs test data"),
    (lambda X, y: (X, y, y), {}, "exactly two tensors"),
    (lambda X, y: [[1, 2]], {}, "train must be a TensorDataset"),
])
def test_bad_input_gets_a_clear_error(make_data, kwargs, message):
    X, y = spirals()[0].tensors
    kwargs = {"epochs": 1, "live": False, **kwargs}
    with pytest.raises(ValueError, match=message):
        fit(mlp(), make_data(X, y), **kwargs)


def test_history_plot_has_loss_and_accuracy_panels():
    import matplotlib
    matplotlib.use("Agg")
    history = History()
    history.train_loss, history.train_acc = [1.0, 0.5], [0.5, 0.8]
    history.test_loss, history.test_acc, history.seconds = [1.1, 0.6], [0.4, 0.7], [1.0, 1.0]
    fig = history.plot(title="t")
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2  # train and test
    assert history.total_seconds == 2.0
