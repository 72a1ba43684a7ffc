"""Where is the Drell-Yan B - S (Z and gamma*/Z interference) negative? A GAN can only make densities >= 0.

Reads two large samples of `hepgan sample drellyan` (--mode full and --mode photon), subtracts them with
their cross sections in bins of (m_ee, cos_theta) and of m_ee alone, and prints the bins where B - S is
below zero by more than 3 standard errors.

    python scripts/drellyan_truth.py dy_full_truth.parquet dy_photon_truth.parquet
"""

from __future__ import annotations

import argparse

import numpy as np

from hepgan.io import read_metadata, read_table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("full")
    p.add_argument("photon")
    p.add_argument("--m-bins", type=int, default=10)
    p.add_argument("--cos-bins", type=int, default=10)
    args = p.parse_args()
    tables = {k: read_table(path) for k, path in (("B", args.full), ("S", args.photon))}
    sigma = {k: read_metadata(path)["sigma_pb"] for k, path in (("B", args.full), ("S", args.photon))}
    lo, hi = min(t["m_ee"].min() for t in tables.values()), max(t["m_ee"].max() for t in tables.values())
    m_edges = np.linspace(np.floor(lo), np.ceil(hi), args.m_bins + 1)
    c_edges = np.linspace(-1, 1, args.cos_bins + 1)
    diff, var = 0.0, 0.0
    for k, sign in (("B", 1.0), ("S", -1.0)):
        h, _, _ = np.histogram2d(tables[k]["m_ee"], tables[k]["cos_theta"], [m_edges, c_edges])
        scale = sigma[k] / len(tables[k])
        diff, var = diff + sign * scale * h, var + scale**2 * h
    pull = diff / np.sqrt(np.maximum(var, 1e-300))
    print(f"sigma_B {sigma['B']:.2f} pb, sigma_S {sigma['S']:.2f} pb; B - S = {sigma['B'] - sigma['S']:.2f} pb")
    print("B - S per m_ee bin [pb]:", " ".join(f"{m_edges[i]:.0f}-{m_edges[i + 1]:.0f}: {d:.2f}" for i, d in enumerate(diff.sum(1))))
    neg = np.argwhere(pull < -3)
    print(f"(m_ee, cos_theta) bins with B - S < 0 by more than 3 sigma: {len(neg)} of {diff.size}")
    for i, j in neg:
        print(f"  m_ee {m_edges[i]:.0f}-{m_edges[i + 1]:.0f}, cos_theta {c_edges[j]:+.1f}..{c_edges[j + 1]:+.1f}: "
              f"{diff[i, j]:.3f} +- {np.sqrt(var[i, j]):.3f} pb ({pull[i, j]:.1f} sigma)")  # fmt: skip


if __name__ == "__main__":
    main()
