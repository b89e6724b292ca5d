"""Length-generalization tasks, models, location attention and the benchmark runner."""

from __future__ import annotations

import json
import random

import pytest
import torch

from rnnlab.nn.decoding import greedy
from rnnlab.tasks.chomsky import bench as generalize
from rnnlab.tasks.chomsky.data import (
    bucket_sort,
    cycle_navigation,
    duplicate_string,
    even_pairs,
    get_task,
    modular_arithmetic,
    parity_check,
    reverse_string,
)
from rnnlab.tasks.chomsky.model import OFFSET, LectureSeq2Seq, build_tape
from rnnlab.tasks.chomsky.task import MODELS, TASKS, make_model


def T(rows: list[list[int]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.long)


# --- generators against hand-computed examples ----------------------------------------


def test_parity_check() -> None:
    assert parity_check(T([[1, 0, 1, 0, 1], [0, 1, 1, 1, 1], [0, 0, 0, 0, 0]])).tolist() == [
        [1],
        [0],
        [0],
    ]


def test_even_pairs() -> None:
    # 001110: one 01 and one 10 -> even; 0101001: three 01 and two 10 -> odd
    assert even_pairs(T([[0, 0, 1, 1, 1, 0]])).tolist() == [[0]]
    assert even_pairs(T([[0, 1, 0, 1, 0, 0, 1]])).tolist() == [[1]]
    assert even_pairs(T([[1]])).tolist() == [[0]]


P, M, X = 5, 6, 7  # + - *


def test_modular_arithmetic_hand_examples() -> None:
    assert modular_arithmetic(T([[1, P, 2, X, 3]])).tolist() == [[2]]  # 1 + 6 = 7
    assert modular_arithmetic(T([[1, M, 1, M, 1]])).tolist() == [[4]]  # -1
    assert modular_arithmetic(T([[0, X, 1, P, 4, X, 3, M, 2]])).tolist() == [[0]]  # 10
    assert modular_arithmetic(T([[3, M, 2, X, 4]])).tolist() == [[0]]  # 3 - 8 = -5
    assert modular_arithmetic(T([[4]])).tolist() == [[4]]
    with pytest.raises(ValueError, match="odd length"):
        modular_arithmetic(T([[1, P]]))


def test_modular_arithmetic_against_python_eval() -> None:
    rng = random.Random(0)
    symbols = {P: "+", M: "-", X: "*"}
    rows = []
    for _ in range(200):
        row = [rng.randrange(5)]
        for _ in range(6):
            row += [rng.choice([P, M, X]), rng.randrange(5)]
        rows.append(row)
    got = modular_arithmetic(T(rows))[:, 0].tolist()
    text = [
        "".join(symbols.get(v, str(v)) if i % 2 else str(v) for i, v in enumerate(r)) for r in rows
    ]
    assert got == [eval(t) % 5 for t in text]  # Python's precedence: * before + and -


def test_cycle_navigation() -> None:
    # actions 0 left, 1 stay, 2 right: R L S L L = -2 -> 3; R R R L -> 2
    assert cycle_navigation(T([[2, 0, 1, 0, 0]])).tolist() == [[3]]
    assert cycle_navigation(T([[2, 2, 2, 0]])).tolist() == [[2]]
    assert cycle_navigation(T([[2] * 7])).tolist() == [[2]]


def test_string_tasks() -> None:
    assert reverse_string(T([[0, 1, 1, 0, 1, 0]])).tolist() == [[0, 1, 0, 1, 1, 0]]
    assert duplicate_string(T([[1, 0, 1]])).tolist() == [[1, 0, 1, 1, 0, 1]]
    assert bucket_sort(T([[1, 0, 2, 0, 4, 1, 1, 2]])).tolist() == [[0, 0, 1, 1, 1, 2, 2, 4]]


@pytest.mark.parametrize("name", list(TASKS))
def test_sampling_is_seeded_and_well_formed(name: str) -> None:
    task = get_task(name)
    for n in (1, 2, 7, 40):
        x, y = task.sample(16, n, torch.Generator().manual_seed(n))
        x2, y2 = task.sample(16, n, torch.Generator().manual_seed(n))
        assert torch.equal(x, x2) and torch.equal(y, y2)
        assert x.shape == (16, task.input_length(n))
        assert y.shape == (16, task.output_length(x.shape[1]))
        assert int(x.min()) >= 0 and int(x.max()) < task.input_size
        assert int(y.min()) >= 0 and int(y.max()) < task.output_size
    with pytest.raises(ValueError, match="at least one symbol"):
        task.sample(2, 0, torch.Generator())


def test_expressions_alternate_numbers_and_operators() -> None:
    x, _ = get_task("modular_arithmetic").sample(64, 10, torch.Generator().manual_seed(0))
    assert x.shape[1] == 9  # even lengths lose one symbol, as in the paper
    assert int(x[:, 0::2].max()) < 5 and int(x[:, 1::2].min()) >= 5
    assert get_task("bucket_sort").input_size == 5 and get_task("parity_check").input_size == 2


# --- models -----------------------------------------------------------------------------


def test_build_tape_by_hand() -> None:
    src = T([[0, 1, 1], [1, 0, 9]])  # 9: padding, never read
    tape, total = build_tape(src, torch.tensor([3, 2]), torch.tensor([3, 2]), 2, 3)
    assert tape.tolist() == [[0, 1, 1, 2, 2, 2], [1, 0, 2, 2, 3, 3]]
    assert total.tolist() == [6, 4]


@pytest.mark.parametrize("name", MODELS)
def test_model_shapes_and_padding_invariance(name: str) -> None:
    torch.manual_seed(0)
    task = get_task("duplicate_string")
    model = make_model(name, task, hidden=8).eval()
    x, y = task.sample(3, 5, torch.Generator().manual_seed(1))
    assert model.train_logits(x, y).shape == (3, 10, 2)
    assert model.loss(x, y).dim() == 0
    short = x[:1, :3]  # a string of 3 next to strings of 5
    padded = torch.cat([torch.nn.functional.pad(short, (0, 2)), x[1:]])  # (3, 5)
    src_len, out_len = torch.tensor([3, 5, 5]), torch.tensor([6, 10, 10])
    pred = model.predict(padded, src_len, out_len)
    assert pred.shape == (3, 10)
    alone = model.predict(short, torch.tensor([3]), torch.tensor([6]))
    assert torch.equal(pred[0, :6], alone[0])
    assert torch.equal(pred[1:], model.predict(x[1:], src_len[1:], out_len[1:]))


@pytest.mark.parametrize("name", MODELS)
def test_training_step_changes_parameters(name: str) -> None:
    torch.manual_seed(0)
    task = get_task("reverse_string")
    model = make_model(name, task, hidden=8)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = task.sample(4, 6, torch.Generator().manual_seed(0))
    model.loss(x, y).backward()
    opt.step()
    changed = [k for k, v in model.named_parameters() if not torch.equal(v, before[k])]
    assert len(changed) == len(before), set(before) - set(changed)


def test_unknown_model_and_task() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        make_model("tape", get_task("parity_check"))
    with pytest.raises(ValueError, match="unknown task"):
        get_task("palindrome")


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_paper_init_is_haikus_default(cell: str) -> None:
    """Weights truncated-normal with std 1/sqrt(fan_in) (LSTM: fan-in input + hidden),
    biases zero except the LSTM forget gate's +1; PyTorch's init is kept on request."""
    torch.manual_seed(0)
    hidden = 256
    model = make_model(cell, get_task("modular_arithmetic"), hidden=hidden)  # 8 symbols + blank
    rnn = model.rnn  # type: ignore[union-attr]
    i = rnn.input_size
    sd = rnn.state_dict()  # detached tensors
    w_hh = sd["weight_hh_l0"]
    fan_in = i + hidden if cell == "lstm" else hidden
    std = fan_in**-0.5
    assert float(w_hh.abs().max()) <= 2 * std + 1e-6  # truncated at two standard deviations
    # A normal truncated at +-2 std has std 0.88 std (the PyTorch default: 0.58/sqrt(H)).
    assert abs(float(w_hh.std()) / std - 0.880) < 0.03
    w_ih_fan = i + hidden if cell == "lstm" else i
    assert float(sd["weight_ih_l0"].abs().max()) <= 2 * w_ih_fan**-0.5 + 1e-6
    assert float(sd["bias_hh_l0"].abs().max()) == 0.0
    if cell == "lstm":
        b = sd["bias_ih_l0"].view(4, hidden)  # gates i, f, g, o
        assert torch.equal(b[1], torch.ones(hidden))
        assert float(b[[0, 2, 3]].abs().max()) == 0.0
    else:
        assert float(sd["bias_ih_l0"].abs().max()) == 0.0
    # The recurrent matrix of the plain RNN sits near the edge: spectral radius about 1.
    if cell == "rnn":
        radius = float(torch.linalg.eigvals(w_hh.double()).abs().max())
        assert 0.8 < radius < 1.05
    torch.manual_seed(0)
    torch_init = make_model(cell, get_task("modular_arithmetic"), hidden=hidden, init="torch")
    w = torch_init.rnn.state_dict()["weight_hh_l0"]  # type: ignore[union-attr]
    assert float(w.abs().max()) <= hidden**-0.5 and float(w.std()) < 0.7 * hidden**-0.5
    with pytest.raises(ValueError, match="init expects one of"):
        make_model(cell, get_task("parity_check"), init="xavier")


# --- the encoder/decoders: greedy through rnnlab.nn.decoding, as the loops written here -------


def _tokens(x: torch.Tensor, src_len: torch.Tensor) -> torch.Tensor:
    pos = torch.arange(x.shape[1]).unsqueeze(0)  # (1, S)
    return torch.where(pos < src_len.unsqueeze(1), x + OFFSET, 0)  # (B, S)


def _ragged_batch(name: str) -> tuple:
    task = get_task(name)
    x, _ = task.sample(6, 7, torch.Generator().manual_seed(3))
    src_len = torch.tensor([7, 1, 4, 7, 2, 5])
    out_len = torch.tensor([task.output_length(int(n)) for n in src_len])
    return task, x, src_len, out_len


@pytest.mark.parametrize("name", ["s2s", "s2s_additive", "s2s_multiplicative"])
@pytest.mark.parametrize("task_name", ["duplicate_string", "parity_check"])
def test_seq2seq_predict_is_the_greedy_loop(name: str, task_name: str) -> None:
    """Exactly ``max(out_len)`` steps, the argmax over the output classes fed back."""
    torch.manual_seed(1)
    task, x, src_len, out_len = _ragged_batch(task_name)
    model = make_model(name, task, hidden=12).eval()
    assert isinstance(model, LectureSeq2Seq)
    pred = model.predict(x, src_len, out_len)
    net, c = model.net, task.output_size
    with torch.no_grad():
        st = net.start(_tokens(x, src_len), src_len)
        prev, want = torch.full((6,), 1), []
        for _ in range(int(out_len.max())):
            logits, st = net.step(prev, st)
            choice = logits[:, OFFSET : OFFSET + c].argmax(-1)
            want.append(choice)
            prev = choice + OFFSET
    assert torch.equal(pred, torch.stack(want, 1))


def test_location_model_is_the_ntm_loop_written_here() -> None:
    """``s2s_location``: a GRU controller fed [previous symbol; previous read], NTM read
    weights from its state, prediction from tanh(W [read; state]); by hand with
    torch.nn.GRUCell holding the decoder's weights."""
    torch.manual_seed(2)
    task, x, src_len, out_len = _ragged_batch("reverse_string")
    model = make_model("s2s_location", task, hidden=10).eval()
    assert isinstance(model, LectureSeq2Seq)
    dec = model.net.decoder
    cell = torch.nn.GRUCell(dec.rnn.input_size, 10)
    with torch.no_grad():
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, n).copy_(getattr(dec.rnn, n + "_l0"))
    att = dec.attention
    assert att is not None and dec.combine is not None
    pred = model.predict(x, src_len, out_len)
    reads = []  # the read weights of the same decoding, step by step

    def recorded(tokens: torch.Tensor, st: dict) -> tuple:
        logits, st = model.step(tokens, st)
        reads.append(st["weights"])
        return logits, st

    with torch.no_grad():
        start = model.net.start(_tokens(x, src_len), src_len)
        greedy(recorded, start, 1, None, 6, int(out_len.max()))
    with torch.no_grad():
        memory, h, mask = model.net.encode(_tokens(x, src_len), src_len)
        s, keys = h[0], att.keys(memory)  # (B, H)
        w = torch.zeros(6, 7)
        w[:, 0] = 1.0  # the read starts on the first symbol
        read = torch.zeros(6, 10)
        prev, want, want_w = torch.full((6,), 1), [], []
        for _ in range(int(out_len.max())):
            s = cell(torch.cat([dec.embedding(prev), read], -1), s)
            read, w = att(s, memory, mask, previous=w, keys=keys)
            want_w.append(w)
            logits = dec.out(torch.tanh(dec.combine(torch.cat([read, s], -1))))
            choice = logits[:, OFFSET : OFFSET + task.output_size].argmax(-1)
            want.append(choice)
            prev = choice + OFFSET
    assert torch.equal(pred, torch.stack(want, 1))
    torch.testing.assert_close(torch.stack(reads, 1), torch.stack(want_w, 1))


@pytest.mark.slow
def test_location_seq2seq_learns_reversal_and_generalizes() -> None:
    """~150 steps on strings of 1..10; tested on strings of 30 (3x longer)."""
    torch.manual_seed(0)
    task = get_task("reverse_string")
    model = LectureSeq2Seq(2, 2, attention="location", input_feeding="context", hidden=16, embed=8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(150):
        n = int(torch.randint(1, 11, (1,), generator=gen))
        x, y = task.sample(16, n, gen)
        opt.zero_grad()
        model.loss(x, y).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    x, y = task.sample(16, 30, torch.Generator().manual_seed(99))
    pred = model.predict(x, torch.full((16,), 30), torch.full((16,), 30))
    assert float((pred == y).float().mean()) >= 0.99


# --- the benchmark, end to end ---------------------------------------------------------------


@pytest.mark.slow
def test_bench_generalize_end_to_end(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "gen"
    argv = ["--tasks", "parity_check", "reverse_string", "--models", "lstm", "s2s_location"]
    argv += ["--seeds", "2", "--steps", "3", "--hidden", "8", "--max-test-length", "44"]
    rc = generalize.main([*argv, "--eval-batch", "2", "--out", str(out)])
    assert rc == 0
    data = json.loads((out / "results.json").read_text())
    runs = {(r["task"], r["model"], r["seed"]) for r in data["runs"]}
    assert len(runs) == 8 and len(data["runs"]) == 8
    for r in data["runs"]:
        assert sorted(int(n) for n in r["accuracy"]) == [41, 42, 43, 44]
        assert all(0.0 <= a <= 1.0 for a in r["accuracy"].values())
        want = 100 * sum(r["accuracy"].values()) / 4
        assert abs(r["score"] - want) < 1e-2
    s = data["summary"]["reverse_string"]["lstm"]
    scores = [
        r["score"] for r in data["runs"] if r["task"] == "reverse_string" and r["model"] == "lstm"
    ]
    assert s["max"] == max(scores) and abs(s["mean"] - sum(scores) / 2) < 1e-9
    table = (out / "table.md").read_text()
    assert "(60.9)" in table and "(100.0)" in table and "Tape-RNN" in table  # paper beside ours
    assert table in capsys.readouterr().out
    assert (out / "accuracy_by_length.png").stat().st_size > 0
    # a second call finds every run in runs.jsonl and trains nothing again
    assert generalize.main([*argv, "--eval-batch", "2", "--out", str(out)]) == 0
    assert len((out / "runs.jsonl").read_text().splitlines()) == 8
    assert json.loads((out / "results.json").read_text())["runs"] == data["runs"]


def test_bench_rejects_bad_arguments(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="unknown"):
        generalize.main(["--tasks", "palindrome", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="exceed"):
        generalize.main(["--max-test-length", "30", "--out", str(tmp_path)])


# --- one (problem, model) run as a registered task ----------------------------------------


def test_chomsky_task_encodes_and_scores_by_hand() -> None:
    from rnnlab.tasks.chomsky import task as ch

    cfg = ch.Config()
    with pytest.raises(ValueError, match=r"input line 1: expected integers in 0..1, got '2'"):
        ch.TASK.encode(cfg, None, "0 2", "input line 1")
    src, src_len, tgt = ch.strings(get_task("reverse_string"), [2, 3], 1, seed=0)
    assert src_len.tolist() == [2, 3] and src.shape == (2, 3)
    assert tgt[0, 2] == -1  # past the 2-symbol string's output
    assert tgt[1].tolist() == src[1].flip(0).tolist()

    class Echo(torch.nn.Module):  # predicts its input reversed: right on every position
        def predict(self, src, src_len, out_len):  # type: ignore[no-untyped-def]
            rows = zip(src, src_len, strict=True)
            return torch.stack([torch.cat([r[:n].flip(0), r[n:]]) for r, n in rows])

    acc = ch.per_string_accuracy(Echo(), get_task("reverse_string"), (src, src_len, tgt))
    assert acc.tolist() == [1.0, 1.0]


@pytest.mark.slow
def test_rnnlab_train_chomsky_generalizes_with_location_attention(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from rnnlab.cli import main

    sets = ["data.problem=reverse_string", "data.train_max=10", "data.test_max=20"]
    sets += ["model.name=s2s_location", "model.hidden=32", "train.lr=3e-3", "train.steps=300"]
    args = ["train", "chomsky", "--out", str(tmp_path / "run"), "--quiet"]
    assert main(args + [a for s in sets for a in ("--set", s)]) == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run"), "--split", "test", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["acc"] >= 0.95
    assert main(["predict", str(tmp_path / "run"), "0 1 1 0 0 1 1 1 0 1 0 0 1 1 0"]) == 0
    assert capsys.readouterr().out.strip() == "0 1 1 0 0 1 0 1 1 1 0 0 1 1 0"
