"""rnnlab: recurrent neural networks made real, fast and visible."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from rnnlab.tasks import Trained


def load(run_dir: Any, device: str = "auto") -> Trained:
    """Load a trained run folder: the model, its vocabulary and a ``predict`` method."""
    from rnnlab.tasks import load_run

    return load_run(run_dir, device=device)


__all__ = ["__version__", "load"]
