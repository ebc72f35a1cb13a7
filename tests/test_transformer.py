"""Tests for companion.transformer: LayerNorm, positions, the causal mask and the block against
PyTorch (state dicts both ways, outputs and gradients), the GPT, the key/value cache, and
generation with and without it."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from companion.summary import count_params
from companion.training import fit, next_token_step
from companion.transformer import (GPT, InPieces, KVCache, LayerNorm, RandomWindows,
                                   TransformerBlock, causal_mask, generate, sinusoidal_positions)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def randomize(module, seed=0):
    """Random values in every parameter (LayerNorm's ones and zeros would hide a swap)."""
    g = gen(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.5)
    return module


def grads(out, inputs):
    """Gradients of a fixed random projection of `out` with respect to `inputs`."""
    weight = torch.randn(out.shape, generator=gen(9), dtype=out.dtype)
    return torch.autograd.grad((out * weight).sum(), inputs)


# -- LayerNorm ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [8, (8,), (3, 4)])
def test_layer_norm_loads_pytorchs_state_dict_both_ways_and_agrees(shape):
    theirs = randomize(nn.LayerNorm(shape, eps=1e-5).double())
    ours = LayerNorm(shape, eps=1e-5).double()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    trailing = (shape,) if isinstance(shape, int) else shape
    x = torch.randn(2, 5, *trailing, generator=gen(1), dtype=torch.float64, requires_grad=True)
    out, ref = ours(x), theirs(x)
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-10)
    for a, b in zip(grads(out, [x, *ours.parameters()]), grads(ref, [x, *theirs.parameters()])):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8)


def test_layer_norm_uses_the_biased_variance_and_eps_inside_the_root():
    x = torch.tensor([[1.0, 2.0, 3.0, 6.0]])
    out = LayerNorm(4, eps=0.5)(x)
    mean, var = 3.0, ((x - 3.0) ** 2).mean()                 # n, not n - 1
    torch.testing.assert_close(out, (x - mean) / torch.sqrt(var + 0.5))


def test_layer_norm_fused_equals_from_scratch():
    norm = randomize(LayerNorm(6))
    x = torch.randn(4, 6, generator=gen(2))
    slow = norm(x)
    norm.fused = True
    torch.testing.assert_close(norm(x), slow)


def test_layer_norm_errors():
    with pytest.raises(ValueError, match="ending in"):
        LayerNorm(8)(torch.randn(2, 7))
    with pytest.raises(ValueError, match="positive int"):
        LayerNorm(0)


# -- positions and the causal mask --------------------------------------------------------------
def test_sinusoidal_positions_follow_the_formula():
    P, d = 50, 16
    table = sinusoidal_positions(P, d)
    assert table.shape == (P, d) and table.dtype == torch.float32
    for p in (0, 1, 7, 49):
        for i in range(d // 2):
            angle = p / 10000 ** (2 * i / d)
            assert table[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    # wavelengths 2π · 10000^(2i/d): a geometric progression from 2π towards 10000 · 2π
    wavelengths = 2 * math.pi * 10000 ** (torch.arange(0, d, 2) / d)
    assert wavelengths[0] == pytest.approx(2 * math.pi)
    assert wavelengths[-1] < 10000 * 2 * math.pi
    ratios = wavelengths[1:] / wavelengths[:-1]
    torch.testing.assert_close(ratios, torch.full_like(ratios, ratios[0].item()))


def test_a_shift_of_positions_is_a_rotation_of_each_pair():
    """PE[p + k] = R_k PE[p] for every p, with R_k a rotation per (sin, cos) pair."""
    d, k = 8, 5
    table = sinusoidal_positions(40, d).double()
    omega = 1 / 10000 ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    c, s = torch.cos(k * omega), torch.sin(k * omega)
    sin, cos = table[:-k, 0::2], table[:-k, 1::2]
    torch.testing.assert_close(table[k:, 0::2], sin * c + cos * s, atol=1e-6, rtol=0)
    torch.testing.assert_close(table[k:, 1::2], cos * c - sin * s, atol=1e-6, rtol=0)


def test_sinusoidal_positions_need_an_even_width():
    with pytest.raises(ValueError, match="even d_model"):
        sinusoidal_positions(10, 7)


def test_causal_mask_is_sdpas_convention_and_the_opposite_of_multihead_attentions():
    T = 6
    mask = causal_mask(T)
    assert mask.dtype == torch.bool and torch.equal(mask, torch.ones(T, T).tril().bool())
    q, k, v = (torch.randn(1, 2, T, 4, generator=gen(i)) for i in range(3))
    torch.testing.assert_close(F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
                               F.scaled_dot_product_attention(q, k, v, is_causal=True))
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = torch.randn(1, T, 8, generator=gen(4))
    _, right = mha(x, x, x, attn_mask=~mask)                 # True = blocked
    assert torch.all(right[0].triu(1) == 0)                  # nothing from the future
    _, wrong = mha(x, x, x, attn_mask=mask)                  # the mask as it is: inverted
    assert torch.all(wrong[0, :-1].tril() == 0)              # only the future ...
    assert torch.isnan(wrong[0, -1]).all()                   # ... and the last row has none


# -- the block ------------------------------------------------------------------------------------
def block_pair(norm_first, activation="gelu", dropout=0.0, d=16, h=4, d_ff=24, seed=0):
    torch.manual_seed(seed)
    theirs = nn.TransformerEncoderLayer(d, h, d_ff, dropout=dropout, activation=activation,
                                        batch_first=True, norm_first=norm_first)
    ours = TransformerBlock(d, h, d_ff, dropout=dropout, activation=activation,
                            norm_first=norm_first)
    randomize(theirs, seed)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs


@pytest.mark.parametrize("norm_first", [True, False])
def test_block_has_the_parameter_names_and_shapes_of_the_encoder_layer(norm_first):
    ours, theirs = block_pair(norm_first)
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: v.shape for k, v in theirs.state_dict().items()}
    fresh = nn.TransformerEncoderLayer(16, 4, 24, batch_first=True, norm_first=norm_first)
    fresh.load_state_dict(ours.state_dict(), strict=True)   # and the other way round
    d, d_ff = 16, 24
    assert count_params(ours) == count_params(theirs) == \
        4 * d * d + 4 * d + 2 * d * d_ff + d_ff + d + 4 * d


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("activation", ["gelu", "relu"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("training", [False, True])
def test_block_equals_the_encoder_layer_outputs_and_gradients(norm_first, activation, causal,
                                                              training):
    ours, theirs = block_pair(norm_first, activation)
    ours, theirs = ours.double().train(training), theirs.double().train(training)
    x = torch.randn(3, 7, 16, generator=gen(5), dtype=torch.float64, requires_grad=True)
    blocked = ~causal_mask(7)                                # PyTorch's: True = blocked
    out = ours(x, is_causal=True) if causal else ours(x)
    ref = theirs(x, src_mask=blocked, is_causal=True) if causal else theirs(x)
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-10)
    for a, b in zip(grads(out, [x, *ours.parameters()]), grads(ref, [x, *theirs.parameters()])):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("norm_first", [True, False])
def test_block_equals_the_encoder_layers_fast_path_in_eval_mode(norm_first):
    """eval() + no_grad: PyTorch takes its fused fast path; the answer stays the same."""
    ours, theirs = block_pair(norm_first, dropout=0.1)
    ours.eval(), theirs.eval()
    x = torch.randn(2, 9, 16, generator=gen(6))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(ours(x, mask=causal_mask(9)),
                                   theirs(x, src_mask=~causal_mask(9)), atol=1e-5, rtol=1e-5)


def test_block_masks_bool_float_and_is_causal_agree_and_fused_matches():
    ours, _ = block_pair(True)
    x = torch.randn(2, 5, 16, generator=gen(7))
    allowed = causal_mask(5)
    additive = torch.zeros(5, 5).masked_fill(~allowed, float("-inf"))
    by_flag = ours(x, is_causal=True)
    torch.testing.assert_close(ours(x, mask=allowed), by_flag)
    torch.testing.assert_close(ours(x, mask=additive), by_flag)
    assert not torch.allclose(ours(x), by_flag)
    ours.fused = True
    torch.testing.assert_close(ours(x, is_causal=True), by_flag, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(ours(x, mask=allowed), by_flag, atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="not both"):
        ours(x, mask=allowed, is_causal=True)


def test_block_with_dropout_is_random_in_training_only():
    block = TransformerBlock(16, 4, 32, dropout=0.5)
    x = torch.randn(2, 5, 16, generator=gen(8))
    block.train()
    assert not torch.allclose(block(x), block(x))
    block.eval()
    torch.testing.assert_close(block(x), block(x))


def test_self_attention_without_positions_is_permutation_equivariant():
    block, _ = block_pair(True)
    x = torch.randn(1, 8, 16, generator=gen(10))
    perm = torch.randperm(8, generator=gen(11))
    torch.testing.assert_close(block(x[:, perm]), block(x)[:, perm], atol=1e-6, rtol=1e-5)
    assert not torch.allclose(block(x[:, perm], is_causal=True),
                              block(x, is_causal=True)[:, perm], atol=1e-3)


def test_block_errors():
    with pytest.raises(ValueError, match="activation"):
        TransformerBlock(16, 4, 32, activation="tanh")
    with pytest.raises(ValueError, match="divisible"):
        TransformerBlock(16, 5, 32)


# -- the GPT ------------------------------------------------------------------------------------
def small_gpt(**kwargs):
    torch.manual_seed(0)
    settings = dict(vocab_size=11, d_model=16, num_heads=2, num_layers=2, context=12)
    return GPT(**{**settings, **kwargs})


def test_gpt_shapes_positions_and_the_context_limit():
    model = small_gpt()
    X = torch.randint(0, 11, (3, 12), generator=gen(0))
    assert model(X).shape == (3, 12, 11)
    assert "position" in dict(model.named_parameters())
    sinusoidal = small_gpt(positions="sinusoidal")
    assert "position" not in dict(sinusoidal.named_parameters())
    torch.testing.assert_close(sinusoidal.position, sinusoidal_positions(12, 16))
    with pytest.raises(ValueError, match="exceed the context of 12"):
        model(torch.zeros(1, 13, dtype=torch.long))
    long = torch.randint(0, 11, (2, 30), generator=gen(9))    # past 12
    scores = sinusoidal.eval()(long)                          # no error
    assert scores.shape == (2, 30, 11)
    torch.testing.assert_close(scores[:, :12], sinusoidal(long[:, :12]))
    by_hand = sinusoidal.embed(long) + sinusoidal_positions(30, 16)
    torch.testing.assert_close(sinusoidal.embed_tokens(long), by_hand)
    with pytest.raises(ValueError, match="int64 tokens"):
        model(torch.zeros(1, 5))
    with pytest.raises(ValueError, match="positions must be"):
        small_gpt(positions="rotary")
    assert isinstance(small_gpt(norm_first=False).norm, nn.Identity)


def test_gpt_is_causal_a_later_token_changes_no_earlier_score():
    model = small_gpt()
    X = torch.randint(0, 11, (1, 10), generator=gen(1))
    changed = X.clone()
    changed[0, 6] = (X[0, 6] + 1) % 11
    a, b = model(X), model(changed)
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_gpt_fused_equals_from_scratch_outputs_and_gradients():
    slow, fast = small_gpt(), small_gpt(fused=True)
    fast.load_state_dict(slow.state_dict())
    X = torch.randint(0, 11, (2, 12), generator=gen(2))
    out, ref = fast(X), slow(X)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    for a, b in zip(grads(out, list(fast.parameters())), grads(ref, list(slow.parameters()))):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("fused", [False, True])
def test_the_cache_gives_the_scores_of_the_whole_sequence(fused):
    model = small_gpt(fused=fused).eval()
    X = torch.randint(0, 11, (2, 12), generator=gen(3))
    full = model(X)
    cache = model.new_cache()
    assert isinstance(cache, KVCache) and cache.length == 0
    parts = [model(X[:, :5], cache)] + [model(X[:, t:t + 1], cache) for t in range(5, 12)]
    assert cache.length == 12
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="exceed the context"):
        model(X[:, :1], cache)


def test_attention_maps_are_causal_and_sum_to_one():
    model = small_gpt()
    X = torch.randint(0, 11, (2, 9), generator=gen(4))
    maps = model.attention_maps(X)
    assert maps.shape == (2, 2, 2, 9, 9)                     # layers, batch, heads, T, T
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 2, 2, 9))
    assert torch.all(maps.triu(1) == 0)


def test_gpt_learns_a_periodic_text_with_fit():
    period = torch.tensor([1, 4, 2, 8, 5, 7])               # each token fixes the next
    ids = period.repeat(60)
    X = torch.stack([ids[i:i + 12] for i in range(0, 300, 3)])      # (100, 12)
    Y = torch.stack([ids[i + 1:i + 13] for i in range(0, 300, 3)])
    model = small_gpt()
    history = fit(model, (X, Y), val=(X[:20], Y[:20]), epochs=8, batch_size=20, lr=1e-2,
                  step=next_token_step, live=False)
    assert history.val_ppl[-1] < 1.2
    assert history.train_loss[-1] < history.train_loss[0] / 5


# -- generation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("num_new", [5, 30])                 # inside and past the context
def test_generate_greedy_is_the_same_with_and_without_the_cache(num_new):
    model = small_gpt()
    randomize(model, 3)
    prompt = torch.tensor([1, 2, 3])
    cached = generate(model, prompt, num_new, temperature=0, use_cache=True)
    plain = generate(model, prompt, num_new, temperature=0, use_cache=False)
    assert cached.shape == (num_new,) and cached.dtype == torch.long
    assert torch.equal(cached, plain)
    # greedy by hand, without the helper: the argmax of the last position's scores
    ids = prompt[None]
    for _ in range(num_new):
        next_id = model(ids[:, -12:])[0, -1].argmax()
        ids = torch.cat([ids, next_id.view(1, 1)], dim=1)
    assert torch.equal(ids[0, 3:], cached)


def test_generate_samples_reproducibly_and_top_k_1_is_greedy():
    model = small_gpt()
    randomize(model, 4)
    prompt = torch.tensor([0, 5])
    a = generate(model, prompt, 20, temperature=1.0, seed=1)
    assert torch.equal(a, generate(model, prompt, 20, temperature=1.0, seed=1, use_cache=False))
    assert not torch.equal(a, generate(model, prompt, 20, temperature=1.0, seed=2))
    torch.testing.assert_close(generate(model, prompt, 20, top_k=1, seed=3),
                               generate(model, prompt, 20, temperature=0))
    assert len(generate(model, prompt, 0)) == 0


def test_generate_top_k_only_picks_among_the_k_best():
    model = small_gpt()
    randomize(model, 5)
    prompt = torch.tensor([2])
    new = generate(model, prompt, 1, temperature=100.0, top_k=2, seed=0)
    best2 = model(prompt[None])[0, -1].topk(2).indices
    assert new.item() in best2.tolist()
    picks = {generate(model, prompt, 1, temperature=100.0, top_k=2, seed=s).item()
             for s in range(30)}
    assert picks == set(best2.tolist())


def test_generate_errors_and_the_mode_is_restored():
    model = small_gpt().train()
    with pytest.raises(ValueError, match="1-D int64"):
        generate(model, torch.tensor([[1, 2]]), 3)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, torch.tensor([1]), 3, temperature=-1)
    with pytest.raises(ValueError, match="top_k"):
        generate(model, torch.tensor([1]), 3, top_k=0)
    generate(model, torch.tensor([1]), 3)
    assert model.training


# -- random windows -----------------------------------------------------------------------------
def test_random_windows_are_shifted_pairs_fresh_every_time_and_seeded():
    ids = torch.arange(100)
    windows = RandomWindows(ids, 8, 5, seed=0)
    assert len(windows) == 5
    X, Y = windows[0]
    assert X.shape == Y.shape == (8,)
    assert torch.equal(Y, X + 1)                             # the next token
    starts = [windows[0][0][0].item() for _ in range(20)]
    assert len(set(starts)) > 10 and max(starts) <= 100 - 9  # fresh, and never past the end
    def firsts(seed):
        dataset = RandomWindows(ids, 8, 5, seed=seed)
        return [dataset[i][0][0].item() for i in range(10)]
    assert firsts(1) == firsts(1) != firsts(2)
    with pytest.raises(ValueError, match="longer than seq_len"):
        RandomWindows(torch.arange(5), 8, 3)
    with pytest.raises(ValueError, match="positive"):
        RandomWindows(ids, 0, 3)


def test_in_pieces_reads_each_piece_independently_and_checks_its_window():
    torch.manual_seed(0)
    gpt = GPT(vocab_size=7, d_model=16, num_heads=2, num_layers=1, context=4)
    model = InPieces(gpt, window=12)
    X = torch.randint(0, 7, (2, 12))
    out = model(X)                                   # (2, 12, 7)
    pieces = [gpt(X[:, i:i + 4]) for i in range(0, 12, 4)]
    assert out.shape == (2, 12, 7)
    assert torch.allclose(out, torch.cat(pieces, dim=1), atol=1e-6)
    changed = X.clone()
    changed[:, 3] = (changed[:, 3] + 1) % 7          # the end of piece 0
    assert torch.equal(model(changed)[:, 4:], out[:, 4:])  # others unmoved
    with pytest.raises(ValueError, match="multiple of the GPT's context"):
        InPieces(gpt, window=10)
    with pytest.raises(ValueError, match=r"\(batch, 12\)"):
        model(X[:, :8])
    assert "window=12" in repr(model)


def test_draw_transformer_blocks_shows_the_two_orders():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from companion.book import COLUMN
    from companion.diagrams import draw_transformer_blocks

    fig = draw_transformer_blocks()
    post, pre = ([t.get_text() for t in ax.texts] for ax in fig.axes)
    boxes = ("self-attention", "LayerNorm", "feed-forward")
    # post-LN: the LayerNorm follows each addition; pre-LN: it comes first
    assert [t for t in post if t in boxes + ("+",)] == [
        "self-attention", "+", "LayerNorm", "feed-forward", "+", "LayerNorm"]
    assert [t for t in pre if t in boxes + ("+",)] == [
        "LayerNorm", "self-attention", "+", "LayerNorm", "feed-forward", "+"]
    assert fig.get_figwidth() == COLUMN
    plt.close(fig)
