"""Sentence sentiment on MR: many-to-one, from scratch or from a pretrained LSTM LM.

Data: ``sentence-polarity/`` (5,331 positive and 5,331 negative snippets). With
``data.fold = -1`` the test set is a seeded 10% holdout; with ``data.fold = i`` it is fold
``i`` of ``data.folds`` seeded folds (``rnnlab bench sentiment`` runs them all). A seeded
``data.dev_fraction`` of the remaining snippets is the dev set that picks the best step;
the rest is training data.

Encoding of one example (vocabulary from the training snippets, ``<pad>=0``, ``<unk>=1``;
ids below are illustrative) in a batch whose longest snippet has 6 tokens::

    text     "a gorgeous , witty , seductive movie"   -> tokenize, lower-case
    tokens   [5, 1220, 3, 2051, 3, 4410, 19, 0, 0]     lengths 7      (0 = <pad>)
    label    1                                         (0 negative, 1 positive)

With ``pretrained = "LM_RUN_DIR"`` (``--pretrained``) the classifier takes that language
model's vocabulary, embeddings and LSTM (so it has the LM's sizes and directions),
then fine-tunes in two stages (ULMFiT-style gradual unfreezing): ``finetune.head_steps``
steps of the head alone, then everything (the embeddings too unless
``finetune.freeze_embed``) with ``train`` (warm-up then linear decay: a slanted triangular
learning rate), the LSTM and the embeddings at ``finetune.rnn_lr_scale`` and
``finetune.embed_lr_scale`` times the head's rate (discriminative learning rates).
With ``finetune.lm_steps > 0`` the LM is first trained further on the training snippets'
text (ULMFiT's second stage; the test snippets are never read).

With ``ensemble = N`` the run folder holds N classifiers (``member0/`` ..., seeds
``train.seed + i``, each a run folder of its own) and ``predict`` / ``evaluate`` average
their probabilities. Measured figures are in ``docs/sentiment.md``. ``predict`` prints
``positive 0.93``: the label and its probability.

Raw text (``predict``) is tokenized as MR is (``rnnlab.nn.vocab.tokenize_mr``: punctuation
split off, clitics such as ``it's`` kept whole) and lower-cased; ``pretokenized=True``
(``--pretokenized``) splits on whitespace only. A text (input line, or MR line) may have
at most ``data.MAX_WORDS`` = 5,000 words, or a ``ValueError`` names it and the limit;
texts are classified in batches of at most ``BATCH_WORDS`` words, padding included.

``probe`` (view ``"prefix"``, for the lab) gives the label probabilities after each
prefix of a text (the network unrolled word by word: one pass of a unidirectional
classifier, the prefixes as rows for a bidirectional one, at most ``MAX_PREFIX_WORDS``
= 500 words); ``examples`` gives dev snippets of both labels.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.nn.layers import BACKENDS
from rnnlab.nn.vocab import Vocab, pad_batch, tokenize_mr
from rnnlab.tasks.base import Task, check_flag, size_groups, write_metrics
from rnnlab.tasks.sentiment.data import LABELS, MAX_WORDS, Corpus, folds, holdout, load_mr
from rnnlab.tasks.sentiment.model import POOLS, SentimentClassifier, init_from_lm
from rnnlab.training.checkpoint import load_weights
from rnnlab.training.config import RangeChecked, ranged, save_config, section, unranged
from rnnlab.training.data import data_root
from rnnlab.training.loop import TrainConfig, fit
from rnnlab.training.samplers import EpochSampler

if TYPE_CHECKING:
    from rnnlab.tasks.base import Run

# how the task trains by default: [train] of its Config
TRAIN = TrainConfig(
    steps=2000,
    batch_size=50,
    lr=3e-3,
    schedule="linear",
    warmup=50,
    eval_every=50,
    log_every=25,
    clip_norm=5.0,
)

VOCAB_FILE = "vocab.json"
BATCH_WORDS = 16384  # words (padding included) classified in one batch


@dataclass(frozen=True)
class DataConfig(RangeChecked):
    dir: str = unranged("", "the data root; '' = the default")
    fold: int = ranged(-1, ge=-1)  # -1: seeded 90/10 holdout; 0..folds-1: that CV fold is test
    folds: int = ranged(10, ge=2)
    seed: int = ranged(0, ge=0)  # folds and holdout
    dev_fraction: float = ranged(0.1, gt=0, lt=1)  # of the training part, to pick the best step
    min_freq: int = ranged(2, ge=1)  # rarer training words share <unk>, so <unk> is trained too
    # < 1: a seeded subset of the training snippets (fewer labels)
    train_fraction: float = ranged(1.0, gt=0, le=1)


@dataclass(frozen=True)
class ModelConfig(RangeChecked):
    embed: int = ranged(200, ge=1)
    hidden: int = ranged(100, ge=1)
    layers: int = ranged(1, ge=1)
    cell: str = ranged("lstm", choices=("lstm", "gru"))
    bidirectional: bool = ranged(True)
    pooling: str = ranged("last+max+mean", choices=POOLS, joined="+")
    dropout: float = ranged(0.5, ge=0, lt=1)
    embed_dropout: float = ranged(0.3, ge=0, lt=1)
    # training only: each word becomes <unk> with this probability
    word_dropout: float = ranged(0.0, ge=0, lt=1)
    # training only: > 0 adds the loss on embeddings moved this far
    adversarial: float = ranged(0.0, ge=0)
    backend: str = ranged("fused", choices=BACKENDS)


@dataclass(frozen=True)
class FinetuneConfig(RangeChecked):
    head_steps: int = ranged(60, ge=0)  # stage 1: the head alone
    head_lr: float = ranged(3e-3, gt=0)
    freeze_embed: bool = ranged(False)  # True: stage 2 keeps the LM's embeddings fixed
    # stage 2: the LSTM's learning rate / the head's (ULMFiT 1/2.6)
    rnn_lr_scale: float = ranged(0.5, ge=0)
    embed_lr_scale: float = ranged(0.25, ge=0)  # stage 2: the embeddings' rate / the head's
    # > 0: first fine-tune the LM on the training snippets' text (ULMFiT)
    lm_steps: int = ranged(0, ge=0)
    # its peak learning rate (warm-up of lm_steps // 10, linear decay)
    lm_lr: float = ranged(1e-3, gt=0)


@dataclass(frozen=True)
class Config(RangeChecked):
    # a language-model run folder (rnnlab train lm) to start from
    pretrained: str = unranged("", "a run folder of rnnlab train lm; '' = none")
    # > 1: that many classifiers (train.seed + i), probabilities averaged
    ensemble: int = ranged(1, ge=1)
    data: DataConfig = section(DataConfig)
    model: ModelConfig = section(ModelConfig)
    train: TrainConfig = TRAIN
    finetune: FinetuneConfig = section(FinetuneConfig)


# --- data ------------------------------------------------------------------------------


def splits(cfg: DataConfig) -> dict[str, Corpus]:
    """``train``, ``dev`` and ``test`` corpora for the configured fold or holdout."""
    mr = load_mr(data_root(cfg.dir))
    if cfg.fold == -1:
        rest, test = holdout(len(mr), 0.1, cfg.seed)
    elif 0 <= cfg.fold < cfg.folds:
        rest, test = folds(len(mr), cfg.folds, cfg.seed)[cfg.fold]
    else:
        raise ValueError(f"data.fold expects -1 or 0..{cfg.folds - 1}, got {cfg.fold}")
    keep, dev = holdout(len(rest), cfg.dev_fraction, cfg.seed + 1)
    if not 0 < cfg.train_fraction <= 1:
        raise ValueError(f"data.train_fraction must be in (0, 1], got {cfg.train_fraction}")
    if cfg.train_fraction < 1:  # the dev and test sets stay as they are
        keep = sorted(keep[i] for i in holdout(len(keep), cfg.train_fraction, cfg.seed + 2)[1])
    return {
        "train": mr.subset([rest[i] for i in keep]),
        "dev": mr.subset([rest[i] for i in dev]),
        "test": mr.subset(test),
    }


def text_tokens(text: str, where: str = "input", pretokenized: bool = False) -> list[str]:
    """Raw text in MR's style (``rnnlab.nn.vocab.tokenize_mr``, or whitespace-separated
    when ``pretokenized``), lower-cased; empty or over ``MAX_WORDS`` is a ``ValueError``."""
    words = [w.lower() for w in (text.split() if pretokenized else tokenize_mr(text))]
    if not words:
        raise ValueError(f"{where} is empty: expected some words to classify")
    if len(words) > MAX_WORDS:
        raise ValueError(
            f"{where} has {len(words):,} words; sentiment takes at most {MAX_WORDS:,} "
            "(sentiment.data.MAX_WORDS): split it into shorter lines"
        )
    return words


def encode(corpus: Corpus, vocab: Vocab) -> list[list[int]]:
    return [vocab.encode(t) for t in corpus.texts]


@torch.no_grad()
def probabilities(
    model: SentimentClassifier, seqs: list[list[int]], device: torch.device
) -> torch.Tensor:
    """``P(positive)`` for each sequence, ``(N,)``, in batches of similar lengths of at most
    256 sequences and ``BATCH_WORDS`` words (padding included)."""
    model.eval()
    out = torch.empty(len(seqs))  # (N,)
    for idx in size_groups([len(s) for s in seqs], BATCH_WORDS, 256):
        tokens, lengths = pad_batch([seqs[i] for i in idx])  # (B, T), (B,)
        logits = model(tokens.to(device), lengths.to(device))  # (B, 2)
        out[idx] = logits.softmax(-1)[:, 1].cpu()  # (B,)
    return out


def accuracy_of(probs: torch.Tensor, labels: list[int]) -> float:
    """Accuracy of ``P(positive)`` ``(N,)`` thresholded at 0.5."""
    return float(((probs > 0.5) == torch.tensor(labels, dtype=torch.bool)).float().mean())


def accuracy(
    model: SentimentClassifier, seqs: list[list[int]], labels: list[int], device: torch.device
) -> float:
    return accuracy_of(probabilities(model, seqs, device), labels)


# --- model and training ----------------------------------------------------------------


def build_model(cfg: Config, vocab_size: int) -> SentimentClassifier:
    m = cfg.model
    return SentimentClassifier(
        vocab_size,
        m.embed,
        m.hidden,
        m.layers,
        m.cell,
        m.bidirectional,
        m.pooling,
        m.dropout,
        m.embed_dropout,
        backend=m.backend,
        word_dropout=m.word_dropout,
    )


def from_pretrained(cfg: Config, device: torch.device) -> tuple[Config, Vocab, Run]:
    """The config made to match the LM (an LSTM of its sizes and directions), its vocab, and
    the loaded LM run."""
    from rnnlab.tasks import load_run, read_run_config

    name, lm_cfg = read_run_config(cfg.pretrained)
    if name != "lm":
        raise ValueError(f"--pretrained {cfg.pretrained}: expected a run of task lm, got {name}")
    trained = load_run(cfg.pretrained, device)
    lm = lm_cfg.model
    model = replace(
        cfg.model,
        embed=lm.embed,
        hidden=lm.hidden,
        layers=lm.layers,
        cell="lstm",
        bidirectional=lm.bidirectional,
    )
    return replace(cfg, model=model), trained.res, trained


def adapt_lm(
    trained: Run,
    data: dict[str, Corpus],
    ft: FinetuneConfig,
    seed: int,
    device: torch.device,
    progress: bool = True,
) -> dict[str, float]:
    """ULMFiT's second stage: ``ft.lm_steps`` steps of the LM's own loss on the training
    snippets' text (``</s>`` after each), in place. The test snippets are never read; the
    dev snippets' text measures the LM's perplexity before and after."""
    from rnnlab.tasks.lm import task as lm_task

    bptt = trained.cfg.data.bptt
    ids, starts = lm_task.stream(data["train"].texts, trained.res)  # (N,), (S,)
    dev_ids, _ = lm_task.stream(data["dev"].texts, trained.res)  # (N_dev,)
    before = lm_task.perplexities(trained.model, dev_ids, bptt, device)[0]
    lm_cfg = replace(
        trained.cfg.train,
        steps=ft.lm_steps,
        lr=ft.lm_lr,
        schedule="linear",
        warmup=ft.lm_steps // 10,
        eval_every=ft.lm_steps,
        seed=seed,
        epochs=0,
    )
    batch_fn = lm_task.window_batches(ids, starts, bptt, lm_cfg.batch_size, seed, device)
    result = fit(
        trained.model,
        lm_cfg,
        batch_fn,
        lambda m, b: lm_task.TASK.loss(trained.cfg, m, b),
        None,
        progress=progress,
        desc="lm on MR",
    )
    after = lm_task.perplexities(trained.model, dev_ids, bptt, device)[0]
    return {"lm_dev_ppl_before": before, "lm_dev_ppl_after": after, "lm_seconds": result.seconds}


def train_model(
    cfg: Config, device: torch.device, run_dir: Path | None = None, progress: bool = True
) -> tuple[SentimentClassifier, Vocab, Config, dict[str, float]]:
    """Train one classifier; returns it, its vocabulary, the effective config and metrics
    (dev and test accuracy, seconds)."""
    data = splits(cfg.data)
    lm, adapted = None, {}
    if cfg.pretrained:
        cfg, vocab, trained = from_pretrained(cfg, device)
        if cfg.finetune.lm_steps > 0:
            adapted = adapt_lm(trained, data, cfg.finetune, cfg.train.seed, device, progress)
        lm = trained.model
    else:
        vocab = Vocab.build(data["train"].texts, min_freq=cfg.data.min_freq)
    if run_dir is not None:  # what load() needs, written before training can be cut short
        run_dir.mkdir(parents=True, exist_ok=True)
        vocab.save(run_dir / VOCAB_FILE)
        save_config(cfg, run_dir / "config.toml", task="sentiment")  # the model as built
    assert (vocab.pad_id, vocab.unk_id) == (0, 1), "the classifier's pad/unk ids"
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg, len(vocab)).to(device)
    if lm is not None:
        init_from_lm(model, lm)
    batch_fn = TASK.train_batches(cfg, [vocab], device, data)

    def loss_fn(m: SentimentClassifier, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return TASK.loss(cfg, m, batch)

    eval_fn = TASK.evaluator(cfg, [vocab], "dev", device, data)
    seconds = 0.0
    if lm is not None and cfg.finetune.head_steps > 0:  # stage 1: the head alone
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("head."))
        head_cfg = replace(
            cfg.train,
            steps=cfg.finetune.head_steps,
            lr=cfg.finetune.head_lr,
            warmup=0,
            schedule="constant",
            epochs=0,
        )
        seconds += fit(
            model, head_cfg, batch_fn, loss_fn, None, progress=progress, desc="head"
        ).seconds
    if lm is not None:  # stage 2: everything, but the embeddings if they stay frozen
        for name, p in model.named_parameters():
            p.requires_grad_(not (cfg.finetune.freeze_embed and name.startswith("embed.")))
    ft = cfg.finetune
    result = fit(
        model,
        cfg.train,
        batch_fn,
        loss_fn,
        eval_fn,
        run_dir=run_dir,
        metric="acc",
        progress=progress,
        desc="sentiment",
        steps_per_epoch=EpochSampler(len(data["train"]), cfg.train.batch_size, 0).per_epoch,
        lr_scales={"embed.": ft.embed_lr_scale, "rnn.": ft.rnn_lr_scale} if lm else None,
    )
    seconds += result.seconds
    model.eval()
    metrics = {
        "dev_acc": eval_fn(model)["acc"],
        "test_acc": TASK.evaluator(cfg, [vocab], "test", device, data)(model)["acc"],
        "best_step": float(result.best_step),
        "seconds": seconds + adapted.get("lm_seconds", 0.0),
        **{k: v for k, v in adapted.items() if k != "lm_seconds"},
    }
    return model, vocab, cfg, metrics


def member_dir(run_dir: Path, i: int) -> Path:
    return Path(run_dir) / f"member{i}"


def member_config(cfg: Config, i: int) -> Config:
    """Member ``i`` of an ensemble: one classifier with seed ``train.seed + i``."""
    return replace(cfg, ensemble=1, train=replace(cfg.train, seed=cfg.train.seed + i))


def mean_probabilities(
    members: list[tuple[SentimentClassifier, Vocab]],
    texts: list[list[str]],
    device: torch.device,
) -> torch.Tensor:
    """``P(positive)`` averaged over the members (each with its own vocabulary), ``(N,)``."""
    probs = [probabilities(m, [v.encode(t) for t in texts], device) for m, v in members]
    return torch.stack(probs).mean(0)  # (N,)


def train_ensemble(
    cfg: Config, device: torch.device, run_dir: Path | None = None, progress: bool = True
) -> dict[str, float]:
    """``cfg.ensemble`` classifiers (in ``run_dir/member{i}``, or in temporary folders
    without a ``run_dir``); the dev and test accuracy of their averaged probabilities, each
    member's own (``member{i}_dev_acc``, ``member{i}_test_acc``) and the training seconds."""
    members, member_metrics = [], []
    for i in range(cfg.ensemble):
        with tempfile.TemporaryDirectory() as tmp:  # checkpoints keep the best dev step
            where = member_dir(run_dir, i) if run_dir is not None else Path(tmp)
            model, vocab, _, m = train_model(member_config(cfg, i), device, where, progress)
        members.append((model, vocab))
        member_metrics.append(m)
    data = splits(cfg.data)
    metrics = {
        f"{k}_acc": accuracy_of(mean_probabilities(members, data[k].texts, device), data[k].labels)
        for k in ("dev", "test")
    }
    for k in ("dev_acc", "test_acc"):
        metrics.update({f"member{i}_{k}": m[k] for i, m in enumerate(member_metrics)})
    metrics["seconds"] = sum(m["seconds"] for m in member_metrics)
    return metrics


class Ensemble(nn.Module):
    """Classifiers whose probabilities are averaged (one classifier: an ensemble of one)."""

    def __init__(self, members: Sequence[SentimentClassifier]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)


def load_member(
    run_dir: Path, cfg: Config, device: torch.device
) -> tuple[SentimentClassifier, Vocab]:
    vocab = Vocab.load(Path(run_dir) / VOCAB_FILE)
    model = build_model(cfg, len(vocab)).to(device)
    load_weights(model, Path(run_dir) / "model.safetensors")
    return model.eval(), vocab


def member_runs(run_dir: Path, cfg: Config) -> list[tuple[Path, Config]]:
    """Each member's folder and its own config (a --pretrained one has the LM's sizes)."""
    if cfg.ensemble == 1:
        return [(run_dir, cfg)]
    from rnnlab.tasks import read_run_config

    return [
        (member_dir(run_dir, i), read_run_config(member_dir(run_dir, i))[1])
        for i in range(cfg.ensemble)
    ]


def probabilities_of(
    model: nn.Module, vocabs: Sequence[Vocab], texts: list[list[str]], device: torch.device
) -> torch.Tensor:
    """``P(positive)`` ``(N,)`` of a classifier or an ensemble (its members averaged)."""
    members = list(model.members) if isinstance(model, Ensemble) else [model]
    pairs = [(m, v) for m, v in zip(members, vocabs, strict=True)]
    return mean_probabilities(pairs, texts, device)  # type: ignore[arg-type]


class SentimentTask(Task[Config, list[Vocab], nn.Module, list[str]]):
    """``predict(["a gorgeous, witty, seductive movie"]) == ["positive 1.00"]``.

    Resources: one vocabulary per classifier (an ensemble's members each have their own).
    """

    name = "sentiment"
    config_type = Config
    max_input_tokens = MAX_WORDS
    predict_batch_tokens = BATCH_WORDS
    predict_options = encode_options = ("pretokenized",)
    metric = "acc"
    splits = ("train", "dev", "test")

    def build_model(self, cfg: Config, res: list[Vocab]) -> nn.Module:
        return build_model(cfg, len(res[0]))

    def train_batches(
        self,
        cfg: Config,
        res: list[Vocab],
        device: torch.device,
        data: dict[str, Corpus] | None = None,
    ) -> Callable[[int], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        train = (data or splits(cfg.data))["train"]
        seqs, y = encode(train, res[0]), torch.tensor(train.labels)  # y (N,)
        sampler = EpochSampler(len(seqs), cfg.train.batch_size, cfg.train.seed)

        def batch_fn(step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            idx = sampler.indices(step).tolist()
            tokens, lengths = pad_batch([seqs[i] for i in idx])  # (B, T), (B,)
            return tokens.to(device), lengths.to(device), y[idx].to(device)

        return batch_fn

    def loss(self, cfg: Config, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        tokens, lengths, y = batch
        if cfg.model.adversarial > 0 and isinstance(model, SentimentClassifier):
            return model.adversarial_loss(tokens, lengths, y, cfg.model.adversarial)
        return F.cross_entropy(model(tokens, lengths), y)

    def evaluator(
        self,
        cfg: Config,
        res: list[Vocab],
        split: str,
        device: torch.device,
        data: dict[str, Corpus] | None = None,
    ) -> Callable[[nn.Module], dict[str, float]]:
        corpus = (data or splits(cfg.data))[split]

        def metrics(m: nn.Module) -> dict[str, float]:
            probs = probabilities_of(m, res, corpus.texts, device)
            return {"acc": accuracy_of(probs, corpus.labels), "n": float(len(corpus))}

        return metrics

    def train(
        self, cfg: Config, run_dir: Path, device: torch.device, progress: bool = True
    ) -> dict[str, float]:
        """One classifier in ``run_dir``, or ``cfg.ensemble`` of them in
        ``run_dir/member{i}`` whose averaged probabilities are scored on dev and test."""
        if cfg.ensemble < 1:
            raise ValueError(f"ensemble expects at least 1 classifier, got {cfg.ensemble}")
        if cfg.ensemble == 1:
            metrics = train_model(cfg, device, run_dir=run_dir, progress=progress)[3]
        else:
            metrics = train_ensemble(cfg, device, run_dir, progress)
        write_metrics(run_dir, metrics)
        return metrics

    def check_distributed(self, cfg: Config) -> None:
        if cfg.ensemble > 1 or cfg.pretrained:
            what = "an ensemble" if cfg.ensemble > 1 else "a pretrained start (ULMFiT stages)"
            raise ValueError(
                f"sentiment trains {what} in several fits, one after another; data-parallel "
                "training runs one: train it in one process, or set ensemble = 1 and no pretrained"
            )

    def restore(self, cfg: Config, run_dir: Path) -> list[Vocab]:
        return [Vocab.load(d / VOCAB_FILE) for d, _ in member_runs(run_dir, cfg)]

    def load_model(
        self, cfg: Config, res: list[Vocab], run_dir: Path, device: torch.device
    ) -> nn.Module:
        members = [load_member(d, c, device)[0] for d, c in member_runs(run_dir, cfg)]
        return Ensemble(members).eval() if cfg.ensemble > 1 else members[0]

    def encode(
        self, cfg: Config, res: list[Vocab], line: str, where: str, pretokenized: bool = False
    ) -> list[str]:
        return text_tokens(line, where, check_flag(pretokenized, "pretokenized"))

    def answer(self, run: Run, xs: Sequence[list[str]], **options: Any) -> list[str]:
        probs = probabilities_of(run.model, run.res, list(xs), run.device).tolist()
        return [answer_line(p) for p in probs]

    def probe(self, run: Run, x: list[str], **options: Any) -> dict[str, Any]:
        """View ``"prefix"``: the label probabilities after each prefix of the text (words
        1..k for k = 1..T), combined over an ensemble's members as ``predict`` does; the
        last row is the whole text's. A unidirectional classifier gives every prefix in one
        pass; a bidirectional one classifies the prefixes as rows of one batch, so its
        text may have at most ``MAX_PREFIX_WORDS`` words here."""
        p = prefix_probabilities(run.model, run.res, x, run.device)  # (T,)
        return {
            "view": "prefix",
            "answer": self.answer(run, [x])[0],
            "tokens": list(x),
            "labels": list(LABELS),
            "p": [[round(1 - v, 4), round(v, 4)] for v in p.tolist()],
        }

    def examples(self, run: Run, n: int) -> list[str]:
        """Up to ``n`` dev snippets of at most 30 words, alternately positive and negative
        where there are both (none when MR is not where the run's config says)."""
        try:
            dev = splits(run.cfg.data)["dev"]
        except FileNotFoundError:
            return []
        by_label: list[list[str]] = [[], []]
        for text, label in zip(dev.texts, dev.labels, strict=True):
            if len(text) <= 30:
                by_label[label].append(" ".join(text))
        mixed = [t for pair in zip(by_label[1], by_label[0], strict=False) for t in pair]
        longer = by_label[0] if len(by_label[0]) > len(by_label[1]) else by_label[1]
        return (mixed + longer[len(mixed) // 2 :])[: max(0, n)]


MAX_PREFIX_WORDS = 500  # probe of a bidirectional classifier: T prefixes, T^2 / 2 words


def answer_line(p: float) -> str:
    """``predict``'s line for ``P(positive)``: the label and its probability."""
    return f"{LABELS[p > 0.5]} {max(p, 1 - p):.2f}"


def prefix_probabilities(
    model: nn.Module, vocabs: Sequence[Vocab], words: list[str], device: torch.device
) -> torch.Tensor:
    """``P(positive)`` after each prefix ``words[:k]``, ``(T,)``, of a classifier or an
    ensemble (its members' averaged, as ``probabilities_of`` does)."""
    members = list(model.members) if isinstance(model, Ensemble) else [model]
    out = []
    for m, vocab in zip(members, vocabs, strict=True):
        ids = vocab.encode(words)
        assert isinstance(m, SentimentClassifier)
        if m.directions == 1:
            m.eval()
            logits = m.prefix_logits(torch.tensor(ids, device=device))  # (T, 2)
            out.append(logits.softmax(-1)[:, 1].cpu())  # (T,)
            continue
        if len(ids) > MAX_PREFIX_WORDS:
            raise ValueError(
                f"input has {len(ids):,} words; the prefixes of a bidirectional classifier are "
                f"read for at most {MAX_PREFIX_WORDS:,} (sentiment.task.MAX_PREFIX_WORDS)"
            )
        out.append(probabilities(m, [ids[:k] for k in range(1, len(ids) + 1)], device))
    return torch.stack(out).mean(0)  # (T,)


TASK = SentimentTask()
