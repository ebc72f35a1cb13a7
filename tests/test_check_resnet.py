"""The exercise checks of the ResNet chapter: each accepts the reference solution (the one the
book shows), reports a stub as not done yet, and rejects typical wrong answers with the right
hint."""
import pytest
import torch
from torch import nn

from companion import check
from companion.resnet import BasicBlock, Bottleneck, ResNet

from test_solutions import assert_hint, solutions

BOOK = solutions("04_resnet")   # as the notebook shows them


# ------------------------------------------------------------------------ the book's solutions
MyBasicBlock = BOOK["MyBasicBlock"]               # the book's solution
MyBottleneck = BOOK["MyBottleneck"]               # the book's solution
stage_params = BOOK["my_stage_params"]            # the book's solution


def test_the_solutions_and_the_companions_blocks_pass():
    for answer in (MyBasicBlock, BasicBlock):
        result = check.basic_block(answer)
        assert result.passed and "torchvision" in result.message, result
    for answer in (MyBottleneck, Bottleneck):
        assert check.bottleneck_block(answer).passed
    result = check.stage_params(stage_params)
    assert result.passed, result


def test_stage_params_reference_is_the_companions_count():
    from companion.check.resnet import STAGES, _stage_params
    for in_channels, channels, num_blocks, stride in STAGES.values():
        model = ResNet("basic", [num_blocks], widths=[channels], in_channels=1)
        stage = model.layer1 if stride == 1 else None
        if stage is None:
            from companion.resnet import BasicBlock as B
            stage = nn.Sequential(B(in_channels, channels, stride),
                                  *[B(channels, channels) for _ in range(num_blocks - 1)])
        count = sum(p.numel() for p in stage.parameters())
        assert _stage_params(in_channels, channels, num_blocks, stride) == count


# ------------------------------------------------------------------------ typical mistakes
def variant(base, **changes):
    """A subclass of a solution with one method replaced."""
    return type("Mine", (base,), changes)


def test_basic_block_hints():
    def no_shortcut(self, x):
        return torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))
    assert_hint(check.basic_block(variant(MyBasicBlock, forward=no_shortcut)),
                "add the shortcut")

    def relu_before_add(self, x):
        out = torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))
        return out + (x if self.downsample is None else self.downsample(x))
    assert_hint(check.basic_block(variant(MyBasicBlock, forward=relu_before_add)),
                "after the addition")

    def no_relu(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return out + (x if self.downsample is None else self.downsample(x))
    assert_hint(check.basic_block(variant(MyBasicBlock, forward=no_relu)),
                "after the addition")

    class NoProjection(MyBasicBlock):
        def __init__(self, in_channels, channels, stride=1):
            super().__init__(in_channels, channels, stride)
            self.downsample = None
    assert_hint(check.basic_block(NoProjection), "projection")

    class AlwaysProject(MyBasicBlock):
        def __init__(self, in_channels, channels, stride=1):
            super().__init__(in_channels, channels, stride)
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False),
                nn.BatchNorm2d(channels))
    assert_hint(check.basic_block(AlwaysProject), "only where the shape changes")

    def unprojected_shortcut(self, x):        # defines downsample, never uses it
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + x)
    assert_hint(check.basic_block(variant(MyBasicBlock, forward=unprojected_shortcut)),
                "go through self.downsample")


def test_bottleneck_hints():
    class StrideOnFirst(MyBottleneck):           # the original paper's placement
        def __init__(self, in_channels, channels, stride=1):
            super().__init__(in_channels, channels, stride)
            self.conv1.stride, self.conv2.stride = (stride, stride), (1, 1)
    assert_hint(check.bottleneck_block(StrideOnFirst), "3×3 convolution")

    class NoExpansion(MyBottleneck):
        def __init__(self, in_channels, channels, stride=1):
            super().__init__(in_channels, channels, stride)
            self.conv3 = nn.Conv2d(channels, channels, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(channels)
    assert_hint(check.bottleneck_block(NoExpansion), "wrong shape")

    class OtherNames(MyBottleneck):
        def __init__(self, in_channels, channels, stride=1):
            super().__init__(in_channels, channels, stride)
            self.reduce = self.conv1
            del self.conv1
    assert_hint(check.bottleneck_block(OtherNames), "torchvision's parameter names")

    def relu_on_branch(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = torch.relu(self.bn3(self.conv3(out)))
        return out + (x if self.downsample is None else self.downsample(x))
    assert_hint(check.bottleneck_block(variant(MyBottleneck, forward=relu_on_branch)),
                "not on F(x)")

    def unprojected_shortcut(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        return torch.relu(self.bn3(self.conv3(out)) + x)
    assert_hint(check.bottleneck_block(variant(MyBottleneck, forward=unprojected_shortcut)),
                "go through self.downsample")


def test_stage_params_hints():
    def no_bn(in_channels, channels, num_blocks, stride):
        first = 9 * in_channels * channels + 9 * channels ** 2
        if stride != 1 or in_channels != channels:
            first += in_channels * channels
        return first + (num_blocks - 1) * 18 * channels ** 2
    assert_hint(check.stage_params(no_bn), "batch norms")

    def no_projection(in_channels, channels, num_blocks, stride):
        return stage_params(in_channels, channels, num_blocks, 1) - (
            in_channels * channels + 2 * channels if in_channels != channels else 0)
    assert_hint(check.stage_params(no_projection), "projection")

    def same_input(in_channels, channels, num_blocks, stride):
        return num_blocks * (9 * in_channels * channels + 9 * channels ** 2
                             + 4 * channels) + (
            in_channels * channels + 2 * channels
            if stride != 1 or in_channels != channels else 0)
    assert_hint(check.stage_params(same_input), "only the first block")

    assert_hint(check.stage_params(lambda *args: "many"), "return a number")
