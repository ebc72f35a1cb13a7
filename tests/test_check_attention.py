"""The exercise checks of the attention chapter: each accepts the reference
solution (the one the book shows), reports a stub as not done yet, and
rejects typical wrong answers with the right hint."""
import pytest
import torch
import torch.nn.functional as F

from companion import attention as A
from companion import check

from test_solutions import assert_hint, solutions

BOOK = solutions("06_attention")   # as the notebook shows them


# ---------------------------------------------------------------- softmax
my_masked_softmax = BOOK["my_masked_softmax"]     # the book's solution


def test_masked_softmax_accepts_the_solution_and_the_companions():
    result = check.masked_softmax(my_masked_softmax)
    assert result.passed, result
    assert "finite" in result.message
    assert check.masked_softmax(A.masked_softmax).passed


def test_masked_softmax_rejects_typical_mistakes():
    assert_hint(check.masked_softmax(lambda s, m: s.softmax(-1)),
                "changed nothing")
    assert_hint(check.masked_softmax(
        lambda s, m: s.masked_fill(~m, 0).softmax(-1)), "e^0 = 1")
    assert_hint(check.masked_softmax(lambda s, m: s.softmax(-1) * m),
                "no longer sum to 1")
    assert_hint(check.masked_softmax(lambda s, m: my_masked_softmax(s, ~m)),
                "True means")
    assert_hint(check.masked_softmax(
        lambda s, m: s.masked_fill(~m, float("-inf")).softmax(-1)),
        "gives nan")
    assert_hint(check.masked_softmax(
        lambda s, m: s.masked_fill(~m, -1e9).softmax(-1)), "all zeros")
    assert check.masked_softmax(                     # masked_fill's backward
        lambda s, m: s.masked_fill(~m, float("-inf")).softmax(-1)
        .nan_to_num(0.0)).passed                     # stops the nan: right

    def adds_minus_inf(scores, mask):                # nan flows back
        minus_inf = torch.zeros(mask.shape).masked_fill(~mask, -float("inf"))
        return (scores + minus_inf).softmax(-1).nan_to_num(0.0)
    assert_hint(check.masked_softmax(adds_minus_inf), "gradient has nan")

    def overflows(scores, mask):                     # e^z without the max
        e = scores.exp() * mask
        return e / e.sum(-1, keepdim=True).clamp_min(1e-30)
    assert_hint(check.masked_softmax(overflows), "overflows")


# ------------------------------------------------------------------- SDPA
my_attention = BOOK["my_attention"]               # the book's solution


def scaled(scale, dim=-1, invert=False, ignore_mask=False):
    def attention(Q, K, V, mask=None):
        scores = Q @ K.transpose(-2, -1) * scale(Q, V)
        if mask is not None and not ignore_mask:
            scores = scores.masked_fill(mask if invert else ~mask, -1e9)
        return scores.softmax(dim=dim) @ V
    return attention


def test_sdpa_accepts_the_solution():
    result = check.scaled_dot_product_attention(my_attention)
    assert result.passed, result
    with_companion = lambda Q, K, V, mask=None: A.masked_softmax(
        Q @ K.transpose(-2, -1) / 8 ** 0.5, mask) @ V
    assert check.scaled_dot_product_attention(with_companion).passed


def test_sdpa_rejects_typical_mistakes():
    root_k = lambda Q, V: Q.shape[-1] ** -0.5
    cases = [(scaled(lambda Q, V: 1.0), "not scaled"),
             (scaled(lambda Q, V: 1 / Q.shape[-1]), "not by d_k"),
             (scaled(lambda Q, V: V.shape[-1] ** -0.5), "not of the values"),
             (scaled(root_k, dim=-2), "keys' axis"),
             (scaled(root_k, invert=True), "True means"),
             (scaled(root_k, ignore_mask=True), "made no difference")]
    for answer, words in cases:
        assert_hint(check.scaled_dot_product_attention(answer), words)
    assert_hint(check.scaled_dot_product_attention(
        lambda Q, K, V, mask=None: Q @ K.transpose(-2, -1)), "shape")


def test_sdpa_refuses_pytorchs_own_and_restores_it():
    theirs = lambda Q, K, V, mask=None: F.scaled_dot_product_attention(
        Q, K, V, attn_mask=mask)
    assert_hint(check.scaled_dot_product_attention(theirs), "whole answer")
    ours = lambda Q, K, V, mask=None: A.scaled_dot_product_attention(
        Q, K, V, attn_mask=mask)
    assert_hint(check.scaled_dot_product_attention(ours), "whole answer")
    q = torch.randn(1, 2, 4)
    assert F.scaled_dot_product_attention(q, q, q).shape == (1, 2, 4)
    assert A.scaled_dot_product_attention(q, q, q).shape == (1, 2, 4)


# ------------------------------------------------------------ split heads
my_split_heads = BOOK["my_split_heads"]           # the book's solution


def test_split_heads_accepts_the_solution_and_restores_the_companion():
    saved = A.split_heads
    result = check.split_heads(my_split_heads)
    assert result.passed, result
    assert "nn.MultiheadAttention" in result.message
    assert A.split_heads is saved


def test_split_heads_rejects_typical_mistakes():
    def straight_view(x, h):
        b, s, E = x.shape
        return x.reshape(b, h, s, E // h)

    def interleaved(x, h):
        b, s, E = x.shape
        return x.reshape(b, s, E // h, h).permute(0, 3, 1, 2)

    def no_transpose(x, h):
        b, s, E = x.shape
        return x.reshape(b, s, h, E // h)
    assert_hint(check.split_heads(straight_view), "mixing positions")
    assert_hint(check.split_heads(interleaved), "contiguous block")
    assert_hint(check.split_heads(no_transpose), "heads axis should come")
    assert_hint(check.split_heads(lambda x, h: x), "shape")
