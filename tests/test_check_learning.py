"""The exercise checks of "How a network learns": each accepts the reference solution (the one
the book shows), reports a stub as not done yet, and rejects typical wrong answers with the
right hint."""
import math

import pytest
import torch
import torch.nn.functional as F

from companion import check
from companion.autograd import Value

from test_solutions import assert_hint, solutions

BOOK = solutions("01_learning")   # as the notebook shows them


# ---------------------------------------------------------------------------- cross-entropy
cross_entropy = BOOK["my_cross_entropy"]          # the book's solution


def naive(logits, targets):
    probs = logits.exp() / logits.exp().sum(dim=1, keepdim=True)
    return -probs[torch.arange(len(targets)), targets].log().mean()


def test_stable_cross_entropy_accepts_the_solution():
    result = check.stable_cross_entropy(cross_entropy)
    assert result.passed, result
    assert "±1e4" in result.message

    def log_sum_exp_first(logits, targets):          # m + log sum, then z_y - it: rounds
        m = logits.max(dim=1, keepdim=True).values   # at 1e4 (float32), still accepted
        log_sum_exp = m + (logits - m).exp().sum(dim=1, keepdim=True).log()
        return -(logits - log_sum_exp)[torch.arange(len(targets)), targets].mean()
    assert check.stable_cross_entropy(log_sum_exp_first).passed

    def drops_the_sum(logits, targets):              # finite, but not the loss
        m = logits.max(dim=1, keepdim=True).values
        return -(logits - m)[torch.arange(len(targets)), targets].mean()
    assert_hint(check.stable_cross_entropy(drops_the_sum), "ordinary scores")


def test_stable_cross_entropy_rejects_typical_mistakes():
    assert_hint(check.stable_cross_entropy(naive), "e^z overflows")
    assert_hint(check.stable_cross_entropy(lambda z, y: cross_entropy(z, y) * len(y)),
                "mean over its examples")
    assert_hint(check.stable_cross_entropy(lambda z, y: -cross_entropy(z, y)), "sign")

    def global_shift(logits, targets):               # one max for the whole batch
        return naive(logits - logits.max(), targets)
    assert_hint(check.stable_cross_entropy(global_shift), "each row's own largest")

    def log_of_softmax(logits, targets):             # stable softmax, then log
        return naive(logits - logits.max(dim=1, keepdim=True).values, targets)
    assert_hint(check.stable_cross_entropy(log_of_softmax), "log(0)")


def test_stable_cross_entropy_refuses_pytorchs_own_and_restores_it():
    assert_hint(check.stable_cross_entropy(lambda z, y: F.cross_entropy(z, y)), "PyTorch's own")
    assert_hint(check.stable_cross_entropy(
        lambda z, y: -(z - z.logsumexp(1, keepdim=True))[torch.arange(len(y)), y].mean()),
        "PyTorch's own")
    x = torch.tensor([[1.0, 2.0]])                   # everything works again afterwards
    assert torch.allclose(x.softmax(1), torch.softmax(x, 1))
    assert torch.isfinite(F.cross_entropy(x, torch.tensor([0])))
    assert "softmax" not in torch.Tensor.__dict__    # inherited again, not shadowed


# ---------------------------------------------------------------------------- Value.sigmoid
sigmoid = BOOK["my_sigmoid"]                      # the book's solution


def sigmoid_with(backward, children=True):
    def fn(a):
        s = 1 / (1 + math.exp(-a.data))
        out = Value(s, (a,) if children else (), "sigmoid")

        def _backward():
            backward(a, s, out)
        out._backward = _backward
        return out
    return fn


def test_value_sigmoid_accepts_the_solution_and_a_composition():
    assert check.value_sigmoid(sigmoid).passed
    assert check.value_sigmoid(lambda a: 1 / (1 + (-a).exp())).passed


def test_value_sigmoid_rejects_typical_mistakes():
    def overwrite(a, s, out):
        a.grad = s * (1 - s) * out.grad
    assert_hint(check.value_sigmoid(sigmoid_with(overwrite)), "(+=)")

    def no_chain_rule(a, s, out):
        a.grad += s * (1 - s)
    assert_hint(check.value_sigmoid(sigmoid_with(no_chain_rule)), "out.grad")

    def sigma_itself(a, s, out):
        a.grad += s * out.grad
    assert_hint(check.value_sigmoid(sigmoid_with(sigma_itself)), "σ(a) itself")

    def right(a, s, out):
        a.grad += s * (1 - s) * out.grad
    assert_hint(check.value_sigmoid(sigmoid_with(right, children=False)), "child")
    assert_hint(check.value_sigmoid(lambda a: 1 / (1 + math.exp(-a.data))), "new Value")
    assert_hint(check.value_sigmoid(lambda a: a.tanh()), "forward value")


# ---------------------------------------------------------------------------- Adam
adam_step = BOOK["my_adam_step"]                  # the book's solution


def test_adam_step_accepts_the_solution():
    result = check.adam_step(adam_step)
    assert result.passed, result


def test_adam_step_rejects_typical_mistakes():
    def no_correction(p, g, m, v, t, lr, betas, eps):
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        return p - lr * m / (v.sqrt() + eps), m, v
    assert_hint(check.adam_step(no_correction), "depends on t")

    def uphill(p, g, m, v, t, lr, betas, eps):
        new_p, m, v = adam_step(p, g, m, v, t, lr, betas, eps)
        return 2 * p - new_p, m, v
    assert_hint(check.adam_step(uphill), "uphill")

    def squares_forgotten(p, g, m, v, t, lr, betas, eps):
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g
        return p - lr * (m / (1 - betas[0] ** t)) / ((v / (1 - betas[1] ** t)).sqrt() + eps), m, v
    assert_hint(check.adam_step(squares_forgotten), "squared gradients")

    def eps_inside(p, g, m, v, t, lr, betas, eps):   # a subtler slip: a general hint
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        v_hat = v / (1 - betas[1] ** t)
        return p - lr * m / (1 - betas[0] ** t) / (v_hat + 1e-2).sqrt(), m, v
    assert_hint(check.adam_step(eps_inside), "compare the first step alone")
    assert_hint(check.adam_step(lambda *args: adam_step(*args)[0]), "three tensors")


# ---------------------------------------------------------------------------- batch norm
batch_norm = BOOK["my_batch_norm"]                # the book's solution


def test_batchnorm_train_accepts_the_solution():
    result = check.batchnorm_train(batch_norm)
    assert result.passed, result


def test_batchnorm_train_rejects_typical_mistakes():
    def unbiased(x, weight, bias, eps):
        dims = (0,) if x.dim() == 2 else (0, 2, 3)
        shape = (1, -1) if x.dim() == 2 else (1, -1, 1, 1)
        x_hat = (x - x.mean(dims, keepdim=True)) / (x.var(dims, keepdim=True) + eps).sqrt()
        return weight.view(shape) * x_hat + bias.view(shape)
    assert_hint(check.batchnorm_train(unbiased), "minus one")

    def no_affine(x, weight, bias, eps):
        return batch_norm(x, torch.ones_like(weight), torch.zeros_like(bias), eps)
    assert_hint(check.batchnorm_train(no_affine), "weight (γ) and bias (β)")

    def per_example(x, weight, bias, eps):
        x_hat = (x - x.mean(1, keepdim=True)) / (x.var(1, unbiased=False, keepdim=True)
                                                 + eps).sqrt()
        return weight * x_hat + bias
    assert_hint(check.batchnorm_train(per_example), "layer normalization")

    def batch_dim_only(x, weight, bias, eps):
        shape = (1, -1) if x.dim() == 2 else (1, -1, 1, 1)
        x_hat = (x - x.mean(0, keepdim=True)) / (x.var(0, unbiased=False, keepdim=True)
                                                 + eps).sqrt()
        return weight.view(shape) * x_hat + bias.view(shape)
    assert_hint(check.batchnorm_train(batch_dim_only), "all positions")

    def no_eps(x, weight, bias, eps):
        return batch_norm(x, weight, bias, 0.0)
    assert_hint(check.batchnorm_train(no_eps), "eps")

    def eps_outside_the_root(x, weight, bias, eps):
        dims = (0,) if x.dim() == 2 else (0, 2, 3)
        shape = (1, -1) if x.dim() == 2 else (1, -1, 1, 1)
        sigma = x.var(dims, unbiased=False, keepdim=True).sqrt()
        x_hat = (x - x.mean(dims, keepdim=True)) / (sigma + eps)
        return weight.view(shape) * x_hat + bias.view(shape)
    assert_hint(check.batchnorm_train(eps_outside_the_root), "inside the square root")
