"""Length generalization on the tasks of "Neural Networks and the Chomsky Hierarchy".

- ``rnnlab.tasks.chomsky.data``: the seeded task generators (``TASKS``, ``get_task``).
- ``rnnlab.tasks.chomsky.model``: RNN/GRU/LSTM in the paper's setup (``TapeRNN``) and the
  lecture's seq2seq on these tasks (``LectureSeq2Seq``), with content or NTM-style
  location attention (``rnnlab.nn.attention``).
- ``make_model(name, task)`` builds any of ``MODELS``; the benchmark is
  ``rnnlab bench generalize`` (``rnnlab.tasks.chomsky.bench``).
"""

from __future__ import annotations

from rnnlab.tasks.chomsky.data import TASKS, Task, get_task
from rnnlab.tasks.chomsky.model import LectureSeq2Seq, TapeRNN, TaskModel

TAPE_MODELS = ("rnn", "gru", "lstm")  # the paper's setup (``TapeRNN``)
MODELS = (*TAPE_MODELS, "s2s", "s2s_additive", "s2s_multiplicative", "s2s_location")


def make_model(
    name: str, task: Task, hidden: int = 64, backend: str = "fused", init: str = "paper"
) -> TaskModel:
    """A fresh model for ``task``: ``rnn | gru | lstm`` (paper setup; ``init`` "paper" or
    "torch", see ``TapeRNN``), ``s2s`` (final state only), ``s2s_additive``,
    ``s2s_multiplicative`` (content attention: Bahdanau's MLP, Luong's bilinear 'general'
    score) or ``s2s_location``."""
    i, o = task.input_size, task.output_size
    if name in TAPE_MODELS:
        return TapeRNN(name, i, o, hidden=hidden, backend=backend, init=init)
    if name == "s2s":
        return LectureSeq2Seq(i, o, attention="none", hidden=hidden, backend=backend)
    if name == "s2s_additive":
        return LectureSeq2Seq(i, o, attention="additive", hidden=hidden, backend=backend)
    if name == "s2s_multiplicative":
        return LectureSeq2Seq(i, o, attention="general", hidden=hidden, backend=backend)
    if name == "s2s_location":  # the decoder is fed its last read, as an NTM's controller
        return LectureSeq2Seq(
            i, o, attention="location", input_feeding="context", hidden=hidden, backend=backend
        )
    raise ValueError(f"unknown model {name!r}; expected one of {', '.join(MODELS)}")


__all__ = [
    "MODELS",
    "TAPE_MODELS",
    "TASKS",
    "LectureSeq2Seq",
    "TapeRNN",
    "Task",
    "TaskModel",
    "get_task",
    "make_model",
]
