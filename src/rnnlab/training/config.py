"""Configuration: frozen dataclasses with defaults in code, TOML presets, ``--set a.b=v``.

Every task defines a frozen dataclass ``Config`` whose fields are plain values or nested
frozen dataclasses. This module turns dicts (from TOML) and ``key=value`` overrides into
such objects, strictly: an unknown key or a value of the wrong type is a ``ValueError``
that names the key, what was expected and what arrived.

    >>> cfg = apply_overrides(cfg, ["train.lr=0.01", "model.hidden=64"])
    >>> save_config(cfg, run_dir / "config.toml", task="parity")
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import tomli_w

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

C = TypeVar("C")


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``, converting only lossless cases."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    if origin is typing.Literal:
        if value in get_args(tp):
            return value
        raise ValueError(f"{key}: expected one of {list(get_args(tp))}, got {value!r}")
    if _is_dataclass_type(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"{key}: expected a table of settings, got {value!r}")
        return from_dict(tp, value, prefix=f"{key}.")
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ValueError(f"{key}: expected a list, got {value!r}")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ValueError(f"{key}: expected {len(args)} values, got {len(value)}")
            items = [
                _coerce(v, a, f"{key}[{i}]")
                for i, (v, a) in enumerate(zip(value, args, strict=True))
            ]
        else:
            elem = args[0] if args else Any
            items = [_coerce(v, elem, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ValueError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ValueError(f"{key}: expected a string, got {value!r}")
    if tp is Path:
        if isinstance(value, str | Path):
            return Path(value)
        raise ValueError(f"{key}: expected a path, got {value!r}")
    raise ValueError(f"{key}: unsupported setting type {_type_name(tp)}")  # pragma: no cover


def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def from_dict(cls: type[C], data: dict[str, Any], prefix: str = "") -> C:
    """Build ``cls`` from a nested dict; unknown keys and wrong types are ``ValueError``."""
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(
            f"unknown setting {prefix}{unknown[0]!s}; known settings here: "
            + ", ".join(f"{prefix}{n}" for n in sorted(names))
        )
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in data.items()}
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict[str, Any]:
    """A nested dict of plain values (tuples as lists, paths as strings, None dropped)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if dataclasses.is_dataclass(v):
            out[f.name] = to_dict(v)
        elif v is None:
            continue
        elif isinstance(v, tuple | list):
            out[f.name] = list(v)
        elif isinstance(v, Path):
            out[f.name] = str(v)
        else:
            out[f.name] = v
    return out


def _parse_value(text: str) -> Any:
    """Read an override's value as a TOML literal; bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(cfg: C, overrides: list[str] | tuple[str, ...]) -> C:
    """Apply ``key.sub=value`` strings to a frozen config, returning a new one."""
    data = to_dict(cfg)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        key = key.strip()
        parts = key.split(".")
        node = data
        cls: Any = type(cfg)
        for i, part in enumerate(parts):
            hints = _hints(cls)
            if part not in hints:
                where = ".".join(parts[:i]) or "the top level"
                raise ValueError(
                    f"unknown setting {key!r}: {where} has "
                    + ", ".join(sorted(f.name for f in dataclasses.fields(cls)))
                )
            tp = hints[part]
            if i < len(parts) - 1:
                if not _is_dataclass_type(tp):
                    raise ValueError(f"unknown setting {key!r}: {part} has no sub-settings")
                node = node.setdefault(part, {})
                cls = tp
            else:
                value = _parse_value(raw.strip())
                node[part] = _coerce(value, tp, key)
    return from_dict(type(cfg), data)


def load_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from exc


def load_config(cls: type[C], path: str | Path) -> C:
    """Read a TOML file into ``cls``; a top-level ``task`` key is allowed and ignored."""
    data = load_toml(path)
    data.pop("task", None)
    try:
        return from_dict(cls, data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def save_config(cfg: Any, path: str | Path, task: str | None = None) -> None:
    data = to_dict(cfg)
    if task is not None:
        data = {"task": task, **data}
    Path(path).write_text(tomli_w.dumps(data))


def replace(cfg: C, **changes: Any) -> C:
    return dataclasses.replace(cfg, **changes)  # type: ignore[type-var]
