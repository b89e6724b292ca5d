"""The task registry: every trainable task is a ``rnnlab.tasks.base.Task``.

Built-in tasks are listed in ``TASKS`` (name -> ``module:object``). A task from outside
the package needs no change here: name it as ``package.module:OBJECT`` wherever a task
name is taken (``rnnlab train my_pkg.tasks:ADDITION``), or register it under a short
name through the ``rnnlab.tasks`` entry-point group of its distribution::

    [project.entry-points."rnnlab.tasks"]
    addition = "my_pkg.tasks:ADDITION"

A run folder's ``config.toml`` records the name it was trained under, so ``rnnlab eval``
and ``rnnlab predict`` find the task again.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import tempfile
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import torch

from rnnlab.tasks.base import Run, Task, load_task_run
from rnnlab.training import distributed
from rnnlab.training.config import from_dict, load_toml, save_config
from rnnlab.training.lock import run_lock

TASKS: dict[str, str] = {
    "parity": "rnnlab.tasks.parity.task:TASK",
    "reverse": "rnnlab.tasks.reverse.task:TASK",
    "pos": "rnnlab.tasks.pos.task:TASK",
    "sentiment": "rnnlab.tasks.sentiment.task:TASK",
    "lm": "rnnlab.tasks.lm.task:TASK",
    "caption": "rnnlab.tasks.caption.task:TASK",
    "chomsky": "rnnlab.tasks.chomsky.task:TASK",
}

Trained = Run  # what ``rnnlab.load`` returns (the name of earlier versions)


def _import(ref: str, name: str) -> Task[Any, Any, Any, Any]:
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ValueError(f"task {name!r}: cannot import module {module_name!r}") from exc
        raise
    obj = getattr(module, attr or "TASK", None)
    if isinstance(obj, type) and issubclass(obj, Task):
        if inspect.isabstract(obj):
            raise ValueError(f"task {name!r}: {ref} is an abstract Task class, not a task")
        obj = obj()
    if not isinstance(obj, Task):
        raise ValueError(
            f"task {name!r}: {ref} is not a rnnlab.tasks.base.Task (got {type(obj).__name__})"
        )
    return obj


def known_tasks() -> dict[str, str]:
    """Built-in tasks and those registered through the ``rnnlab.tasks`` entry points."""
    found = {ep.name: ep.value for ep in entry_points(group="rnnlab.tasks")}
    return {**found, **TASKS}


def get_task(name: str) -> Task[Any, Any, Any, Any]:
    """A task by registered name, or by ``package.module:OBJECT``."""
    known = known_tasks()
    if name in known:
        return _import(known[name], name)
    if ":" in name:
        return _import(name, name)
    raise ValueError(
        f"unknown task {name!r}; known tasks: {', '.join(sorted(known))} "
        "(or name one from outside as package.module:OBJECT)"
    )


def train_task(
    name: str, cfg: Any, run_dir: Path, device: torch.device, progress: bool = True
) -> dict[str, float]:
    """Write the resolved config, then train; the run folder is locked throughout, so a
    second trainer on it is refused before it writes anything.

    Data-parallel (a ``distributed.session``): rank 0 does all of that; the other ranks
    train alongside with a scratch folder for whatever the task writes before ``fit``
    (vocabularies), and return ``{}``."""
    task = get_task(name)
    d = distributed.active()
    if d is not None:
        task.check_distributed(cfg)
        if not d.main:
            scratch = tempfile.TemporaryDirectory(prefix=f"rnnlab-rank{d.rank}-")
            with scratch, contextlib.suppress(distributed.WorkerFinished):
                task.train(cfg, Path(scratch.name), device, progress=False)
            return {}
    with run_lock(run_dir):
        save_config(cfg, run_dir / "config.toml", task=name)
        return task.train(cfg, run_dir, device, progress=progress)


def read_run_config(run_dir: str | Path) -> tuple[str, Any]:
    run_dir = Path(run_dir)
    path = run_dir / "config.toml"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder: {path.name} is missing")
    data = load_toml(path)
    name = data.pop("task", None)
    if not isinstance(name, str):
        raise ValueError(f"{path}: expected a top-level 'task' key naming the task")
    task = get_task(name)
    for old, new in task.renamed.items():  # run folders written before a rename still load
        *head, last = old.split(".")
        node = data
        for part in head:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict) and last in node:
            *new_head, new_last = new.split(".")
            target = data
            for part in new_head:
                target = target.setdefault(part, {})
            target[new_last] = node.pop(last)
    try:
        cfg = from_dict(task.config_type, data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return name, cfg


def load_run(run_dir: str | Path, device: str | torch.device = "auto") -> Run[Any, Any, Any]:
    """A trained run folder, ready to ``predict`` and ``evaluate``."""
    from rnnlab.training.loop import resolve_device

    dev = device if isinstance(device, torch.device) else resolve_device(device)
    name, cfg = read_run_config(run_dir)
    return load_task_run(get_task(name), cfg, Path(run_dir), dev)


__all__ = ["TASKS", "Run", "Task", "Trained", "get_task", "load_run", "read_run_config"]
