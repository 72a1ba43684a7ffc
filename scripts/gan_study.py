"""Issue 13: train one named variant of the demo GAN for one seed, one thread.

Each variant is a list of ``--set`` overrides on the study's base (configs/demo.yaml as it was before the
study: the BASE overrides below restore it). A run goes to
runs/study/<variant>_s<seed> (``hepgan train``; its report, metrics.json, is written at the end)
with a study.json beside it: variant, seed, overrides, threads, wall seconds of training and of
the report. data.split_seed is never overridden, so every run holds out the same SR events.

    python scripts/gan_study.py list
    python scripts/gan_study.py run VARIANT --seed 0           # train + report
    python scripts/gan_study.py run VARIANT --seed 0 --no-report   # train only
    python scripts/gan_study.py report VARIANT --seed 0         # report of a trained run
    python scripts/gan_study.py run NAME --set training.lr_d=2e-3 --set ...   # an ad-hoc variant

Read the numbers with scripts/gan_study_table.py.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "demo.yaml"
RUNS = ROOT / "runs" / "study"

# The study's starting point: the demo config before the study (dropout 0.2, one discriminator update,
# 300 epochs, weights as given). configs/demo.yaml is now the study's recommendation (d0ds2_flat).
BASE: list[str] = ["model.dropout=0.2", "training.n_critic=1", "training.epochs=300", "training.flatten_column=null"]

# one change at a time against the base, then combinations
VARIANTS: dict[str, list[str]] = {
    "base": [],
    # discriminator regularisation and capacity
    "drop0": ["model.dropout=0"],
    "dhid256": ["model.d_hidden=[256,256,256]"],
    "ln05": ["training.label_noise=0.05"],
    # update balance
    "dsteps2": ["training.n_critic=2"],
    "ttur": ["training.lr_d=2.0e-3", "training.lr=5.0e-4"],
    "lrd2": ["training.lr_d=2.0e-3"],
    # discriminator constraints
    "r1": ["training.r1_gamma=1.0"],
    # batch size (same epochs: fewer, larger steps)
    "b128": ["training.batch_size=128"],
    "b512": ["training.batch_size=512"],
    # flatten the weighted pho1_pt spectrum in the training losses (target p_w(x | c) unchanged)
    "flat": ["training.flatten_column=pho1_pt"],
}
# Measured on the study branch and not kept (their code was not merged; numbers in benchmarks/GAN_STUDY.md):
# spectral normalisation of D, a projection discriminator, batches drawn by weight, an EMA of the generator.

# combinations at 220 epochs: with two D steps per G step that fits the demo's time budget
COMBOS: dict[str, list[str]] = {
    "d0ds2": ["model.dropout=0", "training.n_critic=2", "training.epochs=220"],
    "d0ds2_flat": ["model.dropout=0", "training.n_critic=2", "training.epochs=220", "training.flatten_column=pho1_pt"],
}
VARIANTS.update(COMBOS)


def run_dir(variant: str, seed: int) -> Path:
    return RUNS / f"{variant}_s{seed}"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"), MKL_NUM_THREADS=env.get("MKL_NUM_THREADS", "1"))
    return env


def _hepgan() -> str:
    exe = Path(sys.executable).with_name("hepgan")
    return str(exe) if exe.exists() else "hepgan"


def _write_info(rd: Path, update: dict) -> None:
    path = rd / "study.json"
    info = json.loads(path.read_text()) if path.is_file() else {}
    info.update(update)
    path.write_text(json.dumps(info, indent=1))


def train(variant: str, seed: int, overrides: list[str], report: bool) -> Path:
    rd = run_dir(variant, seed)
    sets = [*BASE, *overrides, f"training.seed={seed}"]
    cmd = [_hepgan(), "-q", "train", str(CONFIG), "--run-dir", str(rd), "--overwrite", "--no-report"]
    for s in sets:
        cmd += ["--set", s]
    print(" ".join(cmd), flush=True)
    t0 = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, env=_env(), cwd=ROOT)
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    _write_info(rd, {
        "variant": variant, "seed": seed, "overrides": overrides, "threads": int(_env()["OMP_NUM_THREADS"]),
        "train_wall_s": round(time.perf_counter() - t0, 1),
        # CPU seconds of the training process (user + sys): less sensitive than wall time to other jobs
        # on a shared machine
        "train_cpu_s": round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 1),
        "load_avg_1min_at_end": os.getloadavg()[0],
    })
    if report:
        write_report(rd)
    return rd


def write_report(rd: Path) -> None:
    t0 = time.perf_counter()
    subprocess.run([_hepgan(), "-q", "report", str(rd)], check=True, env=_env(), cwd=ROOT)
    _write_info(rd, {"report_wall_s": round(time.perf_counter() - t0, 1)})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list")
    for name in ("run", "report"):
        q = sub.add_parser(name)
        q.add_argument("variant")
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--set", action="append", default=[], help="extra override (an ad-hoc variant)")
        q.add_argument("--no-report", action="store_true")
    a = p.parse_args(argv)
    if a.cmd == "list":
        for k, v in VARIANTS.items():
            print(f"{k:12s} {' '.join(v) or '(the base: ' + ' '.join(BASE) + ')'}")
        return 0
    if a.cmd == "report":
        write_report(run_dir(a.variant, a.seed))
        return 0
    if a.variant not in VARIANTS and not a.set:
        p.error(f"unknown variant {a.variant!r} (see 'list'), or give its overrides with --set")
    overrides = [*VARIANTS.get(a.variant, []), *a.set]
    if any(o.startswith("data.split_seed") for o in overrides):
        p.error("data.split_seed must stay fixed: every run holds out the same SR events")
    train(a.variant, a.seed, overrides, report=not a.no_report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
