"""The LSTM language model.

``LanguageModel``: embeddings, an LSTM and an output layer (a full softmax, or an
adaptive softmax over frequency-sorted ids when ``cutoffs`` are given). Bidirectional, it
is two language models that share the embeddings and the softmax (as in ELMo): the
forward direction predicts the next token from the tokens up to it, the reverse
direction the previous token from the tokens after it, so neither sees its target. Its
``embed`` and ``rnn`` weights have the same names and shapes as an LSTM classifier's with
the same sizes and directions, so ``init_from_lm`` copies them over (Dai & Le 2015).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.nn.layers import LSTM


class LanguageModel(nn.Module):
    """Next-token prediction; ids must be sorted by frequency when ``cutoffs`` are used."""

    def __init__(
        self,
        vocab: int,
        embed: int = 256,
        hidden: int = 512,
        layers: int = 1,
        dropout: float = 0.1,
        cutoffs: tuple[int, ...] = (),
        pad_id: int = 0,
        backend: str = "fused",
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        self.hidden, self.directions = hidden, 2 if bidirectional else 1
        self.embed = nn.Embedding(vocab, embed, padding_idx=pad_id)
        self.rnn = LSTM(
            embed,
            hidden,
            layers,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
            bidirectional=bidirectional,
            backend=backend,
        )
        self.drop = nn.Dropout(dropout)
        self.adaptive = bool(cutoffs)
        if cutoffs and not (min(cutoffs) > 0 and max(cutoffs) < vocab):
            raise ValueError(f"cutoffs must lie in 1..vocab-1={vocab - 1}, got {cutoffs}")
        self.out: nn.Module = (
            nn.AdaptiveLogSoftmaxWithLoss(hidden, vocab, list(cutoffs), div_value=4.0)
            if cutoffs
            else nn.Linear(hidden, vocab)
        )

    def hidden_states(
        self, tokens: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        x = self.drop(self.embed(tokens))  # (B, T, E)
        out, state = self.rnn(x, state)  # (B, T, H)
        return self.drop(out), state

    def cross_entropy(self, hidden: Tensor, targets: Tensor) -> Tensor:
        """Mean cross-entropy (nats) of ``targets`` (B, T) from hidden states (B, T, H)."""
        flat = hidden.reshape(-1, hidden.shape[-1])  # (B*T, H)
        if self.adaptive:
            assert isinstance(self.out, nn.AdaptiveLogSoftmaxWithLoss)
            return self.out(flat, targets.reshape(-1)).loss  # targets (B*T,)
        return F.cross_entropy(self.out(flat), targets.reshape(-1))

    def direction_losses(self, tokens: Tensor, targets: Tensor) -> list[Tensor]:
        """Per direction, the mean cross-entropy: forward, of ``targets`` (B, T) after
        ``tokens`` (B, T); reverse (if bidirectional), of ``tokens[:, t-1]`` from the reverse
        state at ``t``, which has read ``tokens[:, t:]`` only."""
        out, _ = self.hidden_states(tokens)  # (B, T, D*H)
        h = self.hidden
        losses = [self.cross_entropy(out[..., :h], targets)]  # (B, T, H)
        if self.directions == 2:
            losses.append(self.cross_entropy(out[:, 1:, h:], tokens[:, :-1]))  # (B, T-1, H)
        return losses

    def loss(
        self, tokens: Tensor, targets: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor] | None]:
        """Mean cross-entropy (nats) of ``targets`` (B, T) after ``tokens`` (B, T); for a
        bidirectional model the mean of both directions' (always from a zero state)."""
        if self.directions == 2:
            if state is not None:
                raise ValueError("a bidirectional LM reads whole windows: pass state=None")
            losses = self.direction_losses(tokens, targets)
            return (losses[0] + losses[1]) / 2, None
        out, state = self.hidden_states(tokens, state)  # (B, T, H)
        return self.cross_entropy(out, targets), state

    def log_probs(self, hidden: Tensor) -> Tensor:
        """Next-token log-probabilities ``(N, V)`` from hidden states ``(N, H)``."""
        if self.adaptive:
            assert isinstance(self.out, nn.AdaptiveLogSoftmaxWithLoss)
            return self.out.log_prob(hidden)
        return F.log_softmax(self.out(hidden), dim=-1)
