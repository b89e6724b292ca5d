"""Attention over encoder outputs: a soft, differentiable lookup.

A decoder state (the *query*) scores every source position's encoder output (the
*memory*); a softmax over the positions a sequence really has (``mask``) turns the scores
into *read weights* that sum to 1, and the *context* is the weighted sum of the memory::

    scores_j  = score(query, memory_j)                   for j < S (padding: -inf)
    weights   = softmax(scores)                          (B, S), each row sums to 1
    context   = sum_j weights_j * memory_j               (B, Hk)

The score functions here are *content-based* (they look at what is stored):

- additive (Bahdanau et al., 2015): ``v . tanh(W q + U m_j)``
- dot (Luong et al., 2015):         ``q . m_j``  (query and memory of the same size)
- general (Luong et al., 2015):     ``q . (W m_j)``

Every module has the same read-weights interface, ``forward(query, memory, mask,
previous=None) -> (context, weights)``. ``previous`` are the weights of the last decoding
step; content attention ignores them, but a *location-based* module (Neural Turing
Machine style: shift the previous weights, sharpen) sets ``uses_previous_weights = True``
and reads them, and the decoder then runs step by step and passes them along.
Queries may be one per sequence ``(B, Hq)`` or many ``(B, T, Hq)``; content attention
scores all T at once, which lets a decoder whose attention does not feed back run in
parallel over the whole target.
"""

from __future__ import annotations

import torch
from torch import nn


class Attention(nn.Module):
    """Base class: subclasses define ``score``; ``forward`` masks, normalizes and reads."""

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
        scores = self.score(q, keys)  # (B, T, S)
        weights = masked_softmax(scores, mask.unsqueeze(1))  # (B, T, S)
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


KINDS = ("additive", "dot", "general")


def make_attention(kind: str, query_dim: int, key_dim: int) -> Attention:
    """An attention module by name: ``additive``, ``dot`` or ``general``."""
    if kind == "additive":
        return AdditiveAttention(query_dim, key_dim)
    if kind == "dot":
        return DotAttention(query_dim, key_dim)
    if kind == "general":
        return GeneralAttention(query_dim, key_dim)
    raise ValueError(f"attention expects one of {', '.join(KINDS)}, got {kind!r}")
