"""The exercise checks of the recurrent-networks chapter: each accepts the reference solution
(the one the book shows), reports a stub as not done yet, and rejects typical wrong answers with
the right hint."""
import pytest
import torch

from companion import check

from test_solutions import assert_hint, solutions

BOOK = solutions("05_rnn")   # as the notebook shows them


# ------------------------------------------------------------------------------------- LSTM
lstm_step = BOOK["my_lstm_step"]                  # the book's solution


def test_lstm_step_accepts_the_solution_and_the_companions():
    assert check.lstm_step(lstm_step).passed
    from companion.rnn import lstm_step as companion_step
    result = check.lstm_step(lambda x, h, c, *w: companion_step(x, (h, c), *w))
    assert result.passed and "nn.LSTMCell" in result.message


def test_lstm_step_rejects_a_keras_gate_order():
    def keras_order(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
        gates = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
        i, f, o, g = gates.chunk(4, dim=1)                           # i, f, o, g: wrong
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * c + i * g
        return o * c.tanh(), c
    assert_hint(check.lstm_step(keras_order), "i, f, g, o")


def test_lstm_step_rejects_the_old_cell_state_in_h_and_swapped_outputs():
    def old_c(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
        gates = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
        i, f, g, o = gates.chunk(4, dim=1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        return o * c.tanh(), f * c + i * g
    assert_hint(check.lstm_step(old_c), "old cell state")

    def swapped(*args):
        h, c = lstm_step(*args)
        return c, h
    assert_hint(check.lstm_step(swapped), "swapped")

    def sigmoid_candidate(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
        gates = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
        i, f, g, o = gates.sigmoid().chunk(4, dim=1)                 # g should be a tanh
        c = f * c + i * g
        return o * c.tanh(), c
    assert_hint(check.lstm_step(sigmoid_candidate), "tanh for the candidate")


# -------------------------------------------------------------------------------------- GRU
gru_step = BOOK["my_gru_step"]                    # the book's solution


def test_gru_step_accepts_the_solution():
    result = check.gru_step(gru_step)
    assert result.passed and "nn.GRUCell" in result.message


def test_gru_step_rejects_the_textbook_variant_and_swapped_z():
    def textbook(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
        x_r, x_z, x_n = (x @ weight_ih.T + bias_ih).chunk(3, dim=1)
        W_hr, W_hz, W_hn = weight_hh.chunk(3)
        b_hr, b_hz, b_hn = bias_hh.chunk(3)
        r = (x_r + h @ W_hr.T + b_hr).sigmoid()
        z = (x_z + h @ W_hz.T + b_hz).sigmoid()
        n = (x_n + (r * h) @ W_hn.T + b_hn).tanh()
        return (1 - z) * n + z * h
    assert_hint(check.gru_step(textbook), "textbook GRU")

    def swapped_z(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
        x_r, x_z, x_n = (x @ weight_ih.T + bias_ih).chunk(3, dim=1)
        h_r, h_z, h_n = (h @ weight_hh.T + bias_hh).chunk(3, dim=1)
        r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
        n = (x_n + r * h_n).tanh()
        return z * n + (1 - z) * h
    assert_hint(check.gru_step(swapped_z), "swapped")


# --------------------------------------------------------------------------------- clipping
clip_gradients = BOOK["my_clip_gradients"]        # the book's solution


def test_clip_gradients_accepts_the_solution():
    assert check.clip_gradients(clip_gradients).passed


def test_clip_gradients_rejects_per_tensor_clipping_and_always_rescaling():
    def per_tensor(grads, max_norm):
        return [g * (max_norm / g.norm()) for g in grads]
    assert_hint(check.clip_gradients(per_tensor), "on its own")

    def always(grads, max_norm):
        total = torch.sqrt(sum((g ** 2).sum() for g in grads))
        return [g * (max_norm / total) for g in grads]
    assert_hint(check.clip_gradients(always), "only ever shrinks")
