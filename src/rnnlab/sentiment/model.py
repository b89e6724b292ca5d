"""The many-to-one sentiment classifier and the LSTM language model that can initialise it.

``SentimentClassifier``: token ids ``(B, T)`` and true lengths ``(B,)`` -> logits
``(B, 2)``. Embeddings, a (bi)directional GRU/LSTM from ``rnnlab.layers`` run with
``lengths`` (so each sequence's final state is taken at its own last real token, and the
reverse direction starts there), then pooling that ignores padding, dropout and a linear
head. ``pooling`` joins any of ``last`` (final states), ``max`` and ``mean`` over the real
steps, e.g. ``"last+max+mean"`` (ULMFiT's concat pooling).

``LanguageModel``: embeddings, a unidirectional LSTM and an output layer (a full softmax,
or an adaptive softmax over frequency-sorted ids when ``cutoffs`` are given). Its
``embed`` and ``rnn`` weights have the same names and shapes as a unidirectional LSTM
classifier's, so ``init_from_lm`` copies them over (Dai & Le 2015).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.layers import GRU, LSTM

POOLS = ("last", "max", "mean")


def parse_pooling(pooling: str) -> list[str]:
    parts = [p for p in pooling.split("+") if p]
    bad = [p for p in parts if p not in POOLS]
    if not parts or bad:
        raise ValueError(
            f"pooling expects parts of {'+'.join(POOLS)} joined by '+', got {pooling!r}"
        )
    return parts


def real_mask(lengths: Tensor, steps: int) -> Tensor:
    """``(B, T)`` True at real steps, False at padding."""
    return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]  # (B, T)


class SentimentClassifier(nn.Module):
    def __init__(
        self,
        vocab: int,
        embed: int = 300,
        hidden: int = 150,
        layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = True,
        pooling: str = "last+max+mean",
        dropout: float = 0.5,
        embed_dropout: float = 0.2,
        classes: int = 2,
        pad_id: int = 0,
        backend: str = "fused",
    ) -> None:
        super().__init__()
        if cell not in ("gru", "lstm"):
            raise ValueError(f"cell expects gru or lstm, got {cell!r}")
        self.pools = parse_pooling(pooling)
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab, embed, padding_idx=pad_id)
        rnn = LSTM if cell == "lstm" else GRU
        self.rnn = rnn(
            embed, hidden, layers, batch_first=True, bidirectional=bidirectional, backend=backend
        )
        self.directions = 2 if bidirectional else 1
        self.embed_drop = nn.Dropout(embed_dropout)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(len(self.pools) * self.directions * hidden, classes)

    def features(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """Pooled sentence features ``(B, P*D*H)``; padding never reaches them."""
        if tokens.dim() != 2 or lengths.shape != tokens.shape[:1]:
            raise ValueError(
                f"expected tokens (B, T) and lengths (B,), got {tuple(tokens.shape)} "
                f"and {tuple(lengths.shape)}"
            )
        if int(lengths.min()) < 1 or int(lengths.max()) > tokens.shape[1]:
            raise ValueError(f"lengths must be in 1..T={tokens.shape[1]}, got {lengths.tolist()}")
        x = self.embed_drop(self.embed(tokens))  # (B, T, E)
        out, state = self.rnn(x, lengths=lengths.cpu())  # (B, T, D*H); h_n (L*D, B, H)
        h_n = state[0] if isinstance(state, tuple) else state
        mask = real_mask(lengths.to(out.device), out.shape[1]).unsqueeze(-1)  # (B, T, 1)
        parts = []
        for pool in self.pools:
            if pool == "last":  # each direction's state at its own end of the sequence
                top = h_n[-self.directions :]  # (D, B, H)
                parts.append(top.transpose(0, 1).reshape(out.shape[0], -1))  # (B, D*H)
            elif pool == "max":
                parts.append(out.masked_fill(~mask, float("-inf")).amax(dim=1))  # (B, D*H)
            else:
                total = (out * mask).sum(dim=1)  # (B, D*H)
                parts.append(total / lengths.to(out.device)[:, None].to(out.dtype))  # (B, D*H)
        return torch.cat(parts, dim=1)  # (B, P*D*H)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        return self.head(self.drop(self.features(tokens, lengths)))  # (B, C)


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
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed, padding_idx=pad_id)
        self.rnn = LSTM(
            embed, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0,
            backend=backend,
        )  # fmt: skip
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

    def loss(
        self, tokens: Tensor, targets: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Mean cross-entropy (nats) of ``targets`` (B, T) after ``tokens`` (B, T)."""
        out, state = self.hidden_states(tokens, state)  # (B, T, H)
        flat = out.reshape(-1, out.shape[-1])  # (B*T, H)
        if self.adaptive:
            assert isinstance(self.out, nn.AdaptiveLogSoftmaxWithLoss)
            return self.out(flat, targets.reshape(-1)).loss, state  # targets (B*T,)
        return F.cross_entropy(self.out(flat), targets.reshape(-1)), state

    def log_probs(self, hidden: Tensor) -> Tensor:
        """Next-token log-probabilities ``(N, V)`` from hidden states ``(N, H)``."""
        if self.adaptive:
            assert isinstance(self.out, nn.AdaptiveLogSoftmaxWithLoss)
            return self.out.log_prob(hidden)
        return F.log_softmax(self.out(hidden), dim=-1)


def init_from_lm(clf: SentimentClassifier, lm: LanguageModel) -> None:
    """Copy the LM's embeddings and LSTM into the classifier; shapes must match exactly."""
    src = {k: v for k, v in lm.state_dict().items() if k.startswith(("embed.", "rnn."))}
    dst = clf.state_dict()
    wrong = [
        f"{k}: LM {tuple(v.shape)} vs classifier {tuple(dst[k].shape) if k in dst else 'absent'}"
        for k, v in src.items()
        if k not in dst or dst[k].shape != v.shape
    ]
    missing = [k for k in dst if k.startswith("rnn.") and k not in src]
    if wrong or missing:
        raise ValueError(
            "the classifier must be a unidirectional LSTM with the LM's sizes to start from it; "
            + "; ".join(wrong + [f"{k}: not in the LM" for k in missing])
        )
    clf.load_state_dict(src, strict=False)
