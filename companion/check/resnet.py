"""Checks for the residual-networks chapter's exercises (book/04_resnet.ipynb).

The block checks load torchvision's weights into the reader's block (strict: torchvision's
parameter names) and compare the outputs, in evaluation and in training mode.
"""
import torch
from torch import nn

from ._core import Hint, close, exercise, expect_tensor

__all__ = ["basic_block", "bottleneck_block", "stage_params"]


def _tv():
    """torchvision's ResNet module, imported when a check first runs: importing torchvision
    when the module loads cost every chapter 1.5-2 s (`from companion import check`)."""
    from torchvision.models import resnet
    return resnet


def _projection(in_channels, out_channels, stride):
    """torchvision's shortcut where the shape changes (option B), else None."""
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(_tv().conv1x1(in_channels, out_channels, stride),
                         nn.BatchNorm2d(out_channels))


def _reference(kind, in_channels, channels, stride, seed=0):
    """A torchvision block with random weights and batch-norm statistics."""
    torch.manual_seed(seed)
    cls = _tv().BasicBlock if kind == "basic" else _tv().Bottleneck
    ref = cls(in_channels, channels, stride,
              _projection(in_channels, channels * cls.expansion, stride))
    for module in ref.modules():
        if isinstance(module, nn.BatchNorm2d):
            with torch.no_grad():
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
    return ref.double()


def _branch(ref, x, *, stride_on_first=False):
    """F(x) of a torchvision block; optionally with the stride moved to the first conv."""
    if isinstance(ref, _tv().BasicBlock):
        return ref.bn2(ref.conv2(ref.relu(ref.bn1(ref.conv1(x)))))
    if stride_on_first:
        s = ref.conv2.stride
        out = ref.relu(ref.bn1(nn.functional.conv2d(x, ref.conv1.weight, stride=s)))
        out = ref.relu(ref.bn2(nn.functional.conv2d(out, ref.conv2.weight, padding=1)))
    else:
        out = ref.relu(ref.bn1(ref.conv1(x)))
        out = ref.relu(ref.bn2(ref.conv2(out)))
    return ref.bn3(ref.conv3(out))


def _shortcut(ref, x):
    return x if ref.downsample is None else ref.downsample(x)


def _load(block, ref, what):
    """Load the reference's weights into the reader's block, with a hint when names differ."""
    if not isinstance(block, nn.Module):
        raise Hint(f"{what} should build an nn.Module; got {type(block).__name__}.")
    ours, theirs = set(block.state_dict()), set(ref.state_dict())
    missing, unexpected = sorted(theirs - ours), sorted(ours - theirs)
    if any(k.startswith("downsample") for k in missing):
        raise Hint("when the stride or the number of channels changes, the shortcut needs a "
                   "projection: self.downsample = a 1×1 convolution (with the block's stride, "
                   "no bias) followed by BatchNorm2d; None where the shape stays the same.")
    if any(k.startswith("downsample") for k in unexpected):
        raise Hint("option B projects only where the shape changes: keep "
                   "self.downsample = None when stride is 1 and the channels stay the same.")
    if missing or unexpected:
        raise Hint(f"use torchvision's parameter names ({', '.join(sorted(theirs)[:4])}, …): "
                   f"missing {missing[:3]}, unexpected {unexpected[:3]}.")
    try:
        block.load_state_dict(ref.state_dict(), strict=True)
    except RuntimeError as error:
        sizes = [line.strip() for line in str(error).splitlines() if "size mismatch" in line]
        raise Hint(f"a layer has the wrong shape: {sizes[0] if sizes else error}") from None


def _check_block(kind, cls, configs):
    name = "BasicBlock" if kind == "basic" else "Bottleneck"
    for in_channels, channels, stride in configs:
        ref = _reference(kind, in_channels, channels, stride)
        block = cls(in_channels, channels, stride)
        _load(block, ref, f"{cls.__name__}({in_channels}, {channels}, {stride})")
        block = block.double()
        x = torch.randn(4, in_channels, 8, 8, generator=torch.Generator().manual_seed(1),
                        dtype=torch.float64)                   # (batch, channels, h, w)
        for training in (False, True):
            block.train(training), ref.train(training)
            with torch.no_grad():
                want = ref(x)
                try:
                    got = block(x)
                except RuntimeError as error:
                    # the shapes of F(x) and x differ only where there is a projection
                    if ref.downsample is not None and "size of tensor" in str(error):
                        raise Hint("the shortcut must go through self.downsample when "
                                   "there is one: F(x) has shape "
                                   f"{tuple(want.shape)}, x has {tuple(x.shape)}.") from None
                    raise
                expect_tensor(got, want.shape,
                              f"the output of {cls.__name__}({in_channels}, {channels}, "
                              f"stride={stride}) for x of shape {tuple(x.shape)}")
                if close(got, want):
                    continue
                f_x, short = _branch(ref, x), _shortcut(ref, x)
                if close(got, f_x + short):
                    raise Hint("apply the ReLU after the addition: relu(F(x) + shortcut(x)).")
                if close(got, torch.relu(f_x) + short):
                    raise Hint("the ReLU comes after the addition, not on F(x) before it.")
                if close(got, torch.relu(f_x)):
                    raise Hint("add the shortcut before the final ReLU: "
                               "relu(F(x) + shortcut(x)).")
                if kind == "bottleneck" and stride != 1 and close(
                        got, torch.relu(_branch(ref, x, stride_on_first=True) + short)):
                    raise Hint("put the stride on the 3×3 convolution (torchvision's "
                               "'ResNet v1.5'), not on the first 1×1 convolution.")
                mode = "training" if training else "evaluation"
                raise Hint(f"the output differs from torchvision's {name} in {mode} mode; "
                           "check the order conv → BN → ReLU in each layer of F(x).")
    shapes = ", ".join(f"({i}, {c}, stride={s})" for i, c, s in configs)
    return (f"torchvision's {name} weights load strictly and the outputs agree in evaluation "
            f"and training mode, for {shapes}.")


@exercise
def basic_block(cls):
    """Exercise: a BasicBlock class (in_channels, channels, stride=1) with torchvision's names
    and a projection shortcut where the shape changes."""
    return _check_block("basic", cls, [(16, 16, 1), (16, 32, 2)])


@exercise
def bottleneck_block(cls):
    """Exercise: a Bottleneck class (in_channels, channels, stride=1), expansion 4, stride on
    the 3×3 convolution, with torchvision's names."""
    return _check_block("bottleneck", cls, [(64, 16, 1), (32, 16, 1), (64, 32, 2)])


def _stage_params(in_channels, channels, num_blocks, stride):
    """Parameters of a stage of basic blocks with option-B shortcuts (the reference)."""
    def block(c_in, s):
        count = 9 * c_in * channels + 9 * channels * channels + 2 * 2 * channels
        if s != 1 or c_in != channels:
            count += c_in * channels + 2 * channels              # 1x1 conv + BN
        return count
    return block(in_channels, stride) + (num_blocks - 1) * block(channels, 1)


STAGES = {"ResNet-34's layer1": (64, 64, 3, 1), "ResNet-18's layer2": (64, 128, 2, 2),
          "ResNet-34's layer3": (128, 256, 6, 2)}


@exercise
def stage_params(fn):
    """Exercise: a function (in_channels, channels, num_blocks, stride) -> the number of
    parameters of one stage of basic blocks with option-B shortcuts."""
    for stage, args in STAGES.items():
        got, want = fn(*args), _stage_params(*args)
        if torch.is_tensor(got):
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            raise Hint(f"return a number; got {type(got).__name__}.")
        if got == want:
            continue
        in_channels, channels, num_blocks, stride = args
        no_bn = want - 2 * 2 * channels * num_blocks
        has_projection = stride != 1 or in_channels != channels
        if has_projection:
            no_bn -= 2 * channels
        if got == no_bn:
            raise Hint("count the batch norms too: each has a scale and a shift per "
                       "channel (its running statistics are not parameters).")
        projection = in_channels * channels + 2 * channels
        if has_projection and got == want - projection:
            raise Hint(f"{stage} changes the shape in its first block: its 1×1 "
                       "projection and that projection's BN have parameters too.")
        if got == want + (num_blocks - 1) * (channels * channels + 2 * channels) + (
                0 if has_projection else projection):
            raise Hint("option B projects only where the shape changes, in a stage's first "
                       "block at most; the other blocks' shortcuts are the identity.")
        if got == num_blocks * (9 * in_channels * channels + 9 * channels ** 2
                                + 4 * channels) + (projection if has_projection else 0):
            raise Hint("only the first block of a stage takes in_channels; the blocks "
                       "after it take (and give) `channels`.")
        raise Hint(f"{stage} {args}: got {got:,}. Each block has two 3×3 convolutions "
                   "(no bias) and two batch norms; the first may add a projection.")
    return ("the parameter counts of " + ", ".join(STAGES)
            + " are right: they equal the counts of those stages built from the"
            + " companion's BasicBlock.")
