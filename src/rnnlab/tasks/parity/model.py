"""The parity lecture's three networks: a dense net, an RNN tagger, a hand-set 2-unit RNN.

* ``DenseParity``: an MLP with one input per position, so it is built for one length
  ``n`` and refuses any other (a clear error, not a silent reshape).
* ``ParityRNN``: an Elman RNN (``rnnlab.nn.layers.RNN``) and a linear read-out applied at
  every step: the same few weights for any length.
* ``handset_parity_rnn``: a ``ParityRNN`` with 2 units whose weights are set by hand so
  that it computes parity exactly, for any length (see its docstring).

Shapes: B batch, T time, H hidden units.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.nn.layers import RNN


class DenseParity(nn.Module):
    """``depth`` ReLU layers of ``hidden`` units on the ``n`` bits, ``outputs`` logits.

    ``outputs = n`` gives the evenness after every position (one output per position);
    ``outputs = 1`` the final evenness only.
    """

    def __init__(self, n: int, outputs: int, hidden: int = 256, depth: int = 2) -> None:
        super().__init__()
        if n < 1 or outputs < 1:
            raise ValueError(f"DenseParity needs n >= 1 and outputs >= 1, got {n} and {outputs}")
        self.n = n
        layers: list[nn.Module] = []
        width = n
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` (B, n) bits -> logits (B, outputs)."""
        if x.dim() != 2 or x.shape[1] != self.n:
            got = x.shape[-1] if x.dim() >= 1 else 0
            raise ValueError(
                f"DenseParity was built for sequences of length {self.n} and got length {got} "
                f"(input shape {tuple(x.shape)}): a dense network has one input weight per "
                "position, so it cannot read a sequence of any other length"
            )
        out: Tensor = self.net(x)  # (B, outputs)
        return out


class ParityRNN(nn.Module):
    """``h_t = act(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)``, logit_t = ``w . h_t + b``.

    The logit is for "the sum so far is even". ``forward`` returns the logits and the
    states of every step. Right-padding needs no ``lengths``: the output at step t
    depends only on steps up to t, so padding after a sequence cannot change it, and a
    many-to-one model reads its logit at each sequence's own last step.
    """

    def __init__(self, hidden: int = 8, nonlinearity: str = "tanh", backend: str = "fused") -> None:
        super().__init__()
        self.rnn = RNN(1, hidden, nonlinearity=nonlinearity, batch_first=True, backend=backend)
        self.out = nn.Linear(hidden, 1)

    @property
    def hidden_size(self) -> int:
        return self.rnn.hidden_size

    def forward(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x`` (B, T) bits -> logits (B, T) and states (B, T, H)."""
        if x.dim() != 2:
            raise ValueError(f"ParityRNN expects bits of shape (B, T), got {tuple(x.shape)}")
        hx = None if h0 is None else h0.unsqueeze(0)  # (1, B, H)
        states, _ = self.rnn(x.unsqueeze(-1), hx)  # (B, T, H)
        logits = self.out(states).squeeze(-1)  # (B, T)
        return logits, states


def handset_parity_rnn(k: float = 20.0) -> ParityRNN:
    """A 2-unit tanh Elman RNN whose hand-set weights compute parity exactly.

    Read each unit as a bit, ``b = (h + 1) / 2``, and the parity so far (1 = odd) as the
    difference ``p = b1 - b2 = (h1 - h2) / 2``. With a large gain ``k``::

        h1' = tanh(k (p + x - 1/2))   on when p + x >= 1: p OR x
        h2' = tanh(k (p + x - 3/2))   on when p + x >= 2: p AND x
        p'  = OR - AND = p XOR x

    XOR is not linearly separable, so no single tanh unit can compute it from (p, x);
    two units, OR and AND, can, and their difference is the new parity. ``p + x`` is
    read from the state as ``(h1 - h2) / 2 + x``, giving ``W_hh = [[k/2, -k/2],
    [k/2, -k/2]]``, ``W_ih = [[k], [k]]`` and ``b_ih = [-k/2, -3k/2]``. The zero start
    state has p = 0 (even). The pre-activations are never closer to 0 than ``k/2``, so
    with k = 20 every state is ``+-1`` to float32 precision and no error can build up:
    the network is exact at any length. The read-out says "even" when p < 1/2:
    logit = ``k (1/2 - p) = -k/2 h1 + k/2 h2 + k/2``.
    """
    model = ParityRNN(2, nonlinearity="tanh", backend="fused")
    h = k / 2
    with torch.no_grad():
        model.rnn.get_parameter("weight_ih_l0").copy_(torch.tensor([[k], [k]]))  # (H, 1)
        model.rnn.get_parameter("weight_hh_l0").copy_(torch.tensor([[h, -h], [h, -h]]))  # (H, H)
        model.rnn.get_parameter("bias_ih_l0").copy_(torch.tensor([-h, -3 * h]))  # (H,)
        model.rnn.get_parameter("bias_hh_l0").zero_()
        model.out.weight.copy_(torch.tensor([[-h, h]]))  # (1, H)
        model.out.bias.fill_(h)
    return model
