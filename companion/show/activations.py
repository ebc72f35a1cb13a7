"""What chapter 2 shows: gradients that vanish with depth, per layer, and decision boundaries
epoch by epoch.

- `vanishing_explorer(X, y, width)`: each layer's weight-gradient norm at initialisation, over
  activation x initialisation x depth (an Explorer); returns the norms too.
- `gradient_bars(build, X, y)`: a Playground's `after_train`, per-layer gradient-norm bars at
  initialisation and after training.
- `boundary_explorer(runs, X, y, epochs)`: several runs' decision boundaries after each epoch.

The measuring (`weight_grad_norms`, `build_mlp`) is in companion/activations.py.
Used in: book/02_activations.ipynb; tests/test_activations.py.
"""
import inspect

import matplotlib.pyplot as plt

from ..activations import INITS, build_mlp, weight_grad_norms
from ..book import COLUMN
from ..explorer import Explorer
from ..plots import per_layer, plot_decision_boundary, to_png


def vanishing_explorer(X, y, width, depths=(5, 10, 20),
                       activations=("sigmoid", "tanh", "relu"), value=None):
    """An Explorer over activation x initialisation (INITS) x depth: each
    layer's weight-gradient norm at initialisation (seed 0) on the batch
    (X, y), all on one log scale. Nothing is trained."""
    norms = {(name, init, depth): weight_grad_norms(
                 build_mlp(name, depth, width, init=init, seed=0), X, y)
             for name in activations for init in INITS for depth in depths}
    low = min(values.min() for values in norms.values()).item()
    high = max(values.max() for values in norms.values()).item()
    # one figure, redrawn for each picture (a new figure each is slower)
    fig, ax = plt.subplots(figsize=(COLUMN, 2.8))

    def render(activation, init, depth):
        values = norms[activation, init, depth]               # (depth + 1,)
        ratio = (values[0] / values[-1]).item()
        ax.clear()
        per_layer({activation: values}, ax,
                  xlabel=f"layer (1 = next to the input, {len(values)} = "
                         f"output)",
                  title=f"first layer / last layer: {ratio:.0e}")
        ax.set_ylim(low / 2, high * 2)                      # one scale for all
        ax.minorticks_off()                                 # 10^k ticks only
        fig.tight_layout(pad=0.2)     # laid out, not cropped: half the time
        return to_png(fig, 100, colors=256)

    explorer = Explorer({"activation": list(activations), "init": list(INITS),
                         "depth": list(depths)}, render, value=value)
    plt.close(fig)
    return explorer, norms


def gradient_bars(build, X, y):
    """A Playground's `after_train`: bars of each layer's weight-gradient
    norm on the batch (X, y), for the network as `build(**settings)` makes
    it (the same seed, so the same initial weights) and after training."""
    takes = inspect.signature(build).parameters

    def after_train(model, history, settings):
        initial = build(**{k: v for k, v in settings.items() if k in takes})
        fig, ax = plt.subplots(figsize=(COLUMN, 3))
        title = ", ".join(f"{k} {v}" for k, v in settings.items() if k in takes)
        per_layer({"at initialisation": weight_grad_norms(initial, X, y),
                   "after training": weight_grad_norms(model.cpu(), X, y)},
                  ax, bars=True, title=title)
        fig.tight_layout()
        return fig
    return after_train


def boundary_explorer(runs, X, y, epochs):
    """An Explorer over `epochs` (with a play button): side by side, each
    run's decision boundary on the points (X, y) after that epoch. `runs`:
    {title: (model, states, history)}, `states[epoch - 1]` the state_dict
    after that epoch (loaded into `model`), `history` its test accuracy."""
    num_epochs = min(len(states) for _, states, _ in runs.values())
    if not epochs or not all(1 <= epoch <= num_epochs for epoch in epochs):
        raise ValueError(f"boundary_explorer: epochs must lie in 1..{num_epochs} "
                         f"(the states kept); got {list(epochs)!r}")
    fig, axes = plt.subplots(1, len(runs), figsize=(COLUMN, 3.4),
                             squeeze=False)

    def draw(epoch):
        for ax, (name, (model, states, history)) in zip(axes[0], runs.items()):
            model.load_state_dict(states[epoch - 1])
            accuracy = history.test_acc[epoch - 1]
            ax.clear()
            plot_decision_boundary(model, X, y, ax=ax, title=f"{name}: test "
                                   f"accuracy {accuracy:.0%}")
        fig.suptitle(f"after epoch {epoch} of {num_epochs}", fontsize=10)

    # lay the figure out once, so that the panels stay put from frame to
    # frame (tight_layout with equal-aspect axes settles over a few calls)
    draw(list(epochs)[-1])
    for _ in range(10):
        before = [ax.get_position().bounds for ax in axes[0]]
        fig.tight_layout()
        if [ax.get_position().bounds for ax in axes[0]] == before:
            break

    def render(epoch):
        draw(epoch)
        return to_png(fig, 100, colors=256)

    explorer = Explorer({"epoch": list(epochs)}, render, play="epoch",
                        value={"epoch": list(epochs)[-1]})
    plt.close(fig)
    return explorer
