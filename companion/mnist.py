"""The MNIST chapter's models: the source article's CNN and the speedrun nets and recipes.

- `seed_cnn()`: the Keras model the chapter starts from, in PyTorch (225,034 parameters),
  initialised as Keras does (`keras_init_`); `keras_adam` is Adam with Keras' settings.
- `confusion_matrix`: counts of (true, predicted) pairs (their figure, `show_confusion`, is in
  companion/show/mnist.py).
- `speedrun_net()`: a lean conv net that reads raw (N, 1, 28, 28) images in [0, 1]; its first
  module, `PrepareDigits`, standardizes, crops and rearranges them (and shifts them at random
  while training, when asked), so the saved model needs no separate preprocessing.
- `ShiftAverage(model)`: test-time augmentation, the average over one-pixel shifts.
- `Checkpoints`: a `fit` callback that notes accuracies and first-layer filters within an epoch.
- `recipe_settings`: a run's settings as one column of the chapter's settings table.
- `SPEEDRUNS` and `speedrun(train, test, target)`: the book's fixed recipes for 99.0 % and
  99.5 % test accuracy, chosen on a validation split (see the comments above SPEEDRUNS),
  shared by the chapter, `benchmarks/bench_mnist.py` and the tests; `recipe_fit_args`: a
  recipe's `fit` arguments for a model, its Muon optimizer built.

Used in: book/08_mnist.ipynb, book/04_resnet.ipynb (`seed_cnn`); tests/test_mnist.py;
benchmarks/bench_mnist.py.
"""
import inspect
import time

import torch
import torch.nn.functional as F
from torch import nn

from .data import MNIST_MEAN, MNIST_STD  # noqa: F401  (re-exported for the chapter and tests)
from .muon import Muon, muon_groups
from .training import evaluate, fit


def seed_cnn():
    """The source article's Keras CNN in PyTorch: (N, 1, 28, 28) -> (N, 10).

    Conv2D(32, 3x3, ReLU) -> MaxPool(2) -> Conv2D(64, 3x3, ReLU)
    -> MaxPool(2) -> Flatten -> Dense(128, ReLU) -> Dropout(0.5)
    -> Dense(10). Keras' final softmax is left out: `nn.CrossEntropyLoss`
    applies log-softmax itself. Initialised as Keras does it
    (`keras_init_`). 225,034 parameters.
    """
    return keras_init_(nn.Sequential(                 # (N, 1, 28, 28)
        nn.Conv2d(1, 32, kernel_size=3), nn.ReLU(),   # (N, 32, 26, 26)
        nn.MaxPool2d(2),                              # (N, 32, 13, 13)
        nn.Conv2d(32, 64, kernel_size=3), nn.ReLU(),  # (N, 64, 11, 11)
        nn.MaxPool2d(2),                              # (N, 64, 5, 5)
        nn.Flatten(),                                 # (N, 1600)
        nn.Linear(64 * 5 * 5, 128), nn.ReLU(),        # (N, 128)
        nn.Dropout(0.5),
        nn.Linear(128, 10),                           # (N, 10) logits
    ))


def keras_init_(model):
    """Initialise `model` in place as Keras does: Glorot-uniform kernels
    (weights), zero biases. PyTorch's default differs (Kaiming-uniform
    with a=sqrt(5), small random biases). Returns `model`."""
    for layer in model.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight)  # Glorot & Bengio (2010)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return model


def keras_adam(params, lr=1e-3):
    """Adam with Keras' defaults: lr 0.001, betas (0.9, 0.999), eps 1e-7
    (PyTorch's default eps is 1e-8)."""
    return torch.optim.Adam(params, lr=lr, eps=1e-7)


def confusion_matrix(y_true, y_pred, num_classes=10):
    """Counts (num_classes, num_classes): row i, column j counts the examples of
    class i predicted as class j; the diagonal holds the right answers."""
    y_true, y_pred = torch.as_tensor(y_true), torch.as_tensor(y_pred)
    if y_true.shape != y_pred.shape or y_true.dim() != 1:
        raise ValueError(f"confusion_matrix expects two label vectors of the same "
                         f"shape (N,); got {tuple(y_true.shape)} and "
                         f"{tuple(y_pred.shape)}")
    cells = y_true.long() * num_classes + y_pred.long()         # (N,) cell index
    counts = torch.bincount(cells, minlength=num_classes ** 2)
    return counts.reshape(num_classes, num_classes)


class PrepareDigits(nn.Module):
    """Standardize, crop to `size` x `size` and fold each 2x2 block of pixels into channels.

    (N, 1, 28, 28) in [0, 1] -> (N, 4, size/2, size/2). The crop is centred; while training,
    with `max_shift` > 0, each image's crop window moves by up to `max_shift` pixels in each
    direction (a random translation, the augmentation that suits digits).
    """

    def __init__(self, size=24, max_shift=0):
        super().__init__()
        if size % 2 or not 2 <= size <= 28 or (28 - size) // 2 < max_shift:
            raise ValueError(f"PrepareDigits: size must be even, at most 28 and leave room for "
                             f"max_shift={max_shift} pixels on each side; got size={size}")
        self.size, self.max_shift = size, max_shift

    def forward(self, X):                             # (N, 1, 28, 28)
        if X.dim() != 4 or X.shape[1:] != (1, 28, 28):
            raise ValueError(f"PrepareDigits expects images of shape "
                             f"(N, 1, 28, 28); got {tuple(X.shape)}")
        X = (X - MNIST_MEAN) / MNIST_STD              # training mean, std
        margin, size = (28 - self.size) // 2, self.size
        if self.training and self.max_shift > 0:      # random crop window
            n = len(X)
            steps = torch.arange(size, device=X.device)
            m = self.max_shift
            shift = torch.randint(-m, m + 1, (2, n, 1), device=X.device)
            rows = (margin + shift[0] + steps)[:, :, None]   # (N, size, 1)
            cols = (margin + shift[1] + steps)[:, None, :]   # (N, 1, size)
            batch = torch.arange(n, device=X.device)[:, None, None]
            X = X[:, 0][batch, rows, cols].unsqueeze(1)  # (N, 1, size, size)
        else:                                         # the centred crop
            X = X[:, :, margin:margin + size, margin:margin + size]
        return F.pixel_unshuffle(X, 2)                # (N, 4, size/2, size/2)

    def extra_repr(self):
        return f"size={self.size}, max_shift={self.max_shift}"


def conv_bn_relu(in_channels, out_channels, pool=False):
    """3x3 convolution (same padding) -> [2x2 max-pool] -> batch norm -> ReLU.

    Pooling before the normalization gives the same kind of layer at a quarter of the cost of
    the normalization and activation.
    """
    layers = [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    layers += [nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def speedrun_net(widths=(16, 32, 64), size=24, max_shift=0, pools=(False, True, True)):
    """A lean conv net for the speedrun: raw (N, 1, 28, 28) images in [0, 1] -> (N, 10) logits.

    PrepareDigits (N, 4, 12, 12) -> three conv_bn_relu layers of `widths` = (c1, c2, c3)
    channels, each followed by a 2x2 max-pool where `pools` says so -> linear (N, 10).
    The default pools after the 2nd and 3rd: (N, c1, 12, 12) -> (N, c2, 6, 6) -> (N, c3, 3, 3).
    """
    if len(widths) != 3 or any(int(w) < 1 for w in widths):
        raise ValueError(f"speedrun_net: widths must be three positive channel counts; "
                         f"got {widths!r}")
    if len(pools) != 3 or sum(bool(p) for p in pools) != 2:
        raise ValueError(f"speedrun_net: pools must say for each of the three layers "
                         f"whether it pools, two of them True; got {pools!r}")
    c1, c2, c3 = (int(w) for w in widths)
    side = size // 2 // 4  # two 2x2 poolings after the 2x2 fold
    return nn.Sequential(
        PrepareDigits(size, max_shift),           # (N, 4, size/2, size/2)
        conv_bn_relu(4, c1, pool=pools[0]),
        conv_bn_relu(c1, c2, pool=pools[1]),
        conv_bn_relu(c2, c3, pool=pools[2]),      # (N, c3, side, side)
        nn.Flatten(),                             # (N, c3 * side * side)
        nn.Linear(c3 * side * side, 10),          # (N, 10) logits
    )


class ShiftAverage(nn.Module):
    """Test-time augmentation: in eval mode, average `model`'s class probabilities over the image
    and four copies shifted by one pixel (up, down, left, right).

    (N, 1, 28, 28) -> (N, 10) log-probabilities, which `nn.CrossEntropyLoss` and `argmax` read
    like logits. In training mode it is `model` unchanged. Used by both speedrun recipes.
    """

    SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))  # (rows, columns)

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, X):                                           # (N, 1, 28, 28)
        if self.training:
            return self.model(X)
        probs = torch.stack([self.model(torch.roll(X, shift, dims=(2, 3))).float().softmax(dim=1)
                             for shift in self.SHIFTS])             # (5, N, 10)
        return probs.mean(dim=0).clamp_min(1e-30).log()             # (N, 10)


# The book's recipes: the net's settings, the `fit` arguments, the loss's label smoothing,
# whether the model averages over shifted copies at test time, the validation accuracies
# the recipe was chosen by (and where they were measured), and the test accuracies measured
# after it was fixed.
# Each is a fixed schedule decided in advance, as in speedrun records: it runs all its epochs
# (no early stopping), and its test accuracy is measured once, at the end.
# How the first 99 % recipe and the first 99.5 % recipe were chosen (2026-12-06; both were
# later replaced, by validation-only searches, below: `replaced` holds each one): candidates were
# trained on the chapter's validation split (`split(mnist.train, 1 / 6, seed=0)`: 50,000
# training images, 10,000 held out) and judged by
# the validation accuracy after their last epoch, two seeds to screen, then seeds 0-4 for the
# finalist. The settings were fixed on validation alone, and none changed afterwards; but the
# search started from earlier recipes that had been sized on test, and the chapter's own
# full-mode run (15:08-15:20) printed seed 0's test accuracy of both finalists before
# validation seeds 3-4 of the 99 % recipe and 2-4 of the 99.5 % one had run (15:20-15:25).
# Validation seeds 0-2 (99 %) and 0-1 (99.5 %) ran earlier, on two threads; 3-4 and 2-4 on
# one. `validation` holds the accuracies by seed (0-4), shifts included where the recipe uses
# them. Then the test set, never to choose anything (the record holds one test run per seed;
# seed 0 of each recipe had also been tested by the chapter's page, above): `test` holds the
# test accuracies of seeds 0-4, each trained on all 60,000 training images with the calls
# benchmarks/bench_mnist.py makes (runs c and d; 2026-12-06, one thread, this AVX2 machine, so
# float32 + channels_last). Both recipes score higher on test than on validation (by 0.26 and
# 0.15 points on the means); the final runs also train on 20 % more images. To tell the two
# apart, after the recipes were fixed, the 99 % recipe's validation models of seeds 0-4 (50,000
# images) were also scored once on the test set, choosing nothing: `same_model_test`. Seed 0:
# its validation run (two threads), which the chapter's section 3 repeats, reproduced 99.10 %
# on validation and scored 99.22 % on test. Seeds 1-4: their validation runs repeated
# (2026-12-06 21:13-21:15, seeds 1-2 on two threads and 3-4 on one, as recorded; each
# reproduced its recorded validation accuracy exactly), then scored on test. Over seeds 0-4 the
# gap of +0.26 points splits into +0.21 with the test images (the same models, higher on test
# for all five seeds) and +0.05 with the final runs (their extra training images, and for
# seeds 0-2 one thread instead of two); seed 0 alone: +0.12 and +0.04. The first 99.5 %
# recipe's gap is not split. The Muon 99.5 % recipe's (+0.082 points, 2026-12-07, below) splits
# into +0.046 with the test images and +0.036 with the extra images: the benchmark's run v of
# 2026-12-07 (round 6, below) also retrained its validation seeds, reproducing them exactly,
# and scored them on test (`same_model_test`). (The
# recipes of earlier versions had been sized on test accuracy; these replace them.)
# Validation means of the screening runs, seeds 0 and 1, are in the comments; "shifts" =
# ShiftAverage at evaluation.
# A later search (2026-12-07; a 2-core AVX-512 machine, bfloat16 + channels_last unless noted;
# validation only, the test set never evaluated) looked for recipes that reach the goals: for 99 %,
# a validation mean of 99.0 % in at most 0.79x the first 99 % recipe's training time (25x faster
# than the baseline); for 99.5 %, a validation mean of 99.5 % in at most 0.95x its time. On that
# machine the first 99 % recipe scored 99.00 % (seeds 0-4) and the first 99.5 % recipe 99.46 %.
# Each item changes the recipe as it says; validation means of seeds 0-1 unless noted; times are
# ratios to the recipe's, measured on a shared machine where whole runs varied 20-40 % (round 1:
# epochs interleaved in one process; round 2: whole runs back to back). Rounds 1-3 adopted none:
# none was shown to reach both bars with the recipes' five test-time views, the rule fixed before
# looking (two 99 % candidates at 99.00 % on seeds 0-1 were not run further, one of them not
# timed):
#   99 %: batch 256 at peak lr 0.02, 0.03, 0.04, 0.05: 98.94, 98.98 (seeds 0-4), 99.00, 98.995 %,
#   at about 0.8x the time (0.71-0.96x); batch 256, lr 0.03 with the warm-up over 20 % of the
#   steps: 98.94 %, with label smoothing 0.05: 98.99 %; batch 192, lr 0.02: 99.02 % at 0.87-0.94x
#   (not run on more seeds); batch 224, 384, 512 (lr 0.025, 0.04, 0.06): 98.95, 98.86, 98.82 %;
#   Nesterov SGD at batch 256 (lr 0.3, weight decay 5e-4): 98.67 %; pooling in layers 1 and 3:
#   98.905 %; so pooled with widths (32, 48, 64): 99.05 %, slower; the same at batch 256, lr 0.03:
#   99.02 % (seeds 0-4) at 0.86-0.88x, 1.03x with AVX2 kernels; widths (12, 24, 48): 98.72 %
#   (seed 0); float32 instead of bfloat16: 99.07 % (seed 0), no faster; 80 % of the epoch: 98.94 %
#   (seeds 0-4); averaged weights (EMA) at the end: +0.01.
#   99.5 %: at batch 192 (lr 0.4): 99.46 % (seeds 0-4), no faster; so with AVX2 kernels (float32):
#   99.475 % against the recipe's 99.46 % on the same seeds; so at lr 0.5 with weight decay 1e-3:
#   99.425 %; batch 160 (lr 0.35): 99.435 %; batch 128 (lr 0.3): 99.42 %, slower; lr 0.6 with
#   weight decay 1e-3: 99.457 % (seeds 0-3); lr 0.8 with 1e-3: 99.45 %; lr 0.6 with 2e-3: 99.395 %;
#   lr 0.6 with 1e-3 and dropout 0.2 before the linear layer: 99.38 %; widths (16, 64, 128), lr
#   0.6, 1e-3: 99.465 % at 1.12x the time; batch 384 at lr 0.6: 99.42 % at 0.89x with weight decay
#   1e-3, 99.405 % with 5e-4; batch 512 (lr 0.8): 99.395 %; EMA: within 0.01; no random shifts in
#   the last epoch: 99.435 %. (Runs meant to change the number of epochs ran all 6: a bug in the
#   search's script, found in the second round.)
#   A second round tried structural changes. 99.5 %: 5 epochs: 99.42 %; 5 epochs with the first
#   layer's filters set to whitening filters of the 3x3 patches of PrepareDigits' output (after
#   Keller Jordan's CIFAR-10 airbench, which freezes its 2x2 ones; here left trainable): 99.43 %; 5
#   epochs with random rotations (+-10 degrees) and scaling (0.9-1.1) besides the shifts: 99.44 %;
#   both: 99.48 % (seeds 0-4, min 99.44) at 0.80-0.91x the time, 0.85-0.87x with AVX2 kernels
#   (99.49 % against the recipe's 99.46 % on seeds 0-1 there): the closest candidate, short of
#   99.5 % (99.500 % with nine test-time views, which the rule does not count), and it needs code
#   the companion lacks; 4 epochs with whitening: 99.385 %; 6 epochs with whitening: 99.446 %
#   (seeds 0-4), frozen: 99.42 %; 6 epochs with the distortions alone: 99.465 %, with both:
#   99.435 %; a 20-pixel crop, 6 epochs: 99.425 % (0.83x), with whitening: 99.45 %, 7 epochs:
#   99.43 %. 99 % (at batch 256, lr 0.03, unless noted): whitening: 98.99 % (seeds 0-4), frozen
#   98.955 %, rescaled 98.995 %, 16 eigenvectors 98.97 %; Adam's beta2 0.99 (beta1 is cycled by the
#   schedule): 98.954 % (seeds 0-4); pooling in layers 1 and 3 with widths (24, 48, 64): 99.00 %;
#   batch 192 at lr 0.02 with a 15 % warm-up: 99.01 %; a 20-pixel crop at batch 128 (lr 0.01), 256
#   (lr 0.03), 192 (lr 0.02): 98.865, 98.82, 98.85 % at 0.6-0.75x.
#   A third round started from that closest candidate (itself 99.475 % on seeds 0-1): the
#   distortions stopped after 80 % of the steps: 99.48 % (seeds 0-4), the candidate's own mean, at
#   0.89x the time (one of five paired runs at 0.97x); so with widths (24, 48, 112): 99.465 %;
#   stopped after 60 %: 99.466 % (seeds 0-4); widths (24, 48, 112) alone: 99.465 %; 5.5 epochs (6
#   on an 11/12 subset): 99.455 %; batch 224 (lr 0.35), 160 (lr 0.25): 99.445, 99.46 %; rotations
#   of +-15 degrees and scaling 0.85-1.15: 99.44 %. A recipe's five seeds spread over up to 0.1
#   points, more than any of these changes.
#   Nine test-time views (the five shifts and the four diagonal ones) instead of five moved a
#   candidate's mean by -0.035 to +0.055 points (the two recipes: -0.002 and +0.01).
# Rounds 4 and 5 (2026-12-07, the same AVX-512 machine and rules) tried Muon (companion/muon.py)
# for the convolution filters, the other parameters staying on the recipe's optimizer. The raw runs
# of both rounds, every candidate's seeds and seconds, are in the notes of that session (recipes4/
# and recipes5/results.jsonl, outside the repository). Round 4 (a script's own Muon with a fixed
# momentum of 0.9, Adam or Nesterov SGD for the rest, a schedule shaped like one-cycle; an
# optimizer slower per step than companion.muon's): 99 %, Muon lr 0.05, 0.1, 0.2 at batch 128 (seed
# 0): 99.20, 99.10, 99.13 % at 1.09-1.13x; at batch 256 (Adam 0.02): Muon 0.05: 99.04 %, 0.1:
# 99.054 % (seeds 0-6) at 0.83-0.88x (Adam alone at batch 256, lr 0.03: 98.98 % at 0.76-0.88x: most
# of the time saved is the batch), 0.2: 99.11 % (seed 0); 3 Newton-Schulz steps: 99.07 % (seeds
# 5-6); a linear schedule: 99.04 %; batch 384 (0.15): 98.98 % (seeds 0-4); batch 512:
# 98.86-98.91 %; 70 % of the epoch: 98.895 %, 85 %: 98.99 % (seeds 0-4); Muon's steps scaled to
# Adam's size: 98.996 % (seeds 0-4); the output layer under Muon too: 99.06 %, so scaled 99.072 %
# (seeds 0-4), at about 0.91x (single runs 0.72-1.05x). 99.5 %, Muon on the filters, 6 epochs
# (against the recipe's 99.44 % on the same seeds): lr 0.05, 0.1, 0.2: 99.49, 99.51, 99.50 % at
# 1.11-1.16x (one run of lr 0.2 at 1.44x); 5 epochs, lr 0.1, 0.15: 99.46 % at 0.92-0.95x, 99.505 %
# (the adopted settings, at 1.22-1.38x with this round's optimizer); batch 384 (0.15, SGD 0.6), 6
# epochs: 99.505 % at 1.5x; 3 Newton-Schulz steps (lr 0.1, 6 epochs): 99.485 % at 1.09-1.17x. Round
# 5, with companion.muon and fit's one-cycle schedule (which cycles both groups' momentum between
# 0.85 and 0.95): 99 %, batch 256, Muon lr 0.1 and SGD (Nesterov) 0.1, 0.2, 0.05 for the rest:
# 99.045, 98.965, 98.94 % at 0.80-0.86x; Muon 0.2 with SGD 0.1: 99.01 % at 0.70 and 0.88x (its
# seed-0 control ran slow), not run further: the first 99 % recipe stayed, until round 6 (no
# candidate was shown to keep 99.0 % on five seeds within 0.79x). 99.5 %, weight decay 5e-4 on the
# rest (seeds 0-4 unless noted; the recipe 99.456 % on the same seeds): 6 epochs, Muon lr 0.1:
# 99.455 % (seeds 0-1) at 1.15-1.24x; 5 epochs, lr 0.1: 99.502 % at 0.93-1.08x; 5 epochs, lr 0.15:
# 99.522 % (min 99.48) at 0.80-0.98x in five paired runs (mean 0.93x; three of five above 0.95x, so
# the time bar is met on the mean only; seeds 0-1 of round 5 ran before companion.muon's SGD part
# was rewritten with _foreach_ calls, which changed its speed, not its arithmetic: seed 0 rerun
# through `speedrun` afterwards gave the same 0.9948): ADOPTED below. It had the best five-seed
# mean of the Muon search (twelve candidates, five run on five seeds; on seeds 0-1 three others
# scored 99.505-99.51 % against its 99.50 %), which came after dozens of other candidates on these
# validation images, so its 0.022-point margin over 99.5 % is optimistic by about the selection's
# luck; batch 384 (0.15, SGD 0.6), 6 and 5 epochs: 99.498, 99.488 %. Then the adopted recipe's
# seeds 0-4 on the same machine with AVX2 routines emulated (ATEN_CPU_CAPABILITY=avx2
# ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2; float32): 99.514 %
# (`validation_avx2_emulated`; the first 99.5 % recipe 99.45 % on the same seeds there) at
# 0.84-0.94x its time in five paired runs. Seed 0 repeated through `speedrun` itself reproduced
# 0.9948. The test runs followed (benchmarks/bench_mnist.py, run d).
# Round 6 (2026-12-07, the same AVX-512 machine and rules, two threads; every candidate run with
# AVX2 routines emulated, float32, since the benchmark's run of the first recipe with them had
# missed the 99 % goal (20.8x); raw runs in that session's notes, recipes6/results.jsonl) looked
# again for a 99 % recipe: a validation mean of 99.0 % (seeds 0-4) in at most 0.8x the first 99 %
# recipe's training time, times from runs paired with that recipe in the same process (the first
# recipe there: 99.018 %, seeds 0-4). Screened on seeds 0-1 unless noted. Widths (16, 32, 48),
# (16, 24, 48), (16, 24, 64) with Adam: 98.90 (seed 0), 98.88 (seed 0), 98.985 %; (16, 24, 48) and
# (16, 24, 64) at lr 0.015: 98.88, 98.965 %; a 22-pixel crop: 98.81 % (seed 0), at lr 0.015:
# 98.91 %; Adam at batch 256, lr 0.03 (tried before; a timing reference): 98.975 % at 0.54 and
# 0.88x; Muon for the filters (lr 0.1, the rest SGD 0.1) at batch 192: 99.065 % at 0.93-1.04x, so
# with widths (16, 32, 48): 98.97 %; Muon with widths (16, 24, 48) at batch 128: 98.95 %; Muon
# 0.15 / SGD 0.1 at batch 256: 99.02 %; Muon 0.1 / SGD 0.1 at batch 256 with label smoothing 0.05:
# 98.97 %; batch 384 (Muon 0.2, SGD 0.2): 98.94 %. Pooling after layers 1 and 3 instead of 2 and 3
# (a quarter of the positions from layer 2 on): with Adam 98.87 % (seed 0), so with widths
# (32, 32, 64): 99.065 % at 0.84-1.07x; with Muon 0.1 / SGD 0.1: 99.04 %; with Muon 0.15 / SGD 0.1:
# 99.106 % (seeds 0-4) at a median 0.79x (11 pairs, 4 above 0.8x); with widths (24, 32, 64) at Muon
# 0.1 / SGD 0.1: 99.13 % (seed 0) at 0.91x; so with widths (16, 32, 48): 99.062 % (seeds 0-4, min
# 99.00) at a median 0.71x (13 pairs, 0.60-0.88x, 2 above 0.8x): ADOPTED below; so at Muon
# 0.1 / SGD 0.1: 99.055 %; widths (16, 24, 64), (16, 32, 56): 99.04, 99.035 %; with widths
# (16, 32, 64) again, Muon 0.1 / SGD 0.1 at batch 192: 99.03 % (seeds 0-4, min 98.94) at 0.65-0.80x
# (13 pairs, median 0.70x), the runner-up; at batch 192 with Muon 0.15, with other_lr 0.2, with
# weight decay 5e-4: 99.03, 98.99, 99.04 %; batch 160 and 256 (Muon 0.15, SGD 0.1 and 0.15): 99.01,
# 98.995 %. The choice: the higher validation mean among the candidates whose median paired time
# was clearly under 0.8x (the adopted one 0.71x, the runner-up 0.70x); the one with widths
# (16, 32, 64) and Muon 0.15 had the highest mean but a median of 0.79x, 4 of its 11 pairs above
# 0.8x, and was set aside. Then the two finalists' seeds 0-4 natively (bfloat16), paired with the
# first recipe (99.004 % there): the adopted one 99.040 % at 0.62-0.85x (median 0.83x, mean 0.78x:
# natively above the 0.8x bar, which was set for the emulated runs, where the goal had failed), the
# runner-up 99.016 % at 0.71-0.77x. About 28 candidates were compared on the same validation
# images, so the adopted recipe's 0.04-0.06-point margin over 99.0 % is flattered by the selection.
# Seed 0 through `speedrun` itself reproduced 0.9917 (emulated). The test runs followed
# (benchmarks/bench_mnist.py, runs v and c, natively, two threads): run v retrained seeds 0-4 on
# the validation split, reproducing each recorded validation accuracy exactly, and scored those
# models once on test (`same_model_test`); run c gave `test`. Its gap of +0.25 points splits into
# +0.20 with the test images (all five seeds higher) and +0.05 with the final runs' extra training
# images, as the first recipe's did.
SPEEDRUNS = {
    # 99 %, with shifts: one epoch of speedrun_net (16, 32, 48) pooling after layers 1 and 3,
    # Muon (companion/muon.py) for the filters at peak lr 0.15, SGD with Nesterov momentum at
    # peak 0.1 for the rest, no weight decay, one-cycle, label smoothing 0.1 (round 6 above).
    # On 2026-12-07 it replaced the first 99 % recipe (`replaced`): the network (16, 32, 64)
    # pooling after layers 2 and 3, Adam at peak 0.01, the rest the same. Its search: the recipe
    # before it (SGD + Nesterov, batch 256, peak lr 0.2) reached 98.75 %. Batch 128 at lr 0.2:
    # 98.92 %; at 0.3: 98.95 %; batch 64 at 0.1: 99.01 % but 1.3x the time per image; batch 512:
    # 97.81 %; pooling in the first layer: 98.56 % (faster, less accurate); Adam at peak lr
    # 0.01: 98.88 % (batch 256), 98.95 % (batch 128); Adam 0.003: 98.44 %. Wider nets gained
    # nothing for their time. Shifts added 0.04-0.12 points over the unshifted runs above: batch
    # 128 SGD lr 0.3: 99.03 %, batch 64: 99.05 %, Adam 0.01 batch 128: 99.07 % (label smoothing
    # 0.2 instead: 98.85 %). The Muon recipe was fixed on validation (seeds 0-4, on the AVX-512
    # machine both natively and with AVX2 routines emulated) before any test run of it.
    0.99: dict(net=dict(widths=(16, 32, 48), max_shift=0, pools=(True, False, True)),
               label_smoothing=0.1, test_time_shifts=True,
               fit=dict(epochs=1, batch_size=128, optimizer="muon", lr=0.15, other_lr=0.1,
                        weight_decay=0.0, lr_schedule="onecycle"),
               validation=(0.9903, 0.991, 0.9903, 0.9898, 0.9906),   # mean 99.04 %
               validation_on=("2026-12-07, a 2-core AVX-512 machine (bfloat16 + "
                              "channels_last), two threads"),
               validation_avx2_emulated=(0.9917, 0.99, 0.9904, 0.9903, 0.9907),  # 99.06 %
               # its training time over the first recipe's, in runs paired in one process on
               # the validation split: seeds 0-4 natively; 13 pairs (seeds 0-6) emulated
               time_vs_replaced=(0.85, 0.74, 0.62, 0.83, 0.84),
               time_vs_replaced_avx2_emulated=(0.77, 0.65, 0.68, 0.64, 0.81, 0.71, 0.61, 0.88,
                                               0.78, 0.78, 0.77, 0.69, 0.6),
               test=(0.9926, 0.993, 0.9925, 0.9929, 0.9934),        # mean 99.29 %
               same_model_test=(0.9927, 0.9923, 0.9918, 0.9924, 0.9926),   # mean 99.24 %
               replaced=dict(net=dict(widths=(16, 32, 64), max_shift=0,
                                      pools=(False, True, True)),
                             fit=dict(epochs=1, batch_size=128, lr=0.01, optimizer="adam",
                                      weight_decay=0.0, lr_schedule="onecycle"),
                             validation=(0.991, 0.9904, 0.9898, 0.9904, 0.9899),  # 99.03 %
                             validation_on=("2026-12-06, a 2-core AVX2 machine (float32 + "
                                            "channels_last), seeds 0-2 on two threads, 3-4 "
                                            "on one"),
                             validation_bf16=(0.9903, 0.9904, 0.9896, 0.9901, 0.9898),
                             validation_avx2_emulated=(0.991, 0.9904, 0.9898, 0.9897, 0.99),
                             test=(0.9926, 0.9929, 0.9927, 0.9932, 0.9933),   # 99.29 %
                             same_model_test=(0.9922, 0.9918, 0.9919, 0.9932, 0.9929))),
    # 99.5 %, with shifts: five epochs, Muon (companion/muon.py) for the convolution filters at
    # peak lr 0.15, SGD with Nesterov momentum at peak 0.4 and weight decay 5e-4 for the rest
    # (rounds 4-5 above). On 2026-12-07 it replaced the first 99.5 % recipe (`replaced`): the
    # same network and shifts, 6 epochs of SGD + Nesterov for every parameter. That one's
    # validation mean, 99.46 % (2026-12-06, an AVX2 machine, float32), fell short of 99.5 %; its
    # test mean, 99.61 %, was reported as it was, not re-tuned (its seed-0 test accuracy had
    # been printed once by the chapter before its validation seeds 2-4 ran). Its validation
    # seeds were rerun beside the Muon recipe's on 2026-12-07 (`validation_bf16`, the AVX-512
    # machine's bfloat16; `validation_avx2_emulated`). Its own search: the recipe before it
    # (16, 32, 64, random shifts
    # of up to 2 pixels, 8 epochs, batch 256, peak lr 0.4): 99.41 % (seeds 0-2). At 6 epochs:
    # shifts of 2 pixels 99.30 %, of 1 pixel 99.39 %; widths (24, 48, 96) pooling after layers
    # 1 and 3: 99.41 % (2 pixels), 99.46 % (1 pixel); (16, 32, 64) so pooled, 10 epochs:
    # 99.44 %; four layers, 8 epochs: 99.44 %; Adam, 10 epochs: 99.40 %; random rotations and
    # scaling besides the shifts, 8 epochs: 99.42 %. The Muon recipe was fixed on validation
    # (seeds 0-4, this machine) before any test run of it.
    0.995: dict(net=dict(widths=(24, 48, 96), max_shift=1, pools=(True, False, True)),
                label_smoothing=0.1, test_time_shifts=True,
                fit=dict(epochs=5, batch_size=256, optimizer="muon", lr=0.15, other_lr=0.4,
                         weight_decay=5e-4, lr_schedule="onecycle"),
                validation=(0.9948, 0.9952, 0.9951, 0.9959, 0.9951),   # mean 99.52 %
                validation_on=("2026-12-07, a 2-core AVX-512 machine (bfloat16 + "
                               "channels_last), two threads"),
                validation_avx2_emulated=(0.9946, 0.9951, 0.9954, 0.9955, 0.9951),  # 99.51 %
                test=(0.9958, 0.9962, 0.9961, 0.996, 0.9961),   # mean 99.60 %
                same_model_test=(0.9956, 0.9955, 0.996, 0.9956, 0.9957),   # mean 99.57 %
                replaced=dict(fit=dict(epochs=6, batch_size=256, lr=0.4, optimizer="nesterov",
                                       momentum=0.9, weight_decay=5e-4, lr_schedule="onecycle"),
                              validation=(0.9951, 0.9941, 0.9947, 0.9941, 0.995),  # 99.46 %
                              validation_on=("2026-12-06, a 2-core AVX2 machine (float32 + "
                                             "channels_last), seeds 0-1 on two threads, "
                                             "2-4 on one"),
                              validation_bf16=(0.994, 0.9948, 0.9948, 0.9943, 0.9949),
                              validation_avx2_emulated=(0.9951, 0.9941, 0.9948, 0.9937,
                                                        0.9948),
                              test=(0.996, 0.996, 0.996, 0.9964, 0.9959))),  # 99.61 %
}


def recipe_fit_args(fit_args, model, **overrides):
    """A recipe's `fit` arguments (`SPEEDRUNS[target]["fit"]`) for `model`, `overrides`
    replacing them. A recipe with optimizer "muon" gets its optimizer built here:
    `companion.muon.Muon` on `muon_groups(model, lr, other_lr, weight_decay)`, which `fit`
    takes in place of a name (each group peaks at its own lr). Another optimizer named in
    `overrides` (e.g. optimizer="adam") trains every parameter at `lr`: pass lr= with it.
    """
    kwargs = dict(fit_args, **overrides)
    if kwargs["optimizer"] == "muon":   # Muon for the filters, SGD for the rest: fit peaks each
        if "momentum" in overrides:     # group at its own lr
            raise ValueError("the muon recipe's momentum is its one-cycle schedule's "
                             "0.95 -> 0.85 -> 0.95 cycle; set lr, other_lr or weight_decay")
        lr, other_lr = kwargs.pop("lr"), kwargs.pop("other_lr", None)
        if other_lr is None:
            raise ValueError("optimizer='muon' needs lr= (the filters' peak rate) and "
                             "other_lr= (the peak rate of the parameters Muon does not "
                             "orthogonalize), numbers > 0")
        groups = muon_groups(model, lr, other_lr, kwargs.pop("weight_decay", 0.0))
        kwargs["optimizer"] = Muon(groups, lr=lr)
    elif "other_lr" in overrides:
        raise ValueError(f"other_lr is the muon recipe's rate for the parameters "
                         f"Muon does not orthogonalize; optimizer {kwargs['optimizer']!r} has "
                         f"one lr")
    else:
        kwargs.pop("other_lr", None)    # the muon recipe's, when another optimizer replaces it
    return kwargs


def speedrun(train, test=None, target=0.99, *, seed=0, live=False, device=None, net=None,
             **overrides):
    """Train the book's recipe for `target` test accuracy on `train`; return (model, History).

    The recipe runs its whole fixed schedule; `test` is evaluated once, at the end. bfloat16
    autocast and the channels-last layout are used where they are faster on this machine
    (`amp="auto"`, `channels_last="auto"`, see `companion.hardware`). `net` replaces settings
    of the recipe's `speedrun_net` (e.g. `net=dict(widths=(16, 32, 64))`) without touching
    SPEEDRUNS. `overrides` replace `fit` arguments: `epochs=1` to shorten a run in fast mode,
    `val=` to watch validation accuracy every epoch, `amp=False` to force float32. A recipe
    with optimizer "muon" builds `companion.muon.Muon`: its filters at peak `lr`, the other
    parameters (SGD, Nesterov momentum) at `other_lr` with L2 `weight_decay`; another
    optimizer named for it trains every parameter at `lr`, so pass lr= with it.
    """
    if target not in SPEEDRUNS:
        raise ValueError(f"speedrun: no recipe for target {target!r}; "
                         f"choose one of {sorted(SPEEDRUNS)}")
    recipe = SPEEDRUNS[target]
    unknown = set(net or {}) - {"widths", "size", "max_shift", "pools"}
    if unknown:
        raise ValueError(f"speedrun: net settings are widths, size, max_shift and pools "
                         f"(speedrun_net's); got {sorted(unknown)}")
    torch.manual_seed(seed)  # the initial weights
    model = speedrun_net(**{**recipe["net"], **(net or {})})
    if recipe.get("test_time_shifts"):
        model = ShiftAverage(model)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe["label_smoothing"])
    kwargs = dict(loss_fn=loss_fn, amp="auto", channels_last="auto", test_every_epoch=False,
                  seed=seed, live=live, device=device)
    kwargs.update(recipe_fit_args(recipe["fit"], model, **overrides))
    history = fit(model, train, test, **kwargs)
    return model, history


class Checkpoints:
    """A fit callback: `per_epoch` times per epoch, note the epoch's training
    accuracy so far, the validation accuracy of `net` (one view of each image,
    no shifted copies) and the first layer's filters. For `speedrun_net`: its
    first convolution, (c1, 4, 3, 3), laid out by `pixel_shuffle` on the 6x6
    patch of pixels each filter sees, (c1, 1, 6, 6).
    """

    def __init__(self, net, val, per_epoch=4):
        self.net, self.val, self.per_epoch = net, val, per_epoch
        self.when, self.train_acc, self.val_acc = [], [], []
        self.eval_seconds = []                        # time spent measuring
        self.snapshots = {0.0: self.first_filters()}  # epoch: filters

    def first_filters(self):              # (c1, 4, 3, 3) -> (c1, 1, 6, 6)
        weight = self.net[1][0].weight.detach().float().cpu()
        return F.pixel_shuffle(weight, 2)   # on the pixels each one sees

    def batch_end(self, record):                      # after every batch
        n, k = record.num_batches, self.per_epoch
        if record.batch in {round(n * i / k) for i in range(1, k + 1)}:
            start = time.perf_counter()
            epoch = record.epoch + round(record.batch * k / n) / k
            self.when.append(epoch)
            self.train_acc.append(record.mean_acc)
            self.val_acc.append(evaluate(self.net, self.val)[1])
            self.eval_seconds.append(time.perf_counter() - start)
            self.snapshots[epoch] = self.first_filters()

    def __repr__(self):
        return (f"Checkpoints({len(self.when)} points, "
                f"{self.per_epoch} per epoch, "
                f"{len(self.snapshots)} snapshots)")


def recipe_settings(name, fit_args, net=None, label_smoothing=0.0, images=60_000,
                    shifts_at_test=False):
    """The settings of one run as a dict of strings, one column of the chapter's settings
    table (`plots.table(..., transpose=True)`). net=None: the seed model, raw pixels;
    otherwise `speedrun_net`'s settings (widths, max_shift, pools)."""
    if net is None:
        network = f"seed_cnn ({sum(p.numel() for p in seed_cnn().parameters()):,} parameters)"
        inputs, shifts = "pixels in [0, 1]", "none"
    else:
        pools = net.get("pools", inspect.signature(speedrun_net).parameters["pools"].default)
        after = " and ".join(str(i + 1) for i, p in enumerate(pools) if p)
        network = f"speedrun_net, widths {tuple(net['widths'])}, pooling after layers {after}"
        inputs = "standardized, cropped to 24×24, 2×2 blocks folded into 4 channels"
        n = net.get("max_shift", 0)
        shifts = f"up to {n} pixel{'s' if n > 1 else ''}" if n else "none"
    optimizers = {"nesterov": "SGD, Nesterov momentum", "adam": "Adam", "sgd": "SGD",
                  "momentum": "SGD, momentum", "adamw": "AdamW",
                  "muon": "Muon for the filters, SGD (Nesterov) for the rest"}
    if fit_args.get("optimizer") not in optimizers:
        raise ValueError(f"recipe_settings: optimizer must be one of {sorted(optimizers)}; "
                         f"got {fit_args.get('optimizer')!r}")
    muon = fit_args["optimizer"] == "muon"
    rest = " (the rest)" if muon and fit_args.get("weight_decay") else ""
    return {
        "setting": name,
        "network": network,
        "input preparation": inputs,
        "random shifts": shifts,
        "optimizer": optimizers[fit_args["optimizer"]],
        "weight decay": f"{fit_args.get('weight_decay') or 0.0:g}" + rest,
        "batch size": str(fit_args["batch_size"]),
        "peak learning rate": f"{fit_args['lr']:g}" + (
            f" (filters), {fit_args['other_lr']:g} (the rest)" if muon else ""),
        "schedule": "one-cycle" if fit_args.get("lr_schedule") == "onecycle" else "constant",
        "label smoothing": f"{label_smoothing:g}",
        "at test time": "average over 5 shifted copies" if shifts_at_test else "one view",
        "epochs": str(fit_args["epochs"]),
        "trains on": f"{images:,} images",
    }
