"""companion.cnn against PyTorch: conv/pool equality, architectures' shapes, receptive fields, errors."""
import random

import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from companion import cnn
from companion.show.cnn import conv_explorer, draw_feature_maps, kernel_film


def random_conv_case(rng):
    """Random (x, weight, bias, stride, padding) that PyTorch accepts."""
    batch, c_in, c_out = rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 5)
    kh, kw = rng.randint(1, 5), rng.randint(1, 5)
    if rng.random() < 0.4:
        ph = pw = rng.randint(0, 2)
        padding = ph                                   # an int pads both axes
    else:
        ph, pw = rng.randint(0, 2), rng.randint(0, 2)
        padding = (ph, pw)
    h = rng.randint(max(1, kh - 2 * ph), 12)
    w = rng.randint(max(1, kw - 2 * pw), 12)
    stride = rng.choice([1, 2, 3, (1, 2), (2, 1), (3, 2)])
    x = torch.randn(batch, c_in, h, w)
    weight = torch.randn(c_out, c_in, kh, kw)
    bias = torch.randn(c_out) if rng.random() < 0.7 else None
    return x, weight, bias, stride, padding


@pytest.mark.parametrize("seed", range(60))
def test_conv2d_matches_pytorch(seed):
    rng = random.Random(seed)
    torch.manual_seed(seed)
    x, weight, bias, stride, padding = random_conv_case(rng)
    ours = cnn.conv2d(x, weight, bias, stride=stride, padding=padding)
    theirs = F.conv2d(x, weight, bias, stride=stride, padding=padding)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_conv2d_gradients_match_pytorch():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 9, 8, requires_grad=True)
    layer = nn.Conv2d(3, 4, kernel_size=3, stride=2, padding=1)
    (grad_x_ours,) = torch.autograd.grad(
        cnn.conv2d(x, layer.weight, layer.bias, 2, 1).square().sum(), x)
    (grad_x_theirs,) = torch.autograd.grad(layer(x).square().sum(), x)
    torch.testing.assert_close(grad_x_ours, grad_x_theirs, atol=1e-5, rtol=1e-5)


def test_conv2d_mnist_batch_and_layer_weights():
    torch.manual_seed(1)
    x = torch.rand(64, 1, 28, 28)
    layer = nn.Conv2d(1, 32, 3, padding=1)
    torch.testing.assert_close(cnn.conv2d(x, layer.weight, layer.bias, padding=1), layer(x),
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_matches_pytorch(seed, kind):
    rng = random.Random(seed)
    torch.manual_seed(seed)
    kernel = rng.choice([1, 2, 3, 4, (2, 3), (3, 2)])
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    stride = rng.choice([None, 1, 2, 3, (1, 2)])
    padding = rng.choice([0, (kh // 2, kw // 2), (0, kw // 2)])
    x = torch.randn(rng.randint(1, 3), rng.randint(1, 4), rng.randint(kh, 11), rng.randint(kw, 11))
    ours = getattr(cnn, f"{kind}_pool2d")(x, kernel, stride, padding)
    theirs = getattr(F, f"{kind}_pool2d")(x, kernel, stride, padding)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_output_size_formula_matches_real_outputs():
    x = torch.randn(1, 1, 28, 28)
    for k, s, p in [(3, 1, 0), (3, 1, 1), (5, 2, 2), (4, 3, 1), (7, 2, 0)]:
        out = F.conv2d(x, torch.randn(1, 1, k, k), stride=s, padding=p)
        assert out.shape[-1] == cnn.conv_output_size(28, k, s, p)


# ----------------------------------------------------------------------------- errors
def test_conv2d_wrong_rank():
    with pytest.raises(ValueError, match=r"conv2d expects x of shape \(batch, channels, height, "
                                         r"width\); got \(28, 28\)"):
        cnn.conv2d(torch.randn(28, 28), torch.randn(4, 1, 3, 3))
    with pytest.raises(ValueError, match=r"weight of shape .*got \(3, 3\)"):
        cnn.conv2d(torch.randn(1, 1, 28, 28), torch.randn(3, 3))


def test_conv2d_channel_mismatch():
    with pytest.raises(ValueError, match=r"weight of shape \(8, 3, 3, 3\) expects 3 input "
                                         r"channel\(s\), but x of shape \(2, 1, 28, 28\) has 1"):
        cnn.conv2d(torch.randn(2, 1, 28, 28), torch.randn(8, 3, 3, 3))


def test_conv2d_bias_shape():
    with pytest.raises(ValueError, match=r"bias of shape \(8,\); got \(3,\)"):
        cnn.conv2d(torch.randn(2, 3, 8, 8), torch.randn(8, 3, 3, 3), torch.randn(3))


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"kernel 5x5 is larger than the padded input 4x4 "
                                         r"\(input 2x2 with padding 1x1\)"):
        cnn.conv2d(torch.randn(1, 1, 2, 2), torch.randn(1, 1, 5, 5), padding=1)
    with pytest.raises(ValueError, match=r"max_pool2d: kernel 3x3 is larger"):
        cnn.max_pool2d(torch.randn(1, 1, 2, 2), 3)


def test_bad_stride_padding_and_pool_rank():
    with pytest.raises(ValueError, match=r"stride must be an int >= 1"):
        cnn.conv2d(torch.randn(1, 1, 5, 5), torch.randn(1, 1, 3, 3), stride=0)
    with pytest.raises(ValueError, match=r"padding must be an int >= 0 or a pair"):
        cnn.conv2d(torch.randn(1, 1, 5, 5), torch.randn(1, 1, 3, 3), padding=(1, 1, 1))
    with pytest.raises(ValueError, match=r"avg_pool2d expects x of shape .*got \(1, 5, 5\)"):
        cnn.avg_pool2d(torch.randn(1, 5, 5), 2)
    with pytest.raises(ValueError, match=r"padding \(2, 2\) must be at most half the kernel"):
        cnn.max_pool2d(torch.randn(1, 1, 8, 8), 2, padding=2)


# ----------------------------------------------------------------------------- receptive field
@pytest.mark.parametrize("layers, expected", [
    ([nn.Conv2d(1, 1, 3)], (3, 3)),
    ([nn.Conv2d(1, 1, 3), nn.ReLU(), nn.Conv2d(1, 1, 3)], (5, 5)),
    ([nn.Conv2d(1, 1, 3)] * 3, (7, 7)),
    ([nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3)], (8, 8)),
    ([nn.Conv2d(1, 1, 5), nn.AvgPool2d(2), nn.Conv2d(1, 1, 5), nn.AvgPool2d(2)], (16, 16)),
    ([nn.Conv2d(1, 1, 3, stride=2), nn.Conv2d(1, 1, 3, stride=2)], (7, 7)),
    ([nn.Conv2d(1, 1, (1, 3)), nn.Conv2d(1, 1, 3, dilation=2)], (5, 7)),
    ([nn.Conv2d(1, 1, 11, stride=4), nn.MaxPool2d(3, 2), nn.Conv2d(1, 1, 5, padding=2),
      nn.MaxPool2d(3, 2), nn.Conv2d(1, 1, 3)], (99, 99)),     # AlexNet up to conv3
])
def test_receptive_field_of_known_stacks(layers, expected):
    assert cnn.receptive_field(layers) == expected


def test_receptive_field_matches_gradient_measurement():
    torch.manual_seed(0)
    stack = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(2, 2, 5))
    x = torch.randn(16, 1, 40, 40, requires_grad=True)   # many images: max/ReLU pick others
    out = stack(x)
    out[:, 0, out.shape[2] // 2, out.shape[3] // 2].sum().backward()
    rows, cols = (x.grad.abs().sum(dim=(0, 1)) != 0).nonzero(as_tuple=True)
    measured = (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))
    assert cnn.receptive_field(stack) == measured == (12, 12)


def test_receptive_field_rejects_unknown_layers():
    with pytest.raises(ValueError, match=r"receptive_field knows Conv2d.*got Linear"):
        cnn.receptive_field([nn.Conv2d(1, 1, 3), nn.Linear(3, 3)])


# ----------------------------------------------------------------------------- architectures
@pytest.mark.parametrize("cls", [cnn.LeNet5, cnn.AlexNetSmall, cnn.VGGSmall, cnn.GoogLeNetSmall])
def test_architectures_map_mnist_to_ten_scores(cls):
    torch.manual_seed(0)
    model = cls()
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    text = repr(model)
    count = sum(p.numel() for p in model.parameters())
    assert text.startswith(cls.__name__) and f"{count:,} parameters" in text


def test_lenet_has_the_classic_parameter_count():
    assert sum(p.numel() for p in cnn.LeNet5().parameters()) == 61_706


def test_inception_concatenates_branches():
    block = cnn.Inception(16, 8, (8, 16), (4, 8), 8)
    assert block(torch.randn(2, 16, 14, 14)).shape == (2, 40, 14, 14)
    assert "16 -> 40 channels" in repr(block)


def test_make_cnn_shapes_and_vanishing_feature_map():
    model = cnn.make_cnn(num_blocks=3, channels=4, kernel_size=5, pool="average")
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    model = cnn.make_cnn(num_blocks=2, padding="valid", pool="none", activation="tanh")
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"vanishes in block 3: .* 28x28 input to 2x2, smaller "
                                         r"than the 7x7 kernel"):
        cnn.make_cnn(num_blocks=3, kernel_size=7, padding="valid")
    with pytest.raises(ValueError, match=r"vanishes in block 5: a 2x2 pool cannot shrink a 1x1 "
                                         r"map. Too many pooling layers"):
        cnn.make_cnn(num_blocks=5)
    with pytest.raises(ValueError, match=r"pool must be one of"):
        cnn.make_cnn(pool="min")


def test_ramp_share_scores_edge_detectors_high_and_noise_low():
    rows, cols = torch.meshgrid(torch.arange(5.0), torch.arange(5.0), indexing="ij")
    ramp = 0.3 * cols - 0.7 * rows + 2.0                       # a perfect ramp, any direction
    sobel = torch.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]])
    blob = torch.zeros(5, 5)
    blob[2, 2] = 1.0                                           # a centre spot: no direction at all
    assert cnn.ramp_share(ramp[None]).item() == pytest.approx(1.0)
    assert cnn.ramp_share(sobel[None]).item() > 0.85                  # 8/9: its rows are weighted 1, 2, 1
    assert cnn.ramp_share(blob[None]).item() == pytest.approx(0.0, abs=1e-6)
    assert cnn.ramp_share(torch.ones(1, 3, 3)).item() == 0.0   # a constant kernel has no variation
    noise = torch.randn(2000, 5, 5, generator=torch.Generator().manual_seed(0))
    assert cnn.ramp_share(noise).mean().item() == pytest.approx(2 / 24, rel=0.1)
    with pytest.raises(ValueError, match=r"\(num_kernels, kernel_h, kernel_w\).*got \(16, 1, 5, 5\)"):
        cnn.ramp_share(torch.randn(16, 1, 5, 5))


def test_kernel_snapshots_record_the_kernels_during_fit():
    from companion.training import fit
    torch.manual_seed(0)
    model = cnn.LeNet5()
    X, y = torch.rand(96, 1, 28, 28), torch.randint(0, 10, (96,))
    start = model.features[0].weight.detach().clone()
    snapshots = cnn.KernelSnapshots(model.features[0], steps=[1, 3, 6])
    fit(model, (X, y), epochs=2, batch_size=32, lr=1e-2, callbacks=[snapshots], live=False)
    assert snapshots.steps == [0, 1, 3, 6]                  # 3 batches an epoch, 2 epochs
    assert torch.equal(snapshots.kernels[0], start)
    assert torch.equal(snapshots.kernels[-1], model.features[0].weight.detach())
    assert not torch.equal(snapshots.kernels[1], snapshots.kernels[0])   # copies, not views
    assert "4 snapshots" in repr(snapshots)
    with pytest.raises(ValueError, match="nn.Conv2d"):
        cnn.KernelSnapshots(model.features[1], steps=[1])


def _png_size(png):
    import io

    from PIL import Image
    return Image.open(io.BytesIO(png)).size


def test_conv_explorer_draws_every_setting_at_the_column_width():
    torch.manual_seed(0)
    image = torch.rand(1, 12, 12)
    kernels = {"edge": torch.tensor([[-1., 0., 1.]] * 3), "blur": torch.full((3, 3), 1 / 9)}
    explorer = conv_explorer(image, kernels, paddings=(0, 1), strides=(1, 2),
                             value={"kernel": "blur", "padding": 1, "stride": 2})
    assert len(explorer.outputs) == 2 * 2 * 2
    assert explorer.first == ("blur", 1, 2)
    pngs = [png for kind, png in explorer.outputs.values()]
    assert all(png.startswith(b"\x89PNG") for png in pngs)
    assert len(set(pngs)) == len(pngs)                   # every setting draws its own frame
    assert {_png_size(png) for png in pngs} == {(720, 340)}   # COLUMN inches at 100 dpi
    with pytest.raises(ValueError, match=r"\(1, height, width\)"):
        conv_explorer(torch.rand(12, 12), kernels)
    with pytest.raises(ValueError, match="share one shape"):
        conv_explorer(image, {**kernels, "big": torch.ones(5, 5)})


def test_kernel_film_shows_every_snapshot_and_starts_at_the_last():
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 4, 3)
    snapshots = cnn.KernelSnapshots(conv, steps=[2, 5])
    for step in (2, 5):
        with torch.no_grad():
            conv.weight.add_(torch.randn_like(conv.weight))
        snapshots.batch_end(type("Record", (), {"epoch": 0, "num_batches": 10,
                                                "batch": step})())
    film = kernel_film(snapshots, "test kernels")
    assert film.choices == {"step": [0, 2, 5]} and film.play == "step"
    assert film.first == (5,)
    pngs = [png for kind, png in film.outputs.values()]
    assert len(set(pngs)) == 3 and all(png.startswith(b"\x89PNG") for png in pngs)


def test_feature_maps_follow_lenet_stage_by_stage():
    torch.manual_seed(0)
    model, x = cnn.LeNet5(), torch.rand(1, 1, 28, 28)
    maps, prediction = cnn.feature_maps(model, x)
    assert [label for label, _ in maps] == ["conv 1 + tanh", "average pool",
                                             "conv 2 + tanh", "average pool"]
    assert [tuple(m.shape) for _, m in maps] == [(6, 28, 28), (6, 14, 14),
                                                 (16, 10, 10), (16, 5, 5)]
    torch.testing.assert_close(maps[1][1], model.features[:3](x)[0])
    assert prediction == model(x).argmax().item()
    assert model.training                                # evaluating() restored train mode
    fig = draw_feature_maps(model, x, num_shown=4)
    assert len(fig.axes) == 5 * 4
    assert fig.axes[4].get_ylabel() == "conv 1 + tanh\n28×28"
    assert fig.axes[4].images[0].get_clim() == (-1, 1)          # tanh's range
    plt.close(fig)
    relu_net = cnn.AlexNetSmall()
    with torch.no_grad():
        relu_net.features[0].weight.mul_(100)            # ReLU maps far above 1
    relu_maps, _ = cnn.feature_maps(relu_net, x)
    fig = draw_feature_maps(relu_net, x, num_shown=4)
    largest = relu_maps[0][1].abs().max().item()
    assert largest > 1
    assert fig.axes[4].images[0].get_clim() == pytest.approx((-largest, largest))
    plt.close(fig)
    with pytest.raises(ValueError, match="one image"):
        cnn.feature_maps(model, torch.rand(2, 1, 28, 28))
