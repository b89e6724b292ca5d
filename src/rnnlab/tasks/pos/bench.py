"""``rnnlab bench pos``: the full-size tagger on UD English EWT, trained and measured.

Trains ``rnnlab.tasks.pos.task`` with its default config (or ``--set`` overrides) into
``--out``, then reports UPOS accuracy on dev and test (gold tokenization), accuracy on
words outside the training vocabulary, training time (dev evaluations excluded) and
training tokens per second, with the torch thread count they were measured at. Writes
``bench.json``, ``learning-curve.png`` and the confusion matrices ``confusion-dev.png``,
``confusion-test.png`` into the run folder, and prints a markdown table beside the
published figures (EWT test, gold tokens, no pretrained embeddings).

``--from RUN_DIR`` measures a run folder trained earlier (by ``rnnlab train pos``), without
training again. The test split is scored once, here, for the final figure: choose
settings on dev only.

    rnnlab bench pos --threads 1 --out runs/pos-bench
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

PUBLISHED = [
    ("BiLSTM word+char (bilty, Plank et al. 2016)", 94.60),
    ("UDPipe 1.2 (Straka & Straková 2017)", 94.4),
]


def learning_curve(run_dir: Path, path: Path) -> None:
    """Dev accuracy against training time, from ``metrics.jsonl``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x]
    evals = [r for r in records if "dev_acc" in r]
    losses = [r for r in records if "loss" in r]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(
        [r["step"] for r in evals], [100 * r["dev_acc"] for r in evals], "o-", label="dev accuracy"
    )
    ax.set_xlabel("step")
    ax.set_ylabel("dev UPOS accuracy (%)")
    ax2 = ax.twinx()
    ax2.plot([r["step"] for r in losses], [r["loss"] for r in losses], color="gray", alpha=0.6)
    ax2.set_ylabel("training loss", color="gray")
    if evals:
        last = evals[-1]
        ax.set_title(
            f"pos on EWT: {last['seconds'] / 60:.1f} min to step {last['step']}", fontsize=9
        )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str]) -> int:
    from rnnlab.tasks import load_run, read_run_config, train_task
    from rnnlab.tasks.pos.task import Config
    from rnnlab.training.config import config_from, to_dict
    from rnnlab.training.loop import resolve_device, set_threads

    p = argparse.ArgumentParser(prog="rnnlab bench pos", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="runs/pos-bench", help="run folder to train into")
    p.add_argument("--from", dest="from_run", help="measure this trained run folder instead")
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    p.add_argument("--config", default="", help="a TOML file or preset name (as for train)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--data-dir", default="", help="data root (sets data.dir)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    set_threads(args.threads)
    device = resolve_device(args.device)

    if args.from_run:
        run_dir = Path(args.from_run)
        _, cfg = read_run_config(run_dir)
        train_metrics: dict[str, Any] = json.loads((run_dir / "dev_metrics.json").read_text())
    else:
        run_dir = Path(args.out)
        sets = ([f"data.dir={json.dumps(args.data_dir)}"] if args.data_dir else []) + args.set
        cfg = config_from(Config, "pos", args.config, sets)
        train_metrics = train_task("pos", cfg, run_dir, device, progress=not args.quiet)

    trained = load_run(run_dir, device=device)
    t0 = time.perf_counter()
    dev = trained.evaluate("dev")
    test = trained.evaluate("test")
    eval_seconds = time.perf_counter() - t0
    learning_curve(run_dir, run_dir / "learning-curve.png")
    params = sum(p.numel() for p in trained.model.parameters())
    result = {
        "dev_acc": dev["acc"],
        "dev_oov_acc": dev["oov_acc"],
        "test_acc": test["acc"],
        "test_oov_acc": test["oov_acc"],
        "test_tokens": test["tokens"],
        "test_oov_tokens": test["oov_tokens"],
        "train_seconds": train_metrics["train_seconds"],
        "seconds_with_dev_evals": train_metrics["seconds"],
        "train_tokens": train_metrics["train_tokens"],
        "tokens_per_s": train_metrics["tokens_per_s"],
        "threads": train_metrics["threads"],
        "steps": train_metrics["steps"],
        "best_step": train_metrics["best_step"],
        "eval_seconds_dev_and_test": eval_seconds,
        "parameters": params,
        "config": to_dict(cfg),
    }
    (run_dir / "bench.json").write_text(json.dumps(result, indent=1))

    print("| system | EWT test UPOS | dev | OOV test | training time | tokens/s |")
    print("|---|---|---|---|---|---|")
    for name, acc in PUBLISHED:
        print(f"| {name} | {acc:.2f} | | | | |")
    minutes = result["train_seconds"] / 60
    print(
        f"| rnnlab pos (this run) | {100 * test['acc']:.2f} | {100 * dev['acc']:.2f} | "
        f"{100 * test['oov_acc']:.2f} | {minutes:.1f} min ({int(result['threads'])} thread) | "
        f"{result['tokens_per_s']:.0f} |"
    )
    print(f"run folder: {run_dir} (bench.json, learning-curve.png, confusion-*.png)")
    return 0
