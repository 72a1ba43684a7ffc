"""Where an unfolding GAN puts the spread of the detector response: into its noise or into the detector event.

For each parton object of the held-out events of a finished run, the response (log pT ratio and delta eta of
the parton object to its detector object) is compared between the truth and K unfolded events per detector
event: the spread (IQR / 1.349) of the true response, of all generated responses, the median per-event sd of
the K samples (what the noise makes) and the spread of the per-event means (what the generator makes out of
the detector event). A calibrated posterior has a per-event sd that, with the spread of the means, adds up to
the true spread; a generator that ignores its noise has a per-event sd near zero and still the right overall
spread. The README's diagnosis of the FCGAN's calibration comes from this script.

    python scripts/unfold_posterior_width.py RUN_DIR [--events 3000] [--k 50]   # from the folder of the config's data.train
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import hepgan
from hepgan.kinematics import pt_eta_phi, table_to_momenta
from hepgan.methods.unfolding.run import load_events
from hepgan.runs import load_config


def spread(a: np.ndarray) -> float:
    q25, q75 = np.quantile(a, [0.25, 0.75])
    return float((q75 - q25) / 1.349)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("--events", type=int, default=3000)
    p.add_argument("--k", type=int, default=50)
    a = p.parse_args()
    torch.set_num_threads(1)
    cfg = load_config(a.run / "config.yaml")
    test = load_events(cfg)["parts"]["test"].iloc[: a.events].reset_index(drop=True)
    model = hepgan.load(a.run / "model_best.safetensors")
    x = model.unfold_p4(test, k=a.k, seed=1)  # (N, k, P, 4)
    det, part = table_to_momenta(test, model.detector), table_to_momenta(test, model.parton)
    (pt, eta, _), (pt_d, eta_d, _), (pt_p, eta_p, _) = pt_eta_phi(x), pt_eta_phi(det), pt_eta_phi(part)
    print(f"{a.run}: {len(test)} held-out events x {a.k} samples; spreads are IQR / 1.349")
    print("object  response     truth   generated  per-event sd (median)  spread of per-event means")
    for j, name in enumerate(model.parton):
        for label, true, gen in (("log pT ratio", np.log(pt_p[:, j] / pt_d[:, j]), np.log(pt[:, :, j] / pt_d[:, None, j])),
                                 ("delta eta", eta_p[:, j] - eta_d[:, j], eta[:, :, j] - eta_d[:, None, j])):  # fmt: skip
            print(f"{name:7s} {label:12s} {spread(true):7.4f}   {spread(gen.ravel()):7.4f}   {np.median(gen.std(axis=1, ddof=1)):7.4f}"
                  f"                {spread(gen.mean(axis=1)):7.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
