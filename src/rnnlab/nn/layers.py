"""Multi-layer, optionally bidirectional RNN, GRU and LSTM layers with torch.nn's interface.

``RNN``, ``GRU`` and ``LSTM`` take torch.nn's constructor arguments and register their
parameters under torch.nn's names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...), directly
on the layer, so ``load_state_dict`` works from and to ``torch.nn.GRU`` etc. unchanged.
On top of torch.nn they take:

* ``lengths`` in ``forward``: the true lengths of a right-padded batch. Outputs at padded
  steps are zero, ``h_n`` holds each sequence's state at its own last real step, and the
  reverse direction starts at each sequence's own end: what torch gives for a
  ``PackedSequence``, without the packing on the caller's side.
* ``backend``, which picks how the same parameters are run:

  - ``"explicit"``: the unrolled network of the lecture. For each layer and direction the
    input projection ``x W_ih^T + b_ih`` is one matrix product over all time steps, then a
    Python loop applies the cell's step equations to the recurrent part, and its backward
    pass is backpropagation through time written out by hand (``rnnlab.nn.bptt``; the
    plain loops below, which leave the gradient to autograd, are what it is tested
    against).
  - ``"scripted"``: the same loop compiled with TorchScript (``torch.jit.script``), which
    takes the Python interpreter out of the per-step work.
  - ``"fused"``: torch's native kernels (``torch._VF.rnn_tanh/rnn_relu/gru/lstm``, with
    ``pack_padded_sequence`` when ``lengths`` is given on a GPU, where cuDNN runs it;
    on the CPU one kernel call per layer, direction and stretch of time in which the
    same rows are running, see ``_fused_segments``).

  All three give the same numbers (to rounding) and the same gradients.

Shapes: B batch, T time, I input features, H hidden units, L layers, D directions (1 or 2),
G gates (1 RNN, 3 GRU, 4 LSTM).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import _VF, Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnlab.nn import bptt
from rnnlab.nn.cells import gru_step, lstm_step, rnn_step

BACKENDS = ("explicit", "scripted", "fused")
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}

Lengths = Tensor | Sequence[int]


# --- The time loops of the explicit and scripted backends ---------------------------------
# gi: (T, B, G*H) input projections, h and c: (B, H), mask: (T, B, 1) true at real steps.
# Where the mask is false the state is carried over unchanged, so after the loop it is the
# state at each sequence's last real step.


def _hidden_loop(
    gi: Tensor,
    h: Tensor,
    w_hh: Tensor,
    b_hh: Tensor | None,
    mask: Tensor | None,
    relu: bool,
    gru: bool,
) -> tuple[Tensor, Tensor]:
    """The Elman (``gru=False``) or GRU time loop: the state is ``h`` alone."""
    outs: list[Tensor] = []
    for t, g in enumerate(gi.unbind(0)):  # T x (B, H) or (B, 3H)
        h_new = gru_step(g, h, w_hh, b_hh) if gru else rnn_step(g, h, w_hh, b_hh, relu)
        if mask is not None:
            h_new = torch.where(mask[t], h_new, h)  # (B, H)
        h = h_new
        outs.append(h)
    return torch.stack(outs), h  # (T, B, H), (B, H)


def _rnn_loop(
    gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, mask: Tensor | None, relu: bool
) -> tuple[Tensor, Tensor]:
    return _hidden_loop(gi, h, w_hh, b_hh, mask, relu, False)


def _gru_loop(
    gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, mask: Tensor | None
) -> tuple[Tensor, Tensor]:
    return _hidden_loop(gi, h, w_hh, b_hh, mask, False, True)


def _lstm_loop(
    gi: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, b_hh: Tensor | None, mask: Tensor | None
) -> tuple[Tensor, Tensor, Tensor]:
    outs: list[Tensor] = []
    for t, g in enumerate(gi.unbind(0)):  # T x (B, 4H)
        h_new, c_new = lstm_step(g, h, c, w_hh, b_hh)  # (B, H), (B, H)
        if mask is not None:
            h_new = torch.where(mask[t], h_new, h)  # (B, H)
            c_new = torch.where(mask[t], c_new, c)  # (B, H)
        h, c = h_new, c_new
        outs.append(h)
    return torch.stack(outs), h, c  # (T, B, H), (B, H), (B, H)


@functools.cache
def _loops(scripted: bool) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """The three loops: explicit (``rnnlab.nn.bptt``: the same step equations, with
    backpropagation through time written out) or these Python loops compiled by
    TorchScript (once, on first use)."""
    if not scripted:
        return bptt.rnn_loop, bptt.gru_loop, bptt.lstm_loop
    with warnings.catch_warnings():  # torch.jit.script is deprecated but still the fastest
        warnings.simplefilter("ignore", DeprecationWarning)
        return (
            torch.jit.script(_rnn_loop),
            torch.jit.script(_gru_loop),
            torch.jit.script(_lstm_loop),
        )


def _reverse(seq: Tensor, index: Tensor | None) -> Tensor:
    """Reverse time, each sequence within its own length when ``index`` is given."""
    if index is None:
        return seq.flip(0)  # (T, B, F)
    return seq.gather(0, index.unsqueeze(-1).expand(-1, -1, seq.shape[-1]))  # (T, B, F)


def _check_lengths(lengths: Lengths | None, batch: int, steps: int) -> Tensor | None:
    """``lengths`` as a CPU int64 tensor (B,), each in 1..T, or a ValueError saying why not."""
    if lengths is None:
        return None
    if isinstance(lengths, Tensor):
        if (
            lengths.dtype.is_floating_point
            or lengths.dtype.is_complex
            or lengths.dtype == torch.bool
        ):
            raise ValueError(f"lengths must hold integers, got a tensor of {lengths.dtype}")
        lens = lengths.detach().to("cpu", torch.int64)
    else:
        values = list(lengths)
        if not all(isinstance(v, int) or hasattr(v, "__index__") for v in values) or any(
            isinstance(v, bool) for v in values
        ):
            raise ValueError(f"lengths must be integers, got {values!r}")
        lens = torch.tensor([int(v) for v in values], dtype=torch.int64)
    if lens.dim() != 1 or lens.numel() != batch:
        raise ValueError(
            f"lengths must have shape ({batch},), one per sequence in the batch, "
            f"got shape {tuple(lens.shape)}"
        )
    lo, hi = int(lens.min()), int(lens.max())
    if lo < 1 or hi > steps:
        raise ValueError(
            f"lengths must lie in 1..{steps} (the padded length T), got min {lo} and max {hi}"
        )
    return lens


class _RecurrentLayer(nn.Module):
    """What RNN, GRU and LSTM share: parameters, checks and the three backends; the
    constructor is ``torch.nn``'s (``MODE`` names the cell: GRU, LSTM, RNN_TANH, RNN_RELU)."""

    MODE: str = ""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        backend: str = "explicit",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        mode: str = "",
    ) -> None:
        super().__init__()
        mode = mode or self.MODE
        name = type(self).__name__
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"{name}: num_layers must be an integer >= 1, got {num_layers!r}")
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"{name}: dropout must be a probability in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout={dropout} acts between layers, so with num_layers=1 it does "
                "nothing",
                stacklevel=3,
            )
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.backend = _check_backend(backend)

        kw: dict[str, Any] = {"device": device, "dtype": dtype}
        gh = GATES[mode] * hidden_size
        self._weight_names: list[list[str]] = []  # per (layer, direction): ih, hh[, b_ih, b_hh]
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * self.num_directions
            for direction in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [(gh, layer_in), (gh, hidden_size)] + ([(gh,), (gh,)] if bias else [])
                names = [f"{n}{suffix}" for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                for n, shape in zip(names, shapes, strict=False):
                    self.register_parameter(n, nn.Parameter(torch.empty(shape, **kw)))
                self._weight_names.append(names[: len(shapes)])
        self.reset_parameters()
        self.flatten_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def all_weights(self) -> list[list[Tensor]]:
        """Per layer and direction: [weight_ih, weight_hh, bias_ih, bias_hh] (as torch.nn)."""
        return [[getattr(self, n) for n in names] for names in self._weight_names]

    def reset_parameters(self) -> None:
        """torch's init: every parameter uniform in (-1/sqrt(H), 1/sqrt(H))."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -k, k)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        for arg, default in (("bias", True), ("batch_first", False), ("dropout", 0.0)):
            if getattr(self, arg) != default:
                s += f", {arg}={getattr(self, arg)}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s + f", backend={self.backend!r}"

    # --- cuDNN wants the weights in one block of memory, as torch.nn arranges it ----------

    def flatten_parameters(self) -> None:
        """On a GPU with cuDNN, make the weights views into one buffer (else do nothing).

        Without this the fused backend still works on a GPU, but cuDNN copies the weights
        on every call and warns about it.
        """
        weights = [w for ws in self.all_weights for w in ws]
        first = weights[0]
        if any(
            not w.is_cuda or w.dtype != first.dtype or not torch.backends.cudnn.is_acceptable(w)
            for w in weights
        ):
            return
        if len({w.data_ptr() for w in weights}) != len(weights):
            return  # shared or aliased weights: leave them alone
        if not torch._use_cudnn_rnn_flatten_weight():
            return
        from torch.backends.cudnn import rnn as cudnn_rnn

        with torch.cuda.device_of(first), torch.no_grad():
            torch._cudnn_rnn_flatten_weight(
                weights,
                len(self._weight_names[0]),
                self.input_size,
                cudnn_rnn.get_cudnn_mode(self.mode),
                self.hidden_size,
                0,  # proj_size
                self.num_layers,
                self.batch_first,
                self.bidirectional,
            )

    def _apply(self, fn: Any, recurse: bool = True) -> Any:
        result = super()._apply(fn, recurse)
        self.flatten_parameters()
        return result

    # --- forward ------------------------------------------------------------------------

    def _run(
        self,
        input: Tensor,
        h0: Tensor | None,
        c0: Tensor | None,
        lengths: Lengths | None,
        states: bool = True,
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """Checks, then a backend; returns output and final state(s) in the caller's layout
        (``states=False``: the final states may be None, see ``outputs``)."""
        _check_backend(self.backend)
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise ValueError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.dim() not in (2, 3) or input.shape[-1] != self.input_size:
            layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
            raise ValueError(
                f"{name}: input must be {layout} or unbatched (T, I) with I={self.input_size}, "
                f"got shape {tuple(input.shape)}"
            )
        batched = input.dim() == 3
        if not batched:
            x = input.unsqueeze(1)  # (T, 1, I)
        elif self.batch_first:
            x = input.transpose(0, 1)  # (B, T, I) -> (T, B, I)
        else:
            x = input  # (T, B, I)
        steps, batch = x.shape[0], x.shape[1]
        if steps == 0:
            raise ValueError(f"{name}: input must have at least one time step, got T=0")
        lens = _check_lengths(lengths, batch, steps)
        h0 = self._check_state(h0, x, batched, "h0")  # (L*D, B, H)
        c0 = self._check_state(c0, x, batched, "c0") if self.mode == "LSTM" else None

        if self.backend == "fused":
            out, h_n, c_n = self._fused(x, h0, c0, lens, states)
        else:
            out, h_n, c_n = self._explicit(x, h0, c0, lens)

        if not batched:
            out = out.squeeze(1)  # (T, D*H)
            h_n = None if h_n is None else h_n.squeeze(1)  # (L*D, H)
            c_n = None if c_n is None else c_n.squeeze(1)  # (L*D, H)
        elif self.batch_first:
            out = out.transpose(0, 1)  # (T, B, D*H) -> (B, T, D*H)
        return out, h_n, c_n

    def _check_state(self, h: Tensor | None, x: Tensor, batched: bool, what: str) -> Tensor:
        """An initial state as (L*D, B, H): zeros for None, else checked against the input."""
        batch = x.shape[1]
        want = (self.num_layers * self.num_directions, batch, self.hidden_size)
        if h is None:
            return x.new_zeros(want)  # (L*D, B, H)
        shown = want if batched else (want[0], want[2])
        if not isinstance(h, Tensor) or tuple(h.shape) != shown:
            got = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
            raise ValueError(
                f"{type(self).__name__}: {what} must have shape {shown} "
                f"(num_layers*num_directions, {'batch, ' if batched else ''}hidden_size), got {got}"
            )
        return h if batched else h.unsqueeze(1)  # (L*D, B, H)

    def _explicit(
        self, x: Tensor, h0: Tensor, c0: Tensor | None, lens: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """Our own loop over layers, directions and time steps; x is (T, B, I)."""
        scripted = self.backend == "scripted"
        rnn_loop, gru_loop, lstm_loop = _loops(scripted)
        steps = x.shape[0]
        mask = index = None
        if lens is not None:
            run = int(lens.max())  # steps past the longest sequence are all padding: skip them
            x = x[:run]  # (T', B, I)
            t = torch.arange(run, device=x.device)[:, None]  # (T', 1)
            lens_d = lens.to(x.device)[None, :]  # (1, B)
            real = t < lens_d  # (T', B)
            index = torch.where(real, lens_d - 1 - t, t)  # (T', B): step t of the reversed seq
            mask = real.unsqueeze(-1)  # (T', B, 1)
            x = torch.where(mask, x, 0)  # (T', B, I): garbage in padding must not reach grads

        weights = self.all_weights
        h_n: list[Tensor] = []
        c_n: list[Tensor] = []
        layer_in = x  # (T, B, I)
        for layer in range(self.num_layers):
            outs: list[Tensor] = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                w_ih, w_hh, *biases = weights[k]
                b_ih, b_hh = biases if biases else (None, None)
                if not scripted:  # the layout rnnlab.nn.bptt's loops take
                    w_ih, w_hh, b_ih, b_hh = bptt.prepare(self.mode, w_ih, w_hh, b_ih, b_hh)
                gi = F.linear(layer_in, w_ih, b_ih)  # (T, B, G*H): all steps in one product
                if direction:
                    gi = _reverse(gi, index)  # (T, B, G*H), each read from its own end
                if self.mode == "LSTM":
                    assert c0 is not None
                    out, h, c = lstm_loop(gi, h0[k], c0[k], w_hh, b_hh, mask)
                    c_n.append(c)
                elif self.mode == "GRU":
                    out, h = gru_loop(gi, h0[k], w_hh, b_hh, mask)
                else:
                    out, h = rnn_loop(gi, h0[k], w_hh, b_hh, mask, self.mode == "RNN_RELU")
                outs.append(_reverse(out, index) if direction else out)  # (T, B, H)
                h_n.append(h)
            layer_in = torch.cat(outs, 2) if len(outs) > 1 else outs[0]  # (T, B, D*H)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, training=True)

        out = layer_in  # (T', B, D*H)
        if mask is not None:
            out = torch.where(mask, out, 0)  # (T', B, D*H): zeros at padded steps
            out = F.pad(out, (0, 0, 0, 0, 0, steps - out.shape[0]))  # (T, B, D*H)
        return out, torch.stack(h_n), torch.stack(c_n) if c_n else None  # (L*D, B, H)

    def _fused(
        self, x: Tensor, h0: Tensor, c0: Tensor | None, lens: Tensor | None, want: bool = True
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """torch's native kernels on our parameters; x is (T, B, I)."""
        kernel: Callable[..., tuple[Tensor, ...]] = getattr(_VF, self.mode.lower())  # gru, ...
        weights = [w for ws in self.all_weights for w in ws]
        opts = (self.bias, self.num_layers, self.dropout, self.training, self.bidirectional)
        states = [h0] if c0 is None else [h0, c0]  # each (L*D, B, H)
        if lens is None:
            hx = states[0] if c0 is None else states  # the LSTM takes the pair (h0, c0)
            out, *final = kernel(x, hx, weights, *opts, False)  # False: x is not batch_first
            return out, final[0], final[1] if c0 is not None else None

        if x.device.type == "cpu":
            done = self._fused_segments(kernel, x, h0, c0, lens, want)
            if done is not None:
                return done
        packed = pack_padded_sequence(x, lens, enforce_sorted=False)  # longest first
        order, unorder = packed.sorted_indices, packed.unsorted_indices
        assert order is not None and unorder is not None
        states = [s.index_select(1, order) for s in states]  # (L*D, B, H) in packed order
        hx = states[0] if c0 is None else states
        data, batch_sizes = packed.data, packed.batch_sizes  # (sum(lens), I), (T,)
        out, *final = kernel(data, batch_sizes, hx, weights, *opts)  # (sum(lens), D*H)
        out_packed = PackedSequence(out, batch_sizes, order, unorder)
        out, _ = pad_packed_sequence(out_packed, total_length=x.shape[0])  # (T, B, D*H)
        final = [s.index_select(1, unorder) for s in final]  # (L*D, B, H) in batch order
        return out, final[0], final[1] if c0 is not None else None

    def _fused_segments(
        self,
        kernel: Callable[..., tuple[Tensor, ...]],
        x: Tensor,
        h0: Tensor,
        c0: Tensor | None,
        lens: Tensor,
        states: bool = True,
    ) -> tuple[Tensor, Tensor | None, Tensor | None] | None:
        """A padded batch on the CPU: the rows sorted by length, longest first, and each layer
        and direction run as one kernel call per stretch of time in which the same rows are
        still running (as many calls as the batch has distinct lengths), each call on a plain
        (T, B, I) tensor. On the CPU torch runs a ``PackedSequence`` one time step at a time
        (and its backward re-zeros a tensor of the whole packed input at every step), whereas
        a plain tensor goes to oneDNN's LSTM kernel in one call; the numbers are the same.

        ``states=False`` (``outputs``): neighbouring stretches are merged where one call
        over a few padded steps costs less than another call (``_stretches``); a row that
        ends inside a stretch runs on over padding there, which changes only its outputs
        past its end (set to zero) and its final state (None is returned for both states).

        None when the calls would average fewer than ``MIN_CALL_STEPS`` time steps each (a
        batch with as many lengths as steps): oneDNN's fixed cost per call is then more than
        the packed path's steps cost. x is (T, B, I)."""
        steps, batch = x.shape[0], x.shape[1]
        order = lens.argsort(descending=True, stable=True)  # (B,) longest first
        unorder = order.argsort()  # (B,)
        slens = lens[order]  # (B,) descending
        run = int(slens[0])
        # the stretches: [ends[k-1], ends[k]) with the first rows[k] rows still running
        ends = sorted(set(slens.tolist()))  # ascending distinct lengths
        rows = [int((slens >= e).sum()) for e in ends]
        if not states:
            gates = GATES[self.mode] * self.hidden_size
            width = self.input_size + self.num_directions * self.hidden_size  # widest layer
            ends, rows = _stretches(ends, rows, _CALL_COST / (2 * gates * width))
        if len(ends) * MIN_CALL_STEPS > int(lens.max()):
            return None
        order_d, unorder_d = order.to(x.device), unorder.to(x.device)
        x = x[:run].index_select(1, order_d)  # (T', B, I) in sorted order
        sizes = [e - s for s, e in zip([0, *ends[:-1]], ends, strict=True)]
        t = torch.arange(run, device=x.device)[:, None]  # (T', 1)
        lens_d = slens.to(x.device)[None, :]  # (1, B)
        real = t < lens_d  # (T', B)
        index = torch.where(real, lens_d - 1 - t, t) if self.bidirectional else None  # (T', B)
        start = [s.index_select(1, order_d) for s in (h0, c0) if s is not None]  # (L*D, B, H)
        weights = self.all_weights
        train = self.training
        h_n: list[Tensor] = []
        c_n: list[Tensor] = []
        layer_in = x  # (T', B, I)
        for layer in range(self.num_layers):
            outs: list[Tensor] = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                inp = _reverse(layer_in, index) if direction else layer_in  # (T', B, I)
                state = [s[k] for s in start]  # each (B, H)
                out_parts: list[Tensor] = []
                ended: list[list[Tensor]] = [[] for _ in state]
                for chunk, n, nxt in zip(inp.split(sizes), rows, [*rows[1:], 0], strict=True):
                    hx = [s[:n].unsqueeze(0) for s in state]  # each (1, n, H)
                    out, *final = kernel(
                        chunk[:, :n],  # (t_k, n, I): the rows still running
                        hx[0] if c0 is None else hx,
                        weights[k],
                        self.bias,
                        1,
                        0.0,
                        train,
                        False,
                        False,
                    )  # out: (t_k, n, H), final: each (1, n, H)
                    out_parts.append(F.pad(out, (0, 0, 0, batch - n)))  # (t_k, B, H)
                    state = [f[0] for f in final]  # each (n, H)
                    for acc, f in zip(ended, state, strict=True):
                        acc.append(f[nxt:])  # rows that end here: (n - nxt, H)
                out = torch.cat(out_parts)  # (T', B, H)
                outs.append(_reverse(out, index) if direction else out)
                if states:  # sorted longest first, so the rows that end last come first
                    h_n.append(torch.cat(ended[0][::-1]))  # (B, H)
                    if c0 is not None:
                        c_n.append(torch.cat(ended[1][::-1]))  # (B, H)
            layer_in = torch.cat(outs, 2) if len(outs) > 1 else outs[0]  # (T', B, D*H)
            if self.dropout > 0 and train and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, training=True)
        if not states:
            layer_in = torch.where(real.unsqueeze(-1), layer_in, 0)  # (T', B, D*H)
        out = F.pad(layer_in.index_select(1, unorder_d), (0, 0, 0, 0, 0, steps - run))
        if not states:
            return out, None, None  # out: (T, B, D*H)
        h = torch.stack(h_n).index_select(1, unorder_d)  # (L*D, B, H) in batch order
        c = torch.stack(c_n).index_select(1, unorder_d) if c_n else None
        return out, h, c  # out: (T, B, D*H)

    def outputs(self, input: Tensor, lengths: Lengths | None = None) -> Tensor:
        """``forward(input, lengths=lengths)[0]`` (zero initial state) for a caller that
        needs no final state: with the fused backend on the CPU that spares kernel calls
        (see ``_fused_segments``); the outputs are the same."""
        return self._run(input, None, None, lengths, states=False)[0]


# the CPU path of a padded batch by stretches (_fused_segments) needs this many steps a call
MIN_CALL_STEPS = 2
# one more kernel call costs about as much as this many multiply-adds (oneDNN's LSTM on
# the CPU, forward and backward; measured for rnnlab.tasks.pos's character LSTM)
_CALL_COST = 1.4e7


def _stretches(ends: list[int], rows: list[int], call_rows: float) -> tuple[list[int], list[int]]:
    """Merge the stretches of time between distinct lengths (``ends`` ascending, ``rows`` the
    rows running in each) into the ones that cost least: a call costs ``call_rows`` row-steps,
    and a stretch from ``ends[i-1]`` to ``ends[j]`` runs ``rows[i]`` rows throughout."""
    starts = [0, *ends[:-1]]
    best = [0.0] * (len(ends) + 1)  # best[j]: cost of the first j stretches
    cut = [0] * (len(ends) + 1)
    for j in range(1, len(ends) + 1):
        best[j], cut[j] = min(
            (best[i] + call_rows + rows[i] * (ends[j - 1] - starts[i]), i) for i in range(j)
        )
    keep: list[int] = []
    j = len(ends)
    while j > 0:
        keep.append(j - 1)
        j = cut[j]
    keep.reverse()
    starts_kept = [0, *[k + 1 for k in keep[:-1]]]
    return [ends[k] for k in keep], [rows[i] for i in starts_kept]


def _check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return backend


class _HiddenStateLayer(_RecurrentLayer):
    """RNN and GRU: the state is ``h`` alone."""

    def forward(
        self, input: Tensor, hx: Tensor | None = None, lengths: Lengths | None = None
    ) -> tuple[Tensor, Tensor]:
        out, h_n, _ = self._run(input, hx, None, lengths)
        assert h_n is not None
        return out, h_n


class RNN(_HiddenStateLayer):
    """Elman RNN, tanh or relu; ``forward(input, hx=None, lengths=None) -> (output, h_n)``.

    ``torch.nn.RNN``'s constructor: ``nonlinearity`` is the fourth argument, the others
    are ``_RecurrentLayer``'s (bias, batch_first, dropout, bidirectional; backend, device,
    dtype by keyword)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        *args: Any,
        **kwargs: Any,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, num_layers, *args, mode=mode, **kwargs)


class GRU(_HiddenStateLayer):
    """GRU (PyTorch's variant); ``forward(input, hx=None, lengths=None) -> (output, h_n)``."""

    MODE = "GRU"


class LSTM(_RecurrentLayer):
    """LSTM; ``forward(input, hx=None, lengths=None) -> (output, (h_n, c_n))``."""

    MODE = "LSTM"

    def forward(
        self,
        input: Tensor,
        hx: tuple[Tensor, Tensor] | None = None,
        lengths: Lengths | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError(f"LSTM: hx must be a pair (h0, c0) or None, got {type(hx).__name__}")
        h0, c0 = (None, None) if hx is None else hx
        out, h_n, c_n = self._run(input, h0, c0, lengths)
        assert h_n is not None and c_n is not None
        return out, (h_n, c_n)


# --- One layer by cell name, and its state in the layouts that models keep ---------------

CELLS = ("rnn", "gru", "lstm")
RecState = Tensor | tuple[Tensor, Tensor]  # h, or (h, c) for an LSTM


def make_rnn(
    cell: str,
    input_size: int,
    hidden: int,
    num_layers: int = 1,
    bidirectional: bool = False,
    backend: str = "fused",
    batch_first: bool = True,
    dropout: float = 0.0,
) -> RNN | GRU | LSTM:
    """A recurrent layer by name: ``cell`` is ``rnn`` (tanh), ``gru`` or ``lstm``.

    Unlike the classes (whose default backend is the lecture's ``"explicit"`` loop), this
    builder defaults to what models train with: ``backend="fused"``, ``batch_first=True``.
    """
    classes: dict[str, type[RNN] | type[GRU] | type[LSTM]] = {"rnn": RNN, "gru": GRU, "lstm": LSTM}
    if cell not in classes:
        raise ValueError(f"cell expects one of {', '.join(CELLS)}, got {cell!r}")
    return classes[cell](
        input_size,
        hidden,
        num_layers=num_layers,
        batch_first=batch_first,
        dropout=dropout,
        bidirectional=bidirectional,
        backend=backend,
    )


def merge_directions(state: RecState, directions: int) -> RecState:
    """Final states ``(L*D, B, H)`` -> ``(L, B, D*H)``: each layer's directions side by
    side, forward first (an LSTM's ``(h, c)`` pair: both)."""
    if isinstance(state, tuple):
        return _merge_directions(state[0], directions), _merge_directions(state[1], directions)
    return _merge_directions(state, directions)


def _merge_directions(h: Tensor, directions: int) -> Tensor:
    if directions == 1:
        return h
    ld, b, hid = h.shape
    split = h.view(ld // directions, directions, b, hid)  # (L*D, B, H) -> (L, D, B, H)
    return split.permute(0, 2, 1, 3).reshape(ld // directions, b, directions * hid)  # (L,B,D*H)


def state_to_batch_first(state: RecState) -> dict[str, Tensor]:
    """A layer's state ``(L, B, H)`` (or ``(h, c)``) as ``{"h": (B, L, H)[, "c": ...]}``,
    the batch-first layout that ``rnnlab.nn.decoding`` reorders."""
    if isinstance(state, tuple):
        return {"h": state[0].transpose(0, 1), "c": state[1].transpose(0, 1)}  # (B, L, H)
    return {"h": state.transpose(0, 1)}  # (L, B, H) -> (B, L, H)


def state_from_batch_first(st: Mapping[str, Tensor]) -> RecState:
    """The inverse of ``state_to_batch_first``: ``(L, B, H)``, or ``(h, c)`` when ``st``
    has a ``"c"``; other keys of ``st`` are ignored."""
    h = st["h"].transpose(0, 1).contiguous()  # (B, L, H) -> (L, B, H)
    if "c" in st:
        return h, st["c"].transpose(0, 1).contiguous()  # 2 x (L, B, H)
    return h


__all__ = [
    "BACKENDS",
    "CELLS",
    "GRU",
    "LSTM",
    "RNN",
    "make_rnn",
    "merge_directions",
    "state_from_batch_first",
    "state_to_batch_first",
]


def length_mask(lengths: Tensor, steps: int) -> Tensor:
    """``(B, T)`` True at real steps ``t < lengths[b]``, False at padding (on ``lengths``'
    device): the one padding mask of every model and task."""
    t = torch.arange(steps, device=lengths.device)  # (T,)
    return t.unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
