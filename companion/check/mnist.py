"""Checks for the exercises of "MNIST end to end" (book/08_mnist.ipynb).

- `confusion_matrix(fn)`: fn(y_true, y_pred, num_classes) -> a
  (num_classes, num_classes) tensor of counts, row = true class,
  column = predicted class.
- `standardize(fn)`: fn(X_train, X) -> X standardized with the mean and
  standard deviation of all the training pixels.
"""
import torch

from ._core import Hint, close, exercise, expect_tensor

__all__ = ["confusion_matrix", "standardize"]


@exercise
def confusion_matrix(fn):
    """Exercise: count (true, predicted) pairs into a matrix."""
    gen = torch.Generator().manual_seed(0)
    y_true = torch.randint(0, 4, (200,), generator=gen)     # (N,)
    right = torch.rand(200, generator=gen) < 0.7
    y_pred = torch.where(right, y_true,
                         torch.randint(0, 4, (200,), generator=gen))
    got = fn(y_true, y_pred, 4)
    expect_tensor(got, (4, 4), "confusion_matrix(y_true, y_pred, 4)")
    want = torch.zeros(4, 4, dtype=torch.long)
    want.index_put_((y_true, y_pred), torch.ones_like(y_true),
                    accumulate=True)
    if got.is_floating_point() and close(got.sum(1), torch.ones(4)):
        raise Hint("count images; do not divide by the row totals.")
    if close(got, want.T) and not close(got, want):
        raise Hint("rows and columns are swapped: row i is the TRUE "
                   "class, column j the predicted one.")
    if close(got, (want > 0).long()):
        raise Hint("each cell should count every image that falls in "
                   "it; yours says only whether there is one (with "
                   "index_put_, pass accumulate=True).")
    if not close(got, want):
        raise Hint("your counts differ; check that the matrix adds up "
                   "to the number of images and its diagonal to the "
                   "number of correct predictions.")
    # one more case: the last class occurs nowhere
    y_true2 = torch.tensor([0, 1, 1, 1])
    y_pred2 = torch.tensor([0, 0, 1, 1])
    got2 = fn(y_true2, y_pred2, 3)
    want2 = torch.tensor([[1, 0, 0], [1, 2, 0], [0, 0, 0]])
    if not close(got2, want2):
        raise Hint("right on the first data but not when a class "
                   "occurs nowhere in y_true or y_pred; the matrix is "
                   "num_classes x num_classes all the same.")
    return ("the right counts for 200 predictions over 4 classes, and "
            "for 3 classes of which one never occurs.")


@exercise
def standardize(fn):
    """Exercise: standardize images with the TRAINING mean and std."""
    gen = torch.Generator().manual_seed(0)
    X_train = torch.rand(100, 1, 6, 6, generator=gen) ** 2   # (N, 1, 6, 6)
    X = torch.rand(30, 1, 6, 6, generator=gen)               # other images
    got = fn(X_train, X)
    expect_tensor(got, X.shape, "standardize(X_train, X)")
    mean, std = X_train.mean(), X_train.std()
    want = (X - mean) / std
    if close(got, (X - X.mean()) / X.std()):
        raise Hint("you used the statistics of X itself; use those of "
                   "the training images, so that every image, "
                   "validation and test included, gets the same map.")
    per_pixel = (X - X_train.mean(0)) / X_train.std(0)
    if close(got, per_pixel):
        raise Hint("one mean and one standard deviation over all "
                   "training pixels, not one per pixel position.")
    if close(got, (X - mean) / X_train.var()):
        raise Hint("divide by the standard deviation, not the "
                   "variance.")
    if close(got, X / std - mean) or close(got, X - mean):
        raise Hint("subtract the mean first, then divide the "
                   "difference by the standard deviation.")
    if not close(got, want, tol=1e-3):
        raise Hint("compare your result's values with (X - m) / s, "
                   "m and s taken over X_train.")
    centred = fn(X_train, X_train)
    return ("equal to (X - mean) / std with the training statistics; "
            f"on the training images it gives mean "
            f"{centred.mean().item():.2f}, std {centred.std().item():.2f}.")
