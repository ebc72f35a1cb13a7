"""Text as characters, offline: a corpus that ships with Python, a vocabulary, encode/decode, windows.

Used in: book/05_rnn.ipynb (the character-level language model, the measures of its samples)
"""
import html
import re

import torch

from ._validate import check_positive_int


def load_pydoc_topics():
    """The help texts of Python's `pydoc` (module `pydoc_data.topics`), joined: ~465k characters.

    It ships with every CPython, so nothing is downloaded. (Its content changes a little
    between Python versions.)
    """
    from pydoc_data.topics import topics
    return "\n\n".join(topics[name] for name in sorted(topics))


class CharCorpus:
    """A text and its characters: `vocab` (sorted), `encode(text)` -> ids, `decode(ids)` -> text."""

    def __init__(self, text, vocab=None):
        if not isinstance(text, str) or not text:
            raise ValueError("CharCorpus needs a non-empty string of text")
        self.text = text
        self.vocab = sorted(set(text)) if vocab is None else list(vocab)
        self.index = {char: i for i, char in enumerate(self.vocab)}
        self.ids = self.encode(text)                          # (len(text),) int64

    def __repr__(self):
        return f"CharCorpus({len(self.text):,} characters, vocabulary of {len(self.vocab)})"

    def __len__(self):
        return len(self.text)

    @property
    def vocab_size(self):
        return len(self.vocab)

    def encode(self, text):
        """The ids of the characters of `text`, a 1-D int64 tensor."""
        unknown = sorted(set(text) - self.index.keys())
        if unknown:
            shown = ", ".join(repr(c) for c in unknown[:5])
            raise ValueError(f"text has {len(unknown)} character(s) outside the vocabulary: "
                             f"{shown}; the vocabulary has {len(self.vocab)} characters")
        return torch.tensor([self.index[char] for char in text], dtype=torch.long)

    def decode(self, ids):
        """The text of a sequence of ids (a tensor or a list of ints)."""
        ids = ids.tolist() if torch.is_tensor(ids) else list(ids)
        bad = [i for i in ids if not 0 <= i < len(self.vocab)]
        if bad:
            raise ValueError(f"ids must lie in 0..{len(self.vocab) - 1}; got {bad[0]}")
        return "".join(self.vocab[i] for i in ids)

    def windows(self, seq_len, start=0.0, end=1.0):
        """Non-overlapping windows of the text between fractions `start` and `end` of its length.

        Returns X (N, seq_len) and Y (N, seq_len), int64, where Y is X shifted by one character:
        Y[:, t] is the character that follows X[:, t]. Splitting by position (first 80 % for
        training, then 10 % + 10 %) keeps the parts apart.
        """
        check_positive_int("seq_len", seq_len)
        if not 0.0 <= start < end <= 1.0:
            raise ValueError(f"need 0 <= start < end <= 1; got start={start}, end={end}")
        ids = self.ids[int(start * len(self.ids)):int(end * len(self.ids))]
        count = (len(ids) - 1) // seq_len
        if count < 1:
            raise ValueError(f"the text between {start} and {end} has {len(ids)} characters, "
                             f"too few for one window of {seq_len} + 1")
        X = ids[:count * seq_len].view(count, seq_len)              # (N, seq_len)
        Y = ids[1:count * seq_len + 1].view(count, seq_len)         # (N, seq_len), shifted by 1
        return X, Y


# -- measuring generated text -----------------------------------------------------------------
WORD = re.compile(r"[A-Za-z]+")          # a word: a run of letters


class KnownWords:
    """The words of a text (runs of letters), to measure generated text against it."""

    def __init__(self, text):
        self.words = set(WORD.findall(text))

    def __repr__(self):
        return f"KnownWords({len(self.words):,} different words)"

    def share(self, text):
        """The share of the words of `text` that occur among the known words (0 if none)."""
        words = WORD.findall(text)
        return sum(w in self.words for w in words) / max(len(words), 1)

    def count(self, text, min_letters=3):
        """How many words of `text` with at least `min_letters` letters are known words."""
        return sum(len(w) >= min_letters and w in self.words for w in WORD.findall(text))


def variety(text, n=8):
    """The share of the `n`-character pieces of `text` that differ from each other: 1 when no
    piece repeats, low when the text loops."""
    check_positive_int("n", n)
    pieces = [text[i:i + n] for i in range(len(text) - n + 1)]
    return len(set(pieces)) / max(len(pieces), 1)


def sample_html(title, text, min_spaces=8):
    """`text` as an HTML <pre> block under a bold `title`, escaped; a run of `min_spaces` or
    more spaces (pydoc's indentation) is shown as "[n spaces]"."""
    text = html.escape(text, quote=False)
    text = re.sub(" {%d,}" % min_spaces, lambda m: f" [{len(m.group())} spaces] ", text)
    return (f"<b>{html.escape(title, quote=False)}</b>"
            f"<pre style='white-space: pre-wrap'>{text}</pre>")
