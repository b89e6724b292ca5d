"""Training machinery shared by every task: the loop, samplers, checkpoints, config.

Stable API (see docs/api.md)::

    fit, TrainConfig, FitResult          the one training loop
    EpochSampler, step_generator, seed_everything
    save_weights, load_weights           safetensors + SHA-256 sidecar
    load_config, apply_overrides, save_config, ranged
"""

from rnnlab.training.checkpoint import load_weights, save_weights
from rnnlab.training.config import apply_overrides, load_config, ranged, save_config
from rnnlab.training.loop import FitResult, TrainConfig, fit
from rnnlab.training.samplers import EpochSampler, seed_everything, step_generator

__all__ = [
    "EpochSampler",
    "FitResult",
    "TrainConfig",
    "apply_overrides",
    "fit",
    "load_config",
    "load_weights",
    "ranged",
    "save_config",
    "save_weights",
    "seed_everything",
    "step_generator",
]
