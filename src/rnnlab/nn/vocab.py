"""Words to ids and back: a vocabulary, and the tokenization rule for raw text.

Tokenization rule (documented, used wherever raw text comes in): split on whitespace,
then split off every punctuation character as its own token, keeping runs of letters,
digits, apostrophes inside words and hyphens inside words together::

    >>> tokenize("The old man, the boat.")
    ['The', 'old', 'man', ',', 'the', 'boat', '.']
    >>> tokenize("don't re-enter!")
    ["don't", 're-enter', '!']
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"

_TOKEN = re.compile(r"\w+(?:[-'’.]\w+)*|[^\w\s]", re.UNICODE)


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


class Vocab:
    """A fixed list of tokens; ids 0.. in order; ``<pad>`` is 0 when present."""

    def __init__(self, tokens: Sequence[str], unk: str | None = UNK) -> None:
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens must be unique")
        self.itos = list(tokens)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if unk is not None and unk not in self.stoi:
            raise ValueError(f"unknown-token marker {unk!r} is not in the vocabulary")
        self.unk = unk

    @classmethod
    def build(
        cls,
        sequences: Iterable[Iterable[str]],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = (PAD, UNK),
    ) -> Vocab:
        counts: Counter[str] = Counter()
        for seq in sequences:
            counts.update(seq)
        words = [w for w, c in counts.most_common() if c >= min_freq and w not in specials]
        if max_size is not None:
            words = words[: max(0, max_size - len(specials))]
        return cls([*specials, *words], unk=UNK if UNK in specials else None)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    @property
    def pad_id(self) -> int:
        return self.stoi[PAD]

    @property
    def unk_id(self) -> int:
        if self.unk is None:
            raise ValueError("this vocabulary has no unknown-token marker")
        return self.stoi[self.unk]

    def id(self, token: str) -> int:
        i = self.stoi.get(token)
        if i is not None:
            return i
        if self.unk is None:
            raise ValueError(f"token {token!r} is not in the vocabulary and there is no <unk>")
        return self.stoi[self.unk]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.id(t) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"itos": self.itos, "unk": self.unk}, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"vocabulary file not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data["itos"], unk=data.get("unk"))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a vocabulary file: {exc}") from exc


def pad_batch(seqs: Sequence[Sequence[int]], pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists into ``(B, T)`` plus their ``(B,)`` lengths; empty ones refused."""
    if not seqs:
        raise ValueError("cannot make a batch of no sequences")
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)  # (B,)
    if int(lengths.min()) == 0:
        raise ValueError(f"empty sequence at batch position {int(lengths.argmin())}")
    out = torch.full((len(seqs), int(lengths.max())), pad, dtype=torch.long)  # (B, T)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
    return out, lengths
