"""Kinematics shared by the sample maker, ``apply`` and the metrics.

Photons are massless; units GeV and radians, phi in (-pi, pi].
"""

from __future__ import annotations

import numpy as np

__all__ = ["wrap_phi", "diphoton", "DERIVED_COLUMNS", "derived_columns", "derived_columns_torch"]


def wrap_phi(phi: np.ndarray) -> np.ndarray:
    """Maps angles into (-pi, pi]."""
    out = np.remainder(np.asarray(phi, dtype=np.float64) + np.pi, 2 * np.pi) - np.pi
    return np.where(out == -np.pi, np.pi, out)


def diphoton(
    pt1: np.ndarray, eta1: np.ndarray, phi1: np.ndarray, pt2: np.ndarray, eta2: np.ndarray, phi2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Invariant mass and transverse momentum of two massless objects.

    Returns:
        (m_gg, pt_gg), each (N,).
    """
    pt1, eta1, phi1, pt2, eta2, phi2 = (np.asarray(a, dtype=np.float64) for a in (pt1, eta1, phi1, pt2, eta2, phi2))
    # m^2 = 2 pt1 pt2 (cosh(deta) - cos(dphi)) for massless objects
    m2 = 2.0 * pt1 * pt2 * (np.cosh(eta1 - eta2) - np.cos(phi1 - phi2))
    px = pt1 * np.cos(phi1) + pt2 * np.cos(phi2)
    py = pt1 * np.sin(phi1) + pt2 * np.sin(phi2)
    return np.sqrt(np.clip(m2, 0.0, None)), np.hypot(px, py)


# Columns computed from the two photon candidates; recomputed wherever pho2 is replaced.
DERIVED_COLUMNS = ("m_gg", "pt_gg", "ptgg_over_mgg")


def derived_columns(table) -> dict[str, np.ndarray]:
    """m_gg, pt_gg and pt_gg/m_gg from the ``pho1_*`` and ``pho2_*`` columns of a table."""
    m, pt = diphoton(
        table["pho1_pt"], table["pho1_eta"], table["pho1_phi"], table["pho2_pt"], table["pho2_eta"], table["pho2_phi"]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(m > 0, pt / np.where(m > 0, m, 1.0), 0.0)
    return {"m_gg": m, "pt_gg": pt, "ptgg_over_mgg": ratio}


def derived_columns_torch(table) -> dict:
    """:func:`derived_columns` on torch tensors (any device): a mapping of column name to (N,) tensor.

    The same formulas in the same order, so float64 inputs give the numpy values up to rounding.
    """
    import torch

    pt1, eta1, phi1 = table["pho1_pt"], table["pho1_eta"], table["pho1_phi"]
    pt2, eta2, phi2 = table["pho2_pt"], table["pho2_eta"], table["pho2_phi"]
    m2 = 2.0 * pt1 * pt2 * (torch.cosh(eta1 - eta2) - torch.cos(phi1 - phi2))
    px = pt1 * torch.cos(phi1) + pt2 * torch.cos(phi2)
    py = pt1 * torch.sin(phi1) + pt2 * torch.sin(phi2)
    m, pt = torch.sqrt(m2.clamp(min=0.0)), torch.hypot(px, py)
    positive = m > 0
    ratio = torch.where(positive, pt / torch.where(positive, m, torch.ones_like(m)), torch.zeros_like(m))
    return {"m_gg": m, "pt_gg": pt, "ptgg_over_mgg": ratio}
