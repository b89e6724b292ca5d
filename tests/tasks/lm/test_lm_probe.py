"""lm ``probe`` (view "text"): seeded sampling at a temperature, each word's probability
checked against the model's own softmax, a tiny temperature against greedy decoding done
by hand, predict's answer, bad option values and dev prompts."""

from __future__ import annotations

import json
import math

import pytest
import torch
from test_lm import write_corpus  # the toy corpus of the lm tests

from rnnlab.nn.vocab import EOS
from rnnlab.tasks.base import Run
from rnnlab.tasks.lm import task as lm
from rnnlab.training.config import apply_overrides

CPU = torch.device("cpu")
PROMPT = "the dog is"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """An untrained tiny bidirectional LM (random weights, so every word is possible)."""
    root = tmp_path_factory.mktemp("lm")
    write_corpus(root)
    sets = [f'data.dir="{root}"', "model.embed=8", "model.hidden=16", "model.cutoffs=[]"]
    cfg = apply_overrides(lm.Config(), sets)
    vocab = lm.TASK.prepare(cfg, None)
    torch.manual_seed(0)
    with torch.no_grad():
        model = lm.TASK.build_model(cfg, vocab).eval()
        for p in model.parameters():
            p.mul_(4)  # sharper than at initialization: the temperature matters
    return Run(lm.TASK, cfg, vocab, model, CPU, root)


def _next_log_probs(run: Run, words: list[str]) -> torch.Tensor:
    """log p(next word | words) (V,), the whole prefix read afresh, <pad> and <unk> barred."""
    vocab, model = run.res, run.model
    with torch.no_grad():
        out, _ = model.hidden_states(torch.tensor([vocab.encode(words)]))
        logp = model.log_probs(out[:, -1, : model.hidden])[0]  # (V,)
    logp[[vocab.pad_id, vocab.unk_id]] = float("-inf")
    return logp


def test_probabilities_are_the_models_at_the_temperature(run: Run) -> None:
    for t in (1.0, 2.5, 0.5):
        got = run.probe(PROMPT, temperature=t, seed=3, generate=6)
        assert json.loads(json.dumps(got)) == got
        assert got["view"] == "text" and got["temperature"] == t
        assert got["prompt"] == PROMPT.split() and 0 < len(got["tokens"]) <= 6
        words = list(got["prompt"])
        for tok in got["tokens"]:
            p = (_next_log_probs(run, words) / t).softmax(-1)
            assert tok["p"] == pytest.approx(float(p[run.res.id(tok["token"])]), abs=1e-4)
            words.append(tok["token"])


def test_same_seed_same_text_and_tiny_temperature_is_greedy(run: Run) -> None:
    def text(**options: object) -> list[str]:
        return [t["token"] for t in run.probe(PROMPT, generate=12, **options)["tokens"]]

    assert text(seed=1) == text(seed=1)
    assert len({tuple(text(seed=s)) for s in range(6)}) > 1  # the seed matters
    words, greedy = PROMPT.split(), []
    for _ in range(12):  # greedy decoding by hand
        best = run.res.itos[int(_next_log_probs(run, words + greedy).argmax())]
        if best == EOS:
            break
        greedy.append(best)
    tiny = run.probe(PROMPT, generate=12, temperature=1e-6, seed=5)
    assert [t["token"] for t in tiny["tokens"]] == greedy
    assert all(t["p"] == 1.0 for t in tiny["tokens"])
    assert text(temperature=1e-30, seed=1) == greedy  # no overflow at extreme values


def test_answer_is_predicts_line(run: Run) -> None:
    got = run.probe(PROMPT)
    assert got["answer"] == run.predict([PROMPT])[0] and got["answer"].startswith("ppl ")
    assert 0 < len(got["tokens"]) <= lm.GENERATE_WORDS
    five = run.probe(PROMPT, generate=5)
    assert five["answer"] == run.predict([PROMPT], generate=5)[0]
    assert len(five["answer"].split()) <= 3 + 5
    # predict's own continuation is probe's at its temperature (0.8) and the run's seed
    same = run.probe(PROMPT, generate=True, temperature=0.8)
    assert same["answer"] == run.predict([PROMPT], generate=True)[0]
    assert same["answer"] == " ".join([*same["prompt"], *(t["token"] for t in same["tokens"])])
    assert run.probe(PROMPT, generate=0)["tokens"] == []
    assert run.probe("The  DOG", pretokenized=True)["prompt"] == ["the", "dog"]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("temperature", 0, "temperature expects a finite number > 0, got 0"),
        ("temperature", -1.5, "got -1.5"),
        ("temperature", math.nan, "got nan"),
        ("temperature", "hot", "temperature expects a number > 0, got 'hot'"),
        ("temperature", True, "got True"),
        ("seed", -1, "seed expects an integer in 0..2\\*\\*63-1, got -1"),
        ("seed", 1.5, "got 1.5"),
        ("generate", -2, "generate expects true, false or a number of words >= 0, got -2"),
        ("generate", "5", "got '5'"),
    ],
)
def test_bad_values_say_what_was_expected(
    run: Run, option: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        run.probe(PROMPT, **{option: value})


def test_generate_is_capped_and_examples(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lm, "MAX_GENERATE", 2)
    assert len(run.probe(PROMPT, generate=10**9, temperature=1e-6)["tokens"]) <= 2
    assert len(run.predict([PROMPT], generate=10**9)[0].split()) <= 3 + 2
    with pytest.raises(ValueError, match="does not take beam"):
        run.probe(PROMPT, beam=3)
    examples = lm.TASK.examples(run, 3)
    dev = [" ".join(s) for s in lm.text_of(run.cfg.data, "dev").sentences]
    assert len(examples) == 3 and all(any(d.startswith(e) for d in dev) for e in examples)
    assert all(run.probe(e)["prompt"] == e.split() for e in examples)
