"""Where data lies: a path the user gives, else $RNNLAB_DATA, else ``../shared/data``."""

from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parents[3]


def data_root(given: str | Path = "") -> Path:
    """The folder holding the data sets (``ud-english-ewt/``, ``sentence-polarity/``, ...).

    A non-empty ``given`` wins and must exist; otherwise ``$RNNLAB_DATA``, then
    ``../shared/data`` from the working directory, then beside the source checkout.
    """
    if str(given):
        path = Path(given).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"data folder not found: {path}")
        return path
    env = os.environ.get("RNNLAB_DATA")
    if env:
        return Path(env).expanduser()
    for cand in (Path.cwd().parent / "shared" / "data", _REPO.parent / "shared" / "data"):
        if cand.is_dir():
            return cand
    return Path.cwd().parent / "shared" / "data"


def dataset_dir(name: str, given: str | Path = "") -> Path:
    """``data_root()/name``, or ``given`` itself when it already is that data set's folder."""
    if str(given) and Path(given).name == name:
        path = Path(given)
    else:
        path = data_root(given) / name
    if not path.is_dir():
        raise FileNotFoundError(
            f"data set {name!r} not found at {path}; pass --data-dir or set RNNLAB_DATA"
        )
    return path
