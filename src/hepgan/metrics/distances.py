"""One-dimensional distances between weighted samples: Wasserstein-1 and Kolmogorov-Smirnov.

Both compare the weighted empirical CDFs F_A and F_B of one feature:

    W1 = integral |F_A(t) - F_B(t)| dt,      KS = sup_t |F_A(t) - F_B(t)|.

Weights may be negative (NLO event weights): the CDFs are then cumulative
sums of signed weights over their total and need not be monotone, but both
integrals stay well defined; only the total weight of each sample must be
positive. The KS p-value uses the asymptotic Kolmogorov distribution with the
Kish effective sizes n_eff = (sum w)^2 / sum w^2; it is exact in the large-N
limit for unit weights and an approximation otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from hepgan.exceptions import SampleError

__all__ = ["wasserstein_1d", "ks_1d", "ks_pvalue", "effective_size", "feature_distances", "weighted_quantile"]


def effective_size(w: np.ndarray | None, n: int) -> float:
    """Kish effective sample size (sum w)^2 / sum w^2 (n for unit weights)."""
    if w is None:
        return float(n)
    w = np.asarray(w, dtype=np.float64)
    return float(w.sum() ** 2 / np.sum(w**2))


def _prep(a, w, name: str):
    a = np.asarray(a, dtype=np.float64).ravel()
    w = np.ones_like(a) if w is None else np.asarray(w, dtype=np.float64).ravel()
    if w.shape != a.shape:
        raise SampleError(f"{name}: {w.shape[0]} weights for {a.shape[0]} values")
    if a.size == 0:
        raise SampleError(f"{name}: empty sample")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(w))):
        raise SampleError(f"{name}: NaN or inf values or weights")
    if w.sum() <= 0:
        raise SampleError(f"{name}: the total weight must be positive")
    return a, w


def _cdfs(a, b, w_a, w_b):
    """Both weighted CDFs evaluated on the sorted union of values, and the union."""
    a, w_a = _prep(a, w_a, "A")
    b, w_b = _prep(b, w_b, "B")
    t = np.concatenate([a, b])
    order = np.argsort(t, kind="stable")
    t = t[order]
    da = np.concatenate([w_a / w_a.sum(), np.zeros_like(b)])[order]
    db = np.concatenate([np.zeros_like(a), w_b / w_b.sum()])[order]
    fa, fb = np.cumsum(da), np.cumsum(db)
    # keep the last entry of each run of equal values: the CDF is right-continuous
    last = np.r_[t[1:] != t[:-1], True]
    return t[last], fa[last], fb[last]


def wasserstein_1d(a, b, w_a=None, w_b=None) -> float:
    """Wasserstein-1 (earth mover's) distance between two weighted 1-D samples.

    Args:
        a: (N,) sample A.
        b: (M,) sample B.
        w_a: (N,) weights of A (None: 1), negative allowed.
        w_b: (M,) weights of B (None: 1), negative allowed.

    Returns:
        W1 in the units of the feature (equal to ``scipy.stats.wasserstein_distance`` for non-negative weights).
    """
    t, fa, fb = _cdfs(a, b, w_a, w_b)
    return float(np.sum(np.abs(fa[:-1] - fb[:-1]) * np.diff(t)))


def ks_1d(a, b, w_a=None, w_b=None) -> float:
    """Kolmogorov-Smirnov statistic sup |F_A - F_B| of two weighted 1-D samples.

    Equal to ``scipy.stats.ks_2samp(a, b).statistic`` for unit weights.
    """
    _, fa, fb = _cdfs(a, b, w_a, w_b)
    return float(np.max(np.abs(fa - fb)))


def ks_pvalue(ks: float, n_a: float, n_b: float) -> float:
    """Asymptotic p-value of a KS statistic for (effective) sizes n_a, n_b."""
    n = n_a * n_b / (n_a + n_b)
    return float(stats.kstwobign.sf(ks * np.sqrt(n)))


def feature_distances(a, b, columns: Sequence[str], w_a=None, w_b=None) -> list[dict]:
    """W1, W1 in units of the standard deviation of A, KS and its p-value, per feature.

    Args:
        a: (N, D) sample A (the reference), array or DataFrame with ``columns``.
        b: (M, D) sample B.
        columns: names of the D features.
        w_a: (N,) weights of A.
        w_b: (M,) weights of B.

    Returns:
        One dict per feature: column, w1, w1_over_std, ks, ks_pvalue, n_eff_a, n_eff_b.
    """
    a = np.asarray(a[list(columns)] if hasattr(a, "columns") else a, dtype=np.float64)
    b = np.asarray(b[list(columns)] if hasattr(b, "columns") else b, dtype=np.float64)
    n_a, n_b = effective_size(w_a, len(a)), effective_size(w_b, len(b))
    out = []
    for k, col in enumerate(columns):
        wa = np.ones(len(a)) if w_a is None else np.asarray(w_a, dtype=np.float64)
        mean = np.sum(wa * a[:, k]) / wa.sum()
        std = np.sqrt(max(np.sum(wa * (a[:, k] - mean) ** 2) / wa.sum(), 0.0))
        w1 = wasserstein_1d(a[:, k], b[:, k], w_a, w_b)
        ks = ks_1d(a[:, k], b[:, k], w_a, w_b)
        out.append(
            {
                "column": col,
                "w1": w1,
                "w1_over_std": w1 / std if std > 0 else float("nan"),
                "ks": ks,
                "ks_pvalue": ks_pvalue(ks, n_a, n_b),
                "n_eff_a": n_a,
                "n_eff_b": n_b,
            }
        )
    return out


def weighted_quantile(x: np.ndarray, q: Sequence[float], w: np.ndarray | None = None) -> np.ndarray:
    """Quantiles of a weighted sample (mid-point rule of the weighted empirical CDF).

    Example:
        >>> weighted_quantile(np.array([1.0, 2.0, 3.0, 4.0]), [0.5])
        array([2.5])
    """
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return np.full(len(q), np.nan)
    w = np.ones(len(x)) if w is None else np.asarray(w, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], w[order]
    cdf = (np.cumsum(ws) - 0.5 * ws) / ws.sum()
    return np.interp(np.asarray(q, dtype=np.float64), cdf, xs)
