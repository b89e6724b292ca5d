"""Parity in the lecture's encoding: after each bit, is the number of 1s so far even?

Data is generated, seeded, never stored. A sequence is a string of bits; the target
after each input is its running *evenness*: 1 when the sum so far is even, 0 when odd.
Two shapes: a target per step (``data.target = "every"``, many-to-many) or the final
target only (``"final"``, many-to-one). The lecture's two examples::

    input     0 0 1 0 1 0 0 0              input     0 1 0 1 1 0 0 0
    every     1 1 0 0 1 1 1 1              every     1 0 0 1 0 0 0 0
    final                   1              final                   0

A batch of those two, plus ``1 1`` to show the padding, as tensors::

    x        [[0,0,1,0,1,0,0,0], [0,1,0,1,1,0,0,0], [1,1,0,0,0,0,0,0]]  (B, T) float
    y        [[1,1,0,0,1,1,1,1], [1,0,0,1,0,0,0,0], [0,1,0,0,0,0,0,0]]  (B, T) float
    lengths  [8, 8, 2]                                                   (B,)

Positions at and after a sequence's length are 0 in ``x`` and ``y`` and masked out of
every loss and score. Every sequence belongs to exactly one split, fixed by a hash of its
bits (10% test, 10% dev, 80% train), so dev and test sequences are never trained on;
lengths with fewer than 64 possible sequences (2^L < 64, L <= 5) are in every split.

``rnnlab predict RUN_DIR "0 1 1 0 1"`` prints the evenness after each input,
``1 0 1 1 0`` (a ``final`` model prints only the last one, ``0``). Inputs are bits
separated by spaces (``"01101"`` is read the same); an empty line or any other token is
an error, as is a line of more than ``MAX_BITS`` = 1,000,000 bits. ``predict`` reads a long
input ``WINDOW`` steps at a time, each window starting from the state the previous one
ended in: the same recurrence as one pass, so the answer is the same and memory does not
grow with the length.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from rnnlab.nn.layers import BACKENDS, length_mask
from rnnlab.tasks.base import Run
from rnnlab.tasks.generated import GeneratedTask
from rnnlab.tasks.parity import probe
from rnnlab.tasks.parity.model import ParityRNN
from rnnlab.training.config import RangeChecked, ranged, section, unranged
from rnnlab.training.loop import TrainConfig
from rnnlab.training.samplers import HASH_SPLITS, sample_hash_split

SPLITS = HASH_SPLITS  # hash bucket of each held-out split; buckets 2..9 train
SHARED_BELOW = 64  # lengths with fewer possible sequences than this are in every split
TARGETS = ("every", "final")
MAX_BITS = 1_000_000  # the longest input predict takes
WINDOW = 4096  # time steps predict runs at once; the state carries over to the next window


@dataclass(frozen=True)
class DataConfig(RangeChecked):
    dir: str = unranged("", "unused: parity sequences are generated, not read")
    target: str = ranged("every", choices=TARGETS)  # every: a target per step; final: the last
    min_len: int = ranged(1, ge=1)
    max_len: int = ranged(20, ge=1)
    dev_size: int = ranged(1000, ge=1)
    test_size: int = ranged(2000, ge=4)  # ``evaluate("long")`` scores a quarter as many
    long_len: int = ranged(200, ge=1)  # ``evaluate("long")`` scores test sequences this long
    seed: int = ranged(1234, ge=0)  # the dev/test sets' sampling seed (the split is fixed)


@dataclass(frozen=True)
class ModelConfig(RangeChecked):
    hidden: int = ranged(8, ge=1)
    nonlinearity: str = ranged("tanh", choices=("tanh", "relu"))  # of the Elman RNN
    backend: str = ranged("fused", choices=BACKENDS)


@dataclass(frozen=True)
class Config(RangeChecked):
    # Stop once every dev target is right with a logit of at least this size (6: p > 0.997).
    # A confident solution saturates the state, which is what carries it to longer inputs.
    margin: float = ranged(6.0, ge=0)
    data: DataConfig = section(DataConfig)
    model: ModelConfig = section(ModelConfig)
    train: TrainConfig = section(
        TrainConfig, steps=4000, batch_size=64, lr=0.02, eval_every=100, log_every=100
    )


# --- data ------------------------------------------------------------------------------


@dataclass
class Batch:
    x: torch.Tensor  # (B, T) float bits, 0 after each sequence's end
    y: torch.Tensor  # (B, T) float evenness after each input, 0 after the end
    lengths: torch.Tensor  # (B,) int64

    def to(self, device: torch.device) -> Batch:
        return Batch(self.x.to(device), self.y.to(device), self.lengths.to(device))

    @property
    def mask(self) -> torch.Tensor:
        """True at real steps: ``(B, T)``."""
        return length_mask(self.lengths, self.x.shape[1])

    @property
    def final(self) -> torch.Tensor:
        """The evenness of each whole sequence: ``(B,)``."""
        return self.y[torch.arange(self.y.shape[0]), self.lengths - 1]


def evenness(bits: torch.Tensor) -> torch.Tensor:
    """1.0 where the running sum is even, 0.0 where odd: ``(..., T) -> (..., T)``."""
    return (bits.long().cumsum(-1) % 2 == 0).float()


def make_batch(bits: torch.Tensor, lengths: torch.Tensor) -> Batch:
    """Targets for right-padded ``bits`` ``(B, T)``; padding is zeroed in ``x`` and ``y``."""
    real = length_mask(lengths, bits.shape[1])  # (B, T)
    x = bits.float() * real  # (B, T)
    y = evenness(x) * real  # (B, T)
    return Batch(x, y, lengths.long())


def parse_line(line: str, where: str = "input") -> list[int]:
    """``"0 1 1"`` (or ``"011"``) -> ``[0, 1, 1]``; anything else is a clear error."""
    parts = line.split()
    if len(parts) == 1 and len(parts[0]) > 1 and set(parts[0]) <= {"0", "1"}:
        parts = list(parts[0])  # compact form "01101"
    if not parts:
        raise ValueError(f"{where} is empty: expected bits 0 or 1 separated by spaces")
    out = []
    for i, p in enumerate(parts, 1):
        if p not in ("0", "1"):
            raise ValueError(f"{where}, token {i}: parity inputs are bits 0 or 1, got {p!r}")
        out.append(int(p))
    return out


def encode(seqs: Sequence[Sequence[int]]) -> Batch:
    """Bit lists -> a padded ``Batch``; a non-bit or an empty sequence is a ValueError."""
    if not seqs:
        raise ValueError("encode needs at least one sequence")
    for i, s in enumerate(seqs):
        if len(s) == 0:
            raise ValueError(f"sequence {i} is empty: parity needs at least one bit")
        bad = [v for v in s if v not in (0, 1) or isinstance(v, bool)]
        if bad:
            raise ValueError(f"sequence {i}: parity inputs are bits 0 or 1, got {bad[0]!r}")
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)  # (B,)
    bits = torch.zeros(len(seqs), int(lengths.max()))  # (B, T)
    for i, s in enumerate(seqs):
        bits[i, : len(s)] = torch.tensor(list(s), dtype=torch.float)
    return make_batch(bits, lengths)


def sample_split(
    n: int, split: str | None, min_len: int, max_len: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random sequences of one split (``train``, ``dev``, ``test``; None: any).

    Lengths are uniform in ``min_len..max_len``, bits fair coins; each row keeps its
    drawn length and redraws its bits until they fall in the split
    (``rnnlab.training.samplers.sample_hash_split``). Returns
    ``(bits (n, max_len), lengths (n,))`` with 0 after each length.
    """
    return sample_hash_split(n, split, 2, min_len, max_len, gen, pad=0, shared_below=SHARED_BELOW)


def sample_batch(n: int, split: str | None, min_len: int, max_len: int, seed: int) -> Batch:
    """A seeded batch of ``n`` sequences of one split."""
    gen = torch.Generator().manual_seed(seed)
    return make_batch(*sample_split(n, split, min_len, max_len, gen))


def fixed_set(cfg: DataConfig, split: str, n: int, lo: int = 0, hi: int = 0) -> Batch:
    """The seeded dev/test set (lengths ``lo..hi``, default the training range)."""
    return TASK.fixed_set(cfg, split, n, lo, hi)


# --- loss and scores -------------------------------------------------------------------


def loss_of(model: ParityRNN, batch: Batch, target: str) -> torch.Tensor:
    """Binary cross-entropy on every real step (``every``) or on the last one (``final``)."""
    logits, _ = model(batch.x)  # (B, T)
    if target == "final":
        last = logits[torch.arange(logits.shape[0]), batch.lengths - 1]  # (B,)
        return F.binary_cross_entropy_with_logits(last, batch.final)
    per_step = F.binary_cross_entropy_with_logits(logits, batch.y, reduction="none")  # (B, T)
    mask = batch.mask
    return (per_step * mask).sum() / mask.sum()


@torch.no_grad()
def score(model: ParityRNN, batch: Batch, target: str = "every") -> dict[str, float]:
    """Accuracy, the fraction of sequences with every scored step right, and the margin.

    ``margin`` is the smallest signed logit over the scored steps (positive = all right).
    """
    was_training = model.training
    model.eval()
    logits, _ = model(batch.x)  # (B, T)
    model.train(was_training)
    signed = (2 * batch.y - 1) * logits  # (B, T): > 0 where right
    if target == "final":
        last = signed[torch.arange(signed.shape[0]), batch.lengths - 1]  # (B,)
        right = last > 0
        return {
            "acc": float(right.float().mean()),
            "seq_acc": float(right.float().mean()),
            "margin": float(last.min()),
        }
    mask = batch.mask
    right = (signed > 0) | ~mask  # (B, T)
    return {
        "acc": float(((signed > 0) & mask).sum() / mask.sum()),
        "seq_acc": float(right.all(dim=1).float().mean()),
        "margin": float(signed.masked_fill(~mask, float("inf")).min()),
    }


# --- training --------------------------------------------------------------------------


def build_model(cfg: Config) -> ParityRNN:
    m = cfg.model
    return ParityRNN(m.hidden, nonlinearity=m.nonlinearity, backend=m.backend)


def train_model(
    cfg: Config, device: torch.device, run_dir: Path | None = None, **fit: Any
) -> tuple[ParityRNN, dict[str, float], list[dict[str, float]]]:
    """Train a fresh model on fresh train-split batches; stop once dev is confidently right.
    ``fit``: ``progress`` and ``desc``, as for ``Task.fit``.

    Returns the model (the best on dev), its dev metrics and the training history.
    """
    model, _, result, final = TASK.fit(cfg, device, run_dir=run_dir, **fit)
    metrics = {**final, "steps": float(result.steps), "seconds": result.seconds}
    return model, metrics, result.history


class ParityTask(GeneratedTask[Config, ParityRNN, list[int], Batch]):
    """``predict(["0 1 1 0 1"]) == ["1 0 1 1 0"]`` (a ``final`` model: ``["0"]``)."""

    name = "parity"
    config_type = Config
    metric = "margin"
    max_input_tokens = MAX_BITS
    probe_options = ("intervene",)

    def sample(
        self, d: DataConfig, n: int, split: str, lo: int, hi: int, gen: torch.Generator
    ) -> Batch:
        # beyond the training lengths every sequence is unseen: no split needed
        return make_batch(*sample_split(n, split if lo <= d.max_len else None, lo, hi, gen))

    def long_set(self, d: DataConfig) -> Batch:
        """Test sequences of length ``data.long_len``."""
        return self.fixed_set(d, "test", d.test_size // 4, d.long_len, d.long_len)

    def build_model(self, cfg: Config, res: None) -> ParityRNN:
        if cfg.data.target not in TARGETS:
            raise ValueError(f"data.target expects every or final, got {cfg.data.target!r}")
        return build_model(cfg)

    def loss(self, cfg: Config, model: ParityRNN, batch: Batch) -> torch.Tensor:
        return loss_of(model, batch, cfg.data.target)

    def loss_count(self, cfg: Config, batch: Batch) -> float:
        # "every": a mean over real steps; "final": over sequences
        return float(batch.lengths.sum() if cfg.data.target == "every" else len(batch.lengths))

    def evaluator(
        self, cfg: Config, res: None, split: str, device: torch.device
    ) -> Callable[[ParityRNN], dict[str, float]]:
        batch = self.eval_set(cfg.data, split).to(device)
        return lambda m: {**score(m, batch, cfg.data.target), "n": float(batch.x.shape[0])}

    def goal(self, cfg: Config) -> Callable[[dict[str, float]], bool]:
        return lambda r: r["margin"] >= cfg.margin

    def encode(self, cfg: Config, res: None, line: str, where: str) -> list[int]:
        return parse_line(line, where)

    def answer(self, run: Run, xs: Sequence[list[int]], **options: Any) -> list[str]:
        batch = encode(xs)
        h, parts = None, []
        for x in batch.x.split(WINDOW, dim=1):  # (B, W) windows, in order
            logits, states = run.model(x.to(run.device), h)  # (B, W), (B, W, H)
            h = states[:, -1]  # (B, H): where the next window starts
            parts.append((logits > 0).cpu())  # (B, W)
        bits = torch.cat(parts, dim=1).long()  # (B, T)
        rows = zip(bits, batch.lengths.tolist(), strict=True)
        if run.cfg.data.target == "final":
            return [str(int(row[n - 1])) for row, n in rows]
        return [" ".join(str(v) for v in row[:n].tolist()) for row, n in rows]

    def probe(
        self, run: Run, x: list[int], intervene: Any = None, **options: Any
    ) -> dict[str, Any]:
        """``view = "parity"``: per step the state, logit, p(even), the answer and the
        true evenness; the map of the states with the automaton and each step's state
        in it; with ``intervene`` (``rnnlab.tasks.parity.probe``) the edited run, and
        the unedited one as ``baseline``."""
        model = run.model
        edits = probe.parse_interventions(intervene, len(x), model.hidden_size)
        states, logits = probe.trace(model, x)
        smap = probe.state_map(model, run.cfg.data.max_len)
        even = (logits > 0).long().tolist()  # the answer's own rule, from the same trace
        answer = str(even[-1]) if run.cfg.data.target == "final" else " ".join(map(str, even))
        out: dict[str, Any] = {
            "view": "parity",
            "answer": answer,
            "bits": x,
            "truth": evenness(torch.tensor(x)).long().tolist(),
            "hidden": model.hidden_size,
            "nonlinearity": run.cfg.model.nonlinearity,
            "target": run.cfg.data.target,
            "automaton": smap.to_json(),
        }
        if edits:
            out["baseline"] = probe.steps_json(states, logits)
            states, logits = probe.trace(model, x, edits)
            out["interventions"] = [vars(e) for e in edits]
        out["steps"] = probe.steps_json(states, logits)
        flat = states.double().numpy()  # (T, H)
        out["steps"]["point"] = smap.project(flat).round(4).tolist()  # (T, 2)
        out["steps"]["state"] = smap.state_of(flat).tolist()  # (T,)
        return out

    def examples(self, run: Run, n: int) -> list[str]:
        return ["0 1 1 0 1", "0 0 1 0 1 0 0 0", "0 1 0 1 1 0 0 0", "1 1 1 1 1 1 1"][:n]


TASK = ParityTask()
