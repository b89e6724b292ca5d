"""MR sentiment: 10-fold cross-validation from scratch and from a pretrained LM.

    rnnlab bench sentiment                         # from scratch, 10 folds
    rnnlab bench sentiment --pretrained runs/lm    # from scratch and fine-tuned from the LM
    rnnlab bench sentiment --pretrained runs/lm --only pretrained --folds 3
    rnnlab bench sentiment --quick                 # one seeded 90/10 split, 200 steps
    rnnlab bench sentiment --ensemble 3            # 3 seeds a fold, probabilities averaged

Each fold trains a fresh classifier (the best step on a 10% dev slice of the training
folds is kept) and is scored once on its test fold. Results go one JSON line per fold to
``--log`` (default ``runs/bench-sentiment.jsonl``); folds already there are not rerun, so
an interrupted benchmark resumes. Prints mean ± standard deviation (over folds) of test
accuracy and the training time per fold. With ``--ensemble N`` each fold trains N
classifiers (``train.seed`` + 0..N-1, same data and dev slice) and scores the average of
their probabilities; the log keeps each member's own accuracy too, so the single-model
figure comes from the same runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from rnnlab.tasks.sentiment import task as task
from rnnlab.training.config import apply_overrides, replace
from rnnlab.training.loop import set_threads

PUBLISHED = {"Kim 2014 CNN-rand": 76.1, "NBSVM-bi (Wang & Manning 2012)": 79.4}


def run_fold(cfg: task.Config, fold: int, ensemble: int = 1) -> dict[str, Any]:
    """Test accuracy of one fold: one classifier, or the mean probability of ``ensemble``
    classifiers that differ only in ``train.seed``."""
    cfg = replace(cfg, data=replace(cfg.data, fold=fold))
    cpu = torch.device("cpu")
    if ensemble == 1:
        with tempfile.TemporaryDirectory() as tmp:  # checkpoints keep the best dev step
            return task.train_model(cfg, cpu, Path(tmp), progress=False)[3]
    m = task.train_ensemble(replace(cfg, ensemble=ensemble), cpu, progress=False)
    return {
        "test_acc": m["test_acc"],
        "member_test_acc": [m[f"member{i}_test_acc"] for i in range(ensemble)],
        "dev_acc": statistics.mean(m[f"member{i}_dev_acc"] for i in range(ensemble)),
        "seconds": m["seconds"],
    }


def summary(rows: list[dict[str, float]]) -> str:
    accs = [100 * r["test_acc"] for r in rows]
    sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
    secs = statistics.mean(r["seconds"] for r in rows)
    return f"{statistics.mean(accs):.1f} ± {sd:.1f}  ({len(rows)} folds, {secs:.0f} s/fold)"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="rnnlab bench sentiment", description=__doc__.split("\n")[0])
    p.add_argument("--folds", type=int, default=10, help="run folds START..N-1 of the 10")
    p.add_argument("--start", type=int, default=0, help="first fold to run (default 0)")
    p.add_argument("--quick", action="store_true", help="one 90/10 split, 200 steps")
    p.add_argument(
        "--ensemble", type=int, help="classifiers (seeds) per fold (default: the config's, 1)"
    )
    p.add_argument("--pretrained", default="", help="an LM run folder (rnnlab train lm)")
    p.add_argument("--only", choices=("scratch", "pretrained"), help="run one variant")
    p.add_argument("--data-dir", default="")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--log", default="runs/bench-sentiment.jsonl")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args(argv)
    set_threads(args.threads)
    if args.only == "pretrained" and not args.pretrained:
        raise ValueError("--only pretrained needs --pretrained LM_RUN_DIR")
    base = apply_overrides(task.Config(), [f"data.dir={json.dumps(args.data_dir)}", *args.set])
    args.ensemble = base.ensemble if args.ensemble is None else args.ensemble  # --set ensemble=N
    if args.ensemble < 1:
        raise ValueError(f"--ensemble expects at least 1 classifier, got {args.ensemble}")
    base = replace(base, ensemble=1)  # the log key and each member: one classifier's config
    variants = {"scratch": base}
    if args.pretrained:
        variants["pretrained"] = replace(base, pretrained=args.pretrained)
    if args.only:
        variants = {args.only: variants[args.only]}
    log = Path(args.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    done = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
    fold_ids = [-1] if args.quick else list(range(args.start, min(args.folds, base.data.folds)))
    for name, cfg in variants.items():
        if args.quick:
            cfg = replace(cfg, train=replace(cfg.train, steps=200))
        key: dict[str, Any] = {"variant": name, "config": json.dumps(str(cfg))}
        if args.ensemble > 1:
            key["ensemble"] = args.ensemble
        rows = []
        for fold in fold_ids:
            old = [r for r in done if {k: r.get(k) for k in key} == key and r["fold"] == fold]
            if old:
                rows.append(old[-1])
                continue
            t0 = time.perf_counter()
            metrics = run_fold(cfg, fold, args.ensemble)
            row = {**key, "fold": fold, **metrics, "wall": time.perf_counter() - t0}
            with log.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            rows.append(row)
            print(f"{name} fold {fold}: test acc {100 * metrics['test_acc']:.1f}", flush=True)
        print(f"{name:>10s}: {summary(rows)}", flush=True)
        if args.ensemble > 1:
            singles = [
                {"test_acc": a, "seconds": r["seconds"] / args.ensemble}
                for r in rows
                for a in r["member_test_acc"]
            ]
            print(f"{'members':>10s}: {summary(singles)} (each classifier alone)", flush=True)
    for ref, acc in PUBLISHED.items():
        print(f"{'published':>10s}: {ref} {acc}")
    return 0
