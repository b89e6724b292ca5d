"""Word-level LSTM language model on ``movie-review-text/`` (pretraining for ``sentiment``).

Text: every line of the corpus except those that also occur in MR (see
``rnnlab.tasks.sentiment.data``); 40 reviews are held out as ``dev`` and 40 as ``test``. The
vocabulary is the training text's ``data.vocab_size`` most frequent words seen at least
``data.min_freq`` times, ids sorted by frequency after ``<pad>=0, <unk>=1, </s>=2`` (so an
adaptive softmax can give rare words a cheaper cluster). Sentences are joined into one
stream, each followed by ``</s>``.

Encoding of one training example with ``bptt = 5``: a window starts at a sentence start
(drawn by the step's seed) and the targets are the inputs shifted by one::

    stream   ... </s>  the  film  is   a    mess  .    </s> ...
    tokens         [ 7,   31,   12,  9,   1043 ]          (the film is a mess)
    targets        [ 31,  12,   9,   1043, 4  ]           (film is a mess .)

Every window starts from a zero state, as a classifier's sentence does. With
``model.bidirectional`` (the default) a second, reverse LSTM over the same window
predicts each token from the ones after it: ``tokens[t-1]`` from ``tokens[t:]`` (so
``31`` from ``[12, 9, 1043]`` above); the two share embeddings and softmax and the loss
is their mean. ``evaluate`` reports ``ppl = exp(mean cross-entropy)`` of the forward
direction over consecutive ``bptt`` windows of the split, and ``ppl_backward`` for the
reverse one.
``predict([text], generate=True)`` continues the text by sampling (seeded, temperature
``0.8``, up to 30 words or ``</s>``; ``generate=N`` up to N words, at most
``MAX_GENERATE`` = 500); without ``generate`` it prints each line's perplexity.
``probe`` (view ``"text"``) samples a continuation at a chosen ``temperature`` and
``seed`` and gives each sampled word's probability. Input text is tokenized as the
corpus is (``rnnlab.nn.vocab.tokenize_mr``), or split on whitespace with
``pretokenized=True``, and lower-cased; a line may have at most ``MAX_WORDS`` = 5,000
words (a ``ValueError`` names it and the limit).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from rnnlab.nn.layers import BACKENDS
from rnnlab.nn.vocab import EOS, PAD, UNK, Vocab, tokenize_mr
from rnnlab.tasks.base import Run, Task, check_flag, write_metrics
from rnnlab.tasks.lm.model import LanguageModel
from rnnlab.tasks.sentiment.data import PretrainText, load_pretraining
from rnnlab.training.config import RangeChecked, ranged, section, unranged
from rnnlab.training.data import data_root
from rnnlab.training.loop import TrainConfig
from rnnlab.training.recipes import COSINE
from rnnlab.training.samplers import step_generator

# how the task trains by default: [train] of its Config
TRAIN = replace(
    COSINE, lr=3e-3, steps=5000, warmup=200, clip_norm=0.5, eval_every=500, log_every=25
)

VOCAB_FILE = "vocab.json"
MAX_WORDS = 5000  # the longest line predict scores or continues
GENERATE_WORDS = 30  # words generate=True samples (fewer at </s>)
MAX_GENERATE = 500  # the most words one generate option may ask for


@dataclass(frozen=True)
class DataConfig(RangeChecked):
    dir: str = unranged("", "the data root; '' = the default")
    vocab_size: int = ranged(30000, ge=4)  # <pad>, <unk>, </s> and at least one word
    min_freq: int = ranged(2, ge=1)
    bptt: int = ranged(70, ge=1)


@dataclass(frozen=True)
class ModelConfig(RangeChecked):
    embed: int = ranged(256, ge=1)
    hidden: int = ranged(384, ge=1)
    layers: int = ranged(1, ge=1)
    dropout: float = ranged(0.2, ge=0, lt=1)
    # adaptive softmax cluster boundaries (ids); () = full softmax
    cutoffs: tuple[int, ...] = ranged((2000, 10000), ge=1)
    backend: str = ranged("fused", choices=BACKENDS)
    # a forward and a backward LM sharing embeddings and softmax
    bidirectional: bool = ranged(True)


@dataclass(frozen=True)
class Config(RangeChecked):
    seed: int = ranged(0, ge=0)  # generation seed
    data: DataConfig = section(DataConfig)
    model: ModelConfig = section(ModelConfig)
    train: TrainConfig = TRAIN


def build_vocab(sentences: list[list[str]], d: DataConfig) -> Vocab:
    specials = (PAD, UNK, EOS)
    return Vocab.build(sentences, min_freq=d.min_freq, max_size=d.vocab_size, specials=specials)


def stream(sentences: list[list[str]], vocab: Vocab) -> tuple[torch.Tensor, torch.Tensor]:
    """All ids in one ``(N,)`` tensor, ``</s>`` after each sentence, and the ``(S,)``
    sentence start offsets."""
    eos = vocab.id(EOS)
    ids: list[int] = []
    starts: list[int] = []
    for s in sentences:
        starts.append(len(ids))
        ids += vocab.encode(s)
        ids.append(eos)
    return torch.tensor(ids, dtype=torch.long), torch.tensor(starts, dtype=torch.long)


def build_model(cfg: Config, vocab_size: int) -> LanguageModel:
    m = cfg.model
    cutoffs = tuple(c for c in m.cutoffs if c < vocab_size - 1)
    return LanguageModel(
        vocab_size,
        m.embed,
        m.hidden,
        m.layers,
        m.dropout,
        cutoffs,
        backend=m.backend,
        bidirectional=m.bidirectional,
    )


def windows(ids: torch.Tensor, bptt: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Consecutive non-overlapping windows: tokens and targets, each ``(W, bptt)``."""
    n = (ids.numel() - 1) // bptt
    if n < 1:
        raise ValueError(f"text of {ids.numel()} tokens is shorter than one window ({bptt} + 1)")
    x = ids[: n * bptt].view(n, bptt)  # (W, bptt)
    y = ids[1 : n * bptt + 1].view(n, bptt)  # (W, bptt)
    return x, y


@torch.no_grad()
def perplexities(
    model: LanguageModel, ids: torch.Tensor, bptt: int, device: torch.device
) -> list[float]:
    """``exp(mean cross-entropy)`` per direction (forward first) over the windows of ``ids``."""
    model.eval()
    x, y = windows(ids, bptt)
    totals, counts = [0.0] * model.directions, [0] * model.directions
    for i in range(0, x.shape[0], 64):
        xb, yb = x[i : i + 64].to(device), y[i : i + 64].to(device)  # (B, bptt)
        for d, loss in enumerate(model.direction_losses(xb, yb)):
            n = yb.numel() if d == 0 else xb[:, :-1].numel()
            totals[d] += float(loss) * n
            counts[d] += n
    return [math.exp(t / c) for t, c in zip(totals, counts, strict=True)]


def window_batches(
    ids: torch.Tensor,
    starts: torch.Tensor,
    bptt: int,
    batch_size: int,
    seed: int,
    device: torch.device,
) -> Callable[[int], tuple[torch.Tensor, torch.Tensor]]:
    """``batch_fn(step)``: ``batch_size`` windows of ``bptt`` tokens, each from a sentence
    start drawn by the step's seed, and their targets (the next tokens)."""
    starts = starts[starts < ids.numel() - bptt - 1]  # (S',): windows that fit
    if starts.numel() == 0:
        raise ValueError(f"text of {ids.numel()} tokens is shorter than one window ({bptt} + 1)")

    def batch_fn(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        gen = step_generator(seed, step)
        first = starts[torch.randint(0, starts.numel(), (batch_size,), generator=gen)]  # (B,)
        pos = first[:, None] + torch.arange(bptt + 1)[None, :]  # (B, bptt + 1)
        chunk = ids[pos]  # (B, bptt + 1)
        return chunk[:, :-1].to(device), chunk[:, 1:].to(device)

    return batch_fn


def ppl_metrics(ppls: list[float]) -> dict[str, float]:
    return {"ppl": ppls[0], **({"ppl_backward": ppls[1]} if len(ppls) > 1 else {})}


@functools.lru_cache(maxsize=4)
def text_of(d: DataConfig, split: str) -> PretrainText:
    return load_pretraining(data_root(d.dir), split)


class LmTask(Task[Config, Vocab, LanguageModel, list[str]]):
    """``predict(["a fine film"])`` prints each line's perplexity; ``generate=True``
    continues each line by sampling."""

    name = "lm"
    config_type = Config
    metric = "ppl"
    higher_is_better = False
    splits = ("train", "dev", "test")
    predict_options = ("generate", "pretokenized")
    probe_options = ("temperature", "seed")
    encode_options = ("pretokenized",)
    max_input_tokens = MAX_WORDS

    def prepare(self, cfg: Config, run_dir: Path | None) -> Vocab:
        vocab = build_vocab(text_of(cfg.data, "train").sentences, cfg.data)
        if run_dir is not None:
            run_dir.mkdir(parents=True, exist_ok=True)
            vocab.save(run_dir / VOCAB_FILE)
        return vocab

    def restore(self, cfg: Config, run_dir: Path) -> Vocab:
        return Vocab.load(run_dir / VOCAB_FILE)

    def build_model(self, cfg: Config, res: Vocab) -> LanguageModel:
        return build_model(cfg, len(res))

    def train_batches(
        self, cfg: Config, res: Vocab, device: torch.device
    ) -> Callable[[int], tuple[torch.Tensor, torch.Tensor]]:
        ids, starts = stream(text_of(cfg.data, "train").sentences, res)  # (N,), (S,)
        bs, seed = cfg.train.batch_size, cfg.train.seed
        return window_batches(ids, starts, cfg.data.bptt, bs, seed, device)

    def loss(
        self, cfg: Config, model: LanguageModel, batch: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """The training loss: mean cross-entropy over the directions."""
        return model.loss(*batch)[0]

    def evaluator(
        self, cfg: Config, res: Vocab, split: str, device: torch.device
    ) -> Callable[[LanguageModel], dict[str, float]]:
        ids, _ = stream(text_of(cfg.data, split).sentences, res)
        return lambda m: {
            **ppl_metrics(perplexities(m, ids, cfg.data.bptt, device)),
            "tokens": float(ids.numel()),
        }

    def train(
        self, cfg: Config, run_dir: Path, device: torch.device, progress: bool = True
    ) -> dict[str, float]:
        _, vocab, result, final = self.fit(cfg, device, run_dir=run_dir, progress=progress)
        text = text_of(cfg.data, "train")
        n = sum(len(s) + 1 for s in text.sentences)  # the stream's length, </s> included
        metrics = {
            **ppl_metrics([final[k] for k in ("ppl", "ppl_backward") if k in final]),
            "train_tokens": float(n),
            "dropped_mr_lines": float(text.dropped),
            "vocab": float(len(vocab)),
            "steps": float(result.steps),
            "epochs": result.steps * cfg.train.batch_size * cfg.data.bptt / n,
            "seconds": result.seconds,
        }
        write_metrics(run_dir, metrics)
        return metrics

    def probe(self, run: Run, x: list[str], **options: Any) -> dict[str, Any]:
        """View ``"text"``: the prompt's words and ``generate`` words sampled after it
        (default ``GENERATE_WORDS``, at most ``MAX_GENERATE``; fewer at ``</s>``) at
        ``temperature`` (default 1.0; near 0 is greedy) from a generator seeded with
        ``seed`` (default the run's ``seed``), each with its probability at that
        temperature. The answer is ``predict``'s line with the same ``generate`` option
        (without it, the prompt's perplexity)."""
        t = check_temperature(options.get("temperature", 1.0))
        seed = check_seed(options.get("seed", run.cfg.seed))
        n = generate_count(options.get("generate", GENERATE_WORDS))
        predict = {k: v for k, v in options.items() if k in self.predict_options}
        return {
            "view": "text",
            "answer": self.answer(run, [x], **predict)[0],
            "prompt": list(x),
            "tokens": [{"token": w, "p": round(p, 4)} for w, p in sample_words(run, x, n, t, seed)],
            "temperature": t,
        }

    def examples(self, run: Run, n: int) -> list[str]:
        """Up to ``n`` prompts: the first words (at most 6) of dev sentences of at least 4
        words (none when the text is not where the run's config says)."""
        try:
            sentences = text_of(run.cfg.data, "dev").sentences
        except FileNotFoundError:
            return []
        long = [s for s in sentences if len(s) >= 4]
        return [" ".join(s[: min(6, len(s) - 2)]) for s in long[: max(0, n)]]

    def encode(
        self, cfg: Config, res: Vocab, line: str, where: str, pretokenized: bool = False
    ) -> list[str]:
        split = check_flag(pretokenized, "pretokenized")
        words = [w.lower() for w in (line.split() if split else tokenize_mr(line))]
        if not words:
            raise ValueError(f"{where} is empty: expected some words")
        return words

    def answer(
        self, run: Run, xs: Sequence[list[str]], generate: bool | int = False, **options: Any
    ) -> list[str]:
        n = generate_count(generate)
        if n:
            return [continue_text(run, words, n) for words in xs]
        lines = []
        for words in xs:
            t = torch.tensor([*run.res.encode(words), run.res.id(EOS)], device=run.device)
            x, y = t[:-1][None], t[1:][None]  # (1, T)
            loss = run.model.direction_losses(x, y)[0]
            lines.append(f"ppl {math.exp(float(loss)):.1f}")
        return lines


def continue_text(
    run: Run, words: list[str], max_words: int = GENERATE_WORDS, temperature: float = 0.8
) -> str:
    """``words`` and up to ``max_words`` sampled after them (seeded by ``cfg.seed``),
    until ``</s>``."""
    more = sample_words(run, words, max_words, temperature, run.cfg.seed)
    return " ".join([*words, *(w for w, _ in more)])


@torch.no_grad()
def sample_words(
    run: Run, words: list[str], max_words: int, temperature: float, seed: int
) -> list[tuple[str, float]]:
    """Up to ``max_words`` words sampled after ``words`` at ``temperature`` from a
    generator seeded with ``seed``, until ``</s>``; each with its probability at that
    temperature (``<pad>`` and ``<unk>`` are never drawn)."""
    model, vocab, device = run.model, run.res, run.device
    ids = vocab.encode(words)
    gen = torch.Generator().manual_seed(seed)
    hid = model.hidden  # the forward direction's units come first in (B, T, D*H)
    out, state = model.hidden_states(torch.tensor([ids], device=device))
    h = out[:, -1, :hid]  # (1, H)
    more: list[tuple[str, float]] = []
    for _ in range(max_words):
        logp = model.log_probs(h)[0]  # (V,)
        logp[[vocab.pad_id, vocab.unk_id]] = float("-inf")
        # the best word's logit is 0 whatever the temperature, so a tiny one is greedy
        p = ((logp - logp.max()) / temperature).softmax(-1).cpu()  # (V,)
        nxt = int(torch.multinomial(p, 1, generator=gen))
        if vocab.itos[nxt] == EOS:
            break
        more.append((vocab.itos[nxt], float(p[nxt])))
        out, state = model.hidden_states(torch.tensor([[nxt]], device=device), state)
        h = out[:, -1, :hid]  # (1, H): the forward direction, carried on by its state
    return more


def generate_count(value: Any) -> int:
    """The words to generate for a ``generate`` option: ``True`` -> ``GENERATE_WORDS``,
    ``False`` -> 0, a count -> itself, at most ``MAX_GENERATE``."""
    if isinstance(value, bool):
        return GENERATE_WORDS if value else 0
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"generate expects true, false or a number of words >= 0, got {value!r}")
    return min(value, MAX_GENERATE)


def check_temperature(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"temperature expects a number > 0, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"temperature expects a finite number > 0, got {value!r}")
    return float(value)


def check_seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ValueError(f"seed expects an integer in 0..2**63-1, got {value!r}")
    return value


TASK = LmTask()
