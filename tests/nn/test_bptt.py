"""rnnlab.nn.bptt: backpropagation through time written out, against autograd and torch.nn."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.nn import bptt
from rnnlab.nn import layers as L

pytestmark = pytest.mark.usefixtures("one_thread")

MODES = {"rnn_tanh": "RNN_TANH", "rnn_relu": "RNN_RELU", "gru": "GRU", "lstm": "LSTM"}
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}
T, B, I, H = 6, 4, 3, 5


def _inputs(mode, bias, masked, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    gh = GATES[mode] * H

    def rand(*shape, scale=1.0):
        return (scale * torch.randn(*shape, generator=g, dtype=dtype)).requires_grad_()

    x = rand(T, B, I)
    w_ih, w_hh = rand(gh, I), rand(gh, H, scale=0.5)
    b_ih, b_hh = (rand(gh), rand(gh)) if bias else (None, None)
    h0, c0 = rand(B, H), rand(B, H)
    mask = None
    if masked:  # right-padded: lengths 6, 3, 1, 4
        mask = (torch.arange(T)[:, None] < torch.tensor([6, 3, 1, 4])[None]).unsqueeze(-1)
    return x, w_ih, w_hh, b_ih, b_hh, h0, c0, mask


def _run(mode, fast, x, w_ih, w_hh, b_ih, b_hh, h0, c0, mask):
    """One layer direction over time: the bptt loops (``fast``) or the autograd loops."""
    if fast:
        w_ih, w_hh, b_ih, b_hh = bptt.prepare(mode, w_ih, w_hh, b_ih, b_hh)
        loops = (bptt.rnn_loop, bptt.gru_loop, bptt.lstm_loop)
    else:
        loops = (L._rnn_loop, L._gru_loop, L._lstm_loop)
    gi = F.linear(x, w_ih, b_ih)  # (T, B, G*H)
    if mode == "LSTM":
        out, h, c = loops[2](gi, h0, c0, w_hh, b_hh, mask)
        return [out, h, c]
    if mode == "GRU":
        return list(loops[1](gi, h0, w_hh, b_hh, mask))
    return list(loops[0](gi, h0, w_hh, b_hh, mask, mode == "RNN_RELU"))


@pytest.mark.parametrize("kind", list(MODES))
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_outputs_and_gradients_match_autograd_on_the_cell_equations(kind, masked, bias):
    mode = MODES[kind]
    args = _inputs(mode, bias, masked)
    used = args if mode == "LSTM" else args[:-2]  # c0 is the LSTM's alone
    leaves = [a for a in used if isinstance(a, torch.Tensor) and a.requires_grad]
    got, want = _run(mode, True, *args), _run(mode, False, *args)
    mask = args[-1]
    if mask is not None:  # the states at padded steps are left to the layer (it zeroes them)
        got[0], want[0] = got[0] * mask, want[0] * mask
    weights = [torch.randn_like(o) for o in want]  # a loss that reads every output

    def loss(outs):
        return sum((o * w).sum() for o, w in zip(outs, weights, strict=True))

    g_got = torch.autograd.grad(loss(got), leaves)
    g_want = torch.autograd.grad(loss(want), leaves)
    for a, b in zip(got + list(g_got), want + list(g_want), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", list(MODES))
@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck_float64(kind, masked):
    mode = MODES[kind]
    x, w_ih, w_hh, b_ih, b_hh, h0, c0, mask = _inputs(mode, True, masked)
    if mode == "RNN_RELU":  # keep pre-activations away from relu's kink
        with torch.no_grad():
            x.abs_()
            w_ih.abs_()
            b_ih.abs_()

    def f(x, w_ih, w_hh, b_ih, b_hh, h0, c0):
        out, *final = _run(mode, True, x, w_ih, w_hh, b_ih, b_hh, h0, c0, mask)
        return (out if mask is None else out * mask, *final)

    if mode != "LSTM":
        c0 = c0.detach()  # only the LSTM reads it
    assert torch.autograd.gradcheck(f, (x, w_ih, w_hh, b_ih, b_hh, h0, c0))


@pytest.mark.parametrize("kind", ["gru", "lstm", "rnn_tanh"])
def test_one_step_and_no_grad(kind):
    mode = MODES[kind]
    x, w_ih, w_hh, b_ih, b_hh, h0, c0, _ = _inputs(mode, True, False)
    x = x[:1]  # T = 1, as a decoder runs its layer
    with torch.no_grad():
        got = _run(mode, True, x, w_ih, w_hh, b_ih, b_hh, h0, c0, None)
        want = _run(mode, False, x, w_ih, w_hh, b_ih, b_hh, h0, c0, None)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)
        assert not a.requires_grad


def test_prepare_puts_the_sigmoid_gates_side_by_side():
    w_ih = torch.arange(4 * H, dtype=torch.float64)[:, None].expand(4 * H, I)  # row r holds r
    w_hh = torch.arange(4 * H, dtype=torch.float64)[:, None].expand(4 * H, H)
    b_ih, b_hh = torch.zeros(4 * H), torch.ones(4 * H)
    w_i, w_h, b, b2 = bptt.prepare("LSTM", w_ih, w_hh, b_ih, b_hh)
    rows = w_i[:, 0].long().tolist()
    i, f, g, o = (list(range(k * H, (k + 1) * H)) for k in range(4))
    assert rows == i + f + o + g and w_h[:, 0].long().tolist() == rows
    assert b2 is None and torch.equal(b, torch.ones(4 * H))  # b_hh folded into b_ih
    w_i, w_h, b, b2 = bptt.prepare("GRU", w_ih[: 3 * H], w_hh[: 3 * H], b_ih[: 3 * H], None)
    assert torch.equal(w_i, w_ih[: 3 * H]) and b2 is None  # the GRU keeps its layout


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("ragged", [False, True])
def test_explicit_lstm_layer_matches_torch_nn_with_copied_weights(bidirectional, ragged):
    torch.manual_seed(0)
    ref = nn.LSTM(I, H, num_layers=2, bidirectional=bidirectional, dtype=torch.float64)
    ours = L.LSTM(I, H, num_layers=2, bidirectional=bidirectional, dtype=torch.float64)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    lengths = [6, 3, 1, 4] if ragged else None
    out, (h, c) = ours(x, lengths=lengths)
    if ragged:
        packed = nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
        ref_out, (ref_h, ref_c) = ref(packed)
        ref_out, _ = nn.utils.rnn.pad_packed_sequence(ref_out, total_length=T)
    else:
        ref_out, (ref_h, ref_c) = ref(x)
    for a, b in ((out, ref_out), (h, ref_h), (c, ref_c)):
        torch.testing.assert_close(a, b)
    loss, ref_loss = out.square().sum() + h.sum() + c.sum(), ref_out.square().sum()
    ref_loss = ref_loss + ref_h.sum() + ref_c.sum()
    params = list(ours.parameters())
    grads = torch.autograd.grad(loss, [x, *params])
    ref_grads = torch.autograd.grad(ref_loss, [x, *ref.parameters()])
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b)


def test_explicit_lstm_layer_gradcheck_float64():
    torch.manual_seed(1)
    layer = L.LSTM(2, 3, bidirectional=True, dtype=torch.float64)
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    params = tuple(layer.parameters())

    def f(x, *weights):
        named = dict(zip([n for n, _ in layer.named_parameters()], weights, strict=True))
        out, (h, c) = torch.func.functional_call(layer, named, (x,), {"lengths": [4, 2]})
        return out, h, c

    assert torch.autograd.gradcheck(f, (x, *params))
