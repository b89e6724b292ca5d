"""Encoder/decoder ("sequence to sequence") models, with or without attention.

The encoder reads the source with a recurrent layer (``rnnlab.nn.layers``, right-padded
batches handled by ``lengths``). Its final state starts the decoder, a second recurrent
layer that predicts the target one token at a time from the token before it::

    source   3 1 4                        target in   <s> 4 1 3
    encoder  h1 h2 h3 --(final state)-->  decoder     s1  s2 s3 s4
                                          target out  4   1  3  </s>

- **Plain seq2seq** (``attention=None``): the encoder's outputs are unused; everything the
  decoder knows about the source is its final state. Under teacher forcing the decoder's
  inputs are all known, so it runs in ONE layer call over the whole target.
- **Attention** (``attention="additive" | "dot" | "general"``, Luong et al.'s layout):
  after each decoder step ``s_t`` reads the encoder outputs, ``c_t = attend(s_t)``, and
  the prediction comes from ``tanh(W [c_t; s_t])``. When the attention does not feed
  back into the recurrence this too is one layer call plus one batched attention; with
  *input feeding* (the last ``tanh(W [c; s])`` is part of the next step's input) or an
  attention that reads its previous weights (location-based), the decoder runs step by
  step.

Greedy decoding is batched: every sequence takes its most likely token until it emits
``</s>``; it returns the tokens and the attention weights ``(B, T, S)``. The decoder's
step state is a dict of tensors with the batch first, so ``rnnlab.nn.decoding`` can reorder
it during a beam search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.nn import layers
from rnnlab.nn.attention import Attention, make_attention

RecState = torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # h, or (h, c), each (L, B, H)
StepState = dict[str, torch.Tensor]  # batch-first tensors: h, c, memory, keys, mask, ...

CELLS = ("rnn", "gru", "lstm")


def make_layer(
    cell: str, input_size: int, hidden: int, num_layers: int, bidirectional: bool, backend: str
) -> nn.Module:
    """A batch-first recurrent layer from ``rnnlab.nn.layers``."""
    classes: dict[str, Any] = {"rnn": layers.RNN, "gru": layers.GRU, "lstm": layers.LSTM}
    if cell not in classes:
        raise ValueError(f"cell expects one of {', '.join(CELLS)}, got {cell!r}")
    layer: nn.Module = classes[cell](
        input_size,
        hidden,
        num_layers=num_layers,
        batch_first=True,
        bidirectional=bidirectional,
        backend=backend,
    )
    return layer


def _merge_directions(h: torch.Tensor) -> torch.Tensor:
    """(L*2, B, H/2) final states of both directions -> (L, B, H), forward half first."""
    l2, b, half = h.shape
    h = h.view(l2 // 2, 2, b, half)  # (L*2, B, H/2) -> (L, 2, B, H/2)
    return h.permute(0, 2, 1, 3).reshape(l2 // 2, b, 2 * half)  # -> (L, B, H)


class Encoder(nn.Module):
    """Embedding + recurrent layer; returns the outputs ``(B, S, H)`` and final state.

    A bidirectional encoder gives each direction ``hidden // 2`` units, so its outputs
    and its final state (both directions side by side) still have size ``hidden``.
    """

    def __init__(
        self,
        vocab_size: int,
        embed: int,
        hidden: int,
        cell: str = "gru",
        num_layers: int = 1,
        bidirectional: bool = False,
        backend: str = "fused",
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        self.directions = 2 if bidirectional else 1
        if hidden % self.directions:
            raise ValueError(f"a bidirectional encoder needs an even hidden size, got {hidden}")
        self.embedding = nn.Embedding(vocab_size, embed, padding_idx=pad_id)
        self.rnn = make_layer(
            cell, embed, hidden // self.directions, num_layers, bidirectional, backend
        )

    def forward(self, src: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, RecState]:
        x = self.embedding(src)  # (B, S) -> (B, S, E)
        memory, state = self.rnn(x, lengths=lengths)  # (B, S, H), (L*D, B, H/D)
        if self.directions == 2:
            if isinstance(state, tuple):
                state = (_merge_directions(state[0]), _merge_directions(state[1]))
            else:
                state = _merge_directions(state)
        return memory, state


class Decoder(nn.Module):
    """A recurrent language model over the target, started from the encoder's state."""

    def __init__(
        self,
        vocab_size: int,
        embed: int,
        hidden: int,
        cell: str = "gru",
        num_layers: int = 1,
        attention: Attention | None = None,
        input_feeding: bool = False,
        backend: str = "fused",
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        if input_feeding and attention is None:
            raise ValueError("input feeding needs attention (it feeds the attentional state)")
        self.hidden, self.input_feeding = hidden, input_feeding
        self.embedding = nn.Embedding(vocab_size, embed, padding_idx=pad_id)
        self.rnn = make_layer(
            cell, embed + (hidden if input_feeding else 0), hidden, num_layers, False, backend
        )
        self.attention = attention
        self.combine = nn.Linear(hidden + attention.key_dim, hidden) if attention else None
        self.out = nn.Linear(hidden, vocab_size)

    @property
    def parallel(self) -> bool:
        """Whether teacher forcing can run the whole target in one layer call."""
        att = self.attention
        return att is None or not (self.input_feeding or att.uses_previous_weights)

    def start(self, state: RecState, memory: torch.Tensor, mask: torch.Tensor) -> StepState:
        """The step state before the first target token."""
        st: StepState = {}
        if isinstance(state, tuple):
            st["h"], st["c"] = state[0].transpose(0, 1), state[1].transpose(0, 1)  # (B, L, H)
        else:
            st["h"] = state.transpose(0, 1)  # (L, B, H) -> (B, L, H)
        if self.attention is not None:
            st["memory"], st["mask"] = memory, mask
            st["keys"] = self.attention.keys(memory)
            st["weights"] = self.attention.initial_weights(mask)
            if self.input_feeding:
                st["feed"] = memory.new_zeros(memory.shape[0], self.hidden)  # (B, H)
        return st

    def _attend(
        self, s: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor, **kw: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.attention is not None and self.combine is not None
        context, weights = self.attention(s, memory, mask, **kw)  # (B, [T,] H), (B, [T,] S)
        attentional = torch.tanh(self.combine(torch.cat([context, s], dim=-1)))
        return attentional, weights

    def step(self, tokens: torch.Tensor, st: StepState) -> tuple[torch.Tensor, StepState]:
        """One decoding step: tokens ``(B,)`` -> logits ``(B, V)`` and the next state."""
        x = self.embedding(tokens).unsqueeze(1)  # (B,) -> (B, 1, E)
        if self.input_feeding:
            x = torch.cat([x, st["feed"].unsqueeze(1)], dim=-1)  # (B, 1, E + H)
        h = st["h"].transpose(0, 1).contiguous()  # (B, L, H) -> (L, B, H)
        hx: RecState = (h, st["c"].transpose(0, 1).contiguous()) if "c" in st else h
        out, hn = self.rnn(x, hx)  # (B, 1, H)
        new = dict(st)
        if isinstance(hn, tuple):
            new["h"], new["c"] = hn[0].transpose(0, 1), hn[1].transpose(0, 1)  # (B, L, H)
        else:
            new["h"] = hn.transpose(0, 1)  # (L, B, H) -> (B, L, H)
        s = out[:, 0]  # (B, 1, H) -> (B, H)
        if self.attention is None:
            return self.out(s), new
        attentional, weights = self._attend(
            s, st["memory"], st["mask"], previous=st["weights"], keys=st["keys"]
        )
        new["weights"] = weights
        if self.input_feeding:
            new["feed"] = attentional
        return self.out(attentional), new

    def forward(
        self, inputs: torch.Tensor, state: RecState, memory: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher forcing: target inputs ``(B, T)`` -> logits ``(B, T, V)``, weights.

        Right padding needs no ``lengths`` here: a step never sees the steps after it,
        so padded positions change no real one (their logits are ignored by the loss).
        """
        if self.parallel:
            x = self.embedding(inputs)  # (B, T) -> (B, T, E)
            outputs, _ = self.rnn(x, state)  # ONE layer call: (B, T, H)
            if self.attention is None:
                return self.out(outputs), None
            attentional, weights = self._attend(outputs, memory, mask)  # (B,T,H), (B,T,S)
            return self.out(attentional), weights
        st = self.start(state, memory, mask)
        steps: list[torch.Tensor] = []
        reads: list[torch.Tensor] = []
        for t in range(inputs.shape[1]):
            step_logits, st = self.step(inputs[:, t], st)
            steps.append(step_logits)
            reads.append(st["weights"])
        return torch.stack(steps, dim=1), torch.stack(reads, dim=1)  # (B,T,V), (B,T,S)


@dataclass
class Decoded:
    """Greedy output: ``tokens`` (B, T) end with ``eos`` then ``pad``; ``lengths`` (B,)
    count the tokens before ``eos``; ``weights`` (B, T, S) or None without attention."""

    tokens: torch.Tensor
    lengths: torch.Tensor
    finished: torch.Tensor
    weights: torch.Tensor | None


class Seq2Seq(nn.Module):
    """Encoder + decoder sharing one vocabulary with ``pad``, ``bos`` and ``eos`` ids."""

    def __init__(
        self,
        vocab_size: int,
        pad_id: int,
        bos_id: int,
        eos_id: int,
        embed: int = 32,
        hidden: int = 128,
        cell: str = "gru",
        num_layers: int = 1,
        attention: str | None = None,
        input_feeding: bool = False,
        bidirectional: bool = False,
        backend: str = "fused",
    ) -> None:
        super().__init__()
        self.vocab_size, self.pad_id, self.bos_id, self.eos_id = vocab_size, pad_id, bos_id, eos_id
        self.encoder = Encoder(
            vocab_size, embed, hidden, cell, num_layers, bidirectional, backend, pad_id
        )
        att = make_attention(attention, hidden, hidden) if attention else None
        self.decoder = Decoder(
            vocab_size, embed, hidden, cell, num_layers, att, input_feeding, backend, pad_id
        )

    def encode(
        self, src: torch.Tensor, src_len: torch.Tensor
    ) -> tuple[torch.Tensor, RecState, torch.Tensor]:
        if src.shape[0] and int(src_len.min()) < 1:
            raise ValueError("every source sequence needs at least one token")
        memory, state = self.encoder(src, src_len)  # (B, S, H)
        positions = torch.arange(src.shape[1], device=src.device)  # (S,)
        mask = positions.unsqueeze(0) < src_len.to(src.device).unsqueeze(1)  # (B, S)
        return memory, state, mask

    def forward(
        self, src: torch.Tensor, src_len: torch.Tensor, tgt_in: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher forcing: logits ``(B, T, V)`` and attention weights ``(B, T, S)``."""
        memory, state, mask = self.encode(src, src_len)
        return self.decoder(tgt_in, state, memory, mask)

    def loss(
        self, src: torch.Tensor, src_len: torch.Tensor, tgt_in: torch.Tensor, tgt_out: torch.Tensor
    ) -> torch.Tensor:
        """Mean cross-entropy per real target token (``pad`` targets ignored)."""
        logits, _ = self(src, src_len, tgt_in)
        flat = logits.reshape(-1, logits.shape[-1])  # (B, T, V) -> (B*T, V)
        return F.cross_entropy(flat, tgt_out.reshape(-1), ignore_index=self.pad_id)  # (B*T,)

    def start(self, src: torch.Tensor, src_len: torch.Tensor) -> StepState:
        """Encode and return the decoder's step state before the first token."""
        memory, state, mask = self.encode(src, src_len)
        return self.decoder.start(state, memory, mask)

    def step(self, tokens: torch.Tensor, st: StepState) -> tuple[torch.Tensor, StepState]:
        return self.decoder.step(tokens, st)

    def log_prob_step(self, tokens: torch.Tensor, st: StepState) -> tuple[torch.Tensor, StepState]:
        """``rnnlab.nn.decoding``'s step function: log-probabilities ``(B, V)``."""
        logits, st = self.decoder.step(tokens, st)
        return torch.log_softmax(logits, dim=-1), st

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, src_len: torch.Tensor, max_len: int) -> Decoded:
        """Decode the whole batch at once, each sequence until ``eos`` or ``max_len``."""
        if max_len < 1:
            raise ValueError(f"max_len must be at least 1, got {max_len}")
        st = self.start(src, src_len)
        b = src.shape[0]
        tokens = torch.full((b,), self.bos_id, dtype=torch.long, device=src.device)  # (B,)
        done = torch.zeros(b, dtype=torch.bool, device=src.device)  # (B,)
        lengths = torch.zeros(b, dtype=torch.long, device=src.device)  # (B,)
        out, weights = [], []
        for _ in range(max_len):
            logits, st = self.decoder.step(tokens, st)  # (B, V)
            tokens = logits.argmax(dim=-1)  # (B,)
            tokens = tokens.masked_fill(done, self.pad_id)
            out.append(tokens)
            if "weights" in st:
                weights.append(st["weights"])
            lengths += (~done & (tokens != self.eos_id)).long()
            done = done | (tokens == self.eos_id)
            if bool(done.all()):
                break
        w = torch.stack(weights, dim=1) if weights else None  # (B, T, S)
        return Decoded(torch.stack(out, dim=1), lengths, done, w)  # (B, T)
