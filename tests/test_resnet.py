"""Tests for companion.resnet: torchvision equality, the degradation experiment, clear errors."""
import pytest
import torch
import torch.nn.functional as F
import torchvision

from companion.resnet import (BasicBlock, Bottleneck, PreActBlock, ResNet, block_grad_norms,
                              depth_mlp, make_shortcut, resnet18, resnet34, resnet50,
                              small_resnet)

MODELS = {"resnet18": (resnet18, torchvision.models.resnet18),
          "resnet50": (resnet50, torchvision.models.resnet50)}


@pytest.fixture(scope="module")
def pairs():
    """name -> (ours, torchvision's), ours holding torchvision's weights (loaded strictly)."""
    return {name: pair(name) for name in MODELS}


def count(model):
    return sum(p.numel() for p in model.parameters())


def pair(name, num_classes=1000):
    """Our model and torchvision's, ours holding torchvision's weights (loaded strictly)."""
    ours, theirs = MODELS[name]
    torch.manual_seed(0)
    reference = theirs(num_classes=num_classes)
    model = ours(num_classes=num_classes)
    model.load_state_dict(reference.state_dict(), strict=True)
    return model, reference


@pytest.mark.parametrize("name, expected", [("resnet18", 11_689_512), ("resnet50", 25_557_032)])
def test_parameter_counts_and_names_equal_torchvision(pairs, name, expected):
    model, reference = pairs[name]
    assert count(model) == expected == count(reference)
    assert {k: v.shape for k, v in model.state_dict().items()} == \
        {k: v.shape for k, v in reference.state_dict().items()}


def assert_same_as_torchvision(model, reference, shape, num_classes):
    X = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    for mode in ("eval", "train"):
        model.train(mode == "train")
        reference.train(mode == "train")
        out, ref_out = model(X), reference(X)
        assert out.shape == (shape[0], num_classes)
        torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5, msg=f"{mode}-mode outputs differ")
    # train mode updated the BatchNorm running statistics the same way
    torch.testing.assert_close(model.state_dict(), reference.state_dict(), atol=1e-5, rtol=1e-5)
    target = torch.arange(shape[0]) % num_classes
    model.zero_grad()
    reference.zero_grad()
    F.cross_entropy(out, target).backward()
    F.cross_entropy(ref_out, target).backward()
    ref_params = dict(reference.named_parameters())
    for pname, p in model.named_parameters():
        torch.testing.assert_close(p.grad, ref_params[pname].grad, atol=1e-5, rtol=1e-5,
                                   msg=f"gradient of {pname} differs")


@pytest.mark.parametrize("name, shape", [
    ("resnet18", (2, 3, 64, 64)),
    ("resnet18", (3, 3, 40, 72)),
    ("resnet50", (2, 3, 64, 64)),
    ("resnet50", (2, 3, 48, 56)),
])
def test_outputs_and_gradients_equal_torchvision(pairs, name, shape):
    model, reference = pairs[name]
    assert_same_as_torchvision(model, reference, shape, 1000)


def test_other_num_classes_equal_torchvision():
    model, reference = pair("resnet18", num_classes=10)
    assert_same_as_torchvision(model, reference, (2, 3, 32, 32), 10)


def test_bottleneck_is_v15_stride_on_3x3():
    block = Bottleneck(256, 128, stride=2)
    assert block.conv1.stride == (1, 1) and block.conv2.stride == (2, 2) and block.conv3.stride == (1, 1)
    assert (block.conv1.out_channels, block.conv3.out_channels) == (128, 512)      # reduce, then restore x4
    assert block(torch.randn(2, 256, 8, 8)).shape == (2, 512, 4, 4)


def test_shortcut_options():
    # A adds no parameters, C the most; only B matches torchvision
    a, b, c = (count(resnet34(shortcut=s)) for s in "ABC")
    assert a < b < c and b == count(torchvision.models.resnet34())
    block = BasicBlock(16, 32, stride=2, shortcut="A")
    X = torch.randn(2, 16, 8, 8)
    assert block(X).shape == (2, 32, 4, 4)
    padded = block.downsample(X)
    torch.testing.assert_close(padded[:, :16], X[:, :, ::2, ::2])
    assert padded[:, 16:].abs().sum() == 0
    assert make_shortcut(16, 16, 1, "B") is None and make_shortcut(16, 16, 1, "C") is not None


def test_identity_is_easy_to_represent():
    X = torch.randn(4, 8, 6, 6)
    preact = PreActBlock(8, 8).eval()
    torch.nn.init.zeros_(preact.conv2.weight)               # F = 0
    torch.testing.assert_close(preact(X), X)                 # exactly the identity
    basic = BasicBlock(8, 8).eval()
    torch.nn.init.zeros_(basic.bn2.weight)                   # F = 0, but ReLU follows the addition
    torch.testing.assert_close(basic(X), X.relu())


def test_small_resnet_for_digits():
    model = small_resnet(num_classes=10)
    assert model(torch.rand(5, 1, 28, 28)).shape == (5, 10)
    assert count(model) < 100_000


def train_loss(model, X, y, steps=200, batch_size=128, lr=1e-3):
    """A bare seeded Adam loop; the mean training loss over the last 20 steps."""
    g = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        idx = torch.randint(len(X), (batch_size,), generator=g)
        loss = F.cross_entropy(model(X[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sum(losses[-20:]) / 20


@pytest.mark.slow
def test_depth_sweep_plain_degrades_residual_trains():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(2048, 32, generator=g)                   # labels from a random linear teacher
    y = (X @ torch.randn(32, 10, generator=g)).argmax(1)
    losses = {}
    for depth, residual in [(1, False), (12, False), (12, True)]:
        torch.manual_seed(0)
        model = depth_mlp(depth, residual, num_inputs=32, num_hiddens=32)
        losses[depth, residual] = train_loss(model, X, y)
    assert losses[12, False] > losses[1, False] + 0.5         # deeper plain trains worse...
    assert losses[12, False] > losses[12, True] + 0.5         # ...and the shortcuts fix it
    assert losses[12, True] < 2.0                            # ln(10) = 2.30 is chance


def test_block_grad_norms_measure_each_block_on_a_copy_in_training_mode():
    torch.manual_seed(0)
    X, y = torch.randn(32, 1, 28, 28), torch.randint(10, (32,))
    model = depth_mlp(3, residual=True).eval()
    stats = [b.clone() for b in model.buffers()]
    norms = block_grad_norms(model, X, y)
    assert norms.shape == (3,) and not model.training                  # its mode is kept
    assert all(torch.equal(a, b) for a, b in zip(stats, model.buffers()))  # running stats too
    assert all(p.grad is None for p in model.parameters())
    model.train()
    F.cross_entropy(model(X), y).backward()                             # the same, by hand
    expected = [torch.cat([p.grad.flatten() for p in block.parameters()]).norm()
                for block in model.blocks]
    torch.testing.assert_close(norms, torch.stack(expected))
    with pytest.raises(ValueError, match=r"\.blocks"):
        block_grad_norms(resnet18(), X, y)


def test_plain_gradients_grow_towards_the_input_residual_ones_stay_even():
    torch.manual_seed(0)
    X, y = torch.randn(64, 1, 28, 28), torch.randint(10, (64,))
    plain, residual = depth_mlp(20, residual=False), depth_mlp(20, residual=True)
    norms = block_grad_norms(plain, X, y)
    assert norms.shape == (20,) and (norms > 0).all()
    assert norms[0] > 100 * norms[-1]                                      # explodes towards the input
    spread = lambda n: (n.max() / n.min()).item()
    assert spread(norms) > 10 * spread(block_grad_norms(residual, X, y))  # far more even


def test_original_block_gates_the_shortcut_preactivation_does_not():
    """With F's gradient cut, what reaches x went through the shortcut alone."""
    torch.manual_seed(0)
    x = torch.randn(4, 8, 6, 6).relu().requires_grad_(True)               # >= 0, like a ReLU's output
    for block, last_of_f, expect_all_open in [(BasicBlock(8, 8), "bn2", False),
                                              (PreActBlock(8, 8), "conv2", True)]:
        hook = getattr(block, last_of_f).register_forward_hook(lambda m, i, out: out.detach())
        (grad,) = torch.autograd.grad(block(x).sum(), x)
        hook.remove()
        open_share = (grad != 0).float().mean().item()
        if expect_all_open:
            assert torch.equal(grad, torch.ones_like(grad))                 # dy/dx = I exactly
        else:
            assert 0 < open_share < 1                                       # the ReLU closes some


@pytest.mark.parametrize("make, match", [
    (lambda: ResNet("wide", [2, 2, 2, 2]), "unknown block kind 'wide'"),
    (lambda: ResNet(torch.nn.Linear, [2, 2]), "unknown block kind"),
    (lambda: ResNet("basic", [2, 0, 2, 2]), r"layers\[1\].*positive integer; got 0"),
    (lambda: ResNet("basic", [2, 2], widths=(64, 128, 256)), "same, non-zero length"),
    (lambda: resnet18(shortcut="D"), "unknown shortcut option 'D'"),
    (lambda: resnet18(num_classes=0), "num_classes must be a positive integer"),
    (lambda: depth_mlp(0), "depth must be a positive integer; got 0"),
    (lambda: depth_mlp(-3, residual=False), "depth must be a positive integer; got -3"),
    (lambda: depth_mlp(2.5), "depth must be a positive integer"),
    (lambda: depth_mlp(3, residual="yes"), "residual must be True or False"),
    (lambda: small_resnet(blocks_per_stage=0), "blocks_per_stage must be a positive integer"),
    (lambda: make_shortcut(32, 16, 1, "A"), "can only add channels"),
    (lambda: small_resnet()(torch.rand(28, 28)), r"\(batch, channels, height, width\); got \(28, 28\)"),
])
def test_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_gradient_snapshots_film_training_at_every_half_epoch():
    from companion.resnet import GradientSnapshots
    from companion.training import fit
    torch.manual_seed(0)
    X, y = torch.randn(100, 1, 28, 28), torch.randint(10, (100,))
    model = depth_mlp(3, residual=True)
    fresh = block_grad_norms(model, X[:32], y[:32])
    film = GradientSnapshots(model, X[:32], y[:32], per_epoch=2)
    history = fit(model, (X, y), epochs=2, batch_size=30, live=False, callbacks=[film])
    assert len(film.losses) == 2 * 4                           # 4 batches an epoch
    assert film.epochs == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert len(film.norms) == 5 and all(n.shape == (3,) for n in film.norms)
    torch.testing.assert_close(film.norms[0], fresh)           # taken before the first step
    torch.testing.assert_close(film.norms[-1], block_grad_norms(model, X[:32], y[:32]))
    assert not torch.equal(film.norms[0], film.norms[-1])      # training changed them
    # the mean of an epoch's batch losses, weighted by batch size, is its training loss
    sizes = torch.tensor([30, 30, 30, 10.0])
    for epoch in range(2):
        losses = torch.tensor(film.losses[4 * epoch:4 * epoch + 4])
        assert abs((losses * sizes).sum() / 100 - history.train_loss[epoch]) < 1e-5
    with pytest.raises(ValueError, match="per_epoch"):
        GradientSnapshots(model, X, y, per_epoch=0)


def test_the_chapters_figures_plot_what_they_are_given(monkeypatch):
    import math
    from types import SimpleNamespace

    import matplotlib.pyplot as plt

    import companion.show.resnet as show
    from companion.show.resnet import block_bars, film_explorer, plot_sweep
    from companion.training import History

    def history(losses):
        h = History()
        h.train_loss = list(losses)
        return h
    sweeps = {"plain": {1: history([1.0, 0.5]), 5: history([2.0, 1.5])},
              "residual": {1: history([1.0, 0.4]), 5: history([0.9, 0.3])}}
    fig = plot_sweep(sweeps, chance=math.log(10))
    assert len(fig.axes) == 2
    for ax, kind in zip(fig.axes, sweeps):
        assert ax.get_title() == f"{kind} networks"
        labels = [line.get_label() for line in ax.get_lines()]
        assert "1 block" in labels and "5 blocks" in labels
        plotted = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
        assert plotted["5 blocks"] == sweeps[kind][5].train_loss
        assert ax.get_legend() is None        # one legend, outside the panels
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["1 block", "5 blocks",
                                                                  "chance"]
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one sweep"):
        plot_sweep({})

    norms = {"plain": torch.arange(1.0, 26.0), "residual": torch.ones(25)}
    ax = block_bars(norms, ylim=(0.1, 100))
    assert list(ax.get_xticks()) == [1, 5, 10, 15, 20, 25]   # blocks counted from 1
    assert len(ax.patches) == 50 and ax.get_ylim() == (0.1, 100)
    assert ax.get_yscale() == "log"
    plt.close(ax.figure)

    def film(scale):
        return SimpleNamespace(epochs=[0.0, 0.5, 1.0], losses=[2.3, 2.0, 1.5, 1.0],
                               norms=[scale * torch.rand(5) + 0.1 for _ in range(3)])
    films = {"plain": film(100.0), "residual": film(1.0)}
    colors = {"plain": "red", "residual": "blue"}
    drawn, to_png = {}, show.to_png     # what each frame shows, seen as it is drawn

    def spy(fig, *args, **kwargs):
        left, right = fig.axes
        drawn[right.get_title()] = ([len(line.get_xdata()) for line in left.get_lines()[:2]],
                                    left.get_ylim(), right.get_ylim())
        return to_png(fig, *args, **kwargs)
    monkeypatch.setattr(show, "to_png", spy)
    explorer = film_explorer(films, colors, chance=math.log(10))
    # every batch loss up to the moment (4 batches in one epoch), on scales fixed for all moments
    assert {title: seen for title, (seen, _, _) in drawn.items()} == {
        "epoch 0": [0, 0], "epoch 0.5": [2, 2], "epoch 1": [4, 4]}
    assert len({(left, right) for _, left, right in drawn.values()}) == 1, drawn
    frames = [png for kind, png in explorer.outputs.values()]
    assert len(frames) == 3 and all(png.startswith(b"\x89PNG") for png in frames)
    assert len(set(frames)) == 3                               # every moment differs
    films["residual"].epochs = [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="share their batches"):
        film_explorer(films, colors)


def sweep_loss(train, depth, residual=False, epochs=3, seed=0):
    """The chapter's depth-sweep run (04, section 1): its last-epoch training loss."""
    from companion.training import fit
    torch.manual_seed(seed)
    model = depth_mlp(depth, residual=residual)
    history = fit(model, train, epochs=epochs, lr=1e-3, batch_size=128, seed=seed,
                  live=False)
    return history.train_loss[-1]


@pytest.mark.slow      # trains 8 networks (the mnist fixture marks it slow too)
@pytest.mark.parametrize("num_images", [5_120, 2_560])   # full mode, fast mode
def test_the_chapters_plain_sweep_degrades_for_other_seeds_too(mnist, num_images):
    """04 shows one seed of its plain depth sweep and says so; this checks that the ordering it
    shows (the deeper, the worse; 25 blocks at chance) holds for seeds 1 and 2 as well, on the
    chapter's training images in either mode (5,120 in full mode, 2,560 in fast mode)."""
    import math

    from companion.data import take
    train = take(mnist.train, num_images, seed=0)
    for seed in (1, 2):
        losses = [sweep_loss(train, depth, seed=seed) for depth in (1, 5, 10, 25)]
        assert losses == sorted(losses), (seed, losses)
        assert losses[1] < 0.6 * math.log(10), (seed, losses)  # 5 blocks still train
        assert abs(losses[-1] - math.log(10)) < 0.05, (seed, losses)
