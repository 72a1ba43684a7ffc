"""The background-estimation run config (``method: background``): sections and their checks.

The keys every method shares (``data.train``, ``data.weight``, the split, ``training.lr``, ...)
are those of :mod:`hepgan.runs`; this module adds the method's own.
"""

from __future__ import annotations

import dataclasses

from hepgan.config import check, choice
from hepgan.methods.background.model import FEATURE_SETS, X_OBJECT
from hepgan.runs import DataConfig, TrainingConfig, run_config_class

__all__ = ["BackgroundRunConfig", "BackgroundData", "BackgroundModel", "BackgroundTraining", "MetricConfig", "ApplyConfig", "METHOD"]

METHOD = "background"


@dataclasses.dataclass
class BackgroundData(DataConfig):
    train: str = "default"  # event table with SR and CR events; "default" = the shipped gjets sample
    x_columns: list[str] = dataclasses.field(default_factory=lambda: list(X_OBJECT))
    feature_set: str = "full"  # vanilla | partial | full (seed 002, section 3.1); ignored if c_columns given
    c_columns: list[str] | None = None
    discrete_columns: list[str] = dataclasses.field(default_factory=lambda: ["n_jets", "n_vtx"])
    region_column: str = "region"  # 1 = SR, 0 = CR

    def validate(self, where: str) -> None:
        super().validate(where)
        choice(self.feature_set, FEATURE_SETS, f"{where}.feature_set")

    @property
    def conditions(self) -> list[str]:
        return list(self.c_columns) if self.c_columns is not None else list(FEATURE_SETS[self.feature_set])


@dataclasses.dataclass
class BackgroundModel:
    arch: str = "mlp"  # mlp | conv (the paper's networks) | flow (the conditional neural spline flow baseline)
    latent_dim: int = 32
    g_hidden: list[int] = dataclasses.field(default_factory=lambda: [512, 512, 512])
    d_hidden: list[int] = dataclasses.field(default_factory=lambda: [256, 256, 256])
    dropout: float = 0.2
    n_quantiles: int = 1000
    flow_transforms: int = 4  # arch flow: autoregressive spline transforms (hypernetwork widths: g_hidden)
    flow_bins: int = 8  # arch flow: spline bins

    def validate(self, where: str) -> None:
        choice(self.arch, ["mlp", "conv", "flow"], f"{where}.arch")
        check(self.flow_transforms >= 1, f"{where}.flow_transforms", "an integer >= 1", self.flow_transforms)
        check(self.flow_bins >= 1, f"{where}.flow_bins", "an integer >= 1", self.flow_bins)
        check(self.latent_dim >= 1, f"{where}.latent_dim", "an integer >= 1", self.latent_dim)
        check(0 <= self.dropout < 1, f"{where}.dropout", "a number in [0, 1)", self.dropout)
        check(self.n_quantiles >= 2, f"{where}.n_quantiles", "an integer >= 2", self.n_quantiles)
        for name in ("g_hidden", "d_hidden"):
            v = getattr(self, name)
            check(len(v) > 0 and all(h >= 1 for h in v), f"{where}.{name}", "a non-empty list of positive widths", v)


@dataclasses.dataclass
class BackgroundTraining(TrainingConfig):
    optimizer: str = "lamb"
    batch_size: int = 1024
    label_noise: float = 0.15  # eps of eq. (1)'s label noise
    flatten_column: str | None = None  # a condition whose weighted spectrum the training losses flatten (null: off)
    flatten_bins: int = 20  # quantile bins of flatten_column
    r1_gamma: float = 0.0  # R1 gradient penalty on real events (0: off)
    r2_gamma: float = 0.0  # R2 gradient penalty on generated events (0: off)

    def validate(self, where: str) -> None:
        super().validate(where)
        check(0 <= self.label_noise < 0.5, f"{where}.label_noise", "a number in [0, 0.5)", self.label_noise)
        check(self.flatten_bins >= 1, f"{where}.flatten_bins", "an integer >= 1", self.flatten_bins)
        check(self.r1_gamma >= 0 and self.r2_gamma >= 0, f"{where}.r1_gamma", "penalty weights >= 0", (self.r1_gamma, self.r2_gamma))


@dataclasses.dataclass
class MetricConfig:
    columns: list[str] = dataclasses.field(default_factory=lambda: ["pho2_pt", "pho2_eta", "pho2_id", "ptgg_over_mgg"])
    bins: int = 10
    k_epoch: int = 10  # generated objects per event, per-epoch check
    k_final: int = 100  # generated objects per event, final evaluation
    events: int = 10_000  # events of train and validation used per epoch

    def validate(self, where: str) -> None:
        check(len(self.columns) > 0, f"{where}.columns", "at least one column", self.columns)
        check(2 <= self.bins <= 100, f"{where}.bins", "an integer in [2, 100]", self.bins)
        check(self.bins ** len(self.columns) <= 10**8, f"{where}.bins", "bins**len(columns) <= 1e8", self.bins)
        for name in ("k_epoch", "k_final", "events"):
            check(getattr(self, name) >= 1, f"{where}.{name}", "an integer >= 1", getattr(self, name))


@dataclasses.dataclass
class ApplyConfig:
    k: int = 1  # generated objects per CR event (weight w/k each)

    def validate(self, where: str) -> None:
        check(self.k >= 1, f"{where}.k", "an integer >= 1", self.k)


BackgroundRunConfig = run_config_class(
    "BackgroundRunConfig",
    METHOD,
    "A background-estimation run: ``method: background`` and its sections data, training, model, metric, apply.",
    data=BackgroundData,
    training=BackgroundTraining,
    model=BackgroundModel,
    metric=MetricConfig,
    apply=ApplyConfig,
)
