"""rnnlab: recurrent neural networks made real, fast and visible.

``rnnlab.load(run_dir)`` opens a trained run folder; the building blocks live in
``rnnlab.nn``, the training machinery in ``rnnlab.training``, the tasks (and the ``Task``
interface for your own) in ``rnnlab.tasks``. The names below are importable from
``rnnlab`` itself; they load on first use, so ``rnnlab --version`` stays instant.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    **dict.fromkeys(
        [
            "RNNCell",
            "GRUCell",
            "LSTMCell",
            "RNN",
            "GRU",
            "LSTM",
            "make_rnn",
            "length_mask",
            "Seq2Seq",
            "greedy",
            "beam_search",
            "CRF",
            "Vocab",
            "tokenize",
            "pad_batch",
        ],
        "rnnlab.nn",
    ),
    **dict.fromkeys(["fit", "TrainConfig", "EpochSampler", "seed_everything"], "rnnlab.training"),
    **dict.fromkeys(["Task", "Run", "get_task", "load_run"], "rnnlab.tasks"),
}

if TYPE_CHECKING:  # pragma: no cover
    from rnnlab.tasks import Run


def load(run_dir: Any, device: str = "auto") -> Run[Any, Any, Any]:
    """Load a trained run folder: its task, config and model, with ``predict`` and
    ``evaluate``."""
    from rnnlab.tasks import load_run

    return load_run(run_dir, device=device)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rnnlab' has no attribute {name!r}")


__all__ = ["__version__", "load", *_EXPORTS]
