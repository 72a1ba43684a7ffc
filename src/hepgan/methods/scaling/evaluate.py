"""Evaluation of a scaled dataset against held-out MC: per-feature W1 over spread, a classifier two-sample
test against the reference of two MC halves, linear correlations, and how many MC events one generated
event is worth.

The worth of a generated event (after Butter et al., "GANplifying event samples", arXiv:2008.06545): each
feature is binned in ``worth_bins`` quantile bins of the held-out MC ("truth", N_t events, fractions p_i).
A sample of n independent events has an expected squared deviation from the true fractions
sum_i p_i (1 - p_i) / n per feature (multinomial). For the generated sample (N_g events) the squared
deviation from the truth's fractions, minus the truth's own and the generated sample's statistical
parts (sum p (1 - p) / N_t and / N_g), is its systematic part D; the GAN is worth
n_equiv = sum_i p_i (1 - p_i) / D MC events (summed over the features), and the amplification is
n_equiv / n_train. D consistent with 0 (n_equiv larger than the truth can resolve) is reported as a lower
limit: the truth's statistics, not the GAN, then set the bound.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from hepgan.io import atomic_path, write_table

__all__ = ["worth_of_generated", "write_evaluation", "summary_lines"]

log = logging.getLogger("hepgan")


def worth_of_generated(truth: np.ndarray, generated: np.ndarray, n_train: int, bins: int = 20) -> dict[str, float]:
    """MC events one generated sample is worth (see the module docstring), summed over the features.

    Returns:
        n_equiv (inf when the systematic part is not resolved), amplification (n_equiv / n_train),
        d_sys (the systematic squared deviation) and its statistical error d_err, n_equiv_limit (a 2-sigma
        lower limit on n_equiv: the worth the truth's statistics can resolve).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> t = rng.normal(size=(200_000, 2)); g = rng.normal(0.05, 1, size=(400_000, 2))
        >>> w = worth_of_generated(t, g, n_train=1000)
        >>> 1000 < w["n_equiv"] < 20000
        True
    """
    t = np.asarray(truth, dtype=np.float64)
    g = np.asarray(generated, dtype=np.float64)
    n_t, n_g = len(t), len(g)
    var_sum = d_obs = noise = noise_var = 0.0
    for j in range(t.shape[1]):
        edges = np.unique(np.quantile(t[:, j], np.linspace(0, 1, bins + 1)))
        if len(edges) < 3:  # a discrete feature with few values: one bin per value
            edges = np.unique(np.concatenate([np.unique(t[:, j]) - 0.5, [t[:, j].max() + 0.5]]))
        edges[0], edges[-1] = -np.inf, np.inf
        p = np.histogram(t[:, j], edges)[0] / n_t
        q = np.histogram(g[:, j], edges)[0] / n_g
        var = p * (1 - p)
        var_sum += var.sum()
        d_obs += np.square(q - p).sum()
        noise += var.sum() * (1.0 / n_t + 1.0 / n_g)
        noise_var += 2.0 * np.square(var).sum() * (1.0 / n_t + 1.0 / n_g) ** 2
    d_sys = d_obs - noise
    d_err = float(np.sqrt(noise_var))
    n_equiv = var_sum / d_sys if d_sys > 0 else float("inf")
    limit = var_sum / max(d_sys + 2 * d_err, 1e-300)
    return {"n_equiv": float(n_equiv), "amplification": float(n_equiv / n_train), "d_sys": float(d_sys), "d_err": d_err,
            "n_equiv_limit": float(limit), "amplification_limit": float(limit / n_train)}  # fmt: skip


def write_evaluation(run_dir: Path, cfg: Any, data: dict[str, Any], model: Any, train_seconds: float, seed: int = 0) -> dict[str, Any]:
    """generated.parquet, heldout.parquet, roles.json, sections.json, summary.json and summary.txt of a scaling run."""
    from hepgan.methods.scaling.model import w1_over_std
    from hepgan.metrics.classifier import classifier_auc, reference_auc
    from hepgan.report import jsonable

    ev = Path(run_dir) / "evaluation"
    ev.mkdir(exist_ok=True)
    cols = list(cfg.data.columns)
    test = data["test"][cols].reset_index(drop=True)
    gen = model.sample(cfg.evaluation.events, seed=seed)
    write_table(gen, ev / "generated.parquet", metadata={"role": "WGAN-GP events", "seed": seed})
    write_table(test, ev / "heldout.parquet", metadata={"role": "held-out MC"})
    t, g = test.to_numpy(np.float64), gen.to_numpy(np.float64)
    n_cmp = min(len(t), len(g))
    w1 = w1_over_std(t, g, cols)
    auc = classifier_auc(t, g[:n_cmp], seed=seed, n_threads=1)
    ref = reference_auc(t, seed=seed, n_threads=1)
    perm = np.random.default_rng(seed).permutation(len(t))
    mc_half = w1_over_std(t[perm[: len(t) // 2]], t[perm[len(t) // 2 :]], cols)
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant generated column has no correlation
        rho_t, rho_g = np.corrcoef(t, rowvar=False), np.corrcoef(g, rowvar=False)
    drho = np.abs(np.nan_to_num(rho_t - rho_g))
    worth = worth_of_generated(t, g, n_train=len(data["train"]), bins=cfg.evaluation.worth_bins)
    summary = {
        "method": "scaling", "n_train": len(data["train"]), "n_heldout": len(t), "n_generated": len(g), "train_seconds": train_seconds,
        "best_epoch": model.best_epoch_,
        "w1_over_std": w1, "w1_over_std_max": max(w1.values()), "w1_over_std_mean": float(np.mean(list(w1.values()))),
        "w1_over_std_mc_halves_max": max(mc_half.values()),
        "auc": auc.auc, "auc_err": auc.auc_err, "auc_reference": ref.auc, "auc_reference_err": ref.auc_err,
        "max_abs_correlation_difference": float(drho.max()), "worth": worth,
        "passes": bool(max(w1.values()) <= 0.05 and auc.auc <= 0.6),
    }  # fmt: skip
    roles = {"x_columns": cols, "c_columns": [], "observables": cols, "weight": None,
             "comparisons": [{"name": "generated", "title": "WGAN-GP events vs held-out MC", "reference": "heldout.parquet",
                              "test": "generated.parquet", "labels": ["held-out MC", "WGAN-GP"]}]}  # fmt: skip
    worst = sorted(w1, key=w1.get, reverse=True)
    rows = [[c, f"{w1[c]:.4f}", f"{mc_half[c]:.4f}"] for c in worst]
    lim = "" if np.isfinite(worth["n_equiv"]) else " (not resolved by the held-out sample: lower limit)"
    sections = [{
        "title": "Scaled dataset against held-out MC",
        "text": [f"{len(g)} generated events against {len(t)} held-out MC events; the WGAN-GP learned from {len(data['train'])} events.",
                 f"Classifier AUC {auc.auc:.3f} +- {auc.auc_err:.3f} (two halves of the held-out MC: {ref.auc:.3f} +- {ref.auc_err:.3f}); "
                 f"the target is <= 0.6. Largest W1/std {max(w1.values()):.4f} ({worst[0]}); target <= 0.05.",
                 f"Largest difference of linear correlation coefficients: {drho.max():.3f}.",
                 f"Worth: the generated sample is worth {worth['n_equiv']:.0f} MC events{lim} (2-sigma lower limit "
                 f"{worth['n_equiv_limit']:.0f}), {worth['amplification']:.2f} times its training sample."],
        "table": {"header": ["feature", "W1/std (WGAN vs held-out)", "W1/std (two MC halves)"], "rows": rows},
        "figures": [],
    }]  # fmt: skip
    for name, obj in (("roles.json", roles), ("sections.json", sections)):
        with atomic_path(ev / name) as tmp:
            tmp.write_text(json.dumps(obj, indent=1))
    with atomic_path(Path(run_dir) / "summary.json") as tmp:
        tmp.write_text(json.dumps(jsonable(summary), indent=1))
    with atomic_path(Path(run_dir) / "summary.txt") as tmp:
        tmp.write_text("\n".join(summary_lines(summary)) + "\n")
    return summary


def summary_lines(s: dict[str, Any]) -> list[str]:
    w = s["worth"]
    return [
        f"scaling: {s['n_generated']} WGAN-GP events vs {s['n_heldout']} held-out MC (trained on {s['n_train']}, best epoch {s['best_epoch']})",
        f"classifier AUC {s['auc']:.3f} +- {s['auc_err']:.3f} (MC halves {s['auc_reference']:.3f} +- {s['auc_reference_err']:.3f}; target <= 0.6)",
        f"W1/std: max {s['w1_over_std_max']:.4f}, mean {s['w1_over_std_mean']:.4f} (MC halves max {s['w1_over_std_mc_halves_max']:.4f}; target <= 0.05)",
        f"largest correlation difference {s['max_abs_correlation_difference']:.3f}",
        f"worth: {w['n_equiv']:.0f} MC events (2-sigma lower limit {w['n_equiv_limit']:.0f}); amplification {w['amplification']:.2f}",
        f"targets {'met' if s['passes'] else 'NOT met'}",
    ]
