"""The tagger and the CRF: shapes, padding invariance, brute-force checks, learning."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnlab.nn.crf import CRF
from rnnlab.nn.vocab import pad_batch
from rnnlab.tasks.pos.model import Tagger, TaggerInput


def _random_crf(k: int, seed: int = 0) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(k)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


def _brute_scores(crf: CRF, emissions: torch.Tensor) -> dict[tuple[int, ...], float]:
    """s(y) of every tag sequence of one sentence (T, K), written from the definition."""
    steps, k = emissions.shape
    start, end, trans = (p.detach() for p in (crf.start, crf.end, crf.transitions))
    out = {}
    for ys in itertools.product(range(k), repeat=steps):
        s = float(start[ys[0]] + end[ys[-1]])
        s += sum(float(emissions[t, y]) for t, y in enumerate(ys))
        s += sum(float(trans[a, b]) for a, b in itertools.pairwise(ys))
        out[ys] = s
    return out


def test_crf_partition_and_viterbi_match_brute_force() -> None:
    k, steps = 3, 4
    crf = _random_crf(k)
    emissions = torch.randn(3, steps, k)  # (B, T, K)
    lengths = torch.tensor([4, 2, 1])
    emissions[1, 2:] = 100.0  # padding must not count, however large
    log_z = crf.log_partition(emissions, lengths)
    best = crf.viterbi(emissions, lengths)
    for b, n in enumerate(lengths.tolist()):
        scores = _brute_scores(crf, emissions[b, :n])
        want_z = torch.logsumexp(torch.tensor(list(scores.values())), 0)
        assert torch.allclose(log_z[b], want_z, atol=1e-5)
        argmax = max(scores, key=lambda ys: scores[ys])
        assert best[b, :n].tolist() == list(argmax)
        assert best[b, n:].tolist() == [0] * (steps - n)
        tags = torch.tensor([list(argmax) + [0] * (steps - n)])
        got = crf.score(emissions[b : b + 1], tags, lengths[b : b + 1])
        assert torch.allclose(got, torch.tensor([scores[argmax]]), atol=1e-5)


def test_crf_probabilities_sum_to_one() -> None:
    crf = _random_crf(2, seed=1)
    emissions = torch.randn(1, 3, 2)  # (B, T, K)
    lengths = torch.tensor([3])
    seqs = torch.tensor(list(itertools.product(range(2), repeat=3)))  # (8, T)
    nll = crf.nll(emissions.expand(8, -1, -1), seqs, lengths.expand(8))  # (8,)
    assert torch.allclose(torch.exp(-nll).sum(), torch.tensor(1.0), atol=1e-5)


VOCAB, CHARS, TAGS = 30, 12, 5


def _input(sentences: list[list[int]], spell: dict[int, list[int]]) -> TaggerInput:
    """Word ids -> TaggerInput; ``spell`` gives each word id's character ids."""
    words, lengths = pad_batch(sentences)
    forms: dict[int, int] = {}
    types = torch.zeros_like(words)
    for b, s in enumerate(sentences):
        types[b, : len(s)] = torch.tensor([forms.setdefault(w, len(forms)) for w in s])
    chars, char_lengths = pad_batch([spell[w] for w in forms])
    return TaggerInput(words, lengths, chars, char_lengths, types)


def _spellings(seed: int = 0) -> dict[int, list[int]]:
    g = torch.Generator().manual_seed(seed)
    return {
        w: torch.randint(
            1, CHARS, (int(torch.randint(1, 7, (1,), generator=g)),), generator=g
        ).tolist()
        for w in range(1, VOCAB)
    }


def _tagger(char_model: str = "lstm", crf: bool = False) -> Tagger:
    torch.manual_seed(0)
    return Tagger(
        VOCAB,
        CHARS,
        TAGS,
        word_dim=6,
        char_dim=5,
        char_hidden=4,
        char_model=char_model,
        hidden=7,
        layers=2,
        dropout=0.3,
        crf=crf,
    )


@pytest.mark.parametrize(("char_model", "crf"), [("lstm", False), ("cnn", True)])
def test_shapes(char_model: str, crf: bool) -> None:
    model = _tagger(char_model, crf)
    x = _input([[1, 2, 3], [4, 5], [6]], _spellings())
    assert model.emissions(x).shape == (3, 3, TAGS)
    tags = torch.randint(0, TAGS, (3, 3))
    loss = model.loss(x, tags)
    assert loss.shape == () and float(loss.detach()) > 0
    pred = model.predict(x)
    assert pred.shape == (3, 3) and pred.dtype == torch.long
    assert pred[1, 2] == 0 and pred[2, 1:].tolist() == [0, 0]


@pytest.mark.parametrize(("char_model", "crf"), [("lstm", False), ("cnn", False), ("lstm", True)])
def test_padding_invariance(char_model: str, crf: bool) -> None:
    """A sentence's scores and tags do not change when batched with longer sentences."""
    model = _tagger(char_model, crf).eval()
    spell = _spellings()
    spell[9] = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]  # a long word: longer char padding for others
    short = [7, 8, 2]
    alone = _input([short], spell)
    batched = _input([[9, 1, 2, 3, 4, 5, 6], short, [9, 9, 5, 5, 1]], spell)
    e_alone = model.emissions(alone)[0]  # (T, K)
    e_batched = model.emissions(batched)[1, : len(short)]  # (T, K)
    assert torch.allclose(e_alone, e_batched, atol=1e-5)
    assert model.predict(alone)[0].tolist() == model.predict(batched)[1, : len(short)].tolist()


def test_training_step_changes_every_parameter() -> None:
    model = _tagger(crf=True).train()
    x = _input([[1, 2, 3, 4], [5, 6]], _spellings())
    tags = torch.tensor([[1, 2, 3, 4], [2, 1, 0, 0]])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    opt.zero_grad()
    model.loss(x, tags).backward()
    opt.step()
    unchanged = [n for n, p in model.named_parameters() if torch.equal(before[n], p)]
    assert unchanged == []


def test_bad_char_model() -> None:
    with pytest.raises(ValueError, match="char_model"):
        Tagger(VOCAB, CHARS, TAGS, char_model="gru")
