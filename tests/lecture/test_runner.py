"""The lecture's runner: experiments and their shared work side by side in processes, with
the same results as one after the other in one process."""

from __future__ import annotations

import json
import math
from pathlib import Path

import fake_experiments as fake
import pytest
import torch

from rnnlab import lecture
from rnnlab.lecture.common import Context, forget


@pytest.fixture
def fresh(one_thread):
    forget()
    yield
    forget()


def _ctx(tmp_path: Path, **kw) -> Context:
    return Context(quick=True, seed=3, fig_dir=tmp_path, progress=False, **kw)


def _same(a, b) -> None:
    assert [r.id for r in a] == [r.id for r in b]
    for x, y in zip(a, b, strict=True):
        assert [c.to_json() for c in x.claims] == [c.to_json() for c in y.claims]
        assert x.details == y.details


def test_processes_side_by_side_give_the_results_of_one_process(tmp_path, fresh):
    done = []
    one = lecture.run_all(fake.GOOD, _ctx(tmp_path), jobs=1, threads=1)
    two = lecture.run_all(fake.GOOD, _ctx(tmp_path), jobs=2, on_done=lambda r: done.append(r.id))
    _same(one, two)
    assert sorted(done) == sorted(e[0] for e in fake.GOOD)
    assert all(r.details["threads"] == 1 for r in two)  # one thread per process
    assert all(r.seconds > 0 and r.cpu_seconds > 0 for r in two)


def test_a_failing_experiment_or_shared_work_is_a_failed_claim_not_a_crash(tmp_path, fresh):
    chosen = [*fake.GOOD, *fake.BAD]
    for jobs in (1, 2):
        forget()
        results = {r.id: r for r in lecture.run_all(chosen, _ctx(tmp_path), jobs=jobs)}
        assert all(c.passed for e in fake.GOOD for c in results[e[0]].claims)
        assert "this experiment fails" in results["fake.fails"].claims[0].metric
        assert "shared work 1 broke" in results["fake.needs_broken"].claims[0].metric
        assert not any(c.passed for e in fake.BAD for c in results[e[0]].claims)


def test_needs_are_listed_per_experiment(tmp_path):
    ctx = _ctx(tmp_path)
    assert lecture.needs_of(fake.GOOD[1], ctx) == [
        (fake.MODULE, "noise", (3, 1000)),
        (fake.MODULE, "noise", (7, 10)),
    ]
    assert lecture.needs_of(fake.GOOD[2], ctx) == []
    # the real lecture: the trained parity RNN is one piece of work for three experiments
    rnn = [
        n
        for e in lecture.EXPERIMENTS
        for n in lecture.needs_of(e, ctx)
        if n[1] == "trained_parity_rnn"
    ]
    assert len(rnn) == 3 and len(set(rnn)) == 1


def test_auto_runs_the_elman_rnns_explicit_and_the_lstms_fused():
    auto = Context()
    assert auto.backend == "auto"
    assert (auto.backend_for("rnn"), auto.backend_for("lstm")) == ("explicit", "fused")
    for backend in ("explicit", "fused"):
        ctx = Context(backend=backend)
        assert ctx.backend_for("rnn") == ctx.backend_for("lstm") == backend


def test_choose_keeps_the_lecture_order_and_rejects_unknown_ids():
    ids = [e[0] for e in lecture.choose(["reverse.attention", "parity.dense_fails"])]
    assert ids == ["parity.dense_fails", "reverse.attention"]
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        lecture.choose(["nope"])


COMPARED = ["parity.what_each_part_learns", "rnn.unrolled_view", "reverse.synchronous_fails"]


def _without_timings(details):
    if isinstance(details, dict):
        return {k: _without_timings(v) for k, v in details.items() if "seconds" not in k}
    return details


@pytest.mark.slow
def test_real_experiments_side_by_side_equal_one_process(tmp_path, fresh):
    """The verdicts and every measured number of a parallel run equal a sequential run's."""
    chosen = lecture.choose(COMPARED)
    one = lecture.run_all(chosen, _ctx(tmp_path / "one", backend="explicit"), jobs=1, threads=1)
    two = lecture.run_all(chosen, _ctx(tmp_path / "two", backend="explicit"), jobs=2)
    for x, y in zip(one, two, strict=True):
        assert x.id == y.id
        assert [c.to_json() for c in x.claims] == [c.to_json() for c in y.claims]
        assert all(c.passed for c in x.claims), [(c.id, c.value) for c in x.claims]
        assert json.dumps(_without_timings(x.details), sort_keys=True) == json.dumps(
            _without_timings(y.details), sort_keys=True
        )
    assert not math.isnan(sum(r.seconds for r in two))
    assert torch.get_num_threads() == 1
