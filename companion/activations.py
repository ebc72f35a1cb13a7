"""Activation functions written from their formulas, with their derivatives.

Each activation is an `Activation` with `.fn(x)` (the function) and `.grad(x)` (its
derivative, also from the formula, not from autograd). `get(name)` returns one. The rest of
the module holds the tools the chapter measures with: a deep-MLP builder, its linear layers,
their gradient norms (`weight_grad_norms`), the fraction of dead units (`dead_fraction`) and,
for the sigmoid, of saturated ones (`saturated_fraction`).

The chapter's explorers and figures of them are in companion/show/activations.py.
Used in: book/02_activations.ipynb (every probe of its sections 4-7);
tests/test_activations.py; `show.activations`.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_positive_int
from .measure import grad_norms
from .training import predict

NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "gelu", "silu")
INITS = ("default", "xavier", "he")
_SQRT_2 = math.sqrt(2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _as_float(x):
    """Return x as a floating-point tensor (lists, numbers and int tensors are converted)."""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x, dtype=torch.get_default_dtype())
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    return x


# ---------------------------------------------------------------------------- formulas
# Each pair is f(x) and f'(x). None forms exp of a large positive number,
# so none gives inf or NaN for a finite input.

def _sigmoid(x):
    # σ(x) = 1 / (1 + e^(-x)); for x < 0 the equal form e^x / (1 + e^x)
    z = torch.exp(-x.abs())              # in (0, 1], never overflows
    return torch.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def _sigmoid_grad(x):
    s = _sigmoid(x)
    return s * (1.0 - s)                 # σ'(x) = σ(x)(1 − σ(x)) ≤ 1/4


def _tanh(x):
    # tanh(x) = (1 − e^(-2x)) / (1 + e^(-2x)) for x ≥ 0, odd in x;
    # expm1 keeps small x exact
    m = torch.expm1(-2.0 * x.abs())      # e^(-2|x|) − 1, in (−1, 0]
    return torch.sign(x) * (-m / (2.0 + m))


def _tanh_grad(x):
    t = _tanh(x)
    return 1.0 - t * t                   # tanh'(x) = 1 − tanh²(x) ≤ 1


def _relu(x):
    return torch.where(x > 0, x, torch.zeros_like(x))     # max(0, x)


def _relu_grad(x):
    return (x > 0).to(x.dtype)           # 1 for x > 0, else exactly 0


def _gelu(x):
    # GELU(x) = x Φ(x), Φ the standard normal CDF;
    # Φ(x) = erfc(−x/√2)/2 stays exact for x ≪ 0
    return x * 0.5 * torch.erfc(-x / _SQRT_2)


def _gelu_grad(x):
    pdf = torch.exp(-0.5 * x * x) / _SQRT_2PI    # φ(x), the normal density
    return 0.5 * torch.erfc(-x / _SQRT_2) + x * pdf      # Φ(x) + x φ(x)


def _silu(x):
    return x * _sigmoid(x)               # SiLU (Swish): x σ(x)


def _silu_grad(x):
    s = _sigmoid(x)
    return s * (1.0 + x * (1.0 - s))     # σ(x)(1 + x(1 − σ(x)))


# ---------------------------------------------------------------------------- Activation
_INFO = {
    # name: (formula in LaTeX, output range, where it is used)
    "sigmoid": (r"\sigma(x) = \frac{1}{1 + e^{-x}}", "(0, 1)",
                "output layer for yes/no (binary) probabilities; gates in LSTMs"),
    "tanh": (r"\tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}", "(-1, 1)",
             "hidden layers of small or recurrent networks (RNN, LSTM)"),
    "relu": (r"\mathrm{ReLU}(x) = \max(0, x)", "[0, ∞)",
             "the default for hidden layers of MLPs and CNNs"),
    "leaky_relu": (r"\mathrm{LeakyReLU}(x) = \max(0, x) + a \min(0, x)", "(-∞, ∞)",
                   "hidden layers, where dead ReLUs are a problem (GANs)"),
    "gelu": (r"\mathrm{GELU}(x) = x\,\Phi(x)", "[≈ -0.17, ∞)",
             "hidden layers of transformers (BERT, GPT)"),
    "silu": (r"\mathrm{SiLU}(x) = x\,\sigma(x)", "[≈ -0.28, ∞)",
             "hidden layers of modern CNNs and LLMs (EfficientNet, LLaMA's SwiGLU)"),
}


class Activation:
    """An activation function f with its derivative f', both from the formula."""

    def __init__(self, name, fn, grad, negative_slope=None):
        self.name = name
        self._fn, self._grad = fn, grad
        self.negative_slope = negative_slope
        self.formula, self.output_range, self.used_for = _INFO[name]

    def fn(self, x):
        """f(x), elementwise."""
        x = _as_float(x)
        if self.negative_slope is None:
            return self._fn(x)
        return self._fn(x, self.negative_slope)

    def grad(self, x):
        """f'(x), elementwise, from the formula (no autograd)."""
        x = _as_float(x)
        if self.negative_slope is None:
            return self._grad(x)
        return self._grad(x, self.negative_slope)

    def __call__(self, x):
        return self.fn(x)

    def module(self):
        """PyTorch's own, faster layer for this function (the tests check they agree)."""
        if self.name == "leaky_relu":
            return nn.LeakyReLU(self.negative_slope)
        return {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU,
                "gelu": nn.GELU, "silu": nn.SiLU}[self.name]()

    def __str__(self):
        if self.negative_slope is None:
            return self.name
        return f"{self.name} (a={self.negative_slope:g})"

    def __repr__(self):
        if self.negative_slope is None:
            return f"Activation({self.name!r})"
        return f"Activation({self.name!r}, negative_slope={self.negative_slope})"


def _leaky_relu(x, a):
    return torch.where(x > 0, x, a * x)     # x for x > 0, a·x otherwise


def _leaky_relu_grad(x, a):
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, a))


_FORMULAS = {
    "sigmoid": (_sigmoid, _sigmoid_grad),
    "tanh": (_tanh, _tanh_grad),
    "relu": (_relu, _relu_grad),
    "leaky_relu": (_leaky_relu, _leaky_relu_grad),
    "gelu": (_gelu, _gelu_grad),
    "silu": (_silu, _silu_grad),
}


def get(name, *, negative_slope=0.01):
    """The Activation called `name` (one of NAMES); `negative_slope` is Leaky ReLU's a."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str) or name not in _FORMULAS:
        raise ValueError(f"unknown activation {name!r}; expected one of: {', '.join(NAMES)}")
    fn, grad = _FORMULAS[name]
    if name != "leaky_relu":
        return Activation(name, fn, grad)
    if not 0 <= negative_slope < 1:
        raise ValueError(f"negative_slope must be in [0, 1); got {negative_slope}")
    return Activation(name, fn, grad, negative_slope=float(negative_slope))


# ---------------------------------------------------------------------------- layers
class _FormulaFunction(torch.autograd.Function):
    """Forward with act.fn, backward with act.grad: backprop uses our derivative."""

    @staticmethod
    def forward(ctx, x, act):
        ctx.save_for_backward(x)
        ctx.act = act
        return act.fn(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * ctx.act.grad(x), None           # chain rule: dL/dx = dL/dy · f'(x)


class ActivationLayer(nn.Module):
    """An nn.Module that applies an Activation, with its formula derivative in backprop."""

    def __init__(self, activation):
        super().__init__()
        self.activation = get(activation)

    def forward(self, x):
        return _FormulaFunction.apply(x, self.activation)

    def extra_repr(self):
        return repr(self.activation)


_ACTIVATION_MODULES = (nn.Sigmoid, nn.Tanh, nn.ReLU, nn.LeakyReLU, nn.GELU, nn.SiLU,
                       ActivationLayer)


def build_mlp(activation, depth, width, *, in_features=784, num_classes=10, init="default",
              from_scratch=False, seed=None):
    """A deep MLP: Flatten, then `depth` x (Linear(width) + activation), then Linear(classes).

    init: "default" (PyTorch's), "xavier" (Glorot uniform, suits tanh) or "he" (Kaiming
    normal, suits ReLU); biases start at zero for the last two. from_scratch=True uses
    ActivationLayer (our formulas) instead of PyTorch's faster built-in layers.
    seed: if given, the weights depend only on it (same weights for every activation).
    """
    act = get(activation)
    for what, value in (("depth", depth), ("width", width), ("in_features", in_features),
                        ("num_classes", num_classes)):
        check_positive_int(what, value)
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; expected one of: {', '.join(INITS)}")
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        layers = [nn.Flatten()]
        sizes = [in_features] + [width] * depth
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(n_in, n_out),
                       ActivationLayer(act) if from_scratch else act.module()]
        layers.append(nn.Linear(sizes[-1], num_classes))
        model = nn.Sequential(*layers)
        if init != "default":
            slope = act.negative_slope or 0.0
            for layer in model:
                if isinstance(layer, nn.Linear):
                    if init == "xavier":
                        nn.init.xavier_uniform_(layer.weight)
                    else:
                        nn.init.kaiming_normal_(layer.weight, a=slope,
                                                nonlinearity="leaky_relu")
                    nn.init.zeros_(layer.bias)
    return model


# ---------------------------------------------------------------------------- measuring
def linear_layers(model):
    """The model's nn.Linear layers, from input to output."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def weight_grad_norms(model, X, y):
    """‖∂L/∂W‖ of each Linear layer's weight, input side first, for the cross-entropy L of
    `model` on one batch (X, y): a (layers,) tensor. The model stays in its mode and its
    `.grad` stays untouched."""
    device = next(model.parameters()).device
    loss = F.cross_entropy(model(X.to(device)), y.to(device))
    return grad_norms(loss, [layer.weight for layer in linear_layers(model)])


def _never_active(model, X, batch_size, layer_types, active, name):
    """Per layer of `layer_types`: the fraction of units for which `active(z)` (z: the
    layer's input) is False on every sample in X. Evaluation mode, no gradients."""
    layers = [m for m in model.modules() if isinstance(m, layer_types)]
    if not layers:
        raise ValueError(f"{name} expects a model with activation layers; found none")
    ever_on = [None] * len(layers)                           # per layer: (units,) bool

    def make_hook(i):
        def hook(module, inputs):
            on = active(inputs[0])                           # (batch, units, ...)
            if on.dim() > 2:
                on = on.flatten(2).any(2)                    # a conv channel counts as a unit
            on = on.any(0)                                   # (units,)
            ever_on[i] = on if ever_on[i] is None else ever_on[i] | on
        return hook

    handles = [m.register_forward_pre_hook(make_hook(i)) for i, m in enumerate(layers)]
    try:
        predict(model, X, batch_size)                        # the hooks record
    finally:
        for h in handles:
            h.remove()
    return [1.0 - on.float().mean().item() for on in ever_on]


def dead_fraction(model, X, batch_size=4096):
    """Per activation layer: the fraction of units whose input is ≤ 0 for every sample in X.

    Such a ReLU unit outputs 0 and passes back 0 gradient on all of X: it is "dead". Runs in
    evaluation mode without gradients; the model's mode is restored afterwards.
    """
    return _never_active(model, X, batch_size, _ACTIVATION_MODULES,
                         lambda z: z > 0, "dead_fraction")


def saturated_fraction(model, X, threshold=0.01, batch_size=4096):
    """Per sigmoid layer: the fraction of units with σ'(z) < threshold for every sample in X.

    Such a unit is pinned near 0 or 1 on all of X and passes back almost no gradient.
    """
    if not 0 < threshold <= 0.25:
        raise ValueError(f"saturated_fraction: threshold must lie in (0, 0.25], the range "
                         f"of σ'; got {threshold!r}")
    return _never_active(model, X, batch_size, (nn.Sigmoid,),
                         lambda z: _sigmoid_grad(z) >= threshold, "saturated_fraction")
