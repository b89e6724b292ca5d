from pathlib import Path

import pytest
import torch

from rnnlab.nn.vocab import PAD, UNK, Vocab, pad_batch, tokenize


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("The old man the boat .", ["The", "old", "man", "the", "boat", "."]),
        ("The old man, the boat.", ["The", "old", "man", ",", "the", "boat", "."]),
        ("don't re-enter!", ["don't", "re-enter", "!"]),
        ("a gorgeous, witty movie", ["a", "gorgeous", ",", "witty", "movie"]),
        ("(3.5 stars)", ["(", "3.5", "stars", ")"]),
        ("naïve café ☃", ["naïve", "café", "☃"]),
        ("", []),
    ],
)
def test_tokenize_splits_punctuation(text, tokens):
    assert tokenize(text) == tokens


def test_vocab_build_encode_decode(tmp_path: Path):
    v = Vocab.build([["a", "b", "a"], ["c", "a", "b"]], min_freq=2)
    assert v.itos == [PAD, UNK, "a", "b"] and v.pad_id == 0
    assert v.encode(["a", "zzz", "b"]) == [2, v.unk_id, 3]
    assert v.decode([2, 3]) == ["a", "b"]
    v.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json").itos == v.itos
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.json"):
        Vocab.load(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError):
        Vocab.load(tmp_path / "none.json")


def test_vocab_without_unk_refuses_unknown_tokens():
    v = Vocab(["0", "1"], unk=None)
    with pytest.raises(ValueError, match="'2'"):
        v.encode(["0", "2"])


def test_pad_batch():
    x, lengths = pad_batch([[1, 2, 3], [4]], pad=0)
    assert torch.equal(x, torch.tensor([[1, 2, 3], [4, 0, 0]]))
    assert lengths.tolist() == [3, 1]
    with pytest.raises(ValueError, match="empty sequence at batch position 1"):
        pad_batch([[1], []])
