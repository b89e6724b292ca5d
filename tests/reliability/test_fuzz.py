"""Fuzzing every loader and input parser: whatever the bytes, only the project's documented
errors come out (``ValueError``, ``FileNotFoundError`` and their subclasses), naming the
file, and the line where the fault is on one.

Example counts are in ``EXAMPLES`` (docs/reliability.md lists them); each test keeps to a
second or two.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rnnlab.tasks import load_run
from rnnlab.tasks.caption import coco, openmoji
from rnnlab.tasks.pos import task as pos
from rnnlab.tasks.pos.data import read_conllu
from rnnlab.tasks.sentiment.data import load_mr
from rnnlab.training.checkpoint import load_weights
from rnnlab.training.config import apply_overrides, load_config

DOCUMENTED = (ValueError, FileNotFoundError)
EXAMPLES = {
    "conllu": 80,
    "conllu_bytes": 60,
    "mr": 80,
    "jsonl": 100,
    "coco_json": 60,
    "openmoji": 100,
    "toml": 100,
    "overrides": 100,
    "run_folder": 40,
    "safetensors": 150,
}


SCALE = int(os.environ.get("RNNLAB_FUZZ_SCALE", "1"))  # a longer run: RNNLAB_FUZZ_SCALE=20


def fuzz(name: str) -> Callable[[Any], Any]:
    return settings(
        max_examples=EXAMPLES[name] * SCALE,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def documented(fn: Callable[[], Any], path: Path | None = None) -> BaseException | None:
    """Run ``fn``; an error must be a documented one and name ``path``."""
    try:
        fn()
    except DOCUMENTED as exc:
        if path is not None:
            assert str(path) in str(exc), exc
        return exc
    return None


def names_line(exc: BaseException, path: Path, whole_file: tuple[str, ...]) -> None:
    """``file:line`` in the message, unless it is about the whole file."""
    msg = str(exc)
    if not re.search(re.escape(str(path)) + r":\d+", msg):
        assert any(w in msg for w in whole_file), msg


# --- CoNLL-U ------------------------------------------------------------------------------

FIELD = st.one_of(
    st.sampled_from(["1", "2", "3", "1-2", "2.1", "0", "-1", "_", "", "NOUN", "dog", "x\u00a0y"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
)
TOKEN_LINE = st.lists(FIELD, min_size=8, max_size=11).map("\t".join)
LINE = st.one_of(
    TOKEN_LINE,
    TOKEN_LINE,
    st.sampled_from(["", "# sent_id = a", "# text = x", "#", "  "]),
    st.text(max_size=20),
)


def _valid_row(i: int, word: str) -> str:
    return "\t".join([str(i), word, word, "NOUN", "NN", "_", "0", "root", "_", "_"])


@fuzz("conllu")
@given(st.lists(LINE, max_size=25))
@example(["1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_"])  # a range without its words
@example([_valid_row(1, "a"), _valid_row(3, "b")])  # a gap in the IDs
def test_conllu_reader(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x-ud-dev.conllu"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        exc = documented(lambda: read_conllu(path), path)
        if exc is not None:
            names_line(exc, path, ("no sentences",))


@fuzz("conllu_bytes")
@given(st.binary(max_size=300))
def test_conllu_reader_on_bytes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x-ud-dev.conllu"
        path.write_bytes(_valid_row(1, "ok").encode() + b"\n" + data)
        exc = documented(lambda: read_conllu(path), path)
        if exc is not None:
            names_line(exc, path, ("no sentences",))


# --- MR -----------------------------------------------------------------------------------

MR_FILE = st.one_of(
    st.none(),  # missing
    st.binary(max_size=200),
    st.lists(st.text(max_size=30), max_size=8).map(lambda ls: "\n".join(ls).encode()),
)


@fuzz("mr")
@given(MR_FILE, MR_FILE)
@example(b"a fine film .\n", b"a\n\n\nb\n")  # an empty line inside
@example(b"a fine film .\n", b"\xff\n")
def test_mr_loader(pos_bytes: bytes | None, neg_bytes: bytes | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "sentence-polarity"
        folder.mkdir()
        for name, data in (("rt-polarity.pos", pos_bytes), ("rt-polarity.neg", neg_bytes)):
            if data is not None:
                (folder / name).write_bytes(data)
        exc = documented(lambda: load_mr(tmp), folder)
        if exc is not None and not re.search(r"rt-polarity\.(pos|neg):\d+", str(exc)):
            assert "missing label file" in str(exc) or "no texts" in str(exc), exc


# --- captions -------------------------------------------------------------------------------

KEYS = st.sampled_from(["file", "captions", "images", "annotations", "id", "file_name"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=4), inner),
    max_leaves=12,
)
DEEP = "[" * 5000 + "]" * 5000  # deeper than Python's recursion limit


@fuzz("jsonl")
@given(st.lists(JSON.map(json.dumps) | st.text(max_size=20), max_size=6))
@example(['{"file": "a.png", "captions": ["a cat"]}', "{"])
@example([DEEP])
def test_captions_jsonl(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "captions.jsonl"
        path.write_text("\n".join(lines), encoding="utf-8")
        exc = documented(lambda: coco.read_jsonl(path), path)
        if exc is not None:
            names_line(exc, path, ("UTF-8",))
        documented(lambda: coco.load(tmp, 8), path)  # images that do not exist


@fuzz("coco_json")
@given(JSON | st.fixed_dictionaries({"images": JSON, "annotations": JSON}))
@example({"images": [{"id": [1], "file_name": "a.jpg"}], "annotations": []})
@example({"images": 3, "annotations": []})
def test_coco_captions_json(data: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "captions_val2017.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        documented(lambda: coco.read_coco_json(path), path)


@fuzz("openmoji")
@given(JSON.map(lambda j: json.dumps(j).encode()) | st.binary(max_size=40))
@example(b"3")
@example(b'[{"hexcode": "1F600", "annotation": "grinning face", "group": "smileys"}, 7]')
@example(DEEP.encode())
def test_openmoji_records(data: bytes) -> None:
    exc = documented(lambda: openmoji.parse_records(data, "openmoji.tgz"))
    if exc is not None:
        assert "openmoji.tgz" in str(exc)


# --- configs and run folders -------------------------------------------------------------

SETTING = st.sampled_from(
    ["data.tagset", "model.hidden", "model.dropout", "train.lr", "train.steps", "model.lower"]
) | st.text(alphabet="abcdefghij._", min_size=1, max_size=12)
VALUE = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def _nested(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        *head, last = [p for p in key.split(".") if p] or ["x"]
        node = out
        for part in head:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                break
            node = nxt
        else:
            node[last] = value
    return out


TOML_TEXT = st.one_of(
    st.lists(st.tuples(SETTING, VALUE), max_size=6).map(lambda p: tomli_w.dumps(_nested(p))),
    st.text(max_size=60),
)


@fuzz("toml")
@given(TOML_TEXT)
@example("[model]\nhidden = -3\n")
@example("train = 5\n")
def test_config_toml(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        path.write_text(text, encoding="utf-8")
        documented(lambda: load_config(pos.Config, path), path)


@fuzz("overrides")
@given(st.lists(st.tuples(SETTING, st.text(max_size=12)).map("=".join) | st.text(max_size=10)))
@example(["train.steps=1e400"])
@example(["model=3"])
def test_config_overrides(items: list[str]) -> None:
    documented(lambda: apply_overrides(pos.Config(), items))


TASK_NAME = st.sampled_from(
    ["parity", "pos", "sentiment", "lm", "caption", "reverse", "nope", ":", "rnnlab:"]
) | st.sampled_from(["nosuchmodule:TASK", "rnnlab.nn:Vocab", "rnnlab.tasks.base:Task"])


@fuzz("run_folder")
@given(TASK_NAME | st.none(), st.lists(st.tuples(SETTING, VALUE), max_size=4), st.booleans())
@example("parity", [], True)
@example("pos", [], False)
def test_run_folder(task: str | None, pairs: list[tuple[str, Any]], weights: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        data = _nested(pairs)
        if task is not None:
            data["task"] = task
        (run / "config.toml").write_text(tomli_w.dumps(data))
        if weights:
            (run / "model.safetensors").write_bytes(b"\x08" + b"\x00" * 7 + b"{}      ")
        documented(lambda: load_run(run, "cpu"))


# --- safetensors headers ------------------------------------------------------------------

DTYPES = st.sampled_from(["F32", "F64", "F16", "BF16", "I64", "I32", "U8", "BOOL", "X9", ""])
ENTRY = st.fixed_dictionaries(
    {
        "dtype": DTYPES,
        "shape": st.lists(st.integers(-2, 4), max_size=3),
        "data_offsets": st.lists(st.integers(-2, 64), min_size=0, max_size=3),
    }
)
HEADER = st.dictionaries(
    st.sampled_from(["weight", "bias", "extra", "__metadata__"]) | st.text(max_size=5),
    ENTRY | JSON,
    max_size=4,
)


def _model() -> torch.nn.Module:
    return torch.nn.Linear(2, 3)


@fuzz("safetensors")
@given(HEADER | JSON, st.binary(max_size=64), st.integers(-4, 8))
@example(
    {
        "weight": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 24]},
        "bias": {"dtype": "I64", "shape": [3], "data_offsets": [24, 48]},
    },
    bytes(48),
    0,
)  # the right names and shapes, a wrong dtype
@example(
    {
        "weight": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 24]},
        "bias": {"dtype": "F32", "shape": [3], "data_offsets": [24, 36]},
        "extra": {"dtype": "F32", "shape": [1], "data_offsets": [36, 40]},
    },
    bytes(40),
    0,
)  # an extra key
def test_weights_file_headers(header: Any, body: bytes, skew: int) -> None:
    """Any header, with a correct checksum sidecar (so the header itself is what is read)."""
    raw = json.dumps(header).encode()
    data = struct.pack("<Q", max(0, len(raw) + skew)) + raw + body
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.safetensors"
        path.write_bytes(data)
        (Path(tmp) / "model.safetensors.sha256").write_text(hashlib.sha256(data).hexdigest())
        model = _model()
        exc = documented(lambda: load_weights(model, path), path)
        if exc is None:  # loaded: then it was a file of exactly this model's tensors
            assert set(header) - {"__metadata__"} == {"weight", "bias"}
            assert all(header[k]["dtype"] == "F32" for k in ("weight", "bias"))


def test_the_example_counts_are_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "reliability.md").read_text()
    for name, n in EXAMPLES.items():
        assert re.search(rf"`{name}`[^\n]*\| {n} \|", doc), f"docs/reliability.md: {name} {n}"


@pytest.mark.parametrize(("bad", "line"), [(b"\xff\xfe", 3), (b"ok\n\xc3", 4)])
def test_a_bad_byte_in_a_conllu_file_names_its_line(tmp_path: Path, bad: bytes, line: int) -> None:
    path = tmp_path / "x-ud-dev.conllu"
    path.write_bytes(_valid_row(1, "a").encode() + b"\n\n" + bad)
    with pytest.raises(ValueError, match=re.escape(f"{path}:{line}: expected UTF-8")):
        read_conllu(path)
