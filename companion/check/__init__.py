"""Exercises that check themselves: `check.<exercise>(your_answer)` runs your answer against the
reference and says what is right and, if something is wrong, gives a hint (never the answer).

An answer still left as a stub (`raise NotImplementedError`, `...` or `None`) is reported as
"not done yet", so the executed book shows the exercises without failing the build. Each check
returns a `Result` (`.passed`, `.status`, `.message`) that prints itself.

    from companion import check
    check.sigmoid_derivative(my_sigmoid_derivative)

One module per chapter holds its checks (listed in its `__all__`); this file holds what they
share and exports every chapter's checks as `check.<name>`.
Used in: the exercises at the end of every chapter.
"""
import importlib
import pkgutil
import traceback

import torch

TODO, PASSED, FAILED = "not done yet", "correct", "not yet right"
MARKS = {TODO: "…", PASSED: "✓", FAILED: "✗"}


class Hint(Exception):
    """Raised inside a check to fail it with a hint for the reader."""


class Result:
    """The outcome of one check: status (TODO, PASSED or FAILED) and a message for the reader."""

    def __init__(self, name, status, message):
        self.name, self.status, self.message = name, status, message

    @property
    def passed(self):
        return self.status == PASSED

    def __repr__(self):
        return f"{MARKS[self.status]} {self.name}: {self.status}. {self.message}"

    def _repr_html_(self):
        color = {TODO: "#666666", PASSED: "#1a7f37", FAILED: "#b00020"}[self.status]
        text = repr(self).replace("&", "&amp;").replace("<", "&lt;")
        return f"<pre style='color:{color}; white-space:pre-wrap'>{text}</pre>"


def is_stub(answer):
    """True for an answer the reader has not written yet: None, or `...`."""
    return answer is None or answer is Ellipsis


def run(name, answer, check):
    """Run `check(answer)` and turn what happens into a Result.

    `check` returns a sentence saying what was verified, or raises Hint. A NotImplementedError
    from the reader's code means "not done yet"; any other error becomes a hint that names it.
    """
    if is_stub(answer):
        return Result(name, TODO, "Write your answer in the cell above, then run this again.")
    try:
        verified = check(answer)
    except NotImplementedError:
        return Result(name, TODO, "Replace `raise NotImplementedError` with your code, then "
                                  "run this again.")
    except Hint as hint:
        return Result(name, FAILED, f"Hint: {hint}")
    except Exception as error:  # the reader's code crashed: say where, briefly
        frames = traceback.extract_tb(error.__traceback__)
        where = f" (line {frames[-1].lineno} of your code)" if frames else ""
        return Result(name, FAILED, f"Your code raised {type(error).__name__}: {error}{where}")
    return Result(name, PASSED, verified)


def expect_tensor(got, shape, what):
    """Fail with a hint unless `got` is a tensor of `shape`."""
    if not torch.is_tensor(got):
        raise Hint(f"{what} should be a tensor; got {type(got).__name__}.")
    if tuple(got.shape) != tuple(shape):
        raise Hint(f"{what} should have shape {tuple(shape)}; got {tuple(got.shape)}.")


def close(a, b, tol=1e-5):
    """Do two tensors agree within `tol` (relative and absolute)?"""
    return torch.is_tensor(a) and a.shape == b.shape and torch.allclose(
        a.double(), b.double(), rtol=tol, atol=tol)


def _export_chapter_checks():
    """Make every public check of every chapter module available as `check.<name>`."""
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name in getattr(module, "__all__", ()):
            globals()[name] = getattr(module, name)


_export_chapter_checks()
