"""A reverse task whose rank 1 kills itself (SIGKILL) at step ``KILL_AT``, once: the
first run that gets there leaves ``$RNNLAB_TEST_KILL_MARKER`` behind and dies, later
runs train straight through. Each rank logs the rows of every shard it trains on to
``$RNNLAB_TEST_KILL_MARKER.rowsRANK``. Used by test_distributed.py as ``dist_kill_task:TASK``."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import torch

from rnnlab.nn.seq2seq import Seq2Seq
from rnnlab.tasks.reverse.task import Batch, Config, ReverseTask

KILL_AT = 12


class KillOnceTask(ReverseTask):
    def train_batches(self, cfg: Config, res: None, device: torch.device) -> Callable[[int], Batch]:
        inner = super().train_batches(cfg, res, device)
        marker = Path(os.environ["RNNLAB_TEST_KILL_MARKER"])

        def batch_fn(step: int) -> Batch:
            if step == KILL_AT and os.environ.get("RANK") == "1" and not marker.exists():
                marker.touch()
                os.kill(os.getpid(), signal.SIGKILL)
            return inner(step)

        return batch_fn

    def loss(self, cfg: Config, model: Seq2Seq, batch: Batch) -> torch.Tensor:
        rows = Path(os.environ["RNNLAB_TEST_KILL_MARKER"] + f".rows{os.environ.get('RANK')}")
        with rows.open("a") as f:  # what each rank trains on: its shard
            f.write(f"{batch.src.shape[0]}\n")
        return super().loss(cfg, model, batch)


TASK = KillOnceTask()
