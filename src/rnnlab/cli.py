"""The ``rnnlab`` command: a thin layer over the library.

rnnlab lecture [--quick] [--out DIR] [--seed N]
rnnlab train TASK [--config F] [--set k=v ...] [--out RUN_DIR] [--data-dir D]
             [--nproc N [--nnodes M --rdzv-endpoint HOST:PORT]] [--backend B]
             (data-parallel; also under torchrun: docs/distributed.md)
rnnlab eval RUN_DIR [--split S] [--json]
rnnlab predict RUN_DIR [INPUT ... | --input-file F] [--beam K] [--generate TEXT]
               [--pretokenized]
rnnlab bench NAME [ARGS ...]
rnnlab config TASK            (print the default config as TOML)
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

BENCHES: dict[str, str] = {
    "layers": "rnnlab.bench.layers",
    "lecture": "rnnlab.bench.lecture",
    "generalize": "rnnlab.tasks.chomsky.bench",
    "pos": "rnnlab.tasks.pos.bench",
    "sentiment": "rnnlab.tasks.sentiment.bench",
    "caption": "rnnlab.tasks.caption.bench",
    "scaling": "rnnlab.bench.scaling",
    "inputs": "rnnlab.bench.inputs",
    "serve": "rnnlab.bench.serve",
}


def build_config(task: str, args: argparse.Namespace) -> Any:
    from rnnlab.tasks import get_task
    from rnnlab.training.config import config_from

    sets = list(args.set or [])
    if args.data_dir:
        sets.insert(0, f"data.dir={json.dumps(str(args.data_dir))}")
    if args.data:
        sets.insert(0, f"data.name={json.dumps(args.data)}")
    if args.pretrained:
        sets.insert(0, f"pretrained={json.dumps(str(args.pretrained))}")
    return config_from(get_task(task).config_type, task, args.config or "", sets)


LAUNCH_OPTIONS = ("--nproc", "--nnodes", "--rdzv-endpoint", "--rdzv-id", "--rdzv-timeout")


def _child_argv(argv: list[str], out: Path) -> list[str]:
    """The ``train`` arguments without the launch options, with ``--out`` fixed."""
    child, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in LAUNCH_OPTIONS:
            skip = True
        elif not a.startswith(tuple(f"{o}=" for o in LAUNCH_OPTIONS)):
            child.append(a)
    if make_parser().parse_args(child).nproc:
        raise ValueError(f"cannot take the launch options out of {' '.join(argv)}")
    return [*child, "--out", str(out)]


def cmd_train(args: argparse.Namespace) -> int:
    from rnnlab.tasks import get_task, train_task
    from rnnlab.training import distributed
    from rnnlab.training.loop import resolve_device

    cfg = build_config(args.task, args)
    out = (
        Path(args.out)
        if args.out
        else Path("runs") / f"{args.task}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    if args.nproc or distributed.launched():  # data-parallel: refuse a bad set-up first
        task = get_task(args.task)
        world = args.nproc * args.nnodes if args.nproc else distributed.env_world()
        distributed.check_batch(task.train_config(cfg).batch_size, world)
        task.check_distributed(cfg)
        last = max(0, args.nproc - 1) if args.nproc else 0
        distributed.pick_backend(args.backend, distributed.rank_device(args.device, last))
    if args.nproc:
        return distributed.launch(
            args.nproc,
            _child_argv(args.argv, out),
            nnodes=args.nnodes,
            endpoint=args.rdzv_endpoint,
            run_id=args.rdzv_id,
            join_timeout=args.rdzv_timeout,
        )
    if distributed.launched():
        threads = int(os.environ.get("RNNLAB_THREADS") or 0)
        d = distributed.init(args.device, args.backend, args.dist_timeout, threads)
        with distributed.session(d):
            metrics = train_task(args.task, cfg, out, d.device, progress=d.main and not args.quiet)
        if not d.main:
            return 0
    else:
        device = resolve_device(args.device)
        metrics = train_task(args.task, cfg, out, device, progress=not args.quiet)
    print(json.dumps({"run_dir": str(out), **metrics}, indent=1))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rnnlab.tasks import load_run

    trained = load_run(args.run_dir, device=args.device)
    metrics = trained.evaluate(args.split)
    if args.json:
        print(json.dumps({"split": args.split, **metrics}))
    else:
        for k, v in metrics.items():
            print(f"{k:>24s}  {v:.4f}" if isinstance(v, float) else f"{k:>24s}  {v}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from rnnlab.tasks import load_run

    trained = load_run(args.run_dir, device=args.device)
    options: dict[str, Any] = {}
    if args.beam is not None:
        options["beam"] = args.beam
    if args.pretokenized:
        options["pretokenized"] = True
    if args.generate is not None:
        options["generate"] = True
        inputs = [args.generate, *args.inputs]
    elif args.input_file:
        path = Path(args.input_file)
        if not path.is_file():
            raise FileNotFoundError(f"--input-file {path}: no such file")
        try:
            inputs = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: expected UTF-8 text: {exc}") from exc
    else:
        inputs = list(args.inputs)
    if not inputs:
        raise ValueError("predict needs at least one input (arguments or --input-file)")
    for line in trained.predict(inputs, **options):
        print(line)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.name not in BENCHES:
        raise ValueError(f"unknown benchmark {args.name!r}; known: {', '.join(sorted(BENCHES))}")
    try:
        module = importlib.import_module(BENCHES[args.name])
    except ModuleNotFoundError as exc:
        if exc.name == BENCHES[args.name]:
            raise ValueError(f"benchmark {args.name!r} is not available in this version") from exc
        raise
    rc: int = module.main(list(args.rest))
    return rc


def cmd_lecture(args: argparse.Namespace) -> int:
    lecture = importlib.import_module("rnnlab.lecture")
    rc: int = lecture.main(list(args.rest))
    return rc


def cmd_serve(args: argparse.Namespace) -> int:
    serve = importlib.import_module("rnnlab.serve")
    rc: int = serve.main(list(args.rest))
    return rc


def cmd_config(args: argparse.Namespace) -> int:
    from rnnlab.training.config import annotated_toml

    cfg = build_config(args.task, args)
    print(annotated_toml(cfg, task=args.task), end="")
    return 0


def make_parser() -> argparse.ArgumentParser:
    from rnnlab import __version__

    p = argparse.ArgumentParser(
        prog="rnnlab", description="Recurrent neural networks made real, fast and visible."
    )
    p.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def add_config_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "task", help="parity, reverse, pos, sentiment, lm, caption, or package.module:TASK"
        )
        sp.add_argument("--config", help="a TOML file or a preset name")
        sp.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting")
        sp.add_argument("--data-dir", help="where the task's data lies (sets data.dir)")
        sp.add_argument("--data", help="which data set (sets data.name)")
        sp.add_argument("--pretrained", help="a run folder to start from (sets pretrained)")

    sp = sub.add_parser("lecture", help="replay every claim of the lecture", add_help=False)
    sp.add_argument("rest", nargs=argparse.REMAINDER)
    sp.set_defaults(func=cmd_lecture)

    sp = sub.add_parser("serve", help="the lab in the browser (docs/serve.md)", add_help=False)
    sp.add_argument("rest", nargs=argparse.REMAINDER)
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("train", help="train a task into a run folder")
    add_config_args(sp)
    sp.add_argument("--out", help="run folder (default runs/TASK-TIME)")
    sp.add_argument("--device", default="auto", help="auto, cpu or cuda")
    sp.add_argument("--quiet", action="store_true", help="no progress display")
    dp = sp.add_argument_group("data-parallel training (docs/distributed.md)")
    dp.add_argument(
        "--nproc", type=int, default=0, help="processes on this node (via torchrun's launcher)"
    )
    dp.add_argument("--nnodes", type=int, default=1, help="nodes, each running the same command")
    dp.add_argument("--rdzv-endpoint", default="", help="HOST:PORT where the nodes meet (c10d)")
    dp.add_argument(
        "--rdzv-id", default="rnnlab", help="the run's rendezvous id, same on every node"
    )
    dp.add_argument(
        "--rdzv-timeout", type=float, default=600.0, help="seconds to wait for the nodes"
    )
    dp.add_argument(
        "--backend", default="auto", help="auto (NCCL on GPUs, else gloo), gloo or nccl"
    )
    dp.add_argument(
        "--dist-timeout", type=float, default=1800.0, help="seconds a collective may wait"
    )
    sp.set_defaults(func=cmd_train)

    sp = sub.add_parser("eval", help="evaluate a run folder")
    sp.add_argument("run_dir")
    sp.add_argument("--split", default="dev")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--device", default="auto")
    sp.set_defaults(func=cmd_eval)

    sp = sub.add_parser("predict", help="answer inputs with a trained run")
    sp.add_argument("run_dir")
    sp.add_argument("inputs", nargs="*")
    sp.add_argument("--input-file", help="one input a line")
    sp.add_argument("--beam", type=int, help="beam size for decoders")
    sp.add_argument("--generate", metavar="TEXT", help="language model: continue TEXT")
    sp.add_argument(
        "--pretokenized",
        action="store_true",
        help="text tasks: the input is tokenized already (split on whitespace only)",
    )
    sp.add_argument("--device", default="auto")
    sp.set_defaults(func=cmd_predict)

    sp = sub.add_parser("bench", help="run a benchmark", add_help=False)
    sp.add_argument("name", help=", ".join(BENCHES))
    sp.add_argument("rest", nargs=argparse.REMAINDER)
    sp.set_defaults(func=cmd_bench)

    sp = sub.add_parser("config", help="print a task's resolved config as TOML")
    add_config_args(sp)
    sp.set_defaults(func=cmd_config)
    return p


def _cap_threads() -> None:
    """``RNNLAB_THREADS=N`` caps torch's threads (several processes sharing few cores)."""
    import os

    n = os.environ.get("RNNLAB_THREADS", "")
    if n:
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"RNNLAB_THREADS expects a positive integer, got {n!r}")
        import torch

        torch.set_num_threads(int(n))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = make_parser()
    if (
        argv
        and argv[0] in ("lecture", "bench", "serve")
        and not (len(argv) > 1 and argv[1] in ("-h",))
    ):
        # these verbs hand everything after them to their own parsers
        head = argv[:2] if argv[0] == "bench" and len(argv) > 1 else argv[:1]
        args = parser.parse_args(head)
        args.rest = argv[len(head) :]
    else:
        args = parser.parse_args(argv)
    args.argv = argv
    try:
        _cap_threads()
        rc: int = args.func(args)
        return rc
    except (ValueError, OSError) as exc:  # OSError: FileNotFoundError, a full disk, ...
        print(f"rnnlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "rnnlab: interrupted (a run folder resumes from its last checkpoint)", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
