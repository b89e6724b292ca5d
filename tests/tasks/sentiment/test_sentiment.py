"""MR loaders, folds, the classifier's masking and a short real run (issue 5)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from rnnlab.tasks import load_run
from rnnlab.tasks.lm.model import LanguageModel
from rnnlab.tasks.sentiment.data import folds, holdout, load_mr, load_pretraining
from rnnlab.tasks.sentiment.model import SentimentClassifier, init_from_lm


def write_mr(root: Path, pos: bytes, neg: bytes) -> Path:
    d = root / "sentence-polarity"
    d.mkdir(parents=True)
    (d / "rt-polarity.pos").write_bytes(pos)
    (d / "rt-polarity.neg").write_bytes(neg)
    return root


def write_random_mr(root: Path, seed: int) -> Path:
    """30 + 30 seeded five-word snippets over an eight-word vocabulary."""
    g = torch.Generator().manual_seed(seed)
    words = ["good", "fine", "dull", "bad", "film", "plot", "a", "the"]
    lines = [
        " ".join(words[i] for i in torch.randint(0, 8, (5,), generator=g).tolist())
        for _ in range(60)
    ]
    return write_mr(root, "\n".join(lines[:30]).encode(), "\n".join(lines[30:]).encode())


# --- loaders -----------------------------------------------------------------------------


def test_load_mr_hand_written(tmp_path: Path) -> None:
    root = write_mr(tmp_path, b"a fine film . \nwitty\n", b"a  dull mess\n")
    mr = load_mr(root)
    assert mr.texts == [["a", "dull", "mess"], ["a", "fine", "film", "."], ["witty"]]
    assert mr.labels == [0, 1, 1]


def test_load_mr_empty_line_names_file_and_line(tmp_path: Path) -> None:
    root = write_mr(tmp_path, b"good\n  \nfine\n", b"bad\n")
    with pytest.raises(ValueError, match=r"rt-polarity\.pos:2: empty line"):
        load_mr(root)


def test_load_mr_wrong_encoding_names_file_and_line(tmp_path: Path) -> None:
    root = write_mr(tmp_path, b"good\n", b"bad\nna\xefve\n")  # latin-1, not UTF-8
    with pytest.raises(ValueError, match=r"rt-polarity\.neg:2: expected UTF-8.*0xef"):
        load_mr(root)


def test_load_mr_missing_label_file(tmp_path: Path) -> None:
    root = write_mr(tmp_path, b"good\n", b"bad\n")
    (root / "sentence-polarity" / "rt-polarity.neg").unlink()
    with pytest.raises(FileNotFoundError, match=r"rt-polarity\.neg"):
        load_mr(root)


def test_pretraining_drops_mr_lines(tmp_path: Path) -> None:
    root = write_mr(tmp_path, b"a fine film .\n", b"a dull mess\n")
    rev = root / "movie-review-text" / "polarity-v2.0" / "pos"
    rev.mkdir(parents=True)
    (rev / "cv500_1.txt").write_text("the plot .\na   fine film . \n\nthe end .\n")
    (rev / "cv005_2.txt").write_text("held out .\n")  # a dev review
    text = load_pretraining(root, "train")
    assert text.sentences == [["the", "plot", "."], ["the", "end", "."]]
    assert text.dropped == 1
    assert load_pretraining(root, "dev").sentences == [["held", "out", "."]]


def test_folds_partition_and_seed() -> None:
    splits = folds(103, 10, seed=3)
    tests = [t for _, t in splits]
    assert sorted(i for t in tests for i in t) == list(range(103))
    assert {len(t) for t in tests} == {10, 11}
    for train, test in splits:
        assert set(train).isdisjoint(test) and len(train) + len(test) == 103
    assert folds(103, 10, seed=3) == splits and folds(103, 10, seed=4) != splits
    train, test = holdout(100, 0.1, seed=0)
    assert len(test) == 10 and sorted(train + test) == list(range(100))


@pytest.mark.data
def test_real_mr_and_pretraining(shared_data: Path) -> None:
    mr = load_mr(shared_data)
    assert len(mr) == 10662 and sum(mr.labels) == 5331
    assert mr.texts[5331][:4] == ["the", "rock", "is", "destined"]  # first positive line
    text = load_pretraining(shared_data, "dev")
    lines = {" ".join(t) for t in mr.texts}
    assert len(text.sentences) > 1000
    assert not any(" ".join(s) in lines for s in text.sentences)


# --- the classifier ----------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("backend", ["fused", "explicit"])
def test_padding_never_changes_a_prediction(cell: str, backend: str) -> None:
    torch.manual_seed(0)
    model = SentimentClassifier(30, 8, 6, layers=2, cell=cell, backend=backend).eval()
    seqs = [[3, 4, 5, 6, 7], [8, 9], [10, 11, 12]]
    alone = torch.cat([model(torch.tensor([s]), torch.tensor([len(s)])) for s in seqs])
    tokens = torch.randint(2, 30, (3, 9))  # (B, T): junk after each length, not even <pad>
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = torch.tensor(s)
    batched = model(tokens, torch.tensor([len(s) for s in seqs]))  # (B, 2)
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-5)


def test_last_pooling_matches_torch_on_unpadded_sequences() -> None:
    torch.manual_seed(1)
    model = SentimentClassifier(20, 5, 4, pooling="last", bidirectional=True).eval()
    ref = torch.nn.LSTM(5, 4, batch_first=True, bidirectional=True)
    ref.load_state_dict({k: v for k, v in model.rnn.state_dict().items()})
    tokens = torch.tensor([[3, 4, 5, 0, 0], [6, 7, 8, 9, 10]])  # (B, T)
    lengths = torch.tensor([3, 5])
    feats = model.features(tokens, lengths)  # (B, 2*H)
    for i, n in enumerate(lengths.tolist()):
        _, (h, _) = ref(model.embed(tokens[i : i + 1, :n]))  # (2, 1, H)
        torch.testing.assert_close(feats[i], torch.cat([h[0, 0], h[1, 0]]))


def test_max_and_mean_pooling_by_hand() -> None:
    model = SentimentClassifier(10, 3, 2, pooling="max+mean", bidirectional=False).eval()
    tokens, lengths = torch.tensor([[1, 2, 0, 0]]), torch.tensor([2])
    out, _ = model.rnn(model.embed(tokens[:, :2]))  # (1, 2, H): the real steps only
    feats = model.features(tokens, lengths)
    torch.testing.assert_close(feats[0], torch.cat([out[0].max(0).values, out[0].mean(0)]))


def test_bad_shapes_and_pooling_are_errors() -> None:
    model = SentimentClassifier(10, 3, 2)
    with pytest.raises(ValueError, match=r"lengths must be in 1\.\.T=3"):
        model(torch.tensor([[1, 2, 3]]), torch.tensor([0]))
    with pytest.raises(ValueError, match="pooling expects"):
        SentimentClassifier(10, 3, 2, pooling="last+sum")


def test_a_training_step_changes_every_parameter() -> None:
    torch.manual_seed(0)
    model = SentimentClassifier(12, 4, 3, embed_dropout=0.0, dropout=0.0)
    before = {k: v.clone() for k, v in model.named_parameters()}
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    tokens, lengths = torch.tensor([[2, 3, 4], [5, 6, 0]]), torch.tensor([3, 2])
    torch.nn.functional.cross_entropy(model(tokens, lengths), torch.tensor([1, 0])).backward()
    opt.step()
    for k, v in model.named_parameters():
        rows = v if k != "embed.weight" else v[2:7]  # rows of tokens seen in the batch
        ref = before[k] if k != "embed.weight" else before[k][2:7]
        assert not torch.equal(rows, ref), k


def test_init_from_lm_copies_embeddings_and_lstm() -> None:
    lm = LanguageModel(40, embed=6, hidden=5, cutoffs=(10,))
    clf = SentimentClassifier(40, 6, 5, bidirectional=False)
    init_from_lm(clf, lm)
    torch.testing.assert_close(clf.embed.weight, lm.embed.weight)
    torch.testing.assert_close(clf.rnn.weight_hh_l0, lm.rnn.weight_hh_l0)
    with pytest.raises(ValueError, match="sizes and directions"):
        init_from_lm(SentimentClassifier(40, 6, 5, bidirectional=True), lm)
    bi_lm = LanguageModel(40, embed=6, hidden=5, cutoffs=(10,), bidirectional=True)
    bi_clf = SentimentClassifier(40, 6, 5, bidirectional=True)
    init_from_lm(bi_clf, bi_lm)
    torch.testing.assert_close(bi_clf.rnn.weight_ih_l0_reverse, bi_lm.rnn.weight_ih_l0_reverse)
    torch.testing.assert_close(bi_clf.rnn.bias_hh_l0, bi_lm.rnn.bias_hh_l0)
    with pytest.raises(ValueError, match="sizes and directions"):
        init_from_lm(clf, bi_lm)


# --- a short real run --------------------------------------------------------------------


@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, dict[str, float]]:
    from rnnlab.tasks.sentiment import task as sentiment
    from rnnlab.training.config import apply_overrides
    from rnnlab.training.data import data_root

    root = data_root()
    if not (root / "sentence-polarity").is_dir():
        pytest.skip(f"MR not found under {root} (set RNNLAB_DATA)")
    cfg = apply_overrides(
        sentiment.Config(),
        [
            "model.embed=32",
            "model.hidden=24",
            "train.steps=150",
            "train.batch_size=64",
            "train.warmup=10",
            "train.eval_every=75",
            "train.lr=0.005",
        ],
    )
    run = tmp_path_factory.mktemp("sent")
    metrics = sentiment.TASK.train(cfg, run, torch.device("cpu"), progress=False)
    return load_run(run, "cpu"), metrics


@pytest.mark.data
@pytest.mark.slow
def test_short_run_beats_the_majority_baseline(short_run: tuple[object, dict[str, float]]) -> None:
    trained, metrics = short_run
    assert metrics["test_acc"] > 0.60  # the classes are balanced: majority is 0.50
    assert trained.evaluate("test")["acc"] == pytest.approx(metrics["test_acc"])  # type: ignore[attr-defined]


@pytest.mark.data
@pytest.mark.slow
def test_predict_prints_label_and_probability(short_run: tuple[object, dict[str, float]]) -> None:
    trained = short_run[0]
    out = trained.predict(["A gorgeous, witty, seductive movie.", "dull"])  # type: ignore[attr-defined]
    assert all(re.fullmatch(r"(positive|negative) (0\.[5-9]\d|1\.00)", line) for line in out)
    with pytest.raises(ValueError, match="input line 2 is empty"):
        trained.predict(["fine", " ,; "[:1]])  # type: ignore[attr-defined]


def test_bench_ensemble_averages_its_members_probabilities(tmp_path: Path) -> None:
    """``--ensemble 2``: the fold's accuracy is that of the mean of two classifiers'
    probabilities, the members being exactly what ``train_model`` gives for seeds 0 and 1."""
    from rnnlab.tasks.sentiment import task as sentiment
    from rnnlab.tasks.sentiment.bench import run_fold
    from rnnlab.training.config import apply_overrides

    root = write_random_mr(tmp_path, seed=0)
    cfg = apply_overrides(
        sentiment.Config(),
        [
            f"data.dir='{root}'",
            "data.folds=3",
            "model.embed=8",
            "model.hidden=6",
            "train.steps=6",
            "train.eval_every=3",
            "train.warmup=0",
        ],
    )
    got = run_fold(cfg, 1, ensemble=2)
    cpu = torch.device("cpu")
    cfg = sentiment.replace(cfg, data=sentiment.replace(cfg.data, fold=1))
    test = sentiment.splits(cfg.data)["test"]
    probs, accs = [], []
    for seed in (0, 1):
        member = sentiment.replace(cfg, train=sentiment.replace(cfg.train, seed=seed))
        model, vocab, _, metrics = sentiment.train_model(member, cpu, tmp_path / f"m{seed}", False)
        probs.append(sentiment.probabilities(model, sentiment.encode(test, vocab), cpu))
        accs.append(metrics["test_acc"])
    want = ((probs[0] + probs[1]) / 2 > 0.5) == torch.tensor(test.labels, dtype=torch.bool)
    assert got["test_acc"] == pytest.approx(float(want.float().mean()))
    assert got["member_test_acc"] == pytest.approx(accs)


def test_train_fraction_subsets_training_only(tmp_path: Path) -> None:
    from rnnlab.tasks.sentiment.task import DataConfig, splits

    lines = [f"w{i} film ." for i in range(100)]
    root = write_mr(tmp_path, "\n".join(lines[:50]).encode(), "\n".join(lines[50:]).encode())
    full = splits(DataConfig(dir=str(root), fold=2))
    part = splits(DataConfig(dir=str(root), fold=2, train_fraction=0.25))
    assert len(part["train"]) == round(0.25 * len(full["train"]))
    assert {" ".join(t) for t in part["train"].texts} < {" ".join(t) for t in full["train"].texts}
    assert part["dev"].texts == full["dev"].texts and part["test"].texts == full["test"].texts
    with pytest.raises(ValueError, match="train_fraction"):
        splits(DataConfig(dir=str(root), train_fraction=0.0))


def test_ensemble_run_folder_predicts_the_mean_of_its_members(tmp_path: Path) -> None:
    """``ensemble = 2``: two classifiers in ``member0/``, ``member1/`` (each a run folder of
    its own); the run's predictions and accuracy are those of their averaged probabilities."""
    from rnnlab.tasks import load_run, train_task
    from rnnlab.tasks.sentiment import task as sentiment
    from rnnlab.training.config import apply_overrides

    root = write_random_mr(tmp_path, seed=1)
    cfg = apply_overrides(
        sentiment.Config(),
        [
            f"data.dir='{root}'",
            "ensemble=2",
            "model.embed=8",
            "model.hidden=6",
            "train.steps=6",
            "train.eval_every=3",
            "train.warmup=0",
            "train.lr=0.05",
        ],
    )
    metrics = train_task("sentiment", cfg, tmp_path / "run", torch.device("cpu"), progress=False)
    run = load_run(tmp_path / "run", "cpu")
    members = [load_run(tmp_path / "run" / f"member{i}", "cpu") for i in (0, 1)]
    texts = ["good film", "a dull plot", "the bad"]

    def p_positive(out: list[str]) -> list[float]:
        return [float(p) if lab == "positive" else 1 - float(p) for lab, p in map(str.split, out)]

    each = [p_positive(m.predict(texts)) for m in members]
    want = [(a + b) / 2 for a, b in zip(*each, strict=True)]
    assert p_positive(run.predict(texts)) == pytest.approx(want, abs=0.006)  # printed to 2 places
    assert each[0] != each[1]  # the seeds differ, so this is a real average
    assert run.evaluate("test")["acc"] == pytest.approx(metrics["test_acc"])
    assert metrics["member1_test_acc"] == pytest.approx(members[1].evaluate("test")["acc"])
    with pytest.raises(ValueError, match="ensemble: expected a value >= 1, got 0"):
        sentiment.TASK.train(
            sentiment.replace(cfg, ensemble=0), tmp_path / "bad", torch.device("cpu")
        )


def test_adversarial_loss_by_hand_and_padding_invariant() -> None:
    """``adversarial_loss`` = CE(x) + CE(x + eps g/||g||), g = dCE/dx of each snippet on its
    own (computed here with a second, independent autograd pass); in a padded batch it is the
    mean of the snippets' own values, so the padding neither receives nor shapes the step."""
    torch.manual_seed(0)
    model = SentimentClassifier(20, embed=6, hidden=5, dropout=0.0, embed_dropout=0.0).eval()
    snippets, labels, eps = [[3, 4, 5, 6], [7, 8]], [1, 0], 2.0
    singles = []
    for ids, y in zip(snippets, labels, strict=True):
        tokens, lengths, target = torch.tensor([ids]), torch.tensor([len(ids)]), torch.tensor([y])
        x = model.embed.weight[tokens].detach().requires_grad_()  # (1, T, E)
        clean = F.cross_entropy(model.classify(x, lengths), target)
        (g,) = torch.autograd.grad(clean, x)  # (1, T, E)
        moved = F.cross_entropy(model.classify(x + eps * g / g.norm(), lengths), target)
        assert moved > clean  # the perturbation is the loss's steepest way up
        got = float(model.adversarial_loss(tokens, lengths, target, eps))
        assert got == pytest.approx(float(clean + moved), rel=1e-5)
        singles.append(got)
    tokens = torch.tensor([[3, 4, 5, 6], [7, 8, 19, 19]])  # junk ids in the padding
    batch = model.adversarial_loss(tokens, torch.tensor([4, 2]), torch.tensor(labels), eps)
    assert float(batch) == pytest.approx(sum(singles) / 2, rel=1e-5)


def test_bench_rejects_an_empty_ensemble(tmp_path: Path) -> None:
    from rnnlab.tasks.sentiment.bench import main

    for args in (["--ensemble", "0"], ["--set", "ensemble=0"]):
        with pytest.raises(
            ValueError, match=r"(1 classifier|ensemble: expected a value >= 1), got 0"
        ):
            main([*args, "--log", str(tmp_path / "log.jsonl"), "--data-dir", str(tmp_path)])
