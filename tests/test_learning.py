"""Tests for companion.learning and companion.autograd against PyTorch."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from companion import autograd as AG
from companion import learning as L
from companion.show import learning as show


# ---------------------------------------------------------------------------- softmax / loss
def random_logits(dtype):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 10, generator=g, dtype=dtype) * 5
    logits[0] = torch.tensor([1e4, -1e4, 0, 0, 0, 0, 0, 0, 0, 0], dtype=dtype)
    logits[1] = 1e4                                  # all equal and huge
    logits[2] = -1e4                                 # all equal and hugely negative
    logits[3, :5], logits[3, 5:] = 1e4, -1e4
    targets = torch.randint(0, 10, (64,), generator=g)
    targets[0] = 1                                   # the -1e4 logit next to a +1e4 one
    return logits, targets


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_softmax_and_cross_entropy_match_pytorch_including_extreme_logits(dtype):
    logits, targets = random_logits(dtype)
    torch.testing.assert_close(L.softmax(logits), torch.softmax(logits, dim=-1),
                               rtol=0, atol=1e-6)
    torch.testing.assert_close(L.softmax(logits, dim=0), torch.softmax(logits, dim=0),
                               rtol=0, atol=1e-6)
    ours = L.cross_entropy(logits, targets)
    theirs = F.cross_entropy(logits, targets)
    assert torch.isfinite(ours)
    # the loss is large (one row has -log p = 2e4): compare relative to its size, and per row
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    rows_ours = -L.log_softmax(logits).gather(1, targets[:, None]).squeeze(1)
    rows_theirs = F.cross_entropy(logits, targets, reduction="none")
    torch.testing.assert_close(rows_ours, rows_theirs, rtol=1e-6, atol=1e-6)


def test_cross_entropy_gradient_matches_pytorch():
    logits, targets = random_logits(torch.float64)
    ours = logits.clone().requires_grad_(True)
    theirs = logits.clone().requires_grad_(True)
    L.cross_entropy(ours, targets).backward()
    F.cross_entropy(theirs, targets).backward()
    torch.testing.assert_close(ours.grad, theirs.grad, rtol=0, atol=1e-6)


def test_naive_softmax_overflows_where_ours_does_not():
    logits = torch.tensor([[1000.0, 0.0]])
    naive = logits.exp() / logits.exp().sum(dim=1, keepdim=True)
    assert torch.isnan(naive).any()
    assert torch.equal(L.softmax(logits), torch.tensor([[1.0, 0.0]]))


def test_cross_entropy_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"logits of shape \(batch, classes\)"):
        L.cross_entropy(torch.zeros(10), torch.zeros(10, dtype=torch.long))
    with pytest.raises(ValueError, match="integer targets"):
        L.cross_entropy(torch.zeros(4, 3), torch.zeros(4))


# ---------------------------------------------------------------------------- autograd
@pytest.mark.parametrize("seed, sizes, activation", [
    (0, (3, 4, 3), "tanh"),
    (1, (4, 6, 5, 2), "tanh"),
    (2, (2, 8, 8, 3), "relu"),
])
def test_scalar_autograd_matches_torch_autograd_on_an_mlp(seed, sizes, activation):
    torch.manual_seed(seed)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.Tanh() if activation == "tanh" else nn.ReLU()]
    model = nn.Sequential(*layers[:-1]).double()
    X = torch.randn(5, sizes[0], dtype=torch.float64)
    y = torch.randint(0, sizes[-1], (5,))
    F.cross_entropy(model(X), y).backward()

    linears = [m for m in model if isinstance(m, nn.Linear)]
    weights = [(AG.values(m.weight), AG.values(m.bias)) for m in linears]
    losses = []
    for x, target in zip(AG.values(X), y.tolist()):
        h = x
        for i, (W, b) in enumerate(weights):
            h = AG.linear(h, W, b)
            if i < len(weights) - 1:
                h = [getattr(v, activation)() for v in h]
        losses.append(AG.cross_entropy(h, target))
    loss = sum(losses) / len(losses)
    loss.backward()

    assert loss.data == pytest.approx(F.cross_entropy(model(X), y).item(), abs=1e-9)
    for m, (W, b) in zip(linears, weights):
        torch.testing.assert_close(torch.tensor([[v.grad for v in row] for row in W],
                                                dtype=torch.float64), m.weight.grad,
                                   rtol=0, atol=1e-6)
        torch.testing.assert_close(torch.tensor([v.grad for v in b], dtype=torch.float64),
                                   m.bias.grad, rtol=0, atol=1e-6)


def test_value_operations_and_a_reused_node():
    a, b = AG.Value(2.0), AG.Value(-3.0)
    c = a * b + a ** 2 - b / a + (a * 2).exp().log() + (1 - a) + 4 / b   # a appears many times
    c.backward()
    ta = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(-3.0, dtype=torch.float64, requires_grad=True)
    tc = ta * tb + ta ** 2 - tb / ta + (ta * 2).exp().log() + (1 - ta) + 4 / tb
    tc.backward()
    assert c.data == pytest.approx(tc.item())
    assert a.grad == pytest.approx(ta.grad.item())
    assert b.grad == pytest.approx(tb.grad.item())
    assert repr(AG.Value(1.5)) == "Value(data=1.5, grad=0)"
    x = AG.Value(3.0)
    (x + x + x * x).backward()                       # x on both sides of + and of *
    assert x.grad == 2 + 2 * 3.0
    c.backward()                                    # a second backward starts from zero
    assert a.grad == pytest.approx(ta.grad.item())


def test_value_rejects_bad_input():
    with pytest.raises(ValueError, match="positive number"):
        AG.Value(-1.0).log()
    with pytest.raises(ValueError, match="number exponent"):
        AG.Value(2.0) ** AG.Value(2.0)


# ---------------------------------------------------------------------------- optimizers
SETTINGS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.02, momentum=0.8, nesterov=True, weight_decay=0.05)),
    ("Adam", dict(lr=1e-2)),
    ("Adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("AdamW", dict(lr=1e-2)),
    ("AdamW", dict(lr=1e-2, betas=(0.85, 0.95), weight_decay=0.3)),
]


def run_optimizer(make, dtype, steps=50, scheduler=None):
    """Train a tiny MLP for `steps` full-batch steps; return its final parameters."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)).to(dtype)
    X = torch.randn(32, 5, dtype=dtype)
    y = torch.randint(0, 3, (32,))
    optimizer = make(model.parameters())
    sched = scheduler(optimizer) if scheduler else None
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(model(X), y).backward()
        optimizer.step()
        if sched:
            sched.step()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name, settings", SETTINGS, ids=[f"{n}-{s}" for n, s in SETTINGS])
def test_optimizer_matches_torch_optim_after_50_steps(name, settings, dtype):
    ours = run_optimizer(lambda p: getattr(L, name)(p, **settings), dtype)
    theirs = run_optimizer(lambda p: getattr(torch.optim, name)(p, **settings), dtype)
    start = run_optimizer(lambda p: getattr(torch.optim, name)(p, **settings), dtype, steps=0)
    assert (theirs - start).abs().max() > 1e-2               # the parameters did move
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name, settings", [("SGD", dict(lr=0.1, momentum=0.9)),
                                            ("Adam", dict(lr=1e-2))])
def test_one_cycle_schedule_drives_our_optimizers_like_torchs(name, settings):
    schedule = lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings["lr"],
                                                               total_steps=50)
    ours = run_optimizer(lambda p: getattr(L, name)(p, **settings), torch.float64,
                         scheduler=schedule)
    theirs = run_optimizer(lambda p: getattr(torch.optim, name)(p, **settings), torch.float64,
                           scheduler=schedule)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)


def test_make_optimizer_by_name():
    p = [nn.Parameter(torch.zeros(3))]
    assert isinstance(L.make_optimizer("adam", p, 1e-3), L.Adam)
    assert isinstance(L.make_optimizer("adamw", p, 1e-3), L.AdamW)
    nesterov = L.make_optimizer("nesterov", p, 0.1, momentum=0.8)
    assert nesterov.defaults["nesterov"] and nesterov.defaults["momentum"] == 0.8
    assert L.make_optimizer("sgd", p, 0.1).defaults["momentum"] == 0
    assert L.make_optimizer("adamw", p, 1e-3).defaults["weight_decay"] == 1e-2
    assert L.make_optimizer("adam", p, 1e-3, weight_decay=0.1).defaults["weight_decay"] == 0.1
    assert repr(L.make_optimizer("momentum", p, 0.1)).startswith("SGD(lr=0.1, momentum=0.9")
    with pytest.raises(ValueError, match=r"unknown optimizer 'adagrad'; choose one of sgd"):
        L.make_optimizer("adagrad", p, 0.1)
    with pytest.raises(ValueError, match="unknown settings"):
        L.make_optimizer("adam", p, 0.1, betas=(0.9, 0.9))
    with pytest.raises(ValueError, match="momentum applies to 'momentum' and 'nesterov' only"):
        L.make_optimizer("sgd", p, 0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"momentum must be in \(0, 1\)"):
        L.make_optimizer("nesterov", p, 0.1, momentum=0.0)


@pytest.mark.parametrize("name", list(L.OPTIMIZERS))
def test_each_name_means_the_same_from_scratch_and_in_torch_optim(name):
    """The one vocabulary: make_optimizer(name) with this module's classes and with
    torch.optim's (what fit uses) take the same steps."""
    def path(source):
        torch.manual_seed(0)
        model = nn.Linear(5, 3).double()
        optimizer = L.make_optimizer(name, model.parameters(), 0.05, source=source)
        X = torch.randn(32, 5, dtype=torch.float64)
        for _ in range(5):
            optimizer.zero_grad()
            model(X).pow(2).mean().backward()
            optimizer.step()
        return torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.testing.assert_close(path(None), path(torch.optim), rtol=0, atol=1e-12)
    ours = L.make_optimizer(name, [nn.Parameter(torch.zeros(2))], 0.1)
    theirs = L.make_optimizer(name, [nn.Parameter(torch.zeros(2))], 0.1, source=torch.optim)
    for key in ("momentum", "nesterov", "weight_decay"):
        assert ours.defaults.get(key, 0) == theirs.defaults.get(key, 0), key


@pytest.mark.parametrize("name", list(L.OPTIMIZERS))
def test_torch_optim_steps_all_tensors_at_once_with_the_same_weights(name):
    """fit's optimizers (source=torch.optim) use the foreach implementation, which is faster on
    a CPU; the weights after a one-cycle run equal those of the one-tensor-at-a-time loop
    exactly, float32, with and without weight decay."""
    def run(foreach, weight_decay):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
        optimizer = L.make_optimizer(name, model.parameters(), 0.05, source=torch.optim,
                                     weight_decay=weight_decay)
        assert optimizer.defaults["foreach"] is True
        for group in optimizer.param_groups:
            group["foreach"] = foreach
        schedule = torch.optim.lr_scheduler.OneCycleLR(      # as fit: plain SGD stays plain
            optimizer, max_lr=0.05, total_steps=20,
            cycle_momentum=optimizer.defaults.get("momentum", 1) > 0)
        X, y = torch.randn(64, 6), torch.randint(0, 3, (64,))
        for step in range(20):
            optimizer.zero_grad()
            F.cross_entropy(model(X[step % 4::4]), y[step % 4::4]).backward()
            optimizer.step()
            schedule.step()
        return model.state_dict()
    for weight_decay in (0.0, 1e-3):
        together, one_by_one = run(True, weight_decay), run(False, weight_decay)
        assert all(torch.equal(together[k], one_by_one[k]) for k in together)


@pytest.mark.parametrize("make", [lambda p, lr: L.SGD(p, lr), lambda p, lr: L.Adam(p, lr),
                                  lambda p, lr: L.AdamW(p, lr),
                                  lambda p, lr: L.make_optimizer("nesterov", p, lr)])
@pytest.mark.parametrize("lr", [0, -0.1, "0.1"])
def test_learning_rate_must_be_positive(make, lr):
    with pytest.raises(ValueError, match="learning rate lr must be a number > 0"):
        make([nn.Parameter(torch.zeros(3))], lr)


def test_optimizer_settings_are_checked():
    p = [nn.Parameter(torch.zeros(3))]
    with pytest.raises(ValueError, match="Nesterov momentum needs momentum > 0"):
        L.SGD(p, 0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        L.SGD(p, 0.1, momentum=1.5)
    with pytest.raises(ValueError, match="betas must be two numbers"):
        L.Adam(p, betas=(0.9, 1.0))


def test_descend_on_rosenbrock_follows_the_optimizer():
    path = L.descend(lambda params: L.Adam(params, lr=0.05), (-1.5, 2.0), steps=1500)
    assert path.shape == (1501, 2)
    assert L.rosenbrock(path[-1]) < 1e-3 < L.rosenbrock(path[0])
    assert L.rosenbrock(torch.tensor([1.0, 1.0])) == 0


@pytest.mark.parametrize("cls, settings", [(L.SGD, dict(momentum=0.9, nesterov=True)),
                                           (L.Adam, {})])
def test_descend_many_gives_each_learning_rate_its_own_path(cls, settings):
    lrs = [1e-3, 2e-3, 0.1]                          # SGD diverges at 0.1: inf, then nan
    paths = L.descend_many(cls, lrs, (-1.2, 1.0), 300, **settings)
    assert paths.shape == (3, 301, 2)
    for lr, path in zip(lrs, paths):
        alone = L.descend(lambda params: cls(params, lr=lr, **settings), (-1.2, 1.0), 300)
        torch.testing.assert_close(path, alone, rtol=0, atol=0, equal_nan=True)
    assert (cls is L.SGD) == bool(paths[2].isnan().any())   # a diverged path leaves no
    assert torch.isfinite(paths[:2]).all()                  # mark on the others


# ---------------------------------------------------------------------------- batch norm
@pytest.mark.parametrize("shape, torch_cls", [((16, 6), nn.BatchNorm1d),
                                               ((8, 6, 5, 4), nn.BatchNorm2d),
                                               ((1, 6, 3, 3), nn.BatchNorm2d)])
def test_batchnorm_matches_pytorch_in_both_modes(shape, torch_cls):
    torch.manual_seed(0)
    theirs = torch_cls(6, eps=1e-4, momentum=0.2)
    with torch.no_grad():                                  # not the trivial γ = 1, β = 0
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.uniform_(-0.5, 0.5)
    ours = L.BatchNorm(6, eps=1e-4, momentum=0.2)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    assert set(ours.state_dict()) == set(theirs.state_dict())

    for step in range(3):                                  # training mode: batch statistics
        x = torch.randn(*shape) * 3 + 2
        x_ours, x_theirs = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        upstream = torch.randn(*shape)                     # a random gradient from above
        out_ours, out_theirs = ours(x_ours), theirs(x_theirs)
        torch.testing.assert_close(out_ours, out_theirs, rtol=0, atol=1e-5)
        (out_ours * upstream).sum().backward()
        (out_theirs * upstream).sum().backward()
        torch.testing.assert_close(x_ours.grad, x_theirs.grad, rtol=0, atol=1e-5)
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad, rtol=0, atol=1e-5)
    torch.testing.assert_close(ours.bias.grad, theirs.bias.grad, rtol=0, atol=1e-5)
    for name, buffer in theirs.named_buffers():            # running stats and the counter
        torch.testing.assert_close(getattr(ours, name), buffer, rtol=0, atol=1e-5)
    assert int(ours.num_batches_tracked) == 3

    ours.eval(), theirs.eval()                             # eval mode: running statistics
    x = torch.randn(*shape)
    x_ours, x_theirs = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    torch.testing.assert_close(ours(x_ours), theirs(x_theirs), rtol=0, atol=1e-5)
    ours(x_ours).sum().backward()
    theirs(x_theirs).sum().backward()
    torch.testing.assert_close(x_ours.grad, x_theirs.grad, rtol=0, atol=1e-5)
    running = ours.running_mean.clone()
    ours(torch.randn(*shape))
    assert torch.equal(ours.running_mean, running)         # eval does not update them


def test_batchnorm_loads_into_pytorch_too_and_prints_itself():
    ours = L.BatchNorm(4)
    ours(torch.randn(10, 4))
    theirs = nn.BatchNorm1d(4)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    assert repr(ours) == "BatchNorm(4, eps=1e-05, momentum=0.1)"


def test_batchnorm_rejects_bad_input():
    bn = L.BatchNorm(3)
    with pytest.raises(ValueError, match="more than one value per channel"):
        bn(torch.randn(1, 3))                              # a batch of one sample
    bn.eval()
    assert bn(torch.randn(1, 3)).shape == (1, 3)           # fine in eval mode
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, 3\)"):
        bn(torch.randn(4, 5))
    with pytest.raises(ValueError, match=r"got \(2, 3, 4\)"):
        bn(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match="num_features must be a positive integer"):
        L.BatchNorm(0)


def test_snapshots_keep_the_outputs_of_the_chosen_epochs():
    from companion.training import fit, predict
    torch.manual_seed(0)
    X = torch.randn(64, 2)
    y = (X[:, 0] > 0).long()
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    probe = torch.randn(5, 2)
    snaps = L.Snapshots(model, probe, epochs=[1, 3])
    first = L.Snapshots(model, probe)
    fit(model, (X, y), epochs=3, batch_size=16, lr=1e-2, live=False,
        callbacks=[snaps, first])
    assert sorted(snaps.outputs) == [1, 3]
    assert sorted(first.outputs) == [1, 2, 3]
    assert torch.equal(snaps.outputs[3], predict(model, probe))   # the end
    assert not torch.equal(snaps.outputs[1], snaps.outputs[3])    # it moved
    assert torch.equal(snaps.outputs[1], first.outputs[1])
    with pytest.raises(ValueError, match="numbered from 1"):
        L.Snapshots(model, probe, epochs=[0, 2])
    with pytest.raises(ValueError, match="nn.Module"):
        L.Snapshots(probe, probe)


def test_plot_paths_draws_each_path_and_its_loss():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    paths = {"a": L.descend(lambda p: L.SGD(p, lr=1e-3), (-1.2, 1.0), 20),
             "b": L.descend(lambda p: L.Adam(p, lr=0.1), (-1.2, 1.0), 20)}
    fig, (ax_map, ax_loss) = plt.subplots(1, 2)
    show.plot_paths(paths, ax_map, ax_loss, start=(-1.2, 1.0))
    labels = [line.get_label() for line in ax_loss.get_lines()]
    assert labels == ["a", "b"]
    drawn = ax_loss.get_lines()[1].get_ydata()
    assert torch.allclose(torch.as_tensor(drawn), L.rosenbrock(paths["b"]))
    assert ax_map.get_xlim() == show.VALLEY[:2] and ax_loss.get_yscale() == "log"
    plt.close(fig)


def test_run_outcome_says_how_a_run_ended():
    finite = L.descend(lambda p: L.SGD(p, lr=1e-3), (-1.2, 1.0), 20)
    assert show.run_outcome(finite, 20) == (
        f"f = {L.rosenbrock(finite[-1]):.1e} after 20 steps")
    blown = L.descend_many(L.SGD, [0.3], (-1.2, 1.0), 40)[0]   # diverges
    first_bad = int(torch.isfinite(L.rosenbrock(blown)).sum())
    assert 0 < first_bad < 41
    assert show.run_outcome(blown, 40) == (
        f"diverged: f overflowed at step {first_bad}")


def test_run_explorer_renders_every_run_of_the_grid(monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    lrs, start = [1e-3, 0.3], (-1.2, 1.0)
    paths = {}
    for name, cls in (("gd", L.SGD), ("adam", L.Adam)):
        for lr, path in zip(lrs, L.descend_many(cls, lrs, start, 30)):
            paths[name, lr] = path
    spans, original_png = [], show.to_png

    def png_spy(fig, *args, **kwargs):       # each frame's loss-axis range
        spans.append(fig.axes[1].get_ylim())
        return original_png(fig, *args, **kwargs)

    monkeypatch.setattr(show, "to_png", png_spy)
    explorer = show.run_explorer(paths, start, value={"optimizer": "adam",
                                                      "lr": 1e-3})
    assert sorted(explorer.results) == sorted(paths)
    assert explorer.shown == ("adam", 1e-3)
    # every frame's loss axis holds at least two powers of 10 (a scale), even
    # for gradient descent at 1e-3, whose loss falls less than a decade
    assert len(spans) == len(paths)
    for low, high in spans:
        powers = [k for k in range(-300, 300) if low <= 10.0 ** k <= high]
        assert len(powers) >= 2, (low, high)
    with pytest.raises(ValueError, match="at least one"):
        show.run_explorer({}, start)
    del paths["adam", 0.3]
    with pytest.raises(ValueError, match=r"every learning rate; missing "
                                         r"\('adam', 0\.3\)"):
        show.run_explorer(paths, start)


def test_confidence_explorer_replays_the_kept_epochs_only(monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    from companion.training import History
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    X, labels = torch.randn(50, 4), torch.randint(0, 3, (50,))
    snapshots = L.Snapshots(model, X, epochs=[1, 3])
    history = History()
    for epoch in (1, 2, 3):
        history.add("train", 1.0 / epoch, 0.5)
        history.add("val", 1.5 / epoch, 0.4)
        snapshots.epoch_end(history)
    ylabels, original_png = [], show.to_png

    def png_spy(fig, *args, **kwargs):
        ylabels.append(fig.axes[0].get_ylabel())
        return original_png(fig, *args, **kwargs)

    monkeypatch.setattr(show, "to_png", png_spy)
    explorer = show.confidence_explorer(snapshots, labels, history, [1, 3],
                                        ylabel="test points")
    assert ylabels == ["test points", "test points"]
    assert list(explorer.results) == [(1,), (3,)] and explorer.shown == (3,)
    with pytest.raises(ValueError, match="no outputs kept after epoch 2"):
        show.confidence_explorer(snapshots, labels, history, [1, 2, 3])
    with pytest.raises(ValueError, match="at least one epoch"):
        show.confidence_explorer(snapshots, labels, history, [])
