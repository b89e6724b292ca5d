"""CoNLL-U loading: hand-written files, real EWT lines, and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnlab.tasks.pos.data import read_conllu, split_file


def _line(i: str, form: str, upos: str = "_", xpos: str = "_") -> str:
    return "\t".join([i, form, form.lower(), upos, xpos, "_", "0", "_", "_", "_"])


def _write(tmp_path: Path, lines: list[str], name: str = "x-ud-dev.conllu") -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


HAND = [
    "# newdoc id = d1",
    "# sent_id = s1",
    "# text = I don't know.",
    _line("1", "I", "PRON", "PRP"),
    _line("2-3", "don't"),
    _line("2", "do", "AUX", "VBP"),
    _line("3", "n't", "PART", "RB"),
    _line("4", "know", "VERB", "VB"),
    _line("4.1", "knows", "VERB", "VBZ"),
    _line("5", ".", "PUNCT", "."),
    "",
    "",  # two blank lines between sentences are fine
    "# sent_id = s2",
    _line("1", "Yes", "INTJ", "UH"),
]


def test_hand_written_file_skips_ranges_and_empty_nodes(tmp_path: Path) -> None:
    path = _write(tmp_path, HAND)
    s1, s2 = read_conllu(path)
    assert s1.words == ["I", "do", "n't", "know", "."]
    assert s1.tags == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert (s1.sent_id, s1.line) == ("s1", 1)
    assert (s2.words, s2.tags, s2.sent_id, s2.line) == (["Yes"], ["INTJ"], "s2", 13)


def test_xpos_tagset(tmp_path: Path) -> None:
    s1, _ = read_conllu(_write(tmp_path, HAND), tagset="xpos")
    assert s1.tags == ["PRP", "VBP", "RB", "VB", "."]


def test_windows_line_endings_and_no_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "crlf.conllu"
    path.write_bytes("\r\n".join(HAND[3:5] + HAND[5:7]).encode())
    (s,) = read_conllu(path)
    assert s.words == ["I", "do", "n't"]


def test_unknown_tagset_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="tagset"):
        read_conllu(_write(tmp_path, HAND), tagset="deprel")
    with pytest.raises(FileNotFoundError, match=r"nope\.conllu"):
        read_conllu(tmp_path / "nope.conllu")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("1\tfive\tcolumns\tonly\there", r"expected 10 tab-separated columns .*, got 5"),
        (_line("x", "word", "NOUN"), "malformed CoNLL-U token line"),
        (_line("3", "word", "NOUN"), "expected word ID 2, got 3"),
        (_line("2", "word"), "no FORM or no UPOS"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, bad: str, message: str) -> None:
    lines = ["# sent_id = a", _line("1", "ok", "ADJ"), "", "# c", _line("1", "fine", "ADJ"), bad]
    path = _write(tmp_path, lines)
    with pytest.raises(ValueError, match=message) as info:
        read_conllu(path)
    assert f"{path}:6:" in str(info.value)


def test_empty_file_and_empty_sentence(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no sentences"):
        read_conllu(_write(tmp_path, ["", "  "], "empty.conllu"))
    only_comments = ["# sent_id = a", _line("1", "ok", "ADJ"), "", "# sent_id = b", "# text ="]
    path = _write(tmp_path, only_comments, "c.conllu")
    with pytest.raises(ValueError, match=f"{path}:4: sentence has no words"):
        read_conllu(path)
    ranges_only = [_line("1-2", "don't")]
    with pytest.raises(ValueError, match="no words"):
        read_conllu(_write(tmp_path, ranges_only, "r.conllu"))


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.conllu"
    path.write_bytes(_line("1", "café", "NOUN").encode("latin-1") + b"\n")
    with pytest.raises(ValueError, match="UTF-8"):
        read_conllu(path)


def test_split_file(tmp_path: Path) -> None:
    _write(tmp_path, HAND, "en_x-ud-train.conllu")
    assert split_file(tmp_path, "train").name == "en_x-ud-train.conllu"
    with pytest.raises(FileNotFoundError, match=r"\*-dev.conllu"):
        split_file(tmp_path, "dev")
    with pytest.raises(ValueError, match="split"):
        split_file(tmp_path, "validation")


@pytest.mark.data
def test_real_ewt_lines(shared_data: Path, tmp_path: Path) -> None:
    """The first sentences of EWT dev, checked against a plain split of their lines."""
    folder = shared_data / "ud-english-ewt"
    lines = split_file(folder, "dev").read_text(encoding="utf-8").splitlines()[:400]
    cut = max(i for i, line in enumerate(lines) if not line.strip())  # end on a sentence
    path = _write(tmp_path, lines[:cut])
    got = read_conllu(path)
    want: list[list[tuple[str, str]]] = [[]]
    for line in lines[:cut]:
        cols = line.split("\t")
        if not line.strip():
            want.append([])
        elif cols[0].isdigit():
            want[-1].append((cols[1], cols[3]))
    want = [s for s in want if s]
    assert [list(zip(s.words, s.tags, strict=True)) for s in got] == want
    assert len(got) > 10


@pytest.mark.data
def test_ewt_dev_counts_match_the_data_readme(shared_data: Path) -> None:
    """The README: dev has 2,001 sentences and 25,147 words; UD has 17 UPOS tags."""
    dev = read_conllu(split_file(shared_data / "ud-english-ewt", "dev"))
    assert len(dev) == 2001
    assert sum(len(s) for s in dev) == 25147
    assert len({t for s in dev for t in s.tags}) <= 17
