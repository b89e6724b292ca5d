"""A task from outside the package: learn to add, ``"535+61"`` -> ``"596"``.

This file is the "adding a task" walk-through of ``docs/architecture.md``: one module,
one :class:`rnnlab.tasks.base.Task` subclass, no change inside rnnlab. With this folder
on ``PYTHONPATH``::

    rnnlab train addition:TASK --out runs/add
    rnnlab predict runs/add "535+61"          # 596
    rnnlab eval runs/add --split test

Encoding of one example with ``digits = 3`` (vocabulary: ``0..9`` are ids 0..9, ``+`` is
10, then ``<pad> = 11``, ``<s> = 12``, ``</s> = 13``), in a batch whose longest question
has 7 characters::

    question  "535+61"   src      [5, 3, 5, 10, 6, 1, 11]   src_len 6
    answer    "596"      tgt_in   [12, 5, 9, 6, 11]         (<s>, then the answer)
                         tgt_out  [5, 9, 6, 13, 11]         (the answer, then </s>)

Every question belongs to one split by a hash of its text (10% test, 10% dev), so the
test questions are never trained on.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from rnnlab.nn.seq2seq import Seq2Seq
from rnnlab.nn.vocab import pad_batch
from rnnlab.tasks.base import Run, Task
from rnnlab.training.loop import TrainConfig

SYMBOLS = "0123456789+"
PAD, BOS, EOS = len(SYMBOLS), len(SYMBOLS) + 1, len(SYMBOLS) + 2


@dataclass(frozen=True)
class DataConfig:
    digits: int = 3  # operands have 1..digits digits
    dev_size: int = 500
    test_size: int = 1000


@dataclass(frozen=True)
class ModelConfig:
    cell: str = "gru"
    hidden: int = 128
    attention: str = "none"


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(steps=3000, batch_size=128, lr=3e-3, eval_every=250)
    )


@dataclass
class Batch:
    src: torch.Tensor  # (B, S)
    src_len: torch.Tensor  # (B,)
    tgt_in: torch.Tensor  # (B, T)
    tgt_out: torch.Tensor  # (B, T)


def split_of(question: str) -> str:
    bucket = zlib.crc32(question.encode()) % 10
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def sample(n: int, split: str, digits: int, gen: torch.Generator) -> list[tuple[str, str]]:
    """``n`` questions of one split with their answers; each operand has 1..digits digits."""

    def number() -> int:
        width = int(torch.randint(1, digits + 1, (1,), generator=gen))
        return int(torch.randint(0, 10**width, (1,), generator=gen))

    out: list[tuple[str, str]] = []
    while len(out) < n:
        a, b = number(), number()
        if split_of(f"{a}+{b}") == split:
            out.append((f"{a}+{b}", str(a + b)))
    return out


def make_batch(pairs: Sequence[tuple[str, str]]) -> Batch:
    src, src_len = pad_batch([[SYMBOLS.index(c) for c in q] for q, _ in pairs], PAD)
    answers = [[SYMBOLS.index(c) for c in a] for _, a in pairs]
    tgt_in, _ = pad_batch([[BOS, *a] for a in answers], PAD)  # (B, T)
    tgt_out, _ = pad_batch([[*a, EOS] for a in answers], PAD)  # (B, T)
    return Batch(src, src_len, tgt_in, tgt_out)


class AdditionTask(Task[Config, None, Seq2Seq, list[int]]):
    name = "addition"
    config_type = Config
    metric = "exact"

    def build_model(self, cfg: Config, res: None) -> Seq2Seq:
        m = cfg.model
        return Seq2Seq(
            len(SYMBOLS) + 3,
            PAD,
            BOS,
            EOS,
            embed=16,
            hidden=m.hidden,
            cell=m.cell,
            attention=None if m.attention == "none" else m.attention,
        )

    def train_batches(self, cfg: Config, res: None, device: torch.device) -> Callable[[int], Batch]:
        def batch_fn(step: int) -> Batch:
            gen = torch.Generator().manual_seed(cfg.train.seed * 100_003 + step)
            return make_batch(sample(cfg.train.batch_size, "train", cfg.data.digits, gen))

        return batch_fn

    def loss(self, cfg: Config, model: Seq2Seq, batch: Batch) -> torch.Tensor:
        return model.loss(batch.src, batch.src_len, batch.tgt_in, batch.tgt_out)

    def evaluator(
        self, cfg: Config, res: None, split: str, device: torch.device
    ) -> Callable[[Seq2Seq], dict[str, float]]:
        n = cfg.data.dev_size if split == "dev" else cfg.data.test_size
        pairs = sample(n, split, cfg.data.digits, torch.Generator().manual_seed(len(split)))
        batch = make_batch(pairs)

        def metrics(model: Seq2Seq) -> dict[str, float]:
            out = model.greedy(batch.src, batch.src_len, max_len=cfg.data.digits + 2)
            got = [decode(h.tokens) for h in out.hypotheses()]
            right = sum(g == a for g, (_, a) in zip(got, pairs, strict=True))
            return {"exact": right / len(pairs), "n": float(len(pairs))}

        return metrics

    def encode(self, cfg: Config, res: None, line: str, where: str) -> list[int]:
        text = line.replace(" ", "")
        a, plus, b = text.partition("+")
        if not (plus and a.isdigit() and b.isdigit()):
            raise ValueError(f"{where}: expected two numbers joined by '+', got {line!r}")
        return [SYMBOLS.index(c) for c in text]

    def answer(self, run: Run, xs: Sequence[list[int]], **options: Any) -> list[str]:
        src, src_len = pad_batch(list(xs), PAD)
        out = run.model.greedy(src, src_len, max_len=run.cfg.data.digits + 2)
        return [decode(h.tokens) for h in out.hypotheses()]


def decode(ids: list[int]) -> str:
    return "".join(SYMBOLS[i] for i in ids if i < len(SYMBOLS))


TASK = AdditionTask()
