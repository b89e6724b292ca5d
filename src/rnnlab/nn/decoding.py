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

Greedy decoding returns a ``Decoded`` batch of tensors (tokens, lengths, finished,
log-probabilities; ``hypotheses()`` turns it into token lists); beam search returns the
best ``Hypothesis`` list of every input. Both decode a whole batch at once.

Scores. A finished hypothesis ``y_1 .. y_n`` (``y_n`` is ``eos``, unless ``max_len`` cut it
short) has the log-probability ``logp = sum_t log p(y_t | y_<t)`` and the length-normalized
score ``logp / n ** alpha``: ``alpha = 0`` ranks by total log-probability (which favours
short outputs, since each token can only lower it), ``alpha = 1`` by mean log-probability
per token. ``n`` counts the generated tokens including ``eos``, never ``bos``.

    >>> best = beam_search(step_fn, state, bos=1, eos=2, beam=4, max_len=20, alpha=0.7)
    >>> best[0][0].tokens, best[0][0].score    # input 0's best; tokens exclude bos and eos
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

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


def _check(bos: int, eos: int | None, max_len: int) -> None:
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    if bos < 0 or (eos is not None and eos < 0):
        raise ValueError(f"bos and eos must be token ids >= 0, got bos={bos}, eos={eos}")


@dataclass
class Decoded:
    """A batch decoded greedily, as tensors (use ``hypotheses()`` for token lists).

    ``tokens`` (B, T): each row's tokens, its ``eos``, then ``pad``; ``lengths`` (B,): the
    tokens before ``eos`` (all T when none came); ``finished`` (B,): whether ``eos`` came;
    ``logp`` (B,) float64: total log-probability, ``eos`` included; ``weights``
    (B, T, S): the attention reads at each step, when the model records them, else None.
    """

    tokens: torch.Tensor
    lengths: torch.Tensor
    finished: torch.Tensor
    logp: torch.Tensor
    weights: torch.Tensor | None = None

    def hypotheses(self) -> list[Hypothesis]:
        """One ``Hypothesis`` per row (score = logp: greedy ranks nothing)."""
        rows = self.tokens.tolist()
        lengths, done, logp = self.lengths.tolist(), self.finished.tolist(), self.logp.tolist()
        return [
            Hypothesis(row[:n], lp, lp, f)
            for row, n, f, lp in zip(rows, lengths, done, logp, strict=True)
        ]


def greedy(
    step_fn: StepFn,
    init_state: State,
    bos: int,
    eos: int | None,
    batch_size: int,
    max_len: int = 50,
    pad: int | None = None,
) -> Decoded:
    """Decode ``batch_size`` sequences at once, taking the most likely token at each step.

    ``init_state`` holds one row per sequence. A sequence ends at ``eos``; decoding stops
    when all have ended or after ``max_len`` steps. With ``eos=None`` nothing ends: every
    sequence gets exactly ``max_len`` tokens (a fixed output length). A finished row is
    fed, and filled with, ``pad`` (``eos`` when None) from then on.

    ``step_fn`` may return log-probabilities or unnormalized logits: the choice is the
    argmax of what it returns, and ``logp`` adds up its ``log_softmax`` (in float64).
    """
    _check(bos, eos, max_len)
    device = _device_of(init_state)
    tokens = torch.full((batch_size,), bos, dtype=torch.long, device=device)  # (B,)
    done = torch.zeros(batch_size, dtype=torch.bool, device=device)  # (B,)
    lengths = torch.zeros(batch_size, dtype=torch.long, device=device)  # (B,)
    logp = torch.zeros(batch_size, dtype=torch.float64, device=device)  # (B,)
    state = init_state
    out: list[torch.Tensor] = []
    for _ in range(max_len):
        scores, state = step_fn(tokens, state)  # (B, V)
        scores = scores.detach()
        best = scores.argmax(dim=-1)  # (B,)
        lp = torch.log_softmax(scores.double(), dim=-1).gather(1, best.unsqueeze(1))  # (B, 1)
        logp += lp.squeeze(1).masked_fill(done, 0.0)
        if eos is None:
            tokens = best
            lengths += 1
        else:
            tokens = best.masked_fill(done, eos if pad is None else pad)  # (B,)
            lengths += (~done & (best != eos)).long()
            done = done | (best == eos)
        out.append(tokens)
        if eos is not None and bool(done.all()):
            break
    return Decoded(torch.stack(out, dim=1), lengths, done, logp)  # tokens (B, T)


MAX_BEAM = 64  # the widest beam a user may ask for (each input keeps this many rows)


def check_beam(beam: object) -> int:
    """``beam`` if it is a beam size a user may ask for, else a ``ValueError``."""
    if isinstance(beam, bool) or not isinstance(beam, int) or not 1 <= beam <= MAX_BEAM:
        raise ValueError(f"beam size must be an integer in 1..{MAX_BEAM}, got {beam!r}")
    return beam


def beam_search(
    step_fn: StepFn,
    init_state: State,
    bos: int,
    eos: int,
    beam: int = 4,
    max_len: int | Sequence[int] | torch.Tensor = 50,
    alpha: float = 0.0,
) -> list[list[Hypothesis]]:
    """The ``beam`` best sequences of every input, best first: one list per input.

    ``init_state`` holds one row per input (B rows; a single input is a batch of one);
    ``max_len`` is one limit for all or one per input. For each input separately: at
    each step every live hypothesis is extended by every token; of these candidates the
    ``beam`` best by log-probability that do not end in ``eos`` stay live, and those among
    the top ``beam`` that end in ``eos`` are set aside as finished (ties: the earlier
    hypothesis, then the lower token id). The search of an input stops when no live
    hypothesis can still beat its ``beam``-th finished one: a live hypothesis with
    log-probability ``lp < 0`` can end no better than ``lp / max_len ** alpha``, since
    more tokens only lower ``lp``. With ``beam = 1`` this is greedy decoding; with a beam
    as large as the number of possible prefixes it is exhaustive search.

    All inputs run together: the step function sees ``B * beam`` rows at once (``B`` at
    the first step), fewer as inputs finish and are dropped from the batch.
    """
    if beam < 1:
        raise ValueError(f"beam size must be at least 1, got {beam}")
    if alpha < 0:
        raise ValueError(f"length normalization alpha must be >= 0, got {alpha}")
    n = _rows_of(init_state)
    limits = torch.as_tensor(max_len, dtype=torch.long).flatten()  # (B,) or (1,)
    if limits.numel() == 1:
        limits = limits.expand(n).clone()
    if limits.numel() != n:
        raise ValueError(f"max_len needs one limit or {n} (one per input), got {limits.numel()}")
    if n == 0:
        return []
    _check(bos, eos, int(limits.min()))
    longest = int(limits.max())
    # The best `beam` finished hypotheses of each input, best first; empty slots score -inf.
    pool_score = torch.full((n, beam), -math.inf, dtype=torch.float64)  # (B, K)
    pool_logp = torch.zeros(n, beam, dtype=torch.float64)  # (B, K)
    pool_done = torch.zeros(n, beam, dtype=torch.bool)  # (B, K)
    pool_len = torch.zeros(n, beam, dtype=torch.long)  # (B, K)
    pool_tok = torch.full((n, beam, longest), -1, dtype=torch.long)  # (B, K, Tmax)
    # The inputs still searching (A of them) and their live hypotheses (Kc each).
    active = torch.arange(n)  # (A,)
    live_logp = torch.zeros(n, 1, dtype=torch.float64)  # (A, Kc): -inf marks an empty slot
    live_tok = torch.zeros(n, 1, 0, dtype=torch.long)  # (A, Kc, t-1)
    last = torch.full((n,), bos, dtype=torch.long)  # (A*Kc,)
    bound = torch.tensor(  # (B,): the divisor of the best score a live hypothesis can reach
        [length_penalty(m, alpha) for m in limits.tolist()], dtype=torch.float64
    )
    state = init_state
    for t in range(1, longest + 1):
        log_probs, state = step_fn(last.to(_device_of(state)), state)  # (A*Kc, V)
        a, kc = live_logp.shape
        vocab = log_probs.shape[1]
        lp = log_probs.detach().double().cpu().view(a, kc, vocab)  # (A*Kc, V) -> (A, Kc, V)
        total = (live_logp.unsqueeze(2) + lp).view(a, kc * vocab)  # (A, Kc*V)
        # At most Kc <= beam candidates end in eos, so the first 2*beam hold all we need.
        width = min(2 * beam, kc * vocab)
        vals, idx = torch.sort(total, dim=1, descending=True, stable=True)  # (A, Kc*V)
        vals, idx = vals[:, :width], idx[:, :width]  # (A, M)
        row, tok = idx // vocab, idx % vocab  # (A, M): parent slot, token
        real = vals != -math.inf
        is_eos = tok == eos
        rank = torch.arange(width).unsqueeze(0)  # (1, M)
        ends = real & is_eos & (rank < beam)  # (A, M): finished by eos
        grows = real & ~is_eos
        keep = grows & (grows.long().cumsum(dim=1) <= beam)  # (A, M): the first beam
        last_step = limits[active] == t  # (A,)
        cut = keep & last_step.unsqueeze(1)  # (A, M): cut short by max_len
        new = ends | cut
        if bool(new.any()):
            parent = live_tok.gather(1, row.unsqueeze(2).expand(-1, -1, t - 1))  # (A, M, t-1)
            seq = torch.cat([parent, torch.where(cut, tok, -1).unsqueeze(2)], dim=2)  # (A,M,t)
            seq = F.pad(seq, (0, longest - t), value=-1)  # (A, M, Tmax)
            score = torch.where(new, vals / length_penalty(t, alpha), -math.inf)  # (A, M)
            both = torch.cat([pool_score[active], score], dim=1)  # (A, K+M)
            order = torch.sort(both, dim=1, descending=True, stable=True).indices[:, :beam]
            pool_score[active] = both.gather(1, order)  # (A, K)
            pool_logp[active] = torch.cat([pool_logp[active], vals], 1).gather(1, order)
            pool_done[active] = torch.cat([pool_done[active], ends], 1).gather(1, order)
            lens = torch.where(cut, t, t - 1)  # (A, M)
            pool_len[active] = torch.cat([pool_len[active], lens], 1).gather(1, order)
            toks = torch.cat([pool_tok[active], seq], dim=1)  # (A, K+M, Tmax)
            pool_tok[active] = toks.gather(1, order.unsqueeze(2).expand(-1, -1, longest))
        # The next live hypotheses: the kept candidates, in rank order, then empty slots.
        slots = min(beam, width)
        pick = torch.sort((~keep).long(), dim=1, stable=True).indices[:, :slots]  # (A, K')
        alive = keep.gather(1, pick)  # (A, K')
        live_logp = torch.where(alive, vals.gather(1, pick), -math.inf)  # (A, K')
        parents = row.gather(1, pick)  # (A, K')
        chosen = tok.gather(1, pick)  # (A, K')
        prefix = live_tok.gather(1, parents.unsqueeze(2).expand(-1, -1, t - 1))  # (A, K', t-1)
        live_tok = torch.cat([prefix, chosen.unsqueeze(2)], dim=2)  # (A, K', t)
        # An input stops at its max_len, with nothing left alive, or when nothing alive can
        # still beat its beam-th finished hypothesis.
        worst = pool_score[active, beam - 1]  # (A,): -inf until beam have finished
        best_possible = live_logp.max(dim=1).values / bound[active]  # (A,)
        stop = last_step | ~alive.any(dim=1) | (best_possible <= worst)
        go = torch.nonzero(~stop).flatten()  # (A',)
        if go.numel() == 0:
            break
        rows = (go.unsqueeze(1) * kc + parents[go]).flatten()  # (A'*K',): rows of the state
        state = select_state(state, rows)
        active, live_logp, live_tok = active[go], live_logp[go], live_tok[go]
        last = chosen[go].flatten()  # (A'*K',)
    scores, logps, dones = pool_score.tolist(), pool_logp.tolist(), pool_done.tolist()
    sizes, toks_l = pool_len.tolist(), pool_tok.tolist()
    return [
        [
            Hypothesis(toks_l[b][j][: sizes[b][j]], scores[b][j], logps[b][j], dones[b][j])
            for j in range(beam)
            if scores[b][j] != -math.inf
        ]
        for b in range(n)
    ]


def _rows_of(state: State) -> int:
    """The number of rows (dimension 0) of the first tensor in ``state``."""
    if isinstance(state, torch.Tensor):
        return state.shape[0]
    items = state.values() if isinstance(state, dict) else state
    if isinstance(state, tuple | list | dict):
        for s in items:
            if s is not None:
                return _rows_of(s)
    raise TypeError(f"cannot tell the batch size of a decoder state of type {type(state).__name__}")


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
