"""MR (sentence polarity v1.0) and the unlabeled movie-review text, read with clear errors.

MR is two files of lower-cased, tokenized snippets, one a line: ``rt-polarity.pos``
(label 1) and ``rt-polarity.neg`` (label 0), 5,331 each. Splits are seeded permutations
of the 10,662 indices: ``folds(n, 10, seed)`` for cross-validation (fold sizes differ by
at most one) and ``holdout(n, 0.1, seed)`` for a quick 90/10 run.

The pretraining corpus is ``movie-review-text/``: 2,000 full reviews
(``polarity-v2.0/{pos,neg}/*.txt``, one sentence a line) and the 10,000 snippets of
``subjectivity-v1.0/``. Only the text is used, never a label. Many subjectivity quotes
are MR snippets (4,175 lines as shipped), so every line that also occurs in MR (after
collapsing whitespace) is dropped before use.

An MR line of more than ``MAX_WORDS`` words is a ``ValueError`` naming file:line (MR's
longest has 61), as is a text of more words given to ``predict``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from rnnlab.training.data import dataset_dir

MR_NAME = "sentence-polarity"
PRETRAIN_NAME = "movie-review-text"
MR_FILES = (("rt-polarity.neg", 0), ("rt-polarity.pos", 1))
LABELS = ("negative", "positive")
MAX_WORDS = 5000  # the longest text sentiment classifies (MR's longest: 61 words)


@dataclass
class Corpus:
    """Tokenized sentences with labels (1 positive, 0 negative)."""

    texts: list[list[str]]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, idx: list[int]) -> Corpus:
        return Corpus([self.texts[i] for i in idx], [self.labels[i] for i in idx])


def normalize(line: str) -> str:
    """The key two lines are compared by: whitespace collapsed."""
    return " ".join(line.split())


def read_lines(path: Path, allow_empty: bool = False, max_words: int = 0) -> list[str]:
    """UTF-8 lines of ``path``; a bad byte, (unless allowed) an empty line or (with
    ``max_words``) a line of more words names file:line."""
    if not path.is_file():
        raise FileNotFoundError(f"expected the file {path}, which is missing")
    data = path.read_bytes()
    lines = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{path}:{number}: expected UTF-8 text, got byte 0x{raw[exc.start]:02x} "
                f"at column {exc.start + 1}"
            ) from exc
        if not line.strip():
            if allow_empty or number == data.count(b"\n") + 1:  # the end of the file
                continue
            raise ValueError(f"{path}:{number}: empty line; expected one text a line")
        line = normalize(line)
        if max_words and line.count(" ") >= max_words:
            raise ValueError(
                f"{path}:{number}: a text of {line.count(' ') + 1:,} words; expected at most "
                f"{max_words:,} (sentiment.data.MAX_WORDS)"
            )
        lines.append(line)
    return lines


def load_mr(data_dir: str | Path = "") -> Corpus:
    """All 10,662 MR snippets, negatives first, as whitespace tokens."""
    root = dataset_dir(MR_NAME, data_dir)
    missing = [name for name, _ in MR_FILES if not (root / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{root}: missing label file(s) {', '.join(missing)}; expected "
            + " and ".join(name for name, _ in MR_FILES)
        )
    texts, labels = [], []
    for name, label in MR_FILES:
        lines = read_lines(root / name, max_words=MAX_WORDS)
        if not lines:
            raise ValueError(f"{root / name}: no texts; expected one snippet a line")
        texts += [line.split() for line in lines]
        labels += [label] * len(lines)
    return Corpus(texts, labels)


def folds(n: int, k: int = 10, seed: int = 0) -> list[tuple[list[int], list[int]]]:
    """``k`` seeded ``(train, test)`` index splits; every index is tested exactly once."""
    if not 2 <= k <= n:
        raise ValueError(f"folds: expected 2 <= k <= n, got k={k}, n={n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    parts = [perm[i::k] for i in range(k)]
    return [
        (sorted(x for j, p in enumerate(parts) if j != i for x in p), sorted(parts[i]))
        for i in range(k)
    ]


def holdout(n: int, fraction: float = 0.1, seed: int = 0) -> tuple[list[int], list[int]]:
    """A seeded ``(train, test)`` split with ``round(n * fraction)`` held out."""
    if not 0 < fraction < 1:
        raise ValueError(f"holdout fraction must be in (0, 1), got {fraction}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    m = max(1, round(n * fraction))
    return sorted(perm[m:]), sorted(perm[:m])


HELD_OUT = {"dev": ("cv000", "cv019"), "test": ("cv020", "cv039")}  # review files, pos and neg


def pretrain_files(root: Path, split: str = "train") -> list[Path]:
    """The files of one split: ``dev`` and ``test`` are 40 reviews each (tags in
    ``HELD_OUT``); ``train`` is every other review and all of ``subjectivity-v1.0/``."""
    if split not in ("train", *HELD_OUT):
        raise ValueError(f"pretraining split expects train, dev or test, got {split!r}")
    reviews = sorted((root / "polarity-v2.0").glob("*/*.txt"))
    snippets = sorted((root / "subjectivity-v1.0").glob("*.tok.gt9.5000"))
    if not reviews and not snippets:
        raise FileNotFoundError(
            f"{root}: expected polarity-v2.0/{{pos,neg}}/*.txt and/or "
            "subjectivity-v1.0/*.tok.gt9.5000, found neither"
        )

    def held(path: Path) -> str:
        tag = path.name[:5]
        return next((s for s, (lo, hi) in HELD_OUT.items() if lo <= tag <= hi), "train")

    chosen = [p for p in reviews if held(p) == split]
    return chosen + snippets if split == "train" else chosen


@dataclass
class PretrainText:
    """Sentences for the language model and how many lines were dropped as MR overlap."""

    sentences: list[list[str]]
    dropped: int


def load_pretraining(
    data_dir: str | Path = "", split: str = "train", exclude: set[str] | None = None
) -> PretrainText:
    """The lines of one split of ``movie-review-text/`` not in ``exclude`` (default: MR)."""
    root = dataset_dir(PRETRAIN_NAME, data_dir)
    if exclude is None:
        exclude = {" ".join(t) for t in load_mr(data_dir).texts}
    sentences, dropped = [], 0
    for path in pretrain_files(root, split):
        for line in read_lines(path, allow_empty=True):
            if line in exclude:
                dropped += 1
            else:
                sentences.append(line.split())
    return PretrainText(sentences, dropped)
