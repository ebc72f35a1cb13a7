"""What chapter 3 shows: a convolution's padding and stride, kernels learning to be edge
detectors, and the maps a trained network makes of one digit.

- `conv_explorer(image, kernels)`: pick a kernel, a padding and a stride; the padded input with
  the window centres, and the feature map (an Explorer).
- `kernel_film(snapshots)`: scrub through a `cnn.KernelSnapshots` recording, the kernels and
  their `ramp_share` at each step (an Explorer with a play button).
- `draw_feature_maps(model, x)`: the input and one row per stage of `cnn.feature_maps`.

Each explorer frame is drawn into ONE figure made once (only the data, limits and titles
change), laid out once, and saved as PNG bytes: about three times cheaper than a fresh figure
cropped to its contents for every frame. The convolution, the kernels' measure and the maps
are in companion/cnn.py. Used in: book/03_cnn.ipynb; tests/test_cnn.py.
"""
import io

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from ..book import COLUMN
from ..cnn import conv2d, feature_maps, ramp_share
from ..explorer import Explorer


def _png(fig, dpi):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def conv_explorer(image, kernels, paddings=(0, 1, 2), strides=(1, 2), value=None, dpi=100):
    """An Explorer: pick a kernel, a padding and a stride; see the padded input with a dot at the
    centre of every window the kernel visits (left) and the feature map it makes (right).

    image: (1, height, width); kernels: {name: (k, k) tensor} of one odd size k.
    """
    if image.dim() != 3 or image.shape[0] != 1:
        raise ValueError(f"conv_explorer expects one greyscale image of shape (1, height, "
                         f"width); got {tuple(image.shape)}")
    shapes = {tuple(K.shape) for K in kernels.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"conv_explorer expects 2-D kernels that all share one shape (the dots "
                         f"mark window centres); got shapes {sorted(shapes)}")
    size = next(iter(shapes))[-1]
    fig, (left, right) = plt.subplots(1, 2, figsize=(COLUMN, 3.4))
    padded_image = left.imshow(image[0].numpy(), cmap="gray_r")
    dots, = left.plot([], [], ".", color="C1", markersize=2)
    feature_map = right.imshow(image[0].numpy(), cmap="RdBu_r")
    for ax in (left, right):
        ax.set_xticks([])
        ax.set_yticks([])
    left.set_title(" ", fontsize=10)
    right.set_title(" ", fontsize=10)
    fig.tight_layout()

    def render(kernel, padding, stride):
        K = kernels[kernel]                                         # (k, k)
        out = conv2d(image[None], K[None, None], padding=padding,
                     stride=stride)[0, 0]                           # (H_out, W_out)
        padded = F.pad(image[0], (padding,) * 4)                    # (H + 2P, W + 2P)
        centres = torch.arange(out.shape[0]) * stride + size // 2   # window centres
        rows, cols = torch.meshgrid(centres, centres, indexing="ij")
        for ax, shown, data in ((left, padded_image, padded), (right, feature_map, out)):
            shown.set_data(data.numpy())
            shown.set_extent((-0.5, data.shape[1] - 0.5, data.shape[0] - 0.5, -0.5))
            ax.set_xlim(-0.5, data.shape[1] - 0.5)
            ax.set_ylim(data.shape[0] - 0.5, -0.5)
        limit = out.abs().max().item()
        feature_map.set_clim(-limit, limit)
        dots.set_data(cols.flatten().numpy(), rows.flatten().numpy())
        left.set_title(f"input, padded: {padded.shape[0]}×{padded.shape[1]}", fontsize=10)
        right.set_title(f"{kernel} map: {out.shape[0]}×{out.shape[1]}", fontsize=10)
        return _png(fig, dpi)

    try:
        return Explorer({"kernel": list(kernels), "padding": list(paddings),
                         "stride": list(strides)}, render, value=value, dpi=dpi)
    finally:
        plt.close(fig)


def kernel_film(snapshots, title="first-layer kernels", dpi=100):
    """An Explorer that scrubs through a `KernelSnapshots` with a play button: the kernels at
    each step (first input channel, red positive, blue negative) with their `ramp_share`, and
    below them the mean ramp share at every snapshot, the current one marked."""
    kernels = [k[:, 0] for k in snapshots.kernels]                 # each (out, kh, kw)
    shares = [ramp_share(k) for k in kernels]                      # each (out,)
    mean = [s.mean().item() for s in shares]
    fig = plt.figure(figsize=(COLUMN, 3.0))
    grid = fig.add_gridspec(2, len(kernels[0]), height_ratios=[1, 1.2])
    tiles = []
    for k in range(len(kernels[0])):
        ax = fig.add_subplot(grid[0, k])
        ax.axis("off")
        tiles.append((ax, ax.imshow(kernels[0][k].numpy(), cmap="RdBu_r")))
    curve = fig.add_subplot(grid[1, :])
    curve.plot(snapshots.steps, mean, "-o", markersize=3)
    marker, = curve.plot([], [], "o", markersize=8, color="C1")
    curve.set_xlabel("training step (batches)")
    curve.set_ylabel("mean ramp")
    heading = fig.suptitle(f"{title} after {snapshots.steps[-1]} of "
                           f"{snapshots.steps[-1]} steps", fontsize=10)
    for ax, _ in tiles:
        ax.set_title("ramp 0.00", fontsize=9)
    fig.tight_layout()

    def render(step):
        i = snapshots.steps.index(step)
        for (ax, tile), K, share in zip(tiles, kernels[i], shares[i]):   # K: (kh, kw)
            limit = K.abs().max().item()
            tile.set_data(K.numpy())
            tile.set_clim(-limit, limit)
            ax.set_title(f"ramp {share:.2f}", fontsize=9)
        marker.set_data([step], [mean[i]])
        heading.set_text(f"{title} after {step} of {snapshots.steps[-1]} steps")
        return _png(fig, dpi)

    try:
        return Explorer({"step": list(snapshots.steps)}, render, play="step",
                        value={"step": snapshots.steps[-1]}, description={"step": "step"},
                        dpi=dpi)
    finally:
        plt.close(fig)


def draw_feature_maps(model, x, num_shown=6, height=6.6, limit=None):
    """A figure: the input, then one row per `feature_maps` stage with its first `num_shown`
    channels (red positive, blue negative). Colours run from -limit to limit; by default
    -1 to 1 (tanh's range), or a row's own largest |value| where it goes beyond 1 (ReLU)."""
    maps, prediction = feature_maps(model, x)
    fig, axes = plt.subplots(len(maps) + 1, num_shown, figsize=(COLUMN, height))
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[0]:
        ax.axis("off")
    axes[0, 0].imshow(x[0, 0].numpy(), cmap="gray_r")
    axes[0, 0].set_title(f"input (predicted: {prediction})", fontsize=9, loc="left")
    for row, (label, stage) in zip(axes[1:], maps):
        row_limit = limit or max(1.0, stage.abs().max().item())
        for channel, ax in enumerate(row):
            if channel < len(stage):
                ax.imshow(stage[channel].numpy(), cmap="RdBu_r", vmin=-row_limit,
                          vmax=row_limit)
            else:
                ax.axis("off")
        row[0].set_ylabel(f"{label}\n{stage.shape[1]}×{stage.shape[2]}", fontsize=9)
    fig.tight_layout()
    return fig
