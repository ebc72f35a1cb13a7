"""Convolution and pooling from scratch, receptive fields, and four classic CNNs for MNIST.

How `conv2d` is computed: a convolution takes, at every output position, the dot product of
the kernel with the input window under it. Written as explicit loops over output positions
it is easy to read but runs hundreds of Python iterations per image and is far slower than
PyTorch. So we use the *im2col* trick instead: `Tensor.unfold` cuts the padded input into
all its windows at once (a strided view, no copy), each window is flattened into one row of
a matrix, and the whole convolution becomes ONE matrix multiplication of that matrix with
the flattened kernels. Every step is still visible, and the heavy lifting goes to the same
matrix-multiply routines PyTorch uses, so it stays within a few times of `F.conv2d`.
Pooling uses the same windows and takes their max or mean instead of a dot product.

The chapter's drawings of these (a sliding kernel, a network's shapes, the Inception block) are
in companion/diagrams.py; its explorers and its figure of feature maps (`conv_explorer`,
`kernel_film`, `draw_feature_maps`) in companion/show/cnn.py.
Used in: book/03_cnn.ipynb; `diagrams` (conv2d); `show.cnn`; tests/test_cnn.py;
benchmarks/bench_conv2d.py.
"""
import torch
import torch.nn.functional as F
from torch import nn

from .snapshots import Snapshots

__all__ = [
    "conv2d", "max_pool2d", "avg_pool2d", "conv_output_size", "receptive_field",
    "LeNet5", "AlexNetSmall", "VGGSmall", "vgg_block", "Inception", "GoogLeNetSmall", "make_cnn",
    "ramp_share", "KernelSnapshots", "feature_maps",
]


# ----------------------------------------------------------------------------- helpers
def _pair(value, name, minimum):
    """Turn an int or an (h, w) pair into a checked (h, w) tuple of ints."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= minimum for v in pair):
        raise ValueError(f"{name} must be an int >= {minimum} or a pair (h, w) of them; "
                         f"got {value!r}")
    return pair


def _check_4d(x, fn):
    if x.dim() != 4:
        raise ValueError(f"{fn} expects x of shape (batch, channels, height, width); "
                         f"got {tuple(x.shape)}")


def conv_output_size(size, kernel_size, stride=1, padding=0):
    """Output length along one axis: floor((size + 2*padding - kernel_size) / stride) + 1."""
    return (size + 2 * padding - kernel_size) // stride + 1


def _windows(x, kernel, stride, padding, fill, fn):
    """All kernel-sized windows of x padded with `fill`: (batch, channels, out_h, out_w, kh, kw)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    height, width = x.shape[-2] + 2 * ph, x.shape[-1] + 2 * pw
    if kh > height or kw > width:
        raise ValueError(
            f"{fn}: kernel {kh}x{kw} is larger than the padded input {height}x{width} "
            f"(input {x.shape[-2]}x{x.shape[-1]} with padding {ph}x{pw}); "
            f"expected a kernel of at most {height}x{width}")
    if ph or pw:
        x = F.pad(x, (pw, pw, ph, ph), value=fill)   # (batch, channels, height, width), padded
    return x.unfold(2, kh, sh).unfold(3, kw, sw)      # (batch, channels, out_h, out_w, kh, kw)


# ----------------------------------------------------------------------------- convolution
def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution (cross-correlation, as in PyTorch) via im2col.

    Same result as F.conv2d. x: (batch, in_channels, height, width);
    weight: (out_channels, in_channels, kernel_h, kernel_w); bias: (out,).
    """
    _check_4d(x, "conv2d")
    _check_conv_args(x, weight, bias)
    num_outputs, num_inputs, kh, kw = weight.shape
    stride = _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    # (batch, in_channels, out_h, out_w, kh, kw): every window, no copy
    windows = _windows(x, (kh, kw), stride, padding, 0.0, "conv2d")
    batch, _, out_h, out_w = windows.shape[:4]
    # im2col: one row per (channel, kernel pixel), one column per position
    cols = windows.permute(0, 1, 4, 5, 2, 3).reshape(
        batch, num_inputs * kh * kw, out_h * out_w)
    # (out_channels, in * kh * kw) @ (batch, in * kh * kw, out_h * out_w)
    out = weight.reshape(num_outputs, -1) @ cols
    if bias is not None:
        out = out + bias.reshape(-1, 1)      # one bias per output channel
    return out.reshape(batch, num_outputs, out_h, out_w)


def _check_conv_args(x, weight, bias):
    if weight.dim() != 4:
        raise ValueError("conv2d expects weight of shape (out_channels, in_channels, kernel_h, "
                         f"kernel_w); got {tuple(weight.shape)}")
    num_outputs, num_inputs = weight.shape[:2]
    if x.shape[1] != num_inputs:
        raise ValueError(f"conv2d: weight of shape {tuple(weight.shape)} expects {num_inputs} "
                         f"input channel(s), but x of shape {tuple(x.shape)} has {x.shape[1]}")
    if bias is not None and tuple(bias.shape) != (num_outputs,):
        raise ValueError(f"conv2d expects bias of shape ({num_outputs},); "
                         f"got {tuple(bias.shape)}")


# ----------------------------------------------------------------------------- pooling
def _pool_args(kernel_size, stride, padding, fn):
    kernel = _pair(kernel_size, "kernel_size", 1)
    stride = kernel if stride is None else _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{fn}: padding {padding} must be at most half the kernel "
                         f"{kernel} (as in PyTorch)")
    return kernel, stride, padding


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over each window (stride defaults to the kernel size).

    Same result as F.max_pool2d; padding counts as -inf, never the max.
    """
    _check_4d(x, "max_pool2d")
    kernel, stride, padding = _pool_args(kernel_size, stride, padding,
                                         "max_pool2d")
    # (batch, channels, out_h, out_w, kh, kw)
    windows = _windows(x, kernel, stride, padding, float("-inf"),
                       "max_pool2d")
    return windows.flatten(-2).amax(dim=-1)  # (batch, channels, out_h, out_w)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over each window, padding counted as zeros; same result as F.avg_pool2d."""
    _check_4d(x, "avg_pool2d")
    kernel, stride, padding = _pool_args(kernel_size, stride, padding, "avg_pool2d")
    windows = _windows(x, kernel, stride, padding, 0.0, "avg_pool2d")
    return windows.flatten(-2).mean(dim=-1)           # (batch, channels, out_h, out_w)


# ----------------------------------------------------------------------------- receptive field
_POINTWISE = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.GELU, nn.ELU, nn.SiLU,
              nn.Identity, nn.Dropout, nn.Dropout2d, nn.BatchNorm2d, nn.LocalResponseNorm)


def _layer_geometry(layer):
    """(kernel, stride, dilation) pairs of one conv/pool layer, or None for a pointwise layer."""
    if isinstance(layer, nn.Conv2d):
        return _pair(layer.kernel_size, "kernel_size", 1), _pair(layer.stride, "stride", 1), \
            _pair(layer.dilation, "dilation", 1)
    if isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
        stride = layer.stride if layer.stride is not None else layer.kernel_size
        dilation = getattr(layer, "dilation", 1)
        return _pair(layer.kernel_size, "kernel_size", 1), _pair(stride, "stride", 1), \
            _pair(dilation, "dilation", 1)
    if isinstance(layer, _POINTWISE):
        return None
    raise ValueError(f"receptive_field knows Conv2d, MaxPool2d, AvgPool2d and pointwise layers "
                     f"(activations, BatchNorm2d, Dropout); got {type(layer).__name__}")


def receptive_field(layers):
    """(height, width) of the input patch that one output unit of a conv/pool stack sees.

    Walking from the input: each layer adds (kernel - 1) * dilation * jump pixels, where
    jump is the product of the strides before it (the distance, in input pixels, between
    neighbouring units of the layer's input). `layers` is a list of layers or an nn.Sequential.
    """
    if isinstance(layers, nn.Module):
        layers = list(layers.children()) or [layers]
    size, jump = [1, 1], [1, 1]
    for layer in layers:
        geometry = _layer_geometry(layer)
        if geometry is None:
            continue
        for axis in (0, 1):
            kernel, stride, dilation = (g[axis] for g in geometry)
            size[axis] += (kernel - 1) * dilation * jump[axis]
            jump[axis] *= stride
    return tuple(size)


# ----------------------------------------------------------------------------- architectures
class _Classic(nn.Module):
    """Base: `features` (conv part) then `classifier` (dense part); repr shows the size."""

    def forward(self, x):                             # x: (batch, 1, 28, 28)
        return self.classifier(self.features(x))      # (batch, 10)

    def extra_repr(self):
        return f"{sum(p.numel() for p in self.parameters()):,} parameters"


class LeNet5(_Classic):
    """LeCun et al. 1998: conv -> subsample -> conv -> subsample -> dense, tanh + average pooling."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Tanh(),   # (b, 6, 28, 28)
            nn.AvgPool2d(2),                                         # (b, 6, 14, 14)
            nn.Conv2d(6, 16, kernel_size=5), nn.Tanh(),              # (b, 16, 10, 10)
            nn.AvgPool2d(2),                                         # (b, 16, 5, 5)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                            # (b, 400)
            nn.Linear(16 * 5 * 5, 120), nn.Tanh(),
            nn.Linear(120, 84), nn.Tanh(),
            nn.Linear(84, num_classes),
        )


class AlexNetSmall(_Classic):
    """Krizhevsky et al. 2012, scaled down: deeper, ReLU, overlapping max pooling, dropout."""

    def __init__(self, num_classes=10, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=5, padding=2), nn.ReLU(),   # (b, 16, 28, 28)
            nn.MaxPool2d(3, stride=2),                               # (b, 16, 13, 13)
            nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(),  # (b, 32, 13, 13)
            nn.MaxPool2d(3, stride=2),                               # (b, 32, 6, 6)
            nn.Conv2d(32, 48, kernel_size=3, padding=1), nn.ReLU(),  # (b, 48, 6, 6)
            nn.Conv2d(48, 48, kernel_size=3, padding=1), nn.ReLU(),  # (b, 48, 6, 6)
            nn.Conv2d(48, 32, kernel_size=3, padding=1), nn.ReLU(),  # (b, 32, 6, 6)
            nn.MaxPool2d(3, stride=2),                               # (b, 32, 2, 2)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                            # (b, 128)
            nn.Dropout(dropout), nn.Linear(32 * 2 * 2, 128), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(128, 128), nn.ReLU(),
            nn.Linear(128, num_classes),
        )


def vgg_block(num_convs, in_channels, out_channels):
    """VGG's unit: `num_convs` 3x3 convolutions (padding 1) with ReLU, then a 2x2 max pool."""
    layers = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
        in_channels = out_channels
    return nn.Sequential(*layers, nn.MaxPool2d(2))


class VGGSmall(_Classic):
    """Simonyan & Zisserman 2014, scaled down: the same 3x3 block repeated, channels doubling."""

    def __init__(self, blocks=((1, 8), (1, 16), (2, 32)), num_classes=10, dropout=0.5):
        super().__init__()
        stages, in_channels, size = [], 1, 28
        for num_convs, out_channels in blocks:
            stages.append(vgg_block(num_convs, in_channels, out_channels))
            in_channels, size = out_channels, size // 2
        self.features = nn.Sequential(*stages)                       # (b, 32, 3, 3)
        self.classifier = nn.Sequential(
            nn.Flatten(),                                            # (b, 288)
            nn.Linear(in_channels * size * size, 128), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(128, num_classes),
        )


class Inception(nn.Module):
    """GoogLeNet's block: four parallel branches whose outputs are stacked along channels.

    1x1 conv | 1x1 -> 3x3 conv | 1x1 -> 5x5 conv | 3x3 max pool -> 1x1 conv. Every branch keeps
    height and width, so the outputs can be concatenated: out channels = c1 + c2[1] + c3[1] + c4.
    """

    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        self.shape = (in_channels, c1, tuple(c2), tuple(c3), c4)
        self.branch1 = nn.Sequential(nn.Conv2d(in_channels, c1, 1), nn.ReLU())
        self.branch2 = nn.Sequential(nn.Conv2d(in_channels, c2[0], 1), nn.ReLU(),
                                     nn.Conv2d(c2[0], c2[1], 3, padding=1), nn.ReLU())
        self.branch3 = nn.Sequential(nn.Conv2d(in_channels, c3[0], 1), nn.ReLU(),
                                     nn.Conv2d(c3[0], c3[1], 5, padding=2), nn.ReLU())
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                     nn.Conv2d(in_channels, c4, 1), nn.ReLU())
        self.out_channels = c1 + c2[1] + c3[1] + c4

    def forward(self, x):                             # x: (batch, in_channels, h, w)
        branches = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return torch.cat(branches, dim=1)             # (batch, out_channels, h, w)

    def extra_repr(self):
        n, c1, c2, c3, c4 = self.shape
        return (f"{n} -> {self.out_channels} channels: 1x1 {c1} | 1x1 {c2[0]} -> 3x3 {c2[1]} | "
                f"1x1 {c3[0]} -> 5x5 {c3[1]} | maxpool -> 1x1 {c4}")


class GoogLeNetSmall(_Classic):
    """Szegedy et al. 2014, scaled down: a stem, Inception blocks, global average pooling."""

    def __init__(self, num_classes=10):
        super().__init__()
        inception1 = Inception(16, 8, (8, 16), (4, 8), 8)            # 16 -> 40 channels
        inception2 = Inception(40, 16, (16, 24), (4, 8), 8)          # 40 -> 56 channels
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(),   # (b, 16, 28, 28)
            nn.MaxPool2d(2),                                         # (b, 16, 14, 14)
            inception1,                                              # (b, 40, 14, 14)
            nn.MaxPool2d(2),                                         # (b, 40, 7, 7)
            inception2,                                              # (b, 56, 7, 7)
        )
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),                   # (b, 56)
            nn.Linear(inception2.out_channels, num_classes),
        )


# ----------------------------------------------------------------------------- playground
_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
_POOLS = {"max": nn.MaxPool2d, "average": nn.AvgPool2d, "none": None}


def make_cnn(num_blocks=2, channels=16, kernel_size=3, padding="same", pool="max",
             activation="relu", dropout=0.0, input_size=28, num_classes=10):
    """A plain CNN: `num_blocks` x (conv -> activation -> 2x2 pool), channels doubling, then dense.

    Raises ValueError, saying where and why, when a setting makes the feature map vanish.
    """
    if not 1 <= num_blocks <= 5:
        raise ValueError(f"num_blocks must be between 1 and 5; got {num_blocks}")
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid'; got {padding!r}")
    if pool not in _POOLS or activation not in _ACTIVATIONS:
        raise ValueError(f"pool must be one of {list(_POOLS)} and activation one of "
                         f"{list(_ACTIVATIONS)}; got pool={pool!r}, activation={activation!r}")
    if padding == "same" and kernel_size % 2 == 0:
        raise ValueError(f"'same' padding needs an odd kernel_size; got {kernel_size}")
    layers, in_channels, size = [], 1, input_size
    for block in range(1, num_blocks + 1):
        out_channels = channels * 2 ** (block - 1)
        pad = kernel_size // 2 if padding == "same" else 0
        if size + 2 * pad < kernel_size:
            raise ValueError(
                f"The feature map vanishes in block {block}: the layers before it shrank the "
                f"{input_size}x{input_size} input to {size}x{size}, smaller than the "
                f"{kernel_size}x{kernel_size} kernel. Use fewer blocks, a smaller kernel, "
                f"'same' padding or no pooling.")
        size = conv_output_size(size, kernel_size, 1, pad)
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size, padding=pad),
                   _ACTIVATIONS[activation]()]
        if _POOLS[pool] is not None:
            if size < 2:
                raise ValueError(
                    f"The feature map vanishes in block {block}: a 2x2 pool cannot shrink a "
                    f"{size}x{size} map. Too many pooling layers for a {input_size}x"
                    f"{input_size} input; use fewer blocks or no pooling.")
            layers.append(_POOLS[pool](2))
            size //= 2
        in_channels = out_channels
    layers += [nn.Flatten(), nn.Dropout(dropout),
               nn.Linear(in_channels * size * size, num_classes)]
    return nn.Sequential(*layers)


# ----------------------------------------------------------------------------- learned kernels
def ramp_share(kernels):
    """How much each kernel looks like an oriented edge detector, from 0 to 1.

    An edge detector is negative on one side and positive on the other: a ramp a*x + b*y in
    some direction. This is the share of each kernel's variation (around its mean) that the best
    such ramp explains: 1 for a perfect ramp, about 2 / (kh*kw - 1) on average for random noise.
    `kernels` has shape (num_kernels, kh, kw); returns shape (num_kernels,).
    """
    if kernels.dim() != 3 or min(kernels.shape[1:]) < 2:
        raise ValueError("ramp_share expects kernels of shape (num_kernels, kernel_h, kernel_w) "
                         f"with kernels of at least 2x2; got {tuple(kernels.shape)}")
    num_kernels, kh, kw = kernels.shape
    rows = torch.arange(kh, dtype=kernels.dtype) - (kh - 1) / 2
    cols = torch.arange(kw, dtype=kernels.dtype) - (kw - 1) / 2
    ramps = torch.stack([cols.expand(kh, kw).flatten(),            # left -> right
                         rows[:, None].expand(kh, kw).flatten()])  # top -> bottom: (2, kh*kw)
    centred = (kernels - kernels.mean(dim=(1, 2), keepdim=True)).flatten(1)   # (n, kh*kw)
    coefficients = centred @ ramps.T / ramps.pow(2).sum(dim=1)     # the two ramps are orthogonal
    explained = (coefficients @ ramps).pow(2).sum(dim=1)           # (n,)
    total = centred.pow(2).sum(dim=1)
    return torch.where(total > 0, explained / total.clamp_min(1e-30), torch.zeros_like(total))


class KernelSnapshots(Snapshots):
    """A `fit` callback that keeps copies of a convolution's kernels as training goes
    (a `companion.snapshots.Snapshots` that copies `conv.weight`).

    `steps`: the optimizer steps (batches since the start of training) after which to copy;
    step 0, the kernels before training, is copied when the object is made. `.steps` and
    `.kernels` (a list of (out_channels, in_channels, kh, kw) tensors) grow together.
    """

    def __init__(self, conv, steps):
        if not isinstance(conv, nn.Conv2d):
            raise ValueError(f"KernelSnapshots expects an nn.Conv2d; got {type(conv).__name__}")
        self.conv = conv
        super().__init__(lambda: conv.weight.detach().clone()
                         .contiguous(memory_format=torch.contiguous_format),
                         steps=sorted(set(steps) - {0}))       # step 0 is always copied

    kernels = property(lambda self: self.values, doc="the copied kernels, one per step")

    def __repr__(self):
        return f"KernelSnapshots({len(self.steps)} snapshots, steps {self.steps})"


# ----------------------------------------------------------------------------- feature maps
_POOL_NAMES = {nn.AvgPool2d: "average pool", nn.MaxPool2d: "max pool"}


def feature_maps(model, x):
    """The maps one image makes in `model.features`, after every activation and every pool.

    x: (1, channels, height, width). Returns [(label, maps of shape (channels, h, w))], labels
    like "conv 1 + tanh" and "average pool", and the model's predicted class for x.
    """
    from .measure import evaluating
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"feature_maps expects one image of shape (1, channels, height, "
                         f"width); got {tuple(x.shape)}")
    maps, num_convs = [], 0
    with evaluating(model):                           # eval mode, no gradients
        h = x
        for layer in model.features:
            h = layer(h)
            num_convs += isinstance(layer, nn.Conv2d)
            if isinstance(layer, tuple(_ACTIVATIONS.values())):
                maps.append((f"conv {num_convs} + {type(layer).__name__.lower()}", h[0]))
            elif type(layer) in _POOL_NAMES:
                maps.append((_POOL_NAMES[type(layer)], h[0]))   # (channels, h, w)
        prediction = model(x).argmax(dim=1).item()
    return maps, prediction
