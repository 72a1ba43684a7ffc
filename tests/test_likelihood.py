from __future__ import annotations

import numpy as np
import pytest

from hepgan.metrics.likelihood import bin_index, neg2_log_lambda


def test_hand_computed_example():
    """Two dimensions, 2 bins each: bins (0,0),(0,1),(1,0),(1,1) are 0..3."""
    u_x = np.array([[0.1, 0.1], [0.1, 0.9], [0.6, 0.6], [0.7, 0.8]])  # bins 0, 1, 3, 3
    u_y = np.array([[0.2, 0.3], [0.3, 0.7], [0.9, 0.9], [0.8, 0.2], [0.6, 0.6], [0.55, 0.95]])  # 0, 1, 3, 2, 3, 3
    np.testing.assert_array_equal(bin_index(u_x, 2), [0, 1, 3, 3])
    # m = (1, 1, 0, 2), p_Y = (1/6, 1/6, 1/6, 3/6)
    expected = -2 * (np.log(1 / 6) + np.log(1 / 6) + 2 * np.log(3 / 6))
    assert neg2_log_lambda(u_x, u_y, bins=2) == pytest.approx(expected, rel=1e-12)


def test_weights_and_empty_bins():
    u_x = np.array([[0.1], [0.9]])
    u_y = np.array([[0.1], [0.2], [0.3]])  # nothing in the upper bin: floored at half an event
    w_x = np.array([2.0, 1.0])
    expected = -2 * (2 * np.log(3 / 3) + 1 * np.log(0.5 / 3))
    assert neg2_log_lambda(u_x, u_y, bins=2, w_x=w_x) == pytest.approx(expected)
    # weights of y scale out of p_Y
    assert neg2_log_lambda(u_x, u_y, bins=2, w_x=w_x, w_y=np.full(3, 7.0)) == pytest.approx(expected)


def test_matching_sample_beats_shifted(rng):
    """The metric prefers the right distribution: a shift costs far more than its fluctuation."""
    u_x = rng.random((5000, 2))
    good = neg2_log_lambda(u_x, rng.random((50_000, 2)))
    bad = neg2_log_lambda(u_x, rng.random((50_000, 2)) ** 1.5)
    assert bad - good > 100
