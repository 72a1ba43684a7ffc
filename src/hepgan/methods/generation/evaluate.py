"""The physics evaluation of an event-generation run: peak widths, momentum balance, figures, sections.

:func:`write_evaluation` reads a run folder's held-out truth and generated events (and
optionally a baseline run's) and writes ``sections.json`` and ``roles.json`` for the shared
report, the figures, ``summary.json`` and ``summary.txt``, and the report.

Peak width: half the interquartile range of the invariant masses inside a window of
``evaluation.peak_window`` GeV around the median of the held-out truth
(:func:`hepgan.methods.generation.model.peak_width`); truth and generated events are measured
in the same window. pT balance: ``|sum_i pT_i| / sum_i |pT_i|`` over the partons per event
(0 for the Pythia truth: no initial-state radiation at this level).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hepgan.exceptions import ConfigError, InputFileError
from hepgan.io import atomic_path, read_table
from hepgan.methods.generation.config import GenerationRunConfig
from hepgan.methods.generation.model import MOMENTUM_SUMS, peak_width
from hepgan.metrics.distances import weighted_quantile
from hepgan.runs import load_config

__all__ = ["write_evaluation", "physics_numbers"]


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

        def inside(df, ww=None, r=r, centre=centre):
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

    with plots.style():
        fig, ax = plots.plt.subplots(figsize=(8, 6))
        edges = np.linspace(-6, 0, 61)
        for k, (lab, df) in enumerate(((labels[1], gen), (labels[2], base))):
            if df is None:
                continue
            r = pt_balance(table_to_momenta(df, cfg.model.particles))
            ax.hist(np.log10(np.clip(r, 1e-6, 1)), bins=edges, histtype="step", density=True, linewidth=1.8,
                    color=plots.COLORS[k + 1], label=f"{lab}: mean {r.mean():.4f}")  # fmt: skip
        r_t = pt_balance(table_to_momenta(truth, cfg.model.particles))
        ax.axvline(-2, color="grey", linestyle="--", label="1 %")
        ax.set_xlabel("log10( |sum of pT vectors| / sum of |pT| )")
        ax.set_ylabel("density")
        ax.set_title(f"truth: max {r_t.max():.1e} (exact balance)", fontsize=14)
        ax.legend(fontsize=12)
        return plots.save_figure(fig, path)


def _parton_grid(truth, gen, base, cfg, path: Path, labels) -> Path:
    """pT, eta, phi of every parton (rows) for truth, generated and baseline events, unit area."""
    from hepgan import plots

    w = truth["weight"].to_numpy(np.float64) if "weight" in truth else None
    rows = cfg.model.particles
    with plots.style():
        fig, axes = plots.plt.subplots(len(rows), 3, figsize=(15, 3.2 * len(rows)), squeeze=False)
        for i, p in enumerate(rows):
            for j, v in enumerate(("pt", "eta", "phi")):
                col, ax = f"{p}_{v}", axes[i, j]
                data = [(labels[0], truth[col].to_numpy(), w), (labels[1], gen[col].to_numpy(), None)]
                if base is not None:
                    data.append((labels[2], base[col].to_numpy(), None))
                edges = plots.bin_edges([d[1] for d in data], 40, (0.0, 0.99) if v == "pt" else (0.005, 0.995))
                for k, (lab, x, ww) in enumerate(data):
                    h, _ = plots.histogram(x, ww, edges, density=True)
                    ax.stairs(h, edges, color=plots.COLORS[k], linewidth=1.5, label=lab)
                ax.set_xlabel(col + (" [GeV]" if v == "pt" else ""), fontsize=12)
                ax.tick_params(labelsize=10)
        axes[0, 0].legend(fontsize=10)
        fig.tight_layout()
        return plots.save_figure(fig, path)


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

    run_dir = Path(run_dir)
    if cfg is None:
        cfg = load_config(run_dir / "config.yaml")
        if not isinstance(cfg, GenerationRunConfig):
            raise ConfigError(f"{run_dir}: not a generation run (method: {cfg.method})")
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
    widths = json.dumps({r: cfg.loss.mmd_widths.get(r) for r in cfg.loss.mmd_resonances})
    mmd_text = f"lambda {cfg.loss.mmd_lambda}, {cfg.loss.mmd_kernel} kernel, widths {widths}" if mmd_on else "off"
    balance_text = (
        "this GAN conserves it by construction (model.pt_balance: exact: generated pT projected onto sum pT = 0)."
        if cfg.model.pt_balance != "learned"
        else "this GAN learns it (model.pt_balance: learned), helped by the MMD term on sum_px / sum_py."
        if mmd_on and any(r in MOMENTUM_SUMS for r in cfg.loss.mmd_resonances)
        else "this GAN learns it from the discriminator alone (model.pt_balance: learned, as in the paper)."
    )
    sections = [
        {"title": "Resonance peaks", "text": [
            f"Width = half the interquartile range of the invariant mass inside +-{cfg.evaluation.peak_window:g} GeV of the "
            "held-out truth's median (truth and generated events in the same window; a Breit-Wigner of width Gamma gives "
            "about Gamma/2). The GAN is within 20 % of the truth when the ratio is in [0.8, 1.2].",
            f"MMD term: {mmd_text}."],
         "table": {"header": header, "rows": rows}, "figures": [rel(p) for p in peak_figs]},
        {"title": "Momentum conservation", "text": [
            "Relative transverse-momentum imbalance |sum pT| / sum |pT| of the partons per event. The Pythia truth "
            "conserves it exactly (no initial-state radiation at this level); " + balance_text],
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

    from hepgan.report import jsonable

    summary = {**info, **nums}
    with atomic_path(run_dir / "summary.json") as tmp:
        tmp.write_text(json.dumps(jsonable(summary), indent=1))
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
