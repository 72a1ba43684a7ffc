r"""Drell-Yan e+ e- pairs at the level of the hard process, made with Pythia 8: the LHC case of the subtraction GAN.

pp -> gamma*/Z -> e+ e- at 13 TeV (``WeakSingleBoson:ffbar2gmZ``, the Z decaying to electrons only,
``23:onIfAny = 11``), without shower, multiparton interactions or hadronisation
(``PartonLevel:all = off``, ``HadronLevel:all = off``): two massless-looking leptons per event,
back to back in the transverse plane. ``WeakZ0:gmZmode`` picks the matrix element (``mode``):

* ``full`` (0): gamma*, Z and their interference: :math:`P_B` of the subtraction GAN;
* ``photon`` (1): gamma* only: :math:`P_S`;
* ``z`` (2): Z only (the truth of B - S without the interference, for reference).

The pair mass is generated in ``[m_min, m_max]`` (``PhaseSpace:mHatMin/Max`` and ``23:mMin/mMax``),
60-140 GeV by default; events with a lepton below ``pt_min`` are dropped after generation (10 GeV, as
in seed 003). Why 60: below it the gamma*/Z interference makes B - S negative in part of the phase
space (forward-backward asymmetry: in 2M-event samples, 40 < m_ee < 60 GeV and cos_theta > 0.2 are
4 to 10 standard deviations below zero; ``scripts/drellyan_truth.py``), and a GAN can only make
densities >= 0. From 60 GeV up no (m_ee, cos_theta) bin of 5 GeV x 0.1 is below zero by 3 sigma.

Columns (float64): per lepton ``ep`` (e+) and ``em`` (e-) ``_px, _py, _pz, _e, _m, _pt, _eta, _phi``
(GeV, radians); ``m_ee``, ``y_ee`` (pair rapidity), ``cos_theta`` (cosine of the e- polar angle in
the pair rest frame with respect to the pair's direction of motion along the beam, the sign of
the forward-backward asymmetry) and ``weight`` (Pythia's, 1).

Cross sections (metadata): ``sigma_gen_pb`` is Pythia's ``sigmaGen`` (mean over the chunks, each
from its own events) in the mass window; ``acceptance`` the share of generated events that pass
the pT cut; ``sigma_pb = sigma_gen_pb x acceptance`` the cross section of the file's rows, which a
subtraction run takes as ``data.sigma`` of the sample.

Chunks with recorded seeds, cached in a folder keyed by the settings (:mod:`hepgan.samples.chunks`):
the same seed gives the same file, for any number of workers.
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
from hepgan.samples.chunks import (
    add_sample_arguments,
    cached_chunks,
    check_request,
    default_cache_dir,
    hard_process_settings,
    init_pythia,
    pythia_chunk_seed,
    pythia_version,
)

__all__ = ["DY_MODES", "DrellYanSettings", "make_drellyan", "drellyan_chunk", "add_drellyan_arguments", "run_drellyan"]

log = logging.getLogger("hepgan")

#: gmZmode of each matrix-element choice.
DY_MODES: dict[str, int] = {"full": 0, "photon": 1, "z": 2}
GENERATOR_VERSION = 1


@dataclasses.dataclass(frozen=True)
class DrellYanSettings:
    """Generator settings (everything that changes a chunk).

    Attributes:
        mode: ``full``, ``photon`` or ``z`` (:data:`DY_MODES`).
        sqrt_s: ``Beams:eCM`` in GeV.
        m_min, m_max: the pair-mass window in GeV.
        pt_min: both leptons above this pT (GeV), applied after generation.
        chunk_size: events per chunk (each chunk has its own Pythia seed).
    """

    mode: str = "full"
    sqrt_s: float = 13000.0
    m_min: float = 60.0
    m_max: float = 140.0
    pt_min: float = 10.0
    chunk_size: int = 20_000

    def validate(self) -> DrellYanSettings:
        choice(self.mode, list(DY_MODES), "mode")
        check(math.isfinite(self.sqrt_s) and self.sqrt_s > 100.0, "sqrt_s", "a number > 100 (GeV)", self.sqrt_s)
        check(0.0 < self.m_min < self.m_max < self.sqrt_s, "m_min, m_max", "0 < m_min < m_max < sqrt_s (GeV)", (self.m_min, self.m_max))
        check(math.isfinite(self.pt_min) and self.pt_min >= 0.0, "pt_min", "a number >= 0 (GeV)", self.pt_min)
        check(isinstance(self.chunk_size, int) and self.chunk_size > 0, "chunk_size", "an integer > 0", self.chunk_size)
        return self

    def pythia_settings(self, seed: int) -> list[str]:
        return [
            f"Beams:eCM = {self.sqrt_s:g}",
            "WeakSingleBoson:ffbar2gmZ = on",
            f"WeakZ0:gmZmode = {DY_MODES[self.mode]}",
            "23:onMode = off",
            "23:onIfAny = 11",
            f"23:mMin = {self.m_min:g}",
            f"23:mMax = {self.m_max:g}",
            f"PhaseSpace:mHatMin = {self.m_min:g}",
            f"PhaseSpace:mHatMax = {self.m_max:g}",
            *hard_process_settings(seed),
        ]

    def key(self, seed: int) -> str:
        record = {"sample": "drellyan", "settings": dataclasses.asdict(self), "seed": seed, "pythia": pythia_version(),
                  "generator_version": GENERATOR_VERSION}  # fmt: skip
        return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def _pair_columns(p4: np.ndarray) -> dict[str, np.ndarray]:
    """m_ee, y_ee and cos_theta of (N, 2, 4) e+ e- momenta."""
    pair = p4.sum(1)
    e, pz = pair[:, 3], pair[:, 2]
    m = np.sqrt(np.maximum(e**2 - np.square(pair[:, :3]).sum(1), 0.0))
    y = 0.5 * np.log(np.maximum(e + pz, 1e-300) / np.maximum(e - pz, 1e-300))
    # e- boosted along z into a frame where the pair has no pz, then its angle in the pair frame along z;
    # the sign follows the pair's direction of motion (the likelier quark direction)
    beta = pz / e
    gamma = 1.0 / np.sqrt(np.maximum(1.0 - beta**2, 1e-300))
    em = p4[:, 1]
    pz_star = gamma * (em[:, 2] - beta * em[:, 3])
    p_star = np.sqrt(np.square(em[:, :2]).sum(1) + pz_star**2)
    cos = np.where(pz >= 0, 1.0, -1.0) * pz_star / np.maximum(p_star, 1e-300)
    return {"m_ee": m, "y_ee": y, "cos_theta": cos}


def drellyan_chunk(settings: DrellYanSettings, seed: int, chunk: int, n_events: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Generates one chunk: (event table, statistics with the chunk's seed, counts and sigmaGen)."""
    from hepgan.kinematics import event_table

    pseed = pythia_chunk_seed(seed, chunk, stream=11)
    py = init_pythia(settings.pythia_settings(pseed))
    if py is None:
        raise ConfigError(f"Pythia failed to initialise with {settings.pythia_settings(pseed)}")
    rows, weights = [], []
    n_failed = 0
    for _ in range(n_events):
        if not py.next():
            n_failed += 1
            continue
        ev = py.process
        lep = {ev[i].id(): ev[i] for i in range(ev.size()) if ev[i].isFinal() and abs(ev[i].id()) == 11}
        if set(lep) != {11, -11}:
            n_failed += 1
            continue
        rows.append([(p.px(), p.py(), p.pz(), p.e()) for p in (lep[-11], lep[11])])
        weights.append(py.infoPython().weight())
    p4 = np.asarray(rows, dtype=np.float64).reshape(-1, 2, 4)
    pt = np.hypot(p4[..., 0], p4[..., 1])
    keep = (pt > settings.pt_min).all(1)
    table = event_table(p4[keep], ("ep", "em"), None, np.asarray(weights)[keep])
    w = table.pop("weight")
    for k, v in _pair_columns(p4[keep]).items():
        table[k] = v
    table["weight"] = w
    info = py.infoPython()
    stats = {"chunk": chunk, "pythia_seed": pseed, "n_requested": n_events, "n_generated": len(p4), "n_failed": n_failed,
             "n_pass": int(keep.sum()), "sigma_gen_mb": float(info.sigmaGen()), "sigma_err_mb": float(info.sigmaErr())}  # fmt: skip
    return table, stats


def make_drellyan(n_events: int, seed: int = 1, out: str | Path | None = None, workers: int = 1, fmt: str = "parquet",
                  cache_dir: str | Path | None = None, progress: bool = True, command: str | None = None, scheduler: str | None = None,
                  **settings: Any) -> pd.DataFrame:
    """Makes a Drell-Yan sample (see the module docstring).

    Args (the arguments of the other samplers, :func:`hepgan.samples.ttbar.make_ttbar`):
        n_events: Pythia events to generate; the file keeps those that pass the pT cut.
        seed, out, workers, fmt, cache_dir, progress, command: master seed (each chunk has its own recorded
            Pythia seed), output file or None, worker processes (the output does not depend on them), parquet
            or root, the chunk cache root, a progress bar, the command line for the metadata.
        scheduler: address of a running Dask cluster to generate the chunks on (the output does not depend on it).
        **settings: :class:`DrellYanSettings` fields (mode, sqrt_s, m_min, m_max, pt_min, chunk_size).

    Returns:
        The event table; ``table.attrs`` holds the metadata (sigma_gen_pb, acceptance, sigma_pb).
    """
    from hepgan.io import check_output_file, write_table
    from hepgan.provenance import record

    unknown = sorted(set(settings) - {f.name for f in dataclasses.fields(DrellYanSettings)})
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown drellyan setting (known: {', '.join(f.name for f in dataclasses.fields(DrellYanSettings))})")
    s = DrellYanSettings(**settings).validate()
    check_request(n_events, seed, workers)
    choice(fmt, ("parquet", "root"), "format")
    if out is not None:
        check_output_file(out, fmt)
    cache = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / f"drellyan_{s.key(int(seed))}"
    frames, stats = cached_chunks(f"drellyan {s.mode}", cache, drellyan_chunk, s, int(seed), int(n_events), int(workers), progress,
                                 scheduler=scheduler)
    df = pd.concat(frames, ignore_index=True)
    n_gen = sum(st["n_generated"] for st in stats)
    sigma_gen = float(np.average([st["sigma_gen_mb"] for st in stats], weights=[st["n_generated"] for st in stats])) * 1e9
    acceptance = len(df) / max(n_gen, 1)
    meta = {
        "sample": "drellyan", "mode": s.mode, "gmZmode": DY_MODES[s.mode],
        "command": command or "hepgan.samples.drellyan.make_drellyan(...)", "seed": int(seed),
        "n_events_generated": n_gen, "n_rows": len(df), "particles": ["ep", "em"],
        "generator": {"name": "Pythia 8", "pythia_version": pythia_version(), "settings": s.pythia_settings(0)[:-1],
                      "seeds_per_chunk": [st["pythia_seed"] for st in stats], "settings_key": s.key(int(seed)),
                      "level": "hard process: no shower, MPI or hadronisation"},
        "selection": f"both leptons pT > {s.pt_min:g} GeV; {s.m_min:g} < m_ee < {s.m_max:g} GeV (generated)",
        "sigma_gen_pb": sigma_gen, "acceptance": acceptance, "sigma_pb": sigma_gen * acceptance,
        "sigma_err_pb": float(np.sqrt(np.sum(np.square([st["sigma_err_mb"] for st in stats]))) / len(stats)) * 1e9,
        "weight": "Pythia event weight (1); cross section per row = sigma_pb / n_rows",
        "provenance": record(),
    }  # fmt: skip
    log.info("drellyan (%s): %d events, sigma_gen %.2f pb, acceptance %.4f, sigma %.2f pb", s.mode, len(df), sigma_gen, acceptance, sigma_gen * acceptance)
    if out is not None:
        write_table(df, out, metadata=meta, fmt=fmt)
    df.attrs.update(meta)
    return df


def add_drellyan_arguments(p: argparse.ArgumentParser) -> None:
    d = DrellYanSettings()
    add_sample_arguments(p, "Pythia events to generate (the file keeps those that pass the pT cut)", d.chunk_size)
    p.add_argument("--mode", choices=list(DY_MODES), default=d.mode, help="full: gamma*/Z with interference (P_B); photon: gamma* only (P_S); z: Z only")
    p.add_argument("--m-min", type=float, default=d.m_min, help=f"lowest pair mass in GeV (default {d.m_min:g})")
    p.add_argument("--m-max", type=float, default=d.m_max, help=f"highest pair mass in GeV (default {d.m_max:g})")
    p.add_argument("--pt-min", type=float, default=d.pt_min, help=f"lepton pT cut in GeV (default {d.pt_min:g})")
    p.add_argument("--sqrt-s", type=float, default=d.sqrt_s, help=f"collision energy in GeV (default {d.sqrt_s:g})")


def run_drellyan(args: argparse.Namespace) -> int:
    fmt = args.format or ("root" if Path(args.out).suffix.lower() == ".root" else "parquet")
    d = DrellYanSettings()
    argv = ["hepgan", "sample", "drellyan", "--events", str(args.events), "--mode", args.mode, "--seed", str(args.seed), "--out", str(args.out)]
    for flag, value, default in (("--m-min", args.m_min, d.m_min), ("--m-max", args.m_max, d.m_max), ("--pt-min", args.pt_min, d.pt_min),
                                 ("--sqrt-s", args.sqrt_s, d.sqrt_s), ("--chunk-size", args.chunk_size, d.chunk_size)):  # fmt: skip
        if value != default:
            argv += [flag, f"{value:g}"]
    df = make_drellyan(
        args.events, seed=args.seed, out=args.out, workers=args.workers, fmt=fmt, cache_dir=args.cache_dir,
        progress=not getattr(args, "quiet", False), command=shlex.join(argv), scheduler=args.scheduler, mode=args.mode, sqrt_s=args.sqrt_s,
        m_min=args.m_min, m_max=args.m_max, pt_min=args.pt_min, chunk_size=args.chunk_size,
    )  # fmt: skip
    a = df.attrs
    log.info("drellyan: wrote %s: %d events; sigma %.3f pb (sigmaGen %.3f pb x acceptance %.4f)",
             args.out, len(df), a["sigma_pb"], a["sigma_gen_pb"], a["acceptance"])  # fmt: skip
    return 0
