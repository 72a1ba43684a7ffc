"""The physics evaluation of an unfolding run: unfolded against true parton events, slices, calibration, W', OmniFold.

Held-out detector events are unfolded (K parton events each) and compared with the true parton events
of the same detector events:

* distributions: per observable (pT, eta, phi of both quarks and leptons, m_jj, m_ll, m_zw) the
  Wasserstein-1 distance divided by the truth's interquartile range (``W1/IQR``), against the same
  number for two random halves of the truth (``stat``, the size of a purely statistical difference),
  and a classifier two-sample AUC (one unfolded event per detector event against the truth; 0.5: no
  difference); histograms with ratio panels;
* the paper's slices, cuts on the detector events only (Eqs. 7, 8, 12, 13 of arXiv:1912.00477, :data:`SLICES`):
  the model is trained on the full sample and unfolds only the detector events inside the slice;
* calibration: per event, K posterior samples of each observable; the pull (truth - mean) / sd and the
  share of events whose truth lies inside the central 68 % and 95 % intervals of the K samples;
* W' injection: the SM-trained model unfolds W' events; the peak position (median) and width (half the
  interquartile range) of m_zw inside +-``peak_window`` GeV of the truth's median;
* OmniFold (:mod:`hepgan.methods.unfolding.omnifold`) on the same training and held-out events, with
  the same observables and slices (weights instead of events: no per-event calibration).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hepgan.estimator import seed_from
from hepgan.io import atomic_path, write_table
from hepgan.methods.unfolding.model import UnfoldingGAN
from hepgan.methods.unfolding.omnifold import omnifold
from hepgan.metrics.distances import wasserstein_1d, weighted_quantile

__all__ = ["SLICES", "OBSERVABLES", "slice_mask", "distribution_metrics", "calibration", "peak", "write_evaluation"]

log = logging.getLogger("hepgan")

#: The paper's detector-level slices: name -> (title, {detector column: (low, high)}).
SLICES: dict[str, tuple[str, dict[str, tuple[float, float]]]] = {
    "eq7": ("Eq. (7): pT_j1 = 30-100 GeV", {"det_j1_pt": (30.0, 100.0)}),
    "eq8": ("Eq. (8): pT_j1 = 30-60, pT_j2 = 30-50 GeV", {"det_j1_pt": (30.0, 60.0), "det_j2_pt": (30.0, 50.0)}),
    "eq12": ("Eq. (12): pT_j1 = 30-50, pT_j2 = 30-40, pT_l- = 20-50 GeV",
             {"det_j1_pt": (30.0, 50.0), "det_j2_pt": (30.0, 40.0), "det_lm_pt": (20.0, 50.0)}),
    "eq13": ("Eq. (13): pT_j1 > 60 GeV", {"det_j1_pt": (60.0, float("inf"))}),
}  # fmt: skip
#: The compared parton-level observables.
OBSERVABLES: tuple[str, ...] = tuple(f"part_{o}_{v}" for o in ("q1", "q2", "lm", "lp") for v in ("pt", "eta", "phi")) + (
    "part_m_jj", "part_m_ll", "part_m_zw")  # fmt: skip
#: Observables with histograms for every slice (the full sample gets all).
SLICE_FIGURES = ("part_m_jj", "part_m_ll", "part_q1_pt", "part_q2_pt")


def slice_mask(df: pd.DataFrame, name: str) -> np.ndarray:
    """Detector events inside slice ``name`` (``full``: every event)."""
    if name == "full":
        return np.ones(len(df), dtype=bool)
    keep = np.ones(len(df), dtype=bool)
    for col, (lo, hi) in SLICES[name][1].items():
        v = df[col].to_numpy()
        keep &= (v > lo) & (v < hi)
    return keep


def _detector_as_parton(df: pd.DataFrame) -> pd.DataFrame:
    """The detector objects under the parton names (j1 -> q1, ...): 'no unfolding' as a baseline."""
    out = {}
    for d, p in (("j1", "q1"), ("j2", "q2"), ("lm", "lm"), ("lp", "lp")):
        for v in ("pt", "eta", "phi"):
            out[f"part_{p}_{v}"] = df[f"det_{d}_{v}"].to_numpy()
    for m in ("m_jj", "m_ll", "m_zw"):
        out[f"part_{m}"] = df[f"det_{m}"].to_numpy()
    return pd.DataFrame(out)


def _iqr(v: np.ndarray, w: np.ndarray) -> float:
    return max(float(np.subtract(*weighted_quantile(v, [0.75, 0.25], w))), 1e-9)


def distribution_metrics(truth: pd.DataFrame, test: pd.DataFrame, w_test: np.ndarray | None = None, observables=OBSERVABLES,
                         seed: int = 0, classifier_max_events: int = 20_000, auc: bool = True, n_effective: float | None = None) -> dict[str, Any]:  # fmt: skip
    """W1/IQR per observable (and their mean) of ``test`` against ``truth``, the statistical reference, and the classifier AUC.

    The reference ``stat_w1_iqr_mean`` is the mean W1/IQR of two random halves of the truth, scaled by
    sqrt(1/n_truth + 1/n_test) / sqrt(4/n_truth) (W1 of independent samples scales as the square root of
    the sum of the inverse sizes): the size of a purely statistical difference between the truth and a
    test sample of ``n_effective`` events (default: the test's effective size; the detector events
    behind K posterior samples each count once).
    """
    from hepgan.metrics.classifier import classifier_auc
    from hepgan.metrics.distances import effective_size

    rng = np.random.default_rng(seed)
    w_t = np.ones(len(truth))
    w_x = np.ones(len(test)) if w_test is None else np.asarray(w_test, dtype=np.float64)
    half = rng.permutation(len(truth)) < len(truth) // 2
    n_t, n_x = len(truth), (effective_size(w_x, len(test)) if n_effective is None else float(n_effective))
    # two halves of n/2 differ by sqrt(2/n + 2/n) = 2/sqrt(n); truth (n) vs test (n_x): sqrt(1/n + 1/n_x)
    scale = np.sqrt(1.0 / n_t + 1.0 / max(n_x, 1.0)) / (2.0 / np.sqrt(n_t))
    per, ref = {}, {}
    for c in observables:
        t = truth[c].to_numpy()
        s = _iqr(t, w_t)
        per[c] = wasserstein_1d(t, test[c].to_numpy(), w_t, w_x) / s
        ref[c] = wasserstein_1d(t[half], t[~half]) / s * scale
    out: dict[str, Any] = {"n_truth": n_t, "n_test_effective": float(n_x), "w1_iqr": per, "w1_iqr_mean": float(np.mean(list(per.values()))),
                           "stat_w1_iqr_mean": float(np.mean(list(ref.values()))), "stat_w1_iqr": ref}  # fmt: skip
    if auc:
        a = truth[list(observables)].to_numpy(np.float64)
        b = test[list(observables)].to_numpy(np.float64)
        r = classifier_auc(a, b, None, w_test, max_events=classifier_max_events, seed=seed, n_threads=1)
        out["auc"], out["auc_err"] = r.auc, r.auc_err
    return out


def calibration(truth: pd.DataFrame, samples: pd.DataFrame, k: int, observables=OBSERVABLES) -> dict[str, Any]:
    """Pulls and interval coverage of per-event posteriors.

    Args:
        truth: (N rows) the true parton events.
        samples: (N k rows) k unfolded events per truth event, event by event (``UnfoldingGAN.unfold`` order).
        k: samples per event.

    Returns:
        Per observable: pull mean and sd, coverage of the central 68 % and 95 % intervals; and their means.
    """
    per = {}
    for c in observables:
        t = truth[c].to_numpy()
        s = samples[c].to_numpy().reshape(len(t), k)
        if c.endswith("_phi"):  # the posterior's own branch of the angle: the truth's image nearest to the samples' mean
            centre = np.angle(np.exp(1j * s).mean(axis=1))
            s = centre[:, None] + np.angle(np.exp(1j * (s - centre[:, None])))
            t = centre + np.angle(np.exp(1j * (t - centre)))
        mean, sd = s.mean(axis=1), s.std(axis=1, ddof=1)
        pull = (t - mean) / np.where(sd > 0, sd, np.inf)
        q = np.quantile(s, [0.025, 0.16, 0.84, 0.975], axis=1)
        per[c] = {"pull_mean": float(np.mean(pull)), "pull_sd": float(np.std(pull)),
                  "coverage_68": float(np.mean((t >= q[1]) & (t <= q[2]))), "coverage_95": float(np.mean((t >= q[0]) & (t <= q[3])))}  # fmt: skip
    mean = {key: float(np.mean([v[key] for v in per.values()])) for key in ("pull_mean", "pull_sd", "coverage_68", "coverage_95")}
    return {"n_events": len(truth), "k": k, "per_observable": per, "mean": mean}


def peak(m: np.ndarray, w: np.ndarray | None, centre: float, window: float) -> dict[str, float]:
    """Position (median) and width (half the interquartile range) of a mass peak inside centre +- window."""
    from hepgan.methods.generation.model import peak_width

    p = peak_width(m, w, centre, window)
    return {"position": p["median"], "width": p["half_iqr"], "fraction_in_window": p["fraction"]}


def _hist_figure(samples: dict[str, tuple[np.ndarray, np.ndarray | None]], path: Path, column: str, bins: int, title: str) -> Path:
    from hepgan import plots

    xlabel, _ = plots.axis_label(column)
    return plots.histogram_ratio(samples, path, xlabel=xlabel, bins=bins, title=title)


def _pull_figure(truth: pd.DataFrame, samples: pd.DataFrame, k: int, path: Path, columns: tuple[str, ...]) -> Path:
    from hepgan import plots

    with plots.style():
        fig, ax = plots.plt.subplots(figsize=(8, 6))
        edges = np.linspace(-5, 5, 51)
        for i, c in enumerate(columns):
            t = truth[c].to_numpy()
            s = samples[c].to_numpy().reshape(len(t), k)
            pull = (t - s.mean(1)) / np.maximum(s.std(1, ddof=1), 1e-12)
            ax.hist(np.clip(pull, -5, 5), bins=edges, density=True, histtype="step", linewidth=1.8, color=plots.COLORS[i % len(plots.COLORS)],
                    label=f"{c}: mean {pull.mean():.2f}, sd {pull.std():.2f}")  # fmt: skip
        x = np.linspace(-5, 5, 201)
        ax.plot(x, np.exp(-0.5 * x**2) / np.sqrt(2 * np.pi), color="grey", linestyle="--", label="N(0, 1)")
        ax.set_xlabel("pull (truth - posterior mean) / posterior sd")
        ax.set_ylabel("density")
        ax.legend(fontsize=10)
        return plots.save_figure(fig, path)


def _migration_figure(truth: pd.DataFrame, first: pd.DataFrame, det: pd.DataFrame, column: str, path: Path, bins: int = 10) -> tuple[Path, dict[str, float]]:
    """Migration matrices P(unfolded bin | true bin) of the GAN and of the detector level; their diagonal shares."""
    from hepgan import plots

    t = truth[column].to_numpy()
    edges = np.quantile(t, np.linspace(0, 1, bins + 1))
    edges[-1] += 1e-9
    diag = {}
    with plots.style():
        fig, axes = plots.plt.subplots(1, 2, figsize=(14, 6))
        for ax, (label, other) in zip(axes, (("unfolded (one sample per event)", first), ("detector level", det))):
            h, _, _ = np.histogram2d(np.clip(t, edges[0], edges[-1] - 1e-12), np.clip(other[column].to_numpy(), edges[0], edges[-1] - 1e-12),
                                     bins=[edges, edges])  # fmt: skip
            p = h / np.maximum(h.sum(axis=1, keepdims=True), 1)
            diag[label] = float(np.trace(h) / max(h.sum(), 1))
            ax.imshow(p.T, origin="lower", cmap="Blues", vmin=0, vmax=1)
            ax.set_xlabel(f"true {column} (decile bin)")
            ax.set_ylabel(f"{label} bin")
            ax.set_title(f"{label}: {100 * diag[label]:.0f} % on the diagonal", fontsize=12)
        return plots.save_figure(fig, path), diag


def _omnifold_features(df: pd.DataFrame, level: str) -> np.ndarray:
    names = ("j1", "j2", "lm", "lp") if level == "det" else ("q1", "q2", "lm", "lp")
    cols = [f"{level}_{o}_{v}" for o in names for v in ("pt", "eta", "phi")] + [f"{level}_m_jj", f"{level}_m_ll", f"{level}_m_zw"]
    return df[cols].to_numpy(np.float64)


def write_evaluation(run_dir: Path, cfg: Any, data: dict[str, Any], model: UnfoldingGAN, train_seconds: float, seed: int = 0) -> dict[str, Any]:
    """Unfolds the held-out (and W') events and writes evaluation/, figures/, sections.json, roles.json, summary.json and summary.txt.

    Returns:
        The summary dict.
    """
    from hepgan.report import jsonable

    e = cfg.evaluation
    ev, fig_dir = run_dir / "evaluation", run_dir / "figures"
    ev.mkdir(exist_ok=True)
    fig_dir.mkdir(exist_ok=True)
    train, test = data["parts"]["train"].reset_index(drop=True), data["parts"]["test"].reset_index(drop=True)
    naive = model.mode == "naive"
    label = "naive GAN" if naive else "FCGAN"
    k = 1 if naive else e.k  # the naive GAN is deterministic: one answer per event
    truth = test[list(OBSERVABLES)]
    unfolded = model.unfold(test, k=k, seed=seed_from(seed, 1))
    first = unfolded[unfolded["sample"] == 0].reset_index(drop=True)
    detector = _detector_as_parton(test)
    write_table(truth.assign(weight=1.0), ev / "truth_test.parquet", metadata={"role": "true parton events of the held-out detector events"})
    write_table(first.drop(columns=["sample"]).assign(weight=1.0), ev / "unfolded_test.parquet",
                metadata={"role": f"{label}: one unfolded event per held-out detector event", "best_epoch": model.best_epoch_})  # fmt: skip

    omni_w = None
    if e.omnifold.enabled:
        log.info("OmniFold: %d iterations on %d simulation events", e.omnifold.iterations, min(len(train), e.omnifold.max_events))
        sim = train.iloc[: e.omnifold.max_events]
        sim_gen, sim_det = _omnifold_features(sim, "part"), _omnifold_features(sim, "det")
        omni_sim = sim[list(OBSERVABLES)].reset_index(drop=True)
        omni_w = {}
        for name in ["full", *e.slices]:
            mask = slice_mask(test, name)
            omni_w[name] = omnifold(sim_gen, sim_det, _omnifold_features(test[mask], "det"), iterations=e.omnifold.iterations,
                                    max_iter=e.omnifold.max_iter, seed=seed)  # fmt: skip

    results: dict[str, Any] = {}
    figures: dict[str, list[str]] = {}
    for name in ["full", *e.slices]:
        mask = slice_mask(test, name)
        title = "full sample" if name == "full" else SLICES[name][0]
        if mask.sum() < 20:
            results[name] = {"fraction": float(mask.mean()), "skipped": "fewer than 20 held-out events"}
            continue
        t = truth[mask].reset_index(drop=True)
        sel_rows = np.repeat(mask, k)
        u = unfolded[sel_rows].reset_index(drop=True)
        r = {"title": title, "fraction": float(mask.mean()), "n_events": int(mask.sum())}
        r[label] = distribution_metrics(t, u, None, seed=seed, auc=False, n_effective=len(t))
        r[label]["auc"], r[label]["auc_err"] = _auc(t, first[mask].reset_index(drop=True), None, seed, e.classifier_max_events)
        r["detector level"] = distribution_metrics(t, detector[mask].reset_index(drop=True), seed=seed, classifier_max_events=e.classifier_max_events)
        if omni_w is not None:
            r["OmniFold"] = distribution_metrics(t, omni_sim, omni_w[name], seed=seed, classifier_max_events=e.classifier_max_events)
        results[name] = r
        if e.figures:
            cols = OBSERVABLES if name == "full" else SLICE_FIGURES
            figs = []
            for c in cols:
                samples = {"parton truth": (t[c].to_numpy(), None), label: (u[c].to_numpy(), None)}
                if omni_w is not None:
                    samples["OmniFold"] = (omni_sim[c].to_numpy(), omni_w[name])
                samples["detector level"] = (detector[mask][c].to_numpy(), None)
                figs.append(_hist_figure(samples, fig_dir / f"{name}_{c}.png", c, e.bins, f"{title}: {label} vs truth"))
            figures[name] = [str(p.relative_to(run_dir)) for p in figs]

    # calibration: K posterior samples per event (the FCGAN only: the naive GAN has one answer per event)
    calib = None
    extra_figs: list[str] = []
    if not naive:
        n_cal = min(e.calibration_events, len(test))
        calib = calibration(truth.iloc[:n_cal].reset_index(drop=True), unfolded.iloc[: n_cal * k].reset_index(drop=True), k)
        if e.figures:
            p = _pull_figure(truth.iloc[:n_cal], unfolded.iloc[: n_cal * k], k, fig_dir / "pulls.png", ("part_q1_pt", "part_m_jj", "part_lm_pt", "part_m_ll"))
            extra_figs.append(str(p.relative_to(run_dir)))
    mig_path, mig = _migration_figure(truth, first, detector, "part_q1_pt", fig_dir / "migration_part_q1_pt.png")
    extra_figs.append(str(mig_path.relative_to(run_dir)))
    if e.figures:
        from hepgan import plots

        corner = plots.corner_plot(truth, first, ["part_q1_pt", "part_q2_pt", "part_m_jj", "part_lm_pt"], fig_dir / "corner.png",
                                   labels=("parton truth", label))  # fmt: skip
        extra_figs.append(str(corner.relative_to(run_dir)))

    injection = None
    if data.get("injection") is not None:
        wp = data["injection"]
        wu = model.unfold(wp, k=k, seed=seed_from(seed, 2))
        centre = float(np.median(wp["part_m_zw"]))
        injection = {"n_events": len(wp), "window_gev": e.peak_window, "truth": peak(wp["part_m_zw"].to_numpy(), None, centre, e.peak_window),
                     label: peak(wu["part_m_zw"].to_numpy(), None, centre, e.peak_window),
                     "detector level": peak(wp["det_m_zw"].to_numpy(), None, centre, e.peak_window)}  # fmt: skip
        if omni_w is not None:  # OmniFold can only reweight the SM simulation it is given: its prior dependence
            w_wp = omnifold(sim_gen, sim_det, _omnifold_features(wp, "det"), iterations=e.omnifold.iterations,
                            max_iter=e.omnifold.max_iter, seed=seed)  # fmt: skip
            injection["OmniFold"] = peak(omni_sim["part_m_zw"].to_numpy(), w_wp, centre, e.peak_window)
        injection["position_rel_error"] = injection[label]["position"] / injection["truth"]["position"] - 1
        injection["width_ratio"] = injection[label]["width"] / injection["truth"]["width"]
        injection["m_jj"] = {"truth": peak(wp["part_m_jj"].to_numpy(), None, 80.4, 20.0), label: peak(wu["part_m_jj"].to_numpy(), None, 80.4, 20.0)}
        if e.figures:
            samples = {"W' parton truth": (wp["part_m_zw"].to_numpy(), None), f"{label} (trained on SM)": (wu["part_m_zw"].to_numpy(), None),
                       "W' detector level": (wp["det_m_zw"].to_numpy(), None)}  # fmt: skip
            p = _hist_figure(samples, fig_dir / "wprime_m_zw.png", "part_m_zw", e.bins, "W' injection: m_lljj")
            extra_figs.append(str(p.relative_to(run_dir)))

    info = {"mode": model.mode, "label": label, "n_train": len(train), "n_val": len(data["parts"]["val"]), "n_test": len(test), "k": k,
            "epochs": cfg.training.epochs, "best_epoch": model.best_epoch_, "train_seconds": round(train_seconds, 1)}  # fmt: skip
    summary = {**info, "slices": results, "calibration": calib, "migration_diagonal_part_q1_pt": mig, "injection": injection}
    with atomic_path(run_dir / "summary.json") as tmp:
        tmp.write_text(json.dumps(jsonable(summary), indent=1))
    _write_sections(run_dir, summary, figures, extra_figs)
    _write_summary_txt(run_dir, summary)
    roles = {"x_columns": list(OBSERVABLES), "c_columns": [], "observables": list(OBSERVABLES), "weight": None,
             "comparisons": [{"name": "unfolded", "title": f"{label}: unfolded held-out detector events vs their parton truth",
                              "reference": "truth_test.parquet", "test": "unfolded_test.parquet", "labels": ["parton truth", label]}]}  # fmt: skip
    with atomic_path(ev / "roles.json") as tmp:
        tmp.write_text(json.dumps(roles, indent=1))
    return summary


def _auc(truth: pd.DataFrame, test: pd.DataFrame, w: np.ndarray | None, seed: int, max_events: int) -> tuple[float, float]:
    from hepgan.metrics.classifier import classifier_auc

    r = classifier_auc(truth[list(OBSERVABLES)].to_numpy(np.float64), test[list(OBSERVABLES)].to_numpy(np.float64), None, w,
                       max_events=max_events, seed=seed, n_threads=1)  # fmt: skip
    return r.auc, r.auc_err


def _rows(summary: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name, r in summary["slices"].items():
        if "skipped" in r:
            rows.append([name, f"{r['fraction']:.3f}", "skipped", "", "", "", ""])
            continue
        for method in (summary["label"], "OmniFold", "detector level"):
            if method in r:
                m = r[method]
                rows.append([name, f"{r['fraction']:.3f}", method, f"{m['w1_iqr_mean']:.4f}", f"{m['stat_w1_iqr_mean']:.4f}",
                             f"{m['w1_iqr']['part_m_jj']:.4f}", f"{m['auc']:.3f} +- {m['auc_err']:.3f}"])  # fmt: skip
    return rows


def _write_sections(run_dir: Path, s: dict[str, Any], figures: dict[str, list[str]], extra: list[str]) -> None:
    label = s["label"]
    sections = [{"title": "Unfolded vs parton truth, full sample and slices", "text": [
        "W1/IQR: Wasserstein-1 distance over the truth's interquartile range, averaged over the observables (pT, eta, phi of "
        "q1, q2, l-, l+; m_jj, m_ll, m_zw); 'stat' is the same number expected from statistics alone for samples of these sizes. "
        "AUC: a gradient-boosted classifier separating one unfolded event per detector event from the truth (0.5: no difference). "
        "Slices cut on the detector events only; the model was trained on the full sample. 'detector level' is no unfolding at all."],
        "table": {"header": ["slice", "share", "method", "W1/IQR mean", "stat", "W1/IQR m_jj", "AUC"], "rows": _rows(s)},
        "figures": figures.get("full", [])}]  # fmt: skip
    for name, figs in figures.items():
        if name != "full":
            sections.append({"title": s["slices"][name]["title"], "text": [f"{label}, OmniFold and the detector level against the truth."], "figures": figs})
    c = s.get("calibration")
    if c:
        rows = [[k, f"{v['pull_mean']:.3f}", f"{v['pull_sd']:.3f}", f"{v['coverage_68']:.3f}", f"{v['coverage_95']:.3f}"]
                for k, v in c["per_observable"].items()]  # fmt: skip
        m = c["mean"]
        rows.append(["mean", f"{m['pull_mean']:.3f}", f"{m['pull_sd']:.3f}", f"{m['coverage_68']:.3f}", f"{m['coverage_95']:.3f}"])
        sections.append({"title": "Calibration", "text": [f"{c['k']} posterior samples for each of {c['n_events']} held-out events; a calibrated "
                         "posterior has pulls of mean 0 and sd 1 and covers the truth in 68 % and 95 % of events."],
                         "table": {"header": ["observable", "pull mean", "pull sd", "68 % coverage", "95 % coverage"], "rows": rows},
                         "figures": [f for f in extra if "pulls" in f or "migration" in f or "corner" in f]})  # fmt: skip
    else:
        sections.append({"title": "Migration and correlations", "text": ["The naive GAN gives one answer per event: no posterior, no calibration."],
                         "figures": [f for f in extra if "migration" in f or "corner" in f]})  # fmt: skip
    inj = s.get("injection")
    if inj:
        rows = [[k, f"{inj[k]['position']:.1f}", f"{inj[k]['width']:.1f}", f"{inj[k]['fraction_in_window']:.3f}"]
                for k in ("truth", label, "OmniFold", "detector level") if k in inj]  # fmt: skip
        sections.append({"title": "W' injection", "text": [
            f"The SM-trained {label} unfolds {inj['n_events']} W' events (1.3 TeV); m_zw peak inside +-{inj['window_gev']:g} GeV of the truth's "
            f"median: position (median) and width (half IQR). OmniFold reweights the SM simulation, which has almost no events near "
            f"1.3 TeV. Position error {100 * inj['position_rel_error']:.2f} %, width ratio {inj['width_ratio']:.2f}."],
            "table": {"header": ["sample", "position [GeV]", "width [GeV]", "in window"], "rows": rows},
            "figures": [f for f in extra if "wprime" in f]})  # fmt: skip
    with atomic_path(run_dir / "evaluation" / "sections.json") as tmp:
        tmp.write_text(json.dumps(sections, indent=1))


def _write_summary_txt(run_dir: Path, s: dict[str, Any]) -> None:
    label = s["label"]
    lines = [f"hepgan unfolding run ({label}): {run_dir}",
             f"events: train {s['n_train']}, validation {s['n_val']}, held-out {s['n_test']}; {s['k']} unfolded events per detector event",
             f"training: {s['epochs']} epochs in {s['train_seconds']} s; kept epoch {s['best_epoch']} (lowest validation mean W1/IQR)",
             "slice  share  method  W1/IQR-mean (stat)  W1/IQR-m_jj  AUC"]  # fmt: skip
    lines += ["  " + "  ".join(r) for r in _rows(s)]
    c = s.get("calibration")
    if c:
        m = c["mean"]
        lines.append(f"calibration ({c['n_events']} events x {c['k']}): pull mean {m['pull_mean']:.3f}, sd {m['pull_sd']:.3f}; "
                     f"coverage 68 % {m['coverage_68']:.3f}, 95 % {m['coverage_95']:.3f} (means over the observables)")  # fmt: skip
    inj = s.get("injection")
    if inj:
        lines.append(f"W' m_zw: truth {inj['truth']['position']:.1f} (width {inj['truth']['width']:.1f}); {label} {inj[label]['position']:.1f} "
                     f"(width {inj[label]['width']:.1f}); position error {100 * inj['position_rel_error']:.2f} %, "
                     f"width ratio {inj['width_ratio']:.2f}")  # fmt: skip
    with atomic_path(run_dir / "summary.txt") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
