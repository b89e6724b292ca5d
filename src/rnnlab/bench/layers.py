"""``rnnlab bench layers``: forward+backward time of our layers against torch.nn.

For RNN, GRU and LSTM at each size, times one forward and backward pass (``out.sum()``
backpropagated to every parameter) of ``torch.nn``, and of ``rnnlab.nn.layers`` with the
``fused``, ``explicit`` and ``scripted`` backends, all holding the same weights. After a
warm-up, the implementations are measured in turn, round after round (so that load from
other work on the machine hits all of them alike), and each one's median is reported as a
ratio to torch.nn's median from the same run. Prints a markdown table.

Before timing, every implementation's output and gradients are compared with torch.nn's
on the same input: a benchmark of code that computes something else would mean nothing,
so a difference above ``TOLERANCE`` fails the run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnlab.nn import layers

KINDS: dict[str, tuple[Callable[..., nn.Module], Callable[..., nn.Module]]] = {
    "RNN": (nn.RNN, layers.RNN),
    "GRU": (nn.GRU, layers.GRU),
    "LSTM": (nn.LSTM, layers.LSTM),
}
IMPLS = ("torch.nn", "fused", "explicit", "scripted")
SIZES = [(64, 50, 128), (32, 200, 256)]  # (B, T, H); input size = H
QUICK_SIZES = [(4, 6, 8)]
TOLERANCE = 1e-4  # float32, out.sum() backpropagated: largest relative |ours - torch.nn|


def _step(module: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """One forward+backward pass of ``module`` on ``x``, gradients dropped first."""
    params = list(module.parameters())

    def run() -> None:
        for p in params:
            p.grad = None
        out, _ = module(x)
        out.sum().backward()

    return run


def disagreement(modules: dict[str, nn.Module], x: torch.Tensor) -> dict[str, float]:
    """Largest |difference| from torch.nn's output and gradients, per implementation, each
    tensor's relative to its largest |torch.nn value| (at least 1): float32 gradients of
    ``out.sum()`` add up B x T terms (a bias gradient of ~3,700 at B=32, T=200), whose
    rounding differs with the summation order by ~0.01 absolute, 3e-6 relative; a wrong
    equation is off by order 1."""

    def run(module: nn.Module) -> list[torch.Tensor]:
        out, _ = module(x)
        grads = torch.autograd.grad(out.sum(), list(module.parameters()))
        return [out.detach(), *grads]

    ref = run(modules["torch.nn"])
    return {
        name: max(
            float((a - b).abs().max()) / max(1.0, float(b.abs().max()))
            for a, b in zip(run(m), ref, strict=True)
        )
        for name, m in modules.items()
    }


def measure(
    kind: str,
    batch: int,
    steps: int,
    hidden: int,
    repeats: int,
    warmup: int,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """Median seconds per forward+backward pass of every implementation, at one size, and
    how far each one's numbers are from torch.nn's."""
    torch.manual_seed(0)
    ref_cls, our_cls = KINDS[kind]
    ref = ref_cls(hidden, hidden)
    modules: dict[str, nn.Module] = {"torch.nn": ref}
    for backend in IMPLS[1:]:
        ours = our_cls(hidden, hidden, backend=backend)
        ours.load_state_dict(ref.state_dict())
        modules[backend] = ours
    x = torch.randn(steps, batch, hidden)  # (T, B, H)
    diff = disagreement(modules, x)
    runs = {name: _step(m, x) for name, m in modules.items()}
    for run in runs.values():
        for _ in range(warmup):
            run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order
            t0 = clock()
            runs[name]()
            times[name].append(clock() - t0)
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    return {
        "kind": kind,
        "B": batch,
        "T": steps,
        "H": hidden,
        "seconds": medians,
        "ratio": {name: medians[name] / medians["torch.nn"] for name in names},
        "max_abs_diff": diff,
    }


def table(results: list[dict[str, Any]]) -> str:
    head = "| layer | B | T | H | torch.nn ms | fused | explicit | scripted |"
    lines = [head, "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for r in results:
        ratios = " | ".join(f"{r['ratio'][name]:.2f}x" for name in IMPLS[1:])
        ms = 1000 * r["seconds"]["torch.nn"]
        lines.append(f"| {r['kind']} | {r['B']} | {r['T']} | {r['H']} | {ms:.1f} | {ratios} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rnnlab bench layers", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: all cores)")
    p.add_argument("--repeats", type=int, default=0, help="timed rounds (default 15, quick 3)")
    p.add_argument("--warmup", type=int, default=3, help="untimed passes per implementation")
    p.add_argument("--kinds", nargs="+", choices=list(KINDS), default=list(KINDS))
    p.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = p.parse_args(argv)
    if args.threads < 0 or args.repeats < 0 or args.warmup < 0:
        raise ValueError("--threads, --repeats and --warmup must not be negative")
    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    repeats = args.repeats or (3 if args.quick else 15)
    sizes = QUICK_SIZES if args.quick else SIZES

    results = []
    for batch, steps, hidden in sizes:
        for kind in args.kinds:
            results.append(measure(kind, batch, steps, hidden, repeats, args.warmup))
            print(f"  measured {kind} B={batch} T={steps} H={hidden}", file=sys.stderr)
    plural = "s" if threads != 1 else ""
    print(f"forward+backward, float32, CPU, {threads} thread{plural}, median of {repeats} rounds;")
    print("ratios are time / torch.nn time in the same run (lower is faster)\n")
    print(table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta = {"threads": threads, "repeats": repeats, "torch": torch.__version__}
        args.json.write_text(json.dumps({**meta, "results": results}, indent=1))
    wrong = [
        f"{r['kind']} {name} (max relative |diff| {d:.2g})"
        for r in results
        for name, d in r["max_abs_diff"].items()
        if not d <= TOLERANCE
    ]
    if wrong:
        print(f"\nFAIL: not the same numbers as torch.nn: {', '.join(wrong)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
