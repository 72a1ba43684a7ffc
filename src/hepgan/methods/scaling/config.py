"""The scaling run config (``method: scaling``): sections and their checks.

The keys every method shares are those of :mod:`hepgan.runs`; this module adds the method's own.
"""

from __future__ import annotations

import dataclasses

from hepgan.config import check, choice
from hepgan.runs import DataConfig, TrainingConfig, run_config_class
from hepgan.samples.zgamma import DISCRETE, FEATURES

__all__ = ["ScalingRunConfig", "ScalingData", "ScalingModel", "ScalingTraining", "ScalingEvaluation", "METHOD"]

METHOD = "scaling"


@dataclasses.dataclass
class ScalingData(DataConfig):
    weight: str | None = None  # the WGAN learns unweighted events
    columns: list[str] = dataclasses.field(default_factory=lambda: list(FEATURES))
    discrete: list[str] = dataclasses.field(default_factory=lambda: list(DISCRETE))
    validation_fraction: float = 0.1
    test_fraction: float = 0.4  # held-out MC: the reference of the evaluation and of the worth of a generated event

    def validate(self, where: str) -> None:
        super().validate(where)
        check(len(self.columns) > 0 and len(set(self.columns)) == len(self.columns), f"{where}.columns", "distinct column names", self.columns)
        for c in self.discrete:
            check(c in self.columns, f"{where}.discrete", f"columns of {where}.columns", c)


@dataclasses.dataclass
class ScalingModel:
    scaling: str = "minmax"  # minmax (the seed's) | quantile
    latent_dim: int = 16
    g_hidden: list[int] = dataclasses.field(default_factory=lambda: [512, 1024, 512])
    d_hidden: list[int] = dataclasses.field(default_factory=lambda: [512, 512, 512])
    gp_lambda: float = 0.001  # the seed's; 10 in Gulrajani et al.
    betas: list[float] = dataclasses.field(default_factory=lambda: [0.0, 0.9])

    def validate(self, where: str) -> None:
        choice(self.scaling, ["minmax", "quantile"], f"{where}.scaling")
        check(self.latent_dim >= 1, f"{where}.latent_dim", "an integer >= 1", self.latent_dim)
        for name in ("g_hidden", "d_hidden"):
            v = getattr(self, name)
            check(len(v) > 0 and all(h >= 1 for h in v), f"{where}.{name}", "a non-empty list of positive widths", v)
        check(self.gp_lambda >= 0, f"{where}.gp_lambda", "a number >= 0", self.gp_lambda)
        check(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), f"{where}.betas", "two numbers in [0, 1)", self.betas)


@dataclasses.dataclass
class ScalingTraining(TrainingConfig):
    lr: float = 1e-4
    batch_size: int = 128
    n_critic: int = 5
    epochs: int = 100


@dataclasses.dataclass
class ScalingEvaluation:
    events: int = 200_000  # generated events compared with the held-out MC
    val_events: int = 10_000  # generated events per epoch (w1_val)
    worth_bins: int = 20  # quantile bins per feature of the worth-of-a-generated-event study
    figures: bool = True

    def validate(self, where: str) -> None:
        check(self.events >= 100, f"{where}.events", "an integer >= 100", self.events)
        check(self.val_events >= 100, f"{where}.val_events", "an integer >= 100", self.val_events)
        check(self.worth_bins >= 2, f"{where}.worth_bins", "an integer >= 2", self.worth_bins)


ScalingRunConfig = run_config_class(
    "ScalingRunConfig", METHOD, "A scaling run: ``method: scaling`` and its sections data, training, model, evaluation.",
    data=ScalingData, training=ScalingTraining, model=ScalingModel, evaluation=ScalingEvaluation,
)  # fmt: skip
