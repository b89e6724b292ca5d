"""Labs for the server's tests: one with the hand-set RNN only (no training), one with
all six networks trained briefly (once per session), and a real server in a process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from rnnlab.lecture import lab as lecture_lab
from rnnlab.serve import Lab, Limits, create_app, lab_networks

HOSTS = ["testserver", "127.0.0.1", "localhost"]


def client_for(lab_dir: Path, limits: Limits | None = None, **kw: object) -> TestClient:
    nets, thread = lab_networks(lab_dir, train=False)
    assert thread is None
    lab = Lab({n.id: n for n in nets}, limits or Limits())
    return TestClient(create_app(lab, HOSTS, **kw))  # type: ignore[arg-type]


@pytest.fixture
def make_client():
    """``make_client(lab_dir, limits=None, static_dir=None)``: a test client of a lab."""
    return client_for


@pytest.fixture(scope="session")
def handset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lab folder holding only the hand-set parity RNN (the others: not trained)."""
    d = tmp_path_factory.mktemp("lab-handset")
    lecture_lab.build(d, "parity-handset")
    return d


@pytest.fixture
def client(handset_dir: Path) -> TestClient:
    return client_for(handset_dir)


@pytest.fixture(scope="session")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All six lab networks, the reversal ones trained briefly (``quick``): ~40 s."""
    d = tmp_path_factory.mktemp("lab-trained")
    lecture_lab.ensure(d, quick=True)
    return d


@pytest.fixture(scope="session")
def trained_client(trained_dir: Path) -> TestClient:
    return client_for(trained_dir)


def start_server(*args: str, timeout: float = 60) -> tuple[subprocess.Popen[str], str]:
    """``rnnlab serve ARGS --port 0`` in a process, one torch thread; its URL."""
    env = {**os.environ, "RNNLAB_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "rnnlab", "serve", *args, "--port", "0"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert proc.stdout is not None
    seen = []
    import select

    while True:
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            stop_server(proc)
            raise AssertionError(f"no URL within {timeout} s; printed: {''.join(seen)}")
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"the server exited: {''.join(seen)}")
        seen.append(line)
        m = re.search(r"(http://\S+/)", line)
        if m:
            proc.printed = "".join(seen)  # type: ignore[attr-defined]
            return proc, m.group(1)


def stop_server(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def serve_process() -> Iterator[object]:
    """``start(*args) -> (process, url)``: ``rnnlab serve`` processes, stopped afterwards."""
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> tuple[subprocess.Popen[str], str]:
        proc, url = start_server(*args)
        procs.append(proc)
        return proc, url

    yield start
    for proc in procs:
        stop_server(proc)
