"""Figures of an evaluation: matplotlib with the mplhep HEP style (seed 002, Figs. 2-3 and 5-7).

Every function draws one figure, writes it as a PNG (atomically: temporary
name, then rename) and returns the path. The HEP style is applied inside a
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
    "style",
    "save_figure",
    "bin_edges",
    "histogram",
    "histogram_ratio",
    "pt_comparison",
    "corner_plot",
    "correlation_matrices",
    "training_curves",
]

#: One colour per role, in the order of the samples a figure draws (reference first).
COLORS = ["black", "tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple"]
Sample = tuple  # (values (N,), weights (N,) or None)


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The figures' matplotlib style (mplhep's CMS style) for the block."""
    import mplhep

    with plt.style.context(mplhep.style.CMS), plt.rc_context({"figure.max_open_warning": 0}):
        yield


def save_figure(fig, path: str | Path) -> Path:
    """Writes a figure as PNG atomically and closes it; returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return path


def _w(values, weights) -> np.ndarray:
    return np.ones(len(values)) if weights is None else np.asarray(weights, dtype=np.float64)


def bin_edges(arrays: Sequence[np.ndarray], bins: int, quantiles=(0.005, 0.995)) -> np.ndarray:
    """Common bin edges for several samples: one bin per value when discrete, else between pooled quantiles."""
    pooled = np.concatenate([np.asarray(a, dtype=np.float64) for a in arrays])
    uniq = np.unique(pooled)
    if len(uniq) <= bins:  # discrete: one bin per value
        if len(uniq) == 1:
            return np.array([uniq[0] - 0.5, uniq[0] + 0.5])
        mid = (uniq[1:] + uniq[:-1]) / 2
        return np.concatenate([[2 * uniq[0] - mid[0]], mid, [2 * uniq[-1] - mid[-1]]])
    lo, hi = np.quantile(pooled, quantiles)
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


def histogram_ratio(
    samples: Mapping[str, Sample],
    path: str | Path,
    xlabel: str = "",
    bins: int = 40,
    density: bool = True,
    title: str | None = None,
) -> Path:
    """Weighted histograms of one observable with a ratio panel to the first sample.

    Args:
        samples: label -> (values (N,), weights (N,) or None); the first is the reference of the ratio.
        path: PNG to write.
        xlabel: axis label.
        bins: number of bins (discrete observables get one bin per value).
        density: normalise each histogram to unit area (shapes).
        title: optional title.

    Returns:
        The path written.
    """
    labels = list(samples)
    edges = bin_edges([np.asarray(samples[k][0]) for k in labels], bins)
    centres = (edges[1:] + edges[:-1]) / 2
    with style():
        fig, (ax, rax) = plt.subplots(
            2, 1, figsize=(8, 8), sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05}
        )
        ref_h, ref_e = None, None
        for k, label in enumerate(labels):
            values, weights = samples[label]
            h, e = histogram(np.asarray(values), weights, edges, density)
            color = COLORS[k % len(COLORS)]
            ax.stairs(h, edges, color=color, label=label, linewidth=1.8)
            ax.errorbar(centres, h, yerr=e, fmt="none", color=color, linewidth=1)
            if k == 0:
                ref_h, ref_e = h, e
                band_lo = np.divide(ref_h - ref_e, ref_h, out=np.ones_like(ref_h), where=ref_h != 0)
                band_hi = np.divide(ref_h + ref_e, ref_h, out=np.ones_like(ref_h), where=ref_h != 0)
                rax.stairs(band_hi, edges, baseline=band_lo, fill=True, color="grey", alpha=0.3)
                continue
            r = np.divide(h, ref_h, out=np.full_like(h, np.nan), where=ref_h != 0)
            re = np.divide(e, ref_h, out=np.full_like(h, np.nan), where=ref_h != 0)
            rax.errorbar(centres, r, yerr=re, fmt="o", markersize=3, color=color)
        rax.axhline(1.0, color="black", linewidth=0.8)
        rax.set_ylim(0.5, 1.5)
        rax.set_ylabel(f"/ {labels[0]}", fontsize=14)
        rax.set_xlabel(xlabel)
        ax.set_ylabel("density" if density else "events")
        ax.legend(fontsize=14)
        if title:
            ax.set_title(title, fontsize=14)
        return save_figure(fig, path)


def pt_comparison(
    mc_sr: Sample, mc_cr: Sample, gan_cr: Sample, path: str | Path, xlabel: str = r"$p_T$ [GeV]", bins: int = 40
) -> Path:
    """The generated object's pT in MC SR, MC CR and GANed CR, unit area (seed 002 Fig. 5)."""
    return histogram_ratio(
        {"MC SR": mc_sr, "MC CR": mc_cr, "GANed CR": gan_cr}, path, xlabel=xlabel, bins=bins, density=True
    )


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
    edges = [bin_edges([ref[:, k], tst[:, k]], bins) for k in range(dim)]
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
                        ax.stairs(h, edges[i], color=COLORS[k + 1], linewidth=1.5, label=labels[k])
                    ax.set_yticks([])
                else:
                    for k, (x, w) in enumerate(((ref, wr), (tst, wt))):
                        h, _, _ = np.histogram2d(x[:, j], x[:, i], bins=[edges[j], edges[i]], weights=w)
                        h = gaussian_filter(h, 0.8)
                        levels = _contour_levels(h, fractions)
                        if len(levels) >= 1 and min(h.shape) >= 2:  # a constant column has one bin
                            cj = (edges[j][1:] + edges[j][:-1]) / 2
                            ci = (edges[i][1:] + edges[i][:-1]) / 2
                            ax.contour(cj, ci, h.T, levels=levels, colors=COLORS[k + 1], linewidths=1.2)
                if i == dim - 1:
                    ax.set_xlabel(columns[j], fontsize=14)
                else:
                    ax.set_xticklabels([])
                if j == 0 and i > 0:
                    ax.set_ylabel(columns[i], fontsize=14)
                elif j > 0:
                    ax.set_yticklabels([])
                ax.tick_params(labelsize=10)
        axes[0, 0].legend(fontsize=11, loc="upper right")
        fig.suptitle(
            f"contours: {', '.join(f'{f:.0%}' for f in fractions)} of events", fontsize=14, y=1.0
        )
        return save_figure(fig, path)


def correlation_matrices(
    matrices: Sequence[np.ndarray], titles: Sequence[str], columns: Sequence[str], path: str | Path
) -> Path:
    """Distance-correlation matrices side by side (seed 002 Fig. 7).

    Args:
        matrices: (D, D) arrays, e.g. ``[m_sr.d, m_gan.d]``.
        titles: one title per matrix.
        columns: the D observables.
        path: PNG to write.

    Returns:
        The path written.
    """
    dim = len(columns)
    size = max(6.0, 0.6 * dim + 3)
    with style():
        fig, axes = plt.subplots(1, len(matrices), figsize=(size * len(matrices), size), squeeze=False)
        for ax, m, title in zip(axes[0], matrices, titles):
            im = ax.imshow(np.asarray(m), vmin=0, vmax=1, cmap="viridis")
            ax.set_xticks(range(dim), columns, rotation=90, fontsize=11)
            ax.set_yticks(range(dim), columns, fontsize=11)
            ax.minorticks_off()
            if dim <= 14:
                for a in range(dim):
                    for b in range(dim):
                        v = float(m[a][b])
                        ax.text(b, a, f"{v:.2f}", ha="center", va="center", fontsize=8,
                                color="white" if v < 0.6 else "black")
            ax.set_title(title, fontsize=14)
        fig.colorbar(im, ax=list(axes[0]), shrink=0.8, label="distance correlation")
        return save_figure(fig, path)


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
