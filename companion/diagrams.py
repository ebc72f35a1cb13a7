"""The book's drawings: diagrams of networks and blocks, and pictures of attention, all in
matplotlib. The concept modules (`cnn`, `resnet`, `rnn`, `seq2seq`) hold the models; this module
draws them.

- `draw_sliding_kernel(image, kernel)`, `draw_cnn(model)`, `draw_inception(block)`: the CNN
  chapter's convolution, a network's tensor shapes, GoogLeNet's block.
- `draw_block(ax, layers, title)`, `draw_blocks()`, `draw_resnet(models)`: residual blocks and
  the stage plan of ResNets.
- `draw_lstm_cell()`: one LSTM step, its gates and the cell path.
- `draw_attention_step()`, `plot_attention(ax, model, src, vocab)`: an encoder-decoder with
  attention at one output step, and the attention weights of greedy decoding.

Each returns its matplotlib Figure (or the Axes it drew on). Used in: book/03_cnn.ipynb,
book/04_resnet.ipynb, book/05_rnn.ipynb, book/06_attention.ipynb.
"""
import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle
from torch import nn

from .book import COLUMN
from .cnn import conv2d
from .summary import count_params, trace


def _pair(value):
    """An int or an (h, w) pair as an (h, w) tuple."""
    return (value, value) if isinstance(value, int) else tuple(value)


# ------------------------------------------------------------------------------- convolution
_DRAWN = {"Conv2d": "conv", "MaxPool2d": "max pool", "AvgPool2d": "avg pool",
          "AdaptiveAvgPool2d": "global avg pool", "Flatten": "flatten", "Linear": "dense"}
_COLORS = {"input": "#dddddd", "conv": "#9ecae1", "max pool": "#fdae6b", "avg pool": "#fdae6b",
           "global avg pool": "#fdae6b", "flatten": "#c7e9c0", "dense": "#a1d99b"}


def _op_label(layer):
    name = _DRAWN[type(layer).__name__]
    if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        kh, kw = _pair(layer.kernel_size)
        name += f" {kh}×{kw}"
        stride = _pair(layer.stride if layer.stride is not None
                       else layer.kernel_size)
        if stride != (1, 1):
            name += f"\nstride {stride[0]}"
    return name


def draw_cnn(model, input_shape=(1, 1, 28, 28), ax=None):
    """Draw a chain of conv/pool/dense layers (e.g. LeNet5) as tensors labelled with their shapes.

    The shapes come from `companion.summary.trace` (one zero batch through the model).
    Returns the matplotlib Figure.
    """
    stages = [("input", "input", tuple(input_shape[1:]))]   # (kind, label of the op, shape)
    for row in trace(model, input_shape):                   # every leaf layer, in running order
        if row.kind in _DRAWN:
            stages.append((_DRAWN[row.kind], _op_label(row.module), tuple(row.shape[1:])))
    if ax is None:
        _, ax = plt.subplots(figsize=(1.35 * len(stages) + 1, 3.4))
    biggest = max(shape[1] for *_, shape in stages if len(shape) == 3)
    left = 0.0
    for i, (kind, op, shape) in enumerate(stages):
        color = _COLORS[kind]
        if len(shape) == 3:                           # (channels, height, width): a stack of maps
            channels, height, width = shape
            side = 2.0 * height / biggest
            sheets = min(channels, 8)
            for sheet in range(sheets):
                offset = 0.07 * sheet
                ax.add_patch(Rectangle((left + offset, -side / 2 - offset), side * width / height,
                                       side, facecolor=color, edgecolor="#333333", lw=0.6))
            extent = side * width / height + 0.07 * (sheets - 1)
            text = f"{channels}×{height}×{width}"
        else:                                         # (features,): a vector
            units = shape[0]
            height = 0.4 + 1.6 * min(1.0, (units / 400) ** 0.5)
            ax.add_patch(Rectangle((left, -height / 2), 0.18, height, facecolor=color,
                                   edgecolor="#333333", lw=0.6))
            extent = 0.18
            text = f"{units}"
        ax.text(left + extent / 2, -1.65, text, ha="center", va="top", fontsize=8)
        if i > 0:
            ax.add_patch(FancyArrowPatch((previous_right + 0.05, 0), (left - 0.05, 0),
                                         arrowstyle="-|>", mutation_scale=10, color="#555555"))
            ax.text((previous_right + left) / 2, 1.2, op, ha="center", va="bottom", fontsize=8)
        previous_right = left + extent
        left += extent + 1.0
    ax.set_xlim(-0.3, left - 0.6)
    ax.set_ylim(-2.1, 1.9)
    ax.set_axis_off()
    ax.set_title(f"{type(model).__name__}: each tensor's shape (channels×height×width, "
                 f"or features)", fontsize=10)
    return ax.figure


def draw_sliding_kernel(image, kernel, positions=((0, 0), (0, 1), (2, 3))):
    """A kernel sliding over a small image: one panel per (row, col) position.

    Each panel shows the image (its numbers), the kernel's window on it, and
    the output grid with the one value that window produces.
    """
    image, kernel = torch.as_tensor(image).float(), torch.as_tensor(kernel).float()
    out = conv2d(image[None, None], kernel[None, None])[0, 0]        # (out_h, out_w)
    kh, kw = kernel.shape
    height, width = image.shape
    gap = 1.5                                          # between image and output
    fig, axes = plt.subplots(1, len(positions), figsize=(COLUMN, 2.4))
    for ax, (i, j) in zip(axes, positions):
        for r in range(height):                        # the image, cell by cell
            for c in range(width):
                inside = i <= r < i + kh and j <= c < j + kw
                ax.add_patch(Rectangle((c, -r - 1), 1, 1, lw=0.5, edgecolor="gray",
                                       facecolor="#fdd49e" if inside else "white"))
                ax.text(c + 0.5, -r - 0.5, f"{image[r, c]:g}", ha="center",
                        va="center", fontsize=9)
        ax.add_patch(Rectangle((j, -i - kh), kw, kh, fill=False, lw=2, edgecolor="#d7301f"))
        left = width + gap                             # the output grid
        for r in range(out.shape[0]):
            for c in range(out.shape[1]):
                here = (r, c) == (i, j)
                done = (r, c) < (i, j)
                ax.add_patch(Rectangle((left + c, -r - 1), 1, 1, lw=0.5, edgecolor="gray",
                                       facecolor="#fc8d59" if here else "white"))
                if here or done:
                    ax.text(left + c + 0.5, -r - 0.5, f"{out[r, c]:g}", ha="center",
                            va="center", fontsize=9)
        ax.add_patch(FancyArrowPatch((j + kw, -i - kh / 2), (left - 0.1, -i - 0.5),
                                     arrowstyle="->", mutation_scale=12, color="#d7301f",
                                     connectionstyle="arc3,rad=-0.25"))
        ax.set_title(f"window at row {i}, column {j}", fontsize=9)
        ax.set_xlim(-0.2, left + out.shape[1] + 0.2)
        ax.set_ylim(-height - 0.2, 0.9)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.tight_layout()
    return fig


def draw_inception(block=None, ax=None):
    """The Inception block: four parallel branches, concatenated along channels.

    With `block` (an `Inception`), each box shows its layer's output channels.
    """
    def channels(branch, index):
        if block is None:
            return ""
        layer = getattr(block, branch)[index]
        return f"\n{layer.out_channels} ch" if isinstance(layer, nn.Conv2d) else ""

    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN, 3.6))
    branches = [                       # (name in the module, boxes bottom to top)
        ("branch1", ["1×1 conv"]),
        ("branch2", ["1×1 conv", "3×3 conv"]),
        ("branch3", ["1×1 conv", "5×5 conv"]),
        ("branch4", ["3×3 max pool", "1×1 conv"]),
    ]
    colors = {"1×1": "#c6dbef", "3×3": "#fdd0a2", "5×5": "#fdae6b", "max": "#d9d9d9"}
    box_w, box_h = 1.6, 0.7

    def box(x, y, text, color):
        ax.add_patch(Rectangle((x - box_w / 2, y - box_h / 2), box_w, box_h,
                               facecolor=color, edgecolor="black", lw=0.8))
        ax.text(x, y, text, ha="center", va="center", fontsize=9)

    def arrow(start, end):
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="->", mutation_scale=10,
                                     lw=0.8, color="black"))

    xs = [1.0, 3.0, 5.0, 7.0]
    box(4.0, 0.0, "input\n(c, h, w)" if block is None
        else f"input\n{block.branch1[0].in_channels} ch", "white")
    box(4.0, 4.0, "concatenate\nalong channels" if block is None
        else f"concatenate\n{block.out_channels} ch", "#c7e9c0")
    for x, (name, layers) in zip(xs, branches):
        ys = [1.5, 2.6][:len(layers)] if len(layers) == 2 else [2.05]
        arrow((4.0, box_h / 2), (x, ys[0] - box_h / 2))
        for k, (y, label) in enumerate(zip(ys, layers)):
            conv_index = 2 * k if name != "branch4" else (0 if k == 0 else 1)
            text = label + (channels(name, conv_index) if "conv" in label else "")
            box(x, y, text, colors[label.split()[0] if "pool" not in label else "max"])
            if k:
                arrow((x, ys[k - 1] + box_h / 2), (x, y - box_h / 2))
        arrow((x, ys[-1] + box_h / 2), (4.0, 4.0 - box_h / 2))
    ax.set_xlim(-0.1, 8.1)
    ax.set_ylim(-0.5, 4.5)
    ax.axis("off")
    return ax


# ---------------------------------------------------------------------------- residual blocks
def draw_block(ax, layers, title, shortcut="identity: x"):
    """Draw one residual block bottom to top on `ax`: the input x, a box per
    layer of F, the shortcut around them to the addition, ReLU, output."""
    ink, branch, short = "#333333", "#cfe2f3", "#e07b00"
    top = len(layers) + 1                           # y of the addition

    def arrow(start, end, color=ink):
        ax.annotate("", xy=end, xytext=start,
                    arrowprops=dict(arrowstyle="-|>", color=color, lw=1.4,
                                    shrinkA=0, shrinkB=0))

    ax.text(0, -0.05, "x", ha="center", va="center", fontsize=12)
    arrow((0, 0.15), (0, 0.7))
    for i, text in enumerate(layers, start=1):
        ax.add_patch(FancyBboxPatch((-1.1, i - 0.3), 2.2, 0.6,
                                    boxstyle="round,pad=0.04",
                                    facecolor=branch, edgecolor=ink))
        ax.text(0, i, text, ha="center", va="center", fontsize=9)
        arrow((0, i + 0.34), (0, i + 0.7 if i < len(layers) else top - 0.22))
    ax.add_patch(Circle((0, top), 0.2, facecolor="white", edgecolor=ink,
                        lw=1.4))
    ax.text(0, top, "+", ha="center", va="center", fontsize=13)
    # the shortcut: from the input, around the branch, into the addition
    ax.plot([0, 1.7, 1.7], [0.4, 0.4, top], color=short, lw=2.2)
    arrow((1.7, top), (0.22, top), color=short)
    ax.text(1.8, (top + 0.4) / 2, shortcut, rotation=90, ha="left",
            va="center", fontsize=9, color=short)
    ax.text(-1.25, (1 + len(layers)) / 2, "F(x)", rotation=90, ha="right",
            va="center", fontsize=10, color="#1f4e79")
    arrow((0, top + 0.22), (0, top + 0.7))
    ax.text(0, top + 0.95, "ReLU(F(x) + x)", ha="center", va="center",
            fontsize=10)
    ax.set_xlim(-2.0, 2.6)
    ax.set_ylim(-0.4, 5.4)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)


def draw_blocks():
    """The basic block (64 channels) beside the bottleneck (256 channels)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(COLUMN, 4.4))
    draw_block(left, ["3×3 conv 64→64\nBN, ReLU", "3×3 conv 64→64\nBN"],
               "basic block (ResNet-18/34)")
    draw_block(right, ["1×1 conv 256→64\nBN, ReLU",
                       "3×3 conv 64→64\nBN, ReLU",
                       "1×1 conv 64→256\nBN"],
               "bottleneck block (ResNet-50+)")
    fig.tight_layout()
    return fig


_PARTS = ["stem", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]


def _part_shapes(model, input_shape=(1, 3, 224, 224)):
    """Output shape (no batch) after the stem, stages, pooling, classifier."""
    parts = [("stem", model.maxpool)]               # the stem ends in the pool
    parts += [(name, getattr(model, name)) for name in _PARTS[1:]]
    rows = trace(model, input_shape, modules=parts)
    return {row.name: row.shape[1:] for row in rows}


def _part_label(model, name):
    """The text in a part's box."""
    if name == "stem":
        return "7×7 conv\n3×3 pool"
    if name.startswith("layer"):
        stage = getattr(model, name)
        kind = {"BasicBlock": "basic", "Bottleneck": "bottl."}
        return f"{len(stage)} × {kind[type(stage[0]).__name__]}"
    return "global\naverage" if name == "avgpool" else "linear"


def draw_resnet(models):
    """ResNets as a row of boxes each (stem, stages, pooling, classifier) with the shape of
    the tensor after each, for a 224x224 image; `models`: {title: ResNet}. The shapes come
    from `companion.summary.trace`."""
    fig, axes = plt.subplots(len(models), 1,
                             figsize=(COLUMN, 2.2 * len(models)))
    colors = {"input": "#ffffff", "stem": "#fde0c5", "avgpool": "#e0e0e0",
              "fc": "#e0e0e0"}
    for ax, (title, model) in zip(axes, models.items()):
        shapes = _part_shapes(model)
        ax.set_xlim(-0.5, len(_PARTS) + 0.5)
        ax.set_ylim(-1.3, 1.25)
        ax.axis("off")
        ax.set_title(f"{title}: {count_params(model):,} parameters",
                     loc="left", fontsize=10)
        boxes = [("input", "image", (3, 224, 224))]
        boxes += [(p, _part_label(model, p), shapes[p]) for p in _PARTS]
        for i, (name, detail, shape) in enumerate(boxes):
            x = i - 0.45
            ax.add_patch(Rectangle((x, -0.55), 0.9, 1.3,
                                   facecolor=colors.get(name, "#cfe2f3"),
                                   edgecolor="#555555"))
            if name.startswith("layer"):
                name = f"stage {name[-1]}"
            ax.text(i, 0.45, name, ha="center", va="center", fontsize=9,
                    weight="bold")
            ax.text(i, -0.1, detail, ha="center", va="center", fontsize=9)
            ax.text(i, -0.85, "\n".join(map(str, shape[:1])) + "\n"
                    + "×".join(map(str, shape[1:])), ha="center",
                    va="center", fontsize=9, color="#333333")
            if i:
                ax.annotate("", xy=(x, 0.1), xytext=(x - 0.1, 0.1),
                            arrowprops=dict(arrowstyle="->", color="#555555"))
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- recurrent
def draw_lstm_cell():
    """One LSTM step: the four parts (forget, input, candidate, output) fed by x_t and
    h_{t-1}, and the cell path c_{t-1} -> c_t on top, which only multiplies and adds."""
    fig, ax = plt.subplots(figsize=(COLUMN, 4.0))
    ax.set_xlim(-0.6, 12.8)
    ax.set_ylim(-0.6, 5.9)
    ax.axis("off")
    ax.add_patch(FancyBboxPatch((0.6, 0.5), 10.6, 5.0,
                                boxstyle="round,pad=0.1",
                                facecolor="#f4f4f4", edgecolor="#999999"))
    ink, path = "#333333", "#e07b00"
    gate, candidate = "#cfe3f7", "#d6f0d0"

    def connect(points, tip=True, color=ink, lw=1.4):
        xs, ys = zip(*points)
        ax.plot(xs, ys, color=color, lw=lw, zorder=1,
                solid_capstyle="round")
        if tip:
            ax.annotate("", xy=points[-1], xytext=points[-2],
                        arrowprops=dict(arrowstyle="-|>", color=color,
                                        lw=lw, shrinkA=0, shrinkB=0))

    def op(x, y, symbol):
        ax.add_patch(Circle((x, y), 0.3, facecolor="white",
                            edgecolor=ink, lw=1.4, zorder=3))
        ax.text(x, y, symbol, ha="center", va="center", fontsize=12,
                zorder=4)

    def part(x, y, func, name, color):
        ax.add_patch(FancyBboxPatch((x - 0.55, y - 0.34), 1.1, 0.68,
                                    boxstyle="round,pad=0.05",
                                    facecolor=color, edgecolor=ink,
                                    zorder=3))
        ax.text(x, y, func, ha="center", va="center", fontsize=11,
                zorder=4)
        if name:   # on a patch of background: the arrow passes behind
            ax.text(x, y - 0.58, name, ha="center", va="top", fontsize=9,
                    zorder=5, bbox=dict(facecolor="#f4f4f4",
                                        edgecolor="none", pad=1))

    cell_y, part_y, bus_y = 4.8, 2.6, 1.2
    # the cell path: c_{t-1} -> x f -> + i*g -> c_t
    connect([(-0.4, cell_y), (3.2, cell_y)], tip=False, color=path, lw=3)
    connect([(3.8, cell_y), (6.2, cell_y)], tip=False, color=path, lw=3)
    connect([(6.8, cell_y), (12.5, cell_y)], color=path, lw=3)
    ax.text(-0.4, cell_y + 0.3, "$c_{t-1}$", fontsize=11)
    ax.text(12.0, cell_y + 0.3, "$c_t$", fontsize=11)
    ax.text(8.6, cell_y + 0.45, "cell path: only × and +", ha="center",
            fontsize=9, color=path)
    op(3.5, cell_y, "×")
    op(6.5, cell_y, "+")
    # h_{t-1} from the left and x_t from below feed all four parts
    connect([(-0.4, bus_y), (8.5, bus_y)], tip=False)
    ax.text(-0.4, bus_y + 0.25, "$h_{t-1}$", fontsize=11)
    connect([(1.6, -0.5), (1.6, bus_y)], tip=False)
    ax.text(1.8, -0.45, "$x_t$", fontsize=11)
    parts = [(3.5, "σ", "forget f", gate), (5.0, "σ", "input i", gate),
             (6.5, "tanh", "candidate g", candidate),
             (8.5, "σ", "output o", gate)]
    for x, func, name, color in parts:
        connect([(x, bus_y), (x, part_y - 0.36)])
        part(x, part_y, func, name, color)
    connect([(3.5, part_y + 0.36), (3.5, cell_y - 0.3)])  # f scales c
    op(6.5, 3.75, "×")                                      # i * g
    connect([(5.0, part_y + 0.36), (5.0, 3.75), (6.2, 3.75)])
    connect([(6.5, part_y + 0.36), (6.5, 3.45)])
    connect([(6.5, 4.05), (6.5, cell_y - 0.3)])
    # the output: h_t = o * tanh(c_t)
    connect([(10.1, cell_y), (10.1, 4.1)])
    part(10.1, 3.75, "tanh", "", "#ffffff")
    op(10.1, 2.6, "×")
    connect([(10.1, 3.4), (10.1, 2.9)])
    connect([(9.05, part_y), (9.8, part_y)])
    connect([(10.1, 2.3), (10.1, bus_y), (12.5, bus_y)])
    ax.text(12.0, bus_y + 0.25, "$h_t$", fontsize=11)
    return fig


# ----------------------------------------------------------------------------- attention
def plot_attention(ax, model, src, vocab, title=None, extra_steps=12,
                   decoded=None):
    """The attention weights of greedy decoding for one source (1, S): one
    row per output token (and <eos>), one column per source token.

    decoded: `model.greedy(src, ...)` if already computed (tokens, weights).
    """
    if model.attention is None:
        raise ValueError("a model without attention has no weights to show")
    tokens, weights = decoded or model.greedy(src,
                                              src.shape[1] + extra_steps)
    out = list(vocab.decode(tokens[0])) + ["<eos>"]
    rows = min(len(out), weights.shape[1])
    source = vocab.decode(src[0])
    ax.imshow(weights[0, :rows, :len(source)].numpy(), cmap="Blues", vmin=0,
              vmax=1, aspect="auto")
    ax.set_xticks(range(len(source)), list(source))
    ax.set_yticks(range(rows), out[:rows])
    ax.tick_params(length=0)
    ax.set(xlabel="source", ylabel="output")
    if title:
        ax.set_title(title)
    return ax


def draw_attention_step(S=5, T=4, t=2, weights=(0.05, 0.1, 0.6, 0.2, 0.05)):
    """A diagram of the GRU encoder–decoder with Luong attention at output
    step t: the decoder state h_t scores every encoder state, the softmax
    weights make the context c_t, and c_t with h_t predicts the next token.
    Positions, steps and tokens are counted from 0 (x_0 ... x_{S-1}; the
    decoder reads <bos>, y_0, y_1, ... and starts from the encoder's last
    state). The weights are made up. Returns the Figure."""
    fig, ax = plt.subplots(figsize=(COLUMN, 3.9))
    ax.set_xlim(-0.6, S + T + 1.9)
    ax.set_ylim(-0.85, 4.45)
    ax.axis("off")
    grey, blue, orange = "#555555", "#2b7bba", "#cc6600"

    def box(x, y, text, color):
        ax.add_patch(FancyBboxPatch((x - 0.36, y - 0.25), 0.72, 0.5,
                                    boxstyle="round,pad=0.02",
                                    facecolor=color, edgecolor=grey))
        ax.text(x, y, text, ha="center", va="center")

    def arrow(x0, y0, x1, y1, color=grey, **kw):
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="->", color=color, **kw))

    def label(x, y, text, **kw):
        ax.text(x, y, text, ha="center", fontsize=9, color="#333333",
                bbox=dict(facecolor="white", edgecolor="none", pad=1), **kw)

    for s in range(S):                                   # the encoder
        ax.text(s, -0.65, f"$x_{{{s}}}$", ha="center")
        arrow(s, -0.4, s, 0.73)
        box(s, 1, f"$\\bar h_{{{s}}}$", "#cfe2f3")
        if s:
            arrow(s - 0.62, 1, s - 0.38, 1)
    label((S - 1) / 2, 0.35, "encoder GRU")
    x0 = S + 0.6                                         # the decoder
    for j in range(T):
        x = x0 + j
        ax.text(x, -0.65, "<bos>" if j == 0 else f"$y_{{{j - 1}}}$",
                ha="center", fontsize=9)
        arrow(x, -0.4, x, 0.73)
        box(x, 1, f"$h_{{{j}}}$", "#fde0c5" if j == t else "#f3f3f3")
        start = S - 1 + 0.38 if j == 0 else x - 0.62     # h_0 from the encoder
        arrow(start, 1, x - 0.38, 1)
    label(x0 + (T - 1) / 2, 0.35, "decoder GRU")
    xt = x0 + t
    box(xt, 2.6, "$c_t$", "#d9ead3")                     # the context
    for s, w in enumerate(weights):                      # width = weight
        arrow(s, 1.27, xt - 0.3, 2.45, color=blue, lw=0.5 + 6 * w,
              alpha=0.35 + 0.65 * w, connectionstyle="arc3,rad=-0.15")
        ax.text(s, 1.5, f"{w:.2f}", ha="center", fontsize=9, color=blue)
    ax.text(-0.55, 1.85, "weights $\\alpha_{ts}$", fontsize=9, color=blue)
    arrow(xt, 1.27, xt, 2.33, color=orange)              # h_t: the query
    ax.text(xt - 0.08, 1.75, "query", fontsize=9, color=orange, ha="right")
    box(xt, 3.55, "$\\tilde h_t$", "#fff2cc")
    arrow(xt, 2.87, xt, 3.28)
    ax.plot([xt + 0.25, xt + 0.25, xt + 0.6, xt + 0.6],
            [1.25, 1.7, 1.7, 3.55], color=orange, lw=1)
    arrow(xt + 0.6, 3.55, xt + 0.38, 3.55, color=orange)  # h_t into h̃_t
    ax.text(xt + 0.7, 3.55, "$\\tanh(W_c[c_t; h_t])$", fontsize=9,
            va="center")
    ax.text(xt, 4.2, "$y_t$: scores of the next token", ha="center",
            fontsize=9)
    arrow(xt, 3.82, xt, 4.1)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- transformer
def draw_transformer_block(ax=None, norm_first=True):
    """One Transformer block, bottom to top: two residual branches (self-
    attention, feed-forward), LayerNorm before each branch (pre-LN) or after
    each addition (post-LN). Returns the Axes. Used in 07_transformer."""
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN / 2, 5.0))
    ink, stream = "#333333", "#e07b00"
    colors = {"LayerNorm": "#fde0c5", "self-attention": "#cfe2f3",
              "feed-forward": "#d9ead3"}
    if norm_first:                             # x + f(LN(x)), twice
        parts = ["LayerNorm", "self-attention", "+", "LayerNorm",
                 "feed-forward", "+"]
        shortcuts = [(0.4, 3), (3.45, 6)]      # (leaves at y, joins at +)
    else:                                      # LN(x + f(x)), twice
        parts = ["self-attention", "+", "LayerNorm", "feed-forward", "+",
                 "LayerNorm"]
        shortcuts = [(0.4, 2), (3.45, 5)]
    top = len(parts) + 1
    ax.annotate("", xy=(0, top), xytext=(0, 0), zorder=0,
                arrowprops=dict(arrowstyle="-|>", color=stream, lw=2.5))
    for start, end in shortcuts:
        ax.plot([0, 1.6, 1.6], [start, start, end], color=stream, lw=1.5)
        ax.annotate("", xy=(0.25, end), xytext=(1.6, end),
                    arrowprops=dict(arrowstyle="-|>", color=stream, lw=1.5))
    for y, part in enumerate(parts, start=1):
        if part == "+":
            ax.add_patch(Circle((0, y), 0.25, facecolor="white",
                                edgecolor=ink, zorder=2))
            ax.text(0, y, "+", ha="center", va="center", fontsize=12)
        else:
            ax.add_patch(FancyBboxPatch((-1.1, y - 0.3), 2.2, 0.6,
                                        boxstyle="round,pad=0.04", zorder=2,
                                        facecolor=colors[part],
                                        edgecolor=ink))
            ax.text(0, y, part, ha="center", va="center", fontsize=9,
                    zorder=3)
    ax.text(0, -0.35, "x", ha="center", fontsize=11)
    ax.text(-1.6, len(parts) / 2 + 0.5, "residual stream", rotation=90,
            ha="center", va="center", fontsize=9, color=stream)
    ax.set_xlim(-2.1, 2.1)
    ax.set_ylim(-0.6, top + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("pre-LN (as in GPT-2)" if norm_first else
                 "post-LN (Vaswani et al. 2017)", fontsize=10)
    return ax


def draw_transformer_blocks():
    """The post-LN block (left) beside the pre-LN block (right): the Figure."""
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN, 5.0))
    draw_transformer_block(axes[0], norm_first=False)
    draw_transformer_block(axes[1], norm_first=True)
    fig.tight_layout()
    return fig
