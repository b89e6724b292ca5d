"""A tiny smoke run of ``rnnlab bench layers``."""

from __future__ import annotations

import json

import torch

from rnnlab.bench import layers as bench


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
        assert r["ratio"]["torch.nn"] == 1.0
        assert all(s > 0 for s in r["seconds"].values())
