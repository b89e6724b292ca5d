"""The lab as users run it: ``rnnlab serve`` in its own process, under load; and the
trained lab's reversal networks."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from starlette.testclient import TestClient


def post(url: str, body: dict, timeout: float = 120) -> tuple[int, dict]:
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data, {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def get(url: str) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.status, json.loads(r.read())


def test_binds_loopback_and_answers(serve_process, handset_dir: Path) -> None:
    proc, url = serve_process("--lab", str(handset_dir), "--no-train")
    assert url.startswith("http://127.0.0.1:")
    assert "WARNING" not in proc.printed
    assert get(url + "api/health")[1]["ok"] is True
    status, got = post(url + "api/models/parity-handset/predict", {"inputs": ["0 1 1 0 1"]})
    assert (status, got) == (200, {"answers": ["1 0 1 1 0"]})


def test_other_host_warns(serve_process, handset_dir: Path) -> None:
    proc, _ = serve_process("--lab", str(handset_dir), "--no-train", "--host", "0.0.0.0")
    assert "WARNING" in proc.printed and "not loopback" in proc.printed


def test_fifty_clients_get_an_answer_or_503(serve_process, handset_dir: Path) -> None:
    """50 clients at once, 4 requests each, against a queue of 8: every request gets a
    200 or a 503 with a JSON reason, none hangs or breaks, and the server stays up."""
    _, url = serve_process("--lab", str(handset_dir), "--no-train", "--queue", "8")
    target = url + "api/models/parity-handset/probe"
    bits = " ".join("1" * 2000)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(4):
            try:
                out = post(target, {"input": bits}, timeout=120)
            except Exception as exc:  # a refused or dropped connection fails the test
                out = (0, {"error": repr(exc)})
            with lock:
                results.append(out)

    threads = [threading.Thread(target=client) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    codes = [c for c, _ in results]
    assert len(codes) == 200
    assert set(codes) <= {200, 503}, {c: b for c, b in results if c not in (200, 503)}
    assert codes.count(200) > 0
    for code, body in results:
        if code == 503:
            assert "busy" in body["error"]
        else:
            assert body["steps"]["even"][-1] == 1  # 2,000 ones: even
    assert get(url + "api/health")[1] == {"ok": True, "queued": 0, "queue": 8}


# --- the trained lab ---------------------------------------------------------------------


@pytest.mark.slow
def test_reversal_models(trained_client: TestClient) -> None:
    r = trained_client.post(
        "/api/models/reverse-attention/probe", json={"input": "3 1 4", "options": {"beam": 3}}
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["view"] == "seq2seq" and got["truth"] == [4, 1, 3]
    assert got["answer"] == "4 1 3"
    weights = got["attention"]
    assert len(weights) == len(got["greedy"]["tokens"]) + 1  # every token, then eos
    assert all(len(row) == 3 and sum(row) == pytest.approx(1, abs=1e-3) for row in weights)
    assert [w.index(max(w)) for w in weights[:3]] == [2, 1, 0]  # the mirror
    scores = [h["score"] for h in got["beam"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 3
    answer = trained_client.post(
        "/api/models/reverse-attention/predict", json={"inputs": ["3 1 4"], "options": {"beam": 3}}
    )
    assert " ".join(map(str, got["beam"][0]["tokens"])) == answer.json()["answers"][0]

    plain = trained_client.post("/api/models/reverse-seq2seq/probe", json={"input": "3 1 4"})
    assert plain.status_code == 200 and plain.json()["attention"] is None

    sync = trained_client.post("/api/models/reverse-sync/probe", json={"input": "3 1 4"}).json()
    assert sync["view"] == "sync" and sync["read"] == [False, True, True]
    assert sync["tokens"][1:] == [1, 3]  # what it has read it reverses
    r = trained_client.post("/api/models/reverse-sync/probe", json={"input": " ".join("1" * 11)})
    assert r.status_code == 413 and r.json()["limit"] == 10


@pytest.mark.slow
def test_dense_net_beside_the_rnn(trained_client: TestClient) -> None:
    got = trained_client.post("/api/models/parity-dense/probe", json={"input": "0 1 1 0 1"})
    assert got.status_code == 200 and got.json()["view"] == "dense"
    assert len(got.json()["even"]) == 5 and got.json()["truth"] == [1, 0, 1, 1, 0]
    r = trained_client.post("/api/models/parity-dense/probe", json={"input": " ".join("1" * 17)})
    assert r.status_code == 413 and "built for 16" in r.json()["error"]
    rnn = trained_client.post("/api/models/parity-rnn/probe", json={"input": " ".join("1" * 17)})
    assert rnn.status_code == 200 and rnn.json()["steps"]["even"][-1] == 0


@pytest.mark.slow
def test_run_folders_are_served_by_id(serve_process, trained_dir: Path) -> None:
    folder = trained_dir / "reverse-attention"
    _, url = serve_process(str(folder), str(folder), "--no-lab")
    _, listed = get(url + "api/models")
    ids = [m["id"] for m in listed["models"]]
    assert len(ids) == 2 and len(set(ids)) == 2
    assert all(m["group"] == "runs" and "/" not in m["id"] for m in listed["models"])
    status, got = post(url + f"api/models/{ids[0]}/probe", {"input": "3 1 4"})
    assert status == 200 and got["answer"] == "4 1 3"
    _, rows = get(url + f"api/models/{ids[0]}/metrics")
    assert rows["rows"] and "loss" in rows["rows"][0]
