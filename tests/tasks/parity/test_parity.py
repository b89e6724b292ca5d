"""The parity task: encoding, splits, the lecture's models, and the task contract end to end."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnlab.tasks.base import Run
from rnnlab.tasks.parity import task as P
from rnnlab.tasks.parity.model import DenseParity, ParityRNN, handset_parity_rnn
from rnnlab.training.samplers import hash_bucket

CPU = torch.device("cpu")


def python_evenness(bits: list[int]) -> list[int]:
    """Independent reference: 1 while the count of 1s so far is even."""
    out, ones = [], 0
    for b in bits:
        ones += b
        out.append(1 if ones % 2 == 0 else 0)
    return out


# --- encoding --------------------------------------------------------------------------


def test_the_lectures_two_examples():
    b = P.encode([[0, 0, 1, 0, 1, 0, 0, 0], [0, 1, 0, 1, 1, 0, 0, 0]])
    assert b.final.tolist() == [1.0, 0.0]  # [0 0 1 0 1 0 0 0] -> 1, [0 1 0 1 1 0 0 0] -> 0
    assert b.y[0].tolist() == [1, 1, 0, 0, 1, 1, 1, 1]  # worked out by hand
    assert b.y[1].tolist() == [1, 0, 0, 1, 0, 0, 0, 0]


def test_evenness_matches_a_python_loop():
    rng = random.Random(0)
    for _ in range(50):
        bits = [rng.randint(0, 1) for _ in range(rng.randint(1, 30))]
        assert P.evenness(torch.tensor(bits)).long().tolist() == python_evenness(bits)


def test_padding_is_zero_and_masked_and_final_is_each_own_last():
    b = P.encode([[1, 1, 0], [1], [0, 1]])
    assert b.lengths.tolist() == [3, 1, 2]
    assert b.x.tolist() == [[1, 1, 0], [1, 0, 0], [0, 1, 0]]
    assert b.y.tolist() == [[0, 1, 1], [0, 0, 0], [1, 0, 0]]
    assert b.mask.tolist() == [[True] * 3, [True, False, False], [True, True, False]]
    assert b.final.tolist() == [1.0, 0.0, 0.0]


def test_parse_line_reads_spaced_and_compact_bits():
    assert P.parse_line("0 1 1 0 1") == [0, 1, 1, 0, 1]
    assert P.parse_line("01101") == [0, 1, 1, 0, 1]
    assert P.parse_line(" 1 ") == [1]


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("0 2 1", "token 2.*'2'"),
        ("0 1 x", "token 3"),
        ("0120", "token 1.*'0120'"),
        ("-1", "bits 0 or 1"),
    ],
)
def test_parse_line_rejects_bad_input(line, match):
    with pytest.raises(ValueError, match=match):
        P.parse_line(line, "input line 1")


def test_encode_rejects_empty_and_non_binary():
    with pytest.raises(ValueError, match="sequence 1 is empty"):
        P.encode([[0, 1], []])
    with pytest.raises(ValueError, match="bits 0 or 1, got 3"):
        P.encode([[0, 3]])
    with pytest.raises(ValueError, match="at least one"):
        P.encode([])


# --- splits ----------------------------------------------------------------------------


def horner_bucket(bits: list[int]) -> int:
    h = len(bits)
    for b in bits:
        h = (h * 1_000_003 + b + 1) % 2_147_483_647
    return (h * 2_654_435_761) % 2**32 % 10


def test_bucket_of_is_horners_rule():
    gen = torch.Generator().manual_seed(1)
    bits, lengths = P.sample_split(500, None, 1, 40, gen)
    got = hash_bucket(bits, lengths).tolist()
    want = [horner_bucket(bits[i, : lengths[i]].tolist()) for i in range(500)]
    assert got == want


def test_splits_are_disjoint_and_seeded():
    def draw(split: str, seed: int) -> set[tuple[int, ...]]:
        b = P.sample_batch(3000, split, 8, 14, seed)
        return {tuple(r[:n].long().tolist()) for r, n in zip(b.x, b.lengths.tolist(), strict=True)}

    train, dev, test = draw("train", 0), draw("dev", 1), draw("test", 2)
    assert not train & test and not train & dev and not dev & test
    assert draw("test", 2) == test  # the same seed, the same sequences
    assert all(horner_bucket(list(s)) == 0 for s in test)


def test_short_lengths_are_shared_by_every_split():
    b = P.sample_batch(200, "test", 1, 3, 0)
    assert set(b.lengths.tolist()) == {1, 2, 3}


def test_sample_split_checks_its_arguments():
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="min_len <= max_len"):
        P.sample_split(4, "train", 5, 3, gen)
    with pytest.raises(ValueError, match="train, dev or test"):
        P.sample_split(4, "valid", 1, 3, gen)


# --- models ----------------------------------------------------------------------------


def test_handset_rnn_is_exact_at_length_10000():
    model = handset_parity_rnn()
    bits = torch.randint(0, 2, (4, 10_000), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        logits, states = model(bits.float())  # (B, T), (B, T, 2)
    reference = np.cumsum(bits.numpy(), axis=1) % 2 == 0  # numpy, independent of our code
    assert np.array_equal((logits > 0).numpy(), reference)
    assert states.shape == (4, 10_000, 2)


def test_handset_rnn_is_the_same_unrolled_by_the_explicit_backend():
    fused = handset_parity_rnn()
    explicit = ParityRNN(2, backend="explicit")
    explicit.load_state_dict(fused.state_dict())
    bits = torch.randint(0, 2, (3, 300), generator=torch.Generator().manual_seed(4)).float()
    with torch.no_grad():
        a, _ = fused(bits)
        b, _ = explicit(bits)
    torch.testing.assert_close(a, b)


def test_dense_net_refuses_another_length():
    mlp = DenseParity(16, outputs=16)
    assert mlp(torch.zeros(2, 16)).shape == (2, 16)
    with pytest.raises(ValueError, match="built for sequences of length 16 and got length 17"):
        mlp(torch.zeros(2, 17))
    with pytest.raises(ValueError, match="length 16"):
        mlp(torch.zeros(16))


def test_parity_rnn_shapes_and_padding_cannot_change_real_steps():
    torch.manual_seed(0)
    model = ParityRNN(5)
    short = P.encode([[1, 0, 1]])
    padded = P.encode([[1, 0, 1], [0, 1, 1, 0, 1, 1, 1]])
    with torch.no_grad():
        a, sa = model(short.x)
        b, _ = model(padded.x)
    assert a.shape == (1, 3) and sa.shape == (1, 3, 5) and b.shape == (2, 7)
    torch.testing.assert_close(a[0], b[0, :3])


def test_a_training_step_changes_every_parameter():
    torch.manual_seed(0)
    model = ParityRNN(4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batch = P.sample_batch(16, "train", 1, 10, 0)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    P.loss_of(model, batch, "every").backward()
    opt.step()
    for k, v in model.state_dict().items():
        assert not torch.equal(v, before[k]), k


def test_final_loss_reads_each_sequences_own_last_step():
    model = handset_parity_rnn()
    batch = P.encode([[1, 1, 0], [1]])
    # the hand-set net is right everywhere: a confident, tiny loss on both targets
    assert float(P.loss_of(model, batch, "final").detach()) < 1e-3
    assert float(P.loss_of(model, batch, "every").detach()) < 1e-3


# --- the task contract -----------------------------------------------------------------


def test_predict_prints_every_step_or_the_final_answer():
    every = Run(P.TASK, P.Config(), None, handset_parity_rnn(), CPU, Path("."))
    assert every.predict(["0 1 1 0 1", "1"]) == ["1 0 1 1 0", "0"]
    final = Run(
        P.TASK,
        P.Config(data=P.DataConfig(target="final")),
        None,
        handset_parity_rnn(),
        CPU,
        Path("."),
    )
    assert final.predict(["0 1 1 0 1", "0 0 1 0 1 0 0 0"]) == ["0", "1"]
    with pytest.raises(ValueError, match="input line 2, token 1"):
        every.predict(["0 1", "2 1"])
    with pytest.raises(ValueError, match="input line 1 is empty"):
        every.predict([""])
    with pytest.raises(ValueError, match="does not take beam"):
        every.predict(["0 1"], beam=3)


def test_evaluate_scores_the_handset_net_perfectly():
    cfg = P.Config(data=P.DataConfig(test_size=200, dev_size=100, long_len=300))
    trained = Run(P.TASK, cfg, None, handset_parity_rnn(), CPU, Path("."))
    for split in ("dev", "test", "long"):
        r = trained.evaluate(split)
        assert r["acc"] == 1.0 and r["seq_acc"] == 1.0, split
    with pytest.raises(ValueError, match="dev, test or long"):
        trained.evaluate("train")


@pytest.mark.slow
def test_train_eval_predict_end_to_end(tmp_path, capsys):
    """``rnnlab train parity``, then ``eval`` and ``predict`` on the run folder."""
    from rnnlab.cli import main

    run = tmp_path / "run"
    rc = main(
        [
            "train",
            "parity",
            "--out",
            str(run),
            "--quiet",
            "--set",
            "train.steps=3000",
            "--set",
            "data.test_size=500",
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    capsys.readouterr()
    assert main(["predict", str(run), "0 1 1 0 1", "1 1 1"]) == 0
    assert capsys.readouterr().out.split("\n")[:2] == ["1 0 1 1 0", "0 1 0"]
    from rnnlab.tasks import load_run

    trained = load_run(run, "cpu")
    assert trained.evaluate("test")["acc"] >= 0.999
    assert trained.evaluate("long")["acc"] >= 0.99  # length 200, 10x the training lengths
    assert main(["predict", str(run), "0 1 5"]) == 2
    assert "parity inputs are bits 0 or 1, got '5'" in capsys.readouterr().err
