"""``rnnlab bench serve --quick`` runs and reports every case against its forward pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnlab.bench import serve as bench


@pytest.mark.slow
def test_bench_serve_quick(trained_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "serve.json"
    assert bench.main(["--lab", str(trained_dir), "--quick", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    names = [r["case"] for r in rows]
    assert "parity 1,000 bits" in names and "reverse 8 digits" in names
    for r in rows:
        assert 0 < r["forward_p50_ms"] <= r["forward_p99_ms"]
        assert 0 < r["request_p50_ms"] <= r["request_p99_ms"]
        assert r["ratio_p50"] == pytest.approx(r["request_p50_ms"] / r["forward_p50_ms"], rel=0.02)
    assert "target (1,000-bit parity predict" in capsys.readouterr().out


def test_percentiles_nearest_rank() -> None:
    values = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    assert bench.percentiles(values) == pytest.approx((50.0, 99.0))
    assert bench.percentiles([0.002]) == pytest.approx((2.0, 2.0))
