"""Reading a finite-state machine off a trained RNN's hidden states.

1. Cluster the hidden states with k-means (``kmeans``), for k = 2, 3, ... until the
   clusters behave like states of a machine: from each cluster, each input bit leads to
   one cluster (determinism) and the network's answer is the same everywhere in a
   cluster (purity).
2. Read the transition table off the data: the majority next cluster for each
   (cluster, input bit); the start state is the zero state before the first input.
3. Minimize it (Moore's partition refinement): clusters with the same answer whose
   transitions lead to equivalent clusters are one state.

For a network that computes parity the result should be the 2-state automaton: even and
odd, where 1 flips and 0 keeps. Shapes: B sequences, T steps, H hidden units, k clusters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

EVEN, ODD = 1, 0  # the network's answers: 1 = "the sum so far is even"


def kmeans(
    points: np.ndarray, k: int, seed: int = 0, restarts: int = 3, iters: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ seeding; the best of ``restarts`` runs.

    ``points`` (N, H) -> centres (k, H) and each point's cluster (N,).
    """
    rng = np.random.default_rng(seed)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for _ in range(restarts):
        centers = points[[rng.integers(len(points))]]  # (1, H)
        for _ in range(1, k):  # k-means++: far points are likelier next centres
            d2 = ((points[:, None, :] - centers[None]) ** 2).sum(-1).min(1)  # (N,)
            total = d2.sum()
            pick = (
                rng.integers(len(points)) if total == 0 else rng.choice(len(points), p=d2 / total)
            )
            centers = np.vstack([centers, points[pick]])  # (c + 1, H)
        labels = np.zeros(len(points), dtype=np.int64)
        for it in range(iters):
            d2 = ((points[:, None, :] - centers[None]) ** 2).sum(-1)  # (N, k)
            new = d2.argmin(1)  # (N,)
            if it > 0 and np.array_equal(new, labels):
                break
            labels = new
            for c in range(k):
                if (labels == c).any():
                    centers[c] = points[labels == c].mean(0)
        inertia = float(((points - centers[labels]) ** 2).sum())
        if best is None or inertia < best[0]:
            best = (inertia, centers.copy(), labels.copy())
    assert best is not None
    return best[1], best[2]


@dataclass
class Automaton:
    """Clusters as states, their majority transitions and answers, and the minimized machine."""

    k: int
    centers: np.ndarray  # (k, H)
    delta: np.ndarray  # (k, 2): next cluster for input 0 and 1
    output: np.ndarray  # (k,): the network's majority answer in each cluster
    start_delta: tuple[int, int]  # cluster after a first 0 / a first 1
    determinism: float  # share of observed transitions that follow ``delta``
    purity: float  # share of states whose answer is their cluster's ``output``
    cls: np.ndarray  # (k,): minimized state of each cluster
    min_delta: list[list[int]]  # (n_min, 2)
    min_output: list[int]  # (n_min,)
    min_start: int  # minimized state of the start; -1 if it matches none

    @property
    def n_states(self) -> int:
        return self.k

    @property
    def n_min(self) -> int:
        return len(self.min_output)

    def run(self, bits: np.ndarray) -> np.ndarray:
        """The minimized machine's answer after each input: (B, T) bits -> (B, T)."""
        if self.min_start < 0:
            return np.full(bits.shape, -1)
        state = np.full(bits.shape[0], self.min_start)  # (B,)
        table = np.array(self.min_delta)  # (n_min, 2)
        out = np.array(self.min_output)  # (n_min,)
        answers = np.empty(bits.shape, dtype=np.int64)  # (B, T)
        for t in range(bits.shape[1]):
            state = table[state, bits[:, t]]
            answers[:, t] = out[state]
        return answers

    def is_parity(self) -> bool:
        """Is the minimized machine the 2-state parity automaton (start even, 1 flips, 0 keeps)?"""
        if self.n_min != 2 or self.min_start < 0:
            return False
        e = self.min_start
        o = 1 - e
        return (
            self.min_output[e] == EVEN
            and self.min_output[o] == ODD
            and self.min_delta[e] == [e, o]
            and self.min_delta[o] == [o, e]
        )

    def min_names(self) -> list[str]:
        names = []
        for s, out in enumerate(self.min_output):
            members = ", ".join(f"c{c}" for c in np.flatnonzero(self.cls == s))
            word = "even" if out == EVEN else "odd"
            names.append(f"{word}\nanswer {out}\n({members})")
        return names

    def to_json(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "transitions": self.delta.tolist(),
            "answers": self.output.tolist(),
            "start_transitions": list(self.start_delta),
            "determinism": round(self.determinism, 6),
            "purity": round(self.purity, 6),
            "minimized_state_of_cluster": self.cls.tolist(),
            "minimized_transitions": self.min_delta,
            "minimized_answers": self.min_output,
            "minimized_start": self.min_start,
        }


def _read_machine(
    labels: np.ndarray, bits: np.ndarray, answers: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, tuple[int, int], float, float]:
    """Majority transitions and answers from cluster labels (B, T), bits and answers (B, T)."""
    counts = np.zeros((k, 2, k), dtype=np.int64)  # (from, bit, to)
    np.add.at(counts, (labels[:, :-1], bits[:, 1:], labels[:, 1:]), 1)
    delta = counts.argmax(-1)  # (k, 2)
    seen = counts.sum()
    determinism = float(counts.max(-1).sum() / seen) if seen else 0.0
    start_counts = np.zeros((2, k), dtype=np.int64)
    np.add.at(start_counts, (bits[:, 0], labels[:, 0]), 1)
    start = (int(start_counts[0].argmax()), int(start_counts[1].argmax()))
    votes = np.zeros((k, 2), dtype=np.int64)  # (cluster, answer)
    np.add.at(votes, (labels.reshape(-1), answers.reshape(-1)), 1)
    output = votes.argmax(1)  # (k,)
    purity = float(votes.max(1).sum() / votes.sum())
    return delta, output, start, determinism, purity


def minimize(delta: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Moore partition refinement: the equivalence class of each state, (k,)."""
    cls = np.unique(output, return_inverse=True)[1].reshape(-1)  # split by answer first
    while True:
        keys = [(cls[s], cls[delta[s, 0]], cls[delta[s, 1]]) for s in range(len(cls))]
        new = np.unique(np.array(keys), axis=0, return_inverse=True)[1].reshape(-1)
        if len(np.unique(new)) == len(np.unique(cls)):
            return new
        cls = new


def extract_automaton(
    states: np.ndarray,
    bits: np.ndarray,
    answers: np.ndarray,
    seed: int = 0,
    k_max: int = 8,
    goal: float = 0.999,
) -> Automaton:
    """The machine an RNN implements, from its states (B, T, H) on inputs ``bits`` (B, T).

    ``answers`` (B, T) are the network's own outputs (1 = even). k is the smallest in
    2..k_max whose clusters reach ``goal`` determinism and purity (else the best found).
    """
    flat = states.reshape(-1, states.shape[-1])  # (B*T, H)
    answers = answers.astype(np.int64)
    best: Automaton | None = None
    for k in range(2, k_max + 1):
        centers, labels = kmeans(flat, k, seed)
        labels = labels.reshape(bits.shape)  # (B, T)
        delta, output, start, det, pur = _read_machine(labels, bits, answers, k)
        cls = minimize(delta, output)
        n = int(cls.max()) + 1
        min_delta = [[0, 0] for _ in range(n)]
        min_output = [0] * n
        for c in range(k):
            min_delta[cls[c]] = [int(cls[delta[c, 0]]), int(cls[delta[c, 1]])]
            min_output[cls[c]] = int(output[c])
        start_row = [int(cls[start[0]]), int(cls[start[1]])]
        # the zero start state is never answered from; it is the state whose moves it shares
        matches = [s for s in range(n) if min_delta[s] == start_row]
        auto = Automaton(
            k,
            centers,
            delta,
            output,
            start,
            det,
            pur,
            cls,
            min_delta,
            min_output,
            matches[0] if len(matches) == 1 else -1,
        )
        if det >= goal and pur >= goal:
            return auto
        if best is None or det * pur > best.determinism * best.purity:
            best = auto
    assert best is not None
    return best
