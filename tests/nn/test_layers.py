"""rnnlab.nn.layers against torch.nn's layers with copied weights (PackedSequence for lengths)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.nn.layers import (
    BACKENDS,
    GRU,
    LSTM,
    RNN,
    make_rnn,
    merge_directions,
    state_from_batch_first,
    state_to_batch_first,
)

pytestmark = pytest.mark.usefixtures("one_thread")

I, H = 3, 4
KINDS = {
    "rnn_tanh": (RNN, nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNN, nn.RNN, {"nonlinearity": "relu"}),
    "gru": (GRU, nn.GRU, {}),
    "lstm": (LSTM, nn.LSTM, {}),
}


def make_pair(kind, backend, dtype=torch.float64, **kw):
    ours_cls, ref_cls, extra = KINDS[kind]
    ours = ours_cls(I, H, **kw, **extra, backend=backend, dtype=dtype)
    ref = ref_cls(I, H, **kw, **extra, dtype=dtype)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def torch_run(ref, x, hx, lengths):
    """torch.nn's answer; ragged batches go through a PackedSequence and back."""
    if lengths is None:
        return ref(x, hx)
    steps = x.shape[1] if ref.batch_first else x.shape[0]
    packed = pack_padded_sequence(
        x, torch.tensor(lengths), batch_first=ref.batch_first, enforce_sorted=False
    )
    out, state = ref(packed, hx)
    out, _ = pad_packed_sequence(out, batch_first=ref.batch_first, total_length=steps)
    return out, state


def flat(result) -> list[torch.Tensor]:
    out, state = result
    return [out, *state] if isinstance(state, tuple) else [out, state]


def random_state(kind, layers_dirs, batch, dtype, grad=True):
    h = torch.randn(layers_dirs, batch, H, dtype=dtype, requires_grad=grad)
    if kind != "lstm":
        return h
    return h, torch.randn(layers_dirs, batch, H, dtype=dtype, requires_grad=grad)


def check_against_torch(
    kind,
    backend,
    dtype,
    tol,
    bidirectional,
    num_layers,
    batch_first,
    ragged,
    give_h0=True,
    bias=True,
):
    torch.manual_seed(0)
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    ours, ref = make_pair(kind, backend, dtype, bias=bias, **kw)
    steps, batch = 5, 3
    lengths = [2, 5, 1] if ragged else None
    shape = (batch, steps, I) if batch_first else (steps, batch, I)
    x = torch.randn(*shape, dtype=dtype, requires_grad=True)
    d = 2 if bidirectional else 1
    hx = random_state(kind, num_layers * d, batch, dtype) if give_h0 else None

    got, want = flat(ours(x, hx, lengths=lengths)), flat(torch_run(ref, x, hx, lengths))
    out_shape = (batch, steps, d * H) if batch_first else (steps, batch, d * H)
    assert got[0].shape == out_shape
    for a, b in zip(got, want, strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=tol, rtol=0)

    weights = [torch.randn_like(t) for t in want]
    leaves = [x, *([] if hx is None else [hx] if kind != "lstm" else list(hx))]
    g_ours = torch.autograd.grad(
        sum((t * w).sum() for t, w in zip(got, weights, strict=True)), [*leaves, *ours.parameters()]
    )
    g_ref = torch.autograd.grad(
        sum((t * w).sum() for t, w in zip(want, weights, strict=True)), [*leaves, *ref.parameters()]
    )
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, atol=tol, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2], ids=["L1", "L2"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["TB", "BT"])
@pytest.mark.parametrize("ragged", [False, True], ids=["full", "ragged"])
def test_matches_torch_float64(kind, backend, bidirectional, num_layers, batch_first, ragged):
    check_against_torch(
        kind, backend, torch.float64, 1e-10, bidirectional, num_layers, batch_first, ragged
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("ragged", [False, True], ids=["full", "ragged"])
def test_matches_torch_float32(kind, backend, ragged):
    check_against_torch(kind, backend, torch.float32, 1e-5, True, 2, False, ragged)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("ragged", [False, True], ids=["full", "ragged"])
def test_matches_torch_without_h0_and_without_bias(kind, backend, ragged):
    check_against_torch(kind, backend, torch.float64, 1e-10, True, 2, True, ragged, False, False)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_h0_none_is_zeros(kind, backend):
    torch.manual_seed(1)
    ours, _ = make_pair(kind, backend, num_layers=2, bidirectional=True)
    x = torch.randn(4, 2, I, dtype=torch.float64)
    zeros = torch.zeros(4, 2, H, dtype=torch.float64)
    hx = (zeros, zeros) if kind == "lstm" else zeros
    for a, b in zip(flat(ours(x)), flat(ours(x, hx)), strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("bias", [True, False])
def test_state_dict_loads_both_ways(kind, bias):
    ours_cls, ref_cls, extra = KINDS[kind]
    kw = dict(num_layers=2, bidirectional=True, bias=bias, **extra)
    ours, ref = ours_cls(I, H, **kw), ref_cls(I, H, **kw)
    sd_ours, sd_ref = ours.state_dict(), ref.state_dict()
    assert list(sd_ours) == list(sd_ref)  # same names, same order
    assert "weight_hh_l1_reverse" in sd_ours
    assert [p.shape for p in sd_ours.values()] == [p.shape for p in sd_ref.values()]
    ours.load_state_dict(sd_ref)
    ref2 = ref_cls(I, H, **kw)
    ref2.load_state_dict(ours.state_dict())
    for k, v in sd_ref.items():
        assert torch.equal(ref2.state_dict()[k], v)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_unbatched_input(kind, backend):
    torch.manual_seed(2)
    ours, ref = make_pair(kind, backend, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(5, I, dtype=torch.float64)  # (T, I): batch_first does not apply
    hx = random_state(kind, 4, 1, torch.float64, grad=False)
    hx = tuple(t[:, 0] for t in hx) if kind == "lstm" else hx[:, 0]  # (L*D, H)
    got, want = flat(ours(x, hx)), flat(ref(x, hx))
    assert got[0].shape == (5, 2 * H) and got[1].shape == (4, H)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_shapes(backend):
    for batch_first in (False, True):
        layer = LSTM(
            I, H, num_layers=2, bidirectional=True, batch_first=batch_first, backend=backend
        )
        x = torch.randn(3, 5, I) if batch_first else torch.randn(5, 3, I)
        out, (h, c) = layer(x, lengths=torch.tensor([5, 3, 1]))
        assert out.shape == ((3, 5, 2 * H) if batch_first else (5, 3, 2 * H))
        assert h.shape == c.shape == (4, 3, H)  # (L*D, B, H) whatever batch_first is
        layer = GRU(I, H, batch_first=batch_first, backend=backend)
        out, h = layer(x)
        assert out.shape == ((3, 5, H) if batch_first else (5, 3, H))
        assert h.shape == (1, 3, H)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_padded_steps_are_zero_and_h_n_is_last_real_state(kind, backend):
    torch.manual_seed(3)
    ours, _ = make_pair(kind, backend, bidirectional=True)
    x = torch.randn(4, 2, I, dtype=torch.float64)
    out, state = ours(x, lengths=[2, 4])
    assert torch.all(out[2:, 0] == 0) and torch.any(out[:2, 0] != 0)
    alone_out, alone_state = ours(x[:2, :1])  # the first sequence without its padding
    torch.testing.assert_close(out[:2, :1], alone_out, atol=1e-12, rtol=0)
    for a, b in zip(flat((None, state))[1:], flat((None, alone_state))[1:], strict=True):
        torch.testing.assert_close(a[:, :1], b, atol=1e-12, rtol=0)


@settings(max_examples=25, deadline=None)
@given(
    kind=st.sampled_from(list(KINDS)),
    backend=st.sampled_from(BACKENDS),
    lengths=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    extra=st.integers(0, 3),
    scale=st.sampled_from([1.0, 1e6, float("nan"), float("inf")]),
    seed=st.integers(0, 2**16),
)
def test_garbage_padding_never_changes_real_outputs(kind, backend, lengths, extra, scale, seed):
    gen = torch.Generator().manual_seed(seed)
    ours, _ = make_pair(kind, backend, num_layers=2, bidirectional=True)
    steps = max(lengths)
    x = torch.randn(steps, len(lengths), I, dtype=torch.float64, generator=gen)
    real = torch.arange(steps)[:, None] < torch.tensor(lengths)[None, :]  # (T, B)
    x = torch.where(real[:, :, None], x, 0.0)  # (T, B, I), zero padding
    garbage = scale * torch.randn(
        steps + extra, len(lengths), I, dtype=torch.float64, generator=gen
    )
    longer = torch.cat([x, torch.zeros(extra, len(lengths), I, dtype=torch.float64)])
    real_long = torch.arange(steps + extra)[:, None] < torch.tensor(lengths)[None, :]
    dirty = torch.where(real_long[:, :, None], longer, garbage)  # (T+extra, B, I)

    clean_res = ours(x, lengths=lengths)
    dirty_res = ours(dirty, lengths=lengths)
    clean, dirty_flat = flat(clean_res), flat(dirty_res)
    torch.testing.assert_close(dirty_flat[0][:steps], clean[0], atol=1e-12, rtol=0)
    assert torch.all(dirty_flat[0][steps:] == 0)
    for a, b in zip(clean[1:], dirty_flat[1:], strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    # and the gradients of the parameters do not see the garbage either
    g_clean = torch.autograd.grad(sum(t.sum() for t in clean), list(ours.parameters()))
    g_dirty = torch.autograd.grad(sum(t.sum() for t in dirty_flat), list(ours.parameters()))
    for a, b in zip(g_clean, g_dirty, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_between_layers_like_torch(backend):
    ours, ref = make_pair("lstm", backend, num_layers=3, dropout=0.5, bidirectional=True)
    x = torch.randn(5, 3, I, dtype=torch.float64)
    torch.manual_seed(5)
    got = flat(ours(x))
    torch.manual_seed(5)
    want = flat(ref(x))
    for a, b in zip(got, want, strict=True):  # same random masks, same places
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
    torch.manual_seed(6)
    assert not torch.allclose(flat(ours(x))[0], got[0])  # training: masks are random
    ours.eval()
    ref.eval()
    for a, b in zip(flat(ours(x)), flat(ref(x)), strict=True):  # eval: no dropout
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_training_step_changes_every_parameter(kind, backend):
    torch.manual_seed(7)
    ours, _ = make_pair(kind, backend, torch.float32, num_layers=2, bidirectional=True)
    before = {n: p.detach().clone() for n, p in ours.named_parameters()}
    opt = torch.optim.SGD(ours.parameters(), lr=0.1)
    x, target = torch.randn(4, 3, I), torch.randn(4, 3, 2 * H)
    out, _ = ours(x, lengths=[4, 2, 3])
    loss = ((out - target) ** 2).mean()
    loss.backward()
    opt.step()
    for n, p in ours.named_parameters():
        assert not torch.equal(p, before[n]), n
    out2, _ = ours(x, lengths=[4, 2, 3])
    assert ((out2 - target) ** 2).mean() < loss


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_inputs_raise_value_error(backend):
    gru = GRU(I, H, num_layers=2, backend=backend)
    x = torch.randn(5, 2, I)
    with pytest.raises(ValueError, match=r"\(T, B, I\).*I=3.*got shape \(5, 2, 7\)"):
        gru(torch.randn(5, 2, 7))
    with pytest.raises(ValueError, match=r"got shape \(1, 5, 2, 3\)"):
        gru(torch.randn(1, 5, 2, I))
    with pytest.raises(ValueError, match=r"got shape \(3,\)"):
        gru(torch.randn(I))
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 2, 4\).*got \(1, 2, 4\)"):
        gru(x, torch.zeros(1, 2, H))
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 4\).*got \(2, 1, 4\)"):
        gru(torch.randn(5, I), torch.zeros(2, 1, H))  # unbatched input, batched state
    with pytest.raises(ValueError, match=r"lengths must lie in 1\.\.5.*min 0"):
        gru(x, lengths=[0, 3])
    with pytest.raises(ValueError, match=r"lengths must lie in 1\.\.5.*max 6"):
        gru(x, lengths=torch.tensor([6, 3]))
    with pytest.raises(ValueError, match=r"shape \(2,\).*got shape \(3,\)"):
        gru(x, lengths=[1, 2, 3])
    with pytest.raises(ValueError, match="integers"):
        gru(x, lengths=torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="integers"):
        gru(x, lengths=[1.5, 2])
    lstm = LSTM(I, H, backend=backend)
    with pytest.raises(ValueError, match=r"pair \(h0, c0\)"):
        lstm(x, torch.zeros(1, 2, H))
    with pytest.raises(ValueError, match=r"c0 must have shape \(1, 2, 4\).*got \(1, 2, 5\)"):
        lstm(x, (torch.zeros(1, 2, H), torch.zeros(1, 2, H + 1)))


def test_bad_constructor_arguments():
    with pytest.raises(
        ValueError, match=r"backend must be one of explicit, scripted, fused.*'cudnn'"
    ):
        GRU(I, H, backend="cudnn")
    layer = GRU(I, H)
    layer.backend = "nope"
    with pytest.raises(ValueError, match="'nope'"):
        layer(torch.randn(2, 1, I))
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(I, H, nonlinearity="gelu")
    with pytest.raises(ValueError, match="dropout"):
        LSTM(I, H, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size"):
        LSTM(I, 0)
    with pytest.warns(UserWarning, match="num_layers=1"):
        LSTM(I, H, dropout=0.2)


@pytest.mark.parametrize("kind", list(KINDS))
def test_init_is_torchs_uniform(kind):
    ours_cls, ref_cls, extra = KINDS[kind]
    torch.manual_seed(8)
    ours = ours_cls(I, 16, num_layers=2, bidirectional=True, **extra)
    torch.manual_seed(8)
    ref = ref_cls(I, 16, num_layers=2, bidirectional=True, **extra)
    for a, b in zip(ours.parameters(), ref.parameters(), strict=True):
        assert torch.equal(a, b)  # uniform(-1/sqrt(H), 1/sqrt(H)), drawn in the same order
    assert max(p.abs().max().item() for p in ours.parameters()) <= 1 / 4


# --- make_rnn and the state layouts ---------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "cls", "ref_cls"),
    [("rnn", RNN, nn.RNN), ("gru", GRU, nn.GRU), ("lstm", LSTM, nn.LSTM)],
)
def test_make_rnn_builds_the_layer_torch_would(cell, cls, ref_cls) -> None:
    layer = make_rnn(cell, 3, 4, num_layers=2, bidirectional=True, dropout=0.1)
    assert type(layer) is cls and layer.backend == "fused" and layer.batch_first
    ref = ref_cls(3, 4, num_layers=2, bidirectional=True, batch_first=True, dropout=0.1)
    assert list(layer.state_dict()) == list(ref.state_dict())
    assert (layer.num_layers, layer.bidirectional, layer.dropout) == (2, True, 0.1)
    explicit = make_rnn(cell, 3, 4, backend="explicit", batch_first=False)
    assert explicit.backend == "explicit" and not explicit.batch_first
    with pytest.raises(ValueError, match="cell expects one of rnn, gru, lstm, got 'tcn'"):
        make_rnn("tcn", 3, 4)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_merge_directions_puts_each_layers_directions_side_by_side(cell) -> None:
    torch.manual_seed(0)
    ref = {"gru": nn.GRU, "lstm": nn.LSTM}[cell](3, 4, num_layers=2, bidirectional=True)
    _, state = ref(torch.randn(5, 2, 3))
    merged = merge_directions(state, 2)
    pairs = zip(state, merged, strict=True) if cell == "lstm" else [(state, merged)]
    for s, m in pairs:  # torch.nn orders h_n as l0 forward, l0 backward, l1 forward, ...
        assert m.shape == (2, 2, 8)
        for layer in range(2):
            want = torch.cat([s[2 * layer], s[2 * layer + 1]], dim=-1)  # (B, 2H)
            torch.testing.assert_close(m[layer], want)
    single = torch.randn(2, 3, 4)
    assert merge_directions(single, 1) is single


def test_batch_first_state_round_trip() -> None:
    h, c = torch.randn(2, 3, 4), torch.randn(2, 3, 4)  # (L, B, H)
    st = state_to_batch_first((h, c))
    assert set(st) == {"h", "c"} and st["h"].shape == (3, 2, 4)
    assert torch.equal(st["h"][1, 0], h[0, 1]) and torch.equal(st["c"][2, 1], c[1, 2])
    back = state_from_batch_first({**st, "memory": torch.zeros(3, 5)})  # other keys ignored
    assert isinstance(back, tuple) and torch.equal(back[0], h) and torch.equal(back[1], c)
    assert back[0].is_contiguous()
    only = state_to_batch_first(h)
    assert set(only) == {"h"} and torch.equal(state_from_batch_first(only), h)


def test_length_mask_by_hand():
    from rnnlab.nn.layers import length_mask

    got = length_mask(torch.tensor([2, 0, 3]), 3)
    want = [[True, True, False], [False, False, False], [True, True, True]]
    assert got.tolist() == want


# --- the fused backend's CPU path for padded batches (layers._fused_segments) -------------


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2], ids=["L1", "L2"])
def test_fused_stretches_match_torch_packed(kind, bidirectional, num_layers):
    """Few distinct lengths over many steps: one kernel call per stretch, not packed."""
    torch.manual_seed(0)
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
    ours, ref = make_pair(kind, "fused", **kw)
    lengths = [12, 3, 12, 7, 3, 1]  # 4 lengths over 12 steps: 3 steps a call
    x = torch.randn(len(lengths), 12, I, dtype=torch.float64, requires_grad=True)
    hx = random_state(kind, num_layers * (2 if bidirectional else 1), len(lengths), torch.float64)
    got, want = flat(ours(x, hx, lengths=lengths)), flat(torch_run(ref, x, hx, lengths))
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
    leaves = [x, *(hx if kind == "lstm" else [hx]), *ours.parameters()]
    ref_leaves = [x, *(hx if kind == "lstm" else [hx]), *ref.parameters()]
    weights = [torch.randn_like(t) for t in want]
    g_ours = torch.autograd.grad(
        sum((t * w).sum() for t, w in zip(got, weights, strict=True)), leaves
    )
    g_ref = torch.autograd.grad(
        sum((t * w).sum() for t, w in zip(want, weights, strict=True)), ref_leaves
    )
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(
    "lengths", [[30, 1, 2, 3, 4, 5, 30, 29], [5, 2, 4, 1], [6, 6]], ids=["merged", "packed", "same"]
)
def test_outputs_are_forwards_outputs(kind, backend, lengths):
    """``outputs`` (no final state; the fused CPU path may merge stretches over padding)
    gives forward's outputs and gradients, zeros past each end."""
    torch.manual_seed(1)
    ours, _ = make_pair(kind, backend, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(len(lengths), max(lengths) + 2, I, dtype=torch.float64, requires_grad=True)
    want = ours(x, lengths=lengths)[0]
    got = ours.outputs(x, lengths=lengths)
    torch.testing.assert_close(got, want, atol=1e-10, rtol=0)
    w = torch.randn_like(want)
    g_want = torch.autograd.grad((want * w).sum(), [x, *ours.parameters()])
    g_got = torch.autograd.grad((got * w).sum(), [x, *ours.parameters()])
    for a, b in zip(g_got, g_want, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
    torch.testing.assert_close(ours.outputs(x), ours(x)[0], atol=1e-10, rtol=0)


def test_stretches_merge_only_when_a_call_costs_more():
    from rnnlab.nn.layers import _stretches

    ends, rows = [1, 2, 3, 40], [6, 5, 4, 1]
    assert _stretches(ends, rows, 0.5) == (ends, rows)  # calls are cheap: keep every one
    assert _stretches(ends, rows, 1e6) == ([40], [6])  # calls are dear: one over padding
    assert _stretches(ends, rows, 10.0) == ([3, 40], [6, 1])  # 6 rows x 3, then 1 row x 37
