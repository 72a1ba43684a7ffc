"""Classifier two-sample test: can a gradient-boosted classifier tell sample A from sample B?

A ``HistGradientBoostingClassifier`` learns to separate A (label 0) from B
(label 1) on a training split; its ROC AUC on the held-out split is 0.5 when
the two samples follow one distribution and grows towards 1 with every
difference the classifier finds, correlations included.

Weights: the classifier trains with the event weights, each class scaled to
the same total (balanced classes); the AUC is the weighted Mann-Whitney
statistic sum_{a in A, b in B} w_a w_b [s_b > s_a] / (W_A W_B) (ties count
1/2), defined for negative weights too.

Spread: ``auc`` is the mean over ``n_splits`` random train/test splits.
``auc_err`` is the Hanley-McNeil (1982) standard error of one held-out AUC
with the Kish effective test sizes: the statistical error of the estimate,
conservative for the mean over splits. ``auc_split_std`` is the spread over
the splits (it also contains the training randomness).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from hepgan.exceptions import SampleError
from hepgan.metrics.distances import effective_size

__all__ = ["ClassifierTest", "weighted_auc", "hanley_mcneil_error", "classifier_auc", "reference_auc"]


def weighted_auc(s_a, s_b, w_a=None, w_b=None) -> float:
    """ROC AUC for scores of class A (negatives) and B (positives), with weights.

    Args:
        s_a: (N,) scores of A.
        s_b: (M,) scores of B.
        w_a: (N,) weights (None: 1).
        w_b: (M,) weights (None: 1).

    Returns:
        P(s_B > s_A) + P(s_B = s_A) / 2 under the weighted empirical distributions.
    """
    s_a = np.asarray(s_a, dtype=np.float64).ravel()
    s_b = np.asarray(s_b, dtype=np.float64).ravel()
    w_a = np.ones_like(s_a) if w_a is None else np.asarray(w_a, dtype=np.float64).ravel()
    w_b = np.ones_like(s_b) if w_b is None else np.asarray(w_b, dtype=np.float64).ravel()
    s = np.concatenate([s_a, s_b])
    uniq, inv = np.unique(s, return_inverse=True)
    ga = np.bincount(inv[: len(s_a)], weights=w_a, minlength=len(uniq))
    gb = np.bincount(inv[len(s_a) :], weights=w_b, minlength=len(uniq))
    below = np.cumsum(ga) - ga
    return float(np.sum(gb * (below + 0.5 * ga)) / (w_a.sum() * w_b.sum()))


def hanley_mcneil_error(auc: float, n_a: float, n_b: float) -> float:
    """Hanley-McNeil standard error of an AUC measured on n_a negatives and n_b positives."""
    q1 = auc / (2.0 - auc)
    q2 = 2.0 * auc**2 / (1.0 + auc)
    var = (auc * (1 - auc) + (n_b - 1) * (q1 - auc**2) + (n_a - 1) * (q2 - auc**2)) / (n_a * n_b)
    return float(np.sqrt(max(var, 0.0)))


@dataclass
class ClassifierTest:
    """Result of :func:`classifier_auc`.

    Attributes:
        auc: mean held-out AUC over the splits.
        auc_err: Hanley-McNeil error of one held-out AUC (effective test sizes).
        auc_split_std: standard deviation over the splits (0 for one split).
        n_splits: number of random splits.
        n_a: events of A used (after subsampling).
        n_b: events of B used.
        subsampled: whether A or B was subsampled to ``max_events``.
    """

    auc: float
    auc_err: float
    auc_split_std: float
    n_splits: int
    n_a: int
    n_b: int
    subsampled: bool

    def to_dict(self) -> dict:
        return asdict(self)


def _subsample(x, w, max_events, rng):
    if max_events is not None and len(x) > max_events:
        keep = np.sort(rng.choice(len(x), size=max_events, replace=False))
        return x[keep], (None if w is None else w[keep]), True
    return x, w, False


def classifier_auc(
    a,
    b,
    w_a=None,
    w_b=None,
    test_fraction: float = 0.5,
    n_splits: int = 3,
    max_events: int | None = 50_000,
    max_iter: int = 100,
    seed: int = 0,
    n_threads: int | None = None,
) -> ClassifierTest:
    """Held-out ROC AUC of a gradient-boosted classifier separating A from B.

    Args:
        a: (N, D) sample A.
        b: (M, D) sample B.
        w_a: (N,) weights of A (None: 1), negative allowed.
        w_b: (M,) weights of B.
        test_fraction: fraction of each sample held out for the AUC.
        n_splits: random splits averaged over.
        max_events: larger samples are subsampled to this size (seeded; recorded in the result).
        max_iter: boosting iterations.
        seed: seed of the subsample, the splits and the classifier.
        n_threads: OpenMP threads of the classifier (None: all); 1 avoids the spin-wait
            slowdown of OpenMP on a small machine shared with other jobs.

    Returns:
        A :class:`ClassifierTest`.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a[:, None] if a.ndim == 1 else a
    b = b[:, None] if b.ndim == 1 else b
    w_a = None if w_a is None else np.asarray(w_a, dtype=np.float64).ravel()
    w_b = None if w_b is None else np.asarray(w_b, dtype=np.float64).ravel()
    a, w_a, sub_a = _subsample(a, w_a, max_events, rng)
    b, w_b, sub_b = _subsample(b, w_b, max_events, rng)
    if min(len(a), len(b)) < 4:
        raise SampleError("the classifier test needs at least 4 events per sample")
    wa = np.ones(len(a)) if w_a is None else w_a
    wb = np.ones(len(b)) if w_b is None else w_b
    aucs, errs = [], []
    for _ in range(n_splits):
        pa = rng.permutation(len(a))
        pb = rng.permutation(len(b))
        ta, tb = pa[: int(len(a) * test_fraction)], pb[: int(len(b) * test_fraction)]
        ra, rb = pa[len(ta) :], pb[len(tb) :]
        x = np.concatenate([a[ra], b[rb]])
        y = np.r_[np.zeros(len(ra)), np.ones(len(rb))]
        # balanced classes: each class carries the same total weight
        sw = np.r_[wa[ra] / wa[ra].sum(), wb[rb] / wb[rb].sum()] * len(y) / 2
        clf = HistGradientBoostingClassifier(max_iter=max_iter, random_state=int(rng.integers(2**31)))
        with threadpool_limits(limits=n_threads, user_api="openmp"):
            clf.fit(x, y, sample_weight=sw)
            s_a = clf.predict_proba(a[ta])[:, 1]
            s_b = clf.predict_proba(b[tb])[:, 1]
        auc = weighted_auc(s_a, s_b, wa[ta], wb[tb])
        aucs.append(auc)
        errs.append(hanley_mcneil_error(auc, effective_size(wa[ta], len(ta)), effective_size(wb[tb], len(tb))))
    return ClassifierTest(
        auc=float(np.mean(aucs)),
        auc_err=float(np.mean(errs)),
        auc_split_std=float(np.std(aucs, ddof=1)) if n_splits > 1 else 0.0,
        n_splits=n_splits,
        n_a=len(a),
        n_b=len(b),
        subsampled=sub_a or sub_b,
    )


def reference_auc(a, w_a=None, seed: int = 0, **kwargs) -> ClassifierTest:
    """AUC of two independent random halves of one sample: what "indistinguishable" looks like at this size."""
    a = np.asarray(a, dtype=np.float64)
    perm = np.random.default_rng(seed + 1).permutation(len(a))
    h1, h2 = perm[: len(a) // 2], perm[len(a) // 2 :]
    w1 = None if w_a is None else np.asarray(w_a)[h1]
    w2 = None if w_a is None else np.asarray(w_a)[h2]
    return classifier_auc(a[h1], a[h2], w1, w2, seed=seed, **kwargs)
