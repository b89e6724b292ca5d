"""Length generalization: the protocol of "Neural Networks and the Chomsky Hierarchy".

``rnnlab bench generalize [--tasks ...] [--models ...] [--seeds N] [--quick] [--jobs J]
[--out DIR]`` trains every (task, model, seed) on strings of lengths drawn uniformly from
1..40 (one length per batch) and tests it on EVERY length 41..500 (``--quick``: 41..100).
A run's score is its per-position accuracy averaged over the test lengths; the table
gives the mean and the max over seeds (the paper reports the max over seeds and
learning rates), with the paper's published figure beside ours.

Runs go to ``--jobs`` processes (``spawn``), each with ONE torch thread, so J jobs use J
cores. Launched by torchrun (``torchrun --nproc-per-node N [--nnodes M ...] -m rnnlab bench
generalize ...``), the runs are spread over the ranks (rank r takes every N-th of the runs
left to do, each with its own ``--jobs``); rank 0 gathers them (gloo) and writes every
output; the other ranks' runs reach ``runs.jsonl`` when all have finished.

Written to ``--out``: ``table.md`` (the printed table), ``results.json`` (every task,
model, seed and test length with its accuracy, plus times and budgets) and
``accuracy_by_length.png``; ``runs.jsonl`` collects runs as they finish, and a run
already there is not repeated (an interrupted benchmark resumes).

The paper trains for 1,000,000 steps at batch 128 with hidden size 256; a CPU cannot, so
the budget (steps, hidden size, lr, batch) per model is in ``BUDGETS`` (``TASK_BUDGETS``
where one model needs more on one task) and every run records the budget it had.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import statistics
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from rnnlab.tasks.chomsky.data import TASKS, get_task
from rnnlab.tasks.chomsky.task import MODELS, TAPE_MODELS, TaskModel, make_model
from rnnlab.training import distributed
from rnnlab.training.loop import TrainConfig, fit
from rnnlab.training.samplers import seed_everything, step_generator

TRAIN_MAX = 40  # train on lengths 1..40
TEST_MAX, QUICK_TEST_MAX = 500, 100  # test on 41..500 (quick: 41..100)
TEST_SEED = 1  # the test strings are the same for every model and seed

# Published scores (Deletang et al. 2023, Table 2: max over seeds), percent.
PAPER: dict[str, dict[str, float]] = {
    "parity_check": {"rnn": 100.0, "lstm": 100.0, "transformer": 52.0},
    "modular_arithmetic": {"rnn": 100.0, "lstm": 100.0, "transformer": 24.2},
    "reverse_string": {
        "rnn": 62.0,
        "lstm": 60.9,
        "stack_rnn": 100.0,
        "tape_rnn": 100.0,
        "transformer": 62.3,
    },
    "duplicate_string": {
        "rnn": 50.3,
        "lstm": 57.6,
        "stack_rnn": 52.8,
        "tape_rnn": 100.0,
        "transformer": 52.8,
    },
}
PAPER_ONLY = ("stack_rnn", "tape_rnn", "transformer")
LABELS = {
    "rnn": "RNN",
    "gru": "GRU",
    "lstm": "LSTM",
    "s2s": "seq2seq (final state)",
    "s2s_additive": "seq2seq + additive attention",
    "s2s_multiplicative": "seq2seq + multiplicative attention",
    "s2s_location": "seq2seq + location attention",
    "stack_rnn": "Stack-RNN (paper only)",
    "tape_rnn": "Tape-RNN (paper only)",
    "transformer": "Transformer (paper only)",
}


@dataclass(frozen=True)
class Budget:
    """What one run may spend: training steps, batch size, hidden size, learning rate;
    and, for RNN/GRU/LSTM, their initial parameters ("paper": Haiku's defaults, as the
    paper's models start; "torch": PyTorch's; see ``rnnlab.tasks.chomsky.model.TapeRNN``)."""

    steps: int
    hidden: int
    lr: float = 1e-3
    batch_size: int = 32
    init: str = "paper"


BUDGETS: dict[str, Budget] = {
    "rnn": Budget(steps=20000, hidden=128),
    "gru": Budget(steps=20000, hidden=128),
    "lstm": Budget(steps=20000, hidden=128),
    "s2s": Budget(steps=1000, hidden=64),
    "s2s_additive": Budget(steps=1000, hidden=64),
    "s2s_multiplicative": Budget(steps=1000, hidden=64),
    "s2s_location": Budget(steps=600, hidden=32, lr=3e-3),
}
# Where one model needs more on one task (measured; see docs/benchmarks.md): the plain RNN
# finds modular arithmetic only with the paper's batch of 128 (at batch 32 it was still at
# chance after 30,000 steps); the LSTM gets the paper's hidden size on duplicate string,
# where what it can hold of the string is what it scores.
TASK_BUDGETS: dict[tuple[str, str], Budget] = {
    ("modular_arithmetic", "rnn"): Budget(steps=40000, hidden=128, batch_size=128),
    ("duplicate_string", "lstm"): Budget(steps=20000, hidden=256),
}


def budget_for(task: str, model: str) -> Budget:
    """The budget of one (task, model) run before command-line overrides."""
    return TASK_BUDGETS.get((task, model), BUDGETS[model])


@dataclass(frozen=True)
class RunSpec:
    task: str
    model: str
    seed: int
    budget: Budget
    test_lengths: tuple[int, ...]
    eval_batch: int  # test strings per length


def test_batches(
    spec: RunSpec, chunk: int = 16
) -> list[tuple[list[int], torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The test set, a few lengths per right-padded batch: (lengths, src, src_len, tgt)."""
    task = get_task(spec.task)
    out = []
    for i in range(0, len(spec.test_lengths), chunk):
        group = list(spec.test_lengths[i : i + chunk])
        pairs = [task.sample(spec.eval_batch, n, step_generator(TEST_SEED, n)) for n in group]
        s = max(x.shape[1] for x, _ in pairs)
        m = max(y.shape[1] for _, y in pairs)
        src = torch.cat([torch.nn.functional.pad(x, (0, s - x.shape[1])) for x, _ in pairs])
        tgt = torch.cat(
            [torch.nn.functional.pad(y, (0, m - y.shape[1]), value=-1) for _, y in pairs]
        )
        src_len = torch.tensor([x.shape[1] for x, _ in pairs]).repeat_interleave(spec.eval_batch)
        out.append((group, src, src_len, tgt))  # (B, S), (B,), (B, m) with -1 past the end
    return out


@torch.no_grad()
def evaluate(model: Any, spec: RunSpec) -> dict[int, float]:
    """Per-position accuracy at each test length (mean over strings and positions)."""
    model.eval()
    task = get_task(spec.task)
    acc: dict[int, float] = {}
    for group, src, src_len, tgt in test_batches(spec):
        out_len = torch.tensor([task.output_length(int(n)) for n in src_len])  # (B,)
        pred = model.predict(src, src_len, out_len)[:, : tgt.shape[1]]  # (B, m)
        real = tgt >= 0  # (B, m)
        per_string = ((pred == tgt) & real).sum(1) / real.sum(1)  # (B,)
        for k, n in enumerate(group):
            rows = per_string[k * spec.eval_batch : (k + 1) * spec.eval_batch]
            acc[n] = float(rows.mean())
    model.train()
    return acc


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Train one model on one task with one seed; test it on every test length."""
    task = get_task(spec.task)
    b = spec.budget
    seed_everything(spec.seed)
    model = make_model(spec.model, task, hidden=b.hidden, init=b.init)

    def batch_fn(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        gen = step_generator(spec.seed, step)
        n = int(torch.randint(1, TRAIN_MAX + 1, (1,), generator=gen))
        return task.sample(b.batch_size, n, gen)

    cfg = TrainConfig(
        steps=b.steps, batch_size=b.batch_size, lr=b.lr, seed=spec.seed, log_every=max(1, b.steps)
    )
    t0, c0 = time.perf_counter(), time.process_time()

    def loss_fn(m: TaskModel, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return m.loss(*batch)

    result = fit(model, cfg, batch_fn, loss_fn, progress=False)
    t1, c1 = time.perf_counter(), time.process_time()
    acc = evaluate(model, spec)
    t2, c2 = time.perf_counter(), time.process_time()
    return {
        "key": spec_key(spec),
        "task": spec.task,
        "model": spec.model,
        "seed": spec.seed,
        "budget": asdict(b),
        "parameters": sum(p.numel() for p in model.parameters()),
        "final_train_loss": result.history[-1]["loss"] if result.history else math.nan,
        "train_seconds": round(t1 - t0, 2),
        "eval_seconds": round(t2 - t1, 2),
        "train_cpu_seconds": round(c1 - c0, 2),  # CPU time: what the run costs on a free core
        "eval_cpu_seconds": round(c2 - c1, 2),
        "score": 100.0 * statistics.fmean(acc.values()),
        "accuracy": {str(n): round(a, 5) for n, a in sorted(acc.items())},
    }


def _init_worker() -> None:
    torch.set_num_threads(1)


def spec_key(spec: RunSpec) -> str:
    """What identifies a run in ``runs.jsonl`` (a finished run is not run again)."""
    lengths = [spec.test_lengths[0], spec.test_lengths[-1], len(spec.test_lengths)]
    budget = asdict(spec.budget)
    if spec.model not in TAPE_MODELS:
        del budget["init"]  # only RNN/GRU/LSTM use it: the seq2seq runs keep their keys
    fields = [spec.task, spec.model, spec.seed, budget, lengths, spec.eval_batch]
    return json.dumps(fields, sort_keys=True)


def run_all(
    specs: list[RunSpec],
    jobs: int,
    journal: Path | None = None,
    log: bool = True,
    group: distributed.Dist | None = None,
) -> list[dict[str, Any]]:
    """Every run, in ``jobs`` spawned one-thread processes (jobs=1: in this process).

    Each finished run is appended to ``journal`` (JSON lines); runs already there are
    taken from it, so an interrupted benchmark resumes where it stopped. With a ``group``
    (torchrun), each rank does its share of the runs; rank 0 returns them all (and
    journals them), the others ``[]``.
    """
    if group is not None:
        mine = _share(specs, group, journal)
        ran = run_all(mine[1], jobs, journal if group.main else None, log)
        gathered = distributed.gather(group, [{**r, "rank": group.rank} for r in ran])
        if gathered is None:
            return []
        theirs = [r for part in gathered[1:] for r in part]
        if journal is not None:
            with journal.open("a") as f:
                f.writelines(json.dumps(r) + "\n" for r in theirs)
        return [*mine[0], *gathered[0], *theirs]
    finished: dict[str, dict[str, Any]] = {}
    if journal is not None and journal.exists():
        for line in journal.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                finished[r["key"]] = r
    results = [finished[spec_key(s)] for s in specs if spec_key(s) in finished]
    todo = [s for s in specs if spec_key(s) not in finished]

    def done(r: dict[str, Any]) -> None:
        results.append(r)
        if journal is not None:
            with journal.open("a") as f:
                f.write(json.dumps(r) + "\n")
        if log:
            print(
                f"[{len(results)}/{len(specs)}] {r['task']:<18} {r['model']:<18} seed {r['seed']}"
                f"  {r['score']:5.1f}%  loss {r['final_train_loss']:.3f}"
                f"  train {r['train_seconds']:.0f}s ({r['train_cpu_seconds']:.0f}s cpu)"
                f"  eval {r['eval_seconds']:.0f}s ({r['eval_cpu_seconds']:.0f}s cpu)",
                file=sys.stderr,
                flush=True,
            )

    if jobs <= 1 or len(todo) <= 1:
        _init_worker()
        for spec in todo:
            done(run_one(spec))
        return results
    with mp.get_context("spawn").Pool(min(jobs, len(todo)), initializer=_init_worker) as pool:
        for r in pool.imap_unordered(run_one, todo):
            done(r)
    return results


def _share(
    specs: list[RunSpec], group: distributed.Dist, journal: Path | None
) -> tuple[list[dict[str, Any]], list[RunSpec]]:
    """Rank 0's finished runs (from its journal), and this rank's share of the rest."""
    finished: list[dict[str, Any]] = []
    if group.main and journal is not None and journal.exists():
        keys = {spec_key(s) for s in specs}
        for line in journal.read_text().splitlines():
            if line.strip() and json.loads(line)["key"] in keys:
                finished.append(json.loads(line))
    done = distributed.broadcast(group, sorted({r["key"] for r in finished}))
    todo = [s for s in specs if spec_key(s) not in done]
    return finished, todo[group.rank :: group.world]


def summarize(results: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """task -> model -> mean, max (and min, n) of the scores over seeds."""
    scores: dict[str, dict[str, list[float]]] = {}
    for r in results:
        scores.setdefault(r["task"], {}).setdefault(r["model"], []).append(r["score"])
    return {
        t: {
            m: {"mean": statistics.fmean(v), "max": max(v), "min": min(v), "n": len(v)}
            for m, v in per.items()
        }
        for t, per in scores.items()
    }


def table(
    summary: dict[str, dict[str, dict[str, float]]], tasks: list[str], models: list[str]
) -> str:
    """Markdown: one row per model, one column per task, 'mean / max (paper)'."""
    head = "| model | " + " | ".join(tasks) + " |"
    lines = [head, "|" + "---|" * (len(tasks) + 1)]
    for m in [*models, *PAPER_ONLY]:
        cells = []
        for t in tasks:
            ours = summary.get(t, {}).get(m)
            paper = PAPER.get(t, {}).get(m)
            text = f"{ours['mean']:.1f} / {ours['max']:.1f}" if ours else ""
            if paper is not None:
                text = f"{text} ({paper:.1f})".strip()
            cells.append(text or "–")
        if m in PAPER_ONLY and all(c == "–" for c in cells):
            continue
        lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(results: list[dict[str, Any]], tasks: list[str], models: list[str], path: Path) -> None:
    """Accuracy against test length: one panel per task, one line per model (seed mean)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(4, len(tasks))
    rows = -(-len(tasks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, t in zip(axes.flat, tasks, strict=False):
        for m in models:
            runs = [r["accuracy"] for r in results if r["task"] == t and r["model"] == m]
            if not runs:
                continue
            lengths = sorted(int(n) for n in runs[0])
            mean = [100 * statistics.fmean(a[str(n)] for a in runs) for n in lengths]
            ax.plot(lengths, mean, label=LABELS[m], linewidth=1)
        ax.set_title(t)
        ax.set_xlabel("test length")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(0, 102)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=min(4, len(names)), fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _names(values: list[str], known: tuple[str, ...] | list[str], what: str) -> list[str]:
    names = [n for v in values for n in v.split(",") if n]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"--{what}: unknown {', '.join(unknown)}; expected some of {', '.join(known)}"
        )
    return names


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rnnlab bench generalize", description=__doc__.split("\n")[0])
    p.add_argument("--tasks", nargs="+", default=list(TASKS), help="task names (default: all)")
    p.add_argument("--models", nargs="+", default=list(MODELS), help="model names (default: all)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per (task, model) (default 3)")
    p.add_argument("--quick", action="store_true", help="test on 41..100 instead of 41..500")
    p.add_argument("--jobs", type=int, default=1, help="processes, one thread each (default 1)")
    p.add_argument("--out", default="runs/generalize", help="output folder")
    p.add_argument("--steps", type=int, default=0, help="override every model's training steps")
    p.add_argument("--hidden", type=int, default=0, help="override every model's hidden size")
    p.add_argument("--max-test-length", type=int, default=0, help="override 500 (quick: 100)")
    p.add_argument("--eval-batch", type=int, default=32, help="test strings per length (32)")
    p.add_argument(
        "--dist-timeout",
        type=float,
        default=7 * 24 * 3600.0,
        help="under torchrun: seconds rank 0 waits for the others' runs (default a week)",
    )
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    tasks = _names(args.tasks, list(TASKS), "tasks")
    models = _names(args.models, MODELS, "models")
    if args.seeds < 1 or args.jobs < 1 or args.eval_batch < 1:
        raise ValueError("--seeds, --jobs and --eval-batch must be at least 1")
    top = args.max_test_length or (QUICK_TEST_MAX if args.quick else TEST_MAX)
    if top <= TRAIN_MAX:
        raise ValueError(
            f"--max-test-length must exceed the training lengths (1..{TRAIN_MAX}), got {top}"
        )
    lengths = tuple(range(TRAIN_MAX + 1, top + 1))
    specs = []
    for t in tasks:
        for m in models:
            b = budget_for(t, m)
            b = replace(b, steps=args.steps or b.steps, hidden=args.hidden or b.hidden)
            for seed in range(args.seeds):
                specs.append(RunSpec(t, m, seed, b, lengths, args.eval_batch))
    # the longest runs first, so the last process is not left alone with one of them
    specs.sort(
        key=lambda s: (
            -(s.budget.steps * s.budget.batch_size * (2 if s.model.startswith("s2s") else 1))
        )
    )
    out = Path(args.out)
    group = None
    if distributed.launched():
        group = distributed.init("cpu", "gloo", args.dist_timeout, threads=1)
    if group is None or group.main:
        out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        results = run_all(specs, args.jobs, journal=out / "runs.jsonl", group=group)
    finally:
        if group is not None:
            distributed.leave()
    if group is not None and not group.main:
        return 0
    wall = time.perf_counter() - t0
    results.sort(key=lambda r: (tasks.index(r["task"]), models.index(r["model"]), r["seed"]))
    summary = summarize(results)
    text = table(summary, tasks, models)
    note = (
        f"\nScore: per-position accuracy (%) averaged over test lengths "
        f"{lengths[0]}..{lengths[-1]} "
        f"after training on 1..{TRAIN_MAX}; ours as mean / max over {args.seeds} seed(s), the "
        f"paper's (max over seeds) in parentheses. {len(results)} runs, {args.jobs} job(s), "
        f"wall {wall:.0f} s.\n"
    )
    print(text + note)
    (out / "table.md").write_text(text + note)
    payload = {
        "protocol": {
            "train_lengths": [1, TRAIN_MAX],
            "test_lengths": [lengths[0], lengths[-1]],
            "eval_batch": args.eval_batch,
            "seeds": args.seeds,
            "jobs": args.jobs,
            "processes": group.world if group else 1,
            "torch_threads_per_job": 1,
        },
        "wall_seconds": round(wall, 1),
        "summary": summary,
        "paper": PAPER,
        "runs": results,
    }
    (out / "results.json").write_text(json.dumps(payload, indent=1))
    plot(results, tasks, models, out / "accuracy_by_length.png")
    print(f"wrote {out / 'table.md'}, {out / 'results.json'}, {out / 'accuracy_by_length.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
