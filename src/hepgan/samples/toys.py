"""Analytic toys with known answers, for convergence tests and quick demos."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["sine_toy", "gjets_toy", "SubtractionToy", "SUBTRACTION_TOYS", "SUBTRACTION_RANGE", "subtraction_toy"]


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


# --------------------------------------------------------------------------- subtraction toys (seed 003)

#: The x range of the subtraction toys: 1/x is integrable there and the Breit-Wigner at 90 (half-width 10)
#: lies well inside (its tails beyond the range hold 6.5 % of it).
SUBTRACTION_RANGE: tuple[float, float] = (1.0, 200.0)


def _bw_cdf(x: np.ndarray | float) -> np.ndarray:
    """Integral of (5/pi) 10 / (10^2 + (x - 90)^2) from -inf to x."""
    return 5.0 * (np.arctan((np.asarray(x, dtype=np.float64) - 90.0) / 10.0) / np.pi + 0.5)


class _Component:
    """One unnormalised toy density on [lo, hi]: its values, integral and an inverse-CDF sampler."""

    def __init__(self, name: str):
        if name not in ("inv", "flat", "bw"):
            raise ValueError(f"toy component: expected inv, flat or bw, got {name!r}")
        self.name = name

    def density(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.name == "inv":
            return 1.0 / x
        if self.name == "flat":
            return np.full_like(x, 0.1)
        return (5.0 / np.pi) * 10.0 / (100.0 + (x - 90.0) ** 2)

    def integral(self, lo: float, hi: float) -> float:
        if self.name == "inv":
            return float(np.log(hi / lo))
        if self.name == "flat":
            return 0.1 * (hi - lo)
        return float(_bw_cdf(hi) - _bw_cdf(lo))

    def sample(self, n: int, lo: float, hi: float, rng: np.random.Generator) -> np.ndarray:
        u = rng.random(n)
        if self.name == "inv":
            return lo * (hi / lo) ** u
        if self.name == "flat":
            return lo + (hi - lo) * u
        f = _bw_cdf(lo) + u * (_bw_cdf(hi) - _bw_cdf(lo))
        return 90.0 + 10.0 * np.tan(np.pi * (f / 5.0 - 0.5))


class SubtractionToy:
    r"""A toy of the subtraction GAN (seed 003, Butter, Plehn, Winterhalder, arXiv:1912.08824): input
    samples that are sums of known densities, and the known density of their combination.

    The densities are unnormalised differential cross sections on ``x_range`` (arbitrary units):

    * ``inv``: :math:`1/x`; ``flat``: :math:`0.1`; ``bw``: :math:`\frac{5}{\pi} \frac{10}{10^2 + (x - 90)^2}`.

    Cases (:data:`SUBTRACTION_TOYS`):

    * ``subtraction``: :math:`P_B = 1/x + 0.1`, :math:`P_S = 1/x`; output :math:`P_B - P_S = 0.1`.
    * ``addition``: B and S as above and :math:`P_A` the Breit-Wigner; output :math:`P_B - P_S + P_A`.
    * ``three``: three inputs, :math:`P_B = 1/x + 0.1 + P_{BW}`, :math:`P_{S1} = 1/x`, :math:`P_{S2} = P_{BW}`;
      output :math:`P_B - P_{S1} - P_{S2} = 0.1`.

    Args:
        case: one of :data:`SUBTRACTION_TOYS`.
        x_range: (lo, hi) with 0 < lo < hi.

    Example:
        >>> toy = SubtractionToy("subtraction")
        >>> round(toy.sigma("B") - toy.sigma("S"), 6) == round(0.1 * 199.0, 6)
        True
        >>> toy.output_density(np.array([2.0, 150.0]))
        array([0.1, 0.1])
    """

    def __init__(self, case: str = "subtraction", x_range: tuple[float, float] = SUBTRACTION_RANGE):
        if case not in SUBTRACTION_TOYS:
            raise ValueError(f"toy: expected one of {', '.join(SUBTRACTION_TOYS)}, got {case!r}")
        lo, hi = (float(v) for v in x_range)
        if not (0 < lo < hi and np.isfinite(hi)):
            raise ValueError(f"x_range: expected 0 < lo < hi, got {x_range!r}")
        self.case, self.x_range = case, (lo, hi)
        spec = SUBTRACTION_TOYS[case]
        self.samples: dict[str, tuple[str, ...]] = dict(spec["samples"])
        self.output: tuple[str, ...] = tuple(spec["output"])

    def _integral(self, parts: tuple[str, ...]) -> float:
        return float(sum(_Component(p).integral(*self.x_range) for p in parts))

    def sigma(self, name: str) -> float:
        """Cross section (integral of the density over the range) of input sample ``name``."""
        return self._integral(self.samples[name])

    @property
    def sigma_output(self) -> float:
        """Cross section of the output (e.g. B - S)."""
        return self._integral(self.output)

    def density(self, name: str, x: np.ndarray) -> np.ndarray:
        """Differential cross section of input sample ``name`` at x: (N,) -> (N,)."""
        return np.sum([_Component(p).density(x) for p in self.samples[name]], axis=0)

    def output_density(self, x: np.ndarray) -> np.ndarray:
        """Differential cross section of the output at x: (N,) -> (N,)."""
        return np.sum([_Component(p).density(x) for p in self.output], axis=0)

    def output_integral(self, edges: np.ndarray) -> np.ndarray:
        """Output cross section in each bin of ``edges`` (B + 1,) -> (B,), exact."""
        lo, hi = self.x_range
        out = np.zeros(len(edges) - 1)
        for p in self.output:
            c = _Component(p)
            out += np.array([c.integral(max(a, lo), min(b, hi)) if b > a else 0.0 for a, b in zip(edges[:-1], edges[1:])])
        return out

    def _draw(self, parts: tuple[str, ...], n: int, rng: np.random.Generator) -> np.ndarray:
        lo, hi = self.x_range
        share = np.array([_Component(p).integral(lo, hi) for p in parts])
        counts = rng.multinomial(n, share / share.sum())
        x = np.concatenate([_Component(p).sample(int(k), lo, hi, rng) for p, k in zip(parts, counts)])
        return x[rng.permutation(n)]

    def sample(self, name: str, n: int, seed: int) -> pd.DataFrame:
        """n events of input sample ``name``: a DataFrame with columns ``x`` and ``weight`` (1)."""
        rng = np.random.default_rng([seed, list(self.samples).index(name)])
        return pd.DataFrame({"x": self._draw(self.samples[name], n, rng), "weight": np.ones(n)})

    def sample_output(self, n: int, seed: int) -> pd.DataFrame:
        """n events of the true output (e.g. B - S), for comparisons with the generated ones."""
        rng = np.random.default_rng([seed, 1000])
        return pd.DataFrame({"x": self._draw(self.output, n, rng), "weight": np.ones(n)})


#: The subtraction toys: input samples and the output as sums of the components inv, flat, bw.
SUBTRACTION_TOYS: dict[str, dict[str, object]] = {
    "subtraction": {"samples": {"B": ("inv", "flat"), "S": ("inv",)}, "output": ("flat",)},
    "addition": {"samples": {"B": ("inv", "flat"), "S": ("inv",), "A": ("bw",)}, "output": ("flat", "bw")},
    "three": {"samples": {"B": ("inv", "flat", "bw"), "S1": ("inv",), "S2": ("bw",)}, "output": ("flat",)},
}


def subtraction_toy(case: str, n: int | dict[str, int], seed: int, x_range: tuple[float, float] = SUBTRACTION_RANGE) -> dict[str, pd.DataFrame]:
    """The input samples of a subtraction toy (see :class:`SubtractionToy`), seeded.

    Args:
        case: ``subtraction``, ``addition`` or ``three``.
        n: events per sample, or a mapping sample name -> events.
        seed: the seed; each sample has its own stream.
        x_range: (lo, hi).

    Returns:
        sample name -> DataFrame with columns ``x`` and ``weight``.
    """
    toy = SubtractionToy(case, x_range)
    sizes = {k: int(n[k]) if isinstance(n, dict) else int(n) for k in toy.samples}
    return {k: toy.sample(k, sizes[k], seed) for k in toy.samples}
