import math

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from companion.data import make_spirals, split
from companion.training import (BatchRecord, History, classify_step, evaluate, fit,
                                next_token_step, seq2seq_step)


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


def test_onecycle_amp_channels_last_on_a_small_cnn(monkeypatch):
    torch.manual_seed(0)
    X = torch.rand(64, 3, 8, 8)             # 3 channels: NCHW and NHWC strides differ
    y = (X.mean(dim=(1, 2, 3)) > 0.5).long()
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    rates, momenta, seen = [], [], []

    class SpySchedule(torch.optim.lr_scheduler.OneCycleLR):
        def step(self, *args, **kwargs):
            super().step(*args, **kwargs)
            rates.append(self.optimizer.param_groups[0]["lr"])
            momenta.append(self.optimizer.param_groups[0]["momentum"])

    def spy_step(model, batch, loss_fn):     # what the arithmetic and layout really are
        images, weight = batch[0], model[0].weight
        seen.append((torch.is_autocast_enabled("cpu"),
                     torch.get_autocast_dtype("cpu") == torch.bfloat16,
                     images.is_contiguous(memory_format=torch.channels_last),
                     not images.is_contiguous(),
                     weight.is_contiguous(memory_format=torch.channels_last)))
        return classify_step(model, batch, loss_fn)

    monkeypatch.setattr(torch.optim.lr_scheduler, "OneCycleLR", SpySchedule)
    history = fit(model, (X, y), (X, y), epochs=3, batch_size=16, lr=1e-2, live=False,
                  lr_schedule="onecycle", amp=True, channels_last=True, optimizer="nesterov",
                  step=spy_step, device="cpu")
    assert history.epochs == 3 and all(0 <= a <= 1 for a in history.test_acc)
    assert seen and all(all(checks) for checks in seen), seen[0]
    assert len(rates) == 1 + 3 * 4                     # set up, then one step per batch
    peak = rates.index(max(rates))
    assert rates[0] == pytest.approx(1e-2 / 25)        # OneCycleLR starts at max_lr / 25
    assert 0 < peak < len(rates) - 1 and max(rates) > 0.9e-2 and rates[-1] < rates[0]
    assert model[0].weight.is_contiguous()             # returned in the default layout
    assert max(momenta) == pytest.approx(0.95, abs=0.01)     # momentum cycles too
    assert min(momenta) == pytest.approx(0.85, abs=0.01)


def test_stop_at_reads_validation_accuracy_and_tests_once_at_the_end():
    train, test = spirals()
    history = fit(mlp(), train, test, val_split=0.2, epochs=50, lr=1e-2, stop_at=0.8,
                  live=False)
    assert history.val_acc[-1] >= 0.8 and history.epochs < 50
    assert all(acc < 0.8 for acc in history.val_acc[:-1])
    assert len(history.test_acc) == 1 and len(history.test_loss) == 1   # reported once


def test_text_mode_prints_one_line_per_epoch(capsys):
    train, test = spirals()
    fit(mlp(), train, test, epochs=3, live=True)  # not in a notebook: text lines
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("epoch")]
    assert len(lines) == 3 and lines[-1].startswith("epoch 3/3") and "test loss" in lines[-1]


@pytest.mark.parametrize("make_data, kwargs, message", [
    (lambda X, y: (X, y.float()), {}, "integer class indices"),
    (lambda X, y: (X, nn.functional.one_hot(y, 2)), {}, r"shape \(N,\).*one-hot"),
    (lambda X, y: (X, y[:-1]), {}, r"different lengths \[480, 479\]"),
    (lambda X, y: ((X * 255).to(torch.uint8), y), {}, "floating point"),
    (lambda X, y: (X, y), {"epochs": 0}, "epochs must be an integer >= 1"),
    (lambda X, y: (X, y), {"optimizer": "adagrad"}, "unknown optimizer 'adagrad'.*adam"),
    (lambda X, y: (X, y), {"lr_schedule": "cosine"}, "unknown lr_schedule"),
    (lambda X, y: (X, y), {"batch_size": 0}, "batch_size"),
    (lambda X, y: (X, y), {"stop_at": 0.9}, "stop_at needs validation data"),
    (lambda X, y: (X,), {}, "at least two tensors"),
    (lambda X, y: (X, y), {"val_split": 1.0}, "strictly between 0 and 1"),
    (lambda X, y: (X, y), {"val_split": 0}, "strictly between 0 and 1"),
    (lambda X, y: (X, y), {"lr": 0}, "lr must be > 0"),
    (lambda X, y: (X, y), {"clip_grad": -1.0}, "clip_grad"),
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
    drawn = [line.get_label() for line in fig.axes[0].lines if len(line.get_xdata())]
    assert drawn == ["train", "test"]                # no validation data, no validation line
    assert history.total_seconds == 2.0


def test_without_accuracy_the_second_panel_is_perplexity_and_a_single_test_point():
    import matplotlib
    matplotlib.use("Agg")
    history = History(perplexity=True)
    history.train_loss, history.val_loss = [2.0, 1.0, 0.5], [2.1, 1.2, 0.7]
    history.test_loss, history.seconds = [0.8], [1.0, 1.0, 1.0]
    fig = history.plot()
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "perplexity"]
    lines = {line.get_label(): line for line in fig.axes[1].lines}
    assert list(lines["test"].get_xdata()) == [3]              # tested once, at the end
    assert list(lines["validation"].get_ydata()) == pytest.approx([math.exp(v) for v in
                                                                  history.val_loss])
    assert history.val_ppl == pytest.approx([math.exp(v) for v in history.val_loss])
    assert "test ppl" in repr(history)


# -- sequences, steps, validation, callbacks ------------------------------------------------


class TinyLM(nn.Module):
    """Embedding -> GRU -> scores for the next character: (B, T) -> (B, T, V)."""

    def __init__(self, vocab, hidden=32):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.rnn = nn.GRU(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, X):                       # (B, T)
        out, _ = self.rnn(self.embed(X))        # (B, T, hidden)
        return self.head(out)                   # (B, T, V)


def char_windows(text="hello world! " * 40, T=12):
    vocab = sorted(set(text))
    ids = torch.tensor([vocab.index(c) for c in text])
    starts = torch.arange(0, len(ids) - T - 1)
    X = torch.stack([ids[s:s + T] for s in starts])           # (N, T)
    Y = torch.stack([ids[s + 1:s + T + 1] for s in starts])   # (N, T) shifted by one
    return len(vocab), X, Y


def test_next_token_step_drives_validation_perplexity_close_to_one():
    vocab, X, Y = char_windows()
    torch.manual_seed(0)
    model = TinyLM(vocab)
    before, _ = evaluate(model, split((X, Y), 0.2)[1], step=next_token_step)
    history = fit(model, (X, Y), val_split=0.2, epochs=8, batch_size=32, lr=1e-2,
                  step=next_token_step, clip_grad=1.0, live=False)
    assert math.exp(before) > 5 and history.val_ppl[-1] < 1.2
    assert history.train_acc and history.val_acc[-1] > 0.95    # token accuracy is reported
    assert "val ppl" not in repr(history) and "val acc" in repr(history)


class Copier(nn.Module):
    """A toy encoder-decoder: the decoder sees the source at the same position (a copy task)."""

    def __init__(self, vocab, hidden=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.head = nn.Linear(2 * hidden, vocab)

    def forward(self, source, decoder_input):    # (B, S), (B, T) with S = T
        both = torch.cat([self.embed(source), self.embed(decoder_input)], dim=-1)
        return self.head(both)                    # (B, T, V)


def copy_task(n=256, T=6, pad=0, seed=0):
    g = torch.Generator().manual_seed(seed)
    source = torch.randint(1, 10, (n, T), generator=g)
    lengths = torch.randint(2, T + 1, (n,), generator=g)
    padding = torch.arange(T)[None, :] >= lengths[:, None]      # (n, T) True past the end
    source[padding] = pad
    decoder_input = torch.cat([torch.full((n, 1), 10), source[:, :-1]], dim=1)  # 10 = start
    return source, decoder_input, source.clone(), padding


def test_seq2seq_token_accuracy_ignores_padding():
    source, decoder_input, target, padding = copy_task()
    model = Copier(11)
    loss_fn = nn.CrossEntropyLoss(ignore_index=0)
    with torch.no_grad():   # make the model predict padding everywhere: right only on padding
        model.head.weight.zero_()
        model.head.bias.zero_()
        model.head.bias[0] = 5.0
    loss, acc = evaluate(model, (source, decoder_input, target), step=seq2seq_step,
                         loss_fn=loss_fn)
    assert padding.any() and acc == 0.0          # the padded positions earned nothing
    out = seq2seq_step(model, (source, decoder_input, target), loss_fn)
    assert int(out.count) == int((~padding).sum())
    history = fit(Copier(11), (source, decoder_input, target), epochs=30, batch_size=64,
                  lr=3e-2, step=seq2seq_step, loss_fn=loss_fn, live=False)
    assert history.train_acc[-1] > 0.99


def test_counts_weight_the_means_by_tokens_not_batches():
    source, decoder_input, target, padding = copy_task(n=100)
    model = Copier(11)
    loss_fn = nn.CrossEntropyLoss(ignore_index=0)
    loss, acc = evaluate(model, (source, decoder_input, target), batch_size=7,
                         step=seq2seq_step, loss_fn=loss_fn)
    whole = seq2seq_step(model, (source, decoder_input, target), loss_fn)
    assert loss == pytest.approx(whole.loss.item(), rel=1e-5)
    assert acc == pytest.approx(int(whole.correct) / int(whole.count))


def test_clipping_caps_the_gradient_norm_and_reports_it():
    train, _ = spirals()
    seen = []

    class Watch:
        def batch_end(self, record):
            total = torch.cat([p.grad.flatten() for p in model.parameters()]).norm()
            seen.append((record.grad_norm, total.item()))

    model = mlp()
    fit(model, train, epochs=1, lr=1.0, batch_size=32, clip_grad=0.1, callbacks=[Watch()],
        live=False, optimizer="sgd")
    assert all(after <= 0.1 + 1e-5 for _, after in seen)
    assert max(before for before, _ in seen) > 0.1    # there was something to clip


def test_val_split_is_seeded_and_disjoint():
    X = torch.arange(100).float()[:, None]
    y = torch.arange(100)
    (a_train, a_val), (b_train, b_val) = split((X, y), 0.1), split((X, y), 0.1)
    assert torch.equal(a_val.tensors[1], b_val.tensors[1]) and len(a_val) == 10
    together = torch.cat([a_train.tensors[1], a_val.tensors[1]]).sort().values
    assert torch.equal(together, y)                  # disjoint, and nothing lost
    assert not torch.equal(split((X, y), 0.1, seed=1)[1].tensors[1], a_val.tensors[1])
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        split((X, y), 1.5)


def test_callbacks_see_every_hook_in_order():
    train, test = spirals()
    calls = []

    class Recorder:
        def batch_end(self, record):
            assert isinstance(record, BatchRecord) and record.loss > 0
            calls.append(("batch", record.epoch, record.batch))

        def epoch_end(self, history):
            calls.append(("epoch", history.epochs))

        def fit_end(self, history):
            calls.append(("end", history.epochs))

    fit(mlp(), train, test, epochs=2, batch_size=240, callbacks=[Recorder()], live=False)
    assert calls == [("batch", 0, 1), ("batch", 0, 2), ("epoch", 1),
                     ("batch", 1, 1), ("batch", 1, 2), ("epoch", 2), ("end", 2)]


def test_regression_reports_no_accuracy():
    torch.manual_seed(0)
    X = torch.randn(256, 3)
    y = X.sum(dim=1, keepdim=True)
    history = fit(nn.Linear(3, 1), (X, y), val_split=0.25, epochs=40, lr=0.05,
                  loss_fn=nn.MSELoss(), live=False)
    assert history.train_acc == [] and history.val_acc == [] and not history.perplexity
    assert history.val_loss[-1] < 0.01


def bad_loss_step(model, batch, loss_fn):
    X, y = batch
    return nn.functional.cross_entropy(model(X), y, reduction="none"), len(y)


def zero_count_step(model, batch, loss_fn):
    X, y = batch
    return loss_fn(model(X), y), 0


@pytest.mark.parametrize("step, message", [
    (bad_loss_step, r"scalar tensor; got \(32,\)"),
    (zero_count_step, "count of 0"),
    (lambda model, batch, loss_fn: model(batch[0]), "must return \\(loss, count\\)"),
])
def test_a_broken_step_gets_a_clear_error(step, message):
    train, _ = spirals()
    with pytest.raises(ValueError, match=message):
        fit(mlp(), train, epochs=1, batch_size=32, step=step, live=False)


def test_channels_last_training_returns_a_contiguous_model():
    torch.manual_seed(0)
    X = torch.rand(64, 1, 8, 8)
    y = (X.mean(dim=(1, 2, 3)) > 0.5).long()
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    fit(model, (X, y), epochs=1, batch_size=16, channels_last=True, live=False, device="cpu")
    assert model[0].weight.is_contiguous()


def test_auto_arithmetic_follows_the_hardware(monkeypatch):
    from companion import hardware
    seen = []

    def spy_step(model, batch, loss_fn):    # runs where fit's autocast (if any) is on
        seen.append(torch.is_autocast_enabled("cpu"))
        return classify_step(model, batch, loss_fn)

    train, _ = spirals()
    for native in (False, True):
        monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: native)
        seen.clear()
        fit(mlp(), train, epochs=1, batch_size=240, amp="auto", step=spy_step,
            live=False, device="cpu")
        assert seen == [native, native]     # both batches, bfloat16 only where native
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: False)
    seen.clear()
    fit(mlp(), train, epochs=1, batch_size=480, amp=True, step=spy_step, live=False,
        device="cpu")
    assert seen == [True]                   # amp=True is obeyed whatever the hardware
    with pytest.raises(ValueError, match="^amp must be True, False or 'auto'"):
        fit(mlp(), train, epochs=1, amp="maybe", live=False, device="cpu")
    with pytest.raises(ValueError, match="^channels_last must be True, False or 'auto'"):
        fit(mlp(), train, epochs=1, channels_last=1, live=False, device="cpu")


def test_classify_step_with_several_inputs():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(2, 2), nn.Linear(2, 2)

        def forward(self, u, v):
            return self.a(u) + self.b(v)

    X, y = make_spirals(300, seed=0)
    out = classify_step(Pair(), (X, X, y), nn.CrossEntropyLoss())
    assert out.count == 300 and out.correct is not None
    history = fit(Pair(), (X, X.clone(), y), epochs=3, lr=1e-2, live=False)
    assert history.epochs == 3
