"""Tasks whose data is generated, seeded and never stored (``parity``, ``reverse``).

Every possible sequence belongs to exactly one split, fixed by a hash of its tokens
(``rnnlab.training.samplers.sample_hash_split``), so dev and test sequences are never
trained on. A :class:`GeneratedTask` draws a fresh batch of the train split at every step
(seeded by ``train.seed`` and the step), scores ``dev`` and ``test`` on fixed seeded sets
of the training lengths, and ``long`` on longer sequences. A subclass says how to draw a
batch (``sample``) and which sequences ``long`` scores (``long_set``).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import torch
from torch import nn

from rnnlab.tasks.base import Task
from rnnlab.training.loop import TrainConfig
from rnnlab.training.samplers import HASH_SPLITS, step_generator


class GeneratedConfig(Protocol):
    """A generated task's config: its ``data`` section has ``min_len``, ``max_len`` (the
    training lengths), ``dev_size``, ``test_size`` and ``seed`` (the dev/test sets')."""

    @property
    def data(self) -> Any: ...
    @property
    def train(self) -> TrainConfig: ...


class Movable(Protocol):
    def to(self, device: torch.device) -> Any: ...


C = TypeVar("C", bound=GeneratedConfig)
M = TypeVar("M", bound=nn.Module)
X = TypeVar("X")
B = TypeVar("B", bound=Movable)  # a batch


def fixed_seed(seed: int, split: str, lo: int, hi: int) -> int:
    """The generator seed of the fixed set of ``split`` with lengths ``lo..hi``."""
    return seed * 7 + HASH_SPLITS.get(split, 5) * 1000 + lo * 31 + hi


class GeneratedTask(Task[C, None, M, X], Generic[C, M, X, B]):
    """A task on generated sequences; see the module docstring."""

    splits = ("dev", "test", "long")

    @abstractmethod
    def sample(self, d: Any, n: int, split: str, lo: int, hi: int, gen: torch.Generator) -> B:
        """A batch (on the CPU) of ``n`` sequences of ``split`` with lengths uniform in
        ``lo..hi``, drawn with ``gen``; ``d`` is the config's data section."""

    @abstractmethod
    def long_set(self, d: Any) -> B:
        """The fixed batch that the ``long`` split scores."""

    def fixed_set(self, d: Any, split: str, n: int, lo: int = 0, hi: int = 0) -> B:
        """The seeded set of ``n`` sequences of ``split`` (lengths ``lo..hi``, by default the
        training range): the same batch every time."""
        lo, hi = lo or d.min_len, hi or d.max_len
        gen = torch.Generator().manual_seed(fixed_seed(d.seed, split, lo, hi))
        return self.sample(d, n, split, lo, hi, gen)

    def eval_set(self, d: Any, split: str) -> B:
        """``dev``, ``test`` (training lengths, sequences never trained on) or ``long``."""
        if split == "long":
            return self.long_set(d)
        return self.fixed_set(d, split, d.dev_size if split == "dev" else d.test_size)

    def train_batches(self, cfg: C, res: None, device: torch.device) -> Callable[[int], Any]:
        d, tc = cfg.data, cfg.train

        def batch_fn(step: int) -> Any:
            gen = step_generator(tc.seed, step)
            return self.sample(d, tc.batch_size, "train", d.min_len, d.max_len, gen).to(device)

        return batch_fn
