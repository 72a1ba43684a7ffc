"""The background-estimation run: config, train -> evaluate -> apply, and the run folder.

A run folder holds::

    config.yaml            the resolved config
    history.json           per-epoch losses, -2lnLambda on train and validation, lr; best_epoch
    model_best.safetensors the kept model (lowest validation -2lnLambda), model_last.safetensors
    checkpoint.safetensors for --resume
    evaluation/            held-out SR truth and GANed, MC CR and GANed CR tables, roles.json
    figures/, report.html, metrics.json  (hepgan.report)
    summary.txt            the numbers a physicist reads first
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from hepgan.config import check, choice, from_dict, load_yaml, to_dict
from hepgan.exceptions import ConfigError, SchemaError
from hepgan.io import ChunkedTableWriter, atomic_path, check_columns, claim_run_dir, iter_table, read_metadata, read_table, write_table
from hepgan.methods.background import DERIVE, FEATURE_SETS, X_OBJECT, ConditionalGAN, _seed_from

__all__ = ["RunConfig", "load_config", "train_run", "apply_model", "replace_objects"]

log = logging.getLogger("hepgan")


@dataclasses.dataclass
class DataConfig:
    train: str = "default"  # event table with SR and CR events; "default" = the shipped gjets sample
    x_columns: list[str] = dataclasses.field(default_factory=lambda: list(X_OBJECT))
    feature_set: str = "full"  # vanilla | partial | full (seed 002, section 3.1); ignored if c_columns given
    c_columns: list[str] | None = None
    discrete_columns: list[str] = dataclasses.field(default_factory=lambda: ["n_jets", "n_vtx"])
    weight: str | None = "weight"
    region_column: str = "region"  # 1 = SR, 0 = CR
    validation_fraction: float = 0.2
    test_fraction: float = 0.2  # held-out SR for the closure test
    max_events: int | None = None  # cap on SR events used (after shuffling)
    split_seed: int = 1
    drop_nan: bool = False

    def validate(self, where: str) -> None:
        choice(self.feature_set, FEATURE_SETS, f"{where}.feature_set")
        check(0 < self.validation_fraction < 1, f"{where}.validation_fraction", "a number in (0, 1)", self.validation_fraction)
        check(0 <= self.test_fraction < 1, f"{where}.test_fraction", "a number in [0, 1)", self.test_fraction)
        check(self.validation_fraction + self.test_fraction < 0.9, f"{where}.test_fraction", "validation + test fractions < 0.9", self.test_fraction)
        check(self.max_events is None or self.max_events >= 10, f"{where}.max_events", "an integer >= 10 or null", self.max_events)

    @property
    def conditions(self) -> list[str]:
        return list(self.c_columns) if self.c_columns is not None else list(FEATURE_SETS[self.feature_set])


@dataclasses.dataclass
class ModelConfig:
    arch: str = "mlp"
    latent_dim: int = 32
    g_hidden: list[int] = dataclasses.field(default_factory=lambda: [512, 512, 512])
    d_hidden: list[int] = dataclasses.field(default_factory=lambda: [256, 256, 256])
    dropout: float = 0.2
    n_quantiles: int = 1000

    def validate(self, where: str) -> None:
        choice(self.arch, ["mlp", "conv"], f"{where}.arch")
        check(self.latent_dim >= 1, f"{where}.latent_dim", "an integer >= 1", self.latent_dim)
        check(0 <= self.dropout < 1, f"{where}.dropout", "a number in [0, 1)", self.dropout)
        check(self.n_quantiles >= 2, f"{where}.n_quantiles", "an integer >= 2", self.n_quantiles)
        for name in ("g_hidden", "d_hidden"):
            v = getattr(self, name)
            check(len(v) > 0 and all(h >= 1 for h in v), f"{where}.{name}", "a non-empty list of positive widths", v)


@dataclasses.dataclass
class TrainingConfig:
    optimizer: str = "lamb"
    lr: float = 1e-3
    lr_d: float | None = None
    epochs: int = 100
    batch_size: int = 1024
    label_noise: float = 0.15
    seed: int = 0
    device: str = "cpu"
    checkpoint_every: int = 10
    step: str = "auto"  # eager | graph (the fast step, a CUDA graph on CUDA) | auto (graph on CUDA)

    def validate(self, where: str) -> None:
        choice(self.optimizer, ["sgd", "adam", "lamb"], f"{where}.optimizer")
        choice(self.step, ["auto", "eager", "graph"], f"{where}.step")
        check(self.lr > 0, f"{where}.lr", "a number > 0", self.lr)
        check(self.lr_d is None or self.lr_d > 0, f"{where}.lr_d", "a number > 0 or null", self.lr_d)
        check(self.epochs >= 1, f"{where}.epochs", "an integer >= 1", self.epochs)
        check(self.batch_size >= 2, f"{where}.batch_size", "an integer >= 2", self.batch_size)
        check(0 <= self.label_noise < 0.5, f"{where}.label_noise", "a number in [0, 0.5)", self.label_noise)
        check(self.checkpoint_every >= 0, f"{where}.checkpoint_every", "an integer >= 0", self.checkpoint_every)
        check(self.device in ("cpu", "auto") or self.device.startswith("cuda"), f"{where}.device", "cpu, auto or cuda[:N]", self.device)


@dataclasses.dataclass
class MetricConfig:
    columns: list[str] = dataclasses.field(default_factory=lambda: ["pho2_pt", "pho2_eta", "pho2_id", "ptgg_over_mgg"])
    bins: int = 10
    k_epoch: int = 10  # generated objects per event, per-epoch check
    k_final: int = 100  # generated objects per event, final evaluation
    events: int = 10_000  # events of train and validation used per epoch

    def validate(self, where: str) -> None:
        check(len(self.columns) > 0, f"{where}.columns", "at least one column", self.columns)
        check(2 <= self.bins <= 100, f"{where}.bins", "an integer in [2, 100]", self.bins)
        check(self.bins ** len(self.columns) <= 10**8, f"{where}.bins", "bins**len(columns) <= 1e8", self.bins)
        for name in ("k_epoch", "k_final", "events"):
            check(getattr(self, name) >= 1, f"{where}.{name}", "an integer >= 1", getattr(self, name))


@dataclasses.dataclass
class ApplyConfig:
    k: int = 1  # generated objects per CR event (weight w/k each)

    def validate(self, where: str) -> None:
        check(self.k >= 1, f"{where}.k", "an integer >= 1", self.k)


@dataclasses.dataclass
class RunConfig:
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    metric: MetricConfig = dataclasses.field(default_factory=MetricConfig)
    apply: ApplyConfig = dataclasses.field(default_factory=ApplyConfig)


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Reads a YAML run config; ``overrides`` maps dotted keys (``training.epochs``) to values."""
    data = load_yaml(path)
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    try:
        return from_dict(RunConfig, data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def packaged_config(name: str) -> Path:
    """Path of a config shipped with hepgan (demo, paper)."""
    p = Path(__file__).resolve().parent.parent / "configs" / f"{name}.yaml"
    if not p.is_file():
        raise ConfigError(f"no packaged config '{name}'")
    return p


# --------------------------------------------------------------------------- data


def _resolve_input(path: str) -> Path:
    if path == "default":
        try:
            from hepgan.samples.gjets import default_sample_path
        except ImportError as err:
            raise ConfigError("data.train: the default gjets sample is not available in this installation") from err
        return default_sample_path()
    return Path(path)


def load_events(cfg: DataConfig) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Reads the sample and splits it into SR and CR events. Returns (sr, cr, file metadata)."""
    path = _resolve_input(cfg.train)
    needed = list(dict.fromkeys(cfg.x_columns + cfg.conditions + [cfg.region_column] + ([cfg.weight] if cfg.weight else [])))
    df = read_table(path, drop_nan=cfg.drop_nan)
    check_columns(list(df.columns), needed, str(path))
    meta = read_metadata(path) if str(path).endswith((".parquet", ".root")) else {}
    region = df[cfg.region_column].to_numpy()
    sr, cr = df[region == 1].reset_index(drop=True), df[region == 0].reset_index(drop=True)
    if len(sr) < 10:
        raise SchemaError(f"{path}: the SR ({cfg.region_column} == 1) has {len(sr)} events; at least 10 are needed")
    return sr, cr, meta


def split_sr(sr: pd.DataFrame, cfg: DataConfig) -> dict[str, pd.DataFrame]:
    """Shuffled train / validation / test split of the SR (seeded by data.split_seed)."""
    rng = np.random.default_rng(cfg.split_seed)
    idx = rng.permutation(len(sr))
    if cfg.max_events is not None:
        idx = idx[: cfg.max_events]
    n = len(idx)
    n_val, n_test = int(round(cfg.validation_fraction * n)), int(round(cfg.test_fraction * n))
    parts = {"val": idx[:n_val], "test": idx[n_val : n_val + n_test], "train": idx[n_val + n_test :]}
    return {k: sr.iloc[np.sort(v)].reset_index(drop=True) for k, v in parts.items()}


def build_model(cfg: RunConfig, progress: bool = True) -> ConditionalGAN:
    m, t, d = cfg.model, cfg.training, cfg.data
    return ConditionalGAN(
        x_columns=d.x_columns,
        c_columns=d.conditions,
        discrete_columns=d.discrete_columns,
        arch=m.arch,
        latent_dim=m.latent_dim,
        g_hidden=m.g_hidden,
        d_hidden=m.d_hidden,
        dropout=m.dropout,
        optimizer=t.optimizer,
        lr=t.lr,
        lr_d=t.lr_d,
        epochs=t.epochs,
        batch_size=t.batch_size,
        label_noise=t.label_noise,
        n_quantiles=m.n_quantiles,
        metric_columns=cfg.metric.columns,
        metric_bins=cfg.metric.bins,
        metric_k=cfg.metric.k_epoch,
        metric_events=cfg.metric.events,
        derive="diphoton" if "pho2_pt" in d.x_columns else None,
        seed=t.seed,
        device=t.device,
        checkpoint_every=t.checkpoint_every,
        step=t.step,
        progress=progress,
    )


# --------------------------------------------------------------------------- apply


def replace_objects(
    model: ConditionalGAN, events: pd.DataFrame, k: int, seed: int, id_threshold: float | None, weight: str | None = "weight"
) -> pd.DataFrame:
    """Replaces the generated columns of each event by k generated objects (weight w/k each).

    Every other column is kept; columns derived from the object (m_gg, pt_gg, ptgg_over_mgg) are
    recomputed; ``region`` becomes 1 where the generated ID passes ``id_threshold`` (if known).
    """
    y = model.sample(events[model.c_columns] if model.c_columns else len(events), k=k, seed=seed)
    out = events.loc[events.index.repeat(k)].reset_index(drop=True)
    for col in model.x_columns:
        out[col] = y[col].to_numpy().astype(out[col].dtype if col in out else np.float64)
    if model.derive is not None and all(f"pho{i}_{v}" in out for i in (1, 2) for v in ("pt", "eta", "phi")):
        for col, v in DERIVE[model.derive](out).items():
            if col in out:
                out[col] = v.astype(out[col].dtype)
    if weight and weight in out and k > 1:
        out[weight] = out[weight] / k
    if "region" in out:
        out["region"] = (out["pho2_id"] > id_threshold).astype(out["region"].dtype) if id_threshold is not None and "pho2_id" in out else 1
    return out


def apply_model(
    model: ConditionalGAN | str | Path,
    cr_path: str | Path,
    out_path: str | Path,
    k: int = 1,
    seed: int = 0,
    chunk_size: int = 100_000,
    cr_only: bool = True,
    id_threshold: float | None = None,
    progress: bool = True,
    drop_nan: bool = False,
) -> dict[str, Any]:
    """Streams a CR file in chunks, replacing the failing object by generated ones.

    Args:
        model: a fitted ConditionalGAN or the path of a saved one.
        cr_path: input event table (Parquet, ROOT ``file.root[:tree]`` or CSV).
        out_path: output (.parquet or .root), written atomically.
        k: generated objects per event, weight w/k each.
        seed: seed of the generation; chunk i uses a seed derived from (seed, i).
        chunk_size: events per chunk (memory is bounded by chunk_size * k rows).
        cr_only: with a ``region`` column, keep only CR events (region == 0).
        id_threshold: photon-ID threshold for the new region label (default: the input's metadata).
        drop_nan: drop input rows with NaN/inf values (logged, with their number) instead of stopping.

    Returns:
        Summary: events in, rows out, fraction of generated objects passing the ID threshold.
    """
    if k < 1:
        raise ConfigError(f"k: expected an integer >= 1, got {k}")
    if isinstance(model, (str, Path)):
        model = ConditionalGAN.load(model)
    model.progress = progress
    meta_in = read_metadata(cr_path) if str(cr_path).split(":")[0].endswith((".parquet", ".root")) else {}
    if id_threshold is None:
        id_threshold = meta_in.get("id_threshold")
    n_in = n_out = n_pass = 0
    bar = None
    if progress:
        import sys

        from tqdm.auto import tqdm

        bar = tqdm(desc="apply", unit="event", file=sys.stderr, leave=False)
    meta = {"input": str(cr_path), "k": k, "seed": seed, "model": str(model), "id_threshold": id_threshold, "source_metadata": meta_in}
    with contextlib.ExitStack() as stack:
        if bar is not None:
            stack.callback(bar.close)  # cleared before an error line is printed
        w = stack.enter_context(ChunkedTableWriter(out_path, metadata=meta))
        for i, chunk in enumerate(iter_table(cr_path, chunk_size=chunk_size, drop_nan=drop_nan)):
            check_columns(list(chunk.columns), model.c_columns, str(cr_path))
            if cr_only and "region" in chunk:
                chunk = chunk[chunk["region"] == 0].reset_index(drop=True)
            if len(chunk) == 0:
                continue
            out = replace_objects(model, chunk, k, _seed_from(seed, i), id_threshold)
            w.write(out)
            n_in += len(chunk)
            n_out += len(out)
            if id_threshold is not None and "pho2_id" in out:
                n_pass += int((out["pho2_id"] > id_threshold).sum())
            if bar is not None:
                bar.update(len(chunk))
        if n_in == 0:
            raise SchemaError(f"{cr_path}: no CR events (region == 0) to apply the model to")
    return {"events_in": n_in, "rows_out": n_out, "pass_fraction": n_pass / n_out if id_threshold is not None else None}


# --------------------------------------------------------------------------- run


def _context_columns(cfg: RunConfig, df: pd.DataFrame) -> list[str]:
    """Event columns the metric needs (to derive pT_gg/m_gg) that are not conditions."""
    have = set(cfg.data.x_columns) | set(cfg.data.conditions)
    return [c for c in ("pho1_pt", "pho1_eta", "pho1_phi") if c in df and c not in have]


def _weights(df: pd.DataFrame, cfg: DataConfig) -> np.ndarray | None:
    return df[cfg.weight].to_numpy(dtype=np.float64) if cfg.weight else None




def _check_trainable(parts: dict[str, pd.DataFrame], d: DataConfig) -> None:
    """Names the file and column when the SR training split cannot be used."""
    where = str(_resolve_input(d.train))
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


def train_run(
    cfg: RunConfig,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    overwrite: bool = False,
    report: bool = True,
) -> dict[str, Any]:
    """Trains, keeps the best epoch, evaluates the closures, applies to the CR, writes the report.

    Bad input raises before the run folder is created or touched. Without ``overwrite``, a folder
    that already holds a run (checkpoint, model or history) is refused rather than lost. With
    ``report=False`` the HTML report is left for a later ``hepgan report RUN_DIR``.

    Returns:
        The summary dict (also written to run_dir/summary.json and summary.txt).
    """
    run_dir = Path(run_dir)
    if resume:
        if not (run_dir / "config.yaml").is_file():
            raise ConfigError(f"{run_dir}: no config.yaml to resume from")
        for stale in run_dir.glob(".*.tmp"):  # left by a process killed while writing (kill -9)
            stale.unlink()
    t0 = time.perf_counter()
    # every input check runs before the run folder is touched: bad input leaves nothing behind
    sr, cr, meta = load_events(cfg.data)
    parts = split_sr(sr, cfg.data)
    d = cfg.data
    _check_trainable(parts, d)
    if not resume:
        claim_run_dir(run_dir, overwrite)
        with atomic_path(run_dir / "config.yaml") as tmp:
            tmp.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    log.info(
        "SR %d events (train %d, validation %d, test %d), CR %d events; x = %s, c = %s",
        len(sr), len(parts["train"]), len(parts["val"]), len(parts["test"]), len(cr), d.x_columns, d.conditions,
    )
    model = build_model(cfg, progress=progress)
    tr, va = parts["train"], parts["val"]
    ctx = _context_columns(cfg, tr)
    model.fit(
        tr[d.x_columns], tr[d.conditions], _weights(tr, d),
        validation=(va[d.x_columns], va[d.conditions], _weights(va, d), va[ctx]),
        run_dir=run_dir, resume=resume, context=tr[ctx],
    )
    t_train = time.perf_counter() - t0
    from hepgan.training.loop import write_history

    write_history(run_dir / "history.json", model.history_)
    model.save(run_dir / "model_best.safetensors", which="best")
    model.save(run_dir / "model_last.safetensors", which="last")
    summary = evaluate_run(model, cfg, parts, cr, meta, run_dir)
    summary["train_seconds"] = round(t_train, 1)
    summary["best_epoch"] = model.best_epoch_
    summary["epochs"] = cfg.training.epochs
    _write_summary(run_dir, summary)
    if not report:
        return summary
    try:
        from hepgan.report import write_report
    except ImportError:
        log.warning("hepgan.report is not available: no report.html written")
    else:
        write_report(run_dir)
    return summary


def evaluate_run(model: ConditionalGAN, cfg: RunConfig, parts: dict[str, pd.DataFrame], cr: pd.DataFrame, meta: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """Writes the evaluation tables and roles.json; returns headline numbers."""
    d, seed = cfg.data, cfg.training.seed
    ev = run_dir / "evaluation"
    ev.mkdir(exist_ok=True)
    thr = meta.get("id_threshold")
    test = parts["test"] if len(parts["test"]) else parts["val"]
    summary: dict[str, Any] = {"n_train": len(parts["train"]), "n_val": len(parts["val"]), "n_test": len(test), "n_cr": len(cr), "id_threshold": thr}
    w_test = _weights(test, d)
    ctx = _context_columns(cfg, test)
    summary["metric_test_k_final"] = model.evaluate_metric(
        test[d.x_columns], test[d.conditions], w_test, k=cfg.metric.k_final, seed=_seed_from(seed, 11), context=test[ctx]
    )
    # Reference scale of eq. (2): an independent truth sample in place of the generated one
    # (the validation SR, reweighted to the test size) - what a perfect generator would score.
    va = parts["val"]
    u_test = model.metric_pre_.transform(model._metric_table(test[d.x_columns], test[d.conditions], test[ctx]).to_numpy(), np.random.default_rng(0))
    u_val = model.metric_pre_.transform(model._metric_table(va[d.x_columns], va[d.conditions], va[ctx]).to_numpy(), np.random.default_rng(0))
    from hepgan.metrics.likelihood import neg2_log_lambda

    summary["metric_test_mc_reference"] = neg2_log_lambda(u_test, u_val, bins=cfg.metric.bins, w_x=w_test, w_y=_weights(parts["val"], d))
    write_table(test, ev / "sr_val_truth.parquet", metadata={"role": "held-out SR truth"})
    gan_test = replace_objects(model, test, 1, _seed_from(seed, 12), thr, d.weight)
    write_table(gan_test, ev / "sr_val_gan.parquet", metadata={"role": "held-out SR conditions, generated object"})
    comparisons = [{"name": "closure_sr", "title": "Held-out SR: generated object vs MC truth, same events", "reference": "sr_val_truth.parquet", "test": "sr_val_gan.parquet"}]
    if len(cr):
        write_table(cr, ev / "cr_mc.parquet", metadata={"role": "MC CR, original failing object"})
        cr_gan = replace_objects(model, cr, cfg.apply.k, _seed_from(seed, 13), thr, d.weight)
        write_table(cr_gan, ev / "cr_gan.parquet", metadata={"role": "MC CR with a GANed object", "k": cfg.apply.k})
        comparisons.append({"name": "cr_to_sr", "title": "CR -> SR transfer: GANed CR vs MC SR (held out)", "reference": "sr_val_truth.parquet", "test": "cr_gan.parquet", "extra": "cr_mc.parquet"})
        w_sr = w_test if w_test is not None else np.ones(len(test))
        w_cr = _weights(cr, d) if d.weight else np.ones(len(cr))
        w_gan = _weights(cr_gan, d) if d.weight else np.ones(len(cr_gan))
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
