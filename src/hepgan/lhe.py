"""Les Houches Event files (LHEF, Alwall et al., hep-ph/0609017) for generated top-pair events.

Each event is written as the full decay chain, so that a shower program (Pythia 8:
``Beams:frameType = 4``, ``Beams:LHEF = file.lhe``) can read it::

    1  g    (-1)  incoming, along +z          7  b      (1)  from t
    2  g    (-1)  incoming, along -z          8  q1     (1)  from W+
    3  t     (2)  from 1 2                    9  qbar1  (1)  from W+
    4  tbar  (2)  from 1 2                   10  bbar   (1)  from tbar
    5  W+    (2)  from t                     11  q2     (1)  from W-
    6  W-    (2)  from tbar                  12  qbar2  (1)  from W-

The resonance four-momenta are the sums of their decay products (their masses the
invariant masses). The incoming partons are massless gluons with the energy and
longitudinal momentum of the final state, E1 = (E + pz) / 2, E2 = (E - pz) / 2:
energy and pz are conserved exactly, the transverse momentum only as well as the
generated event conserves it (a GAN event's imbalance stays in the file). Colour flow
(gg -> t tbar): g1 (503, 502), g2 (501, 503), t (501, 0), tbar (0, 502); each W's quark
pair is a colour singlet. Flavours are representatives (u for up-type, d for down-type
light quarks, as the generator does not distinguish flavours). Status codes and column
order follow the LHEF standard: IDUP ISTUP MOTHUP(2) ICOLUP(2) PUP(5) VTIMUP SPINUP.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from hepgan.io import atomic_path

__all__ = ["write_lhe_ttbar", "TTBAR_PDG", "read_lhe_events", "pythia_read_count"]

#: Representative PDG ids of the six partons b, q1, qbar1, bbar, q2, qbar2.
TTBAR_PDG = (5, 2, -1, -5, 1, -2)

# (id, status, mother1, mother2, col, acol) of the 12 lines; momenta filled per event.
_LINES = [
    (21, -1, 0, 0, 503, 502),  # 1 g
    (21, -1, 0, 0, 501, 503),  # 2 g
    (6, 2, 1, 2, 501, 0),  # 3 t
    (-6, 2, 1, 2, 0, 502),  # 4 tbar
    (24, 2, 3, 3, 0, 0),  # 5 W+
    (-24, 2, 4, 4, 0, 0),  # 6 W-
    (TTBAR_PDG[0], 1, 3, 3, 501, 0),  # 7 b
    (TTBAR_PDG[1], 1, 5, 5, 504, 0),  # 8 q1
    (TTBAR_PDG[2], 1, 5, 5, 0, 504),  # 9 qbar1
    (TTBAR_PDG[3], 1, 4, 4, 0, 502),  # 10 bbar
    (TTBAR_PDG[4], 1, 6, 6, 505, 0),  # 11 q2
    (TTBAR_PDG[5], 1, 6, 6, 0, 505),  # 12 qbar2
]


def _mass(p: np.ndarray) -> np.ndarray:
    return np.sqrt(np.clip(p[..., 3] ** 2 - (p[..., :3] ** 2).sum(-1), 0.0, None))


def _event_lines(p4: np.ndarray) -> np.ndarray:
    """(N, 12, 5) px, py, pz, E, m of the 12 lines of each event, from (N, 6, 4) final partons."""
    n = len(p4)
    t = p4[:, 0:3].sum(1)
    tb = p4[:, 3:6].sum(1)
    wp = p4[:, 1:3].sum(1)
    wm = p4[:, 4:6].sum(1)
    tot = t + tb
    e1 = (tot[:, 3] + tot[:, 2]) / 2
    e2 = (tot[:, 3] - tot[:, 2]) / 2
    z = np.zeros(n)
    g1 = np.stack([z, z, e1, e1], axis=1)
    g2 = np.stack([z, z, -e2, e2], axis=1)
    four = np.stack([g1, g2, t, tb, wp, wm, *(p4[:, k] for k in range(6))], axis=1)
    m = _mass(four)
    m[:, :2] = 0.0
    return np.concatenate([four, m[..., None]], axis=-1)


def write_lhe_ttbar(
    path: str | Path,
    batches: Iterable[np.ndarray],
    sqrt_s: float = 13000.0,
    sigma_pb: float | None = None,
    metadata: dict[str, Any] | None = None,
) -> int:
    """Writes unweighted top-pair events to a Les Houches Event file, atomically.

    Args:
        path: output file (``.lhe``).
        batches: iterable of (N, 6, 4) four-momenta (px, py, pz, E) of b, q1, qbar1, bbar, q2, qbar2.
        sqrt_s: collision energy in GeV (beam energies sqrt_s / 2, protons).
        sigma_pb: cross-section of the sample in pb (written as XSECUP and as every event's
            weight, IDWTUP = 3); 1 when unknown.
        metadata: JSON record written into the <header> (hepgan version, model, seed, ...).

    Returns:
        The number of events written.
    """
    sigma = float(sigma_pb) if sigma_pb is not None else 1.0
    n_total = 0
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write('<LesHouchesEvents version="3.0">\n<header>\n<hepgan>\n')
        f.write(html.escape(json.dumps(metadata or {}, default=str), quote=False) + "\n")
        f.write("</hepgan>\n</header>\n<init>\n")
        # IDBMUP(2) EBMUP(2) PDFGUP(2) PDFSUP(2) IDWTUP NPRUP; then XSECUP XERRUP XMAXUP LPRUP
        f.write(f"2212 2212 {sqrt_s / 2:.6e} {sqrt_s / 2:.6e} 0 0 0 0 3 1\n")
        f.write(f"{sigma:.6e} 0.000000e+00 {sigma:.6e} 1\n</init>\n")
        fixed = [f"{i:>9d} {s:>2d} {m1:>4d} {m2:>4d} {c:>4d} {a:>4d}" for i, s, m1, m2, c, a in _LINES]
        for p4 in batches:
            p4 = np.asarray(p4, dtype=np.float64)
            if p4.ndim != 3 or p4.shape[1:] != (6, 4):
                raise ValueError(f"expected four-momenta of shape (N, 6, 4), got {p4.shape}")
            lines = _event_lines(p4)
            # scale: the mean transverse mass of the tops
            mt = np.sqrt(np.clip(lines[:, 2:4, 4] ** 2 + lines[:, 2:4, 0] ** 2 + lines[:, 2:4, 1] ** 2, 0, None)).mean(1)
            for k in range(len(p4)):
                f.write(f"<event>\n 12 1 {sigma:+.7e} {mt[k]:.7e} 7.8186840e-03 1.1800000e-01\n")
                for j in range(12):
                    px, py, pz, e, m = lines[k, j]
                    f.write(f"{fixed[j]} {px:+.10e} {py:+.10e} {pz:+.10e} {e:.10e} {m:.10e} 0.0000e+00 9.0000e+00\n")
                f.write("</event>\n")
            n_total += len(p4)
        f.write("</LesHouchesEvents>\n")
    return n_total


def read_lhe_events(path: str | Path) -> list[np.ndarray]:
    """Reads the particle lines of an LHE file: one (n_lines, 13) float array per event.

    A minimal reader for checks and tests (columns: IDUP ISTUP MOTHUP1 MOTHUP2 ICOLUP1
    ICOLUP2 PX PY PZ E M VTIMUP SPINUP); raises ValueError on a malformed file.
    """
    events: list[np.ndarray] = []
    text = Path(path).read_text()
    if not text.lstrip().startswith("<LesHouchesEvents") or "</LesHouchesEvents>" not in text:
        raise ValueError(f"{path}: not a Les Houches Event file")
    if "<init>" not in text or "</init>" not in text:
        raise ValueError(f"{path}: no <init> block")
    for block in text.split("<event>")[1:]:
        body = block.split("</event>")[0].strip().splitlines()
        nup = int(body[0].split()[0])
        rows = np.array([[float(v) for v in line.split()] for line in body[1 : 1 + nup]])
        if rows.shape != (nup, 13):
            raise ValueError(f"{path}: malformed event block")
        events.append(rows)
    return events


def pythia_read_count(path: str | Path, settings: Iterable[str] = ()) -> tuple[int, int]:
    """Reads an LHE file with Pythia 8 and counts the events it accepts and refuses.

    Pythia refuses an event whose record it cannot process (for example momenta that do not add
    up), so this is a check that a file is usable downstream. Multi-parton interactions and
    hadronisation are off (the shower stays on unless ``settings`` turn it off).

    Args:
        path: the LHE file.
        settings: extra Pythia settings lines, e.g. ``["PartonLevel:ISR = off"]``.

    Returns:
        (accepted, refused) event counts.

    Raises:
        MissingExtraError: pythia8mc is not installed.
        InputFileError: Pythia cannot initialise from the file.
    """
    from hepgan.exceptions import InputFileError
    from hepgan.samples.chunks import init_pythia

    py = init_pythia(["Beams:frameType = 4", f"Beams:LHEF = {path}", "Print:quiet = on", "Next:numberCount = 0",
                      "PartonLevel:MPI = off", "HadronLevel:all = off", *settings])  # fmt: skip
    if py is None:
        raise InputFileError(f"{path}: Pythia 8 could not initialise from this LHE file")
    accepted = refused = 0
    while True:
        if py.next():
            accepted += 1
        elif py.infoPython().atEndOfFile():
            return accepted, refused
        else:
            refused += 1
