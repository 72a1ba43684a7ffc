"""Maximum mean discrepancy with a sum of Gaussian kernels, with event weights.

    MMD^2 = sum_ij p_i p_j k(a_i, a_j) + sum_ij q_i q_j k(b_i, b_j) - 2 sum_ij p_i q_j k(a_i, b_j),

with p = w_A / W_A, q = w_B / W_B and k(x, y) = sum_s exp(-|x - y|^2 / (2 s^2)).
This is the biased (V-statistic) estimator: the squared RKHS norm of the
difference of the two weighted kernel mean embeddings, so it is >= 0 for any
weights (negative included) and exactly 0 for identical samples. It costs
O(N M) kernel evaluations, computed in blocks (never an N x M matrix in
memory); samples above ``max_events`` are subsampled (seeded).

Features are standardised with the mean and standard deviation of A before
the kernel; ``sigmas=None`` picks the bandwidths (0.5, 1, 2) x the median
pairwise distance of the pooled (standardised) sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["mmd2"]


def _kernel_sum(x, px, y, py, sigmas, block: int) -> float:
    total = 0.0
    y2 = np.sum(y * y, axis=1)
    for s in range(0, len(x), block):
        xb = x[s : s + block]
        d2 = np.sum(xb * xb, axis=1)[:, None] + y2[None, :] - 2.0 * xb @ y.T
        np.maximum(d2, 0.0, out=d2)
        k = np.zeros_like(d2)
        for sig in sigmas:
            k += np.exp(-d2 / (2.0 * sig * sig))
        total += float(px[s : s + block] @ k @ py)
    return total


def mmd2(
    a,
    b,
    w_a=None,
    w_b=None,
    sigmas: Sequence[float] | None = None,
    max_events: int | None = 5_000,
    seed: int = 0,
    block: int = 1024,
) -> float:
    """Squared MMD between two weighted samples with Gaussian kernels.

    Args:
        a: (N, D) sample A (its mean and std standardise both samples).
        b: (M, D) sample B.
        w_a: (N,) weights of A (None: 1), negative allowed.
        w_b: (M,) weights of B.
        sigmas: kernel bandwidths in standardised units (None: median heuristic x (0.5, 1, 2)).
        max_events: larger samples are subsampled to this size, seeded (None: never).
        seed: seed of the subsample.
        block: rows per block of the kernel sums.

    Returns:
        MMD^2 (biased estimator, >= 0; 0 when A and B are the same sample).
    """
    rng = np.random.default_rng(seed)
    a = np.atleast_2d(np.asarray(a, dtype=np.float64).T).T
    b = np.atleast_2d(np.asarray(b, dtype=np.float64).T).T
    w_a = np.ones(len(a)) if w_a is None else np.asarray(w_a, dtype=np.float64).ravel()
    w_b = np.ones(len(b)) if w_b is None else np.asarray(w_b, dtype=np.float64).ravel()
    if max_events is not None:
        if len(a) > max_events:
            keep = rng.choice(len(a), size=max_events, replace=False)
            a, w_a = a[keep], w_a[keep]
        if len(b) > max_events:
            keep = rng.choice(len(b), size=max_events, replace=False)
            b, w_b = b[keep], w_b[keep]
    mu, sd = a.mean(axis=0), a.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    a, b = (a - mu) / sd, (b - mu) / sd
    if sigmas is None:
        pool = np.concatenate([a, b])
        pick = np.random.default_rng(seed + 1).choice(len(pool), size=min(len(pool), 1000), replace=False)
        p = pool[pick]
        dist = np.sqrt(np.maximum(np.sum((p[:, None] - p[None]) ** 2, axis=-1), 0.0))
        med = float(np.median(dist[np.triu_indices(len(p), 1)])) if len(p) > 1 else 1.0
        med = med if med > 0 else 1.0
        sigmas = (0.5 * med, med, 2.0 * med)
    p, q = w_a / w_a.sum(), w_b / w_b.sum()
    kaa = _kernel_sum(a, p, a, p, sigmas, block)
    kbb = _kernel_sum(b, q, b, q, sigmas, block)
    kab = _kernel_sum(a, p, b, q, sigmas, block)
    return float(max(kaa + kbb - 2.0 * kab, 0.0))
