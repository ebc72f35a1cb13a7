"""The introduction's checks accept the reference answer, report a stub as
not done, and reject typical wrong answers with the right hint."""
import numpy as np
import torch

from companion import check

from test_solutions import solutions

BOOK = solutions("intro")   # as the notebook shows them


def stub(*args):
    raise NotImplementedError


forward = BOOK["my_mlp_forward"]                  # the book's solution


def test_mlp_forward():
    assert check.mlp_forward(forward).passed
    assert check.mlp_forward(stub).status == check.TODO
    assert check.mlp_forward(None).status == check.TODO
    cases = {
        "transposed weight": lambda X, W1, b1, W2, b2:
            torch.relu(X @ W1 + b1) @ W2 + b2,
        "collapse into one": lambda X, W1, b1, W2, b2:
            (X @ W1.T + b1) @ W2.T + b2,
        "no ReLU after it": lambda *a: torch.relu(forward(*a)),
        "softmax belongs": lambda *a: torch.softmax(forward(*a), dim=1),
        "a bias is missing": lambda X, W1, b1, W2, b2:
            torch.relu(X @ W1.T) @ W2.T + b2,
    }
    for hint, wrong in cases.items():
        result = check.mlp_forward(wrong)
        assert result.status == check.FAILED, hint
        assert hint in result.message, (hint, result.message)


count = BOOK["my_count_mlp_params"]               # the book's solution


def test_count_mlp_params():
    result = check.count_mlp_params(count)
    assert result.passed and "4,482" in result.message
    assert check.count_mlp_params(stub).status == check.TODO
    weights_only = check.count_mlp_params(
        lambda s: sum(a * b for a, b in zip(s[:-1], s[1:])))
    assert "weights only" in weights_only.message
    per_input = check.count_mlp_params(
        lambda s: sum(a * b + a for a, b in zip(s[:-1], s[1:])))
    assert "per OUTPUT unit" in per_input.message
    input_bias = check.count_mlp_params(lambda s: count(s) + s[0])
    assert "inputs have no bias" in input_bias.message
    off = check.count_mlp_params(lambda s: count(s) + 1)
    assert off.status == check.FAILED and "p.numel()" in off.message
    as_float = check.count_mlp_params(lambda s: float(count(s)))
    assert as_float.passed
    as_numpy = check.count_mlp_params(lambda s: np.int64(count(s)))
    assert as_numpy.passed, as_numpy.message
    as_text = check.count_mlp_params(lambda s: str(count(s)))
    assert "whole number" in as_text.message
