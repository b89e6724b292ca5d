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
``0.8``, up to 30 words or ``</s>``); without ``generate`` it prints each line's
perplexity.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rnnlab.nn.layers import BACKENDS
from rnnlab.nn.vocab import EOS, PAD, UNK, Vocab, tokenize
from rnnlab.tasks.lm.model import LanguageModel
from rnnlab.tasks.sentiment.data import load_pretraining
from rnnlab.training.checkpoint import load_weights
from rnnlab.training.config import RangeChecked, ranged, unranged
from rnnlab.training.data import data_root
from rnnlab.training.loop import TrainConfig, fit
from rnnlab.training.samplers import step_generator

VOCAB_FILE = "vocab.json"


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
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            steps=5000,
            batch_size=32,
            lr=3e-3,
            schedule="cosine",
            warmup=200,
            min_lr_ratio=0.05,
            eval_every=500,
            log_every=25,
            clip_norm=0.5,
        )
    )
    seed: int = ranged(0, ge=0)  # generation seed


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


def loss_fn(m: LanguageModel, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """The training loss: mean cross-entropy over the directions."""
    return m.loss(*batch)[0]


def ppl_metrics(ppls: list[float]) -> dict[str, float]:
    return {"ppl": ppls[0], **({"ppl_backward": ppls[1]} if len(ppls) > 1 else {})}


def train(
    cfg: Config, run_dir: Path, device: torch.device, progress: bool = True
) -> dict[str, float]:
    root = data_root(cfg.data.dir)
    text = load_pretraining(root, "train")
    vocab = build_vocab(text.sentences, cfg.data)
    vocab.save(run_dir / VOCAB_FILE)
    ids, starts = stream(text.sentences, vocab)  # (N,), (S,)
    dev_ids, _ = stream(load_pretraining(root, "dev").sentences, vocab)
    bptt, bs = cfg.data.bptt, cfg.train.batch_size
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg, len(vocab)).to(device)
    batch_fn = window_batches(ids, starts, bptt, bs, cfg.train.seed, device)

    def eval_fn(m: LanguageModel) -> dict[str, float]:
        return ppl_metrics(perplexities(m, dev_ids, bptt, device))

    result = fit(
        model,
        cfg.train,
        batch_fn,
        loss_fn,
        eval_fn,
        run_dir=run_dir,
        metric="ppl",
        higher_is_better=False,
        progress=progress,
        desc="lm",
    )
    metrics = {
        **ppl_metrics(perplexities(model, dev_ids, bptt, device)),
        "train_tokens": float(ids.numel()),
        "dropped_mr_lines": float(text.dropped),
        "vocab": float(len(vocab)),
        "steps": float(result.steps),
        "epochs": result.steps * bs * bptt / ids.numel(),
        "seconds": result.seconds,
    }
    (run_dir / "dev_metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics


class TrainedLM:
    def __init__(self, model: LanguageModel, vocab: Vocab, cfg: Config, device: torch.device):
        self.model, self.vocab, self.cfg, self.device = model, vocab, cfg, device

    def encode(self, text: str, where: str) -> list[int]:
        words = [w.lower() for w in tokenize(text)]
        if not words:
            raise ValueError(f"{where} is empty: expected some words")
        return self.vocab.encode(words)

    @torch.no_grad()
    def generate(self, text: str, max_words: int = 30, temperature: float = 0.8) -> str:
        ids = self.encode(text, "the text to continue")
        gen = torch.Generator().manual_seed(self.cfg.seed)
        self.model.eval()
        hid = self.model.hidden  # the forward direction's units come first in (B, T, D*H)
        out, state = self.model.hidden_states(torch.tensor([ids], device=self.device))
        h = out[:, -1, :hid]  # (1, H)
        words: list[str] = []
        for _ in range(max_words):
            logp = self.model.log_probs(h)[0] / temperature  # (V,)
            logp[[self.vocab.pad_id, self.vocab.unk_id]] = float("-inf")
            nxt = int(torch.multinomial(logp.softmax(-1).cpu(), 1, generator=gen))
            if self.vocab.itos[nxt] == EOS:
                break
            words.append(self.vocab.itos[nxt])
            out, state = self.model.hidden_states(torch.tensor([[nxt]], device=self.device), state)
            h = out[:, -1, :hid]  # (1, H): the forward direction, carried on by its state
        return " ".join([*(w.lower() for w in tokenize(text)), *words])

    def predict(self, inputs: list[str], generate: bool = False, **options: Any) -> list[str]:
        if options:
            raise ValueError(f"lm predict takes only generate=True, got {sorted(options)}")
        if generate:
            return [self.generate(t) for t in inputs]
        lines = []
        for i, t in enumerate(inputs, 1):
            ids = torch.tensor([*self.encode(t, f"input line {i}"), self.vocab.id(EOS)])
            x, y = ids[:-1][None], ids[1:][None]  # (1, T)
            self.model.eval()
            with torch.no_grad():
                loss = self.model.direction_losses(x.to(self.device), y.to(self.device))[0]
            lines.append(f"ppl {math.exp(float(loss)):.1f}")
        return lines

    def evaluate(self, split: str = "dev") -> dict[str, float]:
        text = load_pretraining(data_root(self.cfg.data.dir), split)
        ids, _ = stream(text.sentences, self.vocab)
        ppls = perplexities(self.model, ids, self.cfg.data.bptt, self.device)
        return {**ppl_metrics(ppls), "tokens": float(ids.numel())}


def load(run_dir: Path, cfg: Config, device: torch.device) -> TrainedLM:
    vocab = Vocab.load(Path(run_dir) / VOCAB_FILE)
    model = build_model(cfg, len(vocab)).to(device)
    load_weights(model, Path(run_dir) / "model.safetensors")
    model.eval()
    return TrainedLM(model, vocab, cfg, device)
