"""Configuration: frozen dataclasses with defaults in code, TOML presets, ``--set a.b=v``.

Every task defines a frozen dataclass ``Config`` whose fields are plain values or nested
frozen dataclasses, its sections (``data: DataConfig = section(DataConfig)``). This module
turns dicts (from TOML) and ``key=value`` overrides into such objects, strictly: an unknown
key or a value of the wrong type is a ``ValueError`` that names the key, what was expected
and what arrived.

    >>> cfg = apply_overrides(cfg, ["train.lr=0.01", "model.hidden=64"])
    >>> save_config(cfg, run_dir / "config.toml", task="parity")

Valid ranges live beside the defaults, declared once in the field's metadata::

    @dataclass(frozen=True)
    class ModelConfig(RangeChecked):
        hidden: int = ranged(128, ge=1)
        dropout: float = ranged(0.1, ge=0, lt=1)
        cell: str = ranged("gru", choices=("rnn", "gru", "lstm"))
        dir: str = unranged("", "a folder path")

One validator, ``check_value``, reads them: ``from_dict`` (so TOML files, run folders
and ``apply_overrides``) checks every value it is given and names the full key
(``train.steps: expected a value >= 0, got -5``); ``RangeChecked.__post_init__`` checks
a config built in code; ``ranged`` checks its own default when the class is defined.

Why dataclass metadata and not pydantic: no new dependency for a teaching library; the
configs stay plain frozen dataclasses (hashable, ``dataclasses.replace``, mypy's own
dataclass support, nothing to learn); the type checks that ``_coerce`` already does
stay as they are (lossless conversions only, errors worded like the rest of the CLI);
and a range is one keyword beside the default instead of a second schema class or a
validator method per field.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import tomli_w

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

C = TypeVar("C")
T = TypeVar("T")

RANGE = "rnnlab.range"  # the field-metadata key of a setting's ``Range``


def _num(x: float) -> str:
    return f"{x:g}"


@dataclasses.dataclass(frozen=True)
class Range:
    """The values a setting accepts: bounds (``ge``, ``gt``, ``le``, ``lt``), a choice
    set, ``+``-style joined choices, or none at all (``free`` says why). A tuple or list
    value is checked element by element."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] = ()
    joined: str = ""  # the value is one or more of ``choices`` joined by this separator
    free: str = ""  # no range: what the value is instead (a path, a name)

    def describe(self) -> str:
        """``>= 1``, ``in [0, 1)``, ``one of 'adam', 'adamw'``, ..."""
        if self.choices:
            names = ", ".join(repr(c) for c in self.choices)
            if self.joined:
                return f"one or more of {names} joined by {self.joined!r}"
            return f"one of {names}"
        if self.free:
            return self.free
        low = next(((b, v) for b, v in (("[", self.ge), ("(", self.gt)) if v is not None), None)
        high = next(((b, v) for b, v in (("]", self.le), (")", self.lt)) if v is not None), None)
        if low and high:
            return f"in {low[0]}{_num(low[1])}, {_num(high[1])}{high[0]}"
        if low:
            return f"{'>=' if low[0] == '[' else '>'} {_num(low[1])}"
        if high:
            return f"{'<=' if high[0] == ']' else '<'} {_num(high[1])}"
        return "any value of its type"

    def admits(self, value: Any) -> bool:
        if isinstance(value, tuple | list):
            return all(self.admits(v) for v in value)
        if self.choices:
            if self.joined and isinstance(value, str):
                parts = value.split(self.joined)
                return all(p in self.choices for p in parts)
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, int | float):
            return True
        return not (
            (self.ge is not None and not value >= self.ge)
            or (self.gt is not None and not value > self.gt)
            or (self.le is not None and not value <= self.le)
            or (self.lt is not None and not value < self.lt)
        )


def ranged(
    default: T,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: tuple[Any, ...] | list[Any] = (),
    joined: str = "",
) -> T:
    """A dataclass field with ``default`` and its valid range (see ``Range``).

    ``lr: float = ranged(1e-3, gt=0)``; ``schedule: str = ranged("constant",
    choices=SCHEDULES)``; a bool needs no bounds: ``crf: bool = ranged(False)``. The
    default itself must be in range (checked here, when the class is defined).
    """
    rng = Range(ge, gt, le, lt, tuple(choices), joined)
    if not rng.admits(default):
        raise ValueError(f"default {default!r} is not {rng.describe()}")
    field: T = dataclasses.field(default=default, metadata={RANGE: rng})
    return field


def unranged(default: T, free: str) -> T:
    """A setting with no range to check (a path, a data set name); ``free`` says what it
    is, so that its declaration still answers "what may go here"."""
    field: T = dataclasses.field(default=default, metadata={RANGE: Range(free=free)})
    return field


def section(cls: Callable[..., T], **defaults: Any) -> T:
    """A nested section of settings whose default is ``cls(**defaults)``, built afresh for
    every config (so its ranges are checked then):
    ``train: TrainConfig = section(TrainConfig, steps=4000, lr=0.02)``."""
    field: T = dataclasses.field(default_factory=functools.partial(cls, **defaults))
    return field


def range_of(f: dataclasses.Field[Any]) -> Range | None:
    """The declared range of a dataclass field, None when it has none."""
    rng = f.metadata.get(RANGE)
    return rng if isinstance(rng, Range) else None


def check_value(f: dataclasses.Field[Any], value: Any, key: str) -> None:
    """``ValueError`` naming ``key``, the range and ``value`` when it is out of range."""
    rng = range_of(f)
    if rng is None or value is None or rng.admits(value):
        return
    what = "" if rng.choices else "values " if isinstance(value, tuple | list) else "a value "
    raise ValueError(f"{key}: expected {what}{rng.describe()}, got {value!r}")


def check_ranges(cfg: Any, prefix: str = "") -> None:
    """Check every field of the dataclass instance ``cfg`` against its declared range
    (not nested sections: each checks itself when it is built)."""
    for f in dataclasses.fields(cfg):
        check_value(f, getattr(cfg, f.name), prefix + f.name)


class RangeChecked:
    """Mixin for config dataclasses: construction checks the fields' declared ranges."""

    def __post_init__(self) -> None:
        check_ranges(self, f"{type(self).__name__}.")


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
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ValueError:
                continue
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
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in kwargs:
            check_value(f, kwargs[f.name], prefix + f.name)
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


PRESETS = Path(__file__).resolve().parent.parent / "presets"  # src/rnnlab/presets


def preset_path(task: str, name: str) -> Path:
    """``--config NAME``: a TOML file, or the preset ``presets/TASK-NAME.toml`` (or
    ``presets/NAME.toml``); a FileNotFoundError naming the task's presets otherwise."""
    path = Path(name)
    if path.is_file():
        return path
    for cand in (PRESETS / f"{task}-{name}.toml", PRESETS / f"{name}.toml"):
        if cand.is_file():
            return cand
    known = sorted(p.stem for p in PRESETS.glob(f"{task}-*.toml"))
    raise FileNotFoundError(
        f"--config {name!r}: no such file, and no preset of that name for {task} "
        f"(presets: {', '.join(known) or 'none'})"
    )


def config_from(cls: type[C], task: str, preset: str, sets: list[str]) -> C:
    """What ``--config PRESET --set k=v ...`` describe: the preset (``preset_path``; the
    defaults of ``cls`` when empty) with the overrides applied in order."""
    base = load_config(cls, preset_path(task, preset)) if preset else cls()
    return apply_overrides(base, sets)


def save_config(cfg: Any, path: str | Path, task: str | None = None) -> None:
    data = to_dict(cfg)
    if task is not None:
        data = {"task": task, **data}
    Path(path).write_text(tomli_w.dumps(data))


def annotated_toml(cfg: Any, task: str | None = None) -> str:
    """``cfg`` as TOML (as ``save_config`` writes it) with each setting's valid range as a
    comment: ``batch_size = 32  # >= 1`` (what ``rnnlab config TASK`` prints)."""
    head = tomli_w.dumps({"task": task}) if task is not None else ""
    return head + "".join(_annotated(cfg, ""))


def _annotated(cfg: Any, section: str) -> list[str]:
    lines, tables = [], []
    values = to_dict(cfg)
    for f in dataclasses.fields(cfg):
        if f.name not in values:
            continue
        if dataclasses.is_dataclass(getattr(cfg, f.name)):
            tables.append(f)
            continue
        text = tomli_w.dumps({f.name: values[f.name]})
        rng = range_of(f)
        if rng is not None and (note := rng.describe()) != "any value of its type":
            if isinstance(values[f.name], list) and not rng.choices:
                note = "each " + note
            first, _, rest = text.partition("\n")
            text = f"{first}  # {note}\n{rest}"
        lines.append(text)
    for f in tables:
        name = f"{section}{f.name}"
        lines += [f"\n[{name}]\n", *_annotated(getattr(cfg, f.name), name + ".")]
    return lines


def replace(cfg: C, **changes: Any) -> C:
    return dataclasses.replace(cfg, **changes)  # type: ignore[type-var]
