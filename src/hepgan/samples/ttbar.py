"""Top-pair events at the level of the hard process and its decays, made with Pythia 8.

pp -> t tbar at 13 TeV (``Top:gg2ttbar`` and ``Top:qqbar2ttbar``) with both W bosons
forced to decay to quarks (``24:onMode = off``, ``24:onIfAny = 1 2 3 4 5``), no shower,
no multiparton interactions, no hadronisation (``PartonLevel:all = off``,
``HadronLevel:all = off``): six final partons per event,

    t    -> b W+,     W+ -> q1 qbar1     (q1: up-type quark, qbar1: down-type antiquark)
    tbar -> bbar W-,  W- -> q2 qbar2     (q2: down-type quark, qbar2: up-type antiquark)

read from Pythia's process record by following the decay chain (the slot ``b`` is the
down-type quark of the top decay: a b quark up to CKM-suppressed decays, whose flavour is
in ``b_id``). Without initial-state radiation or primordial kT the six partons have no net
transverse momentum.

Columns (float64), per parton ``P`` in ``b, q1, qbar1, bbar, q2, qbar2``:
``P_px, P_py, P_pz, P_e`` (GeV, lab frame), ``P_m`` (Pythia's mass of the parton:
0.33 u/d, 0.5 s, 1.5 c, 4.8 b GeV), ``P_pt, P_eta, P_phi``, ``P_id`` (PDG id); then the
resonance masses ``m_wp, m_wm, m_t, m_tbar`` computed from the partons, ``process``
(Pythia process code: 601 gg -> ttbar, 602 qqbar -> ttbar) and ``weight`` (Pythia's event
weight, 1 for these unbiased events).

Events are made in chunks of ``chunk_size`` with their own recorded Pythia seed (the file
does not depend on the number of workers) and cached as Parquet files in a folder keyed by
the settings, so a repeated or interrupted command reuses them.
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

__all__ = [
    "TTBAR_PARTONS",
    "TTBAR_RESONANCES",
    "TTBAR_PYTHIA",
    "TtbarSettings",
    "make_ttbar",
    "generate_chunk",
    "add_ttbar_arguments",
    "run_ttbar",
]

log = logging.getLogger("hepgan")

# Bump when the physics or the columns of a chunk change: old caches are then not reused.
GENERATOR_VERSION = 1

#: The six final partons, in column order: the top side, then the antitop side.
TTBAR_PARTONS: tuple[str, ...] = ("b", "q1", "qbar1", "bbar", "q2", "qbar2")
#: Resonance mass columns -> indices into TTBAR_PARTONS of their decay products.
TTBAR_RESONANCES: dict[str, tuple[int, ...]] = {
    "m_wp": (1, 2),
    "m_wm": (4, 5),
    "m_t": (0, 1, 2),
    "m_tbar": (3, 4, 5),
}
#: Pythia 8.317 particle data (m0 and width, GeV) of the resonances, for reference only:
#: the GAN and its MMD term never use them.
TTBAR_PYTHIA = {"m_t": 173.0, "gamma_t": 1.357, "m_w": 80.385, "gamma_w": 2.092}


@dataclasses.dataclass(frozen=True)
class TtbarSettings:
    """Generator settings (everything that changes a chunk).

    Attributes:
        sqrt_s: ``Beams:eCM`` in GeV.
        chunk_size: events per chunk (each chunk has its own Pythia seed).
        w_decays: the quark flavours W bosons may decay to (``24:onIfAny``).
    """

    sqrt_s: float = 13000.0
    chunk_size: int = 10_000
    w_decays: str = "1 2 3 4 5"

    def validate(self) -> TtbarSettings:
        check(math.isfinite(self.sqrt_s) and self.sqrt_s > 400.0, "sqrt_s", "a number > 400 (GeV)", self.sqrt_s)
        check(isinstance(self.chunk_size, int) and self.chunk_size > 0, "chunk_size", "an integer > 0", self.chunk_size)
        flavours = self.w_decays.split()
        check(len(flavours) > 0 and all(f in {"1", "2", "3", "4", "5"} for f in flavours),
              "w_decays", "quark flavours among 1 2 3 4 5", self.w_decays)  # fmt: skip
        return self

    def pythia_settings(self, seed: int) -> list[str]:
        return [
            f"Beams:eCM = {self.sqrt_s:g}",
            "Top:gg2ttbar = on",
            "Top:qqbar2ttbar = on",
            "24:onMode = off",
            f"24:onIfAny = {self.w_decays}",
            *hard_process_settings(seed),
        ]


def chunk_seed(seed: int, chunk: int) -> int:
    """Pythia's ``Random:seed`` of one chunk, in [1, 900000000]."""
    return pythia_chunk_seed(seed, chunk, stream=6)


def settings_key(settings: TtbarSettings, seed: int) -> str:
    record = {"sample": "ttbar", "settings": dataclasses.asdict(settings), "seed": seed,
              "pythia": pythia_version(), "generator_version": GENERATOR_VERSION}  # fmt: skip
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- one chunk


def _daughters(ev, i: int) -> list[int]:
    p = ev[i]
    d1, d2 = p.daughter1(), p.daughter2()
    if d1 <= 0:
        return []
    return list(range(d1, max(d1, d2) + 1))


def _final_of(ev, i: int) -> int:
    """Follows recoil copies (one daughter, same id) down to the last copy of entry i."""
    while True:
        ds = _daughters(ev, i)
        if len(ds) == 1 and ev[ds[0]].id() == ev[i].id():
            i = ds[0]
        else:
            return i


def _read_event(ev) -> tuple[np.ndarray, np.ndarray] | None:
    """(6, 4) px, py, pz, E and (6,) PDG ids of the six partons in TTBAR_PARTONS order; None if malformed."""
    tops = {}
    for i in range(ev.size()):
        pid = ev[i].id()
        if abs(pid) == 6 and pid not in tops:
            tops[pid] = _final_of(ev, i)
    if set(tops) != {6, -6}:
        return None
    rows: list[int] = []
    for sign in (1, -1):
        ds = _daughters(ev, tops[6 * sign])
        w = [d for d in ds if ev[d].id() == 24 * sign]
        q = [d for d in ds if ev[d].id() * sign in (1, 3, 5)]
        if len(w) != 1 or len(q) != 1:
            return None
        wd = _daughters(ev, _final_of(ev, w[0]))
        if len(wd) != 2:
            return None
        pos = [d for d in wd if ev[d].id() > 0]
        neg = [d for d in wd if ev[d].id() < 0]
        if len(pos) != 1 or len(neg) != 1:
            return None
        rows += [q[0], pos[0], neg[0]]
    p4 = np.array([(ev[i].px(), ev[i].py(), ev[i].pz(), ev[i].e()) for i in rows])
    ids = np.array([ev[i].id() for i in rows], dtype=np.float64)
    return p4, ids


def generate_chunk(settings: TtbarSettings, seed: int, chunk: int, n_events: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Generates one chunk of events.

    Returns:
        (table, stats): the event table (see the module docstring) and counts, seed, cross-section.
    """
    from hepgan.kinematics import event_table

    t0 = time.perf_counter()
    pseed = chunk_seed(seed, chunk)
    py = init_pythia(settings.pythia_settings(pseed))
    if py is None:
        raise ConfigError(f"Pythia failed to initialise with {settings.pythia_settings(pseed)}")
    p4s, ids, codes, weights = [], [], [], []
    n_failed = n_malformed = 0
    for _ in range(n_events):
        if not py.next():
            n_failed += 1
            continue
        r = _read_event(py.process)
        if r is None:
            n_malformed += 1
            continue
        p4s.append(r[0])
        ids.append(r[1])
        info = py.infoPython()
        codes.append(float(info.code()))
        weights.append(float(info.weight()))
    p4 = np.asarray(p4s).reshape(-1, 6, 4)
    table = event_table(p4, TTBAR_PARTONS, TTBAR_RESONANCES, np.asarray(weights))
    id_arr = np.asarray(ids).reshape(-1, 6)
    w_col = table.pop("weight")
    for k, name in enumerate(TTBAR_PARTONS):
        table[f"{name}_id"] = id_arr[:, k]
    table["process"] = np.asarray(codes, dtype=np.float64)
    table["weight"] = w_col
    stats = {
        "chunk": chunk,
        "pythia_seed": pseed,
        "n_requested": n_events,
        "n_events": len(table),
        "n_next_failed": n_failed,
        "n_malformed": n_malformed,
        "sigma_gen_mb": float(py.infoPython().sigmaGen()),
        "sigma_err_mb": float(py.infoPython().sigmaErr()),
    }
    log.debug("ttbar chunk %d: %d events in %.2f s", chunk, len(table), time.perf_counter() - t0)
    return table, stats


def make_ttbar(
    n_events: int,
    seed: int = 1,
    out: str | Path | None = None,
    workers: int = 1,
    fmt: str = "parquet",
    cache_dir: str | Path | None = None,
    progress: bool = True,
    command: str | None = None,
    scheduler: str | None = None,
    **settings: Any,
) -> pd.DataFrame:
    """Makes a top-pair sample (see the module docstring).

    Args:
        n_events: Pythia events to generate (every event is kept).
        seed: master seed; chunk c uses the Pythia seed :func:`chunk_seed` (seed, c).
        out: file to write (Parquet or ROOT); nothing is written when None.
        workers: worker processes; the output does not depend on it.
        fmt: "parquet" or "root".
        cache_dir: chunk cache root (default ``$HEPGAN_CACHE/samples`` or ``~/.cache/hepgan/samples``).
        progress: tqdm progress bar on stderr.
        command: the command line recorded in the metadata.
        scheduler: address of a running Dask cluster to generate the chunks on; the output does not depend on it.
        **settings: :class:`TtbarSettings` fields (sqrt_s, chunk_size, w_decays).

    Returns:
        The event table (N rows, float64).
    """
    from hepgan.io import check_output_file, write_table
    from hepgan.provenance import record

    fields = {f.name for f in dataclasses.fields(TtbarSettings)}
    for k in settings:
        if k not in fields:
            raise ConfigError(f"{k}: unknown ttbar setting (known: {', '.join(sorted(fields))})")
    s = TtbarSettings(**settings).validate()
    check_request(n_events, seed, workers)
    choice(fmt, ("parquet", "root"), "format")
    if out is not None:
        check_output_file(out, fmt)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache = root / f"ttbar_{settings_key(s, int(seed))}"
    t0 = time.perf_counter()
    frames, stats = cached_chunks("ttbar", cache, generate_chunk, s, int(seed), int(n_events), int(workers), progress, scheduler=scheduler)
    df = pd.concat(frames, ignore_index=True)
    if len(df) == 0:
        raise InputFileError("ttbar: Pythia produced no event; see the log")
    sigma = float(np.mean([st["sigma_gen_mb"] for st in stats]))
    log.info("ttbar: %d events (%.1f s), sigma_gen = %.1f pb", len(df), time.perf_counter() - t0, sigma * 1e9)
    if out is not None:
        meta = {
            "sample": "ttbar",
            "command": command or "hepgan.samples.ttbar.make_ttbar(...)",
            "provenance": record(),
            "seed": int(seed),
            "n_events_generated": int(n_events),
            "n_rows": len(df),
            "partons": list(TTBAR_PARTONS),
            "resonances": {k: list(v) for k, v in TTBAR_RESONANCES.items()},
            "generator": {
                "name": "Pythia 8", "pythia_version": pythia_version(), "settings": s.pythia_settings(0)[:-1],
                "sqrt_s_gev": s.sqrt_s, "chunk_size": s.chunk_size,
                "seeds_per_chunk": [st["pythia_seed"] for st in stats], "settings_key": settings_key(s, int(seed)),
                "level": "hard process and resonance decays; no shower, MPI or hadronisation",
            },  # fmt: skip
            "sigma_gen_pb": sigma * 1e9,
            "weight": "Pythia event weight (1 for these unbiased events); sigma per row = sigma_gen_pb / n_rows",
            "pythia_particle_data": TTBAR_PYTHIA,
        }
        write_table(df, out, metadata=meta, fmt=fmt)
    return df


# --------------------------------------------------------------------------- command line


def add_ttbar_arguments(p: argparse.ArgumentParser) -> None:
    d = TtbarSettings()
    add_sample_arguments(p, "Pythia events to generate (all are kept)", d.chunk_size)
    p.add_argument("--sqrt-s", type=float, default=d.sqrt_s, help=f"collision energy in GeV (default {d.sqrt_s:g})")


def run_ttbar(args: argparse.Namespace) -> int:
    fmt = args.format or ("root" if Path(args.out).suffix.lower() == ".root" else "parquet")
    d = TtbarSettings()
    argv = ["sample", "ttbar", "--events", str(args.events), "--seed", str(args.seed), "--out", str(args.out)]
    if args.sqrt_s != d.sqrt_s:
        argv += ["--sqrt-s", f"{args.sqrt_s:g}"]
    if args.chunk_size != d.chunk_size:
        argv += ["--chunk-size", str(args.chunk_size)]
    df = make_ttbar(
        args.events, seed=args.seed, out=args.out, workers=args.workers, fmt=fmt, cache_dir=args.cache_dir,
        progress=not getattr(args, "quiet", False), command=shlex.join(["hepgan", *argv]), scheduler=args.scheduler,
        sqrt_s=args.sqrt_s, chunk_size=args.chunk_size,
    )  # fmt: skip
    log.info("ttbar: wrote %s: %d events", args.out, len(df))
    return 0
