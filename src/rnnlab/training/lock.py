"""One writer per run folder: an advisory exclusive lock on ``RUN_DIR/.lock``.

``fit`` holds it for a whole run, so a second trainer pointed at the same folder (another
terminal, a second job) stops at once with a ``ValueError`` instead of interleaving
checkpoints and metrics with the first. The lock is ``flock(2)`` on an open file: the
operating system drops it when its holder exits, however it exits (crash, kill -9), so
a stale ``.lock`` file never blocks anyone. Within one process the lock is re-entrant
for the thread that holds it, so a caller may take it before writing its own files
(vocabularies, ``config.toml``) and then call ``fit``.

On systems without ``fcntl`` (Windows) there is no lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"

_held: dict[Path, tuple[int, int, int]] = {}  # run folder -> (fd, owning thread, depth)
_guard = threading.Lock()


@contextmanager
def run_lock(run_dir: str | Path) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the ``with`` block; ``ValueError`` if another process
    (or another thread of this one) holds it."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    key = run_dir.resolve()
    me = threading.get_ident()
    with _guard:
        held = _held.get(key)
        if held is not None:
            fd, owner, depth = held
            if owner != me:
                raise ValueError(f"{run_dir} is being trained by another thread of this process")
            _held[key] = (fd, owner, depth + 1)
        else:
            fd = _acquire(run_dir)
            _held[key] = (fd, me, 1)
    try:
        yield
    finally:
        with _guard:
            fd, owner, depth = _held[key]
            if depth > 1:
                _held[key] = (fd, owner, depth - 1)
            else:
                del _held[key]
                os.close(fd)  # closing the file releases the lock


def _acquire(run_dir: Path) -> int:
    path = run_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    if fcntl is None:  # pragma: no cover - Windows
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip()
        os.close(fd)
        who = f"process {holder}" if holder.isdigit() else "another process"
        raise ValueError(
            f"{run_dir} is being trained by {who} (it holds {path}); wait for it to finish, "
            "or train into another folder"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd
