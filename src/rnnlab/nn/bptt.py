"""Backpropagation through time, written out: the ``explicit`` backend's time loops.

``rnnlab.nn.cells`` writes one step of each network as equations and lets autograd find
the gradient. Run over T steps that way, autograd records a dozen small operations per
step and replays them backwards one by one, which is most of the explicit backend's cost.
Here each loop over time is one ``torch.autograd.Function``:

* ``forward`` runs the cell's equations step by step, the same equations as
  ``cells.rnn_step``, ``cells.gru_step`` and ``cells.lstm_step``, writing into
  preallocated buffers and keeping the gate values of every step;
* ``backward`` walks the steps in reverse and applies the chain rule to those equations
  by hand: backpropagation through time as the textbook derives it. Everything that does
  not depend on the previous step (the gates' derivatives, the masks) is computed for all
  steps at once before the loop, and the weight gradient is one matrix product over all
  steps after it.

Each loop takes the input projections ``gi = x W_ih^T + b_ih`` of every step, ``(T, B,
G*H)``, the initial state ``(B, H)``, ``W_hh`` ``(G*H, H)`` and an optional mask ``(T, B,
1)``, true at real steps; where it is false the state is carried over unchanged. It
returns the states of every step ``(T, B, H)`` and the final state(s) ``(B, H)``.

(Skipping the padded steps instead, rows sorted by length as a ``PackedSequence`` does,
was tried for the LSTM: at the lecture's sizes (B = 256, H <= 128) the slicing it takes
costs more than the rows it saves, 10-20% slower.)

``tests/nn/test_bptt.py`` checks every gradient against autograd on ``cells``' step
functions, against ``torch.nn`` with copied weights, and with ``gradcheck`` in float64.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable


def _blend_masks(mask: Tensor | None, like: Tensor) -> Tensor | None:
    """The bool mask ``(T, B, 1)`` as 1.0 at real steps, 0.0 at padding (or None)."""
    return None if mask is None else mask.to(like.dtype)


def _previous(states: Tensor, first: Tensor) -> Tensor:
    """The state each step starts from: ``[first, s_0, ..., s_(T-2)]``, (T, B, H)."""
    return torch.cat([first.unsqueeze(0), states[:-1]])


def _weight_grad(d_pre: Tensor, h_prev: Tensor) -> Tensor:
    """``sum_t d_pre_t^T h_(t-1)``: dL/dW_hh over all steps in one product, (G*H, H)."""
    return d_pre.flatten(0, 1).t().mm(h_prev.flatten(0, 1))


# --- Elman -------------------------------------------------------------------------------


class ElmanBPTT(torch.autograd.Function):
    """``h_t = act(a_t)``, ``a_t = gi_t + W_hh h_(t-1)`` (``b_hh`` folded into gi)."""

    @staticmethod
    def forward(
        ctx: FunctionCtx, gi: Tensor, h0: Tensor, w_hh: Tensor, mask: Tensor | None, relu: bool
    ) -> tuple[Tensor, Tensor]:
        steps = gi.shape[0]
        hs = gi.new_empty(steps, *h0.shape)  # (T, B, H)
        w_t = w_hh.t()  # (H, H)
        h = h0
        for t in range(steps):
            a = torch.addmm(gi[t], h, w_t, out=hs[t])  # a_t = W_ih x_t + b + W_hh h_(t-1)
            h_new = a.relu_() if relu else a.tanh_()  # h_t = act(a_t)
            if mask is not None:
                torch.where(mask[t], h_new, h, out=hs[t])  # padding: keep h_(t-1)
            h = hs[t]
        ctx.save_for_backward(hs, h0, w_hh)
        ctx.mask, ctx.relu = mask, relu  # type: ignore[attr-defined]
        return hs, hs[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, d_out: Tensor, d_hn: Tensor) -> tuple[Tensor | None, ...]:
        hs, h0, w_hh = ctx.saved_tensors
        mask = ctx.mask
        m = _blend_masks(mask, hs)
        # dh_t/da_t for every step at once: 1 - h_t^2 (tanh) or [h_t > 0] (relu); 0 at padding
        deriv = (hs > 0).to(hs.dtype) if ctx.relu else 1 - hs * hs  # (T, B, H)
        if m is not None:
            deriv = deriv * m
        d_pre = torch.empty_like(hs)  # (T, B, H): dL/da_t
        dh = d_hn + d_out[-1]  # dL/dh_(T-1)
        for t in range(hs.shape[0] - 1, -1, -1):
            da = torch.mul(dh, deriv[t], out=d_pre[t])  # dL/da_t = dL/dh_t * act'(a_t)
            carry = dh * (1 - m[t]) if m is not None else None  # padding passes dh through
            dh = d_out[t - 1] if t > 0 else torch.zeros_like(dh)
            dh = torch.addmm(dh, da, w_hh)  # dL/dh_(t-1) = out grad + W_hh^T dL/da_t
            if carry is not None:
                dh += carry
        return d_pre, dh, _weight_grad(d_pre, _previous(hs, h0)), None, None


# --- GRU ---------------------------------------------------------------------------------


class GRUBPTT(torch.autograd.Function):
    """torch's GRU: ``r, z = sigmoid(gi_rz + W_hrz h + b_hrz)``,
    ``n = tanh(gi_n + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``."""

    @staticmethod
    def forward(
        ctx: FunctionCtx,
        gi: Tensor,
        h0: Tensor,
        w_hh: Tensor,
        b_hh: Tensor | None,
        mask: Tensor | None,
    ) -> tuple[Tensor, Tensor]:
        steps, hid = gi.shape[0], h0.shape[-1]
        gates = torch.empty_like(gi)  # (T, B, 3H): r, z, n of every step
        gh = torch.empty_like(gi)  # (T, B, 3H): W_h* h_(t-1) + b_h*
        hs = gi.new_empty(steps, *h0.shape)  # (T, B, H)
        w_t = w_hh.t()  # (H, 3H)
        h = h0
        for t in range(steps):
            if b_hh is None:
                torch.mm(h, w_t, out=gh[t])
            else:
                torch.addmm(b_hh, h, w_t, out=gh[t])  # W_h* h + b_h*, all three gates
            (i_rz, i_n), (h_rz, h_n) = gi[t].split(2 * hid, -1), gh[t].split(2 * hid, -1)
            rz, n = gates[t].split(2 * hid, -1)  # where the gates of step t go
            r, z = torch.add(i_rz, h_rz, out=rz).sigmoid_().split(hid, -1)  # reset, update
            torch.addcmul(i_n, r, h_n, out=n).tanh_()  # candidate: tanh(i_n + r * h_n)
            h_new = torch.sub(h, n, out=hs[t]).mul_(z).add_(n)  # (1 - z) * n + z * h
            if mask is not None:
                torch.where(mask[t], h_new, h, out=hs[t])  # padding: keep h_(t-1)
            h = hs[t]
        ctx.save_for_backward(gates, gh, hs, h0, w_hh)
        ctx.mask, ctx.has_bias = mask, b_hh is not None  # type: ignore[attr-defined]
        return hs, hs[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, d_out: Tensor, d_hn: Tensor) -> tuple[Tensor | None, ...]:
        gates, gh, hs, h0, w_hh = ctx.saved_tensors
        mask = ctx.mask
        hid = hs.shape[-1]
        m = _blend_masks(mask, hs)
        h_prev = _previous(hs, h0)  # (T, B, H)
        r, z, n = gates.split(hid, -1)  # each (T, B, H)
        hn = gh[..., 2 * hid :]  # (T, B, H): W_hn h + b_hn
        # everything that does not depend on the step order, for all steps at once
        dn_pre = (1 - z) * (1 - n * n)  # dh'/d(n's pre-activation)
        dz_pre = (h_prev - n) * z * (1 - z)  # dh'/d(z's pre-activation)
        keep = z  # dh'/dh through the z * h path
        if m is not None:  # at padding: no gate gets a gradient, h passes through unchanged
            dn_pre, dz_pre, keep = dn_pre * m, dz_pre * m, torch.where(mask, z, 1.0)
        dr_pre = r * (1 - r)  # sigmoid'
        d_gi = torch.empty_like(gates)  # (T, B, 3H): dL/d(W_i* x + b_i*)
        d_gh = torch.empty_like(gates)  # (T, B, 3H): dL/d(W_h* h + b_h*)
        dh = d_hn + d_out[-1]
        for t in range(hs.shape[0] - 1, -1, -1):
            da_n = torch.mul(dh, dn_pre[t], out=d_gi[t, :, 2 * hid :])  # n's pre-activation
            torch.mul(dh, dz_pre[t], out=d_gi[t, :, hid : 2 * hid])  # z's pre-activation
            torch.mul(da_n, hn[t], out=d_gi[t, :, :hid]).mul_(dr_pre[t])  # r's: da_n * hn * r'
            d_gh[t, :, : 2 * hid] = d_gi[t, :, : 2 * hid]  # r and z: gi and gh add
            torch.mul(da_n, r[t], out=d_gh[t, :, 2 * hid :])  # n: r multiplies W_hn h + b_hn
            up = d_out[t - 1] if t > 0 else torch.zeros_like(dh)
            dh = torch.addmm(torch.addcmul(up, dh, keep[t]), d_gh[t], w_hh)  # dL/dh_(t-1)
        d_b = d_gh.sum((0, 1)) if ctx.has_bias else None
        return d_gi, dh, _weight_grad(d_gh, h_prev), d_b, None


# --- LSTM --------------------------------------------------------------------------------


class LSTMBPTT(torch.autograd.Function):
    """The LSTM with its gates in the order i, f, o, g (see ``prepare``) and ``b_hh``
    folded into gi: ``i, f, o = sigmoid(.)``, ``g = tanh(.)``, ``c' = f c + i g``,
    ``h' = o tanh(c')``."""

    @staticmethod
    def forward(
        ctx: FunctionCtx, gi: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, mask: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        steps, hid = gi.shape[0], h0.shape[-1]
        gates = torch.empty_like(gi)  # (T, B, 4H): i, f, o, g of every step
        hs = gi.new_empty(steps, *h0.shape)  # (T, B, H)
        cs = torch.empty_like(hs)  # (T, B, H): cell states
        tanh_c = torch.empty_like(hs)  # (T, B, H): tanh(c_t)
        w_t = w_hh.t()  # (H, 4H)
        gates.copy_(gi)  # W_i* x + b_*, all steps at once; each step adds W_h* h in place
        h, c = h0, c0
        for t in range(steps):
            a = gates[t].addmm_(h, w_t)  # W_i* x + b_* + W_h* h, all gates
            i, f, o = a[:, : 3 * hid].sigmoid_().split(hid, -1)  # input, forget, output gates
            g = a[:, 3 * hid :].tanh_()  # cell candidate
            c_new = torch.mul(f, c, out=cs[t]).addcmul_(i, g)  # c' = f * c + i * g
            h_new = torch.mul(o, torch.tanh(c_new, out=tanh_c[t]), out=hs[t])  # h' = o tanh(c')
            if mask is not None:  # padding: keep (h, c) of the step before
                torch.where(mask[t], c_new, c, out=cs[t])
                torch.where(mask[t], h_new, h, out=hs[t])
            h, c = hs[t], cs[t]
        ctx.save_for_backward(gates, hs, cs, tanh_c, h0, c0, w_hh)
        ctx.mask = mask  # type: ignore[attr-defined]
        return hs, hs[-1].clone(), cs[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, d_out: Tensor, d_hn: Tensor, d_cn: Tensor) -> tuple[Tensor | None, ...]:
        gates, hs, cs, tanh_c, h0, c0, w_hh = ctx.saved_tensors
        mask = ctx.mask
        hid = hs.shape[-1]
        one = hs.new_ones(())
        pad = None if mask is None else (~mask).to(hs.dtype)  # (T, B, 1): 1.0 at padding
        d_pre = torch.empty_like(gates)  # (T, B, 4H): dL/d(pre-activations)
        d_h = d_out.clone()  # (T, B, H): dL/dh_t, the outputs' share now, the rest added below
        d_h[-1] += d_hn
        dc = d_cn
        for t in range(hs.shape[0] - 1, -1, -1):
            dh = d_h[t]  # dL/dh_t
            s, tc = gates[t], tanh_c[t]  # (B, 4H), (B, H)
            i, f, o, g = s.split(hid, -1)
            c_prev = cs[t - 1] if t > 0 else c0
            dh_in, dc_in = dh, dc
            if mask is not None:  # at padding no gate gets a gradient: (h, c) pass through
                dh, dc = dh * mask[t], dc * mask[t]
            dc_dh = torch.addcmul(one, tc, tc, value=-1).mul_(o)  # dc'/dh' = o * tanh'(c')
            dc = torch.addcmul(dc, dh, dc_dh)  # dL/dc_t: from c_(t+1) and through h_t
            d_i, d_f, d_o, d_g = d_pre[t].split(hid, -1)
            torch.mul(dc, g, out=d_i)  # c' = f c + i g
            torch.mul(dc, c_prev, out=d_f)
            torch.mul(dh, tc, out=d_o)  # h' = o tanh(c')
            torch.mul(dc, i, out=d_g)
            act_grad = torch.addcmul(s, s, s, value=-1)  # sigmoid' = s (1 - s): i, f, o ...
            torch.addcmul(one, g, g, value=-1, out=act_grad[:, 3 * hid :])  # ... tanh' for g
            d_pre[t].mul_(act_grad)  # through the sigmoids and the tanh
            dc = dc * f  # dL/dc_(t-1)
            dh = d_h[t - 1].addmm_(d_pre[t], w_hh) if t > 0 else d_pre[0].mm(w_hh)  # dL/dh_(t-1)
            if pad is not None:
                dh.addcmul_(dh_in, pad[t])
                dc.addcmul_(dc_in, pad[t])
        return d_pre, dh, dc, _weight_grad(d_pre, _previous(hs, h0)), None


def _ifog(hidden: int, device: torch.device) -> Tensor:
    """Row order that puts torch's LSTM gates i, f, g, o as i, f, o, g: the three sigmoid
    gates side by side, so one sigmoid covers them."""
    i_f = torch.arange(2 * hidden, device=device)
    return torch.cat([i_f, i_f[:hidden] + 3 * hidden, i_f[:hidden] + 2 * hidden])


def prepare(
    mode: str, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None, b_hh: Tensor | None
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """The weights as the loops below take them (differentiably, on the small weight
    tensors, once per layer call rather than on every step's activations):

    * RNN and LSTM: ``b_hh`` added to ``b_ih`` (both are added to every pre-activation);
    * LSTM: the gate rows reordered from torch's i, f, g, o to i, f, o, g.
    """
    if mode == "GRU":  # b_hn sits inside r * (W_hn h + b_hn): it cannot be folded
        return w_ih, w_hh, b_ih, b_hh
    if b_ih is not None and b_hh is not None:
        b_ih, b_hh = b_ih + b_hh, None
    if mode == "LSTM":
        order = _ifog(w_hh.shape[1], w_hh.device)
        w_ih, w_hh = w_ih[order], w_hh[order]
        b_ih = None if b_ih is None else b_ih[order]
    return w_ih, w_hh, b_ih, b_hh


# --- the loops, with the signatures of ``rnnlab.nn.layers``' Python loops ------------------


def rnn_loop(
    gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, mask: Tensor | None, relu: bool
) -> tuple[Tensor, Tensor]:
    """Elman layer over time: states (T, B, H) and the last (B, H)."""
    if b_hh is not None:
        gi = gi + b_hh  # (T, B, H): both biases added once, not at every step
    out, h_n = ElmanBPTT.apply(gi, h, w_hh, mask, relu)
    return out, h_n


def gru_loop(
    gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, mask: Tensor | None
) -> tuple[Tensor, Tensor]:
    """GRU layer over time: states (T, B, H) and the last (B, H)."""
    out, h_n = GRUBPTT.apply(gi, h, w_hh, b_hh, mask)
    return out, h_n


def lstm_loop(
    gi: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, b_hh: Tensor | None, mask: Tensor | None
) -> tuple[Tensor, Tensor, Tensor]:
    """LSTM layer over time, gates in the order i, f, o, g (``prepare``): states (T, B, H)
    and the last (h, c), each (B, H)."""
    if b_hh is not None:
        gi = gi + b_hh  # (T, B, 4H)
    out, h_n, c_n = LSTMBPTT.apply(gi, h, c, w_hh, mask)
    return out, h_n, c_n


__all__ = ["GRUBPTT", "LSTMBPTT", "ElmanBPTT", "gru_loop", "lstm_loop", "prepare", "rnn_loop"]
