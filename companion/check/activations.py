"""Checks for the activation-functions chapter's exercises."""
import torch

from . import Hint, close, expect_tensor, run

__all__ = ["sigmoid_derivative", "leaky_relu"]


def sigmoid_derivative(answer):
    """Exercise: write σ'(x) from σ itself (no autograd)."""
    def check(fn):
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
    return run("sigmoid_derivative", answer, check)


def leaky_relu(answer):
    """Exercise: Leaky ReLU with a negative slope, element-wise, any shape."""
    def check(fn):
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
    return run("leaky_relu", answer, check)
