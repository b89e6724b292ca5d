"""The reversal task: encoding, splits, bad inputs, and an end-to-end run via the task API."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from rnnlab import cli
from rnnlab.lecture.reverse import already_read, mirror_mass
from rnnlab.tasks import load_run
from rnnlab.tasks.base import Run
from rnnlab.tasks.reverse import task as reverse
from rnnlab.training.config import save_config
from rnnlab.training.loop import TrainConfig
from rnnlab.training.samplers import hash_bucket


def test_encoding_of_the_docstring_example() -> None:
    src, lengths = reverse.pad_sources([[3, 1, 4], [0, 1, 2, 3, 4]], 10)
    b = reverse.make_batch(src, lengths, 10)
    assert reverse.special_ids(10) == (10, 11, 12)
    assert b.src[0].tolist() == [3, 1, 4, 10, 10] and b.src_len[0] == 3
    assert b.tgt_in[0].tolist() == [11, 4, 1, 3, 10, 10]
    assert b.tgt_out[0].tolist() == [4, 1, 3, 12, 10, 10]
    assert b.tgt_out[1].tolist() == [4, 3, 2, 1, 0, 12]


def test_targets_are_the_reversed_sources() -> None:
    g = torch.Generator().manual_seed(0)
    src, lengths = reverse.sample_sources(200, 7, 1, 9, g)
    b = reverse.make_batch(src, lengths, 7)
    for i in range(200):
        n = int(lengths[i])
        assert b.tgt_out[i, :n].tolist() == src[i, :n].tolist()[::-1]
        assert b.tgt_out[i, n] == 9 and b.tgt_in[i, 0] == 8
        assert bool((src[i, n:] == 7).all())


def test_splits_are_disjoint_and_seeded() -> None:
    g = torch.Generator().manual_seed(0)
    seen = {}
    for split in ("train", "dev", "test"):
        src, lengths = reverse.sample_split(1500, split, 10, 1, 6, g)
        assert lengths.min() >= 1 and lengths.max() <= 6
        seen[split] = {tuple(s[: int(n)].tolist()) for s, n in zip(src, lengths, strict=True)}
    long = {s for s in seen["test"] if len(s) >= 2}  # length 1 is shared by design
    assert long and not long & seen["train"] and not long & seen["dev"]
    assert not {s for s in seen["dev"] if len(s) >= 2} & seen["train"]
    a = reverse.fixed_set(reverse.DataConfig(), "test", 50)
    b = reverse.fixed_set(reverse.DataConfig(), "test", 50)
    assert torch.equal(a.src, b.src)


def test_bucket_ignores_padding() -> None:
    src = torch.tensor([[3, 1, 4, 10, 10], [3, 1, 4, 0, 0]])
    assert hash_bucket(src, torch.tensor([3, 3])).unique().numel() == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("3 1 x", "token 3: expected an integer in 0..9, got 'x'"),
        ("3 10", "token 2: expected an integer in 0..9, got '10'"),
        ("-1", "got '-1'"),
        ("2.5", "got '2.5'"),
    ],
)
def test_bad_inputs(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        reverse.parse_line(line, 10, "input line 1")


def test_exact_matches_needs_every_token_and_the_eos() -> None:
    tgt = torch.tensor([[4, 1, 3, 12, 10]])
    assert reverse.exact_matches(torch.tensor([[4, 1, 3, 12]]), tgt, 10).tolist() == [True]
    assert reverse.exact_matches(torch.tensor([[4, 1, 3, 3, 12]]), tgt, 10).tolist() == [False]
    assert reverse.exact_matches(torch.tensor([[4, 1, 3]]), tgt, 10).tolist() == [False]


def test_lecture_helpers() -> None:
    read, unread = already_read(torch.tensor([4, 3]), 5)
    # length 4: outputs x3 x2 | x1 x0; length 3: x2 | x1 x0 (the middle one is read by then)
    assert read.tolist() == [[False, False, True, True, False], [False, True, True, False, False]]
    assert unread.tolist() == [[True, True, False, False, False], [True] + [False] * 4]
    w = torch.zeros(2, 4, 3)
    for t in range(3):
        w[0, t, 2 - t] = 1.0  # a perfect anti-diagonal, length 3
    w[1, 0, 0] = w[1, 1, 0] = 0.5  # length 1: half the weight on the only token
    assert mirror_mass(w, torch.tensor([3, 1])).tolist() == [1.0, 1.0, 1.0, 0.5]


SMALL = reverse.Config(
    data=reverse.DataConfig(vocab=5, max_len=4, dev_size=200, test_size=200),
    model=reverse.ModelConfig(cell="lstm", embed=16, hidden=32, attention="additive"),
    train=TrainConfig(steps=400, batch_size=128, lr=1e-2, eval_every=50, log_every=50),
    goal=0.99,
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("reverse")
    save_config(SMALL, out / "config.toml", task="reverse")
    metrics = reverse.TASK.train(SMALL, out, torch.device("cpu"), progress=False)
    assert metrics["exact"] >= 0.95, metrics
    return out


def test_end_to_end_reversal(run_dir: Path) -> None:
    trained = load_run(run_dir, device="cpu")
    test = trained.evaluate("test")
    assert test["exact"] >= 0.95 and test["n"] == 200
    assert trained.predict(["3 1 4", "0", "2 2 0 1"]) == ["4 1 3", "0", "1 0 2 2"]
    assert trained.predict(["3 1 4"], beam=3) == ["4 1 3"]
    assert trained.predict(["3 1 4", "0", "2 2 0 1"], beam=3) == ["4 1 3", "0", "1 0 2 2"]
    with pytest.raises(ValueError, match=r"input line 2, token 1: expected an integer in 0..4"):
        trained.predict(["1 2", "7"])
    with pytest.raises(ValueError, match="input line 1 is empty"):
        trained.predict([""])
    with pytest.raises(ValueError, match="split dev, test or long"):
        trained.evaluate("train")


def test_cli_predict_and_eval(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["predict", str(run_dir), "3 1 4", "--device", "cpu"]) == 0
    assert capsys.readouterr().out.strip() == "4 1 3"
    assert cli.main(["predict", str(run_dir), "3 9", "--device", "cpu"]) == 2
    assert "expected an integer in 0..4, got '9'" in capsys.readouterr().err
    assert cli.main(["eval", str(run_dir), "--split", "dev", "--json", "--device", "cpu"]) == 0
    assert '"exact"' in capsys.readouterr().out


def test_beam_predict_decodes_all_lines_at_once_as_each_alone() -> None:
    """An untrained model (long, odd outputs): the batch keeps each line's own limit."""
    torch.manual_seed(3)
    model = reverse.build_model(SMALL).eval()
    rm = Run(reverse.TASK, SMALL, None, model, torch.device("cpu"), Path("."))
    lines = ["3 1 4", "0", "2 2 0 1 4 4 3", "1 1"]
    together = rm.predict(lines, beam=3)
    assert together == [rm.predict([line], beam=3)[0] for line in lines]
    for line, out in zip(lines, together, strict=True):
        assert len(out.split()) <= 2 * len(line.split()) + 5


def test_config_changes_are_checked() -> None:
    with pytest.raises(ValueError, match=r"vocab: expected a value >= 2, got 1"):
        reverse.build_model(replace(SMALL, data=replace(SMALL.data, vocab=1)))
    with pytest.raises(ValueError, match="attention: expected one of 'none', 'additive'"):
        reverse.build_model(replace(SMALL, model=replace(SMALL.model, attention="cosine")))
