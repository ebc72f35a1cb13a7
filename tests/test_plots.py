"""companion.plots: what the chapters show, drawn from the numbers it is given."""
import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402

from companion.book import COLUMN  # noqa: E402
from companion.plots import (compare, per_layer, plot_decision_boundary, show_images,  # noqa: E402
                             table, to_png)
from companion.training import History  # noqa: E402


def history(train_loss, val_loss=(), test_acc=()):
    h = History()
    h.train_loss, h.val_loss, h.test_acc = list(train_loss), list(val_loss), list(test_acc)
    h.seconds = [1.0] * len(h.train_loss)
    return h


def test_compare_draws_one_line_per_run_and_metric():
    runs = {"plain": history([2.0, 1.0, 0.5], [2.1, 1.2, 0.9]),
            "dropout": history([2.0, 1.5, 1.0], [2.0, 1.1, 0.8])}
    ax = compare(runs, ("train_loss", "val_loss"), log=True, chance=math.log(10))
    lines = {line.get_label(): line for line in ax.lines}
    assert list(lines["dropout: validation"].get_ydata()) == [2.0, 1.1, 0.8]
    assert lines["plain: training"].get_linestyle() == "--"
    assert lines["plain: training"].get_color() == lines["plain: validation"].get_color()
    assert lines["plain: training"].get_color() != lines["dropout: training"].get_color()
    assert ax.get_ylabel() == "loss" and ax.get_yscale() == "log"
    assert list(lines["chance"].get_ydata()) == [math.log(10)] * 2
    assert ax.figure.get_figwidth() == COLUMN
    plt.close(ax.figure)


def test_compare_puts_a_test_set_measured_once_at_the_last_epoch():
    fig, ax = plt.subplots()
    compare({"a": history([1.0, 0.8, 0.6], test_acc=[0.9])}, "test_acc", ax=ax)
    (line,) = ax.lines
    assert list(line.get_xdata()) == [3] and ax.get_ylabel() == "test accuracy"
    with pytest.raises(ValueError, match="unknown metric 'accuracy'"):
        compare({"a": history([1.0])}, "accuracy", ax=ax)
    plt.close(fig)


def test_per_layer_draws_lines_or_grouped_bars():
    series = {"plain": torch.tensor([4.0, 2.0, 1.0]), "residual": [1.0, 1.0, 1.0]}
    ax = per_layer(series, bars=True, colors={"plain": "red"})
    assert len(ax.patches) == 6 and ax.get_yscale() == "log"
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == [1.0] * 4 + [2.0, 4.0]
    assert matplotlib.colors.to_hex(ax.patches[0].get_facecolor()) == "#ff0000"
    plt.close(ax.figure)
    ax = per_layer({"one": [3.0, 2.0]}, log=False, xlabel="time step t")
    assert list(ax.lines[0].get_xdata()) == [1, 2] and ax.get_legend() is None
    assert ax.get_xlabel() == "time step t"
    plt.close(ax.figure)


def test_show_images_makes_a_grid_with_titles_and_kernel_colours():
    images = torch.rand(7, 1, 5, 5) - 0.5
    fig = show_images(images, [f"p = {i}" for i in range(7)], ncols=3, nrows=3, width=COLUMN,
                      cmap="RdBu_r", symmetric=True, title="kernels")
    assert len(fig.axes) == 9 and fig.get_figwidth() == pytest.approx(COLUMN)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 7 and shown[6].get_title() == "p = 6"
    low, high = shown[0].images[0].get_clim()
    assert low == -high == -images[0].abs().max().item()
    assert fig._suptitle.get_text() == "kernels"
    plt.close(fig)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        show_images(torch.rand(5, 5))


def test_table_formats_aligns_and_bolds_what_changed():
    rows = [{"model": "LeNet", "parameters": 61706, "accuracy": 0.9812},
            {"model": "VGG", "parameters": 61706, "accuracy": 0.99}]
    text = table(rows, formats={"accuracy": "{:.1%}"}, bold_changes=True).data
    assert text.splitlines() == ["| model | parameters | accuracy |", "|---|---:|---:|",
                                 "| LeNet | 61,706 | 98.1% |", "| VGG | 61,706 | **99.0%** |"]
    settings = [{"setting": "step 5", "optimizer": "Adam", "epochs": 1},
                {"setting": "99 %", "optimizer": "SGD", "epochs": 1}]
    text = table(settings, bold_changes=True, transpose=True).data
    assert text.splitlines()[0] == "| setting | step 5 | 99 % |"
    assert "| optimizer | Adam | **SGD** |" in text and "| epochs | 1 | 1 |" in text
    assert "a \\| b" in table([{"x": "a | b"}]).data           # a bar inside a cell is escaped
    with pytest.raises(ValueError, match="list of dicts"):
        table([])


def test_to_png_gives_png_bytes_at_the_asked_size_and_palette():
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    png = to_png(fig, dpi=50)
    image = Image.open(io.BytesIO(png))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and image.size == (100, 50)
    small = Image.open(io.BytesIO(to_png(fig, dpi=50, colors=16)))
    assert small.mode == "P" and len(small.getpalette()) // 3 <= 16
    cropped = Image.open(io.BytesIO(to_png(fig, dpi=50, crop=True, close=True)))
    assert cropped.size != (100, 50) and not plt.fignum_exists(fig.number)


def test_decision_boundary_colours_by_the_predicted_class():
    X = torch.tensor([[-1.0, 0.0], [1.0, 0.0]])
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))   # class 1 where x > 0
        model.bias.zero_()
    fig, ax = plt.subplots()
    plot_decision_boundary(model.train(), X, torch.tensor([0, 1]), ax=ax, resolution=20)
    assert model.training and len(ax.collections) >= 2
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plot_decision_boundary(model, torch.rand(3, 3), torch.zeros(3))
    plt.close(fig)
