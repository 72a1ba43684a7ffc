"""The -2 ln Lambda figure of merit of seed 002, eq. (2).

    -2 ln Lambda(X | Y) = -2 sum_k m_k ln p_Y(k),   p_Y(k) = n_k / N_Y,

with m_k (n_k) the (weighted) number of reference events x_i (generated events
y_i) in bin k. Bins are a regular grid in the uniformised space of each
dimension (10 per dimension in the paper). A bin with m_k > 0 but n_k = 0
would give infinity; such bins get p_Y = 0.5 / N_Y (half an event, N_Y rows), a floor we
document rather than hide: with k generated objects per event it is rarely hit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bin_index", "neg2_log_lambda", "bin_index_torch", "neg2_log_lambda_torch"]


def bin_index(u: np.ndarray, bins: int = 10) -> np.ndarray:
    """Flat bin number of each row of u (N, D) on a regular grid over [0, 1]^D.

    Values outside [0, 1] fall in the edge bins.
    """
    u = np.atleast_2d(np.asarray(u, dtype=np.float64))
    idx = np.clip(np.floor(u * bins).astype(np.int64), 0, bins - 1)
    return np.ravel_multi_index(idx.T, (bins,) * u.shape[1])


def neg2_log_lambda(
    u_x: np.ndarray,
    u_y: np.ndarray,
    bins: int = 10,
    w_x: np.ndarray | None = None,
    w_y: np.ndarray | None = None,
) -> float:
    """Eq. (2): -2 sum_k m_k ln p_Y(k).

    Args:
        u_x: (N, D) reference sample in the uniformised space.
        u_y: (M, D) generated sample in the same space.
        bins: bins per dimension.
        w_x: (N,) weights of the reference events (None: 1).
        w_y: (M,) weights of the generated events (None: 1).

    Returns:
        The figure of merit (lower is better).
    """
    u_x, u_y = np.atleast_2d(u_x), np.atleast_2d(u_y)
    if u_x.shape[1] != u_y.shape[1]:
        raise ValueError(f"u_x has {u_x.shape[1]} dimensions, u_y {u_y.shape[1]}")
    n_bins = bins ** u_x.shape[1]
    m = np.bincount(bin_index(u_x, bins), weights=w_x, minlength=n_bins)
    n = np.bincount(bin_index(u_y, bins), weights=w_y, minlength=n_bins)
    # half an (average) generated event in empty bins, so weights of y scale out
    p = np.where(n > 0, n / n.sum(), 0.5 / len(u_y))
    used = m != 0
    return float(-2.0 * np.sum(m[used] * np.log(p[used])))


def bin_index_torch(u, bins: int = 10):
    """:func:`bin_index` on a torch tensor (N, D), on its device. Returns (N,) int64."""
    import torch

    idx = torch.floor(u * bins).clamp(0, bins - 1).to(torch.int64)
    strides = bins ** torch.arange(u.shape[1] - 1, -1, -1, device=u.device, dtype=torch.int64)
    return (idx * strides).sum(dim=1)  # integer matmul is not implemented on CUDA


def _bin_counts_torch(idx, weights, n_bins: int):
    """Weighted counts per bin, float64, by ``index_add_``: no host read (``torch.bincount`` reads the maximum back)."""
    import torch

    w = torch.ones(len(idx), dtype=torch.float64, device=idx.device) if weights is None else weights.to(torch.float64)
    return torch.zeros(n_bins, dtype=torch.float64, device=idx.device).index_add_(0, idx, w)


def neg2_log_lambda_torch(u_x, u_y, bins: int = 10, w_x=None, w_y=None):
    """Eq. (2) with the binning on the device: :func:`neg2_log_lambda` for tensors.

    Counts are summed with ``index_add_`` in float64: on a CPU the result equals the numpy
    path to rounding (tested); on CUDA the additions are atomic, so their order, and with it
    the last bits of the result, may vary from run to run.

    Args:
        u_x: (N, D) reference sample in the uniformised space (float64 recommended).
        u_y: (M, D) generated sample.
        bins: bins per dimension.
        w_x, w_y: weights (None: 1).

    Returns:
        The figure of merit as a 0-d float64 tensor on the inputs' device (no host read).
    """
    import torch

    if u_x.ndim != 2 or u_y.ndim != 2 or u_x.shape[1] != u_y.shape[1]:
        raise ValueError(f"u_x has shape {tuple(u_x.shape)}, u_y {tuple(u_y.shape)}: expected (N, D) and (M, D)")
    n_bins = bins ** u_x.shape[1]
    m = _bin_counts_torch(bin_index_torch(u_x, bins), w_x, n_bins)
    n = _bin_counts_torch(bin_index_torch(u_y, bins), w_y, n_bins)
    p = torch.where(n > 0, n / n.sum(), torch.full_like(n, 0.5 / u_y.shape[0]))
    used = m != 0
    return -2.0 * torch.sum(torch.where(used, m * torch.log(torch.where(used, p, torch.ones_like(p))), torch.zeros_like(m)))
