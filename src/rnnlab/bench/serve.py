"""``rnnlab bench serve``: what the lab's server adds to a model's own work.

Starts ``rnnlab serve`` in its own process (one torch thread, loopback, the lab's
``parity-rnn`` and ``reverse-attention``, trained first if the lab folder lacks them),
then times requests one after another over one kept-alive connection: p50 and p99 of
each case. In the same run, this process loads the same run folders and times the
model's bare forward pass on the same input (``model(x)`` for parity; greedy decoding
for reversal). ``ratio`` = request p50 / forward p50: the server's overhead as a factor
(HTTP, JSON, parsing the input line, formatting the answer). The target: a 1,000-bit
parity ``predict`` at most 2x its forward pass.

    rnnlab bench serve                        the table in docs/serve.md
    rnnlab bench serve --quick                fewer requests (tests)
    rnnlab bench serve --json out.json        the figures as JSON too
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnnlab.lecture import lab as lecture_lab
from rnnlab.tasks import load_run

NEEDED = ("parity-rnn", "reverse-attention")


@dataclass(frozen=True)
class Case:
    name: str
    model: str  # lab network id
    endpoint: str  # predict | probe
    body: dict[str, Any]
    forward: Callable[[], Any]  # the bare model work on the same input


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds (nearest rank)."""
    s = sorted(seconds)
    rank = lambda q: s[min(len(s) - 1, max(0, round(q * len(s)) - 1))]  # noqa: E731
    return rank(0.5) * 1e3, rank(0.99) * 1e3


def time_calls(fn: Callable[[], Any], n: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def start_server(lab_dir: Path, threads: int) -> tuple[subprocess.Popen[str], str, int]:
    env = {**os.environ, "RNNLAB_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "rnnlab", "serve", "--lab", str(lab_dir), "--no-train"]
    cmd += ["--port", "0", "--threads", str(threads)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert proc.stdout is not None
    printed: list[str] = []
    while True:
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        line = proc.stdout.readline() if ready else ""
        if not line:
            proc.kill()
            raise RuntimeError(f"rnnlab serve did not start: {''.join(printed)}")
        printed.append(line)
        m = re.search(r"http://([\d.]+):(\d+)/", line)
        if m:
            return proc, m.group(1), int(m.group(2))


def cases(lab_dir: Path, quick: bool) -> list[Case]:
    parity = load_run(lab_dir / "parity-rnn", "cpu")
    reverse = load_run(lab_dir / "reverse-attention", "cpu")
    rng = random.Random(0)
    out = []
    for n in (10, 1000, 10_000):
        bits = [rng.randint(0, 1) for _ in range(n)]
        x = torch.tensor([bits], dtype=torch.float32)  # (1, T)
        line = " ".join(map(str, bits))

        def forward(x: torch.Tensor = x) -> Any:
            with torch.no_grad():
                return parity.model(x)

        out.append(Case(f"parity {n:,} bits", "parity-rnn", "predict", {"inputs": [line]}, forward))
        if n == 1000:
            probe = {"input": line}
            out.append(Case(f"parity {n:,} bits, probe", "parity-rnn", "probe", probe, forward))
    digits = [3, 1, 4, 1, 5, 9, 2, 6]
    src = torch.tensor([digits])  # (1, S)
    lengths = torch.tensor([len(digits)])  # (1,)

    def decode() -> Any:
        return reverse.model.greedy(src, lengths, max_len=2 * len(digits) + 5)

    line = " ".join(map(str, digits))
    out.append(Case("reverse 8 digits", "reverse-attention", "predict", {"inputs": [line]}, decode))
    body: dict[str, Any] = {"input": line, "options": {"beam": 3}}
    out.append(Case("reverse 8 digits, probe beam 3", "reverse-attention", "probe", body, decode))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rnnlab bench serve", description=__doc__.split("\n")[0])
    p.add_argument("--lab", default=str(lecture_lab.default_dir()), help="the lab's folder")
    p.add_argument("--quick", action="store_true", help="20 requests a case (tests)")
    p.add_argument("--requests", type=int, default=200, help="timed requests a case")
    p.add_argument("--threads", type=int, default=1, help="torch threads (server and here)")
    p.add_argument("--json", help="write the figures here too")
    args = p.parse_args(argv)
    n = 20 if args.quick else args.requests
    lab_dir = Path(args.lab)
    lecture_lab.ensure(lab_dir, NEEDED, quick=args.quick)
    torch.set_num_threads(args.threads)
    proc, host, port = start_server(lab_dir, args.threads)
    rows: list[dict[str, Any]] = []
    try:
        conn = http.client.HTTPConnection(host, port, timeout=120)
        for case in cases(lab_dir, args.quick):
            data = json.dumps(case.body).encode()
            path = f"/api/models/{case.model}/{case.endpoint}"

            def request(data: bytes = data, path: str = path) -> None:
                conn.request("POST", path, data, {"content-type": "application/json"})
                r = conn.getresponse()
                body = r.read()
                if r.status != 200:
                    raise RuntimeError(f"{path}: {r.status} {body[:200]!r}")

            reps = max(5, n // 10) if "10,000" in case.name else n
            served = percentiles(time_calls(request, reps))
            bare = percentiles(time_calls(case.forward, reps))
            rows.append(
                {
                    "case": case.name,
                    "endpoint": case.endpoint,
                    "requests": reps,
                    "request_p50_ms": round(served[0], 3),
                    "request_p99_ms": round(served[1], 3),
                    "forward_p50_ms": round(bare[0], 3),
                    "forward_p99_ms": round(bare[1], 3),
                    "ratio_p50": round(served[0] / bare[0], 2),
                }
            )
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    print(f"torch threads: {args.threads}; requests one at a time over one connection")
    print("| case | endpoint | n | request p50 / p99 (ms) | forward p50 / p99 (ms) | ratio p50 |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['case']} | {r['endpoint']} | {r['requests']} "
            f"| {r['request_p50_ms']:.2f} / {r['request_p99_ms']:.2f} "
            f"| {r['forward_p50_ms']:.2f} / {r['forward_p99_ms']:.2f} | {r['ratio_p50']:.2f}x |"
        )
    target = next(r for r in rows if r["case"] == "parity 1,000 bits")
    verdict = "met" if target["ratio_p50"] <= 2 else "NOT met"
    print(f"target (1,000-bit parity predict <= 2x its forward pass at p50): {verdict}")
    if args.json:
        Path(args.json).write_text(json.dumps({"threads": args.threads, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
