"""The lecture's networks for the lab (``rnnlab serve``): trained once, kept as folders.

Six networks, two of them beside the lecture's run folders' tasks::

    parity-rnn         the trained 8-unit Elman RNN (task parity)      run folder
    parity-handset     the hand-set 2-unit RNN (task parity)           run folder, no training
    parity-dense       a dense net for 16 bits, one output per step    lab.json + weights
    reverse-sync       the synchronous LSTM that writes as it reads    lab.json + weights
    reverse-seq2seq    encoder/decoder, the encoder's final state only (task reverse)
    reverse-attention  the same with additive attention (task reverse)

``ensure(lab_dir)`` trains what is missing (seconds for parity, under a minute for the
reversal models on 2 cores) with the lecture's own settings and writes each into
``lab_dir/<name>/``; a later start only loads them. A task network's folder is an
ordinary run folder (``rnnlab predict``/``eval`` work on it); the other two keep their
constructor arguments in ``lab.json`` and their weights in ``model.safetensors``.

The dense net and the synchronous RNN answer through ``LabNet``'s ``probe``/``predict``
(the same shape of answer as ``Task.probe``)::

    dense  "0 1 1 0 1" -> {"view": "dense", "answer": "1 0 1 1 0", "bits": [...],
                           "p_even": [...], "even": [...], "truth": [...], "n": 16}
           (shorter inputs are padded with 0s, which keep the evenness; longer: an error)
    sync   "3 1 4"     -> {"view": "sync", "answer": "4 1 4", "source": [3, 1, 4],
                           "tokens": [4, 1, 4], "p": [...], "read": [False, True, True]}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from rnnlab.lecture import parity as lecture_parity
from rnnlab.lecture import reverse as lecture_reverse
from rnnlab.lecture.common import Context, Need, need
from rnnlab.tasks import train_task
from rnnlab.tasks.base import InputTooLong
from rnnlab.tasks.parity import task as P
from rnnlab.tasks.parity.model import DenseParity, handset_parity_rnn
from rnnlab.tasks.reverse import task as R
from rnnlab.training.checkpoint import atomic_write, load_weights, save_weights
from rnnlab.training.config import save_config

CPU = torch.device("cpu")
DENSE_N = 16  # the dense net's one length
QUICK_STEPS = 400  # ``quick``: the most training steps of any one network
DENSE_TRAIN = 1000  # of the 65,536 sequences of that length, as in the lecture
NAMES = (
    "parity-rnn",
    "parity-handset",
    "parity-dense",
    "reverse-sync",
    "reverse-seq2seq",
    "reverse-attention",
)
TITLES = {
    "parity-rnn": "Trained RNN (8 units)",
    "parity-handset": "Hand-set RNN (2 units)",
    "parity-dense": f"Dense net ({DENSE_N} inputs)",
    "reverse-sync": "Synchronous RNN",
    "reverse-seq2seq": "Encoder/decoder",
    "reverse-attention": "Encoder/decoder + attention",
}


def default_dir() -> Path:
    """``runs/lecture/lab``: beside ``make lecture``'s output, so one place holds both."""
    return Path("runs") / "lecture" / "lab"


def is_built(lab_dir: Path, name: str) -> bool:
    return (lab_dir / name / "model.safetensors").is_file()


def ensure(
    lab_dir: Path,
    names: Sequence[str] = NAMES,
    seed: int = 0,
    progress: bool = False,
    on_built: Callable[[str], None] | None = None,
    quick: bool = False,
) -> None:
    """Train and write every network of ``names`` that ``lab_dir`` lacks, in order.
    ``quick`` (tests): the reversal networks train at most ``QUICK_STEPS`` steps each."""
    for name in names:
        if not is_built(lab_dir, name):
            build(lab_dir, name, seed, progress, quick)
        if on_built is not None:
            on_built(name)


def build(
    lab_dir: Path, name: str, seed: int = 0, progress: bool = False, quick: bool = False
) -> None:
    """Train (or set) one network and write its folder."""
    if name not in NAMES:
        raise ValueError(f"the lab has no network {name!r}; it has {', '.join(NAMES)}")
    out = lab_dir / name
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(seed=seed, progress=progress, backend="fused")
    if name == "parity-rnn":
        cfg = P.Config()
        cfg = replace(cfg, model=replace(cfg.model, backend="fused"))
        train_task("parity", cfg, out, CPU, progress=progress)  # stops at its goal: seconds
    elif name == "parity-handset":
        cfg = P.Config()
        save_config(replace(cfg, model=replace(cfg.model, hidden=2)), out / "config.toml", "parity")
        save_weights(handset_parity_rnn(), out / "model.safetensors")
    elif name == "parity-dense":
        train = P.sample_batch(DENSE_TRAIN, "train", DENSE_N, DENSE_N, seed)
        dense = lecture_parity.train_dense(DENSE_N, train, seed, epochs=40)
        _save_lab(out, {"kind": "dense", "n": DENSE_N}, dense)
    elif name == "reverse-sync":
        sync, _ = lecture_reverse.train_synchronous(ctx, QUICK_STEPS if quick else 2000)
        _save_lab(out, {"kind": "sync"}, sync)
    else:
        attention = "none" if name == "reverse-seq2seq" else "additive"
        cfg = _capped(lecture_reverse.seq2seq_config(ctx, attention), quick)
        train_task("reverse", cfg, out, CPU, progress)


def _capped(cfg: Any, quick: bool) -> Any:
    if not quick:
        return cfg
    return replace(cfg, train=replace(cfg.train, steps=min(cfg.train.steps, QUICK_STEPS)))


def lecture_needs(ctx: Context) -> dict[str, Need]:
    """The lecture's shared trainings that are lab networks, by lab name."""
    rnn, lstm = ctx.backend_for("rnn"), ctx.backend_for("lstm")
    return {
        "parity-rnn": need(lecture_parity.trained_parity_rnn, ctx.seed, rnn),
        "reverse-seq2seq": need(lecture_reverse.train_seq2seq, ctx.seed, "none", lstm),
        "reverse-attention": need(lecture_reverse.train_seq2seq, ctx.seed, "additive", lstm),
    }


def keep_lecture_networks(lab_dir: Path, ctx: Context, kept: dict[Need, Any]) -> list[str]:
    """Write the lecture's own trained networks (``kept``: what ``run_all`` filled in for
    ``lecture_needs``) as the lab's run folders, so ``rnnlab serve`` shows the very
    networks the report describes; returns the names written."""
    written = []
    for name, n in lecture_needs(ctx).items():
        result = kept.get(n)
        if result is None:
            continue  # that experiment did not run (``--only``)
        model, info = result
        if name == "parity-rnn":
            cfg = info["cfg"]
        else:
            attention = "none" if name == "reverse-seq2seq" else "additive"
            cfg = lecture_reverse.seq2seq_config(ctx, attention)
        cfg = replace(cfg, model=replace(cfg.model, backend="fused"))  # same weights, faster
        out = lab_dir / name
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / "config.toml", name.split("-")[0])
        save_weights(model, out / "model.safetensors")
        written.append(name)
    return written


def _save_lab(out: Path, spec: dict[str, Any], model: torch.nn.Module) -> None:
    save_weights(model, out / "model.safetensors")
    atomic_write(out / "lab.json", json.dumps(spec).encode())


def is_task_run(lab_dir: Path, name: str) -> bool:
    """A run folder of a task (loaded with ``rnnlab.tasks.load_run``), not a ``LabNet``."""
    return (lab_dir / name / "config.toml").is_file()


def load_net(lab_dir: Path, name: str) -> LabNet:
    """A dense or synchronous network written by ``build``."""
    spec = json.loads((lab_dir / name / "lab.json").read_text())
    model: torch.nn.Module
    if spec.get("kind") == "dense":
        model = DenseParity(int(spec["n"]), outputs=int(spec["n"]))
    elif spec.get("kind") == "sync":
        model = lecture_reverse.SynchronousRNN(backend="fused")
    else:
        raise ValueError(f"{lab_dir / name / 'lab.json'}: unknown kind {spec.get('kind')!r}")
    load_weights(model, lab_dir / name / "model.safetensors")
    return LabNet(name, str(spec["kind"]), model.eval(), lab_dir / name)


@dataclass
class LabNet:
    """A lecture network that is not a task's model: the dense net or the synchronous RNN."""

    name: str
    kind: str  # dense | sync
    model: torch.nn.Module
    folder: Path

    @property
    def max_tokens(self) -> int:
        return DENSE_N if self.kind == "dense" else lecture_reverse.MAX_LEN

    def _encode(self, line: str, where: str) -> list[int]:
        if self.kind == "dense":
            bits = P.parse_line(line, where)
            if len(bits) > DENSE_N:
                raise InputTooLong(
                    f"{where} has {len(bits)} bits; the dense net has one input per position "
                    f"and was built for {DENSE_N}: it cannot read a longer sequence",
                    DENSE_N,
                )
            return bits
        tokens = R.parse_line(line, lecture_reverse.K, where)
        if len(tokens) > lecture_reverse.MAX_LEN:
            raise InputTooLong(
                f"{where} has {len(tokens)} tokens; the synchronous RNN was given lengths "
                f"1..{lecture_reverse.MAX_LEN} as an input of its own, so it reads at most "
                f"{lecture_reverse.MAX_LEN}",
                lecture_reverse.MAX_LEN,
            )
        return tokens

    def predict(self, lines: Sequence[str]) -> list[str]:
        return [self.probe(line)["answer"] for line in lines]

    @torch.no_grad()
    def probe(self, line: str, where: str = "input") -> dict[str, Any]:
        x = self._encode(line, where)
        if self.kind == "dense":
            bits = torch.zeros(1, DENSE_N)  # (1, n): trailing 0s keep the evenness
            bits[0, : len(x)] = torch.tensor(x, dtype=torch.float32)
            logits = self.model(bits)[0, : len(x)]  # (T,)
            even = (logits > 0).long().tolist()
            return {
                "view": "dense",
                "answer": " ".join(map(str, even)),
                "bits": x,
                "truth": P.evenness(torch.tensor(x)).long().tolist(),
                "p_even": torch.sigmoid(logits).double().round(decimals=4).tolist(),
                "even": even,
                "n": DENSE_N,
            }
        src = torch.tensor([x])  # (1, S)
        lengths = torch.tensor([len(x)])  # (1,)
        probs = torch.softmax(self.model(src, lengths)[0], dim=-1)  # (S, K)
        best = probs.argmax(-1)  # (S,)
        read, _ = lecture_reverse.already_read(lengths, len(x))  # (1, S)
        return {
            "view": "sync",
            "answer": " ".join(map(str, best.tolist())),
            "source": x,
            "truth": list(reversed(x)),
            "tokens": best.tolist(),
            "p": probs.max(-1).values.double().round(decimals=4).tolist(),
            "read": read[0].tolist(),
        }

    def examples(self) -> list[str]:
        if self.kind == "dense":
            return ["0 1 1 0 1", "1 0 1 1 0 0 1 0 1 1 1 0 0 1 0 1"]
        return ["3 1 4", "2 7 1 8 2 8"]
