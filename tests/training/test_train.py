import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from rnnlab.training import checkpoint as ckpt
from rnnlab.training.loop import TrainConfig, fit, lr_at
from rnnlab.training.samplers import EpochSampler

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


def test_fit_learns_and_writes_run_folder(tmp_path: Path):
    model = make_model()
    cfg = TrainConfig(lr=0.05, steps=60, eval_every=20, log_every=10)
    res = fit(
        model, cfg, batch_fn, loss_fn, eval_fn, metric="acc", run_dir=tmp_path, progress=False
    )
    assert res.best_metric >= 0.9
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [10, 20, 30, 40, 50, 60]
    assert "dev_acc" in lines[1] and "loss" in lines[0]
    assert (tmp_path / "model.safetensors").exists()
    assert (tmp_path / "checkpoint" / "trainer.json").exists()


def test_same_seed_same_metrics(tmp_path: Path):
    cfg = TrainConfig(lr=0.05, steps=20, eval_every=10, log_every=5)
    a = fit(make_model(), cfg, batch_fn, loss_fn, eval_fn, metric="acc", progress=False).history
    b = fit(make_model(), cfg, batch_fn, loss_fn, eval_fn, metric="acc", progress=False).history
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in a]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in b]


def test_resume_has_no_repeated_or_lost_steps(tmp_path: Path):
    cfg = TrainConfig(lr=0.05, steps=30, eval_every=10, log_every=1)
    torch.manual_seed(123)
    straight = make_model()
    fit(
        straight,
        cfg,
        batch_fn,
        loss_fn,
        eval_fn,
        metric="acc",
        run_dir=tmp_path / "a",
        progress=False,
    )

    seen: list[int] = []

    def crashing(step: int):
        if step == 15 and 15 not in seen:
            seen.append(15)
            raise KeyboardInterrupt
        seen.append(step)
        return batch_fn(step)

    model = make_model()
    with pytest.raises(KeyboardInterrupt):
        fit(
            model,
            cfg,
            crashing,
            loss_fn,
            eval_fn,
            metric="acc",
            run_dir=tmp_path / "b",
            progress=False,
        )
    resumed = make_model()  # a fresh process would build the model anew
    torch.manual_seed(999)  # and its RNG would differ: the checkpoint restores it
    fit(
        resumed,
        cfg,
        crashing,
        loss_fn,
        eval_fn,
        metric="acc",
        run_dir=tmp_path / "b",
        progress=False,
    )
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
    cfg = TrainConfig(steps=100, eval_every=5, patience=2)
    flat = lambda m: {"acc": 0.5}  # noqa: E731 - nothing ever improves
    res = fit(make_model(), cfg, batch_fn, loss_fn, flat, metric="acc", progress=False)
    assert res.stopped_early and res.steps == 15 and res.best_step == 5
    goal = fit(
        make_model(),
        TrainConfig(lr=0.05, steps=100, eval_every=5),
        batch_fn,
        loss_fn,
        eval_fn,
        metric="acc",
        progress=False,
        stop_fn=lambda dev: dev["acc"] >= 0.0,
    )
    assert goal.steps == 5


def _trained_run(tmp_path: Path) -> Path:
    cfg = TrainConfig(lr=0.05, steps=10, eval_every=5)
    fit(
        make_model(),
        cfg,
        batch_fn,
        loss_fn,
        eval_fn,
        metric="acc",
        run_dir=tmp_path,
        progress=False,
    )
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
        fit(
            make_model(hidden=4),
            cfg,
            batch_fn,
            loss_fn,
            eval_fn,
            metric="acc",
            run_dir=run,
            progress=False,
        )


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


# --- the metric, the seed, the best model, epochs ---------------------------------------


def test_an_eval_fn_without_a_metric_fails_before_any_step():
    steps: list[int] = []

    def counting(step: int):
        steps.append(step)
        return batch_fn(step)

    with pytest.raises(ValueError, match="eval_fn but no metric"):
        fit(make_model(), TrainConfig(steps=5), counting, loss_fn, eval_fn, progress=False)
    assert steps == []
    fit(make_model(), TrainConfig(steps=2), counting, loss_fn, progress=False)  # no eval: fine


def test_a_metric_eval_fn_does_not_return_is_a_value_error():
    with pytest.raises(ValueError, match=r"eval_fn returned \['acc'\], without the metric 'f1'"):
        fit(
            make_model(),
            TrainConfig(steps=2, eval_every=1),
            batch_fn,
            loss_fn,
            eval_fn,
            metric="f1",
            progress=False,
        )


def history_of(seed: int, disturb: int) -> list[dict[str, float]]:
    torch.manual_seed(disturb)  # whatever the caller's RNG did before: dropout follows seed
    cfg = TrainConfig(lr=0.05, steps=12, eval_every=4, log_every=2, seed=seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 2))
    with torch.no_grad():  # the same weights in every run
        for i, p in enumerate(model.parameters()):
            p.copy_(torch.linspace(-0.5, 0.5, p.numel()).reshape(p.shape) * (i + 1))
    hist = fit(model, cfg, batch_fn, loss_fn, progress=False).history
    return [{k: v for k, v in r.items() if k != "seconds"} for r in hist]


def test_train_seed_seeds_the_run():
    assert history_of(seed=3, disturb=1) == history_of(seed=3, disturb=2)
    assert history_of(seed=3, disturb=1) != history_of(seed=4, disturb=1)


def scripted_eval(scores: list[float], snapshots: list[dict[str, torch.Tensor]]):
    """An eval_fn that returns ``scores`` in turn and records the weights it saw."""

    def ev(model):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return {"acc": scores[len(snapshots) - 1]}

    return ev


def same_weights(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("with_run_dir", [False, True])
def test_the_returned_model_is_the_best_on_dev(tmp_path: Path, with_run_dir: bool):
    seen: list[dict[str, torch.Tensor]] = []
    model = make_model()
    res = fit(
        model,
        TrainConfig(lr=0.05, steps=20, eval_every=5),
        batch_fn,
        loss_fn,
        scripted_eval([0.5, 0.9, 0.7, 0.6], seen),
        metric="acc",
        run_dir=tmp_path if with_run_dir else None,
        progress=False,
    )
    assert (res.best_step, res.best_metric, res.steps) == (10, 0.9, 20)
    assert same_weights(model, seen[1]) and not same_weights(model, seen[3])


@pytest.mark.parametrize(
    ("scores", "options", "best_step", "returned"),
    [
        ([3.0, 1.0, 2.0], {"higher_is_better": False}, 10, 1),  # the smallest
        ([0.9, 0.5, 0.1], {"restore_best": False}, 5, 2),  # the last model, as asked
    ],
)
def test_which_model_fit_returns(scores, options, best_step, returned):
    seen: list[dict[str, torch.Tensor]] = []
    model = make_model()
    res = fit(
        model,
        TrainConfig(lr=0.05, steps=15, eval_every=5),
        batch_fn,
        loss_fn,
        scripted_eval(scores, seen),
        metric="acc",
        progress=False,
        **options,
    )
    assert res.best_step == best_step and same_weights(model, seen[returned])


def test_epochs_count_passes_over_the_data():
    seen: list[int] = []

    def counting(step: int):
        seen.append(step)
        return batch_fn(step)

    per_epoch = EpochSampler(64, 8, seed=3).per_epoch  # 8
    cfg = TrainConfig(steps=1000, epochs=3, schedule="linear", log_every=1)
    res = fit(make_model(), cfg, counting, loss_fn, progress=False, steps_per_epoch=per_epoch)
    assert res.steps == 24 and seen == list(range(24))
    assert res.history[-1]["lr"] == pytest.approx(cfg.lr / 24)  # the schedule spans 24 steps
    with pytest.raises(ValueError, match=r"train.epochs = 3 .* set train.steps instead"):
        fit(make_model(), cfg, counting, loss_fn, progress=False)


# --- a finished run folder, NaN --------------------------------------------------------


def test_a_finished_run_returns_its_best_model_and_history(tmp_path: Path, capsys):
    seen: list[dict[str, torch.Tensor]] = []
    cfg = TrainConfig(lr=0.05, steps=20, eval_every=5, log_every=5)
    ev = scripted_eval([0.5, 0.9, 0.7, 0.6], seen)
    first = fit(
        make_model(), cfg, batch_fn, loss_fn, ev, metric="acc", run_dir=tmp_path, progress=False
    )
    steps: list[int] = []

    def counting(step: int):
        steps.append(step)
        return batch_fn(step)

    model = make_model()
    again = fit(model, cfg, counting, loss_fn, ev, metric="acc", run_dir=tmp_path, progress=False)
    assert steps == [] and len(seen) == 4  # nothing trained, nothing evaluated
    assert "already trained: 20 steps, best at step 10" in capsys.readouterr().err
    assert same_weights(model, seen[1])  # the best model, not the last checkpoint's
    assert (again.steps, again.best_step, again.best_metric) == (20, 10, 0.9)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in first.history]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in again.history] == strip


def test_raising_steps_continues_a_finished_run(tmp_path: Path, capsys):
    cfg = TrainConfig(lr=0.05, steps=30, eval_every=10, log_every=5)
    straight = make_model()
    fit(
        straight,
        cfg,
        batch_fn,
        loss_fn,
        eval_fn,
        metric="acc",
        run_dir=tmp_path / "a",
        progress=False,
    )

    short = replace(cfg, steps=20)
    fit(
        make_model(),
        short,
        batch_fn,
        loss_fn,
        eval_fn,
        metric="acc",
        run_dir=tmp_path / "b",
        progress=False,
    )
    steps: list[int] = []

    def counting(step: int):
        steps.append(step)
        return batch_fn(step)

    res = fit(
        make_model(),
        cfg,
        counting,
        loss_fn,
        eval_fn,
        metric="acc",
        run_dir=tmp_path / "b",
        progress=False,
    )
    assert "continues from step 20 to 30" in capsys.readouterr().err
    assert steps == list(range(20, 30)) and res.steps == 30
    logged = [
        json.loads(x)["step"] for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    ]
    assert logged == [5, 10, 15, 20, 25, 30]
    a = ckpt.load_tensors(tmp_path / "a" / "checkpoint" / "model.safetensors")
    b = ckpt.load_tensors(tmp_path / "b" / "checkpoint" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)  # as if trained for 30 steps at once


def test_a_run_stopped_early_is_not_continued(tmp_path: Path, capsys):
    cfg = TrainConfig(steps=100, eval_every=5, patience=2)
    flat = lambda m: {"acc": 0.5}  # noqa: E731 - nothing ever improves
    fit(make_model(), cfg, batch_fn, loss_fn, flat, metric="acc", run_dir=tmp_path, progress=False)
    res = fit(
        make_model(),
        replace(cfg, steps=200),
        batch_fn,
        loss_fn,
        flat,
        metric="acc",
        run_dir=tmp_path,
        progress=False,
    )
    assert res.stopped_early and res.steps == 15 and res.best_step == 5
    assert "stopped early after 15 steps, best at step 5" in capsys.readouterr().err


def test_nan_loss_names_the_step_and_keeps_the_best_model(tmp_path: Path):
    def bad_after_12(model, batch):
        return loss_fn(model, batch) * (math.nan if bad_after_12.step >= 12 else 1.0)

    def stepping(step: int):
        bad_after_12.step = step
        return batch_fn(step)

    seen: list[dict[str, torch.Tensor]] = []
    model = make_model()
    with pytest.raises(ValueError, match=r"diverged: the loss of step 13 is nan") as err:
        fit(
            model,
            TrainConfig(lr=0.05, steps=20, eval_every=5),
            stepping,
            bad_after_12,
            scripted_eval([0.9, 0.5], seen),
            metric="acc",
            run_dir=tmp_path,
            progress=False,
        )
    assert isinstance(err.value, FloatingPointError)  # as before, for old callers
    assert "best model so far (step 5, by dev acc)" in str(err.value)
    assert str(tmp_path / "model.safetensors") in str(err.value)
    on_disk = make_model()
    ckpt.load_weights(on_disk, tmp_path / "model.safetensors")  # loadable: not damaged
    assert same_weights(on_disk, seen[0]) and same_weights(model, seen[0])
    with pytest.raises(ValueError, match=r"step 1 is inf.*no model was kept"):
        fit(
            make_model(),
            TrainConfig(steps=3),
            batch_fn,
            lambda m, b: loss_fn(m, b) * math.inf,
            progress=False,
        )


def test_a_finished_run_without_evaluation_returns_its_final_model(tmp_path: Path, capsys):
    cfg = TrainConfig(lr=0.05, steps=6)
    trained = make_model()
    fit(trained, cfg, batch_fn, loss_fn, run_dir=tmp_path, progress=False)
    model = make_model()
    res = fit(model, cfg, batch_fn, loss_fn, run_dir=tmp_path, progress=False)
    assert "already trained: 6 steps, not evaluated; using its final model" in (
        capsys.readouterr().err
    )
    assert res.steps == 6 and same_weights(model, trained.state_dict())
