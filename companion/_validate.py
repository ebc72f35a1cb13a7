"""What the modules' error messages share: how to describe what a reader passed, and the check
for a positive whole number.

Used in: `attention`, `seq2seq`, `rnn`, `resnet`, `activations`, `learning`, `text`.
"""
import torch


def shape_of(x):
    """A tensor's shape as a tuple, or the type name of anything else (for error messages)."""
    return tuple(x.shape) if torch.is_tensor(x) else type(x).__name__


def dtype_of(x):
    """A tensor's dtype, or the type name of anything else (for error messages)."""
    return x.dtype if torch.is_tensor(x) else type(x).__name__


def describe(x):
    """'(2, 5) torch.int64' for a tensor, else the type name (for error messages)."""
    return f"{tuple(x.shape)} {x.dtype}" if torch.is_tensor(x) else type(x).__name__


def check_positive_int(name, value):
    """Raise a ValueError naming `name` unless `value` is an int >= 1 (a bool is not)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
