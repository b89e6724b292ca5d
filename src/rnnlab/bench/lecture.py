"""``rnnlab bench lecture``: how long every lecture experiment takes, and the whole.

Runs the lecture (all experiments, or ``--only`` some) as ``rnnlab lecture`` does, side by
side in ``--jobs`` processes, and reports for each experiment its wall-clock seconds and
the CPU seconds of its process, with the backend, the mode and the verdicts. ``--out
F.json`` keeps them, so that the next change can be compared in one run:

    rnnlab bench lecture --quick --out before.json
    ... change something ...
    rnnlab bench lecture --quick --out after.json

Wall-clock time depends on what else the machine is doing; CPU seconds much less so,
which makes them the better figure for comparing two runs on a busy machine.

``--profile F.txt`` runs everything in this process instead (``--jobs 1``) under cProfile
and writes the top entries, by own time and by cumulative time, to F.txt.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from rnnlab import lecture
from rnnlab.lecture.common import Context, Experiment


def measure(args: argparse.Namespace, fig_dir: Path) -> dict[str, Any]:
    """Run the chosen experiments; the timings and verdicts, as ``--out`` writes them."""
    chosen = lecture.choose(args.only)
    jobs = args.jobs or lecture.default_jobs()
    ctx = Context(
        quick=args.quick, seed=args.seed, fig_dir=fig_dir, progress=False, backend=args.backend
    )
    profile = cProfile.Profile() if args.profile else None
    if profile is not None:
        jobs = 1
        profile.enable()
    t0 = time.perf_counter()
    results = lecture.run_all(chosen, ctx, jobs, args.threads, _progress)
    seconds = time.perf_counter() - t0
    if profile is not None:
        profile.disable()
        _write_profile(profile, args.profile)
    return {
        "backend": args.backend,
        "backend_by_cell": {cell: ctx.backend_for(cell) for cell in ("rnn", "lstm")},
        "quick": args.quick,
        "seed": args.seed,
        "jobs": jobs,
        "threads": args.threads or (1 if jobs > 1 else torch.get_num_threads()),
        "cpus": lecture.default_jobs(),
        "torch": torch.__version__,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(sum(r.cpu_seconds for r in results), 3),  # of the experiments
        "passed": all(c.passed for r in results for c in r.claims),
        "experiments": [
            {
                "id": r.id,
                "seconds": round(r.seconds, 3),
                "cpu_seconds": round(r.cpu_seconds, 3),
                "claims": len(r.claims),
                "passed": all(c.passed for c in r.claims),
            }
            for r in results
        ],
    }


def _write_profile(profile: cProfile.Profile, path: Path, top: int = 30) -> None:
    out = io.StringIO()
    for order in ("tottime", "cumulative"):
        pstats.Stats(profile, stream=out).sort_stats(order).print_stats(top)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out.getvalue())


def _progress(res: Experiment) -> None:
    print(f"  {res.id}: {res.seconds:.1f} s", file=sys.stderr, flush=True)


def table(data: dict[str, Any]) -> str:
    lines = ["| experiment | seconds | CPU seconds | verdict |", "|---|--:|--:|---|"]
    for e in data["experiments"]:
        verdict = "pass" if e["passed"] else "FAIL"
        lines.append(f"| {e['id']} | {e['seconds']:.1f} | {e['cpu_seconds']:.1f} | {verdict} |")
    verdict = "pass" if data["passed"] else "FAIL"
    lines.append(
        f"| **whole lecture** | **{data['seconds']:.1f}** | {data['cpu_seconds']:.1f} | {verdict} |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rnnlab bench lecture", description=__doc__.splitlines()[0])
    lecture.add_run_arguments(p)
    p.add_argument("--out", type=Path, help="write the timings here as JSON")
    p.add_argument("--profile", type=Path, help="run in one process under cProfile; top here")
    args = p.parse_args(argv)
    lecture.check_run_arguments(args)
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-lecture-") as tmp:
        data = measure(args, Path(tmp))
    mode = "quick" if args.quick else "full"
    print(
        f"rnnlab lecture ({mode}, {data['backend']} backend), {data['jobs']} process(es) x "
        f"{data['threads']} thread(s) on {data['cpus']} cores, torch {data['torch']}\n"
    )
    print(table(data))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(data, indent=1))
    return 0 if data["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
