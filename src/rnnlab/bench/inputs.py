"""``rnnlab bench inputs``: peak memory and time of ``rnnlab predict`` against input length.

Trains two run folders in a temporary folder first (a few steps are enough: memory and
time do not depend on the weights): ``pos`` with its default model sizes on a generated
toy treebank, and ``parity``. Then, for each case, a fresh process runs
``rnnlab predict RUN --input-file F`` and reports its peak resident set as it exits
(``VmHWM`` of ``/proc/self/status``: torch's memory included, which ``tracemalloc`` cannot
see; ``getrusage``'s ``ru_maxrss`` would not do, as a child inherits its parent's across
``fork`` and ``exec``), and the parent its wall time. A case is N words (pos; 5,000
distinct forms) or N bits (parity) on one line, or the same N split into short lines.
Exit status 2 is a refusal with a ``ValueError`` naming the limit; its message is shown.

    rnnlab bench inputs                      the table in docs/reliability.md
    rnnlab bench inputs --quick              three small cases, for the tests
    rnnlab bench inputs --child-path DIR     children import rnnlab from DIR first (to
                                             measure another version on the same runs)
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnlab.tasks import get_task, train_task
from rnnlab.training.config import apply_overrides

# pos: words, tags
LEXICON = {
    "DET": ["the", "a", "this"],
    "ADJ": ["old", "green", "quiet"],
    "NOUN": ["dog", "boat", "idea", "river"],
    "VERB": ["sees", "likes", "builds"],
    "PUNCT": ["."],
}
ORDER = ("DET", "ADJ", "NOUN", "VERB", "DET", "NOUN", "PUNCT")


@dataclass(frozen=True)
class Case:
    task: str
    tokens: int  # words or bits in all
    per_line: int  # tokens per line (= tokens: one line)


def write_treebank(folder: Path, sentences: int = 64) -> None:
    """``toy-ud-{train,dev,test}.conllu``: DET (ADJ) NOUN VERB DET NOUN PUNCT sentences."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    for split in ("train", "dev", "test"):
        lines = []
        for k in range(sentences):
            lines.append(f"# sent_id = {split}-{k}")
            for i, tag in enumerate(ORDER, 1):
                word = rng.choice(LEXICON[tag])
                lines.append("\t".join([str(i), word, word, tag, "_", "_", "0", "_", "_", "_"]))
            lines.append("")
        (folder / f"toy-ud-{split}.conllu").write_text("\n".join(lines) + "\n")


def train_runs(root: Path) -> dict[str, Path]:
    """A pos run (default model sizes, 2 steps on the toy treebank) and a parity run."""
    write_treebank(root / "toy")
    runs = {"pos": root / "pos", "parity": root / "parity"}
    sets = {
        "pos": [f'data.dir="{root / "toy"}"', 'data.name="toy"'],
        "parity": [],
    }
    for name, run in runs.items():
        cfg = apply_overrides(
            get_task(name).config_type(), [*sets[name], "train.steps=2", "train.eval_every=2"]
        )
        train_task(name, cfg, run, torch.device("cpu"), progress=False)
    return runs


def input_lines(case: Case) -> list[str]:
    """The input file's lines: words ``w0 .. w4999`` (a period every 20th) or bits."""
    rng = random.Random(case.tokens)
    if case.task == "pos":
        toks = ["." if i % 20 == 19 else f"w{i % 5000}" for i in range(case.tokens)]
    else:
        toks = [str(rng.getrandbits(1)) for _ in range(case.tokens)]
    step = case.per_line
    return [" ".join(toks[i : i + step]) for i in range(0, len(toks), step)]


# the child: the CLI, then its own peak resident set (KiB) into $RNNLAB_BENCH_PEAK
CHILD = """
import os, resource, sys
from rnnlab.cli import main
try:
    rc = main(sys.argv[1:])
finally:
    try:
        with open("/proc/self/status") as fh:
            peak = next(line.split()[1] for line in fh if line.startswith("VmHWM"))
    except OSError:
        peak = str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    with open(os.environ["RNNLAB_BENCH_PEAK"], "w") as fh:
        fh.write(peak)
sys.exit(rc)
"""


def measure(run: Path, case: Case, folder: Path, threads: int, child_path: str) -> dict:
    """Run ``rnnlab predict`` on the case in a fresh process: exit status, peak RSS, time."""
    path = folder / f"{case.task}-{case.tokens}-{case.per_line}.txt"
    path.write_text("\n".join(input_lines(case)) + "\n")
    peak = folder / "peak"
    env = dict(os.environ, RNNLAB_THREADS=str(threads), RNNLAB_BENCH_PEAK=str(peak))
    if child_path:
        env["PYTHONPATH"] = os.pathsep.join([child_path, env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-c", CHILD, "predict", str(run), "--input-file", str(path)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    seconds = time.perf_counter() - t0
    message = done.stderr.decode(errors="replace").strip().splitlines()
    path.unlink()
    return {
        "rc": done.returncode,
        "peak_mb": int(peak.read_text()) / 1024,
        "seconds": seconds,
        "message": message[-1] if message else "",
    }


def cases(quick: bool) -> list[Case]:
    if quick:
        return [Case("pos", 10, 10), Case("pos", 3000, 3000), Case("parity", 1000, 1000)]
    pos = [10, 1000, 2000, 2001, 300_000]
    parity = [1000, 100_000, 1_000_000, 1_000_001]
    return [
        *(Case("pos", n, n) for n in pos),
        Case("pos", 300_000, 20),
        *(Case("parity", n, n) for n in parity),
        Case("parity", 1_000_000, 100),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rnnlab bench inputs", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="three small cases")
    p.add_argument("--threads", type=int, default=1, help="RNNLAB_THREADS of each child")
    p.add_argument("--child-path", default="", help="prepended to the children's PYTHONPATH")
    p.add_argument("--keep", help="train the runs into this folder and keep them")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        runs = train_runs(root)
        print("| task | input | exit | peak RSS (MB) | seconds | message |")
        print("|---|---|---|---|---|---|")
        for case in cases(args.quick):
            r = measure(runs[case.task], case, Path(tmp), args.threads, args.child_path)
            unit = "words" if case.task == "pos" else "bits"
            shape = (
                f"{case.tokens:,} {unit}, one line"
                if case.per_line == case.tokens
                else f"{case.tokens:,} {unit}, lines of {case.per_line}"
            )
            note = r["message"].replace("|", "/")[:110] if r["rc"] else ""
            print(
                f"| {case.task} | {shape} | {r['rc']} | {r['peak_mb']:,.0f} "
                f"| {r['seconds']:.1f} | {note} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
