r"""The evaluation of a subtraction run: the output against the truth, the binned subtraction of the
same inputs, the ensemble band and its coverage, the Breit-Wigner peak, figures and report sections.

Every histogram is a differential cross section :math:`d\sigma/dx` per bin (units of the inputs'
cross sections per unit of x):

* **truth**: a toy's exact integral per bin; with ``data.truth`` (large input samples) their binned
  subtraction, with its statistical errors;
* **binned subtraction** (the obvious alternative): :math:`\sum_i a_i \sigma_i h_i / N_i` of the
  training inputs, with :math:`a_i` the signs of the output in the label table (B - S: +1, -1) and
  errors :math:`\sqrt{\sum_i (a_i \sigma_i / N_i)^2 \sum w^2}`;
* **GAN**: ``evaluation.events`` output events of each member, normalised to the member's own
  output cross section :math:`\sigma_0 N_{out} / N_{C_0}`. The central value is member 0 (one
  GAN, trained on the inputs themselves; ``ensemble.centre: first``) or the mean of the members
  (``mean``); the band is the standard deviation of the bootstrap members 1..K-1 (of all members
  without bootstrap): the bootstrap standard error of one GAN's output. It is the uncertainty of
  member 0, not of the mean, which averages the members' training noise away and is therefore
  covered more often than the nominal 68 % (both coverages are recorded).

Measures per observable: chi2/ndf of the GAN against the truth with the inputs' statistical
errors (those of the binned subtraction: is the GAN as close to the truth as its inputs allow?),
with the ensemble band, and of the binned subtraction itself; RMS relative deviations from the
truth; negative bins; the coverage (share of bins whose truth lies within the band, truth errors
added in quadrature).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hepgan.io import atomic_path, write_table
from hepgan.methods.subtraction.config import SubtractionRunConfig
from hepgan.methods.subtraction.model import SubtractionGAN, label_table

__all__ = [
    "output_coefficients",
    "binned_subtraction",
    "band_coverage",
    "fit_breit_wigner",
    "compare_histograms",
    "write_evaluation",
]


def output_coefficients(components: Sequence[str], samples: Mapping[str, Sequence[str]], output: Sequence[str]) -> np.ndarray:
    """The signs a_i of the output as a sum of the input samples, from the label table.

    Raises:
        ValueError: the output is not such a sum.

    Example:
        >>> output_coefficients(["B-S", "S", "A"], {"B": ["B-S", "S"], "S": ["S"], "A": ["A"]}, ["B-S", "A"])
        array([ 1., -1.,  1.])
    """
    m, o = label_table(components, samples, output)
    a, *_ = np.linalg.lstsq(m, o, rcond=None)
    if not np.allclose(m @ a, o, atol=1e-9):
        raise ValueError(f"the output {list(output)} is not a signed sum of the input samples {dict(samples)}")
    return np.round(a, 12)


def binned_subtraction(
    values: Mapping[str, np.ndarray],
    weights: Mapping[str, np.ndarray | None],
    sigma: Mapping[str, float],
    coefficients: Sequence[float],
    edges: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The binned combination :math:`\sum_i a_i \sigma_i h_i / \sum w_i` as :math:`d\sigma/dx`, with statistical errors.

    Args:
        values: sample -> (N_i,) observable values.
        weights: sample -> (N_i,) event weights or None.
        sigma: sample -> cross section.
        coefficients: a_i per sample, in the order of ``values``.
        edges: (B + 1,) bin edges.

    Returns:
        density (B,) and its error (B,).

    Example:
        >>> e = np.array([0.0, 1.0, 2.0])
        >>> h, err = binned_subtraction({"B": np.array([0.5, 0.5, 1.5, 1.5]), "S": np.array([0.5, 0.5])},
        ...                             {"B": None, "S": None}, {"B": 4.0, "S": 2.0}, [1.0, -1.0], e)
        >>> h.tolist(), np.round(err, 4).tolist()
        ([0.0, 2.0], [2.0, 1.4142])
    """
    width = np.diff(edges)
    total = np.zeros(len(width))
    var = np.zeros(len(width))
    for a, (s, x) in zip(coefficients, values.items()):
        w = np.ones(len(x)) if weights.get(s) is None else np.asarray(weights[s], dtype=np.float64)
        scale = a * sigma[s] / w.sum()
        total += scale * np.histogram(x, edges, weights=w)[0]
        var += scale**2 * np.histogram(x, edges, weights=w**2)[0]
    return total / width, np.sqrt(var) / width


def band_coverage(centre: np.ndarray, band: np.ndarray, truth: np.ndarray, truth_err: np.ndarray | None = None) -> float:
    """Share of bins whose truth lies within centre +- band (truth errors added in quadrature).

    Example:
        >>> band_coverage(np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.5, 0.5]), np.array([1.2, 2.9, 3.0]))
        0.6666666666666666
    """
    err = band if truth_err is None else np.hypot(band, truth_err)
    return float(np.mean(np.abs(centre - truth) <= err))


def fit_breit_wigner(edges: np.ndarray, density: np.ndarray, err: np.ndarray, start: tuple[float, float] = (90.0, 10.0)) -> dict[str, float]:
    r"""Fits :math:`c + \frac{A}{\pi} \frac{\gamma}{\gamma^2 + (x - m)^2}` (bin-integrated) to a histogram.

    Args:
        edges: (B + 1,) bin edges; density, err: (B,) d(sigma)/dx and its errors (> 0).
        start: the starting position and half-width.

    Returns:
        position m, half-width gamma (half width at half maximum), constant c, area A, their errors,
        chi2 and ndf; NaN where the fit fails.
    """
    from scipy.optimize import curve_fit

    lo, hi = edges[:-1], edges[1:]

    def model(_, c, a, m, g):
        g = abs(g)
        cdf = a / np.pi * (np.arctan((hi - m) / g) - np.arctan((lo - m) / g))
        return c + cdf / (hi - lo)

    err = np.where(err > 0, err, np.max(err[err > 0]) if (err > 0).any() else 1.0)
    p0 = [float(np.median(density)), float(np.sum((density - np.median(density)) * (hi - lo))), start[0], start[1]]
    try:
        p, cov = curve_fit(model, lo, density, p0=p0, sigma=err, absolute_sigma=True, maxfev=20_000)
        e = np.sqrt(np.diag(cov))
    except (RuntimeError, ValueError):
        nan = float("nan")
        return {"position": nan, "half_width": nan, "constant": nan, "area": nan, "position_err": nan, "half_width_err": nan,
                "chi2": nan, "ndf": len(lo) - 4}  # fmt: skip
    chi2 = float(np.sum(((model(lo, *p) - density) / err) ** 2))
    return {"position": float(p[2]), "half_width": float(abs(p[3])), "constant": float(p[0]), "area": float(p[1]),
            "position_err": float(e[2]), "half_width_err": float(e[3]), "chi2": chi2, "ndf": len(lo) - 4}  # fmt: skip


def compare_histograms(
    truth: np.ndarray, truth_err: np.ndarray, binned: np.ndarray, binned_err: np.ndarray, members: np.ndarray, gen_err: np.ndarray,
    centre: str = "first", band_from: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """The measures of one observable (see the module docstring).

    Args:
        truth, truth_err: (B,) truth and its errors (0 for a toy).
        binned, binned_err: (B,) binned subtraction of the training inputs and its errors.
        members: (K, B) GAN histograms of K members.
        gen_err: (B,) statistical error of member 0's histogram from its finite generated sample.
        centre: ``"first"`` (member 0) or ``"mean"`` (of the members): the central histogram.
        band_from: the band is the standard deviation of members ``band_from`` .. K-1 (1: the bootstrap
            replicas when member 0 trained on the inputs themselves).

    Returns:
        chi2/ndf values, RMS relative deviations, negative bins, coverage (K > 1) of the central
        histogram and of the other choice (``coverage_first``, ``coverage_mean``) with the binomial
        error of a share of independent bins (``coverage_err``), the central GAN histogram and band.
    """
    k = len(members)
    first, mean = members[0], members.mean(0)
    centre_h = first if k == 1 or centre == "first" else mean
    banded = members[band_from:]
    band = banded.std(0, ddof=1) if len(banded) > 1 else np.zeros_like(centre_h)
    gen = gen_err if k == 1 or centre == "first" else gen_err / np.sqrt(k)
    nz = np.abs(truth) > 0
    rel = lambda v: float(np.sqrt(np.mean(((v[nz] - truth[nz]) / truth[nz]) ** 2)))  # noqa: E731

    def chi2(diff: np.ndarray, var: np.ndarray) -> float:  # a bin without any error counts only if it differs
        return float(np.mean(diff**2 / np.maximum(var, 1e-300)))

    out: dict[str, Any] = {
        "bins": len(truth),
        "chi2_ndf_gan_input_errors": chi2(centre_h - truth, binned_err**2 + truth_err**2 + gen**2),
        "chi2_ndf_binned": chi2(binned - truth, binned_err**2 + truth_err**2),
        "rms_rel_gan": rel(centre_h),
        "rms_rel_binned": rel(binned),
        "negative_bins_gan": int(np.sum(centre_h < 0)),
        "negative_bins_binned": int(np.sum(binned < 0)),
        "min_gan": float(centre_h.min()),
        "min_binned": float(binned.min()),
        "coverage_binned": band_coverage(binned, binned_err, truth, truth_err),
        "members": k,
        "centre": centre if k > 1 else "first",
        "gan": centre_h.tolist(),
        "band": band.tolist(),
    }
    if len(banded) > 1:
        out["chi2_ndf_gan_band"] = chi2(centre_h - truth, band**2 + truth_err**2 + gen**2)
        out["coverage"] = band_coverage(centre_h, band, truth, truth_err)
        out["coverage_first"] = band_coverage(first, band, truth, truth_err)
        out["coverage_mean"] = band_coverage(mean, band, truth, truth_err)
        out["coverage_err"] = float(np.sqrt(out["coverage"] * (1 - out["coverage"]) / len(truth)))
        out["band_members"] = len(banded)
        out["rms_rel_member"] = float(np.mean([rel(m) for m in members]))
        out["band_over_binned_err"] = float(np.median(band[binned_err > 0] / binned_err[binned_err > 0])) if (binned_err > 0).any() else float("nan")
    return out


# --------------------------------------------------------------------------- the run's evaluation


def _observable(df: pd.DataFrame, name: str) -> np.ndarray:
    return df[name].to_numpy(np.float64)


def _edges(cfg: SubtractionRunConfig, name: str, ref: np.ndarray, toy_range: tuple[float, float] | None) -> np.ndarray:
    ev = cfg.evaluation
    if name in ev.ranges:
        lo, hi = ev.ranges[name]
    elif toy_range is not None and name in cfg.data.columns:
        lo, hi = toy_range
    else:
        lo, hi = np.quantile(ref, [0.005, 0.995])
    if name in ev.log_bins and lo > 0:
        return np.geomspace(lo, hi, ev.bins + 1)
    return np.linspace(lo, hi, ev.bins + 1)


def _tables(model: SubtractionGAN, frames: Mapping[str, pd.DataFrame], columns: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Input events with the output's observables (with particles: pT, eta, phi, mass from the momenta)."""
    out = {}
    for s, df in frames.items():
        t = model.table(df[list(columns)].to_numpy(np.float64))
        t["weight"] = df["weight"].to_numpy(np.float64) if "weight" in df else 1.0
        out[s] = t
    return out


def _histogram_figure(path: Path, name: str, edges, truth, truth_err, binned, binned_err, res, label_truth: str, peak: dict | None) -> Path:
    from hepgan import plots

    centres = (edges[1:] + edges[:-1]) / 2
    gan, band = np.asarray(res["gan"]), np.asarray(res["band"])
    xlabel, falling = plots.axis_label(name)
    unit = xlabel[xlabel.rfind("[") + 1 : -1] if xlabel.endswith("]") else ""
    safe = np.where(truth != 0, truth, np.nan)
    r_binned, r_gan = binned / safe, gan / safe
    limits = plots.ratio_limits([r_binned, r_gan])
    with plots.style():
        fig, (ax, rax) = plots.plt.subplots(2, 1, figsize=(9, 8), sharex=True, gridspec_kw={"height_ratios": [3, 1.3], "hspace": 0.05})
        ax.stairs(truth, edges, color="black", linewidth=1.8, label=label_truth)
        if np.any(truth_err > 0):
            ax.stairs(truth + truth_err, edges, baseline=truth - truth_err, fill=True, color="black", alpha=0.15)
        ax.errorbar(centres, binned, yerr=binned_err, fmt="o", markersize=3, color=plots.COLORS[2], label="binned subtraction of the inputs")
        if res["members"] == 1:
            glabel = "GAN"
        else:
            what = "member 0 (trained on the inputs)" if res.get("centre") == "first" else f"mean of {res['members']} members"
            n_band = res.get("band_members", res["members"])
            glabel = f"GAN: {what}, band: spread of {n_band} " + ("bootstrap members" if n_band < res["members"] else "members")
        ax.stairs(gan, edges, color=plots.COLORS[1], linewidth=1.8, label=glabel)
        if res["members"] > 1 and "coverage" in res:
            ax.stairs(gan + band, edges, baseline=gan - band, fill=True, color=plots.COLORS[1], alpha=0.3)
        positive = truth[truth > 0]
        if np.all(truth > 0) and (falling or truth.max() > 30 * positive.min()):  # a falling spectrum or a peak over tails
            ax.set_yscale("log")
        else:
            ax.axhline(0.0, color="grey", linewidth=0.6)
        sym = xlabel[: xlabel.rfind(" [")] if unit else xlabel
        ax.set_ylabel(r"d$\sigma$ / d(" + sym + ")" + (rf" [$\sigma$ units / {unit}]" if unit else r" [$\sigma$ units]"), fontsize=16)
        title = f"GAN chi2/ndf {res['chi2_ndf_gan_input_errors']:.2f} (input errors), binned {res['chi2_ndf_binned']:.2f}"
        if "coverage" in res:
            title += f"; band covers {100 * res['coverage']:.0f} %"
        if peak is not None and np.isfinite(peak.get("position", np.nan)):
            title += f"\npeak {peak['position']:.2f}, half-width {peak['half_width']:.2f}"
        ax.set_title(title, fontsize=13)
        ax.legend(fontsize=12)
        if np.any(truth_err > 0):
            rel = np.divide(truth_err, np.abs(safe))
            rax.stairs(1.0 + rel, edges, baseline=1.0 - rel, fill=True, color="black", alpha=0.15)
        plots.ratio_points(rax, centres, r_binned, binned_err / np.abs(safe), limits, plots.COLORS[2])
        rax.stairs(np.clip(r_gan, *limits), edges, baseline=None, color=plots.COLORS[1], linewidth=1.5)  # no drop to 0 at the ends
        if res["members"] > 1:
            rax.stairs(np.clip((gan + band) / safe, *limits), edges, baseline=np.clip((gan - band) / safe, *limits), fill=True,
                       color=plots.COLORS[1], alpha=0.3)  # fmt: skip
        rax.axhline(1.0, color="black", linewidth=0.8)
        rax.set_ylim(*limits)
        rax.set_ylabel("ratio to truth", fontsize=13)
        rax.set_xlabel(xlabel)
        ax.yaxis.get_major_ticks()[0].label1.set_visible(False)
        return plots.save_figure(fig, path)


def _inputs_figure(path: Path, name: str, edges, inputs: dict, generated: dict) -> Path:
    from hepgan import plots

    with plots.style():
        fig, axes = plots.plt.subplots(1, len(inputs), figsize=(7 * len(inputs), 6), squeeze=False)
        for ax, s in zip(axes[0], inputs):
            h, e = inputs[s]
            ax.stairs(h, edges, color="black", linewidth=1.5, label=f"input {s}")
            ax.errorbar((edges[1:] + edges[:-1]) / 2, h, yerr=e, fmt="none", color="black", linewidth=0.8)
            ax.stairs(generated[s], edges, color=plots.COLORS[1], linewidth=1.5, label=f"GAN, classes of {s}")
            ax.set_xlabel(plots.axis_label(name)[0])
            ax.set_yscale("log")
            ax.legend(fontsize=12)
        axes[0][0].set_ylabel(r"d$\sigma$ / d(" + plots.axis_label(name)[0] + ")")
        return plots.save_figure(fig, path)


def write_evaluation(
    run_dir: str | Path,
    cfg: SubtractionRunConfig,
    data: Mapping[str, Any],
    members: Sequence[SubtractionGAN],
    train_seconds: float,
    seed: int = 0,
) -> dict[str, Any]:
    """Evaluation tables, figures, sections.json, roles.json, summary.json and summary.txt of a subtraction run.

    Args:
        run_dir: the run folder.
        cfg: its config.
        data: what :func:`hepgan.methods.subtraction.run.load_inputs` returned.
        members: the fitted model(s): one GAN, or the members of an ensemble.
        train_seconds: training time.
        seed: seed of the generated events.

    Returns:
        The summary dict.
    """
    from hepgan.estimator import seed_from
    from hepgan.report import jsonable

    run_dir = Path(run_dir)
    ev = run_dir / "evaluation"
    ev.mkdir(exist_ok=True)
    fig_dir = run_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    model = members[0]
    toy = data["toy"]
    names = list(model.samples)
    coeffs = output_coefficients(model.components, model.samples, model.output)
    sigma = data["sigma"]
    n = cfg.evaluation.events

    outputs = [m.subtract(n, seed=seed_from(seed, i)) for i, m in enumerate(members)]
    sig_out = np.array([m.output_cross_section(min(n, 1_000_000), seed=seed_from(seed, 50 + i)) for i, m in enumerate(members)])
    counts = [m.class_counts(min(n, 1_000_000), seed=seed_from(seed, 50 + i)) for i, m in enumerate(members)]
    write_table(outputs[0], ev / "generated.parquet", metadata={"role": "generated output", "sigma_output": float(sig_out[0]),
                                                              "best_epoch": model.best_epoch_})  # fmt: skip
    train_tables = _tables(model, {s: data["parts"][s]["train"] for s in names}, cfg.data.columns)
    truth_tables = _tables(model, data["truth"], cfg.data.columns) if data.get("truth") else None
    sigma_truth = toy.sigma_output if toy is not None else float(sum(a * sigma[s] for a, s in zip(coeffs, names)))
    comparisons, figures_out, figures_in, peaks = {}, [], [], {}
    observables = [o for o in cfg.evaluation.observables if o in outputs[0].columns]
    toy_range = tuple(cfg.data.toy_range) if toy is not None else None
    membership, _ = label_table(model.components, model.samples, model.output)
    gen_all = members[0].generate(min(n, 1_000_000), seed=seed_from(seed, 60)) if cfg.evaluation.figures else None
    k_all = np.array([model.components.index(c) for c in gen_all["component"]]) if gen_all is not None else None
    n_ref = int((membership[k_all, 0] > 0).sum()) if k_all is not None else 0
    def histograms(obs: str, edges: np.ndarray) -> tuple:
        """truth, its errors, binned subtraction, its errors, the members' histograms, member 0's generation errors, truth label."""
        width = np.diff(edges)
        truth, truth_err, label = None, None, ""
        if toy is not None and obs in cfg.data.columns and len(cfg.data.columns) == 1:
            truth, truth_err, label = toy.output_integral(edges) / width, np.zeros(len(width)), "truth (exact)"
        elif truth_tables is not None:
            truth, truth_err = binned_subtraction({s: _observable(truth_tables[s], obs) for s in names},
                                                  {s: truth_tables[s]["weight"].to_numpy() for s in names}, sigma, coeffs, edges)  # fmt: skip
            label = "truth (binned subtraction of large samples)"
        binned, binned_err = binned_subtraction({s: _observable(train_tables[s], obs) for s in names},
                                                {s: train_tables[s]["weight"].to_numpy() for s in names}, sigma, coeffs, edges)  # fmt: skip
        hists = np.array([np.histogram(_observable(o, obs), edges)[0] * s_k / len(o) / width for o, s_k in zip(outputs, sig_out)])
        gen_err = np.sqrt(np.histogram(_observable(outputs[0], obs), edges)[0]) * sig_out[0] / len(outputs[0]) / width
        if truth is None:  # no truth: compare with the binned subtraction itself
            truth, truth_err, label = binned, np.zeros_like(binned), "binned subtraction (no truth given)"
        return truth, truth_err, binned, binned_err, hists, gen_err, label

    band_args = {"centre": cfg.ensemble.centre, "band_from": 1 if cfg.ensemble.bootstrap and len(members) > 2 else 0}
    for obs in observables:
        ref = _observable(truth_tables[names[0]] if truth_tables else train_tables[names[0]], obs)
        edges = _edges(cfg, obs, ref, toy_range)
        width = np.diff(edges)
        truth, truth_err, binned, binned_err, hists, gen_err, label_truth = histograms(obs, edges)
        # the paper's argument: the binned subtraction fluctuates more with finer bins, the GAN does not
        scan = []
        for b in sorted({max(2, cfg.evaluation.bins // 4), cfg.evaluation.bins, 4 * cfg.evaluation.bins}):
            log_b = obs in cfg.evaluation.log_bins and edges[0] > 0
            e_b = np.geomspace(edges[0], edges[-1], b + 1) if log_b else np.linspace(edges[0], edges[-1], b + 1)
            r_b = compare_histograms(*histograms(obs, e_b)[:6], **band_args)
            keys = ("bins", "rms_rel_gan", "rms_rel_binned", "chi2_ndf_gan_input_errors", "chi2_ndf_binned", "negative_bins_binned", "rms_rel_member")
            scan.append({k: r_b[k] for k in keys if k in r_b})
        res = compare_histograms(truth, truth_err, binned, binned_err, hists, gen_err, **band_args)
        res.update({"edges": edges.tolist(), "truth": truth.tolist(), "truth_err": truth_err.tolist(), "binned": binned.tolist(),
                    "binned_err": binned_err.tolist(), "truth_label": label_truth, "binning_scan": scan})  # fmt: skip
        peak = None
        if cfg.evaluation.fit_peak:
            fine = np.linspace(edges[0], edges[-1], 4 * cfg.evaluation.bins + 1)
            fw = np.diff(fine)

            def fit(h, e, fine=fine):
                return fit_breit_wigner(fine, h, e)

            member_fits = []
            for o, s_k in zip(outputs, sig_out):
                c = np.histogram(_observable(o, obs), fine)[0]
                member_fits.append(fit(c * s_k / len(o) / fw, np.sqrt(np.maximum(c, 1)) * s_k / len(o) / fw))
            b_h, b_e = binned_subtraction({s: _observable(train_tables[s], obs) for s in names},
                                          {s: train_tables[s]["weight"].to_numpy() for s in names}, sigma, coeffs, fine)  # fmt: skip
            pos = np.array([f["position"] for f in member_fits])
            hw = np.array([f["half_width"] for f in member_fits])
            peak = {"position": float(pos.mean()), "half_width": float(hw.mean()), "members": member_fits,
                    "position_spread": float(pos.std(ddof=1)) if len(pos) > 1 else None,
                    "half_width_spread": float(hw.std(ddof=1)) if len(hw) > 1 else None,
                    "binned": fit(b_h, b_e)}  # fmt: skip
            if toy is not None:
                t_s = toy.sample_output(n, seed)[obs].to_numpy()
                c = np.histogram(t_s, fine)[0]
                peak["truth_sample"] = fit(c * sigma_truth / len(t_s) / fw, np.sqrt(np.maximum(c, 1)) * sigma_truth / len(t_s) / fw)
                peak["truth"] = {"position": 90.0, "half_width": 10.0}
            peaks[obs] = peak
        comparisons[obs] = res
        if cfg.evaluation.figures:
            figures_out.append(_histogram_figure(fig_dir / f"output_{obs}.png", obs, edges, truth, truth_err, binned, binned_err, res, label_truth, peak))
            inputs, generated = {}, {}
            for i, s in enumerate(names):
                inputs[s] = binned_subtraction({s: _observable(train_tables[s], obs)}, {s: train_tables[s]["weight"].to_numpy()}, sigma, [1.0], edges)
                sel = membership[k_all, i] > 0
                generated[s] = np.histogram(_observable(gen_all[sel], obs), edges)[0] * sigma[names[0]] / max(n_ref, 1) / width
            figures_in.append(_inputs_figure(fig_dir / f"inputs_{obs}.png", obs, edges, inputs, generated))

    with atomic_path(ev / "histograms.json") as tmp:
        tmp.write_text(json.dumps(jsonable(comparisons), indent=1))
    first = names[0]
    ratios = {s: {"target": sigma[s] / sigma[first],
                  "gan": [sum(c[k] for k in model.samples[s]) / max(sum(c[k] for k in model.samples[first]), 1) for c in counts]}
              for s in names[1:]}  # fmt: skip
    history = model.history_
    summary: dict[str, Any] = {
        "inputs": {s: {"train": len(data["parts"][s]["train"]), "validation": len(data["parts"][s]["val"]), "sigma": sigma[s]} for s in names},
        "output": list(model.output), "coefficients": dict(zip(names, coeffs.tolist())),
        "sigma_output": {"truth": sigma_truth, "gan": sig_out.tolist(), "gan_mean": float(sig_out.mean()),
                         "gan_spread": float(sig_out.std(ddof=1)) if len(sig_out) > 1 else None},
        "class_ratios": ratios, "members": len(members), "bootstrap": cfg.ensemble.bootstrap if len(members) > 1 else None,
        "epochs": cfg.training.epochs, "best_epochs": [m.best_epoch_ for m in members], "train_seconds": round(train_seconds, 1),
        "generated_events": n, "metric_val_best": (history.get("metric_val") or [None])[(model.best_epoch_ or 1) - 1] if history.get("metric_val") else None,
        "observables": {k: {kk: vv for kk, vv in v.items() if not isinstance(vv, list) or kk == "binning_scan"} for k, v in comparisons.items()},
        "peaks": peaks,
        "toy": cfg.data.toy if toy is not None else None,
    }  # fmt: skip
    _write_sections(run_dir, ev, summary, comparisons, peaks, figures_out, figures_in)
    roles: dict[str, Any] = {"x_columns": list(observables), "c_columns": [], "observables": list(observables), "weight": None, "comparisons": []}
    if toy is not None and len(cfg.data.columns) == 1:
        write_table(toy.sample_output(n, seed), ev / "truth.parquet", metadata={"role": "true output", "toy": toy.case})
        roles["comparisons"].append({"name": "output", "title": "GAN output vs events of the true output",
                                     "reference": "truth.parquet", "test": "generated.parquet"})  # fmt: skip
    with atomic_path(ev / "roles.json") as tmp:
        tmp.write_text(json.dumps(roles, indent=1))
    with atomic_path(run_dir / "summary.json") as tmp:
        tmp.write_text(json.dumps(jsonable(summary), indent=1))
    _write_summary_txt(run_dir, summary)
    return summary


def _fmt_pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


def _write_sections(run_dir: Path, ev: Path, s: dict, comparisons: dict, peaks: dict, figs_out: list, figs_in: list) -> None:
    rel = lambda p: str(p.relative_to(run_dir))  # noqa: E731
    header = ["observable", "bins", "GAN chi2/ndf (input errors)", "binned chi2/ndf", "GAN RMS dev.", "binned RMS dev.",
              "negative bins GAN / binned", "min GAN", "band chi2/ndf", "coverage"]  # fmt: skip
    rows = []
    for k, r in comparisons.items():
        rows.append([k, r["bins"], f"{r['chi2_ndf_gan_input_errors']:.2f}", f"{r['chi2_ndf_binned']:.2f}", _fmt_pct(r["rms_rel_gan"]),
                     _fmt_pct(r["rms_rel_binned"]), f"{r['negative_bins_gan']} / {r['negative_bins_binned']}", f"{r['min_gan']:.4g}",
                     f"{r['chi2_ndf_gan_band']:.2f}" if "chi2_ndf_gan_band" in r else "n/a", _fmt_pct(r.get("coverage"))])  # fmt: skip
    scan_rows = [[k, b["bins"], _fmt_pct(b["rms_rel_gan"]), _fmt_pct(b["rms_rel_binned"]), f"{b['chi2_ndf_gan_input_errors']:.2f}",
                  f"{b['chi2_ndf_binned']:.2f}", b["negative_bins_binned"]] for k, r in comparisons.items() for b in r.get("binning_scan", [])]  # fmt: skip
    so = s["sigma_output"]
    norm_rows = [["output cross section", f"{so['truth']:.5g}", f"{so['gan_mean']:.5g}" + (f" +- {so['gan_spread']:.2g}" if so["gan_spread"] else "")]]
    for smp, v in s["class_ratios"].items():
        g = np.array(v["gan"])
        norm_rows.append([f"class ratio {smp} / reference", f"{v['target']:.5g}", f"{g.mean():.5g}" + (f" +- {g.std(ddof=1):.2g}" if len(g) > 1 else "")])
    sections = [
        {"title": "Output against the truth", "text": [
            "d(sigma)/dx per bin. GAN: the output events normalised to the GAN's own output cross section "
            f"({s['members']} member(s){', bootstrap replicas of the inputs' if s.get('bootstrap') else ''}). Binned subtraction: the same "
            "training inputs histogrammed and combined with their cross sections, with Poisson errors: the obvious alternative. "
            "'input errors' = the binned subtraction's statistical errors: a GAN chi2/ndf near 1 or below means it is as close to "
            "the truth as its inputs allow. Coverage: share of bins whose truth lies inside the members' mean +- standard deviation."],
         "table": {"header": header, "rows": rows}, "figures": [rel(p) for p in figs_out]},
        {"title": "GAN against binned subtraction at finer bins", "text": [
            "The paper's argument for the GAN: the binned subtraction's statistical fluctuations grow as the bins get finer, "
            "the GAN's output (a smooth function learned from all events) does not. RMS relative deviation from the truth and "
            "chi2/ndf (inputs' errors) per binning."],
         "table": {"header": ["observable", "bins", "GAN RMS dev.", "binned RMS dev.", "GAN chi2/ndf", "binned chi2/ndf", "negative bins (binned)"],
                   "rows": scan_rows}},
        {"title": "Normalisation", "text": ["The GAN's output cross section is sigma_0 N_out / N_C0 from its class counts; the class "
                                            "ratios are what L_norm pushes to sigma_i / sigma_0."],
         "table": {"header": ["quantity", "truth / target", "GAN"], "rows": norm_rows}},
    ]  # fmt: skip
    for obs, p in peaks.items():
        prow = [["GAN" + (" (mean of members)" if p["position_spread"] is not None else ""), f"{p['position']:.3f}", f"{p['half_width']:.3f}",
                 f"{p['position_spread']:.3f} / {p['half_width_spread']:.3f}" if p["position_spread"] is not None else "n/a"]]  # fmt: skip
        b = p["binned"]
        prow.append(["binned subtraction", f"{b['position']:.3f} +- {b['position_err']:.3f}", f"{b['half_width']:.3f} +- {b['half_width_err']:.3f}", ""])
        if "truth_sample" in p:
            t = p["truth_sample"]
            prow.append(["events of the true output (fit check)", f"{t['position']:.3f}", f"{t['half_width']:.3f}", ""])
            prow.append(["truth", "90", "10", ""])
        sections.append({"title": f"Breit-Wigner peak in {obs}", "text": [
            "Fit of constant + Breit-Wigner (position, half width at half maximum) to the output histogram."],
            "table": {"header": ["sample", "position", "half-width", "spread over members (pos. / width)"], "rows": prow}})
    sections.append({"title": "Input samples and the GAN's classes", "text": [
        "Each input sample (training events) against the generated events whose class is one of the sample's components, "
        "normalised with the reference sample's cross section and the generated class counts."], "figures": [rel(p) for p in figs_in]})
    with atomic_path(ev / "sections.json") as tmp:
        tmp.write_text(json.dumps(sections, indent=1))


def _write_summary_txt(run_dir: Path, s: dict[str, Any]) -> None:
    ins = "; ".join(f"{k} {v['train']} train / {v['validation']} validation (sigma {v['sigma']:.5g})" for k, v in s["inputs"].items())
    signs = " ".join(f"{'+' if a > 0 else '-'} {k}" for k, a in s["coefficients"].items()).lstrip("+ ")
    lines = [f"hepgan subtraction run: {run_dir}", f"inputs: {ins}", f"output: {signs} (components {', '.join(s['output'])})"]
    ens = f"; ensemble of {s['members']}" + (" on bootstrap replicas" if s.get("bootstrap") else "") if s["members"] > 1 else ""
    lines.append(f"training: {s['epochs']} epochs in {s['train_seconds']} s; kept epoch {s['best_epochs'][0]}{ens}")
    so = s["sigma_output"]
    spread = f" +- {so['gan_spread']:.3g} (members)" if so["gan_spread"] else ""
    lines.append(f"output cross section: truth {so['truth']:.5g}, GAN {so['gan_mean']:.5g}{spread}")
    for smp, v in s["class_ratios"].items():
        lines.append(f"class ratio {smp}/reference: target {v['target']:.4f}, GAN {np.mean(v['gan']):.4f}")
    for obs, r in s["observables"].items():
        line = (f"{obs} ({r['bins']} bins): GAN chi2/ndf {r['chi2_ndf_gan_input_errors']:.2f} with the inputs' errors, binned subtraction "
                f"{r['chi2_ndf_binned']:.2f}; RMS deviation from truth GAN {_fmt_pct(r['rms_rel_gan'])}, binned {_fmt_pct(r['rms_rel_binned'])}; "
                f"negative bins GAN {r['negative_bins_gan']} (min {r['min_gan']:.4g}), binned {r['negative_bins_binned']}")  # fmt: skip
        lines.append(line)
        scan = r.get("binning_scan") or []
        if len(scan) > 1:
            lines.append("  RMS deviation from truth with " + ", ".join(f"{b['bins']}" for b in scan) + " bins: GAN "
                         + " / ".join(_fmt_pct(b["rms_rel_gan"]) for b in scan) + ", binned subtraction "
                         + " / ".join(_fmt_pct(b["rms_rel_binned"]) for b in scan))  # fmt: skip
        if "coverage" in r:
            lines.append(f"  ensemble band ({r['band_members']} members, around {'member 0' if r['centre'] == 'first' else 'the mean'}): chi2/ndf "
                         f"{r['chi2_ndf_gan_band']:.2f}, coverage {_fmt_pct(r['coverage'])} +- {_fmt_pct(r['coverage_err'])} of {r['bins']} bins "
                         f"(around member 0 {_fmt_pct(r['coverage_first'])}, around the mean {_fmt_pct(r['coverage_mean'])}; binned errors cover "
                         f"{_fmt_pct(r['coverage_binned'])}); band / binned error (median) {r['band_over_binned_err']:.2f}")  # fmt: skip
    for obs, p in s["peaks"].items():
        spread = f" (spread {p['position_spread']:.2f} / {p['half_width_spread']:.2f})" if p["position_spread"] is not None else ""
        b = p["binned"]
        lines.append(f"peak in {obs}: GAN position {p['position']:.2f}, half-width {p['half_width']:.2f}{spread}; binned subtraction "
                     f"{b['position']:.2f} +- {b['position_err']:.2f}, {b['half_width']:.2f} +- {b['half_width_err']:.2f}"
                     + ("; truth 90, 10" if "truth" in p else ""))  # fmt: skip
    with atomic_path(run_dir / "summary.txt") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
