"""The scaling run: load the sample, split it, train the WGAN-GP, evaluate against the held-out events, report.

A run config has ``method: scaling`` at the top. A run folder holds config.yaml, history.json
(loss_d, loss_g, gp_train, w_distance_train, w1_val, w1_max_val, lr), model_best.safetensors,
model_last.safetensors, evaluation/ (generated.parquet, heldout.parquet, roles.json, sections.json),
figures/, report.html, metrics.json, summary.json and summary.txt.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hepgan.estimator import seed_from
from hepgan.io import check_columns, read_table
from hepgan.methods.scaling.config import ScalingRunConfig
from hepgan.methods.scaling.model import TableWGAN
from hepgan.runs import MethodRun, execute_run, split_events

__all__ = ["ScalingRun", "train_run", "build_model", "write_run_report"]

log = logging.getLogger("hepgan")


def build_model(cfg: ScalingRunConfig, progress: bool = True) -> TableWGAN:
    """The TableWGAN of a run config."""
    m, t = cfg.model, cfg.training
    return TableWGAN(
        columns=cfg.data.columns, discrete_columns=cfg.data.discrete, scaling=m.scaling, latent_dim=m.latent_dim, g_hidden=m.g_hidden,
        d_hidden=m.d_hidden, gp_lambda=m.gp_lambda, betas=m.betas, val_events=cfg.evaluation.val_events,
        optimizer=t.optimizer, lr=t.lr, lr_d=t.lr_d, epochs=t.epochs, batch_size=t.batch_size, n_critic=t.n_critic, seed=t.seed,
        device=t.device, checkpoint_every=t.checkpoint_every, step=t.step, progress=progress,
    )  # fmt: skip


class ScalingRun(MethodRun):
    """The scaling method's part of a run (hepgan.runs.execute_run does the rest)."""

    def load(self, cfg: ScalingRunConfig) -> dict[str, Any]:
        d = cfg.data
        df = read_table(d.train, drop_nan=d.drop_nan)
        check_columns(list(df.columns), list(d.columns), str(d.train))
        parts = split_events(df.reset_index(drop=True), d, what=str(d.train), min_events=10)
        model = build_model(cfg)
        model._validate_params()
        for k in ("train", "val", "test"):
            model._table(parts[k], f"{d.train} ({k} split)")
        log.info("scaling: %d training, %d validation, %d held-out events of %s", len(parts["train"]), len(parts["val"]), len(parts["test"]), d.train)
        return parts

    def fit(self, cfg: ScalingRunConfig, data: dict[str, Any], run_dir: Path, resume: bool, progress: bool) -> TableWGAN:
        return build_model(cfg, progress=progress).fit(data["train"], validation=data["val"], run_dir=run_dir, resume=resume)

    def model_extra(self, cfg: ScalingRunConfig, data: dict[str, Any]) -> dict[str, Any]:
        return {"training_sample": str(cfg.data.train), "n_train": len(data["train"])}

    def evaluate(self, cfg: ScalingRunConfig, data: dict[str, Any], model: TableWGAN, run_dir: Path, train_seconds: float) -> dict[str, Any]:
        from hepgan.methods.scaling.evaluate import write_evaluation

        return write_evaluation(run_dir, cfg, data, model, train_seconds, seed=seed_from(cfg.training.seed, 11))

    def report(self, cfg: ScalingRunConfig, run_dir: Path) -> Path:
        from hepgan.report import write_report

        return write_report(run_dir)


def train_run(cfg: ScalingRunConfig, run_dir: str | Path, **options: Any) -> dict[str, Any]:
    """Trains the WGAN-GP of a scaling config, evaluates it against held-out events and writes the run folder and report.

    Options (resume, progress, overwrite, report) as for :func:`hepgan.runs.execute_run`.
    """
    return execute_run(ScalingRun(), cfg, run_dir, **options)


def write_run_report(run_dir: str | Path, seed: int = 0, baseline: str | Path | None = None) -> Path:
    """report.html of a finished scaling run folder (``baseline`` is not used)."""
    from hepgan.report import write_report

    return write_report(Path(run_dir), seed=seed)
