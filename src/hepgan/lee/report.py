"""Figures, summary.txt and report.html of a LEE study folder (:func:`hepgan.lee.chain.run_study`)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from hepgan.io import atomic_path

__all__ = ["write_lee_report", "summary_lines"]


def summary_lines(s: dict[str, Any]) -> list[str]:
    """The study's numbers as text lines."""
    cfg = s["config"]
    lines = [f"LEE study: {s['n_experiments']} background-only pseudo-experiments of {s['n_data']} events "
             f"({cfg['inject_events']} signal events injected on average), classifier {cfg['classifier']['mode']}, "
             f"window {cfg['window'][0]:g}-{cfg['window'][1]:g} GeV, signal width {s['sigma']:.2f} GeV, "
             f"{len(s['scan_masses'])} scanned masses"]  # fmt: skip
    for b in s["batches"]:
        a, aa = b["asymptotic_at_inject_mass"], b["asymptotic_all_masses"]
        fs, fs_err = b["false_signal_rate_3sigma"]
        lines.append(f"batch: top {100 * b['fraction']:g} % of the response")
        lines.append(f"  q0 at {cfg['inject_mass']:g} GeV vs 1/2 delta + 1/2 chi2_1: zero fraction {a['fraction_zero']:.3f} +- {a['fraction_zero_err']:.3f} "
                     f"(0.5), KS p {a['ks_pvalue']:.3g}, P(q0 > 1) {a['fraction_above_1']:.3f} (0.159), P(q0 > 4) {a['fraction_above_4']:.3f} (0.023); "
                     f"all masses: zero fraction {aa['fraction_zero']:.3f}, KS p {aa['ks_pvalue']:.3g}")  # fmt: skip
        lines.append(f"  largest local Z: mean {b['max_local_z_mean']:.2f}; false-signal rate (largest local Z >= 3) {fs:.3f} +- {fs_err:.3f}; "
                     f"mean up-crossings of q0 = {cfg['upcrossing_level']:g}: {b['mean_upcrossings']:.2f} +- {b['mean_upcrossings_err']:.2f}")  # fmt: skip
        for t in b["trials"]:
            lines.append(f"  Z_local {t['z_local']:g}: p_local {t['p_local']:.3g}, p_global {t['p_global']:.3g} +- {t['p_global_err']:.2g} "
                         f"(Gross-Vitells {t['p_global_gv']:.3g}), trials factor {t['trials_factor']:.1f} +- {t['trials_factor_err']:.1f} "
                         f"(Gross-Vitells {t['trials_factor_gv']:.1f})")  # fmt: skip
        if "injection" in b:
            j = b["injection"]
            lines.append(f"  injected signal: median local Z at {cfg['inject_mass']:g} GeV {j['median_z']:.2f} +- {j['median_z_err']:.2f} "
                         f"(Asimov expectation {j['asimov_z_median']:.2f}; spread {j['z_spread']:.2f})")  # fmt: skip
        if "observed" in b:
            o = b["observed"]
            lines.append(f"  observed: largest local Z {o['max_local_z']:.2f} at {o['at_mass']:g} GeV, p_local {o['p_local']:.3g}, "
                         f"p_global {o['p_global']:.3g} +- {o['p_global_err']:.2g} (Gross-Vitells {o['p_global_gv']:.3g})")  # fmt: skip
    if "any_batch" in s:
        for t in s["any_batch"]["trials"]:
            lines.append(f"any batch and mass: Z_local {t['z_local']:g}: p_global {t['p_global']:.3g} +- {t['p_global_err']:.2g}, "
                         f"trials factor {t['trials_factor']:.1f} +- {t['trials_factor_err']:.1f}")  # fmt: skip
    return lines


def _figures(out: Path, s: dict[str, Any], experiments: list[dict[str, Any]], observed: dict[str, Any] | None) -> list[str]:
    import matplotlib.pyplot as plt
    from scipy import stats

    from hepgan.lee.fits import gross_vitells
    from hepgan.plots import COLORS, save_figure, style

    fig_dir = out / "figures"
    fig_dir.mkdir(exist_ok=True)
    cfg = s["config"]
    mus = np.asarray(s["scan_masses"])
    paths = []
    n = s["n_experiments"]
    with style():
        # 1. the largest local significance: toys vs Gross-Vitells, per batch
        fig, ax = plt.subplots(figsize=(10, 7))
        c = np.linspace(0, 25, 400)
        for k, b in enumerate(s["batches"]):
            z = np.sort(np.asarray(b["max_local_z"]))
            surv = 1.0 - np.arange(len(z)) / len(z)
            ax.step(z, surv, where="post", color=COLORS[k % len(COLORS)], label=f"top {100 * b['fraction']:g} %: pseudo-experiments")
            ax.plot(np.sqrt(c), np.clip(gross_vitells(c, b["mean_upcrossings"], cfg["upcrossing_level"]), 0, 1), ls="--",
                    color=COLORS[k % len(COLORS)], label=f"top {100 * b['fraction']:g} %: Gross-Vitells")  # fmt: skip
        ax.plot(np.sqrt(c), stats.norm.sf(np.sqrt(c)), color="black", ls=":", label="local p-value (one mass)")
        ax.set_yscale("log")
        ax.set_ylim(0.5 / n, 1.5)
        ax.set_xlim(0, 5)
        ax.set_xlabel(r"largest local significance $Z$ over the scan")
        ax.set_ylabel(r"$P(Z_\mathrm{max} \geq Z)$")
        ax.set_title(f"{n} background-only pseudo-experiments", fontsize=14)
        ax.legend(fontsize=10)
        paths.append(save_figure(fig, fig_dir / "lee_max_significance.png"))
        # 2. q0 at one mass against the asymptotic distribution, per batch
        fig, ax = plt.subplots(figsize=(10, 7))
        for k, b in enumerate(s["batches"]):
            i = int(np.argmin(np.abs(mus - cfg["inject_mass"])))
            q = np.sort(np.array([e["batches"][k]["q0"][i] for e in experiments]))
            ax.step(q, 1.0 - np.arange(len(q)) / len(q), where="post", color=COLORS[k % len(COLORS)], label=f"top {100 * b['fraction']:g} %")
        ax.plot(c, 0.5 * stats.chi2.sf(c, 1), color="black", ls=":", label=r"$\frac{1}{2}\chi^2_1$ tail")
        ax.set_yscale("log")
        ax.set_ylim(0.5 / n, 1.5)
        ax.set_xlim(0, 16)
        ax.set_xlabel(rf"$q_0$ at $m_{{\ell\ell\gamma}}$ = {cfg['inject_mass']:g} GeV")
        ax.set_ylabel(r"$P(q_0 \geq x)$")
        ax.legend(fontsize=10)
        paths.append(save_figure(fig, fig_dir / "lee_q0_fixed_mass.png"))
        # 3. local significance curves of the first experiments (and the observed one)
        fig, ax = plt.subplots(figsize=(10, 7))
        last = len(s["batches"]) - 1
        for e in experiments[:10]:
            ax.plot(mus, np.sqrt(e["batches"][last]["q0"]), color=COLORS[1], alpha=0.5, lw=1)
        ax.plot([], [], color=COLORS[1], label=f"pseudo-experiments (top {100 * s['batches'][last]['fraction']:g} %)")
        if observed is not None:
            ax.plot(mus, np.sqrt(observed["batches"][last]["q0"]), color="black", lw=2, label="observed")
        ax.axhline(math.sqrt(cfg["upcrossing_level"]), color="grey", ls="--", lw=1, label=r"$Z = c_0^{1/2}$ (up-crossing level)")
        ax.set_xlabel(r"$\mu$ = $m_{\ell\ell\gamma}$ of the Gaussian [GeV]")
        ax.set_ylabel("local significance Z")
        ax.legend(fontsize=10)
        paths.append(save_figure(fig, fig_dir / "lee_scan_curves.png"))
    return [str(p.relative_to(out)) for p in paths]


def _fit_figure(out: Path, cfg: Any, data_m: np.ndarray, sigma: float, title: str, name: str) -> str:
    """m_llg of one dataset with the background fit and the best signal + background fit."""
    import matplotlib.pyplot as plt

    from hepgan.lee.fits import expected_background, expected_signal, fit_background, fit_signal, histogram, local_significance_scan
    from hepgan.plots import COLORS, save_figure, style

    h = histogram(data_m, tuple(cfg.window), cfg.bin_width)
    scan = local_significance_scan(h, cfg.scan_masses(), sigma)
    i = int(np.argmax(scan["q0"]))
    b = fit_background(h)
    g = fit_signal(h, float(scan["mu"][i]), sigma, b)
    with style():
        fig, (ax, rax) = plt.subplots(2, 1, figsize=(10, 9), sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05})
        ax.errorbar(h.centres, h.counts, yerr=np.sqrt(np.maximum(h.counts, 1)), fmt="o", color="black", ms=4, label="pseudo-data")
        fb = expected_background(h, **b.params)
        fg = expected_background(h, *(g.params[k] for k in ("n0", "a", "b"))) + expected_signal(h, g.params["n1"], float(scan["mu"][i]), sigma)
        ax.step(h.edges, np.append(fb, fb[-1]), where="post", color=COLORS[0], label="f: background fit")
        ax.step(h.edges, np.append(fg, fg[-1]), where="post", color=COLORS[1],
                label=rf"g: + Gaussian at {scan['mu'][i]:.0f} GeV, $n_1$ = {g.params['n1']:.0f}, Z = {scan['s'][i]:.2f}")  # fmt: skip
        ax.set_ylabel(f"events / {cfg.bin_width:g} GeV")
        ax.set_title(title, fontsize=14)
        ax.legend(fontsize=10)
        pull = (h.counts - fb) / np.sqrt(np.maximum(fb, 1e-9))
        rax.axhline(0, color="grey", lw=1)
        rax.plot(h.centres, pull, "o", color="black", ms=4)
        rax.set_ylabel("(data - f) / sqrt(f)", fontsize=12)
        rax.set_xlabel(r"$m_{\ell\ell\gamma}$ [GeV]")
        path = save_figure(fig, out / "figures" / name)
    return str(path.relative_to(out))


def write_lee_report(out: Path, cfg: Any, s: dict[str, Any], experiments: list[dict[str, Any]], observed: dict[str, Any] | None) -> Path:
    """summary.txt, figures/, evaluation/sections.json, config.yaml and report.html of a study folder."""
    from hepgan.report import write_report

    lines = summary_lines(s)
    with atomic_path(out / "summary.txt") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    figs = _figures(out, s, experiments, observed)
    if observed is not None and cfg.observed:
        from hepgan.io import read_table

        m = read_table(cfg.observed)[cfg.mass].to_numpy(np.float64)
        figs.append(_fit_figure(out, cfg, m, s["sigma"], "observed dataset, every event", "lee_fit_observed.png"))
    header = ["batch", "Z_local", "p_local", "p_global (toys)", "p_global (Gross-Vitells)", "trials factor (toys)", "trials factor (GV)"]
    rows = [[f"top {100 * b['fraction']:g} %", f"{t['z_local']:g}", f"{t['p_local']:.3g}", f"{t['p_global']:.3g} +- {t['p_global_err']:.2g}",
             f"{t['p_global_gv']:.3g}", f"{t['trials_factor']:.1f} +- {t['trials_factor_err']:.1f}", f"{t['trials_factor_gv']:.1f}"]
            for b in s["batches"] for t in b["trials"]]  # fmt: skip
    sections = [{"title": "Look-elsewhere effect", "text": lines, "table": {"header": header, "rows": rows}, "figures": figs}]
    (out / "evaluation").mkdir(exist_ok=True)
    with atomic_path(out / "evaluation" / "sections.json") as tmp:
        tmp.write_text(json.dumps(sections, indent=1))
    return write_report(out)
