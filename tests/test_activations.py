"""Tests for companion.activations: formulas against PyTorch, derivatives against autograd."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from companion import activations as A
from companion.show import activations as show

TORCH_FN = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,                      # default slope 0.01, as in A.get
    "gelu": F.gelu,                                  # exact (erf) GELU
    "silu": F.silu,
}
EXTREME = [-1e30, -1e4, -100.0, -50.0, -20.0, -1e-7, 0.0, 1e-7, 20.0, 50.0, 100.0, 1e4, 1e30]


def inputs(dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4000, generator=g, dtype=torch.float64) * 4
    return torch.cat([x, torch.tensor(EXTREME, dtype=torch.float64)]).to(dtype)


def autograd_grad(name, x):
    x = x.clone().requires_grad_(True)
    TORCH_FN[name](x).sum().backward()
    return x.grad


@pytest.mark.parametrize("name", A.NAMES)
def test_fn_and_grad_match_pytorch_float64(name):
    act = A.get(name)
    x = inputs(torch.float64)
    torch.testing.assert_close(act.fn(x), TORCH_FN[name](x), rtol=0, atol=1e-6)
    torch.testing.assert_close(act.grad(x), autograd_grad(name, x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", A.NAMES)
def test_fn_and_grad_match_pytorch_float32(name):
    act = A.get(name)
    x = inputs(torch.float32)
    torch.testing.assert_close(act.fn(x), TORCH_FN[name](x), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(act.grad(x), autograd_grad(name, x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", A.NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_no_nan_or_inf_for_huge_inputs(name, dtype):
    big = torch.finfo(dtype).max / 2
    x = torch.tensor([-big, -1e6, -100.0, 100.0, 1e6, big], dtype=dtype)
    act = A.get(name)
    assert torch.isfinite(act.fn(x)).all()
    assert torch.isfinite(act.grad(x)).all()


def test_known_values_from_the_chapter():
    x = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    sigmoid, tanh = A.get("sigmoid"), A.get("tanh")
    assert sigmoid.grad(x).max().item() == pytest.approx(0.25)          # not close to 1
    assert x[sigmoid.grad(x).argmax()].item() == pytest.approx(0.0)
    assert tanh.grad(x).max().item() == pytest.approx(1.0)
    torch.testing.assert_close(tanh.fn(x), 2 * sigmoid.fn(2 * x) - 1)   # rescaled sigmoid
    assert (A.get("relu").grad(x[x < 0]) == 0).all()


def test_leaky_slope_and_plain_inputs():
    act = A.get("leaky_relu", negative_slope=0.2)
    x = torch.tensor([-2.0, 3.0])
    torch.testing.assert_close(act.fn(x), F.leaky_relu(x, 0.2))
    torch.testing.assert_close(act.grad(x), torch.tensor([0.2, 1.0]))
    assert A.get("relu")([-1, 2]).tolist() == [0.0, 2.0]                # lists are accepted
    assert "negative_slope=0.2" in repr(act)
    assert str(act) == "leaky_relu (a=0.2)" and str(A.get("gelu")) == "gelu"
    assert act.name == "leaky_relu" and act.output_range and act.formula


def test_bad_names_and_parameters_raise():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*sigmoid, tanh, relu"):
        A.get("swish")
    with pytest.raises(ValueError, match="negative_slope must be in"):
        A.get("leaky_relu", negative_slope=2.0)
    with pytest.raises(ValueError, match="unknown init 'glorot'"):
        A.build_mlp("relu", 2, 8, init="glorot")
    with pytest.raises(ValueError, match="depth must be a positive int"):
        A.build_mlp("relu", 0, 8)
    with pytest.raises(ValueError, match="unknown activation"):
        A.build_mlp("softmax", 2, 8)


@pytest.mark.parametrize("name", A.NAMES)
def test_module_is_pytorchs_equivalent(name):
    act = A.get(name)
    x = inputs(torch.float32)
    torch.testing.assert_close(act.module()(x), act.fn(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", A.NAMES)
def test_activation_layer_backprops_the_formula_derivative(name):
    layer = A.ActivationLayer(name)
    x = torch.randn(64, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))
    assert name in repr(layer)


def test_build_mlp_layout_seed_and_from_scratch():
    model = A.build_mlp("tanh", depth=3, width=16, in_features=6, num_classes=4, seed=1)
    assert [type(m) for m in model] == [nn.Flatten] + [nn.Linear, nn.Tanh] * 3 + [nn.Linear]
    assert model(torch.randn(5, 6)).shape == (5, 4)
    same = A.build_mlp("relu", depth=3, width=16, in_features=6, num_classes=4, seed=1)
    for a, b in zip(A.linear_layers(model), A.linear_layers(same)):
        assert torch.equal(a.weight, b.weight)                           # weights depend on seed
    ours = A.build_mlp("gelu", 3, 16, in_features=6, num_classes=4, seed=2, from_scratch=True)
    theirs = A.build_mlp("gelu", 3, 16, in_features=6, num_classes=4, seed=2)
    x = torch.randn(7, 6)
    torch.testing.assert_close(ours(x), theirs(x))


@pytest.mark.parametrize("init, std", [("xavier", lambda n_in, n_out: math.sqrt(2 / (n_in + n_out))),
                                       ("he", lambda n_in, n_out: math.sqrt(2 / n_in))])
def test_init_schemes_set_the_expected_weight_scale(init, std):
    model = A.build_mlp("relu", depth=2, width=256, in_features=512, init=init, seed=0)
    layer = A.linear_layers(model)[1]                                    # 256 -> 256
    assert layer.weight.std().item() == pytest.approx(std(256, 256), rel=0.05)
    assert (layer.bias == 0).all()


def test_weight_grad_norms_equal_backward_and_leave_the_model_alone():
    torch.manual_seed(0)
    X, y = torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))
    model = A.build_mlp("tanh", 3, 32, seed=0).eval()
    norms = A.weight_grad_norms(model, X, y)
    assert norms.shape == (4,) and not model.training
    assert all(p.grad is None for p in model.parameters())
    F.cross_entropy(model(X), y).backward()
    expected = [layer.weight.grad.norm() for layer in A.linear_layers(model)]
    torch.testing.assert_close(norms, torch.stack(expected))


def weight_grad_norms(model, X, y):
    return A.weight_grad_norms(model, X, y)         # the chapter's probe, not a copy


def test_vanishing_gradients_sigmoid_vs_relu_at_depth_20():
    torch.manual_seed(0)
    X, y = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    norms = {name: weight_grad_norms(A.build_mlp(name, 20, 64, seed=0), X, y)
             for name in ("sigmoid", "relu")}
    assert norms["relu"].shape == (21,)                                  # 20 hidden + output
    assert norms["sigmoid"][0] < 1e-4 * norms["relu"][0]                 # orders of magnitude
    assert norms["sigmoid"][0] < 1e-6 * norms["sigmoid"][-1]             # and it shrinks


@pytest.mark.parametrize("name, init", [("tanh", "xavier"), ("relu", "he")])
def test_fitted_init_keeps_the_gradient_size_through_depth(name, init):
    torch.manual_seed(0)
    X, y = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    norms = weight_grad_norms(A.build_mlp(name, 20, 128, init=init, seed=0), X, y)
    assert 0.1 < (norms[0] / norms[-1]).item() < 10
    default = weight_grad_norms(A.build_mlp(name, 20, 128, seed=0), X, y)
    assert (default[0] / default[-1]).item() < 0.1                       # PyTorch's default shrinks it


def test_dead_fraction_counts_units_that_never_fire():
    model = A.build_mlp("relu", 2, 10, in_features=4, num_classes=2, seed=0)
    first = A.linear_layers(model)[0]
    with torch.no_grad():
        first.weight[:3] = 0.0
        first.bias[:3] = -1.0                                            # 3 of 10 units: always < 0
        first.bias[3:] = 100.0                                           # the rest: always > 0
    model.train()
    dead = A.dead_fraction(model, torch.randn(50, 4), batch_size=16)
    assert len(dead) == 2
    assert dead[0] == pytest.approx(0.3)
    assert model.training                                                # its mode is restored
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="activation layers"):
        A.dead_fraction(nn.Linear(3, 3), torch.randn(2, 3))


def test_saturated_fraction_counts_sigmoid_units_pinned_on_every_sample():
    model = A.build_mlp("sigmoid", 2, 10, in_features=4, num_classes=2, seed=0)
    first = A.linear_layers(model)[0]
    with torch.no_grad():
        first.weight[:4] = 0.0
        first.bias[:2] = 30.0                                            # σ = 1: pinned high
        first.bias[2:4] = -30.0                                          # σ = 0: pinned low
        first.weight[4:] *= 0.01
        first.bias[4:] = 0.0                                             # the rest: near σ'(0)
    saturated = A.saturated_fraction(model, torch.randn(50, 4), batch_size=16)
    assert len(saturated) == 2
    assert saturated[0] == pytest.approx(0.4)
    assert A.saturated_fraction(model, torch.randn(50, 4), threshold=1e-6)[0] == \
        pytest.approx(0.4)                                               # σ'(±30) < 1e-12
    with pytest.raises(ValueError, match="activation layers"):
        A.saturated_fraction(A.build_mlp("relu", 2, 4, in_features=4), torch.randn(2, 4))
    with pytest.raises(ValueError, match=r"threshold must lie in \(0, 0\.25\]"):
        A.saturated_fraction(model, torch.randn(2, 4), threshold=0.3)


def test_vanishing_explorer_has_one_picture_per_setting_from_the_same_norms(
        monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    torch.manual_seed(0)
    X, y = torch.rand(32, 784), torch.randint(0, 10, (32,))
    drawn, original = [], show.per_layer

    def spy(values, *args, **kwargs):        # what each picture draws
        drawn.append(values)
        return original(values, *args, **kwargs)

    monkeypatch.setattr(show, "per_layer", spy)
    explorer, norms = show.vanishing_explorer(X, y, width=16, depths=(2, 6),
                                              activations=("sigmoid", "relu"))
    assert len(explorer.results) == len(norms) == 2 * len(A.INITS) * 2
    # each picture is drawn from its own setting's norms
    assert len(drawn) == len(explorer.results)
    for key, values in zip(explorer.results, drawn):
        assert list(values) == [key[0]]
        assert torch.equal(values[key[0]], norms[key])
    expected = A.weight_grad_norms(
        A.build_mlp("sigmoid", 6, 16, init="xavier", seed=0), X, y)
    assert torch.equal(norms["sigmoid", "xavier", 6], expected)
    assert norms["relu", "he", 6].shape == (7,)       # depth + 1 layers


def test_gradient_bars_compare_the_initial_and_the_trained_network():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    X, y = torch.rand(16, 784), torch.randint(0, 10, (16,))

    def build(activation, depth):
        return A.build_mlp(activation, depth, 8, init="he", seed=0)

    trained = build("relu", 3)
    with torch.no_grad():
        for p in trained.parameters():
            p.mul_(2.0)                                # "trained": changed
    fig = show.gradient_bars(build, X, y)(
        trained, None, {"activation": "relu", "depth": 3, "lr": 1e-3})
    ax = fig.axes[0]
    heights = [bar.get_height() for bar in ax.patches]
    assert len(heights) == 2 * 4                      # 2 series x 4 layers
    initial = A.weight_grad_norms(build("relu", 3), X, y).tolist()
    assert heights[:4] == pytest.approx(initial)
    assert heights[4:] != pytest.approx(initial)
    assert "lr" not in ax.get_title() and "relu" in ax.get_title()
    plt.close(fig)


def test_boundary_explorer_loads_each_epochs_weights(monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    from companion.training import History
    torch.manual_seed(0)
    X, y = torch.randn(40, 2), torch.randint(0, 2, (40,))
    model = nn.Linear(2, 2)
    states, history = [], History()
    for epoch in range(3):
        with torch.no_grad():
            model.weight.add_(1.0)
        states.append({k: v.clone() for k, v in model.state_dict().items()})
        history.add("test", 0.5, 0.5 + 0.1 * epoch)
    drawn, layouts = [], []                  # per frame: weights, axes' places
    original_plot, original_png = show.plot_decision_boundary, show.to_png

    def plot_spy(model, *args, **kwargs):
        drawn.append(model.weight.clone())
        return original_plot(model, *args, **kwargs)

    def png_spy(fig, *args, **kwargs):
        layouts.append([ax.get_position().bounds for ax in fig.axes])
        return original_png(fig, *args, **kwargs)

    monkeypatch.setattr(show, "plot_decision_boundary", plot_spy)
    monkeypatch.setattr(show, "to_png", png_spy)
    other = nn.Linear(2, 2)                  # a second panel, as in the chapter
    runs = {"a": (model, states, history),
            "b": (other, [other.state_dict()] * 3, history)}
    explorer = show.boundary_explorer(runs, X, y, [1, 2, 3])
    assert list(explorer.results) == [(1,), (2,), (3,)]
    assert explorer.shown == (3,)
    assert torch.equal(model.weight, states[2]["weight"])   # the last drawn
    # each frame drew its own epoch's weights (after a first draw for layout)
    assert [torch.equal(w, state["weight"])
            for w, state in zip(drawn[-6::2], states)] == [True] * 3
    # the panels stay put: every frame has the same layout
    assert len(layouts) == 3 and layouts[0] == layouts[1] == layouts[2]
    with pytest.raises(ValueError, match=r"epochs must lie in 1\.\.3"):
        show.boundary_explorer({"a": (model, states, history)}, X, y, [0, 4])
