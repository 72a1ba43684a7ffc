"""Figures of an evaluation: matplotlib with the mplhep HEP style (seed 002, Figs. 2-3 and 5-7).

Every function draws one figure, writes it as a PNG and a vector PDF beside it
(atomically: temporary name, then rename) and returns the PNG's path. The HEP style is applied inside a
context, never globally, and the Agg backend is used so no display is needed.
Histogram errors are the statistical sqrt(sum w^2) per bin; weights may be
negative.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from hepgan.io import atomic_path

__all__ = [
    "COLORS",
    "ROLE_COLORS",
    "OBSERVABLES",
    "role_color",
    "axis_label",
    "style",
    "save_figure",
    "bin_edges",
    "histogram",
    "ratio_limits",
    "ratio_points",
    "histogram_ratio",
    "pt_comparison",
    "corner_plot",
    "correlation_matrices",
    "training_curves",
]

Sample = tuple  # (values (N,), weights (N,) or None)

#: Colours in the order of the samples a figure draws, for samples whose role is not known.
COLORS = ["black", "tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple"]

#: One colour per role in every figure: the reference (MC truth) black, the generated sample red,
#: the MC control region blue, a baseline (another run, a flow) green.
ROLE_COLORS = (
    (("mc sr", "reference", "full mc", "truth", "pythia", "mc signal"), "black"),
    (("mc cr",), "tab:blue"),
    (("baseline", "flow", "without mmd"), "tab:green"),
    (("gan", "generated", "test", "with mmd"), "tab:red"),
)

#: Observable -> (axis label, unit, falling spectrum: logarithmic y axis).
OBSERVABLES: dict[str, tuple[str, str, bool]] = {
    "pho1_pt": (r"$p_T^{\gamma_1}$", "GeV", True), "pho2_pt": (r"$p_T^{\gamma_2}$", "GeV", True),
    "pho1_eta": (r"$\eta^{\gamma_1}$", "", False), "pho2_eta": (r"$\eta^{\gamma_2}$", "", False),
    "pho1_phi": (r"$\phi^{\gamma_1}$", "rad", False), "pho2_phi": (r"$\phi^{\gamma_2}$", "rad", False),
    "pho1_id": (r"photon ID score $\gamma_1$", "", False), "pho2_id": (r"photon ID score $\gamma_2$", "", False),
    "n_jets": ("number of jets", "", False), "n_vtx": ("number of vertices", "", False),
    "m_gg": (r"$m_{\gamma\gamma}$", "GeV", True), "pt_gg": (r"$p_T^{\gamma\gamma}$", "GeV", True),
    "ptgg_over_mgg": (r"$p_T^{\gamma\gamma} / m_{\gamma\gamma}$", "", True), "lead_jet_pt": (r"leading jet $p_T$", "GeV", True),
    "m_llg": (r"$m_{\ell\ell\gamma}$", "GeV", False), "pt_llg": (r"$p_T^{\ell\ell\gamma}$", "GeV", True), "e_llg": (r"$E_{\ell\ell\gamma}$", "GeV", True),
    "eta_llg": (r"$\eta_{\ell\ell\gamma}$", "", False), "phi_llg": (r"$\phi_{\ell\ell\gamma}$", "rad", False),
    "m_ll": (r"$m_{\ell\ell}$", "GeV", False), "pt_ll": (r"$p_T^{\ell\ell}$", "GeV", True), "e_ll": (r"$E_{\ell\ell}$", "GeV", True),
    "eta_ll": (r"$\eta_{\ell\ell}$", "", False), "phi_ll": (r"$\phi_{\ell\ell}$", "rad", False), "dr_ll": (r"$\Delta R_{\ell\ell}$", "", False),
    "met": (r"$E_T^\mathrm{miss}$", "GeV", True), "phi_met": (r"$\phi(E_T^\mathrm{miss})$", "rad", False),
    "dphi_ll": (r"$\Delta\phi_{\ell\ell}$", "rad", False), "dphi_met_llg": (r"$\Delta\phi(E_T^\mathrm{miss}, Z\gamma)$", "rad", False),
    "ptll_over_mllg": (r"$p_T^{\ell\ell} / m_{\ell\ell\gamma}$", "", True), "n_j": ("number of jets", "", False),
    "n_cj": ("number of central jets", "", False),
}  # fmt: skip


def role_color(label: str, k: int = 0) -> str:
    """The colour of a sample by its role (see ROLE_COLORS); unknown roles take COLORS in order."""
    low = label.lower()
    for keys, color in ROLE_COLORS:
        if any(key in low for key in keys):
            return color
    return COLORS[k % len(COLORS)]


def axis_label(column: str) -> tuple[str, bool]:
    r"""(axis label with its unit, whether the spectrum falls steeply: log y) of an observable.

    Known names come from OBSERVABLES; others by their suffix (``_pt``, ``_e``, ``_m`` in GeV and
    falling, ``_phi`` in rad, resonance masses ``m_*`` in GeV).

    Example:
        >>> axis_label("pho2_pt")
        ('$p_T^{\\gamma_2}$ [GeV]', True)
        >>> axis_label("b_eta")
        ('b $\\eta$', False)
        >>> axis_label("part_m_jj")
        ('part $m$ (jj) [GeV]', False)
    """
    if column in OBSERVABLES:
        label, unit, log = OBSERVABLES[column]
    else:
        head, _, tail = column.rpartition("_")
        known = {"pt": (r"$p_T$", "GeV", True), "e": ("$E$", "GeV", True), "m": ("$m$", "GeV", False), "eta": (r"$\eta$", "", False),
                 "phi": (r"$\phi$", "rad", False), "px": ("$p_x$", "GeV", False), "py": ("$p_y$", "GeV", False), "pz": ("$p_z$", "GeV", False)}  # fmt: skip
        if head and tail in known:
            sym, unit, log = known[tail]
            label = f"{head} {sym}"
        elif column.startswith("m_"):
            label, unit, log = f"$m$ ({column[2:]})", "GeV", False
        elif column.partition("_")[2].startswith("m_"):  # a level's resonance mass: part_m_jj, det_m_ll
            level, _, rest = column.partition("_")
            label, unit, log = f"{level} $m$ ({rest[2:]})", "GeV", False
        else:
            label, unit, log = column, "", False
    return (f"{label} [{unit}]" if unit else label), log


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The figures' matplotlib style (mplhep's CMS style) for the block."""
    import mplhep

    with plt.style.context(mplhep.style.CMS), plt.rc_context({"figure.max_open_warning": 0}):
        yield


def save_figure(fig, path: str | Path) -> Path:
    """Writes a figure as PNG (150 dpi) and, beside it, as vector PDF, atomically; closes it; returns the PNG path."""
    import warnings

    path = Path(path)
    with warnings.catch_warnings():
        # matplotlib times the search of legend(loc="best") and warns when it is slow, e.g. on a loaded machine:
        # a timing notice, not a defect of the figure
        warnings.filterwarnings("ignore", message="Creating legend with loc=", category=UserWarning)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")
        with atomic_path(path.with_suffix(".pdf")) as tmp:
            fig.savefig(tmp, format="pdf", bbox_inches="tight")
    plt.close(fig)
    return path


def _w(values, weights) -> np.ndarray:
    return np.ones(len(values)) if weights is None else np.asarray(weights, dtype=np.float64)


def bin_edges(arrays: Sequence[np.ndarray], bins: int, quantiles=(0.005, 0.995), weights: Sequence[np.ndarray | None] | None = None) -> np.ndarray:
    """Common bin edges for several samples: one bin per value when discrete, else between pooled quantiles.

    The quantiles are weighted (by |w|, each sample normalised to the same total) when ``weights``
    are given, so that the range holds where the events' weight is, not where unweighted events are.
    """
    pooled = np.concatenate([np.asarray(a, dtype=np.float64) for a in arrays])
    uniq = np.unique(pooled)
    if len(uniq) <= bins:  # discrete: one bin per value
        if len(uniq) == 1:
            return np.array([uniq[0] - 0.5, uniq[0] + 0.5])
        mid = (uniq[1:] + uniq[:-1]) / 2
        return np.concatenate([[2 * uniq[0] - mid[0]], mid, [2 * uniq[-1] - mid[-1]]])
    if weights is None:
        lo, hi = np.quantile(pooled, quantiles)
    else:
        from hepgan.metrics.distances import weighted_quantile

        ws = [np.abs(_w(a, w)) for a, w in zip(arrays, weights)]
        pw = np.concatenate([w / w.sum() if w.sum() > 0 else w for w in ws])
        lo, hi = weighted_quantile(pooled, list(quantiles), pw)
    if hi <= lo:
        lo, hi = pooled.min(), pooled.max() + 1e-9
    return np.linspace(lo, hi, bins + 1)


def histogram(values, weights, edges, density: bool):
    """Weighted counts and their errors sqrt(sum w^2) per bin (divided by total weight x width when ``density``)."""
    w = _w(values, weights)
    h, _ = np.histogram(values, bins=edges, weights=w)
    e = np.sqrt(np.histogram(values, bins=edges, weights=w**2)[0])
    if density:
        norm = w.sum() * np.diff(edges)
        h, e = h / norm, e / norm
    return h, e


def ratio_limits(ratios: Sequence[np.ndarray], low: float = 0.5, high: float = 1.5, cap: float = 4.0) -> tuple[float, float]:
    """A ratio panel's range: at least [low, high], widened to hold the points, at most [0, cap].

    Example:
        >>> [round(v, 3) for v in ratio_limits([np.array([0.9, 1.8, np.nan])])]
        [0.5, 1.98]
    """
    vals = np.concatenate([r[np.isfinite(r)] for r in ratios]) if ratios else np.array([])
    if len(vals):
        low = min(low, 0.9 * float(vals.min()))
        high = max(high, 1.1 * float(vals.max()))
    return max(0.0, low), min(cap, high)


def ratio_points(rax, centres: np.ndarray, r: np.ndarray, err: np.ndarray | None, limits: tuple[float, float], color: str) -> None:
    """Draws ratio points with error bars inside ``limits`` and an arrow at the edge for every point beyond, so none is hidden."""
    rlo, rhi = limits
    inside = (r >= rlo) & (r <= rhi)
    rax.errorbar(centres[inside], r[inside], yerr=None if err is None else err[inside], fmt="o", markersize=3, color=color)
    above, below = r > rhi, r < rlo
    rax.plot(centres[above], np.full(above.sum(), rhi - 0.04 * (rhi - rlo)), "^", color=color, markersize=7, clip_on=False)
    rax.plot(centres[below], np.full(below.sum(), rlo + 0.04 * (rhi - rlo)), "v", color=color, markersize=7, clip_on=False)


def histogram_ratio(
    samples: Mapping[str, Sample],
    path: str | Path,
    xlabel: str = "",
    bins: int = 40,
    density: bool = True,
    title: str | None = None,
    log: bool | None = None,
    bands: Mapping[str, Sequence[Sample]] | None = None,
) -> Path:
    """Weighted histograms of one observable with a ratio panel to the first sample.

    Ranges come from the weighted 0.5-99.5 % quantiles of all samples; the ratio panel's range
    follows the points (at least 0.5-1.5, at most 0-4), and every point beyond it is drawn as an
    arrow at its edge, so that no point is hidden. Colours follow each sample's role.

    Args:
        samples: label -> (values (N,), weights (N,) or None); the first is the reference of the ratio.
        path: PNG to write (a PDF is written beside it).
        xlabel: axis label (with its unit); see :func:`axis_label`.
        bins: number of bins (discrete observables get one bin per value).
        density: normalise each histogram to unit area (shapes).
        title: a title naming the region and the samples.
        log: logarithmic y axis (None: linear).
        bands: label -> replicas of that sample (other seeds, an ensemble): their spread per bin
            (min to max) is drawn as a band, in the main and the ratio panel.

    Returns:
        The path written.
    """
    labels = list(samples)
    edges = bin_edges([np.asarray(samples[k][0]) for k in labels], bins, weights=[samples[k][1] for k in labels])
    centres = (edges[1:] + edges[:-1]) / 2
    hists = {label: histogram(np.asarray(samples[label][0]), samples[label][1], edges, density) for label in labels}
    ref_h, ref_e = hists[labels[0]]

    def ratio(h):
        return np.divide(h, ref_h, out=np.full_like(h, np.nan), where=ref_h != 0)

    rlo, rhi = ratio_limits([ratio(hists[label][0]) for label in labels[1:]])
    with style():
        fig, (ax, rax) = plt.subplots(2, 1, figsize=(8, 8), sharex=True, gridspec_kw={"height_ratios": [3, 1.3], "hspace": 0.06})
        band_lo = np.divide(ref_h - ref_e, ref_h, out=np.ones_like(ref_h), where=ref_h != 0)
        band_hi = np.divide(ref_h + ref_e, ref_h, out=np.ones_like(ref_h), where=ref_h != 0)
        rax.stairs(band_hi, edges, baseline=band_lo, fill=True, color="grey", alpha=0.3, label=f"{labels[0]} stat.")
        for k, label in enumerate(labels):
            h, e = hists[label]
            color = role_color(label, k)
            ax.stairs(h, edges, color=color, label=label, linewidth=1.8)
            ax.errorbar(centres, h, yerr=e, fmt="none", color=color, linewidth=1)
            replicas = (bands or {}).get(label)
            if replicas:
                hs = np.array([histogram(np.asarray(v), w, edges, density)[0] for v, w in replicas])
                ax.stairs(hs.max(0), edges, baseline=hs.min(0), fill=True, color=color, alpha=0.25, label=f"{label}: spread of {len(hs)}")
                rax.stairs(ratio(hs.max(0)), edges, baseline=ratio(hs.min(0)), fill=True, color=color, alpha=0.25)
            if k == 0:
                continue
            r = ratio(h)
            re = np.divide(e, ref_h, out=np.full_like(h, np.nan), where=ref_h != 0)
            ratio_points(rax, centres, r, re, (rlo, rhi), color)
        rax.axhline(1.0, color="black", linewidth=0.8)
        rax.set_ylim(rlo, rhi)
        rax.set_ylabel(f"ratio to {labels[0]}", fontsize=13)
        rax.set_xlabel(xlabel)
        unit = xlabel[xlabel.rfind("[") + 1 : -1] if xlabel.endswith("]") and "[" in xlabel else ""
        ax.set_ylabel(("density" if density else "events") + (f" [1/{unit}]" if density and unit else ""), fontsize=14)
        if log:
            ax.set_yscale("log")
        ax.legend(fontsize=13)
        ax.yaxis.get_major_ticks()[0].label1.set_visible(False)  # no "0" tick where the ratio panel's top tick is
        if title:
            ax.set_title(title, fontsize=13, loc="left")
        return save_figure(fig, path)


def pt_comparison(
    mc_sr: Sample, mc_cr: Sample, gan_cr: Sample, path: str | Path, xlabel: str = r"$p_T$ [GeV]", bins: int = 40
) -> Path:
    """The generated object's pT in MC SR, MC CR and GANed CR, unit area, logarithmic (seed 002 Fig. 5)."""
    return histogram_ratio(
        {"MC SR": mc_sr, "MC CR": mc_cr, "GANed CR": gan_cr}, path, xlabel=xlabel, bins=bins, density=True, log=True,
        title="CR -> SR: the second photon's pT in MC SR, MC CR and GANed CR",
    )  # fmt: skip


def _contour_levels(h: np.ndarray, fractions: Sequence[float]) -> list[float]:
    """Density thresholds whose super-level sets hold the given fractions of the (weighted) events."""
    flat = np.sort(np.clip(h.ravel(), 0, None))[::-1]
    cum = np.cumsum(flat)
    if cum[-1] <= 0:
        return []
    cum /= cum[-1]
    levels = [flat[min(np.searchsorted(cum, f), len(flat) - 1)] for f in fractions]
    return sorted(set(float(v) for v in levels if v > 0))


def corner_plot(
    reference,
    test,
    columns: Sequence[str],
    path: str | Path,
    w_reference=None,
    w_test=None,
    labels: tuple[str, str] = ("Full MC", "GANed"),
    bins: int = 30,
    fractions: Sequence[float] = (0.25, 0.5, 0.75),
) -> Path:
    """Corner plot: 1-D histograms on the diagonal, contours holding 25/50/75 % of events off it (Fig. 6).

    Args:
        reference: (N, D) array or DataFrame with ``columns`` (e.g. MC SR).
        test: (M, D) the sample under test (e.g. GANed CR).
        columns: the D observables.
        path: PNG to write.
        w_reference: (N,) weights.
        w_test: (M,) weights.
        labels: legend names of reference and test.
        bins: bins per axis.
        fractions: event fractions inside the contours.

    Returns:
        The path written.
    """
    from scipy.ndimage import gaussian_filter

    ref = np.asarray(reference[list(columns)] if hasattr(reference, "columns") else reference, dtype=np.float64)
    tst = np.asarray(test[list(columns)] if hasattr(test, "columns") else test, dtype=np.float64)
    wr, wt = _w(ref, w_reference), _w(tst, w_test)
    dim = len(columns)
    edges = [bin_edges([ref[:, k], tst[:, k]], bins, weights=[wr, wt]) for k in range(dim)]
    colors = [role_color(labels[0], 0), role_color(labels[1], 1)]
    with style():
        fig, axes = plt.subplots(dim, dim, figsize=(3.2 * dim, 3.2 * dim), squeeze=False)
        for i in range(dim):
            for j in range(dim):
                ax = axes[i, j]
                if j > i:
                    ax.set_visible(False)
                    continue
                if i == j:
                    for k, (x, w) in enumerate(((ref, wr), (tst, wt))):
                        h, _ = histogram(x[:, i], w, edges[i], density=True)
                        ax.stairs(h, edges[i], color=colors[k], linewidth=1.5, label=labels[k])
                    ax.set_yticks([])
                else:
                    for k, (x, w) in enumerate(((ref, wr), (tst, wt))):
                        h, _, _ = np.histogram2d(x[:, j], x[:, i], bins=[edges[j], edges[i]], weights=w)
                        h = gaussian_filter(h, 0.8)
                        levels = _contour_levels(h, fractions)
                        if len(levels) >= 1 and min(h.shape) >= 2:  # a constant column has one bin
                            cj = (edges[j][1:] + edges[j][:-1]) / 2
                            ci = (edges[i][1:] + edges[i][:-1]) / 2
                            ax.contour(cj, ci, h.T, levels=levels, colors=colors[k], linewidths=1.2)
                if i == dim - 1:
                    ax.set_xlabel(axis_label(columns[j])[0], fontsize=13)
                else:
                    ax.set_xticklabels([])
                if j == 0 and i > 0:
                    ax.set_ylabel(axis_label(columns[i])[0], fontsize=13)
                elif j > 0:
                    ax.set_yticklabels([])
                ax.tick_params(labelsize=10)
        axes[0, 0].legend(fontsize=11, loc="upper right")
        fig.suptitle(
            f"contours: {', '.join(f'{f:.0%}' for f in fractions)} of events", fontsize=14, y=1.0
        )
        return save_figure(fig, path)


def correlation_matrices(
    matrices: Sequence[np.ndarray], titles: Sequence[str], columns: Sequence[str], path: str | Path, pulls: np.ndarray | None = None
) -> Path:
    """Distance-correlation matrices side by side, and their difference (seed 002 Fig. 7).

    Args:
        matrices: (D, D) arrays, e.g. ``[m_sr.d, m_gan.d]``.
        titles: one title per matrix.
        columns: the D observables.
        path: PNG to write.
        pulls: (D, D) the difference in units of its bootstrap error, shown in the difference panel
            (the signed difference when None).

    Returns:
        The path written.
    """
    dim = len(columns)
    size = max(7.0, 0.75 * dim + 3)
    names = [axis_label(c)[0] for c in columns]
    panels = len(matrices) + (1 if len(matrices) == 2 else 0)
    with style():
        fig, axes = plt.subplots(1, panels, figsize=(size * panels, size), squeeze=False)
        for ax, m, title in zip(axes[0], matrices, titles):
            im = ax.imshow(np.asarray(m), vmin=0, vmax=1, cmap="viridis")
            _matrix_axes(ax, names, np.asarray(m), "{:.2f}", lambda v: "white" if v < 0.6 else "black")
            ax.set_title(title, fontsize=14)
        fig.colorbar(im, ax=list(axes[0][: len(matrices)]), shrink=0.7, label="distance correlation")
        if len(matrices) == 2:
            ax = axes[0][2]
            diff = np.asarray(matrices[1]) - np.asarray(matrices[0])
            shown = diff if pulls is None else np.asarray(pulls)
            lim = max(float(np.nanmax(np.abs(shown))), 1e-9) if pulls is None else max(5.0, float(np.nanmax(np.abs(shown))))
            im2 = ax.imshow(shown, vmin=-lim, vmax=lim, cmap="RdBu_r")
            _matrix_axes(ax, names, shown, "{:+.1f}" if pulls is not None else "{:+.2f}", lambda v: "black")
            ax.set_title(f"{titles[1]} - {titles[0]}" + (" (pull)" if pulls is not None else ""), fontsize=14)
            fig.colorbar(im2, ax=[ax], shrink=0.7, label="difference / its error" if pulls is not None else "difference")
        return save_figure(fig, path)


def _matrix_axes(ax, names: Sequence[str], values: np.ndarray, fmt: str, color) -> None:
    dim = len(names)
    ax.set_xticks(range(dim), names, rotation=60, ha="right", fontsize=12)
    ax.set_yticks(range(dim), names, fontsize=12)
    ax.minorticks_off()
    if dim <= 14:
        for a in range(dim):
            for b in range(dim):
                v = float(values[a][b])
                if np.isfinite(v):
                    ax.text(b, a, fmt.format(v), ha="center", va="center", fontsize=10 if dim <= 10 else 8, color=color(v))


def training_curves(history: Mapping[str, Sequence[float]], path: str | Path) -> Path:
    """Losses, the validation metric (train and validation, best epoch marked) and the learning rate (Figs. 2-3).

    Args:
        history: the run's ``history.json``: epoch, ``loss_<step>`` per step, lr, best_epoch and
            ``selection`` (the selecting metric's history key, e.g. ``neg2lnL_val``, and its label);
            the metric panel shows that key and its ``_train`` twin; missing entries are skipped.
        path: PNG to write.

    Returns:
        The path written.
    """
    sel = history.get("selection") or {}
    val_key = sel.get("metric")
    train_key = val_key[: -len("_val")] + "_train" if val_key and val_key.endswith("_val") else None
    name = sel.get("label") or val_key or "metric"
    loss_keys = [k for k in history if k.startswith("loss_") and history.get(k)]
    panels = []
    if loss_keys:
        panels.append("loss")
    if val_key and history.get(val_key):
        panels.append("metric")
    if history.get("lr"):
        panels.append("lr")
    panels = panels or ["loss"]
    n_ep = max((len(v) for v in history.values() if isinstance(v, (list, tuple))), default=0)
    epoch = list(history.get("epoch") or range(n_ep))
    best = history.get("best_epoch")
    step_labels = {"loss_d": "discriminator", "loss_g": "generator"}
    with style():
        fig, axes = plt.subplots(len(panels), 1, figsize=(9, 3.5 * len(panels)), sharex=True, squeeze=False)
        for ax, panel in zip(axes[:, 0], panels):
            if panel == "loss":
                for key in loss_keys:
                    ax.plot(epoch[: len(history[key])], history[key], label=step_labels.get(key, key[len("loss_") :]))
                ax.set_ylabel("loss", fontsize=14)
            elif panel == "metric":
                for key, label in ((train_key, "train"), (val_key, "validation")):
                    if key and history.get(key):
                        ax.plot(epoch[: len(history[key])], history[key], label=label)
                if best is not None:
                    idx = epoch.index(best) if best in epoch else None
                    val = history[val_key][idx] if idx is not None and idx < len(history[val_key]) else None
                    ax.axvline(best, color="grey", linestyle="--",
                               label=f"best epoch {best}" + (f" ({val:.4g})" if val is not None else ""))  # fmt: skip
                ax.set_ylabel(name, fontsize=14)
            else:
                ax.plot(epoch[: len(history["lr"])], history["lr"], color="tab:green")
                ax.set_ylabel("learning rate", fontsize=14)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=12)
            ax.tick_params(labelsize=12)
        axes[-1, 0].set_xlabel("epoch", fontsize=14)
        return save_figure(fig, path)
