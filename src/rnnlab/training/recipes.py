"""Training settings that several tasks share. A task starts from one and replaces what is
its own: ``TRAIN = replace(COSINE, lr=3e-3, steps=6000, warmup=100)``."""

from __future__ import annotations

from rnnlab.training.loop import TrainConfig

# Adam; after the warm-up (if any), cosine decay of the learning rate to 5% of its peak
COSINE = TrainConfig(schedule="cosine", min_lr_ratio=0.05)
