"""How a network learns, written out: softmax and cross-entropy, optimizers, batch norm.

- `softmax`, `cross_entropy`: scores to probabilities, and the loss, stable for any logits.
- `SGD` (momentum, Nesterov, weight decay), `Adam`, `AdamW`: torch.optim.Optimizer subclasses
  whose updates are the papers' formulas, step for step equal to torch.optim's; `fit` and
  PyTorch's schedulers (OneCycleLR) accept them. `make_optimizer(name, ...)` picks one by name.
- `BatchNorm`: batch normalization for (N, C) and (N, C, H, W) inputs, with the same
  parameters and buffers as nn.BatchNorm1d/2d (so their state_dict loads into it).
- `rosenbrock`, `descend`: a 2-D loss surface and the path an optimizer takes on it.

The scalar autograd engine (backpropagation) is in companion/autograd.py.
Used in: book/01_learning.ipynb
"""
import torch
from torch import nn


# ---------------------------------------------------------------------------- loss
def softmax(logits, dim=-1):
    """exp(z_i) / sum_j exp(z_j) along `dim`; subtracting the max first keeps exp() finite."""
    shifted = logits - logits.amax(dim=dim, keepdim=True)      # largest entry is now 0
    exps = shifted.exp()                                       # in (0, 1]: no overflow
    return exps / exps.sum(dim=dim, keepdim=True)


def log_softmax(logits, dim=-1):
    """log softmax(z) = z - logsumexp(z), with logsumexp(z) = m + log sum exp(z - m)."""
    m = logits.amax(dim=dim, keepdim=True)
    return logits - m - (logits - m).exp().sum(dim=dim, keepdim=True).log()


def cross_entropy(logits, targets):
    """Mean of -log softmax(logits)[target] over the batch: logits (N, C), targets (N,) int."""
    if logits.dim() != 2:
        raise ValueError(f"cross_entropy expects logits of shape (batch, classes); "
                         f"got {tuple(logits.shape)}")
    if targets.shape != logits.shape[:1] or targets.dtype.is_floating_point:
        raise ValueError(f"cross_entropy expects integer targets of shape ({len(logits)},); "
                         f"got {targets.dtype} of shape {tuple(targets.shape)}")
    log_probs = log_softmax(logits, dim=1)                     # (N, C)
    return -log_probs.gather(1, targets[:, None]).mean()       # pick each row's target


# ---------------------------------------------------------------------------- optimizers
def _check_lr(lr, name):
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0:
        raise ValueError(f"{name}: the learning rate lr must be a number > 0; got {lr!r}")


class SGD(torch.optim.Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    g = grad + weight_decay * p;  v = momentum * v + g (v = g at the first step);
    p -= lr * v   (Nesterov: p -= lr * (g + momentum * v)).
    """

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        _check_lr(lr, "SGD")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1); got {momentum!r}")
        if nesterov and momentum == 0:
            raise ValueError("SGD: Nesterov momentum needs momentum > 0")
        if weight_decay < 0:
            raise ValueError(f"SGD: weight_decay must be >= 0; got {weight_decay!r}")
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov,
                                      weight_decay=weight_decay))

    def __repr__(self):
        d = self.defaults
        return (f"SGD(lr={d['lr']}, momentum={d['momentum']}, nesterov={d['nesterov']}, "
                f"weight_decay={d['weight_decay']})")

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:         # read every step: schedulers change lr, momentum
            lr, momentum = group["lr"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p      # L2 penalty's gradient
                if momentum:
                    state = self.state[p]
                    if "velocity" not in state:
                        state["velocity"] = g.clone()       # first step: v = g
                    else:
                        state["velocity"] = momentum * state["velocity"] + g
                    v = state["velocity"]
                    g = g + momentum * v if group["nesterov"] else v
                p -= lr * g
        return loss


class Adam(torch.optim.Optimizer):
    """Adam (Kingma & Ba, 2014): a step of about lr per parameter, scaled by its gradient's size.

    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;  m̂ = m/(1-b1^t), v̂ = v/(1-b2^t);
    p -= lr m̂ / (sqrt(v̂) + eps).  weight_decay adds weight_decay * p to g (L2, as torch.optim.Adam).
    """

    decoupled = False                           # AdamW sets True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        _check_lr(lr, type(self).__name__)
        if not all(0.0 <= b < 1.0 for b in betas) or len(betas) != 2:
            raise ValueError(f"{type(self).__name__}: betas must be two numbers in [0, 1); "
                             f"got {betas!r}")
        if weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: weight_decay must be >= 0; "
                             f"got {weight_decay!r}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay))

    def __repr__(self):
        d = self.defaults
        return (f"{type(self).__name__}(lr={d['lr']}, betas={d['betas']}, eps={d['eps']}, "
                f"weight_decay={d['weight_decay']})")

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay = group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if self.decoupled:
                    p *= 1 - lr * weight_decay                   # AdamW: shrink p directly
                else:
                    g = g + weight_decay * p                     # Adam: L2 through the gradient
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["m"] = torch.zeros_like(p)             # mean of the gradients
                    state["v"] = torch.zeros_like(p)             # mean of their squares
                state["step"] += 1
                t = state["step"]
                state["m"] = beta1 * state["m"] + (1 - beta1) * g
                state["v"] = beta2 * state["v"] + (1 - beta2) * g * g
                m_hat = state["m"] / (1 - beta1 ** t)            # undo the pull towards 0
                v_hat = state["v"] / (1 - beta2 ** t)
                p -= lr * m_hat / (v_hat.sqrt() + eps)
        return loss


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay.

    Each step first shrinks p by the factor (1 - lr * weight_decay), then takes Adam's step
    on the plain gradient, so the decay is the same for every parameter.
    """

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


OPTIMIZERS = {
    "sgd": lambda params, lr, **kw: SGD(params, lr, weight_decay=kw.get("weight_decay", 0.0)),
    "momentum": lambda params, lr, **kw: SGD(params, lr, momentum=kw.get("momentum", 0.9),
                                             weight_decay=kw.get("weight_decay", 0.0)),
    "nesterov": lambda params, lr, **kw: SGD(params, lr, momentum=kw.get("momentum", 0.9),
                                             nesterov=True,
                                             weight_decay=kw.get("weight_decay", 0.0)),
    "adam": lambda params, lr, **kw: Adam(params, lr, weight_decay=kw.get("weight_decay", 0.0)),
    "adamw": lambda params, lr, **kw: AdamW(params, lr,
                                            weight_decay=kw.get("weight_decay", 1e-2)),
}


def make_optimizer(name, params, lr, **settings):
    """One of this module's optimizers by name: sgd, momentum, nesterov, adam or adamw.

    `settings` may hold momentum (default 0.9) and weight_decay.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    unknown = set(settings) - {"momentum", "weight_decay"}
    if unknown:
        raise ValueError(f"make_optimizer: unknown settings {sorted(unknown)}; "
                         f"it takes momentum and weight_decay")
    return OPTIMIZERS[name](params, lr, **settings)


# ---------------------------------------------------------------------------- batch norm
class BatchNorm(nn.Module):
    """Batch normalization (Ioffe & Szegedy, 2015) over (N, C) or (N, C, H, W) inputs.

    Training: normalise each channel by its batch mean and (biased) variance, then scale by
    `weight` and shift by `bias`; update running_mean and running_var (unbiased) as
    running = (1 - momentum) running + momentum batch_statistic. Eval: use the running ones.
    Parameters and buffers are named as in nn.BatchNorm1d/2d.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        if not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"BatchNorm: num_features must be an integer >= 1; "
                             f"got {num_features!r}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))      # γ, the scale
        self.bias = nn.Parameter(torch.zeros(num_features))       # β, the shift
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"

    def forward(self, x):
        if x.dim() not in (2, 4) or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm({self.num_features}) expects input of shape "
                             f"(batch, {self.num_features}) or (batch, {self.num_features}, "
                             f"height, width); got {tuple(x.shape)}")
        dims = (0,) if x.dim() == 2 else (0, 2, 3)                # all but the channel dim
        shape = (1, -1) if x.dim() == 2 else (1, -1, 1, 1)        # broadcast per channel
        if self.training:
            count = x.numel() // self.num_features                 # values per channel
            if count < 2:
                raise ValueError(f"BatchNorm in training mode needs more than one value per "
                                 f"channel to compute a variance; got input of shape "
                                 f"{tuple(x.shape)}. Use a batch of at least 2 samples, or "
                                 f"call .eval() to use the running statistics")
            mean = x.mean(dim=dims)                                # (C,)
            var = x.var(dim=dims, unbiased=False)                  # (C,) biased: normalises
            with torch.no_grad():
                unbiased = var * count / (count - 1)
                self.running_mean.lerp_(mean, self.momentum)      # (1-m) old + m new
                self.running_var.lerp_(unbiased, self.momentum)
                self.num_batches_tracked += 1
        else:
            mean, var = self.running_mean, self.running_var
        x_hat = (x - mean.view(shape)) / (var.view(shape) + self.eps).sqrt()   # like x
        return self.weight.view(shape) * x_hat + self.bias.view(shape)


# ---------------------------------------------------------------------------- a 2-D surface
def rosenbrock(xy, a=1.0, b=100.0):
    """Rosenbrock's banana valley (a - x)² + b (y - x²)²; minimum 0 at (a, a²). xy: (..., 2)."""
    x, y = xy[..., 0], xy[..., 1]
    return (a - x) ** 2 + b * (y - x ** 2) ** 2


def descend(optimizer_factory, start, steps, loss_fn=rosenbrock):
    """Run `steps` optimizer steps on loss_fn from `start`; return the path, (steps + 1, 2).

    optimizer_factory: called with [point] (a 2-element tensor to optimise), returns the optimizer.
    """
    point = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_factory([point])
    path = [point.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(point).backward()
        optimizer.step()
        path.append(point.detach().clone())
    return torch.stack(path)                                       # (steps + 1, 2)
