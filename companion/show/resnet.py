"""What chapter 4 shows: a depth sweep of plain and residual networks, their per-block
gradient norms, and a film of both runs.

- `plot_sweep(sweeps)`: training loss per epoch, a panel per kind, a line per depth.
- `block_bars(norms)`: grouped bars of per-block gradient norms, on a log scale.
- `film_explorer(films, colors)`: replays runs filmed by `resnet.GradientSnapshots`, every
  batch's loss and the gradient norms at each moment (an Explorer with a play button).

The probe (`block_grad_norms`) and the recording (`GradientSnapshots`) are in
companion/resnet.py. Used in: book/04_resnet.ipynb; tests/test_resnet.py.
"""
import matplotlib.pyplot as plt
import torch

from ..book import COLUMN
from ..explorer import Explorer
from ..plots import compare, per_layer, to_png


def plot_sweep(sweeps, chance=None):
    """Training loss per epoch of a depth sweep, {kind: {depth: History}}: a panel per kind, a
    line per depth, sharing the y axis (`chance`: a dotted line, e.g. ln 10), and one legend
    below the panels, where it hides no line's end. Returns the Figure."""
    if not sweeps:
        raise ValueError("plot_sweep needs at least one sweep: {kind: {depth: History}}")
    fig, axes = plt.subplots(1, len(sweeps), figsize=(COLUMN, 3.3), sharey=True, squeeze=False,
                             layout="constrained")
    for ax, (kind, histories) in zip(axes[0], sweeps.items()):
        runs = {f"{d} block{'s' * (d > 1)}": h for d, h in histories.items()}
        compare(runs, "train_loss", ax, chance=chance, title=f"{kind} networks")
    for ax in axes[0, 1:]:
        ax.set_ylabel("")                    # the shared axis is labelled once
    handles, labels = axes[0, 0].get_legend_handles_labels()
    for ax in axes[0]:
        ax.get_legend().remove()             # the panels share one legend, below them
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=9)
    return fig


def block_bars(norms, ax=None, *, colors=None, title=None, ylim=None):
    """Grouped bars of per-block gradient norms, {kind: (num_blocks,) tensor}, on a log scale,
    blocks numbered from 1 (the one next to the input). Returns the Axes."""
    ax = per_layer(norms, ax, bars=True, xlabel="block (1 = next to the input)",
                   ylabel="gradient norm (log scale)", colors=colors, title=title)
    num_blocks = max(len(values) for values in norms.values())
    ax.set_xticks([1] + list(range(5, num_blocks + 1, 5)))
    if ylim is not None:
        ax.set_ylim(ylim)
    return ax


def film_explorer(films, colors, chance=None, dpi=100):
    """An Explorer that replays runs filmed together by `GradientSnapshots` ({kind: film}, the
    same batches and snapshot times): drag the epoch to see every batch's loss up to then (left)
    and the per-block gradient norms at that moment (right), on scales fixed for all moments.

    Every frame is drawn into one figure made once (only data and titles change)."""
    first = next(iter(films.values()))
    moments = first.epochs                                           # 0, 0.5, 1, ...
    if any(film.epochs != moments or len(film.losses) != len(first.losses)
           for film in films.values()):
        raise ValueError("film_explorer: the films must share their batches and snapshot times "
                         "(runs of the same length, the same GradientSnapshots per_epoch)")
    num_epochs = moments[-1]
    all_norms = torch.cat([n for film in films.values() for n in film.norms])
    norm_range = (all_norms.min().item() / 2, all_norms.max().item() * 2)
    top = 1.05 * max(max(film.losses) for film in films.values())
    steps = [num_epochs * (i + 1) / len(first.losses) for i in range(len(first.losses))]
    fig, (left, right) = plt.subplots(1, 2, figsize=(COLUMN, 2.8), width_ratios=(1, 1.4))
    lines = {kind: left.plot([], [], color=colors[kind], linewidth=0.8, label=kind)[0]
             for kind in films}
    if chance is not None:
        left.axhline(chance, color="gray", linestyle=":", linewidth=1)
    left.set(xlabel="epoch", ylabel="loss of each batch", xlim=(0, num_epochs), ylim=(0, top))
    left.legend(fontsize=9, loc="upper right")
    block_bars({kind: film.norms[-1] for kind, film in films.items()}, right, colors=colors,
               title=" ", ylim=norm_range)
    fig.tight_layout()                                               # laid out once

    def render(epoch):
        seen = sum(step <= epoch for step in steps)
        for kind, film in films.items():
            lines[kind].set_data(steps[:seen], film.losses[:seen])
        right.clear()
        moment = moments.index(epoch)
        block_bars({kind: film.norms[moment] for kind, film in films.items()}, right,
                   colors=colors, title=f"epoch {epoch:g}", ylim=norm_range)
        return to_png(fig, dpi, colors=256)               # a palette PNG, as Explorer keeps it

    explorer = Explorer({"epoch": moments}, render, play="epoch", value={"epoch": moments[-1]})
    plt.close(fig)
    return explorer
