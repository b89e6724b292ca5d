"""Encoder/decoder ("sequence to sequence") models, with or without attention.

The encoder reads the source with a recurrent layer (``rnnlab.nn.layers``, right-padded
batches handled by ``lengths``). Its final state starts the decoder, a second recurrent
layer that predicts the target one token at a time from the token before it::

    source   3 1 4                        target in   <s> 4 1 3
    encoder  h1 h2 h3 --(final state)-->  decoder     s1  s2 s3 s4
                                          target out  4   1  3  </s>

- **Plain seq2seq** (``attention="none"`` or None): the encoder's outputs are unused;
  everything the decoder knows about the source is its final state. Under teacher
  forcing the decoder's inputs are all known, so it runs in ONE layer call over the
  whole target.
- **Attention** (``attention="additive" | "dot" | "general" | "location"``, Luong et
  al.'s layout; ``rnnlab.nn.attention``): after each decoder step ``s_t`` reads the
  encoder outputs, ``c_t = attend(s_t)``, and the prediction comes from
  ``tanh(W [c_t; s_t])``. When the attention does not feed back into the recurrence this
  too is one layer call plus one batched attention; with *input feeding* (the last
  ``tanh(W [c; s])``, or with ``input_feeding="context"`` the last read ``c``, is part of
  the next step's input) or an attention that reads its previous weights (location), the
  decoder runs step by step.

Decoding goes through ``rnnlab.nn.decoding``: ``greedy`` returns a ``Decoded`` batch
(tokens, lengths, attention weights ``(B, T, S)``), ``beam`` the best hypotheses of every
source. The decoder's step state is a dict of tensors with the batch first, so the
search can reorder it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.nn import decoding, layers
from rnnlab.nn.attention import CHOICES, Attention, make_attention
from rnnlab.nn.decoding import Decoded, Hypothesis
from rnnlab.nn.layers import CELLS, RecState
from rnnlab.nn.vocab import Vocab

StepState = dict[str, torch.Tensor]  # batch-first tensors: h, c, memory, keys, mask, ...
FEEDS = ("none", "attentional", "context")  # input feeding: nothing, tanh(W [c; s]), or c

__all__ = ["CELLS", "FEEDS", "Decoded", "Decoder", "Encoder", "Seq2Seq", "Spec"]


def _feeding(value: bool | str) -> str:
    """``input_feeding`` as one of ``FEEDS`` (False/True mean "none"/"attentional")."""
    if value is True or value is False:
        return "attentional" if value else "none"
    if value not in FEEDS:
        raise ValueError(
            f"input_feeding expects True, False or one of {', '.join(FEEDS)}, got {value!r}"
        )
    return value


@dataclass(frozen=True)
class Spec:
    """What the encoder and the decoder are both built from: the vocabulary (and its
    padding id), the embedding and hidden sizes, and the kind of recurrent layer. Each side
    builds its own embedding and layer from it (no weights are shared); one ``Spec`` keeps
    them in step, since the decoder starts from the encoder's final state."""

    vocab_size: int
    embed: int
    hidden: int
    cell: str = "gru"
    num_layers: int = 1
    backend: str = "fused"
    pad_id: int = 0

    def embedding(self) -> nn.Embedding:
        return nn.Embedding(self.vocab_size, self.embed, padding_idx=self.pad_id)

    def rnn(
        self, input_size: int, hidden: int, bidirectional: bool = False
    ) -> layers.RNN | layers.GRU | layers.LSTM:
        return layers.make_rnn(
            self.cell, input_size, hidden, self.num_layers, bidirectional, self.backend
        )


class Encoder(nn.Module):
    """Embedding + recurrent layer; returns the outputs ``(B, S, H)`` and final state.

    A bidirectional encoder gives each direction ``hidden // 2`` units, so its outputs
    and its final state (both directions side by side) still have size ``hidden``.
    """

    def __init__(self, spec: Spec, bidirectional: bool = False) -> None:
        super().__init__()
        self.directions = 2 if bidirectional else 1
        if spec.hidden % self.directions:
            raise ValueError(
                f"a bidirectional encoder needs an even hidden size, got {spec.hidden}"
            )
        self.embedding = spec.embedding()
        self.rnn = spec.rnn(spec.embed, spec.hidden // self.directions, bidirectional)

    def forward(self, src: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, RecState]:
        x = self.embedding(src)  # (B, S) -> (B, S, E)
        memory, state = self.rnn(x, lengths=lengths)  # (B, S, H), (L*D, B, H/D)
        return memory, layers.merge_directions(state, self.directions)  # (L, B, H)


class Decoder(nn.Module):
    """A recurrent language model over the target, started from the encoder's state."""

    def __init__(
        self, spec: Spec, attention: Attention | None = None, input_feeding: bool | str = False
    ) -> None:
        super().__init__()
        feeding = _feeding(input_feeding)
        if feeding != "none" and attention is None:
            raise ValueError("input feeding needs attention (it feeds what attention gives)")
        hidden = spec.hidden
        self.hidden, self.feeding = hidden, feeding
        self.feed_size = {"none": 0, "attentional": hidden}.get(
            feeding, attention.key_dim if attention else 0
        )
        self.embedding = spec.embedding()
        self.rnn = spec.rnn(spec.embed + self.feed_size, hidden)
        self.attention = attention
        self.combine = nn.Linear(hidden + attention.key_dim, hidden) if attention else None
        self.out = nn.Linear(hidden, spec.vocab_size)

    @property
    def input_feeding(self) -> bool:
        return self.feeding != "none"

    @property
    def parallel(self) -> bool:
        """Whether teacher forcing can run the whole target in one layer call."""
        att = self.attention
        return att is None or not (self.input_feeding or att.uses_previous_weights)

    def start(self, state: RecState, memory: torch.Tensor, mask: torch.Tensor) -> StepState:
        """The step state before the first target token."""
        st: StepState = layers.state_to_batch_first(state)  # h (and c): (B, L, H)
        if self.attention is not None:
            st["memory"], st["mask"] = memory, mask
            st["keys"] = self.attention.keys(memory)
            st["weights"] = self.attention.initial_weights(mask)
            if self.input_feeding:
                st["feed"] = memory.new_zeros(memory.shape[0], self.feed_size)  # (B, F)
        return st

    def _attend(
        self, s: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor, **kw: Any
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``tanh(W [c; s])``, the context ``c`` and the read weights."""
        assert self.attention is not None and self.combine is not None
        context, weights = self.attention(s, memory, mask, **kw)  # (B, [T,] H), (B, [T,] S)
        attentional = torch.tanh(self.combine(torch.cat([context, s], dim=-1)))
        return attentional, context, weights

    def step(self, tokens: torch.Tensor, st: StepState) -> tuple[torch.Tensor, StepState]:
        """One decoding step: tokens ``(B,)`` -> logits ``(B, V)`` and the next state."""
        x = self.embedding(tokens).unsqueeze(1)  # (B,) -> (B, 1, E)
        if self.input_feeding:
            x = torch.cat([x, st["feed"].unsqueeze(1)], dim=-1)  # (B, 1, E + F)
        out, hn = self.rnn(x, layers.state_from_batch_first(st))  # (B, 1, H)
        new = {**st, **layers.state_to_batch_first(hn)}
        s = out[:, 0]  # (B, 1, H) -> (B, H)
        if self.attention is None:
            return self.out(s), new
        attentional, context, weights = self._attend(
            s, st["memory"], st["mask"], previous=st["weights"], keys=st["keys"]
        )
        new["weights"] = weights
        if self.input_feeding:
            new["feed"] = context if self.feeding == "context" else attentional
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
            attentional, _, weights = self._attend(outputs, memory, mask)  # (B,T,H), (B,T,S)
            return self.out(attentional), weights
        st = self.start(state, memory, mask)
        steps: list[torch.Tensor] = []
        reads: list[torch.Tensor] = []
        for t in range(inputs.shape[1]):
            step_logits, st = self.step(inputs[:, t], st)
            steps.append(step_logits)
            reads.append(st["weights"])
        return torch.stack(steps, dim=1), torch.stack(reads, dim=1)  # (B,T,V), (B,T,S)


class Seq2Seq(nn.Module):
    """Encoder + decoder sharing one vocabulary with ``pad``, ``bos`` and ``eos`` ids.

    ``attention`` is ``"none"`` (or None), ``"additive"``, ``"dot"``, ``"general"`` or
    ``"location"``; ``input_feeding`` False, True (``"attentional"``) or ``"context"``.
    ``Seq2Seq.from_vocab(vocab, ...)`` takes the ids from a ``rnnlab.nn.vocab.Vocab``.
    """

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
        attention: str | None = "none",
        input_feeding: bool | str = False,
        bidirectional: bool = False,
        backend: str = "fused",
    ) -> None:
        super().__init__()
        if attention is not None and attention not in CHOICES:
            raise ValueError(f"attention expects one of {', '.join(CHOICES)}, got {attention!r}")
        self.vocab_size, self.pad_id, self.bos_id, self.eos_id = vocab_size, pad_id, bos_id, eos_id
        spec = Spec(vocab_size, embed, hidden, cell, num_layers, backend, pad_id)
        self.encoder = Encoder(spec, bidirectional)
        use = attention not in (None, "none")
        att = make_attention(attention, hidden, hidden) if attention and use else None
        self.decoder = Decoder(spec, att, input_feeding)

    @classmethod
    def from_vocab(cls, vocab: Vocab, **kwargs: Any) -> Seq2Seq:
        """A model over ``vocab``, whose ``<pad>``, ``<s>`` and ``</s>`` give the special ids;
        ``kwargs`` as for the constructor (``embed``, ``hidden``, ``attention``, ...)."""
        return cls(len(vocab), vocab.pad_id, vocab.bos_id, vocab.eos_id, **kwargs)

    def encode(
        self, src: torch.Tensor, src_len: torch.Tensor
    ) -> tuple[torch.Tensor, RecState, torch.Tensor]:
        if src.shape[0] and int(src_len.min()) < 1:
            raise ValueError("every source sequence needs at least one token")
        memory, state = self.encoder(src, src_len)  # (B, S, H)
        mask = layers.length_mask(src_len.to(src.device), src.shape[1])  # (B, S)
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
        """Decode the whole batch at once, each sequence until ``eos`` or ``max_len``;
        ``weights`` holds the attention reads ``(B, T, S)`` (None without attention)."""
        reads: list[torch.Tensor] = []

        def step(tokens: torch.Tensor, st: StepState) -> tuple[torch.Tensor, StepState]:
            logits, st = self.decoder.step(tokens, st)  # (B, V)
            if "weights" in st:
                reads.append(st["weights"])
            return logits, st

        st = self.start(src, src_len)
        out = decoding.greedy(
            step, st, self.bos_id, self.eos_id, src.shape[0], max_len, pad=self.pad_id
        )
        out.weights = torch.stack(reads, dim=1) if reads else None  # (B, T, S)
        return out

    @torch.no_grad()
    def beam(
        self,
        src: torch.Tensor,
        src_len: torch.Tensor,
        beam: int,
        max_len: int | torch.Tensor,
        alpha: float = 0.0,
    ) -> list[list[Hypothesis]]:
        """Beam search for every source at once: the ``beam`` best of each, best first.
        ``max_len`` is one limit or one per source; ``alpha`` the length normalization."""
        st = self.start(src, src_len)
        return decoding.beam_search(
            self.log_prob_step, st, self.bos_id, self.eos_id, beam, max_len, alpha
        )
