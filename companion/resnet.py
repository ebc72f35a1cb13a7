"""Residual networks: the blocks, ResNet-18/34/50, a small ResNet for digits, and the depth-sweep MLP.

The blocks keep torchvision's parameter names and stride placement ("ResNet v1.5": a bottleneck
downsamples in its 3x3 convolution), so ``resnet18()`` and ``resnet50()`` load torchvision's
``state_dict`` with ``strict=True`` and compute the same outputs.

`block_grad_norms(model, X, y)` is the chapter's probe: the gradient norm of each block;
`GradientSnapshots` records it, with every batch's loss, while `fit` trains; the chapter's
figures of them (`plot_sweep`, `block_bars`, `film_explorer`) are in companion/show/resnet.py,
the drawings of blocks and ResNets in companion/diagrams.py.
Used in: book/04_resnet.ipynb; tests/test_resnet.py, tests/test_diagrams.py.
"""
import copy

import torch.nn.functional as F
from torch import nn

from ._validate import check_positive_int
from .measure import grad_norms
from .snapshots import Snapshots

SHORTCUTS = ("A", "B", "C")


class ZeroPadShortcut(nn.Module):
    """Option A shortcut: subsample by `stride`, then pad the missing channels with zeros (no parameters)."""

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x):                                  # (batch, in_channels, height, width)
        x = x[:, :, ::self.stride, ::self.stride]          # (batch, in_channels, height/stride, width/stride)
        extra = self.out_channels - self.in_channels
        return F.pad(x, (0, 0, 0, 0, 0, extra))            # (batch, out_channels, height/stride, width/stride)

    def extra_repr(self):
        return f"{self.in_channels} -> {self.out_channels}, stride={self.stride}"


def make_shortcut(in_channels, out_channels, stride=1, shortcut="B"):
    """The shortcut branch of a block: None (identity), zero padding (A) or a 1x1 conv + BN projection (B, C).

    Option B projects only where the shape changes (torchvision's choice); C projects in every block;
    A never projects and pads the new channels with zeros.
    """
    if shortcut not in SHORTCUTS:
        raise ValueError(f"unknown shortcut option {shortcut!r}; expected one of 'A', 'B', 'C'")
    shape_changes = stride != 1 or in_channels != out_channels
    if shortcut == "A":
        if out_channels < in_channels:
            raise ValueError(f"shortcut 'A' can only add channels; got {in_channels} -> {out_channels}")
        return ZeroPadShortcut(in_channels, out_channels, stride) if shape_changes else None
    if shortcut == "B" and not shape_changes:
        return None
    return nn.Sequential(                                  # torchvision's names: downsample.0, downsample.1
        nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class BasicBlock(nn.Module):
    """Two 3x3 convs with BN; ReLU after the addition: relu(F(x) + x)."""

    expansion = 1

    def __init__(self, in_channels, channels, stride=1, shortcut="B"):
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=3,
                               stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3,
                               padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = make_shortcut(in_channels, out_channels, stride,
                                        shortcut)

    def forward(self, x):                # (batch, in_channels, h, w)
        out = self.relu(self.bn1(self.conv1(x)))  # (batch, channels, h/s, w/s)
        out = self.bn2(self.conv2(out))  # same shape: this is F(x)
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)  # the addition, then ReLU


class Bottleneck(nn.Module):
    """1x1 conv reduces, 3x3 conv (carries the stride), 1x1 conv restores
    4x the channels; then add the shortcut and ReLU."""

    expansion = 4

    def __init__(self, in_channels, channels, stride=1, shortcut="B"):
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=1,
                               bias=False)                    # reduce
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3,
                               stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, out_channels, kernel_size=1,
                               bias=False)                    # restore, x4
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.downsample = make_shortcut(in_channels, out_channels, stride,
                                        shortcut)

    def forward(self, x):                # (batch, in_channels, h, w)
        out = self.relu(self.bn1(self.conv1(x)))    # (batch, channels, h, w)
        out = self.relu(self.bn2(self.conv2(out)))  # (.., h/s, w/s)
        out = self.bn3(self.conv3(out))  # (batch, 4 * channels, h/s, w/s)
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class PreActBlock(nn.Module):
    """Pre-activation unit (He et al. 2016): BN and ReLU before each conv,
    x + conv(relu(bn(conv(relu(bn(x)))))), nothing after the addition."""

    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=3,
                               stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3,
                               padding=1, bias=False)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Conv2d(in_channels, channels, kernel_size=1,
                                        stride=stride, bias=False)

    def forward(self, x):                # (batch, in_channels, h, w)
        h = self.relu(self.bn1(x))       # pre-activation
        identity = x if self.downsample is None else self.downsample(h)
        out = self.conv1(h)              # (batch, channels, h/s, w/s)
        out = self.conv2(self.relu(self.bn2(out)))
        return out + identity            # the identity path stays untouched


BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


def _block_class(block):
    if isinstance(block, str):
        if block not in BLOCKS:
            raise ValueError(f"unknown block kind {block!r}; expected 'basic' or 'bottleneck'")
        return BLOCKS[block]
    if block in (BasicBlock, Bottleneck):
        return block
    raise ValueError(f"unknown block kind {block!r}; expected 'basic', 'bottleneck', BasicBlock or Bottleneck")


class ResNet(nn.Module):
    """Stem, stages of residual blocks (each after the first halves height and width), global average pooling, classifier.

    `layers` gives the number of blocks per stage and `widths` the channels of each stage (before the
    bottleneck's expansion). `small_input=True` swaps the ImageNet stem (7x7 stride-2 conv, 3x3
    stride-2 max pool: a quarter of the height and width) for a 3x3 stride-1 conv and a 2x2 max pool
    (half), for 28x28 or 32x32 images.
    """

    def __init__(self, block, layers, num_classes=1000, *, widths=(64, 128, 256, 512),
                 in_channels=3, shortcut="B", small_input=False):
        super().__init__()
        block = _block_class(block)
        layers, widths = list(layers), list(widths)
        if not layers or len(layers) != len(widths):
            raise ValueError(f"layers and widths need the same, non-zero length; got {len(layers)} and {len(widths)}")
        for i, n in enumerate(layers):
            check_positive_int(f"layers[{i}] (blocks in stage {i + 1})", n)
        for name, value in (("num_classes", num_classes), ("in_channels", in_channels)):
            check_positive_int(name, value)
        if shortcut not in SHORTCUTS:
            raise ValueError(f"unknown shortcut option {shortcut!r}; expected one of 'A', 'B', 'C'")
        self.block, self.layers, self.widths, self.shortcut = block.__name__, layers, widths, shortcut

        stem_channels = widths[0]
        if small_input:                                   # 28x28 digits: 3x3 conv, then 2x2 max pool (28 -> 14)
            self.conv1 = nn.Conv2d(in_channels, stem_channels, kernel_size=3, padding=1, bias=False)
            self.maxpool = nn.MaxPool2d(kernel_size=2)
        else:
            self.conv1 = nn.Conv2d(in_channels, stem_channels, kernel_size=7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(stem_channels)
        self.relu = nn.ReLU()

        channels_in = stem_channels
        for i, (num_blocks, width) in enumerate(zip(layers, widths)):
            stride = 1 if i == 0 else 2
            blocks = []
            for j in range(num_blocks):
                blocks.append(block(channels_in, width, stride if j == 0 else 1, shortcut))
                channels_in = width * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))   # torchvision's names: layer1 ... layer4
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(channels_in, num_classes)

        for m in self.modules():                           # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def stages(self):
        return [getattr(self, f"layer{i + 1}") for i in range(len(self.layers))]

    def forward(self, x):                                  # (batch, in_channels, height, width)
        if x.dim() != 4:
            raise ValueError(f"ResNet expects x of shape (batch, channels, height, width); got {tuple(x.shape)}")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))   # stem: 224 -> 56 (ImageNet), 28 -> 14 (small)
        for stage in self.stages:
            x = stage(x)                                   # each stage after the first halves height and width
        x = self.avgpool(x).flatten(1)                     # (batch, final channels)
        return self.fc(x)                                  # (batch, num_classes)

    def extra_repr(self):
        return f"block={self.block}, layers={self.layers}, widths={self.widths}, shortcut={self.shortcut!r}"


def resnet18(num_classes=1000, **kwargs):
    """ResNet-18: basic blocks [2, 2, 2, 2]; 11,689,512 parameters with 1000 classes."""
    return ResNet("basic", [2, 2, 2, 2], num_classes, **kwargs)


def resnet34(num_classes=1000, **kwargs):
    """ResNet-34: basic blocks [3, 4, 6, 3]."""
    return ResNet("basic", [3, 4, 6, 3], num_classes, **kwargs)


def resnet50(num_classes=1000, **kwargs):
    """ResNet-50: bottleneck blocks [3, 4, 6, 3]; 25,557,032 parameters with 1000 classes."""
    return ResNet("bottleneck", [3, 4, 6, 3], num_classes, **kwargs)


def small_resnet(num_classes=10, *, widths=(16, 32, 64), blocks_per_stage=1, in_channels=1):
    """A small ResNet for 28x28 digits: 3x3 stem and 2x2 pool (28 -> 14), three stages of basic blocks (14 -> 7 -> 4), pooling, classifier."""
    check_positive_int("blocks_per_stage", blocks_per_stage)
    return ResNet("basic", [blocks_per_stage] * len(widths), num_classes, widths=widths,
                  in_channels=in_channels, small_input=True)


# ---- depth-sweep helpers: the same MLP with and without shortcuts --------------------------------

class MLPBlock(nn.Module):
    """Linear-BN-ReLU-Linear-BN = F(x), then relu(F(x) + x) when residual, relu(F(x)) when plain."""

    def __init__(self, num_hiddens, residual=True):
        super().__init__()
        self.residual = residual
        self.f = nn.Sequential(
            nn.Linear(num_hiddens, num_hiddens), nn.BatchNorm1d(num_hiddens), nn.ReLU(),
            nn.Linear(num_hiddens, num_hiddens), nn.BatchNorm1d(num_hiddens),
        )
        self.relu = nn.ReLU()

    def forward(self, x):                                  # (batch, num_hiddens)
        out = self.f(x)
        if self.residual:
            out = out + x                                  # the shortcut
        return self.relu(out)

    def extra_repr(self):
        return f"residual={self.residual}"


class DepthMLP(nn.Module):
    """Flatten -> Linear-BN-ReLU (stem) -> `depth` MLPBlocks -> Linear (head): the degradation experiment."""

    def __init__(self, depth, *, residual, num_inputs=784, num_hiddens=64, num_outputs=10):
        super().__init__()
        for name, value in (("depth", depth), ("num_inputs", num_inputs),
                            ("num_hiddens", num_hiddens), ("num_outputs", num_outputs)):
            check_positive_int(name, value)
        if not isinstance(residual, bool):
            raise ValueError(f"residual must be True or False; got {residual!r}")
        self.depth, self.residual = depth, residual
        self.stem = nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_hiddens),
                                  nn.BatchNorm1d(num_hiddens), nn.ReLU())
        self.blocks = nn.Sequential(*[MLPBlock(num_hiddens, residual) for _ in range(depth)])
        self.head = nn.Linear(num_hiddens, num_outputs)

    def forward(self, x):                                  # (batch, ...) with num_inputs values per example
        return self.head(self.blocks(self.stem(x)))        # (batch, num_outputs)

    def extra_repr(self):
        return f"depth={self.depth}, residual={self.residual}"


def depth_mlp(depth, residual=True, *, num_inputs=784, num_hiddens=64, num_outputs=10):
    """A plain (residual=False) or residual MLP of `depth` blocks; the widget's `build` function."""
    return DepthMLP(depth, residual=residual, num_inputs=num_inputs,
                    num_hiddens=num_hiddens, num_outputs=num_outputs)


# ---- the chapter's probe ------------------------------------------------------------------------

def block_grad_norms(model, X, y):
    """‖∂loss/∂parameters‖ of each block of `model.blocks` (a DepthMLP's, say), first block
    first, for the cross-entropy of `model` on one batch (X, y): a (num_blocks,) tensor.

    Measured in training mode (batch statistics, as in training) on a copy, so that the model's
    batch-norm running statistics and its `.grad` stay as they were.
    """
    if not isinstance(getattr(model, "blocks", None), nn.Sequential):
        raise ValueError(f"block_grad_norms needs a model whose blocks are in .blocks (an "
                         f"nn.Sequential), such as depth_mlp(...); got {type(model).__name__}")
    probe = copy.deepcopy(model).train()
    device = next(probe.parameters()).device
    loss = F.cross_entropy(probe(X.to(device)), y.to(device))
    return grad_norms(loss, list(probe.blocks))


class GradientSnapshots(Snapshots):
    """A `fit` callback that films a DepthMLP's training: the loss of every batch, and the
    per-block gradient norms (`block_grad_norms`) on one fixed batch (X, y) before the first
    step and `per_epoch` times an epoch, the last at the epoch's end (a `Snapshots`).

    After fit: `losses` (a float per batch), `norms` (a (num_blocks,) tensor per snapshot,
    1 + epochs * per_epoch of them) and `epochs` (when each was taken: 0, 0.5, 1, ...).
    """

    def __init__(self, model, X, y, per_epoch=2):
        self.losses = []
        super().__init__(lambda: block_grad_norms(model, X, y), per_epoch=per_epoch)

    norms = property(lambda self: self.values, doc="the gradient norms of each snapshot")
    epochs = property(lambda self: self.moments, doc="epochs done at each snapshot")

    def batch_end(self, record):
        self.losses.append(record.loss)
        super().batch_end(record)

    def __repr__(self):
        return (f"GradientSnapshots({len(self.norms)} snapshots, {len(self.losses)} batch "
                f"losses)")
