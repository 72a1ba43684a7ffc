"""The subtraction run config (``method: subtraction``): sections and their checks.

The keys every method shares are those of :mod:`hepgan.runs`; this module adds the method's own.
``model.labels`` is the seed's label table: input sample -> the generator components it is made of.
"""

from __future__ import annotations

import dataclasses

from hepgan.config import check, choice
from hepgan.runs import DataConfig, TrainingConfig, run_config_class
from hepgan.samples.toys import SUBTRACTION_TOYS

__all__ = [
    "SubtractionRunConfig",
    "SubtractionData",
    "SubtractionModel",
    "SubtractionLoss",
    "SubtractionTraining",
    "EnsembleConfig",
    "SubtractionEvaluation",
    "METHOD",
]

METHOD = "subtraction"


@dataclasses.dataclass
class SubtractionData(DataConfig):
    train: str = "toy"  # toy: the analytic toy samples of data.toy | files: the event files of data.samples
    toy: str = "subtraction"  # subtraction | addition | three (hepgan.samples.toys.SUBTRACTION_TOYS)
    toy_events: int = 100_000  # events per toy input sample
    toy_seed: int = 1
    toy_range: list[float] = dataclasses.field(default_factory=lambda: [1.0, 200.0])
    samples: dict[str, str] = dataclasses.field(default_factory=dict)  # train: files: input sample -> event file
    sigma: dict[str, float] = dataclasses.field(default_factory=dict)  # input sample -> cross section (default: toy integral / file metadata sigma_pb)
    truth: dict[str, str] = dataclasses.field(default_factory=dict)  # large event files per input sample: the truth of the output, binned
    columns: list[str] = dataclasses.field(default_factory=lambda: ["x"])
    validation_fraction: float = 0.2
    test_fraction: float = 0.0  # the evaluation compares with the truth, not with held-out inputs

    def validate(self, where: str) -> None:
        super().validate(where)
        choice(self.train, ["toy", "files"], f"{where}.train")
        choice(self.toy, list(SUBTRACTION_TOYS), f"{where}.toy")
        check(self.toy_events >= 20, f"{where}.toy_events", "an integer >= 20", self.toy_events)
        check(len(self.toy_range) == 2 and 0 < self.toy_range[0] < self.toy_range[1], f"{where}.toy_range", "[lo, hi] with 0 < lo < hi", self.toy_range)
        if self.train == "files":
            check(len(self.samples) > 0, f"{where}.samples", "a mapping input sample -> event file (data.train: files)", self.samples)
        for s, v in self.sigma.items():
            check(isinstance(v, float) and v > 0, f"{where}.sigma.{s}", "a cross section > 0", v)
        check(len(self.columns) > 0 and len(set(self.columns)) == len(self.columns), f"{where}.columns", "distinct column names", self.columns)


@dataclasses.dataclass
class SubtractionModel:
    components: list[str] = dataclasses.field(default_factory=lambda: ["B-S", "S"])
    labels: dict[str, list[str]] = dataclasses.field(default_factory=lambda: {"B": ["B-S", "S"], "S": ["S"]})  # the label table
    output: list[str] = dataclasses.field(default_factory=lambda: ["B-S"])
    ranges: dict[str, list[float]] = dataclasses.field(default_factory=dict)  # column -> [lo, hi]: generated inside
    log_columns: list[str] = dataclasses.field(default_factory=list)
    particles: list[str] | None = None  # massless particles whose px, py, pz are the columns (e.g. [ep, em])
    mass_column: str = "m_ee"  # with particles: the name of their invariant mass in output tables
    pt_balance: str = "learned"  # learned | exact (with particles)
    representation: str = "momenta"  # with particles: momenta (px, py, pz) | dilepton (log m, y, cos theta, phi of a pair at LO)
    latent_dim: int = 4
    g_hidden: list[int] = dataclasses.field(default_factory=lambda: [64, 64, 64])
    d_hidden: list[int] = dataclasses.field(default_factory=lambda: [64, 64, 64])

    def validate(self, where: str) -> None:
        check(len(self.components) > 0 and len(set(self.components)) == len(self.components), f"{where}.components", "distinct names", self.components)
        check(len(self.labels) > 0, f"{where}.labels", "a mapping input sample -> its components", self.labels)
        for s, parts in self.labels.items():
            ok = isinstance(parts, list) and len(parts) > 0 and all(p in self.components for p in parts)
            check(ok, f"{where}.labels.{s}", f"a non-empty list of components among {self.components}", parts)
        check(len(self.output) > 0 and all(p in self.components for p in self.output), f"{where}.output", f"components among {self.components}", self.output)
        choice(self.pt_balance, ["learned", "exact"], f"{where}.pt_balance")
        choice(self.representation, ["momenta", "dilepton"], f"{where}.representation")
        check(self.latent_dim >= 1, f"{where}.latent_dim", "an integer >= 1", self.latent_dim)
        for name in ("g_hidden", "d_hidden"):
            v = getattr(self, name)
            check(len(v) > 0 and all(h >= 1 for h in v), f"{where}.{name}", "a non-empty list of positive widths", v)


@dataclasses.dataclass
class SubtractionLoss:
    alpha: float = 10.0  # f(c) = exp(-alpha (max(c)^2 - 1)^(2 beta))
    beta: float = 1.0
    class_lambda: float = 1.0  # weight of L_class
    norm_lambda: float = 10.0  # weight of sum_i L_norm_i (1 let the S class die out in the toy)
    roth_lambda: float = 5.0e-5  # lambda_D of the Roth et al. regulariser on every discriminator
    mmd_lambda: float = 0.0  # with model.particles: MMD of the invariant mass, each sample vs the events of its classes
    mmd_widths: list[float] = dataclasses.field(default_factory=lambda: [2.5, 10.0, 50.0])  # GeV, a sum of kernels
    mmd_kernel: str = "breit_wigner"  # breit_wigner | gaussian

    def validate(self, where: str) -> None:
        check(self.alpha > 0, f"{where}.alpha", "a number > 0", self.alpha)
        check(self.mmd_lambda >= 0, f"{where}.mmd_lambda", "a number >= 0", self.mmd_lambda)
        check(len(self.mmd_widths) > 0 and all(w > 0 for w in self.mmd_widths), f"{where}.mmd_widths", "kernel widths > 0 (GeV)", self.mmd_widths)
        choice(self.mmd_kernel, ["breit_wigner", "gaussian"], f"{where}.mmd_kernel")
        check(self.beta > 0, f"{where}.beta", "a number > 0", self.beta)
        for name in ("class_lambda", "norm_lambda", "roth_lambda"):
            check(getattr(self, name) >= 0, f"{where}.{name}", "a number >= 0", getattr(self, name))


@dataclasses.dataclass
class SubtractionTraining(TrainingConfig):
    batch_size: int = 512
    n_critic: int = 2


@dataclasses.dataclass
class EnsembleConfig:
    members: int = 1  # K > 1: K generators trained at once (seeds training.seed + k); the band is their spread
    bootstrap: bool = True  # member 0 trains on the inputs, members 1..K-1 on bootstrap replicas of them (the band)
    centre: str = "first"  # the central histogram: first (member 0, the GAN of the inputs) | mean (of all members)

    def validate(self, where: str) -> None:
        check(1 <= self.members <= 256, f"{where}.members", "an integer in [1, 256]", self.members)
        choice(self.centre, ["first", "mean"], f"{where}.centre")
        check(not (self.bootstrap and self.members == 2), f"{where}.members",
              "1, or >= 3 with bootstrap (member 0 on the inputs and >= 2 replicas for the band)", self.members)  # fmt: skip


@dataclasses.dataclass
class SubtractionEvaluation:
    events: int = 1_000_000  # generated output events per member
    val_events: int = 20_000  # generated events per epoch (validation metric)
    bins: int = 40
    observables: list[str] = dataclasses.field(default_factory=lambda: ["x"])  # histogrammed columns of the output
    ranges: dict[str, list[float]] = dataclasses.field(default_factory=dict)  # observable -> [lo, hi] of its histogram
    log_bins: list[str] = dataclasses.field(default_factory=list)  # observables binned evenly in log
    fit_peak: bool = False  # fit a Breit-Wigner + constant to the output (the addition toy)
    figures: bool = True

    def validate(self, where: str) -> None:
        check(self.events >= 100, f"{where}.events", "an integer >= 100", self.events)
        check(self.val_events >= 100, f"{where}.val_events", "an integer >= 100", self.val_events)
        check(self.bins >= 2, f"{where}.bins", "an integer >= 2", self.bins)
        check(len(self.observables) > 0, f"{where}.observables", "a non-empty list", self.observables)
        for k, r in self.ranges.items():
            check(len(r) == 2 and r[0] < r[1], f"{where}.ranges.{k}", "[lo, hi] with lo < hi", r)


def _check_sections(cfg, where: str) -> None:
    d, m = cfg.data, cfg.model
    names = list(m.labels)
    if d.train == "files":
        check(sorted(d.samples) == sorted(names), "data.samples", f"one event file per input sample of model.labels ({', '.join(names)})", d.samples)
    else:
        toy = list(SUBTRACTION_TOYS[d.toy]["samples"])
        check(names == toy, "model.labels", f"the samples of the '{d.toy}' toy in its order ({', '.join(toy)})", names)
    for s in d.sigma:
        check(s in names, f"data.sigma.{s}", f"an input sample of model.labels ({', '.join(names)})", s)
    for s in d.truth:
        check(s in names, f"data.truth.{s}", f"an input sample of model.labels ({', '.join(names)})", s)
    check(cfg.loss.mmd_lambda == 0 or m.particles is not None, "loss.mmd_lambda", "0 without model.particles (the MMD compares their mass)",
          cfg.loss.mmd_lambda)  # fmt: skip
    for c in list(m.ranges) + m.log_columns:
        check(c in d.columns, "model.ranges / model.log_columns", f"columns of data.columns ({', '.join(d.columns)})", c)


SubtractionRunConfig = run_config_class(
    "SubtractionRunConfig", METHOD, "A subtraction run: ``method: subtraction`` and its sections data, training, model, loss, ensemble, evaluation.",
    validate=_check_sections, data=SubtractionData, training=SubtractionTraining, model=SubtractionModel, loss=SubtractionLoss,
    ensemble=EnsembleConfig, evaluation=SubtractionEvaluation,
)
