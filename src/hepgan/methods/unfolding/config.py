"""The unfolding run config (``method: unfolding``): sections and their checks.

The keys every method shares are those of :mod:`hepgan.runs`; this module adds the method's own.
"""

from __future__ import annotations

import dataclasses

from hepgan.config import check, choice
from hepgan.methods.unfolding.model import RESIDUAL_SPACES, UNFOLD_MODES, ZW_MASSES, ZW_MMD_WIDTHS
from hepgan.runs import DataConfig, TrainingConfig, run_config_class
from hepgan.samples.zw import DET_OBJECTS, PART_OBJECTS

__all__ = ["UnfoldingRunConfig", "UnfoldingData", "UnfoldingModel", "UnfoldingLoss", "UnfoldingTraining", "UnfoldingEvaluation", "OmniFoldConfig", "METHOD"]

METHOD = "unfolding"


@dataclasses.dataclass
class UnfoldingData(DataConfig):
    train: str = "zw.parquet"  # matched events made by `hepgan sample zw`
    injection: str | None = None  # W' events (`hepgan sample zw --process wprime`) unfolded by the SM-trained model
    validation_fraction: float = 0.1
    test_fraction: float = 0.2  # held-out detector events unfolded and compared with their parton events

    def validate(self, where: str) -> None:
        super().validate(where)
        check(self.test_fraction > 0, f"{where}.test_fraction", "a number in (0, 1): the evaluation needs held-out events", self.test_fraction)


@dataclasses.dataclass
class UnfoldingModel:
    mode: str = "fcgan"  # fcgan: G(detector, noise), D(parton, detector) | naive: G(detector), D(parton)
    detector: list[str] = dataclasses.field(default_factory=lambda: list(DET_OBJECTS))
    parton: list[str] = dataclasses.field(default_factory=lambda: list(PART_OBJECTS))
    masses: list[float] = dataclasses.field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])  # GeV, fixed parton masses
    resonances: dict[str, list[int]] = dataclasses.field(default_factory=lambda: {k: list(v) for k, v in ZW_MASSES.items()})
    latent_dim: int = 8
    residual: bool = True  # the generator corrects the detector momenta
    residual_space: str = "momentum"  # momentum: added to the three-momenta | response: pT scaled, eta and phi shifted per object
    d_response: bool = False  # the FCGAN's discriminator also sees the detector response (log pT ratio, delta eta, delta phi) of the pair
    g_hidden: list[int] = dataclasses.field(default_factory=lambda: [256, 256, 256])
    d_hidden: list[int] = dataclasses.field(default_factory=lambda: [256, 256, 256])

    def validate(self, where: str) -> None:
        choice(self.mode, list(UNFOLD_MODES), f"{where}.mode")
        check(len(self.parton) > 0 and len(self.detector) == len(self.parton), f"{where}.detector",
              f"as many detector objects as parton objects ({len(self.parton)})", self.detector)  # fmt: skip
        check(len(self.masses) == len(self.parton) and all(m >= 0 for m in self.masses), f"{where}.masses",
              f"{len(self.parton)} masses >= 0 (GeV)", self.masses)  # fmt: skip
        for r, idx in self.resonances.items():
            ok = isinstance(idx, list) and len(idx) >= 2 and all(isinstance(i, int) and 0 <= i < len(self.parton) for i in idx)
            check(ok, f"{where}.resonances.{r}", f">= 2 object indices in [0, {len(self.parton)})", idx)
        check(self.latent_dim >= 1, f"{where}.latent_dim", "an integer >= 1", self.latent_dim)
        choice(self.residual_space, list(RESIDUAL_SPACES), f"{where}.residual_space")
        check(self.residual or self.residual_space == "momentum", f"{where}.residual_space", "'momentum' when residual is false", self.residual_space)
        for name in ("g_hidden", "d_hidden"):
            v = getattr(self, name)
            check(len(v) > 0 and all(h >= 1 for h in v), f"{where}.{name}", "a non-empty list of positive widths", v)


@dataclasses.dataclass
class UnfoldingLoss:
    roth_lambda: float = 1.0e-3  # lambda_D of the paper's table
    mmd_lambda: float = 1.0  # lambda_G of the paper's table: the MMD term on mmd_masses
    energy_lambda: float = 0.0  # FCGAN: weight of the energy score of the response (a proper scoring rule: calibrates the posterior)
    energy_per: str = "event"  # event: one score of the whole response | component: the sum of the scores of its components
    mmd_masses: list[str] = dataclasses.field(default_factory=lambda: ["m_jj", "m_ll"])
    mmd_kernel: str = "breit_wigner"
    mmd_widths: dict[str, list[float]] = dataclasses.field(default_factory=lambda: {k: list(v) for k, v in ZW_MMD_WIDTHS.items()})

    def validate(self, where: str) -> None:
        check(self.roth_lambda >= 0, f"{where}.roth_lambda", "a number >= 0", self.roth_lambda)
        check(self.mmd_lambda >= 0, f"{where}.mmd_lambda", "a number >= 0", self.mmd_lambda)
        check(self.energy_lambda >= 0, f"{where}.energy_lambda", "a number >= 0", self.energy_lambda)
        choice(self.energy_per, ["event", "component"], f"{where}.energy_per")
        choice(self.mmd_kernel, ["breit_wigner", "gaussian"], f"{where}.mmd_kernel")
        if self.mmd_lambda > 0:
            for r in self.mmd_masses:
                ws = self.mmd_widths.get(r)
                check(isinstance(ws, list) and len(ws) > 0 and all(isinstance(s, (int, float)) and s > 0 for s in ws),
                      f"{where}.mmd_widths.{r}", "a non-empty list of widths > 0 (GeV)", ws)  # fmt: skip


@dataclasses.dataclass
class UnfoldingTraining(TrainingConfig):
    batch_size: int = 512


@dataclasses.dataclass
class OmniFoldConfig:
    enabled: bool = True  # OmniFold (scikit-learn gradient boosting) on the same events, in the same report
    iterations: int = 3
    max_iter: int = 100  # boosting iterations of each classifier
    max_events: int = 100_000  # simulation events used (subsampled)

    def validate(self, where: str) -> None:
        check(1 <= self.iterations <= 50, f"{where}.iterations", "an integer in [1, 50]", self.iterations)
        check(self.max_iter >= 1, f"{where}.max_iter", "an integer >= 1", self.max_iter)
        check(self.max_events >= 100, f"{where}.max_events", "an integer >= 100", self.max_events)


@dataclasses.dataclass
class UnfoldingEvaluation:
    k: int = 50  # parton events per held-out detector event (posterior samples; the calibration)
    calibration_events: int = 5_000  # held-out events of the calibration (pulls, coverage)
    val_events: int = 10_000  # validation events unfolded per epoch (w1_val)
    bins: int = 40
    slices: list[str] = dataclasses.field(default_factory=lambda: ["eq7", "eq8", "eq12", "eq13"])  # the paper's detector-level slices
    peak_window: float = 150.0  # GeV, half-width of the W' peak window around the truth's median m_zw
    classifier_max_events: int = 20_000
    figures: bool = True
    omnifold: OmniFoldConfig = dataclasses.field(default_factory=OmniFoldConfig)

    def validate(self, where: str) -> None:
        from hepgan.methods.unfolding.evaluate import SLICES

        check(self.k >= 2, f"{where}.k", "an integer >= 2 (posterior samples per event)", self.k)
        for name in ("calibration_events", "val_events", "classifier_max_events"):
            check(getattr(self, name) >= 100, f"{where}.{name}", "an integer >= 100", getattr(self, name))
        check(self.bins >= 2, f"{where}.bins", "an integer >= 2", self.bins)
        for s in self.slices:
            choice(s, list(SLICES), f"{where}.slices")
        check(self.peak_window > 0, f"{where}.peak_window", "a number > 0 (GeV)", self.peak_window)
        self.omnifold.validate(f"{where}.omnifold")


def _check_sections(cfg, where: str) -> None:
    for r in cfg.loss.mmd_masses:
        check(r in cfg.model.resonances, "loss.mmd_masses", f"masses of model.resonances ({', '.join(cfg.model.resonances)})", r)


UnfoldingRunConfig = run_config_class(
    "UnfoldingRunConfig", METHOD, "An unfolding run: ``method: unfolding`` and its sections data, training, model, loss, evaluation.",
    validate=_check_sections, data=UnfoldingData, training=UnfoldingTraining, model=UnfoldingModel, loss=UnfoldingLoss,
    evaluation=UnfoldingEvaluation,
)  # fmt: skip
