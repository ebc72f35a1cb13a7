"""What chapter 6 shows of a trained encoder-decoder: its attention heatmaps.

- `heatmap_explorer(models, examples)`: a heatmap per (model, test example), each titled with
  what the model wrote and whether it is right (`verdict`).
- `snapshot_explorer(snapshots, model, vocab, answer)`: scrubs through a
  `seq2seq.AttentionSnapshots` recording, the heatmap after each recorded epoch.
- `heatmap_result(model, test, vocab, title)`: a playground's figure, the heatmap of the first
  test sequence and the exact match.

The heatmap itself is `diagrams.plot_attention`; the model, the tasks and the scores are in
companion/seq2seq.py. Used in: book/06_attention.ipynb; tests/test_attention.py.
"""
import matplotlib.pyplot as plt

from ..diagrams import plot_attention
from ..explorer import Explorer
from ..plots import to_png
from ..seq2seq import exact_match


def verdict(vocab, tokens, answer):
    """What a model wrote (`tokens`) and whether it equals `answer` (ids),
    for a heatmap's title: "written (right)" or "written (wrong, not ...)"."""
    written, wanted = vocab.decode(tokens), vocab.decode(answer)
    if written == wanted:
        return f"{written} (right)"
    return f"{written} (wrong, not {wanted})"


def heatmap_explorer(models, examples):
    """A precomputed Explorer of attention heatmaps, one per (model, test
    example): `models` maps a name to (model, vocab, test set (src, dec_in,
    dec_out)); `examples` count test examples from 1. Each title says what
    the model wrote and whether it is right."""
    examples = list(examples)
    if not examples or min(examples) < 1:
        raise ValueError(f"examples count from 1; got {examples}")
    decoded = {}                         # name -> greedy (tokens, weights)
    for name, (model, _, test) in models.items():
        if max(examples) > len(test[0]):
            raise ValueError(f"{name}: the test set has {len(test[0])} "
                             f"examples; asked for example {max(examples)}")
        decoded[name] = model.greedy(test[0][:max(examples)],
                                     test[2].shape[1] + 2)
    # one figure, redrawn for every result (a new one each time is slower)
    fig, ax = plt.subplots(figsize=(4.8, 3.8))
    fig.subplots_adjust(left=0.15, right=0.97, bottom=0.14, top=0.86)

    def render(model, example):
        net, vocab, test = models[model]
        tokens, weights = decoded[model]
        i = example - 1
        ax.clear()
        plot_attention(ax, net, test[0][i:i + 1], vocab,
                       decoded=(tokens[i:i + 1], weights[i:i + 1]))
        text = verdict(vocab, tokens[i], test[2][i]).replace(" (", "\n(")
        ax.set_title(f"{model}: {text}", fontsize=10)
        return to_png(fig, 100)

    explorer = Explorer({"model": list(models), "example": examples}, render,
                        description={"example": "test example"})
    plt.close(fig)
    return explorer


def snapshot_explorer(snapshots, model, vocab, answer, on_target=None):
    """A precomputed Explorer that scrubs through an `AttentionSnapshots`
    recording (a slider over the epochs, with ▶): the heatmap after each
    recorded epoch, its title saying whether the output is right, and
    `on_target[epoch]` (a share, optional) the share of steps whose largest
    weight sits on the token they write."""
    epochs = list(snapshots.snapshots)
    fig, ax = plt.subplots(figsize=(4.8, 3.8))
    fig.subplots_adjust(left=0.15, right=0.97, bottom=0.14, top=0.9)

    def render(epoch):
        tokens, weights = snapshots.snapshots[epoch]
        ax.clear()
        plot_attention(ax, model, snapshots.src, vocab,
                       decoded=(tokens, weights))
        right = vocab.decode(tokens[0]) == vocab.decode(answer)
        title = f"after {epoch:g} epochs: {'right' if right else 'wrong'}"
        if on_target is not None:
            title += f", {on_target[epoch]:.0%} on the digit"
        ax.set_title(title, fontsize=10)
        return to_png(fig, 100)

    explorer = Explorer({"epoch": epochs}, render, play="epoch",
                        value={"epoch": epochs[-1]})
    plt.close(fig)
    return explorer


def heatmap_result(model, test, vocab, title):
    """A Figure for a playground: the heatmap of the first test sequence,
    titled with `title` and the exact match on the test set (src, dec_in,
    dec_out); a note instead of a heatmap for a model without attention."""
    src, _, target = test
    exact = exact_match(model, src, target)
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    if model.attention is None:
        ax.text(0.5, 0.5, "no attention: nothing to show", ha="center")
        ax.axis("off")
    else:
        plot_attention(ax, model, src[:1], vocab)
    ax.set_title(f"{title}: exact match {exact:.1%} (test)", fontsize=10)
    fig.tight_layout()
    return fig
