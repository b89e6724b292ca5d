"""Reading CoNLL-U files into (words, tags) sentences for tagging.

A CoNLL-U file is blocks of lines separated by blank lines, one block a sentence.
``#`` lines are comments; every other line is a token with ten tab-separated columns
``ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC``. Each line is parsed with the
``conllu`` library; of the three kinds of ID we keep only the syntactic words::

    # text = I don't know.
    1-2  don't  _     _     _    ...   <- multiword-token range (ID "1-2"): skipped
    1    do     do    AUX   VBP  ...   <- word: kept as ("do", "AUX")
    2    n't    not   PART  RB   ...
    3    know   know  VERB  VB   ...
    3.1  ...                           <- empty node (ID "3.1"): skipped
    4    .      .     PUNCT .    ...

so that sentence reads ``words = ["do", "n't", "know", "."]`` (with a subject
``I`` too in the real file), ``tags = ["AUX", "PART", "VERB", "PUNCT"]``: gold
tokenization, the words a tagger is scored on. A malformed line, a word without a
tag, an empty file or a sentence without words is a ``ValueError`` naming
``file:line``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from conllu.exceptions import ParseException
from conllu.parser import DEFAULT_FIELD_PARSERS, DEFAULT_FIELDS, parse_line

TAGSETS = ("upos", "xpos")
_FIELDS = DEFAULT_FIELDS[:5]  # ID FORM LEMMA UPOS XPOS: the rest is not parsed
_PARSERS = {k: DEFAULT_FIELD_PARSERS[k] for k in ("id", "xpos")}
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Sentence:
    """One sentence's words and their gold tags; ``line`` is where it starts in its file."""

    words: list[str]
    tags: list[str]
    sent_id: str = ""
    line: int = 0

    def __len__(self) -> int:
        return len(self.words)


def _blocks(path: Path) -> Iterator[list[tuple[int, str]]]:
    """The file's blank-line-separated blocks, each line with its 1-based number."""
    block: list[tuple[int, str]] = []
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"{path}:{number}: expected UTF-8 text, got byte 0x{raw[exc.start]:02x} "
                    f"at column {exc.start + 1}"
                ) from exc
            if line.strip():
                block.append((number, line))
            elif block:
                yield block
                block = []
    if block:
        yield block


def _parse_block(path: Path, block: list[tuple[int, str]], tagset: str) -> Sentence:
    words: list[str] = []
    tags: list[str] = []
    sent_id = ""
    for number, line in block:
        where = f"{path}:{number}"
        if line.startswith("#"):
            key, _, value = line[1:].partition("=")
            if key.strip() == "sent_id":
                sent_id = value.strip()
            continue
        columns = line.split("\t")
        if len(columns) != len(DEFAULT_FIELDS):
            raise ValueError(
                f"{where}: expected {len(DEFAULT_FIELDS)} tab-separated columns "
                f"(ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC), got {len(columns)}: "
                f"{line[:80]!r}"
            )
        try:
            token = parse_line(line, _FIELDS, dict(_PARSERS))
        except ParseException as exc:
            raise ValueError(
                f"{where}: malformed CoNLL-U token line ({exc}): {line[:80]!r}"
            ) from exc
        if not isinstance(token["id"], int):
            continue  # (1, "-", 2): a multiword-token range; (3, ".", 1): an empty node
        expected = len(words) + 1
        if token["id"] != expected:
            raise ValueError(f"{where}: expected word ID {expected}, got {token['id']}")
        tag = token[tagset]
        if not token["form"] or not tag or tag == "_":
            raise ValueError(f"{where}: word {token['id']} has no FORM or no {tagset.upper()}")
        words.append(token["form"])
        tags.append(tag)
    if not words:
        raise ValueError(f"{path}:{block[0][0]}: sentence has no words (only comments or ranges)")
    return Sentence(words, tags, sent_id, block[0][0])


def read_conllu(path: str | Path, tagset: str = "upos") -> list[Sentence]:
    """Every sentence of a CoNLL-U file, with UPOS (default) or XPOS tags."""
    path = Path(path)
    if tagset not in TAGSETS:
        raise ValueError(f"tagset must be one of {', '.join(TAGSETS)}, got {tagset!r}")
    if not path.is_file():
        raise FileNotFoundError(f"CoNLL-U file not found: {path}")
    sentences = [_parse_block(path, block, tagset) for block in _blocks(path)]
    if not sentences:
        raise ValueError(f"{path}: no sentences (the file is empty or blank)")
    return sentences


def split_file(folder: str | Path, split: str) -> Path:
    """The one ``*-{split}.conllu`` file in a UD treebank folder (e.g. ``en_ewt-ud-dev``)."""
    folder = Path(folder)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    found = sorted(folder.glob(f"*-{split}.conllu"))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise FileNotFoundError(
            f"expected exactly one *-{split}.conllu file in {folder}, found {names}"
        )
    return found[0]
