"""How many generated events Pythia 8 accepts from an EventGAN's LHE file.

Writes N events of a model as LHE (``hepgan generate``'s writer) and reads them back with
Pythia 8, which showers them (MPI and hadronisation off). Pythia refuses
an event whose momenta do not add up, so the count measures the learned momentum balance where
it matters to a user. Also prints the mean |sum pT| / sum |pT| of those events.

    python scripts/ttbar_lhe_shower.py runs/ttbar_mmd/model_best.safetensors --events 500
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="an EventGAN model file (.safetensors)")
    ap.add_argument("--events", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    import numpy as np

    from hepgan.kinematics import pt_balance
    from hepgan.lhe import pythia_read_count
    from hepgan.methods.generation import generate_file

    with tempfile.TemporaryDirectory() as tmp:
        lhe = Path(tmp) / "events.lhe"
        generate_file(args.model, args.events, lhe, seed=args.seed)
        accepted, failed = pythia_read_count(lhe)
    from hepgan.estimator import seed_from
    from hepgan.methods.generation import EventGAN

    p4 = EventGAN.load(args.model).sample_p4(args.events, seed=seed_from(args.seed, 0))  # generate_file's first batch
    print(f"{args.model}: Pythia accepted {accepted} of {accepted + failed} LHE events; "
          f"mean |sum pT|/sum|pT| of these events {float(np.mean(pt_balance(p4))):.4f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
