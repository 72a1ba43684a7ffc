from __future__ import annotations

import dataclasses

import pytest

from hepgan.config import check, from_dict, to_dict
from hepgan.exceptions import ConfigError


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
