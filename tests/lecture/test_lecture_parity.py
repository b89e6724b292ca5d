"""The parity lecture: automaton extraction, the unrolled view, and the experiments' output."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rnnlab.lecture import parity as LP
from rnnlab.lecture.common import Context
from rnnlab.lecture.unrolled import unroll_by_hand
from rnnlab.tasks.parity import fsm
from rnnlab.tasks.parity import task as P
from rnnlab.tasks.parity.model import ParityRNN, handset_parity_rnn


def test_kmeans_finds_separated_blobs():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]])
    points = np.concatenate([c + 0.1 * rng.standard_normal((50, 2)) for c in centres])
    found, labels = fsm.kmeans(points, 3, seed=1)
    assert len(set(labels[:50])) == len(set(labels[50:100])) == len(set(labels[100:])) == 1
    assert len(set(labels.tolist())) == 3
    for c in centres:
        assert np.abs(found - c).sum(1).min() < 0.1


def test_minimize_merges_equivalent_states():
    # 4 states: (even, last 0), (even, last 1), (odd, last 0), (odd, last 1); answer = even
    delta = np.array([[0, 3], [0, 3], [2, 1], [2, 1]])
    output = np.array([1, 1, 0, 0])
    cls = fsm.minimize(delta, output)
    assert cls[0] == cls[1] and cls[2] == cls[3] and cls[0] != cls[2]
    # a machine whose states all differ stays as it is
    assert len(set(fsm.minimize(np.array([[1, 0], [2, 1], [0, 2]]), np.array([0, 0, 1])))) == 3


def test_the_handset_rnn_is_read_off_as_the_parity_automaton():
    model = handset_parity_rnn()
    batch = P.sample_batch(200, None, 12, 12, 0)
    with torch.no_grad():
        logits, states = model(batch.x)
    bits = batch.x.numpy().astype(np.int64)
    auto = fsm.extract_automaton(states.numpy(), bits, (logits > 0).numpy())
    assert auto.determinism == 1.0 and auto.purity == 1.0
    assert auto.n_min == 2 and auto.is_parity()
    check = np.random.default_rng(1).integers(0, 2, (20, 300))
    assert np.array_equal(auto.run(check), (np.cumsum(check, 1) % 2 == 0).astype(int))


def test_a_machine_that_is_not_parity_is_not_called_parity():
    # states that remember only the last input, answering "the last input was 0"
    rng = np.random.default_rng(2)
    bits = rng.integers(0, 2, (100, 15))
    states = np.stack([bits, 1 - bits], -1).astype(float) + 0.01 * rng.standard_normal((100, 15, 2))
    auto = fsm.extract_automaton(states, bits, 1 - bits)
    assert auto.determinism == 1.0
    assert not auto.is_parity()


def test_unroll_by_hand_matches_the_layer():
    torch.manual_seed(0)
    model = ParityRNN(6)
    bits = [1, 0, 0, 1, 1, 1, 0]
    with torch.no_grad():
        logits, states = model(torch.tensor([bits], dtype=torch.float))
    h, out = unroll_by_hand(model, bits)
    np.testing.assert_allclose(h, states[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(out, logits[0].numpy(), atol=1e-6)


def test_all_sequences_partitions_every_sequence():
    parts = [LP.all_sequences(10, s) for s in ("train", "dev", "test")]
    rows = {tuple(r.long().tolist()) for b in parts for r in b.x}
    assert sum(b.x.shape[0] for b in parts) == len(rows) == 2**10


@pytest.mark.slow
def test_dense_net_fails_where_the_rnn_succeeds_small():
    n, seed = 20, 5
    train = P.sample_batch(1000, "train", n, n, seed)
    dev = P.sample_batch(300, "dev", n, n, seed + 1)
    test = P.sample_batch(1000, "test", n, n, seed + 2)
    dense, _ = LP.dense_per_position(n, train, test, seed, epochs=20)
    rnn, _, _ = LP.rnn_per_position(n, train, dev, test, seed)
    assert dense[0] > 0.95 and dense[-1] < 0.56  # first position learned, last at chance
    assert rnn.min() >= 0.99


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return Context(quick=True, seed=0, fig_dir=tmp_path_factory.mktemp("figs"), progress=False)


@pytest.mark.slow
def test_rnn_experiments_return_claims_figures_and_json_details(ctx):
    from rnnlab.lecture.unrolled import unrolled_view

    want = {
        "parity.rnn_succeeds": {
            "parity.rnn_succeeds",
            "parity.rnn_succeeds.len200",
            "parity.rnn_succeeds.len2000",
        },
        "parity.what_each_part_learns": {
            "parity.what_each_part_learns.handset",
            "parity.what_each_part_learns.fsm",
        },
        "rnn.unrolled_view": {"rnn.unrolled_view"},
    }
    for fn in (LP.rnn_succeeds, LP.what_each_part_learns, unrolled_view):
        exp = fn(ctx)
        assert {c.id for c in exp.claims} == want[exp.id]
        assert all(c.passed for c in exp.claims), [(c.id, c.value) for c in exp.claims]
        assert exp.figures and all(f.is_file() and f.stat().st_size > 10_000 for f in exp.figures)
        assert exp.text and json.dumps(exp.details)
