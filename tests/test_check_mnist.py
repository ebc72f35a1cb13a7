"""The MNIST chapter's checks accept the reference answer, report a stub as
not done, and reject typical wrong answers with the right hint."""
import torch

from companion import check

from test_solutions import solutions

BOOK = solutions("08_mnist")   # as the notebook shows them


def stub(*args):
    raise NotImplementedError


confusion = BOOK["my_confusion_matrix"]           # the book's solution


def test_confusion_matrix():
    assert check.confusion_matrix(confusion).passed
    assert check.confusion_matrix(stub).status == check.TODO
    swapped = check.confusion_matrix(lambda t, p, n: confusion(p, t, n))
    assert "swapped" in swapped.message
    no_accumulate = check.confusion_matrix(
        lambda t, p, n: torch.zeros(n, n, dtype=torch.long).index_put_(
            (t, p), torch.ones_like(t)))
    assert "accumulate=True" in no_accumulate.message
    normalized = check.confusion_matrix(
        lambda t, p, n: (lambda m: m / m.sum(1, keepdim=True))(
            confusion(t, p, n).float()))
    assert "do not divide" in normalized.message
    too_small = check.confusion_matrix(
        lambda t, p, n: confusion(t, p, int(max(t.max(), p.max())) + 1))
    assert too_small.status == check.FAILED
    assert "shape" in too_small.message or "num_classes" in too_small.message


standardize = BOOK["my_standardize"]              # the book's solution


def test_standardize():
    assert check.standardize(standardize).passed
    assert check.standardize(stub).status == check.TODO
    own_stats = check.standardize(lambda Xt, X: (X - X.mean()) / X.std())
    assert "statistics of X itself" in own_stats.message
    per_pixel = check.standardize(
        lambda Xt, X: (X - Xt.mean(0)) / Xt.std(0))
    assert "not one per pixel" in per_pixel.message
    variance = check.standardize(lambda Xt, X: (X - Xt.mean()) / Xt.var())
    assert "not the variance" in variance.message
    order = check.standardize(lambda Xt, X: X / Xt.std() - Xt.mean())
    assert "subtract the mean first" in order.message
    # torch's std divides by N - 1, numpy's by N: both are fine here
    assert check.standardize(
        lambda Xt, X: (X - Xt.mean()) / Xt.std(correction=0)).passed
