"""Data-parallel training over processes: ``torch.distributed`` and DistributedDataParallel.

One machinery for every task. ``torchrun`` (or ``rnnlab train TASK --nproc N``, which
calls ``torch.distributed.run``'s own launcher) starts one process per rank with
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT`` in its environment; :func:`init` joins the process group from them
(gloo on CPU, NCCL on GPUs) and :func:`session` makes it the one ``fit`` uses.

What ``fit`` does under a session (``rnnlab.training.loop``):

- every rank draws the whole global batch of the step (``batch_fn(step)`` is deterministic
  in the step) and keeps its own shard of it (:func:`shard`: rows ``[B*r/W, B*(r+1)/W)``
  of every tensor; a task with a batch that is not "every tensor has B rows" overrides
  ``Task.shard``, as pos does for the character spellings of distinct forms);
- the model runs inside ``DistributedDataParallel``, which averages the gradients over
  the ranks during ``backward``; each rank's loss is its shard's mean times
  ``W * n_r / N`` (:func:`shard_weight`), where ``n_r`` counts what the task's loss
  averages over in the shard (``Task.loss_count``: rows by default, target tokens for a
  per-token mean) and ``N`` in the global batch. The average of those gradients is the
  gradient of the global batch's mean: the same optimisation problem as one process with
  the same ``train.batch_size``, up to float rounding;
- each rank seeds torch's generator from ``(seed, step, rank)`` before the step
  (:func:`seed_step`), so dropout masks differ between ranks and a resumed run draws the
  same ones as an uninterrupted run;
- rank 0 alone evaluates, writes ``metrics.jsonl``, the progress display,
  ``model.safetensors`` and checkpoints; the early-stop decision is broadcast; a resumed
  run's step, best score and optimizer state come from rank 0's checkpoint by broadcast
  (the weights by DDP's own broadcast at wrapping), so other nodes need no shared disk;
- at the end ``fit`` raises :class:`WorkerFinished` on the other ranks, so that a task's
  ``train`` (final scores, figures) runs on rank 0 only.

The global batch must split evenly: ``train.batch_size % world == 0`` (checked before any
work). A short last batch of an epoch is split as evenly as it goes; a rank whose shard
is empty computes the loss of the whole batch with weight 0 (DDP needs every rank in
every backward).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

BACKENDS = ("auto", "gloo", "nccl")
ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
DEFAULT_TIMEOUT = 1800.0  # seconds a collective (or joining the group) may wait


@dataclass(frozen=True)
class Dist:
    """This process's place in the group."""

    rank: int
    world: int
    local_rank: int
    local_world: int
    backend: str
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


class WorkerFinished(Exception):
    """Raised by ``fit`` on ranks other than 0 once training is over: what a task does
    after training (scores, figures, files) is rank 0's alone."""


_active: Dist | None = None


def launched() -> bool:
    """Whether this process was started by torchrun (its environment names a rank)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def env_world() -> int:
    """``WORLD_SIZE`` of a torchrun-started process, else 1."""
    return int(os.environ.get("WORLD_SIZE", "1")) if launched() else 1


def active() -> Dist | None:
    """The group ``fit`` trains with, or None (one process)."""
    return _active


def check_batch(batch_size: int, world: int) -> None:
    """The global batch must split into equal shards."""
    if world > 1 and batch_size % world:
        raise ValueError(
            f"train.batch_size = {batch_size} does not split over {world} processes: the "
            f"global batch is shared out equally, so it must be a multiple of {world} "
            f"(e.g. --set train.batch_size={batch_size - batch_size % world or world})"
        )


def pick_backend(name: str, device: torch.device) -> str:
    """``auto``: NCCL for CUDA devices, gloo on CPU; NCCL without CUDA is an error."""
    if name not in BACKENDS:
        raise ValueError(f"--backend expects {', '.join(BACKENDS)}, got {name!r}")
    if name == "auto":
        return "nccl" if device.type == "cuda" else "gloo"
    if name == "nccl" and (device.type != "cuda" or not torch.cuda.is_available()):
        why = "no CUDA device is available" if not torch.cuda.is_available() else "--device cpu"
        raise ValueError(
            f"--backend nccl needs CUDA GPUs, but {why}: use --backend gloo (or auto) on CPU"
        )
    return name


def rank_device(name: str, local_rank: int) -> torch.device:
    """The device of the process with ``local_rank``: its own GPU, or the CPU."""
    if name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"--device expects auto, cpu or cuda, got {name!r}")
    cuda = torch.cuda.is_available()
    if name == "cpu" or (name == "auto" and not cuda):
        return torch.device("cpu")
    if not cuda:
        raise ValueError("--device cuda was asked for, but no CUDA device is available")
    if local_rank >= torch.cuda.device_count():
        raise ValueError(
            f"local rank {local_rank} has no GPU of its own: this node has "
            f"{torch.cuda.device_count()} (start at most that many processes per node)"
        )
    return torch.device("cuda", local_rank)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def init(
    device: str = "auto", backend: str = "auto", timeout: float = DEFAULT_TIMEOUT, threads: int = 0
) -> Dist:
    """Join the process group torchrun set up (from its environment variables).

    ``threads`` <= 0: this node's cores shared out equally among its processes.
    """
    missing = [k for k in ENV if k not in os.environ]
    if missing:
        raise ValueError(
            f"not started by torchrun: {', '.join(missing)} missing from the environment "
            "(run `torchrun --nproc-per-node N -m rnnlab train ...` or `rnnlab train --nproc N`)"
        )
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank, local_world = int(os.environ["LOCAL_RANK"]), int(os.environ["LOCAL_WORLD_SIZE"])
    dev = rank_device(device, local_rank)
    name = pick_backend(backend, dev)
    torch.set_num_threads(threads if threads > 0 else max(1, usable_cores() // local_world))
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    where = f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}"
    try:
        dist.init_process_group(
            name,
            rank=rank,
            world_size=world,
            timeout=datetime.timedelta(seconds=timeout),
        )
        dist.barrier()  # everyone is here, or the timeout says who is not
    except (RuntimeError, ValueError, OSError) as exc:
        raise ValueError(
            f"rank {rank} of {world} could not join the process group at {where} within "
            f"{timeout:g} s ({name}): {str(exc).splitlines()[0] if str(exc) else exc!r}"
        ) from exc
    return Dist(rank, world, local_rank, local_world, name, dev)


@contextmanager
def session(d: Dist) -> Iterator[Dist]:
    """Make ``d`` the group ``fit`` trains with; leave the group afterwards."""
    global _active
    _active = d
    try:
        yield d
    finally:
        _active = None
        leave()


def leave() -> None:
    """Leave the process group (if in one)."""
    if dist.is_initialized():
        dist.destroy_process_group()


# --- batches ---------------------------------------------------------------------------


def bounds(n: int, rank: int, world: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of rank ``rank`` among ``world`` in a batch of ``n``."""
    return n * rank // world, n * (rank + 1) // world


def _leaves(batch: Any) -> Iterator[torch.Tensor]:
    if isinstance(batch, torch.Tensor):
        yield batch
    elif dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        for f in dataclasses.fields(batch):
            yield from _leaves(getattr(batch, f.name))
    elif isinstance(batch, (tuple, list)):
        for x in batch:
            yield from _leaves(x)
    elif isinstance(batch, dict):
        for x in batch.values():
            yield from _leaves(x)


def _map(batch: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    if isinstance(batch, torch.Tensor):
        return fn(batch) if batch.dim() > 0 else batch
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        changes = {f.name: _map(getattr(batch, f.name), fn) for f in dataclasses.fields(batch)}
        return dataclasses.replace(batch, **changes)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a namedtuple
        return type(batch)(*(_map(x, fn) for x in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(_map(x, fn) for x in batch)
    if isinstance(batch, dict):
        return {k: _map(v, fn) for k, v in batch.items()}
    return batch


def rows(batch: Any) -> int:
    """The batch's size: the first dimension of its tensors (which must agree)."""
    sizes = {t.shape[0] for t in _leaves(batch) if t.dim() > 0}
    if len(sizes) != 1:
        raise ValueError(
            f"cannot split a {type(batch).__name__} by rows: its tensors' first dimensions "
            f"are {sorted(sizes) or 'absent'}; a task with such batches overrides "
            "Task.shard and Task.loss_count"
        )
    return sizes.pop()


def shard(batch: Any, rank: int, world: int) -> Any:
    """Rank ``rank``'s rows of every tensor in ``batch`` (tensors, dataclasses, tuples,
    lists, dicts; other values as they are). Every tensor must have the batch's rows as
    its first dimension."""
    lo, hi = bounds(rows(batch), rank, world)
    return _map(batch, lambda t: t[lo:hi])


def shard_weight(world: int, part: float, total: float) -> float:
    """The factor of a shard's mean loss that makes DDP's gradient average the global
    batch's mean: ``world * part / total`` (``part``, ``total``: what the mean divides by)."""
    return world * part / total if total > 0 else 1.0


def seed_step(seed: int, step: int, rank: int) -> None:
    """Seed torch's generator for one step of one rank: ``(seed, step, rank)`` alone."""
    torch.manual_seed(((seed * 1_000_003 + step) * 1_009 + rank) % (2**63 - 1))


# --- collectives -----------------------------------------------------------------------


def broadcast(d: Dist, obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (pickled; keep it small)."""
    box = [obj if d.main else None]
    dist.broadcast_object_list(box, src=0, device=d.device if d.device.type == "cuda" else None)
    return box[0]


def gather(d: Dist, obj: Any) -> list[Any] | None:
    """Every rank's ``obj`` on rank 0 (in rank order); None on the others."""
    out: list[Any] | None = [None] * d.world if d.main else None
    dist.gather_object(obj, out, dst=0)
    return out


def _cpu(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    if isinstance(x, dict):
        return {k: _cpu(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_cpu(v) for v in x]
    return x


def sync_start(
    d: Dist, opt: torch.optim.Optimizer, state: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Rank 0's checkpoint state (None: a fresh start) and, when resuming, its optimizer
    state on every rank. The weights follow when :class:`Replica` wraps the model."""
    state = broadcast(d, state)
    if state is not None:
        opt_state = broadcast(d, _cpu(opt.state_dict()) if d.main else None)
        if not d.main:
            opt.load_state_dict(opt_state)
    return state


class _LossModule(nn.Module):
    """The model with its loss as ``forward``: DDP synchronises what runs in forward,
    and a task's loss calls whatever methods of its model it needs."""

    def __init__(self, model: nn.Module, loss_fn: Callable[[Any, Any], torch.Tensor]) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, batch: Any) -> torch.Tensor:
        return self.loss_fn(self.model, batch)


class Replica:
    """One rank's copy of the model in DDP: ``loss(step, batch)`` -> the loss to
    backpropagate (its shard's, weighted) and the global batch's mean loss (all ranks)."""

    def __init__(
        self,
        d: Dist,
        model: nn.Module,
        loss_fn: Callable[[Any, Any], torch.Tensor],
        seed: int,
        shard_fn: Callable[[Any, int, int], Any] | None = None,
        count_fn: Callable[[Any], float] | None = None,
    ) -> None:
        from torch.nn.parallel import DistributedDataParallel

        self.d, self.seed = d, seed
        self.shard_fn = shard_fn or shard
        self.count_fn = count_fn or rows
        ids = [d.device.index] if d.device.type == "cuda" else None
        # find_unused_parameters: a step may leave parameters out (the lm's adaptive
        # softmax: a tail cluster no target of the shard falls in)
        self.ddp = DistributedDataParallel(
            _LossModule(model, loss_fn), device_ids=ids, find_unused_parameters=True
        )

    def loss(self, step: int, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.d
        seed_step(self.seed, step, d.rank)
        part = self.shard_fn(batch, d.rank, d.world)
        total, mine = float(self.count_fn(batch)), float(self.count_fn(part))
        if mine == 0:  # an empty shard (a short last batch): take part with weight 0
            part, weight = batch, 0.0
        else:
            weight = shard_weight(d.world, mine, total)
        loss = self.ddp(part) * weight
        mean = loss.detach().clone()
        dist.all_reduce(mean)  # sum over ranks of W n_r/N * mean_r = W * global mean
        return loss, mean / d.world


# --- launching -------------------------------------------------------------------------


def launch(
    nproc: int,
    args: list[str],
    nnodes: int = 1,
    endpoint: str = "",
    run_id: str = "rnnlab",
    join_timeout: float = 600.0,
) -> int:
    """``python -m rnnlab ARGS`` in ``nproc`` processes on this node, through
    ``torch.distributed.run``'s own launcher (what ``torchrun`` runs); with ``nnodes`` > 1
    the nodes meet through c10d rendezvous at ``endpoint`` (``HOST:PORT``). Returns the
    exit status: 0, or the first failed rank's."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous.api import RendezvousError
    from torch.distributed.launcher.api import elastic_launch
    from torch.distributed.run import config_from_args, get_args_parser

    if nproc < 1 or nnodes < 1:
        raise ValueError(f"--nproc and --nnodes must be at least 1, got {nproc} and {nnodes}")
    if nnodes > 1 and not endpoint:
        raise ValueError(
            f"--nnodes {nnodes}: the nodes meet at a rendezvous endpoint; give "
            "--rdzv-endpoint HOST:PORT (a host every node reaches, the same on each)"
        )
    if not endpoint:  # one node: its own rendezvous on a free loopback port
        endpoint, run_id = "127.0.0.1:0", f"{run_id}-{uuid.uuid4().hex[:8]}"
    rdzv = ["--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", run_id]
    argv = [
        f"--nproc-per-node={nproc}",
        f"--nnodes={nnodes}",
        "--max-restarts=0",
        f"--rdzv-conf=join_timeout={join_timeout:g}",
        *rdzv,
        "-m",
        "rnnlab",
        *args,
    ]
    config, cmd, cmd_args = config_from_args(get_args_parser().parse_args(argv))
    try:
        elastic_launch(config, cmd)(*cmd_args)
    except ChildFailedError as exc:
        return min((f.exitcode for f in exc.failures.values() if f.exitcode > 0), default=1)
    except RendezvousError as exc:
        raise ValueError(
            f"rendezvous at {endpoint} failed ({nnodes} node(s) of {nproc} process(es) expected, "
            f"waited up to {join_timeout:g} s): {type(exc).__name__}: {exc}"
        ) from exc
    return 0
