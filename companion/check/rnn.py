"""Checks for the recurrent-networks chapter's exercises (book/05_rnn.ipynb)."""
import torch

from ._core import Hint, close, exercise, expect_tensor

__all__ = ["lstm_step", "gru_step", "clip_gradients"]


def _weights(gates, input_size=3, hidden_size=5, seed=0):
    """Random weights with PyTorch's layout: (gates*hidden, input), (gates*hidden, hidden), biases."""
    g = torch.Generator().manual_seed(seed)
    rows = gates * hidden_size
    return (torch.randn(rows, input_size, generator=g, dtype=torch.float64),
            torch.randn(rows, hidden_size, generator=g, dtype=torch.float64),
            torch.randn(rows, generator=g, dtype=torch.float64),
            torch.randn(rows, generator=g, dtype=torch.float64))


def _inputs(input_size=3, hidden_size=5, batch=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, size, generator=g, dtype=torch.float64)
            for size in (input_size, hidden_size, hidden_size)]


def _lstm(x, h, c, w_ih, w_hh, b_ih, b_hh, order="ifgo"):
    gates = dict(zip(order, (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=1)))
    i, f, o = (torch.sigmoid(gates[k]) for k in "ifo")
    g = torch.tanh(gates["g"])
    c_new = f * c + i * g
    return o * torch.tanh(c_new), c_new


@exercise
def lstm_step(fn):
    """Exercise: one LSTM step with PyTorch's layout (gates i, f, g, o); returns (h_t, c_t)."""
    w = _weights(4)
    x, h, c = _inputs()
    got = fn(x, h, c, *w)
    if not isinstance(got, tuple) or len(got) != 2:
        raise Hint("return a pair (h_t, c_t): the new hidden state and the new cell state.")
    h_new, c_new = got
    expect_tensor(h_new, h.shape, "h_t")
    expect_tensor(c_new, c.shape, "c_t")
    want_h, want_c = _lstm(x, h, c, *w)
    if close(h_new, want_c) and close(c_new, want_h):
        raise Hint("h_t and c_t are swapped: return (h_t, c_t).")
    for order in ("ifog", "iofg", "fiog"):
        if close(c_new, _lstm(x, h, c, *w, order=order)[1]):
            raise Hint("the gates are cut out of the stacked matrix in the wrong order; "
                       "PyTorch stacks them as i, f, g, o.")
    if not close(c_new, want_c):
        raise Hint("c_t is off: it keeps f ⊙ c_{t-1} and adds i ⊙ g, with σ for the gates "
                   "and tanh for the candidate g.")
    if close(h_new, torch.sigmoid(torch.chunk(x @ w[0].T + w[2] + h @ w[1].T + w[3], 4,
                                              dim=1)[3]) * torch.tanh(c)):
        raise Hint("h_t uses the old cell state; use the new one, c_t.")
    if not close(h_new, want_h):
        raise Hint("c_t is right; h_t should be o ⊙ tanh(c_t).")
    ref = torch.nn.LSTMCell(3, 5).double()
    with torch.no_grad():
        for param, value in zip((ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh), w):
            param.copy_(value)
        ref_h, ref_c = ref(x, (h, c))
    assert close(h_new, ref_h) and close(c_new, ref_c)
    return "equal to nn.LSTMCell with the same weights (batch 4, input 3, hidden 5)."


def _gru(x, h, w_ih, w_hh, b_ih, b_hh, textbook=False, swap_z=False):
    x_r, x_z, x_n = (x @ w_ih.T + b_ih).chunk(3, dim=1)
    W_hr, W_hz, W_hn = w_hh.chunk(3)
    b_hr, b_hz, b_hn = b_hh.chunk(3)
    r = torch.sigmoid(x_r + h @ W_hr.T + b_hr)
    z = torch.sigmoid(x_z + h @ W_hz.T + b_hz)
    if textbook:
        n = torch.tanh(x_n + (r * h) @ W_hn.T + b_hn)
    else:
        n = torch.tanh(x_n + r * (h @ W_hn.T + b_hn))
    return z * n + (1 - z) * h if swap_z else (1 - z) * n + z * h


@exercise
def gru_step(fn):
    """Exercise: one GRU step as PyTorch computes it (gates r, z, n); returns h_t."""
    w = _weights(3)
    x, h, _ = _inputs()
    got = fn(x, h, *w)
    expect_tensor(got, h.shape, "h_t")
    if close(got, _gru(x, h, *w, textbook=True)):
        raise Hint("that is the textbook GRU, with r applied to h_{t-1} before the matrix "
                   "product. PyTorch applies r to (W_hn h_{t-1} + b_hn).")
    if close(got, _gru(x, h, *w, swap_z=True)):
        raise Hint("z and 1 − z are swapped: in PyTorch z is the share of the OLD state "
                   "that is kept, h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}.")
    if not close(got, _gru(x, h, *w)):
        raise Hint("compare each gate with the formulas: r and z are sigmoids of x- and "
                   "h-parts plus both biases; n is a tanh; the blocks are stacked r, z, n.")
    ref = torch.nn.GRUCell(3, 5).double()
    with torch.no_grad():
        for param, value in zip((ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh), w):
            param.copy_(value)
        assert close(got, ref(x, h))
    return "equal to nn.GRUCell with the same weights (batch 4, input 3, hidden 5)."


@exercise
def clip_gradients(fn):
    """Exercise: rescale a list of gradients so that their joint norm is at most max_norm."""
    g = torch.Generator().manual_seed(2)
    grads = [torch.randn(4, 3, generator=g, dtype=torch.float64) * 10,
             torch.randn(5, generator=g, dtype=torch.float64)]
    total = torch.sqrt(sum((t ** 2).sum() for t in grads))
    for max_norm in (1.0, 2.5):
        got = fn([t.clone() for t in grads], max_norm)
        if not isinstance(got, (list, tuple)) or len(got) != len(grads):
            raise Hint("return a list with one (clipped) tensor per gradient.")
        for t, want in zip(got, grads):
            expect_tensor(t, want.shape, "each clipped gradient")
        if all(close(t.norm(), torch.tensor(max_norm, dtype=t.dtype)) for t in got):
            raise Hint("each tensor was clipped on its own; clip_grad_norm_ scales all of "
                       "them by ONE factor, from the norm of all gradients together.")
        scale = max_norm / total
        if not all(close(t, want * scale) for t, want in zip(got, grads)):
            raise Hint(f"after clipping to {max_norm} the joint norm should be {max_norm} and "
                       "every gradient should point the same way as before.")
    small = fn([t.clone() for t in grads], 1e6)
    if not all(close(t, want) for t, want in zip(small, grads)):
        raise Hint("gradients whose joint norm is already below max_norm must stay as they "
                   "are: clipping only ever shrinks.")
    return ("the joint norm becomes max_norm, every direction is kept, and small gradients "
            "are left alone.")
