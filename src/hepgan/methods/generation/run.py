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
from pathlib import Path
from typing import Any

import pandas as pd

from hepgan.estimator import seed_from
from hepgan.io import atomic_path, check_table_columns, read_metadata, read_table, write_table
from hepgan.methods.generation.config import GenerationRunConfig
from hepgan.methods.generation.evaluate import write_evaluation
from hepgan.methods.generation.model import EventGAN
from hepgan.runs import MethodRun, event_weights, execute_run, split_events

__all__ = ["GenerationRun", "train_run", "build_model", "load_events", "write_run_report"]

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
    needed = momenta_columns(cfg.model.particles, "pxpypze") + ([d.weight] if d.weight else [])
    check_table_columns(path, needed, d.aliases, d.cut)
    df = read_table(path, drop_nan=d.drop_nan, aliases=d.aliases, cut=d.cut)
    meta = read_metadata(path) if path.suffix in (".parquet", ".root") else {}
    return split_events(df, d, min_events=2), meta


class GenerationRun(MethodRun):
    """The generation method's part of a run (hepgan.runs.execute_run does the rest)."""

    def load(self, cfg: GenerationRunConfig) -> dict[str, Any]:
        parts, meta = load_events(cfg)
        log.info("events: train %d, validation %d, test %d; MMD %s", len(parts["train"]), len(parts["val"]), len(parts["test"]),
                 f"lambda {cfg.loss.mmd_lambda} on {cfg.loss.mmd_resonances}" if cfg.loss.mmd_lambda > 0 else "off")  # fmt: skip
        return {"parts": parts, "meta": meta}

    def fit(self, cfg: GenerationRunConfig, data: dict[str, Any], run_dir: Path, resume: bool, progress: bool) -> EventGAN:
        tr, va, d = data["parts"]["train"], data["parts"]["val"], cfg.data
        return build_model(cfg, progress=progress).fit(tr, event_weights(tr, d), validation=(va, event_weights(va, d)), run_dir=run_dir, resume=resume)

    def model_extra(self, cfg: GenerationRunConfig, data: dict[str, Any]) -> dict[str, Any]:
        meta = data["meta"]
        return {"training_sample": str(cfg.data.train), "sigma_gen_pb": meta.get("sigma_gen_pb"),
                "sqrt_s_gev": (meta.get("generator") or {}).get("sqrt_s_gev"), "sample_command": meta.get("command")}  # fmt: skip

    def evaluate(self, cfg: GenerationRunConfig, data: dict[str, Any], model: EventGAN, run_dir: Path, train_seconds: float) -> dict[str, Any]:
        from hepgan.kinematics import event_table, table_to_momenta

        parts, d = data["parts"], cfg.data
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
            "epochs": cfg.training.epochs, "best_epoch": model.best_epoch_, "train_seconds": round(train_seconds, 1),
            "mmd": {"lambda": cfg.loss.mmd_lambda, "kernel": cfg.loss.mmd_kernel, "resonances": cfg.loss.mmd_resonances,
                    "widths": {r: cfg.loss.mmd_widths.get(r) for r in cfg.loss.mmd_resonances}},
            "roth_lambda": cfg.loss.roth_lambda, "pt_balance_mode": cfg.model.pt_balance,
        }  # fmt: skip
        with atomic_path(run_dir / "run_info.json") as tmp:
            tmp.write_text(json.dumps(run_info, indent=1))
        return write_evaluation(run_dir, cfg, baseline=cfg.evaluation.baseline_run, report=False)

    def report(self, cfg: GenerationRunConfig, run_dir: Path) -> Path:
        from hepgan.report import write_report

        return write_report(run_dir, dcor_max_events=cfg.evaluation.dcor_max_events)


def train_run(cfg: GenerationRunConfig, run_dir: str | Path, **options: Any) -> dict[str, Any]:
    """Trains the event GAN, keeps the best epoch, generates, evaluates and writes the report.

    Options (resume, progress, overwrite, report) as for :func:`hepgan.runs.execute_run`.
    """
    return execute_run(GenerationRun(), cfg, run_dir, **options)


def write_run_report(run_dir: str | Path, seed: int = 0, baseline: str | Path | None = None) -> Path:
    """The evaluation, figures, summary and report.html of a generation run folder (optionally against a baseline run)."""
    write_evaluation(run_dir, baseline=baseline)
    return Path(run_dir) / "report.html"
