from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hepgan.exceptions import SchemaError
from hepgan.preprocessing import QuantileUniform, TablePreprocessor


def test_round_trip_is_exact(rng):
    x = rng.exponential(40.0, 20_000) + 20.0
    t = QuantileUniform(1000).fit(x)
    u = t.transform(x)
    assert u.min() == 0.0 and u.max() == 1.0
    np.testing.assert_allclose(t.inverse_transform(u), x, rtol=0, atol=1e-9 * x.max())
    # outside the fitted range too (extrapolated linearly, still a bijection)
    y = np.array([x.min() - 5.0, x.max() + 100.0])
    np.testing.assert_allclose(t.inverse_transform(t.transform(y)), y, atol=1e-9 * x.max())


def test_uniform_output(rng):
    """Transformed training data are uniform: KS distance below its 1e-6 critical value."""
    x = rng.normal(size=50_000)
    u = QuantileUniform(1000).fit(x).transform(rng.normal(size=20_000))
    from scipy.stats import kstest

    assert kstest(u, "uniform").pvalue > 1e-6


def test_discrete_columns_round_trip(rng):
    n_jets = rng.poisson(1.5, 5000).astype(float)
    pt = rng.exponential(30.0, 5000)
    x = np.stack([pt, n_jets], axis=1)
    p = TablePreprocessor(["pt", "n_jets"], discrete=["n_jets"]).fit(x, rng)
    u = p.transform(x, rng)
    # dequantised: no point masses left in the uniformised discrete column
    assert len(np.unique(u[:, 1])) > 0.99 * len(u)
    back = p.inverse_transform(u)
    np.testing.assert_array_equal(back[:, 1], n_jets)
    np.testing.assert_allclose(back[:, 0], pt, atol=1e-9 * pt.max())
    q = TablePreprocessor.from_dict(p.to_dict())
    np.testing.assert_array_equal(q.inverse_transform(u), back)


def test_constant_column_is_named(rng):
    with pytest.raises(SchemaError, match="'flat' is constant"):
        TablePreprocessor(["flat"]).fit(np.ones((10, 1)), rng)
    with pytest.raises(SchemaError, match="'n_jets' is declared discrete"):
        TablePreprocessor(["n_jets"], discrete=["n_jets"]).fit(np.array([[0.5], [1.0]]), rng)


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.integers(2, 300), elements=st.floats(-1e6, 1e6, allow_nan=False)),
    st.integers(2, 200),
)
# found by hypothesis in CI: np.interp put -1e-33 one ulp above the value of the knot at 0
@example(np.array([1.0, 1.0, 1.0, -1.02672500e04, -1.29366281e-33] + [0.0] * 36), 21)
def test_round_trip_property(x, n_quantiles):
    """For any data with at least two distinct values the transform is a bijection on the data."""
    if np.ptp(x) == 0:
        return
    t = QuantileUniform(n_quantiles).fit(x)
    u = t.transform(x)
    assert np.all(np.diff(u[np.argsort(x, kind="stable")]) >= 0)  # monotone
    scale = max(1.0, np.abs(x).max())
    np.testing.assert_allclose(t.inverse_transform(u), x, rtol=0, atol=1e-9 * scale)


def test_weighted_fit_makes_the_weighted_distribution_uniform(rng):
    """x ~ U(0, 1) with weights 2x: the weighted CDF is x^2. The weighted fit maps it to a uniform u (each
    decile holds a tenth of the weight within 5 standard errors of the weighted sum); the unweighted fit does not."""
    x = rng.random(40_000)
    w = 2 * x
    for weights, uniform in ((w, True), (None, False)):
        u = QuantileUniform(200).fit(x, weights=weights).transform(x)
        idx = np.minimum((u * 10).astype(int), 9)
        frac = np.bincount(idx, weights=w, minlength=10) / w.sum()
        err = np.sqrt(np.bincount(idx, weights=w**2, minlength=10)) / w.sum()
        pulls = (frac - 0.1) / err
        assert (np.abs(pulls).max() < 5) == uniform, (weights is None, pulls)


def test_equal_weights_fit_as_unweighted(rng):
    x = rng.exponential(3.0, 5000)
    a = QuantileUniform(300).fit(x)
    b = QuantileUniform(300).fit(x, weights=np.full(len(x), 2.5))
    np.testing.assert_array_equal(a.knots_, b.knots_)


def test_bad_weights_are_named(rng):
    with pytest.raises(SchemaError, match="'pt': weights"):
        QuantileUniform(10).fit(rng.random(100), "pt", weights=-np.ones(100))
