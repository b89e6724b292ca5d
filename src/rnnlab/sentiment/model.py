"""The many-to-one sentiment classifier and the LSTM language model that can initialise it.

``SentimentClassifier``: token ids ``(B, T)`` and true lengths ``(B,)`` -> logits
``(B, 2)``. Embeddings, a (bi)directional GRU/LSTM from ``rnnlab.layers`` run with
``lengths`` (so each sequence's final state is taken at its own last real token, and the
reverse direction starts there), then pooling that ignores padding, dropout and a linear
head. ``pooling`` joins any of ``last`` (final states), ``max`` and ``mean`` over the real
steps, e.g. ``"last+max+mean"`` (ULMFiT's concat pooling).

``LanguageModel``: embeddings, an LSTM and an output layer (a full softmax, or an
adaptive softmax over frequency-sorted ids when ``cutoffs`` are given). Bidirectional, it
is two language models that share the embeddings and the softmax (as in ELMo): the
forward direction predicts the next token from the tokens up to it, the reverse
direction the previous token from the tokens after it, so neither sees its target. Its
``embed`` and ``rnn`` weights have the same names and shapes as an LSTM classifier's with
the same sizes and directions, so ``init_from_lm`` copies them over (Dai & Le 2015).
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
        word_dropout: float = 0.0,
        unk_id: int = 1,
    ) -> None:
        super().__init__()
        if cell not in ("gru", "lstm"):
            raise ValueError(f"cell expects gru or lstm, got {cell!r}")
        self.pools = parse_pooling(pooling)
        self.pad_id, self.unk_id, self.word_dropout = pad_id, unk_id, word_dropout
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
        return self.pooled(self.embed_inputs(tokens, lengths), lengths)

    def embed_inputs(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """The recurrent layer's inputs ``(B, T, E)``: embeddings after (word) dropout."""
        if tokens.dim() != 2 or lengths.shape != tokens.shape[:1]:
            raise ValueError(
                f"expected tokens (B, T) and lengths (B,), got {tuple(tokens.shape)} "
                f"and {tuple(lengths.shape)}"
            )
        if int(lengths.min()) < 1 or int(lengths.max()) > tokens.shape[1]:
            raise ValueError(f"lengths must be in 1..T={tokens.shape[1]}, got {lengths.tolist()}")
        if self.training and self.word_dropout > 0:  # a whole word becomes <unk> (Iyyer 2015)
            drop = torch.rand(tokens.shape, device=tokens.device) < self.word_dropout  # (B, T)
            tokens = tokens.masked_fill(drop & (tokens != self.pad_id), self.unk_id)  # (B, T)
        return self.embed_drop(self.embed(tokens))  # (B, T, E)

    def pooled(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Pooled features ``(B, P*D*H)`` of the inputs ``x`` ``(B, T, E)``."""
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
        return self.classify(self.embed_inputs(tokens, lengths), lengths)  # (B, C)

    def classify(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Logits ``(B, C)`` from the recurrent layer's inputs ``x`` ``(B, T, E)``."""
        return self.head(self.drop(self.pooled(x, lengths)))  # (B, C)

    def adversarial_loss(
        self, tokens: Tensor, lengths: Tensor, targets: Tensor, eps: float
    ) -> Tensor:
        """Cross-entropy on clean inputs plus on adversarially perturbed embeddings
        (Goodfellow et al. 2015 on text, Miyato et al. 2017): ``r = eps * g / ||g||``, with
        ``g`` the gradient of the loss with respect to each snippet's embeddings, taken
        over its real steps only; ``r`` is a constant when the second loss is minimised."""
        x = self.embed_inputs(tokens, lengths)  # (B, T, E)
        if not x.requires_grad:  # frozen embeddings: the perturbation is still defined
            x = x.detach().requires_grad_()
        loss = F.cross_entropy(self.classify(x, lengths), targets)
        (g,) = torch.autograd.grad(loss, x, retain_graph=True)  # (B, T, E)
        mask = real_mask(lengths.to(x.device), x.shape[1]).unsqueeze(-1)  # (B, T, 1)
        g = g.detach() * mask  # (B, T, E)
        norm = g.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]  # (B, 1, 1)
        adv = F.cross_entropy(self.classify(x + eps * g / norm, lengths), targets)
        return loss + adv


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
            embed, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0,
            bidirectional=bidirectional, backend=backend,
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


def init_from_lm(clf: SentimentClassifier, lm: LanguageModel) -> None:
    """Copy the LM's embeddings and LSTM into the classifier; shapes must match exactly (a
    bidirectional LM gives a bidirectional classifier both directions)."""
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
            "the classifier must be an LSTM with the LM's sizes and directions to start from it; "
            + "; ".join(wrong + [f"{k}: not in the LM" for k in missing])
        )
    clf.load_state_dict(src, strict=False)
