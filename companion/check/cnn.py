"""Checks for the CNN chapter's exercises."""
import torch
import torch.nn.functional as F

from ._core import Hint, close, exercise, expect_tensor

__all__ = ["conv_output_size", "corr2d", "max_pool"]


@exercise
def conv_output_size(fn):
    """Exercise: the output side of a convolution from size, kernel, stride, padding."""
    cases = [(28, 3, 1, 0), (28, 3, 1, 1), (28, 5, 2, 2), (7, 3, 2, 0),
             (32, 5, 1, 0), (224, 11, 4, 2), (6, 4, 3, 0), (5, 7, 1, 3)]
    for size, kernel, stride, padding in cases:
        got = fn(size, kernel, stride, padding)
        want = (size + 2 * padding - kernel) // stride + 1
        if not isinstance(got, int) and not (isinstance(got, float)
                                             and got.is_integer()):
            raise Hint(f"for size {size}, kernel {kernel}, stride {stride}, padding "
                       f"{padding} you returned {got!r}: a size is a whole number of "
                       "positions; round down (//).")
        if got == (size - 2 * padding - kernel) // stride + 1 and got != want:
            raise Hint("padding adds rows on BOTH sides and makes the image larger.")
        if got == (size + padding - kernel) // stride + 1 and got != want:
            raise Hint("padding is added on both sides of the image: count it twice.")
        if got == (size + 2 * padding - kernel) // stride and got != want:
            raise Hint("count the first position too: the kernel fits once before "
                       "it takes any stride (+ 1).")
        if got != want:
            raise Hint(f"size {size}, kernel {kernel}, stride {stride}, padding "
                       f"{padding}: compare with the shape F.conv2d gives.")
    return f"right for all {len(cases)} settings, including strides that do not divide evenly."


@exercise
def corr2d(fn):
    """Exercise: slide a 2-D kernel over a 2-D image (no padding, stride 1)."""
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(7, 9, generator=generator)                   # (7, 9)
    K = torch.randn(2, 3, generator=generator)                   # (2, 3): not square
    got = fn(X, K)
    want = F.conv2d(X[None, None], K[None, None])[0, 0]          # (6, 7)
    flipped = F.conv2d(X[None, None], K.flip(0, 1)[None, None])[0, 0]
    if isinstance(got, torch.Tensor) and got.shape == want.shape and close(got, flipped):
        raise Hint("you flipped the kernel: that is the mathematicians' convolution. "
                   "Deep learning does not flip it.")
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (6, 6):
        raise Hint("the output is square, but the kernel is 2×3: use its height and its "
                   "width separately.")
    expect_tensor(got, want.shape, "corr2d(X, K) for a (7, 9) image and a (2, 3) kernel")
    if not close(got, want):
        raise Hint("the shape is right but the values are not: Y[i, j] is the sum of "
                   "X[i:i+kh, j:j+kw] * K.")
    return "equal to F.conv2d for a (7, 9) image and a (2, 3) kernel: a (6, 7) map."


@exercise
def max_pool(fn):
    """Exercise: 2×2 max pooling with stride 2 of a (batch, channels, h, w) tensor."""
    x = torch.randn(2, 3, 6, 8, generator=torch.Generator().manual_seed(1))
    got = fn(x)
    want = F.max_pool2d(x, 2)                                     # (2, 3, 3, 4)
    if isinstance(got, torch.Tensor) and got.shape == want.shape:
        if close(got, F.avg_pool2d(x, 2)):
            raise Hint("that is the mean of each window; take its maximum.")
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (2, 3, 5, 7):
        raise Hint("your windows overlap (stride 1): move them 2 pixels at a time.")
    expect_tensor(got, want.shape, "max_pool(x) for x of shape (2, 3, 6, 8)")
    if not close(got, want):
        raise Hint("the shape is right but the values are not: each output is the "
                   "maximum of one 2×2 window, taken per image and per channel.")
    return "equal to F.max_pool2d(x, 2) on a (2, 3, 6, 8) tensor."
