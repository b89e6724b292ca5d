"""Caption benchmark: full runs on shapes and OpenMoji, with both baselines, as a table.

    rnnlab bench caption [--data shapes,openmoji] [--out runs/bench-caption] [--beam 3]
                         [--alphas 0,0.7] [--threads N] [--set key=value ...] [--quick]

For each data set it trains the default captioner (the settings below), then evaluates
on every split it reports (shapes: test and heldout, OpenMoji: dev and test) with greedy
decoding and with beam search (once per length normalization ``alpha``), beside the
nearest-training-image and most-frequent-caption baselines measured in the same run. It
prints a Markdown table and writes
``results.json`` to the output folder; each run folder keeps its ``samples-<split>.png``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from rnnlab.tasks import load_run, train_task
from rnnlab.tasks.caption import task as task
from rnnlab.training.config import apply_overrides

SETTINGS: dict[str, list[str]] = {
    "shapes": ["data.name=shapes", "train.steps=1000"],
    "openmoji": ["data.name=openmoji", "train.steps=1200"],
}
SPLITS = {"shapes": ["test", "heldout"], "openmoji": ["dev", "test"]}
QUICK = ["train.steps=200", "data.dev_size=200", "data.test_size=200", "data.pool_size=1000"]


def run_one(
    name: str, out: Path, sets: list[str], beam: int, alphas: list[float], device: torch.device
) -> list[dict[str, Any]]:
    cfg = apply_overrides(task.Config(), [*SETTINGS[name], *sets])
    t0 = time.perf_counter()
    dev = train_task("caption", cfg, out, device, progress=False)
    train_wall = time.perf_counter() - t0
    trained = load_run(out, device=device)
    rows = []
    for split in SPLITS[name]:
        settings = [(1, 0.0)] + [(beam, a) for a in alphas] * (beam > 1)
        for k, a in settings:
            m = task.evaluate_run(trained, split, figure=k == 1, beam=k, alpha=a)
            rows.append(
                {
                    "data": name,
                    "split": split,
                    "decode": "greedy" if k == 1 else f"beam {k}, alpha {a:g}",
                    **m,
                    "train_seconds": dev["train_seconds"],
                    "train_wall_seconds": round(train_wall, 1),
                    "threads": torch.get_num_threads(),
                    "run_dir": str(out),
                }
            )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| data | split | n | decoding | RNN exact | RNN BLEU-4 | nearest-image exact | "
        "nearest-image BLEU-4 | most-frequent exact | most-frequent BLEU-4 | train time |"
    )
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        extra = ""
        if "heldout_pair_recall" in r:
            extra = f" (held-out pairs named: {r['heldout_pair_recall']:.1%})"
        lines.append(
            f"| {r['data']} | {r['split']}{extra} | {int(r['n'])} | {r['decode']} | "
            f"{r['exact']:.1%} | {r['bleu']:.1f} | {r['nearest_exact']:.1%} | "
            f"{r['nearest_bleu']:.1f} | {r['frequent_exact']:.1%} | {r['frequent_bleu']:.1f} | "
            f"{r['train_seconds'] / 60:.1f} min, {r['threads']} thread(s) |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="rnnlab bench caption", description=__doc__.split("\n")[0])
    p.add_argument("--data", default="shapes,openmoji", help="comma-separated: shapes, openmoji")
    p.add_argument("--out", default="runs/bench-caption")
    p.add_argument("--beam", type=int, default=3, help="beam size reported beside greedy")
    p.add_argument("--alphas", default="0,0.7", help="length normalizations for the beam")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--quick", action="store_true", help="a few hundred steps, smaller splits")
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    from rnnlab.training.loop import resolve_device, set_threads

    set_threads(args.threads)
    names = [n.strip() for n in args.data.split(",") if n.strip()]
    for n in names:
        if n not in SETTINGS:
            raise ValueError(f"--data expects names among {', '.join(SETTINGS)}, got {n!r}")
    out = Path(args.out)
    rows: list[dict[str, Any]] = []
    for name in names:
        sets = (QUICK if args.quick else []) + list(args.set)
        alphas = [float(a) for a in args.alphas.split(",") if a.strip()]
        rows += run_one(name, out / name, sets, args.beam, alphas, resolve_device(args.device))
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(rows, indent=1))
    print(table(rows))
    return 0
