"""A progress display: a rich bar on a terminal, plain lines otherwise (logs, CI, pipes)."""

from __future__ import annotations

import sys
import time
from typing import Any


def _fmt(record: dict[str, Any]) -> str:
    parts = []
    for k, v in record.items():
        if k in ("step", "seconds"):
            continue
        parts.append(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}")
    return "  ".join(parts)


class Progress:
    """``update(step, record)``; shows steps/s and the latest loss and metrics."""

    def __init__(self, total: int, desc: str = "", enabled: bool = True, start: int = 0) -> None:
        self.total, self.desc, self.enabled = total, desc, enabled
        self.start, self.t0 = start, time.perf_counter()
        self.tty = sys.stdout.isatty()
        self._bar: Any = None
        self._task: Any = None
        if enabled and self.tty:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:.1f} steps/s"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(desc, total=total, completed=start, rate=0.0, info="")

    def rate(self, step: int) -> float:
        dt = time.perf_counter() - self.t0
        return (step - self.start) / dt if dt > 0 else 0.0

    def update(self, step: int, record: dict[str, Any] | None = None) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            fields: dict[str, Any] = {"rate": self.rate(step)}
            if record:
                fields["info"] = _fmt(record)
            self._bar.update(self._task, completed=step, **fields)
        elif record:
            print(
                f"{self.desc} step {step}/{self.total}  {self.rate(step):.1f} steps/s  "
                + _fmt(record),
                flush=True,
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
