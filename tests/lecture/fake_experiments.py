"""Tiny stand-ins for lecture experiments, to test the runner without training anything.

Importable by the runner's worker processes (they are spawned with the parent's sys.path).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from rnnlab.lecture.common import Claim, Context, Experiment, Need, compute, need, shared

MODULE = __name__


@shared
def noise(seed: int, size: int) -> torch.Tensor:
    """Shared work: some seeded random numbers (a stand-in for a trained network)."""
    return torch.randn(size, generator=torch.Generator().manual_seed(seed))


@shared
def broken_work(seed: int) -> int:
    raise RuntimeError(f"shared work {seed} broke")


def _experiment(exp_id: str, ctx: Context, *needs: Need) -> Experiment:
    values = [compute(n) for n in needs]
    total = float(sum(v.sum() for v in values)) + float(torch.rand(1))  # global RNG: seeded
    return Experiment(
        exp_id,
        exp_id,
        [Claim(exp_id, "a number below 100", "sum", total, 100.0, "<=")],
        details={"total": total, "threads": torch.get_num_threads(), "backend": ctx.backend},
    )


def first(ctx: Context) -> Experiment:
    return _experiment("fake.first", ctx, need(noise, ctx.seed, 1000))


def second(ctx: Context) -> Experiment:
    return _experiment("fake.second", ctx, need(noise, ctx.seed, 1000), need(noise, 7, 10))


def alone(ctx: Context) -> Experiment:
    return _experiment("fake.alone", ctx)


def fails(ctx: Context) -> Experiment:
    raise ValueError("this experiment fails")


def needs_broken(ctx: Context) -> Experiment:
    return _experiment("fake.needs_broken", ctx, need(broken_work, 1))


NEEDS: dict[str, Callable[[Context], list[Need]]] = {
    "fake.first": lambda ctx: [need(noise, ctx.seed, 1000)],
    "fake.second": lambda ctx: [need(noise, ctx.seed, 1000), need(noise, 7, 10)],
    "fake.needs_broken": lambda ctx: [need(broken_work, 1)],
}
GOOD = [
    ("fake.first", MODULE, "first"),
    ("fake.second", MODULE, "second"),
    ("fake.alone", MODULE, "alone"),
]
BAD = [("fake.fails", MODULE, "fails"), ("fake.needs_broken", MODULE, "needs_broken")]
