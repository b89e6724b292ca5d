"""Length generalization on the tasks of "Neural Networks and the Chomsky Hierarchy".

- ``rnnlab.tasks.chomsky.data``: the seeded task generators (``TASKS``, ``get_task``).
- ``rnnlab.tasks.chomsky.model``: RNN/GRU/LSTM in the paper's setup (``TapeRNN``) and the
  lecture's seq2seq on these tasks (``LectureSeq2Seq``), with content or NTM-style
  location attention (``rnnlab.nn.attention``).
- ``make_model(name, task)`` builds any of ``MODELS``; the benchmark is
  ``rnnlab bench generalize`` (``rnnlab.tasks.chomsky.bench``).
- ``ChomskyTask`` (``rnnlab train chomsky``): one model on one problem as a run folder.

Encoding of one ``reverse_string`` example of length 3 (inputs and outputs are symbol ids;
a batch has one length in training, right-padded strings of many lengths in evaluation,
targets -1 past each string's output)::

    src  [0, 1, 1]      tgt  [1, 1, 0]      (rnnlab predict RUN "0 1 1" prints "1 1 0")
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from rnnlab.nn.vocab import pad_batch
from rnnlab.tasks.base import Run
from rnnlab.tasks.base import Task as BaseTask
from rnnlab.tasks.chomsky.data import TASKS, Task, get_task
from rnnlab.tasks.chomsky.model import INITS, LectureSeq2Seq, TapeRNN, TaskModel
from rnnlab.training.config import RangeChecked, ranged
from rnnlab.training.loop import TrainConfig
from rnnlab.training.samplers import step_generator

TAPE_MODELS = ("rnn", "gru", "lstm")  # the paper's setup (``TapeRNN``)
MODELS = (*TAPE_MODELS, "s2s", "s2s_additive", "s2s_multiplicative", "s2s_location")


def make_model(
    name: str, task: Task, hidden: int = 64, backend: str = "fused", init: str = "paper"
) -> TaskModel:
    """A fresh model for ``task``: ``rnn | gru | lstm`` (paper setup; ``init`` "paper" or
    "torch", see ``TapeRNN``), ``s2s`` (final state only), ``s2s_additive``,
    ``s2s_multiplicative`` (content attention: Bahdanau's MLP, Luong's bilinear 'general'
    score) or ``s2s_location``."""
    i, o = task.input_size, task.output_size
    if name in TAPE_MODELS:
        return TapeRNN(name, i, o, hidden=hidden, backend=backend, init=init)
    if name == "s2s":
        return LectureSeq2Seq(i, o, attention="none", hidden=hidden, backend=backend)
    if name == "s2s_additive":
        return LectureSeq2Seq(i, o, attention="additive", hidden=hidden, backend=backend)
    if name == "s2s_multiplicative":
        return LectureSeq2Seq(i, o, attention="general", hidden=hidden, backend=backend)
    if name == "s2s_location":  # the decoder is fed its last read, as an NTM's controller
        return LectureSeq2Seq(
            i, o, attention="location", input_feeding="context", hidden=hidden, backend=backend
        )
    raise ValueError(f"unknown model {name!r}; expected one of {', '.join(MODELS)}")


__all__ = [
    "MODELS",
    "TAPE_MODELS",
    "TASKS",
    "LectureSeq2Seq",
    "TapeRNN",
    "Task",
    "TaskModel",
    "get_task",
    "make_model",
]


# --- one (problem, model) run as a task: rnnlab train chomsky ---------------------------


@dataclass(frozen=True)
class DataConfig(RangeChecked):
    problem: str = ranged("parity_check", choices=tuple(TASKS))
    train_max: int = ranged(40, ge=1)  # train on lengths 1..train_max, one length a batch
    test_max: int = ranged(100, ge=2)  # "test" scores every length train_max+1..test_max
    eval_batch: int = ranged(8, ge=1)  # strings per length in dev and test
    seed: int = ranged(1, ge=0)  # the dev/test strings' seed


@dataclass(frozen=True)
class ModelConfig(RangeChecked):
    name: str = ranged("lstm", choices=MODELS)
    hidden: int = ranged(128, ge=1)
    init: str = ranged("paper", choices=INITS)  # RNN/GRU/LSTM: Haiku's or PyTorch's init


@dataclass(frozen=True)
class Config(RangeChecked):
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(steps=5000, lr=1e-3, eval_every=500, log_every=100)
    )


Strings = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # src (B, S), src_len (B,), tgt (B, m)


def strings(problem: Task, lengths: Sequence[int], per_length: int, seed: int) -> Strings:
    """``per_length`` strings of every length, right-padded: inputs, lengths, and targets
    with -1 past each string's output (seeded by ``seed`` and the length)."""
    pairs = [problem.sample(per_length, n, step_generator(seed, n)) for n in lengths]
    s, m = max(x.shape[1] for x, _ in pairs), max(y.shape[1] for _, y in pairs)
    src = torch.cat([F.pad(x, (0, s - x.shape[1])) for x, _ in pairs])  # (B, S)
    tgt = torch.cat([F.pad(y, (0, m - y.shape[1]), value=-1) for _, y in pairs])  # (B, m)
    src_len = torch.tensor([x.shape[1] for x, _ in pairs]).repeat_interleave(per_length)
    return src, src_len, tgt


@torch.no_grad()
def per_string_accuracy(model: TaskModel, problem: Task, batch: Strings) -> torch.Tensor:
    """The share of right output positions of each string: ``(B,)``."""
    src, src_len, tgt = batch
    out_len = torch.tensor([problem.output_length(int(n)) for n in src_len])  # (B,)
    pred = model.predict(src, src_len, out_len)[:, : tgt.shape[1]]  # (B, m)
    real = tgt >= 0  # (B, m)
    return ((pred == tgt) & real).sum(1) / real.sum(1)  # (B,)


class ChomskyTask(BaseTask[Config, None, TaskModel, list[int]]):
    """One model on one problem of the length-generalization suite.

    ``rnnlab train chomsky --set data.problem=reverse_string --set model.name=s2s_location``;
    ``evaluate("test")`` is the paper's score at lengths ``train_max+1..test_max``;
    ``predict(["0 1 1"])`` prints the predicted output symbols (``"1 1 0"``).
    """

    name = "chomsky"
    config_type = Config
    metric = "acc"
    max_input_tokens = 10_000  # symbols a line: 20x the paper's longest test string

    def build_model(self, cfg: Config, res: None) -> TaskModel:
        m = cfg.model
        return make_model(m.name, get_task(cfg.data.problem), hidden=m.hidden, init=m.init)

    def train_batches(
        self, cfg: Config, res: None, device: torch.device
    ) -> Callable[[int], tuple[torch.Tensor, torch.Tensor]]:
        problem, seed = get_task(cfg.data.problem), cfg.train.seed

        def batch_fn(step: int) -> tuple[torch.Tensor, torch.Tensor]:
            gen = step_generator(seed, step)
            n = int(torch.randint(1, cfg.data.train_max + 1, (1,), generator=gen))
            x, y = problem.sample(cfg.train.batch_size, n, gen)
            return x.to(device), y.to(device)

        return batch_fn

    def loss(
        self, cfg: Config, model: TaskModel, batch: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        return model.loss(*batch)

    def evaluator(
        self, cfg: Config, res: None, split: str, device: torch.device
    ) -> Callable[[TaskModel], dict[str, float]]:
        d, problem = cfg.data, get_task(cfg.data.problem)
        if split == "dev":  # training lengths, strings of another seed
            lengths = range(1, d.train_max + 1)
        else:
            lengths = range(d.train_max + 1, d.test_max + 1)
        src, src_len, tgt = strings(problem, lengths, d.eval_batch, d.seed + (split == "test"))
        batch = (src.to(device), src_len.to(device), tgt.to(device))

        def metrics(model: TaskModel) -> dict[str, float]:
            acc = per_string_accuracy(model, problem, batch)
            return {"acc": float(acc.mean()), "n": float(acc.numel())}

        return metrics

    def encode(self, cfg: Config, res: None, line: str, where: str) -> list[int]:
        k = get_task(cfg.data.problem).input_size
        parts = line.split()
        if not parts:
            raise ValueError(f"{where} is empty: expected symbols 0..{k - 1} separated by spaces")
        bad = [p for p in parts if not (p.isdigit() and int(p) < k)]
        if bad:
            raise ValueError(f"{where}: expected integers in 0..{k - 1}, got {bad[0]!r}")
        return [int(p) for p in parts]

    def answer(self, run: Run, xs: Sequence[list[int]], **options: Any) -> list[str]:
        problem = get_task(run.cfg.data.problem)
        src, src_len = pad_batch(list(xs))  # (B, S), (B,)
        out_len = torch.tensor([problem.output_length(len(x)) for x in xs])  # (B,)
        pred = run.model.predict(src.to(run.device), src_len.to(run.device), out_len)
        return [
            " ".join(str(int(t)) for t in row[:n]) for row, n in zip(pred, out_len, strict=True)
        ]


TASK = ChomskyTask()
