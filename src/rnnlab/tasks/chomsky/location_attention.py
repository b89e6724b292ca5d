"""Location-based attention (Neural Turing Machine addressing) and a seq2seq built on it.

Content attention (``rnnlab.nn.attention``) finds a source position by what is stored
there. On a binary string every position holds 0 or 1, so content cannot tell position
17 from position 18; reversing or copying a string needs to know *where* it is reading.
Location-based attention keeps a read position and moves it (Graves et al., 2014). Each
decoding step, from the decoder state ``s`` (all computed by one linear layer)::

    content   w_c = softmax(beta * cos(k, m_j))            key k, strength beta >= 0
    gate      w_g = g * w_c + (1 - g) * w_prev             g in (0, 1)
    shift     w_s[j] = sum_k p_k * w_g[(j - k) mod n]      p: softmax over k in {-1, 0, +1}
    sharpen   w[j]   = w_s[j] ** gamma / sum_i w_s[i] ** gamma                gamma >= 1

where ``n`` is each sequence's own length, so the shift wraps around inside the string
(``mod n``): reading backwards from the first symbol lands on the last one. The read
starts on the first symbol, ``w_0 = (1, 0, ..., 0)``. Nothing in the rule depends on
the string's length: a head that learned "+1 each step" on strings of 40 does the same on
strings of 500.

``LocationAttention`` follows ``rnnlab.nn.attention``'s interface (``forward(query, memory,
mask, previous) -> (context, weights)``, ``uses_previous_weights = True``,
``initial_weights(mask)``). ``LocationSeq2Seq`` is the task model: the lecture's encoder
(``rnnlab.nn.seq2seq.Encoder``), and a decoder on ``rnnlab.nn.cells.GRUCell`` that takes the
previous output symbol and the previous read (input feeding) and predicts from
``tanh(W [c_t; s_t])``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.nn.attention import Attention, masked_softmax
from rnnlab.nn.cells import GRUCell
from rnnlab.nn.seq2seq import Encoder
from rnnlab.tasks.chomsky.model import BOS, OFFSET, PAD, TaskModel

SHIFTS = (-1, 0, 1)
EPS = 1e-6  # floor under the weights before sharpening (log of zero)


def content_weights(
    key: torch.Tensor, unit_memory: torch.Tensor, beta: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """softmax_j(beta * cos(key, m_j)): key (B, H), ``unit_memory`` (B, S, H) the memory
    rows scaled to length 1 (``LocationAttention.keys``, once per sequence), beta (B, 1)."""
    unit_key = F.normalize(key, dim=-1, eps=1e-8).unsqueeze(-1)  # (B, H) -> (B, H, 1)
    cos = torch.bmm(unit_memory, unit_key).squeeze(-1)  # (B,S,H) @ (B,H,1) -> (B,S,1) -> (B,S)
    return masked_softmax(beta * cos, mask)  # (B, S)


def circular_shift(w: torch.Tensor, shift: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Circular convolution of the weights ``w`` (B, S) with ``shift`` (B, 3), the
    probabilities of moving by -1, 0, +1, each sequence wrapping at its own length."""
    s = w.shape[1]
    n = mask.sum(dim=1, keepdim=True)  # (B, 1)
    j = torch.arange(s, device=w.device).unsqueeze(0)  # (1, S)
    out = torch.zeros_like(w)  # (B, S)
    for k, step in enumerate(SHIFTS):
        source = torch.remainder(j - step, n)  # (B, S): where position j reads from
        out = out + shift[:, k : k + 1] * w.gather(1, source)  # (B, S)
    return out.masked_fill(~mask, 0.0)


def sharpen(w: torch.Tensor, gamma: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """w ** gamma, renormalized over the real positions; gamma (B, 1) >= 1."""
    return masked_softmax(gamma * torch.log(w + EPS), mask)  # (B, S)


class LocationAttention(Attention):
    """NTM addressing: content, interpolation with the last weights, shift, sharpen."""

    uses_previous_weights = True

    def __init__(self, query_dim: int, key_dim: int) -> None:
        super().__init__(query_dim, key_dim)
        # one projection of the state: key (Hk), beta (1), gate (1), shift (3), gamma (1)
        self.heads = nn.Linear(query_dim, key_dim + 6)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """The memory rows scaled to length 1, for the cosine of content addressing."""
        return F.normalize(memory, dim=-1, eps=1e-8)  # (B, S, H)

    def initial_weights(self, mask: torch.Tensor) -> torch.Tensor:
        """All weight on each sequence's first position: (B, S)."""
        w = torch.zeros(mask.shape, device=mask.device)  # (B, S)
        w[:, 0] = 1.0
        return w

    def address(
        self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor, previous: torch.Tensor
    ) -> torch.Tensor:
        """The new read weights (B, S) from the query (B, Hq), ``keys(memory)`` and the
        last weights (B, S)."""
        hk = self.key_dim
        p = self.heads(query)  # (B, Hk + 6)
        key, beta = p[:, :hk], F.softplus(p[:, hk : hk + 1])  # (B, Hk), (B, 1)
        gate = torch.sigmoid(p[:, hk + 1 : hk + 2])  # (B, 1)
        shift = torch.softmax(p[:, hk + 2 : hk + 5], dim=-1)  # (B, 3)
        gamma = 1.0 + F.softplus(p[:, hk + 5 : hk + 6])  # (B, 1)
        w = gate * content_weights(key, keys, beta, mask) + (1 - gate) * previous  # (B, S)
        return sharpen(circular_shift(w, shift, mask), gamma, mask)

    def forward(
        self,
        query: torch.Tensor,
        memory: torch.Tensor,
        mask: torch.Tensor,
        previous: torch.Tensor | None = None,
        keys: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: ``(context (B, Hk), weights (B, S))`` for a query ``(B, Hq)``."""
        if query.dim() != 2:
            raise ValueError(
                "location attention runs one step at a time: query (B, H), "
                f"got {tuple(query.shape)}"
            )
        if previous is None:
            previous = self.initial_weights(mask)
        if keys is None:
            keys = self.keys(memory)
        weights = self.address(query, keys, mask, previous)  # (B, S)
        context = torch.bmm(weights.unsqueeze(1), memory).squeeze(1)  # (B,1,S)@(B,S,H) -> (B,H)
        return context, weights


class LocationSeq2Seq(TaskModel):
    """Encoder + GRU decoder that reads the source through ``LocationAttention``."""

    def __init__(
        self, input_size: int, output_size: int, hidden: int = 64, embed: int = 16
    ) -> None:
        super().__init__()
        self.output_size = output_size
        self.encoder = Encoder(OFFSET + input_size, embed, hidden, cell="gru", backend="fused")
        self.embedding = nn.Embedding(OFFSET + output_size, embed)
        self.cell = GRUCell(embed + hidden, hidden)
        self.attention = LocationAttention(hidden, hidden)
        self.combine = nn.Linear(2 * hidden, hidden)
        self.out = nn.Linear(hidden, output_size)

    def start(self, src: torch.Tensor, src_len: torch.Tensor) -> dict[str, torch.Tensor]:
        pos = torch.arange(src.shape[1], device=src.device).unsqueeze(0)  # (1, S)
        mask = pos < src_len.unsqueeze(1)  # (B, S)
        tokens = torch.where(mask, src + OFFSET, PAD)  # (B, S)
        memory, state = self.encoder(tokens, src_len)  # (B, S, H), (1, B, H)
        return {
            "memory": memory,
            "keys": self.attention.keys(memory),  # (B, S, H), once per sequence
            "mask": mask,
            "s": state[0],  # (1, B, H) -> (B, H)
            "w": self.attention.initial_weights(mask),  # (B, S)
            "c": memory.new_zeros(memory.shape[0], memory.shape[2]),  # (B, H)
        }

    def step(
        self, prev: torch.Tensor, st: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Previous tokens (B,) -> logits (B, C) and the next state."""
        x = torch.cat([self.embedding(prev), st["c"]], dim=-1)  # (B, E + H)
        s = self.cell(x, st["s"])  # (B, H)
        c, w = self.attention(s, st["memory"], st["mask"], previous=st["w"], keys=st["keys"])
        logits = self.out(torch.tanh(self.combine(torch.cat([c, s], dim=-1))))  # (B, C)
        return logits, {**st, "s": s, "w": w, "c": c}

    def train_logits(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        b, n = src.shape
        st = self.start(src, torch.full((b,), n, dtype=torch.long, device=src.device))
        prev = torch.full((b,), BOS, dtype=torch.long, device=src.device)  # (B,)
        logits = []
        for t in range(tgt.shape[1]):
            step_logits, st = self.step(prev, st)
            logits.append(step_logits)
            prev = tgt[:, t] + OFFSET  # teacher forcing
        return torch.stack(logits, dim=1)  # (B, m, C)

    @torch.no_grad()
    def predict(
        self, src: torch.Tensor, src_len: torch.Tensor, out_len: torch.Tensor
    ) -> torch.Tensor:
        st = self.start(src, src_len)
        prev = torch.full((src.shape[0],), BOS, dtype=torch.long, device=src.device)  # (B,)
        out = []
        for _ in range(int(out_len.max())):
            logits, st = self.step(prev, st)  # (B, C)
            pred = logits.argmax(dim=-1)  # (B,)
            out.append(pred)
            prev = pred + OFFSET
        return torch.stack(out, dim=1)  # (B, m)

    @torch.no_grad()
    def read_weights(self, src: torch.Tensor, src_len: torch.Tensor, steps: int) -> torch.Tensor:
        """The read weights of greedy decoding, (B, steps, S): where the head looked."""
        st = self.start(src, src_len)
        prev = torch.full((src.shape[0],), BOS, dtype=torch.long, device=src.device)  # (B,)
        weights = []
        for _ in range(steps):
            logits, st = self.step(prev, st)
            weights.append(st["w"])
            prev = logits.argmax(dim=-1) + OFFSET
        return torch.stack(weights, dim=1)  # (B, steps, S)
