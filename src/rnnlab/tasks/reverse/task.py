"""Sequence reversal: read tokens ``0..K-1``, write them back in reverse order.

Data is generated, seeded, never stored. Lengths are drawn uniformly from
``data.min_len..data.max_len`` and tokens uniformly from ``0..K-1``. Every possible
sequence belongs to exactly one split, fixed by a hash of its tokens (10% test, 10% dev,
80% train), so dev and test sequences are never seen in training. (Exception: at lengths
with fewer than 100 possible sequences, e.g. the 10 of length 1, all are shared.)

Encoding of one example with K = 10 (vocabulary of K + 3 = 13 ids: the tokens ``0..9``
are their own ids, ``PAD = 10``, ``BOS = 11``, ``EOS = 12``), the input ``"3 1 4"`` in a
batch whose longest source has 5 tokens::

    src      [3, 1, 4, 10, 10]        src_len 3     (PAD to the batch width)
    tgt_in   [11, 4, 1, 3, 10, 10]                  (BOS, then the target: decoder inputs)
    tgt_out  [4, 1, 3, 12, 10, 10]                  (the target, then EOS: what is predicted)

``rnnlab predict RUN_DIR "3 1 4"`` prints ``4 1 3``. Inputs are whitespace-separated
integers in ``0..K-1``; an empty line or any other token is an error. Lengths beyond the
training range are accepted (how well they are reversed is the length-generalization
question); the decoder stops at EOS or after ``2 * length + 5`` tokens. An input may have
at most ``MAX_TOKENS`` = 1,000 tokens (decoding time grows with the square of the length
under attention); a longer one is a ``ValueError`` naming the line and the limit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from rnnlab.nn.attention import KINDS as ATTENTION_KINDS
from rnnlab.nn.decoding import check_beam
from rnnlab.nn.layers import BACKENDS, length_mask
from rnnlab.nn.seq2seq import CELLS, Seq2Seq
from rnnlab.tasks.base import Run
from rnnlab.tasks.generated import GeneratedTask
from rnnlab.training.config import RangeChecked, ranged, section
from rnnlab.training.loop import TrainConfig
from rnnlab.training.recipes import COSINE
from rnnlab.training.samplers import HASH_SPLITS, sample_hash_split

# how the task trains by default: [train] of its Config
TRAIN = replace(COSINE, lr=1e-2, steps=3000, batch_size=256, eval_every=50)

SPLITS = HASH_SPLITS  # hash bucket of each held-out split; buckets 2..9 train
SHARED_BELOW = 100  # lengths with fewer possible sequences than this are in every split
MAX_TOKENS = 1000  # the longest input predict takes


@dataclass(frozen=True)
class DataConfig(RangeChecked):
    vocab: int = ranged(10, ge=2)  # K: tokens are 0..K-1
    min_len: int = ranged(1, ge=1)
    max_len: int = ranged(10, ge=1)
    dev_size: int = ranged(1000, ge=1)
    test_size: int = ranged(2000, ge=1)
    seed: int = ranged(1234, ge=0)  # the dev/test sets' sampling seed (the split is fixed)


@dataclass(frozen=True)
class ModelConfig(RangeChecked):
    cell: str = ranged("lstm", choices=CELLS)
    embed: int = ranged(32, ge=1)
    hidden: int = ranged(64, ge=1)
    layers: int = ranged(1, ge=1)
    attention: str = ranged("none", choices=("none", *ATTENTION_KINDS))
    input_feeding: bool = ranged(False)
    bidirectional: bool = ranged(False)  # of the encoder
    backend: str = ranged("fused", choices=BACKENDS)


@dataclass(frozen=True)
class Config(RangeChecked):
    goal: float = ranged(1.0, ge=0, le=1)  # stop once dev exact-sequence accuracy reaches this
    data: DataConfig = section(DataConfig)
    model: ModelConfig = section(ModelConfig)
    train: TrainConfig = TRAIN


def special_ids(k: int) -> tuple[int, int, int]:
    """``(PAD, BOS, EOS)`` for tokens ``0..k-1``."""
    return k, k + 1, k + 2


# --- data ------------------------------------------------------------------------------


@dataclass
class Batch:
    src: torch.Tensor  # (B, S)
    src_len: torch.Tensor  # (B,)
    tgt_in: torch.Tensor  # (B, S + 1): BOS, reversed source
    tgt_out: torch.Tensor  # (B, S + 1): reversed source, EOS

    def to(self, device: torch.device) -> Batch:
        return Batch(*(t.to(device) for t in (self.src, self.src_len, self.tgt_in, self.tgt_out)))


def pad_sources(seqs: list[list[int]], k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token lists with PAD: ``(B, S)`` and lengths ``(B,)``."""
    pad = special_ids(k)[0]
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)  # (B,)
    src = torch.full((len(seqs), int(lengths.max())), pad, dtype=torch.long)  # (B, S)
    for i, s in enumerate(seqs):
        src[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return src, lengths


def sample_sources(
    n: int, k: int, min_len: int, max_len: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random sequences, PAD after each one's length: ``(n, max_len)``, ``(n,)``."""
    return sample_split(n, None, k, min_len, max_len, gen)


def sample_split(
    n: int, split: str | None, k: int, min_len: int, max_len: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` sequences of one split (``train``, ``dev`` or ``test``; None: any), lengths
    uniform (``rnnlab.training.samplers.sample_hash_split``).

    Each row keeps its drawn length and redraws its tokens until they fall in the split.
    Lengths with fewer than ``SHARED_BELOW`` possible sequences (``K**L``) are too few to
    hold any out: such sequences belong to every split.
    """
    return sample_hash_split(
        n, split, k, min_len, max_len, gen, pad=special_ids(k)[0], shared_below=SHARED_BELOW
    )


def make_batch(src: torch.Tensor, lengths: torch.Tensor, k: int) -> Batch:
    """Decoder inputs and targets for reversal (see the module docstring)."""
    pad, bos, eos = special_ids(k)
    b, s = src.shape
    pos = torch.arange(s).unsqueeze(0)  # (1, S)
    mirror = (lengths.unsqueeze(1) - 1 - pos).clamp(min=0)  # (B, S): index of T-1-t
    real = length_mask(lengths, s)  # (B, S)
    rev = torch.gather(src, 1, mirror).masked_fill(~real, pad)  # (B, S)
    tgt_out = torch.cat([rev, torch.full((b, 1), pad)], dim=1)  # (B, S + 1)
    tgt_out[torch.arange(b), lengths] = eos
    tgt_in = torch.cat([torch.full((b, 1), bos), rev], dim=1)  # (B, S + 1)
    return Batch(src, lengths, tgt_in, tgt_out)


def parse_line(line: str, k: int, where: str = "input") -> list[int]:
    """``"3 1 4"`` -> ``[3, 1, 4]``, with an error naming the bad token and its place."""
    parts = line.split()
    if not parts:
        raise ValueError(f"{where} is empty: expected tokens 0..{k - 1} separated by spaces")
    out = []
    for i, p in enumerate(parts, 1):
        if not (p.isdigit() and int(p) < k):
            raise ValueError(f"{where}, token {i}: expected an integer in 0..{k - 1}, got {p!r}")
        out.append(int(p))
    return out


# --- model, training, evaluation -------------------------------------------------------


def build_model(cfg: Config) -> Seq2Seq:
    k, m = cfg.data.vocab, cfg.model
    if k < 2:
        raise ValueError(f"data.vocab must be at least 2, got {k}")
    pad, bos, eos = special_ids(k)
    return Seq2Seq(
        k + 3,
        pad,
        bos,
        eos,
        embed=m.embed,
        hidden=m.hidden,
        cell=m.cell,
        num_layers=m.layers,
        attention=None if m.attention == "none" else m.attention,
        input_feeding=m.input_feeding,
        bidirectional=m.bidirectional,
        backend=m.backend,
    )


def exact_matches(tokens: torch.Tensor, tgt_out: torch.Tensor, pad: int) -> torch.Tensor:
    """Whether each decoded row equals its target, EOS included: ``(B,)`` bool."""
    width = max(tokens.shape[1], tgt_out.shape[1])
    a = torch.nn.functional.pad(tokens, (0, width - tokens.shape[1]), value=pad)  # (B, W)
    b = torch.nn.functional.pad(tgt_out, (0, width - tgt_out.shape[1]), value=pad)  # (B, W)
    return (a == b).all(dim=1)


@torch.no_grad()
def score(model: Seq2Seq, batch: Batch, k: int, device: torch.device) -> dict[str, Any]:
    """Greedy-decode ``batch`` in one call; exact-sequence and per-token accuracy."""
    pad = special_ids(k)[0]
    model.eval()
    b = batch.to(device)
    out = model.greedy(b.src, b.src_len, max_len=b.tgt_out.shape[1])
    exact = exact_matches(out.tokens, b.tgt_out, pad)  # (B,)
    width = b.tgt_out.shape[1]
    got = torch.nn.functional.pad(out.tokens, (0, width - out.tokens.shape[1]), value=pad)
    real = b.tgt_out != pad  # (B, S + 1): the tokens and EOS
    tok = ((got == b.tgt_out) & real).sum() / real.sum()
    return {
        "exact": float(exact.float().mean()),
        "token_acc": float(tok),
        "n": int(exact.numel()),
        "decoded": out,
        "correct": exact.cpu(),
    }


def fixed_set(cfg: DataConfig, split: str, n: int, lo: int = 0, hi: int = 0) -> Batch:
    """The seeded dev/test set (lengths ``lo..hi``, default the training range)."""
    return TASK.fixed_set(cfg, split, n, lo, hi)


def train_model(
    cfg: Config, device: torch.device, run_dir: Path | None = None, **fit: Any
) -> tuple[Seq2Seq, dict[str, float]]:
    """Train a fresh model; stops early once dev exact accuracy reaches ``cfg.goal``.
    ``fit``: ``progress`` and ``desc``, as for ``Task.fit``."""
    model, _, result, final = TASK.fit(cfg, device, run_dir=run_dir, **fit)
    return model, {**final, "steps": float(result.steps), "seconds": result.seconds}


class ReverseTask(GeneratedTask[Config, Seq2Seq, list[int], Batch]):
    """``predict(["3 1 4"]) == ["4 1 3"]``; ``beam=K`` decodes with a beam search."""

    name = "reverse"
    config_type = Config
    metric = "exact"
    predict_options = ("beam",)
    max_input_tokens = MAX_TOKENS

    def sample(
        self, d: DataConfig, n: int, split: str, lo: int, hi: int, gen: torch.Generator
    ) -> Batch:
        return make_batch(*sample_split(n, split, d.vocab, lo, hi, gen), d.vocab)

    def long_set(self, d: DataConfig) -> Batch:
        """Test-bucket sequences 1x..2x the longest training length."""
        return self.fixed_set(d, "test", d.test_size, d.max_len + 1, 2 * d.max_len)

    def build_model(self, cfg: Config, res: None) -> Seq2Seq:
        return build_model(cfg)

    def loss(self, cfg: Config, model: Seq2Seq, batch: Batch) -> torch.Tensor:
        return model.loss(batch.src, batch.src_len, batch.tgt_in, batch.tgt_out)

    def loss_count(self, cfg: Config, batch: Batch) -> float:
        return float((batch.tgt_out != special_ids(cfg.data.vocab)[0]).sum())  # target tokens

    def evaluator(
        self, cfg: Config, res: None, split: str, device: torch.device
    ) -> Callable[[Seq2Seq], dict[str, float]]:
        batch = self.eval_set(cfg.data, split)

        def metrics(m: Seq2Seq) -> dict[str, float]:
            r = score(m, batch, cfg.data.vocab, device)
            return {"exact": r["exact"], "token_acc": r["token_acc"], "n": float(r["n"])}

        return metrics

    def goal(self, cfg: Config) -> Callable[[dict[str, float]], bool]:
        return lambda r: r["exact"] >= cfg.goal

    def encode(self, cfg: Config, res: None, line: str, where: str) -> list[int]:
        return parse_line(line, cfg.data.vocab, where)

    def answer(
        self, run: Run, xs: Sequence[list[int]], beam: int | None = None, **options: Any
    ) -> list[str]:
        k = run.cfg.data.vocab
        if beam is not None and check_beam(beam) != 1:
            return _beam(run.model, list(xs), k, beam, run.device)
        src, lengths = pad_sources(list(xs), k)
        out = run.model.greedy(
            src.to(run.device), lengths.to(run.device), max_len=2 * src.shape[1] + 5
        )
        # each input's own limit, 2 * length + 5: an answer does not depend on its batch
        limits = (2 * lengths + 5).minimum(out.lengths.cpu()).tolist()
        return [_line(row[:n].tolist()) for row, n in zip(out.tokens.cpu(), limits, strict=True)]

    def probe(
        self, run: Run, x: list[int], beam: int | None = None, **options: Any
    ) -> dict[str, Any]:
        """``view = "seq2seq"``: the greedy answer with its log-probability and, with
        attention, the weights ``(T_out, S)`` each output step puts on the source; with
        ``beam`` > 1 the beam's hypotheses, best first, with their scores."""
        k = run.cfg.data.vocab
        beam = None if beam is None else check_beam(beam)
        src, lengths = pad_sources([x], k)  # (1, S), (1,)
        limit = 2 * len(x) + 5
        out = run.model.greedy(src.to(run.device), lengths.to(run.device), max_len=limit)
        n = min(int(out.lengths[0]), limit)
        finished = bool(out.finished[0])
        tokens = out.tokens[0, :n].tolist()
        result: dict[str, Any] = {
            "view": "seq2seq",
            "answer": _line(tokens),  # greedy; the beam's best below when there is a beam
            "source": list(x),
            "truth": list(reversed(x)),
            "greedy": {"tokens": tokens, "logp": round(float(out.logp[0]), 4)},
            "attention": None,
        }
        if out.weights is not None:  # (1, T, S): the steps that wrote a token, then eos
            rows = out.weights[0, : n + int(finished)]
            result["attention"] = rows.double().round(decimals=4).tolist()
        if beam is not None and beam > 1:
            hyps = run.model.beam(src.to(run.device), lengths.to(run.device), beam, limit)[0]
            result["beam"] = [{"tokens": h.tokens, "score": round(h.score, 4)} for h in hyps]
            result["answer"] = _line(hyps[0].tokens)
        return result

    def examples(self, run: Run, n: int) -> list[str]:
        return ["3 1 4", "2 7 1 8 2 8", "1 2 3 4 5 6 7 8 9", "0 0 0 1"][:n]


def _beam(
    model: Seq2Seq, seqs: list[list[int]], k: int, beam: int, device: torch.device
) -> list[str]:
    """Beam search over all inputs at once, each with its own limit ``2 * length + 5``."""
    src, lengths = pad_sources(seqs, k)
    limits = 2 * lengths + 5  # (B,)
    found = model.beam(src.to(device), lengths.to(device), beam, limits.to(device))
    return [_line(hyps[0].tokens) for hyps in found]


def _line(tokens: list[int]) -> str:
    """An answer line: ``[4, 1, 3]`` -> ``"4 1 3"``."""
    return " ".join(str(t) for t in tokens)


TASK = ReverseTask()
