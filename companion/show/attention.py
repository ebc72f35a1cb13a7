"""What chapter 6 shows of attention itself: why the scores are divided by √d_k.

- `softmax_explorer(dims)`: one random query against 16 random keys, its softmax weights with
  and without the division (an Explorer).

Attention is in companion/attention.py; the heatmaps of a trained model in
companion/show/seq2seq.py. Used in: book/06_attention.ipynb; tests/test_attention.py.
"""
import matplotlib.pyplot as plt
import torch

from ..book import COLUMN
from ..explorer import Explorer
from ..plots import to_png


def softmax_explorer(dims, num_keys=16, seed=1):
    """A precomputed Explorer (companion.explorer): for each width d_k in
    `dims`, one random query against `num_keys` random keys, its softmax
    weights sorted from the largest, with or without dividing the scores
    by √d_k (the controls "d_k" and "divide")."""
    gen = torch.Generator().manual_seed(seed)
    query = {d: torch.randn(d, generator=gen) for d in dims}            # (d,)
    keys = {d: torch.randn(num_keys, d, generator=gen) for d in dims}   # (n, d)
    # one figure, redrawn for every result
    fig, ax = plt.subplots(figsize=(COLUMN, 2.6))
    bars = ax.bar(range(num_keys), torch.zeros(num_keys))
    ax.set(xlabel="key, sorted by weight", ylabel="weight", ylim=(0, 1),
           xticks=range(0, num_keys, 3))
    title = ax.set_title(" ")
    fig.tight_layout()

    def render(d_k, divide):
        scores = keys[d_k] @ query[d_k]                      # (num_keys,)
        if divide == "yes":
            scores = scores / d_k ** 0.5
        weights = scores.softmax(0).sort(descending=True).values
        for bar, weight in zip(bars, weights):
            bar.set_height(weight)
        title.set_text(f"d_k = {d_k}: the largest weight is {weights[0]:.2f}")
        return to_png(fig, 100)

    middle = list(dims)[len(dims) // 2]
    explorer = Explorer({"d_k": list(dims), "divide": ["no", "yes"]}, render,
                        value={"d_k": middle},
                        description={"divide": "divide by √d_k"})
    plt.close(fig)
    return explorer
