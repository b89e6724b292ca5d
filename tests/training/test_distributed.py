"""Data-parallel training (rnnlab.training.distributed): shards, weights, and real
multi-process runs on 127.0.0.1 (gloo, free ports, timeouts everywhere so that a hang
fails instead of blocking), compared with one process training the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import rnnlab
from rnnlab.cli import main
from rnnlab.tasks.pos import task as pos
from rnnlab.tasks.reverse import task as reverse
from rnnlab.training import distributed
from rnnlab.training.checkpoint import load_tensors

SRC = Path(rnnlab.__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
TIMEOUT = 180  # seconds for any one launched command (they take 5-20 s)
REVERSE = [
    "reverse",
    "--set",
    "model.attention=additive",
    "--set",
    "model.embed=8",
    "--set",
    "model.hidden=16",
    "--set",
    "data.max_len=6",
    "--set",
    "data.dev_size=40",
    "--set",
    "train.batch_size=16",
    "--set",
    "train.steps=20",
    "--set",
    "train.eval_every=5",
    "--set",
    "train.lr=0.01",
    "--quiet",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(SRC), str(HERE), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "RNNLAB_THREADS": "1", **extra}


def torchrun(
    args: list[str], port: int, nproc: int = 2, nnodes: int = 1, **extra: str
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc-per-node={nproc}",
        f"--nnodes={nnodes}",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint=127.0.0.1:{port}",
        "--rdzv-id=test",
        "--rdzv-conf=join_timeout=60",
        "--max-restarts=0",
        "-m",
        "rnnlab",
        *args,
    ]


def run(cmd: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, env=env(**extra), capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def ok(cmd: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
    r = run(cmd, **extra)
    assert r.returncode == 0, (
        f"{' '.join(cmd)}\nstdout:\n{r.stdout[-3000:]}\nstderr:\n{r.stderr[-6000:]}"
    )
    return r


def last_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    """The weights after the last step (the checkpoint's, not the best on dev)."""
    return load_tensors(run_dir / "checkpoint" / "model.safetensors")


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], tol: float = 1e-5) -> None:
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst <= tol, f"parameters differ by up to {worst:.3g}"


def single(args: list[str], out: Path) -> None:
    assert main(["train", *args, "--out", str(out)]) == 0


# --- shards and weights, in one process -------------------------------------------------


@dataclass
class Pair:
    a: torch.Tensor
    b: torch.Tensor


def test_shard_splits_every_tensor_by_rows() -> None:
    batch = (torch.arange(10).view(5, 2), Pair(torch.arange(5), torch.ones(5, 3)), 7)
    parts = [distributed.shard(batch, r, 2) for r in range(2)]
    assert [p[0].shape[0] for p in parts] == [2, 3]  # a short batch splits as evenly as it goes
    assert torch.equal(torch.cat([p[1].a for p in parts]), torch.arange(5))
    assert parts[1][2] == 7
    with pytest.raises(ValueError, match=r"first dimensions are \[2, 5\].*Task.shard"):
        distributed.shard((torch.zeros(5), torch.zeros(2)), 0, 2)


def test_check_batch_says_what_divides() -> None:
    distributed.check_batch(32, 4)
    with pytest.raises(ValueError, match=r"batch_size = 30 does not split over 4.*28"):
        distributed.check_batch(30, 4)


def _grads(model: torch.nn.Module, loss: torch.Tensor) -> list[torch.Tensor]:
    model.zero_grad()
    loss.backward()
    return [
        p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()
    ]


@pytest.mark.parametrize("world", [2, 3])
def test_weighted_shard_gradients_average_to_the_global_one(world: int) -> None:
    """What DDP computes (the mean over ranks of each shard's weighted gradient) is the
    global batch's gradient, for a per-token loss with ragged lengths."""
    cfg = reverse.Config()
    torch.manual_seed(0)
    model = reverse.build_model(cfg)
    batch = reverse.TASK.train_batches(cfg, None, torch.device("cpu"))(3)
    batch = distributed.shard(batch, 0, 1)
    full = _grads(model, reverse.TASK.loss(cfg, model, batch))
    total = reverse.TASK.loss_count(cfg, batch)
    avg = [torch.zeros_like(g) for g in full]
    for r in range(world):
        part = reverse.TASK.shard(cfg, batch, r, world)
        w = distributed.shard_weight(world, reverse.TASK.loss_count(cfg, part), total)
        for acc, g in zip(avg, _grads(model, reverse.TASK.loss(cfg, model, part) * w), strict=True):
            acc += g / world
    for a, b in zip(avg, full, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)


def test_pos_shard_keeps_only_the_forms_it_uses() -> None:
    from rnnlab.nn.vocab import Vocab

    enc = pos.PosVocab(
        Vocab(["<pad>", "<unk>", "a", "bb", "ccc"]),
        Vocab(["<pad>", "<unk>", "a", "b", "c"]),
        Vocab(["<pad>", "X"], unk=None),
        lower=False,
    )
    x = enc.batch([["a", "bb"], ["a"], ["ccc", "a", "ccc"]])
    tags = torch.ones_like(x.words)
    model = pos.Tagger(
        5, 5, 2, word_dim=4, char_dim=3, char_hidden=3, hidden=5, layers=1, dropout=0
    )
    full = model.emissions(x)  # (B, T, K)
    for r in range(2):
        part, part_tags = pos.shard_batch(x, tags, r, 2)
        lo, hi = distributed.bounds(3, r, 2)
        spelled = {
            "".join(enc.chars.itos[int(c)] for c in row[:n])
            for row, n in zip(part.chars, part.char_lengths, strict=True)
        }
        used = {w for i in range(lo, hi) for w in [["a", "bb"], ["a"], ["ccc", "a", "ccc"]][i]}
        assert used <= spelled and len(spelled) <= len(used) + 1  # + the padding's form
        real = part.words != 0
        torch.testing.assert_close(model.emissions(part)[real], full[lo:hi][real])
        assert part_tags.shape == part.words.shape


# --- errors before any work ---------------------------------------------------------------


def test_bad_setups_fail_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert (
        main(["train", "parity", "--nproc", "2", "--set", "train.batch_size=5", "--out", str(out)])
        == 2
    )
    assert "batch_size = 5 does not split over 2 processes" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert (
            main(["train", "parity", "--nproc", "2", "--backend", "nccl", "--out", str(out)]) == 2
        )
        assert "--backend nccl needs CUDA GPUs" in capsys.readouterr().err
    assert (
        main(["train", "sentiment", "--nproc", "2", "--set", "ensemble=3", "--out", str(out)]) == 2
    )
    assert "ensemble" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_rendezvous_timeout_names_the_endpoint(tmp_path: Path) -> None:
    port = free_port()
    t0 = time.perf_counter()
    r = run(
        [
            sys.executable,
            "-m",
            "rnnlab",
            "train",
            "parity",
            "--nproc",
            "1",
            "--nnodes",
            "2",
            "--rdzv-endpoint",
            f"127.0.0.1:{port}",
            "--rdzv-timeout",
            "3",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert r.returncode == 2, r.stderr[-3000:]
    assert f"rendezvous at 127.0.0.1:{port} failed" in r.stderr
    assert time.perf_counter() - t0 < 60


# --- real processes -------------------------------------------------------------------------


@pytest.mark.slow
def test_two_ranks_train_reverse_as_one_process_does(tmp_path: Path) -> None:
    """reverse with attention, 20 steps: 2 ranks x 8 rows == 1 process x 16 rows."""
    one, two = tmp_path / "one", tmp_path / "two"
    single(REVERSE, one)
    r = ok(torchrun(["train", *REVERSE, "--out", str(two), "--dist-timeout", "60"], free_port()))
    assert_same(last_weights(one), last_weights(two))
    assert json.loads(r.stdout[r.stdout.index("{") :])["steps"] == 20.0  # rank 0 alone prints
    logged = [json.loads(x) for x in (two / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in logged if "dev_exact" in x] == [5, 10, 15, 20]
    mine = [json.loads(x) for x in (one / "metrics.jsonl").read_text().splitlines()]
    for a, b in zip(mine, logged, strict=True):  # the logged loss is the global batch's
        assert abs(a.get("loss", 0) - b.get("loss", 0)) < 1e-5


TOY = {"DET": ["the", "a"], "ADJ": ["old", "green"], "NOUN": ["dog", "boat", "idea"]}
TOY |= {"VERB": ["sees", "builds"], "PUNCT": [".", "!"]}


def _write_treebank(folder: Path, sizes: dict[str, int]) -> None:
    """A toy CoNLL-U treebank of sentences of 3 to 10 words."""
    import random

    folder.mkdir(parents=True)
    rng = random.Random(0)
    for split, n in sizes.items():
        lines = []
        for k in range(n):
            words = [("DET", "the"), ("NOUN", "dog")]
            words += [(t, rng.choice(TOY[t])) for t in rng.choices(list(TOY), k=rng.randint(0, 7))]
            words.append(("PUNCT", "."))
            lines.append(f"# sent_id = {split}-{k}")
            for i, (t, w) in enumerate(words, 1):
                lines.append("\t".join([str(i), w, w, t, "_", "_", "0", "_", "_", "_"]))
            lines.append("")
        (folder / f"toy-ud-{split}.conllu").write_text("\n".join(lines) + "\n")


@pytest.mark.slow
def test_two_ranks_train_pos_as_one_process_does(tmp_path: Path) -> None:
    """Ragged sentences, the bucketing sampler, a short last batch each epoch (45 = 5 x 8
    + 5: split 2 + 3, weighted by words), word dropout drawn on the global batch."""
    data = tmp_path / "toy-ud"
    _write_treebank(data, {"train": 45, "dev": 10, "test": 10})
    args = [
        "pos",
        "--data-dir",
        str(data),
        "--data",
        "toy-ud",
        *("--set", "model.word_dim=8", "--set", "model.char_dim=4", "--set", "model.char_hidden=4"),
        *("--set", "model.hidden=8", "--set", "model.layers=1", "--set", "model.dropout=0.0"),
        *("--set", "train.batch_size=8", "--set", "train.steps=20", "--set", "train.eval_every=10"),
        *("--set", "train.warmup=0", "--set", "train.lr=0.01"),
        "--quiet",
    ]
    one, two = tmp_path / "one", tmp_path / "two"
    single(args, one)
    port = free_port()
    launch = ["--nproc", "2", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-timeout", "60"]
    ok(
        [
            sys.executable,
            "-m",
            "rnnlab",
            "train",
            *args,
            *launch,
            "--out",
            str(two),
            "--dist-timeout",
            "60",
        ]
    )
    assert_same(last_weights(one), last_weights(two))
    metrics = json.loads((two / "dev_metrics.json").read_text())
    assert (
        metrics["train_tokens"]
        == json.loads((one / "dev_metrics.json").read_text())["train_tokens"]
    )


@pytest.mark.slow
def test_a_killed_two_rank_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    """Rank 1 is SIGKILLed at step 12 (checkpoint at 10); the rerun resumes from rank 0's
    checkpoint and ends where an uninterrupted run does."""
    args = ["train", "dist_kill_task:TASK", *REVERSE[1:], "--dist-timeout", "60"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    marker = tmp_path / "killed"
    marker.touch()  # the uninterrupted run: no kill
    ok(torchrun([*args, "--out", str(whole)], free_port()), RNNLAB_TEST_KILL_MARKER=str(marker))
    marker.unlink()
    first = run(
        torchrun([*args, "--out", str(cut)], free_port()), RNNLAB_TEST_KILL_MARKER=str(marker)
    )
    assert first.returncode != 0 and marker.exists()
    assert json.loads((cut / "checkpoint" / "trainer.json").read_text())["step"] == 10
    ok(torchrun([*args, "--out", str(cut)], free_port()), RNNLAB_TEST_KILL_MARKER=str(marker))
    assert_same(last_weights(whole), last_weights(cut), tol=0.0)
    for rank in (0, 1):  # each rank trained on its 8 rows of the 16, every step
        rows = Path(f"{marker}.rows{rank}").read_text().split()
        assert set(rows) == {"8"} and len(rows) >= 20
    steps = [json.loads(x)["step"] for x in (cut / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))  # no step logged twice


@pytest.mark.slow
def test_two_nodes_meet_through_c10d_rendezvous(tmp_path: Path) -> None:
    """Two torchrun agents ("nodes") of one process each, on 127.0.0.1."""
    one = tmp_path / "one"
    single(REVERSE, one)
    port = free_port()
    cmds = [
        torchrun(
            ["train", *REVERSE, "--out", str(tmp_path / f"node{i}"), "--dist-timeout", "60"],
            port,
            nproc=1,
            nnodes=2,
        )
        for i in range(2)
    ]
    procs = [
        subprocess.Popen(c, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in cmds
    ]
    try:
        outs = [p.communicate(timeout=TIMEOUT) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
    assert [p.returncode for p in procs] == [0, 0], [e[-3000:] for _, e in outs]
    written = [d for d in (tmp_path / "node0", tmp_path / "node1") if (d / "checkpoint").is_dir()]
    assert len(written) == 1  # the node that got rank 0
    assert_same(last_weights(one), last_weights(written[0]))


@pytest.mark.slow
def test_bench_generalize_spreads_runs_over_ranks(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    bench = ["bench", "generalize", "--tasks", "parity_check", "--models", "rnn", "--seeds", "3"]
    bench += ["--steps", "3", "--hidden", "4", "--max-test-length", "42", "--eval-batch", "2"]
    ok(torchrun([*bench, "--out", str(out)], free_port()))
    results = json.loads((out / "results.json").read_text())
    assert sorted(r["seed"] for r in results["runs"]) == [0, 1, 2]
    assert sorted(r["rank"] for r in results["runs"]) == [0, 0, 1]
    assert results["protocol"]["processes"] == 2
