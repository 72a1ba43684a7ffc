"""Prompt photon + jet events with a jet photon candidate, made with Pythia 8 and FastJet.

One row per selected event: the prompt photon (``pho1_*``), the leading
electromagnetic cluster of the hardest jet that does not contain the prompt
photon (``pho2_*``, the jet photon candidate), event features and a weight.
The region label splits the events into a signal region (SR, ``pho2`` passes
the photon ID) and a control region (CR, ``pho2`` fails it), as in seed 002.

Pipeline, per chunk of ``chunk_size`` Pythia events (seeded per chunk, so the
file does not depend on the number of worker processes):

1. Pythia 8, ``PromptPhoton:*`` at ``sqrt_s`` with ``pTHatMin`` and optionally the
   ``bias2Selection`` phase-space bias (weight = Pythia's event weight).
2. Anti-kT R=0.4 jets (FastJet, one awkward batch per chunk) of all visible final-state
   particles.
3. Candidates: EM clusters are photons within ``R_CLUSTER`` of a seed photon; the
   prompt candidate is the cluster seeded by the prompt photon, the jet candidate the
   highest-pT cluster seeded by a photon of the hardest jet without the prompt photon.
4. Detector response (smearing, shower-shape proxies, pileup in isolation cones) and
   acceptance, see :data:`DETECTOR`.
5. Chunks are cached (atomic Parquet files in a folder keyed by the settings); the
   final table is assembled from them, the photon ID score is computed with the
   shipped model (:mod:`hepgan.samples.photon_id`) and the region assigned.
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
GENERATOR_VERSION = 1

PROCESSES = (
    "PromptPhoton:all",
    "PromptPhoton:qg2qgamma",
    "PromptPhoton:qqbar2ggamma",
    "PromptPhoton:gg2ggamma",
)

ID_INPUTS = ("iso_ch", "iso_neu", "iso_pho", "width", "core_frac")
COMPACT_COLUMNS = (
    "pho1_pt", "pho1_eta", "pho1_phi", "pho1_id",
    "pho2_pt", "pho2_eta", "pho2_phi", "pho2_id",
    "n_jets", "n_vtx", "lead_jet_pt",
    "m_gg", "pt_gg", "ptgg_over_mgg",
    "weight", "region",
)  # fmt: skip

# The detector model, recorded in every file's metadata.
DETECTOR: dict[str, Any] = {
    # photon energy resolution sigma_E/E = a/sqrt(E) (+) b/E (+) c (CMS ECAL-like), Gaussian
    "photon_stochastic": 0.03,
    "photon_noise_gev": 0.2,
    "photon_constant": 0.005,
    # jet pT resolution sigma/pT = a/sqrt(pT) (+) c, Gaussian; jets are pileup-subtracted
    "jet_stochastic": 1.0,
    "jet_constant": 0.05,
    # EM cluster: photons within this eta-phi distance of the seed photon
    "cluster_radius": 0.05,
    # core of the cluster: photons within this distance of the seed
    "core_radius": 0.02,
    # intrinsic shower width (eta-phi units) added in quadrature, with a relative spread
    "shower_width": 0.009,
    "shower_width_spread": 0.1,
    # lateral containment of the core energy: core_frac *= clip(N(mean, sd), 0, 1)
    "core_containment_mean": 0.96,
    "core_containment_sd": 0.02,
    # isolation cone (the candidate's own cluster is excluded)
    "iso_cone": 0.3,
    # pileup: per pileup vertex, particles per unit eta-phi area by type, each with an
    # exponential pT of mean pileup_mean_pt; charged pileup survives the vertex
    # association with probability charged_pileup_leak
    "pileup_density_charged": 0.9,
    "pileup_density_photon": 0.4,
    "pileup_density_neutral": 0.1,
    "pileup_mean_pt": 0.6,
    "charged_pileup_leak": 0.1,
    # acceptance
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
        pileup_mean: mean number of pileup interactions; n_vtx = 1 + Poisson(pileup_mean).
        chunk_size: Pythia events per chunk (each chunk has its own seed).
        pho1_pt_min: prompt photon candidate pT cut in GeV.
        pho2_pt_min: jet photon candidate pT cut in GeV.
        jet_pt_min: pT cut of the jets counted in n_jets, GeV.
        jet_eta_max: |eta| cut of the jets counted in n_jets.
        mpi: Pythia multiparton interactions (the underlying event; keep on for isolation).
    """

    process: str = "PromptPhoton:all"
    pt_hat_min: float = 40.0
    sqrt_s: float = 13000.0
    bias_pow: float = 3.0
    pileup_mean: float = 20.0
    chunk_size: int = 1000
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


def settings_key(settings: GjetsSettings, seed: int) -> str:
    record = {"settings": dataclasses.asdict(settings), "seed": seed, "detector": DETECTOR,
              "pythia": pythia_version(), "generator_version": GENERATOR_VERSION}  # fmt: skip
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


def _read_event(py) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """Visible final-state particles: (N, 4) momenta, pdg ids, charges, index of the prompt photon.

    None when the hard-process photon does not reach the final state (rare QED splitting).
    """
    ev = py.event
    prompt = -1
    # The outgoing photon of the hard 2->2 (entries 5, 6); the harder one if both are photons.
    best = -1.0
    for i in (5, 6):
        if ev[i].id() == 22 and ev[i].pT() > best:
            best, prompt = ev[i].pT(), ev[i].iBotCopyId()
    if prompt < 0 or not ev[prompt].isFinal():
        return None
    rows, ids, charges = [], [], []
    ip = -1
    for i in range(ev.size()):
        p = ev[i]
        if p.isFinal() and p.isVisible():
            if i == prompt:
                ip = len(rows)
            rows.append((p.px(), p.py(), p.pz(), p.e()))
            ids.append(p.id())
            charges.append(p.charge())
    if ip < 0:
        return None
    return np.asarray(rows), np.asarray(ids, dtype=np.int64), np.asarray(charges), ip


def _cluster_at(seed_i: int, pho_idx: np.ndarray, eta, phi, free: np.ndarray) -> np.ndarray:
    """Indices of the free photons within the cluster radius of photon ``seed_i`` (seed included)."""
    d = _dr(eta[pho_idx], phi[pho_idx], eta[seed_i], phi[seed_i])
    members = pho_idx[(d < DETECTOR["cluster_radius"]) & free[pho_idx]]
    return members


def _candidate(members: np.ndarray, seed_i: int, p4, pt, eta, phi, ids, charges, n_pu: int, rng) -> dict[str, float]:
    """Reconstructed photon candidate from its cluster members, with ID inputs."""
    s = p4[members].sum(axis=0)
    cpt, ceta, cphi = (float(v[0]) for v in _kin(s[None, :]))
    e_true = float(p4[members, 3].sum())
    d = DETECTOR
    res = math.sqrt(d["photon_stochastic"] ** 2 / e_true + (d["photon_noise_gev"] / e_true) ** 2 + d["photon_constant"] ** 2)
    e_reco = e_true * max(0.0, 1.0 + res * rng.standard_normal())
    # shower shapes: energy-weighted spread of the photons around the axis, plus the intrinsic width
    e_i = p4[members, 3]
    dr_axis = _dr(eta[members], phi[members], ceta, cphi)
    spread2 = float(np.sum(e_i * dr_axis**2) / e_true)
    w0 = d["shower_width"] * max(0.0, 1.0 + d["shower_width_spread"] * rng.standard_normal())
    width = math.sqrt(spread2 + w0**2)
    dr_seed = _dr(eta[members], phi[members], eta[seed_i], phi[seed_i])
    core = float(e_i[dr_seed < d["core_radius"]].sum() / e_true)
    core *= float(np.clip(rng.normal(d["core_containment_mean"], d["core_containment_sd"]), 0.0, 1.0))
    # isolation sums in the cone around the candidate, without its own cluster
    cone = _dr(eta, phi, ceta, cphi) < d["iso_cone"]
    cone[members] = False
    charged = charges != 0
    photon = ids == 22
    iso_ch = float(pt[cone & charged].sum())
    iso_pho = float(pt[cone & photon].sum())
    iso_neu = float(pt[cone & ~charged & ~photon].sum())
    area = math.pi * d["iso_cone"] ** 2
    for key, dens, leak in (
        ("ch", d["pileup_density_charged"], d["charged_pileup_leak"]),
        ("pho", d["pileup_density_photon"], 1.0),
        ("neu", d["pileup_density_neutral"], 1.0),
    ):
        n = rng.poisson(n_pu * dens * area * leak)
        add = float(rng.gamma(n, d["pileup_mean_pt"])) if n > 0 else 0.0
        if key == "ch":
            iso_ch += add
        elif key == "pho":
            iso_pho += add
        else:
            iso_neu += add
    return {
        "pt": e_reco / math.cosh(ceta), "eta": ceta, "phi": cphi,
        "iso_ch": iso_ch, "iso_neu": iso_neu, "iso_pho": iso_pho,
        "width": width, "core_frac": core, "n_photons": float(len(members)),
        "true_pt": cpt,
    }  # fmt: skip


def _process_event(p4, ids, charges, ip, jets_idx, n_pu, settings: GjetsSettings, rng) -> dict[str, float] | None:
    """Candidates and event features of one event; None when it fails the selection."""
    pt, eta, phi = _kin(p4)
    photons = np.flatnonzero(ids == 22)
    free = np.ones(len(p4), dtype=bool)
    # prompt candidate: the cluster seeded by the prompt photon
    m1 = _cluster_at(ip, photons, eta, phi, free)
    free[m1] = False
    # jets, hardest first; the jet with the prompt photon is skipped
    jets = [np.asarray(j, dtype=np.int64) for j in jets_idx]
    jet_p4 = np.array([p4[j].sum(axis=0) for j in jets]) if jets else np.zeros((0, 4))
    jpt, jeta, _ = _kin(jet_p4) if len(jets) else (np.zeros(0), np.zeros(0), np.zeros(0))
    order = np.argsort(-jpt, kind="stable")
    has_prompt = np.array([ip in set(j.tolist()) for j in jets], dtype=bool)
    recoil = [k for k in order if not has_prompt[k]]
    # draw the random numbers in a fixed order whatever happens below
    jet_res = np.sqrt(DETECTOR["jet_stochastic"] ** 2 / np.maximum(jpt, 1e-3) + DETECTOR["jet_constant"] ** 2)
    jpt_reco = jpt * np.maximum(0.0, 1.0 + jet_res * rng.standard_normal(len(jpt)))
    c1 = _candidate(m1, ip, p4, pt, eta, phi, ids, charges, n_pu, rng)
    if not recoil or c1["pt"] < settings.pho1_pt_min or not _in_acceptance(c1["eta"]):
        return None
    k2 = recoil[0]
    in_jet = np.intersect1d(jets[k2], photons)
    if len(in_jet) == 0:
        return None
    # greedy clustering of the jet's photons, hardest seed first; keep the hardest cluster
    best, best_pt, best_seed = None, -1.0, -1
    for s in in_jet[np.argsort(-pt[in_jet], kind="stable")]:
        if not free[s]:
            continue
        m = _cluster_at(int(s), photons, eta, phi, free)
        free[m] = False
        cpt = float(np.hypot(*p4[m, :2].sum(axis=0)))
        if cpt > best_pt:
            best, best_pt, best_seed = m, cpt, int(s)
    c2 = _candidate(best, best_seed, p4, pt, eta, phi, ids, charges, n_pu, rng)
    if c2["pt"] < settings.pho2_pt_min or not _in_acceptance(c2["eta"]):
        return None
    counted = [k for k in range(len(jets)) if not has_prompt[k] and k != k2
               and jpt_reco[k] > settings.jet_pt_min and abs(jeta[k]) < settings.jet_eta_max]  # fmt: skip
    row = {f"pho1_{k}": v for k, v in c1.items()}
    row.update({f"pho2_{k}": v for k, v in c2.items()})
    row["n_jets"] = float(len(counted))
    row["lead_jet_pt"] = float(max((jpt_reco[k] for k in counted), default=0.0))
    row["recoil_jet_pt"] = float(jpt_reco[k2])
    return row


def generate_chunk(settings: GjetsSettings, seed: int, chunk: int, n_events: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Generates one chunk: Pythia events -> selected rows (without the ID score).

    Returns:
        (rows, stats): the selected events, and counts and sums over all generated events.
    """
    t0 = time.perf_counter()
    pseed = chunk_seed(seed, chunk)
    py = init_pythia(settings.pythia_settings(pseed))
    if py is None:
        raise ConfigError(f"Pythia failed to initialise with {settings.pythia_settings(pseed)}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, chunk, 1]))
    events, weights, keep = [], [], []
    n_failed = 0
    for _ in range(n_events):
        if not py.next():
            n_failed += 1
            continue
        w = float(py.infoPython().weight())
        weights.append(w)
        r = _read_event(py)
        if r is None:
            continue
        events.append(r)
        keep.append((w, float(py.process[5].pT()), len(weights) - 1))
    t_gen = time.perf_counter() - t0
    jets = antikt_constituents([e[0] for e in events], 5.0)
    rows = []
    for (p4, ids, charges, ip), jet_idx, (w, pt_hat, i_ev) in zip(events, jets, keep):
        n_pu = int(rng.poisson(settings.pileup_mean))
        row = _process_event(p4, ids, charges, ip, jet_idx, n_pu, settings, rng)
        if row is None:
            continue
        row["n_vtx"] = float(1 + n_pu)
        row["weight_raw"] = w
        row["pt_hat"] = pt_hat
        row["event"] = float(chunk * settings.chunk_size + i_ev)
        rows.append(row)
    w_all = np.asarray(weights)
    stats = {
        "chunk": chunk,
        "pythia_seed": pseed,
        "n_generated": len(weights),
        "n_next_failed": n_failed,
        "n_selected": len(rows),
        "sum_w": float(w_all.sum()),
        "sum_w2": float((w_all**2).sum()),
        "sigma_gen_mb": float(py.infoPython().sigmaGen()),
        "seconds_pythia": t_gen,
        "seconds_total": time.perf_counter() - t0,
    }
    return pd.DataFrame(rows), stats


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
    tables, stats = cached_chunks("gjets", cache, generate_chunk, settings, int(seed), int(n_events), int(workers), progress,
                                  lambda st: st["n_generated"] + st["n_next_failed"], scheduler)  # fmt: skip
    frames = [df for df in tables if len(df.columns) > 1]  # chunks that kept no event hold one placeholder column
    raw = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    summary = {k: sum(s[k] for s in stats) for k in ("n_generated", "n_next_failed", "n_selected", "sum_w", "sum_w2",
                                                      "seconds_pythia", "seconds_total")}  # fmt: skip
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
    compact: bool = False,
    cr_fraction: float = 1.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Adds the ID scores, the pho1 ID requirement, the region, derived columns and the weight.

    The weight is Pythia's event weight divided by its mean over all generated events, so
    the weights of the selected events sum to N_generated x (selection efficiency); the
    cross-section of a row is ``weight * sigma_gen_pb / n_generated`` (both in the metadata).

    With ``cr_fraction`` < 1, each CR event is kept with that probability (a draw seeded by
    ``seed``) and its weight divided by it: an unbiased, smaller file with every SR event.
    The SR share before this thinning is stored in ``df.attrs["sr_share_selected"]``.
    """
    from hepgan.samples.photon_id import load_default

    model = load_default()
    if len(raw) == 0:
        raise InputFileError("gjets: no event passed the selection; generate more events")
    df = raw.drop(columns=["pt_hat"], errors="ignore")
    df["pho1_id"] = model.score(df, "pho1")
    df["pho2_id"] = model.score(df, "pho2")
    df = df.loc[df["pho1_id"] > id_threshold].reset_index(drop=True)
    mean_w = summary["sum_w"] / max(summary["n_generated"], 1)
    df["weight"] = df.pop("weight_raw") / mean_w
    df["region"] = (df["pho2_id"] > id_threshold).astype(np.float64)
    sr_share = float(df["region"].mean()) if len(df) else 0.0
    if cr_fraction < 1.0:
        u = np.random.default_rng(np.random.SeedSequence([seed, 2])).random(len(df))
        cr = df["region"].to_numpy() == 0
        df.loc[cr, "weight"] /= cr_fraction
        df = df.loc[~cr | (u < cr_fraction)].reset_index(drop=True)
    for k, v in derived_columns(df).items():
        df[k] = v
    df["pho1_phi"] = wrap_phi(df["pho1_phi"])
    df["pho2_phi"] = wrap_phi(df["pho2_phi"])
    front = list(COMPACT_COLUMNS)
    cols = front if compact else front + [c for c in df.columns if c not in front]
    out = df[cols].astype(np.float32)
    out.attrs["sr_share_selected"] = sr_share
    return out


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
        n_events: Pythia events to generate (the table has the selected ones).
        seed: master seed; chunk c uses Pythia seed :func:`chunk_seed` (seed, c).
        out: file to write (Parquet or ROOT); nothing is written when None.
        workers: worker processes; the output does not depend on it.
        fmt: "parquet" or "root".
        pt_hat_min, pileup_mean, bias_pow, process: see :class:`GjetsSettings`.
        id_threshold: photon ID working point (SR: pho2_id > threshold; pho1 must pass it);
            the shipped model's recommended working point when None.
        compact: keep only :data:`COMPACT_COLUMNS`.
        cr_fraction: keep each CR event with this probability, weight / cr_fraction (smaller files).
        cache_dir: chunk cache root (default ``$HEPGAN_CACHE/samples`` or ``~/.cache/hepgan/samples``).
        progress: tqdm progress bar on stderr.
        command: the command line recorded in the metadata.
        scheduler: address of a running Dask cluster to generate the chunks on; the output does not depend on it.
        **settings: other :class:`GjetsSettings` fields (chunk_size, pho1_pt_min, ...).

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
    check(0 < cr_fraction <= 1, "cr_fraction", "a number in (0, 1]", cr_fraction)
    raw, summary = generate_raw(n_events, seed, s, workers=workers, cache_dir=cache_dir, progress=progress, scheduler=scheduler)
    df = assemble(raw, summary, thr, compact=compact, cr_fraction=float(cr_fraction), seed=int(seed))
    if out is not None:
        meta = sample_metadata(s, int(seed), int(n_events), thr, summary, df, model, compact, command)
        meta["cr_fraction"] = float(cr_fraction)
        meta["sr_share_selected"] = df.attrs["sr_share_selected"]
        write_table(df, out, metadata=meta, fmt=fmt)
    return df


def sample_metadata(s: GjetsSettings, seed, n_events, thr, summary, df, model, compact, command) -> dict[str, Any]:
    from hepgan.provenance import record

    sr = float(df["region"].mean()) if len(df) else 0.0
    return {
        "sample": "gjets",
        "command": command or "hepgan.samples.gjets.make_gjets(...)",
        "provenance": record(),
        "seed": seed,
        "n_events_generated": n_events,
        "n_rows": len(df),
        "id_threshold": thr,
        "id_model": model.describe(),
        "sr_share": sr,
        "n_sr": int(df["region"].sum()) if len(df) else 0,
        "generator": {
            "name": "Pythia 8", "pythia_version": pythia_version(), "process": s.process,
            "sqrt_s_gev": s.sqrt_s, "pTHatMin_gev": s.pt_hat_min,
            "bias2Selection": s.bias_pow > 0, "bias2SelectionPow": s.bias_pow, "bias2SelectionRef": s.pt_hat_min,
            "mpi": s.mpi, "pileup_mean": s.pileup_mean, "chunk_size": s.chunk_size,
            "seeds_per_chunk": summary["pythia_seeds"], "settings_key": settings_key(s, seed),
            "jets": "anti-kT R=0.4 (FastJet) on visible final-state particles",
        },  # fmt: skip
        "selection": {
            "pho1": f"prompt photon cluster, pT > {s.pho1_pt_min} GeV, in acceptance, pho1_id > id_threshold",
            "pho2": f"leading EM cluster of the hardest jet without the prompt photon, pT > {s.pho2_pt_min} GeV, in acceptance",
            "acceptance": "|eta| < 2.5 without 1.4442 < |eta| < 1.566",
            "n_jets": f"jets with smeared pT > {s.jet_pt_min} GeV and |eta| < {s.jet_eta_max} other than the jets "
            "containing pho1 or pho2",
            "region": "1 = SR (pho2_id > id_threshold), 0 = CR",
        },  # fmt: skip
        "pho1_pt_min": s.pho1_pt_min, "pho2_pt_min": s.pho2_pt_min, "jet_pt_min": s.jet_pt_min,
        "detector": DETECTOR,
        "weight": "Pythia event weight / its mean over all generated events; "
        "sigma per row = weight * sigma_gen_pb / n_generated",
        "sigma_gen_pb": None if summary["sigma_gen_mb"] is None else summary["sigma_gen_mb"] * 1e9,
        "n_generated": summary["n_generated"],
        "compact": compact,
    }  # fmt: skip


def command_line(argv: list[str] | None = None) -> str:
    return shlex.join(["hepgan", *(argv if argv is not None else sys.argv[1:])])
