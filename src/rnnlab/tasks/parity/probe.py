"""A parity RNN's work on one input, step by step, and what happens when a unit is poked.

``trace`` runs the network over the bits and keeps, after each input ``x_t``, the state
``h_t`` (H numbers), the logit for "even" and its probability. An *intervention* edits
one unit of ``h_t`` right after step t (before the read-out of step t and before step
t+1) and lets the network run on from the edited state::

    {"step": 2, "unit": 0, "op": "clamp", "value": 1.0}   h_2[0] = 1.0
    {"step": 2, "unit": 1, "op": "zero"}                  h_2[1] = 0
    {"step": 4, "unit": 0, "op": "flip"}                  h_4[0] = -h_4[0]

For the hand-set 2-unit RNN (``handset_parity_rnn``) flipping unit 0 at a step where
both units agree turns "even" into "odd" from there on; a unit that carries nothing
changes nothing. ``state_map`` places every state in the plane of the two principal
components of the network's states on training-length inputs, with the automaton read
off them (``fsm.extract_automaton``); ``probe`` lights the automaton's state at each step.

Shapes: T time, H hidden units, N states sampled for the map.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rnnlab.tasks.parity.fsm import Automaton, extract_automaton
from rnnlab.tasks.parity.model import ParityRNN

OPS = ("clamp", "zero", "flip")
MAX_INTERVENTIONS = 64
WINDOW = 4096  # steps run at once; the state carries over (as ``predict`` does)


@dataclass(frozen=True)
class Intervention:
    step: int  # 0-based: the state after reading input ``step``
    unit: int
    op: str
    value: float = 0.0


def parse_interventions(raw: Any, length: int, hidden: int) -> list[Intervention]:
    """Checked interventions from JSON-like dicts; a ``ValueError`` says what is wrong."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError(f"intervene expects a list of interventions, got {type(raw).__name__}")
    if len(raw) > MAX_INTERVENTIONS:
        raise ValueError(f"intervene takes at most {MAX_INTERVENTIONS} edits, got {len(raw)}")
    out = []
    for i, item in enumerate(raw):
        where = f"intervene[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: expected an object with step, unit, op, got {item!r}")
        unknown = sorted(set(item) - {"step", "unit", "op", "value"})
        if unknown:
            raise ValueError(f"{where}: unknown keys {unknown} (known: step, unit, op, value)")
        step = _index(item.get("step"), length, f"{where}: step")
        unit = _index(item.get("unit"), hidden, f"{where}: unit")
        op = item.get("op")
        if op not in OPS:
            raise ValueError(f"{where}: op must be one of {', '.join(OPS)}, got {op!r}")
        value = item.get("value", 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
            raise ValueError(f"{where}: value must be a finite number, got {value!r}")
        if op == "clamp" and "value" not in item:
            raise ValueError(f"{where}: clamp needs a value")
        out.append(Intervention(step, unit, str(op), float(value)))
    return sorted(out, key=lambda e: e.step)


def _index(v: Any, n: int, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < n:
        raise ValueError(f"{what} must be an integer in 0..{n - 1}, got {v!r}")
    return v


def trace(
    model: ParityRNN, bits: Sequence[int], edits: Sequence[Intervention] = ()
) -> tuple[torch.Tensor, torch.Tensor]:
    """States ``(T, H)`` and logits ``(T,)`` of one input, with ``edits`` applied.

    Runs the stretches between edited steps in one layer call each (at most ``WINDOW``
    steps), so an edit-free trace costs what ``predict`` costs.
    """
    x = torch.tensor(list(bits), dtype=torch.float32).unsqueeze(0)  # (T,) -> (1, T)
    device = next(model.parameters()).device
    cuts = sorted({e.step + 1 for e in edits})  # stretches end right after an edited step
    h: torch.Tensor | None = None
    states: list[torch.Tensor] = []
    logits: list[torch.Tensor] = []
    start = 0
    for end in [*cuts, x.shape[1]]:
        for lo in range(start, end, WINDOW):
            hi = min(lo + WINDOW, end)
            lg, st = model(x[:, lo:hi].to(device), h)  # (1, W), (1, W, H)
            st = st.clone()
            at = [e for e in edits if e.step == hi - 1]
            for e in at:  # edit the stretch's last state, then read it out again
                s = st[0, -1]
                s[e.unit] = {"clamp": e.value, "zero": 0.0, "flip": -float(s[e.unit])}[e.op]
            if at:
                lg = lg.clone()
                lg[0, -1] = model.out(st[0, -1]).squeeze(-1)
            h = st[:, -1]  # (1, H)
            states.append(st[0].cpu())
            logits.append(lg[0].cpu())
        start = end
    return torch.cat(states), torch.cat(logits)  # (T, H), (T,)


def steps_json(states: torch.Tensor, logits: torch.Tensor, nd: int = 4) -> dict[str, Any]:
    """The per-step fields of a probe: states, logits, p(even), the answer bits."""
    return {
        "h": states.double().round(decimals=nd).tolist(),  # (T, H)
        "logit": logits.double().round(decimals=nd).tolist(),  # (T,)
        "p_even": torch.sigmoid(logits).double().round(decimals=nd).tolist(),  # (T,)
        "even": (logits > 0).long().tolist(),  # (T,)
    }


@dataclass
class StateMap:
    """The plane of the states' two principal components, and the automaton in it."""

    mean: np.ndarray  # (H,)
    axes: np.ndarray  # (2, H)
    automaton: Automaton
    start: list[float]  # the zero start state in the plane

    def project(self, states: np.ndarray) -> np.ndarray:
        return (states - self.mean) @ self.axes.T  # (N, H) -> (N, 2)

    def state_of(self, states: np.ndarray) -> np.ndarray:
        """The automaton's (minimized) state of each state: nearest cluster, ``(N,)``."""
        d = ((states[:, None, :] - self.automaton.centers[None]) ** 2).sum(-1)  # (N, k)
        return self.automaton.cls[d.argmin(1)]

    def to_json(self) -> dict[str, Any]:
        a = self.automaton
        pts = self.project(a.centers)  # (k, 2)
        centers = [
            np.round(pts[a.cls == s].mean(0), 4).tolist() if (a.cls == s).any() else [0.0, 0.0]
            for s in range(a.n_min)
        ]
        return {
            "centers": centers,  # each minimized state's place in the plane
            "transitions": a.min_delta,  # [state][bit] -> state
            "answers": a.min_output,  # 1 = even
            "start": a.min_start,
            "start_point": self.start,
            "is_parity": a.is_parity(),
            "determinism": round(a.determinism, 4),
            "purity": round(a.purity, 4),
        }


_MAPS: weakref.WeakKeyDictionary[ParityRNN, StateMap] = weakref.WeakKeyDictionary()


def state_map(model: ParityRNN, max_len: int = 20, n: int = 200, seed: int = 0) -> StateMap:
    """The map of ``model`` (computed once per model, from ``n`` random inputs of length
    ``max_len``)."""
    if model in _MAPS:
        return _MAPS[model]
    g = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 2, (n, max_len), generator=g).float()  # (N, T)
    with torch.no_grad():
        logits, states = model(bits.to(next(model.parameters()).device))  # (N, T), (N, T, H)
    s = states.cpu().double().numpy()  # (N, T, H)
    auto = extract_automaton(s, bits.long().numpy(), (logits > 0).long().cpu().numpy())
    flat = s.reshape(-1, s.shape[-1])  # (N*T, H)
    mean = flat.mean(0)
    _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)  # vt (min(NT, H), H)
    axes = np.zeros((2, flat.shape[1]))
    axes[: min(2, vt.shape[0])] = vt[:2]
    start = np.round(-mean @ axes.T, 4).tolist()
    _MAPS[model] = StateMap(mean, axes, auto, start)
    return _MAPS[model]
