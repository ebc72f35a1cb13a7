"""The CNN chapter's exercise checks: each accepts the reference answer, reports a stub
as not done, and rejects typical wrong answers with the right hint."""
import torch

from companion import check


def corr2d_reference(X, K):
    kh, kw = K.shape
    Y = torch.zeros(X.shape[0] - kh + 1, X.shape[1] - kw + 1)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
    return Y


def test_conv_output_size():
    good = check.conv_output_size(lambda n, k, s, p: (n + 2 * p - k) // s + 1)
    assert good.passed
    one_side = check.conv_output_size(lambda n, k, s, p: (n + p - k) // s + 1)
    assert "count it twice" in one_side.message
    no_plus_one = check.conv_output_size(lambda n, k, s, p: (n + 2 * p - k) // s)
    assert "+ 1" in no_plus_one.message
    true_division = check.conv_output_size(lambda n, k, s, p: (n + 2 * p - k) / s + 1)
    assert true_division.status == check.FAILED and "round down" in true_division.message


def test_corr2d():
    assert check.corr2d(corr2d_reference).passed
    flipped = check.corr2d(lambda X, K: corr2d_reference(X, K.flip(0, 1)))
    assert "flipped the kernel" in flipped.message

    def square(X, K):                       # uses the kernel's height twice
        k = K.shape[0]
        return corr2d_reference(X, K[:, :k] if K.shape[1] >= k else K)[:, :X.shape[0] - k + 1]
    assert "height and its width" in check.corr2d(square).message


def test_max_pool():
    def reference(x):
        b, c, h, w = x.shape
        return x.reshape(b, c, h // 2, 2, w // 2, 2).amax(dim=(3, 5))
    assert check.max_pool(reference).passed
    mean = check.max_pool(lambda x: torch.nn.functional.avg_pool2d(x, 2))
    assert "mean of each window" in mean.message
    overlapping = check.max_pool(lambda x: torch.nn.functional.max_pool2d(x, 2, stride=1))
    assert "stride 1" in overlapping.message
