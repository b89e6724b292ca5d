"""Task registry: every trainable task is a module with the same small surface.

A task module (``rnnlab.tasks.<name>``) defines:

- ``Config``: a frozen dataclass with defaults in code (nested sections such as
  ``model``, ``data`` and ``train: rnnlab.training.loop.TrainConfig``);
- ``train(cfg: Config, run_dir: Path, device: torch.device, progress: bool = True)
  -> dict[str, float]``: trains, writes the run folder (``config.toml`` is written by the
  caller), and returns the final dev metrics;
- ``load(run_dir: Path, cfg: Config, device: torch.device) -> Trained``.

A run folder holds ``config.toml`` (with ``task = "<name>"``), ``metrics.jsonl``,
``model.safetensors`` (+ ``.sha256``), the task's vocabulary files and ``checkpoint/``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import torch

from rnnlab.training.config import from_dict, load_toml, save_config

TASKS: dict[str, str] = {
    "parity": "rnnlab.tasks.parity.task",
    "reverse": "rnnlab.tasks.reverse.task",
    "pos": "rnnlab.tasks.pos.task",
    "sentiment": "rnnlab.tasks.sentiment.task",
    "lm": "rnnlab.tasks.lm.task",
    "caption": "rnnlab.tasks.caption.task",
}


class Trained(Protocol):
    """A trained model with its vocabulary, ready to answer."""

    model: torch.nn.Module

    def predict(self, inputs: list[str], **options: Any) -> list[str]:
        """One answer line per input line."""
        ...

    def evaluate(self, split: str = "dev") -> dict[str, float]: ...


def get_task(name: str) -> ModuleType:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    try:
        return importlib.import_module(TASKS[name])
    except ModuleNotFoundError as exc:
        if exc.name == TASKS[name]:
            raise ValueError(f"task {name!r} is not available in this version") from exc
        raise


def train_task(
    name: str, cfg: Any, run_dir: Path, device: torch.device, progress: bool = True
) -> dict[str, float]:
    """Write the resolved config, then train."""
    module = get_task(name)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.toml", task=name)
    result: dict[str, float] = module.train(cfg, run_dir, device, progress=progress)
    return result


def read_run_config(run_dir: str | Path) -> tuple[str, Any]:
    run_dir = Path(run_dir)
    path = run_dir / "config.toml"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder: {path.name} is missing")
    data = load_toml(path)
    name = data.pop("task", None)
    if not isinstance(name, str):
        raise ValueError(f"{path}: expected a top-level 'task' key naming the task")
    module = get_task(name)
    try:
        cfg = from_dict(module.Config, data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return name, cfg


def load_run(run_dir: str | Path, device: str | torch.device = "auto") -> Trained:
    from rnnlab.training.loop import resolve_device

    dev = device if isinstance(device, torch.device) else resolve_device(device)
    name, cfg = read_run_config(run_dir)
    trained: Trained = get_task(name).load(Path(run_dir), cfg, dev)
    return trained
