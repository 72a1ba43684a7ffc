"""Prints the figures of src/hepgan/data/gjets_default.md from the chunk cache of its command.

    python scripts/gjets_figures.py [--events 820000] [--seed 2026]

Needs the cached chunks (the command in gjets_default.md makes them): photon-ID efficiencies at
several working points, the ID's ROC AUC, SR events per million Pythia events, the generation rate
per worker recorded by each chunk, and the shipped file's own figures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from hepgan.io import read_metadata, read_table
from hepgan.samples.chunks import chunk_list, chunk_path
from hepgan.samples.gjets import GjetsSettings, default_sample_path, generate_raw
from hepgan.samples.photon_id import load_default, roc_auc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=820_000)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    raw, summary = generate_raw(args.events, args.seed, GjetsSettings(), progress=False)
    print(f"Pythia events {summary['n_generated']}, selected {len(raw)} ({len(raw) / summary['n_generated']:.1%})")
    model = load_default()
    s1, s2 = model.score(raw, "pho1"), model.score(raw, "pho2")
    print(f"ID ROC AUC, prompt vs jet candidates: {roc_auc(s1, s2):.4f}")
    for thr in (-0.99, -0.98, -0.95, -0.9, -0.5, 0.0):
        n_sr = int(np.sum((s1 > thr) & (s2 > thr)))
        print(f"working point {thr:+.2f}: prompt efficiency {np.mean(s1 > thr):.4%}, fake pass rate {np.mean(s2 > thr):.4%}, "
              f"SR events {n_sr} ({n_sr / summary['n_generated'] * 1e6:.0f} per million Pythia events)")
    cache = Path(summary["cache"])
    rates = np.array([
        (lambda st: st["n_generated"] / st["seconds_total"])(read_metadata(chunk_path(cache, c, n))["chunk_stats"])
        for c, n in chunk_list(args.events, GjetsSettings().chunk_size)
    ])  # fmt: skip
    print(f"rate per worker (events/s, median): chunks 0-399 {np.median(rates[:400]):.0f}, chunks 400+ {np.median(rates[400:]):.0f}")
    path = default_sample_path()
    df, meta = read_table(path), read_metadata(path)
    w = df["weight"].to_numpy(np.float64)
    sr = df["region"].to_numpy() == 1
    print(f"{path.name}: {len(df)} rows, SR {int(sr.sum())}, CR {int((~sr).sum())}, id_threshold {meta['id_threshold']}")
    print(f"  weighted SR share {w[sr].sum() / w.sum():.3f}, (sum w)^2/sum w^2 = {w.sum() ** 2 / (w**2).sum() / len(w):.3f} N")
    print(f"  median pT: pho1 {np.median(df['pho1_pt']):.0f} GeV, pho2 {np.median(df['pho2_pt']):.0f} GeV; "
          f"sigma_gen {meta['sigma_gen_pb']:.0f} pb; {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
