"""Toy data for every task type, tiny configs, and a training child the tests can kill.

``train_child(run, fault)`` forks (torch is imported once, not per child) and trains the
run folder whose ``config.toml`` the test wrote, on one thread, with torch's, NumPy's and
Python's generators scrambled as a fresh process's would be; with a ``fault`` the child
kills itself with SIGKILL:

    step:K          when the batch of step K is asked for (before step K runs)
    rename:N        just before the N-th file rename of the child (checkpoint.py's
                    ``_rename``: a temporary file or the journal moved into place)
    after:NAME:J    just after the J-th rename onto a file called NAME (e.g. after
                    model.safetensors, before its .sha256)

It returns the child's exit code: 0, or ``-SIGKILL`` when the fault struck.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import traceback
from pathlib import Path

import numpy as np
import torch

from rnnlab.bench.inputs import write_treebank as bench_treebank

# --- toy data ----------------------------------------------------------------------------


def write_treebank(folder: Path, sentences: int = 30) -> None:
    """``toy-ud-{train,dev,test}.conllu`` (the benchmark's toy treebank)."""
    bench_treebank(folder, sentences)


def write_mr(root: Path, n: int = 40) -> None:
    """``sentence-polarity/rt-polarity.{pos,neg}``: n snippets each, MR-tokenized."""
    d = root / "sentence-polarity"
    d.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1)
    good, bad = ["fine", "moving", "witty"], ["dull", "flat", "tedious"]
    for name, words in (("rt-polarity.pos", good), ("rt-polarity.neg", bad)):
        lines = [f"a {rng.choice(words)} , {rng.choice(words)} film ." for _ in range(n)]
        (d / name).write_text("\n".join(lines) + "\n")


def write_reviews(root: Path) -> None:
    """MR and ``movie-review-text/polarity-v2.0``: one train and one dev review."""
    write_mr(root, 10)
    rng = random.Random(2)
    for split, tag in (("pos", "cv500"), ("neg", "cv010")):  # cv010: a dev review
        d = root / "movie-review-text" / "polarity-v2.0" / split
        d.mkdir(parents=True, exist_ok=True)
        lines = [
            f"the {rng.choice(['man', 'dog'])} is {rng.choice(['fine', 'dull'])} ."
            for _ in range(60)
        ]
        (d / f"{tag}_1.txt").write_text("\n".join(lines) + "\n")


def tiny_config(task: str, data: Path) -> tuple[object, list[str]]:
    """The task's config type and ``--set`` overrides of a run of a second or so."""
    common = ["train.log_every=5", "train.warmup=0"]
    sets = {
        "parity": ["train.steps=40", "train.eval_every=10", "data.dev_size=50"],
        "pos": [
            f"data.dir={json.dumps(str(data / 'toy'))}",
            'data.name="toy"',
            "model.word_dim=8",
            "model.char_dim=4",
            "model.char_hidden=4",
            "model.hidden=8",
            "model.layers=1",
            "train.steps=30",
            "train.batch_size=8",
            "train.eval_every=10",
        ],
        "sentiment": [
            f"data.dir={json.dumps(str(data))}",
            "model.embed=8",
            "model.hidden=8",
            "train.steps=30",
            "train.batch_size=8",
            "train.eval_every=10",
        ],
        "lm": [
            f"data.dir={json.dumps(str(data))}",
            "data.bptt=6",
            "model.embed=8",
            "model.hidden=8",
            "model.cutoffs=[]",
            "train.steps=30",
            "train.batch_size=4",
            "train.eval_every=10",
        ],
        "caption": [
            "data.image_size=16",
            "data.dev_size=8",
            "data.pool_size=16",
            "data.test_size=8",
            "model.channels=[4, 8]",
            "model.hidden=8",
            "model.embed=6",
            "model.attn_dim=5",
            "train.steps=20",
            "train.batch_size=4",
            "train.eval_every=10",
        ],
    }[task]
    return task, [*sets, *common]


def write_data(task: str, root: Path) -> None:
    if task == "pos":
        write_treebank(root / "toy")
    elif task == "sentiment":
        write_mr(root)
    elif task == "lm":
        write_reviews(root)


# --- the child ---------------------------------------------------------------------------


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def install_fault(task_name: str, fault: str) -> None:
    """Arm ``fault`` (see the module docstring) in this process."""
    from rnnlab.tasks import get_task
    from rnnlab.training import checkpoint as ckpt

    counts = {"renames": 0}
    kind, _, arg = fault.partition(":")
    real = ckpt._rename
    seen: dict[str, int] = {}

    def rename(src: Path, dst: Path) -> None:
        counts["renames"] += 1
        if kind == "rename" and counts["renames"] == int(arg):
            _die()
        real(src, dst)
        if kind == "after":
            name, _, nth = arg.rpartition(":")
            seen[dst.name] = seen.get(dst.name, 0) + 1
            if dst.name == name and seen[dst.name] == int(nth):
                _die()

    ckpt._rename = rename  # type: ignore[assignment]
    if kind == "step":
        cls = type(get_task(task_name))
        original = cls.train_batches

        def train_batches(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            batch_fn = original(self, *args, **kwargs)

            def at(step: int):  # type: ignore[no-untyped-def]
                if step == int(arg):
                    _die()
                return batch_fn(step)

            return at

        cls.train_batches = train_batches  # type: ignore[method-assign]


def train_child(run: Path, fault: str = "") -> int:
    """Train ``run`` in a forked child armed with ``fault``; its exit code."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            from rnnlab.tasks import read_run_config, train_task

            torch.set_num_threads(1)
            torch.manual_seed(os.getpid())  # a fresh process's generators differ
            random.seed(os.getpid())
            np.random.seed(os.getpid() % (1 << 31))
            name, cfg = read_run_config(run)
            install_fault(name, fault or "none:")
            train_task(name, cfg, run, torch.device("cpu"), progress=False)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
