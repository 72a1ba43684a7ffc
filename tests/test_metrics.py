"""Metrics: analytic checks against dcor/scipy/sklearn, statistical checks with tolerances from N."""

from __future__ import annotations

import warnings

import dcor
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import roc_auc_score

from hepgan.metrics import (
    classifier_auc,
    distance_correlation,
    distance_correlation_chi,
    distance_correlation_matrix,
    hanley_mcneil_error,
    ks_1d,
    mmd2,
    reference_auc,
    wasserstein_1d,
    weighted_auc,
)

# --------------------------------------------------------------------------- distance correlation


def _brute_weighted_dcor(x, y, w):
    """Plain O(n^2) weighted V-statistic."""

    def centred(v):
        d = np.abs(v[:, None] - v[None])
        r = d @ w / w.sum()
        return d - r[:, None] - r[None] + w @ r / w.sum()

    a, b = centred(x), centred(y)

    def cov(p, q):
        return w @ (p * q) @ w / w.sum() ** 2

    return np.sqrt(cov(a, b) / np.sqrt(cov(a, a) * cov(b, b)))


def test_dcor_matches_dcor_package(rng):
    n = 700
    x = rng.normal(size=(n, 4))
    x[:, 1] = x[:, 0] ** 2 + 0.5 * rng.normal(size=n)
    x[:, 2] = np.round(x[:, 2])  # ties
    x[:, 3] = np.exp(x[:, 3]) + 0.1 * x[:, 1]
    m = distance_correlation_matrix(x, n_bootstrap=0)
    for i in range(4):
        for j in range(4):
            assert m.d[i, j] == pytest.approx(dcor.distance_correlation(x[:, i], x[:, j]), abs=1e-9)


def test_dcor_weighted_matches_brute_force_and_repetition(rng):
    n = 400
    x = rng.normal(size=n)
    y = np.sin(2 * x) + 0.3 * rng.normal(size=n)
    w = rng.uniform(0.1, 3.0, size=n)
    assert distance_correlation(x, y, w) == pytest.approx(_brute_weighted_dcor(x, y, w), abs=1e-9)
    counts = rng.integers(0, 4, size=n)
    rep = np.repeat(np.arange(n), counts)
    assert distance_correlation(x, y, counts.astype(float)) == pytest.approx(
        dcor.distance_correlation(x[rep], y[rep]), abs=1e-9
    )


def test_dcor_known_cases(rng):
    n = 5000
    x = rng.normal(size=n)
    assert distance_correlation(x, 2 * x + 1) == pytest.approx(1.0, abs=1e-9)
    assert distance_correlation(x, -3 * x) == pytest.approx(1.0, abs=1e-9)
    y = rng.exponential(size=n)
    # independent: E[n dCov^2] = E|X-X'| E|Y-Y'| and n dCov^2 is a weighted sum of chi2_1 variables,
    # so 20 x its mean is exceeded with probability < 1e-5 for any seed
    ex = dcor.mean_distance = np.mean(np.abs(x[:1000, None] - x[None, :1000]))
    ey = np.mean(np.abs(y[:1000, None] - y[None, :1000]))
    dvar = np.sqrt(dcor.distance_covariance_sqr(x, x) * dcor.distance_covariance_sqr(y, y))
    assert distance_correlation(x, y) ** 2 < 20 * ex * ey / (n * dvar)


def test_dcor_matrix_subsample_and_bootstrap(rng):
    x = rng.normal(size=(3000, 3))
    m = distance_correlation_matrix(x, columns=["a", "b", "c"], n_bootstrap=5, max_events=1000, seed=3)
    assert m.n_events == 1000 and m.subsampled_from == 3000
    assert m.d.shape == (3, 3) and np.allclose(np.diag(m.d), 1.0)
    assert np.all(m.sigma[np.triu_indices(3, 1)] > 0)
    again = distance_correlation_matrix(x, columns=["a", "b", "c"], n_bootstrap=5, max_events=1000, seed=3)
    np.testing.assert_array_equal(m.d, again.d)
    np.testing.assert_array_equal(m.sigma, again.sigma)


def _correlated(rng, n, rho, dim=8):
    z = rng.normal(size=(n, dim))
    z[:, 1::2] = rho * z[:, 0::2] + np.sqrt(1 - rho**2) * z[:, 1::2]
    z[:, 2] = z[:, 2] + 0.5 * z[:, 0] ** 2
    return z


def test_chi_near_one_for_one_distribution_and_large_otherwise(rng):
    n = 2000
    a = distance_correlation_matrix(_correlated(rng, n, 0.6), n_bootstrap=30, seed=1)
    b = distance_correlation_matrix(_correlated(rng, n, 0.6), n_bootstrap=30, seed=2)
    res = distance_correlation_chi(a, b)
    # mean of 28 |z| with E|z| = 0.80; the bounds are > 4 sigma away even for strongly correlated pairs
    assert 0.2 < res.chi < 2.5
    assert len(res.pairs) == 28 and res.pairs[0]["pull"] >= res.pairs[-1]["pull"]
    c = distance_correlation_matrix(_correlated(rng, n, 0.0), n_bootstrap=30, seed=3)
    far = distance_correlation_chi(a, c)
    assert far.chi > 3 and far.pairs[0]["pull"] > 10


# --------------------------------------------------------------------------- W1 and KS


def test_w1_matches_scipy_with_weights(rng):
    a, b = rng.normal(size=500), rng.normal(0.3, 1.2, size=700)
    wa, wb = rng.uniform(0, 2, 500), rng.uniform(0, 2, 700)
    assert wasserstein_1d(a, b) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-10)
    assert wasserstein_1d(a, b, wa, wb) == pytest.approx(stats.wasserstein_distance(a, b, wa, wb), rel=1e-10)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(-5, 5), min_size=1, max_size=30),
    st.lists(st.integers(-5, 5), min_size=1, max_size=30),
)
def test_w1_and_ks_match_scipy_with_ties(a, b):
    a, b = np.array(a, float), np.array(b, float)
    assert wasserstein_1d(a, b) == pytest.approx(stats.wasserstein_distance(a, b), abs=1e-12)
    with warnings.catch_warnings():  # scipy's p-value warns on tiny samples; only its statistic is used
        warnings.simplefilter("ignore", RuntimeWarning)
        ks = stats.ks_2samp(a, b).statistic
    assert ks_1d(a, b) == pytest.approx(ks, abs=1e-12)


def test_negative_weights_equal_the_positive_measure():
    # {0: 1, 1: 2 - 1} is the measure {0: 1, 1: 1}
    a, wa = np.array([0.0, 1.0, 1.0]), np.array([1.0, 2.0, -1.0])
    b = np.array([0.5, 2.0])
    assert wasserstein_1d(a, b, wa) == pytest.approx(stats.wasserstein_distance([0.0, 1.0], b), abs=1e-12)
    assert ks_1d(a, b, wa) == pytest.approx(stats.ks_2samp([0.0, 1.0], b).statistic, abs=1e-12)


# --------------------------------------------------------------------------- classifier


def test_weighted_auc_matches_sklearn(rng):
    s_a, s_b = np.round(rng.normal(size=300), 1), np.round(rng.normal(0.5, 1, size=200), 1)
    w_a, w_b = rng.uniform(0.1, 2, 300), rng.uniform(0.1, 2, 200)
    y = np.r_[np.zeros(300), np.ones(200)]
    ref = roc_auc_score(y, np.r_[s_a, s_b], sample_weight=np.r_[w_a, w_b])
    assert weighted_auc(s_a, s_b, w_a, w_b) == pytest.approx(ref, abs=1e-12)
    assert hanley_mcneil_error(0.5, 1000, 1000) == pytest.approx(np.sqrt(2001 / 12) / 1000, rel=1e-2)


def test_auc_half_for_one_distribution_and_one_for_separated(rng):
    n = 3000
    a, b = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    res = classifier_auc(a, b, n_splits=2, max_iter=30, seed=0, n_threads=1)
    # the mean over splits has at most the variance of one split: 5 sigma
    assert abs(res.auc - 0.5) < 5 * res.auc_err
    assert res.auc_err == pytest.approx(np.sqrt((n + 1) / 12) / (n / 2), rel=0.05)
    far = classifier_auc(a, b + 5.0, w_a=rng.uniform(0.5, 1.5, n), n_splits=2, max_iter=30, seed=0, n_threads=1)
    assert far.auc > 0.99
    ref = reference_auc(a, n_splits=2, max_iter=30, n_threads=1)
    assert abs(ref.auc - 0.5) < 5 * ref.auc_err and ref.n_a == n // 2


# --------------------------------------------------------------------------- MMD


def test_mmd_zero_for_same_sample_and_grows_with_shift(rng):
    x = rng.normal(size=(800, 2))
    w = rng.uniform(-0.2, 1.5, size=800)
    assert mmd2(x, x) == 0.0
    assert mmd2(x, x, w, w) == 0.0
    values = [mmd2(x, x + s, sigmas=(1.0,)) for s in (0.0, 0.3, 1.0, 3.0)]
    assert values[0] == 0.0 and values[1] < values[2] < values[3]
    y = rng.normal(size=(800, 2))
    # same distribution: MMD^2 of order 1/N; a 1-sigma shift is far above it
    assert mmd2(x, y) < 0.2 * mmd2(x, y + 1.0)
