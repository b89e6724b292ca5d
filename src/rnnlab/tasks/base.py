"""The one interface every task implements, and the one run-folder loader.

A task is a subclass of :class:`Task` (one instance per task, registered in
``rnnlab.tasks.TASKS`` or brought from outside as ``package.module:OBJECT``). Generic
machinery — the CLI, ``rnnlab.load``, evaluation, the benchmarks — talks to tasks only
through it::

    Task[C, R, M, X]       C config (a frozen dataclass), R resources (vocabularies built
                           from the training data, or None), M the model (an nn.Module),
                           X one encoded user input

    config_type            the frozen dataclass of settings (defaults in code)
    prepare(cfg, run_dir)  build R from the training data and save it into the run folder
    restore(cfg, run_dir)  read R back from a run folder
    build_model(cfg, res)  a fresh model
    train_batches(cfg, res, device)          batch_fn(step) -> a training batch
    loss(cfg, model, batch)                  the training loss (a scalar tensor)
    evaluator(cfg, res, split, device)       model -> metrics on a split
    encode(cfg, res, line, where)            one user input line -> X
    answer(run, xs, **options)               the model's answer lines for encoded inputs

Data-parallel training (``rnnlab.training.distributed``) needs two more, with defaults
for batches whose tensors all have the batch's rows first and a loss that is a mean over
rows: ``shard(cfg, batch, rank, world)`` (a rank's part of a global batch) and
``loss_count(cfg, batch)`` (what the loss is a mean over, e.g. target tokens);
``check_distributed(cfg)`` refuses settings that cannot train data-parallel.

Bounded inputs: ``Run.predict`` refuses an input longer than ``max_input_tokens``
(counted by ``input_size``) with a ``ValueError`` naming the line and the limit, and hands
``answer`` the inputs sorted by size in groups of at most ``predict_batch_tokens`` tokens
(padding included), so memory stays bounded however many lines come in. Options named in
``encode_options`` (e.g. ``pretokenized``) go to ``encode``, the others to ``answer``.

``Task.fit`` trains with ``rnnlab.training.fit`` from those pieces; ``Task.train`` writes
the run folder. A task whose training has more stages (an ensemble, a pretrained start)
overrides ``train``; one whose model is not one weights file overrides ``load_model``.

A run folder holds ``config.toml`` (with ``task = "<name>"``), ``metrics.jsonl``,
``model.safetensors`` (+ ``.sha256``), ``dev_metrics.json``, the task's resource files and
``checkpoint/``. :func:`Run` is a loaded one: ``predict`` and ``evaluate`` for any task.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import torch
from torch import nn

from rnnlab.training import distributed
from rnnlab.training.checkpoint import load_weights
from rnnlab.training.loop import FitResult, fit

C = TypeVar("C")  # the task's config dataclass
R = TypeVar("R")  # resources built from the training data (vocabularies), or None
M = TypeVar("M", bound=nn.Module)  # the model
X = TypeVar("X")  # one encoded user input


class Task(ABC, Generic[C, R, M, X]):
    """A trainable task; see the module docstring for the contract."""

    name: ClassVar[str]
    config_type: ClassVar[type[Any]]
    metric: ClassVar[str] = "acc"  # the dev metric that picks the best model
    higher_is_better: ClassVar[bool] = True
    splits: ClassVar[tuple[str, ...]] = ("dev", "test")  # what ``evaluate`` accepts
    predict_options: ClassVar[tuple[str, ...]] = ()  # keyword options of ``answer``
    # settings renamed since run folders were first written: old dotted key -> new one
    renamed: ClassVar[dict[str, str]] = {}
    # the predict options ``encode`` takes (as keywords) instead of ``answer``
    encode_options: ClassVar[tuple[str, ...]] = ()
    # the longest input ``predict`` accepts, in ``input_size`` units; 0 = no limit
    max_input_tokens: ClassVar[int] = 0
    # ``predict`` calls ``answer`` on groups of inputs of at most this many tokens (the
    # group's size times its longest input; an input longer than this goes alone)
    predict_batch_tokens: ClassVar[int] = 16384
    # keyword options ``probe`` takes besides ``predict_options`` (e.g. interventions)
    probe_options: ClassVar[tuple[str, ...]] = ()

    # --- data-dependent resources ------------------------------------------------------

    def prepare(self, cfg: C, run_dir: Path | None) -> R:
        """Build the resources from the training data; save them into ``run_dir``."""
        return None  # type: ignore[return-value]

    def restore(self, cfg: C, run_dir: Path) -> R:
        """Read the resources back from a run folder."""
        return None  # type: ignore[return-value]

    # --- model and training ------------------------------------------------------------

    @abstractmethod
    def build_model(self, cfg: C, res: R) -> M: ...

    @abstractmethod
    def train_batches(self, cfg: C, res: R, device: torch.device) -> Callable[[int], Any]:
        """``batch_fn(step)``: the training batch of a step, deterministic in the step."""

    @abstractmethod
    def loss(self, cfg: C, model: M, batch: Any) -> torch.Tensor: ...

    @abstractmethod
    def evaluator(
        self, cfg: C, res: R, split: str, device: torch.device
    ) -> Callable[[M], dict[str, float]]:
        """A function from a model to its metrics on ``split`` (the data read once)."""

    def goal(self, cfg: C) -> Callable[[dict[str, float]], bool] | None:
        """A test on dev metrics that ends training early, or None."""
        return None

    def train_config(self, cfg: C) -> Any:
        return cfg.train  # type: ignore[attr-defined]

    def steps_per_epoch(self, cfg: C, res: R) -> int:
        """Batches in one pass over a fixed training set (``train.epochs`` counts these);
        0 for tasks that draw fresh data every step."""
        return 0

    def shard(self, cfg: C, batch: Any, rank: int, world: int) -> Any:
        """Rank ``rank``'s part of a global training batch (data-parallel training)."""
        return distributed.shard(batch, rank, world)

    def loss_count(self, cfg: C, batch: Any) -> float:
        """What ``loss`` is a mean over in ``batch`` (rows; a per-token loss: tokens), so
        that data-parallel shards are weighted into the global batch's mean."""
        return distributed.rows(batch)

    def check_distributed(self, cfg: C) -> None:
        """A ``ValueError`` for settings that cannot train data-parallel."""

    def fit(
        self,
        cfg: C,
        device: torch.device,
        run_dir: Path | None = None,
        progress: bool = True,
        desc: str = "",
    ) -> tuple[M, R, FitResult, dict[str, float]]:
        """Train a fresh model; returns it (the best on dev), its resources, the fit
        result and its final dev metrics."""
        res = self.prepare(cfg, run_dir)
        tc = self.train_config(cfg)
        torch.manual_seed(tc.seed)
        model = self.build_model(cfg, res).to(device)
        dev = self.evaluator(cfg, res, "dev", device)
        result = fit(
            model,
            tc,
            self.train_batches(cfg, res, device),
            lambda m, b: self.loss(cfg, m, b),
            dev,
            run_dir=run_dir,
            metric=self.metric,
            higher_is_better=self.higher_is_better,
            progress=progress,
            desc=desc or self.name,
            stop_fn=self.goal(cfg),
            steps_per_epoch=self.steps_per_epoch(cfg, res),
            shard_fn=lambda b, r, w: self.shard(cfg, b, r, w),
            count_fn=lambda b: self.loss_count(cfg, b),
        )
        model.eval()
        with torch.no_grad():
            final = dev(model)
        return model, res, result, final

    def train(
        self, cfg: C, run_dir: Path, device: torch.device, progress: bool = True
    ) -> dict[str, float]:
        """Train into ``run_dir`` (its ``config.toml`` is written by the caller); returns
        the final dev metrics, also written to ``dev_metrics.json``."""
        _, _, result, final = self.fit(cfg, device, run_dir=run_dir, progress=progress)
        metrics = {**final, "steps": float(result.steps), "seconds": result.seconds}
        write_metrics(run_dir, metrics)
        return metrics

    def load_model(self, cfg: C, res: R, run_dir: Path, device: torch.device) -> M:
        model = self.build_model(cfg, res).to(device)
        load_weights(model, run_dir / "model.safetensors")
        return model.eval()

    # --- answering ---------------------------------------------------------------------

    @abstractmethod
    def encode(self, cfg: C, res: R, line: str, where: str) -> X:
        """One user input line -> what ``answer`` takes; a ``ValueError`` naming ``where``
        when the line is not a valid input."""

    @abstractmethod
    def answer(self, run: Run[C, R, M], xs: Sequence[X], **options: Any) -> list[str]:
        """One answer line per encoded input."""

    def input_size(self, x: X) -> int:
        """An encoded input's size for ``max_input_tokens`` and ``predict_batch_tokens``:
        its length (words, bits, tokens); 1 for an input without one."""
        return len(x) if isinstance(x, Sized) else 1

    def check_size(self, x: X, where: str, limit: int = 0) -> X:
        """``x``, or an ``InputTooLong`` naming ``where`` when it is over
        ``max_input_tokens`` (or over ``limit``, a caller's own lower cap)."""
        n, own = self.input_size(x), self.max_input_tokens
        if own and n > own:
            raise InputTooLong(
                f"{where} has {n:,} tokens; {self.name} takes at most {own:,} per input "
                f"({type(self).__name__}.max_input_tokens): split it into shorter lines",
                own,
            )
        if limit and n > limit:
            raise InputTooLong(f"{where} has {n:,} tokens; at most {limit:,} are taken here", limit)
        return x

    def encode_bytes(self, cfg: C, res: R, data: bytes, where: str) -> X:
        """An uploaded file (an image for captions) -> what ``answer`` takes; tasks whose
        inputs are text lines refuse it with a ``ValueError``."""
        raise ValueError(f"{where}: {self.name} takes text lines, not uploaded files")

    def examples(self, run: Run[C, R, M], n: int) -> list[str]:
        """Up to ``n`` input lines worth trying (from the dev data when there is some)."""
        return []

    def probe(self, run: Run[C, R, M], x: X, **options: Any) -> dict[str, Any]:
        """What the network does on one encoded input, step by step, as JSON-able data
        (plain dicts, lists, str, int, float) for the lab (``rnnlab serve``) and scripts.

        Always ``{"view": V, "answer": <predict's line for this input>, ...}``; ``V`` names
        what the rest holds and how the page draws it (``docs/serve.md``): ``"answer"``
        (nothing more: this default), ``"parity"``, ``"seq2seq"``, ``"tags"``, ``"prefix"``,
        ``"text"``, ``"caption"``. Options: ``predict_options`` and ``probe_options``.
        """
        return {"view": "answer", "answer": self.answer(run, [x], **options)[0]}

    def evaluate(self, run: Run[C, R, M], split: str) -> dict[str, float]:
        with torch.no_grad():
            return self.evaluator(run.cfg, run.res, split, run.device)(run.model)


def check_flag(value: object, name: str) -> bool:
    """An on/off option as given (JSON ``true``/``false``, a Python bool), else a
    ``ValueError``: ``"yes"`` or ``1`` is not taken for a yes."""
    if not isinstance(value, bool):
        raise ValueError(f"option {name} expects true or false, got {value!r}")
    return value


class InputTooLong(ValueError):
    """An input over a size limit; ``limit`` is that limit (in ``input_size`` units)."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


@dataclass
class Run(Generic[C, R, M]):
    """A loaded run folder: the task, its config, resources and trained model."""

    task: Task[C, R, M, Any]
    cfg: C
    res: R
    model: M
    device: torch.device
    run_dir: Path

    def predict(self, inputs: Sequence[str], *, limit: int = 0, **options: Any) -> list[str]:
        """One answer line per input line (e.g. ``"0 1 1"`` -> ``"1 0 1"`` for parity).
        ``limit``: a lower cap than the task's on each input's size."""
        task = self.task
        to_encode, to_answer = self._split_options("predict", task.predict_options, options)
        xs = [
            self._encode(line, f"input line {i}", to_encode, limit)
            for i, line in enumerate(inputs, 1)
        ]
        sizes = [task.input_size(x) for x in xs]
        out: list[str] = [""] * len(xs)
        self.model.eval()
        with torch.no_grad():
            for group in size_groups(sizes, task.predict_batch_tokens):
                answers = task.answer(self, [xs[i] for i in group], **to_answer)
                for i, answer in zip(group, answers, strict=True):
                    out[i] = answer
        return out

    def probe(self, line: str | bytes, *, limit: int = 0, **options: Any) -> dict[str, Any]:
        """``task.probe`` on one input line (or uploaded file's bytes): the network's work
        on it, step by step. ``limit``: a lower cap than the task's on the input's size."""
        allowed = self.task.predict_options + self.task.probe_options
        to_encode, to_probe = self._split_options("probe", allowed, options)
        if isinstance(line, bytes):
            enc = self.task.encode_bytes(self.cfg, self.res, line, "upload")
            x = self.task.check_size(enc, "upload", limit)
        else:
            x = self._encode(line, "input", to_encode, limit)
        self.model.eval()
        with torch.no_grad():
            return self.task.probe(self, x, **to_probe)

    def _split_options(
        self, verb: str, allowed: tuple[str, ...], options: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(options for ``encode``, the others); a ValueError for an unknown one."""
        task = self.task
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            known = ", ".join(allowed) or "none"
            raise ValueError(
                f"{task.name} {verb} does not take {', '.join(unknown)} (its options: {known})"
            )
        to_encode = {k: v for k, v in options.items() if k in task.encode_options}
        return to_encode, {k: v for k, v in options.items() if k not in task.encode_options}

    def _encode(self, line: str, where: str, options: dict[str, Any], limit: int = 0) -> Any:
        task = self.task
        x = task.encode(self.cfg, self.res, line, where, **options)
        return task.check_size(x, where, limit)

    def evaluate(self, split: str = "dev") -> dict[str, float]:
        """The task's metrics on ``split`` (one of ``task.splits``)."""
        if split not in self.task.splits:
            *rest, last = self.task.splits
            known = f"{', '.join(rest)} or {last}" if rest else last
            raise ValueError(f"{self.task.name} evaluates split {known}, got {split!r}")
        self.model.eval()
        return self.task.evaluate(self, split)


def size_groups(sizes: Sequence[int], budget: int, max_count: int = 0) -> list[list[int]]:
    """Indices of ``sizes`` sorted by size (stably), cut into groups whose count times
    largest size is at most ``budget`` (a size over the budget is a group alone) and, with
    ``max_count``, of at most that many."""
    order = sorted(range(len(sizes)), key=sizes.__getitem__)
    groups: list[list[int]] = []
    for i in order:
        n = len(groups[-1]) + 1 if groups else 0
        if groups and n * max(sizes[i], 1) <= budget and not (max_count and n > max_count):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def load_task_run(task: Task[C, R, M, Any], cfg: C, run_dir: Path, device: torch.device) -> Run:
    """Resources, then the model with its weights: a :class:`Run`."""
    run_dir = Path(run_dir)
    res = task.restore(cfg, run_dir)
    model = task.load_model(cfg, res, run_dir, device)
    return Run(task, cfg, res, model, device, run_dir)


def write_metrics(run_dir: Path, metrics: dict[str, float]) -> None:
    (Path(run_dir) / "dev_metrics.json").write_text(json.dumps(metrics, indent=1))
