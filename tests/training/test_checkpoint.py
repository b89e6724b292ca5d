"""A full disk: one clear error, no temporary file left, the previous files intact."""

import errno
import json
import pathlib
from pathlib import Path

import pytest
import torch

from rnnlab import cli
from rnnlab.training import checkpoint as ckpt
from rnnlab.training.checkpoint import DiskFullError, atomic_write
from rnnlab.training.loop import TrainConfig, fit


class FullFile:
    """A file on a disk with ``room`` bytes left: writes past them fail with ENOSPC."""

    def __init__(self, fh, room: int) -> None:
        self.fh, self.room = fh, room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            self.fh.write(data[: self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.fh.write(data)

    def __getattr__(self, name):
        return getattr(self.fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.fh.close()


@pytest.fixture
def full_disk(monkeypatch):
    """After ``full_disk(room)``, every ``*.tmp`` file opened for writing holds at most
    ``room`` bytes."""
    real_open = pathlib.Path.open

    def fill(room: int) -> None:
        def open_(self, mode="r", *args, **kwargs):
            fh = real_open(self, mode, *args, **kwargs)
            return FullFile(fh, room) if self.name.endswith(".tmp") and "w" in mode else fh

        monkeypatch.setattr(pathlib.Path, "open", open_)

    return fill


def test_atomic_write_on_a_full_disk(tmp_path: Path, full_disk):
    path = tmp_path / "trainer.json"
    atomic_write(path, b"old")
    full_disk(10)
    with pytest.raises(DiskFullError) as err:
        atomic_write(path, b"x" * 5000)
    assert isinstance(err.value, ValueError)
    assert str(path) in str(err.value) and "5,000 bytes needed" in str(err.value)
    assert err.value.needed == 5000 and isinstance(err.value.__cause__, OSError)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trainer.json"]


def test_other_write_errors_pass_through_and_clean_up(tmp_path: Path, monkeypatch):
    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(ckpt.os, "fsync", broken)
    with pytest.raises(OSError, match="I/O error") as err:
        atomic_write(tmp_path / "f", b"data")
    assert not isinstance(err.value, DiskFullError)
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_mid_checkpoint_keeps_the_previous_checkpoint(tmp_path: Path, full_disk):
    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(0))
    y = (x.sum(1) > 0).long()
    cfg = TrainConfig(lr=0.05, steps=10, eval_every=5)

    def batch_fn(step: int):
        if step == 7:
            full_disk(100)  # the disk fills up between two checkpoints
        return x, y

    def loss_fn(m, b):
        return torch.nn.functional.cross_entropy(m(b[0]), b[1])

    scores = iter([0.9, 0.5])  # step 5 is the best

    def eval_fn(m):
        return {"acc": next(scores)}

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    with pytest.raises(DiskFullError, match="no space left on the device to write"):
        fit(model, cfg, batch_fn, loss_fn, eval_fn, metric="acc", run_dir=tmp_path, progress=False)
    assert not list(tmp_path.rglob("*.tmp"))
    state = json.loads((tmp_path / "checkpoint" / "trainer.json").read_text())
    assert state["step"] == 5 and state["best_step"] == 5  # the checkpoint of step 5, whole
    for name in ("model.safetensors", "checkpoint/model.safetensors"):
        ckpt.load_weights(torch.nn.Linear(3, 2), tmp_path / name)  # checksums still match
    ckpt.load_tensors(tmp_path / "checkpoint" / "optimizer.safetensors")


def test_the_cli_reports_a_full_disk_in_one_line(tmp_path: Path, full_disk, capsys):
    full_disk(50)
    rc = cli.main(
        [
            "train",
            "parity",
            "--out",
            str(tmp_path / "run"),
            "--quiet",
            "--set",
            "train.steps=4",
            "--set",
            "train.eval_every=2",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("rnnlab: error: no space left on the device")
