"""Tests for companion.rnn and companion.text: PyTorch equality, the adding problem, clear errors."""
import math

import pytest
import torch
from torch import nn

from companion import rnn
from companion.show.rnn import adding_playground, plot_checks
from companion.rnn import (GRU, LSTM, RNN, CharModel, GRUCell, LSTMCell, RNNCell,
                           SampleSnapshots, SequenceRegressor, adding_problem,
                           hidden_state_gradients, make_recurrent, set_forget_bias)
from companion.text import CharCorpus, load_pydoc_topics

CELLS = {"RNN": (RNNCell, nn.RNNCell), "LSTM": (LSTMCell, nn.LSTMCell), "GRU": (GRUCell, nn.GRUCell)}
LAYERS = {"RNN": (RNN, nn.RNN), "LSTM": (LSTM, nn.LSTM), "GRU": (GRU, nn.GRU)}
TOL = dict(atol=1e-5, rtol=1e-5)


def randn(*shape, seed=1):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def assert_same_gradients(ours, theirs):
    for (name, p), (ref_name, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == ref_name
        torch.testing.assert_close(p.grad, q.grad, **TOL, msg=f"gradient of {name} differs")


def cell_output_sum(out):
    return out[0].sum() + 0.5 * out[1].sum() if isinstance(out, tuple) else out.sum()


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("input_size, hidden_size", [(1, 1), (3, 5), (16, 32)])
@pytest.mark.parametrize("with_state", [False, True])
def test_cell_equals_pytorch(cell, input_size, hidden_size, with_state):
    ours_cls, theirs_cls = CELLS[cell]
    torch.manual_seed(0)
    theirs = theirs_cls(input_size, hidden_size)
    ours = ours_cls(input_size, hidden_size)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = randn(4, input_size)
    state = None
    if with_state:
        h = randn(4, hidden_size, seed=2)
        state = (h, randn(4, hidden_size, seed=3)) if cell == "LSTM" else h
    out, ref = ours(x, state), theirs(x, state)
    if cell == "LSTM":
        torch.testing.assert_close(out[0], ref[0], **TOL)
        torch.testing.assert_close(out[1], ref[1], **TOL)
    else:
        torch.testing.assert_close(out, ref, **TOL)
    cell_output_sum(out).backward()
    cell_output_sum(ref).backward()
    assert_same_gradients(ours, theirs)


@pytest.mark.parametrize("cell", LAYERS)
@pytest.mark.parametrize("input_size, hidden_size, num_layers", [(2, 3, 1), (5, 8, 2), (8, 16, 1)])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_layer_equals_pytorch(cell, input_size, hidden_size, num_layers, batch_first, with_state):
    ours_cls, theirs_cls = LAYERS[cell]
    torch.manual_seed(0)
    theirs = theirs_cls(input_size, hidden_size, num_layers, batch_first=batch_first)
    ours = ours_cls(input_size, hidden_size, num_layers, batch_first=batch_first)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    batch, seq = 3, 7
    X = randn(*((batch, seq) if batch_first else (seq, batch)), input_size).requires_grad_()
    X_ref = X.detach().clone().requires_grad_()
    state = None
    if with_state:
        h0 = randn(num_layers, batch, hidden_size, seed=2)
        state = (h0, randn(num_layers, batch, hidden_size, seed=3)) if cell == "LSTM" else h0
    output, final = ours(X, state)
    ref_output, ref_final = theirs(X_ref, state)
    assert output.shape == ref_output.shape
    torch.testing.assert_close(output, ref_output, **TOL)
    if cell == "LSTM":
        torch.testing.assert_close(final[0], ref_final[0], **TOL)
        torch.testing.assert_close(final[1], ref_final[1], **TOL)
        final, ref_final = final[0] + 2 * final[1], ref_final[0] + 2 * ref_final[1]
    torch.testing.assert_close(final, ref_final, **TOL)
    weights = randn(*output.shape, seed=4)              # a loss that weighs every output differently
    ((output * weights).sum() + final.sum()).backward()
    ((ref_output * weights).sum() + ref_final.sum()).backward()
    assert_same_gradients(ours, theirs)
    torch.testing.assert_close(X.grad, X_ref.grad, **TOL)


@pytest.mark.parametrize("cell", LAYERS)
def test_state_dict_keys_and_shapes_match_pytorch(cell):
    ours_cls, theirs_cls = LAYERS[cell]
    ours, theirs = ours_cls(4, 6, num_layers=3), theirs_cls(4, 6, num_layers=3)
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: v.shape for k, v in theirs.state_dict().items()}
    ours, theirs = ours_cls(4, 6, bias=False), theirs_cls(4, 6, bias=False)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight_ih_l0", "weight_hh_l0"]


def test_relu_rnn_equals_pytorch():
    torch.manual_seed(0)
    theirs = nn.RNN(3, 4, nonlinearity="relu")
    ours = RNN(3, 4, nonlinearity="relu")
    ours.load_state_dict(theirs.state_dict(), strict=True)
    X = randn(6, 2, 3)
    torch.testing.assert_close(ours(X)[0], theirs(X)[0], **TOL)


def test_initialisation_has_pytorch_range():
    layer = LSTM(10, 25)
    bound = 1 / math.sqrt(25)
    for p in layer.parameters():
        assert p.abs().max() <= bound and p.std() > bound / 3


def test_sequence_regressor_from_scratch_equals_pytorch_version():
    torch.manual_seed(0)
    theirs = SequenceRegressor("GRU", hidden_size=8)
    ours = SequenceRegressor("GRU", hidden_size=8, from_scratch=True)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    X, y = adding_problem(5, 12)
    torch.testing.assert_close(ours(X), theirs(X), **TOL)
    torch.testing.assert_close(hidden_state_gradients(ours, X, y),
                               hidden_state_gradients(theirs, X, y), **TOL)


def test_forget_bias_sets_only_the_forget_rows():
    lstm = set_forget_bias(nn.LSTM(2, 4, num_layers=2), 3.0)
    for k in range(2):
        total = getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")   # (16,) = i, f, g, o
        assert torch.all(total[4:8] == 3.0) and torch.all(total[:4].abs() < 1)


def test_adding_problem():
    X, y = adding_problem(1000, 20, seed=0)
    assert X.shape == (1000, 20, 2) and y.shape == (1000,)
    markers = X[..., 1]
    assert torch.all(markers.sum(1) == 2)
    assert torch.all(markers[:, :10].sum(1) == 1)            # one marker in each half
    torch.testing.assert_close(y, (X[..., 0] * markers).sum(1))
    assert abs(((y - 1) ** 2).mean().item() - 1 / 6) < 0.02  # predicting the mean scores ~1/6
    assert torch.equal(adding_problem(10, 20, seed=3)[0], adding_problem(10, 20, seed=3)[0])


def test_hidden_state_gradients_vanish_for_a_plain_rnn_at_initialisation():
    torch.manual_seed(0)
    X, y = adding_problem(32, 60)
    norms = hidden_state_gradients(SequenceRegressor("RNN", hidden_size=32), X, y)
    assert norms.shape == (60,)
    assert norms[0] < 1e-6 * norms[-1]                       # 60 steps back: next to nothing


def test_hidden_state_gradients_keep_tiny_values_in_float64():
    torch.manual_seed(0)
    X, y = adding_problem(16, 100)
    norms = hidden_state_gradients(SequenceRegressor("LSTM", hidden_size=16).double(),
                                   X.double(), y.double())
    assert norms.dtype == torch.float64
    assert 0 < norms[0] < 1e-15 * norms[-1]                  # below float32's range, still > 0


def test_hidden_state_gradients_match_autograd_on_the_state():
    """The last step's gradient equals the gradient of the loss with respect to h_T directly."""
    torch.manual_seed(0)
    model = SequenceRegressor("LSTM", hidden_size=6)
    X, y = adding_problem(4, 5)
    output, _ = model.rnn(X)
    h_T = output[:, -1].detach().requires_grad_()
    loss = nn.functional.mse_loss(model.head(h_T).squeeze(-1), y)
    grad, = torch.autograd.grad(loss, h_T)
    torch.testing.assert_close(hidden_state_gradients(model, X, y)[-1], grad.norm(), **TOL)


@pytest.mark.slow
def test_lstm_learns_the_adding_problem_where_the_plain_rnn_does_not():
    """Trained the same way (the LSTM with the usual forget-gate bias), T = 20, seed 0."""
    from companion.training import fit
    X, y = adding_problem(2_000, 20, seed=0)
    X_val, y_val = adding_problem(500, 20, seed=1)
    mse = {}
    for cell, forget_bias in (("RNN", None), ("LSTM", 2.0)):
        torch.manual_seed(0)
        model = SequenceRegressor(cell, hidden_size=32, forget_bias=forget_bias)
        history = fit(model, (X, y), val=(X_val, y_val), epochs=7, batch_size=32, lr=1e-2,
                      clip_grad=1.0, loss_fn=nn.MSELoss(), live=False)
        mse[cell] = history.val_loss[-1]
    assert mse["RNN"] > 0.1                                  # about the baseline 1/6
    assert mse["LSTM"] < 0.2 * mse["RNN"]


def test_char_corpus_and_model():
    corpus = CharCorpus("hello world")
    assert corpus.vocab == sorted(set("hello world")) and corpus.vocab_size == 8
    assert corpus.decode(corpus.encode("low")) == "low"
    X, Y = corpus.windows(3)
    assert X.shape == Y.shape == (3, 3)
    assert corpus.decode(X[0]) == "hel" and corpus.decode(Y[0]) == "ell"
    model = CharModel(corpus.vocab_size, "GRU", hidden_size=8)
    assert model(X).shape == (3, 3, corpus.vocab_size)
    new = model.generate(corpus.encode("he"), 10, temperature=0.5, seed=0)
    assert new.shape == (10,) and torch.equal(new, model.generate(corpus.encode("he"), 10, 0.5, 0))


def test_sample_snapshots_record_training_without_changing_it():
    from companion.training import fit, next_token_step
    corpus = CharCorpus("the cat sat on the mat. " * 20)
    data = corpus.windows(8)
    runs = []
    for snapshots in (False, True):
        torch.manual_seed(0)
        model = CharModel(corpus.vocab_size, "LSTM", hidden_size=16)
        callback = SampleSnapshots(model, corpus.encode("the "), every=5, length=12)
        history = fit(model, data, epochs=2, batch_size=8, lr=1e-2, step=next_token_step,
                      live=False, callbacks=[callback] if snapshots else [])
        runs.append((history.train_loss, model.head.weight.detach().clone(), callback))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])  # same training
    samples = runs[1][2].samples
    assert list(samples)[0] == 0.0 and max(samples) == 2.0 and len(samples) >= 4
    assert all(ids.shape == (12,) for ids in samples.values())
    assert not torch.equal(samples[0.0], samples[2.0])      # the model changed its mind
    with pytest.raises(ValueError, match="every must be"):
        SampleSnapshots(runs[1][2].model, corpus.encode("a"), every=0)
    with pytest.raises(ValueError, match="needs a CharModel"):
        SampleSnapshots(nn.Linear(2, 2), corpus.encode("a"), every=1)


def test_pydoc_corpus_ships_with_python():
    text = load_pydoc_topics()
    assert len(text) > 100_000 and "assert" in text


# -- clear errors ----------------------------------------------------------------------------
def test_wrong_input_shapes_raise_clear_errors():
    with pytest.raises(ValueError, match=r"shape \(seq, batch, input_size\).*got \(7, 3\)"):
        LSTM(3, 4)(torch.zeros(7, 3))
    with pytest.raises(ValueError, match=r"input_size=3; got \(2, 7, 5\)"):
        GRU(3, 4, batch_first=True)(torch.zeros(2, 7, 5))
    with pytest.raises(ValueError, match=r"\(batch, input_size\) with input_size=3; got \(3,\)"):
        RNNCell(3, 4)(torch.zeros(3))
    with pytest.raises(ValueError, match=r"\(batch, seq, input_size\)"):
        SequenceRegressor("RNN")(torch.zeros(4, 10))


def test_wrong_initial_states_raise_clear_errors():
    X = torch.zeros(7, 2, 3)                                 # (seq, batch, input)
    with pytest.raises(ValueError, match=r"h_0 of shape \(2, 2, 4\); got \(1, 2, 4\)"):
        RNN(3, 4, num_layers=2)(X, torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match=r"c_0 of shape \(1, 2, 4\); got \(1, 2, 5\)"):
        LSTM(3, 4)(X, (torch.zeros(1, 2, 4), torch.zeros(1, 2, 5)))
    with pytest.raises(ValueError, match=r"pair \(h_0, c_0\)"):
        LSTM(3, 4)(X, torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match=r"state h of shape \(2, 4\); got \(1, 2, 4\)"):
        GRUCell(3, 4)(torch.zeros(2, 3), torch.zeros(1, 2, 4))


def test_bad_settings_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown cell type 'lstm'; expected one of RNN, LSTM, GRU"):
        make_recurrent("lstm", 2, 4)
    with pytest.raises(ValueError, match="unknown cell type"):
        SequenceRegressor("Transformer")
    with pytest.raises(ValueError, match="num_layers must be a positive integer; got 0"):
        rnn.LSTM(2, 4, num_layers=0)
    with pytest.raises(ValueError, match="forget_bias needs an LSTM"):
        SequenceRegressor("GRU", forget_bias=1.0)
    with pytest.raises(ValueError, match="T must be an integer >= 2"):
        adding_problem(10, 1)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        CharModel(5).generate(torch.tensor([1]), 3, temperature=0)


def test_text_outside_the_vocabulary_raises_a_clear_error():
    corpus = CharCorpus("abc")
    with pytest.raises(ValueError, match=r"1 character\(s\) outside the vocabulary: 'z'"):
        corpus.encode("abz")
    with pytest.raises(ValueError, match=r"ids must lie in 0..2; got 3"):
        corpus.decode([0, 3])
    with pytest.raises(ValueError, match="too few for one window"):
        corpus.windows(5)


# -- the chapter's probes, text measures and helpers (moved out of the notebook) ---------------
def test_gradient_readers_on_a_known_geometric_curve():
    norms = torch.tensor([0.5 ** (9 - t) for t in range(10)], dtype=torch.float64)  # t = 1..10
    assert rnn.relative(norms)[-1] == 1 and rnn.relative(norms)[0] == 0.5 ** 9
    assert rnn.rate_per_step(norms) == pytest.approx(0.5)
    assert rnn.steps_until(norms, 1e-2) == 7          # 0.5**7 < 1e-2 <= 0.5**6
    assert rnn.steps_until(norms, 1e-9) is None


def test_spectral_radius_and_scaled_regressor():
    assert rnn.spectral_radius(torch.tensor([[0.0, 2.0], [-2.0, 0.0]])) == pytest.approx(2.0)
    fresh, big = rnn.scaled_regressor("GRU", 1, 16), rnn.scaled_regressor("GRU", 4, 16)
    assert fresh.rnn.weight_hh_l0.dtype == torch.float64
    torch.testing.assert_close(big.rnn.weight_hh_l0, 4 * fresh.rnn.weight_hh_l0)
    torch.testing.assert_close(big.rnn.weight_ih_l0, fresh.rnn.weight_ih_l0)


def test_first_below_reads_validation_checks():
    from companion.snapshots import Snapshots
    values = iter([0.2, 0.17, 0.01, 0.3])
    checks = Snapshots(lambda: next(values), steps=[5, 10, 15])
    for step in range(1, 16):
        checks.batch_end(type("R", (), dict(epoch=0, batch=step, num_batches=20))())
    assert checks.steps == [0, 5, 10, 15]
    assert rnn.first_below(checks, 0.05) == 10 and rnn.first_below(checks, 0.001) is None


def test_generate_many_draws_a_batch_of_valid_continuations():
    torch.manual_seed(0)
    model = CharModel(7, "GRU", hidden_size=8)
    prompt = torch.tensor([1, 2, 3])
    out = model.generate_many(prompt, 12, 5, temperature=0.8, seed=3)
    assert out.shape == (5, 12) and out.dtype == torch.long
    assert 0 <= out.min() and out.max() < 7
    assert torch.equal(out, model.generate_many(prompt, 12, 5, temperature=0.8, seed=3))
    assert len({tuple(row.tolist()) for row in out}) > 1        # the rows differ
    # a cold temperature takes the likeliest id: every row is generate's greedy answer
    cold = model.generate_many(prompt, 6, 3, temperature=1e-4)
    assert all(torch.equal(row, model.generate(prompt, 6, temperature=1e-4)) for row in cold)
    with pytest.raises(ValueError, match="count"):
        model.generate_many(prompt, 4, 0)
    with pytest.raises(ValueError, match="temperature"):
        model.generate_many(prompt, 4, 2, temperature=0)
    # one temperature per row: the cold rows are greedy, the hot ones are not all greedy
    mixed = model.generate_many(prompt, 12, 4, temperature=[1e-4, 5.0, 1e-4, 5.0])
    greedy = model.generate(prompt, 12, temperature=1e-4)
    assert torch.equal(mixed[0], greedy) and torch.equal(mixed[2], greedy)
    assert not (torch.equal(mixed[1], greedy) and torch.equal(mixed[3], greedy))
    with pytest.raises(ValueError, match="one per row"):
        model.generate_many(prompt, 4, 3, temperature=[1.0, 0.5])


def test_text_measures():
    from companion.text import KnownWords, sample_html, variety
    known = KnownWords("the cat sat on the mat")
    assert "5" in repr(known)
    assert known.share("the dog sat") == pytest.approx(2 / 3)
    assert known.share("1 2 3") == 0
    assert known.count("the cat on a mat", min_letters=3) == 3
    assert variety("abcdefghij", n=3) == 1.0
    assert variety("abababab", n=2) == pytest.approx(2 / 7)
    page = sample_html("LSTM <1>", "a<b" + " " * 12 + "c   d")
    assert "LSTM &lt;1&gt;" in page and "a&lt;b [12 spaces] c   d" in page
    with pytest.raises(ValueError, match="n"):
        variety("abc", n=0)


def test_adding_playground_checks_its_controls():
    import ipywidgets as widgets
    with pytest.raises(ValueError, match="hidden_size"):
        adding_playground({"cell": widgets.Dropdown(options=["RNN"]),
                           "T": widgets.IntSlider(value=5)}, None, 100)


def test_adding_playground_trains_and_draws_the_gradient(monkeypatch):
    import ipywidgets as widgets
    import matplotlib
    matplotlib.use("Agg")

    def step(model, batch, loss_fn):
        X, y = batch
        return loss_fn(model(X), y), len(y)

    controls = {"cell": widgets.Dropdown(options=["RNN", "GRU"], value="GRU"),
                "hidden_size": widgets.IntSlider(value=8, min=8, max=16),
                "T": widgets.IntSlider(value=6, min=4, max=10),
                "epochs": widgets.IntSlider(value=1, min=1, max=2)}
    play = adding_playground(controls, step, 64)
    play.train()
    assert play.history.epochs == 1 and len(play.history.val_loss) == 1
    assert play.history.test_loss == []            # no test set: choices read validation
    assert "validation loss" in play.status.value and "test" not in play.status.value
    assert isinstance(play.model, SequenceRegressor) and play.model.rnn.mode == "GRU"
    assert play.model.rnn.hidden_size == 8
    # the title's baseline: predicting 1 on the run's own 500 validation sequences
    _, y_val = adding_problem(500, 6, seed=1)
    fig = play.after_train(play.model, play.history, play.settings())
    own = f"predicting 1 on them: {((y_val - 1) ** 2).mean():.4f}"
    assert own in fig.axes[0].get_title()
    assert fig.axes[0].get_title().startswith("validation MSE")
    assert play.autorun and not adding_playground(controls, step, 64,
                                                  autorun=False).autorun


def test_plot_checks_draws_one_line_per_run_and_the_baseline():
    import matplotlib
    matplotlib.use("Agg")
    from companion.snapshots import Snapshots
    runs = {}
    for name, start in (("a", 1.0), ("b", 0.5)):
        values = iter([start, start / 10])
        runs[name] = Snapshots(lambda values=values: next(values), steps=[3])
        for step in range(1, 4):
            runs[name].batch_end(type("R", (), dict(epoch=0, batch=step, num_batches=3))())
    ax = plot_checks(runs, 0.2, title="t")
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b", "predict the mean"]
    assert ax.get_legend()._loc == 3                  # lower left, clear of the plateau
    other = plot_checks(runs, 0.3, baseline_label="predict 1")
    assert other.get_lines()[-1].get_label() == "predict 1"
    assert list(other.get_lines()[-1].get_ydata()) == [0.3, 0.3]
    assert list(ax.get_lines()[1].get_ydata()) == [0.5, 0.05] and ax.get_yscale() == "log"
