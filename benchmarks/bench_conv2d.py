"""How much slower is companion.cnn.conv2d (im2col) than F.conv2d? Target: within 5x.

Batch of 64 MNIST-size images (64, 1, 28, 28), 32 filters of 3x3, padding 1, forward only.
Run: flock /tmp/team/torch.lock env BOOK_THREADS=2 .venv/bin/python benchmarks/bench_conv2d.py
"""
import os
import time

import torch
import torch.nn.functional as F

from companion.cnn import conv2d


def best_times(fns, repeats=15, number=20):
    """Best mean seconds per call of each function; runs interleaved so both see the same load."""
    for fn in fns:
        fn()                                          # warm up
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            best[i] = min(best[i], (time.perf_counter() - start) / number)
    return best


def main():
    torch.set_num_threads(int(os.environ.get("BOOK_THREADS", 2)))
    torch.manual_seed(0)
    x = torch.rand(64, 1, 28, 28)                     # (batch, channels, height, width)
    weight = torch.randn(32, 1, 3, 3)                 # (out_channels, in_channels, kh, kw)
    bias = torch.randn(32)
    torch.testing.assert_close(conv2d(x, weight, bias, padding=1),
                               F.conv2d(x, weight, bias, padding=1), atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        ours, theirs = best_times([lambda: conv2d(x, weight, bias, padding=1),
                                   lambda: F.conv2d(x, weight, bias, padding=1)])
    ratio = ours / theirs
    print(f"threads {torch.get_num_threads()}, input {tuple(x.shape)}, weight {tuple(weight.shape)}")
    print(f"companion.cnn.conv2d: {ours * 1e3:7.3f} ms per call")
    print(f"F.conv2d:             {theirs * 1e3:7.3f} ms per call")
    print(f"ratio ours / F.conv2d: {ratio:.2f}x (target: within 5x) -> "
          f"{'OK' if ratio <= 5 else 'TOO SLOW'}")


if __name__ == "__main__":
    main()
