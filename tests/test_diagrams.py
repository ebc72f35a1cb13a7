"""companion.diagrams: each drawing shows what the chapter's text says it shows, at the book's
column width at most, and leaves the model it draws alone."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from companion import cnn, diagrams  # noqa: E402
from companion.book import COLUMN  # noqa: E402
from companion.resnet import resnet18, resnet50  # noqa: E402
from companion.seq2seq import DIGITS, Seq2Seq, reversal_task  # noqa: E402


def texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_draw_cnn_labels_every_tensor_shape():
    fig = diagrams.draw_cnn(cnn.LeNet5())
    for shape in ["1×28×28", "6×28×28", "6×14×14", "16×10×10", "16×5×5", "400", "120", "84", "10"]:
        assert shape in texts(fig)
    assert "conv 5×5" in texts(fig) and "avg pool 2×2\nstride 2" in texts(fig)
    plt.close(fig)


def test_draw_cnn_leaves_the_model_in_its_mode():
    model = cnn.AlexNetSmall().train()
    fig = diagrams.draw_cnn(model)
    assert model.training and all(p.grad is None for p in model.parameters())
    plt.close(fig)


def test_the_sliding_kernel_writes_what_conv2d_computes():
    image = torch.arange(36.0).reshape(6, 6)
    kernel = torch.tensor([[-1.0, 0.0, 1.0]] * 3)
    fig = diagrams.draw_sliding_kernel(image, kernel, positions=[(0, 0), (2, 3)])
    # the window at (2, 3) writes that output value, the same as F.conv2d
    value = F.conv2d(image[None, None], kernel[None, None])[0, 0, 2, 3].item()
    assert len(fig.axes) == 2 and f"{value:g}" in [t.get_text() for t in fig.axes[1].texts]
    assert fig.get_figwidth() == COLUMN
    plt.close(fig)


def test_the_inception_block_shows_its_channels():
    block = cnn.Inception(16, c1=8, c2=(8, 16), c3=(4, 8), c4=8)
    ax = diagrams.draw_inception(block)
    labels = " ".join(t.get_text() for t in ax.texts)
    assert "3×3 conv\n16 ch" in labels and "concatenate\n40 ch" in labels
    plt.close(ax.figure)


def test_residual_blocks_and_resnets():
    fig = diagrams.draw_blocks()
    assert len(fig.axes) == 2 and texts(fig).count("ReLU(F(x) + x)") == 2
    plt.close(fig)
    fig = diagrams.draw_resnet({"ResNet-18": resnet18(), "ResNet-50": resnet50()})
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == ["ResNet-18: 11,689,512 parameters", "ResNet-50: 25,557,032 parameters"]
    assert "2 × basic" in texts(fig) and "3 × bottl." in texts(fig)
    assert "2048\n7×7" in texts(fig) and "512\n7×7" in texts(fig)   # stage 4's output shapes
    plt.close(fig)


def test_the_lstm_cell_names_its_four_parts():
    fig = diagrams.draw_lstm_cell()
    for part in ("forget f", "input i", "candidate g", "output o", "$c_t$", "$h_t$"):
        assert part in texts(fig)
    assert fig.get_figwidth() <= COLUMN
    plt.close(fig)


def test_attention_pictures():
    fig = diagrams.draw_attention_step()
    assert fig.get_figwidth() <= COLUMN and "0.60" in texts(fig)
    # counted from 0, as the chapter's text: x_0..x_4, h_0..h_3, <bos>, y_0..y_2
    for label in ("$x_{0}$", "$x_{4}$", "$\\bar h_{0}$", "$\\bar h_{4}$", "$h_{0}$",
                  "$h_{3}$", "<bos>", "$y_{0}$", "$y_{2}$"):
        assert label in texts(fig), label
    assert "$x_{5}$" not in texts(fig) and "$h_{4}$" not in texts(fig)
    ax = fig.axes[0]
    highlighted = [p for p in ax.patches
                   if matplotlib.colors.to_hex(p.get_facecolor()) == "#fde0c5"]
    assert len(highlighted) == 1                  # h_t at the default t = 2 ...
    box = highlighted[0]
    h2 = next(t for t in ax.texts if t.get_text() == "$h_{2}$")
    assert box.get_x() < h2.get_position()[0] < box.get_x() + box.get_width()  # ... is h_2
    # an arrow from the encoder's last state (x = 4) into the decoder's first (x = 5.6)
    arrows = [a for a in ax.texts if isinstance(a, matplotlib.text.Annotation)]
    assert any(a.xyann[1] == a.xy[1] == 1 and 4 < a.xyann[0] < 4.6 and 5.2 < a.xy[0] < 5.6
               for a in arrows)
    plt.close(fig)
    src = reversal_task(1, 6, seed=0)[0]
    torch.manual_seed(0)
    fig, ax = plt.subplots()
    model = Seq2Seq(len(DIGITS), 16, 8, attention="dot").train()
    diagrams.plot_attention(ax, model, src, DIGITS)
    assert len(ax.get_xticks()) == 6 and ax.images[0].get_array().shape[1] == 6
    assert model.training
    with pytest.raises(ValueError, match="no weights to show"):
        diagrams.plot_attention(ax, Seq2Seq(len(DIGITS), 16, 8, attention="none"), src, DIGITS)
    plt.close(fig)
