"""Checks for the activation-functions chapter's exercises."""
import torch
import torch.nn.functional as F

from ._core import Hint, close, exercise, expect_tensor, forbid

__all__ = ["sigmoid_derivative", "leaky_relu", "tanh_from_sigmoid"]

# every way to call PyTorch's own tanh: switched off in tanh_from_sigmoid
TANH = [(torch, "tanh"), (torch, "tanh_"), (torch.Tensor, "tanh"), (torch.Tensor, "tanh_"),
        (F, "tanh")]


@exercise
def sigmoid_derivative(fn):
    """Exercise: write σ'(x) from σ itself (no autograd)."""
    x = torch.linspace(-10, 10, 2001, dtype=torch.float64)    # (2001,)
    got = fn(x)
    expect_tensor(got, x.shape, "sigmoid_derivative(x)")
    s = torch.sigmoid(x)
    if close(got, s):
        raise Hint("that is σ(x) itself; the derivative multiplies σ(x) by something.")
    if close(got, torch.exp(-x) / (1 + torch.exp(-x))):
        raise Hint("close: you have one of the two factors. Write σ' in terms of σ only.")
    if not close(got, s * (1 - s)):
        raise Hint("compare with autograd: x.requires_grad_(); torch.sigmoid(x).sum()"
                   ".backward(); x.grad — where do your values differ?")
    peak = got.max().item()
    return f"equal to σ(x)(1 − σ(x)) on 2,001 points in [−10, 10]; its maximum is {peak:.2f}."


@exercise
def leaky_relu(fn):
    """Exercise: Leaky ReLU with a negative slope, element-wise, any shape."""
    x = torch.randn(3, 5, 7, generator=torch.Generator().manual_seed(0))
    for slope in (0.01, 0.2):
        got = fn(x, slope)
        expect_tensor(got, x.shape, f"leaky_relu(x, {slope})")
        want = torch.nn.functional.leaky_relu(x, slope)
        if close(got, torch.relu(x)):
            raise Hint("negative inputs come out as 0: that is the plain ReLU. Multiply "
                       "them by the slope instead.")
        if close(got, torch.where(x > 0, slope * x, x)):
            raise Hint("the slope is applied on the wrong side of 0.")
        if not close(got, want):
            raise Hint(f"with slope {slope} your values differ from "
                       "torch.nn.functional.leaky_relu; check both sides of 0.")
    return "equal to F.leaky_relu for slopes 0.01 and 0.2 on a (3, 5, 7) tensor."


@exercise
def tanh_from_sigmoid(fn):
    """Exercise: tanh from torch.sigmoid alone (tanh = 2σ(2x) − 1)."""
    x = torch.linspace(-8, 8, 1601, dtype=torch.float64)         # (1601,)
    with forbid(*TANH, hint="build it from torch.sigmoid; {name} is switched off while "
                            "the check runs."):
        got = fn(x)
    expect_tensor(got, x.shape, "my_tanh(x)")
    s = torch.sigmoid
    if close(got, s(2 * x)):
        raise Hint("the shape is right but the values lie in (0, 1): stretch the "
                   "output to (−1, 1).")
    if close(got, 2 * s(x) - 1):
        raise Hint("the output range is right, but tanh is steeper: multiply the "
                   "input by 2.")
    if not close(got, torch.tanh(x)):
        raise Hint("compare my_tanh(x) with torch.tanh(x) at x = 0 and x = 1: "
                   "which one is off?")
    return ("equal to torch.tanh on 1,601 points in [−8, 8], with torch's tanh "
            "switched off.")
