"""Greedy and beam search against brute-force enumeration on hand-made step functions,
and the batched beam search against a one-input-at-a-time reference written here."""

import itertools
import math

import pytest
import torch

from rnnlab.nn.decoding import Decoded, Hypothesis, beam_search, greedy, select_state

BOS, EOS = 0, 1


class TableModel:
    """A toy 'model' whose next-token distribution is a fixed random function of the prefix.

    The state is the prefix itself, a ``(K, max_len)`` tensor padded with -1, so that the
    search has to reorder it correctly for the answers to come out right.
    """

    def __init__(self, vocab: int, max_len: int, seed: int, peak: float = 2.0) -> None:
        self.vocab, self.max_len, self.seed, self.peak = vocab, max_len, seed, peak
        self.calls = 0

    def log_probs(self, prefix: tuple[int, ...]) -> torch.Tensor:
        key = self.seed
        for tok in prefix:
            key = (key * 1_000_003 + tok + 7) % (2**61 - 1)
        g = torch.Generator().manual_seed(key)
        logits = self.peak * torch.randn(self.vocab, generator=g, dtype=torch.float64)
        logits[BOS] = -math.inf  # bos is never generated
        return torch.log_softmax(logits, dim=0)

    def init_state(self, batch: int = 1) -> torch.Tensor:
        return torch.full((batch, self.max_len + 1), -1, dtype=torch.long)

    def step(self, tokens: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls += 1
        state = state.clone()
        rows = []
        for i, tok in enumerate(tokens.tolist()):
            n = int((state[i] >= 0).sum())
            if tok != BOS:
                state[i, n] = tok
                n += 1
            rows.append(self.log_probs(tuple(state[i, :n].tolist())))
        return torch.stack(rows), state

    def seq_logp(self, seq: tuple[int, ...]) -> float:
        return sum(float(self.log_probs(seq[:i])[seq[i]]) for i in range(len(seq)))


def brute_force(
    model: TableModel, alpha: float, max_len: int | None = None, start: tuple[int, ...] = ()
) -> list[Hypothesis]:
    """Every sequence of at most max_len tokens: ended by eos, or cut at max_len.
    ``start`` is a prefix already in the state (not generated, not scored)."""
    max_len = model.max_len if max_len is None else max_len
    words = [w for w in range(model.vocab) if w not in (BOS, EOS)]

    def logp(seq: tuple[int, ...]) -> float:
        full = start + seq
        k = len(start)
        return sum(float(model.log_probs(full[:i])[full[i]]) for i in range(k, len(full)))

    out = []
    for n in range(max_len + 1):
        for body in itertools.product(words, repeat=n):
            if n < max_len:
                lp = logp((*body, EOS))
                out.append(Hypothesis(list(body), lp / (n + 1) ** alpha, lp, True))
            if n == max_len:
                lp = logp(body)
                out.append(Hypothesis(list(body), lp / n**alpha, lp, False))
    out.sort(key=lambda h: h.score, reverse=True)
    return out


def reference_beam(step, state, beam: int, max_len: int, alpha: float) -> list[Hypothesis]:
    """Beam search for ONE input, candidate by candidate in plain Python (the rules of
    ``beam_search``'s docstring), to check the batched tensor version against."""
    live: list[tuple[list[int], float]] = [([], 0.0)]  # (tokens, logp)
    last = torch.tensor([BOS])
    finished: list[Hypothesis] = []
    for t in range(1, max_len + 1):
        log_probs, state = step(last, state)
        cands = []  # (logp, row, token) in the order of rows then tokens
        for r, (_, lp) in enumerate(live):
            for tok, x in enumerate(log_probs[r].double().tolist()):
                cands.append((lp + x, r, tok))
        order = sorted(range(len(cands)), key=lambda i: -cands[i][0])  # stable
        kept = []
        for rank, i in enumerate(order):
            lp, r, tok = cands[i]
            if lp == -math.inf:
                break
            if tok == EOS:
                if rank < beam:
                    finished.append(Hypothesis(live[r][0], lp / t**alpha, lp, True))
            elif len(kept) < beam:
                kept.append((r, tok, lp))
                if t == max_len:
                    finished.append(Hypothesis([*live[r][0], tok], lp / t**alpha, lp, False))
        if t == max_len or not kept:
            break
        live = [([*live[r][0], tok], lp) for r, tok, lp in kept]
        state = select_state(state, torch.tensor([r for r, _, _ in kept]))
        last = torch.tensor([tok for _, tok, _ in kept])
        if len(finished) >= beam:
            worst = sorted(h.score for h in finished)[-beam]
            if max(lp for _, lp in live) / max_len**alpha <= worst:
                break
    finished.sort(key=lambda h: h.score, reverse=True)
    return finished[:beam]


def assert_same(found: list[Hypothesis], want: list[Hypothesis], tol: float = 1e-9) -> None:
    assert [h.tokens for h in found] == [h.tokens for h in want]
    assert [h.finished for h in found] == [h.finished for h in want]
    for f, w in zip(found, want, strict=True):
        assert f.score == pytest.approx(w.score, abs=tol)
        assert f.logp == pytest.approx(w.logp, abs=tol)


@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wide_beam_is_exhaustive_search(alpha, seed):
    model = TableModel(vocab=5, max_len=4, seed=seed)  # 3 words + bos + eos
    truth = brute_force(model, alpha)
    (found,) = beam_search(
        model.step, model.init_state(), BOS, EOS, beam=len(truth), max_len=4, alpha=alpha
    )
    assert [h.tokens for h in found] == [h.tokens for h in truth]
    for f, t in zip(found, truth, strict=True):
        assert f.score == pytest.approx(t.score, abs=1e-9)
        assert f.logp == pytest.approx(t.logp, abs=1e-9)
        assert f.finished == t.finished


@pytest.mark.parametrize("seed", range(6))
def test_beam_one_is_greedy(seed):
    model = TableModel(vocab=6, max_len=7, seed=seed, peak=1.0)
    g = greedy(model.step, model.init_state(), BOS, EOS, batch_size=1, max_len=7).hypotheses()[0]
    b = beam_search(model.step, model.init_state(), BOS, EOS, beam=1, max_len=7)[0][0]
    assert b.tokens == g.tokens
    assert b.logp == pytest.approx(g.logp, abs=1e-9)
    assert b.finished == g.finished


def test_greedy_follows_the_argmax_by_hand():
    model = TableModel(vocab=6, max_len=7, seed=3, peak=1.0)
    prefix: list[int] = []
    while len(prefix) < 7:
        nxt = int(model.log_probs(tuple(prefix)).argmax())
        if nxt == EOS:
            break
        prefix.append(nxt)
    g = greedy(model.step, model.init_state(), BOS, EOS, batch_size=1, max_len=7).hypotheses()[0]
    assert g.tokens == prefix


def test_batched_greedy_equals_one_at_a_time():
    # Each row's state starts with a different first token so the rows differ.
    model = TableModel(vocab=6, max_len=6, seed=9, peak=1.5)
    state = model.init_state(4)
    state[:, 0] = torch.tensor([2, 3, 4, 5])
    batch = greedy(model.step, state, BOS, EOS, batch_size=4, max_len=5).hypotheses()
    for i in range(4):
        one = greedy(model.step, state[i : i + 1], BOS, EOS, 1, max_len=5).hypotheses()[0]
        assert batch[i].tokens == one.tokens
        assert batch[i].logp == pytest.approx(one.logp, abs=1e-9)


def _fixed_step(table: dict[tuple[int, ...], list[float]], vocab: int):
    """A step function from a hand-written table of next-token probabilities."""

    def step(tokens, state):
        rows = []
        new = []
        for tok, prefix in zip(tokens.tolist(), state, strict=True):
            p = tuple(int(x) for x in prefix if x >= 0) + (() if tok == BOS else (tok,))
            probs = torch.tensor(table.get(p, [0.0, 1.0] + [0.0] * (vocab - 2)))
            rows.append(torch.log(probs))
            new.append(torch.tensor(list(p) + [-1] * (5 - len(p))))
        return torch.stack(rows), torch.stack(new)

    return step


def test_beam_two_beats_greedy_on_a_garden_path():
    # vocab: 0 bos, 1 eos, 2 "a", 3 "b". Greedy takes "a" (0.6) and then must spread
    # over three ways (0.35 each at best); "b" (0.4) ends almost surely (0.95).
    table = {
        (): [0.0, 0.0, 0.6, 0.4],
        (2,): [0.0, 0.3, 0.35, 0.35],
        (3,): [0.0, 0.95, 0.025, 0.025],
    }
    step = _fixed_step(table, 4)
    init = torch.full((1, 5), -1)
    g = greedy(step, init, BOS, EOS, batch_size=1, max_len=3).hypotheses()[0]
    (b,) = beam_search(step, init, BOS, EOS, beam=2, max_len=3)
    assert g.tokens[:1] == [2]
    assert b[0].tokens == [3]
    assert b[0].logp == pytest.approx(math.log(0.4 * 0.95))
    assert b[0].logp > g.logp


def test_length_normalization_by_hand():
    # [] ends at once with p = 0.4; ["a"] has p = 0.6 * 0.6 = 0.36.
    table = {(): [0.0, 0.4, 0.6, 0.0], (2,): [0.0, 0.6, 0.2, 0.2]}
    step = _fixed_step(table, 4)
    init = torch.full((1, 5), -1)
    (raw,) = beam_search(step, init, BOS, EOS, beam=3, max_len=4, alpha=0.0)
    (mean,) = beam_search(step, init, BOS, EOS, beam=3, max_len=4, alpha=1.0)
    assert raw[0].tokens == [] and raw[0].score == pytest.approx(math.log(0.4))
    assert mean[0].tokens == [2]
    assert mean[0].score == pytest.approx(math.log(0.36) / 2)
    assert mean[0].logp == pytest.approx(math.log(0.36))


def test_search_stops_early_once_nothing_can_win():
    # eos has probability 0.9 after every prefix: after two steps no live hypothesis can
    # beat the two finished ones, whatever max_len is.
    table = {}
    for n in range(4):
        for p in itertools.product([2, 3], repeat=n):
            table[p] = [0.0, 0.9, 0.06, 0.04]
    calls = []

    def counted(tokens, state):
        calls.append(1)
        return _fixed_step(table, 4)(tokens, state)

    (best,) = beam_search(counted, torch.full((1, 5), -1), BOS, EOS, beam=2, max_len=4)
    assert [h.tokens for h in best] == [[], [2]]
    assert len(calls) <= 2


def test_cut_at_max_len_is_marked_unfinished():
    table = {(): [0.0, 0.0, 1.0, 0.0], (2,): [0.0, 0.0, 1.0, 0.0]}
    (best,) = beam_search(
        _fixed_step(table, 4), torch.full((1, 5), -1), BOS, EOS, beam=1, max_len=2
    )
    assert best[0].tokens == [2, 2] and not best[0].finished


def test_select_state_keeps_nesting():
    state = {"h": torch.arange(6).view(3, 2), "pair": (torch.arange(3), [torch.ones(3, 1)])}
    out = select_state(state, torch.tensor([2, 2, 0]))
    assert out["h"].tolist() == [[4, 5], [4, 5], [0, 1]]
    assert out["pair"][0].tolist() == [2, 2, 0]
    assert out["pair"][1][0].shape == (3, 1)


@pytest.mark.parametrize("kwargs", [{"beam": 0}, {"max_len": 0}, {"alpha": -1.0}, {"bos": -1}])
def test_bad_arguments_are_refused(kwargs):
    model = TableModel(vocab=4, max_len=3, seed=0)
    args = {"bos": BOS, "eos": EOS, "beam": 2, "max_len": 3, "alpha": 0.0, **kwargs}
    with pytest.raises(ValueError):
        beam_search(model.step, model.init_state(), **args)


# --- the batched search against one input at a time ----------------------------------------


def _table_batch(model: TableModel, starts: list[int]) -> torch.Tensor:
    """One row per input, each starting from its own first token, so the inputs differ."""
    state = model.init_state(len(starts))
    state[:, 0] = torch.tensor(starts)
    return state


@pytest.mark.parametrize("alpha", [0.0, 0.7])
@pytest.mark.parametrize("beam", [1, 2, 3, 5])
@pytest.mark.parametrize("seed", [0, 4])
def test_batched_beam_equals_the_reference_per_input(seed, beam, alpha):
    model = TableModel(vocab=6, max_len=6, seed=seed, peak=1.0)
    starts = [2, 3, 4, 5, 2, 3, 4]
    found = beam_search(model.step, _table_batch(model, starts), BOS, EOS, beam, 6, alpha)
    assert len(found) == len(starts)
    for i, hyps in enumerate(found):
        one = _table_batch(model, starts[i : i + 1])
        assert_same(hyps, reference_beam(model.step, one, beam, 6, alpha))
        assert_same(beam_search(model.step, one, BOS, EOS, beam, 6, alpha)[0], hyps)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_wide_batched_beam_is_exhaustive_search_for_every_input(alpha):
    model = TableModel(vocab=5, max_len=3, seed=7)
    starts = [2, 3, 4]
    truth = [brute_force(model, alpha, 3, (s,)) for s in starts]
    beam = len(truth[0])
    found = beam_search(model.step, _table_batch(model, starts), BOS, EOS, beam, 3, alpha)
    for hyps, want in zip(found, truth, strict=True):
        assert_same(hyps, want)


def test_each_input_keeps_its_own_max_len():
    model = TableModel(vocab=5, max_len=6, seed=2, peak=0.5)  # flat: eos rarely first
    starts, limits = [2, 3, 4, 2], [1, 4, 2, 6]
    found = beam_search(model.step, _table_batch(model, starts), BOS, EOS, 3, limits, 0.5)
    for i, hyps in enumerate(found):
        one = _table_batch(model, starts[i : i + 1])
        assert_same(hyps, reference_beam(model.step, one, 3, limits[i], 0.5))
        assert all(len(h.tokens) <= limits[i] for h in hyps)
    with pytest.raises(ValueError, match="one per input"):
        beam_search(model.step, _table_batch(model, starts), BOS, EOS, 3, [2, 3], 0.5)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("batch", [1, 5, 16])
def test_batched_beam_on_random_seq2seq_models(cell, batch):
    from rnnlab.nn.seq2seq import Seq2Seq

    torch.manual_seed(batch)
    model = Seq2Seq(8, 5, BOS, EOS, embed=4, hidden=6, cell=cell, attention="additive").eval()
    g = torch.Generator().manual_seed(batch)
    src_len = torch.randint(1, 6, (batch,), generator=g)
    src = torch.randint(2, 5, (batch, int(src_len.max())), generator=g)
    with torch.no_grad():
        for beam in (1, 3, 4):
            found = model.beam(src, src_len, beam, max_len=2 * src_len + 1, alpha=0.7)
            for i, hyps in enumerate(found):
                n = int(src_len[i])
                st = model.start(src[i : i + 1, :n], src_len[i : i + 1])
                want = reference_beam(model.log_prob_step, st, beam, 2 * n + 1, 0.7)
                assert_same(hyps, want, tol=1e-5)  # the model's float32 rows: to rounding


# --- greedy's tensors ----------------------------------------------------------------------


def test_greedy_returns_tensors_padded_after_eos():
    # row 0: "a" then eos; row 1: never eos (always "b")
    table = {(): [0.0, 0.1, 0.8, 0.1], (2,): [0.0, 0.9, 0.05, 0.05]}
    for n in (1, 2, 3):
        table[(3,) * n] = [0.0, 0.0, 0.0, 1.0]
    state = torch.full((2, 5), -1)
    state[1, 0] = 3  # row 1 starts after a "b"
    out = greedy(_fixed_step(table, 4), state, BOS, EOS, batch_size=2, max_len=3, pad=9)
    assert isinstance(out, Decoded)
    assert out.tokens.tolist() == [[2, 1, 9], [3, 3, 3]]
    assert out.lengths.tolist() == [1, 3] and out.finished.tolist() == [True, False]
    assert out.logp[0].item() == pytest.approx(math.log(0.8 * 0.9))
    assert out.logp[1].item() == pytest.approx(0.0)
    assert [h.tokens for h in out.hypotheses()] == [[2], [3, 3, 3]]


def test_greedy_with_a_fixed_length_never_stops():
    table = {(): [0.0, 0.2, 0.7, 0.1]}  # eos would win after the first token
    out = greedy(_fixed_step(table, 4), torch.full((1, 5), -1), BOS, None, 1, max_len=4)
    assert out.tokens.tolist() == [[2, 1, 1, 1]]  # eos is only a token here
    assert out.lengths.tolist() == [4] and out.finished.tolist() == [False]


def test_greedy_takes_the_argmax_of_logits_and_normalizes_them():
    def step(tokens, state):
        return torch.tensor([[0.0, 1.0, 3.0, 2.0]]).expand(len(tokens), 4), state

    out = greedy(step, torch.zeros(2, 1), BOS, EOS, batch_size=2, max_len=2)
    z = math.log(1 + math.e + math.e**3 + math.e**2)
    assert out.tokens.tolist() == [[2, 2], [2, 2]]
    assert out.logp.tolist() == pytest.approx([2 * (3 - z)] * 2)
