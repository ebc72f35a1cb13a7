"""Muon: momentum whose step for each weight matrix is orthogonalized (Jordan et al., 2024).

- `orthogonalize(G)`: about U V^T for G = U S V^T, by five Newton-Schulz steps.
- `Muon`: a torch.optim.Optimizer. Weights of two or more dims (a Linear's (out, in), a
  convolution's (out, in, kh, kw) filters read as (out, in*kh*kw)) take Muon's step; a param
  group with orthogonalize=False (biases, norm scales, the output layer) takes SGD's step with
  the same momentum. PyTorch 2.9+ ships torch.optim.Muon for 2-D weights only; this one takes
  filters too, runs on older PyTorch and computes in float32 (fast on any CPU).
- `muon_groups(model, lr, other_lr, weight_decay=0.0)`: the usual split of a model's parameters.

`fit` runs it with a one-cycle schedule like any optimizer passed to it.
Used in: companion/mnist.py (`speedrun`, both recipes of SPEEDRUNS), book/08_mnist.ipynb;
tests/test_muon.py.
"""
import torch
from torch import nn

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)   # Jordan et al.'s quintic, as torch.optim.Muon's


def orthogonalize(G, steps=5, dtype=torch.float32):
    """About U V^T for G = U S V^T (its SVD), a matrix (rows, cols): `steps`
    Newton-Schulz iterations X <- a X + b (X X^T) X + c (X X^T)^2 X on G
    scaled to a norm of 1. The singular vectors stay; the values move.

    The coefficients push the singular values up fast rather than exactly
    to 1: after five steps each one above about 1/300 of G's norm lies
    between about 0.7 and 1.2 (Jordan et al. found that as good as 1);
    much smaller ones stay small. `dtype`: the arithmetic
    (torch.optim.Muon's is bfloat16, slow on CPUs without it).
    """
    if G.dim() != 2:
        raise ValueError(f"orthogonalize expects a matrix (rows, cols); "
                         f"got shape {tuple(G.shape)}")
    a, b, c = NS_COEFFICIENTS
    X = G.to(dtype)
    tall = X.shape[0] > X.shape[1]
    if tall:                               # work on the short side
        X = X.T                            # (small, large)
    X = X / X.norm().clamp(min=1e-7)       # every singular value <= 1
    for _ in range(steps):
        A = X @ X.T                                  # (small, small)
        B = torch.addmm(A, A, A, beta=b, alpha=c)    # b A + c A^2
        X = torch.addmm(X, B, X, beta=a)             # a X + B X
    return X.T if tall else X


class Muon(torch.optim.Optimizer):
    """Muon (Jordan et al., 2024) for weights of two or more dims; SGD for a group that says
    orthogonalize=False.

    Muon, for W of shape (out, ...) read as a matrix (out, rest), with g its gradient:
      m = momentum m + (1 - momentum) g;  u = (1 - momentum) g + momentum m (Nesterov) or m
      W *= 1 - lr weight_decay;  W -= lr sqrt(max(1, out / rest)) orthogonalize(u)
    as torch.optim.Muon (PyTorch 2.9+, 2-D W only). Each step has about the same size whatever
    the gradient's scale, and moves W along the weak directions of u about as far as along its
    strong ones.
    SGD (orthogonalize=False), as `companion.learning.SGD`: g += weight_decay W (L2);
      v = momentum v + g;  W -= lr (g + momentum v) (Nesterov) or lr v.
    Schedulers may change lr and momentum: fit's one-cycle schedule takes each group's lr as its
    peak and replaces the momentum of both kinds by its 0.95 -> 0.85 -> 0.95 cycle.
    """

    def __init__(self, params, lr, momentum=0.95, nesterov=True, weight_decay=0.0, ns_steps=5,
                 orthogonalize=True, ns_dtype=torch.float32):
        _check_lr(lr, "lr")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"Muon: momentum must be in [0, 1); got {momentum!r}")
        if weight_decay < 0:
            raise ValueError(f"Muon: weight_decay must be >= 0; got {weight_decay!r}")
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov,
                                      weight_decay=weight_decay, ns_steps=ns_steps,
                                      orthogonalize=orthogonalize, ns_dtype=ns_dtype))
        for group in self.param_groups:
            _check_lr(group["lr"], "a group's lr")
            if group["orthogonalize"]:
                flat = [tuple(p.shape) for p in group["params"] if p.dim() < 2]
                if flat:
                    raise ValueError(f"Muon: orthogonalize needs weights of 2 or more dims; "
                                     f"got shapes {flat}: put biases and norm scales in a "
                                     f"group with orthogonalize=False (see muon_groups)")

    def __repr__(self):
        groups = [f"{'muon' if g['orthogonalize'] else 'sgd'}: {len(g['params'])} tensors, "
                  f"lr={g['lr']:g}, momentum={g['momentum']:g}" for g in self.param_groups]
        return f"Muon({'; '.join(groups)})"

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:   # read each step: schedulers change lr and momentum
            lr, momentum, decay = group["lr"], group["momentum"], group["weight_decay"]
            params = [p for p in group["params"] if p.grad is not None]
            if not group["orthogonalize"]:
                self._sgd(params, lr, momentum, decay, group["nesterov"])
                continue
            for p in params:
                g, state = p.grad, self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(g)
                m = state["momentum_buffer"]
                m.lerp_(g, 1 - momentum)                         # the gradients' average
                u = g.lerp(m, momentum) if group["nesterov"] else m
                U = orthogonalize(u.reshape(len(u), -1), group["ns_steps"],
                                  group["ns_dtype"])              # (out, rest)
                scale = max(1.0, U.shape[0] / U.shape[1]) ** 0.5
                p.mul_(1 - lr * decay)
                p.add_(U.reshape(p.shape).to(p.dtype), alpha=-lr * scale)
        return loss

    def _sgd(self, params, lr, momentum, decay, nesterov):
        """SGD's step for all of `params` at once (torch's _foreach_ calls: a few calls per step
        instead of a few per tensor): v = momentum v + g (v starts at 0, so v = g at first)."""
        if not params:
            return
        grads = [p.grad for p in params]
        if decay:
            grads = torch._foreach_add(grads, params, alpha=decay)          # L2's gradient
        for p in params:
            if "velocity" not in self.state[p]:
                self.state[p]["velocity"] = torch.zeros_like(p)
        velocity = [self.state[p]["velocity"] for p in params]
        torch._foreach_mul_(velocity, momentum)
        torch._foreach_add_(velocity, grads)
        steps = torch._foreach_add(grads, velocity, alpha=momentum) if nesterov else velocity
        torch._foreach_add_(params, steps, alpha=-lr)


def _check_lr(lr, what):
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0:
        raise ValueError(f"Muon: {what} must be a number > 0; got {lr!r}")


def muon_groups(model, lr, other_lr, weight_decay=0.0):
    """Param groups for `Muon`: the weights of two or more dims orthogonalized at `lr`, except
    those of the last nn.Linear registered in `model` (the output layer of a Sequential such as
    speedrun_net); the rest (biases, norm scales, that output layer) SGD at `other_lr` with L2
    `weight_decay`."""
    _check_lr(lr, "lr")
    _check_lr(other_lr, "other_lr")
    heads = [m for m in model.modules() if isinstance(m, nn.Linear)]
    head = {id(p) for p in heads[-1].parameters()} if heads else set()
    hidden = [p for p in model.parameters() if p.dim() >= 2 and id(p) not in head]
    rest = [p for p in model.parameters() if p.dim() < 2 or id(p) in head]
    if not hidden:
        raise ValueError("muon_groups: the model has no weights of 2 or more dims before its "
                         "output layer; Muon has nothing to orthogonalize")
    return [dict(params=hidden, lr=lr),
            dict(params=rest, lr=other_lr, orthogonalize=False, weight_decay=weight_decay)]
