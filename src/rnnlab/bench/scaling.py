"""Data-parallel scaling: the same training in one process and in N processes.

``rnnlab bench scaling --task pos [--procs 1,2] [--steps 400] [--target 0.85]
[--config quick] [--set k=v ...] [--out DIR]`` trains the task's run (``--config``,
``--set``) once as a plain single process, then with ``rnnlab train --nproc N`` for each
N of ``--procs`` (DistributedDataParallel over gloo, one torch thread per process), every
run with the same global batch and seed. Per run: training tokens per second (the
task's ``tokens_per_s``, dev evaluations left out), seconds per step, and the time until
dev accuracy first reached ``--target`` (wall clock since training began, evaluations
included; evaluation runs on rank 0 alone, the others wait). Beside them the
communication model: the gradient bytes DDP all-reduces per step (every parameter,
float32: embeddings too, dense) against the compute of a step.

Written to ``--out``: ``scaling.json`` and ``scaling.md`` (the table); each run's folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TASKS = ("pos",)  # tasks whose train reports tokens_per_s


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rnnlab bench scaling", description=__doc__.split("\n")[0])
    p.add_argument("--task", default="pos", choices=TASKS)
    p.add_argument("--procs", default="1,2", help="process counts to run under DDP (1,2)")
    p.add_argument("--steps", type=int, default=400, help="training steps of every run (400)")
    p.add_argument("--eval-every", type=int, default=100, help="dev evaluations (every 100)")
    p.add_argument("--target", type=float, default=0.85, help="the dev accuracy to time (0.85)")
    p.add_argument("--config", default="quick", help="a preset or TOML file (quick)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--data-dir", default="", help="where the data lies")
    p.add_argument("--out", default="runs/scaling", help="output folder")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per run (3600)")
    return p.parse_args(argv)


def _train(cmd: list[str], out: Path, timeout: float) -> dict[str, Any]:
    env = {**os.environ, "RNNLAB_THREADS": "1"}  # one thread per process: N procs, N cores
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise ValueError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    metrics = json.loads((out / "dev_metrics.json").read_text())
    history = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x]
    return {"wall_seconds": wall, "metrics": metrics, "history": history}


def _time_to(history: list[dict[str, float]], target: float) -> tuple[float, float]:
    """Seconds and step when dev accuracy first reached ``target`` (nan: never)."""
    for rec in history:
        if rec.get("dev_acc", -1.0) >= target:
            return rec["seconds"], rec["step"]
    return float("nan"), float("nan")


def _model_figures(task_name: str, cfg: Any) -> dict[str, float]:
    from rnnlab.tasks import get_task

    task = get_task(task_name)
    model = task.build_model(cfg, task.prepare(cfg, None))
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"parameters": float(params), "gradient_bytes": 4.0 * params}


def main(argv: list[str]) -> int:
    from rnnlab.cli import build_config, make_parser

    args = parse(argv)
    procs = [int(n) for n in args.procs.split(",") if n]
    if not procs or min(procs) < 1:
        raise ValueError(f"--procs expects process counts like 1,2, got {args.procs!r}")
    sets = [*args.set, f"train.steps={args.steps}", f"train.eval_every={args.eval_every}"]
    base = ["train", args.task, "--config", args.config, "--quiet"]
    base += [x for s in sets for x in ("--set", s)]
    if args.data_dir:
        base += ["--data-dir", args.data_dir]
    cfg = build_config(args.task, make_parser().parse_args(base))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figures = _model_figures(args.task, cfg)
    rnnlab = [sys.executable, "-m", "rnnlab"]
    runs: list[dict[str, Any]] = []
    plan: list[tuple[str, str, int, list[str]]] = [("single process", "single", 1, [])]
    plan += [(f"DDP x{n}", f"ddp{n}", n, ["--nproc", str(n)]) for n in procs]
    for label, folder, n, extra in plan:
        run_dir = out / folder
        if run_dir.exists():
            raise ValueError(f"{run_dir} exists: give a fresh --out")
        print(f"{label} ...", file=sys.stderr, flush=True)
        r = _train([*rnnlab, *base, *extra, "--out", str(run_dir)], run_dir, args.timeout)
        m = r["metrics"]
        seconds, step = _time_to(r["history"], args.target)
        runs.append(
            {
                "run": label,
                "processes": n,
                "tokens_per_s": m["tokens_per_s"],
                "train_seconds": m["train_seconds"],
                "seconds_per_step": m["train_seconds"] / m["steps"],
                "tokens_per_step": m["train_tokens"] / m["steps"],
                "dev_acc": m["acc"],
                "seconds_to_target": seconds,
                "step_at_target": step,
                "wall_seconds": r["wall_seconds"],
            }
        )
    single = runs[0]
    for r in runs:
        r["speedup"] = r["tokens_per_s"] / single["tokens_per_s"]
    payload = {
        "task": args.task,
        "config": args.config,
        "sets": sets,
        "target": args.target,
        "cores": os.cpu_count(),
        "threads_per_process": 1,
        **figures,
        "runs": runs,
    }
    (out / "scaling.json").write_text(json.dumps(payload, indent=1))
    lines = [
        f"| run | tokens/s | speed-up | s/step | dev acc | s to {args.target:.2f} |",
        "|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['run']} | {r['tokens_per_s']:,.0f} | {r['speedup']:.2f} | "
            f"{r['seconds_per_step']:.3f} | {r['dev_acc']:.4f} | {r['seconds_to_target']:.0f} |"
        )
    note = (
        f"\n{args.task}, --config {args.config}, {args.steps} steps, "
        f"{figures['parameters']:,.0f} parameters: {figures['gradient_bytes'] / 1e6:.1f} MB "
        f"of float32 gradients all-reduced per step; "
        f"{single['tokens_per_step']:.0f} tokens and {single['seconds_per_step']:.3f} s of "
        f"one-thread compute per step (single process).\n"
    )
    text = "\n".join(lines) + "\n" + note
    (out / "scaling.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
