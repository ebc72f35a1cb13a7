"""Attention from scratch: a masked softmax, Luong's and Bahdanau's
attention, scaled dot-product and multi-head attention.

Attention weights are not parameters: they are a softmax over scores,
recomputed for every input and every output step. The parameters are the
few matrices inside a score function.

- `masked_softmax(scores, mask)`: softmax where `mask` is True; masked
  positions get exactly 0.
- `DotScore`, `GeneralScore`, `ConcatScore`: Luong et al. (2015)'s scores.
- `LuongAttention(query_size, key_size, score, mode, window)`: global,
  local-m or local-p attention.
- `AdditiveAttention`: Bahdanau et al. (ICLR 2015); the query is the previous
  decoder state.
- `scaled_dot_product_attention(q, k, v, ...)`: softmax(QKᵀ/√d_k) V, like
  PyTorch's; `attention_weights` is its softmax part.
- `split_heads`, `merge_heads` and `MultiHeadAttention`, which has
  nn.MultiheadAttention's parameters, so its `state_dict` loads strictly.

The chapter's explorer of the division by √d_k (`softmax_explorer`) is in
companion/show/attention.py.

Masks in this module (and in SDPA): True = attend. nn.MultiheadAttention's
masks: True = masked out; `MultiHeadAttention` follows nn.MultiheadAttention
there. Used in: book/06_attention.ipynb, book/07_transformer.ipynb
(`MultiHeadAttention`); `seq2seq`, `transformer`; tests/test_attention.py.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import dtype_of as _dtype
from ._validate import shape_of as _shape

SCORES = ("dot", "general", "concat")
MODES = ("global", "local-m", "local-p")


def _check_bool_mask(mask, expected, name):
    """A bool mask that broadcasts to `expected` (a shape), or a ValueError."""
    if not torch.is_tensor(mask) or mask.dtype != torch.bool:
        raise ValueError(f"{name} must be a bool tensor (True = attend); "
                         f"got {_dtype(mask)}")
    try:
        torch.broadcast_shapes(mask.shape, expected)
    except RuntimeError:
        raise ValueError(f"{name} of shape {tuple(mask.shape)} does not "
                         f"broadcast to the scores' shape {tuple(expected)}"
                         ) from None


def masked_softmax(scores, mask=None, dim=-1):
    """Softmax of `scores` along `dim`, only where `mask` is True.

    Masked positions get weight exactly 0 and the others sum to 1; a row
    with nothing to attend to gets all zeros (not NaN). `mask`: a bool
    tensor that broadcasts to `scores`.
    """
    if mask is None:
        return scores.softmax(dim)
    _check_bool_mask(mask, scores.shape, "mask")
    scores = scores.masked_fill(~mask, float("-inf"))
    top = scores.amax(dim, keepdim=True).detach()     # the row's largest
    top = top.clamp_min(torch.finfo(scores.dtype).min)   # -inf row: finite
    exp = (scores - top).exp()                        # 0 where masked
    total = exp.sum(dim, keepdim=True)                # 0 for an empty row
    return exp / total.clamp_min(torch.finfo(scores.dtype).tiny)


def _check_qk(query, keys, query_size, key_size):
    if (not torch.is_tensor(query) or query.dim() != 3
            or query.shape[-1] != query_size):
        raise ValueError(f"query must have shape (batch, steps, "
                         f"{query_size}); got {_shape(query)}")
    if (not torch.is_tensor(keys) or keys.dim() != 3
            or keys.shape[-1] != key_size):
        raise ValueError(f"keys must have shape (batch, source, "
                         f"{key_size}); got {_shape(keys)}")
    if query.shape[0] != keys.shape[0]:
        raise ValueError(f"query and keys have different batch sizes: "
                         f"{query.shape[0]} vs {keys.shape[0]}")


# -- Luong's score functions: query (batch, T, query_size) and keys
#    (batch, S, key_size) -> scores (batch, T, S)
class DotScore(nn.Module):
    """score(h_t, h̄_s) = h_tᵀ h̄_s. No parameters; sizes must agree."""

    def __init__(self, query_size, key_size):
        super().__init__()
        if query_size != key_size:
            raise ValueError(f"the dot score needs query_size == key_size; "
                             f"got {query_size} and {key_size} (use the "
                             f"general or concat score)")
        self.query_size = self.key_size = query_size

    def forward(self, query, keys):
        return query @ keys.transpose(1, 2)               # (batch, T, S)


class GeneralScore(nn.Module):
    """score(h_t, h̄_s) = h_tᵀ W_a h̄_s."""

    def __init__(self, query_size, key_size):
        super().__init__()
        self.query_size, self.key_size = query_size, key_size
        self.W_a = nn.Linear(key_size, query_size, bias=False)

    def forward(self, query, keys):
        return query @ self.W_a(keys).transpose(1, 2)     # (batch, T, S)


class ConcatScore(nn.Module):
    """score(h_t, h̄_s) = v_aᵀ tanh(W_a [h_t; h̄_s]), computed as
    v_aᵀ tanh(W_q h_t + W_k h̄_s) (W_a split into its two halves).

    Bahdanau et al.'s additive score is the same function (there the query
    is the previous decoder state s_{t-1}).
    """

    def __init__(self, query_size, key_size, attn_size=None):
        super().__init__()
        self.query_size, self.key_size = query_size, key_size
        attn_size = attn_size or query_size
        self.W_q = nn.Linear(query_size, attn_size, bias=False)
        self.W_k = nn.Linear(key_size, attn_size, bias=False)
        self.v_a = nn.Linear(attn_size, 1, bias=False)

    def forward(self, query, keys):
        q = self.W_q(query)[:, :, None]                   # (batch, T, 1, A)
        k = self.W_k(keys)[:, None]                       # (batch, 1, S, A)
        return self.v_a(torch.tanh(q + k)).squeeze(-1)    # (batch, T, S)


def make_score(score, query_size, key_size):
    """The score module for a name: "dot", "general" or "concat"."""
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}; choose one of "
                         f"{', '.join(SCORES)}")
    kinds = {"dot": DotScore, "general": GeneralScore, "concat": ConcatScore}
    return kinds[score](query_size, key_size)


def _check_padding_mask(mask, keys):
    if (not torch.is_tensor(mask) or mask.dtype != torch.bool
            or mask.shape != keys.shape[:2]):
        raise ValueError(f"mask must be a bool tensor of shape (batch, "
                         f"source) = {tuple(keys.shape[:2])}, True at real "
                         f"tokens; got {_shape(mask)} {_dtype(mask)}")


def _attend(score, query, keys, values, mask, window=None, factor=None):
    """scores -> masked softmax (times a factor) -> weighted sum of values.

    mask (batch, S): True at real tokens; window (batch, T, S): True inside
    local attention's window; factor (batch, T, S): local-p's Gaussian.
    """
    values = keys if values is None else values
    if not torch.is_tensor(values) or values.shape[:2] != keys.shape[:2]:
        raise ValueError(f"values must have shape (batch, source, ...) like "
                         f"keys {tuple(keys.shape[:2])}; got {_shape(values)}")
    scores = score(query, keys)                       # (batch, T, S)
    allowed = None
    if mask is not None:
        _check_padding_mask(mask, keys)
        allowed = mask[:, None, :]                    # (batch, 1, S)
    if window is not None:
        allowed = window if allowed is None else allowed & window
    weights = masked_softmax(scores, allowed)         # (batch, T, S)
    if factor is not None:
        weights = weights * factor
    return weights @ values, weights      # (batch, T, value), (batch, T, S)


class LuongAttention(nn.Module):
    """Luong et al. (2015): global attention over all source positions, or
    local attention over the window [p_t - D, p_t + D].

    mode "global": every (unmasked) source position. "local-m": p_t = t,
    the output step. "local-p": p_t = S · sigmoid(v_pᵀ tanh(W_p h_t)) is
    predicted (S the source length) and the weights are multiplied by
    exp(-(s - p_t)² / 2σ²), σ = D / 2.
    forward(query (batch, T, query_size), keys (batch, S, key_size),
    values=None, mask=None (batch, S) True at real tokens, offset=0 the
    step index of query[:, 0]) -> context (batch, T, value_size) and
    weights (batch, T, S).
    """

    def __init__(self, query_size, key_size=None, score="dot",
                 mode="global", window=None):
        super().__init__()
        key_size = key_size or query_size
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of "
                             f"{', '.join(MODES)}")
        if mode == "global" and window is not None:
            raise ValueError("global attention takes no window; use "
                             "mode='local-m' or 'local-p'")
        if mode != "global":
            least = 1 if mode == "local-p" else 0
            if isinstance(window, bool) or not isinstance(window, int):
                raise ValueError(f"{mode} attention needs an integer window "
                                 f"D >= {least}; got {window!r}")
            if window < least:
                raise ValueError(f"window D must be >= {least} for {mode} "
                                 f"(σ = D/2); got {window}")
        self.score_name, self.mode, self.window = score, mode, window
        self.query_size, self.key_size = query_size, key_size
        self.score = make_score(score, query_size, key_size)
        if mode == "local-p":
            self.W_p = nn.Linear(query_size, query_size, bias=False)
            self.v_p = nn.Linear(query_size, 1, bias=False)

    def __repr__(self):
        window = "" if self.window is None else f", window={self.window}"
        return (f"LuongAttention(query_size={self.query_size}, "
                f"key_size={self.key_size}, score='{self.score_name}', "
                f"mode='{self.mode}'{window})")

    def centres(self, query, lengths, offset=0):
        """p_t for every step, (batch, T): t for local-m, in [0, S] for
        local-p (S = lengths, the real length of each source)."""
        batch, T = query.shape[:2]
        if self.mode == "local-m":
            steps = torch.arange(offset, offset + T, device=query.device)
            return steps.to(query.dtype).expand(batch, T)
        if self.mode == "local-p":
            hidden = torch.tanh(self.W_p(query))           # (batch, T, H)
            gate = torch.sigmoid(self.v_p(hidden)).squeeze(-1)
            return lengths.to(query.dtype)[:, None] * gate  # (batch, T)
        raise ValueError("global attention has no centre p_t")

    def forward(self, query, keys, values=None, mask=None, offset=0):
        _check_qk(query, keys, self.query_size, self.key_size)
        if self.mode == "global":
            return _attend(self.score, query, keys, values, mask)
        batch, S = keys.shape[:2]
        lengths = (mask.sum(1) if mask is not None
                   else torch.full((batch,), S, device=keys.device))
        p = self.centres(query, lengths, offset)[:, :, None]  # (batch, T, 1)
        s = torch.arange(S, device=keys.device, dtype=query.dtype)  # (S,)
        window = (s - p).abs() <= self.window             # (batch, T, S)
        gauss = None
        if self.mode == "local-p":
            sigma = self.window / 2
            gauss = torch.exp(-(s - p) ** 2 / (2 * sigma ** 2))
        return _attend(self.score, query, keys, values, mask, window, gauss)


class AdditiveAttention(nn.Module):
    """Bahdanau et al. (2014): e_ts = v_aᵀ tanh(W_q s_{t-1} + W_k h_s),
    softmax over s.

    The query is the decoder's previous state s_{t-1}; the context then goes
    into the decoder's next step. forward(query, keys, values=None,
    mask=None) -> (context, weights) as in LuongAttention.
    """

    def __init__(self, query_size, key_size=None, attn_size=None):
        super().__init__()
        key_size = key_size or query_size
        self.query_size, self.key_size = query_size, key_size
        self.score = ConcatScore(query_size, key_size, attn_size)

    def __repr__(self):
        return (f"AdditiveAttention(query_size={self.query_size}, "
                f"key_size={self.key_size})")

    def forward(self, query, keys, values=None, mask=None):
        _check_qk(query, keys, self.query_size, self.key_size)
        return _attend(self.score, query, keys, values, mask)


# -- scaled dot-product and multi-head attention ---------------------------
def _check_sdpa(q, k, v=None):
    if (not torch.is_tensor(q) or not torch.is_tensor(k) or q.dim() < 2
            or k.dim() < 2):
        raise ValueError(f"query and key must be tensors of shape "
                         f"(..., L, E) and (..., S, E); got {_shape(q)} "
                         f"and {_shape(k)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"query and key must end in the same size E; got "
                         f"{tuple(q.shape)} and {tuple(k.shape)}")
    if v is not None and (not torch.is_tensor(v) or v.dim() < 2
                          or v.shape[-2] != k.shape[-2]):
        raise ValueError(f"value must have shape (..., S, Ev) with the "
                         f"key's S; got key {_shape(k)} and value "
                         f"{_shape(v)}")


def _check_attn_mask(mask, scores):
    if not torch.is_tensor(mask) or not (mask.dtype == torch.bool
                                         or mask.dtype.is_floating_point):
        raise ValueError(f"attn_mask must be bool (True = attend) or float "
                         f"(added to the scores); got {_dtype(mask)}")
    try:
        torch.broadcast_shapes(mask.shape, scores.shape)
    except RuntimeError:
        raise ValueError(f"attn_mask of shape {tuple(mask.shape)} does not "
                         f"broadcast to the scores' shape (..., L, S) = "
                         f"{tuple(scores.shape)}") from None


def attention_weights(q, k, attn_mask=None, is_causal=False, scale=None):
    """softmax(q kᵀ · scale + mask), of shape (..., L, S).

    attn_mask: bool (True = attend) or float (added to the scores).
    """
    _check_sdpa(q, k)
    if scale is None:
        scale = 1 / math.sqrt(q.shape[-1])            # 1 / √d_k
    scores = q @ k.transpose(-2, -1) * scale          # (..., L, S)
    if is_causal:
        if attn_mask is not None:
            raise ValueError("pass either attn_mask or is_causal=True, "
                             "not both")
        L, S = scores.shape[-2:]
        attn_mask = torch.ones(L, S, dtype=torch.bool,
                               device=q.device).tril()  # query i: keys ≤ i
    if attn_mask is None:
        return scores.softmax(-1)
    _check_attn_mask(attn_mask, scores)
    if attn_mask.dtype == torch.bool:
        return masked_softmax(scores, attn_mask)
    scores = scores + attn_mask
    return masked_softmax(scores, scores > float("-inf"))  # -inf: masked


def scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=False,
                                 scale=None):
    """softmax(q kᵀ / √E + mask) v, as F.scaled_dot_product_attention.

    q (..., L, E), k (..., S, E), v (..., S, Ev) -> (..., L, Ev).
    attn_mask: bool, True = attend, or float, added to the scores;
    is_causal: query i sees keys 0..i; scale: instead of 1/√E. A query that
    may attend to nothing gets zeros. No dropout.
    """
    _check_sdpa(q, k, v)
    weights = attention_weights(q, k, attn_mask, is_causal, scale)
    return weights @ v                                # (..., L, Ev)


def split_heads(x, num_heads):
    """(batch, seq, E) -> (batch, heads, seq, E / heads): head i gets
    features i·d … (i+1)·d - 1 of every position."""
    batch, seq, E = x.shape
    x = x.view(batch, seq, num_heads, E // num_heads)  # (batch, seq, h, d)
    return x.transpose(1, 2)                           # (batch, h, seq, d)


def merge_heads(x):
    """(batch, heads, seq, d) -> (batch, seq, heads · d), undoing
    split_heads."""
    batch, heads, seq, d = x.shape
    return x.transpose(1, 2).reshape(batch, seq, heads * d)


class MultiHeadAttention(nn.Module):
    """Multi-head attention with nn.MultiheadAttention's parameters and
    masks (no dropout).

    in_proj_weight (3E, E) stacks W_q, W_k, W_v; out_proj is a Linear(E, E).
    Each of the h heads attends in its own E/h-dimensional slice, then the
    heads are concatenated and projected.
    forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False) ->
    (output, weights or None). key_padding_mask (batch, S) and attn_mask
    (L, S) or (batch * h, L, S): True = NOT allowed (or float, added), as in
    nn.MultiheadAttention. Unlike it, a query with nothing to attend to gets
    zeros, not NaN.
    """

    def __init__(self, embed_dim, num_heads, bias=True, batch_first=False):
        super().__init__()
        if num_heads < 1 or embed_dim % num_heads:
            raise ValueError(f"embed_dim must be divisible by num_heads; got "
                             f"embed_dim={embed_dim}, num_heads={num_heads}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        E = embed_dim
        self.in_proj_weight = nn.Parameter(torch.empty(3 * E, E))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * E)) if bias else None
        self.out_proj = nn.Linear(E, E, bias=bias)
        nn.init.xavier_uniform_(self.in_proj_weight)
        if bias:
            nn.init.zeros_(self.out_proj.bias)

    def __repr__(self):
        return (f"MultiHeadAttention(embed_dim={self.embed_dim}, "
                f"num_heads={self.num_heads}, batch_first={self.batch_first})")

    def _check_inputs(self, query, key, value):
        E = self.embed_dim
        layout = ("(batch, seq, embed_dim)" if self.batch_first
                  else "(seq, batch, embed_dim)")
        for name, x in (("query", query), ("key", key), ("value", value)):
            if not torch.is_tensor(x) or x.dim() != 3 or x.shape[-1] != E:
                raise ValueError(f"{name} must have shape {layout} with "
                                 f"embed_dim={E}; got {_shape(x)}")
        b = 0 if self.batch_first else 1                  # the batch axis
        if (key.shape[:2] != value.shape[:2]
                or query.shape[b] != key.shape[b]):
            raise ValueError(f"query, key and value must share the batch "
                             f"size, and key and value the length; got "
                             f"{layout} shapes {_shape(query)}, "
                             f"{_shape(key)}, {_shape(value)}")

    def _mask(self, mask, name, shapes, batch, L, S):
        """An nn.MultiheadAttention mask (True = blocked, or float) as an
        additive float mask of shape (batch, h, L, S) or broadcastable."""
        if not torch.is_tensor(mask) or not (mask.dtype == torch.bool
                                             or mask.dtype.is_floating_point):
            raise ValueError(f"{name} must be bool (True = masked out) or "
                             f"float; got {_dtype(mask)}")
        if tuple(mask.shape) not in shapes:
            raise ValueError(f"{name} must have shape "
                             f"{' or '.join(map(str, shapes))}; got "
                             f"{tuple(mask.shape)}")
        if mask.dtype == torch.bool:
            blocked = torch.zeros(mask.shape, device=mask.device)
            mask = blocked.masked_fill(mask, float("-inf"))
        if name == "key_padding_mask":
            return mask[:, None, None, :]                 # (batch, 1, 1, S)
        if mask.dim() == 2:
            return mask[None, None]                       # (1, 1, L, S)
        return mask.view(batch, self.num_heads, L, S)

    def _masks(self, attn_mask, key_padding_mask, is_causal, batch, L, S):
        """Both masks as one additive float mask (or None)."""
        h, mask = self.num_heads, None
        if is_causal and attn_mask is None:                # True = blocked
            device = self.in_proj_weight.device
            attn_mask = torch.ones(L, S, dtype=torch.bool,
                                   device=device).triu(1)
        if attn_mask is not None:
            mask = self._mask(attn_mask, "attn_mask",
                              [(L, S), (batch * h, L, S)], batch, L, S)
        if key_padding_mask is not None:
            padding = self._mask(key_padding_mask, "key_padding_mask",
                                 [(batch, S)], batch, L, S)
            mask = padding if mask is None else mask + padding
        return mask

    def forward(self, query, key, value, key_padding_mask=None,
                need_weights=True, attn_mask=None, average_attn_weights=True,
                is_causal=False):
        self._check_inputs(query, key, value)
        if not self.batch_first:                          # work batch first
            query, key, value = (x.transpose(0, 1)
                                 for x in (query, key, value))
        batch, L, S = query.shape[0], query.shape[1], key.shape[1]
        W_q, W_k, W_v = self.in_proj_weight.chunk(3)      # (E, E) each
        b_q, b_k, b_v = (self.in_proj_bias.chunk(3)
                         if self.in_proj_bias is not None else [None] * 3)
        h = self.num_heads
        q = split_heads(F.linear(query, W_q, b_q), h)     # (batch, h, L, d)
        k = split_heads(F.linear(key, W_k, b_k), h)       # (batch, h, S, d)
        v = split_heads(F.linear(value, W_v, b_v), h)     # (batch, h, S, d)
        mask = self._masks(attn_mask, key_padding_mask, is_causal,
                           batch, L, S)
        weights = attention_weights(q, k, mask)           # (batch, h, L, S)
        heads = merge_heads(weights @ v)                  # (batch, L, E)
        out = self.out_proj(heads)                        # (batch, L, E)
        if not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(1)                     # (batch, L, S)
        return out, weights
