"""Part-of-speech tagging on a Universal Dependencies treebank (default UD English EWT).

Train on ``train``, early-stop and choose settings on ``dev``; ``test`` is for the final
figure. Gold tokenization: the model tags the treebank's own words (multiword-token
ranges and empty nodes skipped, see ``rnnlab.tasks.pos.data``). UPOS tags by default,
``data.tagset = "xpos"`` for the treebank's own tags.

Encoding of one example. Vocabularies are built from ``train``: words (``<pad>`` 0,
``<unk>`` 1, then by frequency), characters (the same) and tags (``<pad>`` 0, then by
frequency). Word embeddings are looked up by the lower-cased form (``model.lower``); the
character model sees the form as written. The sentence ``Dogs barked .`` with gold tags
``NOUN VERB PUNCT`` in a batch whose longest sentence has 4 words (ids from the EWT
vocabularies)::

    words        [981, 1, 3, 0]      "dogs" 981, "barked" unseen in train -> <unk> 1, "." 3, <pad>
    lengths      3
    word_types   [0, 1, 2, 0]        position -> row of `chars` (distinct forms of the batch)
    chars        [[46, 5, 18, 8, 0, 0],     "D o g s"    (char ids, <pad> 0 after each form)
                  [22, 4, 9, 25, 2, 12],    "b a r k e d"
                  [21, 0, 0, 0, 0, 0]]      "."
    char_lengths [4, 6, 1]
    tags         [1, 3, 2, 0]        NOUN 1, VERB 3, PUNCT 2, <pad> 0 (ignored by the loss)

In training, word dropout replaces a word id by ``<unk>`` with probability
``alpha / (alpha + count(word))`` (``model.unk_alpha`` = alpha), so rare words teach
the model what to do with unknown ones; the character model still sees the spelling.

Raw text (``predict``) is split as EWT splits it (``rnnlab.nn.vocab.tokenize_treebank``:
clitics and punctuation are words of their own) and answered as ``word/TAG`` pairs::

    rnnlab predict RUN_DIR "I can't believe it's not butter!"
    I/PRON ca/AUX n't/PART believe/VERB it/PRON 's/AUX not/PART butter/NOUN !/PUNCT

``--pretokenized`` (``predict(..., pretokenized=True)``) splits on whitespace only, for
text already tokenized. An empty input line gives an empty output line; unknown words and
characters map to ``<unk>``.

Bounded inputs: a sentence (an input line, or a sentence of a CoNLL-U file) may have at
most ``MAX_WORDS`` = 2,000 words of at most ``MAX_WORD_CHARS`` = 1,000 characters, or a
``ValueError`` names it (file:line) and the limit (EWT's longest sentence has 159 words,
its longest word 473 characters). Sentences are tagged in batches of at most
``BATCH_WORDS`` words, padding included, and the character model reads the distinct forms
in groups of at most ``model.CHAR_BATCH`` characters, so memory stays bounded (measured:
docs/reliability.md).

``probe`` (view ``"tags"``, for the lab) gives each word's tag, its probability and the 3
most probable tags: a CRF's marginals ``p(tag | sentence)`` (``CRF.marginals``,
forward-backward), else each word's softmax (``p_kind`` says which); ``examples`` gives
dev sentences.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import torch

from rnnlab.nn.layers import BACKENDS
from rnnlab.nn.vocab import PAD, Vocab, pad_batch, tokenize_treebank
from rnnlab.tasks.base import Run, Task, check_flag, size_groups, write_metrics
from rnnlab.tasks.pos.data import TAGSETS, Sentence, read_conllu, split_file
from rnnlab.tasks.pos.model import CHAR_MODELS, Tagger, TaggerInput
from rnnlab.training.config import RangeChecked, ranged, section, unranged
from rnnlab.training.data import dataset_dir
from rnnlab.training.distributed import bounds
from rnnlab.training.loop import TrainConfig
from rnnlab.training.recipes import COSINE
from rnnlab.training.samplers import step_generator

# how the task trains by default: [train] of its Config. Batches of 128 sentences for
# 1,500 steps (about 15 epochs): bigger matrix products per step than batches of 32, so
# the same epochs take about half the time (docs/pos.md; batches of 32 for 6,000 steps
# are `--config batch32`).
TRAIN = replace(
    COSINE,
    lr=6e-3,
    steps=1500,
    batch_size=128,
    warmup=100,
    clip_norm=5.0,
    eval_every=250,
    log_every=100,
)

VOCAB_FILES = {"words": "words.json", "chars": "chars.json", "tags": "tags.json"}
MAX_WORDS = 2000  # the longest sentence pos takes, in words (EWT's longest: 159)
MAX_WORD_CHARS = 1000  # the longest word pos takes, in characters (EWT's longest: 473)
BATCH_WORDS = 8192  # words (padding included) tagged in one batch when not training


@dataclass(frozen=True)
class DataConfig(RangeChecked):
    # the data root (or the treebank folder itself); "" = the default root
    dir: str = unranged("", "a folder path")
    # the treebank folder: *-train/-dev/-test.conllu
    name: str = unranged("ud-english-ewt", "a folder name under the data root")
    tagset: str = ranged("upos", choices=TAGSETS)
    eval_batch_size: int = ranged(256, ge=1)


@dataclass(frozen=True)
class ModelConfig(RangeChecked):
    word_dim: int = ranged(100, ge=1)
    lower: bool = ranged(True)  # look word embeddings up by the lower-cased form
    char_model: str = ranged("lstm", choices=CHAR_MODELS)
    char_dim: int = ranged(50, ge=1)
    char_hidden: int = ranged(50, ge=1)  # per direction (the CNN gets 2x this many filters)
    hidden: int = ranged(200, ge=1)  # per direction
    layers: int = ranged(2, ge=1)
    dropout: float = ranged(0.33, ge=0, lt=1)
    unk_alpha: float = ranged(0.25, ge=0)  # p(<unk>) = alpha / (alpha + count(word)); 0 = off
    crf: bool = ranged(False)
    backend: str = ranged("fused", choices=BACKENDS)


@dataclass(frozen=True)
class Config(RangeChecked):
    data: DataConfig = section(DataConfig)
    model: ModelConfig = section(ModelConfig)
    train: TrainConfig = TRAIN


# --- vocabularies and batches --------------------------------------------------------


class PosVocab:
    """The tagger's vocabularies: words, characters and tags to ids, with the model's
    lower-casing rule."""

    def __init__(self, words: Vocab, chars: Vocab, tags: Vocab, lower: bool) -> None:
        self.words, self.chars, self.tags, self.lower = words, chars, tags, lower
        self._spell: dict[str, list[int]] = {}

    @classmethod
    def build(cls, train: Sequence[Sentence], lower: bool) -> PosVocab:
        key = str.lower if lower else str
        words = Vocab.build([key(w) for w in s.words] for s in train)
        chars = Vocab.build(list(w) for s in train for w in s.words)
        tags = Vocab.build((s.tags for s in train), specials=(PAD,))
        return cls(words, chars, tags, lower)

    def save(self, run_dir: Path) -> None:
        for name, vocab in (("words", self.words), ("chars", self.chars), ("tags", self.tags)):
            vocab.save(run_dir / VOCAB_FILES[name])

    @classmethod
    def load(cls, run_dir: Path, lower: bool) -> PosVocab:
        v = {name: Vocab.load(run_dir / f) for name, f in VOCAB_FILES.items()}
        return cls(v["words"], v["chars"], v["tags"], lower)

    def word_ids(self, words: Sequence[str]) -> list[int]:
        return self.words.encode(w.lower() if self.lower else w for w in words)

    def spelling(self, form: str) -> list[int]:
        ids = self._spell.get(form)
        if ids is None:
            ids = self._spell[form] = self.chars.encode(form)
        return ids

    def batch(self, sentences: Sequence[Sequence[str]]) -> TaggerInput:
        """Sentences (lists of words, none empty) -> a padded ``TaggerInput``."""
        for i, s in enumerate(sentences):
            if not s:
                raise ValueError(f"sentence {i} of the batch has no words")
        words, lengths = pad_batch([self.word_ids(s) for s in sentences])  # (B, T), (B,)
        forms: dict[str, int] = {}
        types = torch.zeros_like(words)  # (B, T)
        for b, s in enumerate(sentences):
            types[b, : len(s)] = torch.tensor([forms.setdefault(w, len(forms)) for w in s])
        chars, char_lengths = pad_batch([self.spelling(w) for w in forms])  # (U, C), (U,)
        return TaggerInput(words, lengths, chars, char_lengths, types)

    def tag_ids(self, sentences: Sequence[Sentence]) -> torch.Tensor:
        """Gold tags (B, T), ``<pad>`` after each end; a tag unseen in train is an error."""
        out = []
        for s in sentences:
            unknown = [t for t in s.tags if t not in self.tags]
            if unknown:
                raise ValueError(f"line {s.line}: tag {unknown[0]!r} never occurs in train")
            out.append(self.tags.encode(s.tags))
        return pad_batch(out)[0]  # (B, T)


class BucketSampler:
    """Batches of sentences of similar length, a fresh shuffle each epoch, by step.

    Each epoch: shuffle, cut into pools of 50 batches, sort each pool by length, cut
    the pools into batches, shuffle the batches. Deterministic in (seed, step).
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int) -> None:
        if not lengths:
            raise ValueError("cannot sample batches from no sentences")
        self.lengths = torch.tensor(lengths)  # (N,)
        self.batch_size, self.seed = batch_size, seed
        pool = 50 * batch_size
        n = len(lengths)
        self.per_epoch = sum(-(-min(pool, n - i) // batch_size) for i in range(0, n, pool))
        self._epoch, self._batches = -1, [torch.empty(0, dtype=torch.long)]

    def _make(self, epoch: int) -> list[torch.Tensor]:
        g = step_generator(self.seed, -1 - epoch)
        perm = torch.randperm(len(self.lengths), generator=g)  # (N,)
        batches: list[torch.Tensor] = []
        for pool in perm.split(50 * self.batch_size):
            pool = pool[self.lengths[pool].argsort(stable=True)]
            batches.extend(pool.split(self.batch_size))
        order = torch.randperm(len(batches), generator=g).tolist()
        return [batches[i] for i in order]

    def indices(self, step: int) -> list[int]:
        epoch, i = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._epoch, self._batches = epoch, self._make(epoch)
        return self._batches[i].tolist()


def shard_batch(
    x: TaggerInput, tags: torch.Tensor, rank: int, world: int
) -> tuple[TaggerInput, torch.Tensor]:
    """Rank ``rank``'s share of a batch's sentences (data-parallel training): rows of the
    word tensors, and of ``chars`` only the forms those rows use, renumbered."""
    lo, hi = bounds(x.words.shape[0], rank, world)
    types = x.word_types[lo:hi]  # (b, T) into the batch's U forms
    used, local = torch.unique(types, return_inverse=True)  # (U',), (b, T) into the U' used
    chars = x.chars[used.to(x.chars.device)]  # (U', C)
    width = max(1, int(x.char_lengths[used.to(x.char_lengths.device)].max())) if len(used) else 1
    part = TaggerInput(
        x.words[lo:hi],
        x.lengths[lo:hi],
        chars[:, :width],  # (U', C'): no wider than its longest form
        x.char_lengths[used.to(x.char_lengths.device)],
        local,
    )
    return part, tags[lo:hi]


def frequency_word_dropout(
    words: torch.Tensor, counts: torch.Tensor, alpha: float, unk: int, gen: torch.Generator
) -> torch.Tensor:
    """Replace ids by ``unk`` with probability ``alpha / (alpha + count)``: (B, T)."""
    if alpha <= 0:
        return words
    p = alpha / (alpha + counts[words])  # (B, T)
    drop = (torch.rand(words.shape, generator=gen) < p) & (words != 0)  # (B, T): not padding
    return torch.where(drop, unk, words)  # (B, T)


# --- model, scoring, figures ---------------------------------------------------------


def build_model(cfg: Config, enc: PosVocab) -> Tagger:
    m = cfg.model
    return Tagger(
        len(enc.words),
        len(enc.chars),
        len(enc.tags),
        word_dim=m.word_dim,
        char_dim=m.char_dim,
        char_hidden=m.char_hidden,
        char_model=m.char_model,
        hidden=m.hidden,
        layers=m.layers,
        dropout=m.dropout,
        crf=m.crf,
        backend=m.backend,
    )


def load_split(cfg: DataConfig, split: str) -> list[Sentence]:
    """The sentences of a split; one over ``MAX_WORDS`` is a ``ValueError`` at file:line."""
    path = split_file(dataset_dir(cfg.name, cfg.dir), split)
    sentences = read_conllu(path, cfg.tagset)
    for s in sentences:
        check_sentence(s.words, f"{path}:{s.line}")
    return sentences


def check_sentence(words: Sequence[str], where: str) -> list[str]:
    """``words``, or a ``ValueError`` naming ``where`` when a limit is passed."""
    if len(words) > MAX_WORDS:
        raise ValueError(
            f"{where}: a sentence of {len(words):,} words; pos takes at most {MAX_WORDS:,} "
            "(pos.task.MAX_WORDS): split it into shorter lines"
        )
    longest = max(words, key=len, default="")
    if len(longest) > MAX_WORD_CHARS:
        raise ValueError(
            f"{where}: a word of {len(longest):,} characters ({longest[:20]!r}...); pos takes "
            f"words of at most {MAX_WORD_CHARS:,} (pos.task.MAX_WORD_CHARS)"
        )
    return list(words)


@torch.no_grad()
def tag_sentences(
    model: Tagger,
    enc: PosVocab,
    sentences: Sequence[Sequence[str]],
    device: torch.device,
    batch_size: int = 256,
) -> list[list[int]]:
    """Predicted tag ids of each sentence (any order in, same order out), in batches of
    sentences of similar length: at most ``batch_size`` of them and ``BATCH_WORDS`` words
    (padding included) unless one sentence is longer."""
    model.eval()
    out: list[list[int]] = [[] for _ in sentences]
    for idx in size_groups([len(s) for s in sentences], BATCH_WORDS, batch_size):
        x = enc.batch([sentences[i] for i in idx]).to(device)
        pred = model.predict(x).cpu()  # (B, T)
        for row, i in enumerate(idx):
            out[i] = pred[row, : len(sentences[i])].tolist()
    return out


def score(
    model: Tagger,
    enc: PosVocab,
    sentences: Sequence[Sentence],
    device: torch.device,
    batch_size: int = 256,
) -> dict[str, Any]:
    """Accuracy, accuracy on words outside the word vocabulary, counts, gold/pred ids."""
    pred = tag_sentences(model, enc, [s.words for s in sentences], device, batch_size)
    # a gold tag that never occurs in train (-1) counts as an error
    gold = torch.tensor([enc.tags.stoi.get(t, -1) for s in sentences for t in s.tags])  # (N,)
    guess = torch.tensor([t for p in pred for t in p])  # (N,)
    oov = torch.tensor([i == enc.words.unk_id for s in sentences for i in enc.word_ids(s.words)])
    right = gold == guess  # (N,)
    n_oov = int(oov.sum())
    return {
        "acc": float(right.float().mean()),
        "oov_acc": float(right[oov].float().mean()) if n_oov else float("nan"),
        "tokens": float(len(gold)),
        "oov_tokens": float(n_oov),
        "gold": gold,
        "pred": guess,
    }


def confusion_figure(
    gold: torch.Tensor, pred: torch.Tensor, tags: Sequence[str], path: Path, title: str
) -> None:
    """Row-normalized confusion matrix (gold rows, predicted columns), errors only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(tags)
    known = gold >= 0  # (N,): tags unseen in train have no row
    gold, pred = gold[known], pred[known]
    counts = torch.zeros(k, k, dtype=torch.long)  # (K, K)
    counts.index_put_((gold, pred), torch.ones_like(gold), accumulate=True)
    keep = [i for i in range(k) if counts[i].sum() + counts[:, i].sum() > 0]
    counts = counts[keep][:, keep]  # (K', K')
    names = [tags[i] for i in keep]
    errors = counts.clone().fill_diagonal_(0).float()  # (K', K')
    rate = errors / counts.sum(1, keepdim=True).clamp(min=1)  # share of each gold tag
    fig, ax = plt.subplots(figsize=(0.45 * len(names) + 2.5, 0.45 * len(names) + 2))
    im = ax.imshow(100 * rate.numpy(), cmap="Reds")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
    ax.set_yticks(
        range(len(names)),
        [f"{t} ({int(counts[i].sum())})" for i, t in enumerate(names)],
        fontsize=8,
    )
    for i in range(len(names)):
        for j in range(len(names)):
            if errors[i, j] > 0:
                ax.text(j, i, str(int(errors[i, j])), ha="center", va="center", fontsize=6)
    ax.set_xlabel("predicted tag")
    ax.set_ylabel("gold tag (words)")
    acc = float(counts.diagonal().sum()) / max(1, int(counts.sum()))
    ax.set_title(f"{title}: accuracy {100 * acc:.2f}%; cells: errors (color: % of row)", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --- the task contract ---------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _cached_split(cfg: DataConfig, split: str) -> tuple[Sentence, ...]:
    return tuple(load_split(cfg, split))


class PosTask(Task[Config, PosVocab, Tagger, list[str]]):
    """``predict(["The dog barks ."]) == ["The/DET dog/NOUN barks/VERB ./PUNCT"]``."""

    name = "pos"
    config_type = Config
    metric = "acc"
    splits = ("train", "dev", "test")
    predict_options = ("pretokenized",)
    encode_options = ("pretokenized",)
    max_input_tokens = MAX_WORDS
    predict_batch_tokens = BATCH_WORDS
    # before this version pos called unk_alpha word_dropout, a name sentiment uses for a rate
    renamed: ClassVar[dict[str, str]] = {"model.word_dropout": "model.unk_alpha"}

    def __init__(self) -> None:
        self.eval_seconds = 0.0  # time spent in dev evaluations while training

    def prepare(self, cfg: Config, run_dir: Path | None) -> PosVocab:
        enc = PosVocab.build(_cached_split(cfg.data, "train"), cfg.model.lower)
        if run_dir is not None:
            run_dir.mkdir(parents=True, exist_ok=True)
            enc.save(run_dir)
        return enc

    def restore(self, cfg: Config, run_dir: Path) -> PosVocab:
        return PosVocab.load(run_dir, cfg.model.lower)

    def build_model(self, cfg: Config, res: PosVocab) -> Tagger:
        return build_model(cfg, res)

    def train_batches(
        self, cfg: Config, res: PosVocab, device: torch.device
    ) -> Callable[[int], tuple[TaggerInput, torch.Tensor]]:
        enc, train_set = res, _cached_split(cfg.data, "train")
        counts = torch.zeros(len(enc.words))  # (V,)
        for s in train_set:
            ids = enc.word_ids(s.words)
            counts.index_add_(0, torch.tensor(ids), torch.ones(len(ids)))
        train_tags = [enc.tag_ids([s])[0] for s in train_set]
        sampler = BucketSampler([len(s) for s in train_set], cfg.train.batch_size, cfg.train.seed)

        def batch_fn(step: int) -> tuple[TaggerInput, torch.Tensor]:
            idx = sampler.indices(step)
            x = enc.batch([train_set[i].words for i in idx])
            g = step_generator(cfg.train.seed, step)
            x.words = frequency_word_dropout(
                x.words, counts, cfg.model.unk_alpha, enc.words.unk_id, g
            )
            tags = pad_batch([train_tags[i].tolist() for i in idx])[0]  # (B, T)
            return x.to(device), tags.to(device)

        return batch_fn

    def steps_per_epoch(self, cfg: Config, res: PosVocab) -> int:
        lengths = [len(s) for s in _cached_split(cfg.data, "train")]
        return BucketSampler(lengths, cfg.train.batch_size, cfg.train.seed).per_epoch

    def loss(
        self, cfg: Config, model: Tagger, batch: tuple[TaggerInput, torch.Tensor]
    ) -> torch.Tensor:
        return model.loss(*batch)

    def shard(
        self, cfg: Config, batch: tuple[TaggerInput, torch.Tensor], rank: int, world: int
    ) -> tuple[TaggerInput, torch.Tensor]:
        """A rank's sentences, with the spellings of only the forms they use."""
        return shard_batch(*batch, rank, world)

    def loss_count(self, cfg: Config, batch: tuple[TaggerInput, torch.Tensor]) -> float:
        return float(batch[0].lengths.sum())  # the loss is a mean per word

    def evaluator(
        self, cfg: Config, res: PosVocab, split: str, device: torch.device
    ) -> Callable[[Tagger], dict[str, float]]:
        sentences = _cached_split(cfg.data, split)

        def metrics(m: Tagger) -> dict[str, float]:
            t0 = time.perf_counter()
            r = score(m, res, sentences, device, cfg.data.eval_batch_size)
            self.eval_seconds += time.perf_counter() - t0
            return {k: v for k, v in r.items() if isinstance(v, float)}

        return metrics

    def train(
        self, cfg: Config, run_dir: Path, device: torch.device, progress: bool = True
    ) -> dict[str, float]:
        """Train on train, keep the best model on dev; writes vocabularies, metrics, figure."""
        self.eval_seconds = 0.0
        model, enc, result, _ = self.fit(cfg, device, run_dir=Path(run_dir), progress=progress)
        train_set, dev_set = _cached_split(cfg.data, "train"), _cached_split(cfg.data, "dev")
        sampler = BucketSampler([len(s) for s in train_set], cfg.train.batch_size, cfg.train.seed)
        tokens = sum(len(train_set[i]) for s in range(result.steps) for i in sampler.indices(s))
        r = score(model, enc, dev_set, device, cfg.data.eval_batch_size)
        confusion_figure(r["gold"], r["pred"], enc.tags.itos, run_dir / "confusion-dev.png", "dev")
        train_seconds = result.seconds - self.eval_seconds
        metrics = {
            "acc": r["acc"],
            "oov_acc": r["oov_acc"],
            "tokens": r["tokens"],
            "oov_tokens": r["oov_tokens"],
            "best_step": float(result.best_step),
            "steps": float(result.steps),
            "seconds": result.seconds,
            "train_seconds": train_seconds,
            "train_tokens": float(tokens),
            "tokens_per_s": tokens / train_seconds if train_seconds > 0 else float("nan"),
            "threads": float(torch.get_num_threads()),
        }
        write_metrics(run_dir, metrics)
        return metrics

    def evaluate(self, run: Run, split: str) -> dict[str, float]:
        """Accuracy, OOV accuracy and counts on a split; saves ``confusion-SPLIT.png``."""
        cfg, enc = run.cfg, run.res
        sentences = load_split(cfg.data, split)
        r = score(run.model, enc, sentences, run.device, cfg.data.eval_batch_size)
        path = run.run_dir / f"confusion-{split}.png"
        confusion_figure(r["gold"], r["pred"], enc.tags.itos, path, split)
        return {k: v for k, v in r.items() if isinstance(v, float)}

    def encode(
        self, cfg: Config, res: PosVocab, line: str, where: str, pretokenized: bool = False
    ) -> list[str]:
        split = check_flag(pretokenized, "pretokenized")
        return check_sentence(line.split() if split else tokenize_treebank(line), where)

    def answer(self, run: Run, xs: Sequence[list[str]], **options: Any) -> list[str]:
        nonempty = [t for t in xs if t]
        tagged = iter(tag(run, nonempty) if nonempty else [])
        return [tagged_line(words, next(tagged) if words else []) for words in xs]

    def probe(self, run: Run, x: list[str], **options: Any) -> dict[str, Any]:
        """View ``"tags"``: each word's tag (``predict``'s), its probability and the 3 most
        probable tags; ``p_kind`` says what the probabilities are: ``"marginal"`` (a CRF's
        ``p(tag | sentence)``, by forward-backward) or ``"softmax"`` (per word)."""
        model, enc = run.model, run.res
        kind = "marginal" if model.crf is not None else "softmax"
        out: dict[str, Any] = {"view": "tags", "answer": "", "tokens": list(x), "tags": []}
        out.update(p=[], top=[], p_kind=kind)
        if not x:  # predict answers an empty line with an empty line
            return out
        ids, probs, kind = model.tag_probabilities(enc.batch([x]).to(run.device))
        ids, probs = ids[0, : len(x)].cpu(), probs[0, : len(x)].cpu()  # (T,), (T, K)
        tags = enc.tags.decode(ids.tolist())
        best_p, best = probs.topk(min(3, probs.shape[1]), dim=1)  # (T, 3), (T, 3)
        out.update(answer=tagged_line(x, tags), tags=tags, p_kind=kind)
        out["p"] = [round(float(v), 4) for v in probs.gather(1, ids[:, None])[:, 0]]
        out["top"] = [
            [[enc.tags.itos[k], round(float(v), 4)] for k, v in zip(ks, vs, strict=True)]
            for ks, vs in zip(best.tolist(), best_p.tolist(), strict=True)
        ]
        return out

    def examples(self, run: Run, n: int) -> list[str]:
        """Up to ``n`` dev sentences of 5 to 25 words, as text (none when the treebank is
        not where the run's config says)."""
        try:
            dev = _cached_split(run.cfg.data, "dev")
        except FileNotFoundError:
            return []
        picked = [s for s in dev if 5 <= len(s) <= 25] or list(dev)
        return [" ".join(s.words) for s in picked[: max(0, n)]]


def tagged_line(words: Sequence[str], tags: Sequence[str]) -> str:
    """``predict``'s line for a tagged sentence: ``word/TAG`` pairs."""
    return " ".join(f"{w}/{t}" for w, t in zip(words, tags, strict=True))


def tag(run: Run, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
    """Tags of already-tokenized sentences (each a non-empty list of words)."""
    cfg, enc = run.cfg, run.res
    ids = tag_sentences(run.model, enc, sentences, run.device, cfg.data.eval_batch_size)
    return [enc.tags.decode(row) for row in ids]


TASK = PosTask()
