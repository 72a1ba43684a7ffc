"""How far the showers move the hard-process photon in eta (why the process-level pre-filter of gjets is off).

    python scripts/gjets_prefilter_shift.py [--events 20000] [--seed 4242]

Generates prompt-photon events to the parton level with the gjets settings and prints the quantiles of
|eta(final photon) - eta(hard photon)| and how many photons with |eta_hard| >= m end inside |eta| < 2.5.
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    import pythia8mc

    from hepgan.samples.gjets import GjetsSettings, _prompt_index

    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=4242)
    a = ap.parse_args()
    py = pythia8mc.Pythia("", False)
    for line in GjetsSettings().validate().pythia_settings(a.seed):
        py.readString(line)
    py.init()
    d = []
    for _ in range(a.events):
        if not py.next():
            continue
        best, hard = -1.0, 0.0
        for i in (5, 6):
            p = py.process[i]
            if p.id() == 22 and p.pT() > best:
                best, hard = p.pT(), p.eta()
        d.append((hard, py.event[_prompt_index(py.event)].eta()))
    d = np.array(d)
    shift = np.abs(d[:, 1] - d[:, 0])
    print(f"{len(d)} events; |Delta eta| quantiles 50/90/99/99.9 %: {np.round(np.quantile(shift, [0.5, 0.9, 0.99, 0.999]), 3)}")
    for m in (2.6, 2.7, 2.8, 3.0):
        n = int(np.sum((np.abs(d[:, 0]) >= m) & (np.abs(d[:, 1]) < 2.5)))
        print(f"hard |eta| >= {m}: {n} events end inside |eta| < 2.5")


if __name__ == "__main__":
    main()
