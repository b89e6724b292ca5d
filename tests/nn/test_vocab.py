from pathlib import Path

import pytest
import torch

from rnnlab.nn.vocab import BOS, EOS, PAD, UNK, Vocab, pad_batch, tokenize


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


def test_unk_is_used_when_present_and_optional_when_absent():
    v = Vocab([PAD, "a", "b"])  # no <unk>: fine, unknown tokens are refused
    assert v.unk is None
    with pytest.raises(ValueError, match="'c' is not in the vocabulary"):
        v.encode(["c"])
    with pytest.raises(ValueError, match="no unknown-token marker"):
        _ = v.unk_id
    w = Vocab([PAD, UNK, "a"])  # with <unk>: used by default
    assert w.unk == UNK and w.encode(["zzz"]) == [1]
    assert Vocab([PAD, UNK, "a"], unk=None).unk is None  # refused on request
    with pytest.raises(ValueError, match="marker '<oov>' is not in the vocabulary"):
        Vocab([PAD, "a"], unk="<oov>")


def test_files_written_before_keep_loading(tmp_path: Path):
    (tmp_path / "old.json").write_text('{"itos": ["<pad>", "<unk>", "x"], "unk": "<unk>"}')
    (tmp_path / "none.json").write_text('{"itos": ["0", "1"], "unk": null}')
    (tmp_path / "bare.json").write_text('{"itos": ["<pad>", "<unk>", "y"]}')  # no "unk" key
    old = Vocab.load(tmp_path / "old.json")
    assert old.itos == ["<pad>", "<unk>", "x"] and old.encode(["q"]) == [1]
    assert Vocab.load(tmp_path / "none.json").unk is None
    assert Vocab.load(tmp_path / "bare.json").unk is None  # as before: no key, no marker


def test_special_ids_and_their_absence():
    v = Vocab([PAD, UNK, BOS, EOS, "a"])
    assert (v.pad_id, v.unk_id, v.bos_id, v.eos_id) == (0, 1, 2, 3)
    bare = Vocab(["a", "b"])
    for prop, token in (("pad_id", PAD), ("bos_id", BOS), ("eos_id", EOS)):
        with pytest.raises(ValueError, match=f"no .* token '{token}'"):
            getattr(bare, prop)


def test_decode_can_stop_at_eos_and_drop_padding():
    v = Vocab([PAD, UNK, BOS, EOS, "a", "b"])
    ids = [4, 0, 5, 3, 4, 0]
    assert v.decode(ids) == ["a", PAD, "b", EOS, "a", PAD]
    assert v.decode(ids, stop_at_eos=True) == ["a", PAD, "b"]
    assert v.decode(ids, drop_pad=True) == ["a", "b", EOS, "a"]
    assert v.decode(torch.tensor(ids), stop_at_eos=True, drop_pad=True) == ["a", "b"]
    assert Vocab(["a", "b"]).decode([0, 1, 0], stop_at_eos=True, drop_pad=True) == ["a", "b", "a"]


def test_pad_batch():
    x, lengths = pad_batch([[1, 2, 3], [4]], pad=0)
    assert torch.equal(x, torch.tensor([[1, 2, 3], [4, 0, 0]]))
    assert lengths.tolist() == [3, 1]
    with pytest.raises(ValueError, match="empty sequence at batch position 1"):
        pad_batch([[1], []])
