"""Words to ids and back: a vocabulary, and the tokenization rule for raw text.

Tokenization rule (documented, used wherever raw text comes in): split on whitespace,
then split off every punctuation character as its own token, keeping runs of letters,
digits, apostrophes inside words and hyphens inside words together::

    >>> tokenize("The old man, the boat.")
    ['The', 'old', 'man', ',', 'the', 'boat', '.']
    >>> tokenize("don't re-enter!")
    ["don't", 're-enter', '!']

Raw text as a model's training data was tokenized (``tokenize_treebank`` for the POS
tagger's UD English EWT, ``tokenize_mr`` for MR and the movie-review text the sentiment
classifier and the language model learn from)::

    >>> tokenize_treebank("I can't believe it's not butter!")
    ['I', 'ca', "n't", 'believe', 'it', "'s", 'not', 'butter', '!']
    >>> tokenize_mr("I can't believe it's not butter!")
    ['I', "can't", 'believe', "it's", 'not', 'butter', '!']

Their rules are in the functions' docstrings; ``tests/reliability/test_tokenizer.py``
measures ``tokenize_treebank`` against the gold tokens of EWT's dev and test sentences.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"

_TOKEN = re.compile(r"\w+(?:[-'’.]\w+)*|[^\w\s]", re.UNICODE)


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


# --- raw text as the training data was tokenized -----------------------------------------

_Q = "'’`"  # apostrophes: straight, curly, and the backtick some web text types


def _words(text: str) -> list[str]:
    return text.split()


# words EWT splits into two syntactic words although they have no apostrophe
_FUSED = {
    "cannot": 3,  # can not
    "gonna": 3,  # gon na
    "wanna": 3,  # wan na
    "gotta": 3,  # got ta
    "outta": 3,  # out ta
    # the apostrophe-less web spellings: do nt, ca nt, wo nt, ai nt, ...
    **{w: len(w) - 2 for w in _words("dont didnt doesnt couldnt wouldnt shouldnt isnt wasnt")},
    **{w: len(w) - 2 for w in _words("arent werent havent hasnt hadnt wont cant aint")},
    "im": 1,  # i m
    "ive": 1,  # i ve
    "youre": 3,  # you re
    "thats": 4,  # that s
    "whats": 4,  # what s
    "theres": 5,  # there s
}
# a hyphen after one of these stays inside the word (co-workers, e-mail, non-profit)
_HYPHEN_PREFIXES = frozenset(
    _words(
        "e a co pre post non anti mid re pro multi ex sub semi cross neo psycho socio counter "
        "arch intra inter micro macro over un"
    )
)
# words written with a final period that belongs to them (Mr., Inc., etc.)
_ABBREVIATIONS = frozenset(
    _words(
        "mr mrs ms dr st jr sr inc co corp ltd bros vs etc mt ft no gen gov sen rep rev prof "
        "capt col lt sgt jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu "
        "thur thurs fri sat sun ave blvd dept univ approx cf al fig pp"
    )
)
_CLITIC = re.compile(rf"(.+?)(n[{_Q}]t|[{_Q}](?:s|re|ve|ll|d|m))", re.IGNORECASE)
_EMOTICON = r"[:;=][-o']?[()\[\]DPpO/\\|*]+|<3|\^_\^"
_TREEBANK = re.compile(
    rf"""
      (?P<emoticon>(?:{_EMOTICON})(?=[.,!?]*$))
    | (?P<url>(?:https?://|ftp://|www\.)[^\s"<>()]*[^\s"<>().,;:!?'\]]
            | \w[\w.+-]{{0,63}}@\w[\w-]*(?:\.[\w-]+)*)
    | (?P<initials>(?:[^\W\d_]\.){{2,}})
    | (?P<phone>(?:\d-)?\d{{3}}-\d{{3}}-\d{{4}}|\d{{3}}-\d{{4}})(?!\w)
    | (?P<number>\d+(?:[.,:/]\d+)+)
    | (?P<amount>\d+(?=(?!(?:st|nd|rd|th|s)\b)[^\W\d_]))
    | (?P<clitic>[{_Q}](?:s|re|ve|ll|d|m)\b|n[{_Q}]t\b)
    | (?P<word>\w+(?:(?:[{_Q}&.]|-(?=[^\W\d_]))\w+)*)
    | (?P<stops>[.!?]+)
    | (?P<dashes>--+)
    | (?P<symbol>[^\w\s])(?P=symbol)*
    """,
    re.VERBOSE,
)


def _split_word(word: str) -> list[str]:
    """One scanned word -> its syntactic words: clitics, fused forms and hyphens split."""
    m = _CLITIC.fullmatch(word)
    if m:
        return [*_split_word(m.group(1)), m.group(2)]
    cut = _FUSED.get(word.lower())
    if cut is not None:
        return [word[:cut], word[cut:]]
    if "-" in word:
        head, *rest = word.split("-")
        if head.lower() not in _HYPHEN_PREFIXES or not head.isalpha():
            out = [head]
            for part in rest:
                out += ["-", part]
            return out
    return [word]


_MR_TOKEN = re.compile(r'[.,?!();:"]|[^\s.,?!();:"]+')
_MR_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "…": "..."})


def tokenize_mr(text: str) -> list[str]:
    """Raw text -> tokens as MR (sentence polarity) and ``movie-review-text`` write them.

    ``. , ? ! ( ) ; : "`` are tokens of their own, every period alone (``...`` -> ``. . .``,
    ``J.R.R.`` -> ``J . R . R .``); everything else stays in its word: clitics (``it's``,
    ``don't``, ``can't``), hyphens, dashes and slashes (``co-writer/director``,
    ``away--still``), ``$9``, ``100%``, ``'70s``, ``[a]``. Curly quotes become straight
    ones. Case is kept (MR is lower-cased: its callers lower-case).
    """
    return _MR_TOKEN.findall(text.translate(_MR_QUOTES))


def tokenize_treebank(text: str) -> list[str]:
    """Raw English text -> words as UD English EWT (and the Penn Treebank) write them.

    - clitics are words of their own: ``can't`` -> ``ca n't``, ``don't`` -> ``do n't``,
      ``it's`` -> ``it 's``, likewise ``'re 've 'll 'd 'm`` and the possessive ``'s``
      (straight or curly apostrophe); ``cannot`` -> ``can not``, ``gonna`` -> ``gon na``,
      and the apostrophe-less web spellings EWT splits (``dont`` -> ``do nt``, ``im``);
    - punctuation is split off, a run of ``. ! ?`` (``...``, ``?!``) and of one other
      symbol (``--``, ``''``, ``**``) staying one token; ``"`` and ``'`` as written;
    - a hyphen is a word of its own (``long-term`` -> ``long - term``) unless it follows
      a prefix EWT keeps (``co-workers``, ``e-mail``, ``non-profit``) or is in a phone
      number;
    - kept whole: URLs and e-mail addresses, numbers with ``. , : /`` inside (``1.5``,
      ``200,000``, ``5:30``, ``9/11``), abbreviations with their period (``Mr.``,
      ``U.S.``, ``p.m.``, ``etc.``), single-letter initials (``George W. Bush``), words
      with ``&`` or ``.`` inside (``AT&T``, ``file.doc``) and emoticons (``:)``, ``:-(``)
      at the end of a word;
    - digits followed by letters are two words (``$60m`` -> ``$ 60 m``, ``20minutes``),
      except ordinals and decades (``21st``, ``1970s``); a period that ends the text is a
      word of its own even after an abbreviation (``..., etc.`` -> ``etc .``).

    ``tests/reliability/test_tokenizer.py`` measures it on EWT (the figure is in
    ``docs/reliability.md``); what it gets wrong is mostly web spellings EWT splits by
    meaning (``its`` -> ``it s`` where it means "it is", ``alot`` -> ``a lot``) and rare
    abbreviations. Time is linear in the length of the text.
    """
    out: list[str] = []
    end = len(text.rstrip())
    for chunk_match in re.finditer(r"\S+", text):
        chunk = chunk_match.group()
        ends = chunk_match.end() == end  # the last chunk: its final period ends the text
        pos = 0
        while pos < len(chunk):
            m = _TREEBANK.match(chunk, pos)
            assert m is not None  # every character but whitespace starts some token
            tok, kind, pos = m.group(), m.lastgroup, m.end()
            if kind == "initials" and ends and pos == len(chunk):
                out += [tok[:-1], "."]  # "at 8 a.m." -> a.m .
            elif kind != "word":
                out.append(tok)
            elif (
                chunk.startswith(".", pos)
                and not (ends and pos + 1 == len(chunk))
                and (tok.lower() in _ABBREVIATIONS or (len(tok) == 1 and tok.isupper()))
            ):
                out.append(tok + ".")
                pos += 1
            else:
                out += _split_word(tok)
    return out


class _Absent:
    """``Vocab(tokens)``'s default ``unk``: ``<unk>`` when the tokens hold it, else none."""

    def __repr__(self) -> str:
        return "UNK_IF_PRESENT"


UNK_IF_PRESENT = _Absent()


class Vocab:
    """A fixed list of tokens; ids 0.. in order; ``<pad>`` is 0 when present.

    ``unk`` is the marker that unknown tokens become. By default it is ``<unk>`` when
    the tokens include it and otherwise there is none (unknown tokens are then an
    error); pass ``unk=None`` to refuse unknown tokens even with ``<unk>`` present, or a
    token to use another marker (it must be in ``tokens``).

    The special ids ``pad_id``, ``unk_id``, ``bos_id`` (``<s>``) and ``eos_id`` (``</s>``)
    raise a ``ValueError`` naming the token when the vocabulary lacks it; test first with
    ``"<s>" in vocab`` where it may be absent.
    """

    def __init__(self, tokens: Sequence[str], unk: str | _Absent | None = UNK_IF_PRESENT) -> None:
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens must be unique")
        self.itos = list(tokens)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if isinstance(unk, _Absent):
            unk = UNK if UNK in self.stoi else None
        if unk is not None and unk not in self.stoi:
            raise ValueError(f"unknown-token marker {unk!r} is not in the vocabulary")
        self.unk: str | None = unk

    @classmethod
    def build(
        cls,
        sequences: Iterable[Iterable[str]],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = (PAD, UNK),
    ) -> Vocab:
        counts: Counter[str] = Counter()
        for seq in sequences:
            counts.update(seq)
        words = [w for w, c in counts.most_common() if c >= min_freq and w not in specials]
        if max_size is not None:
            words = words[: max(0, max_size - len(specials))]
        return cls([*specials, *words], unk=UNK if UNK in specials else None)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def _special(self, token: str, what: str) -> int:
        i = self.stoi.get(token)
        if i is None:
            raise ValueError(f"this vocabulary has no {what} token {token!r}")
        return i

    @property
    def pad_id(self) -> int:
        return self._special(PAD, "padding")

    @property
    def bos_id(self) -> int:
        return self._special(BOS, "start-of-sequence")

    @property
    def eos_id(self) -> int:
        return self._special(EOS, "end-of-sequence")

    @property
    def unk_id(self) -> int:
        if self.unk is None:
            raise ValueError("this vocabulary has no unknown-token marker")
        return self.stoi[self.unk]

    def id(self, token: str) -> int:
        i = self.stoi.get(token)
        if i is not None:
            return i
        if self.unk is None:
            raise ValueError(f"token {token!r} is not in the vocabulary and there is no <unk>")
        return self.stoi[self.unk]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.id(t) for t in tokens]

    def decode(
        self, ids: Iterable[int] | torch.Tensor, stop_at_eos: bool = False, drop_pad: bool = False
    ) -> list[str]:
        """Tokens of ``ids`` (a list or a 1-D tensor); ``stop_at_eos`` ends before the first
        ``</s>``, ``drop_pad`` leaves out ``<pad>`` (each only when the vocabulary has it)."""
        seq = ids.tolist() if isinstance(ids, torch.Tensor) else ids
        eos = self.stoi.get(EOS) if stop_at_eos else None
        pad = self.stoi.get(PAD) if drop_pad else None
        out = []
        for i in seq:
            if eos is not None and i == eos:
                break
            if pad is None or i != pad:
                out.append(self.itos[i])
        return out

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"itos": self.itos, "unk": self.unk}, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"vocabulary file not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data["itos"], unk=data.get("unk"))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a vocabulary file: {exc}") from exc


def pad_batch(seqs: Sequence[Sequence[int]], pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists into ``(B, T)`` plus their ``(B,)`` lengths; empty ones refused."""
    if not seqs:
        raise ValueError("cannot make a batch of no sequences")
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)  # (B,)
    if int(lengths.min()) == 0:
        raise ValueError(f"empty sequence at batch position {int(lengths.argmin())}")
    out = torch.full((len(seqs), int(lengths.max())), pad, dtype=torch.long)  # (B, T)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
    return out, lengths
