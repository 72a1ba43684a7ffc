r"""Event generation with a GAN and an MMD term for resonances (Butter, Plehn, Winterhalder, arXiv:1907.03764).

A generator maps latent noise :math:`z \sim N(0, 1)` to the three-momenta of P final
partons; their energies follow from fixed external masses (on-shell construction,
:func:`hepgan.kinematics.on_shell`), so every generated parton is exactly on its mass
shell. The discriminator sees the four-momenta. Losses:

* discriminator: BCE (optionally with label noise) plus the Roth et al. regulariser
  (arXiv:1705.09367; seed 003, eq. 2), :math:`L_D + \lambda_D\,\Omega`, with the gradient
  of the logit taken with respect to the discriminator's (standardised) inputs;
* generator: non-saturating BCE plus :math:`\lambda_\text{MMD}\,\mathrm{MMD}^2` between the
  invariant masses of chosen resonances (for top pairs ``m_wp, m_wm, m_t, m_tbar``) of the
  generated batch and of the true batch, with a Gaussian or Breit-Wigner kernel of chosen
  widths (:func:`hepgan.losses.mmd2`). The MMD needs no knowledge of the masses or widths.
  The MMD observables may also include ``sum_px`` and ``sum_py``, the components of the
  event's total transverse momentum (a sharp feature too: zero in every true hard-process
  event). They are off by default, as in the paper, where the discriminator alone teaches
  the generator momentum conservation.

Event weights of the training sample enter the true-event terms (BCE, regulariser and
MMD) as weighted means; generated events are unweighted.

Preprocessing: each three-momentum component is standardised with the mean and standard
deviation of the training sample (the generator's linear output is in these units); the
discriminator's inputs, the on-shell four-momenta, are standardised the same way. True
events go through the same on-shell construction as generated ones (their three-momenta
with the model's masses), so the discriminator cannot tell them apart by the parton
masses (Pythia gives c quarks 1.5 GeV, u/d 0.33 GeV; the model uses one mass per parton).

Training runs in the shared loop (:class:`hepgan.training.loop.AdversarialTrainer`): one
epoch is one pass over the training events; each epoch the generator is evaluated on a
validation sample with fixed latent noise, and the kept model is the epoch with the lowest
``metric_val`` (the mean over per-parton pT, eta, phi and the resonance masses of the
Wasserstein-1 distance divided by the true interquartile range).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from hepgan.estimator import Estimator, check_choice, check_int, check_number, current_device, seed_from
from hepgan.exceptions import ConfigError, SchemaError
from hepgan.kinematics import event_table, invariant_mass, on_shell, pt_balance, pt_eta_phi, table_to_momenta
from hepgan.metrics.distances import weighted_quantile
from hepgan.samples.ttbar import TTBAR_PARTONS, TTBAR_RESONANCES
from hepgan.training.device import resolve_device
from hepgan.training.record import Selection
from hepgan.training.task import AdversarialTask, Sample

__all__ = [
    "EventGAN",
    "EventGANTask",
    "MOMENTUM_SUMS",
    "TTBAR_MASSES",
    "TTBAR_MMD_WIDTHS",
    "MODEL_FORMAT_VERSION",
    "SELECTION",
    "peak_width",
]

log = logging.getLogger("hepgan")
MODEL_FORMAT_VERSION = 1
#: The kept epoch: the lowest mean W1/IQR of the validation observables.
SELECTION = Selection("w1_val", "min", "mean W1/IQR")

#: Fixed external masses of the six top-pair partons (GeV): b quarks at Pythia's 4.8, light quarks massless.
TTBAR_MASSES: tuple[float, ...] = (4.8, 0.0, 0.0, 4.8, 0.0, 0.0)
#: Breit-Wigner kernel widths (GeV) per MMD resonance: of the order of the physical widths
#: (Pythia: Gamma_W = 2.09, Gamma_t = 1.36 GeV), as suggested in arXiv:1907.03764.
TTBAR_MMD_WIDTHS: dict[str, tuple[float, ...]] = {"m_wp": (2.0,), "m_wm": (2.0,), "m_t": (1.5,), "m_tbar": (1.5,)}
#: MMD observables besides the resonance masses: the event's total px and py (GeV), by component index.
MOMENTUM_SUMS: dict[str, int] = {"sum_px": 0, "sum_py": 1}


def peak_width(m: np.ndarray, w: np.ndarray | None = None, centre: float | None = None, window: float = 10.0) -> dict[str, float]:
    r"""Width of a resonance peak: half the interquartile range of the masses inside a window.

    The window is ``centre +- window`` (centre: the weighted median of ``m`` unless given,
    e.g. the truth's median so that truth and generated are measured in the same window).
    For a Breit-Wigner of width :math:`\Gamma` and a window much wider than it, the half
    interquartile range is :math:`\Gamma / 2` (0.94 GeV for the W in a +-10 GeV window).

    Returns:
        centre, half_iqr (GeV), median (inside the window) and fraction (weighted share of
        events inside the window).
    """
    m = np.asarray(m, dtype=np.float64)
    w = np.ones(len(m)) if w is None else np.asarray(w, dtype=np.float64)
    if centre is None:
        centre = float(weighted_quantile(m, [0.5], w)[0])
    inside = np.abs(m - centre) <= window
    if not inside.any():
        return {"centre": centre, "half_iqr": float("nan"), "median": float("nan"), "fraction": 0.0}
    q25, q50, q75 = weighted_quantile(m[inside], [0.25, 0.5, 0.75], w[inside])
    return {"centre": float(centre), "half_iqr": float(q75 - q25) / 2, "median": float(q50),
            "fraction": float(w[inside].sum() / w.sum())}  # fmt: skip


class _Discriminator(nn.Module):
    """MLP on the standardised four-momenta, returning logits (N,)."""

    def __init__(self, n_in: int, hidden: Sequence[int], dropout: float):
        super().__init__()
        from hepgan.nn import MLP

        self.net = MLP(n_in, 1, hidden, dropout=dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)


class EventGANTask(AdversarialTask):
    """The event GAN's training task: discriminator ``n_critic`` times, then generator, on the sample "train".

    The discriminator's loss is BCE plus the Roth regulariser (logged as ``roth_train``); the
    generator's is BCE plus the MMD term (logged as ``mmd_train``). Every random number of an
    update (latent noise, label noise) is drawn by the step's noise function.
    """

    def __init__(self, model: EventGAN, g: nn.Module, d: nn.Module, val: Callable[[int], dict[str, float]] | None):
        super().__init__(g, d, model.n_critic, *model._optimizer_specs(), validate=val)
        self.model = model

    def _fake(self, z: Tensor) -> tuple[Tensor, Tensor]:
        p4 = self.model._p4_from_net(self.networks["g"](z))
        return self.model._d_input(p4), self.model._mmd_masses(p4)

    def _z(self, like: Tensor, gen: torch.Generator) -> Tensor:
        return torch.randn(len(like), self.model.latent_dim, generator=gen, device=like.device, dtype=like.dtype)

    def d_noise(self, batch, gen: torch.Generator) -> dict[str, Tensor]:
        from hepgan.losses import noisy_labels

        x = batch["train"]["x4"]
        z = self._z(x, gen)
        l_real, l_fake = noisy_labels(len(x), len(x), self.model.label_noise, gen, dtype=x.dtype, device=x.device)
        return {"z": z, "l_real": l_real, "l_fake": l_fake}

    def g_noise(self, batch, gen: torch.Generator) -> dict[str, Tensor]:
        return {"z": self._z(batch["train"]["x4"], gen)}

    def d_loss(self, batch, noise: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        from hepgan.losses import discriminator_bce, roth_penalty

        m, d, b = self.model, self.networks["d"], batch["train"]
        w = b.get("w")
        labels = (noise["l_real"], noise["l_fake"])
        with torch.no_grad():
            x_fake, _ = self._fake(noise["z"])
        if m.roth_lambda > 0:
            omega, logit_real, logit_fake = roth_penalty(lambda c, x: d(x), None, b["x4"], None, x_fake, w_real=w)
            loss = discriminator_bce(logit_real, logit_fake, eps=m.label_noise, w_real=w, labels=labels) + m.roth_lambda * omega
            return loss, {"roth_train": omega}
        return discriminator_bce(d(b["x4"]), d(x_fake), eps=m.label_noise, w_real=w, labels=labels), {}

    def g_loss(self, batch, noise: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        from hepgan.losses import generator_bce, mmd2

        m, b = self.model, batch["train"]
        x_fake, m_fake = self._fake(noise["z"])
        loss = generator_bce(self.networks["d"](x_fake))
        if m.mmd_lambda > 0 and m.mmd_resonances:
            k = len(m_fake) if m.mmd_events is None else min(m.mmd_events, len(m_fake))
            w = b.get("w")
            term = mmd2(b["m"][:k], m_fake[:k], [m.mmd_widths[r] for r in m.mmd_resonances], m.mmd_kernel,
                        w_x=None if w is None else w[:k])  # fmt: skip
            return loss + m.mmd_lambda * term, {"mmd_train": term}
        return loss, {}


class EventGAN(Estimator):
    """GAN for unweighted events of P partons with fixed masses, with an MMD term on resonance masses.

    Args:
        particles: parton names (column prefixes); default the six top-pair partons.
        masses: their fixed masses in GeV (P numbers).
        resonances: resonance mass column -> indices of its decay partons (evaluated and
            available to the MMD term).
        latent_dim: size of z (18 in arXiv:1907.03764: one number per phase-space dimension).
        pt_balance: "learned" (the paper: the network learns transverse-momentum conservation) or
            "exact" (the generated transverse momenta are projected onto sum_i pT_i = 0, each parton
            shifted by -1/P of the imbalance: conserved by construction, like the masses).
        g_hidden, d_hidden: hidden widths of the generator and discriminator MLPs (LeakyReLU 0.2).
        dropout: discriminator dropout.
        label_noise: eps of the BCE label noise (0: hard labels).
        roth_lambda: weight lambda_D of the Roth et al. regulariser (0: off).
        mmd_lambda: weight of the MMD term (0: off, a plain GAN).
        mmd_resonances: the observables of the MMD term: resonance masses, and optionally
            ``sum_px`` / ``sum_py`` (the event's total transverse momentum components).
        mmd_kernel: "breit_wigner" or "gaussian".
        mmd_widths: resonance -> kernel widths in GeV (several widths: a sum of kernels).
        mmd_events: events of each batch in the MMD term (None: the whole batch; O(B^2) cost).
        val_events: generated events per epoch for the validation metrics.
        peak_window: half-width (GeV) of the window of the peak-width measurement.
        **training: the training hyperparameters of :data:`hepgan.estimator.TRAINING_DEFAULTS`
            (optimizer, lr, lr_d, epochs, batch_size, n_critic, seed, device, checkpoint_every,
            progress, step).

    Example:
        >>> gan = EventGAN(latent_dim=4, g_hidden=(16,), d_hidden=(16,), mmd_lambda=0.0)
        >>> gan.n_particles
        6
    """

    format: ClassVar[str] = "hepgan.EventGAN"
    format_version: ClassVar[int] = MODEL_FORMAT_VERSION
    kept: ClassVar[dict[str, str]] = {"generator": "g"}
    _repr_params: ClassVar[tuple[str, ...]] = ("particles", "masses", "latent_dim", "pt_balance", "mmd_lambda", "mmd_kernel")

    def __init__(
        self,
        particles: Sequence[str] = TTBAR_PARTONS,
        masses: Sequence[float] = TTBAR_MASSES,
        resonances: Mapping[str, Sequence[int]] = TTBAR_RESONANCES,
        latent_dim: int = 18,
        pt_balance: str = "learned",
        g_hidden: Sequence[int] = (256, 256, 256, 256),
        d_hidden: Sequence[int] = (256, 256, 256, 256),
        dropout: float = 0.0,
        label_noise: float = 0.0,
        roth_lambda: float = 1e-3,
        mmd_lambda: float = 1.0,
        mmd_resonances: Sequence[str] = ("m_wp", "m_wm", "m_t", "m_tbar"),
        mmd_kernel: str = "breit_wigner",
        mmd_widths: Mapping[str, Sequence[float]] = TTBAR_MMD_WIDTHS,
        mmd_events: int | None = None,
        val_events: int = 20_000,
        peak_window: float = 10.0,
        **training: Any,
    ):
        self._store_params(locals())
        self.particles = list(particles)
        self.masses = [float(m) for m in masses]
        self.resonances = {str(k): [int(i) for i in v] for k, v in resonances.items()}
        self.g_hidden, self.d_hidden = list(g_hidden), list(d_hidden)
        self.mmd_resonances = list(mmd_resonances)
        self.mmd_widths = {str(k): [float(s) for s in (v if isinstance(v, (list, tuple)) else [v])] for k, v in mmd_widths.items()}

    # ------------------------------------------------------------------ helpers
    def _validate_params(self) -> None:
        from hepgan.losses import MMD_KERNELS

        super()._validate_params()
        p = len(self.particles)
        if p < 1 or len(set(self.particles)) != p:
            raise ConfigError(f"particles: expected distinct names, got {self.particles}")
        if len(self.masses) != p or any(not (m >= 0 and np.isfinite(m)) for m in self.masses):
            raise ConfigError(f"masses: expected {p} masses >= 0 (GeV), one per particle, got {self.masses}")
        for r, idx in self.resonances.items():
            if len(idx) < 2 or any(not 0 <= i < p for i in idx) or len(set(idx)) != len(idx):
                raise ConfigError(f"resonances.{r}: expected >= 2 distinct particle indices in [0, {p}), got {idx}")
        for name in ("latent_dim", "val_events"):
            check_int(name, getattr(self, name))
        check_number("label_noise", self.label_noise, 0.0, 0.5)
        for name in ("roth_lambda", "mmd_lambda"):
            check_number(name, getattr(self, name), 0.0)
        check_choice("pt_balance", self.pt_balance, ("learned", "exact"))
        check_choice("mmd_kernel", self.mmd_kernel, tuple(MMD_KERNELS))
        for r in self.mmd_resonances:
            if r not in self.resonances and r not in MOMENTUM_SUMS:
                raise ConfigError(f"mmd_resonances: '{r}' is not a resonance or momentum sum (known: {', '.join([*self.resonances, *MOMENTUM_SUMS])})")
            if self.mmd_lambda > 0:
                ws = self.mmd_widths.get(r)
                if not ws or any(not (s > 0 and np.isfinite(s)) for s in ws):
                    raise ConfigError(f"mmd_widths.{r}: expected kernel widths > 0 (GeV), got {ws!r}")
        if self.mmd_events is not None:
            check_int("mmd_events", self.mmd_events, 2)
        check_number("peak_window", self.peak_window, 0.0, low_open=True)

    @property
    def n_particles(self) -> int:
        return len(self.particles)

    def _build_networks(self) -> dict[str, nn.Module]:
        from hepgan.nn import MLP, init_parameters

        g = MLP(self.latent_dim, 3 * self.n_particles, self.g_hidden)
        d = _Discriminator(4 * self.n_particles, self.d_hidden, self.dropout)
        gen = torch.Generator().manual_seed(seed_from(self.seed, 1))
        init_parameters(g, gen)
        init_parameters(d, gen)
        return {"g": g, "d": d}

    def _buffers(self, device: torch.device) -> None:
        f = torch.float32
        self._t = {
            "p3_mean": torch.as_tensor(self.p3_mean_, dtype=f, device=device),
            "p3_std": torch.as_tensor(self.p3_std_, dtype=f, device=device),
            "p4_mean": torch.as_tensor(self.p4_mean_, dtype=f, device=device),
            "p4_std": torch.as_tensor(self.p4_std_, dtype=f, device=device),
            "masses": torch.as_tensor(self.masses, dtype=f, device=device),
        }

    def _p4_from_net(self, u: Tensor) -> Tensor:
        """(N, 3P) standardised generator output -> (N, P, 4) on-shell four-momenta in GeV."""
        t = {k: v.to(u.dtype) for k, v in self._t.items()}
        p3 = (u * t["p3_std"] + t["p3_mean"]).view(len(u), self.n_particles, 3)
        if self.pt_balance == "exact":
            # project onto sum_i pT_i = 0: every parton gives up an equal share of the imbalance
            p3 = torch.cat([p3[..., :2] - p3[..., :2].mean(dim=1, keepdim=True), p3[..., 2:]], dim=-1)
        return on_shell(p3, t["masses"])

    def _d_input(self, p4: Tensor) -> Tensor:
        return (p4.flatten(1) - self._t["p4_mean"]) / self._t["p4_std"]

    def _mmd_observable(self, p4: Any, name: str) -> Any:
        """One MMD observable per event (numpy or torch): a resonance mass or a momentum sum."""
        if name in MOMENTUM_SUMS:
            return p4[..., MOMENTUM_SUMS[name]].sum(1)
        return invariant_mass(p4, self.resonances[name])

    def _mmd_masses(self, p4: Tensor) -> Tensor:
        if not self.mmd_resonances:
            return p4.new_zeros(len(p4), 0)
        return torch.stack([self._mmd_observable(p4, r) for r in self.mmd_resonances], dim=1)

    def _p3(self, events: Any, what: str) -> np.ndarray:
        if isinstance(events, pd.DataFrame):
            from hepgan.kinematics import momenta_columns

            missing = [c for c in momenta_columns(self.particles, "pxpypz") if c not in events.columns]
            if missing:
                raise SchemaError(f"{what}: missing column '{missing[0]}'")
            p3 = table_to_momenta(events, self.particles, energy=False)
        else:
            p3 = np.asarray(events, dtype=np.float64)
            if p3.ndim == 2 and p3.shape[1] == 3 * self.n_particles:
                p3 = p3.reshape(len(p3), self.n_particles, 3)
            if p3.ndim != 3 or p3.shape[1:] != (self.n_particles, 3):
                raise SchemaError(f"{what}: expected three-momenta of shape (N, {self.n_particles}, 3), got {p3.shape}")
        if not np.isfinite(p3).all():
            raise SchemaError(f"{what}: the momenta have NaN or inf values")
        return p3

    def _observables(self, p4: np.ndarray) -> dict[str, np.ndarray]:
        """Per-parton pT, eta, phi and the resonance masses: the validation observables."""
        pt, eta, phi = pt_eta_phi(p4)
        obs = {}
        for k, n in enumerate(self.particles):
            obs[f"{n}_pt"], obs[f"{n}_eta"], obs[f"{n}_phi"] = pt[:, k], eta[:, k], phi[:, k]
        for r, idx in self.resonances.items():
            obs[r] = invariant_mass(p4, idx)
        return obs

    # ------------------------------------------------------------------ API
    def fit(
        self,
        events: Any,
        w: Any = None,
        validation: tuple[Any, Any] | None = None,
        run_dir: str | Path | None = None,
        resume: bool = False,
    ) -> EventGAN:
        """Trains on true events.

        Args:
            events: the training events: a DataFrame with ``{particle}_px/_py/_pz`` columns or an
                array of three-momenta (N, P, 3) in GeV.
            w: (N,) event weights or None.
            validation: (events_val, w_val) for the per-epoch metrics and best-epoch selection;
                None: no selection, the last epoch is kept.
            run_dir: folder for checkpoints; needed for ``resume``.
            resume: continue an interrupted fit from run_dir's checkpoint.

        Returns:
            self, with ``history_`` and ``best_epoch_``.
        """
        self._validate_params()
        p3 = self._p3(events, "events")
        if len(p3) < 2:
            raise SchemaError("fit needs at least 2 training events")
        w_np = None if w is None else np.asarray(w, dtype=np.float64)
        if w_np is not None and (w_np.shape != (len(p3),) or not np.isfinite(w_np).all()):
            raise SchemaError(f"w: expected {len(p3)} finite weights")
        flat = p3.reshape(len(p3), -1)
        self.p3_mean_ = flat.mean(axis=0)
        self.p3_std_ = np.where(flat.std(axis=0) > 0, flat.std(axis=0), 1.0)
        p4 = on_shell(p3, self.masses)  # the truth on the model's mass shells
        flat4 = p4.reshape(len(p4), -1)
        self.p4_mean_ = flat4.mean(axis=0)
        self.p4_std_ = np.where(flat4.std(axis=0) > 0, flat4.std(axis=0), 1.0)
        f = torch.float32
        data = {"x4": torch.as_tensor((flat4 - self.p4_mean_) / self.p4_std_, dtype=f)}
        if self.mmd_resonances:
            data["m"] = torch.as_tensor(np.column_stack([self._mmd_observable(p4, r) for r in self.mmd_resonances]), dtype=f)
        if w_np is not None:
            data["w"] = torch.as_tensor(np.array(w_np, dtype=np.float32))
        nets = self._build_networks()
        self.device_ = resolve_device(self.device)
        self._buffers(self.device_)
        self.generator_ = nets["g"]  # the per-epoch metrics sample from it during training
        val_fn = None
        if validation is not None:
            ev_v, w_v = (tuple(validation) + (None,))[:2]
            val_fn = self._make_validation(self._p3(ev_v, "validation events"), None if w_v is None else np.asarray(w_v, np.float64))
        settings = self._train_settings(SELECTION if val_fn is not None else Selection())
        self._train(EventGANTask(self, nets["g"], nets["d"], val_fn), {"train": Sample(data)}, settings, run_dir=run_dir, resume=resume)
        return self

    def _make_validation(self, p3_val: np.ndarray, w_val: np.ndarray | None) -> Callable[[int], dict[str, float]]:
        """Per-epoch metrics of val_events generated events (fixed noise) against the validation truth."""
        from hepgan.metrics.distances import wasserstein_1d

        truth = self._observables(on_shell(p3_val, self.masses))
        w_t = np.ones(len(p3_val)) if w_val is None else w_val
        scale = {k: max(float(np.subtract(*weighted_quantile(v, [0.75, 0.25], w_t))), 1e-9) for k, v in truth.items()}
        centres = {r: float(weighted_quantile(truth[r], [0.5], w_t)[0]) for r in self.resonances}
        widths = {r: peak_width(truth[r], w_t, centres[r], self.peak_window)["half_iqr"] for r in self.resonances}
        seed = seed_from(self.seed, 4)

        def validate(epoch: int) -> dict[str, float]:
            p4 = self.sample_p4(self.val_events, seed=seed)
            gen = self._observables(p4)
            w1 = {k: wasserstein_1d(truth[k], gen[k], w_t, None) / scale[k] for k in truth}
            out = {"w1_val": float(np.mean(list(w1.values())))}
            out["mass_w1_val"] = float(np.mean([w1[r] for r in self.resonances])) if self.resonances else 0.0
            out["kin_w1_val"] = float(np.mean([v for k, v in w1.items() if k not in self.resonances]))
            for r in self.resonances:
                out[f"width_ratio_{r}"] = peak_width(gen[r], None, centres[r], self.peak_window)["half_iqr"] / widths[r]
            out["pt_balance_mean"] = float(np.mean(pt_balance(p4)))
            return out

        return validate

    @torch.no_grad()
    def sample_p4(self, n: int, seed: int | None = None, batch_size: int = 65_536) -> np.ndarray:
        """Generates n events as four-momenta.

        Args:
            n: number of events.
            seed: seed of the latent noise (None: fresh entropy).
            batch_size: events per forward pass.

        Returns:
            (n, P, 4) float64 four-momenta (px, py, pz, E) in GeV, on the model's mass shells.
        """
        self._check_fitted()
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ConfigError(f"events: expected an integer >= 0, got {n!r}")
        seed = int(np.random.SeedSequence().entropy % (2**63)) if seed is None else seed
        device = current_device(self)
        g = self.generator_.to(device)
        was_training = g.training
        g.eval()
        if not hasattr(self, "_t") or self._t["masses"].device != device:
            self._buffers(device)
        gen = torch.Generator(device=device).manual_seed(seed_from(seed, 7))
        out = []
        for i in range(0, int(n), batch_size):
            z = torch.randn(min(batch_size, int(n) - i), self.latent_dim, generator=gen, device=device)
            out.append(self._p4_from_net(g(z).double()).cpu())
        g.train(was_training)
        t = torch.cat(out) if out else torch.zeros(0, self.n_particles, 4, dtype=torch.float64)
        return t.numpy()

    def sample(self, n: int, seed: int | None = None, batch_size: int = 65_536) -> pd.DataFrame:
        """Generates n unweighted events as an event table (per parton px, py, pz, e, m, pt, eta, phi;
        the resonance masses; weight = 1)."""
        return event_table(self.sample_p4(n, seed, batch_size), self.particles, self.resonances)

    # ------------------------------------------------------------------ files
    def _fitted_meta(self) -> dict[str, Any]:
        return {
            "preprocessing": {
                "p3_mean": self.p3_mean_.tolist(), "p3_std": self.p3_std_.tolist(),
                "p4_mean": self.p4_mean_.tolist(), "p4_std": self.p4_std_.tolist(),
            },  # fmt: skip
        }

    def _restore_fitted(self, meta: dict[str, Any]) -> None:
        pre = meta["preprocessing"]
        self.p3_mean_, self.p3_std_ = np.asarray(pre["p3_mean"]), np.asarray(pre["p3_std"])
        self.p4_mean_, self.p4_std_ = np.asarray(pre["p4_mean"]), np.asarray(pre["p4_std"])

    def _after_load(self) -> None:
        self._buffers(self.device_)
