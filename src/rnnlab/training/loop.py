"""The one training loop every task uses.

``fit`` takes a model, a ``batch_fn(step)`` that returns the batch for a given step
(deterministic in the step, so that a resumed run sees exactly the batches it would have
seen), a ``loss_fn(model, batch)`` and an ``eval_fn(model)`` returning dev metrics. It
gives: Adam/AdamW, clipping by global norm, a warm-up + constant/linear/cosine schedule,
early stopping on a dev metric, a progress bar, ``metrics.jsonl``, checkpoints as
safetensors (+ ``trainer.json``) and resume after an interruption with no repeated or
lost steps. The best model on dev is kept as ``run_dir/model.safetensors``.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rnnlab.training import checkpoint as ckpt
from rnnlab.training.progress import Progress


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = "adam"  # adam | adamw
    lr: float = 1e-3
    weight_decay: float = 0.0
    clip_norm: float = 1.0  # 0 disables clipping
    steps: int = 1000
    batch_size: int = 32
    schedule: str = "constant"  # constant | linear | cosine (after warm-up)
    warmup: int = 0
    min_lr_ratio: float = 0.0  # floor of linear/cosine decay, as a fraction of lr
    eval_every: int = 200
    patience: int = 0  # evaluations without improvement before stopping; 0 = never stop early
    seed: int = 0
    log_every: int = 50


@dataclass
class FitResult:
    best_metric: float
    best_step: int
    steps: int
    stopped_early: bool
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"--device expects auto, cpu or cuda, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but no CUDA device is available")
    return torch.device(name)


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate for 0-based ``step``."""
    if cfg.warmup > 0 and step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    if cfg.schedule == "constant":
        return cfg.lr
    span = max(1, cfg.steps - cfg.warmup)
    frac = min(1.0, (step - cfg.warmup) / span)
    if cfg.schedule == "linear":
        scale = 1.0 - frac
    elif cfg.schedule == "cosine":
        scale = 0.5 * (1.0 + math.cos(math.pi * frac))
    else:
        raise ValueError(f"train.schedule expects constant, linear or cosine, got {cfg.schedule!r}")
    return cfg.lr * (cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * scale)


def make_optimizer(
    model: torch.nn.Module, cfg: TrainConfig, lr_scales: dict[str, float] | None = None
) -> torch.optim.Optimizer:
    """Adam or AdamW over the trainable parameters. ``lr_scales`` maps a parameter-name
    prefix to a multiplier of the scheduled learning rate (discriminative learning rates,
    ULMFiT); the first matching prefix wins, other parameters get 1."""
    groups: dict[float, list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            scale = next((v for k, v in (lr_scales or {}).items() if name.startswith(k)), 1.0)
            groups.setdefault(scale, []).append(p)
    params = [{"params": ps, "scale": scale, "lr": cfg.lr * scale} for scale, ps in groups.items()]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"train.optimizer expects adam or adamw, got {cfg.optimizer!r}")


CKPT_DIR = "checkpoint"


def save_checkpoint(
    run_dir: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, state: dict[str, Any]
) -> None:
    d = run_dir / CKPT_DIR
    ckpt.save_tensors(d / "model.safetensors", dict(model.state_dict()))
    tensors, meta = ckpt.optimizer_to_tensors(opt)
    tensors["rng.torch"] = torch.get_rng_state()
    ckpt.save_tensors(d / "optimizer.safetensors", tensors, metadata=meta)
    ckpt.atomic_write(d / "trainer.json", json.dumps(state, indent=1).encode())


def load_checkpoint(
    run_dir: Path, model: torch.nn.Module, opt: torch.optim.Optimizer
) -> dict[str, Any]:
    d = run_dir / CKPT_DIR
    try:
        state: dict[str, Any] = json.loads((d / "trainer.json").read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{d / 'trainer.json'} is damaged: {exc}") from exc
    ckpt.load_weights(model, d / "model.safetensors")
    tensors = ckpt.load_tensors(d / "optimizer.safetensors")
    meta = ckpt.read_metadata(d / "optimizer.safetensors")
    rng = tensors.pop("rng.torch")
    try:
        ckpt.optimizer_from_tensors(opt, tensors, meta)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise ValueError(f"{d}: optimizer state does not fit this model: {exc}") from exc
    torch.set_rng_state(rng)
    return state


def _rewrite_metrics(path: Path, upto_step: int) -> None:
    """Keep only records up to the checkpoint's step, so no step is logged twice."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        if line.strip() and json.loads(line).get("step", 0) <= upto_step:
            keep.append(line)
    path.write_text("".join(x + "\n" for x in keep))


def fit(
    model: torch.nn.Module,
    cfg: TrainConfig,
    batch_fn: Callable[[int], Any],
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    eval_fn: Callable[[torch.nn.Module], dict[str, float]] | None = None,
    *,
    run_dir: Path | None = None,
    metric: str = "acc",
    higher_is_better: bool = True,
    resume: bool = True,
    progress: bool = True,
    desc: str = "train",
    stop_fn: Callable[[dict[str, float]], bool] | None = None,
    lr_scales: dict[str, float] | None = None,
) -> FitResult:
    """Train ``model`` for ``cfg.steps`` steps; see the module docstring.

    ``stop_fn(dev_metrics)`` may end training early once a goal is reached. ``lr_scales``:
    see ``make_optimizer``.
    """
    opt = make_optimizer(model, cfg, lr_scales)
    start, best, best_step, since_best = 0, -math.inf, -1, 0
    history: list[dict[str, float]] = []
    metrics_path = run_dir / "metrics.jsonl" if run_dir else None
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume and (run_dir / CKPT_DIR / "trainer.json").exists():
            state = load_checkpoint(run_dir, model, opt)
            start, best, best_step = state["step"], state["best"], state["best_step"]
            since_best = state["since_best"]
            if state.get("done"):
                return FitResult(
                    _sign(best, higher_is_better), best_step, start, state["stopped"], 0.0
                )
            assert metrics_path is not None
            _rewrite_metrics(metrics_path, start)
    sign = 1.0 if higher_is_better else -1.0
    t0 = time.perf_counter()
    bar = Progress(total=cfg.steps, desc=desc, enabled=progress, start=start)
    stopped = False
    log_f = metrics_path.open("a") if metrics_path else None
    loss_acc, n_acc = 0.0, 0
    step = start
    try:
        model.train()
        while step < cfg.steps:
            lr = lr_at(cfg, step)
            for g in opt.param_groups:
                g["lr"] = lr * g["scale"]
            batch = batch_fn(step)
            loss = loss_fn(model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at step {step}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            opt.step()
            step += 1
            loss_acc += float(loss.detach())
            n_acc += 1
            record: dict[str, float] = {}
            if step % cfg.log_every == 0 or step == cfg.steps:
                record = {"step": step, "loss": loss_acc / n_acc, "lr": lr}
                loss_acc, n_acc = 0.0, 0
            at_eval = eval_fn is not None and (step % cfg.eval_every == 0 or step == cfg.steps)
            if at_eval:
                assert eval_fn is not None
                model.eval()
                with torch.no_grad():
                    dev = eval_fn(model)
                model.train()
                if metric not in dev:
                    raise KeyError(f"eval_fn returned {sorted(dev)}, not the metric {metric!r}")
                record = {"step": step, **record, **{f"dev_{k}": v for k, v in dev.items()}}
                score = sign * dev[metric]
                if score > best:
                    best, best_step, since_best = score, step, 0
                    if run_dir is not None:
                        ckpt.save_weights(model, run_dir / "model.safetensors")
                else:
                    since_best += 1
                if (cfg.patience and since_best >= cfg.patience) or (stop_fn and stop_fn(dev)):
                    stopped = True
            if record:
                record["seconds"] = round(time.perf_counter() - t0, 3)
                history.append(record)
                if log_f:
                    log_f.write(json.dumps(record) + "\n")
                    log_f.flush()
                bar.update(step, record)
            else:
                bar.update(step)
            if run_dir is not None and (at_eval or step == cfg.steps or stopped):
                state = {
                    "step": step,
                    "best": best,
                    "best_step": best_step,
                    "since_best": since_best,
                    "stopped": stopped,
                    "done": stopped or step == cfg.steps,
                }
                save_checkpoint(run_dir, model, opt, state)
            if stopped:
                break
    finally:
        bar.close()
        if log_f:
            log_f.close()
    if run_dir is not None and eval_fn is None:
        ckpt.save_weights(model, run_dir / "model.safetensors")
    if run_dir is not None and eval_fn is not None and best_step >= 0:
        ckpt.load_weights(model, run_dir / "model.safetensors")  # the best model on dev
    return FitResult(
        _sign(best, higher_is_better),
        best_step,
        step,
        stopped,
        time.perf_counter() - t0,
        history,
    )


def _sign(best: float, higher_is_better: bool) -> float:
    return best if higher_is_better else -best


def set_threads(n: int) -> None:
    """Cap torch's intra-op threads (several processes on 2 cores must each take one)."""
    if n > 0:
        torch.set_num_threads(n)


def isatty() -> bool:
    return sys.stdout.isatty()
