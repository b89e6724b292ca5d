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


class _Absent:
    """``Vocab(tokens)``'s default ``unk``: ``<unk>`` when the tokens hold it, else none."""

    def __repr__(self) -> str:
        return "UNK_IF_PRESENT"


UNK_IF_PRESENT = _Absent()


class Vocab:
    """A fixed list of tokens; ids 0.. in order; ``<pad>`` is 0 when present.

    ``unk`` is the marker that unknown tokens become. By default it is ``<unk>`` when
    the tokens include it and otherwise there is none (unknown tokens are then an
    error); pass ``unk=None`` to refuse unknown tokens even with ``<unk>`` present, or a
    token to use another marker (it must be in ``tokens``).

    The special ids ``pad_id``, ``unk_id``, ``bos_id`` (``<s>``) and ``eos_id`` (``</s>``)
    raise a ``ValueError`` naming the token when the vocabulary lacks it; test first with
    ``"<s>" in vocab`` where it may be absent.
    """

    def __init__(self, tokens: Sequence[str], unk: str | _Absent | None = UNK_IF_PRESENT) -> None:
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens must be unique")
        self.itos = list(tokens)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if isinstance(unk, _Absent):
            unk = UNK if UNK in self.stoi else None
        if unk is not None and unk not in self.stoi:
            raise ValueError(f"unknown-token marker {unk!r} is not in the vocabulary")
        self.unk: str | None = unk

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

    def _special(self, token: str, what: str) -> int:
        i = self.stoi.get(token)
        if i is None:
            raise ValueError(f"this vocabulary has no {what} token {token!r}")
        return i

    @property
    def pad_id(self) -> int:
        return self._special(PAD, "padding")

    @property
    def bos_id(self) -> int:
        return self._special(BOS, "start-of-sequence")

    @property
    def eos_id(self) -> int:
        return self._special(EOS, "end-of-sequence")

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

    def decode(
        self, ids: Iterable[int] | torch.Tensor, stop_at_eos: bool = False, drop_pad: bool = False
    ) -> list[str]:
        """Tokens of ``ids`` (a list or a 1-D tensor); ``stop_at_eos`` ends before the first
        ``</s>``, ``drop_pad`` leaves out ``<pad>`` (each only when the vocabulary has it)."""
        seq = ids.tolist() if isinstance(ids, torch.Tensor) else ids
        eos = self.stoi.get(EOS) if stop_at_eos else None
        pad = self.stoi.get(PAD) if drop_pad else None
        out = []
        for i in seq:
            if eos is not None and i == eos:
                break
            if pad is None or i != pad:
                out.append(self.itos[i])
        return out

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
