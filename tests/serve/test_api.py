"""The lab's JSON API through the ASGI test client: answers checked against independent
references, and every error the server promises (docs/serve.md)."""

from __future__ import annotations

import json
import random

import pytest
import torch
from starlette.testclient import TestClient

from rnnlab.serve import Limits
from rnnlab.tasks.parity.model import handset_parity_rnn

PROBE = "/api/models/parity-handset/probe"
PREDICT = "/api/models/parity-handset/predict"


def running_evenness(bits: list[int]) -> list[int]:
    out, s = [], 0
    for b in bits:
        s += b
        out.append(1 - s % 2)
    return out


def reference_trace(bits: list[int], edits: dict[int, tuple[int, str, float]]) -> list[float]:
    """torch.nn.RNNCell with the hand-set weights, one step at a time, an edit applied to
    the state right after its step: the logits."""
    model = handset_parity_rnn()
    cell = torch.nn.RNNCell(1, 2)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in model.rnn.state_dict().items()})
    h = torch.zeros(1, 2)
    logits = []
    with torch.no_grad():
        for t, b in enumerate(bits):
            h = cell(torch.tensor([[float(b)]]), h)
            if t in edits:
                unit, op, value = edits[t]
                h[0, unit] = {"flip": -h[0, unit].item(), "zero": 0.0, "clamp": value}[op]
            logits.append(float(model.out(h)[0, 0]))
    return logits


def test_page_and_headers(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    for name in ("app.js", "style.css"):
        assert name in r.text, f"the page should load /static/{name}"
        assert client.get(f"/static/{name}").status_code == 200
    assert "http://" not in r.text and "https://" not in r.text  # no CDN


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../etc/passwd",
        "/static/..%2f..%2fetc%2fpasswd",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/%2Fetc%2Fpasswd",
        "/static//etc/passwd",
        "/static/../app.py",
        "/static/..%2Fapp.py",
        "/static/",
        "/static",
        "/etc/passwd",
        "/api/models/..%2F..%2Fetc/probe",
    ],
)
def test_traversal_is_404(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404, (path, r.status_code, r.text[:100])
    assert "root:" not in r.text
    assert r.headers["content-type"].startswith("application/json")


def test_symlink_out_of_static_is_not_served(handset_dir, tmp_path, make_client) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<p>page</p>")
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    (static / "leak.txt").symlink_to(secret)
    (static / "sub").mkdir()
    (static / "sub" / "x.txt").write_text("nested")
    c = make_client(handset_dir, static_dir=static)
    assert c.get("/").text == "<p>page</p>"
    for path in ("/static/leak.txt", "/static/sub/x.txt", "/static/sub"):
        r = c.get(path)
        assert r.status_code == 404 and "secret" not in r.text and "nested" not in r.text


def test_models_lists_lab(client: TestClient) -> None:
    models = {m["id"]: m for m in client.get("/api/models").json()["models"]}
    assert models["parity-handset"]["status"] == "ready"
    assert models["parity-handset"]["options"] == ["intervene"]
    assert models["parity-handset"]["limit"] == Limits().max_tokens
    assert models["parity-handset"]["examples"]
    assert models["reverse-attention"]["status"] == "failed"  # not trained in this lab
    assert models["parity-dense"]["task"] == "dense"


def test_parity_probe_matches_running_sum(client: TestClient) -> None:
    rng = random.Random(0)
    for n in (1, 5, 37, 300):
        bits = [rng.randint(0, 1) for _ in range(n)]
        r = client.post(
            "/api/models/parity-handset/probe", json={"input": " ".join(map(str, bits))}
        )
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["view"] == "parity"
        assert got["steps"]["even"] == running_evenness(bits) == got["truth"]
        assert got["answer"] == " ".join(map(str, running_evenness(bits)))
        assert len(got["steps"]["h"]) == n and len(got["steps"]["h"][0]) == 2
        assert got["automaton"]["is_parity"]
        # the lit state of the automaton answers what the network answered
        answers = got["automaton"]["answers"]
        assert [answers[s] for s in got["steps"]["state"]] == got["steps"]["even"]


@pytest.mark.parametrize(
    "edits",
    [
        [{"step": 1, "unit": 0, "op": "flip"}],
        [{"step": 0, "unit": 1, "op": "zero"}, {"step": 3, "unit": 0, "op": "clamp", "value": 1}],
        [{"step": 4, "unit": 1, "op": "clamp", "value": -0.5}],
    ],
)
def test_interventions_match_reference(client: TestClient, edits: list[dict]) -> None:
    bits = [0, 1, 1, 0, 1, 1, 0]
    body = {"input": " ".join(map(str, bits)), "options": {"intervene": edits}}
    r = client.post("/api/models/parity-handset/probe", json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    ref = reference_trace(
        bits, {e["step"]: (e["unit"], e["op"], e.get("value", 0.0)) for e in edits}
    )
    assert got["steps"]["logit"] == pytest.approx(ref, abs=1e-3)
    assert got["baseline"]["even"] == running_evenness(bits)
    assert len(got["interventions"]) == len(edits)


def test_flip_changes_the_answer_from_its_step(client: TestClient) -> None:
    """Unit 0 after "0 1" is on (odd); flipped off the network believes it is even, and
    every answer from there on is inverted: the parity lives in the state."""
    body = {"input": "0 1 1 0 1", "options": {"intervene": [{"step": 1, "unit": 0, "op": "flip"}]}}
    got = client.post("/api/models/parity-handset/probe", json=body).json()
    assert got["baseline"]["even"] == [1, 0, 1, 1, 0]
    assert got["steps"]["even"] == [1, 1, 0, 0, 1]


def test_predict(client: TestClient) -> None:
    r = client.post("/api/models/parity-handset/predict", json={"inputs": ["0 1 1", "1"]})
    assert r.status_code == 200 and r.json() == {"answers": ["1 0 1", "0"]}


def test_metrics_rows_and_damaged_lines(handset_dir, client: TestClient) -> None:
    assert client.get("/api/models/parity-handset/metrics").json() == {"rows": []}
    path = handset_dir / "parity-handset" / "metrics.jsonl"
    path.write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "lo\n[1]\n{"step": 3, "loss": 0.25}\n')
    try:
        rows = client.get("/api/models/parity-handset/metrics").json()["rows"]
    finally:
        path.unlink()
    assert rows == [{"step": 1, "loss": 0.5}, {"step": 3, "loss": 0.25}]


# --- errors: a clear 4xx, JSON, never a traceback ---------------------------------------


def edit(step: int, unit: int, op: str) -> bytes:
    """A probe body with one intervention."""
    change = {"step": step, "unit": unit, "op": op}
    return json.dumps({"input": "0 1", "options": {"intervene": [change]}}).encode()


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        (PROBE, b"{bad json", 400, "not valid JSON"),
        (PROBE, b"\xff\xfe", 400, "not valid JSON"),
        (PROBE, b"[1, 2]", 400, "JSON object"),
        (PROBE, b"{}", 400, "'input' must be a str"),
        (PROBE, b'{"input": 5}', 400, "'input' must be a str"),
        (PROBE, b'{"input": "0 1", "junk": 1}', 400, "unknown fields"),
        (PROBE, b'{"input": "0 1", "options": [1]}', 400, "'options' must be a dict"),
        (PROBE, b'{"input": "0 2 1"}', 422, "bits 0 or 1"),
        (PROBE, b'{"input": ""}', 422, "empty"),
        (PROBE, b'{"input": "0 1", "options": {"beam": 3}}', 422, "does not take beam"),
        (
            PROBE,
            b'{"input": "0 1", "options": {"intervene": [{"step": 9, "unit": 0, "op": "flip"}]}}',
            422,
            "step must be",
        ),
        (
            PROBE,
            b'{"input": "0 1", "options": {"intervene": [{"step": 0, "unit": 5, "op": "flip"}]}}',
            422,
            "unit must be",
        ),
        (
            PROBE,
            b'{"input": "0 1", "options": {"intervene": [{"step": 0, "unit": 0, "op": "melt"}]}}',
            422,
            "op must be",
        ),
        (
            PROBE,
            b'{"input": "0 1", "options": {"intervene": [{"step": 0, "unit": 0, "op": "clamp"}]}}',
            422,
            "needs a value",
        ),
        (PROBE, b'{"input": "0 1", "options": {"intervene": "all"}}', 422, "list"),
        (PROBE, b'{"image": "aGVsbG8="}', 422, "text lines"),
        (PROBE, b'{"image": "not base64!"}', 400, "base64"),
        (PREDICT, b'{"inputs": []}', 400, "1..256"),
        (PREDICT, b'{"inputs": [1, 2]}', 400, "list of strings"),
        (PREDICT, b'{"inputs": "0 1"}', 400, "must be a list"),
        ("/api/models/nope/probe", b'{"input": "0 1"}', 404, "no model"),
        ("/api/models/reverse-attention/probe", b'{"input": "3 1 4"}', 503, "not ready"),
    ],
)
def test_errors(client: TestClient, path: str, body: bytes, status: int, words: str) -> None:
    r = client.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert words in r.json()["error"]
    assert "Traceback" not in r.text


def test_input_over_the_limit_is_413_with_the_limit(handset_dir, make_client) -> None:
    c = make_client(handset_dir, Limits(max_tokens=50))
    r = c.post(PROBE, json={"input": "1" * 51})
    assert r.status_code == 413 and r.json()["limit"] == 50 and "50" in r.json()["error"]
    assert c.post(PROBE, json={"input": "1" * 50}).status_code == 200
    r = c.post(PREDICT, json={"inputs": ["1", "1" * 51]})
    assert r.status_code == 413 and "input line 2" in r.json()["error"]
    r = c.post(PREDICT, json={"inputs": ["1"] * 257})
    assert r.status_code == 413 and r.json()["limit"] == 256


def test_body_over_the_limit_is_413(handset_dir, make_client) -> None:
    c = make_client(handset_dir, Limits(max_body=1000))
    big = json.dumps({"input": "0 " * 600}).encode()
    r = c.post(PROBE, content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["limit"] == 1000

    def chunks():  # no content-length: counted while read
        for _ in range(20):
            yield b" " * 100

    r = c.post(PROBE, content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_wrong_method_and_host(client: TestClient) -> None:
    r = client.get(PROBE)
    assert r.status_code == 405 and "error" in r.json()
    r = client.get("/api/models", headers={"host": "evil.example:8000"})
    assert r.status_code == 400 and "Host" in r.json()["error"]


def test_flags_take_only_true_or_false() -> None:
    """An on/off option from JSON must be a boolean: "yes" is refused, not taken as true."""
    from rnnlab.tasks.base import check_flag

    assert check_flag(True, "pretokenized") is True
    for bad in ("yes", 1, None, "false"):
        with pytest.raises(ValueError, match="pretokenized expects true or false"):
            check_flag(bad, "pretokenized")


@pytest.mark.parametrize("target", ["every", "final"])
def test_parity_probe_answers_as_predict_does(target: str) -> None:
    """The probe derives its answer from its own trace: the same line as ``predict``."""
    from dataclasses import replace
    from pathlib import Path

    from rnnlab.tasks.base import Run
    from rnnlab.tasks.parity import task as P

    cfg = P.Config()
    cfg = replace(cfg, data=replace(cfg.data, target=target), model=replace(cfg.model, hidden=2))
    run = Run(P.TASK, cfg, None, handset_parity_rnn(), torch.device("cpu"), Path("."))
    for line in ("0 1 1 0 1", "1", "1 1 0 1 0 0 1"):
        assert run.probe(line)["answer"] == run.predict([line])[0]
    assert run.probe("0 1 1 0 1")["answer"] == ("1 0 1 1 0" if target == "every" else "0")
