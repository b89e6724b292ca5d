"""`rnnlab lecture --quick`, end to end, as a user runs it (CI runs this; issue 3).

It must exit 0 only when every claim holds, and leave a self-contained report, the
figures and a results.json with the documented schema.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnlab.tasks import load_run

# The ids the lecture issue names, one per claim the lecture makes (sub-claims share a prefix).
SECTIONS = (
    "parity.dense_fails",
    "parity.rnn_succeeds",
    "parity.final_only",
    "parity.what_each_part_learns",
    "rnn.unrolled_view",
    "reverse.synchronous_fails",
    "reverse.seq2seq_succeeds",
    "reverse.attention",
)


@pytest.mark.slow
def test_lecture_quick_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "lecture"
    env = dict(os.environ, MPLBACKEND="Agg")
    command = ["lecture", "--quick", "--out", str(out), "--no-progress"]
    proc = subprocess.run(
        [sys.executable, "-c", "from rnnlab.cli import main; raise SystemExit(main())", *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "claims hold" in proc.stdout

    results = json.loads((out / "results.json").read_text())
    assert isinstance(results["seconds"], float) and results["seconds"] > 0
    claims = results["claims"]
    for claim in claims:
        assert set(claim) >= {"id", "claim", "metric", "value", "threshold", "passed"}
        assert claim["passed"] is True, claim
    ids = [c["id"] for c in claims]
    assert len(ids) == len(set(ids))
    for section in SECTIONS:  # the section's own id, or its sub-claims' (section.part)
        assert any(i == section or i.startswith(section + ".") for i in ids), section

    figures = sorted((out / "figures").glob("*.png"))
    assert len(figures) >= len(SECTIONS)
    html = (out / "report.html").read_text()
    # Self-contained: every figure is embedded, nothing is linked from outside the page.
    assert html.count("data:image/png;base64,") >= len(figures)
    assert 'src="figures/' not in html and "http://" not in html
    first = html.split("data:image/png;base64,", 1)[1].split('"', 1)[0]
    assert base64.b64decode(first)[:8] == b"\x89PNG\r\n\x1a\n"

    # the networks the report describes, kept for ``rnnlab serve``
    assert "its networks for `rnnlab serve`" in proc.stdout
    lab = out / "lab"
    assert load_run(lab / "parity-rnn").predict(["0 1 1 0 1"]) == ["1 0 1 1 0"]
    assert load_run(lab / "reverse-attention").predict(["3 1 4"]) == ["4 1 3"]
    assert load_run(lab / "reverse-seq2seq").predict(["3 1 4"]) == ["4 1 3"]
