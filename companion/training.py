"""One training loop for the whole book: `train_epoch` (the loop, shown in the book), `fit`
built from it, `evaluate`, `predict`, the `History` they return, and the *steps* that say what
one batch means.

A step turns a batch into what the loop needs: `step(model, batch, loss_fn)` returns
`(loss, count)` or `(loss, count, correct)` — the mean loss to call `backward()` on, what it
averages over (examples, or non-padding tokens) and the number of right predictions (left out
when accuracy means nothing). The rest is the same plain loop for every task:

    classify_step    images or features -> class scores (the default)
    next_token_step  a language model: (B, T) tokens -> (B, T, V) scores for the next token
    seq2seq_step     an encoder-decoder with teacher forcing: (source, decoder input) -> (B, T, V)

A `Loop` holds what every batch needs (the step and its loss, the device, the arithmetic);
callbacks (`batch_end`, `epoch_end`, `fit_end`) watch a run without changing it.
Data is a TensorDataset or a tuple of N >= 2 equal-length tensors (batched by indexing with a
seeded permutation: no per-sample Python) or any Dataset (a seeded DataLoader, `collate=` for
variable-length items). Used in: every chapter that trains a model.
"""
import math
import time
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Optional

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from . import hardware
from .curves import FIGSIZE, LiveCurves, draw_curves
from .data import split
from .learning import OPTIMIZERS, make_optimizer, optimizer_settings
from .measure import evaluating

LR_SCHEDULES = (None, "onecycle")
METRICS = ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "seconds")
DEFAULT_LR = 1e-3   # fit's learning rate when an optimizer is named without lr


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
        """How many epochs have been recorded."""
        return len(self.train_loss)

    @property
    def total_seconds(self):
        """Training time of all epochs together."""
        return sum(self.seconds)

    train_ppl = property(lambda self: [math.exp(v) for v in self.train_loss])
    val_ppl = property(lambda self: [math.exp(v) for v in self.val_loss])
    test_ppl = property(lambda self: [math.exp(v) for v in self.test_loss])

    def add(self, split, loss, accuracy=None):
        """Append one measurement of `split` ("train", "val" or "test")."""
        getattr(self, f"{split}_loss").append(loss)
        if accuracy is not None:
            getattr(self, f"{split}_acc").append(accuracy)

    def as_dict(self):
        """Every metric's list, copied: {"train_loss": [...], ...}."""
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


class Totals:
    """The running sums of an epoch: loss × count, count, correct predictions, batches.

    They stay on the device (no waiting for it); `mean_loss` and `accuracy` read them.
    """

    def __init__(self, device):
        self.loss = torch.zeros((), device=device)
        self.count = torch.zeros((), device=device, dtype=torch.long)
        self.correct = None             # stays None when the step reports no accuracy
        self.batches = 0

    def add(self, loss, count, correct=None):
        """Add one batch: its mean loss (detached), count and correct predictions."""
        self.loss += loss.float() * count
        self.count += count
        if correct is not None:
            self.correct = correct if self.correct is None else self.correct + correct
        self.batches += 1

    @property
    def mean_loss(self):
        """The mean loss so far, weighted by the counts."""
        return self.loss.item() / self.count.item()

    @property
    def accuracy(self):
        """The share of right predictions so far, or None."""
        return None if self.correct is None else int(self.correct) / self.count.item()

    def __repr__(self):
        return f"Totals({self.batches} batches, mean loss {self.mean_loss:.4f})"


class BatchRecord:
    """What a callback's `batch_end` sees after each batch (floats are read on demand)."""

    def __init__(self, history, epoch, batch, num_batches, loss, totals, grad_norm):
        self.history, self.epoch, self.batch, self.num_batches = history, epoch, batch, num_batches
        self._loss, self._totals, self._grad_norm = loss, totals, grad_norm

    loss = property(lambda self: float(self._loss), doc="this batch's mean loss")
    grad_norm = property(lambda self: None if self._grad_norm is None else float(self._grad_norm),
                         doc="the gradient norm before clipping (with clip_grad), else None")
    mean_loss = property(lambda self: self._totals.mean_loss,
                         doc="the mean loss of this epoch so far")
    mean_acc = property(lambda self: self._totals.accuracy,
                        doc="the accuracy of this epoch so far, or None when the step reports "
                            "none")

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


def _on_device(data, name, device):
    """A data set ready for the loop: its tuple of tensors (moved to a GPU once, when they take
    under a quarter of its free memory), or a Dataset as it is."""
    tensors = _tensors(data, name)
    if tensors is None:
        return data
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if sum(t.numel() * t.element_size() for t in tensors) < free / 4:
            return tuple(t.to(device) for t in tensors)
    return tensors


def _length(data):
    return len(data[0]) if isinstance(data, tuple) else len(data)


def _pick_device(device):
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# ---------------------------------------------------------------------------------------- loop
@dataclass
class Loop:
    """What every batch needs: what a batch means (`step`, `loss_fn`), where it runs (`device`)
    and in which arithmetic (`amp`: bfloat16 autocast; `channels_last`: NHWC images);
    `collate` batches a Dataset's items. `fit` and `evaluate` make one from their settings."""

    step: Callable = classify_step
    loss_fn: nn.Module = field(default_factory=nn.CrossEntropyLoss)
    device: torch.device = torch.device("cpu")
    amp: bool = False
    channels_last: bool = False
    collate: Optional[Callable] = None

    def autocast(self):
        """bfloat16 autocast when `amp`, else nothing: `with loop.autocast(): ...`."""
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16,
                              enabled=self.amp)

    def batches(self, data, batch_size, generator=None):
        """Batches of `data` (from `_on_device`) as tuples of tensors on the device; shuffled by
        `generator` when given, else in order."""
        if not isinstance(data, tuple):          # any Dataset: a seeded DataLoader
            loader = DataLoader(data, batch_size=batch_size, shuffle=generator is not None,
                                generator=generator, collate_fn=self.collate)
            for batch in loader:
                yield _prepare(batch, self.device, self.channels_last)
            return
        n = len(data[0])
        order = torch.randperm(n, generator=generator) if generator is not None else None
        for start in range(0, n, batch_size):
            if order is None:
                batch = tuple(t[start:start + batch_size] for t in data)
            else:
                index = order[start:start + batch_size]
                batch = tuple(t[index] for t in data)
            yield _prepare(batch, self.device, self.channels_last)

    def unpack(self, result, check=False):
        """(loss, count, correct) from what the step returned (correct None when it gave two
        values); `check=True` also checks them, with a clear error (once per epoch: a check
        per batch would wait for the device)."""
        if check:
            return _check_step_output(result, self.step)
        return (*result, None)[:3]


def train_epoch(model, batches, optimizer, loop, *, scheduler=None,
                clip_grad=None, on_batch=None):
    """Train `model` on each batch once; return the epoch's Totals.

    `on_batch(totals, loss, grad_norm)` may watch each update.
    """
    model.train()
    totals = Totals(loop.device)
    for i, batch in enumerate(batches):
        with loop.autocast():               # bfloat16 if loop.amp
            result = loop.step(model, batch, loop.loss_fn)
        loss, count, correct = loop.unpack(result, check=i == 0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()                     # the gradients
        grad_norm = None
        if clip_grad is not None:           # rescale to norm <= clip_grad
            grad_norm = nn.utils.clip_grad_norm_(model.parameters(),
                                                 clip_grad)
        optimizer.step()                    # update the weights
        if scheduler is not None:
            scheduler.step()                # the next learning rate
        totals.add(loss.detach(), count, correct)
        if on_batch is not None:
            on_batch(totals, loss.detach(), grad_norm)
    return totals


# ------------------------------------------------------------------------------------ evaluate
def _evaluate(model, data, loop, batch_size):
    """Mean loss and accuracy (or None) of `model` on prepared `data`, in eval mode."""
    loss_sum, count_sum, correct_sum = 0.0, 0, None
    with evaluating(model):
        for batch in loop.batches(data, batch_size):
            with loop.autocast():
                loss, count, correct = loop.unpack(loop.step(model, batch, loop.loss_fn),
                                                   check=True)
            loss_sum += loss.item() * int(count)
            count_sum += int(count)
            if correct is not None:
                correct_sum = (correct_sum or 0) + int(correct)
    return loss_sum / count_sum, None if correct_sum is None else correct_sum / count_sum


def _model_device(model):
    return next(model.parameters(), torch.empty(0)).device


def evaluate(model, data, batch_size=1024, *, step=None, loss_fn=None, collate=None,
             device=None, amp=False, channels_last=False):
    """Mean loss and accuracy of `model` on `data`, weighted by the step's counts; accuracy is
    None when the step reports none. The settings mean what they mean in `fit`; `device`
    defaults to where the model lives. The model's train/eval mode is left as it was."""
    device = torch.device(device) if device is not None else _model_device(model)
    loop = Loop(step or classify_step, loss_fn or nn.CrossEntropyLoss(), device,
                amp=hardware.resolve(amp, device, hardware.fast_amp, "amp"),
                channels_last=hardware.resolve(channels_last, device,
                                               hardware.fast_channels_last,
                                               "channels_last"),
                collate=collate)
    return _evaluate(model, _on_device(data, "data", device), loop, batch_size)


def _batched(X):
    """X as a tuple of equal-length tensors (one tensor, or several inputs of one model)."""
    inputs = (X,) if torch.is_tensor(X) else tuple(X)
    if not inputs or not all(torch.is_tensor(t) for t in inputs):
        raise ValueError(f"predict expects X as a tensor or a tuple of tensors; got "
                         f"{type(X).__name__}")
    if len({len(t) for t in inputs}) > 1:
        raise ValueError(f"predict: the inputs have different lengths "
                         f"{[len(t) for t in inputs]}")
    return inputs


def _cat(parts):
    """Concatenate per-batch outputs (a tensor, or a tuple of tensors or None) along dim 0."""
    first = parts[0]
    if torch.is_tensor(first):
        return torch.cat(parts)
    return tuple(None if part is None else torch.cat([p[i] for p in parts])
                 for i, part in enumerate(first))


def _to_cpu(out):
    if torch.is_tensor(out):   # half precision becomes float32; float64 stays
        low = out.dtype in (torch.float16, torch.bfloat16)
        return (out.float() if low else out).cpu()
    return tuple(None if o is None else _to_cpu(o) for o in out)


def predict(model, X, batch_size=1024, *, forward=None):
    """The model's outputs for X, batch by batch, in eval mode and without gradients, on the CPU.

    X: a tensor (N, ...) or a tuple of tensors, model(*inputs). `forward(model, *inputs)`
    replaces `model(*inputs)`, e.g. greedy decoding; it may return a tuple of tensors (or
    None). Half-precision outputs come back as float32. The model's mode is left as it was.
    """
    inputs = _batched(X)
    device = _model_device(model)
    forward = forward or (lambda m, *batch: m(*batch))
    parts = []
    with evaluating(model):
        for start in range(0, len(inputs[0]), batch_size):
            batch = [t[start:start + batch_size].to(device) for t in inputs]
            parts.append(_to_cpu(forward(model, *batch)))
    if not parts:
        raise ValueError("predict needs at least one example")
    return _cat(parts)


# ----------------------------------------------------------------------------------------- fit
def _check_settings(epochs, batch_size, lr, optimizer, momentum, weight_decay, lr_schedule,
                    val_split, clip_grad):
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"fit: epochs must be an integer >= 1; got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"fit: batch_size must be an integer >= 1; got {batch_size!r}")
    if lr is not None and not lr > 0:
        raise ValueError(f"fit: the learning rate lr must be > 0; got {lr!r}")
    if isinstance(optimizer, torch.optim.Optimizer):
        given = [name for name, value in (("lr", lr), ("momentum", momentum),
                                          ("weight_decay", weight_decay)) if value is not None]
        if given:
            raise ValueError(f"fit: the optimizer you passed has its own {', '.join(given)}; "
                             "set them when you build it, or name the optimizer "
                             f"({', '.join(OPTIMIZERS)}) and pass them to fit")
    elif isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"fit: unknown optimizer {optimizer!r}; choose one of "
                             f"{', '.join(OPTIMIZERS)} or pass a torch.optim.Optimizer")
        optimizer_settings(optimizer, momentum, weight_decay)      # raises when they clash
    else:
        raise ValueError(f"fit: optimizer must be a name ({', '.join(OPTIMIZERS)}) or a "
                         f"torch.optim.Optimizer; got {type(optimizer).__name__}")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"fit: unknown lr_schedule {lr_schedule!r}; choose None or 'onecycle'")
    if val_split is not None and not 0 < val_split < 1:
        raise ValueError(f"fit: val_split is the share of train held out for validation, "
                         f"strictly between 0 and 1; got {val_split!r}")
    if clip_grad is not None and not clip_grad > 0:
        raise ValueError(f"fit: clip_grad must be a positive gradient norm; got {clip_grad!r}")


def _callbacks(callbacks, live, epochs, title, out):
    callbacks = list(callbacks)
    if isinstance(live, LiveCurves):
        callbacks.append(live)
    elif live:
        callbacks.append(LiveCurves(epochs, title=title, out=out,
                                    mode=live if isinstance(live, str) else None))
    return callbacks


def fit(model, train, test=None, *, epochs, val=None, val_split=None, batch_size=128,
        optimizer="adam", lr=None, momentum=None, weight_decay=None, lr_schedule=None,
        clip_grad=None, step=None, loss_fn=None, collate=None, amp=False, channels_last=False,
        device=None, seed=0, stop_at=None, test_every_epoch=None, callbacks=(), live=True,
        title=None, out=None):
    """Train `model` on `train` for `epochs` passes of `train_epoch`; return a `History`.

    Data
      train, val, test: TensorDatasets, tuples of equal-length tensors (X, y, ...), or any
        Dataset. Validation is measured after every epoch; the test set once, at the end,
        when there is validation data, else after every epoch (reported, never used for a
        choice).
      val_split: hold out this share of train (e.g. 0.1) for validation, the same examples
        every run whatever the seed; instead of val.
      batch_size: examples per update (evaluation uses at least 1024 per batch).
      collate: how a Dataset's items become a batch (its DataLoader's collate_fn).
    Updates
      optimizer: "sgd" (plain), "momentum", "nesterov", "adam" or "adamw" (see
        companion.learning.OPTIMIZERS), or a torch.optim.Optimizer built with its own
        settings (then lr, momentum and weight_decay stay unset).
      lr: the learning rate, default 1e-3; with lr_schedule="onecycle" the peak rate.
      momentum: "momentum" and "nesterov" only, default 0.9.
      weight_decay: default 0, for "adamw" 0.01.
      lr_schedule: None (a constant lr) or "onecycle" (warm up to lr, then anneal to near 0;
        like PyTorch's OneCycleLR it also cycles the momentum of "momentum" and "nesterov",
        and Adam's beta1, between 0.95 and 0.85; plain "sgd" stays plain). With an optimizer
        you built, each param group's own lr is its peak (the same peak again when it has run
        a one-cycle schedule before), and the cycle replaces its momentum (or beta1).
      clip_grad: rescale the gradient to at most this norm (float("inf") only measures it).
    A batch
      step: what a batch means: classify_step (the default), next_token_step, seq2seq_step
        or your own; loss_fn: default nn.CrossEntropyLoss().
      amp: bfloat16 autocast; channels_last: NHWC layout for 4-D inputs; "auto" turns each on
        only where it is faster on this machine (companion.hardware).
      device: default CUDA when available, else the CPU; the model moves there and stays (a
        channels-last model comes back in the default layout).
      seed: the shuffling order and in-model randomness (dropout); the same seed and initial
        weights give the same History on the CPU.
    Stopping and watching
      stop_at: stop after the first epoch whose validation accuracy reaches this value.
      test_every_epoch: True measures the test set after every epoch even with validation.
      callbacks: objects with any of batch_end(BatchRecord), epoch_end(history),
        fit_end(history) (always called, even after an error).
      live: curves that redraw in a notebook (into the ipywidgets.Output `out` if given), a
        line per epoch in a script; False for silence, a LiveCurves mode ("render", "text",
        ...) or a LiveCurves of your own. title: the curves' title.
    """
    _check_settings(epochs, batch_size, lr, optimizer, momentum, weight_decay, lr_schedule,
                    val_split, clip_grad)
    step = step or classify_step
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    if val_split is not None:
        if val is not None:
            raise ValueError("fit: pass either val (a data set) or val_split, not both")
        train, val = split(train, val_split)
    if stop_at is not None and val is None:
        raise ValueError("fit: stop_at needs validation data (val= or val_split=): a choice "
                         "made on the test set would make the test score optimistic")
    given = {name: d for name, d in (("train", train), ("val", val), ("test", test))
             if d is not None}
    if step is classify_step and isinstance(loss_fn, nn.CrossEntropyLoss):
        for name, d in given.items():
            tensors = _tensors(d, name)
            if tensors is not None:
                _check_labels(tensors, name)
    if test_every_epoch is None:
        test_every_epoch = val is None

    device = _pick_device(device)
    loop = Loop(step, loss_fn, device,
                amp=hardware.resolve(amp, device, hardware.fast_amp, "amp"),
                channels_last=hardware.resolve(channels_last, device,
                                               hardware.fast_channels_last,
                                               "channels_last"),
                collate=collate)
    model.to(device)
    if loop.channels_last:
        model.to(memory_format=torch.channels_last)
    torch.manual_seed(seed)  # dropout and other in-model randomness
    generator = torch.Generator().manual_seed(seed)  # the shuffling order
    passed = not isinstance(optimizer, str)
    if not passed:
        optimizer = make_optimizer(optimizer, model.parameters(),
                                   DEFAULT_LR if lr is None else lr, source=torch.optim,
                                   momentum=momentum, weight_decay=weight_decay)
    data = {name: _on_device(d, name, device) for name, d in given.items()}
    num_batches = -(-_length(data["train"]) // batch_size)
    scheduler = None
    if lr_schedule == "onecycle":   # it cycles momentum (Adam's beta1) too; plain SGD has none
        peak = DEFAULT_LR if lr is None else lr
        if passed:   # an optimizer built by the caller: each param group's lr is its peak
            # (kept as max_lr by an earlier one-cycle run, whose last lr is near 0)
            peak = [group.get("max_lr", group["lr"]) for group in optimizer.param_groups]
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=peak, total_steps=epochs * num_batches,
            cycle_momentum="betas" in optimizer.defaults
            or optimizer.defaults.get("momentum", 0) > 0)
    callbacks = _callbacks(callbacks, live, epochs, title, out)
    watchers = [cb for cb in callbacks if hasattr(cb, "batch_end")]
    history = History(perplexity=isinstance(loss_fn, nn.CrossEntropyLoss))
    eval_size = max(batch_size, 1024)
    epoch = 0

    def watch(totals, loss, grad_norm):
        if stop_at is not None and totals.correct is None:   # known after one batch
            raise ValueError("fit: stop_at reads validation accuracy, but this step reports "
                             "no accuracy")
        record = BatchRecord(history, epoch, totals.batches, num_batches, loss, totals,
                             grad_norm)
        for watcher in watchers:
            watcher.batch_end(record)

    try:
        for epoch in range(epochs):
            start = time.perf_counter()
            totals = train_epoch(model, loop.batches(data["train"], batch_size, generator),
                                 optimizer, loop, scheduler=scheduler, clip_grad=clip_grad,
                                 on_batch=watch if watchers or stop_at is not None
                                 else None)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            history.seconds.append(time.perf_counter() - start)
            history.add("train", totals.mean_loss, totals.accuracy)
            splits = ["val"] if val is not None else []
            splits += ["test"] if test is not None and test_every_epoch else []
            for name in splits:
                history.add(name, *_evaluate(model, data[name], loop, eval_size))
            stop = stop_at is not None and history.val_acc[-1] >= stop_at
            if test is not None and not test_every_epoch and (stop or epoch == epochs - 1):
                history.add("test", *_evaluate(model, data["test"], loop, eval_size))
            for cb in callbacks:
                if hasattr(cb, "epoch_end"):
                    cb.epoch_end(history)
            if stop:
                break
    finally:
        if loop.channels_last:
            model.to(memory_format=torch.contiguous_format)
        for cb in callbacks:
            if hasattr(cb, "fit_end"):
                cb.fit_end(history)
    return history
