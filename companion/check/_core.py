"""What every exercise check shares: the hint, the result, running a check, comparing tensors,
and switching PyTorch's own function off while a check runs.

A chapter's check is one function under `@exercise`: it takes the reader's answer, raises `Hint`
when something is wrong and returns a sentence saying what was verified.

    @exercise
    def leaky_relu(fn):
        ...
        return "equal to F.leaky_relu for slopes 0.01 and 0.2."
"""
import contextlib
import functools
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
        """True when the answer is right."""
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


def exercise(check):
    """Make `check(answer) -> sentence` a public check named after it: `check.name(answer)`
    returns a Result (see `run`)."""
    @functools.wraps(check)
    def checked(answer):
        return run(check.__name__, answer, check)
    return checked


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


@contextlib.contextmanager
def patched(owner, name, value):
    """`owner.name` is `value` inside the block, and what it was afterwards, even after an
    error (an attribute `owner` only inherited is uncovered again)."""
    missing = object()
    original = owner.__dict__.get(name, missing)
    setattr(owner, name, value)
    try:
        yield
    finally:
        if original is missing:
            delattr(owner, name)
        else:
            setattr(owner, name, original)


@contextlib.contextmanager
def forbid(*targets, hint):
    """Switch functions off while the reader's code runs: each (owner, name) in `targets`
    raises Hint(hint) when called ("{name}" in the hint becomes the function's name), e.g.
    `with forbid((torch, "tanh"), (torch.Tensor, "tanh"), hint="use torch.sigmoid"):`.
    Everything is restored afterwards, even after an error."""
    def refuse(name):
        def refused(*args, **kwargs):
            raise Hint(hint.replace("{name}", name))
        return refused

    with contextlib.ExitStack() as stack:
        for owner, name in targets:
            stack.enter_context(patched(owner, name, refuse(name)))
        yield
