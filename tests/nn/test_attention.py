"""Attention: normalized weights, masking, hand-computed scores, shapes."""

from __future__ import annotations

import math

import pytest
import torch

from rnnlab.nn.attention import (
    AdditiveAttention,
    Attention,
    DotAttention,
    GeneralAttention,
    LocationAttention,
    circular_shift,
    content_weights,
    make_attention,
    masked_softmax,
    sharpen,
)

KINDS = ("additive", "dot", "general")


def _inputs(b: int = 3, s: int = 5, h: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(b, h, generator=g)
    memory = torch.randn(b, s, h, generator=g)
    lengths = torch.tensor([s, 2, 1][:b])
    mask = torch.arange(s).unsqueeze(0) < lengths.unsqueeze(1)
    return query, memory, mask, lengths


@pytest.mark.parametrize("kind", KINDS)
def test_weights_sum_to_one_and_skip_padding(kind: str) -> None:
    torch.manual_seed(0)
    att = make_attention(kind, 4, 4)
    query, memory, mask, _ = _inputs()
    context, weights = att(query, memory, mask)
    assert context.shape == (3, 4) and weights.shape == (3, 5)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(3))
    assert bool((weights[~mask] == 0).all())
    assert bool((weights[mask] > 0).all())


@pytest.mark.parametrize("kind", KINDS)
def test_padding_invariance(kind: str) -> None:
    """Whatever lies in padded memory slots, and however wide the padding, changes nothing."""
    torch.manual_seed(0)
    att = make_attention(kind, 4, 4)
    query, memory, _, _ = _inputs(b=1, s=3)
    mask = torch.ones(1, 3, dtype=torch.bool)
    c_short, w_short = att(query, memory, mask)
    padded = torch.cat([memory, 100 * torch.randn(1, 4, 4)], dim=1)  # junk in 4 pad slots
    mask_long = torch.tensor([[True] * 3 + [False] * 4])
    c_long, w_long = att(query, padded, mask_long)
    torch.testing.assert_close(c_long, c_short)
    torch.testing.assert_close(w_long[:, :3], w_short)


@pytest.mark.parametrize("kind", KINDS)
def test_no_gradient_reaches_padded_memory(kind: str) -> None:
    torch.manual_seed(0)
    att = make_attention(kind, 4, 4)
    query, memory, mask, _ = _inputs()
    memory.requires_grad_(True)
    context, _ = att(query, memory, mask)
    context.sum().backward()
    assert memory.grad is not None
    assert bool((memory.grad[~mask] == 0).all())
    assert bool((memory.grad[mask].abs().sum() > 0).all())


def test_dot_attention_by_hand() -> None:
    query = torch.tensor([[1.0, 0.0]])
    memory = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [9.0, 9.0]]])
    mask = torch.tensor([[True, True, True, False]])
    context, weights = DotAttention(2, 2)(query, memory, mask)
    # scores 1, 0, 1 (the 4th is padding): softmax = e, 1, e over 2e + 1
    z = 2 * math.e + 1
    want_w = torch.tensor([[math.e / z, 1 / z, math.e / z, 0.0]])
    want_c = torch.tensor([[(math.e + math.e) / z, (1 + math.e) / z]])
    torch.testing.assert_close(weights, want_w)
    torch.testing.assert_close(context, want_c)


def test_general_with_identity_is_dot() -> None:
    query, memory, mask, _ = _inputs()
    gen = GeneralAttention(4, 4)
    with torch.no_grad():
        gen.W.weight.copy_(torch.eye(4))
    c1, w1 = gen(query, memory, mask)
    c2, w2 = DotAttention(4, 4)(query, memory, mask)
    torch.testing.assert_close(c1, c2)
    torch.testing.assert_close(w1, w2)


def test_additive_attention_by_hand() -> None:
    att = AdditiveAttention(1, 1, attn_dim=1)
    with torch.no_grad():
        att.W.weight.fill_(1.0)
        att.U.weight.fill_(2.0)
        att.U.bias.fill_(0.0)
        att.v.weight.fill_(3.0)
    query = torch.tensor([[0.5]])
    memory = torch.tensor([[[0.0], [1.0]]])
    mask = torch.ones(1, 2, dtype=torch.bool)
    context, weights = att(query, memory, mask)
    s = [3 * math.tanh(0.5 + 2 * m) for m in (0.0, 1.0)]
    e = [math.exp(x) for x in s]
    want = torch.tensor([[e[0] / sum(e), e[1] / sum(e)]])
    torch.testing.assert_close(weights, want)
    torch.testing.assert_close(context, want[:, 1:])  # memory values are 0 and 1


@pytest.mark.parametrize("kind", KINDS)
def test_many_queries_equal_one_at_a_time(kind: str) -> None:
    torch.manual_seed(0)
    att = make_attention(kind, 4, 4)
    _, memory, mask, _ = _inputs()
    queries = torch.randn(3, 6, 4)
    context, weights = att(queries, memory, mask)
    assert context.shape == (3, 6, 4) and weights.shape == (3, 6, 5)
    for t in range(6):
        c, w = att(queries[:, t], memory, mask, keys=att.keys(memory))
        torch.testing.assert_close(context[:, t], c)
        torch.testing.assert_close(weights[:, t], w)


def test_different_query_and_memory_sizes() -> None:
    memory = torch.randn(2, 3, 6)
    mask = torch.ones(2, 3, dtype=torch.bool)
    for kind in ("additive", "general"):
        c, w = make_attention(kind, 4, 6)(torch.randn(2, 4), memory, mask)
        assert c.shape == (2, 6) and w.shape == (2, 3)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="same size"):
        DotAttention(4, 6)
    with pytest.raises(ValueError, match="attention expects one of"):
        make_attention("cosine", 4, 4)
    with pytest.raises(ValueError, match="query has size 3"):
        DotAttention(4, 4)(torch.randn(2, 3), torch.randn(2, 5, 4), torch.ones(2, 5).bool())


def test_masked_softmax_matches_softmax_over_the_kept_part() -> None:
    scores = torch.randn(2, 1, 5)
    mask = torch.tensor([[[True, True, False, True, False]], [[True] * 5]])
    got = masked_softmax(scores, mask)
    torch.testing.assert_close(got[0, 0, [0, 1, 3]], torch.softmax(scores[0, 0, [0, 1, 3]], -1))
    torch.testing.assert_close(got[1], torch.softmax(scores[1], -1))


def test_initial_weights_uniform_over_the_source() -> None:
    mask = torch.tensor([[True, True, False, False], [True] * 4])
    w = DotAttention(2, 2).initial_weights(mask)
    torch.testing.assert_close(w, torch.tensor([[0.5, 0.5, 0, 0], [0.25] * 4]))


def test_keys_from_one_tensor_values_from_another() -> None:
    """With ``keys`` given, ``memory`` is only read: weights come from the keys."""
    torch.manual_seed(0)
    att = make_attention("general", 4, 4)
    query, memory, mask, _ = _inputs()
    values = torch.randn(3, 5, 7)  # another size
    context, weights = att(query, values, mask, keys=att.keys(memory))
    _, ref_weights = att(query, memory, mask)
    torch.testing.assert_close(weights, ref_weights)
    torch.testing.assert_close(context, torch.bmm(ref_weights.unsqueeze(1), values).squeeze(1))


# --- location attention (NTM addressing) -----------------------------------------------------

SHARP_PLUS = torch.tensor([[0.0, 0.0, 1.0]])  # all mass on moving by +1
SHARP_MINUS = torch.tensor([[1.0, 0.0, 0.0]])


def test_sharp_shift_moves_weights_one_position_by_hand() -> None:
    mask = torch.tensor([[True, True, True, False]])  # length 3, one padded position
    w = torch.tensor([[0.1, 0.7, 0.2, 0.0]])
    # +1: position j reads j - 1, wrapping at the sequence's own length (3, not 4)
    assert torch.allclose(circular_shift(w, SHARP_PLUS, mask), torch.tensor([[0.2, 0.1, 0.7, 0]]))
    assert torch.allclose(circular_shift(w, SHARP_MINUS, mask), torch.tensor([[0.7, 0.2, 0.1, 0]]))
    first = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    assert torch.equal(circular_shift(first, SHARP_MINUS, mask), torch.tensor([[0.0, 0, 1, 0]]))
    # a blurred shift mixes neighbours: 0.5 stay + 0.5 right
    half = torch.tensor([[0.0, 0.5, 0.5]])
    want = torch.tensor([[0.5 * 0.1 + 0.5 * 0.2, 0.5 * 0.7 + 0.5 * 0.1, 0.5 * 0.2 + 0.5 * 0.7, 0]])
    assert torch.allclose(circular_shift(w, half, mask), want)


def test_sharpen_and_content_by_hand() -> None:
    mask = torch.tensor([[True, True, False]])
    got = sharpen(torch.tensor([[0.2, 0.8, 0.0]]), torch.tensor([[2.0]]), mask)
    assert torch.allclose(got, torch.tensor([[0.04 / 0.68, 0.64 / 0.68, 0.0]]), atol=1e-5)
    memory = torch.tensor([[[2.0, 0.0], [0.0, 3.0], [5.0, 5.0]]])
    unit = LocationAttention(2, 2).keys(memory)  # rows of length 1
    assert torch.allclose(unit[0, 1], torch.tensor([0.0, 1.0]))
    got = content_weights(torch.tensor([[3.0, 0.0]]), unit, torch.tensor([[math.log(4.0)]]), mask)
    # cos = 1 and 0 -> scores log 4 and 0 -> 4/5, 1/5; the padded position gets nothing
    assert torch.allclose(got, torch.tensor([[0.8, 0.2, 0.0]]))


def test_location_attention_step_with_sharp_head() -> None:
    att = LocationAttention(query_dim=4, key_dim=3)
    assert isinstance(att, Attention) and att.uses_previous_weights
    hk = 3
    with torch.no_grad():  # gate -> 0 (ignore content), shift -> +1, gamma -> large
        att.heads.weight.zero_()
        att.heads.bias.zero_()
        att.heads.bias[hk + 1] = -50.0
        att.heads.bias[hk + 2 : hk + 5] = torch.tensor([-50.0, -50.0, 50.0])
        att.heads.bias[hk + 5] = 20.0
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    memory = torch.randn(2, 5, 3)
    w = att.initial_weights(mask)
    for step in range(1, 7):
        context, w = att(torch.randn(2, 4), memory, mask, previous=w)
        want = [step % 5, step % 3]
        assert w.argmax(dim=1).tolist() == want
        assert torch.allclose(w.max(dim=1).values, torch.ones(2), atol=1e-4)
        assert torch.allclose(context[0], memory[0, want[0]], atol=1e-3)


def test_location_weights_sum_to_one_and_ignore_padding() -> None:
    torch.manual_seed(0)
    att = LocationAttention(query_dim=6, key_dim=5)
    mask = torch.arange(7).unsqueeze(0) < torch.tensor([[7], [4], [1]])  # (3, 7)
    memory = torch.randn(3, 7, 5)
    w = att.initial_weights(mask)
    for _ in range(5):
        _, w = att(torch.randn(3, 6) * 3, memory, mask, previous=w)
        assert torch.allclose(w.sum(dim=1), torch.ones(3), atol=1e-5)
        assert float(w.detach()[~mask].abs().max()) == 0.0 and float(w.detach().min()) >= 0.0


def test_make_attention_builds_location() -> None:
    att = make_attention("location", 6, 5)
    assert isinstance(att, LocationAttention) and att.uses_previous_weights
    with pytest.raises(ValueError, match="one step at a time"):
        att(torch.randn(2, 3, 6), torch.randn(2, 4, 5), torch.ones(2, 4, dtype=torch.bool))
