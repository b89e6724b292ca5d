"""``rnnlab bench lecture``: the time of every experiment and of the whole, as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from rnnlab import lecture
from rnnlab.bench import lecture as bench

sys.path.insert(0, str(Path(__file__).parents[1] / "lecture"))
import fake_experiments as fake

pytestmark = pytest.mark.usefixtures("one_thread")

EXPERIMENT_KEYS = {"id", "seconds", "cpu_seconds", "claims", "passed"}
TOP_KEYS = {
    "backend",
    "backend_by_cell",
    "quick",
    "seed",
    "jobs",
    "threads",
    "cpus",
    "torch",
    "seconds",
}
TOP_KEYS |= {"cpu_seconds", "passed", "experiments"}


def _check_schema(data, ids, backend, jobs):
    assert set(data) == TOP_KEYS
    assert data["backend"] == backend and data["quick"] is True and data["jobs"] == jobs
    assert isinstance(data["seconds"], float) and data["seconds"] > 0
    assert [e["id"] for e in data["experiments"]] == ids
    for e in data["experiments"]:
        assert set(e) == EXPERIMENT_KEYS
        assert e["seconds"] > 0 and e["cpu_seconds"] >= 0 and e["claims"] >= 1
    assert data["cpu_seconds"] == pytest.approx(
        sum(e["cpu_seconds"] for e in data["experiments"]), abs=0.01
    )


@pytest.mark.parametrize("jobs", [1, 2])
def test_writes_the_time_of_every_experiment_and_the_whole(tmp_path, monkeypatch, capsys, jobs):
    monkeypatch.setattr(lecture, "EXPERIMENTS", fake.GOOD)
    out = tmp_path / "bench.json"
    argv = ["--quick", "--backend", "fused", "--jobs", str(jobs), "--threads", "1"]
    assert bench.main([*argv, "--only", "fake.first", "fake.alone", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    _check_schema(data, ["fake.first", "fake.alone"], "fused", jobs)
    assert data["passed"] is True and data["threads"] == 1
    assert data["backend_by_cell"] == {"rnn": "fused", "lstm": "fused"}
    printed = capsys.readouterr().out
    assert "| fake.first |" in printed and "| **whole lecture** |" in printed


def test_profile_runs_in_this_process_and_writes_the_top_entries(tmp_path, monkeypatch):
    monkeypatch.setattr(lecture, "EXPERIMENTS", fake.GOOD)
    out, prof = tmp_path / "bench.json", tmp_path / "profile.txt"
    argv = ["--quick", "--jobs", "2", "--only", "fake.second", "--profile", str(prof)]
    assert bench.main([*argv, "--out", str(out)]) == 0
    assert json.loads(out.read_text())["jobs"] == 1
    text = prof.read_text()
    assert "Ordered by: internal time" in text and "Ordered by: cumulative time" in text
    assert "fake_experiments.py" in text  # the experiment ran here, under the profiler


def test_a_failed_claim_fails_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(lecture, "EXPERIMENTS", fake.GOOD + fake.BAD)
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--jobs", "1", "--only", "fake.fails", "--out", str(out)]) == 1
    assert json.loads(out.read_text())["passed"] is False


@pytest.mark.slow
def test_a_real_experiment(tmp_path):
    out = tmp_path / "bench.json"
    argv = ["--quick", "--jobs", "1", "--threads", "1", "--only", "reverse.synchronous_fails"]
    assert bench.main([*argv, "--out", str(out)]) == 0
    _check_schema(json.loads(out.read_text()), ["reverse.synchronous_fails"], "auto", 1)
