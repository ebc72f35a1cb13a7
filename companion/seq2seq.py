"""A small GRU encoder–decoder with pluggable attention, two toy translation
tasks, and the chapter's pictures of attention.

- `Vocab`: characters <-> token ids, with PAD = 0, BOS = 1, EOS = 2.
- `reversal_task(n, length)`: reverse a sequence of digits ("314" -> "413").
- `dates_task(n)`: rewrite a date ("27 Nov 2026", "November 27, 2026", ...)
  as "2026-11-27". Both return `(src, dec_in, dec_out)`: padded int64
  tensors, dec_in = BOS + target, dec_out = target + EOS (teacher forcing:
  the decoder reads the true previous token).
- `Seq2Seq`: embedding, GRU encoder (optionally bidirectional), GRU decoder
  with no attention, Luong attention (dot, general, concat; global, local-m
  or local-p) or Bahdanau's additive attention. `model(src, dec_in)` ->
  logits (batch, T, vocab); `model.greedy(src, steps)` decodes without the
  answer and returns the attention weights for heatmaps.
- `exact_match(model, src, dec_out)`: the share of sequences decoded
  entirely right.
- `plot_attention(ax, model, src, vocab)`: the heatmap of one sequence;
  `draw_attention_step()`: a diagram of the encoder–decoder with attention.

Used in: book/06_attention.ipynb.
"""
import datetime
import random

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.patches import FancyBboxPatch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .attention import AdditiveAttention, LuongAttention

PAD, BOS, EOS = 0, 1, 2
ATTENTIONS = ("none", "dot", "general", "concat", "bahdanau")


class Vocab:
    """Characters <-> ids; ids 0, 1, 2 are PAD, BOS and EOS."""

    def __init__(self, chars):
        self.itos = ["<pad>", "<bos>", "<eos>"] + sorted(set(chars))
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def __repr__(self):
        chars = "".join(self.itos[3:])
        return f"Vocab({len(self)} tokens: {chars!r} + pad, bos, eos)"

    def encode(self, text):
        return [self.stoi[c] for c in text]

    def decode(self, ids):
        """Text up to the first EOS, skipping PAD and BOS."""
        out = []
        for i in (ids.tolist() if torch.is_tensor(ids) else ids):
            if i == EOS:
                break
            if i > EOS:
                out.append(self.itos[i])
        return "".join(out)


DIGITS = Vocab("0123456789")


def _pad(rows, width):
    out = torch.full((len(rows), width), PAD, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, :len(row)] = torch.tensor(row, dtype=torch.long)
    return out


def encode_pairs(pairs, vocab):
    """(source, target) strings -> (src, dec_in, dec_out) padded ids."""
    src = [vocab.encode(s) for s, _ in pairs]
    tgt = [vocab.encode(t) for _, t in pairs]
    width = max(map(len, tgt)) + 1
    dec_in = _pad([[BOS] + t for t in tgt], width)
    dec_out = _pad([t + [EOS] for t in tgt], width)
    return _pad(src, max(map(len, src))), dec_in, dec_out


def reversal_task(n, length, min_length=None, seed=0):
    """n digit sequences of lengths in [min_length, length] (all `length` by
    default) and their reversals: src (n, length), dec_in and dec_out
    (n, length + 1), in DIGITS ids.
    """
    min_length = length if min_length is None else min_length
    if not 1 <= min_length <= length:
        raise ValueError(f"need 1 <= min_length <= length; got min_length="
                         f"{min_length}, length={length}")
    g = torch.Generator().manual_seed(seed)
    digits = torch.randint(3, 13, (n, length), generator=g)  # '0'..'9'
    lengths = torch.randint(min_length, length + 1, (n,), generator=g)
    pos = torch.arange(length)                           # (length,)
    real = pos < lengths[:, None]                        # (n, length)
    src = digits.masked_fill(~real, PAD)
    back = (lengths[:, None] - 1 - pos).clamp_min(0)     # where to copy from
    target = src.gather(1, back).masked_fill(~real, PAD)  # reversed, padded
    dec_out = torch.cat([target, torch.full((n, 1), PAD)], 1)  # (n, len+1)
    dec_out[torch.arange(n), lengths] = EOS
    dec_in = torch.cat([torch.full((n, 1), BOS), target], 1)   # (n, len+1)
    return src, dec_in, dec_out


MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]
DATE_FORMATS = ("{d} {mon} {y}", "{d} {month} {y}", "{month} {d}, {y}",
                "{mon} {d}, {y}", "{dd}/{mm}/{y}", "{d}.{m}.{y}")
DATES = Vocab("".join(MONTHS) + "0123456789 ,./-")


def date_pairs(n, seed=0):
    """n (written date, ISO date) string pairs, days from 1900 to 2099, in
    six written formats."""
    rng = random.Random(seed)
    start = datetime.date(1900, 1, 1)
    days = (datetime.date(2099, 12, 31) - start).days
    pairs = []
    for _ in range(n):
        day = start + datetime.timedelta(days=rng.randrange(days + 1))
        month = MONTHS[day.month - 1]
        text = rng.choice(DATE_FORMATS).format(
            d=day.day, dd=f"{day.day:02d}", m=day.month,
            mm=f"{day.month:02d}", y=day.year, month=month, mon=month[:3])
        pairs.append((text, day.isoformat()))
    return pairs


def dates_task(n, seed=0):
    """n dates in six written formats -> ISO 8601, as (src, dec_in, dec_out)
    in DATES ids."""
    return encode_pairs(date_pairs(n, seed), DATES)


class Seq2Seq(nn.Module):
    """GRU encoder–decoder. attention: "none", "dot", "general", "concat"
    (Luong) or "bahdanau".

    Luong: the decoder GRU runs over the target first; each output h_t then
    attends over the encoder states h̄_s, and h̃_t = tanh(W_c [c_t; h_t])
    predicts the next token (so training needs no loop over steps).
    mode/window choose global, local-m or local-p attention.
    Bahdanau: at each step the previous state s_{t-1} attends, and the
    context goes into the GRU.
    bidirectional: the encoder reads both ways, num_hiddens // 2 units each.
    """

    def __init__(self, vocab_size, num_hiddens=64, embed_size=32,
                 attention="dot", mode="global", window=None,
                 bidirectional=False):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"unknown attention {attention!r}; choose one "
                             f"of {', '.join(ATTENTIONS)}")
        if bidirectional and num_hiddens % 2:
            raise ValueError(f"a bidirectional encoder needs an even "
                             f"num_hiddens; got {num_hiddens}")
        if attention in ("none", "bahdanau") and mode != "global":
            raise ValueError(f"mode {mode!r} needs a Luong score (dot, "
                             f"general or concat)")
        self.attention_name, self.mode = attention, mode
        self.bidirectional, self.num_hiddens = bidirectional, num_hiddens
        H = num_hiddens
        self.embedding = nn.Embedding(vocab_size, embed_size,
                                      padding_idx=PAD)
        self.encoder = nn.GRU(embed_size, H // 2 if bidirectional else H,
                              batch_first=True, bidirectional=bidirectional)
        extra = H if attention == "bahdanau" else 0      # the context
        self.decoder = nn.GRU(embed_size + extra, H, batch_first=True)
        if attention == "bahdanau":
            self.attention = AdditiveAttention(H, H)
        elif attention != "none":
            self.attention = LuongAttention(H, H, score=attention,
                                            mode=mode, window=window)
        else:
            self.attention = None
        self.combine = (nn.Linear(2 * H, H) if self.attention is not None
                        else None)                       # W_c
        self.out = nn.Linear(H, vocab_size)

    def __repr__(self):
        local = ("" if self.mode == "global"
                 else f", {self.mode} D={self.attention.window}")
        both_ways = ", bidirectional" if self.bidirectional else ""
        params = sum(p.numel() for p in self.parameters())
        return (f"Seq2Seq(attention='{self.attention_name}'{local}, "
                f"num_hiddens={self.num_hiddens}{both_ways}, "
                f"{params:,} parameters)")

    def encode(self, src):
        """src (batch, S) -> encoder states (batch, S, H), final state
        (1, batch, H), mask (batch, S)."""
        if (not torch.is_tensor(src) or src.dim() != 2
                or src.dtype != torch.long):
            raise ValueError(f"src must be int64 token ids of shape (batch, "
                             f"source); got {_describe(src)}")
        mask = src != PAD                                # (batch, S)
        lengths = mask.sum(1).clamp_min(1)               # (batch,)
        x = self.embedding(src)                          # (batch, S, E)
        if bool((lengths == src.shape[1]).all()):        # no padding
            states, final = self.encoder(x)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                          enforce_sorted=False)
            states, final = self.encoder(packed)
            states, _ = pad_packed_sequence(states, batch_first=True,
                                            total_length=src.shape[1])
        batch = src.shape[0]
        final = final.transpose(0, 1).reshape(1, batch, -1)  # both ways
        return states, final, mask

    def decode(self, dec_in, states, hidden, mask, offset=0):
        """Teacher-forced decoding of dec_in (batch, T): logits, the final
        hidden state, and the attention weights (batch, T, S) or None."""
        emb = self.embedding(dec_in)                     # (batch, T, E)
        if self.attention_name == "bahdanau":
            return self._decode_bahdanau(emb, states, hidden, mask)
        outputs, hidden = self.decoder(emb, hidden)      # (batch, T, H)
        if self.attention is None:
            return self.out(outputs), hidden, None
        where = {} if self.mode == "global" else {"offset": offset}
        context, weights = self.attention(outputs, states, mask=mask,
                                          **where)       # (batch, T, H)
        both = torch.cat([context, outputs], -1)         # (batch, T, 2H)
        attended = torch.tanh(self.combine(both))        # h̃_t
        return self.out(attended), hidden, weights

    def _decode_bahdanau(self, emb, states, hidden, mask):
        logits, all_weights = [], []
        for t in range(emb.shape[1]):                    # one step at a time
            query = hidden.transpose(0, 1)               # (batch, 1, H)
            context, weights = self.attention(query, states, mask=mask)
            step_in = torch.cat([emb[:, t:t + 1], context], -1)
            output, hidden = self.decoder(step_in, hidden)  # (batch, 1, H)
            both = torch.cat([context, output], -1)      # (batch, 1, 2H)
            logits.append(self.out(torch.tanh(self.combine(both))))
            all_weights.append(weights)
        return torch.cat(logits, 1), hidden, torch.cat(all_weights, 1)

    def forward(self, src, dec_in, return_attention=False):
        """Logits (batch, T, vocab) for teacher-forced dec_in; with the
        weights (batch, T, S) too when return_attention (None without
        attention)."""
        states, hidden, mask = self.encode(src)
        logits, _, weights = self.decode(dec_in, states, hidden, mask)
        return (logits, weights) if return_attention else logits

    @torch.no_grad()
    def greedy(self, src, steps):
        """Decode `steps` tokens, each from the model's own previous choice.

        Returns tokens (batch, steps) and attention weights (batch, steps, S)
        (None without attention). Positions after the first EOS are PAD.
        Decoding stops once every sequence has written EOS; the steps left
        are PAD, with weights 0.
        """
        was_training = self.training
        self.eval()
        states, hidden, mask = self.encode(src)
        token = torch.full((src.shape[0], 1), BOS, dtype=torch.long,
                           device=src.device)
        tokens, weights = [], []
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for t in range(steps):
            logits, hidden, w = self.decode(token, states, hidden, mask,
                                            offset=t)
            token = logits.argmax(-1)                    # (batch, 1)
            tokens.append(token)
            weights.append(w)
            done |= token[:, 0] == EOS
            if bool(done.all()):                         # the rest is PAD
                break
        self.train(was_training)
        tokens = torch.cat(tokens, 1)                    # (batch, <= steps)
        is_eos = (tokens == EOS).long()
        after_eos = is_eos.cumsum(1) - is_eos > 0
        tokens = tokens.masked_fill(after_eos, PAD)
        rest = steps - tokens.shape[1]
        tokens = F.pad(tokens, (0, rest), value=PAD)     # (batch, steps)
        if weights[0] is None:
            return tokens, None
        weights = torch.cat(weights, 1)                  # (batch, <=, S)
        return tokens, F.pad(weights, (0, 0, 0, rest))   # zeros after EOS


def _describe(x):
    if torch.is_tensor(x):
        return f"{tuple(x.shape)} {x.dtype}"
    return type(x).__name__


def exact_match(model, src, dec_out, batch_size=1000):
    """Share of sequences whose greedy decoding equals dec_out exactly (up
    to and with EOS)."""
    hits = 0
    for start in range(0, len(src), batch_size):
        s = src[start:start + batch_size]
        target = dec_out[start:start + batch_size]
        tokens, _ = model.greedy(s, target.shape[1])
        hits += (tokens == target).all(1).sum().item()
    return hits / len(src)


# -- pictures ---------------------------------------------------------------
def plot_attention(ax, model, src, vocab, title=None, extra_steps=12,
                   decoded=None):
    """The attention weights of greedy decoding for one source (1, S): one
    row per output token (and <eos>), one column per source token.

    decoded: `model.greedy(src, ...)` if already computed (tokens, weights).
    """
    if model.attention is None:
        raise ValueError("a model without attention has no weights to show")
    tokens, weights = decoded or model.greedy(src,
                                              src.shape[1] + extra_steps)
    out = list(vocab.decode(tokens[0])) + ["<eos>"]
    rows = min(len(out), weights.shape[1])
    source = vocab.decode(src[0])
    ax.imshow(weights[0, :rows, :len(source)].numpy(), cmap="Blues", vmin=0,
              vmax=1, aspect="auto")
    ax.set_xticks(range(len(source)), list(source))
    ax.set_yticks(range(rows), out[:rows])
    ax.tick_params(length=0)
    ax.set(xlabel="source", ylabel="output")
    if title:
        ax.set_title(title)
    return ax


def draw_attention_step(S=5, T=4, t=2, weights=(0.05, 0.1, 0.6, 0.2, 0.05)):
    """A diagram of the GRU encoder–decoder with Luong attention at output
    step t (counted from 0): the decoder state h_t scores every encoder
    state, the softmax weights make the context c_t, and c_t with h_t
    predicts the next token. The weights are made up. Returns the Figure."""
    fig, ax = plt.subplots(figsize=(7.2, 3.9))
    ax.set_xlim(-0.6, S + T + 1.9)
    ax.set_ylim(-0.85, 4.45)
    ax.axis("off")
    grey, blue, orange = "#555555", "#2b7bba", "#cc6600"

    def box(x, y, text, color):
        ax.add_patch(FancyBboxPatch((x - 0.36, y - 0.25), 0.72, 0.5,
                                    boxstyle="round,pad=0.02",
                                    facecolor=color, edgecolor=grey))
        ax.text(x, y, text, ha="center", va="center")

    def arrow(x0, y0, x1, y1, color=grey, **kw):
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="->", color=color, **kw))

    def label(x, y, text, **kw):
        ax.text(x, y, text, ha="center", fontsize=9, color="#333333",
                bbox=dict(facecolor="white", edgecolor="none", pad=1), **kw)

    for s in range(S):                                   # the encoder
        ax.text(s, -0.65, f"$x_{s + 1}$", ha="center")
        arrow(s, -0.4, s, 0.73)
        box(s, 1, f"$\\bar h_{s + 1}$", "#cfe2f3")
        if s:
            arrow(s - 0.62, 1, s - 0.38, 1)
    label((S - 1) / 2, 0.35, "encoder GRU")
    x0 = S + 0.6                                         # the decoder
    for j in range(T):
        x = x0 + j
        ax.text(x, -0.65, "<bos>" if j == 0 else f"$y_{j}$", ha="center",
                fontsize=9)
        arrow(x, -0.4, x, 0.73)
        box(x, 1, f"$h_{j + 1}$", "#fde0c5" if j == t else "#f3f3f3")
        arrow(x - 0.62, 1, x - 0.38, 1)
    label(x0 + (T - 1) / 2, 0.35, "decoder GRU")
    xt = x0 + t
    box(xt, 2.6, "$c_t$", "#d9ead3")                     # the context
    for s, w in enumerate(weights):                      # width = weight
        arrow(s, 1.27, xt - 0.3, 2.45, color=blue, lw=0.5 + 6 * w,
              alpha=0.35 + 0.65 * w, connectionstyle="arc3,rad=-0.15")
        ax.text(s, 1.5, f"{w:.2f}", ha="center", fontsize=9, color=blue)
    ax.text(-0.55, 1.85, "weights $\\alpha_{ts}$", fontsize=9, color=blue)
    arrow(xt, 1.27, xt, 2.33, color=orange)              # h_t: the query
    ax.text(xt - 0.08, 1.75, "query", fontsize=9, color=orange, ha="right")
    box(xt, 3.55, "$\\tilde h_t$", "#fff2cc")
    arrow(xt, 2.87, xt, 3.28)
    ax.plot([xt + 0.25, xt + 0.25, xt + 0.6, xt + 0.6],
            [1.25, 1.7, 1.7, 3.55], color=orange, lw=1)
    arrow(xt + 0.6, 3.55, xt + 0.38, 3.55, color=orange)  # h_t into h̃_t
    ax.text(xt + 0.7, 3.55, "$\\tanh(W_c[c_t; h_t])$", fontsize=9,
            va="center")
    ax.text(xt, 4.2, "$y_t$: scores of the next token", ha="center",
            fontsize=9)
    arrow(xt, 3.82, xt, 4.1)
    fig.tight_layout()
    return fig
