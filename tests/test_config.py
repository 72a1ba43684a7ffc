from __future__ import annotations

import dataclasses

import pytest

from hepgan.config import check, from_dict, to_dict
from hepgan.exceptions import ConfigError, SchemaError


@dataclasses.dataclass
class Inner:
    lr: float = 1e-3
    optimizer: str = "adam"

    def validate(self, where: str) -> None:
        check(self.lr > 0, f"{where}.lr", "a number > 0", self.lr)


@dataclasses.dataclass
class Outer:
    epochs: int = 10
    training: Inner = dataclasses.field(default_factory=Inner)
    columns: list[str] = dataclasses.field(default_factory=list)


def test_round_trip():
    cfg = from_dict(Outer, {"epochs": 3, "training": {"lr": 0.1}, "columns": ["a"]})
    assert cfg.training.lr == 0.1 and cfg.columns == ["a"]
    assert from_dict(Outer, to_dict(cfg)) == cfg


def test_unknown_key_is_named_with_suggestion():
    with pytest.raises(ConfigError, match=r"training\.lrr: unknown key \(did you mean 'lr'\?\)"):
        from_dict(Outer, {"training": {"lrr": 0.1}})


def test_wrong_type_and_range():
    with pytest.raises(ConfigError, match="epochs: expected an integer"):
        from_dict(Outer, {"epochs": "ten"})
    with pytest.raises(ConfigError, match=r"training\.lr: expected a number > 0, got -1.0"):
        from_dict(Outer, {"training": {"lr": -1}})


@pytest.mark.parametrize(
    ("text", "value"),
    [("1e-4", 1e-4), ("5E3", 5000.0), ("-2.5e+3", -2500.0), ("1.0e-4", 1e-4), ("3", 3), ("e5", "e5"), ("1e", "1e")],
)
def test_exponent_floats_without_a_dot_are_numbers(text, value):
    # PyYAML (YAML 1.1) reads 1e-4 as a string; configs and --set read it as the number
    from hepgan.config import yaml_load

    assert yaml_load(text) == value and type(yaml_load(text)) is type(value)


def test_set_accepts_exponent_without_dot(tmp_path):
    from hepgan.cli import parse_overrides
    from hepgan.config import load_yaml

    assert parse_overrides(["training.lr=1e-4"]) == {"training.lr": 1e-4}
    path = tmp_path / "c.yaml"
    path.write_text("training:\n  lr: 2e-4\n")
    assert load_yaml(path) == {"training": {"lr": 2e-4}}
    with pytest.raises(ConfigError, match=r"--set a=\[: the value is not valid YAML"):
        parse_overrides(["a=["])


def test_split_keeps_groups_whole():
    """data.group: every group (e.g. the K hadronisations of one parton-level event) lands in one split, the
    split sizes follow the fractions to within one group, and the same seed gives the same split."""
    import numpy as np
    import pandas as pd

    from hepgan.runs import DataConfig, split_events

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"parton_event": np.repeat(np.arange(500), rng.integers(1, 5, 500)), "x": 0.0})
    df["x"] = rng.normal(size=len(df))
    cfg = DataConfig(validation_fraction=0.2, test_fraction=0.2, group="parton_event")
    a, b = split_events(df, cfg), split_events(df, cfg)
    seen = [set(a[k]["parton_event"]) for k in ("train", "val", "test")]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    assert sum(len(a[k]) for k in a) == len(df)
    for k, f in (("val", 0.2), ("test", 0.2)):
        assert abs(len(a[k]) - f * len(df)) <= 4, (k, len(a[k]))
        pd.testing.assert_frame_equal(a[k], b[k])
    with pytest.raises(SchemaError, match=r"data\.group"):
        split_events(df, DataConfig(group="nope"))
