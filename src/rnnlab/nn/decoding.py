"""Decoding a sequence from a model one token at a time: greedy and beam search.

Nothing here knows about images, encoders or vocabularies. A model is seen only through
a *step function*::

    step_fn(tokens, state) -> (log_probs, new_state)

``tokens`` is a ``(K,)`` tensor of the last token of each of K hypotheses, ``state`` the
model's memory after the tokens before it, ``log_probs`` a ``(K, V)`` tensor of
log-probabilities of the next token. A state is a tensor or any nesting of tuples, lists
and dicts of tensors, **each with the hypothesis (batch) dimension first**; the search
reorders it with ``select_state(state, index)`` when hypotheses are kept, copied or
dropped.

Scores. A finished hypothesis ``y_1 .. y_n`` (``y_n`` is ``eos``, unless ``max_len`` cut it
short) has the log-probability ``logp = sum_t log p(y_t | y_<t)`` and the length-normalized
score ``logp / n ** alpha``: ``alpha = 0`` ranks by total log-probability (which favours
short outputs, since each token can only lower it), ``alpha = 1`` by mean log-probability
per token. ``n`` counts the generated tokens including ``eos``, never ``bos``.

    >>> best = beam_search(step_fn, state, bos=1, eos=2, beam=4, max_len=20, alpha=0.7)
    >>> best[0].tokens, best[0].score    # tokens exclude bos and eos
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

State = Any  # a tensor, or tuples / lists / dicts of tensors, hypothesis dimension first
StepFn = Callable[[torch.Tensor, State], tuple[torch.Tensor, State]]


@dataclass(frozen=True)
class Hypothesis:
    """One decoded sequence: its tokens (no ``bos``/``eos``), score and log-probability."""

    tokens: list[int]
    score: float  # logp / length ** alpha, what the search ranks by
    logp: float  # total log-probability, eos included
    finished: bool  # False when max_len cut it before eos


def select_state(state: State, index: torch.Tensor) -> State:
    """Rows ``index`` of every tensor in ``state`` (dimension 0), keeping its nesting."""
    if isinstance(state, torch.Tensor):
        return state.index_select(0, index.to(state.device))
    if isinstance(state, tuple):
        return tuple(select_state(s, index) for s in state)
    if isinstance(state, list):
        return [select_state(s, index) for s in state]
    if isinstance(state, dict):
        return {k: select_state(v, index) for k, v in state.items()}
    if state is None:
        return None
    raise TypeError(f"cannot reorder a decoder state of type {type(state).__name__}")


def length_penalty(length: int, alpha: float) -> float:
    """The divisor of a hypothesis' log-probability: ``length ** alpha``."""
    return float(max(length, 1)) ** alpha


def _check(bos: int, eos: int, max_len: int) -> None:
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    if bos < 0 or eos < 0:
        raise ValueError(f"bos and eos must be token ids >= 0, got bos={bos}, eos={eos}")


def greedy(
    step_fn: StepFn, init_state: State, bos: int, eos: int, batch_size: int, max_len: int = 50
) -> list[Hypothesis]:
    """Decode ``batch_size`` sequences at once, taking the most likely token at each step.

    ``init_state`` holds one row per sequence. Decoding stops when every sequence has
    produced ``eos`` or ``max_len`` tokens. Scores are total log-probabilities (alpha 0).
    """
    _check(bos, eos, max_len)
    tokens = torch.full((batch_size,), bos, dtype=torch.long)  # (B,)
    state = init_state
    done = torch.zeros(batch_size, dtype=torch.bool)  # (B,)
    logp = torch.zeros(batch_size, dtype=torch.float64)  # (B,)
    out: list[list[int]] = [[] for _ in range(batch_size)]
    for _ in range(max_len):
        log_probs, state = step_fn(tokens.to(_device_of(state)), state)  # (B, V)
        best_lp, best = log_probs.detach().double().cpu().max(dim=1)  # (B,), (B,)
        logp += torch.where(done, 0.0, best_lp)
        for i in torch.nonzero(~done).flatten().tolist():
            if int(best[i]) != eos:
                out[i].append(int(best[i]))
        done |= best == eos
        tokens = best
        if bool(done.all()):
            break
    return [
        Hypothesis(out[i], float(logp[i]), float(logp[i]), bool(done[i])) for i in range(batch_size)
    ]


def beam_search(
    step_fn: StepFn,
    init_state: State,
    bos: int,
    eos: int,
    beam: int = 4,
    max_len: int = 50,
    alpha: float = 0.0,
) -> list[Hypothesis]:
    """The ``beam`` best sequences for one input, best first.

    ``init_state`` holds a single row. At each step every live hypothesis is extended by
    every token; of these candidates the ``beam`` best by log-probability that do not end
    in ``eos`` stay live, and those among the top ``beam`` that end in ``eos`` are set aside
    as finished. The search stops when no live hypothesis can still beat the
    ``beam``-th finished one: a live hypothesis with log-probability ``lp < 0`` can end no
    better than ``lp / max_len ** alpha``, since more tokens only lower ``lp``.
    With ``beam = 1`` this is greedy decoding; with a beam as large as the number of
    possible prefixes it is exhaustive search.
    """
    _check(bos, eos, max_len)
    if beam < 1:
        raise ValueError(f"beam size must be at least 1, got {beam}")
    if alpha < 0:
        raise ValueError(f"length normalization alpha must be >= 0, got {alpha}")
    state = init_state
    live_tokens: list[list[int]] = [[]]
    live_logp = torch.zeros(1, dtype=torch.float64)  # (K,)
    last = torch.full((1,), bos, dtype=torch.long)  # (K,)
    finished: list[Hypothesis] = []
    for t in range(1, max_len + 1):
        log_probs, state = step_fn(last.to(_device_of(state)), state)  # (K, V)
        vocab = log_probs.shape[1]
        total = live_logp[:, None] + log_probs.detach().double().cpu()  # (K, V)
        flat = total.flatten()  # (K*V,)
        order = torch.argsort(flat, descending=True, stable=True)  # (K*V,)
        keep_rows: list[int] = []
        keep_tok: list[int] = []
        for rank, idx in enumerate(order.tolist()):
            row, tok = divmod(idx, vocab)
            lp = float(flat[idx])
            if lp == -math.inf:
                break
            if tok == eos:
                if rank < beam:  # an eos among the top candidates finishes a hypothesis
                    score = lp / length_penalty(t, alpha)
                    finished.append(Hypothesis(live_tokens[row], score, lp, True))
                continue
            if t == max_len:  # cut short: scored with the tokens it has
                if len(keep_rows) < beam:
                    seq = [*live_tokens[row], tok]
                    finished.append(Hypothesis(seq, lp / length_penalty(t, alpha), lp, False))
                    keep_rows.append(row)
                    keep_tok.append(tok)
            elif len(keep_rows) < beam:
                keep_rows.append(row)
                keep_tok.append(tok)
            if len(keep_rows) >= beam and rank >= beam - 1:
                break
        if t == max_len or not keep_rows:
            break
        rows = torch.tensor(keep_rows, dtype=torch.long)  # (K,)
        toks = torch.tensor(keep_tok, dtype=torch.long)  # (K,)
        live_logp = total[rows, toks]  # (K,)
        live_tokens = [[*live_tokens[r], k] for r, k in zip(keep_rows, keep_tok, strict=True)]
        state = select_state(state, rows)
        last = toks
        if len(finished) >= beam:
            worst_kept = sorted(h.score for h in finished)[-beam]
            best_possible = float(live_logp.max()) / length_penalty(max_len, alpha)
            if best_possible <= worst_kept:
                break
    finished.sort(key=lambda h: h.score, reverse=True)
    return finished[:beam]


def _device_of(state: State) -> torch.device:
    if isinstance(state, torch.Tensor):
        return state.device
    if isinstance(state, tuple | list):
        for s in state:
            if s is not None:
                return _device_of(s)
    if isinstance(state, dict):
        for s in state.values():
            return _device_of(s)
    return torch.device("cpu")
