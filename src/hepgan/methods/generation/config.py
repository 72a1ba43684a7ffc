"""The event-generation run config (``method: generation``): sections and their checks.

The keys every method shares are those of :mod:`hepgan.runs`; this module adds the method's own.
"""

from __future__ import annotations

import dataclasses

from hepgan.config import check, choice
from hepgan.methods.generation.model import MOMENTUM_SUMS, TTBAR_MASSES, TTBAR_MMD_WIDTHS
from hepgan.runs import DataConfig, TrainingConfig, run_config_class
from hepgan.samples.ttbar import TTBAR_PARTONS, TTBAR_RESONANCES

__all__ = ["GenerationRunConfig", "GenerationData", "GenerationModel", "LossConfig", "GenerationTraining", "EvaluationConfig", "METHOD"]

METHOD = "generation"


@dataclasses.dataclass
class GenerationData(DataConfig):
    train: str = "ttbar.parquet"  # event table made by `hepgan sample ttbar`
    validation_fraction: float = 0.1
    test_fraction: float = 0.2  # held-out truth of the final evaluation

    def validate(self, where: str) -> None:
        super().validate(where)
        check(self.test_fraction > 0, f"{where}.test_fraction", "a number in (0, 1): the evaluation needs held-out truth", self.test_fraction)
        check(self.max_events is None or self.max_events >= 20, f"{where}.max_events", "an integer >= 20 or null", self.max_events)


@dataclasses.dataclass
class GenerationModel:
    particles: list[str] = dataclasses.field(default_factory=lambda: list(TTBAR_PARTONS))
    masses: list[float] = dataclasses.field(default_factory=lambda: list(TTBAR_MASSES))  # GeV, fixed external masses
    resonances: dict[str, list[int]] = dataclasses.field(default_factory=lambda: {k: list(v) for k, v in TTBAR_RESONANCES.items()})
    latent_dim: int = 18
    pt_balance: str = "learned"  # learned (the paper) | exact (projected onto sum pT = 0 by construction)
    g_hidden: list[int] = dataclasses.field(default_factory=lambda: [256, 256, 256])
    d_hidden: list[int] = dataclasses.field(default_factory=lambda: [128, 128, 128])
    dropout: float = 0.0

    def validate(self, where: str) -> None:
        check(len(self.particles) > 0 and len(set(self.particles)) == len(self.particles), f"{where}.particles",
              "distinct parton names", self.particles)  # fmt: skip
        check(len(self.masses) == len(self.particles) and all(m >= 0 for m in self.masses), f"{where}.masses",
              f"{len(self.particles)} masses >= 0 (GeV), one per particle", self.masses)  # fmt: skip
        for r, idx in self.resonances.items():
            ok = isinstance(idx, list) and len(idx) >= 2 and all(isinstance(i, int) and 0 <= i < len(self.particles) for i in idx)
            check(ok, f"{where}.resonances.{r}", f">= 2 particle indices in [0, {len(self.particles)})", idx)
        check(self.latent_dim >= 1, f"{where}.latent_dim", "an integer >= 1", self.latent_dim)
        choice(self.pt_balance, ["learned", "exact"], f"{where}.pt_balance")
        check(0 <= self.dropout < 1, f"{where}.dropout", "a number in [0, 1)", self.dropout)
        for name in ("g_hidden", "d_hidden"):
            v = getattr(self, name)
            check(len(v) > 0 and all(h >= 1 for h in v), f"{where}.{name}", "a non-empty list of positive widths", v)


@dataclasses.dataclass
class LossConfig:
    label_noise: float = 0.0
    roth_lambda: float = 1.0e-3  # lambda_D of the Roth et al. regulariser (0: off)
    mmd_lambda: float = 1.0  # weight of the MMD term (0: off)
    mmd_resonances: list[str] = dataclasses.field(default_factory=lambda: ["m_wp", "m_wm", "m_t", "m_tbar"])
    mmd_kernel: str = "breit_wigner"  # breit_wigner | gaussian
    mmd_widths: dict[str, list[float]] = dataclasses.field(default_factory=lambda: {k: list(v) for k, v in TTBAR_MMD_WIDTHS.items()})
    mmd_events: int | None = None  # events of each batch in the MMD term (null: the whole batch)

    def validate(self, where: str) -> None:
        check(0 <= self.label_noise < 0.5, f"{where}.label_noise", "a number in [0, 0.5)", self.label_noise)
        check(self.roth_lambda >= 0, f"{where}.roth_lambda", "a number >= 0", self.roth_lambda)
        check(self.mmd_lambda >= 0, f"{where}.mmd_lambda", "a number >= 0", self.mmd_lambda)
        choice(self.mmd_kernel, ["breit_wigner", "gaussian"], f"{where}.mmd_kernel")
        for r, ws in self.mmd_widths.items():
            ok = isinstance(ws, list) and len(ws) > 0 and all(isinstance(s, (int, float)) and not isinstance(s, bool) and s > 0 for s in ws)
            check(ok, f"{where}.mmd_widths.{r}", "a non-empty list of widths > 0 (GeV)", ws)
        if self.mmd_lambda > 0:
            for r in self.mmd_resonances:
                check(r in self.mmd_widths, f"{where}.mmd_widths", f"widths for every MMD resonance ({r} has none)", self.mmd_widths)
        check(self.mmd_events is None or self.mmd_events >= 2, f"{where}.mmd_events", "an integer >= 2 or null", self.mmd_events)


@dataclasses.dataclass
class GenerationTraining(TrainingConfig):
    optimizer: str = "adam"
    batch_size: int = 512


@dataclasses.dataclass
class EvaluationConfig:
    events: int = 50_000  # generated events of the final evaluation
    val_events: int = 20_000  # generated events per epoch (validation metrics)
    peak_window: float = 10.0  # GeV, half-width of the peak-width window
    baseline_run: str | None = None  # another run folder (e.g. without MMD) overlaid in the figures
    dcor_max_events: int = 20_000  # subsample of the distance-correlation matrices
    figures: bool = True  # false: numbers and sections only (figures later with hepgan report RUN_DIR)

    def validate(self, where: str) -> None:
        for name in ("events", "val_events", "dcor_max_events"):
            check(getattr(self, name) >= 100, f"{where}.{name}", "an integer >= 100", getattr(self, name))
        check(self.peak_window > 0, f"{where}.peak_window", "a number > 0 (GeV)", self.peak_window)


def _check_mmd_observables(cfg, where: str) -> None:
    known = [*cfg.model.resonances, *MOMENTUM_SUMS]
    for r in cfg.loss.mmd_resonances:
        check(r in known, "loss.mmd_resonances", f"resonances of model.resonances or momentum sums ({', '.join(known)})", r)


GenerationRunConfig = run_config_class(
    "GenerationRunConfig",
    METHOD,
    "An event-generation run: ``method: generation`` and its sections data, training, model, loss, evaluation.",
    validate=_check_mmd_observables,
    data=GenerationData,
    training=GenerationTraining,
    model=GenerationModel,
    loss=LossConfig,
    evaluation=EvaluationConfig,
)
