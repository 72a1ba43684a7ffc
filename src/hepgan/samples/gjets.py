"""Prompt photon + jet events with two reconstructed photon candidates, made with Pythia 8 and FastJet.

One row per selected event: the candidate matched to the prompt photon (``pho1_*``), the other of
the two leading photon candidates (``pho2_*``: a jet faking a photon), event features and a weight.
The region label splits the events into a signal region (SR: both candidates pass the tight photon
ID) and a control region (CR: pho1 passes the tight ID, pho2 fails the loose one), as in seed 002.

Pipeline, per chunk of ``chunk_size`` parton-level events (seeded per chunk, so the file does not
depend on the number of worker processes):

1. Pythia 8, ``PromptPhoton:*`` at ``sqrt_s`` with ``pTHatMin``, multiparton interactions on, and
   optionally the ``bias2Selection`` phase-space bias, generated to the parton level (showers, MPI).
   A parton-level filter drops events whose prompt photon, after the showers, has |eta| >=
   ``photon_eta_max`` (2.6) before they are hadronised and reconstructed: pho1 must be within
   |eta| < 2.5, and its cluster axis lies within 0.1 of the photon (every deposit of a cluster is within
   0.05 of its seed), so no event the selection keeps is dropped. (The optional process-level
   ``prefilter_eta`` acts on the hard photon before the showers, which move it: measured median
   |Delta eta| 0.09, 99 % quantile 0.70; at 2.7 it loses about 1 % of the events whose photon ends in the
   acceptance. It is off by default; the photon-ID training sample was made with it.)
2. Each parton-level event is hadronised ``rehadronise`` times (K, weight 1/K each): the fragmentation
   of a jet is what makes it fake a photon, and hadronisation costs a fraction of the event.
3. Pileup: minimum-bias events from a seeded pool (:mod:`hepgan.samples.pileup`) overlaid before
   anything is reconstructed; rho = median pT density of the event over a grid of cells.
4. A simple calorimeter: photons and electrons deposit their energy in the ECAL; each hadron starts its
   shower in the ECAL with a probability and leaves a fraction of its energy there, the rest in the HCAL.
   EM clusters are grown greedily around photon/electron seeds; each has an energy, a direction,
   shower shapes (width, core fraction), H/E, and isolation sums (charged from the primary vertex and
   the pileup charged that survives the vertex association, neutral hadrons, photons).
5. The candidates are the two highest-pT clusters in the acceptance; truth only labels them: the one
   with most of its energy from the prompt photon is pho1, the other pho2. Events where neither or
   both of the two leading clusters are prompt are not kept (counted in the chunk statistics).
6. Anti-kT R=0.4 jets (FastJet, one batch per chunk) of the hard event and the pileup after charged
   hadron subtraction, corrected by rho_chs x area (rho_chs: the median density of the jets' own inputs).
7. Chunks are cached (atomic Parquet files in a folder keyed by the settings); the final table is
   assembled from them, the photon ID score computed with the shipped model
   (:mod:`hepgan.samples.photon_id`) and the regions assigned.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hepgan.config import check, choice
from hepgan.exceptions import ConfigError, InputFileError
from hepgan.physics import derived_columns, wrap_phi
from hepgan.samples.chunks import cached_chunks, check_request, default_cache_dir, init_pythia, pythia_chunk_seed, pythia_version
from hepgan.samples.jets import antikt_constituents
from hepgan.samples.pileup import KIND_CHARGED, KIND_NEUTRAL, KIND_PHOTON, acceptance_cut, draw_n_pileup, minbias_pool, overlay, particle_kind

__all__ = [
    "GjetsSettings",
    "PROCESSES",
    "COMPACT_COLUMNS",
    "ID_INPUTS",
    "DETECTOR",
    "make_gjets",
    "generate_raw",
    "assemble",
    "default_sample_path",
    "default_cache_dir",
]

log = logging.getLogger("hepgan")

# Bump when the physics of a chunk changes: old caches are then not reused.
GENERATOR_VERSION = 3

PROCESSES = (
    "PromptPhoton:all",
    "PromptPhoton:qg2qgamma",
    "PromptPhoton:qqbar2ggamma",
    "PromptPhoton:gg2ggamma",
)

ID_INPUTS = ("iso_ch", "iso_neu", "iso_pho", "width", "core_frac", "hoe")
COMPACT_COLUMNS = (
    "pho1_pt", "pho1_eta", "pho1_phi", "pho1_id",
    "pho2_pt", "pho2_eta", "pho2_phi", "pho2_id",
    "n_jets", "n_vtx", "lead_jet_pt",
    "m_gg", "pt_gg", "ptgg_over_mgg",
    "weight", "region", "rho", "parton_event",
)  # fmt: skip

# The detector model, recorded in every file's metadata.
DETECTOR: dict[str, Any] = {
    # reconstructed particles: pT above this (GeV) and |eta| below particle_eta_max (softer ones curl in
    # the field or stay below the calorimeter thresholds); the same cut for the hard event and the pileup
    "particle_pt_min": 0.4,
    "particle_eta_max": 3.0,
    # photon energy resolution sigma_E/E = a/sqrt(E) (+) b/E (+) c (CMS ECAL-like), Gaussian
    "photon_stochastic": 0.03,
    "photon_noise_gev": 0.2,
    "photon_constant": 0.005,
    # hadrons: with this probability the shower starts in the ECAL and leaves a fraction U(0, max) of the
    # energy there; the rest of the energy goes to the HCAL
    "hadron_ecal_probability": 0.6,
    "hadron_ecal_fraction_max": 0.6,
    # EM clusters: seeds are photons/electrons above seed_pt_min; a cluster takes every free ECAL deposit
    # within cluster_radius of its seed (merged pi0/eta photons, hadron deposits)
    "seed_pt_min": 2.0,
    "cluster_radius": 0.05,
    # core of the cluster: deposits within this distance of the seed
    "core_radius": 0.02,
    # intrinsic shower width (eta-phi units) added in quadrature, with a relative spread
    "shower_width": 0.009,
    "shower_width_spread": 0.1,
    # lateral containment of the core energy: core_frac *= clip(N(mean, sd), 0, 1)
    "core_containment_mean": 0.96,
    "core_containment_sd": 0.02,
    # H/E: HCAL energy within this distance of the cluster axis over the cluster energy
    "hoe_cone": 0.15,
    # isolation cone (the candidate's own cluster is excluded)
    "iso_cone": 0.3,
    # charged pileup surviving the vertex association (charged hadron subtraction) in jets and isolation
    "charged_pileup_leak": 0.1,
    # rho: median over cells of size rho_cell_eta x 2 pi / rho_cells_phi in |eta| < rho_eta_max of
    # (sum of particle pT in the cell) / (cell area), all particles (as CMS's fixedGridRhoFastjetAll)
    "rho_eta_max": 2.5,
    "rho_cell_eta": 0.5,
    "rho_cells_phi": 10,
    # jet pT resolution sigma/pT = a/sqrt(pT) (+) c, Gaussian, after the rho_chs x pi R^2 correction
    "jet_stochastic": 1.0,
    "jet_constant": 0.05,
    # acceptance of the photon candidates
    "eta_max": 2.5,
    "gap": (1.4442, 1.566),
}


@dataclasses.dataclass(frozen=True)
class GjetsSettings:
    """Generator settings and selection cuts (everything that changes a chunk).

    Attributes:
        process: a Pythia ``PromptPhoton`` switch, see :data:`PROCESSES`.
        pt_hat_min: ``PhaseSpace:pTHatMin`` in GeV.
        sqrt_s: ``Beams:eCM`` in GeV.
        bias_pow: power of the ``bias2Selection`` phase-space bias (pTHat/pTHatMin)^pow;
            0 switches the bias off (all weights equal).
        pileup_mean, pileup_sd: the pileup profile, n_pu ~ Poisson(max(0, Normal(mean, sd)));
            n_vtx = 1 + n_pu. The default approximates CMS 2016-2018 (:mod:`hepgan.samples.pileup`).
        pool_size: minimum-bias events in the pileup pool (seeded by the sample's seed); large, so that the rare
            hard pileup events are many different ones (:mod:`hepgan.samples.pileup`).
        prefilter_eta: process-level pre-filter, |eta| of the hard photon below it (0: off). Not exact: the
            showers move the photon (see the module docstring); kept for the photon-ID training sample.
        photon_eta_max: parton-level filter, |eta| of the prompt photon after the showers below it (0: off);
            exact for the selection (pho1 |eta| < 2.5) at 2.6.
        rehadronise: K hadronisations of each parton-level event, each with weight 1/K.
        chunk_size: parton-level events per chunk (each chunk has its own seed).
        pho1_pt_min: prompt photon candidate pT cut in GeV.
        pho2_pt_min: pT cut of both candidates (the two leading clusters) in GeV.
        jet_pt_min: pT cut of the jets counted in n_jets, GeV.
        jet_eta_max: |eta| cut of the jets counted in n_jets.
        mpi: Pythia multiparton interactions (the underlying event; keep on for isolation).
    """

    process: str = "PromptPhoton:all"
    pt_hat_min: float = 40.0
    sqrt_s: float = 13000.0
    bias_pow: float = 0.0
    pileup_mean: float = 34.0
    pileup_sd: float = 11.0
    pool_size: int = 50000
    prefilter_eta: float = 0.0
    photon_eta_max: float = 2.6
    rehadronise: int = 4
    chunk_size: int = 500
    pho1_pt_min: float = 30.0
    pho2_pt_min: float = 20.0
    jet_pt_min: float = 25.0
    jet_eta_max: float = 2.5
    mpi: bool = True

    def validate(self) -> GjetsSettings:
        choice(self.process, PROCESSES, "process")
        check(math.isfinite(self.pt_hat_min) and self.pt_hat_min >= 5.0, "pt_hat_min", "a number >= 5 (GeV)", self.pt_hat_min)
        check(math.isfinite(self.sqrt_s) and self.sqrt_s > 2 * self.pt_hat_min, "sqrt_s", "a number > 2 pt_hat_min (GeV)", self.sqrt_s)
        check(math.isfinite(self.bias_pow) and 0 <= self.bias_pow <= 8, "bias_pow", "a number in [0, 8]", self.bias_pow)
        check(math.isfinite(self.pileup_mean) and 0 <= self.pileup_mean <= 200, "pileup_mean", "a number in [0, 200]", self.pileup_mean)
        check(math.isfinite(self.pileup_sd) and 0 <= self.pileup_sd <= 100, "pileup_sd", "a number in [0, 100]", self.pileup_sd)
        check(isinstance(self.pool_size, int) and 1 <= self.pool_size <= 10**6, "pool_size", "an integer in [1, 10^6]", self.pool_size)
        check(self.prefilter_eta == 0 or (math.isfinite(self.prefilter_eta) and self.prefilter_eta >= 2.6), "prefilter_eta",
              "0 (off) or a number >= 2.6 (a margin over the acceptance |eta| < 2.5)", self.prefilter_eta)  # fmt: skip
        check(self.photon_eta_max == 0 or (math.isfinite(self.photon_eta_max) and self.photon_eta_max >= 2.6), "photon_eta_max",
              "0 (off) or a number >= 2.6 (the acceptance |eta| < 2.5 plus the cluster size)", self.photon_eta_max)  # fmt: skip
        check(isinstance(self.rehadronise, int) and 1 <= self.rehadronise <= 100, "rehadronise", "an integer in [1, 100]", self.rehadronise)
        check(isinstance(self.chunk_size, int) and self.chunk_size > 0, "chunk_size", "an integer > 0", self.chunk_size)
        for key in ("pho1_pt_min", "pho2_pt_min", "jet_pt_min"):
            v = getattr(self, key)
            check(math.isfinite(v) and v >= 0, key, "a number >= 0 (GeV)", v)
        check(0 < self.jet_eta_max <= 5, "jet_eta_max", "a number in (0, 5]", self.jet_eta_max)
        return self

    def pythia_settings(self, seed: int) -> list[str]:
        out = [
            f"Beams:eCM = {self.sqrt_s:g}",
            f"{self.process} = on",
            f"PhaseSpace:pTHatMin = {self.pt_hat_min:g}",
            "Print:quiet = on",
            "Next:numberCount = 0",
            "Random:setSeed = on",
            f"Random:seed = {seed}",
            f"PartonLevel:MPI = {'on' if self.mpi else 'off'}",
            "HadronLevel:all = off",  # hadronised by forceHadronLevel, K times
            # no gamma -> f fbar splitting of the prompt photon in the shower: a converted photon is still
            # reconstructed as a photon by the detector this sample models
            "TimeShower:QEDshowerByGamma = off",
        ]
        if self.bias_pow > 0:
            out += [
                "PhaseSpace:bias2Selection = on",
                f"PhaseSpace:bias2SelectionPow = {self.bias_pow:g}",
                f"PhaseSpace:bias2SelectionRef = {self.pt_hat_min:g}",
            ]
        return out


def chunk_seed(seed: int, chunk: int) -> int:
    """Pythia's ``Random:seed`` of one chunk, in [1, 900000000]."""
    return pythia_chunk_seed(seed, chunk, stream=0)


def default_sample_path() -> Path:
    """The shipped compact default sample (``hepgan/data/gjets_default.parquet``)."""
    return Path(__file__).resolve().parent.parent / "data" / "gjets_default.parquet"


# settings added after caches were made enter the key only when set, so that those caches stay valid
_LATER_SETTINGS = {"photon_eta_max": 0.0}


def settings_key(settings: GjetsSettings, seed: int) -> str:
    fields = {k: v for k, v in dataclasses.asdict(settings).items() if not (k in _LATER_SETTINGS and v == _LATER_SETTINGS[k])}
    record = {"settings": fields, "seed": seed, "detector": DETECTOR, "pythia": pythia_version(), "generator_version": GENERATOR_VERSION}
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- one chunk


def _in_acceptance(eta: np.ndarray | float) -> np.ndarray:
    a = np.abs(eta)
    lo, hi = DETECTOR["gap"]
    return (a < DETECTOR["eta_max"]) & ~((a > lo) & (a < hi))


def _kin(p4: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pt, eta, phi) of (N, 4) px, py, pz, E arrays."""
    pt = np.hypot(p4[:, 0], p4[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0, np.arcsinh(p4[:, 2] / np.where(pt > 0, pt, 1.0)), np.sign(p4[:, 2]) * 1e3)
    return pt, eta, np.arctan2(p4[:, 1], p4[:, 0])


def _dr(eta1, phi1, eta2, phi2):
    return np.hypot(eta1 - eta2, wrap_phi(phi1 - phi2))


def _make_prefilter(eta_max: float) -> Any:
    """A Pythia user hook that vetoes events whose hard-process photon has |eta| >= eta_max (before the shower)."""
    import pythia8mc

    class PhotonEtaFilter(pythia8mc.UserHooks):
        def __init__(self) -> None:
            pythia8mc.UserHooks.__init__(self)
            self.n_tried = 0
            self.n_vetoed = 0

        def canVetoProcessLevel(self) -> bool:
            return True

        def doVetoProcessLevel(self, process: Any) -> bool:
            self.n_tried += 1
            best_pt, best_eta = -1.0, 0.0
            for i in (5, 6):
                p = process[i]
                if p.id() == 22 and p.pT() > best_pt:
                    best_pt, best_eta = p.pT(), p.eta()
            veto = best_pt > 0 and abs(best_eta) >= eta_max
            self.n_vetoed += int(veto)
            return veto

    return PhotonEtaFilter()


def _prompt_index(ev: Any) -> int:
    """Index of the final copy of the hard photon (entries 5, 6; the harder if both are photons); -1 if none."""
    best, prompt = -1.0, -1
    for i in (5, 6):
        if ev[i].id() == 22 and ev[i].pT() > best:
            best, prompt = ev[i].pT(), ev[i].iBotCopyId()
    return prompt


def _read_hard(py: Any, prompt: int, entries: list[int]) -> tuple[np.ndarray, np.ndarray, int]:
    """Reconstructable particles of the hard event: (N, 4) momenta, kinds, index of the prompt photon (-1 if lost).

    Only ``entries`` are looked at (the parton level's final colour singlets and the hadron level's entries:
    reading every entry through the Python binding is the slowest step of a chunk).
    """
    ev = py.event
    rows, ids, charges = [], [], []
    ip = -1
    for i in entries:
        p = ev[i]
        if p.isFinal() and p.isVisible():
            if i == prompt:
                ip = len(rows)
            rows.append((p.px(), p.py(), p.pz(), p.e()))
            ids.append(p.id())
            charges.append(p.charge())
    p4 = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    keep = acceptance_cut(p4, DETECTOR["particle_pt_min"], DETECTOR["particle_eta_max"])
    if ip >= 0 and not keep[ip]:
        ip = -1
    elif ip >= 0:
        ip = int(keep[:ip].sum())
    return p4[keep], particle_kind(np.asarray(ids, dtype=np.int64)[keep], np.asarray(charges, dtype=np.float64)[keep]), ip


def rho_of(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> float:
    """Median pT density (GeV per unit eta-phi area) over the grid of cells of :data:`DETECTOR`."""
    d = DETECTOR
    n_eta = round(2 * d["rho_eta_max"] / d["rho_cell_eta"])
    inside = np.abs(eta) < d["rho_eta_max"]
    h, _, _ = np.histogram2d(eta[inside], phi[inside], bins=(n_eta, d["rho_cells_phi"]),
                             range=((-d["rho_eta_max"], d["rho_eta_max"]), (-np.pi, np.pi)), weights=pt[inside])  # fmt: skip
    area = d["rho_cell_eta"] * 2 * np.pi / d["rho_cells_phi"]
    return float(np.median(h) / area)


def reconstruct(p4: np.ndarray, kind: np.ndarray, pileup: np.ndarray, ip: int, rng: np.random.Generator) -> dict[str, Any]:
    """Calorimeter deposits, EM clusters and their candidate properties for one event.

    Args:
        p4, kind: all particles (hard event and pileup), (N, 4) and (N,).
        pileup: (N,) True for pileup particles.
        ip: index of the prompt photon in ``p4`` (-1 if it was lost).
        rng: the chunk's random generator.

    Returns:
        ``clusters`` (a list of dicts, hardest reconstructed pT first, only those with a seed),
        ``rho``, and the mask of particles that enter jets (``jet_input``: charged hadron subtraction).
    """
    d = DETECTOR
    n = len(p4)
    pt, eta, phi = _kin(p4)
    e = p4[:, 3]
    hadron = (kind == KIND_CHARGED) | (kind == KIND_NEUTRAL)
    starts = rng.random(n) < d["hadron_ecal_probability"]
    frac = np.where(kind == KIND_PHOTON, 1.0, np.where(hadron & starts, rng.uniform(0.0, d["hadron_ecal_fraction_max"], n), 0.0))
    ecal = e * frac
    hcal = np.where(hadron, e * (1.0 - frac), 0.0)
    rho = rho_of(pt, eta, phi)
    # charged hadron subtraction: pileup charged hadrons leave the jets and the charged isolation unless they leak
    chs_removed = pileup & (kind == KIND_CHARGED) & (rng.random(n) >= d["charged_pileup_leak"])
    # the jets' pileup correction uses the density of their own inputs (after the subtraction), as FastJet's
    # area-median method does; the event's rho (all particles) is the isolation's
    rho_chs = rho_of(pt[~chs_removed], eta[~chs_removed], phi[~chs_removed])
    free = ecal > 0
    seeds = np.flatnonzero((kind == KIND_PHOTON) & (pt > d["seed_pt_min"]) & (np.abs(eta) < d["eta_max"] + 0.1))
    seeds = seeds[np.argsort(-pt[seeds], kind="stable")]
    deposit_idx = np.flatnonzero(free)
    clusters = []
    for s in seeds:
        if not free[s]:
            continue
        cand = deposit_idx[free[deposit_idx]]
        members = cand[_dr(eta[cand], phi[cand], eta[s], phi[s]) < d["cluster_radius"]]
        free[members] = False
        e_cl = float(ecal[members].sum())
        axis = (p4[members] * frac[members, None]).sum(axis=0)
        _, ceta_a, cphi_a = _kin(axis[None, :])
        ceta, cphi = float(ceta_a[0]), float(cphi_a[0])
        res = math.sqrt(d["photon_stochastic"] ** 2 / e_cl + (d["photon_noise_gev"] / e_cl) ** 2 + d["photon_constant"] ** 2)
        e_reco = e_cl * max(0.0, 1.0 + res * float(rng.standard_normal()))
        w0 = d["shower_width"] * max(0.0, 1.0 + d["shower_width_spread"] * float(rng.standard_normal()))
        containment = float(np.clip(rng.normal(d["core_containment_mean"], d["core_containment_sd"]), 0.0, 1.0))
        clusters.append({"members": members, "seed": int(s), "e_true": e_cl, "pt": e_reco / math.cosh(ceta), "eta": ceta,
                         "phi": cphi, "w0": w0, "containment": containment})  # fmt: skip
    clusters.sort(key=lambda c: -c["pt"])
    return {"clusters": clusters, "rho": rho, "rho_chs": rho_chs, "jet_input": ~chs_removed, "pt": pt, "eta": eta, "phi": phi, "ecal": ecal,
            "hcal": hcal, "chs_removed": chs_removed, "ip": ip}  # fmt: skip


def candidate_properties(c: dict[str, Any], reco: dict[str, Any], kind: np.ndarray) -> dict[str, float]:
    """Shower shapes, H/E, isolation and truth of one cluster (see :data:`DETECTOR`)."""
    d = DETECTOR
    pt, eta, phi, ecal, hcal = reco["pt"], reco["eta"], reco["phi"], reco["ecal"], reco["hcal"]
    m, e_cl = c["members"], c["e_true"]
    e_i = ecal[m]
    spread2 = float(np.sum(e_i * _dr(eta[m], phi[m], c["eta"], c["phi"]) ** 2) / e_cl)
    width = math.sqrt(spread2 + c["w0"] ** 2)
    core = float(e_i[_dr(eta[m], phi[m], eta[c["seed"]], phi[c["seed"]]) < d["core_radius"]].sum() / e_cl) * c["containment"]
    dr = _dr(eta, phi, c["eta"], c["phi"])
    hoe = float(hcal[dr < d["hoe_cone"]].sum() / e_cl)
    cone = dr < d["iso_cone"]
    cone[m] = False
    charged = cone & (kind == KIND_CHARGED) & ~reco["chs_removed"]
    prompt_e = float(ecal[reco["ip"]]) if reco["ip"] >= 0 and reco["ip"] in set(m.tolist()) else 0.0
    return {
        "pt": c["pt"], "eta": c["eta"], "phi": c["phi"],
        "iso_ch": float(pt[charged].sum()),
        "iso_neu": float(pt[cone & (kind == KIND_NEUTRAL)].sum()),
        "iso_pho": float(pt[cone & (kind == KIND_PHOTON)].sum()),
        "width": width, "core_frac": core, "hoe": hoe, "n_deposits": float(len(m)),
        "true_pt": e_cl / math.cosh(c["eta"]), "prompt_frac": prompt_e / e_cl,
    }  # fmt: skip


def _process_event(reco: dict[str, Any], kind: np.ndarray, jet_p4: np.ndarray, settings: GjetsSettings,
                   rng: np.random.Generator) -> tuple[dict[str, float] | None, str]:  # fmt: skip
    """Candidates and event features of one reconstructed event; (None, why) when it is not kept."""
    d = DETECTOR
    # jets: rho x area correction, then smearing (random numbers drawn in a fixed order)
    jpt, jeta, jphi = _kin(jet_p4) if len(jet_p4) else (np.zeros(0), np.zeros(0), np.zeros(0))
    jpt_corr = np.maximum(jpt - reco["rho_chs"] * math.pi * 0.4**2, 0.0)
    jet_res = np.sqrt(d["jet_stochastic"] ** 2 / np.maximum(jpt_corr, 1e-3) + d["jet_constant"] ** 2)
    jpt_reco = jpt_corr * np.maximum(0.0, 1.0 + jet_res * rng.standard_normal(len(jpt)))
    cands = [c for c in reco["clusters"] if c["pt"] > settings.pho2_pt_min and _in_acceptance(c["eta"])][:2]
    if len(cands) < 2:
        return None, "fewer_than_two"
    props = [candidate_properties(c, reco, kind) for c in cands]
    prompt = [p["prompt_frac"] > 0.5 for p in props]
    if sum(prompt) == 0:
        return None, "two_fakes"
    if sum(prompt) == 2:
        return None, "two_prompts"
    c1, c2 = (props[0], props[1]) if prompt[0] else (props[1], props[0])
    if c1["pt"] < settings.pho1_pt_min:
        return None, "pho1_pt"
    near = np.zeros(len(jpt), dtype=bool)
    for c in (c1, c2):
        near |= _dr(jeta, jphi, c["eta"], c["phi"]) < 0.4
    counted = ~near & (jpt_reco > settings.jet_pt_min) & (np.abs(jeta) < settings.jet_eta_max)
    on2 = _dr(jeta, jphi, c2["eta"], c2["phi"]) < 0.4
    row = {f"pho1_{k}": v for k, v in c1.items()}
    row.update({f"pho2_{k}": v for k, v in c2.items()})
    row["n_jets"] = float(counted.sum())
    row["lead_jet_pt"] = float(jpt_reco[counted].max()) if counted.any() else 0.0
    row["recoil_jet_pt"] = float(jpt_reco[on2].max()) if on2.any() else 0.0
    row["rho"] = reco["rho"]
    row["rho_chs"] = reco["rho_chs"]
    return row, "kept"


DROP_REASONS = ("fewer_than_two", "two_fakes", "two_prompts", "pho1_pt")


def generate_chunk(settings: GjetsSettings, seed: int, chunk: int, n_events: int, cache: str | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Generates one chunk: ``n_events`` parton-level events, each hadronised K times -> selected rows (no ID score).

    Returns:
        (rows, stats): the selected events, and counts and sums over all generated events.
    """
    t0 = time.perf_counter()
    pseed = chunk_seed(seed, chunk)
    pool = minbias_pool(seed, settings.pool_size, Path(cache) if cache else default_cache_dir(),
                        DETECTOR["particle_pt_min"], DETECTOR["particle_eta_max"])  # fmt: skip
    t_pool = time.perf_counter() - t0
    hook = _make_prefilter(settings.prefilter_eta) if settings.prefilter_eta > 0 else None
    py = init_pythia(settings.pythia_settings(pseed), hooks=hook)
    if py is None:
        raise ConfigError(f"Pythia failed to initialise with {settings.pythia_settings(pseed)}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, chunk, 1]))
    import pythia8mc

    k_had = settings.rehadronise
    events, meta, weights = [], [], []
    n_failed = n_had_failed = n_lost_prompt = n_parton_vetoed = 0
    t_pythia = 0.0
    for i_ev in range(n_events):
        t1 = time.perf_counter()
        if not py.next():
            n_failed += 1
            t_pythia += time.perf_counter() - t1
            continue
        w = float(py.infoPython().weight())
        weights.append(w)
        pt_hat = float(py.process[5].pT())
        prompt = _prompt_index(py.event)
        prompt_eta = float(py.event[prompt].eta()) if prompt >= 0 else 0.0
        if settings.photon_eta_max > 0 and (prompt < 0 or abs(prompt_eta) >= settings.photon_eta_max):
            n_parton_vetoed += 1  # counted in n_generated and sum_w: the cross-section per row stays right
            t_pythia += time.perf_counter() - t1
            continue
        saved = pythia8mc.Event(py.event)
        n_parton = saved.size()
        singlets = [i for i in range(n_parton) if saved[i].isFinal() and saved[i].colType() == 0]
        t_pythia += time.perf_counter() - t1
        for k in range(k_had):
            t1 = time.perf_counter()
            if k > 0:
                py.event = pythia8mc.Event(saved)
            ok = py.forceHadronLevel(False)  # the junctions are those of the parton level
            t_pythia += time.perf_counter() - t1
            if not ok:
                n_had_failed += 1
                continue
            p4, kind, ip = _read_hard(py, prompt, singlets + list(range(n_parton, py.event.size())))
            if ip < 0:
                n_lost_prompt += 1
                continue
            n_pu = draw_n_pileup(rng, settings.pileup_mean, settings.pileup_sd)
            pu_p4, pu_kind = overlay(pool, n_pu, rng)
            events.append((np.concatenate([p4, pu_p4]), np.concatenate([kind, pu_kind]), len(p4), ip, n_pu))
            meta.append((w / k_had, pt_hat, i_ev, k, prompt_eta))
    drops = dict.fromkeys(DROP_REASONS, 0)
    reco_all = [reconstruct(p4, kind, np.arange(len(p4)) >= n_hard, ip, rng) for p4, kind, n_hard, ip, _ in events]
    # most events have fewer than two candidates: they are counted and skip the jet clustering
    n_cand = [sum(1 for c in r["clusters"] if c["pt"] > settings.pho2_pt_min and _in_acceptance(c["eta"])) for r in reco_all]
    drops["fewer_than_two"] = sum(1 for n in n_cand if n < 2)
    two = [i for i, n in enumerate(n_cand) if n >= 2]
    events, reco_all, meta = [events[i] for i in two], [reco_all[i] for i in two], [meta[i] for i in two]
    jets = antikt_constituents([ev[0][r["jet_input"]] for ev, r in zip(events, reco_all)], 5.0)
    rows = []
    for (p4, kind, _, _, n_pu), reco, jet_idx, (w, pt_hat, i_ev, k, prompt_eta) in zip(events, reco_all, jets, meta):
        inputs = p4[reco["jet_input"]]
        jet_p4 = np.array([inputs[j].sum(axis=0) for j in jet_idx]) if jet_idx else np.zeros((0, 4))
        row, why = _process_event(reco, kind, jet_p4, settings, rng)
        if row is None:
            drops[why] += 1
            continue
        row["n_vtx"] = float(1 + n_pu)
        row["weight_raw"] = w
        row["pt_hat"] = pt_hat
        row["parton_event"] = float(chunk * settings.chunk_size + i_ev)
        row["hadronisation"] = float(k)
        row["prompt_eta"] = prompt_eta
        rows.append(row)
    w_all = np.asarray(weights)
    stats = {
        "chunk": chunk,
        "pythia_seed": pseed,
        "n_generated": len(weights),
        "n_hadronised": (len(weights) - n_parton_vetoed) * k_had - n_had_failed,
        "n_parton_vetoed": n_parton_vetoed,
        "rehadronise": k_had,
        "n_next_failed": n_failed,
        "n_hadronisation_failed": n_had_failed,
        "n_prompt_lost": n_lost_prompt,
        "n_selected": len(rows),
        "dropped": drops,
        "n_prefilter_tried": hook.n_tried if hook is not None else len(weights),
        "n_prefilter_vetoed": hook.n_vetoed if hook is not None else 0,
        "sum_w": float(w_all.sum()),
        "sum_w2": float((w_all**2).sum()),
        "sigma_gen_mb": float(py.infoPython().sigmaGen()),
        "seconds_pythia": t_pythia,
        "seconds_pool": t_pool,
        "seconds_total": time.perf_counter() - t0,
    }
    return pd.DataFrame(rows).astype(np.float32), stats  # float32: half the cache on disk


def generate_raw(
    n_events: int,
    seed: int,
    settings: GjetsSettings | None = None,
    workers: int = 1,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    scheduler: str | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Generates (or reads back from the cache) the selected events of ``n_events`` Pythia events.

    Chunks already in the cache are skipped, so an interrupted run resumes. ``workers`` and ``scheduler``
    (a running Dask cluster) are those of :func:`hepgan.samples.chunks.run_chunks`.

    Returns:
        (raw, summary): float64 rows without the ID score, and the summed chunk statistics.
    """
    from hepgan.io import atomic_path

    settings = (settings or GjetsSettings()).validate()
    check_request(n_events, seed, workers)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache = root / settings_key(settings, int(seed))
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache / "settings.json") as tmp:
            tmp.write_text(json.dumps(
                {"settings": dataclasses.asdict(settings), "seed": int(seed), "detector": DETECTOR,
                 "pythia": pythia_version(), "generator_version": GENERATOR_VERSION}, indent=1, default=str))  # fmt: skip
    except OSError as err:
        raise InputFileError(f"{cache}: cannot use the cache folder ({err.strerror})") from None
    # the pileup pool is made once, here, before any worker needs it
    minbias_pool(int(seed), settings.pool_size, cache, DETECTOR["particle_pt_min"], DETECTOR["particle_eta_max"])
    tables, stats = cached_chunks("gjets", cache, generate_chunk, settings, int(seed), int(n_events), int(workers), progress,
                                  lambda st: st["n_generated"] + st["n_next_failed"], scheduler)  # fmt: skip
    frames = [df for df in tables if len(df.columns) > 1]  # chunks that kept no event hold one placeholder column
    raw = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    summary = {k: sum(s.get(k, 0) for s in stats) for k in ("n_generated", "n_hadronised", "n_next_failed", "n_hadronisation_failed",
                                                             "n_prompt_lost", "n_parton_vetoed", "n_selected", "n_prefilter_tried",
                                                             "n_prefilter_vetoed", "sum_w", "sum_w2", "seconds_pythia", "seconds_total")}  # fmt: skip
    summary["dropped"] = {k: sum(s["dropped"][k] for s in stats) for k in DROP_REASONS}
    # Pythia's cross-section estimate; chunks cached before a fix of its readout hold 0 (not recorded)
    sig = [s["sigma_gen_mb"] for s in stats if s["sigma_gen_mb"] > 0]
    summary["sigma_gen_mb"] = float(np.mean(sig)) if sig else None
    summary["pythia_seeds"] = [s["pythia_seed"] for s in stats]
    summary["cache"] = str(cache)
    return raw, summary


# --------------------------------------------------------------------------- the table


def assemble(
    raw: pd.DataFrame,
    summary: dict[str, Any],
    id_threshold: float,
    loose_threshold: float | None = None,
    compact: bool = False,
    cr_fraction: float = 1.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Adds the ID scores, the pho1 ID requirement, the regions, derived columns and the weight.

    SR (region 1): both candidates pass the tight ID (score > ``id_threshold``); CR (region 0): pho1
    passes the tight ID and pho2 fails the loose one (score <= ``loose_threshold``); events with pho2
    in between are in neither and are not kept (their number is in ``df.attrs["n_band"]``).

    The weight is Pythia's event weight (over K for K hadronisations) divided by its mean over all
    generated parton-level events, so the cross-section of a row is ``weight * sigma_gen_pb / n_generated``
    (both in the metadata).

    With ``cr_fraction`` < 1, each CR event is kept with that probability (a draw seeded by
    ``seed``) and its weight divided by it: an unbiased, smaller file with every SR event.
    The SR share before this thinning is stored in ``df.attrs["sr_share_selected"]``.
    """
    from hepgan.samples.photon_id import load_default

    model = load_default()
    loose = model.loose_point if loose_threshold is None else float(loose_threshold)
    if loose > id_threshold:
        raise ConfigError(f"loose_threshold {loose:g} is above id_threshold {id_threshold:g}: the loose cut must be the looser")
    if len(raw) == 0:
        raise InputFileError("gjets: no event passed the selection; generate more events")
    df = raw.drop(columns=["pt_hat"], errors="ignore")
    df["pho1_id"] = model.score(df, "pho1")
    df["pho2_id"] = model.score(df, "pho2")
    df = df.loc[df["pho1_id"] > id_threshold].reset_index(drop=True)
    mean_w = summary["sum_w"] / max(summary["n_generated"], 1)
    df["weight"] = df.pop("weight_raw") / mean_w
    sr = df["pho2_id"].to_numpy() > id_threshold
    cr = df["pho2_id"].to_numpy() <= loose
    n_band = int(np.sum(~sr & ~cr))
    df = df.loc[sr | cr].reset_index(drop=True)
    df["region"] = (df["pho2_id"] > id_threshold).astype(np.float64)
    sr_share = float(df["region"].mean()) if len(df) else 0.0
    if cr_fraction < 1.0:
        u = np.random.default_rng(np.random.SeedSequence([seed, 2])).random(len(df))
        is_cr = df["region"].to_numpy() == 0
        df.loc[is_cr, "weight"] /= cr_fraction
        df = df.loc[~is_cr | (u < cr_fraction)].reset_index(drop=True)
    for k, v in derived_columns(df).items():
        df[k] = v
    df["pho1_phi"] = wrap_phi(df["pho1_phi"])
    df["pho2_phi"] = wrap_phi(df["pho2_phi"])
    front = list(COMPACT_COLUMNS)
    cols = front if compact else front + [c for c in df.columns if c not in front]
    out = df[cols].astype(np.float32)
    out.attrs["sr_share_selected"] = sr_share
    out.attrs["n_band"] = n_band
    out.attrs["loose_threshold"] = loose
    return out


def effective_size(w: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 (0 for no events).

    Example:
        >>> effective_size(np.ones(10)), effective_size(np.array([1.0, 0.0, 0.0, 0.0]))
        (10.0, 1.0)
    """
    w = np.asarray(w, dtype=np.float64)
    return float(w.sum() ** 2 / (w**2).sum()) if len(w) and (w**2).sum() > 0 else 0.0


def make_gjets(
    n_events: int,
    seed: int = 1,
    out: str | Path | None = None,
    workers: int = 1,
    fmt: str = "parquet",
    pt_hat_min: float = GjetsSettings.pt_hat_min,
    pileup_mean: float = GjetsSettings.pileup_mean,
    bias_pow: float = GjetsSettings.bias_pow,
    process: str = GjetsSettings.process,
    id_threshold: float | None = None,
    loose_threshold: float | None = None,
    compact: bool = False,
    cr_fraction: float = 1.0,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    command: str | None = None,
    scheduler: str | None = None,
    **settings: Any,
) -> pd.DataFrame:
    """Makes a prompt photon + jet sample with SR/CR labels.

    Args:
        n_events: parton-level Pythia events to generate (each hadronised ``rehadronise`` times; the table
            has the selected ones).
        seed: master seed; chunk c uses Pythia seed :func:`chunk_seed` (seed, c).
        out: file to write (Parquet or ROOT); nothing is written when None.
        workers: worker processes; the output does not depend on it.
        fmt: "parquet" or "root".
        pt_hat_min, pileup_mean, bias_pow, process: see :class:`GjetsSettings`.
        id_threshold: the tight photon ID working point (SR: both candidates above it; pho1 must pass it);
            the shipped model's tight working point when None.
        loose_threshold: the loose working point (CR: pho2 at or below it); the model's when None.
        compact: keep only :data:`COMPACT_COLUMNS`.
        cr_fraction: keep each CR event with this probability, weight / cr_fraction (smaller files).
        cache_dir: chunk cache root (default ``$HEPGAN_CACHE/samples`` or ``~/.cache/hepgan/samples``).
        progress: tqdm progress bar on stderr.
        command: the command line recorded in the metadata.
        scheduler: address of a running Dask cluster to generate the chunks on; the output does not depend on it.
        **settings: other :class:`GjetsSettings` fields (rehadronise, prefilter_eta, chunk_size, ...).

    Returns:
        The table (N, C), float32.
    """
    from hepgan.io import check_output_file, write_table
    from hepgan.samples.photon_id import load_default

    fields = {f.name for f in dataclasses.fields(GjetsSettings)}
    for k in settings:
        if k not in fields:
            raise ConfigError(f"{k}: unknown gjets setting (known: {', '.join(sorted(fields))})")
    s = GjetsSettings(process=process, pt_hat_min=float(pt_hat_min), pileup_mean=float(pileup_mean),
                      bias_pow=float(bias_pow), **settings).validate()  # fmt: skip
    choice(fmt, ("parquet", "root"), "format")
    if out is not None:
        check_output_file(out, fmt)
    model = load_default()
    thr = model.working_point if id_threshold is None else float(id_threshold)
    check(math.isfinite(thr) and -1 <= thr < 1, "id_threshold", "a number in [-1, 1)", thr)
    loose = model.loose_point if loose_threshold is None else float(loose_threshold)
    check(math.isfinite(loose) and -1 <= loose <= thr, "loose_threshold", f"a number in [-1, id_threshold = {thr:g}]", loose)
    check(0 < cr_fraction <= 1, "cr_fraction", "a number in (0, 1]", cr_fraction)
    raw, summary = generate_raw(n_events, seed, s, workers=workers, cache_dir=cache_dir, progress=progress, scheduler=scheduler)
    df = assemble(raw, summary, thr, loose, compact=compact, cr_fraction=float(cr_fraction), seed=int(seed))
    if out is not None:
        meta = sample_metadata(s, int(seed), int(n_events), thr, loose, summary, df, model, compact, command)
        meta["cr_fraction"] = float(cr_fraction)
        meta["sr_share_selected"] = df.attrs["sr_share_selected"]
        meta["n_band"] = df.attrs["n_band"]
        write_table(df, out, metadata=meta, fmt=fmt)
    return df


def sample_metadata(s: GjetsSettings, seed, n_events, thr, loose, summary, df, model, compact, command) -> dict[str, Any]:
    from hepgan.provenance import record

    sr_mask = df["region"].to_numpy() == 1 if len(df) else np.zeros(0, dtype=bool)
    w = df["weight"].to_numpy(np.float64) if len(df) else np.zeros(0)
    test = model.info.get("test", {})
    return {
        "sample": "gjets",
        "command": command or "hepgan.samples.gjets.make_gjets(...)",
        "provenance": record(),
        "seed": seed,
        "n_events_generated": n_events,
        "n_rows": len(df),
        "id_threshold": thr,
        "loose_threshold": loose,
        "working_points": {
            "tight": {"threshold": thr, "definition": "SR: pho1 and pho2 score > threshold",
                      "measured_on_independent_events": test.get("tight") if thr == model.working_point else "not measured"},
            "loose": {"threshold": loose, "definition": "CR: pho1 passes tight, pho2 score <= threshold",
                      "measured_on_independent_events": test.get("loose") if loose == model.loose_point else "not measured"},
        },  # fmt: skip
        "id_model": model.describe(),
        "sr_share": float(sr_mask.mean()) if len(df) else 0.0,
        "n_sr": int(sr_mask.sum()),
        "n_cr": int((~sr_mask).sum()),
        "effective_size": {"sr": effective_size(w[sr_mask]), "cr": effective_size(w[~sr_mask])},
        "n_sr_parton_events": len(np.unique(df.loc[sr_mask, "parton_event"])) if "parton_event" in df.columns else None,
        "generator": {
            "name": "Pythia 8", "pythia_version": pythia_version(), "process": s.process,
            "sqrt_s_gev": s.sqrt_s, "pTHatMin_gev": s.pt_hat_min,
            "bias2Selection": s.bias_pow > 0, "bias2SelectionPow": s.bias_pow, "bias2SelectionRef": s.pt_hat_min,
            "mpi": s.mpi, "pileup_mean": s.pileup_mean, "pileup_sd": s.pileup_sd, "pileup_pool_size": s.pool_size,
            "prefilter_eta": s.prefilter_eta, "photon_eta_max": s.photon_eta_max, "rehadronise": s.rehadronise, "chunk_size": s.chunk_size,
            "seeds_per_chunk": summary["pythia_seeds"], "settings_key": settings_key(s, seed),
            "jets": "anti-kT R=0.4 (FastJet) on the reconstructed particles after charged hadron subtraction, "
                    "pT - rho_chs x pi 0.4^2 (rho_chs: median density of the jet inputs), smeared",
        },  # fmt: skip
        "counts": {k: summary[k] for k in ("n_generated", "n_hadronised", "n_next_failed", "n_hadronisation_failed", "n_prompt_lost",
                                           "n_parton_vetoed", "n_selected", "n_prefilter_tried", "n_prefilter_vetoed")} | {"dropped": summary["dropped"]},
        "selection": {
            "candidates": f"the two highest-pT EM clusters with pT > {s.pho2_pt_min} GeV in the acceptance",
            "pho1": f"the candidate with more than half of its energy from the prompt photon, pT > {s.pho1_pt_min} GeV, "
                    "pho1_id > id_threshold",
            "pho2": "the other candidate (a jet faking a photon)",
            "not kept": "events whose two candidates are both prompt or both fakes",
            "acceptance": "|eta| < 2.5 without 1.4442 < |eta| < 1.566",
            "n_jets": f"jets with corrected smeared pT > {s.jet_pt_min} GeV and |eta| < {s.jet_eta_max} farther than "
            "Delta R 0.4 from pho1 and pho2",
            "region": "1 = SR (pho2_id > id_threshold), 0 = CR (pho2_id <= loose_threshold)",
        },  # fmt: skip
        "pho1_pt_min": s.pho1_pt_min, "pho2_pt_min": s.pho2_pt_min, "jet_pt_min": s.jet_pt_min,
        "detector": DETECTOR,
        "weight": "Pythia event weight / K / its mean over all generated parton-level events; "
        "sigma per row = weight * sigma_gen_pb / n_generated",
        "sigma_gen_pb": None if summary["sigma_gen_mb"] is None else summary["sigma_gen_mb"] * 1e9,
        "n_generated": summary["n_generated"],
        "compact": compact,
    }  # fmt: skip


def command_line(argv: list[str] | None = None) -> str:
    return shlex.join(["hepgan", *(argv if argv is not None else sys.argv[1:])])
