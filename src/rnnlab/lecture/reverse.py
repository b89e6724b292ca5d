"""The lecture's reversal experiments: a synchronous RNN fails, seq2seq and attention succeed.

Reverse a sequence of tokens ``0..K-1`` (``rnnlab.tasks.reverse.task``: lengths 1..10, K=10):

- ``synchronous_fails`` ("Notebook of Failure Redux"): an RNN that must write ``y_t``
  while it reads ``x_t``. Even told the length in advance, it cannot write the first half
  of the answer, which it has not read yet: those positions are at chance (1/K), and a
  whole sequence is right only by luck (guessing: ``K ** -floor(L/2)``).
- ``seq2seq_succeeds``: an encoder reads everything first; its final state alone starts
  a decoder (teacher forcing in training, greedy decoding in test).
- ``attention``: the decoder also reads the encoder's outputs through attention
  (additive, dot, general). The weights form the anti-diagonal: at output step ``t`` it
  looks at source position ``L-1-t``.

Each function takes a ``Context`` and returns an ``Experiment`` with claims, figures
(``ctx.fig_dir``) and the numbers behind them. Quick mode uses smaller test sets and
fewer attention variants, never a lower bar.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from rnnlab.lecture.common import Claim, Context, Experiment, Need, need, shared
from rnnlab.nn import layers
from rnnlab.nn.seq2seq import Seq2Seq
from rnnlab.tasks.reverse import task as task
from rnnlab.training.loop import TrainConfig, fit
from rnnlab.training.samplers import step_generator

K = 10
MAX_LEN = 10  # training lengths 1..MAX_LEN
MIRROR_KIND = "general"  # the variant whose weights carry the mirror claim
SHOWN_LENGTHS = (7, 10, 15)  # attention heatmaps: two training lengths, one at 1.5x
SYNC_PER_LENGTH = 1000  # test sequences per length for the synchronous RNN (cheap)
DPI = 110
CPU = torch.device("cpu")


@dataclass(frozen=True)
class Plan:
    """How much each experiment does in one mode (quick or full)."""

    test_size: int  # unseen sequences at the training lengths
    per_length: int  # sequences per length for the curves
    curve_lengths: tuple[int, ...]  # lengths of the accuracy-vs-length curves
    kinds: tuple[str, ...]  # attention variants


def plan(ctx: Context) -> Plan:
    if ctx.quick:
        return Plan(1000, 200, (1, 3, 5, 8, 10, 12, 15, 18, 20), ("additive", "general"))
    return Plan(2000, 400, tuple(range(1, 2 * MAX_LEN + 1)), ("additive", "dot", "general"))


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    return path


# --- 5. the synchronous RNN ------------------------------------------------------------


class SynchronousRNN(nn.Module):
    """Writes one output per input, as it reads: ``y_t`` from ``x_1..x_t`` only.

    Every step also gets the sequence's length (an embedding of L), so the only thing it
    lacks is the tokens it has not read yet.
    """

    def __init__(
        self,
        k: int = K,
        max_len: int = MAX_LEN,
        embed: int = 16,
        hidden: int = 64,
        backend: str = "explicit",
    ):
        super().__init__()
        self.tokens = nn.Embedding(k + 1, embed)  # k = PAD
        self.length = nn.Embedding(max_len + 1, embed)
        self.rnn = layers.LSTM(2 * embed, hidden, batch_first=True, backend=backend)
        self.out = nn.Linear(hidden, k)

    def forward(self, src: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, S, K)``: position t has seen ``src[:, :t+1]`` and the length."""
        tok = self.tokens(src)  # (B, S) -> (B, S, E)
        size = self.length(lengths).unsqueeze(1).expand_as(tok)  # (B,) -> (B, S, E)
        out, _ = self.rnn(torch.cat([tok, size], dim=-1))  # (B, S, H)
        return self.out(out)  # (B, S, K)


def synchronous_targets(batch: task.Batch) -> torch.Tensor:
    """The reversed source at each input position, PAD (= K) elsewhere: ``(B, S)``."""
    rev = batch.tgt_out[:, :-1]  # (B, S + 1) -> (B, S): drop the last column
    return rev.masked_fill(rev == task.special_ids(K)[2], K)  # EOS -> PAD


def already_read(lengths: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks ``(B, S)``: real positions whose answer ``x_(L-1-t)`` is read by step t, and
    real positions whose answer is still ahead (the first half of the output)."""
    pos = torch.arange(width).unsqueeze(0)  # (1, S)
    n = lengths.unsqueeze(1)  # (B, 1)
    real = pos < n  # (B, S)
    read = real & (n - 1 - pos <= pos)  # (B, S)
    return read, real & ~read


def train_synchronous(ctx: Context, max_steps: int = 2000) -> tuple[SynchronousRNN, int]:
    """Train until it reproduces the positions it has read (>= 97% on dev)."""
    torch.manual_seed(ctx.seed)
    model = SynchronousRNN(backend=ctx.backend_for("lstm"))
    data = task.DataConfig(seed=1234 + ctx.seed)
    dev = task.fixed_set(data, "dev", 1000)
    dev_y = synchronous_targets(dev)
    dev_read, _ = already_read(dev.src_len, dev.src.shape[1])
    cfg = TrainConfig(steps=max_steps, batch_size=256, lr=1e-2, eval_every=50, seed=ctx.seed)

    def batch_fn(step: int) -> task.Batch:
        src, lengths = task.sample_split(
            256, "train", K, 1, MAX_LEN, step_generator(ctx.seed, step)
        )
        return task.make_batch(src, lengths, K)

    def loss_fn(m: nn.Module, b: task.Batch) -> torch.Tensor:
        logits = m(b.src, b.src_len)  # (B, S, K)
        flat = logits.reshape(-1, K)  # (B, S, K) -> (B*S, K)
        return F.cross_entropy(flat, synchronous_targets(b).reshape(-1), ignore_index=K)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        ok = m(dev.src, dev.src_len).argmax(-1) == dev_y  # (B, S)
        return {"read_acc": float(ok[dev_read].float().mean())}

    res = fit(
        model,
        cfg,
        batch_fn,
        loss_fn,
        eval_fn,
        metric="read_acc",
        progress=ctx.progress,
        desc="synchronous RNN",
        stop_fn=lambda d: d["read_acc"] >= 0.97,
    )
    model.eval()
    return model, res.steps


def synchronous_fails(ctx: Context) -> Experiment:
    t0 = time.perf_counter()
    model, steps = train_synchronous(ctx)
    data = task.DataConfig(seed=1234 + ctx.seed)
    exact: dict[int, float] = {}
    right = {"read": [0, 0], "unread": [0, 0]}  # correct, total
    positions = torch.zeros(MAX_LEN)
    with torch.no_grad():
        for n in range(1, MAX_LEN + 1):
            b = task.fixed_set(data, "test", SYNC_PER_LENGTH, n, n)
            ok = model(b.src, b.src_len).argmax(-1) == synchronous_targets(b)  # (B, S)
            exact[n] = float(ok.all(dim=1).float().mean())
            read, unread = already_read(b.src_len, b.src.shape[1])
            for name, m in (("read", read), ("unread", unread)):
                right[name][0] += int(ok[m].sum())
                right[name][1] += int(m.sum())
            if n == MAX_LEN:
                positions = ok.float().mean(dim=0)  # (S,)
    acc_read = right["read"][0] / right["read"][1]
    acc_unread = right["unread"][0] / right["unread"][1]
    worst = max(exact[n] for n in range(4, MAX_LEN + 1))
    bound = {n: K ** -(n // 2) for n in exact}

    fig = Figure(figsize=(10, 3.6))
    ax1, ax2 = fig.subplots(1, 2)
    colors = ["#c0392b" if t < MAX_LEN // 2 else "#2e86c1" for t in range(MAX_LEN)]
    ax1.bar(range(1, MAX_LEN + 1), positions.tolist(), color=colors)
    ax1.axhline(1 / K, color="k", ls="--", lw=1, label=f"chance 1/K = {1 / K:g}")
    ax1.set(
        xlabel="output position t (1-based)",
        ylabel="accuracy on unseen sequences",
        title=f"Synchronous RNN, length {MAX_LEN}: red = answer not read yet",
        ylim=(0, 1.05),
        xticks=range(1, MAX_LEN + 1),
    )
    ax1.legend(loc="center left")
    ns = sorted(exact)
    hit = [n for n in ns if exact[n] > 0]
    ax2.semilogy(hit, [exact[n] for n in hit], "o-", label="measured exact-sequence")
    zero = [n for n in ns if exact[n] == 0]
    ax2.semilogy(zero, [1e-4] * len(zero), "v", color="C0", mfc="none", label="none right (0)")
    ax2.semilogy(ns, [bound[n] for n in ns], "k--", lw=1, label="guessing: K^-floor(L/2)")
    ax2.set(
        xlabel="sequence length L",
        ylabel="exact-sequence accuracy (log)",
        title="Whole sequences right only by luck",
        ylim=(5e-5, 1.5),
        xticks=ns,
    )
    ax2.legend(loc="upper right", fontsize=8)
    fig_path = _save(fig, ctx.fig_dir / "reverse_synchronous.png")

    chance_gap = abs(acc_unread - 1 / K)
    claims = [
        Claim(
            "reverse.synchronous_fails",
            "an RNN that must write y_t while reading x_t gets almost no whole reversed "
            "sequence right beyond length 3",
            "highest exact-sequence accuracy over lengths 4..10",
            worst,
            0.05,
            "<=",
        ),
        Claim(
            "reverse.synchronous_fails.chance",
            "on the first half of the output, whose answer it has not read yet, it is at "
            "chance (1/K)",
            f"|accuracy on not-yet-read positions - 1/K| (accuracy {acc_unread:.3f})",
            chance_gap,
            0.03,
            "<=",
        ),
        Claim(
            "reverse.synchronous_fails.read_half",
            "the same network does reproduce the tokens it has already read",
            "accuracy on already-read positions",
            acc_read,
            0.9,
        ),
    ]
    text = (
        "A synchronous RNN writes the reversed sequence while it reads it, one output per "
        f"input, and is even told the length. After {steps} training steps it reproduces "
        f"the already-read half ({acc_read:.1%}), but on the first half, whose answer "
        f"comes later in the input, it is at chance ({acc_unread:.1%} vs 1/K = {1 / K:.0%}). "
        f"So whole sequences are right only by luck: {worst:.1%} at best beyond length 3."
    )
    return Experiment(
        id="reverse.synchronous_fails",
        title="Notebook of Failure Redux: a synchronous RNN cannot reverse",
        claims=claims,
        figures=[fig_path],
        text=text,
        details={
            "train_steps": steps,
            "exact_by_length": {str(n): v for n, v in exact.items()},
            "guessing_by_length": {str(n): v for n, v in bound.items()},
            "per_position_accuracy_length_10": positions.tolist(),
            "accuracy_not_yet_read": acc_unread,
            "accuracy_already_read": acc_read,
            "seconds": time.perf_counter() - t0,
        },
    )


# --- 6. seq2seq, final state only ------------------------------------------------------


def seq2seq_config(ctx: Context, attention: str = "none") -> task.Config:
    """LSTM, 64 units; attention models read a bidirectional encoder.

    Multiplicative attention gets 128 units: at 64 it reverses just as well but leaks
    more of its weight onto the neighbour it has just emitted (mirror mass ~0.85-0.89);
    with 128 its scores, products of bounded LSTM outputs, have the range to be sharp.
    Additive attention is no sharper at 128 units, so it keeps 64.
    """
    plain = attention == "none"
    return task.Config(
        data=task.DataConfig(vocab=K, min_len=1, max_len=MAX_LEN, seed=1234 + ctx.seed),
        model=task.ModelConfig(
            cell="lstm",
            embed=32,
            hidden=64 if attention in ("none", "additive") else 128,
            attention=attention,
            bidirectional=not plain,
            backend=ctx.backend_for("lstm"),
        ),
        train=TrainConfig(
            steps=1500 if plain else 400,
            batch_size=256,
            lr=1e-2,
            schedule="cosine",
            min_lr_ratio=0.05,
            # the plain model trains out its budget (goal 1.0), so dev is looked at only to
            # report it; attention stops at its goal, so dev is checked often
            eval_every=250 if plain else 50,
            seed=ctx.seed,
        ),
        goal=1.0 if plain else 0.998,  # plain: no stop on a lucky dev score; train it out
    )


def trained(ctx: Context, attention: str = "none") -> tuple[Seq2Seq, dict[str, float]]:
    """Train (or recall from this process) the seq2seq model for ``ctx.seed``."""
    return train_seq2seq(ctx.seed, attention, ctx.backend_for("lstm"), progress=ctx.progress)


@shared
def train_seq2seq(
    seed: int, attention: str, backend: str, progress: bool = False
) -> tuple[Seq2Seq, dict[str, float]]:
    desc = "seq2seq" if attention == "none" else f"seq2seq + {attention} attention"
    cfg = seq2seq_config(Context(seed=seed, backend=backend), attention)
    return task.train_model(cfg, CPU, progress=progress, desc=desc)


_CURVES: dict[tuple[int, bool, str, str], dict[int, dict[str, float]]] = {}


def length_curve(ctx: Context, attention: str = "none") -> dict[int, dict[str, float]]:
    """Exact-sequence and token accuracy on unseen sequences of each length."""
    key = (ctx.seed, ctx.quick, attention, ctx.backend_for("lstm"))
    if key not in _CURVES:
        p = plan(ctx)
        model, _ = trained(ctx, attention)
        data = task.DataConfig(seed=1234 + ctx.seed)
        out = {}
        for n in p.curve_lengths:
            r = task.score(model, task.fixed_set(data, "test", p.per_length, n, n), K, CPU)
            out[n] = {"exact": r["exact"], "token_acc": r["token_acc"]}
        _CURVES[key] = out
    return _CURVES[key]


def plot_length_curves(curves: dict[str, dict[int, dict[str, float]]]) -> Figure:
    fig = Figure(figsize=(10, 3.6))
    axes = fig.subplots(1, 2)
    for ax, metric, label in zip(
        axes, ("exact", "token_acc"), ("exact-sequence accuracy", "token accuracy"), strict=True
    ):
        for name, curve in curves.items():
            ns = sorted(curve)
            ax.plot(ns, [curve[n][metric] for n in ns], "o-", ms=3, label=name)
        ax.axvspan(0.5, MAX_LEN + 0.5, color="#eee", zorder=0)
        for x in (1.5 * MAX_LEN, 2 * MAX_LEN):
            ax.axvline(x, color="#999", ls=":", lw=1)
        ax.set(xlabel="sequence length (grey: training lengths)", ylabel=label, ylim=(-0.02, 1.02))
    axes[0].set_title("Unseen sequences by length")
    axes[1].legend(fontsize=8)
    return fig


def seq2seq_succeeds(ctx: Context) -> Experiment:
    t0 = time.perf_counter()
    p = plan(ctx)
    model, dev = trained(ctx)
    cfg = seq2seq_config(ctx)
    test = task.score(model, task.fixed_set(cfg.data, "test", p.test_size), K, CPU)
    curve = length_curve(ctx)
    fig_path = _save(
        plot_length_curves({"seq2seq (final state only)": curve}),
        ctx.fig_dir / "reverse_seq2seq_lengths.png",
    )
    r = test["decoded"]
    claims = [
        Claim(
            "reverse.seq2seq_succeeds",
            "an encoder/decoder whose decoder starts from the encoder's final state alone "
            "reverses unseen sequences of the training lengths (1..10, K=10)",
            f"exact-sequence accuracy, greedy decoding, {test['n']} unseen sequences",
            test["exact"],
            0.99,
        )
    ]
    at = {n: curve[n]["exact"] for n in curve if n in (MAX_LEN, 15, 20)}
    text = (
        "An encoder LSTM reads the whole sequence first; its final state (64 + 64 numbers) "
        "is all the decoder gets. Trained with teacher forcing for "
        f"{int(dev['steps'])} steps, it reverses {test['exact']:.2%} of unseen sequences "
        f"of lengths 1..{MAX_LEN} exactly, decoding greedily. Beyond the training lengths "
        f"it breaks down: exact accuracy {', '.join(f'{v:.0%} at {n}' for n, v in at.items())}."
    )
    return Experiment(
        id="reverse.seq2seq_succeeds",
        title="Seq2seq: read everything, then write",
        claims=claims,
        figures=[fig_path],
        text=text,
        details={
            "test_exact": test["exact"],
            "test_token_acc": test["token_acc"],
            "test_n": test["n"],
            "unfinished": int((~r.finished).sum()),
            "train_steps": dev["steps"],
            "train_seconds": dev["seconds"],
            "dev_exact": dev["exact"],
            "by_length": {str(n): v for n, v in curve.items()},
            "seconds": time.perf_counter() - t0,
        },
    )


# --- 7. attention ----------------------------------------------------------------------


def mirror_mass(weights: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Attention on the mirrored source position, ``w[b, t, L-1-t]`` for each output
    token t < L (the EOS step excluded): a flat tensor of values in [0, 1]."""
    steps = min(weights.shape[1], int(lengths.max()))
    pos = torch.arange(steps).unsqueeze(0)  # (1, T')
    mirror = (lengths.unsqueeze(1) - 1 - pos).clamp(min=0)  # (B, T')
    got = weights[:, :steps].gather(2, mirror.unsqueeze(2)).squeeze(2)  # (B, T')
    return got[pos < lengths.unsqueeze(1)]  # (N,)


def plot_heatmaps(examples: list[dict[str, Any]]) -> Figure:
    """One panel per (variant, example): rows output steps, columns source tokens."""
    kinds = sorted({e["kind"] for e in examples}, key=[e["kind"] for e in examples].index)
    cols = max(sum(e["kind"] == k for e in examples) for k in kinds)
    fig = Figure(figsize=(3.3 * cols, 3.1 * len(kinds)))
    axes = fig.subplots(len(kinds), cols, squeeze=False)
    counts = dict.fromkeys(kinds, 0)
    for e in examples:
        r, c = kinds.index(e["kind"]), counts[e["kind"]]
        counts[e["kind"]] += 1
        ax = axes[r][c]
        w = e["weights"]
        ax.imshow(w, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(e["src"])), [str(x) for x in e["src"]], fontsize=7)
        ax.set_yticks(range(len(e["out"])), e["out"], fontsize=7)
        ax.set_title(f"{e['kind']}, length {len(e['src'])}", fontsize=9)
        if c == 0:
            ax.set_ylabel("output token")
        if r == len(kinds) - 1:
            ax.set_xlabel("source token")
    fig.suptitle("Attention weights: the anti-diagonal (output t reads source L-1-t)")
    return fig


def plot_mirror(mass: dict[str, float], by_step: dict[str, list[float]]) -> Figure:
    fig = Figure(figsize=(10, 3.4))
    ax1, ax2 = fig.subplots(1, 2)
    names = list(mass)
    ax1.bar(names, [mass[n] for n in names], color="#2e86c1")
    ax1.axhline(0.9, color="k", ls="--", lw=1, label="claim: 0.9")
    ax1.set(ylim=(0, 1.05), ylabel="mean weight on source L-1-t", title="Mass on the mirror")
    ax1.legend(loc="lower right")
    for n in names:
        ax2.plot(range(1, len(by_step[n]) + 1), by_step[n], "o-", ms=3, label=n)
    ax2.set(
        xlabel="output step t (length-10 sequences)",
        ylabel="weight on source L-1-t",
        ylim=(0, 1.05),
        title="...at every output step",
    )
    ax2.legend(loc="lower right", fontsize=8)
    return fig


def attention(ctx: Context) -> Experiment:
    t0 = time.perf_counter()
    p = plan(ctx)
    data = task.DataConfig(seed=1234 + ctx.seed)
    test = task.fixed_set(data, "test", p.test_size)
    long10 = task.fixed_set(data, "test", p.per_length, MAX_LEN, MAX_LEN)
    shown = [task.fixed_set(data, "test", 1, n, n) for n in SHOWN_LENGTHS]
    show_src, show_len = task.pad_sources(
        [b.src[0, : int(b.src_len[0])].tolist() for b in shown], K
    )
    curves = {"no attention": length_curve(ctx)}
    results: dict[str, dict[str, Any]] = {}
    mass: dict[str, float] = {}
    by_step: dict[str, list[float]] = {}
    examples: list[dict[str, Any]] = []
    for kind in p.kinds:
        model, dev = trained(ctx, kind)
        r = task.score(model, test, K, CPU)
        w = r["decoded"].weights
        assert w is not None
        mass[kind] = float(mirror_mass(w, test.src_len).mean())
        r10 = task.score(model, long10, K, CPU)
        w10 = r10["decoded"].weights
        assert w10 is not None
        by_step[kind] = [
            float(w10[:, t, MAX_LEN - 1 - t].mean()) for t in range(min(MAX_LEN, w10.shape[1]))
        ]
        curves[kind] = length_curve(ctx, kind)
        results[kind] = {
            "test_exact": r["exact"],
            "test_token_acc": r["token_acc"],
            "mirror_mass": mass[kind],
            "train_steps": dev["steps"],
            "train_seconds": dev["seconds"],
        }
        d = model.greedy(show_src, show_len, max_len=show_src.shape[1] + 1)
        assert d.weights is not None
        for i in range(show_src.shape[0]):
            n, m = int(show_len[i]), int(d.lengths[i]) + int(d.finished[i])
            out = [str(t) if t < K else "</s>" for t in d.tokens[i, :m].tolist()]
            examples.append(
                {
                    "kind": kind,
                    "src": show_src[i, :n].tolist(),
                    "out": out,
                    "weights": d.weights[i, :m, :n].numpy(),
                }
            )
    figures = [
        _save(plot_length_curves(curves), ctx.fig_dir / "reverse_attention_lengths.png"),
        _save(plot_heatmaps(examples), ctx.fig_dir / "reverse_attention_heatmaps.png"),
        _save(plot_mirror(mass, by_step), ctx.fig_dir / "reverse_attention_mirror.png"),
    ]
    worst_kind = min(results, key=lambda k: results[k]["test_exact"])
    others = ", ".join(f"{k} {mass[k]:.2f}" for k in p.kinds if k != MIRROR_KIND)
    claims = [
        Claim(
            "reverse.attention",
            "with attention over the encoder outputs (additive and multiplicative) the "
            "decoder reverses unseen sequences of the training lengths",
            f"lowest exact-sequence accuracy over {', '.join(p.kinds)} "
            f"({worst_kind}; {p.test_size} unseen sequences)",
            results[worst_kind]["test_exact"],
            0.995,
        ),
        Claim(
            "reverse.attention.mirror",
            "attention looks at the mirrored position: output t reads source L-1-t",
            f"mean attention weight on source L-1-t, Luong {MIRROR_KIND} attention "
            f"(also measured: {others})",
            mass[MIRROR_KIND],
            0.9,
        ),
    ]
    at = {
        name: {n: curves[name][n]["exact"] for n in (15, 20) if n in curves[name]}
        for name in curves
    }
    beyond = "; ".join(
        f"{name}: {', '.join(f'{v:.0%} at {n}' for n, v in a.items())}" for name, a in at.items()
    )
    text = (
        "With attention the decoder reads the encoder's outputs at every step. "
        f"{' and '.join(p.kinds)} attention all reverse at least "
        f"{results[worst_kind]['test_exact']:.2%} of unseen sequences exactly, and their "
        "weights form the anti-diagonal the lecture promises: Luong general attention puts "
        f"{mass[MIRROR_KIND]:.1%} of its weight on source position L-1-t ({others}: they "
        "leak part of it onto the neighbour just emitted). Beyond the training lengths "
        f"(exact accuracy at 15 and 20) — {beyond}: what the encoder learned about "
        "positions does not stretch to lengths it never saw."
    )
    return Experiment(
        id="reverse.attention",
        title="Attention: look where the answer is",
        claims=claims,
        figures=figures,
        text=text,
        details={
            "variants": results,
            "mirror_mass_by_step_length_10": by_step,
            "by_length": {name: {str(n): v for n, v in c.items()} for name, c in curves.items()},
            "seconds": time.perf_counter() - t0,
        },
    )


def _trainings(ctx: Context, kinds: tuple[str, ...]) -> list[Need]:
    return [need(train_seq2seq, ctx.seed, kind, ctx.backend_for("lstm")) for kind in kinds]


NEEDS: dict[str, Callable[[Context], list[Need]]] = {
    "reverse.seq2seq_succeeds": lambda ctx: _trainings(ctx, ("none",)),
    "reverse.attention": lambda ctx: _trainings(ctx, ("none", *plan(ctx).kinds)),
}
