"""Each exercise check accepts the reference answer, reports a stub as not done, and rejects
typical wrong answers with the right hint (never the answer)."""
import importlib
import pkgutil

import pytest
import torch

from companion import check

CHAPTER_CHECKS = sorted(
    name for info in pkgutil.iter_modules(check.__path__)
    for name in importlib.import_module(f"companion.check.{info.name}").__all__)


def stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize("name", CHAPTER_CHECKS)
def test_every_check_reports_a_stub_as_not_done_yet(name):
    """Every chapter's check: None, `...` and code that raises NotImplementedError (a function
    or a class whose constructor does) are 'not done yet', never an error."""
    for answer in (None, ..., stub):
        result = getattr(check, name)(answer)
        assert result.status == check.TODO and "not done yet" in repr(result), result


def test_a_stub_is_not_done_yet_and_does_not_raise():
    for answer in (None, ..., stub):
        result = check.sigmoid_derivative(answer)
        assert result.status == check.TODO and not result.passed
        assert "not done yet" in repr(result)


def test_sigmoid_derivative():
    assert check.sigmoid_derivative(lambda x: torch.sigmoid(x) * (1 - torch.sigmoid(x))).passed
    wrong_self = check.sigmoid_derivative(torch.sigmoid)
    assert wrong_self.status == check.FAILED and "σ(x) itself" in wrong_self.message
    wrong_factor = check.sigmoid_derivative(lambda x: torch.exp(-x) / (1 + torch.exp(-x)))
    assert "one of the two factors" in wrong_factor.message
    crashed = check.sigmoid_derivative(lambda x: x.nonexistent())
    assert crashed.status == check.FAILED and "AttributeError" in crashed.message
    shaped = check.sigmoid_derivative(lambda x: torch.zeros(3))
    assert "shape (2001,)" in shaped.message


def test_leaky_relu():
    assert check.leaky_relu(lambda x, a: torch.where(x > 0, x, a * x)).passed
    assert "plain ReLU" in check.leaky_relu(lambda x, a: torch.relu(x)).message
    assert "wrong side" in check.leaky_relu(lambda x, a: torch.where(x > 0, a * x, x)).message


def test_results_render_as_text_and_html():
    result = check.leaky_relu(lambda x, a: torch.relu(x))
    assert repr(result).startswith("✗ leaky_relu: not yet right. Hint:")
    assert "color:#b00020" in result._repr_html_()


def test_tanh_from_sigmoid():
    good = check.tanh_from_sigmoid(lambda x: 2 * torch.sigmoid(2 * x) - 1)
    assert good.passed
    assert torch.tanh(torch.tensor(0.5)) > 0          # restored after the check
    unscaled = check.tanh_from_sigmoid(lambda x: torch.sigmoid(2 * x))
    assert "(0, 1)" in unscaled.message
    unstretched = check.tanh_from_sigmoid(lambda x: 2 * torch.sigmoid(x) - 1)
    assert "stretch the input" in unstretched.message
    cheat = check.tanh_from_sigmoid(lambda x: torch.tanh(x))
    assert cheat.status == check.FAILED and "switched off" in cheat.message
    assert check.tanh_from_sigmoid(stub).status == check.TODO
