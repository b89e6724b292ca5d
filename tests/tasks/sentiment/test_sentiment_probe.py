"""sentiment ``probe`` (view "prefix"): P(label) after every prefix, checked against the
classifier run on each prefix alone (unidirectional: one pass; bidirectional: rows; an
ensemble: the members' mean), the last row against predict, and dev examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from reliability.reliability_helpers import write_mr  # the toy MR snippets
from rnnlab.nn.vocab import Vocab
from rnnlab.tasks.base import Run
from rnnlab.tasks.sentiment import task as sentiment
from rnnlab.training.config import apply_overrides

CPU = torch.device("cpu")
TEXT = "a witty , moving film but the plot is dull"


def _member(cfg: sentiment.Config, vocab: Vocab, seed: int) -> sentiment.SentimentClassifier:
    torch.manual_seed(seed)
    return sentiment.build_model(cfg, len(vocab)).eval()


def _run(tmp_path: Path, *sets: str) -> Run:
    """Untrained tiny classifier(s) on a toy MR (the vocabulary from its training part)."""
    root = tmp_path / "data"
    write_mr(root, 30)
    cfg = apply_overrides(
        sentiment.Config(),
        [f'data.dir="{root}"', "model.embed=8", "model.hidden=6", "data.min_freq=1", *sets],
    )
    vocab = Vocab.build(sentiment.splits(cfg.data)["train"].texts, min_freq=1)
    members = [_member(cfg, vocab, seed) for seed in range(cfg.ensemble)]
    model = sentiment.Ensemble(members).eval() if cfg.ensemble > 1 else members[0]
    return Run(sentiment.TASK, cfg, [vocab] * cfg.ensemble, model, CPU, tmp_path)


def _alone(model: sentiment.SentimentClassifier, ids: list[int]) -> float:
    """P(positive) of one sequence, by itself (no batch, no padding)."""
    with torch.no_grad():
        logits = model(torch.tensor([ids]), torch.tensor([len(ids)]))  # (1, 2)
    return float(logits.softmax(-1)[0, 1])


@pytest.mark.parametrize(
    "sets",
    [
        (),  # the default: bidirectional LSTM, last+max+mean: prefixes as rows
        ("model.bidirectional=false", "model.cell='gru'", "model.layers=2"),  # one pass
        ("model.bidirectional=false", "model.pooling='last'"),
    ],
)
def test_prefix_k_is_the_classifier_on_the_first_k_words(tmp_path: Path, sets: tuple) -> None:
    run = _run(tmp_path, *sets)
    got = run.probe(TEXT)
    assert json.loads(json.dumps(got)) == got
    assert got["view"] == "prefix" and got["labels"] == ["negative", "positive"]
    assert got["answer"] == run.predict([TEXT])[0]
    words = got["tokens"]
    assert words == TEXT.split() and len(got["p"]) == len(words)
    ids = run.res[0].encode(words)
    want = [_alone(run.model, ids[:k]) for k in range(1, len(ids) + 1)]
    assert [row[1] for row in got["p"]] == pytest.approx(want, abs=2e-4)
    assert all(abs(sum(row) - 1) < 2e-4 for row in got["p"])
    # the last row is the whole text, as predict computes it, and agrees with its answer
    whole = float(sentiment.probabilities_of(run.model, run.res, [words], CPU)[0])
    assert got["p"][-1][1] == pytest.approx(whole, abs=2e-4)
    label, p = got["answer"].split()
    last = got["p"][-1]
    assert label == got["labels"][int(last[1] > 0.5)] and float(p) == pytest.approx(
        max(last), abs=0.006
    )


def test_one_pass_equals_rows_for_a_unidirectional_model(tmp_path: Path) -> None:
    run = _run(tmp_path, "model.bidirectional=false", "model.cell='lstm'")
    model = run.model
    ids = run.res[0].encode(TEXT.split())
    with torch.no_grad():
        one_pass = model.prefix_logits(torch.tensor(ids)).softmax(-1)[:, 1]  # (T,)
    rows = sentiment.probabilities(model, [ids[:k] for k in range(1, len(ids) + 1)], CPU)
    assert torch.allclose(one_pass, rows, atol=1e-5)
    with pytest.raises(ValueError, match="unidirectional"):
        _run(tmp_path / "bi").model.prefix_logits(torch.tensor(ids))


def test_ensemble_prefixes_are_the_members_mean(tmp_path: Path) -> None:
    run = _run(tmp_path, "ensemble=2")
    got = run.probe(TEXT)
    assert got["answer"] == run.predict([TEXT])[0]
    ids = run.res[0].encode(TEXT.split())
    each = [[_alone(m, ids[:k]) for k in range(1, len(ids) + 1)] for m in run.model.members]
    assert each[0] != pytest.approx(each[1], abs=1e-3)  # a real average
    want = [(a + b) / 2 for a, b in zip(*each, strict=True)]
    assert [row[1] for row in got["p"]] == pytest.approx(want, abs=2e-4)


def test_limits_options_and_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _run(tmp_path)
    monkeypatch.setattr(sentiment, "MAX_PREFIX_WORDS", 4)
    with pytest.raises(ValueError, match=r"5 words.*at most 4"):
        run.probe("a b c d e")
    with pytest.raises(ValueError, match="input is empty"):
        run.probe("   ")
    with pytest.raises(ValueError, match="does not take temperature"):
        run.probe("fine", temperature=1.0)
    assert run.probe("fine,film", pretokenized=True)["tokens"] == ["fine,film"]
    examples = sentiment.TASK.examples(run, 4)
    dev = sentiment.splits(run.cfg.data)["dev"]
    assert len(examples) == 4 and all(e.split() in dev.texts for e in examples)
    assert len({dev.labels[dev.texts.index(e.split())] for e in examples}) == 2  # both labels
    assert sentiment.TASK.examples(run, 1000) and len(sentiment.TASK.examples(run, 1000)) == len(
        dev
    )
