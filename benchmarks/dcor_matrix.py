"""Benchmark: distance-correlation matrix of 100k events x 10 features with 20 bootstraps (issue 4).

Times hepgan.metrics.distance_correlation_matrix (weighted O(n log n), numba) on the full size,
and, in the same run, a plain O(n^2) numpy implementation (double-centred n x n matrices) and
hepgan on the same small subsample where the n x n matrices fit in memory; prints the ratio.
Also times dcor's own fast unweighted algorithm (method="avl") on one pair of the full sample.

    nice python benchmarks/dcor_matrix.py [--events 100000] [--features 10] [--bootstrap 20] [--plain-events 3000]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from hepgan.metrics import distance_correlation_matrix


def plain_dcor_matrix(x: np.ndarray) -> np.ndarray:
    """Textbook O(n^2) time and memory: one double-centred n x n matrix per feature."""
    d = x.shape[1]
    cent = []
    for k in range(d):
        a = np.abs(x[:, k, None] - x[None, :, k])
        r = a.mean(axis=1)
        cent.append(a - r[:, None] - r[None, :] + r.mean())
    var = np.array([np.mean(c * c) for c in cent])
    out = np.eye(d)
    for i in range(d):
        for j in range(i + 1, d):
            out[i, j] = out[j, i] = np.sqrt(max(np.mean(cent[i] * cent[j]), 0) / np.sqrt(var[i] * var[j]))
    return out


def sample(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Correlated, partly non-linear, partly discrete features."""
    z = rng.normal(size=(n, d))
    z[:, 1] += 0.5 * z[:, 0] ** 2
    z[:, 2] = np.exp(0.5 * z[:, 2]) + 0.3 * z[:, 1]
    z[:, 3] = np.round(np.abs(z[:, 3]) * 2)  # discrete, with ties
    return z


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--features", type=int, default=10)
    p.add_argument("--bootstrap", type=int, default=20)
    p.add_argument("--plain-events", type=int, default=3000)
    args = p.parse_args()
    rng = np.random.default_rng(1)
    x = sample(rng, args.events, args.features)
    w = rng.uniform(0.5, 1.5, args.events)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")

    small = x[: args.plain_events]
    distance_correlation_matrix(small[:100], n_bootstrap=0)  # numba compile / cache load, not timed

    t = time.perf_counter()
    m = distance_correlation_matrix(x, w=w, n_bootstrap=args.bootstrap, seed=0)
    t_full = time.perf_counter() - t
    print(
        f"hepgan: {args.events} events x {args.features} features, {args.bootstrap} bootstraps, weighted: "
        f"{t_full:.1f} s ({(args.bootstrap + 1)} matrices)"
    )

    t = time.perf_counter()
    plain = plain_dcor_matrix(small)
    t_plain = time.perf_counter() - t
    t = time.perf_counter()
    fast = distance_correlation_matrix(small, n_bootstrap=0).d
    t_fast = time.perf_counter() - t
    print(f"plain O(n^2) numpy, {args.plain_events} events, 1 matrix: {t_plain:.2f} s")
    print(f"hepgan,             {args.plain_events} events, 1 matrix: {t_fast:.3f} s")
    print(f"ratio plain / hepgan at {args.plain_events} events: {t_plain / t_fast:.0f}x "
          f"(max |difference| {np.abs(plain - fast).max():.1e})")
    scale = (args.events / args.plain_events) ** 2 * (args.bootstrap + 1)
    print(f"plain O(n^2) extrapolated to the full job: {t_plain * scale / 3600:.1f} h "
          f"and {args.events**2 * 8 * args.features / 1e9:.0f} GB of n x n matrices")

    import dcor

    dcor.distance_correlation(x[:100, 0], x[:100, 1], method="avl")  # compile, not timed
    t = time.perf_counter()
    dcor.distance_correlation(x[:, 0], x[:, 1], method="avl")
    t_dcor = time.perf_counter() - t
    pairs = args.features * (args.features - 1) // 2
    print(f"dcor avl (unweighted), one pair at {args.events} events: {t_dcor:.3f} s "
          f"-> {t_dcor * pairs * (args.bootstrap + 1):.0f} s for the job by extrapolation")
    assert m.d.shape == (args.features, args.features)


if __name__ == "__main__":
    main()
