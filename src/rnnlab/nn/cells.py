"""One time step of a recurrent network: the RNN, GRU and LSTM cells, equations written out.

Each cell has the parameters of its ``torch.nn`` twin, with the same names and shapes, so
a ``state_dict`` loads both ways::

    weight_ih (G*H, I)   weight_hh (G*H, H)   bias_ih (G*H,)   bias_hh (G*H,)

with G = 1 (RNN), 3 (GRU: gates r, z, n) or 4 (LSTM: gates i, f, g, o) stacked in that
order. The call convention is torch's too: ``h1 = cell(x, h0)``, ``(h1, c1) = lstm(x, (h0, c0))``,
``h0=None`` means zeros, and an unbatched ``x`` of shape (I,) gives an unbatched state (H,).

The step math lives in three plain functions, ``rnn_step``, ``gru_step`` and ``lstm_step``.
They take the input projection ``gi = x W_ih^T + b_ih`` already computed, because a whole
layer (``rnnlab.nn.layers``) computes it for all time steps in one matrix product and then
only loops over the recurrent part. The functions are TorchScript-compatible on purpose.

Shapes: B batch, I input features, H hidden units.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def rnn_step(
    gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, relu: bool = False
) -> Tensor:
    """Elman step: h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu."""
    pre = gi + F.linear(h, w_hh, b_hh)  # (B, H)
    return torch.relu(pre) if relu else torch.tanh(pre)


def gru_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """GRU step in PyTorch's variant: the reset gate multiplies (W_hn h + b_hn)."""
    gh = F.linear(h, w_hh, b_hh)  # (B, 3H)
    i_r, i_z, i_n = gi.chunk(3, -1)  # 3 x (B, H): W_i* x + b_i*
    h_r, h_z, h_n = gh.chunk(3, -1)  # 3 x (B, H): W_h* h + b_h*
    r = torch.sigmoid(i_r + h_r)  # reset gate
    z = torch.sigmoid(i_z + h_z)  # update gate
    n = torch.tanh(i_n + r * h_n)  # candidate state
    return (1 - z) * n + z * h  # keep z of the old state, take 1 - z of the new


def lstm_step(
    gi: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, b_hh: Tensor | None
) -> tuple[Tensor, Tensor]:
    """LSTM step: input, forget, cell and output gates; returns (h', c')."""
    gates = gi + F.linear(h, w_hh, b_hh)  # (B, 4H): W_i* x + b_i* + W_h* h + b_h*
    a_i, a_f, a_g, a_o = gates.chunk(4, -1)  # 4 x (B, H)
    i = torch.sigmoid(a_i)  # input gate
    f = torch.sigmoid(a_f)  # forget gate
    g = torch.tanh(a_g)  # cell candidate
    o = torch.sigmoid(a_o)  # output gate
    c = f * c + i * g  # new cell state
    h = o * torch.tanh(c)  # new hidden state
    return h, c


class _Cell(nn.Module):
    """Parameters, init and argument checks shared by the three cells."""

    gates: int = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(
                f"input_size and hidden_size must be positive, got {input_size} and {hidden_size}"
            )
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        kw: dict[str, Any] = {"device": device, "dtype": dtype}
        gh = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gh, input_size, **kw))  # (G*H, I)
        self.weight_hh = nn.Parameter(torch.empty(gh, hidden_size, **kw))  # (G*H, H)
        self.bias_ih: nn.Parameter | None
        self.bias_hh: nn.Parameter | None
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gh, **kw))  # (G*H,)
            self.bias_hh = nn.Parameter(torch.empty(gh, **kw))  # (G*H,)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's init: every parameter uniform in (-1/sqrt(H), 1/sqrt(H))."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -k, k)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def _check_input(self, x: Tensor) -> Tensor:
        """Validate ``x`` and return the input projection ``x W_ih^T + b_ih``, (B, G*H)."""
        if not isinstance(x, Tensor):
            raise ValueError(f"{type(self).__name__}: input must be a Tensor, got {type(x)}")
        if x.dim() not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: input must be (B, {self.input_size}) or "
                f"({self.input_size},), got {tuple(x.shape)}"
            )
        return F.linear(x, self.weight_ih, self.bias_ih)  # (B, G*H) or (G*H,)

    def _check_state(self, x: Tensor, h: Tensor | None, name: str = "h") -> Tensor:
        """The state ``h`` (zeros when None), checked to have the shape ``x`` asks for."""
        want = (*x.shape[:-1], self.hidden_size)  # (B, H) or (H,)
        if h is None:
            return x.new_zeros(want)
        if not isinstance(h, Tensor) or tuple(h.shape) != want:
            got = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
            raise ValueError(
                f"{type(self).__name__}: {name} must have shape {want} for input of shape "
                f"{tuple(x.shape)}, got {got}"
            )
        return h


class RNNCell(_Cell):
    """Elman cell: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu)."""

    gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        gi = self._check_input(x)  # (B, H)
        h = self._check_state(x, h)  # (B, H)
        return rnn_step(gi, h, self.weight_hh, self.bias_hh, self.nonlinearity == "relu")


class GRUCell(_Cell):
    """Gated recurrent unit, PyTorch's variant (reset gate applied after W_hn h + b_hn)."""

    gates = 3

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        gi = self._check_input(x)  # (B, 3H)
        h = self._check_state(x, h)  # (B, H)
        return gru_step(gi, h, self.weight_hh, self.bias_hh)


class LSTMCell(_Cell):
    """Long short-term memory cell; the state is the pair (h, c)."""

    gates = 4

    def forward(self, x: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        gi = self._check_input(x)  # (B, 4H)
        if hx is None:
            h = c = self._check_state(x, None)  # (B, H)
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise ValueError(f"LSTMCell: hx must be a pair (h, c) or None, got {type(hx).__name__}")
        else:
            h = self._check_state(x, hx[0], "h")  # (B, H)
            c = self._check_state(x, hx[1], "c")  # (B, H)
        return lstm_step(gi, h, c, self.weight_hh, self.bias_hh)


__all__ = ["GRUCell", "LSTMCell", "RNNCell", "gru_step", "lstm_step", "rnn_step"]
