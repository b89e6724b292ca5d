"""``rnnlab bench layers``: it times what it says, and what it times computes torch's numbers."""

from __future__ import annotations

import json
import statistics

import pytest
import torch
from torch import nn

from rnnlab.bench import layers as bench
from rnnlab.nn import layers


def test_quick_run_prints_table_and_writes_json(tmp_path, capsys):
    threads = torch.get_num_threads()
    try:
        path = tmp_path / "layers.json"
        argv = ["--quick", "--threads", "1", "--repeats", "1", "--warmup", "1"]
        assert bench.main([*argv, "--kinds", "GRU", "LSTM", "--json", str(path)]) == 0
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "| layer | B | T | H | torch.nn ms | fused | explicit | scripted |" in out
    assert "| GRU | 4 | 6 | 8 |" in out and "| LSTM | 4 | 6 | 8 |" in out
    data = json.loads(path.read_text())
    assert data["threads"] == 1 and len(data["results"]) == 2
    for r in data["results"]:
        assert set(r["seconds"]) == set(bench.IMPLS) and all(s > 0 for s in r["seconds"].values())
        # every backend computed torch.nn's output and gradients, to float32 rounding
        assert set(r["max_abs_diff"]) == set(bench.IMPLS)
        assert all(0 <= d <= 1e-4 for d in r["max_abs_diff"].values()), r["max_abs_diff"]


class FakeClock:
    """A clock that only moves when a fake forward+backward pass says how long it took."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ratios_are_medians_of_the_times_each_implementation_took(monkeypatch):
    clock = FakeClock()
    # seconds per pass, one list per implementation, one value per call (warm-up first)
    took = {
        "torch.nn": [9.0, 2.0, 4.0, 3.0, 100.0],
        "fused": [9.0, 3.0, 1.0, 2.0, 2.0],
        "explicit": [9.0, 5.0, 6.0, 7.0, 1.0],
        "scripted": [9.0, 8.0, 8.0, 8.0, 8.0],
    }

    def name_of(module: nn.Module) -> str:
        return "torch.nn" if not isinstance(module, layers.GRU) else module.backend

    def fake_step(module, x):
        times = iter(took[name_of(module)])

        def run():
            clock.now += next(times)

        return run

    monkeypatch.setattr(bench, "_step", fake_step)
    r = bench.measure("GRU", 2, 3, 4, repeats=4, warmup=1, clock=clock)
    want = {name: statistics.median(ts[1:]) for name, ts in took.items()}  # 3.5, 2, 6, 8
    assert r["seconds"] == pytest.approx(want)
    assert r["ratio"] == pytest.approx({name: want[name] / want["torch.nn"] for name in want})
    assert r["ratio"]["fused"] == pytest.approx(2 / 3.5)


def test_a_backend_that_computes_something_else_fails_the_run(monkeypatch, capsys):
    real = layers.LSTM._explicit

    def off_by_a_bit(self, *args):
        out, h, c = real(self, *args)
        return out * 1.01, h, c

    monkeypatch.setattr(layers.LSTM, "_explicit", off_by_a_bit)
    threads = torch.get_num_threads()
    try:
        argv = ["--quick", "--threads", "1", "--repeats", "1", "--warmup", "0", "--kinds", "LSTM"]
        assert bench.main(argv) == 1
    finally:
        torch.set_num_threads(threads)
    assert "not the same numbers as torch.nn: LSTM explicit" in capsys.readouterr().err
