"""The event-generation run: train -> generate -> evaluate, and the run folder.

A run config has ``method: generation`` at the top. A run folder holds::

    config.yaml             the resolved config
    history.json            per-epoch losses, MMD term, regulariser, validation metrics (w1_val: mean
                            W1/IQR, the selecting metric), lr; best_epoch
    model_best.safetensors  the kept model (lowest w1_val), model_last.safetensors
    checkpoint.safetensors  for --resume
    evaluation/             truth_test.parquet (held-out Pythia events), generated.parquet,
                            roles.json (for hepgan.report), sections.json (the physics sections)
    figures/, report.html, metrics.json
    summary.json, summary.txt  the numbers a physicist reads first: peak widths, pT balance
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from hepgan.estimator import seed_from
from hepgan.io import atomic_path, check_columns, read_metadata, read_table, write_table
from hepgan.methods.generation.config import GenerationRunConfig
from hepgan.methods.generation.evaluate import write_evaluation
from hepgan.methods.generation.model import EventGAN
from hepgan.runs import event_weights, prepare_run_dir, save_fit, split_events, torch_threads

__all__ = ["train_run", "build_model", "load_events", "write_run_report"]

log = logging.getLogger("hepgan")


def build_model(cfg: GenerationRunConfig, progress: bool = True) -> EventGAN:
    """The EventGAN of a run config."""
    m, lo, t, e = cfg.model, cfg.loss, cfg.training, cfg.evaluation
    return EventGAN(
        particles=m.particles, masses=m.masses, resonances=m.resonances, latent_dim=m.latent_dim, pt_balance=m.pt_balance,
        g_hidden=m.g_hidden, d_hidden=m.d_hidden, dropout=m.dropout,
        optimizer=t.optimizer, lr=t.lr, lr_d=t.lr_d, epochs=t.epochs, batch_size=t.batch_size, n_critic=t.n_critic,
        label_noise=lo.label_noise, roth_lambda=lo.roth_lambda, mmd_lambda=lo.mmd_lambda,
        mmd_resonances=lo.mmd_resonances, mmd_kernel=lo.mmd_kernel, mmd_widths=lo.mmd_widths, mmd_events=lo.mmd_events,
        val_events=e.val_events, peak_window=e.peak_window,
        seed=t.seed, device=t.device, checkpoint_every=t.checkpoint_every, step=t.step, progress=progress,
    )  # fmt: skip




def load_events(cfg: GenerationRunConfig) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Reads the sample and splits it (shuffled, seeded) into train / val / test. Returns (parts, file metadata)."""
    from hepgan.kinematics import momenta_columns

    d = cfg.data
    path = Path(d.train)
    df = read_table(path, drop_nan=d.drop_nan)
    needed = momenta_columns(cfg.model.particles, "pxpypze") + ([d.weight] if d.weight else [])
    check_columns(list(df.columns), needed, str(path))
    meta = read_metadata(path) if path.suffix in (".parquet", ".root") else {}
    return split_events(df, d, min_events=2), meta


def train_run(
    cfg: GenerationRunConfig,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    overwrite: bool = False,
    report: bool = True,
) -> dict[str, Any]:
    """Trains the event GAN, keeps the best epoch, generates, evaluates and writes the report.

    Bad input raises before the run folder is created. Without ``overwrite``, a folder that
    already holds a run is refused rather than lost.

    Returns:
        The summary dict (also written to run_dir/summary.json and summary.txt).
    """
    from hepgan.kinematics import event_table, table_to_momenta

    d = cfg.data
    parts, meta = load_events(cfg)
    run_dir = prepare_run_dir(run_dir, cfg, resume, overwrite)
    with torch_threads(cfg.training.threads):
        t0 = time.perf_counter()
        log.info("events: train %d, validation %d, test %d; MMD %s", len(parts["train"]), len(parts["val"]), len(parts["test"]),
                 f"lambda {cfg.loss.mmd_lambda} on {cfg.loss.mmd_resonances}" if cfg.loss.mmd_lambda > 0 else "off")  # fmt: skip
        model = build_model(cfg, progress=progress)
        model.fit(parts["train"], event_weights(parts["train"], d), validation=(parts["val"], event_weights(parts["val"], d)),
                  run_dir=run_dir, resume=resume)  # fmt: skip
        t_train = time.perf_counter() - t0
        extra = {"training_sample": str(d.train), "sigma_gen_pb": meta.get("sigma_gen_pb"),
                 "sqrt_s_gev": (meta.get("generator") or {}).get("sqrt_s_gev"), "sample_command": meta.get("command")}  # fmt: skip
        save_fit(run_dir, model, extra=extra)
        ev = run_dir / "evaluation"
        ev.mkdir(exist_ok=True)
        test = parts["test"]
        truth = event_table(table_to_momenta(test, cfg.model.particles), cfg.model.particles, cfg.model.resonances, event_weights(test, d))
        write_table(truth, ev / "truth_test.parquet", metadata={"role": "held-out truth", "source": str(d.train)})
        gen = model.sample(cfg.evaluation.events, seed=seed_from(cfg.training.seed, 11))
        write_table(gen, ev / "generated.parquet", metadata={"role": "generated", "model": "model_best.safetensors",
                                                             "best_epoch": model.best_epoch_})  # fmt: skip
    run_info = {
        "n_train": len(parts["train"]), "n_val": len(parts["val"]), "n_test": len(test), "n_generated": len(gen),
        "epochs": cfg.training.epochs, "best_epoch": model.best_epoch_, "train_seconds": round(t_train, 1),
        "mmd": {"lambda": cfg.loss.mmd_lambda, "kernel": cfg.loss.mmd_kernel, "resonances": cfg.loss.mmd_resonances,
                "widths": {r: cfg.loss.mmd_widths.get(r) for r in cfg.loss.mmd_resonances}},
        "roth_lambda": cfg.loss.roth_lambda, "pt_balance_mode": cfg.model.pt_balance,
    }  # fmt: skip
    with atomic_path(run_dir / "run_info.json") as tmp:
        tmp.write_text(json.dumps(run_info, indent=1))
    return write_evaluation(run_dir, cfg, baseline=cfg.evaluation.baseline_run, report=report)


def write_run_report(run_dir: str | Path, seed: int = 0, baseline: str | Path | None = None) -> Path:
    """The evaluation, figures, summary and report.html of a generation run folder (optionally against a baseline run)."""
    write_evaluation(run_dir, baseline=baseline)
    return Path(run_dir) / "report.html"
