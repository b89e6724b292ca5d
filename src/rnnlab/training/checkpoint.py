"""Weights on disk: safetensors files guarded by a SHA-256 sidecar, never pickle.

``save_tensors(path, tensors)`` writes ``path`` atomically and ``path.sha256`` beside it;
``load_tensors(path)`` refuses a file whose checksum differs (truncated, tampered) or that
safetensors cannot parse, with a ``ValueError`` naming the file. ``load_weights`` also
checks names, shapes and dtypes against the model and lists what is missing or
unexpected.

Crash safety (a process killed at any instant, e.g. SIGKILL). ``atomic_write_many`` writes
every file of a group (a checkpoint's weights, optimizer state and ``trainer.json``; a
weights file and its checksum) to ``NAME.tmp`` and syncs it, then records the renames to
come in a journal (``.rename-journal.json``, itself written by a rename: the commit
point), renames each ``NAME.tmp`` over ``NAME`` and deletes the journal. Killed before the
journal exists, the group is as it was; killed after, ``finish_writes(folder)`` (run by
the next write into the folder and by ``fit`` before it resumes) completes the renames, so
a group is never left half old, half new. A reader that finds weights whose checksum
sidecar is still ``NAME.sha256.tmp`` (killed between the two renames, weights first)
accepts them when that sidecar matches: such a folder always loads.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


class DiskFullError(ValueError):
    """A file could not be written for lack of space; the previous file is intact."""

    def __init__(self, path: Path, needed: int, free: int | None) -> None:
        self.path, self.needed, self.free = path, needed, free
        room = "" if free is None else f", {free:,} free"
        super().__init__(
            f"no space left on the device to write {path} ({needed:,} bytes needed{room}); "
            "the previous file is unchanged: free some space and try again"
        )


_FULL = {errno.ENOSPC} | ({errno.EDQUOT} if hasattr(errno, "EDQUOT") else set())


def _write_tmp(path: Path, data: bytes) -> Path:
    """``data`` in ``path.tmp``, synced; on any failure no ``.tmp`` is left behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in _FULL:
            try:
                free: int | None = shutil.disk_usage(path.parent).free
            except OSError:
                free = None
            raise DiskFullError(path, len(data), free) from exc
        raise
    return tmp


JOURNAL = ".rename-journal.json"


def _rename(src: Path, dst: Path) -> None:
    """``os.replace``: the one place files are renamed into place (the fault tests stop
    a process here)."""
    os.replace(src, dst)


def finish_writes(folder: str | Path) -> None:
    """Complete the renames of a group that a crash interrupted after its journal was
    written (every temporary file the journal names was whole and synced by then)."""
    folder = Path(folder)
    journal = folder / JOURNAL
    if not journal.is_file():
        return
    try:
        pairs = json.loads(journal.read_text(encoding="utf-8"))
        moves = [(folder / str(tmp), folder / str(dst)) for tmp, dst in pairs]
    except (ValueError, TypeError) as exc:  # JSONDecodeError and bad bytes are ValueErrors
        raise ValueError(f"{journal}: a damaged rename journal ({exc}); delete it") from exc
    for tmp, dst in moves:
        if tmp.exists():
            _rename(tmp, dst)
    journal.unlink()


def atomic_write_many(files: list[tuple[Path, bytes]]) -> None:
    """Write every ``(path, data)`` to a temporary file first, then rename them all in
    order: a full disk or another error while writing leaves every file as it was, and a
    crash leaves either the old group or (after ``finish_writes``) the new one.

    A full disk raises ``DiskFullError`` (a ``ValueError`` naming the file and the bytes
    it needed); no temporary file is left behind. All paths of a group of more than one
    file lie in one folder (the journal's).
    """
    folder = files[0][0].parent
    if len(files) > 1:
        if any(path.parent != folder for path, _ in files):
            raise ValueError(f"atomic_write_many writes a group into one folder, got {files}")
        finish_writes(folder)
    tmps: list[Path] = []
    try:
        for path, data in files:
            tmps.append(_write_tmp(path, data))
    except BaseException:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        raise
    if len(files) == 1:
        _rename(tmps[0], files[0][0])
        return
    pairs = [[tmp.name, path.name] for tmp, (path, _) in zip(tmps, files, strict=True)]
    journal = folder / JOURNAL
    journal_tmp = journal.with_name(journal.name + ".tmp")
    try:
        _write_tmp(journal, json.dumps(pairs).encode())
        _rename(journal_tmp, journal)  # the commit point
    except BaseException:
        if not journal.exists():  # not committed: the old group stays, tidily
            for tmp in [*tmps, journal_tmp]:
                tmp.unlink(missing_ok=True)
        raise
    finish_writes(folder)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename (no half-written file);
    see ``atomic_write_many``."""
    atomic_write_many([(path, data)])


def tensor_files(
    path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> list[tuple[Path, bytes]]:
    """The bytes of a safetensors file and of its checksum sidecar, for
    ``atomic_write_many``."""
    path = Path(path)
    flat = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    data = st_save(flat, metadata=metadata)
    return [(path, data), (_sidecar(path), hashlib.sha256(data).hexdigest().encode())]


def save_tensors(
    path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> None:
    """``path`` and its checksum, both written before either replaces the old pair."""
    atomic_write_many(tensor_files(path, tensors, metadata))


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    data = path.read_bytes()
    sidecar = _sidecar(path)
    if not sidecar.is_file():
        raise ValueError(f"{path}: its checksum file {sidecar.name} is missing; refusing to load")
    expected = sidecar.read_text().strip()
    found = hashlib.sha256(data).hexdigest()
    pending = sidecar.with_name(sidecar.name + ".tmp")  # killed between the two renames
    if found != expected and not (pending.is_file() and pending.read_text().strip() == found):
        raise ValueError(
            f"{path} is damaged (truncated or modified): SHA-256 {found[:16]}... "
            f"does not match the recorded {expected[:16]}..."
        )
    try:
        return st_load(data)
    except SafetensorError as exc:
        raise ValueError(f"{path}: not a readable safetensors file: {exc}") from exc


def check_state_dict(
    expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor], where: str
) -> None:
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shapes = [
        f"{k}: model {tuple(expected[k].shape)} vs file {tuple(found[k].shape)}"
        for k in sorted(set(expected) & set(found))
        if expected[k].shape != found[k].shape
    ]
    dtypes = [
        f"{k}: model {expected[k].dtype} vs file {found[k].dtype}"
        for k in sorted(set(expected) & set(found))
        if expected[k].dtype != found[k].dtype
    ]
    if missing or unexpected or shapes or dtypes:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing[:5]))
        if unexpected:
            parts.append("unexpected " + ", ".join(unexpected[:5]))
        if shapes:
            parts.append("shape mismatch " + "; ".join(shapes[:5]))
        if dtypes:
            parts.append("dtype mismatch " + "; ".join(dtypes[:5]))
        raise ValueError(f"{where} does not fit this model: " + "; ".join(parts))


def save_weights(model: torch.nn.Module, path: str | Path) -> None:
    save_tensors(path, dict(model.state_dict()))


def load_weights(model: torch.nn.Module, path: str | Path) -> None:
    tensors = load_tensors(path)
    own = model.state_dict()
    check_state_dict(own, tensors, str(path))
    model.load_state_dict(tensors)


# ---- optimizer state: tensors in safetensors, the rest as JSON metadata ----


def optimizer_to_tensors(
    opt: torch.optim.Optimizer,
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, st in sd["state"].items():
        for key, val in st.items():
            if isinstance(val, torch.Tensor):
                tensors[f"state.{idx}.{key}"] = val
            else:
                scalars.setdefault(str(idx), {})[key] = val
    meta = {"param_groups": json.dumps(sd["param_groups"]), "scalars": json.dumps(scalars)}
    return tensors, meta


def optimizer_from_tensors(
    opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, str]
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, val in tensors.items():
        _, idx, key = name.split(".", 2)
        state.setdefault(int(idx), {})[key] = val
    for idx, vals in json.loads(meta["scalars"]).items():
        state.setdefault(int(idx), {}).update(vals)
    opt.load_state_dict({"state": state, "param_groups": json.loads(meta["param_groups"])})


def read_metadata(path: str | Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return dict(fh.metadata() or {})
