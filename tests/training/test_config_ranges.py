"""Every setting of every task declares its valid values, and every way in refuses others."""

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from rnnlab import cli
from rnnlab.tasks import TASKS, get_task
from rnnlab.training.config import (
    Range,
    RangeChecked,
    apply_overrides,
    from_dict,
    load_config,
    range_of,
    ranged,
    section,
    to_dict,
)
from rnnlab.training.loop import TrainConfig


def leaves(cls: type, prefix: str = "") -> list[tuple[str, dataclasses.Field[Any], Any]]:
    """``(key, field, default)`` of every non-section setting of a config class."""
    out = []
    default = cls()
    for f in dataclasses.fields(cls):
        value = getattr(default, f.name)
        if dataclasses.is_dataclass(value):
            out += leaves(type(value), f"{prefix}{f.name}.")
        else:
            out.append((prefix + f.name, f, value))
    return out


ALL = [(task, *leaf) for task in sorted(TASKS) for leaf in leaves(get_task(task).config_type)]


def outside(rng: Range, default: Any) -> Any:
    """A value of the default's type just outside ``rng`` (None: no such value)."""
    if isinstance(default, tuple):
        bad = outside(rng, default[0] if default else 1)
        return None if bad is None else [*default, bad]
    if rng.choices:
        return f"{rng.choices[0]}{rng.joined}bogus" if rng.joined else "bogus"
    if isinstance(default, bool) or rng.free:
        return None
    step = 1 if isinstance(default, int) else 0.5
    if rng.ge is not None:
        return rng.ge - step
    if rng.gt is not None:
        return rng.gt if isinstance(default, int) else float(rng.gt)
    if rng.le is not None:
        return rng.le + step
    if rng.lt is not None:
        return rng.lt
    return None


def test_every_setting_of_every_task_declares_its_values():
    assert len(ALL) > 80
    undeclared = [f"{task}: {key}" for task, key, f, _ in ALL if range_of(f) is None]
    assert undeclared == []
    for task, key, f, default in ALL:
        rng = range_of(f)
        assert rng is not None
        if isinstance(default, bool):
            continue
        # free-form settings are strings that say what they are; the rest are bounded
        assert (rng.free and isinstance(default, str)) or outside(rng, default) is not None, (
            f"{task}: {key} has no range"
        )


@pytest.mark.parametrize(("task", "key", "f", "default"), ALL, ids=[f"{a}:{b}" for a, b, *_ in ALL])
def test_a_value_outside_each_range_is_refused(task, key, f, default):
    rng = range_of(f)
    cfg = get_task(task).config_type()
    bad = outside(rng, default)
    if bad is None:  # a flag or a free-form string: only its type is checked
        bad = "maybe" if isinstance(default, bool) else 3
        with pytest.raises(ValueError, match=rf"^{key}: expected"):
            apply_overrides(cfg, [f"{key}={json.dumps(bad)}"])
        return
    with pytest.raises(ValueError) as err:
        apply_overrides(cfg, [f"{key}={json.dumps(bad)}"])
    msg = str(err.value)
    assert msg.startswith(f"{key}") and rng.describe() in msg and repr(bad).strip("[]") in msg
    # the same value from a TOML table, and in a config built in code
    data = to_dict(cfg)
    node = data
    *path, last = key.split(".")
    for part in path:
        node = node[part]
    node[last] = bad
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        from_dict(type(cfg), data)
    section = cfg
    for part in path:
        section = getattr(section, part)
    with pytest.raises(ValueError, match=rf"{type(section).__name__}\.{last}"):
        dataclasses.replace(section, **{last: tuple(bad) if isinstance(bad, list) else bad})


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("train.steps=-5", r"train\.steps: expected a value >= 0, got -5"),
        ("train.batch_size=0", r"train\.batch_size: expected a value >= 1, got 0"),
        ("train.eval_every=0", r"train\.eval_every: expected a value >= 1, got 0"),
        ("train.lr=-1", r"train\.lr: expected a value > 0, got -1\.0"),
        ("train.min_lr_ratio=2", r"train\.min_lr_ratio: expected a value in \[0, 1\], got 2\.0"),
        (
            "train.schedule=cos",
            r"train\.schedule: expected one of 'constant', 'linear', 'cosine', got 'cos'",
        ),
        ("model.dropout=1", r"model\.dropout: expected a value in \[0, 1\), got 1\.0"),
        (
            "model.pooling='last+sum'",
            r"model\.pooling: expected one or more of .* joined by '\+', got 'last\+sum'",
        ),
    ],
)
def test_the_issues_examples_name_key_range_and_value(setting, expected):
    with pytest.raises(ValueError, match=expected):
        apply_overrides(get_task("sentiment").config_type(), [setting])


def test_in_range_values_pass():
    cfg = apply_overrides(
        get_task("sentiment").config_type(),
        ["train.steps=0", "model.dropout=0", "model.pooling='max+last'", "data.fold=3"],
    )
    assert cfg.train.steps == 0 and cfg.model.pooling == "max+last"


def test_config_built_in_code_is_checked():
    with pytest.raises(ValueError, match=r"TrainConfig\.steps: expected a value >= 0, got -1"):
        TrainConfig(steps=-1)
    with pytest.raises(
        ValueError, match=r"TrainConfig\.optimizer: expected one of 'adam', 'adamw', got 'sgd'"
    ):
        TrainConfig(optimizer="sgd")


def test_a_section_is_built_afresh_and_checked_for_every_config():
    @dataclasses.dataclass(frozen=True)
    class Cfg(RangeChecked):
        train: TrainConfig = section(TrainConfig, steps=7, lr=0.5)

    a, b = Cfg(), Cfg()
    assert a.train == TrainConfig(steps=7, lr=0.5) and a.train is not b.train
    assert to_dict(from_dict(Cfg, to_dict(a))) == to_dict(a)

    @dataclasses.dataclass(frozen=True)
    class Bad(RangeChecked):
        train: TrainConfig = section(TrainConfig, steps=-1)

    with pytest.raises(ValueError, match=r"TrainConfig\.steps: expected a value >= 0, got -1"):
        Bad()


def test_a_default_out_of_its_own_range_fails_at_definition():
    with pytest.raises(ValueError, match=r"default -1 is not >= 0"):

        @dataclasses.dataclass(frozen=True)
        class Bad(RangeChecked):
            n: int = ranged(-1, ge=0)


def test_a_toml_file_out_of_range_names_the_file_and_key(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text('task = "parity"\n[train]\nwarmup = -3\n')
    with pytest.raises(ValueError, match=r"c\.toml: train\.warmup: expected a value >= 0"):
        load_config(get_task("parity").config_type, path)


def test_cli_reports_an_out_of_range_setting_in_one_line(capsys):
    rc = cli.main(["config", "parity", "--set", "train.steps=-5"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err == "rnnlab: error: train.steps: expected a value >= 0, got -5\n"


@pytest.mark.parametrize("task", sorted(TASKS))
def test_rnnlab_config_prints_ranges_as_comments_and_stays_valid_toml(task, capsys):
    from rnnlab.training.config import tomllib  # tomli before Python 3.11

    assert cli.main(["config", task]) == 0
    out = capsys.readouterr().out
    data = tomllib.loads(out)
    assert data.pop("task") == task
    assert data == to_dict(get_task(task).config_type())  # the comments change nothing
    assert "batch_size = " in out and "# >= 1" in out
    assert "# one of 'adam', 'adamw'" in out
