"""The figures of the parity lecture (``rnnlab.lecture.parity``), one function each.

Each takes the experiment's measured numbers, draws them with matplotlib (Agg backend)
and saves a PNG under ``ctx.fig_dir``, returning its path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnlab.lecture.common import Context
from rnnlab.tasks.parity.fsm import Automaton
from rnnlab.tasks.parity.model import ParityRNN

DPI = 110


def plt_agg() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, ctx: Context, name: str) -> Path:
    ctx.fig_dir.mkdir(parents=True, exist_ok=True)
    path = ctx.fig_dir / name
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt_agg().close(fig)
    return path


def dense(
    ctx: Context,
    ns: list[int],
    dense: dict[int, np.ndarray],
    rnn: dict[int, np.ndarray],
    rnn_hidden: int,
) -> Path:
    plt = plt_agg()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    cmap = plt.get_cmap("viridis")
    for i, n in enumerate(ns):
        c = cmap(i / max(1, len(ns) - 1))
        pos = np.arange(1, n + 1)
        axes[0].plot(pos, dense[n], color=c, label=f"n={n}")
        axes[1].plot(pos, rnn[n], color=c, label=f"n={n}")
    for ax, title in zip(
        axes[:2], ["dense net (MLP 2x256)", f"RNN ({rnn_hidden} units)"], strict=True
    ):
        ax.axhline(0.5, color="grey", ls=":", label="chance")
        ax.set(
            title=f"{title}: accuracy per position",
            xlabel="position t",
            ylabel="accuracy on unseen sequences",
            ylim=(0.3, 1.03),
            xscale="log",
        )
        ax.legend(fontsize=7, ncol=2)
    axes[2].plot(ns, [dense[n][-1] for n in ns], "o-", label="dense, final position")
    axes[2].plot(ns, [float(np.mean(dense[n])) for n in ns], "s--", label="dense, mean")
    axes[2].plot(ns, [rnn[n][-1] for n in ns], "o-", label="RNN, final position")
    axes[2].plot(ns, [float(np.mean(rnn[n])) for n in ns], "s--", label="RNN, mean")
    axes[2].axhline(0.5, color="grey", ls=":", label="chance")
    axes[2].set(
        title="accuracy against sequence length n",
        xlabel="n",
        ylabel="accuracy on unseen sequences",
        ylim=(0.3, 1.03),
    )
    axes[2].legend(fontsize=8)
    fig.suptitle("Same sequences, same targets (the evenness after every input)")
    return save(fig, ctx, "parity_dense_vs_rnn.png")


def final_label(ctx: Context, finals: list[dict[str, Any]], large: list[dict[str, Any]]) -> Path:
    plt = plt_agg()
    rows = finals + large
    labels = [
        f"n={r['n']}\n{r['train_size']:,} ex.\n({100 * r['share']:.2g}% of 2^{r['n']})"
        for r in rows
    ]
    xs = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(2.1 * len(rows) + 2, 4.2))
    ax.bar(xs - 0.2, [r["train_acc"] for r in rows], 0.4, label="training sequences")
    ax.bar(xs + 0.2, [r["unseen_acc"] for r in rows], 0.4, label="unseen sequences")
    ax.axhline(0.5, color="grey", ls=":", label="chance")
    ax.axvline(len(finals) - 0.5, color="black", lw=0.8)
    for i, r in enumerate(rows):
        for dx, key in ((-0.2, "train_acc"), (0.2, "unseen_acc")):
            ax.text(i + dx, r[key] + 0.01, f"{r[key]:.2f}", ha="center", fontsize=8)
    ax.text(len(finals) - 0.45, 1.07, "n = 12, shown a growing share of all 2^12:", fontsize=8)
    ax.set_xticks(xs, labels, fontsize=8)
    ax.set(
        ylabel="accuracy of the final label",
        ylim=(0, 1.13),
        title="Dense net on the final label alone: memorized, not learned",
    )
    ax.legend(fontsize=8, loc="lower left")
    return save(fig, ctx, "parity_dense_final_label.png")


def generalization(
    ctx: Context, curve: dict[int, dict[str, float]], max_len: int, info: dict[str, Any]
) -> Path:
    plt = plt_agg()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    ns = list(curve)
    ax = axes[0]
    ax.axvspan(1, max_len, color="tab:green", alpha=0.12, label="training lengths")
    ax.plot(ns, [curve[n]["acc"] for n in ns], "o-", label="per-step accuracy")
    ax.plot(ns, [curve[n]["seq_acc"] for n in ns], "s--", label="whole sequence right")
    ax.axhline(0.5, color="grey", ls=":", label="chance")
    ax.set(
        xscale="log",
        ylim=(0.4, 1.03),
        xlabel="test length",
        ylabel="accuracy",
        title="Unseen sequences, up to 100x the training length",
    )
    ax.legend(fontsize=8, loc="lower left")
    ax = axes[1]
    hist = [h for h in info.get("history", []) if "dev_acc" in h]
    if hist:
        steps = [h["step"] for h in hist]
        ax.plot(steps, [h["dev_acc"] for h in hist], label="dev accuracy")
        ax2 = ax.twinx()
        ax2.plot(steps, [h["dev_margin"] for h in hist], color="tab:orange", label="dev margin")
        ax2.axhline(6.0, color="tab:orange", ls=":")
        ax2.set_ylabel("smallest signed logit on dev (stop at 6)")
        ax2.legend(fontsize=8, loc="lower right")
    ax.set(xlabel="training step", ylabel="dev per-step accuracy", title="Training (lengths 1..20)")
    ax.legend(fontsize=8, loc="center right")
    return save(fig, ctx, "parity_rnn_generalizes.png")


def final_only(
    ctx: Context,
    schedule: list[tuple[int, int]],
    top: int,
    steps: int,
    acc: dict[str, dict[int, float]],
    lengths: list[int],
) -> Path:
    plt = plt_agg()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    xs = [0] + [s for s, _ in schedule] + [steps]
    ys = [2] + [n for _, n in schedule] + [schedule[-1][1] if schedule else 2]
    axes[0].step(xs, ys, where="post", label="curriculum")
    axes[0].axhline(top, color="grey", ls=":", label="no curriculum (always 20)")
    axes[0].set(
        xlabel="training step",
        ylabel="longest training sequence",
        title="Length curriculum: +2 once every dev sequence is right",
    )
    axes[0].legend(fontsize=8)
    xpos = np.arange(len(lengths))
    for i, (name, a) in enumerate(acc.items()):
        axes[1].bar(xpos + (i - 0.5) * 0.4, [a[n] for n in lengths], 0.4, label=name)
    axes[1].axhline(0.5, color="grey", ls=":", label="chance")
    axes[1].set_xticks(xpos, [f"length {n}" for n in lengths])
    axes[1].set(
        ylabel="final-label accuracy (unseen)",
        ylim=(0, 1.22),
        title="Measured at 1x, 10x and 100x the training length",
    )
    axes[1].legend(fontsize=8, loc="upper center", ncol=3)
    return save(fig, ctx, "parity_final_only.png")


def handset(ctx: Context, hand: ParityRNN) -> Path:
    plt = plt_agg()
    bits = [1, 0, 0, 1, 1, 0, 1, 1, 1, 0]
    x = torch.tensor([bits], dtype=torch.float)  # (1, T)
    with torch.no_grad():
        _, states = hand(x)  # (1, T, 2)
    h = states[0].numpy()  # (T, 2)
    p = (h[:, 0] - h[:, 1]) / 2
    fig = plt.figure(figsize=(13, 4.8))
    grid = fig.add_gridspec(3, 2, width_ratios=[1, 1.4], hspace=0.15)
    ax = fig.add_subplot(grid[:, 0])
    ax.axis("off")
    w_ih = hand.rnn.get_parameter("weight_ih_l0").detach().numpy()
    w_hh = hand.rnn.get_parameter("weight_hh_l0").detach().numpy()
    b = hand.rnn.get_parameter("bias_ih_l0").detach().numpy()
    lines = [
        "Hand-set 2-unit Elman RNN (k = 20)",
        "",
        f"W_ih = [[{w_ih[0, 0]:g}], [{w_ih[1, 0]:g}]]",
        f"W_hh = [[{w_hh[0, 0]:g}, {w_hh[0, 1]:g}], [{w_hh[1, 0]:g}, {w_hh[1, 1]:g}]]",
        f"b    = [{b[0]:g}, {b[1]:g}]",
        "",
        "parity so far p = (h1 - h2) / 2   (1 = odd)",
        "h1' = tanh(k (p + x - 1/2))  = p OR x",
        "h2' = tanh(k (p + x - 3/2))  = p AND x",
        "p'  = OR - AND               = p XOR x",
        "",
        " p  x | h1'  h2' | p'",
    ]
    for pv in (0, 1):
        for xv in (0, 1):
            o, a = int(pv or xv), int(pv and xv)
            lines.append(f" {pv}  {xv} | {2 * o - 1:+d}   {2 * a - 1:+d}  | {o - a}")
    ax.text(0.0, 1.0, "\n".join(lines), family="monospace", fontsize=10, va="top")
    t = np.arange(1, len(bits) + 1)
    rows = [
        (h[:, 0], "h1 = OR", (-1.2, 1.2)),
        (h[:, 1], "h2 = AND", (-1.2, 1.2)),
        (p, "p = (h1-h2)/2", (-0.2, 1.2)),
    ]
    for i, (values, name, lim) in enumerate(rows):
        ax = fig.add_subplot(grid[i, 1])
        ax.step(t, values, where="mid", color=f"C{i}", lw=2)
        ax.set(ylabel=name, ylim=lim, xticks=t, xlim=(0.5, len(bits) + 0.5))
        if i == 0:
            ax.set_title(
                "Its two units on one input (x on top): OR, AND and their difference", pad=22
            )
            for ti, bv in zip(t, bits, strict=True):
                ax.text(ti, 1.5, f"x={bv}", ha="center", fontsize=9)
        if i < 2:
            ax.tick_params(labelbottom=False)
        else:
            ax.set_xlabel("step t")
    return save(fig, ctx, "parity_handset_rnn.png")


def automaton(ctx: Context, states: np.ndarray, even: np.ndarray, auto: Automaton) -> Path:
    plt = plt_agg()
    from matplotlib.patches import Circle, FancyArrowPatch

    flat = states.reshape(-1, states.shape[-1])  # (B*T, H)
    mean = flat.mean(0)
    _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
    xy = (flat - mean) @ vt[:2].T  # (B*T, 2)
    ev = even.reshape(-1) > 0.5
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    ax = axes[0]
    ax.scatter(xy[ev, 0], xy[ev, 1], s=6, alpha=0.4, c="tab:blue", label="even so far")
    ax.scatter(xy[~ev, 0], xy[~ev, 1], s=6, alpha=0.4, c="tab:red", label="odd so far")
    cxy = (auto.centers - mean) @ vt[:2].T  # (k, 2)
    ax.scatter(cxy[:, 0], cxy[:, 1], marker="x", c="black", s=60, label="k-means centres")
    for i, (cx, cy) in enumerate(cxy):
        ax.annotate(f"c{i}", (cx, cy), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set(
        xlabel="principal component 1",
        ylabel="principal component 2",
        title=f"Hidden states of the trained RNN ({states.shape[-1]} units), PCA",
    )
    ax.legend(fontsize=8, markerscale=2)

    ax = axes[1]
    ax.set_xlim(-2.2, 2.2)
    ax.set_ylim(-1.6, 1.8)
    ax.set_aspect("equal")
    ax.axis("off")
    names = auto.min_names()
    centers = {0: (-1.1, 0.0), 1: (1.1, 0.0)}
    for cls, (cx, cy) in centers.items():
        if cls >= len(names):
            continue
        ax.add_patch(Circle((cx, cy), 0.45, fill=False, lw=2))
        ax.text(cx, cy, names[cls], ha="center", va="center", fontsize=10)
    arrow: dict[str, Any] = {"arrowstyle": "-|>", "mutation_scale": 15, "lw": 1.5}
    if auto.n_min == 2:
        for src, (cx, cy) in centers.items():
            for bit in (0, 1):
                dst = auto.min_delta[src][bit]
                if dst == src:  # a self-loop above (even) or below (odd) the state
                    sgn = 1 if cy >= 0 and src == 0 else -1
                    a = FancyArrowPatch(
                        (cx - 0.25, cy + sgn * 0.38),
                        (cx + 0.25, cy + sgn * 0.38),
                        connectionstyle=f"arc3,rad={-1.6 * sgn}",
                        **arrow,
                    )
                    ax.add_patch(a)
                    ax.text(cx, cy + sgn * 1.0, str(bit), ha="center", va="center", fontsize=12)
                else:
                    (dx, dy) = centers[dst]
                    off = 0.18 if src == 0 else -0.18
                    a = FancyArrowPatch(
                        (cx + (0.45 if dx > cx else -0.45), cy + off),
                        (dx + (-0.45 if dx > cx else 0.45), dy + off),
                        connectionstyle="arc3,rad=-0.35",
                        **arrow,
                    )
                    ax.add_patch(a)
                    ax.text(
                        (cx + dx) / 2,
                        cy + 3 * off + (0.15 if off > 0 else -0.15),
                        str(bit),
                        ha="center",
                        fontsize=12,
                    )
        start = centers[auto.min_start]
        ax.add_patch(
            FancyArrowPatch(
                (start[0] - 1.0, start[1] - 0.9), (start[0] - 0.35, start[1] - 0.3), **arrow
            )
        )
        ax.text(start[0] - 1.05, start[1] - 1.05, "start", fontsize=9)
    ax.set_title(
        f"Read off the clusters and minimized: {auto.n_states} clusters -> {auto.n_min} states"
    )
    return save(fig, ctx, "parity_automaton.png")
