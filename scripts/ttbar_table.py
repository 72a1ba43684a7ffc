"""One table row per finished ttbar run folder (after ``hepgan report RUN``).

Columns: the MMD setting, the four peak-width ratios to the truth (half IQR within +-10 GeV),
the mean transverse-momentum imbalance |sum pT| / sum |pT| and the share of events below 1 %,
the mean W1/std over the 18 parton pT, eta, phi against the held-out truth, the classifier AUC,
the epochs and the training time. Everything is read from summary.json and metrics.json.

    python scripts/ttbar_table.py runs/s3/ttbar_nommd runs/s3/ttbar_mmd
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path


def row(run: Path) -> str:
    s = json.loads((run / "summary.json").read_text())
    g = json.loads((run / "metrics.json").read_text())["comparisons"]["generated"]
    mmd = s["mmd"]
    what = "off" if not mmd["lambda"] else f"lambda {mmd['lambda']:g} on {', '.join(mmd['resonances'])}"
    ratios = " | ".join(f"{s['resonances'][r]['width_ratio']:.2f}" for r in ("m_wp", "m_wm", "m_t", "m_tbar"))
    ptb = s["pt_balance"]["generated"]
    kin = [f["w1_over_std"] for f in g["features"] if not f["column"].startswith("m_")]
    auc = next((v for v in g["verdicts"] if v.startswith("AUC")), "AUC ?")
    auc = re.match(r"AUC ([0-9.]+)", auc).group(1) if re.match(r"AUC ([0-9.]+)", auc) else "?"
    return (f"| {run.name} | {what} | {ratios} | {ptb['mean']:.4f} ({100 * ptb['fraction_below_1_percent']:.0f} %) "
            f"| {sum(kin) / len(kin):.3f} | {auc} | {s['epochs']} (kept {s['best_epoch']}) | {s['train_seconds']:.0f} s |")  # fmt: skip


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    print("| run | MMD | W+ width ratio | W- | t | tbar | pT imbalance, mean (events < 1 %) | parton W1/std | AUC | epochs | training |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for arg in sys.argv[1:]:
        run = Path(arg)
        if not (run / "metrics.json").is_file():
            print(f"ttbar_table: error: {run}: no metrics.json (run hepgan report {run} first)", file=sys.stderr)
            return 2
        print(row(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
