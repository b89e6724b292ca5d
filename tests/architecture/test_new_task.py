"""Adding a task from outside the package (``examples/addition.py``, docs/architecture.md):
the CLI trains, evaluates and predicts with it through the Task interface alone."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from rnnlab.cli import main
from rnnlab.tasks import get_task, load_run
from rnnlab.tasks.base import Task

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def examples_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    yield
    sys.modules.pop("addition", None)


def test_a_task_is_found_by_module_and_object(examples_on_path):
    task = get_task("addition:TASK")
    assert isinstance(task, Task) and task.name == "addition"
    assert get_task("addition:AdditionTask").name == "addition"  # a class is instantiated


def test_unknown_tasks_get_clear_errors(examples_on_path):
    with pytest.raises(ValueError, match="known tasks: caption, chomsky, lm, parity, pos"):
        get_task("nope")
    with pytest.raises(ValueError, match="cannot import module 'no_such_module'"):
        get_task("no_such_module:TASK")
    with pytest.raises(ValueError, match=r"is not a rnnlab\.tasks\.base\.Task"):
        get_task("addition:make_batch")


def test_encoding_of_one_example_as_documented(examples_on_path):
    import addition

    b = addition.make_batch([("535+61", "596"), ("5353+61", "5414")])
    assert b.src[0].tolist() == [5, 3, 5, 10, 6, 1, 11]
    assert b.src_len.tolist() == [6, 7]
    assert b.tgt_in[0].tolist() == [12, 5, 9, 6, 11]
    assert b.tgt_out[0].tolist() == [5, 9, 6, 13, 11]


@pytest.mark.slow
def test_train_eval_predict_a_task_from_outside(examples_on_path, tmp_path, capsys):
    run = tmp_path / "add"
    sets = ["data.digits=2", "data.dev_size=200", "data.test_size=200", "train.steps=800"]
    sets += ["train.eval_every=200", "model.attention=general", "train.lr=0.01"]
    args = ["train", "addition:TASK", "--out", str(run), "--quiet"]
    assert main(args + [a for s in sets for a in ("--set", s)]) == 0
    assert json.loads(capsys.readouterr().out)["exact"] >= 0.7
    assert "addition:TASK" in (run / "config.toml").read_text()
    assert main(["eval", str(run), "--split", "test", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["exact"] >= 0.7
    trained = load_run(run, "cpu")
    got = trained.predict(["12+34", "7+80"])
    assert sum(g == w for g, w in zip(got, ["46", "87"], strict=True)) >= 1
    assert main(["predict", str(run), "12+x"]) == 2
    assert "input line 1: expected two numbers joined by '+'" in capsys.readouterr().err
