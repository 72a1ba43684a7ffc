"""The background-estimation run: train -> evaluate -> apply to the CR, and the run folder.

A run folder holds::

    config.yaml            the resolved config
    history.json           per-epoch losses, -2lnLambda on train and validation (neg2lnL_train,
                           neg2lnL_val), lr; best_epoch
    model_best.safetensors the kept model (lowest validation -2lnLambda), model_last.safetensors
    checkpoint.safetensors for --resume
    evaluation/            held-out SR truth and GANed, MC CR and GANed CR tables, roles.json
    figures/, report.html, metrics.json  (hepgan.report)
    summary.txt            the numbers a physicist reads first
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hepgan.estimator import seed_from
from hepgan.exceptions import ConfigError, SchemaError
from hepgan.io import atomic_path, check_table_columns, read_metadata, read_table, write_table
from hepgan.methods.background.apply import replace_objects
from hepgan.methods.background.config import BackgroundData, BackgroundRunConfig
from hepgan.methods.background.model import ConditionalGAN
from hepgan.runs import MethodRun, event_weights, execute_run, split_events

__all__ = ["BackgroundRun", "train_run", "build_model", "load_events", "split_sr", "evaluate_run", "write_run_report", "check_trainable", "context_columns"]

log = logging.getLogger("hepgan")
#: Further samplings of the generator on the held-out SR (their spread is a band in the figures).
REPLICAS = 4


# --------------------------------------------------------------------------- data


def resolve_input(path: str) -> Path:
    """``data.train``: a file, or ``default`` for the shipped gjets sample."""
    if path == "default":
        try:
            from hepgan.samples.gjets import default_sample_path
        except ImportError as err:
            raise ConfigError("data.train: the default gjets sample is not available in this installation") from err
        return default_sample_path()
    return Path(path)


def load_events(cfg: BackgroundData) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Reads the sample and splits it into SR and CR events. Returns (sr, cr, file metadata)."""
    path = resolve_input(cfg.train)
    needed = list(dict.fromkeys(cfg.x_columns + cfg.conditions + [cfg.region_column] + ([cfg.weight] if cfg.weight else [])
                                + ([cfg.group] if cfg.group else [])))
    check_table_columns(path, needed, cfg.aliases, cfg.cut)
    df = read_table(path, drop_nan=cfg.drop_nan, aliases=cfg.aliases, cut=cfg.cut)
    meta = read_metadata(path) if str(path).endswith((".parquet", ".root")) else {}
    region = df[cfg.region_column].to_numpy()
    sr, cr = df[region == 1].reset_index(drop=True), df[region == 0].reset_index(drop=True)
    if len(sr) < 10:
        raise SchemaError(f"{path}: the SR ({cfg.region_column} == 1) has {len(sr)} events; at least 10 are needed")
    return sr, cr, meta


def split_sr(sr: pd.DataFrame, cfg: BackgroundData) -> dict[str, pd.DataFrame]:
    """Shuffled train / validation / test split of the SR (seeded by data.split_seed)."""
    return split_events(sr, cfg, what="SR", min_events=0)


def build_model(cfg: BackgroundRunConfig, progress: bool = True) -> ConditionalGAN:
    """The ConditionalGAN of a run config."""
    m, t, d = cfg.model, cfg.training, cfg.data
    return ConditionalGAN(
        x_columns=d.x_columns, c_columns=d.conditions, discrete_columns=d.discrete_columns,
        arch=m.arch, latent_dim=m.latent_dim, g_hidden=m.g_hidden, d_hidden=m.d_hidden, dropout=m.dropout,
        optimizer=t.optimizer, lr=t.lr, lr_d=t.lr_d, epochs=t.epochs, batch_size=t.batch_size, n_critic=t.n_critic,
        label_noise=t.label_noise, n_quantiles=m.n_quantiles, flatten_column=t.flatten_column, flatten_bins=t.flatten_bins,
        r1_gamma=t.r1_gamma, r2_gamma=t.r2_gamma,
        flow_transforms=m.flow_transforms, flow_bins=m.flow_bins,
        metric_columns=cfg.metric.columns, metric_bins=cfg.metric.bins, metric_k=cfg.metric.k_epoch, metric_events=cfg.metric.events,
        derive="diphoton" if "pho2_pt" in d.x_columns else None,
        seed=t.seed, device=t.device, checkpoint_every=t.checkpoint_every, step=t.step, progress=progress,
    )  # fmt: skip


# --------------------------------------------------------------------------- run


def context_columns(cfg: BackgroundRunConfig, df: pd.DataFrame) -> list[str]:
    """Event columns the metric needs (to derive pT_gg/m_gg) that are not conditions."""
    have = set(cfg.data.x_columns) | set(cfg.data.conditions)
    return [c for c in ("pho1_pt", "pho1_eta", "pho1_phi") if c in df and c not in have]


def check_trainable(parts: dict[str, pd.DataFrame], d: BackgroundData) -> None:
    """Names the file and column when the SR training split cannot be used."""
    where = str(resolve_input(d.train))
    for name in ("train", "val"):
        if len(parts[name]) == 0:
            raise SchemaError(f"{where}: the SR {name} split is empty; lower data.validation_fraction / test_fraction or give more SR events")
    tr = parts["train"]
    for c in dict.fromkeys(d.x_columns + d.conditions):
        values = np.unique(tr[c].to_numpy())
        if len(values) < 2:
            raise SchemaError(
                f"{where}: column '{c}' is constant ({values[0]:g}) in all {len(tr)} SR training events; "
                "a constant column carries no information: remove it from the feature set"
            )


class BackgroundRun(MethodRun):
    """The background method's part of a run (hepgan.runs.execute_run does the rest)."""

    def load(self, cfg: BackgroundRunConfig) -> dict[str, Any]:
        d = cfg.data
        sr, cr, meta = load_events(d)
        parts = split_sr(sr, d)
        check_trainable(parts, d)
        log.info(
            "SR %d events (train %d, validation %d, test %d), CR %d events; x = %s, c = %s",
            len(sr), len(parts["train"]), len(parts["val"]), len(parts["test"]), len(cr), d.x_columns, d.conditions,
        )  # fmt: skip
        return {"parts": parts, "cr": cr, "meta": meta}

    def fit(self, cfg: BackgroundRunConfig, data: dict[str, Any], run_dir: Path, resume: bool, progress: bool) -> ConditionalGAN:
        d = cfg.data
        tr, va = data["parts"]["train"], data["parts"]["val"]
        ctx = context_columns(cfg, tr)
        return build_model(cfg, progress=progress).fit(
            tr[d.x_columns], tr[d.conditions], event_weights(tr, d),
            validation=(va[d.x_columns], va[d.conditions], event_weights(va, d), va[ctx]),
            run_dir=run_dir, resume=resume, context=tr[ctx],
        )  # fmt: skip

    def evaluate(self, cfg: BackgroundRunConfig, data: dict[str, Any], model: ConditionalGAN, run_dir: Path, train_seconds: float) -> dict[str, Any]:
        summary = evaluate_run(model, cfg, data["parts"], data["cr"], data["meta"], run_dir)
        summary["train_seconds"] = round(train_seconds, 1)
        summary["best_epoch"] = model.best_epoch_
        summary["epochs"] = cfg.training.epochs
        _write_summary(run_dir, summary)
        return summary

    def report(self, cfg: BackgroundRunConfig, run_dir: Path) -> Path:
        return write_run_report(run_dir)

    def input_files(self, cfg: BackgroundRunConfig) -> list[Path]:
        return [resolve_input(cfg.data.train)]


def train_run(cfg: BackgroundRunConfig, run_dir: str | Path, **options: Any) -> dict[str, Any]:
    """Trains, keeps the best epoch, evaluates both closures, applies to the CR, writes the report.

    Options (resume, progress, overwrite, report) as for :func:`hepgan.runs.execute_run`.
    """
    return execute_run(BackgroundRun(), cfg, run_dir, **options)


def write_run_report(run_dir: str | Path, seed: int = 0, baseline: str | Path | None = None) -> Path:
    """report.html and metrics.json of a background-estimation run folder (hepgan.report).

    With ``baseline`` (another run on the same held-out events, e.g. the flow beside the GAN) both
    are evaluated on the same events and shown side by side.
    """
    from hepgan.report import write_report

    return write_report(run_dir, seed=seed, baseline=baseline)


def evaluate_run(
    model: ConditionalGAN, cfg: BackgroundRunConfig, parts: dict[str, pd.DataFrame], cr: pd.DataFrame, meta: dict[str, Any], run_dir: Path
) -> dict[str, Any]:
    """Writes the evaluation tables and roles.json; returns headline numbers."""
    d, seed = cfg.data, cfg.training.seed
    ev = run_dir / "evaluation"
    ev.mkdir(exist_ok=True)
    thr = meta.get("id_threshold")
    test = parts["test"] if len(parts["test"]) else parts["val"]
    summary: dict[str, Any] = {"n_train": len(parts["train"]), "n_val": len(parts["val"]), "n_test": len(test), "n_cr": len(cr), "id_threshold": thr}
    w_test = event_weights(test, d)
    ctx = context_columns(cfg, test)
    log.info("evaluation: -2lnLambda on the %d held-out SR events with k = %d generated objects each", len(test), cfg.metric.k_final)
    summary["metric_test_k_final"] = model.evaluate_metric(
        test[d.x_columns], test[d.conditions], w_test, k=cfg.metric.k_final, seed=seed_from(seed, 11), context=test[ctx]
    )
    # Reference scale of eq. (2): an independent truth sample in place of the generated one
    # (the validation SR, reweighted to the test size) - what a perfect generator would score.
    va = parts["val"]
    u_test = model.metric_pre_.transform(model.metric_table(test[d.x_columns], test[d.conditions], test[ctx]).to_numpy(), np.random.default_rng(0))
    u_val = model.metric_pre_.transform(model.metric_table(va[d.x_columns], va[d.conditions], va[ctx]).to_numpy(), np.random.default_rng(0))
    from hepgan.metrics.likelihood import neg2_log_lambda

    summary["metric_test_mc_reference"] = neg2_log_lambda(u_test, u_val, bins=cfg.metric.bins, w_x=w_test, w_y=event_weights(va, d))
    write_table(test, ev / "sr_val_truth.parquet", metadata={"role": "held-out SR truth"})
    gan_test = replace_objects(model, test, 1, seed_from(seed, 12), thr, d.weight)
    write_table(gan_test, ev / "sr_val_gan.parquet", metadata={"role": "held-out SR conditions, generated object"})
    replicas = []  # other samplings of the generator (latent noise): the spread the figures show as a band
    for r in range(1, REPLICAS + 1):
        name = f"sr_val_gan_r{r}.parquet"
        write_table(replace_objects(model, test, 1, seed_from(seed, 12, r), thr, d.weight), ev / name,
                    metadata={"role": f"held-out SR conditions, generated object, sampling {r + 1}"})  # fmt: skip
        replicas.append(name)
    gen = "flow" if cfg.model.arch == "flow" else "GAN"
    comparisons = [{"name": "closure_sr", "title": "Held-out SR: generated object vs MC truth, same events", "labels": ["MC SR", gen],
                    "reference": "sr_val_truth.parquet", "test": "sr_val_gan.parquet", "replicas": replicas}]  # fmt: skip
    if len(cr):
        log.info("evaluation: a generated object for each of the %d CR events (k = %d)", len(cr), cfg.apply.k)
        write_table(cr, ev / "cr_mc.parquet", metadata={"role": "MC CR, original failing object"})
        cr_gan = replace_objects(model, cr, cfg.apply.k, seed_from(seed, 13), thr, d.weight)
        write_table(cr_gan, ev / "cr_gan.parquet", metadata={"role": "MC CR with a GANed object", "k": cfg.apply.k})
        comparisons.append({"name": "cr_to_sr", "title": f"CR -> SR transfer: CR with a {gen} object vs MC SR (held out)",
                            "labels": ["MC SR", f"{gen}-ed CR"],
                            "reference": "sr_val_truth.parquet", "test": "cr_gan.parquet", "extra": "cr_mc.parquet"})  # fmt: skip
        w_sr = w_test if w_test is not None else np.ones(len(test))
        w_cr = event_weights(cr, d) if d.weight else np.ones(len(cr))
        w_gan = event_weights(cr_gan, d) if d.weight else np.ones(len(cr_gan))
        for name, df, w in [("mc_sr", test, w_sr), ("mc_cr", cr, w_cr), ("gan_cr", cr_gan, w_gan)]:
            summary[f"{name}_pho2_pt_mean"] = float(np.average(df["pho2_pt"], weights=w)) if "pho2_pt" in df else None
            summary[f"{name}_pho2_id_mean"] = float(np.average(df["pho2_id"], weights=w)) if "pho2_id" in df else None
        if thr is not None and "pho2_id" in cr_gan:
            summary["gan_cr_id_pass_fraction"] = float(np.average(cr_gan["pho2_id"] > thr, weights=np.abs(w_gan)))
    observables = list(dict.fromkeys(d.conditions + d.x_columns + [c for c in ("m_gg", "ptgg_over_mgg", "lead_jet_pt") if c in test]))
    roles = {"x_columns": d.x_columns, "c_columns": d.conditions, "observables": observables, "weight": d.weight, "comparisons": comparisons}
    with atomic_path(ev / "roles.json") as tmp:
        tmp.write_text(json.dumps(roles, indent=1))
    return summary


def _write_summary(run_dir: Path, s: dict[str, Any]) -> None:
    with atomic_path(run_dir / "summary.json") as tmp:
        tmp.write_text(json.dumps(s, indent=1))
    lines = [
        f"hepgan background-estimation run: {run_dir}",
        f"SR events: train {s['n_train']}, validation {s['n_val']}, held-out test {s['n_test']}; CR events {s['n_cr']}",
        f"training: {s['epochs']} epochs in {s['train_seconds']} s; kept epoch {s['best_epoch']} (lowest validation -2lnLambda)",
        f"-2lnLambda on the held-out SR with k generated objects/event: {s['metric_test_k_final']:.1f}"
        f"   (an independent MC sample in place of the GAN: {s['metric_test_mc_reference']:.1f}; lower is better)",
    ]
    if "mc_sr_pho2_pt_mean" in s and s["mc_sr_pho2_pt_mean"] is not None:
        lines.append(
            f"mean pho2 pT [GeV]: MC SR {s['mc_sr_pho2_pt_mean']:.2f}, MC CR {s['mc_cr_pho2_pt_mean']:.2f}, GANed CR {s['gan_cr_pho2_pt_mean']:.2f}"
        )
        lines.append(
            f"mean pho2 ID score: MC SR {s['mc_sr_pho2_id_mean']:.3f}, MC CR {s['mc_cr_pho2_id_mean']:.3f}, GANed CR {s['gan_cr_pho2_id_mean']:.3f}"
        )
    if s.get("gan_cr_id_pass_fraction") is not None:
        lines.append(f"GANed CR objects passing the ID threshold {s['id_threshold']}: {100 * s['gan_cr_id_pass_fraction']:.1f} %")
    with atomic_path(run_dir / "summary.txt") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
