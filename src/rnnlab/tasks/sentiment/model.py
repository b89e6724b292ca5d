"""The many-to-one sentiment classifier.

``SentimentClassifier``: token ids ``(B, T)`` and true lengths ``(B,)`` -> logits
``(B, 2)``. Embeddings, a (bi)directional GRU/LSTM from ``rnnlab.nn.layers`` run with
``lengths`` (so each sequence's final state is taken at its own last real token, and the
reverse direction starts there), then pooling that ignores padding, dropout and a linear
head. ``pooling`` joins any of ``last`` (final states), ``max`` and ``mean`` over the real
steps, e.g. ``"last+max+mean"`` (ULMFiT's concat pooling).

``init_from_lm`` starts a classifier from a trained ``rnnlab.tasks.lm.model.LanguageModel``
(Dai & Le 2015): same embedding and LSTM names and shapes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.nn.layers import GRU, LSTM, length_mask
from rnnlab.tasks.lm.model import LanguageModel

POOLS = ("last", "max", "mean")


def parse_pooling(pooling: str) -> list[str]:
    parts = [p for p in pooling.split("+") if p]
    bad = [p for p in parts if p not in POOLS]
    if not parts or bad:
        raise ValueError(
            f"pooling expects parts of {'+'.join(POOLS)} joined by '+', got {pooling!r}"
        )
    return parts


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
        mask = length_mask(lengths.to(out.device), out.shape[1]).unsqueeze(-1)  # (B, T, 1)
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

    def prefix_logits(self, tokens: Tensor) -> Tensor:
        """Logits ``(T, C)`` after each prefix ``tokens[:k]`` of one sequence ``(T,)``, from
        one pass of a unidirectional model: its state after step k is the final state of the
        prefix, and max and mean pooling are running ones (a bidirectional model's reverse
        direction reads the whole sequence: classify the prefixes as rows instead)."""
        if self.directions != 1:
            raise ValueError("prefix_logits needs a unidirectional model: its outputs at step k")
        n = tokens.shape[0]
        x = self.embed_inputs(tokens[None], torch.tensor([n], device=tokens.device))  # (1, T, E)
        out = self.rnn(x)[0][0]  # (T, H): the top layer's state after each step
        steps = torch.arange(1, n + 1, device=out.device, dtype=out.dtype)[:, None]  # (T, 1)
        parts = {"last": out, "max": out.cummax(dim=0).values, "mean": out.cumsum(0) / steps}
        return self.head(self.drop(torch.cat([parts[p] for p in self.pools], dim=1)))  # (T, C)

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
        mask = length_mask(lengths.to(x.device), x.shape[1]).unsqueeze(-1)  # (B, T, 1)
        g = g.detach() * mask  # (B, T, E)
        norm = g.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]  # (B, 1, 1)
        adv = F.cross_entropy(self.classify(x + eps * g / norm, lengths), targets)
        return loss + adv


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
