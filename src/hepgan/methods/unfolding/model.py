r"""Unfolding detector effects with a GAN (Bellagente, Butter, Kasieczka, Plehn, Winterhalder, arXiv:1912.00477).

Two models share one estimator, :class:`UnfoldingGAN`, picked by ``mode``:

* ``fcgan``, the fully conditional GAN: the generator maps a detector event ``y`` and noise ``z`` to a
  parton event, :math:`x = G(y, z)`; the discriminator sees parton events with their detector events,
  :math:`D(x, y)`, trained on events matched one by one (seed 003):

  .. math:: L_D^{(FC)} = \langle -\log D(x, y) \rangle_{x \sim P_T, y \sim P_d}
        + \langle -\log(1 - D(x, y)) \rangle_{x \sim P_G, y \sim P_d},
        \qquad L_G^{(FC)} = \langle -\log D(x, y) \rangle_{x \sim P_G, y \sim P_d};

* ``naive``, the naive GAN: :math:`x = G(y)` without noise (a deterministic map); the discriminator
  sees parton events only, :math:`D(x)`, and the true parton events of a batch are drawn independently
  of its detector events (batches matched, events not).

Both add the Roth et al. regulariser :math:`\lambda_D \Omega` to :math:`L_D` (:func:`hepgan.losses.roth_penalty`)
and :math:`\lambda_\text{MMD}\,\mathrm{MMD}^2` of the invariant masses ``m_jj`` and ``m_ll`` of the generated
and the true batch to :math:`L_G` (:func:`hepgan.losses.mmd2`, as in seed 003).

Representation: an event is four objects (two jets or quarks, l-, l+), each a four-momentum. The
generator's output is the parton three-momenta in units of the training sample's mean and standard
deviation; the energies follow from fixed masses (:func:`hepgan.kinematics.on_shell`, 0 for all four
by default: the truth's quark masses of 0.33-4.8 GeV shift m_jj by well under 1 GeV). With
``residual`` (the default) the generator adds its output to the detector three-momenta expressed in
the same units, so that an untrained generator starts at "parton = detector" and learns the correction.
Detector events enter both networks as standardised four-momenta; true parton events enter the
discriminator through the same on-shell construction as generated ones.

The kept epoch is the one with the lowest ``w1_val``: the mean over per-object pT, eta, phi and the
masses of the Wasserstein-1 distance between one unfolded event per validation detector event (fixed
noise) and their true parton events, divided by the truth's interquartile range.
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
from hepgan.kinematics import event_table, invariant_mass, momenta_columns, on_shell, pt_eta_phi, table_to_momenta
from hepgan.metrics.distances import weighted_quantile
from hepgan.samples.zw import DET_OBJECTS, PART_OBJECTS
from hepgan.training.device import resolve_device
from hepgan.training.record import Selection
from hepgan.training.task import AdversarialTask, Sample

__all__ = ["UnfoldingGAN", "UnfoldingTask", "UNFOLD_MODES", "RESIDUAL_SPACES", "response", "ZW_MASSES", "ZW_MMD_WIDTHS", "MODEL_FORMAT_VERSION", "SELECTION"]

log = logging.getLogger("hepgan")
MODEL_FORMAT_VERSION = 1
UNFOLD_MODES = ("fcgan", "naive")
#: Where the generator's ``residual`` correction acts: the three-momenta or the per-object response.
RESIDUAL_SPACES = ("momentum", "response")
#: How the energy score of the response is taken: one score per event, or summed over its components.
ENERGY_PER = ("event", "component")
#: pT floor (GeV) of the response's logarithm.
PT_FLOOR_GEV = 1e-3
#: The fitted preprocessing (``{name}_`` attributes, saved with the model); the response's two are absent in older models.
PREPROCESSING = ("c_mean", "c_std", "p3_mean", "p3_std", "p4_mean", "p4_std", "r_centre", "r_scale")
SELECTION = Selection("w1_val", "min", "mean W1/IQR")
#: Invariant masses of the parton event -> indices of its objects (q1, q2, l-, l+).
ZW_MASSES: dict[str, tuple[int, ...]] = {"m_jj": (0, 1), "m_ll": (2, 3), "m_zw": (0, 1, 2, 3)}
#: Kernel widths (GeV) of the MMD term per mass: the W and Z widths (2.1, 2.5 GeV) and a wider one.
ZW_MMD_WIDTHS: dict[str, tuple[float, ...]] = {"m_jj": (2.0, 10.0), "m_ll": (2.5, 10.0)}


def response(parton: Tensor, detector: Tensor) -> Tensor:
    r"""The per-object detector response of matched events: :math:`\log(p_T^{part}/p_T^{det})`, :math:`\Delta\eta`, :math:`\Delta\phi`.

    Args:
        parton: (N, P, 4) parton four-momenta in GeV.
        detector: (N, P, 4) detector four-momenta in GeV, object k matched to parton k.

    Returns:
        (N, 3P) the response, object by object; :math:`\Delta\phi` in (-pi, pi].

    Example:
        >>> p = torch.tensor([[[20.0, 0.0, 0.0, 20.0]]])
        >>> d = torch.tensor([[[10.0, 0.0, 0.0, 10.0]]])
        >>> [round(v, 4) for v in response(p, d)[0].tolist()]
        [0.6931, 0.0, 0.0]
    """
    pt_p, eta_p, phi_p = pt_eta_phi(parton)
    pt_d, eta_d, phi_d = pt_eta_phi(detector)
    floor = PT_FLOOR_GEV
    dphi = torch.atan2(torch.sin(phi_p - phi_d), torch.cos(phi_p - phi_d))
    r = torch.stack([torch.log(pt_p.clamp_min(floor) / pt_d.clamp_min(floor)), eta_p - eta_d, dphi], dim=-1)
    return r.flatten(1)


def _register_scales(module: nn.Module, scales: Mapping[str, Tensor]) -> None:
    """The preprocessing tensors as buffers of a network (they follow it to its device and into checkpoints)."""
    for k, v in scales.items():
        module.register_buffer(k, torch.as_tensor(v, dtype=torch.float32).clone())


class _Discriminator(nn.Module):
    """MLP on the standardised parton four-momenta (and the detector event, when conditional); logits (N,).

    With ``scales`` (the standardisations and the response's centre and spread), the FCGAN's discriminator
    also sees the detector response of the pair, :func:`response` standardised and compressed by asinh: a
    function of its inputs, so the loss and its optimum are those of the paper; it lets the network
    resolve per-event widths of a few per cent that standardised momenta spread over their whole range hide.
    """

    def __init__(self, n_x: int, n_c: int, hidden: Sequence[int], scales: Mapping[str, Tensor] | None = None):
        super().__init__()
        from hepgan.nn import MLP

        self.n_c = n_c
        self.use_response = scales is not None
        if scales is not None:
            _register_scales(self, scales)
        self.net = MLP(n_x + n_c + (0 if scales is None else len(scales["r_centre"])), 1, hidden)

    def forward(self, c: Tensor | None, x: Tensor) -> Tensor:
        if self.n_c == 0:
            return self.net(x).squeeze(-1)
        parts = [x, c]
        if self.use_response:
            p = (x * self.p4_std + self.p4_mean).view(len(x), -1, 4)
            d = (c * self.c_std + self.c_mean).view(len(c), -1, 4)
            parts.append(torch.asinh((response(p, d) - self.r_centre) / self.r_scale))
        return self.net(torch.cat(parts, dim=1)).squeeze(-1)


class _Generator(nn.Module):
    """MLP of (detector event, noise) -> standardised parton three-momenta, optionally a correction to the detector's."""

    def __init__(self, n_c: int, n_z: int, n_x: int, hidden: Sequence[int], residual: bool):
        super().__init__()
        from hepgan.nn import MLP

        self.n_z, self.residual = n_z, residual
        self.net = MLP(n_c + n_z, n_x, hidden)

    def forward(self, c: Tensor, z: Tensor | None, base: Tensor) -> Tensor:
        u = self.net(c if self.n_z == 0 else torch.cat([c, z], dim=1))
        return u + base if self.residual else u


class _ResponseGenerator(nn.Module):
    r"""MLP of (detector event, noise) -> the response (:func:`response`) in units of its spread, applied to the detector objects.

    Output: (N, 3P) standardised parton three-momenta like :class:`_Generator`, made from the detector
    pT, eta, phi of each object as :math:`p_T = p_T^{det} e^{r_0}`, :math:`\eta = \eta^{det} + r_1`,
    :math:`\phi = \phi^{det} + r_2` with :math:`r = r_{centre} + r_{scale} u`: an untrained generator
    returns the median response, and the noise acts in units of the response's spread.
    """

    def __init__(self, n_c: int, n_z: int, n_x: int, hidden: Sequence[int], scales: Mapping[str, Tensor]):
        super().__init__()
        from hepgan.nn import MLP

        self.n_z = n_z
        self.net = MLP(n_c + n_z, n_x, hidden)
        _register_scales(self, scales)

    def forward(self, c: Tensor, z: Tensor | None, base: Tensor) -> Tensor:
        u = self.net(c if self.n_z == 0 else torch.cat([c, z], dim=1))
        r = (self.r_centre + self.r_scale * u).view(len(u), -1, 3)
        d = (c * self.c_std + self.c_mean).view(len(c), -1, 4)
        pt_d, eta_d, phi_d = pt_eta_phi(d)
        # the clamp keeps exp finite for a wild untrained output (e^20: far beyond any physical response)
        pt = pt_d.clamp_min(PT_FLOOR_GEV) * torch.exp(r[..., 0].clamp(-20.0, 20.0))
        eta, phi = eta_d + r[..., 1], phi_d + r[..., 2]
        p3 = torch.stack([pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta.clamp(-20.0, 20.0))], dim=-1).flatten(1)
        return (p3 - self.p3_mean) / self.p3_std


class UnfoldingTask(AdversarialTask):
    """The unfolding GAN's training task: discriminator ``n_critic`` times, then generator.

    FCGAN: one sample "train" with the matched tensors ``c`` (detector), ``b`` (the detector three-momenta
    in parton units), ``x4`` (true parton four-momenta, standardised), ``m`` (true masses of the MMD) and
    optionally ``w``. Naive GAN: sample "det" (``c``, ``b``) and sample "part" (``x4``, ``m``, ``w``), each
    drawn in its own order, so that the events of a batch are not matched.
    """

    def __init__(self, model: UnfoldingGAN, g: nn.Module, d: nn.Module, val: Callable[[int], dict[str, float]] | None):
        super().__init__(g, d, model.n_critic, *model._optimizer_specs(), validate=val)
        self.model = model
        self.det, self.part = ("train", "train") if model.mode == "fcgan" else ("det", "part")

    def _noise(self, batch, gen: torch.Generator) -> dict[str, Tensor]:
        c = batch[self.det]["c"]
        if self.model.latent_dim == 0:
            return {}
        return {"z": torch.randn(len(c), self.model.latent_dim, generator=gen, device=c.device, dtype=c.dtype)}

    def d_noise(self, batch, gen: torch.Generator) -> dict[str, Tensor]:
        return self._noise(batch, gen)

    def g_noise(self, batch, gen: torch.Generator) -> dict[str, Tensor]:
        noise = self._noise(batch, gen)
        if self.model._uses_energy:  # a second sample per detector event for the energy score
            noise["z2"] = self._noise(batch, gen)["z"]
        return noise

    def _p4(self, batch, z: Tensor | None) -> Tensor:
        b = batch[self.det]
        return self.model._p4_from_net(self.networks["g"](b["c"], z, b["b"]))

    def _fake(self, batch, noise) -> tuple[Tensor, Tensor]:
        p4 = self._p4(batch, noise.get("z"))
        return self.model._d_input(p4), self.model._mmd_masses(p4)

    def _c(self, batch) -> Tensor | None:
        return batch[self.det]["c"] if self.model.mode == "fcgan" else None

    def d_loss(self, batch, noise) -> tuple[Tensor, dict[str, Tensor]]:
        from hepgan.losses import discriminator_bce, roth_penalty

        m, d, p = self.model, self.networks["d"], batch[self.part]
        c, w = self._c(batch), p.get("w")
        with torch.no_grad():
            x_fake, _ = self._fake(batch, noise)
        if m.roth_lambda > 0:
            omega, logit_real, logit_fake = roth_penalty(d, c, p["x4"], c, x_fake, w_real=w)
            return discriminator_bce(logit_real, logit_fake, eps=0.0, w_real=w) + m.roth_lambda * omega, {"roth_train": omega}
        return discriminator_bce(d(c, p["x4"]), d(c, x_fake), eps=0.0, w_real=w), {}

    def g_loss(self, batch, noise) -> tuple[Tensor, dict[str, Tensor]]:
        from hepgan.losses import energy_score, generator_bce, mmd2

        m, p = self.model, batch[self.part]
        p4 = self._p4(batch, noise.get("z"))
        x_fake, m_fake = m._d_input(p4), m._mmd_masses(p4)
        loss, logs = generator_bce(self.networks["d"](self._c(batch), x_fake)), {}
        if m.mmd_lambda > 0 and m.mmd_masses:
            term = mmd2(p["m"], m_fake, [m.mmd_widths[r] for r in m.mmd_masses], m.mmd_kernel, w_x=p.get("w"))
            loss, logs["mmd_train"] = loss + m.mmd_lambda * term, term
        if m._uses_energy:
            r1, r2 = m._scaled_response(p4, p["d4"]), m._scaled_response(self._p4(batch, noise["z2"]), p["d4"])
            es = energy_score(r1, r2, p["r"], p.get("w"), per_component=m.energy_per == "component")
            loss, logs["energy_train"] = loss + m.energy_lambda * es, es
        return loss, logs


class UnfoldingGAN(Estimator):
    """GAN unfolding of detector events to parton events: the FCGAN or the naive GAN (module docstring).

    Args:
        mode: ``"fcgan"`` (G(detector, noise), D(parton, detector)) or ``"naive"`` (G(detector), D(parton)).
        detector: the detector-level object names (column prefixes, ``{name}_px/_py/_pz/_e``).
        parton: the parton-level object names, in the same order.
        masses: fixed parton masses (GeV) of the on-shell construction, one per object.
        resonances: mass name -> indices of the parton objects summed (observables and MMD).
        latent_dim: noise dimension of the FCGAN (the naive GAN has none).
        residual: the generator corrects the detector three-momenta instead of making the parton ones from scratch.
        residual_space: where the correction acts: ``"momentum"`` (added to the three-momenta in units of the
            parton spread) or ``"response"`` (:class:`_ResponseGenerator`: pT scaled, eta and phi shifted per
            object, in units of the spread of the training sample's response); needs ``residual``.
        d_response: the FCGAN's discriminator also sees the standardised detector response of the pair
            (:class:`_Discriminator`); the naive GAN's discriminator sees no detector event and ignores it.
        energy_lambda: weight of the energy score (:func:`hepgan.losses.energy_score`) in the FCGAN's
            generator loss, computed on the response standardised by its training spread from two
            generated events per detector event and the true one: a strictly proper scoring rule, which
            calibrates the per-event posterior (0: off, the paper's loss).
        energy_per: ``"event"`` (one score of the whole response) or ``"component"`` (the sum of the
            one-dimensional scores of its components: each marginal's width is calibrated more strongly).
        g_hidden, d_hidden: hidden widths (LeakyReLU 0.2); the paper: 12 layers of 512 for both.
        roth_lambda: lambda_D of the Roth et al. regulariser.
        mmd_lambda: weight of the MMD term on ``mmd_masses`` (0: off).
        mmd_masses: masses in the MMD term (keys of ``resonances``).
        mmd_kernel: ``"breit_wigner"`` or ``"gaussian"``.
        mmd_widths: mass -> kernel widths in GeV.
        val_events: validation detector events unfolded per epoch for ``w1_val``.
        **training: the training hyperparameters of :data:`hepgan.estimator.TRAINING_DEFAULTS`.

    Example:
        >>> UnfoldingGAN(mode="naive").latent_dim_used
        0
    """

    format: ClassVar[str] = "hepgan.UnfoldingGAN"
    format_version: ClassVar[int] = MODEL_FORMAT_VERSION
    kept: ClassVar[dict[str, str]] = {"generator": "g"}
    _repr_params: ClassVar[tuple[str, ...]] = ("mode", "latent_dim", "residual", "residual_space", "d_response", "mmd_lambda", "energy_lambda")

    def __init__(
        self,
        mode: str = "fcgan",
        detector: Sequence[str] = DET_OBJECTS,
        parton: Sequence[str] = PART_OBJECTS,
        masses: Sequence[float] = (0.0, 0.0, 0.0, 0.0),
        resonances: Mapping[str, Sequence[int]] = ZW_MASSES,
        latent_dim: int = 8,
        residual: bool = True,
        residual_space: str = "momentum",
        d_response: bool = False,
        energy_lambda: float = 0.0,
        energy_per: str = "event",
        g_hidden: Sequence[int] = (256, 256, 256),
        d_hidden: Sequence[int] = (256, 256, 256),
        roth_lambda: float = 1e-3,
        mmd_lambda: float = 1.0,
        mmd_masses: Sequence[str] = ("m_jj", "m_ll"),
        mmd_kernel: str = "breit_wigner",
        mmd_widths: Mapping[str, Sequence[float]] = ZW_MMD_WIDTHS,
        val_events: int = 10_000,
        **training: Any,
    ):
        self._store_params(locals())
        self.detector, self.parton = list(detector), list(parton)
        self.masses = [float(m) for m in masses]
        self.resonances = {str(k): [int(i) for i in v] for k, v in resonances.items()}
        self.g_hidden, self.d_hidden = list(g_hidden), list(d_hidden)
        self.mmd_masses = list(mmd_masses)
        self.mmd_widths = {str(k): [float(s) for s in (v if isinstance(v, (list, tuple)) else [v])] for k, v in mmd_widths.items()}

    # ------------------------------------------------------------------ helpers
    @property
    def latent_dim_used(self) -> int:
        """Noise dimensions the generator gets (0 for the deterministic naive GAN)."""
        return int(self.latent_dim) if self.mode == "fcgan" else 0

    @property
    def n_objects(self) -> int:
        return len(self.parton)

    @property
    def _uses_energy(self) -> bool:
        return self.mode == "fcgan" and self.energy_lambda > 0

    def _scaled_response(self, p4: Tensor, d4: Tensor) -> Tensor:
        """(N, 3P) the response of parton events (N, P, 4) to their detector events in units of the training spread."""
        return (response(p4, d4) - self._t["r_centre"]) / self._t["r_scale"]

    def _validate_params(self) -> None:
        from hepgan.losses import MMD_KERNELS

        super()._validate_params()
        check_choice("mode", self.mode, UNFOLD_MODES)
        p = len(self.parton)
        if p < 1 or len(self.detector) != p or len(set(self.parton)) != p or len(set(self.detector)) != p:
            raise ConfigError(f"detector, parton: expected the same number of distinct object names, got {self.detector} and {self.parton}")
        if len(self.masses) != p or any(not (m >= 0 and np.isfinite(m)) for m in self.masses):
            raise ConfigError(f"masses: expected {p} masses >= 0 (GeV), one per parton object, got {self.masses}")
        for r, idx in self.resonances.items():
            if len(idx) < 2 or any(not 0 <= i < p for i in idx) or len(set(idx)) != len(idx):
                raise ConfigError(f"resonances.{r}: expected >= 2 distinct object indices in [0, {p}), got {idx}")
        check_int("latent_dim", self.latent_dim, 1 if self.mode == "fcgan" else 0)
        check_choice("residual_space", self.residual_space, RESIDUAL_SPACES)
        if self.residual_space == "response" and not self.residual:
            raise ConfigError("residual_space: 'response' is a correction of the detector objects; it needs residual: true")
        if not isinstance(self.d_response, bool):
            raise ConfigError(f"d_response: expected true or false, got {self.d_response!r}")
        check_int("val_events", self.val_events)
        for name in ("roth_lambda", "mmd_lambda", "energy_lambda"):
            check_number(name, getattr(self, name), 0.0)
        check_choice("energy_per", self.energy_per, ENERGY_PER)
        check_choice("mmd_kernel", self.mmd_kernel, tuple(MMD_KERNELS))
        for r in self.mmd_masses:
            if r not in self.resonances:
                raise ConfigError(f"mmd_masses: '{r}' is not a mass of resonances ({', '.join(self.resonances)})")
            ws = self.mmd_widths.get(r)
            if self.mmd_lambda > 0 and (not ws or any(not (s > 0 and np.isfinite(s)) for s in ws)):
                raise ConfigError(f"mmd_widths.{r}: expected kernel widths > 0 (GeV), got {ws!r}")

    def _build_networks(self) -> dict[str, nn.Module]:
        from hepgan.nn import init_parameters

        p = self.n_objects
        scales = self._preprocessing(torch.device("cpu"))
        if self.residual_space == "response":
            g_scales = {k: scales[k] for k in ("c_mean", "c_std", "p3_mean", "p3_std", "r_centre", "r_scale")}
            g = _ResponseGenerator(4 * p, self.latent_dim_used, 3 * p, self.g_hidden, g_scales)
        else:
            g = _Generator(4 * p, self.latent_dim_used, 3 * p, self.g_hidden, bool(self.residual))
        fc = self.mode == "fcgan"
        d_scales = {k: scales[k] for k in ("c_mean", "c_std", "p4_mean", "p4_std", "r_centre", "r_scale")} if fc and self.d_response else None
        d = _Discriminator(4 * p, 4 * p if fc else 0, self.d_hidden, d_scales)
        gen = torch.Generator().manual_seed(seed_from(self.seed, 1))
        init_parameters(g, gen)
        init_parameters(d, gen)
        if self.residual:  # an untrained generator returns the detector event: start from the identity
            with torch.no_grad():
                g.net[-1].weight.mul_(0.01)
                g.net[-1].bias.zero_()
        return {"g": g, "d": d}

    def _buffers(self, device: torch.device) -> None:
        self._t = self._preprocessing(device)
        self._t["masses"] = torch.as_tensor(self.masses, dtype=torch.float32, device=device)

    def _preprocessing(self, device: torch.device) -> dict[str, Tensor]:
        """The fitted preprocessing as float32 tensors on ``device`` (those the model has)."""
        return {k: torch.as_tensor(getattr(self, f"{k}_"), dtype=torch.float32, device=device) for k in PREPROCESSING if hasattr(self, f"{k}_")}

    def _p4_from_net(self, u: Tensor) -> Tensor:
        """(N, 3P) standardised generator output -> (N, P, 4) on-shell four-momenta in GeV."""
        t = {k: v.to(u.dtype) for k, v in self._t.items()}
        return on_shell((u * t["p3_std"] + t["p3_mean"]).view(len(u), self.n_objects, 3), t["masses"])

    def _d_input(self, p4: Tensor) -> Tensor:
        return (p4.flatten(1) - self._t["p4_mean"]) / self._t["p4_std"]

    def _mmd_masses(self, p4: Tensor) -> Tensor:
        if not self.mmd_masses:
            return p4.new_zeros(len(p4), 0)
        return torch.stack([invariant_mass(p4, self.resonances[r]) for r in self.mmd_masses], dim=1)

    def _momenta(self, events: pd.DataFrame, names: Sequence[str], what: str) -> np.ndarray:
        """(N, P, 4) four-momenta of ``names`` from a table, with one clear error for a missing column or NaN."""
        if not isinstance(events, pd.DataFrame):
            raise SchemaError(f"{what}: expected an event table (DataFrame), got {type(events).__name__}")
        missing = [c for c in momenta_columns(names) if c not in events.columns]
        if missing:
            raise SchemaError(f"{what}: missing column '{missing[0]}'")
        p4 = table_to_momenta(events, names)
        if not np.isfinite(p4).all():
            raise SchemaError(f"{what}: the momenta have NaN or inf values")
        return p4

    def _conditions(self, det_p4: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Standardised detector four-momenta (N, 4P) and the detector three-momenta in parton units (N, 3P)."""
        c = (det_p4.reshape(len(det_p4), -1) - self.c_mean_) / self.c_std_
        b = (det_p4[..., :3].reshape(len(det_p4), -1) - self.p3_mean_) / self.p3_std_
        return c, b

    def observables(self, p4: np.ndarray) -> dict[str, np.ndarray]:
        """Per-object pT, eta, phi and the masses of parton events (N, P, 4): the evaluated observables."""
        pt, eta, phi = pt_eta_phi(p4)
        obs = {}
        for k, n in enumerate(self.parton):
            obs[f"{n}_pt"], obs[f"{n}_eta"], obs[f"{n}_phi"] = pt[:, k], eta[:, k], phi[:, k]
        for r, idx in self.resonances.items():
            obs[f"part_{r}" if not r.startswith("part_") else r] = invariant_mass(p4, idx)
        return obs

    # ------------------------------------------------------------------ API
    def fit(self, events: pd.DataFrame, w: Any = None, validation: tuple[Any, Any] | None = None,
            run_dir: str | Path | None = None, resume: bool = False) -> UnfoldingGAN:  # fmt: skip
        """Trains on matched events.

        Args:
            events: a table with the detector (``{detector}_px/_py/_pz/_e``) and parton columns, one event per row
                (the naive GAN does not use the matching: its parton events are drawn independently).
            w: (N,) event weights or None.
            validation: (events_val, w_val) for the per-epoch ``w1_val`` and the kept epoch (None: the last epoch).
            run_dir: folder for checkpoints; needed for ``resume``.
            resume: continue an interrupted fit from run_dir's checkpoint.

        Returns:
            self, with ``history_`` and ``best_epoch_``.
        """
        self._validate_params()
        det = self._momenta(events, self.detector, "events")
        part = self._momenta(events, self.parton, "events")
        if len(det) < 2:
            raise SchemaError("fit needs at least 2 training events")
        w_np = None if w is None else np.asarray(w, dtype=np.float64)
        if w_np is not None and (w_np.shape != (len(det),) or not np.isfinite(w_np).all()):
            raise SchemaError(f"w: expected {len(det)} finite weights")

        def stats(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            s = a.std(axis=0)
            return a.mean(axis=0), np.where(s > 0, s, 1.0)

        self.c_mean_, self.c_std_ = stats(det.reshape(len(det), -1))
        self.p3_mean_, self.p3_std_ = stats(part[..., :3].reshape(len(part), -1))
        p4 = on_shell(part[..., :3], self.masses)  # the truth on the model's mass shells
        self.p4_mean_, self.p4_std_ = stats(p4.reshape(len(p4), -1))
        # the response's centre and spread (median, IQR / 1.349: the tails of unmatched jets leave them alone)
        r = response(torch.as_tensor(p4), torch.as_tensor(det)).numpy()
        q25, q50, q75 = np.quantile(r, [0.25, 0.5, 0.75], axis=0)
        self.r_centre_, self.r_scale_ = q50, np.maximum((q75 - q25) / 1.349, 1e-6)
        f = torch.float32
        c, b = self._conditions(det)
        cond = {"c": torch.as_tensor(c, dtype=f), "b": torch.as_tensor(b, dtype=f)}
        truth = {"x4": torch.as_tensor((p4.reshape(len(p4), -1) - self.p4_mean_) / self.p4_std_, dtype=f)}
        if self.mmd_masses:
            truth["m"] = torch.as_tensor(np.column_stack([invariant_mass(p4, self.resonances[r]) for r in self.mmd_masses]), dtype=f)
        if self._uses_energy:  # the detector four-momenta and the true response of the energy score
            truth["d4"] = torch.as_tensor(det, dtype=f)
            truth["r"] = torch.as_tensor((r - self.r_centre_) / self.r_scale_, dtype=f)
        if w_np is not None:
            truth["w"] = torch.as_tensor(w_np.astype(np.float32))
        data = {"train": Sample({**cond, **truth})} if self.mode == "fcgan" else {"det": Sample(cond), "part": Sample(truth)}
        nets = self._build_networks()
        self.device_ = resolve_device(self.device)
        self._buffers(self.device_)
        self.generator_ = nets["g"]  # the per-epoch metric unfolds with it during training
        val_fn = None
        if validation is not None:
            ev_v, w_v = (tuple(validation) + (None,))[:2]
            val_fn = self._make_validation(ev_v, None if w_v is None else np.asarray(w_v, np.float64))
        settings = self._train_settings(SELECTION if val_fn is not None else Selection())
        self._train(UnfoldingTask(self, nets["g"], nets["d"], val_fn), data, settings, run_dir=run_dir, resume=resume)
        return self

    def _make_validation(self, events: pd.DataFrame, w: np.ndarray | None) -> Callable[[int], dict[str, float]]:
        from hepgan.metrics.distances import wasserstein_1d

        events = events.iloc[: self.val_events]
        w = None if w is None else w[: len(events)]
        truth = self.observables(self._momenta(events, self.parton, "validation events"))
        w_t = np.ones(len(events)) if w is None else w
        scale = {k: max(float(np.subtract(*weighted_quantile(v, [0.75, 0.25], w_t))), 1e-9) for k, v in truth.items()}
        seed = seed_from(self.seed, 4)

        def validate(epoch: int) -> dict[str, float]:
            gen = self.observables(self.unfold_p4(events, k=1, seed=seed)[:, 0])
            w1 = {k: wasserstein_1d(truth[k], gen[k], w_t, w_t) / scale[k] for k in truth}
            masses = [k for k in w1 if k.startswith("part_m_")]
            out = {"w1_val": float(np.mean(list(w1.values())))}
            if masses:
                out["mass_w1_val"] = float(np.mean([w1[k] for k in masses]))
            return out

        return validate

    @torch.no_grad()
    def unfold_p4(self, detector: pd.DataFrame, k: int = 1, seed: int | None = None, batch_size: int = 65_536) -> np.ndarray:
        """Unfolds detector events: ``k`` parton events per detector event.

        Args:
            detector: a table with the detector columns ``{name}_px/_py/_pz/_e``.
            k: parton events per detector event (the naive GAN returns k copies of its one answer).
            seed: seed of the noise (None: fresh entropy).
            batch_size: events per forward pass.

        Returns:
            (N, k, P, 4) float64 four-momenta in GeV.
        """
        self._check_fitted()
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ConfigError(f"k: expected an integer >= 1, got {k!r}")
        det = self._momenta(detector, self.detector, "detector events")
        device = current_device(self)
        g = self.generator_.to(device)
        was_training = g.training
        g.eval()
        if not hasattr(self, "_t") or self._t["masses"].device != device:
            self._buffers(device)
        c_np, b_np = self._conditions(det)
        c_all = torch.as_tensor(np.repeat(c_np, k, axis=0), dtype=torch.float32, device=device)
        b_all = torch.as_tensor(np.repeat(b_np, k, axis=0), dtype=torch.float32, device=device)
        seed = int(np.random.SeedSequence().entropy % (2**63)) if seed is None else seed
        gen = torch.Generator(device=device).manual_seed(seed_from(seed, 7))
        out = []
        for i in range(0, len(c_all), batch_size):
            c, b = c_all[i : i + batch_size], b_all[i : i + batch_size]
            z = torch.randn(len(c), self.latent_dim_used, generator=gen, device=device) if self.latent_dim_used else None
            out.append(self._p4_from_net(g(c, z, b).double()).cpu())
        g.train(was_training)
        t = torch.cat(out) if out else torch.zeros(0, self.n_objects, 4, dtype=torch.float64)
        return t.numpy().reshape(len(det), k, self.n_objects, 4)

    def unfold(self, detector: pd.DataFrame, k: int = 1, seed: int | None = None, w: np.ndarray | None = None) -> pd.DataFrame:
        """Unfolds detector events to an event table: ``k`` rows per detector event.

        Columns: per parton object ``px, py, pz, e, m, pt, eta, phi``, the masses (``part_m_jj`` ...),
        ``event`` (row of the detector table), ``sample`` (0 .. k-1) and ``weight`` (the detector event's
        weight, or 1, divided by k).
        """
        p4 = self.unfold_p4(detector, k, seed)
        n = len(p4)
        table = event_table(p4.reshape(n * k, self.n_objects, 4), self.parton, {f"part_{r}": v for r, v in self.resonances.items()})
        w_det = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
        table.pop("weight")
        table["event"] = np.repeat(np.arange(n, dtype=np.float64), k)
        table["sample"] = np.tile(np.arange(k, dtype=np.float64), n)
        table["weight"] = np.repeat(w_det / k, k)
        return table

    # ------------------------------------------------------------------ files
    def _fitted_meta(self) -> dict[str, Any]:
        return {"preprocessing": {k: getattr(self, f"{k}_").tolist() for k in PREPROCESSING if hasattr(self, f"{k}_")}}

    def _restore_fitted(self, meta: dict[str, Any]) -> None:
        for k, v in meta["preprocessing"].items():
            setattr(self, f"{k}_", np.asarray(v, dtype=np.float64))

    def _after_load(self) -> None:
        self._buffers(self.device_)
