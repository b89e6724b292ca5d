"""SIGKILL at random points of training, for every task type: the resumed run ends with
the very parameters, optimizer state and logs of an uninterrupted one (max |diff| = 0).

Each test trains a tiny run in this process (the reference), then the same run in a forked
child that kills itself (``reliability_helpers.py``): first inside a random file rename
(the renames of a checkpoint or a best-model write, or its journal's), then, resumed, at a
random training step; this process then resumes it to the end. ``RNNLAB_FAULT_SEED``
replays a draw (each failure message names its seed).
"""

from __future__ import annotations

import json
import os
import random
import signal
from pathlib import Path

import pytest
import torch
from reliability_helpers import tiny_config, train_child, write_data

from rnnlab.tasks import get_task, load_run, train_task
from rnnlab.training import checkpoint as ckpt
from rnnlab.training.config import apply_overrides, save_config

CPU = torch.device("cpu")
TASKS = ("parity", "pos", "sentiment", "lm", "caption")


def killed(code: int) -> bool:
    if code not in (0, -signal.SIGKILL):
        raise AssertionError(f"the child failed with exit code {code} (its traceback is above)")
    return code == -signal.SIGKILL


def files_of(run: Path) -> dict[str, object]:
    """Every tensor, ``trainer.json`` and the metrics log of a run folder, by path."""
    out: dict[str, object] = {}
    for path in sorted(run.rglob("*.safetensors")):
        for name, t in ckpt.load_tensors(path).items():
            out[f"{path.relative_to(run)}:{name}"] = t
    for path in sorted(run.rglob("trainer.json")):
        out[str(path.relative_to(run))] = json.loads(path.read_text())
    for path in sorted(run.rglob("metrics.jsonl")):
        rows = [json.loads(x) for x in path.read_text().splitlines()]
        out[str(path.relative_to(run))] = [
            {k: v for k, v in r.items() if k != "seconds"} for r in rows
        ]
    return out


def assert_same_run(ref: Path, run: Path, why: str) -> None:
    a, b = files_of(ref), files_of(run)
    assert sorted(a) == sorted(b), why
    for key, va in a.items():
        vb = b[key]
        if isinstance(va, torch.Tensor):
            assert isinstance(vb, torch.Tensor)
            diff = (va.double() - vb.double()).abs().max().item() if va.numel() else 0.0
            assert va.dtype == vb.dtype and va.shape == vb.shape and diff == 0, f"{key}: {why}"
        else:
            assert va == vb, f"{key}: {why}"
    leftovers = [
        p.name for p in run.rglob("*") if p.name.endswith(".tmp") or p.name == ckpt.JOURNAL
    ]
    assert leftovers == [], why


def setup(task: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, int]:
    """Toy data, the reference run in ``tmp_path/ref``; returns the config and how many
    renames the reference made."""
    name, sets = tiny_config(task, tmp_path / "data")
    write_data(task, tmp_path / "data")
    cfg = apply_overrides(get_task(name).config_type(), sets)
    renames = {"n": 0}
    real = ckpt._rename

    def counting(src: Path, dst: Path) -> None:
        renames["n"] += 1
        real(src, dst)

    monkeypatch.setattr(ckpt, "_rename", counting)
    train_task(task, cfg, tmp_path / "ref", CPU, progress=False)
    monkeypatch.setattr(ckpt, "_rename", real)
    return cfg, renames["n"]


@pytest.mark.parametrize("task", TASKS)
def test_killed_in_a_write_then_at_a_step_resumes_to_the_same_run(
    task: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_thread: None
) -> None:
    seed = int(os.environ.get("RNNLAB_FAULT_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    cfg, renames = setup(task, tmp_path, monkeypatch)
    run = tmp_path / "run"
    run.mkdir()
    save_config(cfg, run / "config.toml", task=task)
    n = rng.randint(1, renames)
    why = f"{task}: SIGKILL before rename {n} of {renames}, RNNLAB_FAULT_SEED={seed}"
    assert killed(train_child(run, f"rename:{n}")), why
    trainer = run / "checkpoint" / "trainer.json"
    ckpt.finish_writes(run / "checkpoint")  # what the resumed fit does first
    start = json.loads(trainer.read_text())["step"] if trainer.is_file() else 0
    steps = cfg.train.steps  # type: ignore[attr-defined]
    if start < steps:  # else the kill came after the last checkpoint was committed
        k = rng.randrange(start, steps)
        why += f", then at step {k} (resumed from {start})"
        assert killed(train_child(run, f"step:{k}")), why
    train_task(task, cfg, run, CPU, progress=False)  # resumes to the end
    assert_same_run(tmp_path / "ref", run, why)


def test_killed_between_the_weights_and_their_checksum_the_folder_still_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_thread: None
) -> None:
    """The best model's safetensors replaced, its .sha256 not yet: the pending checksum
    (``model.safetensors.sha256.tmp``) vouches for it; resuming completes the pair."""
    cfg, _ = setup("parity", tmp_path, monkeypatch)
    run = tmp_path / "run"
    run.mkdir()
    save_config(cfg, run / "config.toml", task="parity")
    assert killed(train_child(run, "after:model.safetensors:3"))  # the 2nd best-model write
    assert (run / "model.safetensors.sha256.tmp").is_file()
    new = ckpt.load_tensors(run / "model.safetensors")  # the new weights, accepted
    old = (run / "model.safetensors.sha256").read_text()
    assert old != ckpt.tensor_files(run / "x", new)[1][1].decode()  # the sidecar is stale
    assert load_run(run, "cpu").predict(["0 1 1"])[0].count(" ") == 2
    train_task("parity", cfg, run, CPU, progress=False)
    assert_same_run(tmp_path / "ref", run, "killed between the weights and their checksum")


def test_a_damaged_journal_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / ckpt.JOURNAL).write_text("[[1, ")
    with pytest.raises(ValueError, match="damaged rename journal"):
        ckpt.finish_writes(tmp_path)


def test_a_group_is_all_old_or_all_new_wherever_the_writer_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stop a three-file group write at each rename in turn (an exception standing in for
    the kill): the folder reads all old, or after ``finish_writes`` all new."""
    names = ["a.bin", "b.bin", "c.json"]
    old = [(tmp_path / n, b"old " + n.encode()) for n in names]
    new = [(tmp_path / n, b"new " + n.encode()) for n in names]
    real = ckpt._rename
    for stop in range(1, len(names) + 2):  # the journal's rename, then each file's
        ckpt.atomic_write_many(old)

        def failing(src: Path, dst: Path, stop: int = stop, calls: list[int] = []) -> None:  # noqa: B006
            calls.append(1)
            if len(calls) == stop:
                raise KeyboardInterrupt
            real(src, dst)

        monkeypatch.setattr(ckpt, "_rename", failing)
        with pytest.raises(KeyboardInterrupt):
            ckpt.atomic_write_many(new)
        monkeypatch.setattr(ckpt, "_rename", real)
        committed = stop > 1  # the journal was in place
        if not committed:  # nothing replaced, nothing left behind
            assert [p.read_bytes() for p, _ in old] == [d for _, d in old]
            assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
        ckpt.finish_writes(tmp_path)
        after = [p.read_bytes() for p, _ in old]
        assert after == [d for _, d in (new if committed else old)], stop
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
