"""The subtraction run: load the input samples, train (one GAN or an ensemble), evaluate, report.

A run config has ``method: subtraction`` at the top. A run folder holds::

    config.yaml             the resolved config
    history.json            per-epoch losses (loss_d_<sample>, loss_g), adv_<sample>, l_class, l_norm,
                            ratio_<sample>, roth_<sample>, the validation metric (metric_val, the
                            selecting one; w1_val, ratio_err_val, ratio_<sample>_val), lr; best_epoch
    model_best.safetensors  the kept model (member 0 of an ensemble), model_last.safetensors
    ensemble/               member_<k>.safetensors of every member (ensemble.members > 1)
    checkpoint.safetensors  for --resume (single models only: ensembles train in memory)
    evaluation/             generated.parquet (output events of member 0), truth.parquet (toys: events of
                            the true output), histograms.json (every histogram of the figures), inputs
                            figures, sections.json, roles.json
    figures/, report.html, metrics.json
    summary.json, summary.txt  the numbers: flatness, peak, coverage, GAN vs binned subtraction
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from hepgan.config import check
from hepgan.estimator import seed_from
from hepgan.exceptions import ConfigError, SchemaError
from hepgan.io import check_columns, read_metadata, read_table
from hepgan.methods.subtraction.config import SubtractionRunConfig
from hepgan.methods.subtraction.evaluate import write_evaluation
from hepgan.methods.subtraction.model import SubtractionGAN, fit_ensemble
from hepgan.runs import MethodRun, event_weights, execute_run, split_events

__all__ = ["SubtractionRun", "train_run", "build_model", "load_inputs", "write_run_report"]

log = logging.getLogger("hepgan")


def build_model(cfg: SubtractionRunConfig, progress: bool = True, member: int = 0) -> SubtractionGAN:
    """The SubtractionGAN of a run config (ensemble member ``member`` has seed training.seed + member)."""
    m, lo, t = cfg.model, cfg.loss, cfg.training
    return SubtractionGAN(
        columns=cfg.data.columns, components=m.components, samples=m.labels, output=m.output, ranges=m.ranges,
        log_columns=m.log_columns, particles=m.particles, mass_column=m.mass_column, pt_balance=m.pt_balance,
        representation=m.representation,
        latent_dim=m.latent_dim, g_hidden=m.g_hidden, d_hidden=m.d_hidden,
        alpha=lo.alpha, beta=lo.beta, class_lambda=lo.class_lambda, norm_lambda=lo.norm_lambda, roth_lambda=lo.roth_lambda,
        mmd_lambda=lo.mmd_lambda, mmd_widths=lo.mmd_widths, mmd_kernel=lo.mmd_kernel,
        val_events=cfg.evaluation.val_events,
        optimizer=t.optimizer, lr=t.lr, lr_d=t.lr_d, epochs=t.epochs, batch_size=t.batch_size, n_critic=t.n_critic,
        seed=t.seed + member, device=t.device, checkpoint_every=t.checkpoint_every, step=t.step, progress=progress,
    )  # fmt: skip


def _sigma_from_file(path: str, name: str) -> float:
    meta = read_metadata(path) if Path(path).suffix in (".parquet", ".root") else {}
    sigma = meta.get("sigma_pb")
    if not isinstance(sigma, (int, float)) or not sigma > 0:
        raise ConfigError(f"data.sigma.{name}: not given, and {path} has no cross section (metadata sigma_pb) to take it from")
    return float(sigma)


def load_inputs(cfg: SubtractionRunConfig) -> dict[str, Any]:
    """Reads (or makes) the input samples and splits each into train / validation / test.

    Returns:
        {"parts": {sample: {"train", "val", "test"}}, "sigma": {sample: cross section},
        "toy": the SubtractionToy or None, "truth": {sample: large event table} or None, "meta": {sample: file metadata}}
    """
    d = cfg.data
    names = list(cfg.model.labels)
    toy, meta, truth = None, {}, None
    if d.train == "toy":
        from hepgan.samples.toys import SubtractionToy

        toy = SubtractionToy(d.toy, tuple(d.toy_range))
        frames = {s: toy.sample(s, d.toy_events, d.toy_seed) for s in names}
        sigma = {s: float(d.sigma.get(s, toy.sigma(s))) for s in names}
    else:
        frames, sigma = {}, {}
        for s in names:
            path = d.samples[s]
            df = read_table(path, drop_nan=d.drop_nan)
            check_columns(list(df.columns), list(d.columns) + ([d.weight] if d.weight else []), str(path))
            frames[s] = df
            meta[s] = read_metadata(path) if Path(path).suffix in (".parquet", ".root") else {}
            sigma[s] = float(d.sigma[s]) if s in d.sigma else _sigma_from_file(path, s)
        if d.truth:
            check(sorted(d.truth) == sorted(names), "data.truth", f"one large event file per input sample ({', '.join(names)})", d.truth)
            truth = {}
            for s in names:
                df = read_table(d.truth[s], drop_nan=d.drop_nan)
                check_columns(list(df.columns), list(d.columns), str(d.truth[s]))
                truth[s] = df
    parts = {}
    for s in names:
        frames[s] = frames[s].reset_index(drop=True)
        if d.weight and d.weight not in frames[s]:
            frames[s][d.weight] = 1.0
        parts[s] = split_events(frames[s], d, what=f"sample {s}", min_events=2)
        for k in ("train", "val"):
            for c in d.columns:
                v = parts[s][k][c].to_numpy(np.float64)
                if not np.isfinite(v).all():
                    raise SchemaError(f"sample {s}: column '{c}' has NaN or inf values (data.drop_nan: true drops them)")
    return {"parts": parts, "sigma": sigma, "toy": toy, "truth": truth, "meta": meta}


class SubtractionRun(MethodRun):
    """The subtraction method's part of a run (hepgan.runs.execute_run does the rest)."""

    def load(self, cfg: SubtractionRunConfig) -> dict[str, Any]:
        data = load_inputs(cfg)
        # a bad label table, range or cross section fails before the run folder exists
        build_model(cfg).check_inputs({s: p["train"] for s, p in data["parts"].items()}, data["sigma"])
        build_model(cfg).check_inputs({s: p["val"] for s, p in data["parts"].items()}, data["sigma"])
        sizes = ", ".join(f"{s} {len(p['train'])}/{len(p['val'])}" for s, p in data["parts"].items())
        log.info("input samples (train/validation): %s; sigma %s", sizes, {s: round(v, 4) for s, v in data["sigma"].items()})
        return data

    def fit(self, cfg: SubtractionRunConfig, data: dict[str, Any], run_dir: Path, resume: bool, progress: bool) -> SubtractionGAN:
        d = cfg.data
        train = {s: p["train"] for s, p in data["parts"].items()}
        val = {s: p["val"] for s, p in data["parts"].items()}
        weights = {s: event_weights(df, d) for s, df in train.items()}
        k = cfg.ensemble.members
        if k == 1:
            model = build_model(cfg, progress=progress)
            model.fit(train, data["sigma"], weights, validation=val, run_dir=run_dir, resume=resume)
            data["members"] = [model]
            return model
        if resume:
            raise ConfigError("--resume: an ensemble (ensemble.members > 1) trains in memory and keeps no checkpoint; train it again")
        models = [build_model(cfg, progress=False, member=i) for i in range(k)]
        log.info("ensemble: %d members trained at once%s", k, " on bootstrap replicas of the inputs" if cfg.ensemble.bootstrap else "")
        fit_ensemble(models, train, data["sigma"], weights, validation=val, bootstrap=cfg.ensemble.bootstrap, progress=progress)
        data["members"] = models
        return models[0]

    def model_extra(self, cfg: SubtractionRunConfig, data: dict[str, Any]) -> dict[str, Any]:
        d = cfg.data
        return {"inputs": dict(d.samples) if d.train == "files" else {"toy": d.toy, "events": d.toy_events, "seed": d.toy_seed},
                "sigma": data["sigma"], "ensemble_members": cfg.ensemble.members}  # fmt: skip

    def evaluate(self, cfg: SubtractionRunConfig, data: dict[str, Any], model: SubtractionGAN, run_dir: Path, train_seconds: float) -> dict[str, Any]:
        members = data.get("members") or [model]
        if len(members) > 1:
            (run_dir / "ensemble").mkdir(exist_ok=True)
            for i, m in enumerate(members):
                m.save(run_dir / "ensemble" / f"member_{i}.safetensors", extra=self.model_extra(cfg, data))
        return write_evaluation(run_dir, cfg, data, members, train_seconds, seed=seed_from(cfg.training.seed, 11))

    def report(self, cfg: SubtractionRunConfig, run_dir: Path) -> Path:
        from hepgan.report import write_report

        return write_report(run_dir)


def train_run(cfg: SubtractionRunConfig, run_dir: str | Path, **options: Any) -> dict[str, Any]:
    """Trains the subtraction GAN (or an ensemble), evaluates it against the truth and the binned
    subtraction, and writes the run folder and report.

    Options (resume, progress, overwrite, report) as for :func:`hepgan.runs.execute_run`.
    """
    return execute_run(SubtractionRun(), cfg, run_dir, **options)


def write_run_report(run_dir: str | Path, seed: int = 0, baseline: str | Path | None = None) -> Path:
    """report.html of a finished subtraction run folder (its evaluation is kept; ``baseline`` is not used)."""
    from hepgan.report import write_report

    return write_report(Path(run_dir), seed=seed)

