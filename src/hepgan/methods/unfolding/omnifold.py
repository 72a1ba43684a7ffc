r"""OmniFold (Andreassen, Komiske, Metodiev, Nachman, Thaler, PRL 124 (2020) 182001) with gradient-boosted classifiers.

The unfolding method physicists use today, as the peer of the GANs. The ``omnifold`` package is built
on TensorFlow, which this project does not install; this is the same iteration written with
scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingClassifier`.

Simulation: matched pairs (generator-level ``t``, detector-level ``m``) with weights ``w``; data:
detector-level events. Starting from push weights :math:`\nu_0 = 1`, iteration n does

1. pull: :math:`\omega_n(m) = \nu_{n-1}\, p/(1-p)`, with p a classifier of data (label 1) against
   simulation weighted by :math:`\nu_{n-1}` (label 0) at detector level;
2. push: :math:`\nu_n(t) = \nu_{n-1}\, p/(1-p)`, with p a classifier of the generator-level simulation
   weighted by :math:`\omega_n` (label 1) against the same events weighted by :math:`\nu_{n-1}` (label 0).

The unfolded distribution is the generator-level simulation weighted by :math:`w \nu_n`. Both classes of
each fit carry the same total weight, so p/(1-p) estimates the ratio of normalised densities. Each
event's probability comes from a classifier that did not see it (two folds, cross-fitting), so
that the weights do not learn the simulation's fluctuations; p is clipped to [1e-3, 1 - 1e-3].
"""

from __future__ import annotations

import numpy as np

__all__ = ["omnifold"]


def _ratio(x1: np.ndarray, w1: np.ndarray, x0: np.ndarray, w0: np.ndarray, at: np.ndarray, rng: np.random.Generator, max_iter: int) -> np.ndarray:
    """p/(1-p) at the rows ``at`` of x0 (indices), p from classifiers of x1 (label 1) vs x0 (label 0), two folds
    (an event is predicted by the classifier of the other fold)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    x = np.concatenate([x1, x0])
    y = np.concatenate([np.ones(len(x1)), np.zeros(len(x0))])
    w = np.concatenate([w1 / w1.sum(), w0 / w0.sum()]) * len(x)
    fold = rng.integers(0, 2, len(x))
    if x1 is x0:  # the push step: both classes are the same events, which must share their fold
        fold[: len(x1)] = fold[len(x1) :]
    ratio = np.empty(len(at))
    fold_at = fold[len(x1) + at]
    for f in (0, 1):
        train = fold != f
        clf = HistGradientBoostingClassifier(max_iter=max_iter, early_stopping=False, random_state=int(rng.integers(2**31)))
        with threadpool_limits(1):
            clf.fit(x[train], y[train], sample_weight=w[train])
            sel = fold_at == f
            p = np.clip(clf.predict_proba(x[len(x1) + at[sel]])[:, 1], 1e-3, 1 - 1e-3)
        ratio[sel] = p / (1 - p)
    return ratio


def omnifold(
    sim_gen: np.ndarray,
    sim_det: np.ndarray,
    data_det: np.ndarray,
    w_sim: np.ndarray | None = None,
    w_data: np.ndarray | None = None,
    iterations: int = 3,
    max_iter: int = 100,
    seed: int = 0,
) -> np.ndarray:
    """Unfolding weights of the simulation's generator-level events.

    Args:
        sim_gen: (N, G) generator-level observables of the simulation.
        sim_det: (N, D) their detector-level observables (the same events, matched row by row).
        data_det: (M, D) detector-level observables of the data.
        w_sim, w_data: (N,) and (M,) event weights (None: 1).
        iterations: OmniFold iterations.
        max_iter: boosting iterations of each classifier.
        seed: seed of the folds and the classifiers.

    Returns:
        (N,) weights ``w_sim * nu``: the generator-level simulation with them is the unfolded data.
    """
    n = len(sim_gen)
    if len(sim_det) != n:
        raise ValueError(f"sim_gen and sim_det: expected matched rows, got {n} and {len(sim_det)}")
    rng = np.random.default_rng(seed)
    w_sim = np.ones(n) if w_sim is None else np.asarray(w_sim, dtype=np.float64)
    w_data = np.ones(len(data_det)) if w_data is None else np.asarray(w_data, dtype=np.float64)
    nu = np.ones(n)
    every = np.arange(n)
    for _ in range(iterations):
        omega = nu * _ratio(data_det, w_data, sim_det, w_sim * nu, every, rng, max_iter)
        nu = nu * _ratio(sim_gen, w_sim * omega, sim_gen, w_sim * nu, every, rng, max_iter)
    return w_sim * nu
