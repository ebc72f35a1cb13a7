"""What the chapters show, in one place: figures of runs and probes, image grids, Markdown
tables, and a figure's PNG bytes.

- `compare(histories, metric)`: one line per run, a metric per epoch (runs side by side).
- `per_layer(series)`: one value per layer, block or time step, for several series: lines with
  markers, or grouped bars (gradient norms, dead units).
- `show_images(images, labels)`: a grid of images or kernels with a title each.
- `plot_decision_boundary(model, X, y)`: the class a model predicts over the plane.
- `table(rows)`: a Markdown table from a list of dicts, optionally bolding what changed.
- `to_png(fig)`: a Figure as PNG bytes (explorers, playgrounds, live curves).

Figures are as wide as the book's text column (`companion.book.COLUMN`) unless said otherwise.
Used in: book/intro.ipynb, book/02_activations.ipynb (the decision boundary),
book/08_mnist.ipynb (the image grid); `compare`, `per_layer`, `table` and `to_png` are where the
chapters' own comparison plots, tables and PNG code move (issue 19), with tests/test_plots.py;
the `show` modules.
"""
import io
import math
import numbers

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown
from matplotlib.ticker import MaxNLocator
from PIL import Image as PILImage

from .book import COLUMN
from .measure import evaluating

_SPLITS = {"train": "training", "val": "validation", "test": "test"}
_QUANTITIES = {"loss": "loss", "acc": "accuracy", "ppl": "perplexity"}
_STYLES = {"train": "--", "val": "-", "test": ":"}


def _metric_label(metric):
    """'val_acc' -> ('validation', 'accuracy')."""
    split, _, quantity = metric.partition("_")
    if split not in _SPLITS or quantity not in _QUANTITIES:
        raise ValueError(f"unknown metric {metric!r}; expected train/val/test + _loss, _acc "
                         f"or _ppl, e.g. 'val_loss'")
    return _SPLITS[split], _QUANTITIES[quantity]


def compare(histories, metric="val_loss", ax=None, *, log=False, chance=None, ylabel=None,
            title=None):
    """Runs side by side: `metric` per epoch, one colour per History in `histories`
    ({label: History}).

    metric: "train_loss", "val_acc", "test_ppl", ...; or a tuple of them, drawn in the run's
    colour, dashed for training, solid for validation, dotted for test. A test set measured
    once shows as one point at the last epoch. log: a log scale; chance: a grey dotted line
    at that value (ln 10 for the loss of 10 classes, 0.1 for their accuracy). Returns the Axes.
    """
    metrics = (metric,) if isinstance(metric, str) else tuple(metric)
    labels = [_metric_label(m) for m in metrics]
    if not histories:
        raise ValueError("compare needs at least one History")
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN, 3.2))
    for i, (name, history) in enumerate(histories.items()):
        for m, (split, _) in zip(metrics, labels):
            values = list(getattr(history, m))
            epochs = list(range(1, len(values) + 1))
            if len(values) == 1 and history.epochs > 1:
                epochs = [history.epochs]            # measured once, at the end
            label = name if len(metrics) == 1 else f"{name}: {split}"
            ax.plot(epochs, values, _STYLES[m.split("_")[0]] if len(metrics) > 1 else "-",
                    marker="o", markersize=3, color=f"C{i}", label=label)
    if chance is not None:
        ax.axhline(chance, color="gray", linestyle=":", linewidth=1, label="chance")
    quantities = {quantity for _, quantity in labels}
    if ylabel is None:
        ylabel = (" ".join(labels[0]) if len(metrics) == 1
                  else quantities.pop() if len(quantities) == 1 else "")
    ax.set(xlabel="epoch", ylabel=ylabel, yscale="log" if log else "linear")
    if title:
        ax.set_title(title, fontsize=10)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))   # epochs are whole numbers
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    return ax


def per_layer(series, ax=None, *, bars=False, log=True, xlabel="layer (1 = next to the input)",
              ylabel="gradient norm", title=None, colors=None):
    """One value per layer (or block, or time step), first one first, for each series in
    `series` ({label: 1-D tensor or list}): lines with markers, or grouped bars (`bars=True`).

    log: a log scale (the default: gradient norms span orders of magnitude); colors: {label:
    colour}. A single series gets no legend. Returns the Axes.
    """
    if not series:
        raise ValueError("per_layer needs at least one series")
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN, 3.0))
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series.items()):
        values = torch.as_tensor(values, dtype=torch.float64).flatten().tolist()
        positions = range(1, len(values) + 1)
        color = (colors or {}).get(label, f"C{i}")
        if bars:
            offset = (i - (len(series) - 1) / 2) * width
            ax.bar([x + offset for x in positions], values, width, label=label, color=color)
        else:
            ax.plot(positions, values, "-o", markersize=3, label=label, color=color)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if log:
        ax.set_yscale("log")
    if title:
        ax.set_title(title, fontsize=10)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3, axis="y" if bars else "both")
    if len(series) > 1:
        ax.legend(fontsize=9)
    return ax


def plot_decision_boundary(model, X, y, ax=None, resolution=200, title=None):
    """Colour the plane by the class `model` predicts, with the points (X, y) on top.

    X: float (N, 2), y: int64 (N,). Returns the matplotlib Axes.
    """
    if X.dim() != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D points X of shape (N, 2); "
                         f"got {tuple(X.shape)}")
    ax = ax or plt.gca()
    pad = 0.1 * (X.max() - X.min()).item()
    lo, hi = X.min(dim=0).values - pad, X.max(dim=0).values + pad
    xs = torch.linspace(lo[0].item(), hi[0].item(), resolution)
    ys = torch.linspace(lo[1].item(), hi[1].item(), resolution)
    grid_x, grid_y = torch.meshgrid(xs, ys, indexing="xy")           # (res, res) each
    grid = torch.stack([grid_x.flatten(), grid_y.flatten()], dim=1)  # (res*res, 2)
    device = next(model.parameters()).device
    with evaluating(model):
        predicted = model(grid.to(device)).argmax(dim=1).cpu().reshape(resolution, resolution)
    ax.contourf(grid_x, grid_y, predicted, alpha=0.25, cmap="coolwarm",
                levels=torch.arange(-0.5, int(y.max()) + 1.5).tolist())
    ax.scatter(X[:, 0], X[:, 1], c=y, s=6, cmap="coolwarm", edgecolors="none")
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def show_images(images, labels=None, ncols=10, size=1.0, cmap="gray_r", title=None, *,
                nrows=None, width=None, symmetric=False, fontsize=8):
    """A grid of (N, 1, H, W) or (N, H, W) images (or kernels), a title each from `labels`;
    returns the Figure.

    nrows: a fixed number of rows (cells without an image stay blank); width: the figure's
    width in inches (default `ncols * size`); symmetric: colour limits ±max|value| per image,
    for kernels with a diverging cmap such as "RdBu_r"; title: above the grid.
    """
    images = torch.as_tensor(images).detach().cpu().float()
    if images.dim() == 4:
        images = images[:, 0]                                        # (N, H, W)
    if images.dim() != 3:
        raise ValueError(f"show_images expects images of shape (N, H, W) or (N, 1, H, W); "
                         f"got {tuple(images.shape)}")
    n = len(images)
    nrows = nrows or max(1, math.ceil(n / ncols))
    cell = (width or ncols * size) / ncols
    height = nrows * cell * 1.1 + (0.3 if title else 0.0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell * ncols, height), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            limits = {}
            if symmetric:
                top = images[i].abs().max().item() or 1.0
                limits = dict(vmin=-top, vmax=top)
            ax.imshow(images[i].numpy(), cmap=cmap, **limits)
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=fontsize)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _cell(value, fmt):
    if value is None:
        return ""
    if fmt is not None:
        text = fmt(value) if callable(fmt) else fmt.format(value)
    elif isinstance(value, bool) or not isinstance(value, numbers.Number):
        text = str(value)
    elif isinstance(value, numbers.Integral):
        text = f"{value:,}"
    else:
        text = f"{value:.4g}"
    return text.replace("|", "\\|").replace("\n", " ")


def _is_number(value):
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def table(rows, *, formats=None, bold_changes=False, transpose=False):
    """A Markdown table from a list of dicts, one row each; the columns are the keys of the
    first dict, in order (a key a row lacks stays empty).

    formats: {column: format string such as "{:.2%}" or a function}; otherwise ints get
    thousands separators and floats 4 significant digits. Columns of numbers are
    right-aligned. bold_changes: bold a value that differs from the one in the row before.
    transpose: one column per dict instead, headed by its first value (a settings table).
    Returns an IPython Markdown object: it shows itself at the end of a cell; `.data` is
    the text.
    """
    rows = list(rows)
    if not rows or not all(isinstance(row, dict) for row in rows):
        raise ValueError("table expects a non-empty list of dicts, one per row")
    formats = formats or {}
    keys = list(rows[0])
    grid = []                                  # (text, is a number) per row and column
    for r, row in enumerate(rows):
        cells = []
        for key in keys:
            value = row.get(key)
            text = _cell(value, formats.get(key))
            changed = (bold_changes and r > 0 and key != keys[0]
                       and value != rows[r - 1].get(key) and text)
            cells.append((f"**{text}**" if changed else text, _is_number(value)))
        grid.append(cells)
    header = [(str(key), False) for key in keys]
    if transpose:                              # key -> row, dict -> column
        header = [(keys[0], False)] + [cells[0] for cells in grid]
        grid = [[(str(key), False)] + [cells[k] for cells in grid]
                for k, key in enumerate(keys) if k > 0]
    columns = list(zip(*grid))
    align = ["---:" if all(num or not text for text, num in column) and
             any(num for _, num in column) else "---" for column in columns]
    lines = ["| " + " | ".join(text for text, _ in header) + " |",
             "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(text for text, _ in cells) + " |" for cells in grid]
    return Markdown("\n".join(lines))


def to_png(fig, dpi=None, *, crop=False, colors=None, compress_level=6, close=False):
    """A matplotlib Figure as PNG bytes.

    dpi: pixels per inch (default: the figure's own); crop: only what is drawn (no empty
    border); colors: reduce to a palette of that many colours (256 makes a plot's PNG about
    3x smaller); compress_level: zlib's 0-9 (1 is fastest, for live redraws); close: close
    the figure afterwards (pyplot forgets it).
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi or "figure",
                bbox_inches="tight" if crop else None,
                pil_kwargs={"compress_level": compress_level})
    png = buffer.getvalue()
    if colors:
        image = PILImage.open(io.BytesIO(png)).convert("RGB").quantize(colors)
        buffer = io.BytesIO()
        image.save(buffer, format="png", compress_level=compress_level)
        png = buffer.getvalue()
    if close:
        plt.close(fig)
    return png
