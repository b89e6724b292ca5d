"""What the lab serves: a network by id, in front of a task's ``Run`` or a ``LabNet``.

The server talks to a task only through ``Run`` (``probe``, ``predict``) and the
``Task`` interface (``examples``, ``predict_options``, ``probe_options``); the lecture's
dense net and synchronous RNN come as ``rnnlab.lecture.lab.LabNet`` with the same
``probe``/``predict`` shape. A lab network still training answers ``NotReady``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnlab.lecture.lab import LabNet
from rnnlab.tasks.base import Run

MAX_METRIC_ROWS = 2000  # a longer metrics.jsonl is thinned evenly to this many rows


class NotReady(RuntimeError):
    pass


@dataclass
class Network:
    id: str
    title: str
    group: str  # parity | reverse (the lecture's lab) | runs (run folders)
    task: str  # the task's name, or dense / sync
    folder: Path
    target: Run[Any, Any, Any] | LabNet | None = None
    status: str = "ready"  # ready | training | failed
    error: str = ""
    examples: list[str] = field(default_factory=list)

    def set_ready(self, target: Run[Any, Any, Any] | LabNet) -> None:
        self.examples = (
            target.examples() if isinstance(target, LabNet) else target.task.examples(target, 4)
        )
        self.target, self.status = target, "ready"

    def info(self, max_tokens: int) -> dict[str, Any]:
        options: list[str] = []
        limit = max_tokens
        if isinstance(self.target, Run):
            task = self.target.task
            options = list(dict.fromkeys(task.predict_options + task.probe_options))
            if task.max_input_tokens:
                limit = min(limit, task.max_input_tokens)
        elif isinstance(self.target, LabNet):
            limit = min(limit, self.target.max_tokens)
        return {
            "id": self.id,
            "title": self.title,
            "group": self.group,
            "task": self.task,
            "status": self.status,
            "error": self.error,
            "limit": limit,
            "options": options,
            "examples": self.examples,
        }

    def _ready(self) -> Run[Any, Any, Any] | LabNet:
        if self.target is None or self.status != "ready":
            why = self.error if self.status == "failed" else "still training; try again soon"
            raise NotReady(f"{self.id} is not ready: {why}")
        return self.target

    def probe(self, line: str | bytes, options: dict[str, Any], limit: int) -> dict[str, Any]:
        target = self._ready()
        if isinstance(target, LabNet):
            _no_options(self.id, options)
            if isinstance(line, bytes):
                raise ValueError(f"{self.id} takes text lines, not uploaded files")
            return target.probe(line)
        return target.probe(line, limit=limit, **options)

    def predict(self, lines: Sequence[str], options: dict[str, Any], limit: int) -> list[str]:
        target = self._ready()
        if isinstance(target, LabNet):
            _no_options(self.id, options)
            return target.predict(lines)
        return target.predict(lines, limit=limit, **options)

    def metrics(self) -> list[dict[str, Any]]:
        """The rows of the folder's ``metrics.jsonl`` (none for a network without one)."""
        path = self.folder / "metrics.jsonl"
        if not path.is_file():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a crash: the rest still draws
            if isinstance(row, dict):
                rows.append(row)
        if len(rows) > MAX_METRIC_ROWS:
            step = len(rows) / MAX_METRIC_ROWS
            rows = [rows[int(i * step)] for i in range(MAX_METRIC_ROWS)] + [rows[-1]]
        return rows


def _no_options(name: str, options: dict[str, Any]) -> None:
    if options:
        raise ValueError(f"{name} takes no options, got {', '.join(sorted(options))}")
