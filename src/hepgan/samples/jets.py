"""Anti-kT jet clustering of many events at once (FastJet through awkward), shared by the Pythia samples."""

from __future__ import annotations

import numpy as np

__all__ = ["antikt_constituents"]


def antikt_constituents(events: list[np.ndarray], pt_min: float, radius: float = 0.4) -> list[list[list[int]]]:
    """Anti-kT jets of each event as lists of constituent indices, one awkward batch for all events.

    (A list of PseudoJets costs about 2 ms per event in Python, one awkward batch about 0.7 ms:
    ``../shared/ENVIRONMENT.md``.) A jet's four-momentum is the sum of its constituents' (E scheme).

    Args:
        events: per event, an (N_i, 4) array of px, py, pz, E (GeV).
        pt_min: the inclusive jets kept, above this pT (GeV), in FastJet's order.
        radius: the jet radius R.

    Returns:
        Per event, per jet, the indices of its particles in that event's array.
    """
    import awkward as ak
    import fastjet

    fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)
    if not events:
        return []
    counts = np.array([len(e) for e in events], dtype=np.int64)
    flat = np.concatenate(events)
    arr = ak.unflatten(ak.zip({"px": flat[:, 0], "py": flat[:, 1], "pz": flat[:, 2], "E": flat[:, 3]}, with_name="Momentum4D"), counts)
    seq = fastjet.ClusterSequence(arr, fastjet.JetDefinition(fastjet.antikt_algorithm, radius))
    return seq.constituent_index(pt_min).to_list()
