"""Checks for the exercises of the introduction (book/intro.ipynb).

- `mlp_forward(fn)`: fn(X, W1, b1, W2, b2) -> the scores of a one-hidden-layer
  ReLU network whose weights are stored as nn.Linear stores them.
- `count_mlp_params(fn)`: fn(sizes) -> the number of parameters of an MLP
  with layer sizes [inputs, hidden..., outputs].
"""
import numbers

import torch
from torch import nn

from ._core import Hint, close, exercise, expect_tensor

__all__ = ["mlp_forward", "count_mlp_params"]


def _weights(num_inputs=2, num_hiddens=5, num_outputs=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(7, num_inputs, generator=gen)              # (batch, in)
    W1 = torch.randn(num_hiddens, num_inputs, generator=gen)   # (hidden, in)
    b1 = torch.randn(num_hiddens, generator=gen)               # (hidden,)
    W2 = torch.randn(num_outputs, num_hiddens, generator=gen)  # (out, hidden)
    b2 = torch.randn(num_outputs, generator=gen)               # (out,)
    return X, W1, b1, W2, b2


@exercise
def mlp_forward(fn):
    """Exercise: the forward pass of Linear -> ReLU -> Linear by hand."""
    X, W1, b1, W2, b2 = _weights()
    try:
        got = fn(X, W1, b1, W2, b2)
    except RuntimeError as error:
        if "cannot be multiplied" in str(error):
            raise Hint("nn.Linear stores its weight as (out_features, "
                       "in_features): multiply X by the transposed "
                       "weight.") from None
        raise
    expect_tensor(got, (7, 3), "mlp_forward(X, W1, b1, W2, b2)")
    hidden = torch.relu(X @ W1.T + b1)                     # (7, 5)
    want = hidden @ W2.T + b2                              # (7, 3)
    if close(got, X @ W1.T @ W2.T + b1 @ W2.T + b2):
        raise Hint("no nonlinearity: without the ReLU the two layers "
                   "collapse into one linear map.")
    if close(got, torch.relu(want)):
        raise Hint("the output layer gives raw scores (logits), which "
                   "may be negative: no ReLU after it.")
    if close(got, torch.softmax(want, dim=1)):
        raise Hint("return the scores themselves; the softmax belongs "
                   "to the loss (nn.CrossEntropyLoss applies it).")
    if close(got, torch.relu(X @ W1.T) @ W2.T) or close(
            got, torch.relu(X @ W1.T) @ W2.T + b2) or close(
            got, hidden @ W2.T):
        raise Hint("a bias is missing: each layer adds its b.")
    if not close(got, want):
        raise Hint("compare with nn.Sequential(nn.Linear(2, 5), "
                   "nn.ReLU(), nn.Linear(5, 3)) after copying the "
                   "weights into it: where do the values differ?")
    net = nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 3))
    with torch.no_grad():
        for layer, W, b in ((net[0], W1, b1), (net[2], W2, b2)):
            layer.weight.copy_(W)
            layer.bias.copy_(b)
        if not close(got, net(X)):
            raise Hint("your values differ from nn.Sequential's.")
    return ("equal to nn.Sequential(Linear(2, 5), ReLU(), Linear(5, 3)) "
            "with the same weights, on a batch of 7 points.")


def _reference_count(sizes):
    layers = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
    return sum(p.numel() for layer in layers for p in layer.parameters())


@exercise
def count_mlp_params(fn):
    """Exercise: the parameters of an MLP from its layer sizes."""
    cases = ([2, 64, 64, 2], [784, 128, 10], [3, 1], [10, 7, 5, 3, 2])
    for sizes in cases:
        got = fn(list(sizes))
        if not isinstance(got, numbers.Integral):    # e.g. NumPy's int64
            if torch.is_tensor(got) and got.numel() == 1:
                got = int(got)
            elif not (isinstance(got, float) and got.is_integer()):
                raise Hint("return a whole number (an int); got "
                           f"{type(got).__name__}.")
        got = int(got)
        want = _reference_count(sizes)
        if got == want:
            continue
        pairs = list(zip(sizes[:-1], sizes[1:]))
        weights = sum(a * b for a, b in pairs)
        if got == weights:
            raise Hint(f"for {sizes} you counted the weights only; each "
                       "layer also has one bias per output unit.")
        if got == weights + sum(a for a, _ in pairs):
            raise Hint(f"for {sizes}: a layer has one bias per OUTPUT "
                       "unit, not per input.")
        if got == weights + sum(sizes):
            raise Hint(f"for {sizes}: the inputs have no bias; only the "
                       "layers (hidden and output) do.")
        raise Hint(f"for sizes {sizes} your count is {got:,}; build "
                   "the layers with nn.Linear and add up p.numel() to "
                   "see where it differs.")
    return ("the right count for 4 networks, e.g. "
            f"{_reference_count([2, 64, 64, 2]):,} for [2, 64, 64, 2].")
