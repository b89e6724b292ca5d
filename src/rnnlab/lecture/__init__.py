"""``rnnlab lecture``: replay every claim of the lecture, measure it, show it.

Runs the experiments, prints a table (claim, measured, threshold, verdict) and writes
``DIR/report.html`` (self-contained), ``DIR/figures/*.png`` and ``DIR/results.json``. The
exit status is 0 only when every claim passes.

The experiments and the work they share (``common.shared``: trained networks, one run
per sequence length) are independent of each other, so by default they run side by side,
one process per core with one torch thread each (``--jobs``, ``--threads``); every piece
seeds itself, so the numbers are those of a run in one process (``--jobs 1 --threads 1``).
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import torch

from rnnlab.lecture import lab
from rnnlab.lecture.common import (
    Claim,
    Context,
    Experiment,
    Need,
    compute,
    provide,
    remembered,
)

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
BACKENDS = ("auto", "explicit", "fused")

# Rough CPU seconds (one thread) of each experiment's own work and of each kind of shared
# work (``common.shared``), from `rnnlab bench lecture`: the runner hands out the costliest
# ready work first, so that no process is left with a long tail.
COST: dict[str, float] = {
    "parity.dense_fails": 2,
    "parity.rnn_succeeds": 2,
    "parity.final_only": 10,
    "parity.what_each_part_learns": 2,
    "rnn.unrolled_view": 1,
    "reverse.synchronous_fails": 10,
    "reverse.seq2seq_succeeds": 5,
    "reverse.attention": 8,
    "train_seq2seq": 20,
    "train_seq2seq:none": 45,  # the plain seq2seq trains 1,500 steps, attention ~200
    "trained_parity_rnn": 8,
    "rnn_position_run": 4,
    "dense_position_run": 2,
    "final_label_run": 3,
    "final_label_run:50000": 28,  # the full run's 50,000 sequences
    "large_share_run": 3,
}


def _cost(task: Any) -> float:
    """Estimated CPU seconds of a task: a ``Need`` (by its function, or its function and
    second argument when ``COST`` has that) or an experiment."""
    if isinstance(task[2], tuple):  # a Need: (module, function, args)
        name, args = task[1], task[2]
        return COST.get(f"{name}:{args[1]}" if len(args) > 1 else name, COST.get(name, 5.0))
    return COST.get(task[0], 5.0)


def run_experiment(exp_id: str, module: str, func: str, ctx: Context) -> Experiment:
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        fn = getattr(importlib.import_module(module), func)
        torch.manual_seed(ctx.seed)
        result: Experiment = fn(ctx)
    except Exception as exc:  # one broken experiment must not hide the others' results
        traceback.print_exc()
        result = _failed(exp_id, f"{type(exc).__name__}: {exc}")
    result.seconds = time.perf_counter() - t0
    result.cpu_seconds = time.process_time() - c0
    return result


def _failed(exp_id: str, msg: str) -> Experiment:
    return Experiment(
        id=exp_id,
        title=exp_id,
        claims=[Claim(exp_id, "the experiment runs", msg[:200], 0.0, 1.0)],
        text=f"The experiment failed: {msg}",
    )


def needs_of(exp: tuple[str, str, str], ctx: Context) -> list[Need]:
    """The shared work experiment ``exp`` will ask for (its module's ``NEEDS``)."""
    table = getattr(importlib.import_module(exp[1]), "NEEDS", {})
    return list(table[exp[0]](ctx)) if exp[0] in table else []


# --- the worker processes' side ---------------------------------------------------------


def _pack(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)  # models and tensors as plain bytes: no shared memory to manage
    return buf.getvalue()


def _unpack(data: bytes) -> Any:
    return torch.load(io.BytesIO(data), weights_only=False)


def _work_need(n: Need, threads: int) -> tuple[bytes, float, float]:
    torch.set_num_threads(threads)
    t0, c0 = time.perf_counter(), time.process_time()
    result = compute(n)
    return _pack(result), time.perf_counter() - t0, time.process_time() - c0


def _work_experiment(
    exp: tuple[str, str, str], ctx: Context, threads: int, given: dict[Need, bytes]
) -> Experiment:
    torch.set_num_threads(threads)
    provide({n: _unpack(data) for n, data in given.items()})
    return run_experiment(*exp, ctx)


# --- the runner -------------------------------------------------------------------------


def run_all(
    chosen: Sequence[tuple[str, str, str]],
    ctx: Context,
    jobs: int = 1,
    threads: int = 0,
    on_done: Callable[[Experiment], None] | None = None,
    kept: dict[Need, Any] | None = None,
) -> list[Experiment]:
    """Run the chosen experiments; the results come back in the lecture's order.

    ``jobs == 1`` runs them here, in order, on ``threads`` torch threads (default:
    torch's), each doing its shared work when it first needs it. ``jobs > 1`` runs the
    shared work and the experiments side by side in ``jobs`` processes (spawned: nothing
    but the arguments is inherited) of ``threads`` threads (default 1): the shared work
    first, each experiment once all it needs is done, the costliest ready task first.
    Every task seeds itself, so the results are the same as in one process on as many
    threads. Each experiment's times include the shared work it is the first to need.
    ``kept``: the shared results whose needs it holds as keys are filled in (the lab
    keeps the lecture's trained networks).
    """
    done: dict[str, Experiment] = {}

    def finish(res: Experiment) -> None:
        done[res.id] = res
        if on_done is not None:
            on_done(res)

    if jobs <= 1:
        if threads > 0:
            torch.set_num_threads(threads)
        for exp in chosen:
            finish(run_experiment(*exp, ctx))
        if kept is not None:
            kept.update({n: remembered(n) for n in kept})
        return [done[e[0]] for e in chosen]

    needs = {e[0]: needs_of(e, ctx) for e in chosen}
    first: dict[Need, str] = {}  # who is charged for each shared result
    for e in chosen:
        for n in needs[e[0]]:
            first.setdefault(n, e[0])
    results: dict[Need, bytes] = {}
    spent: dict[str, list[float]] = {e[0]: [0.0, 0.0] for e in chosen}
    waiting = list(chosen)
    ready: list[Any] = list(first)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=spawn) as pool:
        running: dict[Future[Any], Any] = {}
        while ready or running or waiting:
            for e in [e for e in waiting if all(n in results for n in needs[e[0]])]:
                waiting.remove(e)
                ready.append(e)
            ready.sort(key=_cost)
            while ready and len(running) < jobs:
                task = ready.pop()
                fut: Future[Any]
                if task in first:
                    fut = pool.submit(_work_need, task, threads or 1)
                else:
                    given = {n: results[n] for n in needs[task[0]]}
                    fut = pool.submit(_work_experiment, task, ctx, threads or 1, given)
                running[fut] = task
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                task = running.pop(fut)
                if task in first:
                    try:
                        results[task], wall, cpu = fut.result()
                    except Exception as exc:
                        traceback.print_exception(exc)
                        _fail_needers(task, needs, waiting, finish, exc)
                        continue
                    spent[first[task]][0] += wall
                    spent[first[task]][1] += cpu
                else:
                    try:
                        res: Experiment = fut.result()
                    except Exception as exc:
                        res = _failed(task[0], f"{type(exc).__name__}: {exc}")
                    res.seconds += spent[res.id][0]
                    res.cpu_seconds += spent[res.id][1]
                    finish(res)
    if kept is not None:
        kept.update({n: _unpack(results[n]) if n in results else None for n in kept})
    return [done[e[0]] for e in chosen]


def _fail_needers(
    n: Need,
    needs: dict[str, list[Need]],
    waiting: list[tuple[str, str, str]],
    finish: Callable[[Experiment], None],
    exc: BaseException,
) -> None:
    """Shared work ``n`` failed: every experiment waiting for it fails with its error."""
    for e in [e for e in waiting if n in needs[e[0]]]:
        waiting.remove(e)
        finish(_failed(e[0], f"{n[1]}{n[2]} failed: {type(exc).__name__}: {exc}"))


def default_jobs() -> int:
    """One process per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


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


def choose(only: Sequence[str] | None) -> list[tuple[str, str, str]]:
    """The experiments named in ``only`` (all when None), in the lecture's order."""
    if not only:
        return list(EXPERIMENTS)
    known = {e[0] for e in EXPERIMENTS}
    unknown = [x for x in only if x not in known]
    if unknown:
        raise ValueError(f"unknown experiment {unknown[0]!r}; known: {', '.join(sorted(known))}")
    return [e for e in EXPERIMENTS if e[0] in only]


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The options ``rnnlab lecture`` and ``rnnlab bench lecture`` share."""
    p.add_argument("--quick", action="store_true", help="smaller runs, the same verdicts")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", nargs="+", metavar="ID", help="run only these experiment ids")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="recurrent layers: explicit (the lecture's own cells), fused (torch's kernels) "
        "or auto (default: explicit for the Elman RNNs, fused for the LSTMs, which cost "
        "more explicit)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=0,
        help="experiments run side by side in this many processes (default: one per core)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads per process (default: 1 with several jobs, else all cores)",
    )


def check_run_arguments(args: argparse.Namespace) -> None:
    if args.jobs < 0 or args.threads < 0:
        raise ValueError("--jobs and --threads must not be negative")


def payload(results: list[Experiment], seconds: float, ctx: Context, jobs: int) -> dict[str, Any]:
    """What results.json holds: the run's settings, every claim, every experiment."""
    claims = [c for r in results for c in r.claims]
    return {
        "seconds": seconds,
        "quick": ctx.quick,
        "seed": ctx.seed,
        "backend": ctx.backend,
        "backend_by_cell": {cell: ctx.backend_for(cell) for cell in ("rnn", "lstm")},
        "jobs": jobs,
        "claims": [c.to_json() for c in claims],
        "experiments": [
            {
                "id": r.id,
                "title": r.title,
                "seconds": r.seconds,
                "cpu_seconds": r.cpu_seconds,
                "details": r.details,
            }
            for r in results
        ],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rnnlab lecture", description=__doc__.splitlines()[0])
    add_run_arguments(p)
    p.add_argument("--out", default="runs/lecture", help="output folder (default runs/lecture)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    check_run_arguments(args)
    out = Path(args.out)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    chosen = choose(args.only)
    jobs = args.jobs or default_jobs()
    ctx = Context(
        quick=args.quick,
        seed=args.seed,
        fig_dir=fig_dir,
        progress=not args.no_progress and jobs == 1,  # no bars from processes side by side
        backend=args.backend,
    )
    where = f"{jobs} processes side by side" if jobs > 1 else "one process"
    backends = ", ".join(f"{c} {ctx.backend_for(c)}" for c in ("rnn", "lstm"))
    print(f"{len(chosen)} experiments; backends: {backends}; {where}", flush=True)
    count = iter(range(1, len(chosen) + 1))

    def report(res: Experiment) -> None:
        verdicts = ", ".join(f"{c.id} {'pass' if c.passed else 'FAIL'}" for c in res.claims)
        i = next(count)
        print(f"[{i}/{len(chosen)}] {res.id} done in {res.seconds:.1f} s: {verdicts}", flush=True)

    t0 = time.perf_counter()
    kept: dict[Need, Any] = dict.fromkeys(lab.lecture_needs(ctx).values())
    results = run_all(chosen, ctx, jobs, args.threads, report, kept)
    seconds = time.perf_counter() - t0
    saved = lab.keep_lecture_networks(out / "lab", ctx, kept)
    claims = [c for r in results for c in r.claims]
    print_table(claims)
    (out / "results.json").write_text(json.dumps(payload(results, seconds, ctx, jobs), indent=1))
    from rnnlab.lecture.report import write_report

    write_report(out / "report.html", results, seconds, args.quick, args.seed)
    n_pass = sum(c.passed for c in claims)
    print(f"{n_pass}/{len(claims)} claims hold; {seconds:.0f} s; report: {out / 'report.html'}")
    if saved:
        print(f"its networks for `rnnlab serve`: {', '.join(saved)} in {out / 'lab'}")
    return 0 if claims and n_pass == len(claims) else 1
