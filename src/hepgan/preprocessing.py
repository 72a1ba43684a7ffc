"""Bijective feature transforms: quantile-to-uniform with dequantisation of discrete columns.

The quantile transform maps each column through its empirical CDF, interpolated
linearly between ``n_quantiles`` knots and extended linearly beyond the first
and last knot, so it is a strictly increasing bijection of the real line and
its inverse is exact up to float rounding (float64 round trip < 1e-9). Training
data land in [0, 1]; values outside the fitted range land slightly outside.

Discrete columns (``n_jets``, ``n_vtx``) are dequantised before the fit and
transform: an integer k becomes k + U with U ~ Uniform[0, 1), so its image is a
continuous density; the inverse rounds back with floor. The noise is drawn from
an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hepgan.exceptions import SchemaError

__all__ = ["QuantileUniform", "TablePreprocessor"]


def _interp_torch(x, xp, fp):
    """:func:`_interp` for torch tensors (float64 knots on x's device), the same formulas."""
    import torch

    x = x.contiguous()
    j = (torch.searchsorted(xp, x, right=True) - 1).clamp(0, xp.numel() - 2)
    x0, f0 = xp[j], fp[j]
    slope = (fp[j + 1] - f0) / (xp[j + 1] - x0)
    y = torch.minimum(torch.maximum(slope * (x - x0) + f0, f0), fp[j + 1])  # see _interp
    slope_hi = (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    y = torch.where(x >= xp[-1], fp[-1] + (x - xp[-1]) * slope_hi, y)
    slope_lo = (fp[1] - fp[0]) / (xp[1] - xp[0])
    return torch.where(x < xp[0], fp[0] + (x - xp[0]) * slope_lo, y)


def _interp(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """np.interp with linear extrapolation beyond both ends (xp strictly increasing).

    Inside the knots each value is clipped to its segment's [fp[j], fp[j + 1]]: np.interp can round a
    value just below a knot one ulp above the knot's own value, and the transform must stay monotone.
    """
    y = np.interp(x, xp, fp)
    j = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, xp.size - 2)
    y = np.minimum(np.maximum(y, fp[j]), fp[j + 1])
    lo, hi = x < xp[0], x > xp[-1]
    if lo.any():
        slope = (fp[1] - fp[0]) / (xp[1] - xp[0])
        y[lo] = fp[0] + (x[lo] - xp[0]) * slope
    if hi.any():
        slope = (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
        y[hi] = fp[-1] + (x[hi] - xp[-1]) * slope
    return y


class QuantileUniform:
    """Empirical-CDF transform of one column to Uniform[0, 1], exactly invertible.

    Args:
        n_quantiles: number of knots (fewer if the column has fewer distinct values).

    Example:
        >>> x = np.random.default_rng(0).exponential(30.0, 5000)
        >>> q = QuantileUniform(100).fit(x)
        >>> u = q.transform(x)
        >>> bool(u.min() >= 0 and u.max() <= 1), bool(np.allclose(q.inverse_transform(u), x, rtol=1e-9))
        (True, True)
    """

    def __init__(self, n_quantiles: int = 1000):
        self.n_quantiles = n_quantiles

    def fit(self, x: np.ndarray, name: str = "column", weights: np.ndarray | None = None) -> QuantileUniform:
        """Fits the knots. x: (N,); weights: (N,) event weights (None or all equal: the plain quantiles).

        With unequal weights the knots are quantiles of the weighted empirical CDF (each event at the
        middle of its weight step), so the transform spends its resolution where the weight is, not
        where the generated events happen to be.

        Example:
            >>> x = np.array([1.0, 2.0, 3.0, 4.0])
            >>> q = QuantileUniform(3).fit(x, weights=np.array([3.0, 1.0, 1.0, 3.0]))
            >>> [round(float(v), 3) for v in q.knots_]
            [1.0, 2.5, 4.0]
        """
        x = np.asarray(x, dtype=np.float64)
        if x.size < 2 or np.ptp(x) == 0:
            raise SchemaError(f"column '{name}' is constant or has fewer than 2 values: cannot fit a quantile transform")
        p = np.linspace(0.0, 1.0, min(self.n_quantiles, x.size))
        w = None if weights is None else np.asarray(weights, dtype=np.float64)
        if w is not None and (w.shape != x.shape or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0):
            raise SchemaError(f"column '{name}': weights must be {x.size} finite non-negative numbers with a positive sum")
        if w is None or np.all(w == w[0]):
            q = np.quantile(x, p)
        else:
            order = np.argsort(x, kind="stable")
            xs, ws = x[order], w[order]
            keep = ws > 0
            xs, ws = xs[keep], ws[keep]
            cdf = (np.cumsum(ws) - 0.5 * ws) / ws.sum()
            cdf = (cdf - cdf[0]) / (cdf[-1] - cdf[0]) if cdf[-1] > cdf[0] else np.linspace(0.0, 1.0, len(cdf))
            q = np.interp(p, cdf, xs)
        # Ties (point masses) give repeated knots: keep one knot per value, at the mean probability,
        # so knots and probabilities are both strictly increasing.
        knots, inverse = np.unique(q, return_inverse=True)
        probs = np.bincount(inverse, weights=p) / np.bincount(inverse)
        if knots.size < 2:
            raise SchemaError(f"column '{name}' has a single distinct quantile: cannot fit a quantile transform")
        # Map the end knots exactly to 0 and 1.
        probs = (probs - probs[0]) / (probs[-1] - probs[0])
        self.knots_, self.probs_ = knots, probs
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """x: (N,) -> u: (N,)."""
        return _interp(np.asarray(x, dtype=np.float64), self.knots_, self.probs_)

    def inverse_transform(self, u: np.ndarray) -> np.ndarray:
        """u: (N,) -> x: (N,)."""
        return _interp(np.asarray(u, dtype=np.float64), self.probs_, self.knots_)

    def _tensors(self, device):
        import torch

        key = str(device)
        cache = self.__dict__.setdefault("_torch_cache", {})
        if key not in cache:
            cache[key] = (
                torch.as_tensor(self.knots_, dtype=torch.float64, device=device),
                torch.as_tensor(self.probs_, dtype=torch.float64, device=device),
            )
        return cache[key]

    def transform_torch(self, x):
        """:meth:`transform` on a float64 tensor (N,), on its device."""
        knots, probs = self._tensors(x.device)
        return _interp_torch(x, knots, probs)

    def inverse_transform_torch(self, u):
        """:meth:`inverse_transform` on a float64 tensor (N,), on its device."""
        knots, probs = self._tensors(u.device)
        return _interp_torch(u, probs, knots)

    def to_dict(self) -> dict[str, Any]:
        return {"n_quantiles": self.n_quantiles, "knots": self.knots_.tolist(), "probs": self.probs_.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QuantileUniform:
        obj = cls(d["n_quantiles"])
        obj.knots_ = np.asarray(d["knots"], dtype=np.float64)
        obj.probs_ = np.asarray(d["probs"], dtype=np.float64)
        return obj


class TablePreprocessor:
    """Per-column quantile-uniform transforms of a named set of columns.

    Args:
        columns: column names, in the order of the arrays' second axis.
        discrete: the subset holding integers, dequantised before the transform.
        n_quantiles: knots per column.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> x = np.column_stack([rng.normal(50, 10, 1000), rng.integers(0, 5, 1000)])
        >>> pre = TablePreprocessor(["pt", "n_jets"], discrete=["n_jets"], n_quantiles=200).fit(x, rng)
        >>> back = pre.inverse_transform(pre.transform(x, rng))
        >>> bool(np.allclose(back[:, 0], x[:, 0])), bool(np.array_equal(back[:, 1], x[:, 1]))
        (True, True)
    """

    def __init__(self, columns: Sequence[str], discrete: Sequence[str] = (), n_quantiles: int = 1000):
        self.columns = list(columns)
        self.discrete = [c for c in columns if c in set(discrete)]
        self.n_quantiles = n_quantiles

    def _dequantise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = np.array(x, dtype=np.float64, copy=True)
        for j, c in enumerate(self.columns):
            if c in self.discrete:
                col = x[:, j]
                if not np.allclose(col, np.round(col)):
                    raise SchemaError(f"column '{c}' is declared discrete but holds non-integer values")
                x[:, j] = np.round(col) + rng.random(len(col))
        return x

    def fit(self, x: np.ndarray, rng: np.random.Generator, weights: np.ndarray | None = None) -> TablePreprocessor:
        """x: (N, D) in physical units; weights: (N,) event weights for the quantiles (None: unweighted)."""
        x = self._dequantise(np.asarray(x), rng)
        self.transforms_ = [QuantileUniform(self.n_quantiles).fit(x[:, j], c, weights) for j, c in enumerate(self.columns)]
        return self

    def transform(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(N, D) physical -> (N, D) uniformised (dequantising discrete columns with ``rng``)."""
        x = self._dequantise(np.asarray(x), rng)
        return np.stack([t.transform(x[:, j]) for j, t in enumerate(self.transforms_)], axis=1)

    def inverse_transform(self, u: np.ndarray) -> np.ndarray:
        """(N, D) uniformised -> (N, D) physical (discrete columns floored back to integers)."""
        u = np.asarray(u, dtype=np.float64)
        x = np.stack([t.inverse_transform(u[:, j]) for j, t in enumerate(self.transforms_)], axis=1)
        for j, c in enumerate(self.columns):
            if c in self.discrete:
                x[:, j] = np.floor(x[:, j])
        return x

    def outside(self, x: np.ndarray) -> np.ndarray:
        """(N, D) bool: which values lie outside the range seen in the fit (discrete: outside its integers)."""
        x = np.asarray(x, dtype=np.float64)
        out = np.zeros(x.shape, dtype=bool)
        for j, (c, t) in enumerate(zip(self.columns, self.transforms_)):
            lo, hi = t.knots_[0], t.knots_[-1]
            if c in self.discrete:  # the fit saw v + U[0, 1): v is inside when [v, v + 1) meets [lo, hi]
                out[:, j] = (x[:, j] + 1 <= lo) | (x[:, j] > hi)
            else:
                out[:, j] = (x[:, j] < lo) | (x[:, j] > hi)
        return out

    def transform_torch(self, x, generator=None):
        """:meth:`transform` on the device: (N, D) tensor -> (N, D) float64 tensor.

        Discrete columns are dequantised with U[0, 1) noise from ``generator`` (a torch.Generator
        on x's device; other numbers than the numpy path draws, the same distribution).
        """
        import torch

        x = x.to(torch.float64)
        cols = []
        for j, (c, t) in enumerate(zip(self.columns, self.transforms_)):
            col = x[:, j]
            if c in self.discrete:
                col = torch.round(col) + torch.rand(col.shape, generator=generator, dtype=torch.float64, device=col.device)
            cols.append(t.transform_torch(col))
        return torch.stack(cols, dim=1) if cols else x

    def inverse_transform_torch(self, u):
        """:meth:`inverse_transform` on the device: (N, D) tensor -> (N, D) float64 tensor."""
        import torch

        u = u.to(torch.float64)
        cols = []
        for j, (c, t) in enumerate(zip(self.columns, self.transforms_)):
            col = t.inverse_transform_torch(u[:, j])
            cols.append(torch.floor(col) if c in self.discrete else col)
        return torch.stack(cols, dim=1) if cols else u

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "discrete": self.discrete,
            "n_quantiles": self.n_quantiles,
            "transforms": [t.to_dict() for t in self.transforms_],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TablePreprocessor:
        obj = cls(d["columns"], d["discrete"], d["n_quantiles"])
        obj.transforms_ = [QuantileUniform.from_dict(t) for t in d["transforms"]]
        return obj
