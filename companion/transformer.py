"""The Transformer from the attention chapter's pieces: LayerNorm, positions,
the causal mask, the block, a small GPT, and generation with a key/value
cache.

- `LayerNorm(normalized_shape, eps=1e-5)`: nn.LayerNorm's parameters.
- `sinusoidal_positions(num_positions, d_model)`: Vaswani et al.'s table.
- `causal_mask(T)`: (T, T) bool, True where query i may attend to key j
  (j <= i), as in F.scaled_dot_product_attention. A bool `attn_mask` of
  nn.MultiheadAttention means the opposite (True = masked out).
- `TransformerBlock(d_model, num_heads, d_ff, ...)`: the parameters of
  nn.TransformerEncoderLayer(..., batch_first=True), so either state_dict
  loads into the other strictly.
- `GPT(vocab_size, d_model, num_heads, num_layers, context, ...)`: tokens
  (B, T) -> scores for the next token (B, T, V).
- `generate(model, prompt, num_new, ...)`: sampling, with or without a
  key/value cache (the same tokens at temperature 0).
- `InPieces(gpt, window)`: a GPT of a shorter context reads longer windows
  in independent pieces (the playground's way to vary the context).
- `RandomWindows(ids, seq_len, num_windows)`: a Dataset of windows of a
  text at random places, fresh ones every epoch (for `fit`).

Masks here follow SDPA: True = may attend. Used in:
book/07_transformer.ipynb.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .attention import (MultiHeadAttention, merge_heads,
                        scaled_dot_product_attention, split_heads)
from .measure import evaluating

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}
POSITIONS = ("learned", "sinusoidal")


def _is_count(n, least=1):
    return isinstance(n, int) and not isinstance(n, bool) and n >= least


# -- the pieces ----------------------------------------------------------
class LayerNorm(nn.Module):
    """Normalise each vector over its last dimensions, then scale and shift:
    (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance
    (divided by n, not n - 1), as nn.LayerNorm. `fused = True` computes the
    same with PyTorch's kernel, F.layer_norm."""

    fused = False

    def __init__(self, normalized_shape, eps=1e-5):
        super().__init__()
        shape = ((normalized_shape,) if isinstance(normalized_shape, int)
                 else tuple(normalized_shape))
        if not shape or not all(_is_count(n) for n in shape):
            raise ValueError(f"normalized_shape must be a positive int or a "
                             f"tuple of them; got {normalized_shape!r}")
        self.normalized_shape, self.eps = shape, eps
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape))

    def __repr__(self):
        return f"LayerNorm({self.normalized_shape}, eps={self.eps})"

    def forward(self, x):
        shape, n = self.normalized_shape, len(self.normalized_shape)
        if not torch.is_tensor(x) or tuple(x.shape[-n:]) != shape:
            got = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise ValueError(f"LayerNorm{shape} needs inputs ending in "
                             f"{shape}; got {got}")
        if self.fused:
            return F.layer_norm(x, shape, self.weight, self.bias, self.eps)
        dims = tuple(range(-n, 0))                    # the normalised dims
        mean = x.mean(dims, keepdim=True)             # one per vector
        var = x.var(dims, unbiased=False, keepdim=True)
        x_hat = (x - mean) / torch.sqrt(var + self.eps)   # mean 0, var 1
        return x_hat * self.weight + self.bias


def sinusoidal_positions(num_positions, d_model):
    """The (num_positions, d_model) table of Vaswani et al. (2017):
    PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d)).

    Column pair i is a sine and cosine of wavelength 2π · 10000^(2i/d), a
    geometric progression from 2π towards 10000 · 2π.
    """
    if not _is_count(num_positions) or not _is_count(d_model, 2) \
            or d_model % 2:
        raise ValueError(f"need num_positions >= 1 and an even d_model >= 2 "
                         f"(a sine and a cosine per frequency); got "
                         f"{num_positions!r} and {d_model!r}")
    position = torch.arange(num_positions, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)      # 2i
    angle = position / 10000 ** (two_i / d_model)          # (positions, d/2)
    table = torch.zeros(num_positions, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angle)                      # even columns
    table[:, 1::2] = torch.cos(angle)                      # odd columns
    return table.float()


def causal_mask(T, device=None):
    """(T, T) bool: True where query i may attend to key j, that is j <= i
    (F.scaled_dot_product_attention's convention; nn.MultiheadAttention
    reads True as 'masked out')."""
    if not _is_count(T):
        raise ValueError(f"T must be a positive integer; got {T!r}")
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


# -- the block -----------------------------------------------------------
class TransformerBlock(nn.Module):
    """Self-attention and a feed-forward network, each in a residual branch,
    with nn.TransformerEncoderLayer's parameters and computation.

    norm_first=True (pre-LN): x + attn(norm1(x)), then + ff(norm2(x)).
    norm_first=False (post-LN, the 2017 paper): norm1(x + attn(x)), then
    norm2(x + ff(x)). forward(x (batch, seq, d_model), mask=None,
    is_causal=False): mask is bool (True = may attend) or float (added to
    the scores). Dropout as PyTorch's, except on the attention weights.
    `fused = True` attends with F.scaled_dot_product_attention (same result).
    """

    fused = False

    def __init__(self, d_model, num_heads, d_ff, dropout=0.0,
                 activation="gelu", norm_first=True):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of "
                             f"{', '.join(ACTIVATIONS)}; got {activation!r}")
        self.self_attn = MultiHeadAttention(d_model, num_heads,
                                            batch_first=True)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.norm1, self.norm2 = LayerNorm(d_model), LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)        # inside the feed-forward
        self.dropout1 = nn.Dropout(dropout)       # on the attention branch
        self.dropout2 = nn.Dropout(dropout)       # on the feed-forward branch
        self.activation_name, self.norm_first = activation, norm_first
        self.activation = ACTIVATIONS[activation]

    def __repr__(self):
        a = self.self_attn
        return (f"TransformerBlock(d_model={a.embed_dim}, num_heads="
                f"{a.num_heads}, d_ff={self.linear1.out_features}, "
                f"activation='{self.activation_name}', "
                f"norm_first={self.norm_first})")

    def forward(self, x, mask=None, is_causal=False, cache=None):
        if self.norm_first:                       # pre-LN
            x = x + self._attention(self.norm1(x), mask, is_causal, cache)
            x = x + self._feed_forward(self.norm2(x))
        else:                                     # post-LN
            x = self.norm1(x + self._attention(x, mask, is_causal, cache))
            x = self.norm2(x + self._feed_forward(x))
        return x

    def _feed_forward(self, x):                   # (batch, seq, d_model)
        hidden = self.dropout(self.activation(self.linear1(x)))  # (.., d_ff)
        return self.dropout2(self.linear2(hidden))

    def _attention(self, x, mask, is_causal, cache):
        if mask is not None and is_causal:
            raise ValueError("pass either mask or is_causal=True, not both")
        if cache is not None or self.fused:
            return self.dropout1(self._attend(x, mask, is_causal, cache))
        if mask is not None and mask.dtype == torch.bool:
            mask = ~mask                # nn.MultiheadAttention: True = blocked
        out, _ = self.self_attn(x, x, x, attn_mask=mask, need_weights=False,
                                is_causal=is_causal)
        return self.dropout1(out)

    def _attend(self, x, mask, is_causal, cache):
        """self_attn written out: with a key/value cache (a dict; the new
        positions attend to the cached ones and to their own past), and on
        PyTorch's fused kernel when self.fused."""
        a = self.self_attn
        qkv = F.linear(x, a.in_proj_weight, a.in_proj_bias)  # (batch, L, 3d)
        q, k, v = (split_heads(t, a.num_heads)
                   for t in qkv.chunk(3, dim=-1))          # (batch, h, L, d_k)
        if cache is not None:
            if cache:
                k = torch.cat([cache["k"], k], dim=2)      # (batch, h, S, d_k)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
            L, S = q.shape[2], k.shape[2]
            mask = torch.ones(L, S, dtype=torch.bool,
                              device=x.device).tril(S - L)  # new i: keys <= i
            is_causal = False
        sdpa = (F.scaled_dot_product_attention if self.fused
                else scaled_dot_product_attention)
        heads = sdpa(q, k, v, attn_mask=mask, is_causal=is_causal)
        return a.out_proj(merge_heads(heads))              # (batch, L, d)


# -- a small GPT ---------------------------------------------------------
class KVCache:
    """The keys and values a GPT has computed so far, one dict per block."""

    def __init__(self, num_layers):
        self.layers = [{} for _ in range(num_layers)]

    @property
    def length(self):
        """How many positions are cached."""
        first = self.layers[0]
        return first["k"].shape[2] if first else 0

    def __repr__(self):
        return f"KVCache({len(self.layers)} layers, {self.length} positions)"


class GPT(nn.Module):
    """A decoder-only Transformer: token embedding + positions, blocks with a
    causal mask, a final LayerNorm (pre-LN only) and a linear head.

    (B, T) int64 tokens -> (B, T, vocab_size) scores, where position t scores
    the token that follows token t. positions: "learned" (a trained
    (context, d_model) table: T <= context) or "sinusoidal" (a fixed table
    of context rows, lengthened on demand: any T).
    fused: PyTorch's kernels for LayerNorm and attention (same parameters,
    same outputs, faster).
    """

    def __init__(self, vocab_size, d_model, num_heads, num_layers, context,
                 d_ff=None, dropout=0.0, positions="learned",
                 norm_first=True, fused=False):
        super().__init__()
        if positions not in POSITIONS:
            raise ValueError(f"positions must be one of "
                             f"{', '.join(POSITIONS)}; got {positions!r}")
        for name, n in (("vocab_size", vocab_size), ("context", context),
                        ("num_layers", num_layers)):
            if not _is_count(n):
                raise ValueError(f"{name} must be a positive integer; "
                                 f"got {n!r}")
        self.context, self.positions = context, positions
        self.embed = nn.Embedding(vocab_size, d_model)
        if positions == "learned":
            # N(0, 1) like the token embeddings; GPT-2 starts both far
            # smaller (std 0.01 and 0.02): this is not its recipe
            self.position = nn.Parameter(torch.randn(context, d_model))
        else:
            self.register_buffer("position",
                                 sinusoidal_positions(context, d_model))
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(d_model, num_heads, d_ff or 4 * d_model,
                             dropout, "gelu", norm_first)
            for _ in range(num_layers))
        self.norm = LayerNorm(d_model) if norm_first else nn.Identity()
        self.head = nn.Linear(d_model, vocab_size)
        for module in self.modules():
            if isinstance(module, (LayerNorm, TransformerBlock)):
                module.fused = fused

    def __repr__(self):
        block = self.blocks[0]
        return (f"GPT(vocab_size={self.embed.num_embeddings}, "
                f"d_model={self.embed.embedding_dim}, num_heads="
                f"{block.self_attn.num_heads}, num_layers={len(self.blocks)}, "
                f"context={self.context}, d_ff={block.linear1.out_features}, "
                f"positions='{self.positions}', "
                f"norm_first={block.norm_first})")

    def _check_tokens(self, X, start=0):
        if not torch.is_tensor(X) or X.dim() != 2 or X.dtype != torch.long:
            shape = tuple(X.shape) if torch.is_tensor(X) else type(X).__name__
            raise ValueError(f"GPT expects int64 tokens of shape (batch, T); "
                             f"got {shape}")
        if self.positions == "learned" and start + X.shape[1] > self.context:
            raise ValueError(f"GPT: {start + X.shape[1]} positions exceed the "
                             f"context of {self.context}; keep the last "
                             f"{self.context} tokens (X[:, -{self.context}:])")

    def embed_tokens(self, X, start=0):
        """Token embeddings plus positions start, start+1, ...: (B, T, d)."""
        self._check_tokens(X, start)
        T = X.shape[1]
        position = self.position
        if start + T > len(position):             # sinusoidal: more rows
            position = sinusoidal_positions(start + T, position.shape[1]) \
                .to(position)
        return self.drop(self.embed(X) + position[start:start + T])

    def forward(self, X, cache=None):             # X (batch, T) int64
        start = 0 if cache is None else cache.length
        x = self.embed_tokens(X, start)           # (batch, T, d_model)
        for i, block in enumerate(self.blocks):
            x = block(x, is_causal=cache is None,
                      cache=None if cache is None else cache.layers[i])
        return self.head(self.norm(x))            # (batch, T, vocab_size)

    def new_cache(self):
        """An empty key/value cache for `forward(X, cache)`."""
        return KVCache(len(self.blocks))

    @torch.no_grad()
    def attention_maps(self, X):
        """Every head's causal attention weights: (layers, B, heads, T, T)."""
        maps = []
        with evaluating(self):
            x = self.embed_tokens(X)
            for block in self.blocks:
                seen = block.norm1(x) if block.norm_first else x
                _, weights = block.self_attn(seen, seen, seen, is_causal=True,
                                             average_attn_weights=False)
                maps.append(weights)
                x = block(x, is_causal=True)
        return torch.stack(maps)


class InPieces(nn.Module):
    """A GPT with a context shorter than the windows it is given: each
    (batch, window) batch is read as independent pieces of `gpt.context`
    tokens, so models of any context score the same windows."""

    def __init__(self, gpt, window):
        super().__init__()
        if not _is_count(window) or window % gpt.context:
            raise ValueError(f"window must be a multiple of the GPT's context "
                             f"({gpt.context}); got {window!r}")
        self.gpt, self.window = gpt, window

    def __repr__(self):
        return f"InPieces({self.gpt!r}, window={self.window})"

    def forward(self, X):                      # X (batch, window) int64
        if X.dim() != 2 or X.shape[1] != self.window:
            raise ValueError(f"InPieces expects (batch, {self.window}) "
                             f"tokens; got {tuple(X.shape)}")
        batch = X.shape[0]
        pieces = X.reshape(-1, self.gpt.context)   # (batch * pieces, C)
        scores = self.gpt(pieces)                  # (batch * pieces, C, V)
        return scores.reshape(batch, self.window, -1)  # (batch, window, V)


# -- data ----------------------------------------------------------------
class RandomWindows(torch.utils.data.Dataset):
    """`num_windows` windows (X, Y) of `seq_len` tokens from `ids` (1-D),
    each at a random place, Y = X shifted by one; every item is drawn afresh,
    so each epoch of `fit` sees new windows (nanoGPT's way of sampling)."""

    def __init__(self, ids, seq_len, num_windows, seed=0):
        if not _is_count(seq_len) or not _is_count(num_windows):
            raise ValueError(f"seq_len and num_windows must be positive "
                             f"integers; got {seq_len!r} and {num_windows!r}")
        if not torch.is_tensor(ids) or ids.dim() != 1 or len(ids) <= seq_len:
            raise ValueError(f"ids must be a 1-D tensor longer than seq_len = "
                             f"{seq_len}")
        self.ids, self.seq_len, self.num_windows = ids, seq_len, num_windows
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return self.num_windows

    def __getitem__(self, index):              # any index: a fresh window
        top = len(self.ids) - self.seq_len     # the last start with a target
        start = torch.randint(top, (1,), generator=self.generator).item()
        window = self.ids[start:start + self.seq_len + 1]
        return window[:-1], window[1:]         # X, Y: (seq_len,) each


# -- generation ----------------------------------------------------------
def _next_token(logits, temperature, top_k, generator):
    """One id from (V,) scores: the largest at temperature 0, else a sample
    from softmax(scores / temperature) over the top_k largest."""
    if temperature == 0:
        return logits.argmax().view(1)
    if top_k is not None:
        kth = logits.topk(min(top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits.float().cpu() / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator)


@torch.no_grad()
def generate(model, prompt, num_new, temperature=1.0, top_k=None,
             use_cache=True, seed=0):
    """Continue `prompt` (1-D int64 ids) by `num_new` ids; returns them.

    temperature 0 takes the most likely token (greedy). top_k samples only
    among the k most likely. With use_cache, each step feeds one new token
    and reuses the keys and values of the earlier ones; without, each step
    runs the whole text again. Beyond the context both condition on the
    last `context` tokens (the cache is then rebuilt every step: learned
    positions cannot slide).
    """
    if not torch.is_tensor(prompt) or prompt.dim() != 1 or not len(prompt) \
            or prompt.dtype != torch.long:
        raise ValueError("prompt must be a non-empty 1-D int64 tensor of ids")
    if not _is_count(num_new, 0):
        raise ValueError(f"num_new must be an integer >= 0; got {num_new!r}")
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0; got {temperature!r}")
    if top_k is not None and not _is_count(top_k):
        raise ValueError(f"top_k must be None or an integer >= 1; "
                         f"got {top_k!r}")
    generator = torch.Generator().manual_seed(seed)
    device = model.head.weight.device
    C = model.context
    ids = prompt.to(device)[None]                       # (1, P)
    cache = model.new_cache() if use_cache else None
    feed = ids[:, -C:]                                  # what the model reads
    new = []
    with evaluating(model):
        for _ in range(num_new):
            if use_cache and cache.length + feed.shape[1] > C:
                cache, feed = model.new_cache(), ids[:, -C:]   # full: rebuild
            logits = model(feed, cache)[0, -1]          # (V,) the next token
            next_id = _next_token(logits, temperature, top_k, generator)
            new.append(next_id.cpu())
            ids = torch.cat([ids, next_id.to(device)[None]], dim=1)
            feed = ids[:, -1:] if use_cache else ids[:, -C:]
    return torch.cat(new) if new else torch.zeros(0, dtype=torch.long)
