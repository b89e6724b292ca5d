"""The notebooks are executed so they never rot (they are stored without outputs), and what
they print is checked against the lecture's claims (the thresholds of ``rnnlab lecture``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))


def printed(nb) -> str:
    """Everything the executed notebook wrote to stdout, in order."""
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream" and o.get("name") == "stdout":
                out.append(o["text"])
    return "".join(out)


def number(text: str, pattern: str) -> float:
    m = re.search(pattern, text)
    assert m, f"the notebook did not print {pattern!r}; it printed:\n{text}"
    return float(m.group(1))


def numbers(text: str, pattern: str) -> list[float]:
    m = re.search(pattern, text)
    assert m, f"the notebook did not print {pattern!r}; it printed:\n{text}"
    return [float(v) for v in ast.literal_eval(m.group(1))]


def check_failure(text: str) -> None:
    """01: the dense net is at chance late in unseen sequences; the RNN is right at every
    position; the final-label dense net memorizes 1,000 of 2^16 sequences yet guesses on
    unseen ones, and generalizes only when it has seen most of them (n = 12); the
    hand-set RNN makes no error at length 10,000."""
    assert 0 < number(text, r"dense net: training accuracy ([\d.]+)") <= 1
    dense = numbers(text, r"dense net, unseen, per position: (\[.*\])")
    late = dense[len(dense) // 2 :]
    assert sum(late) / len(late) <= 0.65, dense
    rnn = numbers(text, r"RNN \(\d+ steps\), unseen, per position: (\[.*\])")
    assert min(rnn) >= 0.95, rnn
    assert number(text, r"errors at length 10,000: (\d+)") == 0
    assert "ValueError:" in text  # the dense net refuses an input longer than it was built for
    few = ast.literal_eval(re.findall(r"^\{'n': 16.*\}$", text, re.M)[0])
    assert few["train_acc"] >= 0.95 and few["unseen_acc"] <= 0.6, few
    most = ast.literal_eval(re.findall(r"^\{'n': 12.*\}$", text, re.M)[0])
    assert most["share"] >= 0.5 and most["unseen_acc"] >= 0.9, most


def check_redux(text: str) -> None:
    """02: the synchronous RNN cannot reverse: exact-sequence accuracy near zero."""
    assert number(text, r"exact-sequence accuracy: ([\d.e-]+)") <= 0.05
    assert number(text, r"L=10  exact ([\d.]+)") <= 0.05


def check_seq2seq(text: str) -> None:
    """03: seq2seq reverses unseen sequences; attention does too, looking at the mirror."""
    assert number(text, r"unseen test sequences: ([\d.]+)") >= 0.9
    assert number(text, r"steps; unseen test sequences: ([\d.]+)") >= 0.95
    assert number(text, r"mirrored position L-1-t: ([\d.]+)") >= 0.8


CHECKS = {
    "01_notebook_of_failure.ipynb": check_failure,
    "02_notebook_of_failure_redux.ipynb": check_redux,
    "03_seq2seq_and_attention.ipynb": check_seq2seq,
}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_shows_the_claims(path: Path, tmp_path: Path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs"), f"{path.name} is stored with outputs; clear them"
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = nbclient.NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    (tmp_path / "stdout.txt").write_text(printed(nb))
    CHECKS[path.name](printed(nb))


def test_every_notebook_is_checked():
    assert {p.name for p in NOTEBOOKS} == set(CHECKS)


def test_the_checks_can_fail():
    """A dense net right at every position would contradict the lecture: the check says so."""
    good = (
        "dense net: training accuracy 1.000\n"
        "dense net, unseen, per position: [1.0, 1.0, 0.5, 0.5]\n"
        "RNN (300 steps), unseen, per position: [1.0, 1.0, 1.0, 1.0]\n"
        "ValueError: x\nerrors at length 10,000: 0\n"
        "{'n': 16, 'train_acc': 1.0, 'unseen_acc': 0.5}\n"
        "{'n': 12, 'share': 0.8, 'train_acc': 1.0, 'unseen_acc': 0.96}\n"
    )
    check_failure(good)
    with pytest.raises(AssertionError):
        check_failure(good.replace("[1.0, 1.0, 0.5, 0.5]", "[1.0, 1.0, 1.0, 1.0]"))
