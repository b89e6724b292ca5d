"""What every lecture experiment returns: measured claims, figures and a short narrative.

An experiment is a function ``run(ctx: Context) -> Experiment``. It trains what it needs
(seeded from ``ctx.seed``), saves its pictures under ``ctx.fig_dir`` and returns its
claims, each a measured value compared with a threshold.

Work that several experiments use (a trained network) or that splits into independent
runs (one per sequence length) is a ``shared`` function: a pure function of its
arguments, done once per process and remembered. An experiment module lists what each
experiment will ask of them in ``NEEDS``, so that the lecture's runner can compute them
in other processes ahead of time and ``provide`` the results; run in one process, the
experiment simply calls them.
"""

from __future__ import annotations

import functools
import importlib
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}

Need = tuple[str, str, tuple[Any, ...]]  # a shared computation: (module, function, args)
_F = TypeVar("_F", bound=Callable[..., Any])
_MEMO: dict[Need, Any] = {}


def shared(fn: _F) -> _F:
    """Remember ``fn``'s result by its positional arguments, in this process.

    Keyword arguments (such as ``progress``) must not change the result: they are not
    part of the key. The result must be something ``torch.save`` can store.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kw: Any) -> Any:
        key = (fn.__module__, fn.__name__, args)
        if key not in _MEMO:
            _MEMO[key] = fn(*args, **kw)
        return _MEMO[key]

    return cast(_F, wrapper)


def need(fn: Callable[..., Any], *args: Any) -> Need:
    """The name of ``fn(*args)`` for a ``shared`` function ``fn``."""
    return (fn.__module__, fn.__name__, args)


def compute(n: Need) -> Any:
    """Do (or recall) the shared computation ``n`` in this process."""
    module, name, args = n
    return getattr(importlib.import_module(module), name)(*args)


def provide(results: dict[Need, Any]) -> None:
    """Hand in shared results computed elsewhere."""
    _MEMO.update(results)


def remembered(n: Need) -> Any:
    """The result of shared work ``n`` if this process has done (or been given) it."""
    return _MEMO.get(n)


def forget() -> None:
    """Drop every remembered shared result (tests)."""
    _MEMO.clear()


@dataclass(frozen=True)
class Context:
    quick: bool = False
    seed: int = 0
    fig_dir: Path = Path("figures")
    progress: bool = True
    backend: str = "auto"  # how the recurrent layers run: auto, explicit (our cells) or fused

    def backend_for(self, cell: str) -> str:
        """The backend for layers of ``cell`` (rnn, gru, lstm). ``auto`` runs the lecture on
        its own cells (``explicit``) where that costs little: the Elman RNN of the parity
        half trains as fast as torch's kernel or faster, while the reversal half's LSTMs
        train 1.1-1.4 times slower explicit (docs/benchmarks.md), so they run ``fused``."""
        if self.backend != "auto":
            return self.backend
        return "fused" if cell == "lstm" else "explicit"


@dataclass
class Claim:
    id: str  # e.g. "parity.rnn_succeeds"
    claim: str  # the lecture's sentence, in words
    metric: str  # what was measured, e.g. "per-step accuracy at length 2000"
    value: float
    threshold: float
    op: str = ">="  # value OP threshold passes

    @property
    def passed(self) -> bool:
        return bool(_OPS[self.op](self.value, self.threshold))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "claim": self.claim,
            "metric": self.metric,
            "value": self.value,
            "threshold": f"{self.op} {self.threshold:g}",
            "passed": self.passed,
        }


@dataclass
class Experiment:
    id: str
    title: str
    claims: list[Claim]
    figures: list[Path] = field(default_factory=list)
    text: str = ""  # a short narrative, plain text paragraphs (shown in report.html)
    details: dict[str, Any] = field(default_factory=dict)  # extra figures for results.json
    seconds: float = 0.0  # wall-clock time of the run, and of the shared work it was first to need
    cpu_seconds: float = 0.0  # the same in CPU time of its process (all threads)
