"""A small GRU encoder–decoder with pluggable attention, and two toy translation tasks.

- `Vocab`: characters <-> token ids, with PAD = 0, BOS = 1, EOS = 2.
- `reversal_task(n, length)`: reverse a sequence of digits ("3 1 4" -> "4 1 3").
- `dates_task(n)`: rewrite a date ("27 Nov 2026", "November 27, 2026", ...) as "2026-11-27".
  Both return `(src, dec_in, dec_out)`: padded int64 tensors, dec_in = BOS + target,
  dec_out = target + EOS (teacher forcing: the decoder reads the true previous token).
- `Seq2Seq`: embedding, GRU encoder (optionally bidirectional), GRU decoder with no attention,
  Luong attention (dot, general, concat; global, local-m or local-p) or Bahdanau's additive
  attention. `model(src, dec_in)` -> logits (batch, T, vocab); `model.greedy(src, steps)`
  decodes without the answer and returns the attention weights for heatmaps.
- `exact_match(model, src, dec_out)`: the share of sequences decoded entirely right.

Used in: book/06_attention.ipynb.
"""
import datetime
import random

import torch
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
        return f"Vocab({len(self)} tokens: {''.join(self.itos[3:])!r} + pad, bos, eos)"

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
    """(source, target) strings -> (src, dec_in, dec_out) padded id tensors."""
    src = [vocab.encode(s) for s, _ in pairs]
    tgt = [vocab.encode(t) for _, t in pairs]
    width = max(map(len, tgt)) + 1
    dec_in = _pad([[BOS] + t for t in tgt], width)
    dec_out = _pad([t + [EOS] for t in tgt], width)
    return _pad(src, max(map(len, src))), dec_in, dec_out


def reversal_task(n, length, min_length=None, seed=0):
    """n digit sequences of lengths in [min_length, length] (all `length` by default) and their
    reversals, as (src (n, length), dec_in (n, length + 1), dec_out (n, length + 1)) in DIGITS ids.
    """
    min_length = length if min_length is None else min_length
    if not 1 <= min_length <= length:
        raise ValueError(f"need 1 <= min_length <= length; got min_length={min_length}, "
                         f"length={length}")
    g = torch.Generator().manual_seed(seed)
    digits = torch.randint(3, 13, (n, length), generator=g)       # ids of '0'..'9'
    lengths = torch.randint(min_length, length + 1, (n,), generator=g)  # (n,)
    pos = torch.arange(length)                                     # (length,)
    real = pos < lengths[:, None]                                  # (n, length)
    src = digits.masked_fill(~real, PAD)
    back = (lengths[:, None] - 1 - pos).clamp_min(0)               # position to copy from
    target = src.gather(1, back).masked_fill(~real, PAD)           # reversed, then padding
    dec_out = torch.cat([target, torch.full((n, 1), PAD)], 1)      # (n, length + 1)
    dec_out[torch.arange(n), lengths] = EOS
    dec_in = torch.cat([torch.full((n, 1), BOS), target], 1)       # (n, length + 1)
    return src, dec_in, dec_out


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
DATE_FORMATS = ("{d} {mon} {y}", "{d} {month} {y}", "{month} {d}, {y}", "{mon} {d}, {y}",
                "{dd}/{mm}/{y}", "{d}.{m}.{y}")
DATES = Vocab("".join(MONTHS) + "0123456789 ,./-")


def date_pairs(n, seed=0):
    """n (written date, ISO date) string pairs, days from 1900 to 2099, six written formats."""
    rng = random.Random(seed)
    start, days = datetime.date(1900, 1, 1), (datetime.date(2099, 12, 31)
                                              - datetime.date(1900, 1, 1)).days
    pairs = []
    for _ in range(n):
        day = start + datetime.timedelta(days=rng.randrange(days + 1))
        month = MONTHS[day.month - 1]
        text = rng.choice(DATE_FORMATS).format(d=day.day, dd=f"{day.day:02d}", m=day.month,
                                               mm=f"{day.month:02d}", y=day.year,
                                               month=month, mon=month[:3])
        pairs.append((text, day.isoformat()))
    return pairs


def dates_task(n, seed=0):
    """n dates in six written formats -> ISO 8601, as (src, dec_in, dec_out) in DATES ids."""
    return encode_pairs(date_pairs(n, seed), DATES)


class Seq2Seq(nn.Module):
    """GRU encoder–decoder. attention: "none", "dot", "general", "concat" (Luong) or "bahdanau".

    Luong: the decoder GRU runs over the target first; each output h_t then attends over the
    encoder states h̄_s, and h̃_t = tanh(W_c [c_t; h_t]) predicts the next token (so training
    needs no loop over steps). mode/window choose global, local-m or local-p attention.
    Bahdanau: at each step the previous state s_{t-1} attends, and the context goes into the GRU.
    bidirectional: the encoder reads both ways, num_hiddens // 2 units per direction.
    """

    def __init__(self, vocab_size, num_hiddens=64, embed_size=32, attention="dot",
                 mode="global", window=None, bidirectional=False):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"unknown attention {attention!r}; choose one of "
                             f"{', '.join(ATTENTIONS)}")
        if bidirectional and num_hiddens % 2:
            raise ValueError(f"a bidirectional encoder needs an even num_hiddens; got "
                             f"{num_hiddens}")
        if attention in ("none", "bahdanau") and mode != "global":
            raise ValueError(f"mode {mode!r} needs a Luong score (dot, general or concat)")
        self.attention_name, self.mode, self.bidirectional = attention, mode, bidirectional
        self.num_hiddens = num_hiddens
        H = num_hiddens
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=PAD)
        self.encoder = nn.GRU(embed_size, H // 2 if bidirectional else H, batch_first=True,
                              bidirectional=bidirectional)
        decoder_input = embed_size + (H if attention == "bahdanau" else 0)
        self.decoder = nn.GRU(decoder_input, H, batch_first=True)
        if attention == "bahdanau":
            self.attention = AdditiveAttention(H, H)
        elif attention != "none":
            self.attention = LuongAttention(H, H, score=attention, mode=mode, window=window)
        else:
            self.attention = None
        self.combine = nn.Linear(2 * H, H) if self.attention is not None else None  # W_c
        self.out = nn.Linear(H, vocab_size)

    def __repr__(self):
        local = "" if self.mode == "global" else f", {self.mode} D={self.attention.window}"
        return (f"Seq2Seq(attention='{self.attention_name}'{local}, num_hiddens="
                f"{self.num_hiddens}, bidirectional={self.bidirectional}, "
                f"{sum(p.numel() for p in self.parameters()):,} parameters)")

    def encode(self, src):
        """src (batch, S) -> encoder states (batch, S, H), final state (1, batch, H), mask."""
        if not torch.is_tensor(src) or src.dim() != 2 or src.dtype != torch.long:
            raise ValueError(f"src must be int64 token ids of shape (batch, source); got "
                             f"{_describe(src)}")
        mask = src != PAD                                          # (batch, S)
        lengths = mask.sum(1).clamp_min(1)                         # (batch,)
        x = self.embedding(src)                                    # (batch, S, E)
        if bool((lengths == src.shape[1]).all()):                  # no padding: no packing
            states, final = self.encoder(x)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                          enforce_sorted=False)
            states, final = self.encoder(packed)
            states, _ = pad_packed_sequence(states, batch_first=True,
                                            total_length=src.shape[1])
        final = final.transpose(0, 1).reshape(1, src.shape[0], -1)  # (1, batch, H): both ways
        return states, final, mask

    def decode(self, dec_in, states, hidden, mask, offset=0):
        """Teacher-forced decoding of dec_in (batch, T) -> logits, final hidden, weights."""
        emb = self.embedding(dec_in)                               # (batch, T, E)
        if self.attention_name == "bahdanau":
            return self._decode_bahdanau(emb, states, hidden, mask)
        outputs, hidden = self.decoder(emb, hidden)                # (batch, T, H)
        if self.attention is None:
            return self.out(outputs), hidden, None
        kwargs = {} if self.mode == "global" else {"offset": offset}
        context, weights = self.attention(outputs, states, mask=mask, **kwargs)  # (batch, T, H)
        attended = torch.tanh(self.combine(torch.cat([context, outputs], -1)))   # h̃_t
        return self.out(attended), hidden, weights

    def _decode_bahdanau(self, emb, states, hidden, mask):
        logits, all_weights = [], []
        for t in range(emb.shape[1]):                              # one step at a time
            context, weights = self.attention(hidden.transpose(0, 1), states, mask=mask)
            step_in = torch.cat([emb[:, t:t + 1], context], -1)    # (batch, 1, E + H)
            output, hidden = self.decoder(step_in, hidden)         # (batch, 1, H)
            attended = torch.tanh(self.combine(torch.cat([context, output], -1)))
            logits.append(self.out(attended))
            all_weights.append(weights)
        return torch.cat(logits, 1), hidden, torch.cat(all_weights, 1)

    def forward(self, src, dec_in, return_attention=False):
        """Logits (batch, T, vocab) for teacher-forced dec_in; with the weights (batch, T, S)
        too when return_attention (None without attention)."""
        states, hidden, mask = self.encode(src)
        logits, _, weights = self.decode(dec_in, states, hidden, mask)
        return (logits, weights) if return_attention else logits

    @torch.no_grad()
    def greedy(self, src, steps):
        """Decode `steps` tokens, each from the model's own previous choice.

        Returns tokens (batch, steps) and attention weights (batch, steps, S) (None without
        attention). Positions after the first EOS are PAD.
        """
        was_training = self.training
        self.eval()
        states, hidden, mask = self.encode(src)
        token = torch.full((src.shape[0], 1), BOS, dtype=torch.long, device=src.device)
        tokens, weights = [], []
        for t in range(steps):
            logits, hidden, w = self.decode(token, states, hidden, mask, offset=t)
            token = logits.argmax(-1)                              # (batch, 1)
            tokens.append(token)
            weights.append(w)
        self.train(was_training)
        tokens = torch.cat(tokens, 1)                              # (batch, steps)
        ended = (tokens == EOS).long().cumsum(1) - (tokens == EOS).long() > 0
        tokens = tokens.masked_fill(ended, PAD)
        return tokens, (torch.cat(weights, 1) if weights[0] is not None else None)


def _describe(x):
    return f"{tuple(x.shape)} {x.dtype}" if torch.is_tensor(x) else type(x).__name__


def exact_match(model, src, dec_out, batch_size=1000):
    """Share of sequences whose greedy decoding equals dec_out exactly (up to and with EOS)."""
    hits = 0
    for start in range(0, len(src), batch_size):
        s, target = src[start:start + batch_size], dec_out[start:start + batch_size]
        tokens, _ = model.greedy(s, target.shape[1])
        hits += (tokens == target).all(1).sum().item()
    return hits / len(src)
