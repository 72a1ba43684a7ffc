r"""Four-momenta of multi-parton events: on-shell construction, invariant masses, pT balance.

An event of P partons is a tensor of shape (N, P, 4) holding :math:`(p_x, p_y, p_z, E)`
per parton (GeV), the order of the columns ``{name}_px, {name}_py, {name}_pz, {name}_e``
of an event table. Every function takes torch tensors (differentiable, any device)
or numpy arrays (computed in float64 and returned as numpy).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "on_shell",
    "invariant_mass",
    "pt_eta_phi",
    "pt_balance",
    "momenta_columns",
    "table_to_momenta",
    "event_table",
]

#: Invariant masses squared are clamped at this value (GeV^2) before the square root, so that
#: the gradient stays finite for (numerically) massless systems.
M2_FLOOR = 1e-8


def _as_tensor(a: Any) -> tuple[Tensor, bool]:
    if isinstance(a, Tensor):
        return a, False
    arr = np.asarray(a, dtype=np.float64)
    return torch.as_tensor(arr if arr.flags.writeable else arr.copy()), True


def on_shell(p3: Any, masses: Any) -> Any:
    r"""Four-momenta from three-momenta and fixed masses, :math:`E = \sqrt{|\vec p|^2 + m^2}`.

    Args:
        p3: (N, P, 3) three-momenta :math:`(p_x, p_y, p_z)` in GeV.
        masses: (P,) masses in GeV (>= 0).

    Returns:
        (N, P, 4) four-momenta :math:`(p_x, p_y, p_z, E)`; every parton has
        :math:`E^2 - |\vec p|^2 = m^2` to floating-point precision.

    Example:
        >>> p4 = on_shell(np.array([[[30.0, 40.0, 0.0]]]), [80.4])
        >>> float(np.round(invariant_mass(p4[:, 0]), 6)[0])
        80.4
    """
    p3, was_np = _as_tensor(p3)
    m = torch.as_tensor(masses, dtype=p3.dtype, device=p3.device)
    if p3.ndim != 3 or p3.shape[-1] != 3 or m.shape != (p3.shape[1],):
        raise ValueError(f"expected p3 of shape (N, P, 3) and masses of shape (P,), got {tuple(p3.shape)} and {tuple(m.shape)}")
    # the floor keeps sqrt differentiable at p = 0 for massless partons
    e = torch.sqrt((p3.square().sum(-1) + m.square()).clamp_min(M2_FLOOR))
    p4 = torch.cat([p3, e.unsqueeze(-1)], dim=-1)
    return p4.numpy() if was_np else p4


def invariant_mass(p4: Any, indices: Sequence[int] | None = None) -> Any:
    r"""Invariant mass :math:`\sqrt{(\sum_i E_i)^2 - |\sum_i \vec p_i|^2}` of a set of partons.

    Args:
        p4: (N, P, 4) four-momenta, or (N, 4) for one parton.
        indices: the partons summed (None: all).

    Returns:
        (N,) masses in GeV; a negative mass squared (rounding) gives 0.

    Example:
        >>> back_to_back = np.array([[[0.0, 0.0, 45.0, 45.0], [0.0, 0.0, -45.0, 45.0]]])
        >>> invariant_mass(back_to_back)
        array([90.])
    """
    p4, was_np = _as_tensor(p4)
    if p4.ndim == 3:
        p4 = (p4 if indices is None else p4[:, list(indices)]).sum(1)
    m2 = p4[..., 3].square() - p4[..., :3].square().sum(-1)
    m = torch.sqrt(m2.clamp_min(M2_FLOOR))
    m = torch.where(m2 > M2_FLOOR, m, torch.zeros_like(m))
    return m.numpy() if was_np else m


def pt_eta_phi(p4: Any) -> tuple[Any, Any, Any]:
    r"""Transverse momentum, pseudorapidity and azimuth of each parton.

    Args:
        p4: (..., 4) four-momenta (only the three-momentum is used).

    Returns:
        pT (GeV), eta, phi in (-pi, pi], each of shape (...); eta = +-1e3 along the beam.
    """
    p4, was_np = _as_tensor(p4)
    px, py, pz = p4[..., 0], p4[..., 1], p4[..., 2]
    pt = torch.hypot(px, py)
    safe = torch.where(pt > 0, pt, torch.ones_like(pt))
    eta = torch.where(pt > 0, torch.asinh(pz / safe), torch.sign(pz) * 1e3)
    phi = torch.atan2(py, px)
    phi = torch.where(phi == -torch.pi, torch.full_like(phi, torch.pi), phi)
    if was_np:
        return pt.numpy(), eta.numpy(), phi.numpy()
    return pt, eta, phi


def pt_balance(p4: Any) -> Any:
    r"""Relative transverse-momentum imbalance :math:`|\sum_i \vec p_{T,i}| / \sum_i |\vec p_{T,i}|` per event.

    Zero for a hard process without initial-state radiation or primordial kT.

    Args:
        p4: (N, P, 4) four-momenta.

    Returns:
        (N,) imbalance in [0, 1].
    """
    p4, was_np = _as_tensor(p4)
    vec = torch.hypot(p4[..., 0].sum(1), p4[..., 1].sum(1))
    scalar = torch.hypot(p4[..., 0], p4[..., 1]).sum(1)
    r = vec / torch.where(scalar > 0, scalar, torch.ones_like(scalar))
    return r.numpy() if was_np else r


def momenta_columns(names: Sequence[str], components: str = "pxpypze") -> list[str]:
    """Column names ``{name}_px, {name}_py, {name}_pz[, {name}_e]`` per parton, in order."""
    comps = ["px", "py", "pz"] + (["e"] if components.endswith("e") else [])
    return [f"{n}_{c}" for n in names for c in comps]


def table_to_momenta(table: Any, names: Sequence[str], energy: bool = True) -> np.ndarray:
    """(N, P, 4) four-momenta (or (N, P, 3) three-momenta) from an event table's columns."""
    cols = momenta_columns(names, "pxpypze" if energy else "pxpypz")
    arr = np.column_stack([np.asarray(table[c], dtype=np.float64) for c in cols]) if len(table) else np.zeros((0, len(cols)))
    return arr.reshape(len(arr), len(names), 4 if energy else 3)


def event_table(
    p4: np.ndarray,
    names: Sequence[str],
    resonances: dict[str, Sequence[int]] | None = None,
    w: np.ndarray | None = None,
) -> pd.DataFrame:
    """The event-table columns of P partons: per parton ``px, py, pz, e, m, pt, eta, phi``,
    then one column per resonance (its invariant mass), then ``weight``.

    Args:
        p4: (N, P, 4) four-momenta in GeV.
        names: the P parton names (column prefixes).
        resonances: column name -> indices of the partons it decays to (e.g. ``m_wp: [1, 2]``).
        w: (N,) event weights (None: 1).

    Returns:
        DataFrame (N rows), float64.
    """
    import pandas as pd

    p4 = np.asarray(p4, dtype=np.float64)
    pt, eta, phi = pt_eta_phi(p4)
    m = invariant_mass(p4.reshape(-1, 4)).reshape(len(p4), len(names))
    cols: dict[str, np.ndarray] = {}
    for k, n in enumerate(names):
        cols[f"{n}_px"], cols[f"{n}_py"], cols[f"{n}_pz"], cols[f"{n}_e"] = (p4[:, k, j] for j in range(4))
        cols[f"{n}_m"], cols[f"{n}_pt"], cols[f"{n}_eta"], cols[f"{n}_phi"] = m[:, k], pt[:, k], eta[:, k], phi[:, k]
    for r, idx in (resonances or {}).items():
        cols[r] = invariant_mass(p4, idx)
    cols["weight"] = np.ones(len(p4)) if w is None else np.asarray(w, dtype=np.float64)
    return pd.DataFrame(cols)
