"""The rolled-up and the unrolled views of one trained parity RNN, on one real input.

Rolled up, an RNN is one cell with a loop: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) +
b_hh)``. Unrolled over an input of T steps it is a T-layer network whose layers all share
the same weights. The figure draws both for the trained network of
``rnnlab.lecture.parity`` with the values at every step, and the experiment checks that
the loop written out by hand in numpy gives exactly the layer's numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnlab.lecture.common import Claim, Context, Experiment, Need, need
from rnnlab.lecture.parity import trained_parity_rnn, trained_rnn
from rnnlab.lecture.parity_figures import DPI
from rnnlab.tasks.parity.model import ParityRNN
from rnnlab.tasks.parity.task import evenness

EXAMPLE = [0, 1, 0, 1, 1, 0, 0, 0]  # the lecture's second example: three 1s, so "odd"


def unroll_by_hand(model: ParityRNN, bits: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The Elman recurrence as a plain numpy loop: states (T, H) and logits (T,)."""
    rnn = model.rnn
    w_ih = rnn.get_parameter("weight_ih_l0").detach().double().numpy()[:, 0]  # (H,)
    w_hh = rnn.get_parameter("weight_hh_l0").detach().double().numpy()  # (H, H)
    b_ih, b_hh = rnn.get_parameter("bias_ih_l0"), rnn.get_parameter("bias_hh_l0")
    b = (b_ih + b_hh).detach().double().numpy()  # (H,)
    w_out = model.out.weight.detach().double().numpy()[0]  # (H,)
    b_out = float(model.out.bias.detach())
    h = np.zeros(len(b))  # h_0
    states, logits = [], []
    for x in bits:
        h = np.tanh(w_ih * x + w_hh @ h + b)  # the same weights at every step
        states.append(h)
        logits.append(w_out @ h + b_out)
    return np.array(states), np.array(logits)


def unrolled_view(ctx: Context) -> Experiment:
    model = trained_rnn(ctx.seed, ctx.quick, ctx.progress, ctx.backend_for("rnn"))
    x = torch.tensor([EXAMPLE], dtype=torch.float)  # (1, T)
    with torch.no_grad():
        logits, states = model(x)  # (1, T), (1, T, H)
    layer_h, layer_logit = states[0].double().numpy(), logits[0].double().numpy()
    hand_h, hand_logit = unroll_by_hand(model, EXAMPLE)
    diff = float(max(np.abs(hand_h - layer_h).max(), np.abs(hand_logit - layer_logit).max()))
    target = evenness(x)[0].numpy()  # (T,)
    right = int(((layer_logit > 0) == (target > 0.5)).sum())
    fig = _plot(ctx, model, layer_h, layer_logit, target)
    claims = [
        Claim(
            "rnn.unrolled_view",
            "Unrolled, the RNN is one cell applied at every step with the same weights: the "
            "loop written out by hand reproduces the layer",
            f"largest |hand-unrolled - layer| over states and outputs ({right}/{len(EXAMPLE)} "
            "answers right on the example)",
            diff,
            1e-5,
            "<=",
        )
    ]
    text = (
        "Rolled up, the RNN is a single cell with a loop: it reads x_t and its own previous "
        "state and writes the new state, from which a read-out gives the answer. Unrolled "
        f"over the input {' '.join(map(str, EXAMPLE))} it is an {len(EXAMPLE)}-layer network "
        "whose layers share the same weights; the figure shows the state vector and the "
        "answer after every step. Writing that loop out by hand in numpy gives the layer's "
        f"numbers to {diff:.1e}."
    )
    details = {
        "input": EXAMPLE,
        "states": [[round(float(v), 4) for v in h] for h in layer_h],
        "p_even": [round(float(1 / (1 + np.exp(-v))), 4) for v in layer_logit],
        "target": [int(v) for v in target],
        "max_abs_difference": diff,
    }
    return Experiment(
        "rnn.unrolled_view", "8. The RNN rolled up and unrolled", claims, [fig], text, details
    )


def _box(ax: Any, x: float, y: float, w: float, h: float, text: str, color: str) -> None:
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03", fc=color, ec="black", lw=1
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def _arrow(ax: Any, a: tuple[float, float], b: tuple[float, float], rad: float = 0.0) -> None:
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(
        FancyArrowPatch(
            a, b, arrowstyle="-|>", mutation_scale=12, lw=1.2, connectionstyle=f"arc3,rad={rad}"
        )
    )


def _plot(
    ctx: Context, model: ParityRNN, h: np.ndarray, logit: np.ndarray, target: np.ndarray
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, hidden = h.shape
    cell = 0.42  # height of one unit's square
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(16, 6.2), gridspec_kw={"width_ratios": [1, 3.6]})
    top = hidden * cell

    # rolled up: x -> [h] -> y, with the loop
    ax0.set_xlim(0, 4.6)
    ax0.set_ylim(-1.4, top + 2.2)
    ax0.axis("off")
    _box(ax0, 2, -0.8, 1.2, 0.6, "x_t", "#f3f3f3")
    _box(ax0, 2, top / 2, 1.6, top * 0.6, f"h_t\n({hidden} units)", "#dde8f5")
    _box(ax0, 2, top + 1.4, 1.6, 0.6, "P(even)_t", "#f6e6cf")
    _arrow(ax0, (2, -0.5), (2, top * 0.2))
    ax0.text(2.1, -0.1, "W_ih", fontsize=9)
    _arrow(ax0, (2, top * 0.8), (2, top + 1.1))
    ax0.text(2.1, top + 0.6, "w_out", fontsize=9)
    _arrow(ax0, (2.8, top * 0.65), (2.8, top * 0.35), rad=-1.6)
    ax0.text(3.45, top / 2, "W_hh h_(t-1)", fontsize=9, va="center")
    ax0.set_title("Rolled up: one cell and a loop")

    # unrolled: one column per step, the same weights everywhere
    cmap = plt.get_cmap("RdBu_r")
    ax1.set_xlim(-0.8, steps + 0.6)
    ax1.set_ylim(-1.4, top + 2.2)
    ax1.axis("off")
    cols = [np.zeros(hidden), *h]  # h_0 = 0, then h_1..h_T
    for t, vec in enumerate(cols):
        for i, v in enumerate(vec):
            y0 = top - (i + 1) * cell
            ax1.add_patch(plt.Rectangle((t - 0.3, y0), 0.6, cell, fc=cmap((v + 1) / 2), ec="white"))
            ax1.text(
                t,
                y0 + cell / 2,
                f"{v:+.2f}",
                ha="center",
                va="center",
                fontsize=6.5,
                color="white" if abs(v) > 0.6 else "black",
            )
        ax1.text(t, top + 0.15, f"h_{t}", ha="center", fontsize=9)
        if t == 0:
            continue
        _arrow(ax1, (t - 0.7, top / 2), (t - 0.32, top / 2))
        _box(ax1, t, -0.8, 0.5, 0.5, str(EXAMPLE[t - 1]), "#f3f3f3")
        _arrow(ax1, (t, -0.55), (t, -0.02))
        p = 1 / (1 + np.exp(-logit[t - 1]))
        ok = (logit[t - 1] > 0) == (target[t - 1] > 0.5)
        _box(
            ax1,
            t,
            top + 1.4,
            0.75,
            0.6,
            f"{p:.3f}\n-> {int(logit[t - 1] > 0)}",
            "#d8efd8" if ok else "#f5c6c6",
        )
        _arrow(ax1, (t, top + 0.45), (t, top + 1.08))
        ax1.text(t, top + 1.95, f"target {int(target[t - 1])}", ha="center", fontsize=8)
    ax1.text(-0.75, -0.8, "x_t", va="center", fontsize=9)
    ax1.text(-0.75, top + 1.4, "P(even)", va="center", fontsize=9)
    ax1.text(0.5, top / 2 + 0.25, "W_hh", fontsize=7, ha="center")
    ax1.set_title(
        "Unrolled over one input: the same W_ih, W_hh and read-out at every step "
        "(state colours: -1 blue, +1 red)"
    )
    fig.suptitle(
        f"The trained parity RNN ({hidden} units) on the input {' '.join(map(str, EXAMPLE))}"
    )
    ctx.fig_dir.mkdir(parents=True, exist_ok=True)
    path = ctx.fig_dir / "rnn_unrolled_view.png"
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


NEEDS: dict[str, Callable[[Context], list[Need]]] = {
    "rnn.unrolled_view": lambda ctx: [need(trained_parity_rnn, ctx.seed, ctx.backend_for("rnn"))]
}
