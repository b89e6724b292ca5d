"""rnnlab.nn.cells against torch.nn's cells with copied weights."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rnnlab.nn.cells import GRUCell, LSTMCell, RNNCell

pytestmark = pytest.mark.usefixtures("one_thread")

I, H, B = 3, 4, 2

# name -> (our cell, torch's cell), both built from (input_size, hidden_size, bias, **kw)
CELLS = {
    "rnn_tanh": (RNNCell, nn.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNNCell, nn.RNNCell, {"nonlinearity": "relu"}),
    "gru": (GRUCell, nn.GRUCell, {}),
    "lstm": (LSTMCell, nn.LSTMCell, {}),
}


def make_pair(name: str, bias: bool = True, dtype: torch.dtype = torch.float64):
    ours_cls, ref_cls, kw = CELLS[name]
    ours = ours_cls(I, H, bias, **kw, dtype=dtype)
    ref = ref_cls(I, H, bias, **kw, dtype=dtype)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def state(name: str, *lead: int, dtype: torch.dtype = torch.float64):
    """A random state of shape (*lead, H): a pair for the LSTM."""
    h = torch.randn(*lead, H, dtype=dtype, requires_grad=True)
    if name != "lstm":
        return h
    return h, torch.randn(*lead, H, dtype=dtype, requires_grad=True)


def flat(out) -> list[torch.Tensor]:
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_step_and_grads_match_torch(name, bias, batched, dtype, tol):
    torch.manual_seed(0)
    ours, ref = make_pair(name, bias, dtype)
    lead = (B,) if batched else ()
    x = torch.randn(*lead, I, dtype=dtype, requires_grad=True)
    hx = state(name, *lead, dtype=dtype)
    out_ours, out_ref = flat(ours(x, hx)), flat(ref(x, hx))
    weights = [torch.randn_like(o) for o in out_ref]
    for a, b in zip(out_ours, out_ref, strict=True):
        assert a.shape == b.shape == (*lead, H)
        torch.testing.assert_close(a, b, atol=tol, rtol=0)
    inputs = [x, *flat(hx), *ours.parameters()]
    g_ours = torch.autograd.grad(
        sum((o * w).sum() for o, w in zip(out_ours, weights, strict=True)), inputs
    )
    inputs_ref = [x, *flat(hx), *ref.parameters()]
    g_ref = torch.autograd.grad(
        sum((o * w).sum() for o, w in zip(out_ref, weights, strict=True)), inputs_ref
    )
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, atol=tol, rtol=0)


@pytest.mark.parametrize("name", list(CELLS))
def test_none_state_is_zeros(name):
    torch.manual_seed(1)
    ours, ref = make_pair(name)
    x = torch.randn(B, I, dtype=torch.float64)
    zeros = torch.zeros(B, H, dtype=torch.float64)
    zero_state = (zeros, zeros) if name == "lstm" else zeros
    for a, b, c in zip(flat(ours(x)), flat(ours(x, zero_state)), flat(ref(x)), strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)
        torch.testing.assert_close(a, c, atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("bias", [True, False])
def test_state_dict_loads_both_ways(name, bias):
    ours_cls, ref_cls, kw = CELLS[name]
    ours, ref = ours_cls(I, H, bias, **kw), ref_cls(I, H, bias, **kw)
    sd_ours, sd_ref = ours.state_dict(), ref.state_dict()
    assert list(sd_ours) == list(sd_ref)
    assert all(sd_ours[k].shape == sd_ref[k].shape for k in sd_ref)
    ours.load_state_dict(sd_ref)  # strict
    ref2 = ref_cls(I, H, bias, **kw)
    ref2.load_state_dict(ours.state_dict())
    for k, v in sd_ref.items():
        assert torch.equal(ref2.state_dict()[k], v)


@pytest.mark.parametrize("name", list(CELLS))
def test_init_is_torchs_uniform(name):
    torch.manual_seed(2)
    ours_cls, _, kw = CELLS[name]
    cell = ours_cls(5, 16, **kw)
    k = 1 / math.sqrt(16)
    for p in cell.parameters():
        assert p.abs().max() <= k
        assert p.abs().max() > 0.8 * k  # spread over the whole range, not a constant
    # same generator state, same draws as torch
    torch.manual_seed(3)
    ours = ours_cls(5, 16, **kw)
    torch.manual_seed(3)
    ref = CELLS[name][1](5, 16, **kw)
    for a, b in zip(ours.parameters(), ref.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", list(CELLS))
def test_gradcheck(name):
    torch.manual_seed(4)
    ours, _ = make_pair(name)
    x = torch.randn(2, I, dtype=torch.float64, requires_grad=True)
    hx = state(name, 2)
    params = list(ours.parameters())

    # input, state and parameters all checked, the parameters through functional_call
    def g(x, *rest):
        n = len(flat(hx))
        states, ps = rest[:n], rest[n:]
        names = [k for k, _ in ours.named_parameters()]
        s = tuple(states) if name == "lstm" else states[0]
        return torch.func.functional_call(ours, dict(zip(names, ps, strict=True)), (x, s))

    inputs = (x, *flat(hx), *[p.detach().clone().requires_grad_(True) for p in params])
    assert torch.autograd.gradcheck(g, inputs, eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", list(CELLS))
def test_bad_inputs_raise_value_error(name):
    ours, _ = make_pair(name)
    good = state(name, B)
    with pytest.raises(ValueError, match=r"\(B, 3\).*got \(2, 5\)"):
        ours(torch.randn(B, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"got \(1, 2, 3\)"):
        ours(torch.randn(1, B, I, dtype=torch.float64))
    bad_h = torch.zeros(B, H + 1, dtype=torch.float64)
    bad = (bad_h, good[1]) if name == "lstm" else bad_h
    with pytest.raises(ValueError, match=r"shape \(2, 4\).*got \(2, 5\)"):
        ours(torch.randn(B, I, dtype=torch.float64), bad)
    if name == "lstm":
        with pytest.raises(ValueError, match="pair"):
            ours(torch.randn(B, I, dtype=torch.float64), good[0])


def test_bad_nonlinearity():
    with pytest.raises(ValueError, match=r"'tanh' or 'relu'.*'sigmoid'"):
        RNNCell(I, H, nonlinearity="sigmoid")
