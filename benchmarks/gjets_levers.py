"""What each generation lever of the gjets sample gives in SR events per CPU hour, measured in one run.

    python benchmarks/gjets_levers.py [--events 1500] [--seed 4040]

Each configuration generates the same number of parton-level events in this process (one core, one chunk,
the pileup pool made beforehand and not timed), then counts the events that pass the selection and the SR
(both candidates pass the shipped photon ID's tight working point). Levers: the plain generator (no filter,
one hadronisation), the parton-level photon filter (exact), K = 4 hadronisations per parton-level event, both
(the shipped sample's settings), and multiparton interactions off (faster, but it removes the underlying event
from the isolation: not used). SR counts of a few thousand parton-level events are small; the selected
events per second are the precise figure, and the SR fraction of the selected events is the same for the
levers that keep the physics (the filter and K).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    import numpy as np
    import torch

    from hepgan.samples.gjets import DETECTOR, GjetsSettings, generate_chunk, settings_key
    from hepgan.samples.photon_id import load_default
    from hepgan.samples.pileup import minbias_pool

    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1500, help="parton-level events per configuration")
    ap.add_argument("--seed", type=int, default=4040)
    ap.add_argument("--cache", default="/tmp/gjets_levers")
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = load_default()
    configs = {
        "plain (no filter, K = 1)": GjetsSettings(photon_eta_max=0.0, rehadronise=1),
        "parton-level photon filter": GjetsSettings(rehadronise=1),
        "K = 4 hadronisations": GjetsSettings(photon_eta_max=0.0, rehadronise=4),
        "filter + K = 4 (shipped)": GjetsSettings(rehadronise=4),
        "filter + K = 4, MPI off": GjetsSettings(rehadronise=4, mpi=False),
    }
    print(f"{a.events} parton-level events per configuration, one process")
    print("| lever | parton-level events/s | hadronised events/s | selected events/s | selected events/s over the plain generator's | "
          "SR events (tight) | SR events per CPU hour |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    plain = None
    for name, s in configs.items():
        s = GjetsSettings(**{**s.__dict__, "chunk_size": a.events}).validate()
        cache = Path(a.cache) / settings_key(s, a.seed)
        cache.mkdir(parents=True, exist_ok=True)
        minbias_pool(a.seed, s.pool_size, cache, DETECTOR["particle_pt_min"], DETECTOR["particle_eta_max"])
        t0 = time.perf_counter()
        df, st = generate_chunk(s, a.seed, 0, a.events, cache=str(cache))
        dt = time.perf_counter() - t0 - st["seconds_pool"]
        n_sr = 0
        if len(df):
            df["rho"] = df["rho"].astype(np.float64)
            s1, s2 = model.score(df, "pho1"), model.score(df, "pho2")
            n_sr = int(np.sum((s1 > model.working_point) & (s2 > model.working_point)))
        rate = len(df) / dt
        plain = plain or rate
        print(f"| {name} | {st['n_generated'] / dt:.1f} | {st['n_hadronised'] / dt:.0f} | {rate:.2f} | {rate / plain:.2f} | {n_sr} | "
              f"{n_sr / dt * 3600:.0f} |", flush=True)


if __name__ == "__main__":
    main()
