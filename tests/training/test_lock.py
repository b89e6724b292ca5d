"""One writer per run folder: a second trainer stops at once; a dead one frees the folder."""

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import torch

from rnnlab.training.lock import run_lock
from rnnlab.training.loop import TrainConfig, fit

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import torch
    from rnnlab.training.loop import TrainConfig, fit

    def batch_fn(step):
        print("training", flush=True)
        time.sleep(60)  # hold the folder until killed
        return torch.zeros(1)

    model = torch.nn.Linear(1, 1)
    fit(model, TrainConfig(steps=1), batch_fn, lambda m, b: m(b).sum(),
        run_dir=Path(sys.argv[1]), progress=False)
    """
)


def tiny_fit(run_dir: Path) -> None:
    model = torch.nn.Linear(1, 1)
    fit(
        model,
        TrainConfig(steps=2),
        lambda s: torch.ones(1),
        lambda m, b: m(b).sum(),
        run_dir=run_dir,
        progress=False,
    )


def test_a_second_trainer_on_the_same_folder_is_refused(tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "training", proc.stderr.read()  # died?
        with pytest.raises(ValueError, match=rf"being trained by process {proc.pid} .*\.lock"):
            tiny_fit(tmp_path)
        assert not (tmp_path / "checkpoint").exists()  # the second trainer wrote nothing
    finally:
        proc.kill()  # dies holding the lock: the OS releases it
        proc.wait(timeout=30)
    tiny_fit(tmp_path)
    assert (tmp_path / "checkpoint" / "trainer.json").is_file()


def test_the_lock_is_reentrant_for_its_holder_only(tmp_path: Path):
    with run_lock(tmp_path):
        tiny_fit(tmp_path)  # a caller may hold the folder before fit does
        errors: list[BaseException] = []

        def other() -> None:
            try:
                tiny_fit(tmp_path / "sub" / "..")  # the same folder by another name
            except BaseException as exc:
                errors.append(exc)

        t = threading.Thread(target=other)
        t.start()
        t.join(timeout=30)
        assert len(errors) == 1 and "another thread" in str(errors[0])
    with run_lock(tmp_path):  # released when the last holder leaves
        pass


def test_train_task_is_refused_before_it_writes_anything(tmp_path: Path):
    """A second trainer on a folder in use writes no config.toml over the first one's."""
    import threading

    import torch

    from rnnlab.tasks import train_task
    from rnnlab.tasks.parity import task as parity

    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with run_lock(tmp_path):
            held.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert held.wait(10)
        with pytest.raises(ValueError, match="being trained"):
            train_task("parity", parity.Config(), tmp_path, torch.device("cpu"), progress=False)
        assert not (tmp_path / "config.toml").exists()
    finally:
        release.set()
        t.join(10)
