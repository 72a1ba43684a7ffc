"""Distance correlation matrices (Szekely, Rizzo and Bakirov 2007) and the chi of seed 002.

For two univariate variables x, y with event weights w (W = sum w) the biased
(V-statistic) distance covariance is

    dCov^2 = S1 / W^2 + (A / W^2)(B / W^2) - 2 sum_i w_i a_i b_i / W^3,
    S1 = sum_ij w_i w_j |x_i - x_j| |y_i - y_j|,  a_i = sum_j w_j |x_i - x_j|,  A = sum_i w_i a_i,

and dCor = sqrt(dCov^2(x, y) / sqrt(dCov^2(x, x) dCov^2(y, y))). With unit
weights this is exactly ``dcor.distance_correlation``. The row sums a_i need
one sort and cumulative sums; S1 uses the O(n log n) algorithm of Huo and
Szekely (2016), the one ``dcor`` runs for ``method="avl"``: events in x order,
a Fenwick tree over the y ranks holding the running sums of w, w x, w y, w x y.
We run our own numba version of it because ``dcor``'s takes no weights; the
tests check it against ``dcor`` to 1e-9. No n x n matrix is ever built.

What is weighted: everything. The point estimate uses the event weights; the
bootstrap draws multinomial counts (the classic bootstrap, events resampled
with replacement) and multiplies them with the event weights, so one weighted
kernel serves both. Negative weights are accepted: the estimator stays
defined, but dCov^2 of a signed measure can come out negative; it is clipped
at 0 (a warning-free, documented choice).

chi (seed 002, section 3.2):

    chi = (1 / N_pairs) sum_{i<j} sqrt(chi2_ij),  chi2_ij = (d^A_ij - d^B_ij)^2 / sigma_ij^2,

where sigma_ij^2 = sigma^A_ij^2 + sigma^B_ij^2, the bootstrap variances of the
two (independent) samples added in quadrature. Under the hypothesis that A and
B follow one distribution (and have similar sizes, so the O(1/N) bias of the
biased estimator cancels), each sqrt(chi2_ij) is |z| for a standard normal z,
so chi is about sqrt(2 / pi) = 0.80; the paper quotes chi ~ 1.1 for its GAN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numba
import numpy as np

from hepgan.exceptions import SampleError

__all__ = [
    "DistanceCorrelationMatrix",
    "ChiResult",
    "distance_correlation",
    "distance_correlation_matrix",
    "distance_correlation_chi",
]


@numba.njit(cache=True, nogil=True)
def _s1(order_x: np.ndarray, rank_y: np.ndarray, n_ranks: int, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """sum_ij w_i w_j |x_i - x_j| |y_i - y_j| in O(n log n) (Fenwick tree over y ranks)."""
    tree = np.zeros((n_ranks + 1, 4))
    t0 = 0.0
    tx = 0.0
    ty = 0.0
    txy = 0.0
    total = 0.0
    for k in range(order_x.shape[0]):
        i = order_x[k]
        wi = w[i]
        if wi == 0.0:
            continue
        xi = x[i]
        yi = y[i]
        # prefix sums over earlier events (x_j <= x_i) with y_j <= y_i
        c0 = 0.0
        cx = 0.0
        cy = 0.0
        cxy = 0.0
        r = rank_y[i] + 1
        while r > 0:
            c0 += tree[r, 0]
            cx += tree[r, 1]
            cy += tree[r, 2]
            cxy += tree[r, 3]
            r -= r & (-r)
        # earlier events with y_j > y_i: totals minus the prefix
        d0 = t0 - c0
        dx = tx - cx
        dy = ty - cy
        dxy = txy - cxy
        # (x_i - x_j)(y_i - y_j) summed with sign +1 below y_i and -1 above
        total += wi * (xi * yi * (c0 - d0) - xi * (cy - dy) - yi * (cx - dx) + (cxy - dxy))
        r = rank_y[i] + 1
        while r <= n_ranks:
            tree[r, 0] += wi
            tree[r, 1] += wi * xi
            tree[r, 2] += wi * yi
            tree[r, 3] += wi * xi * yi
            r += r & (-r)
        t0 += wi
        tx += wi * xi
        ty += wi * yi
        txy += wi * xi * yi
    return 2.0 * total


@numba.njit(cache=True, nogil=True)
def _row_sums(order: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """a_i = sum_j w_j |x_i - x_j| from one pass in sorted order."""
    n = order.shape[0]
    a = np.empty(n)
    tw = 0.0
    twx = 0.0
    for k in range(n):
        tw += w[order[k]]
        twx += w[order[k]] * x[order[k]]
    cw = 0.0
    cwx = 0.0
    for k in range(n):
        i = order[k]
        cw += w[i]
        cwx += w[i] * x[i]
        # ties contribute |x_i - x_j| = 0 whichever side they are counted on
        a[i] = x[i] * cw - cwx + (twx - cwx) - x[i] * (tw - cw)
    return a


@numba.njit(cache=True, nogil=True)
def _dcov_parts(order: np.ndarray, x: np.ndarray, w: np.ndarray):
    """Row sums a_i and dCov^2(x, x) for weights w."""
    a = _row_sums(order, x, w)
    wsum = w.sum()
    aa = (w * a).sum()
    mx = (w * x).sum()
    s1 = 2.0 * (wsum * (w * x * x).sum() - mx * mx)
    dvar = s1 / wsum**2 + (aa / wsum**2) ** 2 - 2.0 * (w * a * a).sum() / wsum**3
    return a, aa, dvar


@numba.njit(cache=True, nogil=True)
def _dcor_matrices(
    z: np.ndarray, orders: np.ndarray, ranks: np.ndarray, n_ranks: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """dCor matrices (R, D, D), one per weight row of ``weights`` (R, N)."""
    n_rep = weights.shape[0]
    d = z.shape[1]
    n = z.shape[0]
    out = np.zeros((n_rep, d, d))
    a_all = np.empty((d, n))
    aa = np.empty(d)
    dvar = np.empty(d)
    for r in range(n_rep):
        w = weights[r]
        wsum = w.sum()
        for j in range(d):
            a, aaj, dv = _dcov_parts(orders[:, j], z[:, j], w)
            a_all[j] = a
            aa[j] = aaj
            dvar[j] = max(dv, 0.0)
        for i in range(d):
            out[r, i, i] = 1.0 if dvar[i] > 0.0 else 0.0
            for j in range(i + 1, d):
                s1 = _s1(orders[:, i], ranks[:, j], n_ranks[j], z[:, i], z[:, j], w)
                cov = (
                    s1 / wsum**2
                    + (aa[i] / wsum**2) * (aa[j] / wsum**2)
                    - 2.0 * (w * a_all[i] * a_all[j]).sum() / wsum**3
                )
                den = np.sqrt(dvar[i] * dvar[j])
                v = 0.0
                if den > 0.0 and cov > 0.0:
                    v = np.sqrt(min(cov / den, 1.0))
                out[r, i, j] = v
                out[r, j, i] = v
    return out


def _prepare(x: np.ndarray):
    """Standardised columns (dCor is affine invariant; this limits cancellation), sort orders, dense ranks."""
    z = (x - np.median(x, axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    z = np.ascontiguousarray(z, dtype=np.float64)
    orders = np.ascontiguousarray(np.argsort(z, axis=0, kind="stable"))
    ranks = np.empty_like(orders)
    n_ranks = np.empty(z.shape[1], dtype=np.int64)
    for j in range(z.shape[1]):
        _, inv = np.unique(z[:, j], return_inverse=True)
        ranks[:, j] = inv.ravel()
        n_ranks[j] = inv.max() + 1
    return z, orders.astype(np.int64), ranks.astype(np.int64), n_ranks


def _as_2d(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"expected an (N, D) array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise SampleError("the sample has NaN or inf values")
    return x


def _weights(w, n: int) -> np.ndarray:
    if w is None:
        return np.ones(n)
    w = np.asarray(w, dtype=np.float64).ravel()
    if w.shape[0] != n:
        raise SampleError(f"{w.shape[0]} weights for {n} events")
    if not np.all(np.isfinite(w)) or w.sum() <= 0:
        raise SampleError("weights must be finite with a positive sum")
    return w


def distance_correlation(x, y, w=None) -> float:
    """Weighted distance correlation of two univariate samples.

    Args:
        x: (N,) first variable.
        y: (N,) second variable.
        w: (N,) event weights (None: 1).

    Returns:
        dCor in [0, 1] (biased V-statistic, equal to ``dcor.distance_correlation`` for unit weights).
    """
    xy = _as_2d(np.column_stack([np.ravel(x), np.ravel(y)]))
    return float(distance_correlation_matrix(xy, w=w, n_bootstrap=0).d[0, 1])


@dataclass
class DistanceCorrelationMatrix:
    """A distance-correlation matrix with its bootstrap spread.

    Attributes:
        d: (D, D) distance correlations (1 on the diagonal).
        sigma: (D, D) bootstrap standard deviations (NaN without bootstrap).
        columns: names of the D observables.
        n_events: events used (after subsampling).
        n_bootstrap: bootstrap replicas.
        subsampled_from: events before subsampling (None: no subsampling).
    """

    d: np.ndarray
    sigma: np.ndarray
    columns: list[str]
    n_events: int
    n_bootstrap: int
    subsampled_from: int | None = None

    def to_dict(self) -> dict:
        return {
            "columns": list(self.columns),
            "d": np.round(self.d, 6).tolist(),
            "sigma": np.round(self.sigma, 6).tolist(),
            "n_events": self.n_events,
            "n_bootstrap": self.n_bootstrap,
            "subsampled_from": self.subsampled_from,
        }


def distance_correlation_matrix(
    x,
    w=None,
    columns: Sequence[str] | None = None,
    n_bootstrap: int = 20,
    max_events: int | None = None,
    seed: int = 0,
) -> DistanceCorrelationMatrix:
    """Distance-correlation matrix of all pairs of observables, with bootstrap errors.

    O(D^2 (B + 1) N log N) time and O(N D) memory: 100k events need no N x N matrix.

    Args:
        x: (N, D) observables (array or DataFrame).
        w: (N,) event weights, negative allowed (None: 1).
        columns: names of the D columns (default: DataFrame columns or x0, x1, ...).
        n_bootstrap: bootstrap replicas B for sigma (0: no errors).
        max_events: if N is larger, a seeded random subsample of this size is used (recorded).
        seed: seed of the subsample and the bootstrap.

    Returns:
        A :class:`DistanceCorrelationMatrix`.
    """
    if columns is None:
        columns = list(x.columns) if hasattr(x, "columns") else [f"x{i}" for i in range(np.shape(x)[1])]
    x = _as_2d(x)
    n = x.shape[0]
    w = _weights(w, n)
    if len(columns) != x.shape[1]:
        raise ValueError(f"{len(columns)} column names for {x.shape[1]} columns")
    rng = np.random.default_rng(seed)
    subsampled_from = None
    if max_events is not None and n > max_events:
        keep = np.sort(rng.choice(n, size=max_events, replace=False))
        x, w, subsampled_from, n = x[keep], w[keep], n, max_events
    z, orders, ranks, n_ranks = _prepare(x)
    reps = [w]
    for _ in range(n_bootstrap):
        reps.append(w * rng.multinomial(n, np.full(n, 1.0 / n)))
    mats = _dcor_matrices(z, orders, ranks, n_ranks, np.ascontiguousarray(np.stack(reps)))
    sigma = mats[1:].std(axis=0, ddof=1) if n_bootstrap > 1 else np.full(mats[0].shape, np.nan)
    return DistanceCorrelationMatrix(mats[0], sigma, list(columns), n, n_bootstrap, subsampled_from)


@dataclass
class ChiResult:
    """chi of seed 002 and its per-pair table.

    Attributes:
        chi: (1 / N_pairs) sum_{i<j} sqrt(chi2_ij).
        pairs: one dict per pair (i < j): columns, d_a, d_b, sigma_a, sigma_b, sigma, pull = sqrt(chi2_ij),
            sorted by decreasing pull.
        expected_null: sqrt(2 / pi), the value of chi when A and B follow one distribution.
    """

    chi: float
    pairs: list[dict] = field(default_factory=list)
    expected_null: float = float(np.sqrt(2.0 / np.pi))

    def worst(self, k: int = 5) -> list[dict]:
        return self.pairs[:k]

    def to_dict(self) -> dict:
        return {"chi": self.chi, "expected_null": self.expected_null, "pairs": self.pairs}


def distance_correlation_chi(a: DistanceCorrelationMatrix, b: DistanceCorrelationMatrix) -> ChiResult:
    """chi = (1/N_pairs) sum_{i<j} |d^A_ij - d^B_ij| / sigma_ij, sigma_ij^2 = sigma^A_ij^2 + sigma^B_ij^2.

    Args:
        a: matrix of sample A (e.g. MC SR), with bootstrap errors.
        b: matrix of sample B (e.g. GANed CR), same columns.

    Returns:
        A :class:`ChiResult`.
    """
    if list(a.columns) != list(b.columns):
        raise ValueError(f"the matrices have different columns: {a.columns} vs {b.columns}")
    if a.n_bootstrap < 2 or b.n_bootstrap < 2:
        raise ValueError("chi needs bootstrap errors: compute both matrices with n_bootstrap >= 2")
    pairs = []
    dim = len(a.columns)
    for i in range(dim):
        for j in range(i + 1, dim):
            sig = float(np.hypot(a.sigma[i, j], b.sigma[i, j]))
            diff = float(a.d[i, j] - b.d[i, j])
            pull = abs(diff) / sig if sig > 0 else (0.0 if diff == 0 else float("inf"))
            pairs.append(
                {
                    "i": a.columns[i],
                    "j": a.columns[j],
                    "d_a": float(a.d[i, j]),
                    "d_b": float(b.d[i, j]),
                    "sigma_a": float(a.sigma[i, j]),
                    "sigma_b": float(b.sigma[i, j]),
                    "sigma": sig,
                    "pull": pull,
                }
            )
    chi = float(np.mean([p["pull"] for p in pairs])) if pairs else float("nan")
    pairs.sort(key=lambda p: -p["pull"])
    return ChiResult(chi, pairs)
