from types import SimpleNamespace

import pytest
import torch
from torch import nn

from companion.curves import LiveCurves, epoch_line
from companion.data import make_spirals
from companion.training import History, fit

PNG_MAGIC = b"\x89PNG"


def spirals(n=400):
    X, y = make_spirals(n, seed=0)
    return (X[:300], y[:300]), (X[300:], y[300:])


def build(width):
    return nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Linear(width, 2))


def record(calls):
    """What LiveCurves reads of fit's BatchRecord after `calls` batches of a long epoch."""
    return SimpleNamespace(history=History(), epoch=0, batch=calls, num_batches=10**9,
                           mean_loss=0.5, mean_acc=0.5)


def replay(curves, history):
    """Feed a finished History into LiveCurves epoch by epoch, as fit does."""
    for epoch in range(1, history.epochs + 1):
        partial = type(history)()
        for key, values in history.as_dict().items():
            getattr(partial, key).extend(values[:epoch])
        curves.epoch_end(partial)
    curves.fit_end(history)


def test_live_curves_draw_every_epoch_and_a_final_frame():
    train, test = spirals()
    history = fit(build(8), train, test, epochs=3, live=False)
    curves = LiveCurves(3, mode="render")
    curves.min_epoch_gap = curves.epoch_gap_per_draw_cost = 0   # long epochs
    replay(curves, history)
    assert curves.draws == 4 and curves.last_png.startswith(PNG_MAGIC)


class Clock:
    """A clock the test moves by hand: LiveCurves reads time only through it."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_very_short_epochs_skip_epoch_end_redraws_but_keep_the_final_frame():
    train, test = spirals()
    history = fit(build(8), train, test, epochs=20, live=False)
    curves = LiveCurves(20, mode="render", clock=Clock())
    replay(curves, history)                       # 20 epochs in no time at all
    assert curves.draws == 1 and curves.last_png.startswith(PNG_MAGIC)


def test_epoch_end_redraws_wait_for_the_gap():
    train, test = spirals()
    history = fit(build(8), train, test, epochs=6, live=False)
    clock = Clock()
    curves = LiveCurves(6, mode="render", clock=clock)
    curves.epoch_gap_per_draw_cost = 0
    for epoch in range(1, 7):                     # epochs of 0.15 s: a redraw every 0.3 s
        clock.now = 0.15 * epoch + 0.001
        partial = type(history)()
        for key, values in history.as_dict().items():
            getattr(partial, key).extend(values[:epoch])
        curves.epoch_end(partial)
    assert curves.draws == 3                      # after epochs 2, 4 and 6


def test_mid_epoch_redraws_are_throttled_by_time():
    clock = Clock()
    curves = LiveCurves(1, mode="render", min_interval=0.205, clock=clock)
    curves.interval_per_draw_cost = 0
    draws_at = []
    for calls in range(1, 101):                   # a batch every 10 ms for a second
        clock.now = calls * 0.01
        before = curves.draws
        curves.batch_end(record(calls))
        if curves.draws > before:
            draws_at.append(calls)
    assert draws_at == [21, 42, 63, 84]           # each more than 0.205 s after the last
    assert curves.last_png.startswith(PNG_MAGIC)


def test_a_slow_redraw_stretches_the_interval():
    clock = Clock()
    curves = LiveCurves(1, mode="render", min_interval=0.05, clock=clock)
    curves.draws, curves.draw_seconds = 1, 0.1    # as if one redraw had taken 100 ms
    for calls, now in enumerate([0.1, 1.0, 4.9, 5.01], start=1):   # 50 redraw-times = 5 s
        clock.now = now
        curves.batch_end(record(calls))
        assert curves.draws == (2 if now > 5 else 1)
    assert curves.last_png.startswith(PNG_MAGIC)


def test_fit_draws_in_render_mode_and_rejects_unknown_modes():
    X = torch.randn(512, 2)
    y = (X[:, 0] > 0).long()
    assert fit(build(4), (X, y), epochs=2, batch_size=8, live="render").epochs == 2
    with pytest.raises(ValueError, match="unknown mode 'fancy'"):
        LiveCurves(1, mode="fancy")


def test_fit_accepts_live_curves_of_your_own():
    train, test = spirals()
    curves = LiveCurves(2, mode="render")
    fit(build(4), train, test, epochs=2, live=curves)
    assert curves.draws >= 1 and curves.last_png.startswith(PNG_MAGIC)


def test_text_lines_name_validation_and_perplexity():
    history = History(perplexity=True)
    history.train_loss, history.val_loss, history.seconds = [1.0], [0.5], [2.0]
    line = epoch_line(history, 3)
    assert line.startswith("epoch 1/3") and "val loss 0.5000 ppl 1.65" in line
    history.train_acc, history.val_acc = [0.5], [0.75]
    assert "val loss 0.5000 acc 75.00%" in epoch_line(history, 3)


def test_a_language_model_run_draws_a_perplexity_panel():
    X = torch.randint(0, 5, (64, 6))
    model = nn.Sequential(nn.Embedding(5, 8), nn.Linear(8, 5))

    def step(model, batch, loss_fn):  # next-token loss without accuracy
        X, Y = batch
        return loss_fn(model(X).flatten(0, 1), Y.flatten()), Y.numel()

    curves = LiveCurves(2, mode="render")
    history = fit(model, (X, X), val=(X, X), epochs=2, step=step, live=curves)
    assert history.val_ppl and not history.val_acc
    assert [ax.get_ylabel() for ax in curves._plot.fig.axes] == ["loss", "perplexity"]


def test_the_result_is_one_sentence():
    from companion.curves import result_sentence
    history = History()
    history.train_loss, history.train_acc, history.seconds = [0.5, 0.3], [0.8, 0.9], [1.0, 1.5]
    history.val_loss, history.val_acc = [0.6, 0.4], [0.75, 0.85]
    history.test_loss, history.test_acc = [0.45], [0.84]
    assert result_sentence(history) == ("Trained 2 epochs in 2.5 s: validation accuracy "
                                        "85.00%, test accuracy 84.00%.")
