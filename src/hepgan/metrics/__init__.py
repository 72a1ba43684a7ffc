"""Evaluation metrics: distance correlation and chi, W1 and KS, classifier AUC, MMD, -2lnLambda.

All take event weights. The -2lnLambda metric of seed 002 eq. (2) lives in
:mod:`hepgan.metrics.likelihood`.
"""

from hepgan.metrics.classifier import ClassifierTest, classifier_auc, hanley_mcneil_error, reference_auc, weighted_auc
from hepgan.metrics.distance_correlation import (
    ChiResult,
    DistanceCorrelationMatrix,
    distance_correlation,
    distance_correlation_chi,
    distance_correlation_matrix,
)
from hepgan.metrics.distances import effective_size, feature_distances, ks_1d, ks_pvalue, wasserstein_1d, weighted_quantile
from hepgan.metrics.mmd import mmd2

__all__ = [
    "ChiResult",
    "ClassifierTest",
    "DistanceCorrelationMatrix",
    "classifier_auc",
    "distance_correlation",
    "distance_correlation_chi",
    "distance_correlation_matrix",
    "effective_size",
    "feature_distances",
    "hanley_mcneil_error",
    "ks_1d",
    "ks_pvalue",
    "mmd2",
    "reference_auc",
    "wasserstein_1d",
    "weighted_auc",
    "weighted_quantile",
]
