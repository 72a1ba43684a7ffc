"""The background GAN against the conditional-flow baseline, trained for the same wall time, side by side (issue 13).

For each seed: the demo GAN (configs/demo.yaml) is trained and evaluated; then the flow
(configs/demo_flow.yaml, the same sample, split and preprocessing) gets the same wall time for
its training: its seconds per epoch are measured on a 2-epoch probe and its epoch count set to
fill the GAN's training time (the cosine schedule then spans the whole budget). Both runs write
the same evaluation (held-out SR closure on the same events, CR -> SR transfer) and reports;
this script prints, per seed and as mean +- sample sd over the seeds:

* held-out SR closure: classifier AUC (and the reference AUC of two MC halves), the
  distance-correlation chi and its worst pull;
* CR -> SR: chi over all pairs, and over the pairs that involve a generated column
  ("gen-pair chi"; the other pairs compare MC CR with MC SR conditions, which no model touches).

    python benchmarks/gan_vs_flow.py --seeds 0 1 2 --out runs/gan_vs_flow
    python benchmarks/gan_vs_flow.py --table-only --out runs/gan_vs_flow    # the table of finished runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from hepgan.methods.background import X_OBJECT
from hepgan.methods.background.run import train_run
from hepgan.runs import load_config, packaged_config


def numbers(run: Path) -> dict[str, float]:
    m = json.loads((run / "metrics.json").read_text())
    s = json.loads((run / "summary.json").read_text())
    sr, cr = m["comparisons"]["closure_sr"], m["comparisons"]["cr_to_sr"]
    gen = [p["pull"] for p in cr["distance_correlation"]["pairs"] if p["i"] in X_OBJECT or p["j"] in X_OBJECT or "gg" in p["i"] + p["j"]]
    return {
        "train s": s["train_seconds"],
        "best epoch": s["best_epoch"],
        "AUC": sr["classifier"]["test"]["auc"],
        "ref AUC": sr["classifier"]["reference"]["auc"],
        "chi": sr["distance_correlation"]["chi"],
        "worst pull": sr["distance_correlation"]["pairs"][0]["pull"],
        "CR->SR chi": cr["distance_correlation"]["chi"],
        "CR->SR gen-pair chi": sum(gen) / len(gen),
    }


def train(config: str, run: Path, seed: int, overrides: dict) -> None:
    cfg = load_config(packaged_config(config), {"training.seed": seed, **overrides})
    train_run(cfg, run, progress=False, overwrite=True)


def flow_epochs(seed: int, budget: float) -> int:
    """Epochs of the flow that fill ``budget`` seconds, from a 2-epoch probe (in memory: nothing written)."""
    from hepgan.methods.background.run import build_model, check_trainable, event_weights, load_events, split_sr

    cfg = load_config(packaged_config("demo_flow"), {"training.seed": seed, "training.epochs": 2})
    d = cfg.data
    sr, _, _ = load_events(d)
    parts = split_sr(sr, d)
    check_trainable(parts, d)
    tr, va = parts["train"], parts["val"]
    t0 = time.perf_counter()
    build_model(cfg, progress=False).fit(tr[d.x_columns], tr[d.conditions], event_weights(tr, d),
                                         validation=(va[d.x_columns], va[d.conditions], event_weights(va, d)))  # fmt: skip
    return max(2, int(budget / ((time.perf_counter() - t0) / 2)))


def table(rows: list[tuple[str, int, dict]]) -> str:
    keys = ["train s", "best epoch", "AUC", "ref AUC", "chi", "worst pull", "CR->SR chi", "CR->SR gen-pair chi"]
    lines = ["| model | seed | " + " | ".join(keys) + " |", "| --- | --- |" + " --- |" * len(keys)]
    for model, seed, n in rows:
        lines.append(f"| {model} | {seed} | " + " | ".join(f"{n[k]:.3g}" for k in keys) + " |")
    for model in dict.fromkeys(r[0] for r in rows):
        ns = [n for m, _, n in rows if m == model]
        if len(ns) > 1:
            cells = [f"{statistics.mean(n[k] for n in ns):.3g} +- {statistics.stdev(n[k] for n in ns):.2g}" for k in keys]
            lines.append(f"| **{model}** | mean +- sd | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--out", default="runs/gan_vs_flow")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--table-only", action="store_true", help="print the table of the runs already in --out")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in args.seeds:
        gan, flow = out / f"gan_s{seed}", out / f"flow_s{seed}"
        if not args.table_only:
            train("demo", gan, seed, {})
            budget = json.loads((gan / "summary.json").read_text())["train_seconds"]
            epochs = flow_epochs(seed, budget)
            print(f"seed {seed}: GAN trained in {budget:.0f} s; the flow gets {epochs} epochs for the same time", flush=True)
            train("demo_flow", flow, seed, {"training.epochs": epochs})
        rows += [("GAN (configs/demo.yaml)", seed, numbers(gan)), ("flow (configs/demo_flow.yaml)", seed, numbers(flow))]
    print(table(rows))


if __name__ == "__main__":
    main()
