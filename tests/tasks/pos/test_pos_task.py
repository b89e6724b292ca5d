"""The pos task: encoding, sampling, the run folder, predict/evaluate, and a real short run."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
import torch

from rnnlab.nn.vocab import Vocab
from rnnlab.tasks import load_run, train_task
from rnnlab.tasks.pos import task as pos
from rnnlab.tasks.pos.data import Sentence, read_conllu, split_file
from rnnlab.training.config import replace
from rnnlab.training.loop import TrainConfig

LEXICON = {
    "DET": ["the", "a", "this", "every"],
    "ADJ": ["old", "big", "green", "quiet", "happy"],
    "NOUN": ["dog", "man", "boat", "idea", "city", "river"],
    "VERB": ["sees", "likes", "finds", "builds"],
    "PUNCT": [".", "!"],
}


def _toy_sentence(rng: random.Random) -> list[tuple[str, str]]:
    out = [("DET", rng.choice(LEXICON["DET"]))]
    if rng.random() < 0.5:
        out.append(("ADJ", rng.choice(LEXICON["ADJ"])))
    out += [("NOUN", rng.choice(LEXICON["NOUN"])), ("VERB", rng.choice(LEXICON["VERB"]))]
    out += [("DET", rng.choice(LEXICON["DET"])), ("NOUN", rng.choice(LEXICON["NOUN"]))]
    out.append(("PUNCT", rng.choice(LEXICON["PUNCT"])))
    return [(w.capitalize() if i == 0 else w, t) for i, (t, w) in enumerate(out)]


def _write_treebank(folder: Path, sizes: dict[str, int]) -> None:
    folder.mkdir(parents=True)
    rng = random.Random(0)
    for split, n in sizes.items():
        lines = []
        for k in range(n):
            lines.append(f"# sent_id = {split}-{k}")
            for i, (w, t) in enumerate(_toy_sentence(rng), 1):
                lines.append("\t".join([str(i), w, w, t, "_", "_", "0", "_", "_", "_"]))
            lines.append("")
        (folder / f"toy-ud-{split}.conllu").write_text("\n".join(lines) + "\n")


def _small(cfg: pos.Config, steps: int, **train: object) -> pos.Config:
    model = replace(
        cfg.model, word_dim=16, char_dim=8, char_hidden=8, hidden=24, layers=1, dropout=0.1
    )
    t = TrainConfig(lr=1e-2, steps=steps, batch_size=16, eval_every=steps, log_every=10)
    return replace(cfg, model=model, train=replace(t, **train))


def test_encoder_batch_matches_the_documented_layout() -> None:
    words = Vocab(["<pad>", "<unk>", ".", "Dogs"])
    chars = Vocab(["<pad>", "<unk>", "D", "o", "g", "s", "."])
    tags = Vocab(["<pad>", "NOUN", "VERB", "PUNCT"], unk=None)
    enc = pos.PosVocab(words, chars, tags, lower=False)
    x = enc.batch([["Dogs", "bark", "."], ["Dogs", "Dogs", ".", ".", "é"]])
    assert x.words.tolist() == [[3, 1, 2, 0, 0], [3, 3, 2, 2, 1]]
    assert x.lengths.tolist() == [3, 5]
    assert x.word_types.tolist() == [[0, 1, 2, 0, 0], [0, 0, 2, 2, 3]]
    assert x.chars.tolist() == [[2, 3, 4, 5], [1, 1, 1, 1], [6, 0, 0, 0], [1, 0, 0, 0]]
    assert x.char_lengths.tolist() == [4, 4, 1, 1]
    gold = [Sentence(["Dogs", "bark", "."], ["NOUN", "VERB", "PUNCT"])]
    assert enc.tag_ids(gold).tolist() == [[1, 2, 3]]
    lower = pos.PosVocab(Vocab(["<pad>", "<unk>", "dogs"]), chars, tags, lower=True)
    assert lower.batch([["DOGS"]]).words.tolist() == [[2]]
    with pytest.raises(ValueError, match="no words"):
        enc.batch([["a"], []])


def test_bucket_sampler_covers_each_sentence_once_per_epoch() -> None:
    rng = random.Random(1)
    lengths = [rng.randint(1, 60) for _ in range(1000)]
    s = pos.BucketSampler(lengths, batch_size=8, seed=3)
    epoch = [s.indices(k) for k in range(s.per_epoch)]
    assert sorted(i for b in epoch for i in b) == list(range(1000))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in epoch)
    assert spread / len(epoch) < 5  # similar lengths in a batch (random batches: ~45)
    again = pos.BucketSampler(lengths, batch_size=8, seed=3)
    assert [again.indices(k) for k in range(5)] == epoch[:5]
    assert s.indices(s.per_epoch) != epoch[0]  # a new shuffle in the next epoch


def test_word_dropout_rate() -> None:
    counts = torch.tensor([0.0, 0.0, 1.0, 3.0])  # <pad>, <unk>, a singleton, a word seen 3x
    words = torch.tensor([[2] * 5000 + [3] * 5000 + [0] * 100])  # (1, T)
    g = torch.Generator().manual_seed(0)
    out = pos.frequency_word_dropout(words, counts, 0.5, 1, g)
    assert abs(float((out[0, :5000] == 1).float().mean()) - 0.5 / 1.5) < 0.02
    assert abs(float((out[0, 5000:10000] == 1).float().mean()) - 0.5 / 3.5) < 0.02
    assert out[0, 10000:].eq(0).all()  # padding is never dropped


@pytest.mark.slow
def test_train_load_predict_evaluate_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_treebank(tmp_path / "toy", {"train": 120, "dev": 20, "test": 20})
    cfg = _small(pos.Config(data=pos.DataConfig(dir=str(tmp_path / "toy"), name="toy")), 40)
    run = tmp_path / "run"
    metrics = train_task("pos", cfg, run, torch.device("cpu"), progress=False)
    for name in (
        "config.toml",
        "metrics.jsonl",
        "model.safetensors",
        "words.json",
        "chars.json",
        "tags.json",
        "confusion-dev.png",
        "dev_metrics.json",
    ):
        assert (run / name).is_file(), name
    assert metrics["acc"] > 0.9 and metrics["tokens"] > 100 and metrics["tokens_per_s"] > 0

    trained = load_run(run, device="cpu")
    out = trained.predict(["The old dog sees a river.", "", "日本 ✓ 🙂 Zyx-qq ."])
    assert out[0] == "The/DET old/ADJ dog/NOUN sees/VERB a/DET river/NOUN ./PUNCT"
    assert out[1] == ""
    pairs = out[2].split(" ")
    assert [p.rsplit("/", 1)[0] for p in pairs] == ["日本", "✓", "🙂", "Zyx", "-", "qq", "."]
    assert all(p.rsplit("/", 1)[1] in LEXICON for p in pairs)
    with pytest.raises(ValueError, match="does not take"):
        trained.predict(["a dog"], beam=3)

    result = trained.evaluate("test")
    assert set(result) == {"acc", "oov_acc", "tokens", "oov_tokens"}
    assert result["acc"] > 0.9 and result["tokens"] > 100
    assert (run / "confusion-test.png").is_file()

    from rnnlab.cli import main

    assert main(["predict", str(run), "a big city likes the man !"]) == 0
    assert capsys.readouterr().out.strip().split(" ")[2] == "city/NOUN"

    from rnnlab.tasks.pos.bench import main as bench_main

    assert bench_main(["--from", str(run), "--threads", "0"]) == 0
    assert "| rnnlab pos (this run) |" in capsys.readouterr().out
    bench = json.loads((run / "bench.json").read_text())
    assert bench["test_acc"] == result["acc"] and bench["tokens_per_s"] > 0
    assert (run / "learning-curve.png").is_file()


@pytest.mark.data
@pytest.mark.slow
def test_short_run_beats_most_frequent_tag(shared_data: Path, tmp_path: Path) -> None:
    """A few hundred steps on 3,000 EWT sentences beat the per-word most-frequent tag."""
    ewt = shared_data / "ud-english-ewt"
    sub = tmp_path / "ewt-sub"
    sub.mkdir()
    for split, n in (("train", 3000), ("dev", 500)):
        blocks = split_file(ewt, split).read_text(encoding="utf-8").split("\n\n")[:n]
        (sub / f"sub-ud-{split}.conllu").write_text("\n\n".join(blocks) + "\n")
    train, dev = read_conllu(sub / "sub-ud-train.conllu"), read_conllu(sub / "sub-ud-dev.conllu")
    per_word: dict[str, Counter[str]] = {}
    for s in train:
        for w, t in zip(s.words, s.tags, strict=True):
            per_word.setdefault(w, Counter())[t] += 1
    overall = Counter(t for s in train for t in s.tags).most_common(1)[0][0]
    guess = [
        per_word[w].most_common(1)[0][0] if w in per_word else overall for s in dev for w in s.words
    ]
    gold = [t for s in dev for t in s.tags]
    baseline = sum(g == p for g, p in zip(gold, guess, strict=True)) / len(gold)

    cfg = _small(
        pos.Config(data=pos.DataConfig(dir=str(sub), name="ewt-sub")), 250, batch_size=32, lr=5e-3
    )
    cfg = replace(cfg, model=replace(cfg.model, hidden=48, word_dim=32, char_hidden=16))
    metrics = train_task("pos", cfg, tmp_path / "run", torch.device("cpu"), progress=False)
    assert 0.7 < baseline < metrics["acc"], (baseline, metrics["acc"])


def test_presets_load() -> None:
    from rnnlab.training.config import load_config

    presets = sorted((Path(pos.__file__).parents[2] / "presets").glob("pos-*.toml"))
    assert presets
    for path in presets:
        cfg = load_config(pos.Config, path)
        assert cfg.train.steps > 0 and cfg.model.hidden > 0


def test_run_folders_from_before_the_rename_still_load(tmp_path: Path) -> None:
    """Run folders written when pos called ``unk_alpha`` ``word_dropout`` keep loading."""
    from rnnlab.tasks import read_run_config

    (tmp_path / "config.toml").write_text('task = "pos"\n\n[model]\nword_dropout = 0.5\n')
    name, cfg = read_run_config(tmp_path)
    assert name == "pos" and cfg.model.unk_alpha == 0.5
