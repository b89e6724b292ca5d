"""``rnnlab lecture``: replay every claim of the lecture, measure it, show it.

Runs the experiments in order, prints a table (claim, measured, threshold, verdict) and
writes ``DIR/report.html`` (self-contained), ``DIR/figures/*.png`` and
``DIR/results.json``. The exit status is 0 only when every claim passes.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
import traceback
from pathlib import Path

import torch

from rnnlab.lecture.common import Claim, Context, Experiment

# (id, module, function), in the lecture's order
EXPERIMENTS: list[tuple[str, str, str]] = [
    ("parity.dense_fails", "rnnlab.lecture.parity", "dense_fails"),
    ("parity.rnn_succeeds", "rnnlab.lecture.parity", "rnn_succeeds"),
    ("parity.final_only", "rnnlab.lecture.parity", "final_only"),
    ("parity.what_each_part_learns", "rnnlab.lecture.parity", "what_each_part_learns"),
    ("rnn.unrolled_view", "rnnlab.lecture.unrolled", "unrolled_view"),
    ("reverse.synchronous_fails", "rnnlab.lecture.reverse", "synchronous_fails"),
    ("reverse.seq2seq_succeeds", "rnnlab.lecture.reverse", "seq2seq_succeeds"),
    ("reverse.attention", "rnnlab.lecture.reverse", "attention"),
]


def run_experiment(exp_id: str, module: str, func: str, ctx: Context) -> Experiment:
    t0 = time.perf_counter()
    try:
        fn = getattr(importlib.import_module(module), func)
        torch.manual_seed(ctx.seed)
        result: Experiment = fn(ctx)
    except Exception as exc:  # one broken experiment must not hide the others' results
        traceback.print_exc()
        msg = f"{type(exc).__name__}: {exc}"
        result = Experiment(
            id=exp_id,
            title=exp_id,
            claims=[Claim(exp_id, "the experiment runs", msg[:200], 0.0, 1.0)],
            text=f"The experiment failed: {msg}",
        )
    result.seconds = time.perf_counter() - t0
    return result


def print_table(claims: list[Claim]) -> None:
    from rich.console import Console
    from rich.table import Table

    from rnnlab.lecture.report import fmt

    table = Table(title="The lecture, measured", show_lines=False)
    for col in ("claim", "measured", "value", "threshold", "verdict"):
        table.add_column(col, justify="right" if col in ("value", "threshold") else "left")
    for c in claims:
        verdict = "[green]pass[/]" if c.passed else "[bold red]FAIL[/]"
        table.add_row(
            f"{c.id}\n[dim]{c.claim}[/]",
            c.metric,
            fmt(c.value),
            f"{c.op} {fmt(c.threshold)}",
            verdict,
        )
    Console(width=140).print(table)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rnnlab lecture", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller runs, the same verdicts")
    p.add_argument("--out", default="runs/lecture", help="output folder (default runs/lecture)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", nargs="+", metavar="ID", help="run only these experiment ids")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: all cores)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    chosen = EXPERIMENTS
    if args.only:
        known = {e[0] for e in EXPERIMENTS}
        unknown = [x for x in args.only if x not in known]
        if unknown:
            raise ValueError(
                f"unknown experiment {unknown[0]!r}; known: {', '.join(sorted(known))}"
            )
        chosen = [e for e in EXPERIMENTS if e[0] in args.only]
    ctx = Context(quick=args.quick, seed=args.seed, fig_dir=fig_dir, progress=not args.no_progress)
    t0 = time.perf_counter()
    results: list[Experiment] = []
    for i, (exp_id, module, func) in enumerate(chosen, 1):
        print(f"[{i}/{len(chosen)}] {exp_id} ...", flush=True)
        res = run_experiment(exp_id, module, func, ctx)
        verdicts = ", ".join(f"{c.id} {'pass' if c.passed else 'FAIL'}" for c in res.claims)
        print(f"[{i}/{len(chosen)}] {exp_id} done in {res.seconds:.1f} s: {verdicts}", flush=True)
        results.append(res)
    seconds = time.perf_counter() - t0
    claims = [c for r in results for c in r.claims]
    print_table(claims)
    payload = {
        "seconds": seconds,
        "quick": args.quick,
        "seed": args.seed,
        "claims": [c.to_json() for c in claims],
        "experiments": [
            {"id": r.id, "title": r.title, "seconds": r.seconds, "details": r.details}
            for r in results
        ],
    }
    (out / "results.json").write_text(json.dumps(payload, indent=1))
    from rnnlab.lecture.report import write_report

    write_report(out / "report.html", results, seconds, args.quick, args.seed)
    n_pass = sum(c.passed for c in claims)
    print(f"{n_pass}/{len(claims)} claims hold; {seconds:.0f} s; report: {out / 'report.html'}")
    return 0 if claims and n_pass == len(claims) else 1
