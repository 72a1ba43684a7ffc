"""The unfolding run: load the matched ZW sample, train the FCGAN (or the naive GAN), evaluate, report.

A run config has ``method: unfolding`` at the top. A run folder holds::

    config.yaml             the resolved config
    history.json            per-epoch losses (loss_d, loss_g), roth_train, mmd_train, w1_val (the selecting
                            metric: mean W1/IQR of one unfolded event per validation event), mass_w1_val, lr; best_epoch
    model_best.safetensors  the kept model, model_last.safetensors; checkpoint.safetensors for --resume
    evaluation/             truth_test.parquet, unfolded_test.parquet, roles.json, sections.json
    figures/, report.html, metrics.json
    summary.json, summary.txt  the numbers: full sample and slices (GAN, OmniFold, detector level),
                            calibration, W' injection
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hepgan.estimator import seed_from
from hepgan.io import check_table_columns, read_metadata, read_table
from hepgan.kinematics import momenta_columns
from hepgan.methods.unfolding.config import UnfoldingRunConfig
from hepgan.methods.unfolding.evaluate import OBSERVABLES, write_evaluation
from hepgan.methods.unfolding.model import UnfoldingGAN
from hepgan.runs import MethodRun, event_weights, execute_run, split_events

__all__ = ["UnfoldingRun", "train_run", "build_model", "load_events", "needed_columns", "write_run_report"]

log = logging.getLogger("hepgan")


def build_model(cfg: UnfoldingRunConfig, progress: bool = True) -> UnfoldingGAN:
    """The UnfoldingGAN of a run config."""
    m, lo, t = cfg.model, cfg.loss, cfg.training
    return UnfoldingGAN(
        mode=m.mode, detector=m.detector, parton=m.parton, masses=m.masses, resonances=m.resonances, latent_dim=m.latent_dim,
        residual=m.residual, residual_space=m.residual_space, d_response=m.d_response, g_hidden=m.g_hidden, d_hidden=m.d_hidden,
        roth_lambda=lo.roth_lambda, mmd_lambda=lo.mmd_lambda, energy_lambda=lo.energy_lambda, energy_per=lo.energy_per,
        mmd_masses=lo.mmd_masses, mmd_kernel=lo.mmd_kernel, mmd_widths=lo.mmd_widths, val_events=cfg.evaluation.val_events,
        optimizer=t.optimizer, lr=t.lr, lr_d=t.lr_d, epochs=t.epochs, batch_size=t.batch_size, n_critic=t.n_critic,
        seed=t.seed, device=t.device, checkpoint_every=t.checkpoint_every, step=t.step, progress=progress,
    )  # fmt: skip


def needed_columns(cfg: UnfoldingRunConfig) -> list[str]:
    """The columns a training (or W') file must have: both levels' momenta, the evaluated observables and the slice cuts."""
    det_obs = [f"det_{o}_{v}" for o in ("j1", "j2", "lm", "lp") for v in ("pt", "eta", "phi")] + ["det_m_jj", "det_m_ll", "det_m_zw"]
    return list(dict.fromkeys(momenta_columns(cfg.model.detector) + momenta_columns(cfg.model.parton) + list(OBSERVABLES) + det_obs))


def load_events(cfg: UnfoldingRunConfig) -> dict[str, Any]:
    """Reads the matched sample (split, seeded, into train / val / test) and the W' sample if given."""
    d = cfg.data
    wanted = needed_columns(cfg) + ([d.weight] if d.weight else [])
    check_table_columns(d.train, wanted, d.aliases, d.cut)
    df = read_table(d.train, drop_nan=d.drop_nan, aliases=d.aliases, cut=d.cut)
    meta = read_metadata(d.train) if Path(d.train).suffix in (".parquet", ".root") else {}
    injection = None
    if d.injection is not None:
        check_table_columns(d.injection, needed_columns(cfg), d.aliases)
        injection = read_table(d.injection, drop_nan=d.drop_nan, aliases=d.aliases).reset_index(drop=True)
    return {"parts": split_events(df, d, min_events=2), "meta": meta, "injection": injection}


class UnfoldingRun(MethodRun):
    """The unfolding method's part of a run (hepgan.runs.execute_run does the rest)."""

    def load(self, cfg: UnfoldingRunConfig) -> dict[str, Any]:
        data = load_events(cfg)
        p = data["parts"]
        log.info("events: train %d, validation %d, test %d; %s; W' events %s", len(p["train"]), len(p["val"]), len(p["test"]),
                 cfg.model.mode, "none" if data["injection"] is None else len(data["injection"]))  # fmt: skip
        return data

    def fit(self, cfg: UnfoldingRunConfig, data: dict[str, Any], run_dir: Path, resume: bool, progress: bool) -> UnfoldingGAN:
        tr, va, d = data["parts"]["train"], data["parts"]["val"], cfg.data
        return build_model(cfg, progress=progress).fit(tr, event_weights(tr, d), validation=(va, event_weights(va, d)), run_dir=run_dir, resume=resume)

    def model_extra(self, cfg: UnfoldingRunConfig, data: dict[str, Any]) -> dict[str, Any]:
        meta = data["meta"]
        return {"training_sample": str(cfg.data.train), "sample_command": meta.get("command"), "detector": meta.get("detector")}

    def evaluate(self, cfg: UnfoldingRunConfig, data: dict[str, Any], model: UnfoldingGAN, run_dir: Path, train_seconds: float) -> dict[str, Any]:
        return write_evaluation(run_dir, cfg, data, model, train_seconds, seed=seed_from(cfg.training.seed, 11))

    def report(self, cfg: UnfoldingRunConfig, run_dir: Path) -> Path:
        from hepgan.report import write_report

        return write_report(run_dir, dcor_max_events=20_000)

    def input_files(self, cfg: UnfoldingRunConfig) -> list[Path]:
        return [Path(p) for p in (cfg.data.train, cfg.data.injection) if p is not None]


def train_run(cfg: UnfoldingRunConfig, run_dir: str | Path, **options: Any) -> dict[str, Any]:
    """Trains the unfolding GAN, evaluates it (slices, calibration, W', OmniFold) and writes the run folder and report.

    Options (resume, progress, overwrite, report) as for :func:`hepgan.runs.execute_run`.
    """
    return execute_run(UnfoldingRun(), cfg, run_dir, **options)


def write_run_report(run_dir: str | Path, seed: int = 0, baseline: str | Path | None = None) -> Path:
    """report.html of a finished unfolding run folder (its evaluation is kept; ``baseline`` is not used)."""
    from hepgan.report import write_report

    return write_report(Path(run_dir), seed=seed, dcor_max_events=20_000)
