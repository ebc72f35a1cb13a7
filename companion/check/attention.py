"""Checks for the exercises of the attention chapter (book/06_attention.ipynb).

- `masked_softmax(fn)`: fn(scores, mask) -> weights, 0 where mask is False,
  summing to 1 elsewhere; zeros (and finite gradients) for a row with
  nothing to attend to.
- `scaled_dot_product_attention(fn)`: fn(Q, K, V, mask=None) ->
  softmax(QKᵀ/√d_k) V, with a bool mask (True = may attend).
- `split_heads(fn)`: fn(x, num_heads) -> (batch, heads, seq, d).
"""
import torch
import torch.nn.functional as F
from torch import nn

from companion import attention as A

from ._core import Hint, close, exercise, expect_tensor, forbid, patched

__all__ = ["masked_softmax", "scaled_dot_product_attention", "split_heads"]


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- softmax
@exercise
def masked_softmax(fn):
    """Exercise: a softmax over the positions where the mask is True."""
    def weights_of(fn, scores, mask):
        got = fn(scores, mask)
        expect_tensor(got, scores.shape, "your weights")
        return got

    g = _gen(0)
    scores = torch.randn(2, 3, 5, generator=g) * 2     # (batch, T, S)
    mask = torch.tensor([[True, True, True, False, False],
                         [True, False, True, True, True]])[:, None]
    got = weights_of(fn, scores, mask)                 # mask (2, 1, 5)
    want = A.masked_softmax(scores, mask)
    if not torch.isfinite(got).all():
        raise Hint("your weights contain inf or nan although every row "
                   "has positions it may attend to.")
    if close(got, A.masked_softmax(scores, ~mask)):
        raise Hint("you attend where the mask is False: here True means "
                   "'may attend' (as in F.scaled_dot_product_attention).")
    if close(got, scores.softmax(-1)):
        raise Hint("the mask changed nothing: masked positions must get "
                   "weight 0.")
    if close(got, scores.masked_fill(~mask, 0).softmax(-1)):
        raise Hint("masked positions still get weight: a score of 0 is "
                   "not 'nothing', since e^0 = 1. A masked position "
                   "must add 0 to the softmax's sum.")
    if (got.masked_select(~mask.expand_as(got)).abs().max() > 1e-6
            and not close(got, want)):
        raise Hint("positions where the mask is False get weight; they "
                   "should get exactly 0.")
    if close(got, scores.softmax(-1) * mask):
        raise Hint("masked positions get 0, but the other weights no "
                   "longer sum to 1: the softmax must run over the "
                   "allowed positions only.")
    if not close(got, want):
        raise Hint("the weights of the allowed positions should equal a "
                   "softmax over those positions alone; compare one row "
                   "with scores[0, 0, :3].softmax(-1).")
    # a query that may attend to nothing, with gradients
    scores = torch.randn(1, 2, 4, generator=g, requires_grad=True)
    empty = torch.tensor([[[True, True, False, False],
                           [False, False, False, False]]])
    got = weights_of(fn, scores, empty)                # mask (1, 2, 4)
    if torch.isnan(got[0, 1]).any():
        raise Hint("a row with nothing to attend to gives nan (the "
                   "softmax of a row of -inf is 0/0). Return all zeros "
                   "for such a row.")
    if not close(got[0, 1], torch.zeros(4)):
        raise Hint("a row with nothing to attend to should get all "
                   "zeros, not weights that sum to 1 (a large negative "
                   "number instead of -inf still spreads weight evenly "
                   "when every position has it).")
    if not close(got.detach(), A.masked_softmax(scores.detach(), empty)):
        raise Hint("a batch with a fully masked row changes your other "
                   "rows' weights; each row is a softmax of its own.")
    (got * torch.arange(1.0, 9.0).view(1, 2, 4)).sum().backward()
    if scores.grad is None or not torch.isfinite(scores.grad).all():
        raise Hint("the forward pass is right, but the gradient has nan "
                   "in the fully masked row: softmax's backward of a row "
                   "of -inf is 0/0 too, and nan spreads into every "
                   "weight it touches. Make sure no gradient flows "
                   "back through a softmax of a row that is all -inf.")
    # large scores
    big = torch.tensor([[[1e4, 0.0, -1e4], [5e3, 5e3, 0.0]]])
    allowed = torch.tensor([[[True, True, True]]])
    got = weights_of(fn, big, allowed)
    if not torch.isfinite(got).all():
        raise Hint("scores of 1e4 give inf or nan: e^z overflows above "
                   "z ≈ 88 in float32. Subtract each row's largest "
                   "score first (softmax does not change).")
    if not close(got, A.masked_softmax(big, allowed)):
        raise Hint("scores of ±1e4 give the wrong weights; the largest "
                   "score should take (nearly) all the weight.")
    return ("weights 0 where masked and summing to 1 elsewhere; a row "
            "with nothing to attend to gets zeros with finite "
            "gradients; exact for scores of ±1e4.")


# ------------------------------------------------------------------- SDPA
def _without_library_attention():
    """PyTorch's (and the companion's) attention raise a hint."""
    return forbid((F, "scaled_dot_product_attention"),
                  (A, "scaled_dot_product_attention"), (A, "attention_weights"),
                  hint="that function computes the whole answer; write it from "
                       "matrix products, a scale and a softmax.")


@exercise
def scaled_dot_product_attention(fn):
    """Exercise: softmax(QKᵀ/√d_k) V with a bool mask (True = attend)."""
    def output_of(fn, Q, K, V, mask):
        with _without_library_attention():
            got = fn(Q, K, V) if mask is None else fn(Q, K, V, mask)
        expect_tensor(got, (*Q.shape[:-1], V.shape[-1]), "your output")
        return got

    def sdpa(Q, K, V, mask=None, scale=None):
        return A.scaled_dot_product_attention(Q, K, V, attn_mask=mask,
                                              scale=scale)
    g = _gen(1)
    Q = torch.randn(2, 4, 8, generator=g)              # (batch, L, d_k)
    K = torch.randn(2, 6, 8, generator=g)              # (batch, S, d_k)
    V = torch.randn(2, 6, 3, generator=g)              # (batch, S, d_v)
    got = output_of(fn, Q, K, V, None)
    d_k, d_v = Q.shape[-1], V.shape[-1]
    if close(got, sdpa(Q, K, V, scale=1.0)):
        raise Hint("the scores are not scaled: divide them by √d_k, "
                   "the width of the queries and keys.")
    if close(got, sdpa(Q, K, V, scale=1 / d_k)):
        raise Hint("divide the scores by √d_k, not by d_k.")
    if close(got, sdpa(Q, K, V, scale=d_v ** -0.5)):
        raise Hint("d_k is the width of the queries and keys "
                   "(Q.shape[-1]), not of the values.")
    scores = Q @ K.transpose(-2, -1) / d_k ** 0.5      # (batch, L, S)
    if close(got, scores.softmax(-2) @ V):
        raise Hint("each query's weights over the keys must sum to 1: "
                   "take the softmax along the keys' axis (the last).")
    if not close(got, sdpa(Q, K, V)):
        raise Hint("without a mask your output differs from "
                   "F.scaled_dot_product_attention(Q, K, V).")
    mask = torch.rand(4, 6, generator=g) > 0.5         # (L, S)
    mask[:, 0] = True                                  # none empty
    got = output_of(fn, Q, K, V, mask)
    if close(got, sdpa(Q, K, V)):
        raise Hint("the mask made no difference: positions where it is "
                   "False must get weight 0.")
    if close(got, sdpa(Q, K, V, ~mask)):
        raise Hint("you attend where the mask is False: True means "
                   "'may attend', as in F.scaled_dot_product_attention "
                   "(nn.MultiheadAttention reads it the other way).")
    if not close(got, sdpa(Q, K, V, mask)):
        raise Hint("with a mask your output differs from "
                   "F.scaled_dot_product_attention(Q, K, V, "
                   "attn_mask=mask).")
    return ("equal to F.scaled_dot_product_attention with and without a "
            "mask (L = 4 queries, S = 6 keys, d_k = 8, d_v = 3).")


# ------------------------------------------------------------ split heads
@exercise
def split_heads(fn):
    """Exercise: (batch, seq, E) -> (batch, heads, seq, E / heads)."""
    x = torch.randn(2, 5, 12, generator=_gen(2))       # (batch, seq, E)
    for h in (3, 4, 1):
        d = 12 // h
        got = fn(x.clone(), h)
        if torch.is_tensor(got) and tuple(got.shape) == (2, 5, h, d) \
                and h > 1:
            raise Hint(f"with {h} heads the shape is (2, 5, {h}, {d}): "
                       f"the heads axis should come second, (batch, "
                       f"heads, seq, d), so that each head is a batch "
                       f"of its own (seq, d) matrices.")
        expect_tensor(got, (2, h, 5, d), f"split_heads(x, {h})")
        if close(got, A.split_heads(x, h)):
            continue
        if close(got, x.reshape(2, h, 5, d)):
            raise Hint("the right shape, but the wrong numbers: a "
                       "reshape straight to (batch, heads, seq, d) "
                       "cuts the memory of the whole sequence into "
                       "heads, mixing positions. Each position's "
                       "features must stay together first.")
        if close(got, x.reshape(2, 5, d, h).permute(0, 3, 1, 2)):
            raise Hint("your heads take every h-th feature; head i "
                       "should take a contiguous block, features "
                       "i·d … (i+1)·d − 1 (that is how "
                       "nn.MultiheadAttention groups its weights).")
        raise Hint(f"with {h} heads, head i at position s should "
                   f"hold x[:, s, i*d:(i+1)*d]; yours does not.")
    torch.manual_seed(0)                               # in a real layer
    theirs = nn.MultiheadAttention(12, 3, batch_first=True)
    ours = A.MultiHeadAttention(12, 3, batch_first=True)
    ours.load_state_dict(theirs.state_dict())
    with patched(A, "split_heads", fn), torch.no_grad():
        out = ours(x, x, x)[0]
    if not close(out, theirs(x, x, x)[0], tol=1e-5):
        raise Hint("your function gives the right heads here but not "
                   "inside MultiHeadAttention.")
    return ("the right (batch, heads, seq, d) for 1, 3 and 4 heads; "
            "with it, the companion's MultiHeadAttention equals "
            "nn.MultiheadAttention.")
