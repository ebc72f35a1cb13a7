"""What chapter 8 shows: the confusion matrix of a digit classifier.

- `show_confusion(confusion)`: the matrix (mistakes in red, every count written) beside the
  accuracy per class.

The counting (`confusion_matrix`) is in companion/mnist.py.
Used in: book/08_mnist.ipynb; tests/test_mnist.py.
"""
import matplotlib.pyplot as plt
import torch

from ..book import COLUMN


def show_confusion(confusion, title=None, *, axes=None, fontsize=9):
    """The confusion matrix (mistakes in red, every count written in its cell)
    beside the accuracy per class; returns the Figure. `axes`: two Axes to draw
    into (the matrix, the bars) instead of a new figure."""
    confusion = torch.as_tensor(confusion)
    n = len(confusion)
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(COLUMN, 4.2),
                                 gridspec_kw={"width_ratios": [1.7, 1]})
    ax1, ax2 = axes
    shown = confusion.clone().float()
    shown.fill_diagonal_(float("nan"))                 # colour the mistakes only
    ax1.imshow(shown.numpy(), cmap="Reds", vmin=0,
               vmax=max(1.0, float(shown.nan_to_num().max())))
    for i in range(n):
        for j in range(n):
            ax1.text(j, i, int(confusion[i, j]), ha="center", va="center",
                     fontsize=fontsize, color="gray" if i == j else "black")
    ax1.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true")
    per_class = confusion.diag() / confusion.sum(dim=1).clamp_min(1)
    ax2.bar(range(n), per_class.tolist())
    ax2.set_ylim(min(per_class.min().item() - 0.01, 0.99), 1.0)
    ax2.set(xticks=range(n), xlabel="digit", ylabel="accuracy")
    if title:
        ax1.figure.suptitle(title, fontsize=10)
    ax1.figure.tight_layout()
    return ax1.figure
