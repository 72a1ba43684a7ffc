r"""pp -> ZW -> (l l)(j j) at parton and detector level, matched event by event, made with Pythia 8 + FastJet.

The unfolding sample of arXiv:1912.00477 (seeds 001 and 003). Pythia 8 at 13 TeV generates
``WeakDoubleBoson:ffbar2ZW`` (``process = "sm"``) or ``pp -> W' -> Z W`` (``process = "wprime"``,
``NewGaugeBoson:ffbar2Wprime``, the W' coupled to Z W with ``Wprime:coup2WZ = 1`` (0 by default in Pythia)
and forced to decay to it, mass ``wprime_mass`` and width ``wprime_width``), the Z decaying to e+ e- or mu+
mu-, the W to quarks; showers, multiparton interactions and hadronisation on, initial-state radiation off by
default (as in the paper; ``isr``).

Parton level: the two leptons of the Z decay and the two quarks of the W decay, read from Pythia's
process record (before showering). Detector level (:data:`DETECTOR`):

* leptons: the last copies of the two Z leptons in the event record (after QED radiation), their pT
  smeared with a Gaussian relative resolution (electrons a/sqrt(E) (+) c, muons a (+) b pT);
* jets: anti-kT R = 0.4 (FastJet, one awkward batch per chunk) of every visible final-state particle
  but the two leptons, pT smeared with sigma/pT = a/sqrt(pT) (+) c, eta and phi with Gaussian spreads.

Selection (the paper's): exactly two jets with pT > ``jet_pt_min`` (25 GeV) and |eta| < 2.5 after smearing,
and both Z leptons with pT > ``lepton_pt_min`` (10 GeV) and |eta| < 2.5. Jets are ordered by detector pT
(``j1``, ``j2``); the quarks are assigned to them by Delta R (the assignment with the smaller sum of the two
distances), so ``q1`` is the quark of ``j1``; leptons are assigned by charge (``lm`` the negative lepton,
``lp`` the positive one). ``match_dr`` is the larger of the two jet-quark distances; ``matched`` is 1 when
it is below 0.4 (the metadata carry the share, the matching efficiency). At 1.3 TeV the W is boosted (pT
about 600 GeV) and its quarks are often closer than 0.4: they then make one jet, and the second jet of a
selected W' event is often radiation, so the W' sample's matching efficiency is low (47 %) and its detector
m_jj far from the W mass in many events.

Columns (float64): per object ``det_j1, det_j2, det_lm, det_lp`` and ``part_q1, part_q2, part_lm, part_lp``
the columns of :func:`hepgan.kinematics.event_table` (``_px, _py, _pz, _e, _m, _pt, _eta, _phi``), then
``det_m_jj, det_m_ll, det_m_zw`` and ``part_m_jj, part_m_ll, part_m_zw`` (invariant masses), ``flavour``
(11 or 13), ``match_dr``, ``matched``, ``event`` (index of the Pythia event in the sample) and ``weight``.

Chunks with recorded seeds, cached in a folder keyed by the settings (:mod:`hepgan.samples.chunks`):
the same seed gives the same file, for any number of workers; an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import math
import shlex
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hepgan.config import check, choice
from hepgan.exceptions import ConfigError, InputFileError
from hepgan.physics import wrap_phi
from hepgan.samples.chunks import (
    add_sample_arguments,
    cached_chunks,
    check_request,
    default_cache_dir,
    init_pythia,
    pythia_chunk_seed,
    pythia_version,
)
from hepgan.samples.jets import antikt_constituents

__all__ = ["ZW_PROCESSES", "DETECTOR", "DET_OBJECTS", "PART_OBJECTS", "ZWSettings", "zw_chunk", "make_zw", "add_zw_arguments", "run_zw"]

log = logging.getLogger("hepgan")

# Bump when the physics or the columns of a chunk change: old caches are then not reused.
GENERATOR_VERSION = 1

ZW_PROCESSES = ("sm", "wprime")
#: Detector-level and parton-level objects, in column order (jets/quarks, then l-, l+).
DET_OBJECTS: tuple[str, ...] = ("det_j1", "det_j2", "det_lm", "det_lp")
PART_OBJECTS: tuple[str, ...] = ("part_q1", "part_q2", "part_lm", "part_lp")
#: Invariant-mass columns -> indices of the objects summed (per level).
MASSES: dict[str, tuple[int, ...]] = {"m_jj": (0, 1), "m_ll": (2, 3), "m_zw": (0, 1, 2, 3)}

#: The detector model, recorded in every file's metadata.
DETECTOR: dict[str, Any] = {
    "jet_radius": 0.4,
    # jet pT resolution sigma/pT = a/sqrt(pT/GeV) (+) c (Delphes CMS-like), Gaussian
    "jet_stochastic": 1.0,
    "jet_constant": 0.05,
    # jet direction: Gaussian spreads in eta and phi
    "jet_eta_sigma": 0.02,
    "jet_phi_sigma": 0.02,
    # jets below this pT (before smearing) are not kept by the clustering
    "jet_cluster_pt_min": 10.0,
    # electrons: sigma_E/E = a/sqrt(E/GeV) (+) c; muons: sigma_pT/pT = a (+) b pT/GeV
    "electron_stochastic": 0.05,
    "electron_constant": 0.007,
    "muon_constant": 0.01,
    "muon_linear": 1e-4,
    "eta_max": 2.5,
    "match_dr": 0.4,
}


@dataclasses.dataclass(frozen=True)
class ZWSettings:
    """Generator settings and selection cuts (everything that changes a chunk).

    Attributes:
        process: ``sm`` (pp -> ZW) or ``wprime`` (pp -> W' -> ZW).
        sqrt_s: ``Beams:eCM`` in GeV.
        isr: initial-state radiation (off in the paper).
        mpi: multiparton interactions (the underlying event).
        wprime_mass, wprime_width: the W' resonance (GeV).
        jet_pt_min: jet pT cut after smearing (GeV).
        lepton_pt_min: lepton pT cut after smearing (GeV).
        chunk_size: events per chunk (each chunk has its own Pythia seed).
    """

    process: str = "sm"
    sqrt_s: float = 13000.0
    isr: bool = False
    mpi: bool = True
    wprime_mass: float = 1300.0
    wprime_width: float = 15.0
    jet_pt_min: float = 25.0
    lepton_pt_min: float = 10.0
    chunk_size: int = 5_000

    def validate(self) -> ZWSettings:
        choice(self.process, ZW_PROCESSES, "process")
        check(math.isfinite(self.sqrt_s) and self.sqrt_s > 200.0, "sqrt_s", "a number > 200 (GeV)", self.sqrt_s)
        check(isinstance(self.isr, bool), "isr", "true or false", self.isr)
        check(isinstance(self.mpi, bool), "mpi", "true or false", self.mpi)
        check(math.isfinite(self.wprime_mass) and 200.0 < self.wprime_mass < self.sqrt_s, "wprime_mass", "a number in (200, sqrt_s) GeV",
              self.wprime_mass)  # fmt: skip
        check(math.isfinite(self.wprime_width) and 0.0 < self.wprime_width < self.wprime_mass / 2, "wprime_width",
              "a number in (0, wprime_mass / 2) GeV", self.wprime_width)  # fmt: skip
        check(math.isfinite(self.jet_pt_min) and self.jet_pt_min >= DETECTOR["jet_cluster_pt_min"], "jet_pt_min",
              f"a number >= {DETECTOR['jet_cluster_pt_min']:g} (GeV)", self.jet_pt_min)  # fmt: skip
        check(math.isfinite(self.lepton_pt_min) and self.lepton_pt_min >= 0.0, "lepton_pt_min", "a number >= 0 (GeV)", self.lepton_pt_min)
        check(isinstance(self.chunk_size, int) and self.chunk_size > 0, "chunk_size", "an integer > 0", self.chunk_size)
        return self

    def pythia_settings(self, seed: int) -> list[str]:
        if self.process == "sm":
            hard = ["WeakDoubleBoson:ffbar2ZW = on"]
        else:
            m, w = self.wprime_mass, self.wprime_width
            hard = ["NewGaugeBoson:ffbar2Wprime = on", "Wprime:coup2WZ = 1", f"34:m0 = {m:g}", f"34:mWidth = {w:g}", "34:doForceWidth = on",
                    f"34:mMin = {max(m - 20 * w, 200.0):g}", f"34:mMax = {m + 20 * w:g}", "34:onMode = off", "34:onIfMatch = 23 24"]  # fmt: skip
        return [
            f"Beams:eCM = {self.sqrt_s:g}",
            *hard,
            "23:onMode = off",
            "23:onIfAny = 11 13",
            "24:onMode = off",
            "24:onIfAny = 1 2 3 4 5",
            f"PartonLevel:ISR = {'on' if self.isr else 'off'}",
            f"PartonLevel:MPI = {'on' if self.mpi else 'off'}",
            "Print:quiet = on",
            "Next:numberCount = 0",
            "Random:setSeed = on",
            f"Random:seed = {seed}",
        ]

    def key(self, seed: int) -> str:
        record = {"sample": "zw", "settings": dataclasses.asdict(self), "seed": seed, "pythia": pythia_version(),
                  "generator_version": GENERATOR_VERSION, "detector": DETECTOR}  # fmt: skip
        return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- one chunk


def _p4(p) -> tuple[float, float, float, float]:
    return (p.px(), p.py(), p.pz(), p.e())


def _read_event(py) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray] | None:
    """Parton level, detector-level leptons and the particles to cluster of one event.

    Returns:
        (4, 4) parton momenta (q, q', l-, l+), (2, 4) final leptons (l-, l+), (M, 4) visible final-state
        particles without the two leptons, the lepton flavour, (2,) quark PDG ids; None if malformed.
    """
    proc = py.process
    z = w = -1
    for i in range(proc.size()):
        a = abs(proc[i].id())
        if a == 23 and z < 0:
            z = i
        elif a == 24 and w < 0:
            w = i
    if z < 0 or w < 0:
        return None
    zd = [proc[i] for i in range(proc[z].daughter1(), proc[z].daughter2() + 1)] if proc[z].daughter1() > 0 else []
    wd = [proc[i] for i in range(proc[w].daughter1(), proc[w].daughter2() + 1)] if proc[w].daughter1() > 0 else []
    if len(zd) != 2 or len(wd) != 2 or zd[0].id() != -zd[1].id() or abs(zd[0].id()) not in (11, 13):
        return None
    lm, lp = (zd[0], zd[1]) if zd[0].id() > 0 else (zd[1], zd[0])
    part = np.array([_p4(wd[0]), _p4(wd[1]), _p4(lm), _p4(lp)])
    flavour = abs(lm.id())
    # the same leptons in the event record (the Z's last copy decays to them), followed to their last copies
    ev = py.event
    zi = -1
    for i in range(ev.size()):
        if ev[i].id() == 23:
            zi = ev[i].iBotCopyId()
            break
    if zi < 0 or ev[zi].daughter1() <= 0:
        return None
    leptons: dict[int, int] = {}
    for d in range(ev[zi].daughter1(), ev[zi].daughter2() + 1):
        if abs(ev[d].id()) == flavour:
            leptons[ev[d].id()] = ev[d].iBotCopyId()
    if set(leptons) != {flavour, -flavour} or not all(ev[i].isFinal() for i in leptons.values()):
        return None
    det_l = np.array([_p4(ev[leptons[flavour]]), _p4(ev[leptons[-flavour]])])
    skip = set(leptons.values())
    rows = [_p4(ev[i]) for i in range(ev.size()) if i not in skip and ev[i].isFinal() and ev[i].isVisible()]
    return part, det_l, np.asarray(rows).reshape(-1, 4), flavour, np.array([wd[0].id(), wd[1].id()], dtype=np.float64)


def _from_pt_eta_phi_m(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, m: np.ndarray) -> np.ndarray:
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.stack([px, py, pz, np.sqrt(px**2 + py**2 + pz**2 + m**2)], axis=-1)


def _smear_jets(jets: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(J, 4) jets with smeared pT, eta and phi (mass kept); three normals per jet, drawn in this order."""
    from hepgan.kinematics import invariant_mass, pt_eta_phi

    d = DETECTOR
    pt, eta, phi = pt_eta_phi(jets)
    m = invariant_mass(jets)
    z = rng.standard_normal((len(jets), 3))
    res = np.sqrt(d["jet_stochastic"] ** 2 / np.maximum(pt, 1e-3) + d["jet_constant"] ** 2)
    return _from_pt_eta_phi_m(pt * np.maximum(1.0 + res * z[:, 0], 0.0), eta + d["jet_eta_sigma"] * z[:, 1],
                              wrap_phi(phi + d["jet_phi_sigma"] * z[:, 2]), m)  # fmt: skip


def _smear_leptons(leptons: np.ndarray, flavour: int, rng: np.random.Generator) -> np.ndarray:
    """(2, 4) leptons with a smeared pT (direction and mass kept)."""
    from hepgan.kinematics import invariant_mass, pt_eta_phi

    d = DETECTOR
    pt, eta, phi = pt_eta_phi(leptons)
    if flavour == 11:
        res = np.sqrt(d["electron_stochastic"] ** 2 / np.maximum(leptons[:, 3], 1e-3) + d["electron_constant"] ** 2)
    else:
        res = np.hypot(d["muon_constant"], d["muon_linear"] * pt)
    return _from_pt_eta_phi_m(pt * np.maximum(1.0 + res * rng.standard_normal(2), 0.0), eta, phi, invariant_mass(leptons))


def _match(jets: np.ndarray, quarks: np.ndarray) -> tuple[np.ndarray, float]:
    """The quarks in the order of the jets (the pairing with the smaller Delta R sum) and the larger Delta R."""
    from hepgan.kinematics import pt_eta_phi

    _, je, jp = pt_eta_phi(jets)
    _, qe, qp = pt_eta_phi(quarks)
    dr = np.hypot(je[:, None] - qe[None, :], wrap_phi(jp[:, None] - qp[None, :]))
    if dr[0, 0] + dr[1, 1] <= dr[0, 1] + dr[1, 0]:
        return quarks, float(max(dr[0, 0], dr[1, 1]))
    return quarks[::-1], float(max(dr[0, 1], dr[1, 0]))


def _stream(settings: ZWSettings) -> int:
    return 17 if settings.process == "sm" else 18


def zw_chunk(settings: ZWSettings, seed: int, chunk: int, n_events: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Generates one chunk: (selected events, statistics with the chunk's seed, counts, timing and sigmaGen)."""
    from hepgan.kinematics import event_table, pt_eta_phi

    t0 = time.perf_counter()
    pseed = pythia_chunk_seed(seed, chunk, stream=_stream(settings))
    py = init_pythia(settings.pythia_settings(pseed))
    if py is None:
        raise ConfigError(f"Pythia failed to initialise with {settings.pythia_settings(pseed)}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, chunk, _stream(settings)]))
    read, index = [], []
    n_failed = n_malformed = 0
    for i in range(n_events):
        if not py.next():
            n_failed += 1
            continue
        r = _read_event(py)
        if r is None:
            n_malformed += 1
            continue
        read.append(r)
        index.append(chunk * settings.chunk_size + i)
    t_gen = time.perf_counter() - t0
    members = antikt_constituents([r[2] for r in read], DETECTOR["jet_cluster_pt_min"], DETECTOR["jet_radius"])
    jets_all = [np.array([r[2][m].sum(0) for m in ev], dtype=np.float64).reshape(-1, 4) for r, ev in zip(read, members)]
    det, part, flav, dr_max, event = [], [], [], [], []
    eta_max = DETECTOR["eta_max"]
    for (p, leptons, _, flavour, _ids), jets, ev_i in zip(read, jets_all, index):
        # random numbers in a fixed order per event, whatever the selection does
        j = _smear_jets(jets, rng)
        lep = _smear_leptons(leptons, flavour, rng)
        jpt, jeta, _ = pt_eta_phi(j)
        good = (jpt > settings.jet_pt_min) & (np.abs(jeta) < eta_max)
        lpt, leta, _ = pt_eta_phi(lep)
        if good.sum() != 2 or not ((lpt > settings.lepton_pt_min) & (np.abs(leta) < eta_max)).all():
            continue
        j = j[good][np.argsort(-jpt[good], kind="stable")]
        quarks, d = _match(j, p[:2])
        det.append(np.concatenate([j, lep]))
        part.append(np.concatenate([quarks, p[2:]]))
        flav.append(float(flavour))
        dr_max.append(d)
        event.append(float(ev_i))
    det_p4, part_p4 = np.asarray(det).reshape(-1, 4, 4), np.asarray(part).reshape(-1, 4, 4)
    table = event_table(det_p4, DET_OBJECTS, {f"det_{k}": v for k, v in MASSES.items()}).drop(columns="weight")
    table = pd.concat([table, event_table(part_p4, PART_OBJECTS, {f"part_{k}": v for k, v in MASSES.items()})], axis=1)
    w = table.pop("weight")
    table["flavour"] = np.asarray(flav, dtype=np.float64)
    table["match_dr"] = np.asarray(dr_max, dtype=np.float64)
    table["matched"] = (table["match_dr"] < DETECTOR["match_dr"]).astype(np.float64)
    table["event"] = np.asarray(event, dtype=np.float64)
    table["weight"] = w
    info = py.infoPython()
    stats = {"chunk": chunk, "pythia_seed": pseed, "n_requested": n_events, "n_generated": n_events - n_failed,
             "n_next_failed": n_failed, "n_malformed": n_malformed, "n_selected": len(table),
             "n_matched": int(table["matched"].sum()), "sigma_gen_mb": float(info.sigmaGen()), "sigma_err_mb": float(info.sigmaErr()),
             "seconds_pythia": t_gen, "seconds_total": time.perf_counter() - t0}  # fmt: skip
    return table, stats


# --------------------------------------------------------------------------- the sample


def make_zw(n_events: int, seed: int = 1, out: str | Path | None = None, workers: int = 1, fmt: str = "parquet",
            cache_dir: str | Path | None = None, progress: bool = True, command: str | None = None, scheduler: str | None = None,
            **settings: Any) -> pd.DataFrame:  # fmt: skip
    """Makes a ZW (or W') unfolding sample (see the module docstring).

    Args (the arguments of the other samplers, :func:`hepgan.samples.ttbar.make_ttbar`):
        n_events: Pythia events to generate; the file keeps those that pass the selection.
        seed, out, workers, fmt, cache_dir, progress, command, scheduler: as for the other samples.
        **settings: :class:`ZWSettings` fields.

    Returns:
        The event table; ``table.attrs`` holds the metadata (selection and matching efficiency, rate, sigma).
    """
    from hepgan.io import check_output_file, write_table
    from hepgan.provenance import record

    fields = [f.name for f in dataclasses.fields(ZWSettings)]
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown zw setting (known: {', '.join(fields)})")
    s = ZWSettings(**settings).validate()
    check_request(n_events, seed, workers)
    choice(fmt, ("parquet", "root"), "format")
    if out is not None:
        check_output_file(out, fmt)
    cache = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / f"zw_{s.process}_{s.key(int(seed))}"
    frames, stats = cached_chunks(f"zw {s.process}", cache, zw_chunk, s, int(seed), int(n_events), int(workers), progress,
                                 scheduler=scheduler)  # fmt: skip
    frames = [f for f in frames if len(f)]
    if not frames:
        raise InputFileError(f"zw {s.process}: no event passed the selection in {n_events} generated events")
    df = pd.concat(frames, ignore_index=True)
    n_gen = sum(st["n_generated"] for st in stats)
    seconds = sum(st["seconds_total"] for st in stats)
    sigma_gen = float(np.average([st["sigma_gen_mb"] for st in stats], weights=[max(st["n_generated"], 1) for st in stats])) * 1e9
    meta = {
        "sample": "zw", "process": s.process, "command": command or "hepgan.samples.zw.make_zw(...)", "seed": int(seed),
        "n_events_generated": n_gen, "n_rows": len(df), "detector_objects": list(DET_OBJECTS), "parton_objects": list(PART_OBJECTS),
        "generator": {"name": "Pythia 8 + FastJet", "pythia_version": pythia_version(), "settings": s.pythia_settings(0)[:-1],
                      "chunk_size": s.chunk_size, "seeds_per_chunk": [st["pythia_seed"] for st in stats], "settings_key": s.key(int(seed)),
                      "level": "parton level from the process record; detector level: showered, hadronised, clustered and smeared"},
        "detector": DETECTOR,
        "selection": (f"exactly two jets with pT > {s.jet_pt_min:g} GeV and |eta| < {DETECTOR['eta_max']:g}; both Z leptons with "
                      f"pT > {s.lepton_pt_min:g} GeV and |eta| < {DETECTOR['eta_max']:g} (after smearing)"),
        "selection_efficiency": len(df) / max(n_gen, 1),
        "matching_efficiency": float(df["matched"].mean()),
        "events_per_second": n_gen / seconds if seconds > 0 else None,
        "sigma_gen_pb": sigma_gen, "sigma_pb": sigma_gen * len(df) / max(n_gen, 1),
        "weight": "Pythia event weight (1); cross section per row = sigma_pb / n_rows",
        "provenance": record(),
    }  # fmt: skip
    log.info("zw %s: %d of %d events selected (%.3f), matched %.3f, %.0f generated events/s in the chunks made or read",
             s.process, len(df), n_gen, meta["selection_efficiency"], meta["matching_efficiency"], meta["events_per_second"] or 0)  # fmt: skip
    if out is not None:
        write_table(df, out, metadata=meta, fmt=fmt)
    df.attrs.update(meta)
    return df


# --------------------------------------------------------------------------- command line


def add_zw_arguments(p: argparse.ArgumentParser) -> None:
    d = ZWSettings()
    add_sample_arguments(p, "Pythia events to generate (the file keeps the selected ones, about one in six)", d.chunk_size, events_default=300_000)
    p.add_argument("--process", choices=list(ZW_PROCESSES), default=d.process, help="sm: pp -> ZW; wprime: pp -> W' -> ZW (injection test)")
    p.add_argument("--isr", choices=["on", "off"], default="off", help="initial-state radiation (default off, as in the paper)")
    p.add_argument("--mpi", choices=["on", "off"], default="on", help="multiparton interactions (default on)")
    p.add_argument("--wprime-mass", type=float, default=d.wprime_mass, help=f"W' mass in GeV (default {d.wprime_mass:g})")
    p.add_argument("--wprime-width", type=float, default=d.wprime_width, help=f"W' width in GeV (default {d.wprime_width:g})")
    p.add_argument("--jet-pt-min", type=float, default=d.jet_pt_min, help=f"jet pT cut in GeV (default {d.jet_pt_min:g})")
    p.add_argument("--lepton-pt-min", type=float, default=d.lepton_pt_min, help=f"lepton pT cut in GeV (default {d.lepton_pt_min:g})")
    p.add_argument("--sqrt-s", type=float, default=d.sqrt_s, help=f"collision energy in GeV (default {d.sqrt_s:g})")


def run_zw(args: argparse.Namespace) -> int:
    fmt = args.format or ("root" if Path(args.out).suffix.lower() == ".root" else "parquet")
    d = ZWSettings()
    argv = ["hepgan", "sample", "zw", "--events", str(args.events), "--process", args.process, "--seed", str(args.seed), "--out", str(args.out)]
    for flag, value, default in (("--wprime-mass", args.wprime_mass, d.wprime_mass), ("--wprime-width", args.wprime_width, d.wprime_width),
                                 ("--jet-pt-min", args.jet_pt_min, d.jet_pt_min), ("--lepton-pt-min", args.lepton_pt_min, d.lepton_pt_min),
                                 ("--sqrt-s", args.sqrt_s, d.sqrt_s), ("--chunk-size", args.chunk_size, d.chunk_size)):  # fmt: skip
        if value != default:
            argv += [flag, f"{value:g}"]
    for flag, value, default in (("--isr", args.isr, "off"), ("--mpi", args.mpi, "on")):
        if value != default:
            argv += [flag, value]
    df = make_zw(
        args.events, seed=args.seed, out=args.out, workers=args.workers, fmt=fmt, cache_dir=args.cache_dir,
        progress=not getattr(args, "quiet", False), command=shlex.join(argv), scheduler=args.scheduler, process=args.process,
        sqrt_s=args.sqrt_s, isr=args.isr == "on", mpi=args.mpi == "on", wprime_mass=args.wprime_mass, wprime_width=args.wprime_width,
        jet_pt_min=args.jet_pt_min, lepton_pt_min=args.lepton_pt_min, chunk_size=args.chunk_size,
    )  # fmt: skip
    a = df.attrs
    log.info("zw: wrote %s: %d events (selection efficiency %.3f, matching efficiency %.3f)", args.out, len(df),
             a["selection_efficiency"], a["matching_efficiency"])  # fmt: skip
    return 0
