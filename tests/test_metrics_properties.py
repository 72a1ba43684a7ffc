"""Property-based tests (hypothesis) of the metrics' invariants: symmetry, ranges, and how each
metric must (or must not) change under translations, rescalings, monotone maps, permutations and
weight normalisation. Tolerances are relative to the float64 round-off of the sums involved."""

from __future__ import annotations

import os

import numpy as np
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hepgan.metrics import distance_correlation, ks_1d, mmd2, wasserstein_1d, weighted_auc
from hepgan.metrics.likelihood import neg2_log_lambda

PROPS = settings(max_examples=int(os.environ.get("HEPGAN_PROPERTY_EXAMPLES", "40")), deadline=None)
values = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def sample(min_size=2, max_size=60):
    return st.integers(min_size, max_size).flatmap(lambda n: arrays(np.float64, n, elements=values))


def keeps_order(x, fx) -> bool:
    """Whether a (weakly) increasing map keeps every comparison of x's values: in floating point an
    increasing function such as arctan can round two close values onto one."""
    return np.array_equal(np.sign(x[:, None] - x[None, :]), np.sign(fx[:, None] - fx[None, :]))


def weights(n):
    return arrays(np.float64, n, elements=st.floats(0.01, 10.0))


def _spread(x: np.ndarray) -> float:
    return float(np.ptp(x)) if len(x) else 0.0


# --------------------------------------------------------------------------- W1 and KS


@PROPS
@given(a=sample(), b=sample(), t=values, s=st.floats(0.01, 100.0))
def test_w1_metric_properties(a, b, t, s):
    w = wasserstein_1d(a, b)
    scale = max(1.0, np.abs(a).max(), np.abs(b).max())
    assert w >= 0
    assert abs(w - wasserstein_1d(b, a)) <= 1e-9 * scale
    assert wasserstein_1d(a, a) <= 1e-9 * scale
    assert abs(wasserstein_1d(a + t, b + t) - w) <= 1e-9 * (scale + abs(t))  # translation invariant
    assert abs(wasserstein_1d(s * a, s * b) - s * w) <= 1e-9 * s * scale  # homogeneous of degree 1
    assert abs(wasserstein_1d(a, a + t) - abs(t)) <= 1e-9 * (scale + abs(t))  # a pure shift costs |t|


@PROPS
@given(data=st.data(), a=sample(), b=sample(), c=st.floats(0.01, 100.0))
def test_w1_and_ks_ignore_weight_normalisation(data, a, b, c):
    w_a = data.draw(weights(len(a)))
    w_b = data.draw(weights(len(b)))
    scale = max(1.0, np.abs(a).max(), np.abs(b).max())
    assert abs(wasserstein_1d(a, b, c * w_a, w_b) - wasserstein_1d(a, b, w_a, w_b)) <= 1e-9 * scale
    assert abs(ks_1d(a, b, w_a, c * w_b) - ks_1d(a, b, w_a, w_b)) <= 1e-9


@PROPS
@given(a=sample(), b=sample(), perm_seed=st.integers(0, 2**32 - 1))
def test_ks_range_symmetry_permutation_and_monotone_maps(a, b, perm_seed):
    k = ks_1d(a, b)
    assert 0.0 <= k <= 1.0 + 1e-12
    assert abs(k - ks_1d(b, a)) <= 1e-12
    assert ks_1d(a, a) <= 1e-12
    rng = np.random.default_rng(perm_seed)
    assert abs(ks_1d(rng.permutation(a), b) - k) <= 1e-12
    # KS only sees the order of values: any strictly increasing map leaves it unchanged (as long as
    # rounding does not merge two values)
    fa, fb = np.arctan(a / 100), np.arctan(b / 100)
    if keeps_order(np.concatenate([a, b]), np.concatenate([fa, fb])):
        assert abs(ks_1d(fa, fb) - k) <= 1e-12


# --------------------------------------------------------------------------- distance correlation


@PROPS
@given(data=st.data(), n=st.integers(4, 60), t=values, s=st.floats(0.01, 100.0))
def test_distance_correlation_range_symmetry_and_invariances(data, n, t, s):
    x = data.draw(arrays(np.float64, n, elements=values))
    y = data.draw(arrays(np.float64, n, elements=values))
    assume(_spread(x) > 1e-3 * max(1.0, np.abs(x).max()) and _spread(y) > 1e-3 * max(1.0, np.abs(y).max()))
    r = distance_correlation(x, y)
    assert -1e-9 <= r <= 1 + 1e-9
    assert abs(r - distance_correlation(y, x)) <= 1e-7
    assert abs(distance_correlation(s * x + t, y) - r) <= 1e-6  # translation and scale invariant
    assert abs(distance_correlation(-x, y) - r) <= 1e-6  # it sees |x - x'| only
    assert distance_correlation(x, s * x + t) >= 1 - 1e-6  # a linear relation is total dependence


@PROPS
@given(data=st.data(), n=st.integers(4, 40), c=st.floats(0.01, 100.0))
def test_distance_correlation_weights(data, n, c):
    x = data.draw(arrays(np.float64, n, elements=values))
    y = data.draw(arrays(np.float64, n, elements=values))
    assume(_spread(x) > 1e-3 * max(1.0, np.abs(x).max()) and _spread(y) > 1e-3 * max(1.0, np.abs(y).max()))
    w = data.draw(arrays(np.float64, n, elements=st.integers(1, 4).map(float)))
    r = distance_correlation(x, y, w)
    assert abs(distance_correlation(x, y, c * w) - r) <= 1e-6  # normalisation of weights drops out
    reps = w.astype(int)
    assert abs(distance_correlation(np.repeat(x, reps), np.repeat(y, reps)) - r) <= 1e-6  # integer weight = copies


# --------------------------------------------------------------------------- MMD, AUC, -2lnLambda


@PROPS
@given(data=st.data(), n=st.integers(3, 40), m=st.integers(3, 40), d=st.integers(1, 3), c=st.floats(0.01, 100.0))
def test_mmd_zero_on_itself_nonnegative_permutation_and_weight_scale(data, n, m, d, c):
    a = data.draw(arrays(np.float64, (n, d), elements=values))
    b = data.draw(arrays(np.float64, (m, d), elements=values))
    assume(np.all(np.ptp(a, axis=0) > 1e-3 * max(1.0, np.abs(a).max())))
    w_b = data.draw(weights(m))
    sig = (0.5, 1.0, 2.0)
    assert abs(mmd2(a, a, sigmas=sig)) <= 1e-9
    v = mmd2(a, b, w_b=w_b, sigmas=sig)
    assert v >= -1e-9  # a squared norm in the kernel's feature space (V-statistic)
    p = np.random.default_rng(n * 100 + m).permutation(m)
    assert abs(mmd2(a, b[p], w_b=w_b[p], sigmas=sig) - v) <= 1e-9 * max(1.0, v)
    assert abs(mmd2(a, b, w_b=c * w_b, sigmas=sig) - v) <= 1e-9 * max(1.0, v)  # weights are normalised


@PROPS
@given(a=sample(1), b=sample(1), s=st.floats(0.01, 100.0))
@example(a=np.array([1000.0 - 1.2e-13]), b=np.array([1000.0]), s=96.5)  # distinct values that arctan rounds together
def test_auc_antisymmetric_and_rank_based(a, b, s):
    auc = weighted_auc(a, b)
    assert 0.0 <= auc <= 1.0
    assert abs(auc + weighted_auc(b, a) - 1.0) <= 1e-9
    fa, fb = np.arctan(a / 100) * s, np.arctan(b / 100) * s
    # rank invariance holds for maps that keep every comparison; rounding can merge two close values
    # (a tie, as in the example), and then the AUC changes, as it should
    if keeps_order(np.concatenate([a, b]), np.concatenate([fa, fb])):
        assert abs(weighted_auc(fa, fb) - auc) <= 1e-9


@PROPS
@given(data=st.data(), n=st.integers(1, 80), m=st.integers(1, 200), d=st.integers(1, 3), bins=st.integers(2, 6),
       c=st.floats(0.01, 100.0))  # fmt: skip
def test_neg2_log_lambda_invariances(data, n, m, d, bins, c):
    unit = st.floats(0.0, 1.0, exclude_max=True)
    u_x = data.draw(arrays(np.float64, (n, d), elements=unit))
    u_y = data.draw(arrays(np.float64, (m, d), elements=unit))
    w_x = data.draw(weights(n))
    w_y = data.draw(weights(m))
    v = neg2_log_lambda(u_x, u_y, bins, w_x, w_y)
    assert v >= 0  # p <= 1 and m_k >= 0
    rng = np.random.default_rng(n * 1000 + m)
    px, py = rng.permutation(n), rng.permutation(m)
    assert abs(neg2_log_lambda(u_x[px], u_y[py], bins, w_x[px], w_y[py]) - v) <= 1e-9 * max(1.0, v)
    assert abs(neg2_log_lambda(u_x, u_y, bins, w_x, c * w_y) - v) <= 1e-9 * max(1.0, v)  # p_Y is normalised
    assert abs(neg2_log_lambda(u_x, u_y, bins, c * w_x, w_y) - c * v) <= 1e-9 * max(1.0, c * v)  # linear in m_k
