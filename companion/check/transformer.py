"""Checks for the exercises of the Transformer chapter (book/07_transformer.ipynb).

- `causal_mask(fn)`: fn(T) -> (T, T) bool, True where query i may attend to key j <= i.
- `sinusoidal_positions(fn)`: fn(num_positions, d_model) -> Vaswani et al.'s table.
- `layer_norm(fn)`: fn(x, weight, bias, eps=1e-5) -> nn.LayerNorm's output, written by hand.
- `block_params(fn)`: fn(d_model, d_ff) -> the parameters of one Transformer block.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from companion import transformer as TF

from ._core import Hint, close, exercise, expect_tensor, forbid

__all__ = ["causal_mask", "sinusoidal_positions", "layer_norm", "block_params"]


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------ the causal mask
@exercise
def causal_mask(fn):
    """Exercise: the causal mask in F.scaled_dot_product_attention's convention."""
    for T in (4, 7, 1):
        got = fn(T)
        expect_tensor(got, (T, T), f"your mask for T = {T}")
        want = TF.causal_mask(T)
        if got.dtype != torch.bool:
            if got.dtype.is_floating_point and torch.equal(
                    got, torch.zeros(T, T).masked_fill(~want, float("-inf"))):
                raise Hint("that is the additive float mask (0 or -inf); this exercise "
                           "asks for the bool mask, True where i may attend to j.")
            raise Hint(f"return a bool tensor (True = may attend); got {got.dtype}.")
        if torch.equal(got, want):
            continue
        if torch.equal(got, want & ~torch.eye(T, dtype=torch.bool)):
            raise Hint("a position may attend to itself too (j = i): the diagonal is True. "
                       "Without it, position 0 has nothing to attend to.")
        if torch.equal(got, ~want):
            raise Hint("True marks what is blocked in your mask: that is "
                       "nn.MultiheadAttention's convention. Here True means 'may attend', "
                       "as in F.scaled_dot_product_attention.")
        if torch.equal(got, want.T):
            raise Hint("your mask lets each position see the future and not the past: "
                       "row i (the query) may attend to columns j <= i.")
        raise Hint(f"for T = {T}, row i should be True in columns 0 … i and False after.")
    return "True exactly where j <= i, for T = 4, 7 and 1."


# ------------------------------------------------------------------ positions
def _positions(P, d, shift=0, base=10000.0, swap=False, halves=False, by_i=False):
    p = torch.arange(P, dtype=torch.float64)[:, None] + shift
    i = torch.arange(d // 2, dtype=torch.float64)
    angle = p / base ** ((i if by_i else 2 * i) / d)                 # (P, d/2)
    first, second = (angle.cos(), angle.sin()) if swap else (angle.sin(), angle.cos())
    if halves:
        return torch.cat([first, second], dim=1)
    return torch.stack([first, second], dim=2).flatten(1)            # interleaved


@exercise
def sinusoidal_positions(fn):
    """Exercise: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(same)."""
    P, d = 20, 8
    got = fn(P, d)
    expect_tensor(got, (P, d), f"your table for {P} positions and d_model = {d}")
    want = _positions(P, d)
    if close(got, want):
        for P2, d2 in ((5, 2), (64, 32)):
            if not close(fn(P2, d2), _positions(P2, d2)):
                raise Hint(f"right for ({P}, {d}) but not for ({P2}, {d2}): use the "
                           f"arguments, not fixed sizes.")
        return ("equal to Vaswani et al.'s table for (20, 8), (5, 2) and (64, 32): sines "
                "in the even columns, cosines in the odd ones.")
    mistakes = [
        (dict(swap=True), "sines and cosines are swapped: the even columns (0, 2, …) "
                          "hold the sines, the odd ones the cosines."),
        (dict(halves=True), "the sines fill the first half and the cosines the second; the "
                            "paper interleaves them: column 2i a sine, column 2i + 1 its "
                            "cosine."),
        (dict(by_i=True), "the exponent is 2i/d, where 2i is the even column index (0, 2, "
                          "4, …), not i/d."),
        (dict(shift=1), "positions start at 0: the first row is sin(0) = 0, cos(0) = 1."),
    ]
    for kwargs, hint in mistakes:
        if close(got, _positions(P, d, **kwargs)):
            raise Hint(hint)
    if close(got, _positions(P, d, base=1 / 10000)):
        raise Hint("divide the position by 10000^(2i/d), do not multiply: the "
                   "wavelengths grow from 2π to almost 10000 · 2π across the columns.")
    raise Hint("PE[p, 2i] = sin(p / 10000^(2i/d)) and PE[p, 2i+1] = cos(p / 10000^(2i/d)), "
               "p = 0 … num_positions - 1. Compare your row 1 with the formula.")


# ------------------------------------------------------------------ LayerNorm
@exercise
def layer_norm(fn):
    """Exercise: LayerNorm of the last dimension by hand, as nn.LayerNorm computes it."""
    g = _gen(1)
    x = torch.randn(3, 5, 6, generator=g, dtype=torch.float64) * 3 + 1   # (batch, T, d)
    x[0, 0] = 2 + 1e-3 * x[0, 0]                      # a nearly constant vector: eps matters
    weight = torch.randn(6, generator=g, dtype=torch.float64)
    bias = torch.randn(6, generator=g, dtype=torch.float64)
    with forbid((F, "layer_norm"), (torch, "layer_norm"), (nn, "LayerNorm"),
                hint="{name} does the whole exercise; compute the mean and the variance "
                     "yourself."):
        got = fn(x, weight, bias, 1e-5)
    expect_tensor(got, x.shape, "your output")
    want = F.layer_norm(x, (6,), weight, bias, 1e-5)
    if close(got, want):
        return ("equal to nn.LayerNorm(6) for inputs of shape (3, 5, 6), with a random "
                "weight and bias.")
    mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
    x_hat = (x - mean) / torch.sqrt(var + 1e-5)
    unbiased = (x - mean) / torch.sqrt(x.var(-1, keepdim=True) + 1e-5)
    if close(got, unbiased * weight + bias):
        raise Hint("LayerNorm divides the squared deviations by n, not n - 1: use "
                   "x.var(-1, unbiased=False) (or correction=0).")
    if close(got, x_hat):
        raise Hint("the normalisation is right; then scale by weight and shift by bias.")
    over_batch = (x - x.mean(0, keepdim=True)) / torch.sqrt(
        x.var(0, unbiased=False, keepdim=True) + 1e-5)
    if close(got, over_batch * weight + bias):
        raise Hint("you normalise each feature over the batch: that is BatchNorm. "
                   "LayerNorm normalises each vector over its own features, the last axis.")
    if close(got, (x - mean) / (torch.sqrt(var) + 1e-5) * weight + bias, tol=1e-7):
        raise Hint("eps goes inside the square root: sqrt(var + eps).")
    raise Hint("for each vector (last axis): subtract its mean, divide by sqrt(its variance "
               "+ eps), then multiply by weight and add bias.")


# ------------------------------------------------------------------ parameter count
@exercise
def block_params(fn):
    """Exercise: a function (d_model, d_ff) -> the parameters of one TransformerBlock."""
    for d, d_ff in ((64, 256), (16, 24), (512, 2048)):
        got = fn(d, d_ff)
        if torch.is_tensor(got):
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            raise Hint(f"return a number; got {type(got).__name__}.")
        block = TF.TransformerBlock(d, 4 if d >= 16 else 1, d_ff)
        want = sum(p.numel() for p in block.parameters())
        if got == want:
            continue
        attention = 4 * d * d + 4 * d
        feed_forward = 2 * d * d_ff + d_ff + d
        if got == want - 4 * d:
            raise Hint("count the two LayerNorms too: each has a weight and a bias of "
                       "d_model numbers.")
        if got == 4 * d * d + 2 * d * d_ff:
            raise Hint("count the biases too: the attention's input and output "
                       "projections have them, and so do both linear layers.")
        if got in (want - d * d, want - d * d - d):
            raise Hint("the attention has four d_model × d_model matrices: W_Q, W_K, W_V "
                       "(stacked in in_proj_weight) and the output projection W_O.")
        if got == want - feed_forward + 8 * d * d + 4 * d + d:
            raise Hint("use d_ff for the feed-forward width; it is often 4 · d_model, "
                       "but not always.")
        raise Hint(f"d_model = {d}, d_ff = {d_ff}: got {got:,}. A block has self-attention "
                   f"({attention:,} here), a feed-forward network of two linear layers and "
                   f"two LayerNorms.")
    return ("the counts for (64, 256), (16, 24) and (512, 2048) agree with "
            "nn.TransformerEncoderLayer's.")
