"""Re-evaluates a finished scaling run's kept model with the current sampler and rewrites its evaluation and report.

The README's WGAN-GP numbers come from this: the two runs of ``configs/scaling_zgamma.yaml`` (gp_lambda 0.001 and
10) were trained before the sampler changed from clipping out-of-range events to redrawing them, and were then
re-evaluated on their saved models (same splits, same seed of the evaluation).

    python scripts/scaling_reevaluate.py runs/scaling_zgamma     # run from the folder the config's data.train is relative to
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from hepgan.methods.scaling.model import TableWGAN
from hepgan.methods.scaling.run import ScalingRun
from hepgan.report import write_report
from hepgan.runs import load_config


def main(run: Path) -> None:
    torch.set_num_threads(1)
    cfg = load_config(run / "config.yaml")
    data = ScalingRun().load(cfg)
    model = TableWGAN.load(run / "model_best.safetensors")
    seconds = json.loads((run / "summary.json").read_text())["train_seconds"]
    ScalingRun().evaluate(cfg, data, model, run, seconds)
    print((run / "summary.txt").read_text(), end="")
    print(f"generated events inside the training range: {model.acceptance_:.3f}")
    write_report(run)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
