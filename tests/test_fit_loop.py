"""fit is train_epoch run `epochs` times: the same seed gives the losses and weights of a plain
hand-written loop; the loop the book shows fits its column; the optimizer settings are checked;
predict runs a model batch by batch."""
import inspect

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from companion import learning as L
from companion.data import make_spirals
from companion.training import Loop, Totals, fit, predict, train_epoch


def spirals(n=300, seed=0):
    X, y = make_spirals(n, seed=seed)
    return X, y


def mlp(seed=0, dropout=0.2):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(dropout), nn.Linear(32, 2))


def by_hand(model, X, y, *, epochs, batch_size, lr, seed):
    """The loop written out: shuffle with a seeded generator, Nesterov SGD, sum the losses."""
    torch.manual_seed(seed)                                  # dropout
    generator = torch.Generator().manual_seed(seed)          # the order
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True)
    epoch_losses, batch_losses = [], []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(X), generator=generator)
        total, count = torch.zeros(()), 0
        for start in range(0, len(X), batch_size):
            index = order[start:start + batch_size]
            loss = F.cross_entropy(model(X[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            batch_losses.append(loss.item())
            total += loss.detach() * len(index)
            count += len(index)
        epoch_losses.append(total.item() / count)
    return epoch_losses, batch_losses


class BatchLosses:
    def __init__(self):
        self.losses = []

    def batch_end(self, record):
        self.losses.append(record.loss)


@pytest.mark.parametrize("seed", [0, 3])
def test_fit_takes_the_steps_of_a_hand_written_loop(seed):
    X, y = spirals()
    ours, theirs = mlp(), mlp()
    watch = BatchLosses()
    history = fit(ours, (X, y), epochs=3, batch_size=64, lr=0.05, optimizer="nesterov",
                  seed=seed, live=False, callbacks=[watch], device="cpu")
    epoch_losses, batch_losses = by_hand(theirs, X, y, epochs=3, batch_size=64, lr=0.05,
                                         seed=seed)
    assert history.train_loss == epoch_losses and watch.losses == batch_losses
    assert all(torch.equal(p, q) for p, q in zip(ours.parameters(), theirs.parameters()))
    # and it can tell: another seed shuffles differently
    other, _ = by_hand(mlp(), X, y, epochs=3, batch_size=64, lr=0.05, seed=seed + 1)
    assert other != epoch_losses


def test_train_epoch_is_one_pass_and_sums_by_count():
    X, y = spirals(100)
    model = mlp(dropout=0.0)
    loop = Loop()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)      # nothing moves: a fixed model
    seen = []
    totals = train_epoch(model, loop.batches((X, y), 30), optimizer, loop,
                         on_batch=lambda t, loss, norm: seen.append((t.batches, norm)))
    assert isinstance(totals, Totals) and totals.batches == 4 == len(seen)
    assert seen[-1] == (4, None)                                  # no clipping: no norm
    with torch.no_grad():
        out = model(X)
    assert totals.mean_loss == pytest.approx(F.cross_entropy(out, y).item(), rel=1e-6)
    assert totals.accuracy == pytest.approx((out.argmax(1) == y).float().mean().item())


def test_the_loop_the_book_shows_fits_its_column():
    lines = inspect.getsource(train_epoch).splitlines()
    assert len(lines) <= 30 and max(map(len, lines)) <= 79, max(lines, key=len)


@pytest.mark.parametrize("kwargs, message", [
    ({"lr": 0.1}, "has its own lr; set them when you build it"),
    ({"momentum": 0.9, "weight_decay": 0.1}, "has its own momentum, weight_decay"),
])
def test_an_optimizer_instance_with_settings_that_would_be_ignored_is_an_error(kwargs, message):
    X, y = spirals(64)
    model = mlp()
    with pytest.raises(ValueError, match=message):
        fit(model, (X, y), epochs=1, live=False,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.01), **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"optimizer": "sgd", "momentum": 0.9}, "momentum applies to 'momentum' and 'nesterov'"),
    ({"optimizer": "adam", "momentum": 0.9}, "'adam' has none"),
    ({"optimizer": "nesterov", "momentum": 1.0}, r"momentum must be in \(0, 1\)"),
    ({"optimizer": "adamw", "weight_decay": -1.0}, "weight_decay must be >= 0"),
    ({"optimizer": torch.optim.SGD}, "a name .* or a torch.optim.Optimizer; got type"),
])
def test_optimizer_settings_that_clash_are_errors(kwargs, message):
    X, y = spirals(64)
    with pytest.raises(ValueError, match=message):
        fit(mlp(), (X, y), epochs=1, live=False, **kwargs)


@pytest.mark.parametrize("name, cls, settings", [
    ("sgd", torch.optim.SGD, {"momentum": 0, "nesterov": False, "weight_decay": 0.0}),
    ("momentum", torch.optim.SGD, {"momentum": 0.9, "nesterov": False}),
    ("nesterov", torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    ("adam", torch.optim.Adam, {"weight_decay": 0.0, "lr": 1e-3}),
    ("adamw", torch.optim.AdamW, {"weight_decay": 0.01}),
])
def test_fit_and_the_learning_chapter_share_one_vocabulary(name, cls, settings, monkeypatch):
    built = []
    original = L.make_optimizer

    def spy(*args, **kwargs):
        built.append(original(*args, **kwargs))
        return built[-1]
    monkeypatch.setattr("companion.training.make_optimizer", spy)
    X, y = spirals(64)
    fit(mlp(), (X, y), epochs=1, optimizer=name, live=False)
    assert type(built[0]) is cls
    assert {key: built[0].defaults[key] for key in settings} == settings
    assert type(L.make_optimizer(name, [nn.Parameter(torch.zeros(1))], 0.1)).__name__ == \
        cls.__name__                                              # the from-scratch twin


def test_predict_runs_batch_by_batch_in_eval_mode_and_restores_the_mode():
    X, _ = spirals(50)
    model = mlp(dropout=0.5).train()
    out = predict(model, X, batch_size=7)
    assert model.training and out.shape == (50, 2) and not out.requires_grad
    with torch.no_grad():
        expected = model.eval()(X)
    torch.testing.assert_close(out, expected)


def test_predict_takes_several_inputs_a_forward_and_returns_float32():
    X, _ = spirals(20)
    model = nn.Bilinear(2, 2, 3).to(torch.bfloat16)
    out = predict(model, (X.bfloat16(), X.bfloat16()), batch_size=6)
    assert out.dtype == torch.float32 and out.shape == (20, 3)
    pair = predict(nn.Linear(2, 3), X, 8, forward=lambda m, x: (m(x).argmax(1), None))
    assert pair[0].shape == (20,) and pair[1] is None
    with pytest.raises(ValueError, match="different lengths"):
        predict(model, (X, X[:5]))


@pytest.mark.parametrize("name, cycles", [("sgd", False), ("nesterov", True), ("adam", True)])
def test_one_cycle_keeps_plain_sgd_plain(name, cycles, monkeypatch):
    built = []
    original = L.make_optimizer
    monkeypatch.setattr("companion.training.make_optimizer",
                        lambda *a, **k: built.append(original(*a, **k)) or built[-1])
    X, y = spirals(64)
    fit(mlp(), (X, y), epochs=2, batch_size=16, lr=0.1, optimizer=name,
        lr_schedule="onecycle", live=False)
    group = built[0].param_groups[0]
    momentum = group["betas"][0] if name == "adam" else group["momentum"]
    assert (0.85 <= momentum <= 0.95) if cycles else momentum == 0


def test_one_cycle_with_a_built_optimizer_peaks_at_each_groups_own_lr():
    X, y = spirals(64)
    model = mlp()
    weights = [p for p in model.parameters() if p.dim() == 2]
    others = [p for p in model.parameters() if p.dim() != 2]
    optimizer = torch.optim.SGD([dict(params=weights, lr=0.2), dict(params=others, lr=0.05)],
                                lr=0.1, momentum=0.9, nesterov=True)
    seen = []

    class Rates:
        def batch_end(self, record):
            seen.append([(g["lr"], g["momentum"]) for g in optimizer.param_groups])

    fit(model, (X, y), epochs=5, batch_size=8, optimizer=optimizer, lr_schedule="onecycle",
        callbacks=[Rates()], live=False)
    for i, peak in enumerate((0.2, 0.05)):
        rates = [step[i][0] for step in seen]
        assert max(rates) == pytest.approx(peak, rel=0.02)       # warmed up to its own lr
        assert rates[0] < peak / 10 and rates[-1] < peak / 100   # from low, annealed
        assert min(step[i][1] for step in seen) < 0.9 < max(step[i][1] for step in seen)
    first_run = len(seen)      # a second run with the same optimizer: the same peaks again
    fit(model, (X, y), epochs=5, batch_size=8, optimizer=optimizer, lr_schedule="onecycle",
        callbacks=[Rates()], live=False)
    for i, peak in enumerate((0.2, 0.05)):
        assert max(step[i][0] for step in seen[first_run:]) == pytest.approx(peak, rel=0.02)


def test_stop_at_without_accuracy_is_an_error_after_one_batch():
    X = torch.randn(64, 3)
    seen = []

    class Count:
        def batch_end(self, record):
            seen.append(record.batch)

    with pytest.raises(ValueError, match="stop_at reads validation accuracy"):
        fit(nn.Linear(3, 1), (X, X.sum(1, keepdim=True)), val_split=0.25, epochs=5,
            batch_size=8, loss_fn=nn.MSELoss(), stop_at=0.9, callbacks=[Count()], live=False)
    assert seen == []                        # before any callback, after the first batch
