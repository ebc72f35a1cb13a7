"""Recurrent networks from scratch: RNN, LSTM and GRU cells and layers, and a long-range task.

Each cell is one small function of the input and the previous state (`rnn_step`, `lstm_step`,
`gru_step`). The modules keep PyTorch's parameter names and shapes (`weight_ih` of shape
(gates * hidden, input), gates stacked in PyTorch's order), so ``RNNCell``/``LSTMCell``/
``GRUCell`` load ``nn.RNNCell``/... weights and ``RNN``/``LSTM``/``GRU`` load ``nn.RNN``/...
weights (``weight_ih_l0``, ...) with ``strict=True`` and compute the same outputs.

The chapter's figure of validation checks and its adding-problem playground are in
companion/show/rnn.py; the drawing of the LSTM cell in companion/diagrams.py.
Used in: book/05_rnn.ipynb, book/07_transformer.ipynb (`CharModel`); tests/test_rnn.py;
`show.rnn`.
"""
import math

import torch
from torch import nn

from ._validate import check_positive_int, shape_of
from .measure import eval_mode, grad_norms
from .snapshots import Snapshots

CELL_TYPES = ("RNN", "LSTM", "GRU")
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}   # blocks of `hidden_size` rows stacked in weight_ih


# -- one time step ---------------------------------------------------------------------------
def rnn_step(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None,
             nonlinearity="tanh"):
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).

    x (batch, input), h (batch, hidden); returns h_t (batch, hidden).
    """
    pre = x @ weight_ih.T + h @ weight_hh.T          # (batch, hidden)
    if bias_ih is not None:
        pre = pre + bias_ih + bias_hh
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def lstm_step(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One LSTM step: gates i, f, g, o stacked in the weights (PyTorch's
    order); c_t = f*c + i*g, h_t = o*tanh(c_t). Returns (h_t, c_t)."""
    h, c = state                                     # (batch, hidden) each
    gates = x @ weight_ih.T + h @ weight_hh.T        # (batch, 4 * hidden)
    if bias_ih is not None:
        gates = gates + bias_ih + bias_hh
    i, f, g, o = gates.chunk(4, dim=1)               # (batch, hidden) each
    i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
    g = torch.tanh(g)                                # the candidate
    c = f * c + i * g                                # the cell path: * and +
    return o * torch.tanh(c), c


def gru_step(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One GRU step in PyTorch's form: gates r, z, n stacked in the weights;
    r multiplies (W_hn h + b_hn); h_t = (1 - z)*n + z*h."""
    from_x = x @ weight_ih.T                         # (batch, 3 * hidden)
    from_h = h @ weight_hh.T                         # (batch, 3 * hidden)
    if bias_ih is not None:
        from_x, from_h = from_x + bias_ih, from_h + bias_hh
    x_r, x_z, x_n = from_x.chunk(3, dim=1)           # (batch, hidden) each
    h_r, h_z, h_n = from_h.chunk(3, dim=1)
    r = torch.sigmoid(x_r + h_r)                     # reset gate
    z = torch.sigmoid(x_z + h_z)                     # update gate
    n = torch.tanh(x_n + r * h_n)                    # candidate
    return (1 - z) * n + z * h


# -- helpers ---------------------------------------------------------------------------------
def _check_cell_type(cell):
    if cell not in CELL_TYPES:
        raise ValueError(f"unknown cell type {cell!r}; expected one of {', '.join(CELL_TYPES)}")


def _check_input(x, dims, input_size, layout):
    if not torch.is_tensor(x) or x.dim() != dims or x.shape[-1] != input_size:
        raise ValueError(f"expected input of shape {layout} with input_size={input_size}; "
                         f"got {shape_of(x)}")


def _check_state(state, expected, name):
    if not torch.is_tensor(state) or tuple(state.shape) != expected:
        raise ValueError(f"expected initial state {name} of shape {expected}; "
                         f"got {shape_of(state)}")


def _reset(module, hidden_size):
    """PyTorch's initialisation: every weight and bias uniform in ±1/sqrt(hidden_size)."""
    bound = 1 / math.sqrt(hidden_size)
    for param in module.parameters():
        nn.init.uniform_(param, -bound, bound)


# -- cells -----------------------------------------------------------------------------------
class _Cell(nn.Module):
    cell = "RNN"

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        check_positive_int("input_size", input_size)
        check_positive_int("hidden_size", hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        rows = GATES[self.cell] * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size))    # (gates*hidden, input)
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size))   # (gates*hidden, hidden)
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(rows))
            self.bias_hh = nn.Parameter(torch.empty(rows))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        _reset(self, hidden_size)

    def _zeros_or_checked(self, x, h, name):
        expected = (x.shape[0], self.hidden_size)
        if h is None:
            return x.new_zeros(expected)
        _check_state(h, expected, name)
        return h

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_Cell):
    """Elman RNN cell: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh); like nn.RNNCell."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, x, h=None):                             # x (batch, input)
        _check_input(x, 2, self.input_size, "(batch, input_size)")
        h = self._zeros_or_checked(x, h, "h")
        return rnn_step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                        self.nonlinearity)                    # (batch, hidden)


class LSTMCell(_Cell):
    """LSTM cell with PyTorch's layout (gates i, f, g, o); forward(x, (h, c)) -> (h, c)."""

    cell = "LSTM"

    def forward(self, x, state=None):                         # x (batch, input)
        _check_input(x, 2, self.input_size, "(batch, input_size)")
        h, c = (None, None) if state is None else state
        state = self._zeros_or_checked(x, h, "h"), self._zeros_or_checked(x, c, "c")
        return lstm_step(x, state, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class GRUCell(_Cell):
    """GRU cell with PyTorch's layout (gates r, z, n); forward(x, h) -> h."""

    cell = "GRU"

    def forward(self, x, h=None):                             # x (batch, input)
        _check_input(x, 2, self.input_size, "(batch, input_size)")
        h = self._zeros_or_checked(x, h, "h")
        return gru_step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


# -- layers: a loop over time, then over layers ----------------------------------------------
class _Layer(nn.Module):
    cell = "RNN"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 nonlinearity="tanh"):
        super().__init__()
        check_positive_int("input_size", input_size)
        check_positive_int("hidden_size", hidden_size)
        check_positive_int("num_layers", num_layers)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.nonlinearity = bias, batch_first, nonlinearity
        rows = GATES[self.cell] * hidden_size
        for k in range(num_layers):                           # PyTorch's names: weight_ih_l0, ...
            size = input_size if k == 0 else hidden_size
            setattr(self, f"weight_ih_l{k}", nn.Parameter(torch.empty(rows, size)))
            setattr(self, f"weight_hh_l{k}", nn.Parameter(torch.empty(rows, hidden_size)))
            if bias:
                setattr(self, f"bias_ih_l{k}", nn.Parameter(torch.empty(rows)))
                setattr(self, f"bias_hh_l{k}", nn.Parameter(torch.empty(rows)))
        _reset(self, hidden_size)

    def weights(self, k):
        """Layer k's (weight_ih, weight_hh, bias_ih, bias_hh); biases None when bias=False."""
        return tuple(getattr(self, f"{name}_l{k}", None)
                     for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def _step(self, x, state, k):
        if self.cell == "LSTM":
            return lstm_step(x, state, *self.weights(k))
        if self.cell == "GRU":
            return gru_step(x, state, *self.weights(k))
        return rnn_step(x, state, *self.weights(k), nonlinearity=self.nonlinearity)

    def forward(self, X, state=None):
        layout = "(batch, seq, input_size)" if self.batch_first else "(seq, batch, input_size)"
        _check_input(X, 3, self.input_size, layout)
        if self.batch_first:
            X = X.transpose(0, 1)                             # (seq, batch, input)
        expected = (self.num_layers, X.shape[1], self.hidden_size)
        if self.cell == "LSTM":
            if state is None:
                state = (X.new_zeros(expected), X.new_zeros(expected))
            elif not isinstance(state, (tuple, list)) or len(state) != 2:
                raise ValueError(f"LSTM expects the initial state as a pair (h_0, c_0), each of "
                                 f"shape {expected}; got {type(state).__name__}")
            _check_state(state[0], expected, "h_0")
            _check_state(state[1], expected, "c_0")
            states = [(state[0][k], state[1][k]) for k in range(self.num_layers)]
        else:
            if state is None:
                state = X.new_zeros(expected)
            _check_state(state, expected, "h_0")
            states = list(state)                              # num_layers x (batch, hidden)
        outputs = []
        for x in X:                                           # x (batch, input): one time step
            for k in range(self.num_layers):
                states[k] = self._step(x, states[k], k)
                x = states[k][0] if self.cell == "LSTM" else states[k]    # input to layer k+1
            outputs.append(x)
        output = torch.stack(outputs)                         # (seq, batch, hidden)
        if self.batch_first:
            output = output.transpose(0, 1)                   # (batch, seq, hidden)
        if self.cell == "LSTM":
            h_n = torch.stack([h for h, _ in states])         # (num_layers, batch, hidden)
            c_n = torch.stack([c for _, c in states])
            return output, (h_n, c_n)
        return output, torch.stack(states)                    # h_n (num_layers, batch, hidden)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.batch_first:
            text += ", batch_first=True"
        return text + ("" if self.bias else ", bias=False")


class RNN(_Layer):
    """Multi-layer Elman RNN like nn.RNN: forward(X, h_0=None) -> (output, h_n)."""


class LSTM(_Layer):
    """Multi-layer LSTM like nn.LSTM: forward(X, (h_0, c_0)=None) -> (output, (h_n, c_n))."""

    cell = "LSTM"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first)


class GRU(_Layer):
    """Multi-layer GRU like nn.GRU: forward(X, h_0=None) -> (output, h_n)."""

    cell = "GRU"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first)


# -- models used in the chapter --------------------------------------------------------------
def make_recurrent(cell, input_size, hidden_size, num_layers=1, *, from_scratch=False):
    """A batch-first recurrent layer: PyTorch's nn.RNN/nn.LSTM/nn.GRU, or ours (`from_scratch`)."""
    _check_cell_type(cell)
    module = globals()[cell] if from_scratch else getattr(nn, cell)
    return module(input_size, hidden_size, num_layers, batch_first=True)


def set_forget_bias(lstm, value):
    """Start every forget gate of an LSTM (ours or PyTorch's) at bias `value` (split as value + 0)."""
    hidden = lstm.hidden_size
    with torch.no_grad():
        for k in range(lstm.num_layers):
            getattr(lstm, f"bias_ih_l{k}")[hidden:2 * hidden] = value   # rows i, [f], g, o
            getattr(lstm, f"bias_hh_l{k}")[hidden:2 * hidden] = 0.0
    return lstm


class SequenceRegressor(nn.Module):
    """Read a sequence with a recurrent layer; map its last hidden state to one number."""

    def __init__(self, cell="LSTM", input_size=2, hidden_size=64, num_layers=1, *,
                 forget_bias=None, from_scratch=False):
        super().__init__()
        self.rnn = make_recurrent(cell, input_size, hidden_size, num_layers,
                                  from_scratch=from_scratch)
        if forget_bias is not None:
            if cell != "LSTM":
                raise ValueError(f"forget_bias needs an LSTM; got cell {cell!r}")
            set_forget_bias(self.rnn, forget_bias)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, X):                                     # X (batch, seq, input)
        _check_input(X, 3, self.rnn.input_size, "(batch, seq, input_size)")
        output, _ = self.rnn(X)                               # (batch, seq, hidden)
        return self.head(output[:, -1]).squeeze(-1)           # (batch,)


class CharModel(nn.Module):
    """A character language model: embedding -> recurrent layer -> logits for the next character."""

    def __init__(self, vocab_size, cell="LSTM", hidden_size=128, num_layers=1, embed_size=32):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.rnn = make_recurrent(cell, embed_size, hidden_size, num_layers)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, X, state=None, return_state=False):    # X (batch, seq) int64
        output, state = self.rnn(self.embed(X), state)        # (batch, seq, hidden)
        logits = self.head(output)                            # (batch, seq, vocab)
        return (logits, state) if return_state else logits

    @torch.no_grad()
    def generate(self, prompt, length, temperature=1.0, seed=0):
        """Continue `prompt` (1-D int64 ids) by `length` sampled ids; returns only the new ids."""
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0; got {temperature!r}")
        generator = torch.Generator().manual_seed(seed)           # sampling runs on the CPU
        device = self.head.weight.device
        new = []
        with eval_mode(self):                                     # mode restored after
            logits, state = self(prompt[None].to(device), return_state=True)  # (1, len, vocab)
            for _ in range(length):
                probs = torch.softmax(logits[0, -1].float().cpu() / temperature, dim=-1)
                next_id = torch.multinomial(probs, 1, generator=generator)      # (1,)
                new.append(next_id)
                logits, state = self(next_id[None].to(device), state, return_state=True)
        return torch.cat(new)

    @torch.no_grad()
    def generate_many(self, prompt, length, count, temperature=1.0, seed=0):
        """`count` continuations of `prompt` drawn side by side as one batch, from one generator
        (`seed`): a (count, length) int64 tensor of new ids. Much faster than `count` calls of
        `generate`, whose draws these are not. `temperature`: one number, or one per row."""
        check_positive_int("count", count)
        taus = torch.as_tensor(temperature, dtype=torch.float32).reshape(-1, 1)  # (1|count, 1)
        if len(taus) not in (1, count):
            raise ValueError(f"temperature: one number or {count} (one per row); "
                             f"got {len(taus)}")
        if (taus <= 0).any():
            raise ValueError(f"temperature must be > 0; got {temperature!r}")
        generator = torch.Generator().manual_seed(seed)
        device = self.head.weight.device
        new = []
        with eval_mode(self):
            X = prompt[None].expand(count, -1).to(device)              # (count, len)
            logits, state = self(X, return_state=True)                 # (count, len, vocab)
            for _ in range(length):
                probs = torch.softmax(logits[:, -1].float().cpu() / taus, dim=-1)
                next_ids = torch.multinomial(probs, 1, generator=generator)  # (count, 1)
                new.append(next_ids)
                logits, state = self(next_ids.to(device), state, return_state=True)
        return torch.cat(new, dim=1)                                   # (count, length)


class SampleSnapshots(Snapshots):
    """A `fit` callback: every `every` batches (and before the first), a text sample from the
    CharModel being trained, for a slider that scrubs through training (a `Snapshots`).
    `samples` maps the epochs done so far (a float, 0 = untrained) to the generated ids (1-D
    int64). Sampling uses its own generator (`seed`), so the run trains exactly as without it."""

    def __init__(self, model, prompt, every, length=120, temperature=0.5, seed=0):
        if not isinstance(model, CharModel):
            raise ValueError(f"SampleSnapshots needs a CharModel; got {type(model).__name__}")
        self.model, self.prompt = model, prompt
        self.settings = dict(length=length, temperature=temperature, seed=seed)
        super().__init__(lambda: model.generate(prompt, **self.settings), every=every)

    @property
    def samples(self):
        """{epochs done (rounded to 0.01): generated ids}."""
        return {round(moment, 2): ids for moment, ids in zip(self.moments, self.values)}

    def __repr__(self):
        return f"SampleSnapshots({len(self.samples)} samples, every {self.every} batches)"


# -- the adding problem and the gradient through time ----------------------------------------
def adding_problem(n, T, seed=0):
    """n sequences of T steps, each step (value, marker); the target is the sum of the 2 marked values.

    Values are uniform in [0, 1); one marker lies in the first half, one in the second, so the
    first number must be remembered for at least T/2 steps. Predicting the mean (1) scores MSE 1/6.
    Returns X (n, T, 2) float32 and y (n,) float32.
    """
    check_positive_int("n", n)
    if isinstance(T, bool) or not isinstance(T, int) or T < 2:
        raise ValueError(f"T must be an integer >= 2; got {T!r}")
    generator = torch.Generator().manual_seed(seed)
    values = torch.rand(n, T, generator=generator)                       # (n, T)
    first = torch.randint(0, T // 2, (n,), generator=generator)          # in the first half
    second = torch.randint(T // 2, T, (n,), generator=generator)         # in the second half
    markers = torch.zeros(n, T)
    markers[torch.arange(n), first] = 1.0
    markers[torch.arange(n), second] = 1.0
    X = torch.stack([values, markers], dim=-1)                           # (n, T, 2)
    y = (values * markers).sum(dim=1)                                    # (n,)
    return X, y


def hidden_state_gradients(model, X, y, loss_fn=None):
    """‖∂L/∂h_t‖ for t = 1..T: how much the loss depends on each hidden state of `model.rnn`.

    `model` is a SequenceRegressor (any recurrent layer with `.rnn` and `.head`). The layer is
    run one step at a time so that every h_t (all layers; LSTM: h, not c) is a tensor of the
    graph; L is the mean loss over the batch (MSE by default), in evaluation mode. The norms
    are in the states' own precision (a float64 model keeps gradients far below 1e-19).
    Returns a (T,) tensor on the CPU.
    """
    _check_input(X, 3, model.rnn.input_size, "(batch, seq, input_size)")
    loss_fn = loss_fn or nn.MSELoss()
    device = next(model.parameters()).device
    X, y = X.to(device), y.to(device)                         # wherever the model lives
    with eval_mode(model):                                    # mode restored after
        state, hidden_states = None, []
        for t in range(X.shape[1]):
            _, state = model.rnn(X[:, t:t + 1], state)        # one step
            h = state[0] if isinstance(state, tuple) else state   # (layers, batch, hidden)
            hidden_states.append(h)
        loss = loss_fn(model.head(h[-1]).squeeze(-1), y)      # read out the top layer's h_T
        return grad_norms(loss, hidden_states)                # (T,)


# -- reading the gradient through time ---------------------------------------------------------
def relative(norms):
    """Each gradient norm divided by the one at the last step, t = T."""
    return norms / norms[-1]


def spectral_radius(W):
    """The largest |eigenvalue| of a square matrix, a float."""
    return torch.linalg.eigvals(W.detach()).abs().max().item()


def steps_until(norms, factor):
    """How many steps back from T the gradient has (last) fallen below `factor` times the one
    at T; None if it never does."""
    small = (norms / norms[-1] < factor).nonzero()
    return len(norms) - 1 - small[-1].item() if len(small) else None


def rate_per_step(norms):
    """The factor by which the norms shrink per step going back in time, a geometric rate fitted
    over their second half (the straight part of the log curve)."""
    logs = norms[len(norms) // 2:].log()
    return math.exp((logs[0] - logs[-1]).item() / (len(logs) - 1))


def scaled_regressor(cell, factor, hidden_size=64, seed=0):
    """A fresh float64 SequenceRegressor (weights drawn after torch.manual_seed(seed)) whose
    recurrent weights `weight_hh_l0` are multiplied by `factor`."""
    torch.manual_seed(seed)
    model = SequenceRegressor(cell, hidden_size=hidden_size).double()
    with torch.no_grad():
        model.rnn.weight_hh_l0 *= factor
    return model


def first_below(checks, level):
    """The optimizer steps done when a Snapshots of a validation loss (`checks.steps`,
    `checks.values`) first read below `level`; None if it never did."""
    return next((step for step, value in zip(checks.steps, checks.values) if value < level),
                None)
