"""Short runs of configs/ttbar.yaml that chose its discriminator schedule and MMD weight.

Each run is ``hepgan train configs/ttbar.yaml`` for 10 epochs with every swept value set
explicitly (so the table does not depend on the config's current defaults). The table shows
the last epoch's validation figures from each run's history.json: the mean transverse-momentum
imbalance |sum pT| / sum |pT|, the W+ peak-width ratio to the truth, the mean W1/IQR of the 18
parton pT, eta, phi (kinematics), and the discriminator loss.

    python scripts/ttbar_sweep.py --data runs/data/ttbar_200k.parquet --out runs/sweep --jobs 2
    python scripts/ttbar_sweep.py --out runs/sweep --table-only     # print the table of finished runs

Each run takes 1.5 to 9 minutes on one core of the 2-core CPU machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BASE = {"loss.mmd_lambda": 10, "loss.mmd_resonances": ["m_wp", "m_wm", "m_t", "m_tbar"], "training.n_critic": 1,
        "loss.roth_lambda": 1.0e-3, "training.lr": 1.0e-3, "training.lr_d": None, "model.d_hidden": [128, 128, 128],
        "training.epochs": 10}  # fmt: skip
RUNS: dict[str, dict] = {
    "mmd10_ncritic1": {},
    "mmd10_ncritic1_roth0.1": {"loss.roth_lambda": 0.1},
    "mmd0_ncritic1_lr1e-4": {"loss.mmd_lambda": 0, "training.lr": 1.0e-4},
    "mmd0_ncritic1_roth0.1": {"loss.mmd_lambda": 0, "loss.roth_lambda": 0.1},
    "mmd0_ncritic1_bigD_lrd5x": {"loss.mmd_lambda": 0, "model.d_hidden": [256, 256, 256, 256], "training.lr": 2.0e-4, "training.lr_d": 1.0e-3},
    "mmd0_ncritic5": {"loss.mmd_lambda": 0, "training.n_critic": 5},
    "mmd1_ncritic1": {"loss.mmd_lambda": 1},
    "mmd1_ncritic1_lr1e-4_roth0.1": {"loss.mmd_lambda": 1, "training.lr": 1.0e-4, "loss.roth_lambda": 0.1},
    "mmd1_ncritic5": {"loss.mmd_lambda": 1, "training.n_critic": 5},
    "mmd3_ncritic5": {"loss.mmd_lambda": 3, "training.n_critic": 5},
    "mmd3_ncritic5_roth0.1": {"loss.mmd_lambda": 3, "training.n_critic": 5, "loss.roth_lambda": 0.1},
    "mmd10_ncritic5": {"training.n_critic": 5},
}


def _command(name: str, data: str, out: Path) -> list[str]:
    values = {**BASE, **RUNS[name]}
    cmd = [sys.executable, "-m", "hepgan.cli", "train", "configs/ttbar.yaml", "--set", f"data.train={data}",
           "--run-dir", str(out / name), "--no-report", "--overwrite"]  # fmt: skip
    for key, value in values.items():
        cmd += ["--set", f"{key}={json.dumps(value)}"]
    return cmd


def _row(name: str, out: Path) -> str:
    path = out / name / "history.json"
    if not path.is_file():
        return f"| {name} | not run |  |  |  |"
    h = json.loads(path.read_text())
    return (f"| {name} | {h['pt_balance_mean'][-1]:.3f} | {h['width_ratio_m_wp'][-1]:.2f} | {h['kin_w1_val'][-1]:.3f} "
            f"| {h['loss_d'][-1]:.3f} |")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="the ttbar sample (hepgan sample ttbar --events 200000 --seed 1)")
    ap.add_argument("--out", default="runs/sweep", help="folder of the run folders")
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (each uses one thread)")
    ap.add_argument("--only", nargs="*", help="run only these names")
    ap.add_argument("--table-only", action="store_true", help="print the table of finished runs, train nothing")
    args = ap.parse_args()
    out = Path(args.out)
    names = args.only or list(RUNS)
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        print(f"ttbar_sweep: error: unknown run '{unknown[0]}' (known: {', '.join(RUNS)})", file=sys.stderr)
        return 2
    if not args.table_only:
        if not args.data:
            print("ttbar_sweep: error: --data is needed to train", file=sys.stderr)
            return 2
        out.mkdir(parents=True, exist_ok=True)

        def run(name: str) -> int:
            with open(out / f"{name}.log", "w") as log:
                return subprocess.call(_command(name, args.data, out), stdout=log, stderr=subprocess.STDOUT)

        with ThreadPoolExecutor(args.jobs) as pool:
            codes = dict(zip(names, pool.map(run, names)))
        failed = [n for n, c in codes.items() if c != 0]
        if failed:
            print(f"ttbar_sweep: error: runs failed: {', '.join(failed)} (see {out}/<name>.log)", file=sys.stderr)
    print("| run (10 epochs) | pT imbalance, mean | W+ width ratio | kinematics W1/IQR | D loss |")
    print("| --- | --- | --- | --- | --- |")
    for name in names:
        print(_row(name, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
