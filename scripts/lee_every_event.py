"""The 'every event' batch of the LEE chain without a classifier: is a generator's m_llg smooth enough for f?

    python scripts/lee_every_event.py configs/lee_zgamma.yaml GENERATOR.safetensors [--pseudo-experiments 200]

Draws pseudo-datasets of the config's size from the generator, fits m_llg with f and scans g as `hepgan lee` does,
and prints the fraction of pseudo-experiments with q0 = 0 at 150 GeV (0.5 for a valid background model), the
fraction with a local excess of 3 sigma or more, the median largest local Z, and the observed dataset's largest
local Z fitted the same way. Seconds instead of the chain's minutes: no classifier is trained.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    import torch

    from hepgan.estimator import seed_from
    from hepgan.lee.chain import _prepared, load_lee_config
    from hepgan.lee.fits import histogram, local_significance_scan

    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("generator")
    ap.add_argument("--pseudo-experiments", type=int, default=200)
    ap.add_argument("--mass", type=float, default=150.0, help="the fixed mass of the q0 check (GeV)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_lee_config(a.config, {"generator": a.generator})
    p = _prepared(cfg)
    mus = cfg.scan_masses()
    i_m = int(np.argmin(np.abs(mus - a.mass)))
    t0 = time.time()
    zmax, q_m = [], []
    for i in range(a.pseudo_experiments):
        d = p["generator"].sample(p["n_data"], seed=seed_from(cfg.seed, i, 23))
        sc = local_significance_scan(histogram(d[cfg.mass].to_numpy(np.float64), tuple(cfg.window), cfg.bin_width), mus, p["sigma"])
        zmax.append(float(sc["s"].max()))
        q_m.append(float(sc["q0"][i_m]))
    out = {"generator": a.generator, "pseudo_experiments": a.pseudo_experiments, "n_data": p["n_data"], "sigma": p["sigma"],
           "fraction_q0_zero_at_mass": float(np.mean(np.array(q_m) <= 1e-6)), "fraction_largest_z_ge_3": float(np.mean(np.array(zmax) >= 3)),
           "median_largest_z": float(np.median(zmax)), "seconds": time.time() - t0}  # fmt: skip
    if p["observed"] is not None:
        obs = local_significance_scan(histogram(p["observed"][cfg.mass].to_numpy(np.float64), tuple(cfg.window), cfg.bin_width), mus, p["sigma"])
        out["observed_largest_z"] = float(obs["s"].max())
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
