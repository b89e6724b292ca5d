"""``rnnlab serve``: the lab in the browser, offline (docs/serve.md).

``rnnlab serve [RUN_DIR ...] [--host 127.0.0.1] [--port 8000]`` serves the lecture's
networks (``rnnlab.lecture.lab``: loaded from ``runs/lecture/lab``, trained there on
the first start) and every run folder named, on one page and a JSON API
(``rnnlab.serve.app``).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from rnnlab.lecture import lab as lecture_lab
from rnnlab.serve.app import Lab, Limits, create_app
from rnnlab.serve.networks import Network
from rnnlab.tasks import load_run

LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]


def run_networks(run_dirs: Sequence[str | Path]) -> list[Network]:
    """The run folders named at start-up, loaded now (a bad folder stops the start)."""
    nets: list[Network] = []
    seen: set[str] = set()
    for raw in run_dirs:
        folder = Path(raw)
        run = load_run(folder, "cpu")
        name = run.task.name
        base = folder.resolve().name or name
        ident, i = base, 2
        while ident in seen or ident.startswith(("parity-", "reverse-")):
            ident, i = f"run-{base}-{i}", i + 1
        seen.add(ident)
        net = Network(ident, f"{name}: {folder.name}", "runs", name, folder)
        net.set_ready(run)
        nets.append(net)
    return nets


def lab_networks(
    lab_dir: Path, train: bool = True, quick: bool = False, seed: int = 0
) -> tuple[list[Network], threading.Thread | None]:
    """The lecture's networks: those in ``lab_dir`` loaded now, the others trained in a
    background thread (``train``), each served as soon as it is written."""
    nets = {
        name: Network(
            name, lecture_lab.TITLES[name], name.split("-")[0], _task_name(name), lab_dir / name
        )
        for name in lecture_lab.NAMES
    }

    def load(name: str) -> None:
        net = nets[name]
        try:
            if lecture_lab.is_task_run(lab_dir, name):
                net.set_ready(load_run(lab_dir / name, "cpu"))
            else:
                net.set_ready(lecture_lab.load_net(lab_dir, name))
        except (OSError, ValueError, KeyError) as exc:
            net.status, net.error = "failed", f"{lab_dir / name}: {exc}"

    missing = [n for n in lecture_lab.NAMES if not lecture_lab.is_built(lab_dir, n)]
    for name in lecture_lab.NAMES:
        if name not in missing:
            load(name)
        else:
            nets[name].status = "training" if train else "failed"
            nets[name].error = "" if train else f"not trained yet in {lab_dir}"
    thread = None
    if missing and train:

        def work() -> None:
            try:
                lecture_lab.ensure(lab_dir, missing, seed, on_built=load, quick=quick)
            except Exception as exc:  # shown on the page; the server stays up
                logging.getLogger("rnnlab.serve").exception("training the lab failed")
                for name in missing:
                    if nets[name].status == "training":
                        nets[name].status, nets[name].error = "failed", str(exc)

        thread = threading.Thread(target=work, name="rnnlab-lab-training", daemon=True)
    return list(nets.values()), thread


def _task_name(name: str) -> str:
    if name in ("parity-dense", "reverse-sync"):
        return "dense" if name == "parity-dense" else "sync"
    return name.split("-")[0]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rnnlab serve",
        description="The lab in the browser: step through and probe the networks.",
    )
    p.add_argument("run_dirs", nargs="*", metavar="RUN_DIR", help="run folders to serve too")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    p.add_argument("--port", type=int, default=8000, help="port (0: a free one)")
    p.add_argument("--lab", default=str(lecture_lab.default_dir()), help="the lab's folder")
    p.add_argument("--no-lab", action="store_true", help="serve only the run folders")
    p.add_argument(
        "--quick-lab", action="store_true", help="train missing lab networks briefly (tests)"
    )
    p.add_argument(
        "--no-train", action="store_true", help="serve the lab networks already trained only"
    )
    p.add_argument("--queue", type=int, default=Limits.queue, help="model requests queued")
    p.add_argument("--threads", type=int, default=Limits.threads, help="torch threads")
    p.add_argument(
        "--max-tokens", type=int, default=Limits.max_tokens, help="bits/tokens/words per input"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    args = make_parser().parse_args(argv)
    if args.queue < 1 or args.threads < 1 or args.max_tokens < 1:
        raise ValueError("--queue, --threads and --max-tokens must be at least 1")
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in 0..65535, got {args.port}")
    nets = run_networks(args.run_dirs)
    thread = None
    if not args.no_lab:
        lab = Path(args.lab)
        lab_nets, thread = lab_networks(lab, train=not args.no_train, quick=args.quick_lab)
        nets = lab_nets + nets
    if not nets:
        raise ValueError("nothing to serve: name run folders or leave out --no-lab")
    limits = Limits(queue=args.queue, threads=args.threads, max_tokens=args.max_tokens)
    served = Lab({n.id: n for n in nets}, limits)
    loopback = is_loopback(args.host)
    if not loopback:
        print(
            f"rnnlab serve: WARNING: listening on {args.host}, not loopback: anyone who can "
            "reach this machine can use the lab (it has no login)",
            file=sys.stderr,
        )
    app = create_app(served, LOOPBACK_NAMES if loopback else None)
    config = uvicorn.Config(
        app, host=args.host, port=args.port, log_level="warning", server_header=False
    )
    server = uvicorn.Server(config)
    if thread is not None:
        thread.start()

    async def serve() -> None:
        running = asyncio.create_task(server.serve())
        while not server.started and not running.done():
            await asyncio.sleep(0.05)
        for s in server.servers if server.started else []:
            for sock in s.sockets:
                host, port = sock.getsockname()[:2]
                shown = f"[{host}]" if ":" in host else host
                print(f"rnnlab serve: the lab is at http://{shown}:{port}/", flush=True)
        await running

    asyncio.run(serve())
    return 0


__all__ = ["Lab", "Limits", "create_app", "lab_networks", "main", "run_networks"]
