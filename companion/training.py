"""One training loop for the whole book: `fit`, `evaluate`, the `History` they return, and the
*steps* that say what one batch means.

A step turns a batch into what the loop needs: `step(model, batch, loss_fn)` returns
`(loss, count)` or `(loss, count, correct)` — the mean loss to call `backward()` on, what it
averages over (examples, or non-padding tokens) and the number of right predictions (left out
when accuracy means nothing). The rest of `fit` is the same plain loop for every task:

    classify_step    images or features -> class scores (the default)
    next_token_step  a language model: (B, T) tokens -> (B, T, V) scores for the next token
    seq2seq_step     an encoder-decoder with teacher forcing: (source, decoder input) -> (B, T, V)

Data is a TensorDataset or a tuple of N >= 2 equal-length tensors (batched by indexing with a
seeded permutation: no per-sample Python) or any Dataset (a seeded DataLoader, `collate=` for
variable-length items). Used in: every chapter that trains a model.
"""
import math
import time
from typing import NamedTuple

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from . import hardware
from .curves import FIGSIZE, LiveCurves, draw_curves
from .data import split
from .measure import evaluating

LR_SCHEDULES = (None, "onecycle")
METRICS = ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "seconds")


def _make_optimizer(name, params, lr, weight_decay, momentum):
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                           nesterov=momentum > 0)


OPTIMIZERS = ("adam", "adamw", "sgd")


# ------------------------------------------------------------------------------------- steps
class StepOutput(NamedTuple):
    """What one batch reports: mean loss, what it averages over, and right predictions."""
    loss: torch.Tensor
    count: object                   # int or 0-d tensor
    correct: object = None          # int, 0-d tensor, or None (no accuracy for this task)


def classify_step(model, batch, loss_fn):
    """`*inputs, y = batch`: scores `model(*inputs)` against targets y; accuracy for (N, C)
    scores and integer labels. With float targets and e.g. MSELoss it is plain regression."""
    *inputs, y = batch
    out = model(*inputs)
    loss = loss_fn(out.float(), y)
    correct = None
    if out.dim() == 2 and not y.dtype.is_floating_point:
        correct = (out.argmax(dim=1) == y).sum()
    return StepOutput(loss, len(y), correct)


def _token_scores(logits, targets, loss_fn, what):
    """Token-weighted loss and accuracy of (B, T, V) scores against (B, T) targets; targets equal
    to `loss_fn.ignore_index` (padding) count nowhere."""
    if logits.dim() != 3 or targets.shape != logits.shape[:2]:
        raise ValueError(f"{what} expects model outputs of shape (batch, steps, vocabulary) and "
                         f"targets of shape (batch, steps); got {tuple(logits.shape)} and "
                         f"{tuple(targets.shape)}")
    scores = logits.reshape(-1, logits.shape[-1]).float()      # (B*T, V)
    targets = targets.reshape(-1)                               # (B*T,)
    loss = loss_fn(scores, targets)
    keep = targets != getattr(loss_fn, "ignore_index", -100)    # (B*T,) not padding
    correct = ((scores.argmax(dim=1) == targets) & keep).sum()
    return StepOutput(loss, keep.sum(), correct)


def next_token_step(model, batch, loss_fn):
    """A language model: batch (X, Y) of (B, T) tokens, Y = X shifted by one; model(X) gives
    (B, T, V) scores. Loss and accuracy are means over tokens."""
    X, Y = batch
    return _token_scores(model(X), Y, loss_fn, "next_token_step")


def seq2seq_step(model, batch, loss_fn):
    """Teacher forcing: batch (source, decoder_input, target); model(source, decoder_input)
    gives (B, T, V) scores. With `loss_fn=nn.CrossEntropyLoss(ignore_index=PAD)` padding is left
    out of the loss, the token count and the accuracy."""
    source, decoder_input, target = batch
    return _token_scores(model(source, decoder_input), target, loss_fn, "seq2seq_step")


def _check_step_output(result, step):
    name = getattr(step, "__name__", "step")
    if not isinstance(result, tuple) or len(result) not in (2, 3):
        raise ValueError(f"{name} must return (loss, count) or (loss, count, correct); "
                         f"got {type(result).__name__}")
    loss, count, correct = (*result, None)[:3]
    if not torch.is_tensor(loss) or loss.numel() != 1:
        shape = tuple(loss.shape) if torch.is_tensor(loss) else type(loss).__name__
        raise ValueError(f"{name} must return the mean loss as a scalar tensor; got {shape} "
                         "(reduce it with .mean())")
    if int(count) <= 0:
        raise ValueError(f"{name} returned a count of {int(count)}; it must be the number of "
                         "examples or tokens the loss averages over (at least 1)")
    return StepOutput(loss.reshape(()), count, correct)


# ------------------------------------------------------------------------------------- history
class History:
    """Per-epoch metrics of a `fit` run. `seconds` counts training time only (no evaluation).

    Accuracy lists stay empty when the step reports no accuracy; the test set may have one
    entry only (evaluated once, at the end). `perplexity`: whether the loss is a cross-entropy,
    so that exp(loss) is a perplexity (`train_ppl`, `val_ppl`, `test_ppl`).
    """

    def __init__(self, perplexity=False):
        for key in METRICS:
            setattr(self, key, [])
        self.perplexity = perplexity

    @property
    def epochs(self):
        return len(self.train_loss)

    @property
    def total_seconds(self):
        return sum(self.seconds)

    train_ppl = property(lambda self: [math.exp(v) for v in self.train_loss])
    val_ppl = property(lambda self: [math.exp(v) for v in self.val_loss])
    test_ppl = property(lambda self: [math.exp(v) for v in self.test_loss])

    def as_dict(self):
        return {key: list(getattr(self, key)) for key in METRICS}

    def __repr__(self):
        if not self.epochs:
            return "History(0 epochs)"
        parts = []
        for split in ("train", "val", "test"):
            losses, accs = getattr(self, f"{split}_loss"), getattr(self, f"{split}_acc")
            if losses:
                text = f"{split} loss {losses[-1]:.4f}"
                if accs:
                    text += f", {split} acc {accs[-1]:.2%}"
                elif self.perplexity:
                    text += f", {split} ppl {math.exp(losses[-1]):.3g}"
                parts.append(text)
        return f"History({self.epochs} epochs, {self.total_seconds:.1f} s: {', '.join(parts)})"

    def plot(self, title=None):
        """Loss and accuracy (or perplexity) per epoch as a pyplot Figure.

        In a notebook end the cell with `plt.show()` or a `;`, so the figure shows once.
        """
        return draw_curves(plt.figure(figsize=FIGSIZE), self, title=title)


class BatchRecord:
    """What a callback's `batch_end` sees after each batch (floats are read on demand)."""

    def __init__(self, history, epoch, batch, num_batches, loss, sums, grad_norm, lr):
        self.history, self.epoch, self.batch, self.num_batches = history, epoch, batch, num_batches
        self.lr, self._loss, self._sums, self._grad_norm = lr, loss, sums, grad_norm

    loss = property(lambda self: float(self._loss), doc="this batch's mean loss")
    grad_norm = property(lambda self: None if self._grad_norm is None else float(self._grad_norm),
                         doc="the gradient norm before clipping (with clip_grad), else None")
    mean_loss = property(lambda self: float(self._sums[0]) / float(self._sums[1]),
                         doc="the mean loss of this epoch so far")

    @property
    def mean_acc(self):
        """The accuracy of this epoch so far, or None when the step reports none."""
        return None if self._sums[2] is None else float(self._sums[2]) / float(self._sums[1])

    def __repr__(self):
        return (f"BatchRecord(epoch={self.epoch}, batch={self.batch}/{self.num_batches}, "
                f"loss={self.loss:.4f})")


# ---------------------------------------------------------------------------------------- data
def _tensors(data, name):
    """The tensors of a TensorDataset or a tuple of tensors; None for any other Dataset."""
    if isinstance(data, TensorDataset):
        tensors = tuple(data.tensors)
    elif isinstance(data, (tuple, list)) and data and all(torch.is_tensor(t) for t in data):
        tensors = tuple(data)
    elif isinstance(data, Dataset):
        return None
    else:
        raise ValueError(f"{name} must be a TensorDataset, a tuple of tensors (X, y, ...) or a "
                         f"torch Dataset; got {type(data).__name__}")
    if len(tensors) < 2:
        raise ValueError(f"{name} must hold at least two tensors, inputs and targets; "
                         f"got {len(tensors)}")
    lengths = [len(t) for t in tensors]
    if len(set(lengths)) > 1:
        raise ValueError(f"{name}: the tensors have different lengths {lengths}; every tensor "
                         "needs one entry per example")
    if lengths[0] == 0:
        raise ValueError(f"{name} is empty")
    return tensors


def _check_labels(tensors, name):
    """Classification data: float inputs and int64 class indices of shape (N,)."""
    *inputs, y = tensors
    if y.dim() != 1:
        hint = " (one-hot labels? use y.argmax(1))" if y.dim() == 2 else ""
        raise ValueError(f"{name}: labels must be class indices of shape (N,); "
                         f"got shape {tuple(y.shape)}{hint}")
    if y.dtype.is_floating_point or y.dtype == torch.bool or y.is_complex():
        raise ValueError(f"{name}: labels must be integer class indices (torch.int64); got "
                         f"{y.dtype}. Convert them with y.long()")
    if len(inputs) == 1 and not inputs[0].dtype.is_floating_point:
        raise ValueError(f"{name}: inputs must be floating point; got {inputs[0].dtype}. "
                         f"Scale uint8 images with X.float() / 255")


def _prepare(batch, device, channels_last):
    """Move a batch to the device, images (4-D floats) into channels-last layout if asked."""
    if torch.is_tensor(batch):
        batch = (batch,)
    if not isinstance(batch, (tuple, list)) or not all(torch.is_tensor(t) for t in batch):
        raise ValueError("each batch must be a tuple of tensors; a Dataset's items (or your "
                         "collate function) must give tensors")
    moved = []
    for t in batch:
        t = t.to(device, non_blocking=True)
        if channels_last and t.dim() == 4 and t.dtype.is_floating_point:
            t = t.contiguous(memory_format=torch.channels_last)
        moved.append(t)
    return tuple(moved)


def _batches(data, tensors, batch_size, generator, device, channels_last, collate):
    """Yield batches (tuples of tensors on `device`); shuffled by `generator` when given."""
    if tensors is None:
        loader = DataLoader(data, batch_size=batch_size, shuffle=generator is not None,
                            generator=generator, collate_fn=collate)
        for batch in loader:
            yield _prepare(batch, device, channels_last)
        return
    n = len(tensors[0])
    order = torch.randperm(n, generator=generator) if generator is not None else None
    for start in range(0, n, batch_size):
        if order is None:
            batch = tuple(t[start:start + batch_size] for t in tensors)
        else:
            index = order[start:start + batch_size]
            batch = tuple(t[index] for t in tensors)
        yield _prepare(batch, device, channels_last)


def _num_batches(data, tensors, batch_size):
    return -(-(len(tensors[0]) if tensors is not None else len(data)) // batch_size)


def _pick_device(device):
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _to_device_once(tensors, device):
    """Move a whole data set to the GPU when it takes under a quarter of the free memory."""
    if tensors is None or device.type != "cuda":
        return tensors
    free, _ = torch.cuda.mem_get_info(device)
    if sum(t.numel() * t.element_size() for t in tensors) < free / 4:
        return tuple(t.to(device) for t in tensors)
    return tensors


def _autocast(device, enabled):
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


# ------------------------------------------------------------------------------------ evaluate
def _evaluate(model, data, tensors, batch_size, step, loss_fn, collate, device, amp,
              channels_last):
    loss_sum, count_sum, correct_sum = 0.0, 0, None
    with evaluating(model):
        for batch in _batches(data, tensors, batch_size, None, device, channels_last, collate):
            with _autocast(device, amp):
                loss, count, correct = _check_step_output(step(model, batch, loss_fn), step)
            loss_sum += loss.item() * int(count)
            count_sum += int(count)
            if correct is not None:
                correct_sum = (correct_sum or 0) + int(correct)
    return loss_sum / count_sum, None if correct_sum is None else correct_sum / count_sum


def evaluate(model, data, batch_size=1024, *, step=None, loss_fn=None, collate=None,
             device=None, amp=False, channels_last=False):
    """Mean loss and accuracy of `model` on `data`, weighted by the step's counts; accuracy is
    None when the step reports none. The model's train/eval mode is left as it was."""
    step = step or classify_step
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    if device is None:  # wherever the model lives
        device = next(model.parameters(), torch.empty(0)).device
    device = torch.device(device)
    amp = hardware.resolve(amp, device, hardware.fast_amp)
    channels_last = hardware.resolve(channels_last, device, hardware.fast_channels_last)
    tensors = _to_device_once(_tensors(data, "data"), device)
    return _evaluate(model, data, tensors, batch_size, step, loss_fn, collate, device, amp,
                     channels_last)


# ----------------------------------------------------------------------------------------- fit
def _check_settings(epochs, batch_size, lr, optimizer, lr_schedule, val_split, clip_grad):
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"fit: epochs must be an integer >= 1; got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"fit: batch_size must be an integer >= 1; got {batch_size!r}")
    if not lr > 0:
        raise ValueError(f"fit: the learning rate lr must be > 0; got {lr!r}")
    if isinstance(optimizer, str) and optimizer not in OPTIMIZERS:
        raise ValueError(f"fit: unknown optimizer {optimizer!r}; choose one of "
                         f"{', '.join(OPTIMIZERS)} or pass a torch.optim.Optimizer")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"fit: unknown lr_schedule {lr_schedule!r}; choose None or 'onecycle'")
    if val_split is not None and not 0 < val_split < 1:
        raise ValueError(f"fit: val_split is the share of train held out for validation, "
                         f"strictly between 0 and 1; got {val_split!r}")
    if clip_grad is not None and not clip_grad > 0:
        raise ValueError(f"fit: clip_grad must be a positive gradient norm; got {clip_grad!r}")


def fit(model, train, test=None, *, val=None, val_split=None, epochs, batch_size=128, lr=1e-3,
        optimizer="adam", seed=0, live=True, step=None, loss_fn=None, collate=None,
        clip_grad=None, callbacks=(), weight_decay=0.0, momentum=0.9, lr_schedule=None,
        amp=False, channels_last=False, stop_at=None, test_every_epoch=None, device=None,
        out=None, title=None):
    """Train `model` on `train`; return a `History`.

    Data: train, val, test are TensorDatasets, tuples of equal-length tensors, or Datasets
    (`collate` is passed to their DataLoader). `val_split=0.1` holds out a seeded 10 % of train
    for validation (the same examples every run, whatever `seed`). Validation is measured every
    epoch; with validation data the test set is evaluated once, at the end (every epoch with
    `test_every_epoch=True`); without, every epoch, reported but never used for a choice.
    step: what a batch means (`classify_step`, `next_token_step`, `seq2seq_step`, or your own).
    optimizer: "adam", "adamw", "sgd" (Nesterov momentum `momentum`), or a torch Optimizer.
    lr_schedule: None (constant lr) or "onecycle" (warm up to `lr`, then anneal; like
    PyTorch's OneCycleLR it also cycles SGD's momentum between 0.85 and 0.95).
    clip_grad: clip the gradient norm to this value (`float("inf")` only measures it); the
    norm before clipping reaches callbacks as `record.grad_norm`.
    amp: bfloat16 autocast; channels_last: NHWC layout for 4-D inputs. "auto" turns each on
    only where it is faster on this machine (`companion.hardware`). The model is moved to the
    training device (CUDA when available, unless `device` says otherwise) and stays there; a
    channels-last model is returned in the default (contiguous) layout.
    stop_at: stop after the first epoch whose *validation* accuracy reaches this value.
    callbacks: objects with any of `batch_end(record)`, `epoch_end(history)`,
    `fit_end(history)` (see `BatchRecord`). live: live curves in a notebook (into the
    ipywidgets.Output `out` if given), one line per epoch in a script; False for silence, a
    LiveCurves mode name ("render", "text", ...), or a LiveCurves of your own.
    The same seed and model weights give the same History on the CPU.
    """
    _check_settings(epochs, batch_size, lr, optimizer, lr_schedule, val_split, clip_grad)
    step = step or classify_step
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    if val_split is not None:
        if val is not None:
            raise ValueError("fit: pass either val (a data set) or val_split, not both")
        train, val = split(train, val_split)
    if stop_at is not None and val is None:
        raise ValueError("fit: stop_at needs validation data (val= or val_split=): a choice "
                         "made on the test set would make the test score optimistic")
    data = {"train": train, "val": val, "test": test}
    tensors = {name: _tensors(d, name) if d is not None else None for name, d in data.items()}
    if step is classify_step and isinstance(loss_fn, nn.CrossEntropyLoss):
        for name, ts in tensors.items():
            if ts is not None:
                _check_labels(ts, name)
    if test_every_epoch is None:
        test_every_epoch = val is None

    device = _pick_device(device)
    amp = hardware.resolve(amp, device, hardware.fast_amp)
    channels_last = hardware.resolve(channels_last, device, hardware.fast_channels_last)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    torch.manual_seed(seed)  # dropout and other in-model randomness
    generator = torch.Generator().manual_seed(seed)  # the shuffling order
    if isinstance(optimizer, str):
        opt = _make_optimizer(optimizer, model.parameters(), lr, weight_decay, momentum)
    else:
        opt = optimizer
    tensors = {name: _to_device_once(ts, device) for name, ts in tensors.items()}
    num_batches = _num_batches(train, tensors["train"], batch_size)
    scheduler = None
    if lr_schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr,
                                                        total_steps=epochs * num_batches)
    callbacks = list(callbacks)
    if isinstance(live, LiveCurves):
        callbacks.append(live)
    elif live:
        callbacks.append(LiveCurves(epochs, title=title, out=out,
                                    mode=live if isinstance(live, str) else None))
    watchers = [cb for cb in callbacks if hasattr(cb, "batch_end")]
    params = [p for group in opt.param_groups for p in group["params"]]

    def measure(name):
        return _evaluate(model, data[name], tensors[name], max(batch_size, 1024), step, loss_fn,
                         collate, device, amp, channels_last)

    history = History(perplexity=isinstance(loss_fn, nn.CrossEntropyLoss))
    try:
        for epoch in range(epochs):
            model.train()
            start = time.perf_counter()
            loss_sum = torch.zeros((), device=device)
            count_sum = torch.zeros((), device=device, dtype=torch.long)
            correct_sum = None
            batches = _batches(train, tensors["train"], batch_size, generator, device,
                               channels_last, collate)
            for i, batch in enumerate(batches):
                with _autocast(device, amp):
                    result = step(model, batch, loss_fn)
                if i == 0:  # checked once per epoch: a check per batch would cost a sync
                    result = _check_step_output(result, step)
                loss, count, correct = (*result, None)[:3]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = None
                if clip_grad is not None:
                    grad_norm = torch.nn.utils.clip_grad_norm_(params, clip_grad)
                opt.step()
                if scheduler is not None:
                    scheduler.step()
                loss_sum += loss.detach().float() * count
                count_sum += count
                if correct is not None:
                    correct_sum = correct if correct_sum is None else correct_sum + correct
                if watchers:
                    record = BatchRecord(history, epoch, i + 1, num_batches, loss.detach(),
                                         (loss_sum, count_sum, correct_sum), grad_norm,
                                         opt.param_groups[0]["lr"])
                    for watcher in watchers:
                        watcher.batch_end(record)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            history.seconds.append(time.perf_counter() - start)
            history.train_loss.append(loss_sum.item() / count_sum.item())
            if correct_sum is not None:
                history.train_acc.append(int(correct_sum) / count_sum.item())
            splits = ["val"] if val is not None else []
            splits += ["test"] if test is not None and test_every_epoch else []
            for name in splits:
                split_loss, split_acc = measure(name)
                getattr(history, f"{name}_loss").append(split_loss)
                if split_acc is not None:
                    getattr(history, f"{name}_acc").append(split_acc)
            if stop_at is not None and not history.val_acc:
                raise ValueError("fit: stop_at reads validation accuracy, but this step "
                                 "reports no accuracy")
            stop = stop_at is not None and history.val_acc[-1] >= stop_at
            if test is not None and not test_every_epoch and (stop or epoch == epochs - 1):
                test_loss, test_acc = measure("test")   # reported once, at the end
                history.test_loss.append(test_loss)
                if test_acc is not None:
                    history.test_acc.append(test_acc)
            for cb in callbacks:
                if hasattr(cb, "epoch_end"):
                    cb.epoch_end(history)
            if stop:
                break
    finally:
        if channels_last:
            model.to(memory_format=torch.contiguous_format)
        for cb in callbacks:
            if hasattr(cb, "fit_end"):
                cb.fit_end(history)
    return history
