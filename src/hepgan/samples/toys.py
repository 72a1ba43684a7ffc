"""Analytic toys with known answers, for convergence tests and quick demos."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["sine_toy", "gjets_toy"]


def sine_toy(n: int, seed: int, sigma: float = 0.1) -> pd.DataFrame:
    """x | c ~ N(sin c, sigma^2) with c ~ Uniform(-pi, pi).

    Returns:
        DataFrame with columns "c" and "x" (N rows).
    """
    rng = np.random.default_rng(seed)
    c = rng.uniform(-np.pi, np.pi, n)
    return pd.DataFrame({"c": c, "x": np.sin(c) + sigma * rng.standard_normal(n)})


def gjets_toy(n: int, seed: int, sr_fraction: float = 0.3, id_threshold: float = 0.0) -> pd.DataFrame:
    """A toy in the gjets schema: pho2 depends on pho1 and n_jets, and differs between SR and CR.

    Not physics: a fast, analytic stand-in with the columns of ``hepgan sample gjets`` for tests.

    Returns:
        DataFrame (N rows) with pho1_*, pho2_*, n_jets, n_vtx, lead_jet_pt, m_gg, pt_gg,
        ptgg_over_mgg, weight, region (1 SR, 0 CR).
    """
    from hepgan.physics import derived_columns, wrap_phi

    rng = np.random.default_rng(seed)
    region = (rng.random(n) < sr_fraction).astype(np.float64)
    pho1_pt = 25.0 + rng.exponential(25.0, n)
    pho1_eta = rng.uniform(-2.4, 2.4, n)
    pho1_phi = rng.uniform(-np.pi, np.pi, n)
    pho1_id = np.clip(1.0 - rng.exponential(0.1, n), -1, 1)
    n_jets = rng.poisson(0.5 + pho1_pt / 60.0).astype(np.float64)
    n_vtx = rng.poisson(20.0, n).astype(np.float64)
    frac = np.where(region == 1, rng.beta(5, 3, n), rng.beta(2, 5, n))  # SR candidates carry more of the jet
    pho2_pt = 20.0 + frac * pho1_pt * (1.0 + 0.1 * n_jets)
    pho2_eta = np.clip(0.5 * pho1_eta + rng.normal(0, 1.0, n), -2.4, 2.4)
    pho2_phi = wrap_phi(pho1_phi + np.pi + rng.normal(0, 0.4, n))
    u = rng.random(n)
    pho2_id = np.where(region == 1, id_threshold + (1 - id_threshold) * u**2, -1 + (id_threshold + 1) * u**0.5)
    t = pd.DataFrame(
        {
            "pho1_pt": pho1_pt, "pho1_eta": pho1_eta, "pho1_phi": pho1_phi, "pho1_id": pho1_id,
            "pho2_pt": pho2_pt, "pho2_eta": pho2_eta, "pho2_phi": pho2_phi, "pho2_id": pho2_id,
            "n_jets": n_jets, "n_vtx": n_vtx, "lead_jet_pt": pho1_pt * rng.uniform(0.7, 1.1, n),
        }
    )
    for k, v in derived_columns(t).items():
        t[k] = v
    t["weight"] = 1.0
    t["region"] = region
    return t.astype(np.float32)
