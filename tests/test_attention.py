"""Tests for companion.attention and companion.seq2seq: equality with PyTorch's scaled dot-product
and multi-head attention, masking, local attention, the toy tasks, a short training run, errors."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from companion.attention import (AdditiveAttention, ConcatScore, DotScore, GeneralScore,
                                 LuongAttention, MultiHeadAttention, attention_weights,
                                 masked_softmax, merge_heads, scaled_dot_product_attention,
                                 split_heads)
from companion.seq2seq import (BOS, DATES, DIGITS, EOS, PAD, AttentionSnapshots, Seq2Seq,
                               date_pairs, dates_task, exact_match, greedy_centres,
                               greedy_scores, reversal_task)
from companion.show.attention import softmax_explorer
from companion.show.seq2seq import heatmap_explorer, heatmap_result, snapshot_explorer, verdict
from companion.training import fit, seq2seq_step


def gen(seed):
    return torch.Generator().manual_seed(seed)


# -- scaled dot-product attention ---------------------------------------------------------------
SHAPES = [((2, 3, 5, 8), (2, 3, 7, 8), 6), ((4, 6, 16), (4, 6, 16), 16),   # query, key, value size
          ((1, 2, 1, 3, 4), (1, 2, 1, 9, 4), 5)]


def qkv(shape_q, shape_k, value_size, seed=0):
    g = gen(seed)
    q = torch.randn(shape_q, generator=g, dtype=torch.float64)
    k = torch.randn(shape_k, generator=g, dtype=torch.float64)
    v = torch.randn(*shape_k[:-1], value_size, generator=g, dtype=torch.float64)
    return q, k, v


@pytest.mark.parametrize("shape_q, shape_k, value_size", SHAPES)
@pytest.mark.parametrize("mask_kind", [None, "bool", "float", "causal", "bool-broadcast"])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_sdpa_equals_pytorch(shape_q, shape_k, value_size, mask_kind, scale):
    q, k, v = qkv(shape_q, shape_k, value_size)
    L, S = shape_q[-2], shape_k[-2]
    kwargs = {}
    g = gen(1)
    if mask_kind == "bool":            # random, with every row keeping at least its first key
        mask = torch.rand(*shape_q[:-1], S, generator=g) > 0.4
        mask[..., 0] = True
        kwargs["attn_mask"] = mask
    elif mask_kind == "bool-broadcast":
        kwargs["attn_mask"] = torch.rand(L, S, generator=g) > 0.5   # some rows fully masked
    elif mask_kind == "float":
        kwargs["attn_mask"] = torch.randn(L, S, generator=g, dtype=torch.float64)
    elif mask_kind == "causal":
        kwargs["is_causal"] = True
    ours = scaled_dot_product_attention(q, k, v, scale=scale, **kwargs)
    theirs = F.scaled_dot_product_attention(q, k, v, scale=scale, **kwargs)
    assert ours.shape == theirs.shape == (*shape_q[:-1], value_size)
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-6)


def test_sdpa_fully_masked_row_gives_zeros_like_pytorch():
    q, k, v = qkv((1, 3, 4), (1, 5, 4), 2)
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[1] = False
    ours = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.equal(ours[0, 1], torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    float_mask = torch.zeros(3, 5, dtype=torch.float64).masked_fill(~mask, float("-inf"))
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, attn_mask=float_mask), ours)


# -- multi-head attention -----------------------------------------------------------------------
def mha_pair(embed_dim=12, num_heads=3, batch_first=True, bias=True, seed=0):
    torch.manual_seed(seed)
    theirs = nn.MultiheadAttention(embed_dim, num_heads, bias=bias, batch_first=batch_first)
    nn.init.normal_(theirs.in_proj_bias) if bias else None
    nn.init.normal_(theirs.out_proj.bias) if bias else None
    ours = MultiHeadAttention(embed_dim, num_heads, bias=bias, batch_first=batch_first)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("masks", ["none", "key_padding", "attn_bool", "attn_float_3d", "both"])
@pytest.mark.parametrize("average", [True, False])
def test_mha_equals_pytorch(batch_first, masks, average):
    ours, theirs = mha_pair(batch_first=batch_first)
    batch, L, S, E, h = 2, 4, 5, 12, 3
    g = gen(2)
    query = torch.randn(batch, L, E, generator=g)
    key = torch.randn(batch, S, E, generator=g)
    value = torch.randn(batch, S, E, generator=g)
    if not batch_first:
        query, key, value = (x.transpose(0, 1) for x in (query, key, value))
    kwargs = {}
    if masks in ("key_padding", "both"):
        padding = torch.zeros(batch, S, dtype=torch.bool)
        padding[0, 3:] = True                      # the first sequence has 3 real keys
        kwargs["key_padding_mask"] = padding
    if masks in ("attn_bool", "both"):
        kwargs["attn_mask"] = torch.ones(L, S, dtype=torch.bool).triu(1)   # True = blocked
    if masks == "attn_float_3d":
        kwargs["attn_mask"] = torch.randn(batch * h, L, S, generator=g)
    out, weights = ours(query, key, value, average_attn_weights=average, **kwargs)
    ref_out, ref_weights = theirs(query, key, value, average_attn_weights=average, **kwargs)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, ref_weights, atol=1e-5, rtol=1e-5)
    assert weights.shape == ((batch, L, S) if average else (batch, h, L, S))
    out, none = ours(query, key, value, need_weights=False, **kwargs)
    assert none is None
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)


def test_mha_gradients_equal_pytorch_and_bias_free_loads():
    ours, theirs = mha_pair(embed_dim=8, num_heads=2)
    x = torch.randn(3, 4, 8, generator=gen(3))
    ours(x, x, x)[0].square().sum().backward()
    theirs(x, x, x)[0].square().sum().backward()
    for (name, p), (_, r) in zip(ours.named_parameters(), theirs.named_parameters()):
        torch.testing.assert_close(p.grad, r.grad, atol=1e-5, rtol=1e-5, msg=name)
    mha_pair(bias=False)   # strict load of a bias-free module


def test_split_heads_gives_each_head_a_block_of_features_and_merge_undoes_it():
    x = torch.arange(2 * 3 * 8.0).view(2, 3, 8)          # (batch, seq, E)
    heads = split_heads(x, 4)                            # (batch, 4, seq, 2)
    assert heads.shape == (2, 4, 3, 2)
    assert torch.equal(heads[1, 2, 0], x[1, 0, 4:6])     # head 2, position 0
    assert torch.equal(merge_heads(heads), x)


def test_attention_weights_sum_to_one_and_follow_the_causal_mask():
    q, k = torch.randn(2, 5, 4, generator=gen(7)), torch.randn(2, 5, 4, generator=gen(8))
    weights = attention_weights(q, k, is_causal=True)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 5))
    assert torch.all(weights.triu(1) == 0)


def test_mha_parameters_do_not_depend_on_the_number_of_heads():
    counts = {h: sum(p.numel() for p in MultiHeadAttention(64, h).parameters()) for h in (1, 4, 16)}
    assert len(set(counts.values())) == 1 and counts[1] == 4 * 64 * 64 + 4 * 64


# -- masked softmax and Luong / Bahdanau attention ----------------------------------------------
def test_masked_softmax_sums_to_one_over_unmasked_and_is_zero_on_masked():
    scores = torch.randn(4, 6, 9, generator=gen(4), requires_grad=True)
    mask = torch.rand(4, 6, 9, generator=gen(5)) > 0.5
    mask[0, 0] = False                               # one row with nothing to attend to
    weights = masked_softmax(scores, mask)
    assert torch.all(weights[~mask] == 0)
    sums = weights.sum(-1)
    has_any = mask.any(-1)
    torch.testing.assert_close(sums[has_any], torch.ones(int(has_any.sum())))
    assert torch.all(sums[~has_any] == 0)
    weights.square().sum().backward()
    assert torch.isfinite(scores.grad).all()
    torch.testing.assert_close(masked_softmax(scores, torch.ones_like(mask)), scores.softmax(-1))


def test_score_functions_follow_their_formulas():
    g = gen(6)
    q, k = torch.randn(2, 3, 5, generator=g), torch.randn(2, 4, 5, generator=g)
    torch.testing.assert_close(DotScore(5, 5)(q, k), torch.einsum("btd,bsd->bts", q, k))
    general = GeneralScore(5, 5)
    expected = torch.einsum("btd,de,bse->bts", q, general.W_a.weight, k)
    torch.testing.assert_close(general(q, k), expected)
    concat = ConcatScore(5, 5, 7)
    pair = torch.cat([q[:, :, None].expand(-1, -1, 4, -1), k[:, None].expand(-1, 3, -1, -1)], -1)
    W_a = torch.cat([concat.W_q.weight, concat.W_k.weight], 1)               # (7, 10)
    expected = (torch.tanh(pair @ W_a.T) @ concat.v_a.weight.T).squeeze(-1)   # (2, 3, 4)
    torch.testing.assert_close(concat(q, k), expected)


@pytest.mark.parametrize("make", [
    lambda: LuongAttention(6, score="dot"), lambda: LuongAttention(6, 4, score="general"),
    lambda: LuongAttention(6, 4, score="concat"), lambda: AdditiveAttention(6, 4)])
def test_attention_weights_respect_padding(make):
    attention = make()
    g = gen(7)
    query = torch.randn(3, 2, 6, generator=g)
    keys = torch.randn(3, 5, attention.key_size, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]]).bool()
    context, weights = attention(query, keys, mask=mask)
    assert context.shape == (3, 2, attention.key_size) and weights.shape == (3, 2, 5)
    assert torch.all(weights.masked_select(~mask[:, None]) == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 2))
    torch.testing.assert_close(context, weights @ keys)


def test_local_m_attends_only_inside_the_window_around_t():
    attention = LuongAttention(4, score="dot", mode="local-m", window=1)
    g = gen(8)
    query, keys = torch.randn(2, 3, 4, generator=g), torch.randn(2, 6, 4, generator=g)
    _, weights = attention(query, keys, offset=2)           # steps t = 2, 3, 4
    for row, t in enumerate((2, 3, 4)):
        outside = [s for s in range(6) if abs(s - t) > 1]
        assert torch.all(weights[:, row, outside] == 0)
        assert torch.all(weights[:, row, t] > 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3))


def test_local_p_centre_lies_in_0_S_and_weights_follow_the_gaussian():
    torch.manual_seed(0)
    attention = LuongAttention(4, score="general", mode="local-p", window=2)
    with torch.no_grad():
        attention.v_p.weight.mul_(50)                      # push sigmoid towards 0 and 1
    query = torch.randn(3, 40, 4, generator=gen(9)) * 5
    keys = torch.randn(3, 7, 4, generator=gen(10))
    mask = torch.tensor([[1] * 7, [1] * 5 + [0] * 2, [1] * 3 + [0] * 4]).bool()
    lengths = mask.sum(1)
    centres = attention.centres(query, lengths)            # (3, 40)
    assert torch.all(centres >= 0) and torch.all(centres <= lengths[:, None])
    assert centres.min() < 0.5 and (lengths[:, None] - centres).min() < 0.5   # both ends reached
    _, weights = attention(query, keys, mask=mask)
    positions = torch.arange(7.0)
    far = (positions - centres[..., None]).abs() > 2
    assert torch.all(weights[far | ~mask[:, None]] == 0)
    assert torch.all(weights.sum(-1) <= 1 + 1e-6)          # the Gaussian only shrinks weights


# -- the toy tasks and the encoder-decoder ------------------------------------------------------
def test_reversal_task_reverses_each_sequence_and_pads():
    src, dec_in, dec_out = reversal_task(50, 8, min_length=3, seed=0)
    assert src.shape == (50, 8) and dec_in.shape == dec_out.shape == (50, 9)
    for s, i, o in zip(src, dec_in, dec_out):
        text = DIGITS.decode(s)
        assert 3 <= len(text) <= 8 and DIGITS.decode(o) == text[::-1]
        n = len(text)
        assert i[0] == BOS and torch.equal(i[1:n + 1], o[:n]) and o[n] == EOS
        assert torch.all(s[n:] == PAD) and torch.all(o[n + 1:] == PAD)


def test_dates_task_encodes_correct_iso_dates():
    pairs = date_pairs(200, seed=1)
    src, dec_in, dec_out = dates_task(200, seed=1)
    months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    for (text, iso), s, o in zip(pairs, src, dec_out):
        assert DATES.decode(s) == text and DATES.decode(o) == iso
        year, month, day = iso.split("-")
        assert year in text and (str(int(day)) in text)
        assert months[int(month) - 1] in text.lower() or f"{int(month)}" in text
    assert dec_out.shape[1] == 11 and len({len(t) for t, _ in pairs}) > 3   # padded sources


@pytest.mark.parametrize("attention, mode, window", [
    ("none", "global", None), ("dot", "global", None), ("concat", "global", None),
    ("general", "local-m", 2), ("general", "local-p", 2), ("bahdanau", "global", None)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_seq2seq_shapes_and_greedy_decoding(attention, mode, window, bidirectional):
    torch.manual_seed(0)
    model = Seq2Seq(len(DIGITS), 16, 8, attention=attention, mode=mode, window=window,
                    bidirectional=bidirectional)
    src, dec_in, dec_out = reversal_task(5, 6, min_length=2, seed=3)
    logits, weights = model(src, dec_in, return_attention=True)
    assert logits.shape == (5, 7, len(DIGITS))
    tokens, greedy_weights = model.greedy(src, 7)
    assert tokens.shape == (5, 7)
    if attention == "none":
        assert weights is None and greedy_weights is None
    else:
        assert weights.shape == greedy_weights.shape == (5, 7, 6)
        assert torch.all(weights.masked_select(~(src != PAD)[:, None]) == 0)
    # the padding of a source changes nothing for the real tokens
    padded = torch.cat([src, torch.full((5, 3), PAD)], 1)
    torch.testing.assert_close(model(padded, dec_in), logits, atol=1e-5, rtol=1e-5)


def test_greedy_stops_when_every_sequence_has_ended_and_pads_the_rest():
    torch.manual_seed(0)
    model = Seq2Seq(len(DIGITS), 16, 8, attention="dot")
    with torch.no_grad():
        model.out.bias[EOS] = 100.0                  # EOS at once, always
    src = reversal_task(3, 5, seed=0)[0]
    tokens, weights = model.greedy(src, 9)
    assert tokens.shape == (3, 9) and weights.shape == (3, 9, 5)
    assert torch.all(tokens[:, 0] == EOS) and torch.all(tokens[:, 1:] == PAD)
    torch.testing.assert_close(weights[:, 0].sum(-1), torch.ones(3))
    assert torch.all(weights[:, 1:] == 0)


@pytest.mark.slow
def test_attention_beats_no_attention_on_reversal():
    from companion.training import fit, seq2seq_step
    train = reversal_task(2000, 12, seed=0)
    test = reversal_task(300, 12, seed=1)
    scores = {}
    for attention in ("none", "dot"):
        torch.manual_seed(0)
        model = Seq2Seq(len(DIGITS), 48, 16, attention=attention)
        fit(model, train, epochs=4, batch_size=64, lr=1e-2, live=False, step=seq2seq_step,
            loss_fn=nn.CrossEntropyLoss(ignore_index=PAD), clip_grad=1.0)
        scores[attention] = exact_match(model, test[0], test[2])
    assert scores["dot"] > 0.6 and scores["none"] < 0.1, scores


def test_greedy_scores_count_sequences_tokens_and_steps_and_keep_the_mode():
    torch.manual_seed(0)
    model = Seq2Seq(len(DIGITS), 16, 8, attention="dot").train()
    src, _, dec_out = reversal_task(40, 5, min_length=2, seed=0)
    tokens, _ = model.greedy(src, dec_out.shape[1])
    target = tokens.clone()
    target[:10, 0] = torch.where(tokens[:10, 0] == 5, 6, 5)        # 10 sequences wrong
    scores = greedy_scores(model, src, target, batch_size=7)       # batches of 7: same answer
    real = target != PAD
    assert scores.exact == pytest.approx(30 / 40)
    assert scores.tokens == pytest.approx(1 - 10 / real.sum().item())
    assert scores.by_step[0].item() == pytest.approx(30 / 40) and torch.all(scores.by_step[1:] == 1)
    assert model.training and exact_match(model, src, target) == scores.exact


def test_greedy_centres_are_the_windows_greedy_decoding_uses():
    torch.manual_seed(0)
    model = Seq2Seq(len(DIGITS), 16, 8, attention="general", mode="local-p", window=1)
    src = reversal_task(6, 7, seed=0)[0]
    centres, outputs, states = greedy_centres(model, src)
    assert centres.shape == (6, 8) and outputs.shape == (6, 8, 16) and states.shape == (6, 7, 16)
    assert ((centres >= 0) & (centres <= 7)).all()
    _, weights = model.greedy(src, 8)                                 # (6, <=8, 7)
    steps = weights.shape[1]
    outside = (torch.arange(7) - centres[:, :steps, None]).abs() > 1  # (6, steps, 7)
    assert (weights[outside] == 0).all() and (weights[~outside] > 0).any()
    with pytest.raises(ValueError, match="local-m or local-p"):
        greedy_centres(Seq2Seq(len(DIGITS), 16, 8, attention="dot"), src)


def test_attention_snapshots_record_the_weights_during_training_and_the_last_equals_the_end():
    torch.manual_seed(0)
    model = Seq2Seq(len(DIGITS), 16, 8, attention="dot")
    train = reversal_task(100, 5, seed=0)
    src = train[0][:1]
    snaps = AttentionSnapshots(model, src, per_epoch=2)
    fit(model, train, epochs=2, batch_size=20, live=False, step=seq2seq_step,
        loss_fn=nn.CrossEntropyLoss(ignore_index=PAD), callbacks=[snaps])
    assert list(snaps.snapshots) == [0.0, 0.5, 1.0, 1.5, 2.0]   # 5 batches an epoch
    tokens, weights = model.greedy(src, 7)
    assert torch.equal(snaps.snapshots[2.0][0], tokens)
    assert torch.allclose(snaps.snapshots[2.0][1], weights)
    assert not torch.allclose(snaps.snapshots[0.0][1], weights)        # it changed
    with pytest.raises(ValueError, match="no weights"):
        AttentionSnapshots(Seq2Seq(len(DIGITS), 16, 8, attention="none"), src, 3)
    with pytest.raises(ValueError, match="per_epoch"):
        AttentionSnapshots(model, src, 0)


def test_softmax_explorer_shows_a_sharper_softmax_without_the_division():
    explorer = softmax_explorer([4, 1024])
    assert list(explorer.results) == [(4, "no"), (4, "yes"), (1024, "no"), (1024, "yes")]
    assert explorer.outputs[1024, "no"] != explorer.outputs[1024, "yes"]


def test_verdict_says_right_or_what_was_wanted():
    assert verdict(DIGITS, DIGITS.encode("123") + [EOS], DIGITS.encode("123") + [EOS]) \
        == "123 (right)"
    assert verdict(DIGITS, DIGITS.encode("12"), DIGITS.encode("123")) == "12 (wrong, not 123)"


def test_explorers_precompute_one_image_per_setting_and_refuse_missing_examples():
    torch.manual_seed(0)
    model = Seq2Seq(len(DIGITS), 16, 8, attention="dot")
    test = reversal_task(3, 5, seed=2)
    explorer = heatmap_explorer({"a": (model, DIGITS, test), "b": (model, DIGITS, test)},
                                [1, 2])
    assert len(explorer.results) == 4
    assert all(kind == "png" for kind, _ in explorer.outputs.values())
    with pytest.raises(ValueError, match="has 3 examples"):
        heatmap_explorer({"a": (model, DIGITS, test)}, [4])
    with pytest.raises(ValueError, match="count from 1"):
        heatmap_explorer({"a": (model, DIGITS, test)}, [0])
    snaps = AttentionSnapshots(model, test[0][:1], per_epoch=1)
    snaps.snapshots[1.0] = snaps.snapshots[0.0]
    scrub = snapshot_explorer(snaps, model, DIGITS, test[2][0], {0.0: 0.5, 1.0: 1.0})
    assert len(scrub.results) == 2
    fig = heatmap_result(model, test, DIGITS, "dot")
    assert "exact match" in fig.axes[0].get_title()
    none = Seq2Seq(len(DIGITS), 16, 8, attention="none")
    assert "nothing to show" in heatmap_result(none, test, DIGITS, "none").axes[0].texts[0].get_text()


# -- clear errors -------------------------------------------------------------------------------
def test_errors_are_clear():
    q, k, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6)
    with pytest.raises(ValueError, match="same size E"):
        scaled_dot_product_attention(q, torch.randn(2, 5, 3), v)
    with pytest.raises(ValueError, match="value must have shape"):
        scaled_dot_product_attention(q, k, torch.randn(2, 4, 6))
    with pytest.raises(ValueError, match="does not broadcast"):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(3, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="bool .* or float"):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(3, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="not both"):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(3, 5).bool(), is_causal=True)
    with pytest.raises(ValueError, match="bool tensor"):
        masked_softmax(torch.randn(2, 3), torch.ones(2, 3))
    with pytest.raises(ValueError, match="divisible by num_heads"):
        MultiHeadAttention(10, 3)
    mha = MultiHeadAttention(4, 2, batch_first=True)
    with pytest.raises(ValueError, match=r"query must have shape \(batch, seq, embed_dim\)"):
        mha(torch.randn(2, 3, 5), k, k)
    with pytest.raises(ValueError, match="share the batch size"):
        mha(q, k, torch.randn(2, 4, 4))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(2, 5\)"):
        mha(q, k, k, key_padding_mask=torch.zeros(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="attn_mask must be bool"):
        mha(q, k, k, attn_mask=torch.zeros(3, 5, dtype=torch.int64))
    with pytest.raises(ValueError, match="unknown score 'cosine'"):
        LuongAttention(4, score="cosine")
    with pytest.raises(ValueError, match="unknown mode 'local'"):
        LuongAttention(4, mode="local", window=2)
    with pytest.raises(ValueError, match="window D must be >= 0"):
        LuongAttention(4, mode="local-m", window=-1)
    with pytest.raises(ValueError, match="needs an integer window"):
        LuongAttention(4, mode="local-p")
    with pytest.raises(ValueError, match="global attention takes no window"):
        LuongAttention(4, window=3)
    with pytest.raises(ValueError, match="query_size == key_size"):
        LuongAttention(4, 6, score="dot")
    attention = LuongAttention(4)
    with pytest.raises(ValueError, match=r"keys must have shape \(batch, source, 4\)"):
        attention(q, torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match=r"mask must be a bool tensor of shape \(batch, source\)"):
        attention(q, k, mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="unknown attention 'luong'"):
        Seq2Seq(13, attention="luong")
    with pytest.raises(ValueError, match="src must be int64"):
        Seq2Seq(13)(torch.randn(2, 3), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="min_length"):
        reversal_task(3, 4, min_length=5)
