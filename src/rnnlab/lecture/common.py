"""What every lecture experiment returns: measured claims, figures and a short narrative.

An experiment is a function ``run(ctx: Context) -> Experiment``. It trains what it needs
(seeded from ``ctx.seed``), saves its pictures under ``ctx.fig_dir`` and returns its
claims, each a measured value compared with a threshold.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


@dataclass(frozen=True)
class Context:
    quick: bool = False
    seed: int = 0
    fig_dir: Path = Path("figures")
    progress: bool = True


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
    seconds: float = 0.0
