r"""Z gamma -> l+ l- gamma events with a simple detector, made with Pythia 8 + FastJet: the sample of the LEE study (seed 004).

Processes (``process``):

* ``zgamma`` (background): ``WeakBosonAndParton:ffbar2gmZgm`` with the Z only (``WeakZ0:gmZmode = 2``)
  decaying to e+ e- or mu+ mu-; generated with ``PhaseSpace:pTHatMin`` and an ``mHat`` range around the
  study's m_llg window (defaults 10 GeV and 110-220 GeV, well outside 130-170 GeV so that the detector's
  resolution and the photon choice move few events across the window's edges);
* ``scalar`` (signal): ``HiggsSM:gg2H`` with the Higgs mass moved to ``signal_mass`` (150 GeV) and its decay
  forced to Z gamma, the Z to e+ e- or mu+ mu-. Its natural width (about 17 MeV) is far below the detector's
  resolution: the signal peak's width is the resolution's.

Full event generation (showers, multiparton interactions, hadronisation), then the detector of
:data:`DETECTOR` (constants documented there):

* electrons, muons and photons in their acceptance, energies smeared with the resolutions of
  :data:`DETECTOR`; isolated when the scalar pT sum of the other visible particles within
  Delta R < ``iso_cone`` is below ``iso_max`` times their pT;
* leptons: the two highest-pT isolated leptons of one flavour and opposite charge, pT above ``lep1_pt_min``
  and ``lep2_pt_min``, m_ll > ``mll_min``; photon: the highest-pT isolated photon above ``photon_pt_min``
  at Delta R > 0.4 from both leptons (it may be the hard-process photon or a radiated one: the detector
  cannot tell);
* jets: anti-kT R = 0.4 (FastJet) of all visible final-state particles except the chosen leptons and
  photon; pT smeared, pT > ``jet_pt_min``, |eta| < 4.5, Delta R > 0.4 from the leptons and the photon;
  ``n_j`` counts them, ``n_cj`` the central ones (|eta| < ``central_eta``);
* missing transverse momentum: minus the vector sum of the smeared leptons, photon and jets and of
  the unclustered visible particles with |eta| < 4.9 (the soft term, smeared with a resolution of
  ``soft_resolution`` x sqrt(sum ET) per component): neutrinos, forward particles and resolution make it.

The file keeps the events with m_llg inside ``[mllg_min, mllg_max]`` (130-170 GeV, the study's window).

Columns (float64): the 18 features of seed 004 (:data:`FEATURES`): ``m_llg, phi_llg, eta_llg, pt_llg, e_llg,
m_ll, phi_ll, eta_ll, pt_ll, e_ll, dr_ll, met, phi_met, dphi_ll, dphi_met_llg, ptll_over_mllg, n_j, n_cj``
(GeV, radians); the objects ``l1_pt, l1_eta, l1_phi, l2_*, pho_pt, pho_eta, pho_phi``; ``flavour`` (11 or
13); ``weight`` (1: unweighted events).

Chunks with recorded seeds, cached in a folder keyed by the settings (:mod:`hepgan.samples.chunks`).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import math
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hepgan.config import check, choice
from hepgan.exceptions import ConfigError
from hepgan.samples.chunks import add_sample_arguments, cached_chunks, check_request, default_cache_dir, init_pythia, pythia_chunk_seed, pythia_version
from hepgan.samples.jets import antikt_constituents

__all__ = ["FEATURES", "DISCRETE", "DETECTOR", "ZGAMMA_PROCESSES", "ZgammaSettings", "make_zgamma", "zgamma_chunk", "event_features",
           "add_zgamma_arguments", "run_zgamma"]  # fmt: skip

log = logging.getLogger("hepgan")
GENERATOR_VERSION = 1
ZGAMMA_PROCESSES = ("zgamma", "scalar")

#: The 18 features of seed 004, in its order.
FEATURES: tuple[str, ...] = (
    "m_llg", "phi_llg", "eta_llg", "pt_llg", "e_llg", "m_ll", "phi_ll", "eta_ll", "pt_ll", "e_ll",
    "dr_ll", "met", "phi_met", "dphi_ll", "dphi_met_llg", "ptll_over_mllg", "n_j", "n_cj",
)  # fmt: skip
#: The integer-valued features.
DISCRETE: tuple[str, ...] = ("n_j", "n_cj")

#: The detector (ATLAS-like numbers, rounded; relative resolutions add in quadrature).
DETECTOR: dict[str, float] = {
    # electrons and photons: sigma_E / E = stochastic / sqrt(E/GeV) (+) constant
    "em_stochastic": 0.10,
    "em_constant": 0.007,
    "electron_eta_max": 2.47,
    "photon_eta_max": 2.37,
    "crack_lo": 1.37,
    "crack_hi": 1.52,
    # muons: sigma_pT / pT = a (+) b pT/GeV
    "muon_a": 0.015,
    "muon_b": 1e-4,
    "muon_eta_max": 2.5,
    # jets: sigma_pT / pT = stochastic / sqrt(pT/GeV) (+) constant
    "jet_stochastic": 0.8,
    "jet_constant": 0.05,
    "jet_eta_max": 4.5,
    # soft term of the missing transverse momentum: per component, soft_resolution * sqrt(sum ET / GeV) GeV
    "soft_resolution": 0.5,
    "calo_eta_max": 4.9,
    # isolation: scalar pT sum of other visible particles (pT > 0.5 GeV) within iso_cone below iso_max * pT
    "iso_cone": 0.3,
    "iso_max": 0.1,
}


@dataclasses.dataclass(frozen=True)
class ZgammaSettings:
    """Generator settings and selection (everything that changes a chunk).

    Attributes:
        process: ``zgamma`` (background) or ``scalar`` (a narrow scalar -> Z gamma signal).
        signal_mass: the scalar's mass in GeV.
        sqrt_s: ``Beams:eCM`` in GeV.
        pt_hat_min: ``PhaseSpace:pTHatMin`` of the background, GeV.
        m_hat_min, m_hat_max: the background's generated Z gamma mass range, GeV.
        mllg_min, mllg_max: the window of reconstructed m_llg the file keeps, GeV.
        lep1_pt_min, lep2_pt_min, photon_pt_min, mll_min: selection, GeV.
        jet_pt_min: jets counted in n_j, GeV; central_eta: |eta| of the jets counted in n_cj.
        chunk_size: Pythia events per chunk.
    """

    process: str = "zgamma"
    signal_mass: float = 150.0
    sqrt_s: float = 13000.0
    pt_hat_min: float = 10.0
    m_hat_min: float = 110.0
    m_hat_max: float = 220.0
    mllg_min: float = 130.0
    mllg_max: float = 170.0
    lep1_pt_min: float = 25.0
    lep2_pt_min: float = 20.0
    photon_pt_min: float = 15.0
    mll_min: float = 40.0
    jet_pt_min: float = 25.0
    central_eta: float = 2.5
    chunk_size: int = 2000

    def validate(self) -> ZgammaSettings:
        choice(self.process, ZGAMMA_PROCESSES, "process")
        check(math.isfinite(self.sqrt_s) and self.sqrt_s > 500.0, "sqrt_s", "a number > 500 (GeV)", self.sqrt_s)
        check(100.0 < self.signal_mass < 1000.0, "signal_mass", "a mass in (100, 1000) GeV", self.signal_mass)
        check(0.0 < self.mllg_min < self.mllg_max, "mllg_min, mllg_max", "0 < mllg_min < mllg_max (GeV)", (self.mllg_min, self.mllg_max))
        check(0.0 <= self.m_hat_min < self.m_hat_max, "m_hat_min, m_hat_max", "0 <= m_hat_min < m_hat_max (GeV)", (self.m_hat_min, self.m_hat_max))
        for key in ("pt_hat_min", "lep1_pt_min", "lep2_pt_min", "photon_pt_min", "mll_min", "jet_pt_min"):
            v = getattr(self, key)
            check(math.isfinite(v) and v >= 0, key, "a number >= 0 (GeV)", v)
        check(0 < self.central_eta <= 4.5, "central_eta", "a number in (0, 4.5]", self.central_eta)
        check(isinstance(self.chunk_size, int) and self.chunk_size > 0, "chunk_size", "an integer > 0", self.chunk_size)
        return self

    def pythia_settings(self, seed: int) -> list[str]:
        common = ["23:onMode = off", "23:onIfAny = 11 13", "Print:quiet = on", "Next:numberCount = 0"]
        if self.process == "zgamma":
            proc = ["WeakBosonAndParton:ffbar2gmZgm = on", "WeakZ0:gmZmode = 2", f"PhaseSpace:pTHatMin = {self.pt_hat_min:g}",
                    f"PhaseSpace:mHatMin = {self.m_hat_min:g}", f"PhaseSpace:mHatMax = {self.m_hat_max:g}"]  # fmt: skip
        else:
            proc = ["HiggsSM:gg2H = on", f"25:m0 = {self.signal_mass:g}", "25:onMode = off", "25:onIfMatch = 22 23"]
        return [f"Beams:eCM = {self.sqrt_s:g}", *proc, *common, "Random:setSeed = on", f"Random:seed = {seed}"]

    def key(self, seed: int) -> str:
        record = {"sample": "zgamma", "settings": dataclasses.asdict(self), "seed": seed, "detector": DETECTOR, "pythia": pythia_version(),
                  "generator_version": GENERATOR_VERSION}  # fmt: skip
        return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def _wrap(phi: np.ndarray) -> np.ndarray:
    return (phi + np.pi) % (2 * np.pi) - np.pi


def _pt_eta_phi(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pt = np.hypot(p[..., 0], p[..., 1])
    eta = np.arcsinh(p[..., 2] / np.maximum(pt, 1e-9))
    return pt, eta, np.arctan2(p[..., 1], p[..., 0])


def _mass(p: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(p[..., 3] ** 2 - np.square(p[..., :3]).sum(-1), 0.0))


def event_features(l1: np.ndarray, l2: np.ndarray, pho: np.ndarray, met_xy: np.ndarray, n_j: np.ndarray, n_cj: np.ndarray) -> pd.DataFrame:
    """The 18 features of seed 004 from (N, 4) px, py, pz, E of the leptons and photon, (N, 2) MET and jet counts.

    Example:
        >>> l1 = np.array([[40.0, 0, 0, 40.0]]); l2 = np.array([[-40.0, 0, 0, 40.0]]); g = np.array([[0, 30.0, 0, 30.0]])
        >>> f = event_features(l1, l2, g, np.array([[0.0, -30.0]]), np.array([1]), np.array([0]))
        >>> round(float(f.m_ll[0]), 3), round(float(f.pt_ll[0]), 3), round(float(f.dphi_ll[0]), 3), round(float(f.met[0]), 1)
        (80.0, 0.0, 3.142, 30.0)
    """
    ll, llg = l1 + l2, l1 + l2 + pho
    pt_ll, eta_ll, phi_ll = _pt_eta_phi(ll)
    pt_llg, eta_llg, phi_llg = _pt_eta_phi(llg)
    _, eta1, phi1 = _pt_eta_phi(l1)
    _, eta2, phi2 = _pt_eta_phi(l2)
    m_llg = _mass(llg)
    met = np.hypot(met_xy[:, 0], met_xy[:, 1])
    phi_met = np.arctan2(met_xy[:, 1], met_xy[:, 0])
    dphi_ll = np.abs(_wrap(phi1 - phi2))
    cols = {
        "m_llg": m_llg, "phi_llg": phi_llg, "eta_llg": eta_llg, "pt_llg": pt_llg, "e_llg": llg[:, 3],
        "m_ll": _mass(ll), "phi_ll": phi_ll, "eta_ll": eta_ll, "pt_ll": pt_ll, "e_ll": ll[:, 3],
        "dr_ll": np.hypot(eta1 - eta2, dphi_ll), "met": met, "phi_met": phi_met, "dphi_ll": dphi_ll,
        "dphi_met_llg": np.abs(_wrap(phi_met - phi_llg)), "ptll_over_mllg": pt_ll / np.maximum(m_llg, 1e-9),
        "n_j": np.asarray(n_j, dtype=np.float64), "n_cj": np.asarray(n_cj, dtype=np.float64),
    }  # fmt: skip
    return pd.DataFrame({k: np.asarray(cols[k], dtype=np.float64) for k in FEATURES})


def _read_final(py) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Final-state (N, 4) momenta, pdg ids, charges and visibility of one event."""
    rows, ids, charges, visible = [], [], [], []
    ev = py.event
    for i in range(ev.size()):
        p = ev[i]
        if p.isFinal():
            rows.append((p.px(), p.py(), p.pz(), p.e()))
            ids.append(p.id())
            charges.append(p.charge())
            visible.append(p.isVisible())
    return np.asarray(rows), np.asarray(ids), np.asarray(charges), np.asarray(visible, dtype=bool)


def _smear_scale(ids: np.ndarray, p4: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative response per particle (electrons, photons: energy; muons: pT); one draw each."""
    d = DETECTOR
    e = np.maximum(p4[:, 3], 1e-3)
    pt = np.hypot(p4[:, 0], p4[:, 1])
    em = np.sqrt(d["em_stochastic"] ** 2 / e + d["em_constant"] ** 2)
    mu = np.sqrt(d["muon_a"] ** 2 + (d["muon_b"] * pt) ** 2)
    sigma = np.where(np.abs(ids) == 13, mu, em)
    return np.maximum(1.0 + sigma * rng.standard_normal(len(ids)), 0.01)


def _select(p4, ids, charges, visible, s: ZgammaSettings, rng) -> dict[str, Any] | None:
    """The reconstruction of :mod:`hepgan.samples.zgamma` on one event: chosen objects and the rest, or None."""
    d = DETECTOR
    pt, eta, phi = _pt_eta_phi(p4)
    aeta = np.abs(eta)
    vis = visible & (aeta < d["calo_eta_max"])
    crack = (aeta > d["crack_lo"]) & (aeta < d["crack_hi"])
    scale = _smear_scale(ids, p4, rng)
    reco_pt = pt * scale
    cand = np.flatnonzero(vis & (pt > 5.0) & ((np.abs(ids) == 11) | (np.abs(ids) == 13) | (ids == 22)))
    iso_ok = np.zeros(len(p4), dtype=bool)
    tracks = np.flatnonzero(vis & (pt > 0.5))
    for i in cand:
        dr = np.hypot(eta[tracks] - eta[i], _wrap(phi[tracks] - phi[i]))
        cone = tracks[(dr < d["iso_cone"]) & (tracks != i)]
        iso_ok[i] = pt[cone].sum() < d["iso_max"] * reco_pt[i]
    a = np.abs(ids)
    acc_e = (a == 11) & (aeta < d["electron_eta_max"]) & ~crack
    acc_m = (a == 13) & (aeta < d["muon_eta_max"])
    best = None
    for flav, acc in ((11, acc_e), (13, acc_m)):
        leps = np.flatnonzero(acc & iso_ok & (reco_pt > s.lep2_pt_min))
        if len(leps) < 2:
            continue
        leps = leps[np.argsort(-reco_pt[leps])]
        i1 = leps[0]
        if reco_pt[i1] < s.lep1_pt_min:
            continue
        opp = [j for j in leps[1:] if charges[j] * charges[i1] < 0]
        if not opp:
            continue
        pair = (i1, opp[0])
        if best is None or reco_pt[pair[0]] > reco_pt[best[1][0]]:
            best = (flav, pair)
    if best is None:
        return None
    flav, (i1, i2) = best
    lep_p4 = p4[[i1, i2]] * scale[[i1, i2], None]
    if _mass(lep_p4.sum(0)) < s.mll_min:
        return None
    phos = np.flatnonzero((ids == 22) & (aeta < d["photon_eta_max"]) & ~crack & iso_ok & (reco_pt > s.photon_pt_min))
    phos = [j for j in phos[np.argsort(-reco_pt[phos])]
            if min(np.hypot(eta[j] - eta[k], _wrap(phi[j] - phi[k])) for k in (i1, i2)) > 0.4]  # fmt: skip
    if not phos:
        return None
    ig = phos[0]
    return {"flavour": flav, "objects": (i1, i2, ig), "p4": np.vstack([lep_p4, p4[ig] * scale[ig]]), "visible": vis}


def _jets_and_met(ev: dict[str, Any], p4: np.ndarray, jets: list[list[int]], s: ZgammaSettings, rng) -> tuple[int, int, np.ndarray]:
    """Jet counts and the missing transverse momentum (px, py) of one selected event."""
    d = DETECTOR
    objs = ev["p4"]
    _, oeta, ophi = _pt_eta_phi(objs)
    in_jet = np.zeros(len(p4), dtype=bool)
    n_j = n_cj = 0
    sum_xy = objs[:, :2].sum(0).copy()
    for members in jets:
        j = p4[members].sum(0)
        in_jet[members] = True
        jpt, jeta, jphi = (float(v) for v in _pt_eta_phi(j))
        res = math.sqrt(d["jet_stochastic"] ** 2 / max(jpt, 1.0) + d["jet_constant"] ** 2)
        k = max(1.0 + res * rng.standard_normal(), 0.0)
        sum_xy += k * j[:2]
        if k * jpt > s.jet_pt_min and abs(jeta) < d["jet_eta_max"] and np.all(np.hypot(oeta - jeta, _wrap(ophi - jphi)) > 0.4):
            n_j += 1
            n_cj += abs(jeta) < s.central_eta
    soft = ev["visible"] & ~in_jet
    soft[list(ev["objects"])] = False
    soft_xy = p4[soft, :2].sum(0)
    sum_et = float(np.hypot(p4[soft, 0], p4[soft, 1]).sum())
    soft_xy = soft_xy + d["soft_resolution"] * math.sqrt(sum_et) * rng.standard_normal(2)
    return n_j, n_cj, -(sum_xy + soft_xy)


def zgamma_chunk(settings: ZgammaSettings, seed: int, chunk: int, n_events: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Generates one chunk: (selected events in the m_llg window, statistics with the chunk's seed, counts and sigmaGen)."""
    pseed = pythia_chunk_seed(seed, chunk, stream=13)
    py = init_pythia(settings.pythia_settings(pseed))
    if py is None:
        raise ConfigError(f"Pythia failed to initialise with {settings.pythia_settings(pseed)}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, chunk, 13]))
    selected, n_failed = [], 0
    for _ in range(n_events):
        if not py.next():
            n_failed += 1
            continue
        p4, ids, charges, visible = _read_final(py)
        ev = _select(p4, ids, charges, visible, settings, rng)
        if ev is not None:
            m = float(_mass(ev["p4"].sum(0)))
            if settings.mllg_min <= m <= settings.mllg_max:
                rest = np.flatnonzero(ev["visible"])
                rest = rest[~np.isin(rest, ev["objects"])]
                selected.append((ev, p4, rest))
    jets = antikt_constituents([p4[rest] for _, p4, rest in selected], 10.0)
    obj, met, nj, ncj, flav = [], [], [], [], []
    for (ev, p4, rest), jet_members in zip(selected, jets):
        members = [list(rest[np.asarray(m, dtype=np.int64)]) for m in jet_members]
        n_j, n_cj, met_xy = _jets_and_met(ev, p4, members, settings, rng)
        obj.append(ev["p4"])
        met.append(met_xy)
        nj.append(n_j)
        ncj.append(n_cj)
        flav.append(ev["flavour"])
    o = np.asarray(obj, dtype=np.float64).reshape(-1, 3, 4)
    table = event_features(o[:, 0], o[:, 1], o[:, 2], np.asarray(met, dtype=np.float64).reshape(-1, 2), np.asarray(nj), np.asarray(ncj))
    for k, name in enumerate(("l1", "l2", "pho")):
        pt, eta, phi = _pt_eta_phi(o[:, k])
        table[f"{name}_pt"], table[f"{name}_eta"], table[f"{name}_phi"] = pt, eta, phi
    table["flavour"] = np.asarray(flav, dtype=np.float64)
    table["weight"] = 1.0
    info = py.infoPython()
    stats = {"chunk": chunk, "pythia_seed": pseed, "n_requested": n_events, "n_generated": n_events - n_failed, "n_failed": n_failed,
             "n_pass": len(table), "sigma_gen_mb": float(info.sigmaGen()), "sigma_err_mb": float(info.sigmaErr())}  # fmt: skip
    return table, stats


def make_zgamma(n_events: int, seed: int = 1, out: str | Path | None = None, workers: int = 1, fmt: str = "parquet",
                cache_dir: str | Path | None = None, progress: bool = True, command: str | None = None, scheduler: str | None = None,
                **settings: Any) -> pd.DataFrame:
    """Makes a Z gamma (or scalar signal) sample (see the module docstring).

    Args (the arguments of the other samplers, :func:`hepgan.samples.drellyan.make_drellyan`):
        n_events: Pythia events to generate; the file keeps those selected inside the m_llg window.
        **settings: :class:`ZgammaSettings` fields.

    Returns:
        The event table; ``table.attrs`` holds the metadata (sigma_gen_pb, efficiency, sigma_pb).
    """
    from hepgan.io import check_output_file, write_table
    from hepgan.provenance import record

    known = [f.name for f in dataclasses.fields(ZgammaSettings)]
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown zgamma setting (known: {', '.join(known)})")
    s = ZgammaSettings(**settings).validate()
    check_request(n_events, seed, workers)
    choice(fmt, ("parquet", "root"), "format")
    if out is not None:
        check_output_file(out, fmt)
    cache = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / f"zgamma_{s.key(int(seed))}"
    frames, stats = cached_chunks(f"zgamma {s.process}", cache, zgamma_chunk, s, int(seed), int(n_events), int(workers), progress,
                                  scheduler=scheduler)  # fmt: skip
    df = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else frames[0].iloc[:0]
    n_gen = sum(st["n_generated"] for st in stats)
    sigma_gen = float(np.average([st["sigma_gen_mb"] for st in stats], weights=[max(st["n_generated"], 1) for st in stats])) * 1e9
    eff = len(df) / max(n_gen, 1)
    meta = {
        "sample": "zgamma", "process": s.process, "command": command or "hepgan.samples.zgamma.make_zgamma(...)", "seed": int(seed),
        "n_events_generated": n_gen, "n_rows": len(df), "features": list(FEATURES), "discrete": list(DISCRETE),
        "generator": {"name": "Pythia 8", "pythia_version": pythia_version(), "settings": s.pythia_settings(0)[:-1],
                      "seeds_per_chunk": [st["pythia_seed"] for st in stats], "settings_key": s.key(int(seed)),
                      "level": "full events: showers, MPI, hadronisation; detector of hepgan.samples.zgamma.DETECTOR"},
        "settings": dataclasses.asdict(s), "detector": DETECTOR,
        "selection": (f"two isolated opposite-charge same-flavour leptons pT > {s.lep1_pt_min:g}/{s.lep2_pt_min:g} GeV, m_ll > {s.mll_min:g}; "
                      f"isolated photon pT > {s.photon_pt_min:g} GeV; {s.mllg_min:g} <= m_llg <= {s.mllg_max:g} GeV"),
        "sigma_gen_pb": sigma_gen, "efficiency": eff, "sigma_pb": sigma_gen * eff,
        "weight": "1 (unweighted); cross section per row = sigma_pb / n_rows (Z -> ee, mumu branching included by Pythia)",
        "provenance": record(),
    }  # fmt: skip
    log.info("zgamma (%s): %d of %d events selected (%.4f), sigma %.4g pb", s.process, len(df), n_gen, eff, sigma_gen * eff)
    if out is not None:
        write_table(df, out, metadata=meta, fmt=fmt)
    df.attrs.update(meta)
    return df


def add_zgamma_arguments(p: argparse.ArgumentParser) -> None:
    d = ZgammaSettings()
    add_sample_arguments(p, "Pythia events to generate (the file keeps those selected inside the m_llg window)", d.chunk_size)
    p.add_argument("--process", choices=ZGAMMA_PROCESSES, default=d.process, help="zgamma: the Z gamma background; scalar: a narrow scalar -> Z gamma")
    p.add_argument("--signal-mass", type=float, default=d.signal_mass, help=f"the scalar's mass in GeV (default {d.signal_mass:g})")
    p.add_argument("--mllg-min", type=float, default=d.mllg_min, help=f"lower edge of the m_llg window in GeV (default {d.mllg_min:g})")
    p.add_argument("--mllg-max", type=float, default=d.mllg_max, help=f"upper edge of the m_llg window in GeV (default {d.mllg_max:g})")
    p.add_argument("--photon-pt-min", type=float, default=d.photon_pt_min, help=f"photon pT cut in GeV (default {d.photon_pt_min:g})")
    p.add_argument("--sqrt-s", type=float, default=d.sqrt_s, help=f"collision energy in GeV (default {d.sqrt_s:g})")


def run_zgamma(args: argparse.Namespace) -> int:
    fmt = args.format or ("root" if Path(args.out).suffix.lower() == ".root" else "parquet")
    d = ZgammaSettings()
    argv = ["hepgan", "sample", "zgamma", "--events", str(args.events), "--process", args.process, "--seed", str(args.seed), "--out", str(args.out)]
    for flag, value, default in (("--signal-mass", args.signal_mass, d.signal_mass), ("--mllg-min", args.mllg_min, d.mllg_min),
                                 ("--mllg-max", args.mllg_max, d.mllg_max), ("--photon-pt-min", args.photon_pt_min, d.photon_pt_min),
                                 ("--sqrt-s", args.sqrt_s, d.sqrt_s), ("--chunk-size", args.chunk_size, d.chunk_size)):  # fmt: skip
        if value != default:
            argv += [flag, f"{value:g}"]
    df = make_zgamma(
        args.events, seed=args.seed, out=args.out, workers=args.workers, fmt=fmt, cache_dir=args.cache_dir,
        progress=not getattr(args, "quiet", False), command=shlex.join(argv), scheduler=args.scheduler, process=args.process,
        signal_mass=args.signal_mass, mllg_min=args.mllg_min, mllg_max=args.mllg_max, photon_pt_min=args.photon_pt_min,
        sqrt_s=args.sqrt_s, chunk_size=args.chunk_size,
    )  # fmt: skip
    a = df.attrs
    log.info("zgamma: wrote %s: %d events (efficiency %.4f); sigma %.4g pb", args.out, len(df), a["efficiency"], a["sigma_pb"])
    return 0
