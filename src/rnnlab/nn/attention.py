"""Attention over encoder outputs: a soft, differentiable lookup.

A decoder state (the *query*) scores every source position's encoder output (the
*memory*); a softmax over the positions a sequence really has (``mask``) turns the scores
into *read weights* that sum to 1, and the *context* is the weighted sum of the memory::

    scores_j  = score(query, memory_j)                   for j < S (padding: -inf)
    weights   = softmax(scores)                          (B, S), each row sums to 1
    context   = sum_j weights_j * memory_j               (B, Hk)

*Content-based* scores look at what is stored:

- additive (Bahdanau et al., 2015): ``v . tanh(W q + U m_j)``
- dot (Luong et al., 2015):         ``q . m_j``  (query and memory of the same size)
- general (Luong et al., 2015):     ``q . (W m_j)``

*Location-based* addressing (Neural Turing Machine, Graves et al., 2014) keeps a read
position and moves it: on a binary string every position holds 0 or 1, so content alone
cannot tell position 17 from 18. From the query ``q`` one linear layer gives a key ``k``,
a strength ``beta >= 0``, a gate ``g in (0, 1)``, shift probabilities ``p`` over
``{-1, 0, +1}`` and a sharpening ``gamma >= 1``; with ``w_prev`` the last step's weights::

    content   w_c[j] = softmax_j(beta * cos(k, m_j))
    gate      w_g    = g * w_c + (1 - g) * w_prev
    shift     w_s[j] = sum_k p_k * w_g[(j - k) mod n]      n: each sequence's own length
    sharpen   w[j]   = w_s[j] ** gamma / sum_i w_s[i] ** gamma

The shift wraps inside the string (``mod n``): reading backwards from the first symbol
lands on the last one. The read starts on the first symbol, ``w_0 = (1, 0, ..., 0)``.
Nothing in the rule depends on the length: a head that learned "+1 each step" on strings
of 40 does the same on strings of 500.

Every module has the same read-weights interface, ``forward(query, memory, mask,
previous=None) -> (context, weights)``. ``previous`` are the weights of the last decoding
step; content attention ignores them, location attention sets
``uses_previous_weights = True`` and reads them, and the decoder then runs step by step
and passes them along. Queries may be one per sequence ``(B, Hq)`` or, for content
attention, many ``(B, T, Hq)``: all T are scored at once, which lets a decoder whose
attention does not feed back run in parallel over the whole target.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Attention(nn.Module):
    """Base class: content attention defines ``score`` (``weights`` masks and normalizes
    it), location attention overrides ``weights``; ``forward`` checks, weighs and reads."""

    uses_previous_weights: bool = False  # True for location-based addressing

    def __init__(self, query_dim: int, key_dim: int) -> None:
        super().__init__()
        self.query_dim, self.key_dim = query_dim, key_dim

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """Per-sequence work done once before decoding (default: the memory itself)."""
        return memory

    def initial_weights(self, mask: torch.Tensor) -> torch.Tensor:
        """The ``previous`` weights before the first step ``(B, S)``: uniform over the
        source here; location-based attention may start elsewhere (e.g. position 0)."""
        m = mask.float()  # (B, S)
        return m / m.sum(dim=1, keepdim=True)

    def score(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Scores ``(B, T, S)`` for queries ``(B, T, Hq)`` against ``keys(memory)``."""
        raise NotImplementedError

    def weights(self, query: Tensor, keys: Tensor, mask: Tensor, previous: Tensor | None) -> Tensor:
        """Read weights ``(B, T, S)`` for queries ``(B, T, Hq)``: here the masked softmax
        of the scores (``previous`` unused)."""
        return masked_softmax(self.score(query, keys), mask.unsqueeze(1))  # (B, T, S)

    def forward(
        self,
        query: torch.Tensor,
        memory: torch.Tensor,
        mask: torch.Tensor,
        previous: torch.Tensor | None = None,
        keys: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Read ``memory`` (B, S, Hk) where ``mask`` (B, S) is True.

        Returns ``(context, weights)``: ``(B, Hk), (B, S)`` for a query ``(B, Hq)``, or
        ``(B, T, Hk), (B, T, S)`` for queries ``(B, T, Hq)``. Pass ``keys`` (from
        ``self.keys(memory)``) to avoid recomputing them at every decoding step. With
        ``keys`` given, ``memory`` holds only the *values* read, of any size ``Hv``: keys
        from one tensor (e.g. encoder outputs), values from another (e.g. the tokens).
        """
        if query.shape[-1] != self.query_dim:
            raise ValueError(f"query has size {query.shape[-1]}, expected {self.query_dim}")
        if keys is None:
            if memory.shape[-1] != self.key_dim:
                raise ValueError(f"memory has size {memory.shape[-1]}, expected {self.key_dim}")
            keys = self.keys(memory)
        single = query.dim() == 2
        q = query.unsqueeze(1) if single else query  # (B, T, Hq)
        weights = self.weights(q, keys, mask, previous)  # (B, T, S)
        context = torch.bmm(weights, memory)  # (B, T, S) @ (B, S, Hv) -> (B, T, Hv)
        if single:
            return context.squeeze(1), weights.squeeze(1)  # (B, Hv), (B, S)
        return context, weights


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, giving exactly 0 where ``mask`` is False.

    Every row must keep at least one position (an empty source is rejected earlier).
    """
    filled = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(filled, dim=-1)


class DotAttention(Attention):
    """Luong's dot score ``q . m_j``; query and memory must have the same size."""

    def __init__(self, query_dim: int, key_dim: int) -> None:
        if query_dim != key_dim:
            raise ValueError(
                f"dot attention needs query and memory of the same size, got {query_dim} "
                f"and {key_dim}; use 'general' or 'additive'"
            )
        super().__init__(query_dim, key_dim)

    def score(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return torch.bmm(query, keys.transpose(1, 2))  # (B, T, H) @ (B, H, S) -> (B, T, S)


class GeneralAttention(Attention):
    """Luong's general score ``q . (W m_j)``: a learned bilinear form."""

    def __init__(self, query_dim: int, key_dim: int) -> None:
        super().__init__(query_dim, key_dim)
        self.W = nn.Linear(key_dim, query_dim, bias=False)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        return self.W(memory)  # (B, S, Hk) -> (B, S, Hq)

    def score(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return torch.bmm(query, keys.transpose(1, 2))  # (B, T, Hq) @ (B, Hq, S) -> (B, T, S)


class AdditiveAttention(Attention):
    """Bahdanau's additive score ``v . tanh(W q + U m_j)``: a one-hidden-layer MLP."""

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int | None = None) -> None:
        super().__init__(query_dim, key_dim)
        attn_dim = attn_dim or query_dim
        self.W = nn.Linear(query_dim, attn_dim, bias=False)
        self.U = nn.Linear(key_dim, attn_dim, bias=True)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        return self.U(memory)  # (B, S, Hk) -> (B, S, A)

    def score(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        q = self.W(query).unsqueeze(2)  # (B, T, Hq) -> (B, T, 1, A)
        hidden = torch.tanh(q + keys.unsqueeze(1))  # (B, T, 1, A) + (B, 1, S, A) -> (B, T, S, A)
        return self.v(hidden).squeeze(-1)  # (B, T, S, 1) -> (B, T, S)


SHIFTS = (-1, 0, 1)  # the moves of location attention's read position
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

    def weights(self, query: Tensor, keys: Tensor, mask: Tensor, previous: Tensor | None) -> Tensor:
        """One step only: a query ``(B, 1, Hq)`` -> weights ``(B, 1, S)``."""
        if query.shape[1] != 1:
            raise ValueError(
                "location attention runs one step at a time: expected a query (B, H), "
                f"got {tuple(query.shape)}"
            )
        if previous is None:
            previous = self.initial_weights(mask)
        return self.address(query[:, 0], keys, mask, previous).unsqueeze(1)  # (B, 1, S)


KINDS = ("additive", "dot", "general", "location")
CHOICES = ("none", *KINDS)  # what a model's ``attention=`` takes ("none" or None: no attention)


def make_attention(kind: str, query_dim: int, key_dim: int) -> Attention:
    """An attention module by name: ``additive``, ``dot``, ``general`` or ``location``."""
    if kind == "additive":
        return AdditiveAttention(query_dim, key_dim)
    if kind == "dot":
        return DotAttention(query_dim, key_dim)
    if kind == "general":
        return GeneralAttention(query_dim, key_dim)
    if kind == "location":
        return LocationAttention(query_dim, key_dim)
    raise ValueError(f"attention expects one of {', '.join(KINDS)}, got {kind!r}")
