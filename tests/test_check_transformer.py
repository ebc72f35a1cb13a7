"""The exercise checks of the Transformer chapter: each accepts the reference solution (the one
the book shows), reports a stub as not done yet, and rejects typical wrong answers with the
right hint."""
import torch
import torch.nn.functional as F
from torch import nn

from companion import check
from companion import transformer as TF
from companion.check import transformer as checks

from test_solutions import assert_hint, solutions

BOOK = solutions("07_transformer")   # as the notebook shows them


def stub(*args):
    raise NotImplementedError


def test_every_check_is_exported_and_reports_a_stub_as_not_done():
    for name in checks.__all__:
        result = getattr(check, name)(stub)
        assert result.status == check.TODO, result


# ------------------------------------------------------------------ the causal mask
my_causal_mask = BOOK["my_causal_mask"]            # the book's solution


def test_causal_mask_accepts_the_solution_and_the_companions():
    assert check.causal_mask(my_causal_mask).passed
    assert check.causal_mask(TF.causal_mask).passed


def test_causal_mask_rejects_typical_mistakes():
    assert_hint(check.causal_mask(lambda T: ~my_causal_mask(T)), "nn.MultiheadAttention")
    assert_hint(check.causal_mask(lambda T: my_causal_mask(T).T), "future")
    assert_hint(check.causal_mask(lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1)),
                "itself")
    assert_hint(check.causal_mask(lambda T: torch.ones(T, T).tril()), "bool")
    additive = lambda T: torch.zeros(T, T).masked_fill(~my_causal_mask(T), float("-inf"))
    assert_hint(check.causal_mask(additive), "additive float mask")
    assert_hint(check.causal_mask(lambda T: torch.ones(T, T, dtype=torch.bool)), "row i")
    assert_hint(check.causal_mask(lambda T: torch.ones(T, dtype=torch.bool)), "shape")


# ------------------------------------------------------------------ positions
my_positions = BOOK["my_positions"]              # the book's solution


def variant(**kwargs):
    return lambda P, d: checks._positions(P, d, **kwargs).float()


def test_positions_accept_the_solution_and_the_companions():
    result = check.sinusoidal_positions(my_positions)
    assert result.passed, result
    assert check.sinusoidal_positions(TF.sinusoidal_positions).passed


def test_positions_reject_typical_mistakes():
    assert_hint(check.sinusoidal_positions(variant(swap=True)), "swapped")
    assert_hint(check.sinusoidal_positions(variant(halves=True)), "interleaves")
    assert_hint(check.sinusoidal_positions(variant(by_i=True)), "2i/d")
    assert_hint(check.sinusoidal_positions(variant(shift=1)), "start at 0")
    assert_hint(check.sinusoidal_positions(variant(base=1 / 10000)), "do not multiply")
    fixed = lambda P, d: my_positions(20, 8)
    assert_hint(check.sinusoidal_positions(fixed), "use the arguments")
    assert_hint(check.sinusoidal_positions(lambda P, d: torch.zeros(P, d)), "Compare")


# ------------------------------------------------------------------ LayerNorm
my_layer_norm = BOOK["my_layer_norm"]             # the book's solution


def test_layer_norm_accepts_the_solution_and_restores_pytorch():
    result = check.layer_norm(my_layer_norm)
    assert result.passed, result
    x = torch.randn(2, 4)
    assert nn.LayerNorm(4)(x).shape == (2, 4)                  # switched back on
    assert F.layer_norm(x, (4,)).shape == (2, 4)


def test_layer_norm_rejects_typical_mistakes():
    def unbiased(x, w, b, eps=1e-5):
        return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + eps) * w + b

    def no_affine(x, w, b, eps=1e-5):
        return my_layer_norm(x, 1.0, 0.0, eps)

    def over_batch(x, w, b, eps=1e-5):
        mean, var = x.mean(0, keepdim=True), x.var(0, unbiased=False, keepdim=True)
        return (x - mean) / torch.sqrt(var + eps) * w + b

    def eps_outside(x, w, b, eps=1e-5):
        mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
        return (x - mean) / (torch.sqrt(var) + eps) * w + b

    assert_hint(check.layer_norm(unbiased), "not n - 1")
    assert_hint(check.layer_norm(no_affine), "scale by weight")
    assert_hint(check.layer_norm(over_batch), "BatchNorm")
    assert_hint(check.layer_norm(eps_outside), "inside the square root")
    assert_hint(check.layer_norm(lambda x, w, b, eps=1e-5: F.layer_norm(x, (6,), w, b, eps)),
                "does the whole exercise")
    assert_hint(check.layer_norm(lambda x, w, b, eps=1e-5: x), "subtract its mean")


# ------------------------------------------------------------------ parameter count
my_block_params = BOOK["my_block_params"]           # the book's solution


def test_block_params_accepts_the_solution():
    result = check.block_params(my_block_params)
    assert result.passed, result
    assert check.block_params(lambda d, f: torch.tensor(my_block_params(d, f))).passed


def test_block_params_rejects_typical_mistakes():
    assert_hint(check.block_params(lambda d, f: my_block_params(d, f) - 4 * d), "LayerNorms")
    assert_hint(check.block_params(lambda d, f: 4 * d * d + 2 * d * f), "biases")
    assert_hint(check.block_params(lambda d, f: my_block_params(d, f) - d * d - d), "four")
    assert_hint(check.block_params(lambda d, f: my_block_params(d, 4 * d)), "use d_ff")
    assert_hint(check.block_params(lambda d, f: "many"), "return a number")
    assert_hint(check.block_params(lambda d, f: 1), "got 1")
