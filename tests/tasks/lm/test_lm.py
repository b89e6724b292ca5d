"""The LSTM language model: shapes, exact perplexity of a uniform model, a training step,
the stream encoding, seeded generation and the task contract on hand-written text."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from rnnlab.nn.vocab import EOS, PAD, UNK, Vocab
from rnnlab.tasks.lm import task as lm_task
from rnnlab.tasks.lm.model import LanguageModel


@pytest.mark.parametrize("cutoffs", [(), (5, 12)])
def test_shapes_and_normalised_probabilities(cutoffs: tuple[int, ...]) -> None:
    model = LanguageModel(20, embed=6, hidden=16, cutoffs=cutoffs).eval()
    tokens = torch.randint(0, 20, (3, 7))  # (B, T)
    out, (h, c) = model.hidden_states(tokens)
    assert out.shape == (3, 7, 16) and h.shape == c.shape == (1, 3, 16)
    logp = model.log_probs(out.reshape(-1, 16))  # (B*T, V)
    assert logp.shape == (21, 20)
    torch.testing.assert_close(logp.exp().sum(-1), torch.ones(21))
    loss, _ = model.loss(tokens[:, :-1], tokens[:, 1:])
    targets = tokens[:, 1:].reshape(-1)  # (B*(T-1),)
    by_hand = -model.log_probs(model.hidden_states(tokens[:, :-1])[0].reshape(-1, 16))
    torch.testing.assert_close(loss, by_hand[torch.arange(18), targets].mean())


def test_uniform_model_has_perplexity_equal_to_vocabulary_size() -> None:
    model = LanguageModel(17, embed=4, hidden=5)
    assert isinstance(model.out, torch.nn.Linear)
    torch.nn.init.zeros_(model.out.weight)
    torch.nn.init.zeros_(model.out.bias)
    ids = torch.randint(0, 17, (101,))
    (ppl,) = lm_task.perplexities(model, ids, bptt=10, device=torch.device("cpu"))
    assert ppl == pytest.approx(17.0, rel=1e-5)


def test_a_training_step_changes_parameters() -> None:
    torch.manual_seed(0)
    model = LanguageModel(30, embed=6, hidden=8, dropout=0.0, cutoffs=(10,))
    before = {k: v.clone() for k, v in model.named_parameters()}
    tokens = torch.randint(1, 30, (4, 9))
    model.loss(tokens[:, :-1], tokens[:, 1:])[0].backward()
    torch.optim.SGD(model.parameters(), lr=1.0).step()
    changed = [k for k, v in model.named_parameters() if not torch.equal(v, before[k])]
    assert {"embed.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0"} <= set(changed)
    assert any(k.startswith("out.") for k in changed)


@pytest.mark.parametrize("cutoffs", [(), (5, 12)])
def test_bidirectional_lm_is_two_lms_against_torch_nn(cutoffs: tuple[int, ...]) -> None:
    """Forward: next token from the tokens up to it; reverse: the previous token from the
    tokens after it, i.e. a plain LSTM over the flipped window with the reverse weights."""
    torch.manual_seed(0)
    model = LanguageModel(20, embed=6, hidden=7, cutoffs=cutoffs, bidirectional=True).eval()
    tokens = torch.randint(0, 20, (3, 9))  # (B, T)
    targets = torch.randint(0, 20, (3, 9))  # (B, T)
    ref = {d: torch.nn.LSTM(6, 7, batch_first=True) for d in ("", "_reverse")}
    for d, lstm in ref.items():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(lstm, f"{name}_l0").data.copy_(getattr(model.rnn, f"{name}_l0{d}"))
    emb = model.embed(tokens)  # (B, T, E)
    fwd = ref[""](emb)[0]  # (B, T, H)
    bwd = ref["_reverse"](emb.flip(1))[0].flip(1)  # (B, T, H): at t, has read tokens[t:]

    def nll(hidden: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logp = model.log_probs(hidden.reshape(-1, 7))  # (N, V)
        return -logp[torch.arange(logp.shape[0]), y.reshape(-1)].mean()

    with torch.no_grad():
        losses = model.direction_losses(tokens, targets)
        mean, _ = model.loss(tokens, targets)
        torch.testing.assert_close(losses[0], nll(fwd, targets))
        torch.testing.assert_close(losses[1], nll(bwd[:, 1:], tokens[:, :-1]))
        torch.testing.assert_close(mean, (losses[0] + losses[1]) / 2)
    with pytest.raises(ValueError, match="state=None"):
        model.loss(tokens, targets, (torch.zeros(2, 3, 7), torch.zeros(2, 3, 7)))


def test_stream_and_windows_by_hand() -> None:
    vocab = Vocab([PAD, UNK, EOS, "the", "film", "."])
    ids, starts = lm_task.stream([["the", "film", "."], ["film", "noir"]], vocab)
    assert ids.tolist() == [3, 4, 5, 2, 4, 1, 2] and starts.tolist() == [0, 4]
    x, y = lm_task.windows(ids, 3)
    assert x.tolist() == [[3, 4, 5], [2, 4, 1]] and y.tolist() == [[4, 5, 2], [4, 1, 2]]
    with pytest.raises(ValueError, match="shorter than one window"):
        lm_task.windows(ids, 7)


def test_window_batches_start_at_sentences_and_shift_by_one() -> None:
    vocab = Vocab([PAD, UNK, EOS, "a", "b", "c", "d"])
    sents = [["a", "b"], ["c"], ["d", "a", "b"], ["c", "d"]]
    ids, starts = lm_task.stream(sents, vocab)  # a b </s> c </s> d a b </s> c d </s>
    batch_fn = lm_task.window_batches(ids, starts, 3, 5, seed=0, device=torch.device("cpu"))
    fits = {0, 3, 5}  # sentence starts with 3 + 1 tokens left; 9 (c d </s>) does not fit
    seen = set()
    for step in range(4):
        x, y = batch_fn(step)
        assert x.shape == y.shape == (5, 3)
        for row_x, row_y in zip(x.tolist(), y.tolist(), strict=True):
            at = next(i for i in fits if ids[i : i + 3].tolist() == row_x)
            assert row_y == ids[at + 1 : at + 4].tolist()
            seen.add(at)
    assert seen == fits and torch.equal(batch_fn(2)[0], batch_fn(2)[0])  # seeded by step
    with pytest.raises(ValueError, match="shorter than one window"):
        lm_task.window_batches(ids, starts, 12, 2, 0, torch.device("cpu"))


def write_corpus(root: Path) -> None:
    mr = root / "sentence-polarity"
    mr.mkdir(parents=True)
    (mr / "rt-polarity.pos").write_text("a fine film .\n")
    (mr / "rt-polarity.neg").write_text("a dull film .\n")
    g = torch.Generator().manual_seed(0)
    for split, tag in (("pos", "cv500"), ("neg", "cv010")):  # cv010: a dev review
        d = root / "movie-review-text" / "polarity-v2.0" / split
        d.mkdir(parents=True)
        pick = torch.randint(0, 2, (60, 2), generator=g).tolist()
        lines = [f"the {('man', 'dog')[a]} is {('fine', 'dull')[b]} ." for a, b in pick]
        (d / f"{tag}_1.txt").write_text("\n".join(["a fine film .", *lines]) + "\n")


def test_task_trains_evaluates_and_generates(tmp_path: Path) -> None:
    from rnnlab.tasks import load_run, train_task
    from rnnlab.training.config import apply_overrides

    write_corpus(tmp_path / "data")
    cfg = apply_overrides(
        lm_task.Config(),
        [
            f"data.dir='{tmp_path / 'data'}'",
            "data.bptt=8",
            "model.embed=8",
            "model.hidden=16",
            "model.cutoffs=[6]",
            "train.steps=40",
            "train.eval_every=20",
            "train.batch_size=8",
            "train.warmup=0",
            "train.lr=0.02",
        ],
    )
    metrics = train_task("lm", cfg, tmp_path / "run", torch.device("cpu"), progress=False)
    assert metrics["dropped_mr_lines"] == 1  # "a fine film ." is an MR line
    assert 1.0 < metrics["ppl"] < 0.5 * metrics["vocab"]  # far below a uniform guess
    trained = load_run(tmp_path / "run", "cpu")
    dev = trained.evaluate("dev")
    assert dev["ppl"] == pytest.approx(metrics["ppl"], rel=1e-5)
    assert 1.0 < dev["ppl_backward"] < 0.5 * metrics["vocab"]  # the reverse LM learned too
    first = trained.predict(["The film"], generate=True)
    assert first == trained.predict(["The film"], generate=True)  # seeded
    assert first[0].startswith("the film") and len(first[0].split()) > 2
    assert math.isfinite(float(trained.predict(["a man"])[0].split()[1]))
    with pytest.raises(ValueError, match="empty"):
        trained.predict(["  "], generate=True)


def test_adapting_the_lm_to_mr_text_lowers_its_perplexity_there(tmp_path: Path) -> None:
    """ULMFiT's second stage (``finetune.lm_steps``) trains the LM on the training snippets
    only: it never reads a test set, and the dev snippets' perplexity falls."""
    from rnnlab.tasks import load_run, train_task
    from rnnlab.tasks.sentiment import task as sentiment
    from rnnlab.tasks.sentiment.data import Corpus
    from rnnlab.training.config import apply_overrides

    write_corpus(tmp_path / "data")
    cfg = apply_overrides(
        lm_task.Config(),
        [
            f"data.dir='{tmp_path / 'data'}'",
            "data.bptt=6",
            "model.embed=8",
            "model.hidden=16",
            "model.cutoffs=[]",
            "train.steps=10",
            "train.eval_every=10",
            "train.batch_size=8",
            "train.warmup=0",
        ],
    )
    train_task("lm", cfg, tmp_path / "run", torch.device("cpu"), progress=False)
    trained = load_run(tmp_path / "run", "cpu")
    before = {k: v.clone() for k, v in trained.model.state_dict().items()}  # type: ignore[attr-defined]
    mr = [["a", "dull", "dog", "."], ["a", "fine", "film", "."]] * 20  # unlike the LM's text
    data = {"train": Corpus(mr, [0, 1] * 20), "dev": Corpus(mr[:4], [0, 1] * 2)}  # no "test"
    ft = sentiment.FinetuneConfig(lm_steps=30, lm_lr=0.01)
    got = sentiment.adapt_lm(trained, data, ft, seed=0, device=torch.device("cpu"), progress=False)
    assert got["lm_dev_ppl_after"] < 0.5 * got["lm_dev_ppl_before"]
    after = trained.model.state_dict()  # type: ignore[attr-defined]
    assert all(not torch.equal(before[k], after[k]) for k in ("embed.weight", "rnn.weight_ih_l0"))
