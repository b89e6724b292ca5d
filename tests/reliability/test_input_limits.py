"""Unbounded inputs: every task's predict refuses an input over its documented limit with
an error naming the line and the limit, answers in bounded groups whatever the number of
lines (the answers do not depend on the grouping), and evaluation data over a limit is
refused at its file:line. Models are built untrained: the answers only have to agree.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reliability_helpers import tiny_config, write_treebank

from rnnlab import cli
from rnnlab.nn.vocab import EOS, PAD, UNK, Vocab
from rnnlab.tasks import get_task, train_task
from rnnlab.tasks.base import Run, size_groups
from rnnlab.tasks.caption import data as caption_data
from rnnlab.tasks.caption.task import CaptionVocab
from rnnlab.tasks.parity import task as parity
from rnnlab.tasks.parity.model import handset_parity_rnn
from rnnlab.tasks.pos import model as pos_model
from rnnlab.tasks.pos import task as pos
from rnnlab.tasks.pos.data import Sentence
from rnnlab.tasks.sentiment.data import load_mr
from rnnlab.training.config import apply_overrides

CPU = torch.device("cpu")


def _resources(name: str) -> Any:
    if name == "pos":
        train = [Sentence(["The", "dog", "barks", "."], ["DET", "NOUN", "VERB", "PUNCT"])]
        return pos.PosVocab.build(train, lower=True)
    if name == "sentiment":
        return [Vocab.build([["a", "fine", "film", "."]])]
    if name == "lm":
        return Vocab([PAD, UNK, EOS, "the", "film", "is", "fine", "."])
    if name == "caption":
        return CaptionVocab(Vocab([PAD, UNK, "<s>", EOS, "a", "cat"]), 6, 16)
    return None


def make_run(name: str, tmp: Path) -> Run:
    task = get_task(name)
    sets = tiny_config(name, tmp)[1] if name != "reverse" else ["model.hidden=8"]
    cfg = apply_overrides(task.config_type(), sets)
    res = _resources(name)
    torch.manual_seed(0)
    return Run(task, cfg, res, task.build_model(cfg, res).eval(), CPU, tmp)


def _pick(n: int, choices: list[str]) -> str:
    idx = torch.randint(0, len(choices), (n,), generator=torch.Generator().manual_seed(n))
    return " ".join(choices[i] for i in idx.tolist())


def words(n: int) -> str:
    return _pick(n, ["the", "film", "is", "fine", "."])


def bits(n: int) -> str:
    return _pick(n, ["0", "1"])


def digits(n: int) -> str:
    return _pick(n, list("0123456789"))


# the documented limits: (task, input of n tokens, limit)
LIMITS = [
    ("pos", words, 2000),
    ("sentiment", words, 5000),
    ("lm", words, 5000),
    ("reverse", digits, 1000),
    ("parity", bits, 1_000_000),
]


@pytest.mark.parametrize(("name", "make", "limit"), LIMITS)
def test_an_input_over_the_limit_is_refused_naming_line_and_limit(
    name: str, make: Any, limit: int, tmp_path: Path, one_thread: None
) -> None:
    run = make_run(name, tmp_path)
    assert get_task(name).max_input_tokens == limit
    with pytest.raises(ValueError, match=rf"input line 2\b.*{limit:,}") as err:
        run.predict([make(3), make(limit + 1)])
    assert "split it into shorter lines" in str(err.value)
    if limit <= 5000:  # at the limit: answered
        assert len(run.predict([make(limit)])) == 1


@pytest.mark.slow  # 10 s: a million steps of the RNN
def test_parity_reads_a_million_bits_in_windows(tmp_path: Path, one_thread: None) -> None:
    """At the limit, against an independent reference: the hand-set RNN computes parity
    exactly, so its answers are the running evenness of the bits."""
    run = make_run("parity", tmp_path)
    run.model = handset_parity_rnn()
    x = torch.randint(0, 2, (parity.MAX_BITS,), generator=torch.Generator().manual_seed(0))
    out = run.predict([" ".join(map(str, x.tolist()))])[0]
    truth = (x.cumsum(0) % 2 == 0).long()
    assert out == " ".join(map(str, truth.tolist()))


@pytest.mark.parametrize("window", [1, 7, 4096])
def test_parity_windows_carry_the_state(
    tmp_path: Path, window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = make_run("parity", tmp_path)
    lines = [bits(n) for n in (1, 5, 30, 64, 200)]
    whole = run.predict(lines)  # the trained-from-scratch model: any weights will do
    monkeypatch.setattr(parity, "WINDOW", window)
    assert run.predict(lines) == whole
    run.model = handset_parity_rnn()
    for line, out in zip(lines, run.predict(lines), strict=True):
        x = torch.tensor([int(b) for b in line.split()])
        assert out == " ".join(map(str, (x.cumsum(0) % 2 == 0).long().tolist()))


INPUTS = {
    "pos": [words(n) for n in (1, 40, 3, 300, 12, 2, 700, 5)] + [""],
    "sentiment": [words(n) for n in (1, 40, 3, 300, 12, 2, 700, 5)],
    "lm": [words(n) for n in (1, 40, 3, 30, 12, 2, 70, 5)],
    "reverse": [digits(n) for n in (1, 12, 3, 30, 7, 2, 50)],
    "parity": [bits(n) for n in (1, 40, 3, 3000, 12, 2, 700, 5)],
}


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_answers_do_not_depend_on_the_grouping(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_thread: None
) -> None:
    """One input at a time (the reference), one group of all, and groups of a budget: the
    same answers in the input order."""
    run = make_run(name, tmp_path)
    task = run.task
    with torch.no_grad():
        alone = [
            task.answer(run, [task.encode(run.cfg, run.res, line, "x")])[0] for line in INPUTS[name]
        ]
    for budget in (10**9, 64, 1):
        monkeypatch.setattr(type(task), "predict_batch_tokens", budget)
        assert run.predict(INPUTS[name]) == alone, budget


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 50), max_size=30), st.integers(1, 200), st.integers(0, 6))
def test_size_groups(sizes: list[int], budget: int, max_count: int) -> None:
    groups = size_groups(sizes, budget, max_count)
    assert sorted(i for g in groups for i in g) == list(range(len(sizes)))
    order = [i for g in groups for i in g]
    assert [sizes[i] for i in order] == sorted(sizes)
    for g in groups:
        cost = len(g) * max(max(sizes[i] for i in g), 1)
        assert len(g) == 1 or (cost <= budget and (not max_count or len(g) <= max_count))


def test_pos_reads_long_words_in_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """The character model's vectors do not depend on how the forms are grouped."""
    torch.manual_seed(0)
    tagger = pos_model.Tagger(20, 30, 5, word_dim=4, char_dim=3, char_hidden=4, hidden=4).eval()
    lengths = torch.tensor([3, 500, 1, 7, 2, 40, 3])
    chars = torch.randint(1, 30, (7, 500)) * (torch.arange(500) < lengths[:, None])  # (U, C)
    whole = tagger.spell(chars, lengths)
    monkeypatch.setattr(pos_model, "CHAR_BATCH", 16)
    torch.testing.assert_close(tagger.spell(chars, lengths), whole, rtol=1e-5, atol=1e-6)


def test_pos_refuses_a_word_over_its_limit(tmp_path: Path) -> None:
    run = make_run("pos", tmp_path)
    with pytest.raises(ValueError, match=r"input line 1: a word of 1,001 characters.*1,000"):
        run.predict(["a " + "x" * 1001])
    assert len(run.predict(["y" * 1000])) == 1


def test_pos_evaluation_data_over_a_limit_names_file_and_line(tmp_path: Path) -> None:
    write_treebank(tmp_path / "toy", sentences=3)
    dev = tmp_path / "toy" / "toy-ud-dev.conllu"
    rows = [f"{i}\tw\tw\tNOUN\t_\t_\t0\t_\t_\t_" for i in range(1, pos.MAX_WORDS + 2)]
    start = len(dev.read_text().splitlines()) + 1
    dev.write_text(dev.read_text() + "# sent_id = long\n" + "\n".join(rows) + "\n\n")
    cfg = pos.DataConfig(dir=str(tmp_path / "toy"), name="toy")
    with pytest.raises(ValueError, match=rf"{dev}:{start}: a sentence of 2,001 words"):
        pos.load_split(cfg, "dev")


def test_an_mr_line_over_the_limit_names_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "sentence-polarity"
    folder.mkdir()
    (folder / "rt-polarity.pos").write_text("a fine film .\n")
    (folder / "rt-polarity.neg").write_text("a dull film .\n" + words(5001) + "\n")
    with pytest.raises(ValueError, match=r"rt-polarity\.neg:2: a text of 5,001 words"):
        load_mr(tmp_path)


def _png(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header then claims ``width x height`` (CRC fixed up)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (1, 1), "white").save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17]))
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


def test_caption_images_over_the_limits_are_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(_png(10_000, 5_000))  # 50 megapixels in 70 bytes
    with pytest.raises(ValueError, match=r"big\.png: 10000 x 5000 pixels.*40,000,000"):
        caption_data.load_image(big, 16)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png(60_000, 60_000))  # 3.6 gigapixels: PIL itself stops at the header
    with pytest.raises(ValueError, match=r"bomb\.png: more than 40,000,000 pixels"):
        caption_data.load_image(bomb, 16)
    small = tmp_path / "ok.png"
    small.write_bytes(_png(1, 1))
    assert caption_data.load_image(small, 16).shape == (16, 16, 3)
    monkeypatch.setattr(caption_data, "MAX_IMAGE_BYTES", 10)
    with pytest.raises(ValueError, match=r"ok\.png: \d+ bytes; images of at most 10 "):
        caption_data.load_image(small, 16)


def test_caption_predict_reads_images_in_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    run = make_run("caption", tmp_path)
    paths = []
    for i in range(5):
        arr = np.random.default_rng(i).integers(0, 255, (20, 20, 3), dtype=np.uint8)
        Image.fromarray(arr).save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    together = run.predict(paths)
    monkeypatch.setattr(type(run.task), "predict_batch_tokens", 2)
    assert run.predict(paths) == together


# --- raw text and --pretokenized ----------------------------------------------------------


@pytest.fixture(scope="module")
def pos_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pos")
    write_treebank(root / "toy")
    cfg = apply_overrides(pos.Config(), [*tiny_config("pos", root)[1], "train.steps=2"])
    train_task("pos", cfg, root / "run", CPU, progress=False)
    return root / "run"


def test_predict_splits_clitics_unless_pretokenized(
    pos_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["predict", str(pos_run), "I can't believe it's not butter!"]) == 0
    out = capsys.readouterr().out.split()
    assert [p.rsplit("/", 1)[0] for p in out] == [
        "I",
        "ca",
        "n't",
        "believe",
        "it",
        "'s",
        "not",
        "butter",
        "!",
    ]
    assert cli.main(["predict", str(pos_run), "I can't go !", "--pretokenized"]) == 0
    out = capsys.readouterr().out.split()
    assert [p.rsplit("/", 1)[0] for p in out] == ["I", "can't", "go", "!"]


@pytest.mark.parametrize(
    ("name", "line", "raw", "pre"),
    [
        ("sentiment", "It's fine,really", ["it's", "fine", ",", "really"], ["it's", "fine,really"]),
        ("lm", "The film.", ["the", "film", "."], ["the", "film."]),
    ],
)
def test_text_tasks_take_pretokenized(
    name: str, line: str, raw: list[str], pre: list[str], tmp_path: Path
) -> None:
    run = make_run(name, tmp_path)
    assert run.task.encode(run.cfg, run.res, line, "x") == raw
    assert run.task.encode(run.cfg, run.res, line, "x", pretokenized=True) == pre
    assert len(run.predict([line], pretokenized=True)) == 1


def test_pretokenized_is_refused_by_tasks_without_text(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="parity predict does not take pretokenized"):
        make_run("parity", tmp_path).predict(["0 1"], pretokenized=True)


@pytest.mark.slow
def test_bench_inputs_quick(capsys: pytest.CaptureFixture[str]) -> None:
    from rnnlab.bench.inputs import main

    assert main(["--quick"]) == 0
    rows = [
        r
        for r in capsys.readouterr().out.splitlines()
        if r.startswith("| pos") or r.startswith("| parity")
    ]
    assert len(rows) == 3
    assert rows[1].split("|")[3].strip() == "2" and "2,000" in rows[1]  # refused, named
    assert all(float(r.split("|")[4].replace(",", "")) > 0 for r in rows)
