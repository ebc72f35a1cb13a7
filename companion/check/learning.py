"""Checks for the exercises of "How a network learns" (book/01_learning.ipynb).

- `stable_cross_entropy(fn)`: fn(logits, targets) -> the mean loss, finite for any scores.
- `value_sigmoid(fn)`: fn(a) -> a new autograd Value, σ(a), whose backward is right.
- `adam_step(fn)`: fn(p, g, m, v, t, lr, betas, eps) -> (p, m, v), one step of Adam.
- `batchnorm_train(fn)`: fn(x, weight, bias, eps) -> batch norm's training-mode output.
"""
import math

import torch
import torch.nn.functional as F

from companion.autograd import Value

from ._core import Hint, close, exercise, expect_tensor, forbid

__all__ = ["stable_cross_entropy", "value_sigmoid", "adam_step", "batchnorm_train"]


# ---------------------------------------------------------------------------- cross-entropy
_LIBRARY_LOSSES = [(torch, "logsumexp"), (torch, "log_softmax"), (torch, "softmax"),
                   (torch.Tensor, "logsumexp"), (torch.Tensor, "log_softmax"),
                   (torch.Tensor, "softmax"), (F, "log_softmax"), (F, "softmax"),
                   (F, "cross_entropy"), (F, "nll_loss")]


def _without_library_losses():
    """PyTorch's softmax, log-sum-exp and losses raise a hint while the reader's code runs."""
    return forbid(*_LIBRARY_LOSSES, hint="{name} is PyTorch's own; write the loss yourself "
                                         "from max, exp, sum, log and indexing.")


@exercise
def stable_cross_entropy(fn):
    """Exercise: cross-entropy from scratch, the mean over the batch, finite for any scores."""
    def loss_of(fn, logits, targets):
        with _without_library_losses():
            got = fn(logits.clone(), targets.clone())
        expect_tensor(got, (), "your loss")
        return got

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 5, generator=g) * 2                # (8, 5) ordinary scores
    targets = torch.randint(0, 5, (8,), generator=g)
    want = F.cross_entropy(logits, targets)
    got = loss_of(fn, logits, targets)
    if close(got, -want):
        raise Hint("your loss is negative: −log p is at least 0. Check the sign.")
    if close(got, want * len(logits)):
        raise Hint("the loss of a batch is the mean over its examples, not the sum.")
    if not close(got, want):
        raise Hint("ordinary scores already give a different loss: compare with "
                   "F.cross_entropy(logits, targets, reduction='none') row by row.")
    # three batches that each break one shortcut (float32, as a network's scores are)
    huge = torch.full((2, 5), 1e4)                              # every e^z overflows
    if not torch.isfinite(loss_of(fn, huge, torch.tensor([0, 3]))):
        raise Hint("with scores of 1e4 your loss is inf or nan: e^z overflows float32 "
                   "above z ≈ 88. Softmax does not change when you subtract the same "
                   "number from every score of a row.")
    spread = torch.tensor([[1e4, 0.0, 0.0], [-1e4, -1e4 - 1, -1e4 - 2]])
    if not torch.isfinite(loss_of(fn, spread, torch.tensor([0, 1]))):
        raise Hint("a batch whose rows have very different scales gives inf or nan: "
                   "subtract each row's own largest score, not one number for the batch.")
    unlikely = torch.tensor([[0.0, -1e4, 0.0], [5.0, 0.0, -200.0]])
    unlikely_targets = torch.tensor([1, 2])
    got = loss_of(fn, unlikely, unlikely_targets)
    if not torch.isfinite(got):
        raise Hint("when the true class's probability underflows to 0, log(0) = −inf. "
                   "Take the logarithm before exponentiating: log p_y can be written "
                   "without computing p_y.")
    for batch, labels in ((huge, torch.tensor([0, 3])), (spread, torch.tensor([0, 1])),
                          (unlikely, unlikely_targets)):
        want = F.cross_entropy(batch, labels)
        rounding = 4 * torch.finfo(batch.dtype).eps * batch.abs().max()  # of 1e4: 5e-3
        if not torch.allclose(loss_of(fn, batch, labels), want, rtol=1e-5, atol=rounding):
            raise Hint("finite, but not equal to F.cross_entropy on scores of ±1e4; "
                       "compare row by row.")
    return ("equal to F.cross_entropy on ordinary scores, and finite and exact for scores "
            "of ±1e4, where the textbook formula gives inf or nan.")


# ---------------------------------------------------------------------------- autograd
@exercise
def value_sigmoid(fn):
    """Exercise: σ(a) as an operation of the scalar autograd engine, with its backward."""
    for a in (-4.0, -0.5, 0.0, 1.5, 6.0):
        s = 1 / (1 + math.exp(-a))
        x = Value(a / 2)
        y = fn(x * 2)                                        # σ(a), a computed from x
        if not isinstance(y, Value):
            raise Hint(f"return a new Value (so that backward can pass through it); "
                       f"got {type(y).__name__}.")
        if not math.isclose(y.data, s, rel_tol=1e-9, abs_tol=1e-12):
            raise Hint(f"the forward value is wrong: σ({a}) = 1 / (1 + e^(−{a})).")
        (y * 3).backward()                                   # d(3σ(2x))/dx = 6σ'
        if x.grad == 0:
            raise Hint("the gradient stops at your Value: give it its input as a child, "
                       "e.g. Value(s, (a,), 'sigmoid'), so backward visits what lies "
                       "below.")
        if math.isclose(x.grad, 6 * s, rel_tol=1e-6):
            raise Hint("that gradient is σ(a) itself; the derivative multiplies σ(a) by "
                       "something.")
        if math.isclose(x.grad, 2 * s * (1 - s), rel_tol=1e-6):
            raise Hint("the gradient of 3·σ(a) came out as σ'(a): multiply the local "
                       "derivative by out.grad (the chain rule).")
        if not math.isclose(x.grad, 6 * s * (1 - s), rel_tol=1e-6, abs_tol=1e-12):
            raise Hint(f"at a = {a} the gradient is wrong: compare with "
                       f"torch.sigmoid on a tensor that requires a gradient.")
    x = Value(0.7)
    (fn(x) + x).backward()                                   # x used twice
    s = 1 / (1 + math.exp(-0.7))
    if not math.isclose(x.grad, 1 + s * (1 - s), rel_tol=1e-9):
        raise Hint("for σ(a) + a the gradient should be σ'(a) + 1: add to a.grad (+=) "
                   "instead of overwriting it, so a Value used twice gets both shares.")
    return ("forward values and gradients equal σ and σ(1 − σ) at five points, through "
            "the chain rule and for a Value used twice.")


# ---------------------------------------------------------------------------- Adam
def _reference_adam(p, grads, lr, betas, eps, correct=True):
    """torch.optim.Adam's path for the given gradients (or one without bias correction)."""
    p, m, v = p.clone(), torch.zeros_like(p), torch.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        m_hat = m / (1 - betas[0] ** t) if correct else m
        v_hat = v / (1 - betas[1] ** t) if correct else v
        p = p - lr * m_hat / (v_hat.sqrt() + eps)
    return p


@exercise
def adam_step(fn):
    """Exercise: one step of Adam, fn(p, g, m, v, t, lr, betas, eps) -> (p, m, v)."""
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(6, dtype=torch.float64, generator=gen)      # (6,) weights
    scale = torch.tensor([1e-3, 1e-1, 1.0, 1.0, 10.0, 1e3], dtype=torch.float64)
    grads = [torch.randn(6, dtype=torch.float64, generator=gen) * scale
             for _ in range(5)]                                     # 5 steps' gradients
    for lr, betas, eps in ((1e-3, (0.9, 0.999), 1e-8), (0.05, (0.8, 0.99), 1e-6)):
        p, m, v = start.clone(), torch.zeros(6, dtype=torch.float64), torch.zeros(
            6, dtype=torch.float64)
        for t, g in enumerate(grads, start=1):
            out = fn(p, g.clone(), m, v, t, lr, betas, eps)
            if not (isinstance(out, tuple) and len(out) == 3):
                raise Hint("return three tensors: the new p, m and v.")
            p, m, v = out
            expect_tensor(p, (6,), "the new p")
        if not torch.isfinite(p).all():
            raise Hint("the weights became nan: v averages the squared gradients, so it "
                       "is never negative.")
        want = _reference_adam(start, grads, lr, betas, eps)
        if close(start - (p - start), want, 1e-7):
            raise Hint("your steps go uphill: subtract the step from p.")
        if close(p, _reference_adam(start, grads, lr, betas, eps, correct=False), 1e-7):
            raise Hint("your first steps have the wrong length: m and v start at 0 and "
                       "are pulled towards it early on; Adam undoes that with a "
                       "correction that depends on t.")
        if not close(p, want, 1e-7):
            raise Hint(f"with lr={lr}, betas={betas} your weights after 5 steps differ "
                       "from torch.optim.Adam's; compare the first step alone.")
    reference = torch.nn.Parameter(start.clone())
    optimizer = torch.optim.Adam([reference], lr=0.05, betas=(0.8, 0.99), eps=1e-6)
    for g in grads:
        reference.grad = g.clone()
        optimizer.step()
    if not close(p, reference.detach(), 1e-7):    # the formula above is torch.optim's
        raise Hint("your steps differ from torch.optim.Adam's.")
    return ("5 steps equal torch.optim.Adam's for two settings, on weights whose "
            "gradients range from 1e-3 to 1e3.")


# ---------------------------------------------------------------------------- batch norm
@exercise
def batchnorm_train(fn):
    """Exercise: batch norm's output in training mode, fn(x, weight, bias, eps) -> like x."""
    def reference(x, weight, bias, eps):
        return F.batch_norm(x, None, None, weight, bias, training=True, eps=eps)

    gen = torch.Generator().manual_seed(0)
    weight = torch.tensor([0.5, 1.0, 2.0])                     # γ per channel, (3,)
    bias = torch.tensor([-1.0, 0.0, 3.0])                      # β per channel, (3,)
    scale = torch.tensor([1.0, 10.0, 2.0])
    x2 = torch.randn(16, 3, generator=gen) * scale + 5          # (batch 16, channels 3)
    x4 = torch.randn(4, 3, 5, 6, generator=gen) * scale[:, None, None] - 2   # (4, 3, 5, 6)
    for x in (x2, x4):
        got = fn(x.clone(), weight.clone(), bias.clone(), 1e-5)
        expect_tensor(got, x.shape, f"the output for x of shape {tuple(x.shape)}")
        want = reference(x, weight, bias, 1e-5)
        dims = (0,) if x.dim() == 2 else (0, 2, 3)
        shape = (1, -1) if x.dim() == 2 else (1, -1, 1, 1)
        mean = x.mean(dims, keepdim=True)
        unbiased = (x - mean) / (x.var(dims, keepdim=True) + 1e-5).sqrt()
        if close(got, unbiased * weight.view(shape) + bias.view(shape), 1e-4):
            raise Hint("normalise with the batch's own variance, which divides by the "
                       "number of values, not by that number minus one.")
        if close(got, reference(x, torch.ones(3), torch.zeros(3), 1e-5), 1e-4):
            raise Hint("the output is normalised but not scaled and shifted: apply "
                       "weight (γ) and bias (β), one value per channel.")
        if x.dim() == 2 and close(got, F.layer_norm(x, (3,)) * weight + bias, 1e-4):
            raise Hint("you normalised each example over its channels (that is layer "
                       "normalization); batch norm normalises each channel over the batch.")
        if x.dim() == 4:
            over_batch = (x - x.mean(0, keepdim=True)) / (
                x.var(0, unbiased=False, keepdim=True) + 1e-5).sqrt()
            if close(got, over_batch * weight.view(shape) + bias.view(shape), 1e-4):
                raise Hint("for images, each channel's statistics cover the batch and all "
                           "positions: every dimension except the channel's.")
        if not close(got, want, 1e-4):
            raise Hint(f"for x of shape {tuple(x.shape)} your output differs from "
                       "F.batch_norm(x, None, None, weight, bias, training=True); "
                       "check each channel's mean and standard deviation.")
    constant = x2.clone()
    constant[:, 1] = 7.0                                        # channel 1: variance 0
    got = fn(constant, weight.clone(), bias.clone(), 1e-5)
    if not torch.isfinite(got).all():
        raise Hint("a channel whose values are all equal has variance 0, and the output "
                   "became inf or nan: that is what eps is for.")
    if not close(got, reference(constant, weight, bias, 1e-5), 1e-4):
        raise Hint("a channel whose values are all equal should come out as its bias β.")
    tiny = x2.clone()
    tiny[:, 1] = torch.randn(16, generator=gen) * 1e-3  # channel 1: σ ≈ 1e-3, near √eps
    got = fn(tiny, weight.clone(), bias.clone(), 1e-5)
    expect_tensor(got, tiny.shape, "the output for a channel with σ ≈ 1e-3")
    if not close(got, reference(tiny, weight, bias, 1e-5), 1e-4):
        sigma = tiny.var(0, unbiased=False, keepdim=True).sqrt()
        if close(got, (tiny - tiny.mean(0, keepdim=True)) / (sigma + 1e-5)
                 * weight + bias, 1e-4):
            raise Hint("eps goes inside the square root: divide by √(σ² + eps), not by "
                       "σ + eps (they differ when σ is as small as √eps).")
        raise Hint("for a channel with σ ≈ 1e-3 your output differs from F.batch_norm; "
                   "divide by √(σ² + eps).")
    return ("equal to F.batch_norm in training mode for (16, 3) and (4, 3, 5, 6) inputs, "
            "finite for a channel with variance 0, and right for one with σ ≈ 1e-3.")
