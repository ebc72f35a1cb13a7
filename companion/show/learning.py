"""What chapter 1 shows: optimizers racing down Rosenbrock's valley, and how sure a network is
of its answers as it overfits.

- `plot_valley(ax, start)`, `plot_paths(paths, ax_map, ax_loss, start)`: the valley's contours
  (`VALLEY`: the part drawn) and optimizer paths on it, with the loss along them.
- `run_explorer(paths, start)`: every run of an (optimizer, learning rate) grid, to scrub
  through; `run_outcome(path, num_steps)` says in words how a run ended (its title).
- `confidence_explorer(snapshots, labels, history, epochs)`: replays a `learning.Snapshots`
  recording, the probability the network gives its right and its wrong answers, epoch by epoch.

The surface, the descents and the recording are in companion/learning.py.
Used in: book/01_learning.ipynb; tests/test_learning.py.
"""
import math

import matplotlib.pyplot as plt
import torch

from ..book import COLUMN
from ..explorer import Explorer
from ..learning import rosenbrock
from ..plots import to_png


VALLEY = (-1.6, 1.6, -0.6, 1.8)        # x from, x to, y from, y to


def plot_valley(ax, start, extent=VALLEY):
    """Contours of Rosenbrock's valley (log scale) on `ax`, the start (dot)
    and the minimum (star)."""
    x, y = torch.meshgrid(torch.linspace(*extent[:2], 200),
                          torch.linspace(*extent[2:], 200), indexing="xy")
    surface = rosenbrock(torch.stack([x, y], dim=-1))        # (200, 200)
    ax.contour(x, y, surface.log10(), levels=15, cmap="Greys",
               linewidths=0.6)
    ax.plot(*start, "ko")
    ax.plot(1, 1, "k*", markersize=10)
    ax.set(xlim=extent[:2], ylim=extent[2:], xlabel="x", ylabel="y")


def plot_paths(paths, ax_map, ax_loss, start, extent=VALLEY):
    """Optimizer paths ({label: (steps + 1, 2)}) on the valley (`ax_map`, a
    dot where each ended) and the loss along them (`ax_loss`, log scale)."""
    plot_valley(ax_map, start, extent)
    for label, path in paths.items():
        line, = ax_map.plot(path[:, 0], path[:, 1], lw=1.2, label=label)
        ax_map.plot(*path[-1], "o", color=line.get_color())
        ax_loss.plot(rosenbrock(path), lw=1.2, label=label)
    ax_loss.set(xlabel="step", ylabel="f(x, y)", yscale="log")
    ax_loss.grid(alpha=0.3)


def run_outcome(path, num_steps):
    """How a run on the valley ended, in words: its final loss, or the step
    where the loss overflowed."""
    loss = rosenbrock(path)                               # (num_steps + 1,)
    finite = int(torch.isfinite(loss).sum())
    if finite == len(loss):
        return f"f = {loss[-1]:.1e} after {num_steps} steps"
    return f"diverged: f overflowed at step {finite}"


def _two_decades(low, high):
    """Lower `low` (0 < low < high) until [low, high] holds at least two
    powers of 10, so that a log axis with 10^k ticks only shows a scale."""
    top_power = math.floor(math.log10(high))
    return min(low, 10.0 ** (top_power - 1) / 1.5), high


def run_explorer(paths, start, value=None):
    """An Explorer over optimizer runs {(optimizer, lr): path, (steps + 1,
    2)}, a full grid: each run's path on the valley and its loss along the
    way."""
    if not paths:
        raise ValueError("run_explorer needs at least one (optimizer, lr) run")
    optimizers = list(dict.fromkeys(name for name, _ in paths))
    lrs = list(dict.fromkeys(lr for _, lr in paths))
    missing = [(name, lr) for name in optimizers for lr in lrs
               if (name, lr) not in paths]
    if missing:
        raise ValueError(f"run_explorer needs a run for every optimizer at "
                         f"every learning rate; missing {missing[0]!r}")
    num_steps = len(next(iter(paths.values()))) - 1
    # One figure, redrawn for every run (a new figure for each would take
    # about three times as long); each run becomes a 256-colour PNG.
    fig, (ax_map, ax_loss) = plt.subplots(1, 2, figsize=(COLUMN, 3))
    plot_valley(ax_map, start)
    path_line, = ax_map.plot([], [], lw=1.2)
    end_dot, = ax_map.plot([], [], "o", color=path_line.get_color())
    loss_line, = ax_loss.plot([], [], lw=1.2)
    ax_loss.set(xlabel="step", ylabel="f(x, y)", yscale="log")
    ax_loss.minorticks_off()                      # 10^k ticks only (faster)
    ax_loss.grid(alpha=0.3)
    title = fig.suptitle(" ")
    fig.tight_layout()

    def render(optimizer, lr):
        path = paths[optimizer, lr]                    # (num_steps + 1, 2)
        loss = rosenbrock(path)                        # (num_steps + 1,)
        path_line.set_data(path[:, 0], path[:, 1])
        end_dot.set_data(path[-1:, 0], path[-1:, 1])  # nan if it diverged
        loss_line.set_data(range(num_steps + 1), loss)
        finite = loss[torch.isfinite(loss)]           # all, unless diverged
        top = min(finite.max().item(), 1e200)   # log ticks overflow near 1e308
        ax_loss.set_ylim(*_two_decades(finite.min().item() / 2, top * 2))
        ax_loss.set_xlim(0, min(len(finite), num_steps))
        outcome = run_outcome(path, num_steps)
        title.set_text(f"{optimizer}, lr {lr:g}: {outcome}")
        return to_png(fig, 100, colors=256)

    explorer = Explorer({"optimizer": optimizers, "lr": lrs}, render,
                        value=value, description={"lr": "learning rate"})
    plt.close(fig)
    return explorer


def confidence_explorer(snapshots, labels, history, epochs,
                        ylabel="examples"):
    """An Explorer over `epochs` (a play button steps through them): for
    every example, the probability the network gave its answer after that
    epoch (`snapshots.outputs[epoch]`, scores (N, classes)), the right
    answers (green) and the wrong ones (red) counted apart, on a log scale.
    `history`: the run's History, for each epoch's validation scores;
    `ylabel`: what the examples are."""
    epochs = list(epochs)
    if not epochs:
        raise ValueError("confidence_explorer needs at least one epoch to "
                         "show; got none")
    missing = [epoch for epoch in epochs if epoch not in snapshots.outputs]
    if missing:
        raise ValueError(f"confidence_explorer: no outputs kept after epoch "
                         f"{missing[0]}; the Snapshots have epochs "
                         f"{list(snapshots.outputs)}")
    fig, ax = plt.subplots(figsize=(COLUMN, 2.8))
    bins = torch.linspace(0.1, 1, 19).tolist()

    def render(epoch):
        probs = snapshots.outputs[epoch].softmax(dim=1)          # (N, classes)
        confidence, answer = probs.max(dim=1)                    # (N,)
        right = answer == labels
        ax.clear()
        ax.hist([confidence[right].numpy(), confidence[~right].numpy()],
                bins=bins, color=["C2", "C3"],          # side by side per bin
                label=["right answers", "wrong answers"])
        ax.set(xlabel="probability the network gives its answer",
               ylabel=ylabel, yscale="log",
               ylim=(0.8, len(right)))
        ax.minorticks_off()                       # 10^k ticks only (faster)
        ax.set_title(f"epoch {epoch}: validation loss "
                     f"{history.val_loss[epoch - 1]:.3f}, accuracy "
                     f"{history.val_acc[epoch - 1]:.1%}", fontsize=10)
        ax.legend(loc="upper left")
        return to_png(fig, 100, crop=True, colors=256)

    explorer = Explorer({"epoch": list(epochs)}, render, play="epoch",
                        value={"epoch": list(epochs)[-1]})
    plt.close(fig)
    return explorer
