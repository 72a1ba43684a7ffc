"""Analytic toys with known answers, for convergence tests and quick demos."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["sine_toy"]


def sine_toy(n: int, seed: int, sigma: float = 0.1) -> pd.DataFrame:
    """x | c ~ N(sin c, sigma^2) with c ~ Uniform(-pi, pi).

    Returns:
        DataFrame with columns "c" and "x" (N rows).
    """
    rng = np.random.default_rng(seed)
    c = rng.uniform(-np.pi, np.pi, n)
    return pd.DataFrame({"c": c, "x": np.sin(c) + sigma * rng.standard_normal(n)})
