"""pos ``probe`` (view "tags"): predict's tags, their probabilities (softmax, or a CRF's
marginals checked against brute-force enumeration), JSON-able output, dev examples."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from rnnlab.bench.inputs import write_treebank
from rnnlab.tasks.base import Run
from rnnlab.tasks.pos import task as pos
from rnnlab.training.config import apply_overrides

CPU = torch.device("cpu")


def _run(tmp_path: Path, crf: bool) -> Run:
    """An untrained tiny tagger on the toy treebank (a CRF's transitions randomized)."""
    write_treebank(tmp_path / "toy", 12)
    sets = [f'data.dir="{tmp_path / "toy"}"', 'data.name="toy"', f"model.crf={str(crf).lower()}"]
    sets += ["model.word_dim=8", "model.char_dim=4", "model.char_hidden=4", "model.hidden=8"]
    cfg = apply_overrides(pos.Config(), [*sets, "model.layers=1"])
    res = pos.TASK.prepare(cfg, None)
    torch.manual_seed(0)
    model = pos.TASK.build_model(cfg, res).eval()
    if model.crf is not None:
        with torch.no_grad():
            for p in model.crf.parameters():
                p.copy_(3 * torch.randn_like(p))
    return Run(pos.TASK, cfg, res, model, CPU, tmp_path)


@pytest.mark.parametrize("crf", [False, True])
def test_probe_tags_are_predicts_with_their_probabilities(tmp_path: Path, crf: bool) -> None:
    run = _run(tmp_path, crf)
    line = "The old dog sees a quiet river."
    got = run.probe(line)
    assert json.loads(json.dumps(got)) == got  # plain JSON data
    assert got["view"] == "tags" and got["answer"] == run.predict([line])[0]
    assert got["p_kind"] == ("marginal" if crf else "softmax")
    words = got["tokens"]
    assert got["answer"] == " ".join(f"{w}/{t}" for w, t in zip(words, got["tags"], strict=True))
    assert len(got["p"]) == len(got["top"]) == len(words) == 8
    x = run.res.batch([words])
    with torch.no_grad():
        emissions = run.model.emissions(x)[0]  # (T, K)
    for i, (tag, p, top) in enumerate(zip(got["tags"], got["p"], got["top"], strict=True)):
        assert len(top) == 3 and [q for _, q in top] == sorted([q for _, q in top], reverse=True)
        assert dict(top).get(tag, p) == p  # the chosen tag's probability, if among the top 3
        if not crf:  # each word's own softmax: the tag is its argmax
            probs = emissions[i].softmax(-1)
            assert top[0][0] == tag == run.res.tags.itos[int(emissions[i].argmax())]
            assert p == pytest.approx(float(probs.max()), abs=1e-4)


def test_crf_marginals_match_brute_force(tmp_path: Path) -> None:
    run = _run(tmp_path, crf=True)
    got = run.probe("a dog sees")
    assert got["p_kind"] == "marginal" and got["answer"] == run.predict(["a dog sees"])[0]
    crf = run.model.crf
    assert crf is not None
    with torch.no_grad():
        emissions = run.model.emissions(run.res.batch([got["tokens"]]))  # (1, 3, K)
    k = emissions.shape[2]
    seqs = torch.tensor(list(itertools.product(range(k), repeat=3)))  # (K^3, 3)
    scores = crf.score(emissions.expand(len(seqs), -1, -1), seqs, torch.full((len(seqs),), 3))
    p_seq = scores.softmax(0)  # (K^3,): p(y | x) of every sequence
    marg = torch.zeros(3, k).index_put_(
        (torch.arange(3).repeat(len(seqs)), seqs.flatten()),
        p_seq.repeat_interleave(3),
        accumulate=True,
    )  # (3, K)
    best = seqs[int(scores.argmax())]  # Viterbi by enumeration
    assert got["tags"] == run.res.tags.decode(best.tolist())
    assert got["p"] == pytest.approx(marg[torch.arange(3), best].tolist(), abs=1e-4)
    for t, top in enumerate(got["top"]):
        want = marg[t].topk(3)
        assert [run.res.tags.stoi[tag] for tag, _ in top] == want.indices.tolist()
        assert [q for _, q in top] == pytest.approx(want.values.tolist(), abs=1e-4)
    # and padding: a longer sentence in the batch does not change a shorter one's marginals
    both = run.res.batch([got["tokens"], ["The", "big", "man", "finds", "the", "boat", "."]])
    with torch.no_grad():
        e2 = run.model.emissions(both)
    m2 = crf.marginals(e2, both.lengths)
    assert torch.allclose(m2[0, :3], marg, atol=1e-5) and m2[0, 3:].abs().sum() == 0


def test_empty_line_pretokenized_and_examples(tmp_path: Path) -> None:
    run = _run(tmp_path, crf=False)
    empty = run.probe("")
    assert empty["answer"] == "" == run.predict([""])[0] and empty["tokens"] == empty["p"] == []
    got = run.probe("the dog's boat", pretokenized=True)
    assert got["tokens"] == ["the", "dog's", "boat"]
    assert got["answer"] == run.predict(["the dog's boat"], pretokenized=True)[0]
    with pytest.raises(ValueError, match="does not take beam"):
        run.probe("a dog", beam=2)
    with pytest.raises(ValueError, match="takes text lines"):
        run.probe(b"\x89PNG")
    examples = pos.TASK.examples(run, 3)
    dev = pos.load_split(run.cfg.data, "dev")
    assert examples == [" ".join(s.words) for s in dev[:3]]
    assert all(run.probe(e)["tokens"] == e.split() for e in examples)
    assert pos.TASK.examples(run, 0) == []
    elsewhere = replace(run.cfg, data=replace(run.cfg.data, dir=str(tmp_path / "gone")))
    gone = Run(pos.TASK, elsewhere, run.res, run.model, CPU, tmp_path)
    assert pos.TASK.examples(gone, 3) == []  # no data where the config says: no examples
