"""How a network learns, written out: softmax and cross-entropy, optimizers,
batch norm.

- `softmax`, `cross_entropy`: scores to probabilities, and the loss, stable
  for any logits.
- `SGD` (momentum, Nesterov, weight decay), `Adam`, `AdamW`:
  torch.optim.Optimizer subclasses whose updates are the papers' formulas,
  step for step equal to torch.optim's; `fit` and PyTorch's schedulers
  (OneCycleLR) accept them.
- `OPTIMIZERS`, `make_optimizer(name, ...)`: the book's one optimizer
  vocabulary, "sgd", "momentum", "nesterov", "adam", "adamw"; `fit`
  (companion/training.py) builds torch.optim's classes with it.
- `BatchNorm`: batch normalization for (N, C) and (N, C, H, W) inputs, with
  the same parameters and buffers as nn.BatchNorm1d/2d (so their state_dict
  loads into it).
- `rosenbrock`, `descend`, `descend_many`: a 2-D loss surface and the paths
  optimizers take on it.
- `Snapshots`: a `fit` callback that keeps the model's outputs on fixed
  inputs after chosen epochs.

The pictures of these (the valley and its paths, `run_explorer`,
`confidence_explorer`) are in companion/show/learning.py; the scalar
autograd engine (backpropagation) in companion/autograd.py.
Used in: book/01_learning.ipynb, book/intro.ipynb (`Snapshots`);
`companion.training.fit` (the optimizer names); `show.learning`.
"""
import sys

import torch
from torch import nn

from ._validate import check_positive_int
from .snapshots import Snapshots as _Snapshots


# ------------------------------------------------------------------- loss
def softmax(logits, dim=-1):
    """exp(z_i) / sum_j exp(z_j) along `dim`; subtracting the max first
    keeps exp() finite."""
    shifted = logits - logits.amax(dim=dim, keepdim=True)  # largest is 0
    exps = shifted.exp()                         # in (0, 1]: no overflow
    return exps / exps.sum(dim=dim, keepdim=True)


def log_softmax(logits, dim=-1):
    """log softmax(z) = z - logsumexp(z), where
    logsumexp(z) = m + log sum exp(z - m) with m = max(z)."""
    shifted = logits - logits.amax(dim=dim, keepdim=True)  # largest is 0
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


def cross_entropy(logits, targets):
    """Mean of -log softmax(logits)[target] over the batch:
    logits (N, C), targets (N,) integers."""
    if logits.dim() != 2:
        raise ValueError(f"cross_entropy expects logits of shape "
                         f"(batch, classes); got {tuple(logits.shape)}")
    if (targets.shape != logits.shape[:1]
            or targets.dtype.is_floating_point):
        raise ValueError(f"cross_entropy expects integer targets of shape "
                         f"({len(logits)},); got {targets.dtype} of shape "
                         f"{tuple(targets.shape)}")
    log_probs = log_softmax(logits, dim=1)                   # (N, C)
    return -log_probs.gather(1, targets[:, None]).mean()     # each target


# ------------------------------------------------------------- optimizers
def _check_lr(lr, name):
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or lr <= 0:
        raise ValueError(f"{name}: the learning rate lr must be a number > 0; "
                         f"got {lr!r}")


class SGD(torch.optim.Optimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov momentum
    and weight decay.

    g = grad + weight_decay * p;  v = momentum * v + g  (v = g at first);
    p -= lr * v   (Nesterov: p -= lr * (g + momentum * v)).
    """

    def __init__(self, params, lr, momentum=0.0, nesterov=False,
                 weight_decay=0.0):
        _check_lr(lr, "SGD")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1); "
                             f"got {momentum!r}")
        if nesterov and momentum == 0:
            raise ValueError("SGD: Nesterov momentum needs momentum > 0")
        if weight_decay < 0:
            raise ValueError(f"SGD: weight_decay must be >= 0; "
                             f"got {weight_decay!r}")
        super().__init__(params, dict(lr=lr, momentum=momentum,
                                      nesterov=nesterov,
                                      weight_decay=weight_decay))

    def __repr__(self):
        d = self.defaults
        return (f"SGD(lr={d['lr']}, momentum={d['momentum']}, "
                f"nesterov={d['nesterov']}, "
                f"weight_decay={d['weight_decay']})")

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:   # read each step: schedulers change
            lr, momentum = group["lr"], group["momentum"]   # lr, momentum
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p   # L2's gradient
                if momentum:
                    state = self.state[p]
                    if "velocity" not in state:
                        state["velocity"] = g.clone()    # first step: v = g
                    else:
                        state["velocity"] = momentum * state["velocity"] + g
                    v = state["velocity"]
                    g = g + momentum * v if group["nesterov"] else v
                p -= lr * g
        return loss


class Adam(torch.optim.Optimizer):
    """Adam (Kingma & Ba, 2014): a step of about lr for every parameter,
    whatever the size of its gradient.

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g²;
    m̂ = m / (1 - b1^t);  v̂ = v / (1 - b2^t);  p -= lr m̂ / (sqrt(v̂) + eps).
    weight_decay adds weight_decay * p to g (L2, as torch.optim.Adam).
    """

    decoupled = False                           # AdamW sets True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=0.0):
        name = type(self).__name__
        _check_lr(lr, name)
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"{name}: betas must be two numbers in [0, 1); "
                             f"got {betas!r}")
        if weight_decay < 0:
            raise ValueError(f"{name}: weight_decay must be >= 0; "
                             f"got {weight_decay!r}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay))

    def __repr__(self):
        d = self.defaults
        return (f"{type(self).__name__}(lr={d['lr']}, betas={d['betas']}, "
                f"eps={d['eps']}, weight_decay={d['weight_decay']})")

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (beta1, beta2) = group["lr"], group["betas"]
            eps, weight_decay = group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if self.decoupled:
                    p *= 1 - lr * weight_decay    # AdamW: shrink p itself
                else:
                    g = g + weight_decay * p      # Adam: L2 in the gradient
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["m"] = torch.zeros_like(p)   # mean of gradients
                    state["v"] = torch.zeros_like(p)   # of their squares
                state["step"] += 1
                t = state["step"]
                state["m"] = beta1 * state["m"] + (1 - beta1) * g
                state["v"] = beta2 * state["v"] + (1 - beta2) * g * g
                m_hat = state["m"] / (1 - beta1 ** t)  # undo the pull to 0
                v_hat = state["v"] / (1 - beta2 ** t)
                p -= lr * m_hat / (v_hat.sqrt() + eps)
        return loss


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay.

    Each step first shrinks p by the factor (1 - lr * weight_decay), then
    takes Adam's step on the plain gradient, so the decay is the same for
    every parameter.
    """

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps,
                         weight_decay=weight_decay)


OPTIMIZERS = {   # name -> (class, the settings it fixes); fit uses these too
    "sgd": ("SGD", {}),                                    # plain: p -= lr g
    "momentum": ("SGD", {"momentum": 0.9}),                # heavy ball
    "nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "adam": ("Adam", {}),                                  # L2 in the gradient
    "adamw": ("AdamW", {"weight_decay": 1e-2}),            # decoupled decay
}


def optimizer_settings(name, momentum=None, weight_decay=None):
    """The class name and keyword settings that `name` means, checked.

    momentum (default 0.9) applies to "momentum" and "nesterov" only;
    weight_decay defaults to 0, or 0.01 for "adamw" (as in torch.optim).
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of "
                         f"{', '.join(OPTIMIZERS)}")
    cls, fixed = OPTIMIZERS[name]
    settings = dict(fixed)
    if momentum is not None:
        if "momentum" not in fixed:
            raise ValueError(f"momentum applies to 'momentum' and 'nesterov'"
                             f" only; {name!r} has none")
        if not 0 < momentum < 1:
            raise ValueError(f"{name}: momentum must be in (0, 1); "
                             f"got {momentum!r}")
        settings["momentum"] = momentum
    if weight_decay is not None:
        if not weight_decay >= 0:
            raise ValueError(f"{name}: weight_decay must be >= 0; "
                             f"got {weight_decay!r}")
        settings["weight_decay"] = weight_decay
    settings.setdefault("weight_decay", 0.0)
    return cls, settings


def make_optimizer(name, params, lr, *, source=None, **settings):
    """The optimizer called `name` (see `OPTIMIZERS`) for `params`.

    settings: momentum and weight_decay (see `optimizer_settings`).
    source: where the classes come from, this module (the default) or
    torch.optim (what `fit` uses); both give the same updates. torch.optim's
    is built with foreach=True: one call updates all the tensors, giving
    the same weights, faster on a CPU for models of many tensors (though
    with Nesterov momentum and no weight decay it leaves a different
    `.grad` behind).
    """
    unknown = set(settings) - {"momentum", "weight_decay"}
    if unknown:
        raise ValueError(f"make_optimizer: unknown settings "
                         f"{sorted(unknown)}; it takes momentum and "
                         f"weight_decay")
    cls, kwargs = optimizer_settings(name, **settings)
    source = sys.modules[__name__] if source is None else source
    if source is torch.optim:   # one call per step for all the tensors: the same
        kwargs["foreach"] = True  # weights; the optimizer step of a model of 50
        # tensors took a quarter to half less time on a 2-core CPU
    return getattr(source, cls)(params, lr=lr, **kwargs)


# ------------------------------------------------------------- batch norm
class BatchNorm(nn.Module):
    """Batch normalization (Ioffe & Szegedy, 2015) of (N, C) or (N, C, H, W)
    inputs.

    Training: normalise each channel by its batch mean and (biased)
    variance, then scale by `weight` and shift by `bias`; update the
    running statistics as running = (1 - momentum) running
    + momentum batch_statistic (the variance unbiased). Eval: use the
    running statistics. Parameters and buffers are named as in
    nn.BatchNorm1d/2d.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        check_positive_int("BatchNorm: num_features", num_features)
        self.num_features, self.eps = num_features, eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.ones(num_features))   # γ, scale
        self.bias = nn.Parameter(torch.zeros(num_features))    # β, shift
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked",
                             torch.tensor(0, dtype=torch.long))

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, "
                f"momentum={self.momentum}")

    def forward(self, x):
        self._check(x)
        dims = (0,) if x.dim() == 2 else (0, 2, 3)   # all but the channels
        shape = (1, -1) if x.dim() == 2 else (1, -1, 1, 1)   # per channel
        if self.training:
            mean = x.mean(dim=dims)                            # (C,)
            var = x.var(dim=dims, unbiased=False)              # (C,)
            with torch.no_grad():
                count = x.numel() // self.num_features   # values/channel
                unbiased = var * count / (count - 1)
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(unbiased, self.momentum)
                self.num_batches_tracked += 1
        else:
            mean, var = self.running_mean, self.running_var
        x_hat = (x - mean.view(shape)) / (var.view(shape) + self.eps).sqrt()
        return self.weight.view(shape) * x_hat + self.bias.view(shape)

    def _check(self, x):
        """A clear error for input of the wrong shape, or a batch of one."""
        C = self.num_features
        if x.dim() not in (2, 4) or x.shape[1] != C:
            raise ValueError(f"BatchNorm({C}) expects input of shape "
                             f"(batch, {C}) or (batch, {C}, height, width); "
                             f"got {tuple(x.shape)}")
        if self.training and x.numel() // C < 2:
            raise ValueError(f"BatchNorm in training mode needs more than one "
                             f"value per channel; got shape {tuple(x.shape)}: "
                             f"use a batch of 2 or more, or call .eval()")


# ---------------------------------------------------------- a 2-D surface
def rosenbrock(xy, a=1.0, b=100.0):
    """Rosenbrock's banana valley (a - x)² + b (y - x²)²; minimum 0 at
    (a, a²). xy: (..., 2)."""
    x, y = xy[..., 0], xy[..., 1]
    return (a - x) ** 2 + b * (y - x ** 2) ** 2


def descend(optimizer_factory, start, steps, loss_fn=rosenbrock):
    """Run `steps` optimizer steps on loss_fn from `start`; return the path,
    (steps + 1, 2).

    optimizer_factory: called with [point] (the 2 numbers to optimise),
    returns the optimizer.
    """
    point = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_factory([point])
    path = [point.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(point).backward()
        optimizer.step()
        path.append(point.detach().clone())
    return torch.stack(path)                            # (steps + 1, 2)


def descend_many(optimizer_class, lrs, start, steps, loss_fn=rosenbrock,
                 **settings):
    """The paths of one optimizer at several learning rates, in one run:
    (len(lrs), steps + 1, 2), each row what `descend` would give.

    Each learning rate gets its own point in its own parameter group
    (PyTorch's way of giving parameters different settings), and one
    backward pass per step serves them all. A path that diverges turns to
    inf and nan, which plots leave out.
    """
    points = [torch.tensor(start, dtype=torch.float64, requires_grad=True)
              for _ in lrs]
    groups = [dict(params=[p], lr=lr) for p, lr in zip(points, lrs)]
    optimizer = optimizer_class(groups, lr=lrs[0], **settings)
    path = [torch.stack(points).detach()]                # (len(lrs), 2)
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(torch.stack(points)).sum().backward()  # rows independent
        optimizer.step()
        path.append(torch.stack(points).detach())
    return torch.stack(path, dim=1)                 # (len(lrs), steps + 1, 2)


# ---------------------------------------------------- watching a run learn
class Snapshots(_Snapshots):
    """A `fit` callback: the model's outputs on fixed inputs `X` after the
    chosen epochs, for a figure or explorer that replays training (a
    `companion.snapshots.Snapshots` that records `predict(model, X)`).

    `epochs`: 1-based epoch numbers to keep (default: every epoch). After
    the run, `outputs[epoch]` is `predict(model, X)` at the end of that
    epoch, a CPU tensor (eval mode, no gradients).
    """

    def __init__(self, model, X, epochs=None):
        if not isinstance(model, nn.Module):
            raise ValueError(f"Snapshots needs the nn.Module being trained; "
                             f"got {type(model).__name__}")
        if epochs is not None and (not list(epochs) or min(epochs) < 1):
            raise ValueError(f"Snapshots: epochs are numbered from 1; got "
                             f"{epochs!r}")
        self.model, self.X = model, X

        def record():
            from .training import predict      # training imports this module
            return predict(model, X)
        super().__init__(record, epochs=epochs, before=False)

    @property
    def outputs(self):
        """{epoch: predict(model, X) at its end}."""
        return {round(moment): out for moment, out in zip(self.moments, self.values)}

    def __repr__(self):
        return f"Snapshots(epochs={list(self.outputs)})"
