"""The check package (its exports, `exercise`, `forbid`) and the activations chapter's checks:
each accepts the reference answer, reports a stub as not done, and rejects typical wrong answers
with the right hint (never the answer)."""
import importlib
import pkgutil

import pytest
import torch
import torch.nn.functional as F

from companion import check

CHAPTER_MODULES = [importlib.import_module(f"companion.check.{info.name}")
                   for info in pkgutil.iter_modules(check.__path__)
                   if not info.name.startswith("_")]
CHAPTER_CHECKS = sorted(name for module in CHAPTER_MODULES for name in module.__all__)


def test_the_package_exports_every_chapters_checks_once():
    """check/__init__.py imports each chapter module's checks by name: a chapter module whose
    import line is missing, or two chapters with one name, fail here."""
    assert len(CHAPTER_CHECKS) == len(set(CHAPTER_CHECKS)), CHAPTER_CHECKS
    for module in CHAPTER_MODULES:
        for name in module.__all__:
            assert getattr(check, name, None) is getattr(module, name), (module.__name__, name)


def stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize("name", CHAPTER_CHECKS)
def test_every_check_reports_a_stub_as_not_done_yet(name):
    """Every chapter's check: None, `...` and code that raises NotImplementedError (a function
    or a class whose constructor does) are 'not done yet', never an error."""
    for answer in (None, ..., stub):
        result = getattr(check, name)(answer)
        assert result.status == check.TODO and "not done yet" in repr(result), result


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
    assert "multiply the input by 2" in unstretched.message
    cheat = check.tanh_from_sigmoid(lambda x: torch.tanh(x))
    assert cheat.status == check.FAILED and "switched off" in cheat.message
    assert check.tanh_from_sigmoid(stub).status == check.TODO


@pytest.mark.parametrize("cheat", [lambda x: x.tanh(), lambda x: F.tanh(x),
                                   lambda x: x.clone().tanh_(), lambda x: torch.nn.Tanh()(x)],
                         ids=["Tensor.tanh", "F.tanh", "Tensor.tanh_", "nn.Tanh"])
def test_tanh_from_sigmoid_switches_off_every_tanh_and_restores_it(cheat):
    x = torch.tensor([0.5, -1.0])
    before = (torch.tanh, F.tanh, "tanh" in vars(torch.Tensor))
    result = check.tanh_from_sigmoid(cheat)
    assert result.status == check.FAILED and "switched off" in result.message, result
    assert (torch.tanh, F.tanh, "tanh" in vars(torch.Tensor)) == before
    assert torch.equal(x.tanh(), torch.tanh(x)) and torch.equal(F.tanh(x), torch.tanh(x))


def test_forbid_restores_even_after_an_error():
    import math
    original = math.sqrt
    with pytest.raises(ZeroDivisionError):
        with check.forbid((math, "sqrt"), hint="no {name} here"):
            with pytest.raises(check.Hint, match="no sqrt here"):
                math.sqrt(4.0)
            1 / 0
    assert math.sqrt is original


@check.exercise
def twice(fn):
    """An exercise made with the decorator: fn(x) = 2x."""
    if fn(3) != 6:
        raise check.Hint("double it")
    return "doubles 3."


def test_the_exercise_decorator_names_the_check_and_runs_it():
    assert twice.__name__ == "twice" and "fn(x) = 2x" in twice.__doc__
    assert repr(twice(lambda x: 2 * x)) == "✓ twice: correct. doubles 3."
    assert twice(lambda x: x).message == "Hint: double it"
    assert twice(None).status == check.TODO
