r"""Binned Poisson likelihood fits of a mass spectrum, the local significance of a bump, and the look-elsewhere effect.

The models of seed 004, on a histogram of :math:`m_{\ell\ell\gamma}` with bins :math:`[x_i, x_{i+1})`
inside a window :math:`[x_\mathrm{lo}, x_\mathrm{hi}]`:

* background :math:`f(x) = n_0\, e^{a t + b t^2}` events per GeV, with :math:`t = (x - x_c) / w` the
  mass scaled to [-1, 1] over the window (centre :math:`x_c`, half-width :math:`w`; the same function
  as :math:`e^{a' x + b' x^2}`, better conditioned for the minimiser);
* background + signal :math:`g(x) = f(x) + n_1\,\mathcal{N}(x; \mu, \sigma)` with :math:`n_1` signal
  events (the Gaussian is normalised; the seed writes it without its normalisation), :math:`\sigma`
  fixed to the detector resolution and :math:`\mu` scanned over the window.

Expected counts per bin: :math:`\nu_i = \Delta_i f(x_i^c)` for the background (bin centre; exact for
the linear part, 1 GeV bins make the curvature's error negligible) plus the Gaussian's exact bin
integral times :math:`n_1`. The likelihood is Poisson, :math:`\ln L = \sum_i (k_i \ln\nu_i - \nu_i - \ln k_i!)`,
maximised with iminuit (MIGRAD). The local significance at :math:`\mu` is
:math:`S = \sqrt{2 (\ln L_g - \ln L_f)}` when the fitted :math:`n_1 > 0` and 0 otherwise (a
one-sided test: a deficit is no signal); for background only, :math:`q_0 = S^2` follows
asymptotically :math:`\tfrac12\delta(0) + \tfrac12\chi^2_1` (Wilks, Chernoff).

The look-elsewhere effect (Gross and Vitells, Eur. Phys. J. C 70 (2010) 525): the global p-value
of the largest :math:`q_0` over the scan is estimated from the mean number of up-crossings
:math:`\langle N(c_0)\rangle` of a low level :math:`c_0` by the :math:`q_0(\mu)` curves of
background-only pseudo-experiments,
:math:`p_\mathrm{global}(c) \approx P(\chi^2_1 > c)/2 + \langle N(c_0)\rangle e^{-(c - c_0)/2}`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from scipy import special, stats

from hepgan.exceptions import ConfigError, MissingExtraError

__all__ = [
    "Histogram",
    "FitResult",
    "histogram",
    "background_density",
    "expected_background",
    "expected_signal",
    "poisson_loglike",
    "fit_background",
    "fit_signal",
    "local_significance_scan",
    "upcrossings",
    "gross_vitells",
    "asimov_significance",
    "p_to_z",
    "z_to_p",
]


@dataclasses.dataclass(frozen=True)
class Histogram:
    """Counts ``k`` (N,) in bins of edges (N + 1,) (GeV)."""

    edges: np.ndarray
    counts: np.ndarray

    @property
    def centres(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    @property
    def widths(self) -> np.ndarray:
        return np.diff(self.edges)

    def scaled(self) -> np.ndarray:
        """Bin centres mapped to [-1, 1] over the window."""
        lo, hi = self.edges[0], self.edges[-1]
        return (self.centres - 0.5 * (lo + hi)) / (0.5 * (hi - lo))


def histogram(m: np.ndarray, window: tuple[float, float], bin_width: float = 1.0) -> Histogram:
    """Histogram of masses ``m`` in ``window`` with bins of ``bin_width`` GeV (events outside are dropped).

    Example:
        >>> h = histogram(np.array([130.5, 131.2, 139.9, 171.0]), (130.0, 170.0), 1.0)
        >>> len(h.counts), int(h.counts.sum()), h.counts[:2].tolist()
        (40, 3, [1.0, 1.0])
    """
    lo, hi = float(window[0]), float(window[1])
    if not (hi > lo and bin_width > 0):
        raise ConfigError(f"window: expected lo < hi and a bin width > 0, got {window} and {bin_width}")
    n = max(round((hi - lo) / bin_width), 1)
    edges = np.linspace(lo, hi, n + 1)
    counts, _ = np.histogram(np.asarray(m, dtype=np.float64), bins=edges)
    return Histogram(edges, counts.astype(np.float64))


def background_density(t: np.ndarray, n0: float, a: float, b: float) -> np.ndarray:
    r""":math:`f = n_0 e^{a t + b t^2}` (events per GeV) at scaled masses ``t``."""
    return n0 * np.exp(np.clip(a * t + b * t * t, -700.0, 700.0))


def expected_background(h: Histogram, n0: float, a: float, b: float) -> np.ndarray:
    """Expected background events per bin."""
    return h.widths * background_density(h.scaled(), n0, a, b)


def expected_signal(h: Histogram, n1: float, mu: float, sigma: float) -> np.ndarray:
    r"""Expected signal events per bin: :math:`n_1` times the Gaussian's integral over each bin."""
    cdf = special.ndtr((h.edges - mu) / sigma)
    return n1 * np.diff(cdf)


def poisson_loglike(k: np.ndarray, nu: np.ndarray) -> float:
    r""":math:`\ln L = \sum_i (k_i \ln\nu_i - \nu_i - \ln k_i!)`; -inf where some :math:`\nu_i \le 0` has :math:`k_i > 0`.

    Example:
        >>> round(poisson_loglike(np.array([2.0]), np.array([3.0])), 6) == round(2 * math.log(3) - 3 - math.log(2), 6)
        True
    """
    k = np.asarray(k, dtype=np.float64)
    nu = np.asarray(nu, dtype=np.float64)
    if np.any((nu <= 0) & (k > 0)):
        return -math.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(k > 0, k * np.log(np.where(nu > 0, nu, 1.0)), 0.0)
    return float(np.sum(term - nu - special.gammaln(k + 1.0)))


@dataclasses.dataclass(frozen=True)
class FitResult:
    """A fit's parameters (name -> value), its maximal ln L and whether MIGRAD converged."""

    params: dict[str, float]
    loglike: float
    valid: bool


def _minuit(cost, start: Sequence[float], names: Sequence[str], limits: dict[str, tuple[float | None, float | None]]):
    try:
        from iminuit import Minuit
    except ImportError as err:  # pragma: no cover - iminuit is a dependency of hepgan[lee]
        raise MissingExtraError("iminuit", "lee") from err
    m = Minuit(cost, *start, name=list(names))
    m.errordef = Minuit.LIKELIHOOD
    m.print_level = 0
    for k, lim in limits.items():
        m.limits[k] = lim
    m.migrad()
    if not m.valid:
        m.migrad()
    return m


def _limits(h: Histogram) -> dict[str, tuple[float, float]]:
    """Parameter ranges: a density up to 1000 times the histogram's total per GeV; |a|, |b| <= 30 over the scaled window
    (a factor e^30 across it)."""
    top = 1e3 * max(float(h.counts.sum()), 1.0) / float(h.widths.min())
    return {"n0": (1e-9, top), "a": (-30.0, 30.0), "b": (-30.0, 30.0)}


def _background_start(h: Histogram) -> tuple[float, float, float]:
    """Start values from a straight-line fit of log counts (empty bins counted as half an event)."""
    t = h.scaled()
    y = np.log(np.maximum(h.counts, 0.5) / h.widths)
    b, a, c = np.polyfit(t, y, 2)
    return float(np.exp(c)), float(a), float(b)


def fit_background(h: Histogram) -> FitResult:
    """Maximum-likelihood fit of f to the histogram.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> h = Histogram(np.linspace(130, 170, 41), rng.poisson(100 * np.exp(-0.5 * np.linspace(-1, 1, 40))).astype(float))
        >>> r = fit_background(h)
        >>> r.valid, abs(r.params["a"] + 0.5) < 0.1
        (True, True)
    """
    k = h.counts

    def nll(n0, a, b):
        return -poisson_loglike(k, expected_background(h, n0, a, b))

    n0, a, b = _background_start(h)
    m = _minuit(nll, (n0, float(np.clip(a, -20, 20)), float(np.clip(b, -20, 20))), ("n0", "a", "b"), _limits(h))
    p = {k_: float(v) for k_, v in zip(("n0", "a", "b"), m.values)}
    return FitResult(p, -float(m.fval), bool(m.valid))


def fit_signal(h: Histogram, mu: float, sigma: float, start: FitResult | None = None) -> FitResult:
    """Maximum-likelihood fit of g = f + n1 Gauss(mu, sigma) at fixed mu and sigma (n1 may go negative,
    down to where the expectation stays positive)."""
    k = h.counts
    bkg = start or fit_background(h)

    def nll(n0, a, b, n1):
        nu = expected_background(h, n0, a, b) + expected_signal(h, n1, mu, sigma)
        return -poisson_loglike(k, nu) if np.all(nu > 0) else 1e30

    p0 = bkg.params
    total = max(float(k.sum()), 1.0)
    m = _minuit(nll, (p0["n0"], p0["a"], p0["b"], 0.0), ("n0", "a", "b", "n1"), {**_limits(h), "n1": (-total, 10 * total)})
    p = {k_: float(v) for k_, v in zip(("n0", "a", "b", "n1"), m.values)}
    return FitResult(p, max(-float(m.fval), bkg.loglike), bool(m.valid))


def local_significance_scan(h: Histogram, mus: np.ndarray, sigma: float) -> dict[str, np.ndarray]:
    r"""The local significance :math:`S(\mu)` over a scan of signal positions.

    Returns:
        ``mu``, ``q0`` (:math:`2 \Delta\ln L`, 0 where the fitted :math:`n_1 \le 0`), ``s`` (:math:`\sqrt{q_0}`),
        ``n1`` (fitted signal events) and ``valid`` (both fits converged).
    """
    bkg = fit_background(h)
    q0, n1, valid = [], [], []
    for mu in np.asarray(mus, dtype=np.float64):
        sig = fit_signal(h, float(mu), sigma, bkg)
        d = 2.0 * (sig.loglike - bkg.loglike)
        q0.append(d if sig.params["n1"] > 0 else 0.0)
        n1.append(sig.params["n1"])
        valid.append(sig.valid and bkg.valid)
    q = np.maximum(np.asarray(q0), 0.0)
    return {"mu": np.asarray(mus, dtype=np.float64), "q0": q, "s": np.sqrt(q), "n1": np.asarray(n1), "valid": np.asarray(valid)}


def upcrossings(q0: np.ndarray, level: float) -> int:
    """Number of times the scan curve ``q0`` crosses ``level`` upwards (along the scan).

    Example:
        >>> upcrossings(np.array([0.0, 2.0, 0.1, 0.0, 3.0, 3.5, 0.2]), 1.0)
        2
    """
    above = np.asarray(q0) > level
    return int(np.sum(~above[:-1] & above[1:]))


def gross_vitells(c: np.ndarray | float, mean_upcrossings: float, c0: float) -> np.ndarray:
    r"""The Gross-Vitells global p-value :math:`P(\chi^2_1 > c)/2 + \langle N(c_0)\rangle e^{-(c - c_0)/2}` for :math:`q_0 = c` (capped at 1)."""
    c = np.asarray(c, dtype=np.float64)
    return np.minimum(0.5 * stats.chi2.sf(c, 1) + mean_upcrossings * np.exp(-(c - c0) / 2.0), 1.0)  # a p-value: at most 1


def asimov_significance(s: float, b: float) -> float:
    r"""Median discovery significance of s signal on b background events, :math:`\sqrt{2((s+b)\ln(1+s/b) - s)}` (Cowan et al. 2011).

    Example:
        >>> round(asimov_significance(10.0, 100.0), 3)
        0.984
    """
    if b <= 0 or s <= 0:
        return 0.0
    return math.sqrt(2.0 * ((s + b) * math.log1p(s / b) - s))


def p_to_z(p: np.ndarray | float) -> np.ndarray:
    """One-sided Gaussian significance of a p-value."""
    return stats.norm.isf(np.asarray(p, dtype=np.float64))


def z_to_p(z: np.ndarray | float) -> np.ndarray:
    """One-sided p-value of a Gaussian significance."""
    return stats.norm.sf(np.asarray(z, dtype=np.float64))
