import json
import math
from pathlib import Path

import pytest
import torch

from rnnlab.training import checkpoint as ckpt
from rnnlab.training.loop import TrainConfig, fit, lr_at
from rnnlab.training.samplers import EpochSampler, step_generator

X = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
Y = (X.sum(1) > 0).long()


def make_model(hidden: int = 8) -> torch.nn.Module:
    torch.manual_seed(1)
    return torch.nn.Sequential(
        torch.nn.Linear(3, hidden),
        torch.nn.Tanh(),
        torch.nn.Dropout(0.3),
        torch.nn.Linear(hidden, 2),
    )


def batch_fn(step: int):
    idx = EpochSampler(64, 8, seed=3).indices(step)
    return X[idx], Y[idx]


def loss_fn(model, batch):
    x, y = batch
    return torch.nn.functional.cross_entropy(model(x), y)


def eval_fn(model):
    return {"acc": (model(X).argmax(1) == Y).float().mean().item()}


def params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_schedule():
    cfg = TrainConfig(lr=1.0, steps=110, warmup=10, schedule="cosine")
    assert lr_at(cfg, 0) == pytest.approx(0.1)
    assert lr_at(cfg, 9) == pytest.approx(1.0)
    assert lr_at(cfg, 10) == pytest.approx(1.0)
    assert lr_at(cfg, 60) == pytest.approx(0.5)
    assert lr_at(TrainConfig(lr=2.0, steps=10, schedule="linear"), 5) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="schedule"):
        lr_at(TrainConfig(schedule="bogus"), 3)


def test_epoch_sampler_covers_each_epoch_once():
    s = EpochSampler(10, 3, seed=0)
    epoch = torch.cat([s.indices(i) for i in range(4)])
    assert sorted(epoch.tolist()) == list(range(10))
    assert not torch.equal(torch.cat([s.indices(i) for i in range(4, 8)]), epoch)
    with pytest.raises(ValueError, match="empty"):
        EpochSampler(0, 3, seed=0)


def test_step_generator_depends_on_seed_and_step():
    a = torch.rand(3, generator=step_generator(1, 5))
    assert torch.equal(a, torch.rand(3, generator=step_generator(1, 5)))
    assert not torch.equal(a, torch.rand(3, generator=step_generator(1, 6)))


def test_fit_learns_and_writes_run_folder(tmp_path: Path):
    model = make_model()
    cfg = TrainConfig(lr=0.05, steps=60, eval_every=20, log_every=10)
    res = fit(model, cfg, batch_fn, loss_fn, eval_fn, run_dir=tmp_path, progress=False)
    assert res.best_metric >= 0.9
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [10, 20, 30, 40, 50, 60]
    assert "dev_acc" in lines[1] and "loss" in lines[0]
    assert (tmp_path / "model.safetensors").exists()
    assert (tmp_path / "checkpoint" / "trainer.json").exists()


def test_same_seed_same_metrics(tmp_path: Path):
    cfg = TrainConfig(lr=0.05, steps=20, eval_every=10, log_every=5)
    a = fit(make_model(), cfg, batch_fn, loss_fn, eval_fn, progress=False).history
    b = fit(make_model(), cfg, batch_fn, loss_fn, eval_fn, progress=False).history
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in a]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in b]


def test_resume_has_no_repeated_or_lost_steps(tmp_path: Path):
    cfg = TrainConfig(lr=0.05, steps=30, eval_every=10, log_every=1)
    torch.manual_seed(123)
    straight = make_model()
    torch.manual_seed(7)  # the dropout stream starts here in both runs
    fit(straight, cfg, batch_fn, loss_fn, eval_fn, run_dir=tmp_path / "a", progress=False)

    seen: list[int] = []

    def crashing(step: int):
        if step == 15 and 15 not in seen:
            seen.append(15)
            raise KeyboardInterrupt
        seen.append(step)
        return batch_fn(step)

    model = make_model()
    torch.manual_seed(7)
    with pytest.raises(KeyboardInterrupt):
        fit(model, cfg, crashing, loss_fn, eval_fn, run_dir=tmp_path / "b", progress=False)
    resumed = make_model()  # a fresh process would build the model anew
    torch.manual_seed(999)  # and its RNG would differ: the checkpoint restores it
    fit(resumed, cfg, crashing, loss_fn, eval_fn, run_dir=tmp_path / "b", progress=False)
    # the crash came at step 15; steps 10-14 are redone from step 10's checkpoint
    assert seen == [*range(16), *range(10, 30)]
    steps = [
        json.loads(x)["step"] for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == list(range(1, 31))
    a = json.loads((tmp_path / "a" / "checkpoint" / "trainer.json").read_text())
    b = json.loads((tmp_path / "b" / "checkpoint" / "trainer.json").read_text())
    assert a == b
    assert torch.equal(
        ckpt.load_tensors(tmp_path / "a" / "checkpoint" / "model.safetensors")["0.weight"],
        ckpt.load_tensors(tmp_path / "b" / "checkpoint" / "model.safetensors")["0.weight"],
    )


def test_early_stopping(tmp_path: Path):
    cfg = TrainConfig(lr=0.0, steps=100, eval_every=5, patience=2)  # lr 0: nothing improves
    res = fit(make_model(), cfg, batch_fn, loss_fn, eval_fn, progress=False)
    assert res.stopped_early and res.steps == 15 and res.best_step == 5
    goal = fit(
        make_model(),
        TrainConfig(lr=0.05, steps=100, eval_every=5),
        batch_fn,
        loss_fn,
        eval_fn,
        progress=False,
        stop_fn=lambda dev: dev["acc"] >= 0.0,
    )
    assert goal.steps == 5


def _trained_run(tmp_path: Path) -> Path:
    cfg = TrainConfig(lr=0.05, steps=10, eval_every=5)
    fit(make_model(), cfg, batch_fn, loss_fn, eval_fn, run_dir=tmp_path, progress=False)
    return tmp_path


def test_damaged_checkpoints_are_refused(tmp_path: Path):
    run = _trained_run(tmp_path)
    path = run / "model.safetensors"
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])  # truncated
    with pytest.raises(ValueError, match="damaged"):
        ckpt.load_weights(make_model(), path)
    tampered = bytearray(good)
    tampered[-3] ^= 0xFF
    path.write_bytes(bytes(tampered))
    with pytest.raises(ValueError, match="damaged"):
        ckpt.load_weights(make_model(), path)
    path.write_bytes(good)
    ckpt.load_weights(make_model(), path)  # intact again: loads
    with pytest.raises(ValueError, match=r"does not fit.*shape"):
        ckpt.load_weights(make_model(hidden=5), path)
    (run / "model.safetensors.sha256").unlink()
    with pytest.raises(ValueError, match="checksum file"):
        ckpt.load_weights(make_model(), path)
    with pytest.raises(FileNotFoundError):
        ckpt.load_weights(make_model(), run / "nothing.safetensors")


def test_resume_refuses_a_mismatched_model(tmp_path: Path):
    run = _trained_run(tmp_path)
    cfg = TrainConfig(lr=0.05, steps=20, eval_every=5)
    with pytest.raises(ValueError, match="does not fit"):
        fit(make_model(hidden=4), cfg, batch_fn, loss_fn, eval_fn, run_dir=run, progress=False)


def test_nan_loss_is_reported():
    def bad_loss(model, batch):
        return loss_fn(model, batch) * math.nan

    with pytest.raises(FloatingPointError, match="step 0"):
        fit(make_model(), TrainConfig(steps=3), batch_fn, bad_loss, progress=False)


def test_lr_scales_give_each_group_its_own_learning_rate() -> None:
    """Adam's first step moves every weight with a nonzero gradient by exactly lr (its
    m / sqrt(v) is +-1), so each group's step size is its scaled learning rate."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    before = [p.detach().clone() for p in model.parameters()]
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    cfg = TrainConfig(steps=1, lr=0.1, clip_norm=0.0, eval_every=10, log_every=1)
    fit(
        model,
        cfg,
        lambda step: (x, y),
        lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]),
        progress=False,
        lr_scales={"0.weight": 0.0, "0.": 0.25},
    )
    moved = [(p.detach() - b).abs() for p, b in zip(model.parameters(), before, strict=True)]
    assert torch.equal(moved[0], torch.zeros_like(moved[0]))  # 0.weight: scale 0
    torch.testing.assert_close(moved[1], torch.full_like(moved[1], 0.025))  # 0.bias: 0.25
    for m in moved[2:]:  # 2.weight, 2.bias: unscaled
        torch.testing.assert_close(m, torch.full_like(m, 0.1))
