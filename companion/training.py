"""One training loop for the whole book: `fit`, `evaluate` and the `History` they return.

For a `TensorDataset` (or an `(X, y)` pair of tensors) `fit` batches by indexing the tensors with
a seeded permutation: no per-sample Python and no DataLoader. Any other `Dataset` goes through a
seeded DataLoader. Used in: every chapter that trains a model.
"""
import contextlib
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

OPTIMIZERS = {
    "adam": lambda params, lr, wd, momentum: torch.optim.Adam(params, lr=lr, weight_decay=wd),
    "adamw": lambda params, lr, wd, momentum: torch.optim.AdamW(params, lr=lr, weight_decay=wd),
    "sgd": lambda params, lr, wd, momentum: torch.optim.SGD(params, lr=lr, momentum=momentum,
                                                             weight_decay=wd, nesterov=momentum > 0),
}
LR_SCHEDULES = (None, "onecycle")


class History:
    """Per-epoch metrics of a `fit` run; `seconds` counts training time only (no evaluation)."""

    def __init__(self):
        self.train_loss, self.train_acc = [], []
        self.test_loss, self.test_acc = [], []
        self.seconds = []

    @property
    def epochs(self):
        return len(self.train_loss)

    @property
    def total_seconds(self):
        return sum(self.seconds)

    def as_dict(self):
        return {key: list(getattr(self, key))
                for key in ("train_loss", "train_acc", "test_loss", "test_acc", "seconds")}

    def __repr__(self):
        if not self.epochs:
            return "History(0 epochs)"
        text = (f"History({self.epochs} epochs, {self.total_seconds:.1f} s: "
                f"train loss {self.train_loss[-1]:.4f}, train acc {self.train_acc[-1]:.2%}")
        if self.test_acc:
            text += f", test loss {self.test_loss[-1]:.4f}, test acc {self.test_acc[-1]:.2%}"
        return text + ")"

    def plot(self, title=None):
        """Loss and accuracy per epoch, train vs test, as a pyplot Figure.

        In a notebook end the cell with `plt.show()` or a `;`, so the figure shows once.
        """
        import matplotlib.pyplot as plt

        from .widgets import draw_curves
        return draw_curves(plt.figure(figsize=(9, 3.2)), self, title=title)


def _split(data, name):
    """Return (X, y) tensors for a TensorDataset or an (X, y) pair; None for other Datasets."""
    if isinstance(data, TensorDataset):
        tensors = data.tensors
    elif isinstance(data, (tuple, list)) and all(torch.is_tensor(t) for t in data):
        tensors = tuple(data)
    elif isinstance(data, Dataset):
        return None
    else:
        raise ValueError(f"{name} must be a TensorDataset, an (X, y) pair of tensors or a "
                         f"torch Dataset; got {type(data).__name__}")
    if len(tensors) != 2:
        raise ValueError(f"{name} must hold exactly two tensors, images X and labels y; "
                         f"got {len(tensors)}")
    X, y = tensors
    if len(X) != len(y):
        raise ValueError(f"{name}: images and labels have different lengths: "
                         f"{len(X)} images vs {len(y)} labels")
    return X, y


def _check_classification(X, y, name):
    if y.dim() != 1:
        hint = " (one-hot labels? use y.argmax(1))" if y.dim() == 2 else ""
        raise ValueError(f"{name}: labels must be class indices of shape (N,); "
                         f"got shape {tuple(y.shape)}{hint}")
    if y.dtype.is_floating_point or y.dtype == torch.bool or y.is_complex():
        raise ValueError(f"{name}: labels must be integer class indices (torch.int64); got "
                         f"{y.dtype}. Convert them with y.long()")
    if not X.dtype.is_floating_point:
        raise ValueError(f"{name}: inputs must be floating point; got {X.dtype}. "
                         f"Scale uint8 images with X.float() / 255")


def _batches(X, y, batch_size, generator, shuffle, device, channels_last):
    """Yield (X, y) batches on `device`, in a seeded random order when `shuffle`."""
    n = len(X)
    order = torch.randperm(n, generator=generator) if shuffle else None
    for start in range(0, n, batch_size):
        if order is None:
            xb, yb = X[start:start + batch_size], y[start:start + batch_size]
        else:
            index = order[start:start + batch_size]
            xb, yb = X[index], y[index]
        xb = xb.to(device, non_blocking=True)
        if channels_last and xb.dim() == 4:
            xb = xb.contiguous(memory_format=torch.channels_last)
        yield xb, yb.to(device, non_blocking=True)


def _loader_batches(dataset, batch_size, generator, shuffle, device, channels_last):
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)
    for xb, yb in loader:
        xb = xb.to(device)
        if channels_last and xb.dim() == 4:
            xb = xb.contiguous(memory_format=torch.channels_last)
        yield xb, yb.to(device)


def _pick_device(device):
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _to_device_once(X, y, device):
    """Move the whole data set to the GPU when it takes under a quarter of the free memory."""
    if device.type != "cuda":
        return X, y
    free, _ = torch.cuda.mem_get_info(device)
    if (X.numel() * X.element_size() + y.numel() * y.element_size()) < free / 4:
        return X.to(device), y.to(device)
    return X, y


def _autocast(device, enabled):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@torch.no_grad()
def evaluate(model, data, batch_size=1024, *, loss_fn=None, device=None, amp=False,
             channels_last=False):
    """Mean loss and accuracy of `model` on `data` (TensorDataset, (X, y) or Dataset)."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    if device is None:  # wherever the model lives
        device = next(model.parameters(), torch.empty(0)).device
    device = torch.device(device)
    tensors = _split(data, "data")
    if tensors is not None:
        X, y = _to_device_once(*tensors, device)
        batches = _batches(X, y, batch_size, None, False, device, channels_last)
    else:
        batches = _loader_batches(data, batch_size, None, False, device, channels_last)
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    for xb, yb in batches:
        with _autocast(device, amp):
            out = model(xb)
        total_loss += loss_fn(out.float(), yb).item() * len(yb)
        if out.dim() == 2 and not yb.dtype.is_floating_point:
            correct += (out.argmax(dim=1) == yb).sum().item()
        count += len(yb)
    model.train(was_training)
    if count == 0:
        raise ValueError("evaluate: the data set is empty")
    return total_loss / count, correct / count


def fit(model, train, test=None, *, epochs, batch_size=128, lr=1e-3, optimizer="adam", seed=0,
        live=True, device=None, loss_fn=None, weight_decay=0.0, momentum=0.9, lr_schedule=None,
        amp=False, channels_last=False, stop_at=None, out=None, title=None):
    """Train `model` on `train`, evaluating on `test` after every epoch; return a `History`.

    optimizer: "adam", "adamw", "sgd" (with Nesterov momentum), or a torch Optimizer.
    lr_schedule: None (constant lr) or "onecycle" (warm up to `lr`, then anneal; like
    PyTorch's OneCycleLR it also cycles SGD's momentum between 0.85 and 0.95, which then
    replaces `momentum`).
    amp: bfloat16 autocast. channels_last: NHWC memory layout for 4-D inputs.
    stop_at: stop after the first epoch whose test accuracy reaches this value.
    live: live curves in a notebook (into the ipywidgets.Output `out` if given), one line per
    epoch in a script; False for silence, a LiveCurves mode name ("render", "text", ...), or
    a LiveCurves object of your own. The same seed and model weights give the same History on the CPU.
    """
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"fit: epochs must be an integer >= 1; got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"fit: batch_size must be an integer >= 1; got {batch_size!r}")
    if isinstance(optimizer, str) and optimizer not in OPTIMIZERS:
        raise ValueError(f"fit: unknown optimizer {optimizer!r}; choose one of "
                         f"{', '.join(sorted(OPTIMIZERS))} or pass a torch.optim.Optimizer")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"fit: unknown lr_schedule {lr_schedule!r}; choose None or 'onecycle'")
    if stop_at is not None and test is None:
        raise ValueError("fit: stop_at needs test data to measure accuracy on")
    train_tensors = _split(train, "train")
    test_tensors = _split(test, "test") if test is not None else None
    if loss_fn is None:
        loss_fn = nn.CrossEntropyLoss()
    if isinstance(loss_fn, nn.CrossEntropyLoss):  # classification: check the labels
        for tensors, name in ((train_tensors, "train"), (test_tensors, "test")):
            if tensors is not None:
                _check_classification(*tensors, name)

    device = _pick_device(device)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    torch.manual_seed(seed)  # dropout and other in-model randomness
    generator = torch.Generator().manual_seed(seed)  # the shuffling order
    if isinstance(optimizer, str):
        opt = OPTIMIZERS[optimizer](model.parameters(), lr, weight_decay, momentum)
    else:
        opt = optimizer
    if train_tensors is not None:
        X, y = _to_device_once(*train_tensors, device)
        num_batches = -(-len(X) // batch_size)
    else:
        num_batches = -(-len(train) // batch_size)
    scheduler = None
    if lr_schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr,
                                                        total_steps=epochs * num_batches)

    from .widgets import LiveCurves
    if isinstance(live, LiveCurves):
        curves = live
    elif live:
        curves = LiveCurves(epochs, title=title, out=out,
                            mode=live if isinstance(live, str) else None)
    else:
        curves = None
    history = History()
    try:
        for epoch in range(epochs):
            model.train()
            start = time.perf_counter()
            if train_tensors is not None:
                batches = _batches(X, y, batch_size, generator, True, device, channels_last)
            else:
                batches = _loader_batches(train, batch_size, generator, True, device,
                                          channels_last)
            total_loss = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            seen = 0
            for i, (xb, yb) in enumerate(batches):
                with _autocast(device, amp):
                    out_b = model(xb)
                loss = loss_fn(out_b.float(), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if scheduler is not None:
                    scheduler.step()
                total_loss += loss.detach() * len(yb)
                if out_b.dim() == 2 and not yb.dtype.is_floating_point:
                    correct += (out_b.detach().argmax(dim=1) == yb).sum()
                seen += len(yb)
                if curves is not None:
                    curves.batch(epoch, i + 1, num_batches, total_loss, correct, seen)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            history.seconds.append(time.perf_counter() - start)
            history.train_loss.append(total_loss.item() / seen)
            history.train_acc.append(correct.item() / seen)
            if test is not None:
                test_loss, test_acc = evaluate(model, test, max(batch_size, 1024),
                                               loss_fn=loss_fn, device=device, amp=amp,
                                               channels_last=channels_last)
                history.test_loss.append(test_loss)
                history.test_acc.append(test_acc)
            if curves is not None:
                curves.epoch_end(history)
            if stop_at is not None and history.test_acc[-1] >= stop_at:
                break
    finally:
        if curves is not None:
            curves.close(history)
    return history
