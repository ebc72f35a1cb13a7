"""A small GRU encoder–decoder with pluggable attention, two toy translation
tasks, and how well greedy decoding does.

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
- `greedy_scores(model, src, dec_out)`: exact match, token accuracy and
  accuracy by output step of greedy decoding; `exact_match` the first.
- `greedy_centres(model, src)`: where a local model centres its window.
- `AttentionSnapshots(model, src, per_epoch)`: a `fit` callback that keeps the
  greedy output and attention weights of `src` while the model trains.

The heatmap of the weights (`plot_attention`) and the diagram of the
encoder–decoder (`draw_attention_step`) are in companion/diagrams.py; the
chapter's explorers of heatmaps in companion/show/seq2seq.py.
Used in: book/06_attention.ipynb; tests/test_attention.py, tests/test_diagrams.py;
`show.seq2seq`.
"""
import datetime
import random
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ._validate import describe
from .attention import AdditiveAttention, LuongAttention
from .measure import eval_mode
from .snapshots import Snapshots
from .training import predict

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
                             f"source); got {describe(src)}")
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
        with eval_mode(self):                            # mode restored after
            states, hidden, mask = self.encode(src)
            token = torch.full((src.shape[0], 1), BOS, dtype=torch.long,
                               device=src.device)
            tokens, weights = [], []
            done = torch.zeros(src.shape[0], dtype=torch.bool,
                               device=src.device)
            for t in range(steps):
                logits, hidden, w = self.decode(token, states, hidden, mask,
                                                offset=t)
                token = logits.argmax(-1)                # (batch, 1)
                tokens.append(token)
                weights.append(w)
                done |= token[:, 0] == EOS
                if bool(done.all()):                     # the rest is PAD
                    break
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


def greedy_centres(model, src):
    """Local attention: the window centres p_t that greedy decoding of src
    (N, S) uses, (N, S + 1), with the decoder outputs (N, S + 1, H) and the
    encoder states (N, S, H) they were computed from."""
    if getattr(model.attention, "mode", "global") == "global":
        raise ValueError("greedy_centres needs a local-m or local-p model; "
                         "global attention has no centre p_t")
    S = src.shape[1]
    with torch.no_grad():
        states, hidden, mask = model.encode(src)
        tokens, _ = model.greedy(src, S + 1)
        bos = torch.full_like(tokens[:, :1], BOS)
        dec_in = torch.cat([bos, tokens[:, :-1]], 1)    # <bos> + outputs
        outputs, _ = model.decoder(model.embedding(dec_in), hidden)
        centres = model.attention.centres(outputs, mask.sum(1))
    return centres, outputs, states


class GreedyScores(NamedTuple):
    """How well greedy decoding does on a test set (see `greedy_scores`)."""
    exact: float              # share of sequences right in full, EOS included
    tokens: float             # share of target tokens right (padding left out)
    by_step: torch.Tensor     # (T,) share of sequences right at each output step


def greedy_scores(model, src, dec_out, batch_size=1000):
    """Decode `src` (N, S) greedily for dec_out's T steps and compare with
    dec_out (N, T): the shares of sequences right in full, of non-padding
    tokens right, and of sequences right at each output step."""
    steps = dec_out.shape[1]
    tokens = predict(model, src, batch_size,
                     forward=lambda m, s: m.greedy(s, steps)[0])  # (N, T)
    right = tokens == dec_out.cpu()                      # (N, T)
    real = dec_out.cpu() != PAD
    return GreedyScores(right.all(1).sum().item() / len(right),
                        (right & real).sum().item() / real.sum().item(),
                        right.float().mean(0))


def exact_match(model, src, dec_out, batch_size=1000):
    """Share of sequences whose greedy decoding equals dec_out exactly (up
    to and with EOS)."""
    return greedy_scores(model, src, dec_out, batch_size).exact


class AttentionSnapshots(Snapshots):
    """A `fit` callback: the greedy tokens and attention weights of `src`
    (1, S) before training and `per_epoch` times an epoch, for a slider
    that scrubs through training (a `Snapshots`). `snapshots` maps the
    epochs done (0, 1 / per_epoch, ...; recorded at the first batch that
    reaches each) to `(tokens, weights)`, as `model.greedy` returns them."""

    def __init__(self, model, src, per_epoch=4, extra_steps=2):
        if model.attention is None:
            raise ValueError("a model without attention has no weights to "
                             "record")
        self.model, self.src = model, src
        self.snapshots = {}
        length = src.shape[1] + extra_steps                 # greedy steps
        super().__init__(lambda: model.greedy(src, length), per_epoch=per_epoch)

    def _take(self, moment):
        super()._take(moment)
        self.snapshots[moment] = self.values[-1]

    def __repr__(self):
        return (f"AttentionSnapshots({len(self.snapshots)} snapshots, "
                f"{self.per_epoch} an epoch)")
