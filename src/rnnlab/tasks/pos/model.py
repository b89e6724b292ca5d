"""A word + character BiLSTM tagger (many-to-many: one tag per input word).

Each word is represented by two vectors, concatenated:

- a word embedding, looked up by the word's id (``<unk>`` for words not seen in training);
- a character model of its spelling, so that an unseen word still gets a vector built
  from its letters (capitals, suffixes like *-ly*, *-ing*, digits, hyphens). Either a
  character BiLSTM (its final forward and backward states) or a character CNN (filters
  of width 3, max-pooled over the word's characters).

A bidirectional LSTM (``rnnlab.nn.layers.LSTM`` with ``lengths``) reads the sentence, and a
linear layer turns each position's output into a score per tag: a softmax over tags,
or, with ``crf=True``, the emissions of a ``CRF`` decoded jointly by Viterbi.

The character model runs once per distinct word form in the batch, not once per token:
``chars`` holds the U distinct forms of the batch and ``word_types`` (B, T) says which of
them sits at each position. When ``chars`` holds more than ``CHAR_BATCH`` characters
(padding included; never in a training batch of EWT), the forms are read in groups of
similar length, so that one long word does not pad all the others to its length.
Shapes: B batch, T words, U distinct forms, C characters, E embedding, H hidden, K tags.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.nn.crf import CRF
from rnnlab.nn.layers import LSTM, length_mask
from rnnlab.tasks.base import size_groups

CHAR_MODELS = ("lstm", "cnn")
CHAR_BATCH = 65536  # characters (padding included) the character model reads at once


@dataclass
class TaggerInput:
    """A padded batch of sentences, as ids (see ``rnnlab.tasks.pos.task.make_batch``)."""

    words: Tensor  # (B, T) word ids, PAD (0) after each sentence
    lengths: Tensor  # (B,) words per sentence
    chars: Tensor  # (U, C) character ids of each distinct form, PAD (0) after its end
    char_lengths: Tensor  # (U,) characters per form
    word_types: Tensor  # (B, T) index into the U forms

    def to(self, device: torch.device) -> TaggerInput:
        return TaggerInput(
            self.words.to(device),
            self.lengths,  # lengths stay on the CPU, where packing wants them
            self.chars.to(device),
            self.char_lengths,
            self.word_types.to(device),
        )


class CharLSTM(nn.Module):
    """A word's spelling -> the final states of a BiLSTM over its characters."""

    def __init__(self, n_chars: int, dim: int, hidden: int, backend: str) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_chars, dim, padding_idx=0)
        self.lstm = LSTM(dim, hidden, bidirectional=True, batch_first=True, backend=backend)
        self.out_dim = 2 * hidden

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        x = self.embed(chars)  # (U, C, E)
        out = self.lstm.outputs(x, lengths=lengths)  # (U, C, 2H)
        h = self.lstm.hidden_size
        last = (lengths.to(out.device) - 1)[:, None, None].expand(-1, 1, h)  # (U, 1, H)
        forward = out[:, :, :h].gather(1, last)[:, 0]  # (U, H): at each form's last character
        backward = out[:, 0, h:]  # (U, H): the reverse direction ends at the first
        return torch.cat([forward, backward], dim=1)  # (U, 2H): the final states h_n


class CharCNN(nn.Module):
    """A word's spelling -> max over positions of width-3 convolution filters."""

    def __init__(self, n_chars: int, dim: int, filters: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_chars, dim, padding_idx=0)
        self.conv = nn.Conv1d(dim, filters, kernel_size=3, padding=1)
        self.out_dim = filters

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        x = self.embed(chars).transpose(1, 2)  # (U, C, E) -> (U, E, C)
        y = torch.relu(self.conv(x))  # (U, F, C)
        real = length_mask(lengths.to(chars.device), chars.shape[1])  # (U, C)
        y = y.masked_fill(~real[:, None, :], 0.0)  # (U, F, C): padding never wins (relu >= 0)
        return y.max(dim=2).values  # (U, F)


class Tagger(nn.Module):
    def __init__(
        self,
        n_words: int,
        n_chars: int,
        n_tags: int,
        word_dim: int = 100,
        char_model: str = "lstm",
        char_dim: int = 50,
        char_hidden: int = 50,
        hidden: int = 200,
        layers: int = 2,
        dropout: float = 0.33,
        crf: bool = False,
        backend: str = "fused",
    ) -> None:
        super().__init__()
        if char_model not in CHAR_MODELS:
            raise ValueError(
                f"char_model must be one of {', '.join(CHAR_MODELS)}, got {char_model!r}"
            )
        self.word_embed = nn.Embedding(n_words, word_dim, padding_idx=0)
        self.chars: CharLSTM | CharCNN
        if char_model == "lstm":
            self.chars = CharLSTM(n_chars, char_dim, char_hidden, backend)
        else:
            self.chars = CharCNN(n_chars, char_dim, 2 * char_hidden)
        self.lstm = LSTM(
            word_dim + self.chars.out_dim,
            hidden,
            num_layers=layers,
            dropout=dropout if layers > 1 else 0.0,
            bidirectional=True,
            batch_first=True,
            backend=backend,
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, n_tags)
        self.crf = CRF(n_tags) if crf else None

    def emissions(self, x: TaggerInput) -> Tensor:
        """A score per tag at every position: (B, T, K) (padded positions are garbage)."""
        w = self.word_embed(x.words)  # (B, T, Ew)
        spell = self.spell(x.chars, x.char_lengths)  # (U, Ec)
        c = spell[x.word_types]  # (B, T, Ec)
        h = self.drop(torch.cat([w, c], dim=2))  # (B, T, Ew + Ec)
        out = self.lstm.outputs(h, lengths=x.lengths)  # (B, T, 2H)
        return self.head(self.drop(out))  # (B, T, K)

    def spell(self, chars: Tensor, lengths: Tensor) -> Tensor:
        """The character model's vector of each form: (U, Ec), read in groups of at most
        ``CHAR_BATCH`` characters when ``chars`` (U, C) holds more."""
        if chars.numel() <= CHAR_BATCH:
            return self.chars(chars, lengths)
        parts, rows = [], []
        for group in size_groups(lengths.tolist(), CHAR_BATCH):
            idx = torch.tensor(group)  # (G,)
            n = lengths[idx]  # (G,)
            sub = chars[idx.to(chars.device), : int(n.max())]  # (G, C')
            parts.append(self.chars(sub, n))  # (G, Ec)
            rows.append(idx)
        out = torch.cat(parts)  # (U, Ec) in group order
        return out[torch.cat(rows).argsort().to(out.device)]  # (U, Ec) in form order

    def loss(self, x: TaggerInput, tags: Tensor) -> Tensor:
        """Mean negative log-likelihood per word; ``tags`` (B, T), anything past the ends."""
        scores = self.emissions(x)  # (B, T, K)
        lengths = x.lengths.to(scores.device)  # (B,)
        if self.crf is not None:
            return self.crf.nll(scores, tags, lengths).sum() / lengths.sum()
        real = length_mask(lengths, tags.shape[1])  # (B, T)
        return F.cross_entropy(scores[real], tags[real])  # over the (N,) real words

    @torch.no_grad()
    def predict(self, x: TaggerInput) -> Tensor:
        """The best tag ids: (B, T), 0 past each sentence's end."""
        return self.best_tags(self.emissions(x), x.lengths)

    def best_tags(self, scores: Tensor, lengths: Tensor) -> Tensor:
        """The best tag ids from emissions ``scores`` (B, T, K): Viterbi with a CRF, else
        each word's argmax; (B, T), 0 past each sentence's end."""
        lengths = lengths.to(scores.device)  # (B,)
        if self.crf is not None:
            return self.crf.viterbi(scores, lengths)  # (B, T)
        real = length_mask(lengths, scores.shape[1])  # (B, T)
        return torch.where(real, scores.argmax(2), 0)  # (B, T)

    @torch.no_grad()
    def tag_probabilities(self, x: TaggerInput) -> tuple[Tensor, Tensor, str]:
        """``predict``'s tags (B, T), a probability per word and tag (B, T, K), and what
        those are: ``"marginal"`` (a CRF's ``p(y_t = k | sentence)`` by forward-backward)
        or ``"softmax"`` (each word's softmax over tags)."""
        scores = self.emissions(x)  # (B, T, K)
        tags = self.best_tags(scores, x.lengths)  # (B, T)
        if self.crf is not None:
            return tags, self.crf.marginals(scores, x.lengths.to(scores.device)), "marginal"
        return tags, scores.softmax(-1), "softmax"
