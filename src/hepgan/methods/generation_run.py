"""The event-generation run: config, train -> generate -> evaluate, and the run folder.

A run config has ``method: generation`` at the top (``hepgan train`` dispatches on it).
A run folder holds::

    config.yaml             the resolved config
    history.json            per-epoch losses, MMD term, regulariser, validation metrics, lr; best_epoch
    model_best.safetensors  the kept model (lowest validation metric), model_last.safetensors
    checkpoint.safetensors  for --resume
    evaluation/             truth_test.parquet (held-out Pythia events), generated.parquet,
                            roles.json (for hepgan.report), sections.json (the physics sections)
    figures/, report.html, metrics.json
    summary.json, summary.txt  the numbers a physicist reads first: peak widths, pT balance

Peak width: half the interquartile range of the invariant masses inside a window of
``evaluation.peak_window`` GeV around the median of the held-out truth
(:func:`hepgan.methods.generation.peak_width`); truth and generated events are measured
in the same window. pT balance: ``|sum_i pT_i| / sum_i |pT_i|`` over the six partons per
event (0 for the Pythia truth: no initial-state radiation at this level).
"""

from __future__ import annotations

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
from hepgan.exceptions import ConfigError, InputFileError, SchemaError
from hepgan.io import atomic_path, check_columns, claim_run_dir, read_metadata, read_table, write_table
from hepgan.methods.generation import MOMENTUM_SUMS, TTBAR_MASSES, TTBAR_MMD_WIDTHS, EventGAN, _seed_from, peak_width, weighted_quantile
from hepgan.samples.ttbar import TTBAR_PARTONS, TTBAR_RESONANCES

__all__ = ["GenerationRunConfig", "load_config", "is_generation_config", "train_run", "build_model", "write_evaluation", "generate_file"]

log = logging.getLogger("hepgan")
METHOD = "generation"


@dataclasses.dataclass
class DataConfig:
    train: str = "ttbar.parquet"  # event table made by `hepgan sample ttbar`
    weight: str | None = "weight"  # weight column (null: unit weights)
    validation_fraction: float = 0.1
    test_fraction: float = 0.2  # held-out truth of the final evaluation
    max_events: int | None = None  # cap on events used (after shuffling)
    split_seed: int = 1

    def validate(self, where: str) -> None:
        check(0 < self.validation_fraction < 1, f"{where}.validation_fraction", "a number in (0, 1)", self.validation_fraction)
        check(0 < self.test_fraction < 1, f"{where}.test_fraction", "a number in (0, 1)", self.test_fraction)
        check(self.validation_fraction + self.test_fraction < 0.9, f"{where}.test_fraction",
              "validation + test fractions < 0.9", self.test_fraction)  # fmt: skip
        check(self.max_events is None or self.max_events >= 20, f"{where}.max_events", "an integer >= 20 or null", self.max_events)


@dataclasses.dataclass
class ModelConfig:
    particles: list[str] = dataclasses.field(default_factory=lambda: list(TTBAR_PARTONS))
    masses: list[float] = dataclasses.field(default_factory=lambda: list(TTBAR_MASSES))  # GeV, fixed external masses
    resonances: dict[str, list[int]] = dataclasses.field(default_factory=lambda: {k: list(v) for k, v in TTBAR_RESONANCES.items()})
    latent_dim: int = 18
    pt_balance: str = "learned"  # learned (the paper) | exact (projected onto sum pT = 0 by construction)
    g_hidden: list[int] = dataclasses.field(default_factory=lambda: [256, 256, 256])
    d_hidden: list[int] = dataclasses.field(default_factory=lambda: [128, 128, 128])
    dropout: float = 0.0

    def validate(self, where: str) -> None:
        check(len(self.particles) > 0 and len(set(self.particles)) == len(self.particles), f"{where}.particles",
              "distinct parton names", self.particles)  # fmt: skip
        check(len(self.masses) == len(self.particles) and all(m >= 0 for m in self.masses), f"{where}.masses",
              f"{len(self.particles)} masses >= 0 (GeV), one per particle", self.masses)  # fmt: skip
        for r, idx in self.resonances.items():
            ok = isinstance(idx, list) and len(idx) >= 2 and all(isinstance(i, int) and 0 <= i < len(self.particles) for i in idx)
            check(ok, f"{where}.resonances.{r}", f">= 2 particle indices in [0, {len(self.particles)})", idx)
        check(self.latent_dim >= 1, f"{where}.latent_dim", "an integer >= 1", self.latent_dim)
        choice(self.pt_balance, ["learned", "exact"], f"{where}.pt_balance")
        check(0 <= self.dropout < 1, f"{where}.dropout", "a number in [0, 1)", self.dropout)
        for name in ("g_hidden", "d_hidden"):
            v = getattr(self, name)
            check(len(v) > 0 and all(h >= 1 for h in v), f"{where}.{name}", "a non-empty list of positive widths", v)


@dataclasses.dataclass
class LossConfig:
    label_noise: float = 0.0
    roth_lambda: float = 1.0e-3  # lambda_D of the Roth et al. regulariser (0: off)
    mmd_lambda: float = 1.0  # weight of the MMD term (0: off)
    mmd_resonances: list[str] = dataclasses.field(default_factory=lambda: ["m_wp", "m_wm", "m_t", "m_tbar"])
    mmd_kernel: str = "breit_wigner"  # breit_wigner | gaussian
    mmd_widths: dict[str, list[float]] = dataclasses.field(default_factory=lambda: {k: list(v) for k, v in TTBAR_MMD_WIDTHS.items()})
    mmd_events: int | None = None  # events of each batch in the MMD term (null: the whole batch)

    def validate(self, where: str) -> None:
        check(0 <= self.label_noise < 0.5, f"{where}.label_noise", "a number in [0, 0.5)", self.label_noise)
        check(self.roth_lambda >= 0, f"{where}.roth_lambda", "a number >= 0", self.roth_lambda)
        check(self.mmd_lambda >= 0, f"{where}.mmd_lambda", "a number >= 0", self.mmd_lambda)
        choice(self.mmd_kernel, ["breit_wigner", "gaussian"], f"{where}.mmd_kernel")
        for r, ws in self.mmd_widths.items():
            ok = isinstance(ws, list) and len(ws) > 0 and all(isinstance(s, (int, float)) and not isinstance(s, bool) and s > 0 for s in ws)
            check(ok, f"{where}.mmd_widths.{r}", "a non-empty list of widths > 0 (GeV)", ws)
        if self.mmd_lambda > 0:
            for r in self.mmd_resonances:
                check(r in self.mmd_widths, f"{where}.mmd_widths", f"widths for every MMD resonance ({r} has none)", self.mmd_widths)
        check(self.mmd_events is None or self.mmd_events >= 2, f"{where}.mmd_events", "an integer >= 2 or null", self.mmd_events)


@dataclasses.dataclass
class TrainingConfig:
    optimizer: str = "adam"
    lr: float = 1e-3
    lr_d: float | None = None
    epochs: int = 100
    batch_size: int = 512
    n_critic: int = 1
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None  # torch CPU threads (null: torch's default)
    checkpoint_every: int = 10

    def validate(self, where: str) -> None:
        choice(self.optimizer, ["sgd", "adam", "lamb"], f"{where}.optimizer")
        check(self.lr > 0, f"{where}.lr", "a number > 0", self.lr)
        check(self.lr_d is None or self.lr_d > 0, f"{where}.lr_d", "a number > 0 or null", self.lr_d)
        check(self.epochs >= 1, f"{where}.epochs", "an integer >= 1", self.epochs)
        check(self.batch_size >= 2, f"{where}.batch_size", "an integer >= 2", self.batch_size)
        check(self.n_critic >= 1, f"{where}.n_critic", "an integer >= 1", self.n_critic)
        check(self.threads is None or self.threads >= 1, f"{where}.threads", "an integer >= 1 or null", self.threads)
        check(self.checkpoint_every >= 0, f"{where}.checkpoint_every", "an integer >= 0", self.checkpoint_every)
        check(self.device in ("cpu", "auto") or self.device.startswith("cuda"), f"{where}.device", "cpu, auto or cuda[:N]", self.device)


@dataclasses.dataclass
class EvaluationConfig:
    events: int = 50_000  # generated events of the final evaluation
    val_events: int = 20_000  # generated events per epoch (validation metrics)
    peak_window: float = 10.0  # GeV, half-width of the peak-width window
    baseline_run: str | None = None  # another run folder (e.g. without MMD) overlaid in the figures
    dcor_max_events: int = 20_000  # subsample of the distance-correlation matrices
    figures: bool = True  # false: numbers and sections only (figures later with hepgan report RUN_DIR)

    def validate(self, where: str) -> None:
        for name in ("events", "val_events", "dcor_max_events"):
            check(getattr(self, name) >= 100, f"{where}.{name}", "an integer >= 100", getattr(self, name))
        check(self.peak_window > 0, f"{where}.peak_window", "a number > 0 (GeV)", self.peak_window)


@dataclasses.dataclass
class GenerationRunConfig:
    method: str = METHOD
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = dataclasses.field(default_factory=EvaluationConfig)

    def validate(self, where: str) -> None:
        choice(self.method, [METHOD], f"{where}.method" if where else "method")
        for r in self.loss.mmd_resonances:
            known = [*self.model.resonances, *MOMENTUM_SUMS]
            check(r in known, "loss.mmd_resonances", f"resonances of model.resonances or momentum sums ({', '.join(known)})", r)


def is_generation_config(path: str | Path) -> bool:
    """True when ``path`` is a YAML run config with ``method: generation`` (False if unreadable)."""
    try:
        return load_yaml(path).get("method") == METHOD
    except ConfigError:
        return False


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> GenerationRunConfig:
    """Reads a YAML run config; ``overrides`` maps dotted keys (``training.epochs``) to values."""
    data = load_yaml(path)
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            if not isinstance(node.get(p, {}), dict):
                raise ConfigError(f"--set {dotted}: '{p}' is not a section")
            node = node.setdefault(p, {})
        node[leaf] = value
    try:
        return from_dict(GenerationRunConfig, data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def build_model(cfg: GenerationRunConfig, progress: bool = True) -> EventGAN:
    m, lo, t, e = cfg.model, cfg.loss, cfg.training, cfg.evaluation
    return EventGAN(
        particles=m.particles, masses=m.masses, resonances=m.resonances, latent_dim=m.latent_dim, pt_balance=m.pt_balance,
        g_hidden=m.g_hidden, d_hidden=m.d_hidden, dropout=m.dropout,
        optimizer=t.optimizer, lr=t.lr, lr_d=t.lr_d, epochs=t.epochs, batch_size=t.batch_size, n_critic=t.n_critic,
        label_noise=lo.label_noise, roth_lambda=lo.roth_lambda, mmd_lambda=lo.mmd_lambda,
        mmd_resonances=lo.mmd_resonances, mmd_kernel=lo.mmd_kernel, mmd_widths=lo.mmd_widths, mmd_events=lo.mmd_events,
        val_events=e.val_events, peak_window=e.peak_window,
        seed=t.seed, device=t.device, checkpoint_every=t.checkpoint_every, progress=progress,
    )  # fmt: skip


# --------------------------------------------------------------------------- data


def load_events(cfg: GenerationRunConfig) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Reads the sample and splits it (shuffled, seeded) into train / val / test. Returns (parts, file metadata)."""
    from hepgan.kinematics import momenta_columns

    d = cfg.data
    path = Path(d.train)
    df = read_table(path)
    needed = momenta_columns(cfg.model.particles, "pxpypze") + ([d.weight] if d.weight else [])
    check_columns(list(df.columns), needed, str(path))
    meta = read_metadata(path) if path.suffix in (".parquet", ".root") else {}
    rng = np.random.default_rng(d.split_seed)
    idx = rng.permutation(len(df))
    if d.max_events is not None:
        idx = idx[: d.max_events]
    n = len(idx)
    n_val, n_test = int(round(d.validation_fraction * n)), int(round(d.test_fraction * n))
    parts = {"val": idx[:n_val], "test": idx[n_val : n_val + n_test], "train": idx[n_val + n_test :]}
    out = {k: df.iloc[np.sort(v)].reset_index(drop=True) for k, v in parts.items()}
    for k, part in out.items():
        if len(part) < 2:
            raise SchemaError(f"{path}: the {k} split has {len(part)} events; give more events or change data.*_fraction")
    return out, meta


def _weights(df: pd.DataFrame, cfg: GenerationRunConfig) -> np.ndarray | None:
    return df[cfg.data.weight].to_numpy(dtype=np.float64) if cfg.data.weight else None




# --------------------------------------------------------------------------- run


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
    import torch

    run_dir = Path(run_dir)
    if resume and not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"{run_dir}: no config.yaml to resume from")
    parts, meta = load_events(cfg)
    if not resume:
        claim_run_dir(run_dir, overwrite)
        with atomic_path(run_dir / "config.yaml") as tmp:
            tmp.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    threads = torch.get_num_threads()
    if cfg.training.threads is not None:
        torch.set_num_threads(cfg.training.threads)
    try:
        t0 = time.perf_counter()
        log.info("events: train %d, validation %d, test %d; MMD %s", len(parts["train"]), len(parts["val"]), len(parts["test"]),
                 f"lambda {cfg.loss.mmd_lambda} on {cfg.loss.mmd_resonances}" if cfg.loss.mmd_lambda > 0 else "off")  # fmt: skip
        model = build_model(cfg, progress=progress)
        model.fit(parts["train"], _weights(parts["train"], cfg), validation=(parts["val"], _weights(parts["val"], cfg)),
                  run_dir=run_dir, resume=resume)  # fmt: skip
        t_train = time.perf_counter() - t0
        from hepgan.training.loop import write_history

        write_history(run_dir / "history.json", model.history_, metric_name="mean W1/IQR (parton pT, eta, phi; masses)")
        extra = {"training_sample": str(cfg.data.train), "sigma_gen_pb": meta.get("sigma_gen_pb"),
                 "sqrt_s_gev": (meta.get("generator") or {}).get("sqrt_s_gev"), "sample_command": meta.get("command")}  # fmt: skip
        model.save(run_dir / "model_best.safetensors", which="best", extra=extra)
        model.save(run_dir / "model_last.safetensors", which="last", extra=extra)
        ev = run_dir / "evaluation"
        ev.mkdir(exist_ok=True)
        from hepgan.kinematics import event_table, table_to_momenta

        test = parts["test"]
        truth = event_table(table_to_momenta(test, cfg.model.particles), cfg.model.particles, cfg.model.resonances, _weights(test, cfg))
        write_table(truth, ev / "truth_test.parquet", metadata={"role": "held-out truth", "source": str(cfg.data.train)})
        gen = model.sample(cfg.evaluation.events, seed=_seed_from(cfg.training.seed, 11))
        write_table(gen, ev / "generated.parquet", metadata={"role": "generated", "model": "model_best.safetensors",
                                                             "best_epoch": model.best_epoch_})  # fmt: skip
    finally:
        torch.set_num_threads(threads)
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


# --------------------------------------------------------------------------- evaluation


def _observables(cfg: GenerationRunConfig) -> list[str]:
    per = [f"{p}_{v}" for p in cfg.model.particles for v in ("pt", "eta", "phi")]
    return per + list(cfg.model.resonances)


def physics_numbers(truth: pd.DataFrame, gen: pd.DataFrame, cfg: GenerationRunConfig) -> dict[str, Any]:
    """Peak widths and positions per resonance and the pT balance of truth and generated events."""
    from hepgan.kinematics import pt_balance, table_to_momenta

    w = truth["weight"].to_numpy(np.float64) if "weight" in truth else None
    out: dict[str, Any] = {"window_gev": cfg.evaluation.peak_window, "resonances": {}}
    for r in cfg.model.resonances:
        centre = float(weighted_quantile(truth[r].to_numpy(), [0.5], w)[0])
        t = peak_width(truth[r].to_numpy(), w, centre, cfg.evaluation.peak_window)
        g = peak_width(gen[r].to_numpy(), None, centre, cfg.evaluation.peak_window)
        out["resonances"][r] = {"truth": t, "generated": g, "width_ratio": g["half_iqr"] / t["half_iqr"],
                                "within_20_percent": bool(abs(g["half_iqr"] / t["half_iqr"] - 1) <= 0.2)}  # fmt: skip
    bal = {}
    for name, df, ww in (("truth", truth, w), ("generated", gen, None)):
        r = pt_balance(table_to_momenta(df, cfg.model.particles))
        bal[name] = {"mean": float(np.average(r, weights=ww)), "median": float(weighted_quantile(r, [0.5], ww)[0]),
                     "q90": float(weighted_quantile(r, [0.9], ww)[0]), "fraction_below_1_percent": float(np.average(r < 0.01, weights=ww))}  # fmt: skip
    out["pt_balance"] = bal
    return out


def _peak_figures(truth, gen, base, cfg, fig_dir: Path, labels) -> list[Path]:
    from hepgan import plots

    paths = []
    w = truth["weight"].to_numpy(np.float64) if "weight" in truth else None
    h = cfg.evaluation.peak_window
    for r in cfg.model.resonances:
        centre = float(weighted_quantile(truth[r].to_numpy(), [0.5], w)[0])

        def inside(df, ww=None):
            sel = np.abs(df[r].to_numpy() - centre) <= h
            return df[r].to_numpy()[sel], None if ww is None else ww[sel]

        samples = {labels[0]: inside(truth, w), labels[1]: inside(gen)}
        if base is not None and r in base:
            samples[labels[2]] = inside(base)
        # a sample without events in the window has no shape to draw
        samples = {k: v for k, v in samples.items() if len(v[0]) > 0 or k == labels[0]}
        paths.append(plots.histogram_ratio(samples, fig_dir / f"peak_{r}.png", xlabel=f"{r} [GeV] (within +-{h:g} GeV)", bins=40))
    return paths


def _balance_figure(truth, gen, base, cfg, path: Path, labels) -> Path:
    from hepgan import plots
    from hepgan.kinematics import pt_balance, table_to_momenta

    with plots._style():
        fig, ax = plots.plt.subplots(figsize=(8, 6))
        edges = np.linspace(-6, 0, 61)
        for k, (lab, df) in enumerate(((labels[1], gen), (labels[2], base))):
            if df is None:
                continue
            r = pt_balance(table_to_momenta(df, cfg.model.particles))
            ax.hist(np.log10(np.clip(r, 1e-6, 1)), bins=edges, histtype="step", density=True, linewidth=1.8,
                    color=plots._COLORS[k + 1], label=f"{lab}: mean {r.mean():.4f}")  # fmt: skip
        r_t = pt_balance(table_to_momenta(truth, cfg.model.particles))
        ax.axvline(-2, color="grey", linestyle="--", label="1 %")
        ax.set_xlabel("log10( |sum of pT vectors| / sum of |pT| )")
        ax.set_ylabel("density")
        ax.set_title(f"truth: max {r_t.max():.1e} (exact balance)", fontsize=14)
        ax.legend(fontsize=12)
        return plots._save(fig, path)


def _parton_grid(truth, gen, base, cfg, path: Path, labels) -> Path:
    """pT, eta, phi of every parton (rows) for truth, generated and baseline events, unit area."""
    from hepgan import plots

    w = truth["weight"].to_numpy(np.float64) if "weight" in truth else None
    rows = cfg.model.particles
    with plots._style():
        fig, axes = plots.plt.subplots(len(rows), 3, figsize=(15, 3.2 * len(rows)), squeeze=False)
        for i, p in enumerate(rows):
            for j, v in enumerate(("pt", "eta", "phi")):
                col, ax = f"{p}_{v}", axes[i, j]
                data = [(labels[0], truth[col].to_numpy(), w), (labels[1], gen[col].to_numpy(), None)]
                if base is not None:
                    data.append((labels[2], base[col].to_numpy(), None))
                edges = plots._edges([d[1] for d in data], 40, (0.0, 0.99) if v == "pt" else (0.005, 0.995))
                for k, (lab, x, ww) in enumerate(data):
                    h, _ = plots._hist(x, ww, edges, density=True)
                    ax.stairs(h, edges, color=plots._COLORS[k], linewidth=1.5, label=lab)
                ax.set_xlabel(col + (" [GeV]" if v == "pt" else ""), fontsize=12)
                ax.tick_params(labelsize=10)
        axes[0, 0].legend(fontsize=10)
        fig.tight_layout()
        return plots._save(fig, path)


def write_evaluation(
    run_dir: str | Path,
    cfg: GenerationRunConfig | None = None,
    baseline: str | Path | None = None,
    report: bool = True,
    figures: bool | None = None,
) -> dict[str, Any]:
    """Physics numbers, figures, sections.json, roles.json, summary and report.html of a generation run folder.

    Args:
        run_dir: the run folder (evaluation/truth_test.parquet and generated.parquet must exist).
        cfg: its config (None: read from run_dir/config.yaml).
        baseline: another run folder whose generated events are overlaid (e.g. the same config
            without the MMD term); its numbers are added to the summary.
        report: write report.html (the shared metrics and figures of :mod:`hepgan.report`).
        figures: draw the peak, pT-balance and parton figures (None: ``evaluation.figures``).

    Returns:
        The summary dict.
    """
    from hepgan import plots

    run_dir = Path(run_dir)
    if cfg is None:
        cfg = load_config(run_dir / "config.yaml")
    ev = run_dir / "evaluation"
    for name in ("truth_test.parquet", "generated.parquet"):
        if not (ev / name).is_file():
            raise InputFileError(f"{run_dir}: no evaluation/{name}; is this a finished generation run?")
    truth, gen = read_table(ev / "truth_test.parquet"), read_table(ev / "generated.parquet")
    base, base_info = None, None
    if baseline is not None:
        bdir = Path(baseline)
        if not (bdir / "evaluation" / "generated.parquet").is_file():
            raise InputFileError(f"{bdir}: no evaluation/generated.parquet (evaluation.baseline_run must be a finished generation run)")
        base = read_table(bdir / "evaluation" / "generated.parquet")
        base_info = json.loads((bdir / "run_info.json").read_text()) if (bdir / "run_info.json").is_file() else {}
    info = json.loads((run_dir / "run_info.json").read_text()) if (run_dir / "run_info.json").is_file() else {}
    mmd_on = info.get("mmd", {}).get("lambda", cfg.loss.mmd_lambda) > 0
    label_gen = "GAN with MMD" if mmd_on else "GAN without MMD"
    label_base = None
    if base is not None:
        b_on = (base_info or {}).get("mmd", {}).get("lambda", 0) > 0
        label_base = f"{'GAN with MMD' if b_on else 'GAN without MMD'} ({Path(baseline).name})"
    labels = ("Pythia truth", label_gen, label_base)

    nums = physics_numbers(truth, gen, cfg)
    if base is not None:
        nums["baseline"] = {"run": str(baseline), **physics_numbers(truth, base, cfg)}
    fig_dir = run_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    peak_figs, bal_figs, parton_figs = [], [], []
    if figures if figures is not None else cfg.evaluation.figures:
        peak_figs = _peak_figures(truth, gen, base, cfg, fig_dir, labels)
        bal_figs = [_balance_figure(truth, gen, base, cfg, fig_dir / "pt_balance.png", labels)]
        parton_figs = [_parton_grid(truth, gen, base, cfg, fig_dir / "partons.png", labels)]

    rows = []
    for r, v in nums["resonances"].items():
        row = [r, f"{v['truth']['centre']:.2f}", f"{v['truth']['half_iqr']:.3f}", f"{v['generated']['half_iqr']:.3f}",
               f"{v['width_ratio']:.2f}", f"{v['truth']['fraction']:.3f} / {v['generated']['fraction']:.3f}"]  # fmt: skip
        if base is not None:
            b = nums["baseline"]["resonances"][r]
            row += [f"{b['generated']['half_iqr']:.3f}", f"{b['width_ratio']:.2f}"]
        rows.append(row)
    header = ["resonance", "truth median [GeV]", "truth width [GeV]", f"{label_gen} width", "ratio", "in window: truth / gen"]
    if base is not None:
        header += [f"{label_base} width", "ratio"]
    bal = nums["pt_balance"]
    bal_rows = [[k, f"{v['mean']:.4g}", f"{v['median']:.4g}", f"{v['q90']:.4g}", f"{v['fraction_below_1_percent']:.3f}"]
                for k, v in (("Pythia truth", bal["truth"]), (label_gen, bal["generated"]))]  # fmt: skip
    if base is not None:
        b = nums["baseline"]["pt_balance"]["generated"]
        bal_rows.append([label_base, f"{b['mean']:.4g}", f"{b['median']:.4g}", f"{b['q90']:.4g}", f"{b['fraction_below_1_percent']:.3f}"])
    rel = lambda p: str(p.relative_to(run_dir))  # noqa: E731
    sections = [
        {"title": "Resonance peaks", "text": [
            f"Width = half the interquartile range of the invariant mass inside +-{cfg.evaluation.peak_window:g} GeV of the "
            "held-out truth's median (truth and generated events in the same window; a Breit-Wigner of width Gamma gives "
            "about Gamma/2). The GAN is within 20 % of the truth when the ratio is in [0.8, 1.2].",
            f"MMD term: {'lambda ' + str(cfg.loss.mmd_lambda) + ', ' + cfg.loss.mmd_kernel + ' kernel, widths ' + json.dumps({r: cfg.loss.mmd_widths.get(r) for r in cfg.loss.mmd_resonances}) if mmd_on else 'off'}."],
         "table": {"header": header, "rows": rows}, "figures": [rel(p) for p in peak_figs]},
        {"title": "Momentum conservation", "text": [
            "Relative transverse-momentum imbalance |sum pT| / sum |pT| of the partons per event. The Pythia truth "
            "conserves it exactly (no initial-state radiation at this level); "
            + (("this GAN learns it (model.pt_balance: learned), helped by the MMD term on sum_px / sum_py."
                if mmd_on and any(r in MOMENTUM_SUMS for r in cfg.loss.mmd_resonances)
                else "this GAN learns it from the discriminator alone (model.pt_balance: learned, as in the paper).")
               if cfg.model.pt_balance == "learned" else "this GAN conserves it by construction (model.pt_balance: exact: generated pT projected onto sum pT = 0).")],
         "table": {"header": ["sample", "mean", "median", "90 % quantile", "fraction < 1 %"], "rows": bal_rows},
         "figures": [rel(p) for p in bal_figs]},
        {"title": "Per-parton distributions", "text": ["pT, eta, phi of each parton, unit area (W1 and KS per observable: "
                                                       "the comparison section below)."],
         "figures": [rel(p) for p in parton_figs]},
    ]  # fmt: skip
    with atomic_path(ev / "sections.json") as tmp:
        tmp.write_text(json.dumps(sections, indent=1))
    # equal weights are no weights (and the weighted binning of the classifier test is slow)
    weighted = "weight" in truth and np.ptp(truth["weight"].to_numpy()) > 0
    roles = {
        "x_columns": list(cfg.model.resonances), "c_columns": [], "observables": _observables(cfg),
        "weight": "weight" if weighted else None,
        "comparisons": [{"name": "generated", "title": f"{label_gen} vs held-out Pythia truth",
                         "reference": "truth_test.parquet", "test": "generated.parquet"}],
    }  # fmt: skip
    with atomic_path(ev / "roles.json") as tmp:
        tmp.write_text(json.dumps(roles, indent=1))

    from hepgan.report import _jsonable

    summary = {**info, **nums}
    with atomic_path(run_dir / "summary.json") as tmp:
        tmp.write_text(json.dumps(_jsonable(summary), indent=1))
    _write_summary_txt(run_dir, summary, label_gen, label_base)
    if report:
        from hepgan.report import write_report

        write_report(run_dir, dcor_max_events=cfg.evaluation.dcor_max_events)
    return summary


def _write_summary_txt(run_dir: Path, s: dict[str, Any], label_gen: str, label_base: str | None) -> None:
    lines = [f"hepgan event-generation run: {run_dir}"]
    if "n_train" in s:
        lines.append(f"events: train {s['n_train']}, validation {s['n_val']}, held-out truth {s['n_test']}; generated {s['n_generated']}")
        lines.append(f"training: {s['epochs']} epochs in {s['train_seconds']} s; kept epoch {s['best_epoch']} (lowest validation mean W1/IQR)")
        m = s.get("mmd", {})
        if s.get("pt_balance_mode"):
            lines.append(f"transverse-momentum balance: {s['pt_balance_mode']}"
                         + (" (by construction)" if s["pt_balance_mode"] == "exact" else
                            " (learned, with sum_px / sum_py in the MMD term)" if m.get("lambda") and any(r in MOMENTUM_SUMS for r in m.get("resonances", []))
                            else " (learned from the discriminator alone, as in the paper)"))
        lines.append("MMD term: " + (f"lambda {m['lambda']}, {m['kernel']} kernel, widths {json.dumps(m['widths'])}" if m.get("lambda") else "off"))
    lines.append(f"peak width = half IQR within +-{s['window_gev']:g} GeV of the truth median [GeV]: truth / {label_gen}"
                 + (f" / {label_base}" if label_base else ""))  # fmt: skip
    for r, v in s["resonances"].items():
        line = f"  {r:<7} {v['truth']['half_iqr']:.3f} / {v['generated']['half_iqr']:.3f} (ratio {v['width_ratio']:.2f})"
        if label_base:
            b = s["baseline"]["resonances"][r]
            line += f" / {b['generated']['half_iqr']:.3f} (ratio {b['width_ratio']:.2f})"
        lines.append(line)
    b = s["pt_balance"]
    line = (f"pT balance |sum pT| / sum |pT|, mean: truth {b['truth']['mean']:.2e}; {label_gen} {b['generated']['mean']:.3g} "
            f"(median {b['generated']['median']:.3g}, {100 * b['generated']['fraction_below_1_percent']:.0f} % of events below 1 %)")  # fmt: skip
    if label_base:
        bb = s["baseline"]["pt_balance"]["generated"]
        line += f"; {label_base} {bb['mean']:.3g}"
    lines.append(line)
    with atomic_path(run_dir / "summary.txt") as tmp:
        tmp.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- generate


def generate_file(model_path: str | Path, n_events: int, out: str | Path, seed: int = 0, fmt: str | None = None,
                  batch_size: int = 100_000, device: str = "cpu") -> dict[str, Any]:  # fmt: skip
    """Generates events with a saved EventGAN and writes them (Parquet, ROOT or LHE), atomically.

    Args:
        model_path: model file (model_best.safetensors of a run).
        n_events: number of events (>= 1).
        out: output file; the suffix picks the format (.parquet, .root, .lhe) unless ``fmt`` is given.
        seed: seed of the latent noise; batch i uses a seed derived from (seed, i).
        fmt: "parquet", "root" or "lhe".
        batch_size: events generated and written at a time (bounded memory).
        device: "cpu", "cuda" or "auto".

    Returns:
        Summary: events, path, format.
    """
    from hepgan.io import ChunkedTableWriter
    from hepgan.kinematics import event_table

    check(isinstance(n_events, int) and not isinstance(n_events, bool) and n_events >= 1, "--events", "an integer >= 1", n_events)
    check(isinstance(batch_size, int) and batch_size >= 1, "--batch-size", "an integer >= 1", batch_size)
    out = Path(out)
    if fmt is None:
        suffix = out.suffix.lower()
        fmt = {".parquet": "parquet", ".pq": "parquet", ".root": "root", ".lhe": "lhe"}.get(suffix)
        if fmt is None:
            raise InputFileError(f"{out}: cannot tell the format from the suffix '{suffix}' (expected .parquet, .root or .lhe)")
    choice(fmt, ["parquet", "root", "lhe"], "--format")
    if out.is_dir():
        raise InputFileError(f"{out}: is a folder, expected a file name")
    model = EventGAN.load(model_path, device=device)
    extra = getattr(model, "extra_", {}) or {}
    meta = {"model": str(model_path), "seed": seed, "n_events": n_events, "best_epoch": model.best_epoch_,
            "params": model.get_params(), "training_sample": extra.get("training_sample")}  # fmt: skip

    def batches():
        for i, start in enumerate(range(0, n_events, batch_size)):
            yield model.sample_p4(min(batch_size, n_events - start), seed=_seed_from(seed, i))

    if fmt == "lhe":
        if list(model.particles) != list(TTBAR_PARTONS) or {k: list(v) for k, v in model.resonances.items()} != {
            k: list(v) for k, v in TTBAR_RESONANCES.items()
        }:
            raise ConfigError(f"{model_path}: LHE output is written for the top-pair layout {list(TTBAR_PARTONS)} only")
        from hepgan.kinematics import pt_balance
        from hepgan.lhe import write_lhe_ttbar

        if model.pt_balance != "exact":
            r = float(np.mean(pt_balance(model.sample_p4(min(n_events, 10_000), seed=_seed_from(seed, 99)))))
            log.warning(
                "%s: this model learned transverse-momentum balance (mean |sum pT| / sum |pT| = %.3g); a shower program "
                "rejects events that do not conserve momentum closely enough (Pythia 8 refused 2 of 500 events at 3e-4 and "
                "499 of 500 at 0.08; count yours with scripts/ttbar_lhe_shower.py). For exact conservation, train with "
                "model.pt_balance: exact.", model_path, r,
            )  # fmt: skip
        sqrt_s = extra.get("sqrt_s_gev") or 13000.0
        write_lhe_ttbar(out, batches(), sqrt_s=float(sqrt_s), sigma_pb=extra.get("sigma_gen_pb"), metadata=meta)
    else:
        with ChunkedTableWriter(out, metadata=meta, fmt=fmt) as wr:
            for p4 in batches():
                wr.write(event_table(p4, model.particles, model.resonances))
    return {"events": n_events, "path": str(out), "format": fmt}
