from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rnnlab.training.config import apply_overrides, from_dict, load_config, save_config, to_dict
from rnnlab.training.loop import TrainConfig


@dataclass(frozen=True)
class Model:
    hidden: int = 8
    cell: str = "gru"
    dropout: float = 0.0
    sizes: tuple[int, ...] = (1, 2)
    bidirectional: bool = False


@dataclass(frozen=True)
class Cfg:
    name: str = "x"
    model: Model = field(default_factory=Model)
    train: TrainConfig = field(default_factory=TrainConfig)
    pretrained: str = ""


def test_overrides_nested_and_typed():
    cfg = apply_overrides(
        Cfg(),
        [
            "model.hidden=32",
            "train.lr=0.01",
            "model.cell=lstm",
            "model.sizes=[3, 4]",
            "model.bidirectional=true",
            "model.dropout=1",
            "pretrained=runs/lm",
        ],
    )
    assert cfg.model.hidden == 32 and cfg.train.lr == 0.01 and cfg.model.cell == "lstm"
    assert cfg.model.sizes == (3, 4) and cfg.model.bidirectional is True
    assert isinstance(cfg.model.dropout, float) and cfg.model.dropout == 1.0
    assert cfg.pretrained == "runs/lm"
    assert Cfg().model.hidden == 8  # the original is untouched (frozen)


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("model.hiden=3", ["model.hiden", "hidden"]),
        ("nope=1", ["nope"]),
        ("model.hidden=abc", ["model.hidden", "integer", "abc"]),
        ("model.hidden=1.5", ["model.hidden", "integer"]),
        ("train.lr=fast", ["train.lr", "number"]),
        ("model.bidirectional=1", ["model.bidirectional", "true or false"]),
        ("model.hidden.x=1", ["no sub-settings"]),
        ("model.hidden", ["key=value"]),
    ],
)
def test_bad_overrides_name_the_key(override, words):
    with pytest.raises(ValueError) as err:
        apply_overrides(Cfg(), [override])
    for w in words:
        assert w in str(err.value)


def test_toml_round_trip(tmp_path: Path):
    cfg = apply_overrides(Cfg(), ["model.hidden=5", "train.steps=7"])
    save_config(cfg, tmp_path / "c.toml", task="demo")
    text = (tmp_path / "c.toml").read_text()
    assert 'task = "demo"' in text and "hidden = 5" in text
    assert load_config(Cfg, tmp_path / "c.toml") == cfg


def test_from_dict_rejects_unknown_keys_with_file(tmp_path: Path):
    (tmp_path / "c.toml").write_text("[model]\nhidden = 3\nwidth = 4\n")
    with pytest.raises(ValueError, match=r"c.toml.*model.width"):
        load_config(Cfg, tmp_path / "c.toml")
    with pytest.raises(FileNotFoundError):
        load_config(Cfg, tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[model\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_config(Cfg, tmp_path / "bad.toml")


def test_to_dict_is_plain():
    d = to_dict(Cfg())
    assert d["model"]["sizes"] == [1, 2]
    assert from_dict(Cfg, d) == Cfg()


def test_preset_path_finds_a_tasks_preset_and_names_them_when_it_cannot(tmp_path):
    from rnnlab.tasks.pos.task import Config as PosConfig
    from rnnlab.training.config import load_config, preset_path

    path = preset_path("pos", "batch32")
    assert path.name == "pos-batch32.toml"
    cfg = load_config(PosConfig, path)
    assert (cfg.train.batch_size, cfg.train.steps) == (32, 6000)  # what the file says
    assert cfg.train.batch_size != PosConfig().train.batch_size  # so not the default
    own = tmp_path / "mine.toml"
    own.write_text("[train]\nsteps = 7\n")
    assert preset_path("pos", str(own)) == own  # a file path wins
    with pytest.raises(FileNotFoundError, match=r"no preset .* for pos \(presets: .*batch32"):
        preset_path("pos", "nope")


def test_config_from_applies_the_overrides_on_top_of_the_preset_or_the_defaults():
    from rnnlab.tasks.pos.task import Config as PosConfig
    from rnnlab.training.config import config_from

    cfg = config_from(PosConfig, "pos", "batch32", ["train.steps=7"])
    assert (cfg.train.batch_size, cfg.train.steps) == (32, 7)  # the preset's batch, our steps
    assert config_from(PosConfig, "pos", "", []) == PosConfig()
    with pytest.raises(ValueError, match=r"train\.nope"):
        config_from(PosConfig, "pos", "batch32", ["train.nope=1"])
