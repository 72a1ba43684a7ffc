"""Evaluation of generated samples against their reference, and the HTML report of a run.

:func:`evaluate_samples` computes every metric of :mod:`hepgan.metrics` for one
reference/test pair, each next to a reference value that says what
"indistinguishable at this sample size" looks like, and a verdict line.
:func:`write_report` reads a run folder and writes ``report.html`` (figures
embedded as base64 PNG, self-contained) and ``metrics.json``.

Run-folder contract (every part may be absent; what exists is rendered)::

    RUN_DIR/config.yaml                 the resolved run config (shown as text)
    RUN_DIR/history.json                epoch, loss_<step>, lr, the metrics, best_epoch, selection
    RUN_DIR/evaluation/roles.json       x_columns, c_columns, observables, weight, comparisons
    RUN_DIR/evaluation/*.parquet        the event tables the comparisons name
    RUN_DIR/evaluation/sections.json    a method's own sections (title, text, table, figures)

References and verdicts (all computed, none hard-coded):

- Classifier AUC: against the AUC of two independent random halves of the reference
  sample; compatible when the difference is within 3 combined standard errors.
- Distance correlation chi: under "one distribution" each sqrt(chi2_ij) is |z| with
  E|z| = sqrt(2/pi) = 0.80 and sd 0.60; compatible when chi is within 3 sd / sqrt(N_pairs)
  of 0.80 (pairs are correlated, so this is approximate), and pairs with pull > 5 are named.
- KS: asymptotic p-value with Kish effective sizes per feature; features with p < 0.0027
  (3 sigma) are named. W1 is shown in feature units and in units of the reference std.
- MMD^2: against MMD^2 between random halves of the reference at the same subsample size
  (mean and sd over replicas); compatible within 3 sd.
- -2lnLambda (eq. 2 of seed 002, when :mod:`hepgan.metrics.likelihood` exists): the
  excess over its minimum, -2lnL(X|Y) - (-2lnL(X|X)), with X one random half of the
  reference in its own uniformised space (weighted empirical CDF of the x columns), Y the
  test sample or the other half, both subsampled to the same size; mean and sd over
  replicas; compatible within 3 combined sd.

Large samples are subsampled (seeded) where a metric would be slow; every
subsampling is recorded in ``notes`` and shown in the report.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hepgan import __version__
from hepgan.exceptions import InputFileError, SchemaError
from hepgan.io import atomic_path, read_table
from hepgan.metrics import (
    classifier_auc,
    distance_correlation_chi,
    distance_correlation_matrix,
    feature_distances,
    mmd2,
    reference_auc,
)

__all__ = ["evaluate_samples", "evaluation_figures", "write_report", "metrics_table", "jsonable"]

log = logging.getLogger("hepgan")

_NULL_ABS_Z_MEAN = math.sqrt(2 / math.pi)
_NULL_ABS_Z_SD = math.sqrt(1 - 2 / math.pi)


def _fmt(x: float, nd: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{nd}f}" if abs(x) >= 10 ** (-nd) or x == 0 else f"{x:.2e}"


def _compat(diff: float, sd: float) -> tuple[str, float]:
    z = abs(diff) / sd if sd > 0 else (0.0 if diff == 0 else float("inf"))
    return ("compatible (within 3 sigma)" if z < 3 else f"NOT compatible ({z:.1f} sigma)"), z


def _ecdf_transform(ref: np.ndarray, w: np.ndarray):
    """Weighted empirical CDF of ``ref`` (mid-point at ties), as a function, clipped to [0, 1]."""
    order = np.argsort(ref, kind="stable")
    xs = ref[order]
    cw = np.cumsum(w[order]) / w.sum()
    uniq, last = np.unique(xs[::-1], return_index=True)
    last = len(xs) - 1 - last  # index of the last occurrence of each value
    f_hi = cw[last]
    f_lo = np.r_[0.0, f_hi[:-1]]

    def f(v: np.ndarray) -> np.ndarray:
        k = np.searchsorted(uniq, v, side="right") - 1
        exact = (k >= 0) & (uniq[np.clip(k, 0, None)] == v)
        below = np.where(k >= 0, f_hi[np.clip(k, 0, None)], 0.0)
        mid = (f_lo[np.clip(k, 0, None)] + f_hi[np.clip(k, 0, None)]) / 2
        return np.clip(np.where(exact, mid, below), 0.0, 1.0)

    return f


def _neg2_log_lambda_block(ref, w_ref, test, w_test, x_columns, rng, n_replicas: int = 5, bins: int = 10):
    try:
        from hepgan.metrics.likelihood import neg2_log_lambda
    except ImportError:
        return None
    cols = list(x_columns)[:5]
    r = ref[cols].to_numpy(np.float64)
    t = test[cols].to_numpy(np.float64)
    ex_test, ex_null = [], []
    for _ in range(n_replicas):
        perm = rng.permutation(len(r))
        h1, h2 = perm[: len(r) // 2], perm[len(r) // 2 :]
        m = min(len(h2), len(t))
        h2 = h2[:m]
        tk = rng.choice(len(t), size=m, replace=False)
        fs = [_ecdf_transform(r[h1, k], w_ref[h1]) for k in range(len(cols))]

        def u(a, fs=fs):
            return np.column_stack([f(a[:, k]) for k, f in enumerate(fs)])

        u1 = u(r[h1])
        own = neg2_log_lambda(u1, u1, bins, w_ref[h1], w_ref[h1])
        norm = w_ref[h1].sum()
        ex_test.append((neg2_log_lambda(u1, u(t[tk]), bins, w_ref[h1], w_test[tk]) - own) / norm)
        ex_null.append((neg2_log_lambda(u1, u(r[h2]), bins, w_ref[h1], w_ref[h2]) - own) / norm)
    sd_t = float(np.std(ex_test, ddof=1)) if n_replicas > 1 else 0.0
    sd_n = float(np.std(ex_null, ddof=1)) if n_replicas > 1 else 0.0
    verdict, z = _compat(float(np.mean(ex_test) - np.mean(ex_null)), math.hypot(sd_t, sd_n))
    return {
        "columns": cols,
        "bins": bins,
        "excess_per_event": float(np.mean(ex_test)),
        "excess_per_event_sd": sd_t,
        "reference_excess_per_event": float(np.mean(ex_null)),
        "reference_excess_per_event_sd": sd_n,
        "n_replicas": n_replicas,
        "z": z,
        "verdict": (
            f"-2lnLambda excess/event {np.mean(ex_test):.4f} +- {sd_t:.4f} vs reference "
            f"{np.mean(ex_null):.4f} +- {sd_n:.4f}: {verdict}"
        ),
    }


def evaluate_samples(
    reference: pd.DataFrame,
    test: pd.DataFrame,
    observables: Sequence[str],
    x_columns: Sequence[str] | None = None,
    weight: str | None = None,
    n_bootstrap: int = 20,
    dcor_max_events: int | None = 100_000,
    classifier_max_events: int | None = 50_000,
    mmd_max_events: int | None = 3_000,
    seed: int = 0,
    n_threads: int | None = 1,
) -> dict[str, Any]:
    """Every metric of a test sample against its reference, with references and verdicts.

    Args:
        reference: the reference event table (e.g. MC SR), with ``observables`` (and ``weight``).
        test: the sample under test (e.g. GANed CR).
        observables: columns for the distance correlation, classifier, MMD and 1-D distances.
        x_columns: generated columns (for -2lnLambda); default ``observables``.
        weight: weight column; absent from a table -> unit weights for it.
        n_bootstrap: bootstrap replicas of the distance-correlation errors.
        dcor_max_events: subsample size of the distance correlation (None: all).
        classifier_max_events: subsample size per sample of the classifier test.
        mmd_max_events: subsample size per sample of the MMD.
        seed: seed of every subsample, split and bootstrap.
        n_threads: OpenMP threads of the classifier (None: all). 1 by default: on a small machine
            shared with other jobs, OpenMP spin-waiting made a 2-thread fit 30x slower than 1 thread.

    Returns:
        A JSON-serialisable dict: n_reference, n_test, features, classifier, distance_correlation,
        mmd, neg2_log_lambda (None when unavailable), verdicts (list of str), notes (list of str).
    """
    observables = list(observables)
    x_columns = list(x_columns or observables)
    for name, df in (("reference", reference), ("test", test)):
        missing = [c for c in observables + x_columns if c not in df.columns]
        if missing:
            raise SchemaError(f"{name} sample: missing column '{missing[0]}' (columns: {', '.join(df.columns)})")
    w_r = reference[weight].to_numpy(np.float64) if weight and weight in reference else np.ones(len(reference))
    w_t = test[weight].to_numpy(np.float64) if weight and weight in test else np.ones(len(test))
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    verdicts: list[str] = []
    r = reference[observables].to_numpy(np.float64)
    t = test[observables].to_numpy(np.float64)

    feats = feature_distances(r, t, observables, w_r, w_t)
    bad = [f["column"] for f in feats if f["ks_pvalue"] < 0.0027]
    verdicts.append(
        "KS: all features compatible (p >= 0.0027)"
        if not bad
        else f"KS: {len(bad)} of {len(feats)} features NOT compatible (p < 0.0027): {', '.join(bad)}"
    )

    clf = classifier_auc(r, t, w_r, w_t, max_events=classifier_max_events, seed=seed, n_threads=n_threads)
    ref_clf = reference_auc(r, w_r, max_events=classifier_max_events, seed=seed, n_threads=n_threads)
    v, z = _compat(clf.auc - ref_clf.auc, math.hypot(clf.auc_err, ref_clf.auc_err))
    verdicts.append(
        f"AUC {clf.auc:.3f} +- {clf.auc_err:.3f} vs reference {ref_clf.auc:.3f} +- {ref_clf.auc_err:.3f}: {v}"
    )
    if clf.subsampled or ref_clf.subsampled:
        notes.append(f"classifier: samples subsampled to {classifier_max_events} events each (seed {seed})")

    m_r = distance_correlation_matrix(r, w_r, observables, n_bootstrap, dcor_max_events, seed)
    m_t = distance_correlation_matrix(t, w_t, observables, n_bootstrap, dcor_max_events, seed + 1)
    for m, name in ((m_r, "reference"), (m_t, "test")):
        if m.subsampled_from:
            notes.append(
                f"distance correlation: {name} subsampled from {m.subsampled_from} to {m.n_events} events (seed {seed})"
            )
    dc: dict[str, Any] = {"reference": m_r.to_dict(), "test": m_t.to_dict()}
    if len(observables) >= 2 and n_bootstrap >= 2:
        chi = distance_correlation_chi(m_r, m_t)
        n_pairs = len(chi.pairs)
        sd = _NULL_ABS_Z_SD / math.sqrt(n_pairs)
        v, _ = _compat(chi.chi - _NULL_ABS_Z_MEAN, sd)
        worst = chi.pairs[0]
        large = [f"{p['i']}-{p['j']}" for p in chi.pairs if p["pull"] > 5]
        verdicts.append(
            f"distance correlation chi {chi.chi:.2f} vs {_NULL_ABS_Z_MEAN:.2f} +- {sd:.2f} expected for one "
            f"distribution ({n_pairs} pairs): {v}; worst pair {worst['i']}-{worst['j']} pull {worst['pull']:.1f}"
            + (f"; pulls > 5: {', '.join(large)}" if large else "")
        )
        dc.update(chi.to_dict())
        dc["expected_null_sd"] = sd

    mmd = mmd2(r, t, w_r, w_t, max_events=mmd_max_events, seed=seed)
    null = []
    for k in range(5):
        perm = np.random.default_rng(seed + 100 + k).permutation(len(r))
        h1, h2 = perm[: len(r) // 2], perm[len(r) // 2 :]
        null.append(mmd2(r[h1], r[h2], w_r[h1], w_r[h2], max_events=mmd_max_events, seed=seed))
    sd = float(np.std(null, ddof=1))
    v, _ = _compat(mmd - float(np.mean(null)), sd)
    verdicts.append(f"MMD^2 {mmd:.2e} vs reference halves {np.mean(null):.2e} +- {sd:.2e}: {v}")
    if mmd_max_events is not None and max(len(r), len(t)) > mmd_max_events:
        notes.append(f"MMD: samples subsampled to {mmd_max_events} events each (seed {seed})")
    if mmd_max_events is not None and len(r) // 2 < min(mmd_max_events, len(t)):
        notes.append("MMD: the reference halves are smaller than the compared samples; the reference MMD^2 is larger")

    nll = _neg2_log_lambda_block(reference, w_r, test, w_t, x_columns, rng)
    if nll is None:
        notes.append("-2lnLambda: hepgan.metrics.likelihood is not available; skipped")
    else:
        verdicts.append(nll["verdict"])
        if len(x_columns) > 5:
            notes.append(f"-2lnLambda: the first 5 x columns only ({', '.join(nll['columns'])})")

    checks = [
        {"metric": "KS per feature", "value": f"{len(bad)} of {len(feats)} features with p < 0.0027", "reference": "none",
         "passed": not bad, "detail": ", ".join(bad)},
        {"metric": "classifier AUC", "value": f"{clf.auc:.3f} +- {clf.auc_err:.3f}", "reference": f"{ref_clf.auc:.3f} +- {ref_clf.auc_err:.3f}",
         "passed": "NOT" not in verdicts[1], "detail": "reference: two halves of the reference sample"},
    ]  # fmt: skip
    if "chi" in dc:
        checks.append({"metric": "distance correlation chi", "value": f"{dc['chi']:.2f}",
                       "reference": f"{_NULL_ABS_Z_MEAN:.2f} +- {dc['expected_null_sd']:.2f}", "passed": "NOT" not in verdicts[2],
                       "detail": f"worst pair {dc['pairs'][0]['i']}-{dc['pairs'][0]['j']}, pull {dc['pairs'][0]['pull']:.1f}"})  # fmt: skip
    mmd_v = next(v for v in verdicts if v.startswith("MMD"))
    checks.append({"metric": "MMD^2", "value": f"{mmd:.2e}", "reference": f"{np.mean(null):.2e} +- {sd:.2e}", "passed": "NOT" not in mmd_v,
                   "detail": "reference: random halves of the reference sample"})  # fmt: skip
    if nll is not None:
        checks.append({"metric": "-2lnLambda excess / event", "value": f"{nll['excess_per_event']:.4f} +- {nll['excess_per_event_sd']:.4f}",
                       "reference": f"{nll['reference_excess_per_event']:.4f} +- {nll['reference_excess_per_event_sd']:.4f}",
                       "passed": "NOT" not in nll["verdict"], "detail": "reference: two halves of the reference sample"})  # fmt: skip
    return {
        "n_reference": len(reference),
        "n_test": len(test),
        "checks": checks,
        "sum_w_reference": float(w_r.sum()),
        "sum_w_test": float(w_t.sum()),
        "observables": observables,
        "x_columns": x_columns,
        "features": feats,
        "classifier": {"test": clf.to_dict(), "reference": ref_clf.to_dict(), "z": z},
        "distance_correlation": dc,
        "mmd": {"mmd2": mmd, "reference_mean": float(np.mean(null)), "reference_sd": sd},
        "neg2_log_lambda": nll,
        "verdicts": verdicts,
        "notes": notes,
    }


def evaluation_figures(
    reference: pd.DataFrame,
    test: pd.DataFrame,
    result: dict[str, Any],
    out_dir: str | Path,
    prefix: str = "",
    weight: str | None = None,
    labels: tuple[str, str] = ("Full MC", "GANed"),
    extra: pd.DataFrame | None = None,
    title: str = "",
    replicas: Sequence[pd.DataFrame] = (),
    others: dict[str, pd.DataFrame] | None = None,
) -> list[Path]:
    """Figures of one comparison: corner plot and ratio histograms of the x columns, correlation matrices
    with their difference, and, with ``extra`` (MC CR), the generated object's pT in MC SR / MC CR / GANed CR.

    Args:
        title: what is compared, e.g. "Held-out SR: generated object vs MC truth" (each figure's title).
        replicas: further samples like ``test`` (other seeds, an ensemble): their spread is a band.
        others: further samples drawn in the histograms, by label (a baseline run's, say).

    Returns:
        The PNG paths written in ``out_dir`` (a PDF beside each).
    """
    from hepgan import plots

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def w(df):
        return df[weight].to_numpy(np.float64) if weight and weight in df else None

    xs = result["x_columns"]
    paths = [
        plots.corner_plot(reference, test, xs, out_dir / f"{prefix}corner.png", w(reference), w(test), labels)
    ]
    dc = result["distance_correlation"]
    pulls = None
    if "pairs" in dc:
        cols = result["observables"]
        pulls = np.zeros((len(cols), len(cols)))
        for pr in dc["pairs"]:
            i, j = cols.index(pr["i"]), cols.index(pr["j"])
            sign = np.sign(pr["d_b"] - pr["d_a"])
            pulls[i, j] = pulls[j, i] = sign * pr["pull"]
    paths.append(
        plots.correlation_matrices(
            [np.array(dc["reference"]["d"]), np.array(dc["test"]["d"])],
            [labels[0], labels[1]],
            result["observables"],
            out_dir / f"{prefix}dcor.png",
            pulls=pulls,
        )
    )
    for c in xs:
        xlabel, log = plots.axis_label(c)
        bands = {labels[1]: [(r[c].to_numpy(), w(r)) for r in replicas]} if replicas else None
        paths.append(
            plots.histogram_ratio(
                {labels[0]: (reference[c].to_numpy(), w(reference)), labels[1]: (test[c].to_numpy(), w(test)),
                 **{k: (v[c].to_numpy(), w(v)) for k, v in (others or {}).items()}},
                out_dir / f"{prefix}hist_{c}.png",
                xlabel=xlabel, log=log, title=title, bands=bands,
            )  # fmt: skip
        )
    if extra is not None:
        pt = next((c for c in xs if c.endswith("pt")), xs[0])
        if pt in extra:
            paths.append(
                plots.pt_comparison(
                    (reference[pt].to_numpy(), w(reference)),
                    (extra[pt].to_numpy(), w(extra)),
                    (test[pt].to_numpy(), w(test)),
                    out_dir / f"{prefix}pt_sr_cr_gan.png",
                    xlabel=plots.axis_label(pt)[0],
                )
            )
    return paths


def metrics_table(result: dict[str, Any]) -> str:
    """Plain-text table of one evaluation (for the terminal)."""
    lines = [f"{'feature':<20} {'W1':>10} {'W1/std':>8} {'KS':>7} {'KS p':>9}"]
    for f in result["features"]:
        lines.append(
            f"{f['column']:<20} {_fmt(f['w1'], 4):>10} {_fmt(f['w1_over_std'], 4):>8} "
            f"{_fmt(f['ks'], 4):>7} {_fmt(f['ks_pvalue'], 4):>9}"
        )
    lines.append("")
    lines += [f"- {v}" for v in result["verdicts"]]
    lines += [f"  note: {n}" for n in result["notes"]]
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTML


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    pdf = Path(path).with_suffix(".pdf")
    link = f' (<a href="{html.escape(pdf.parent.name + "/" + pdf.name)}">PDF</a>)' if pdf.is_file() else ""
    wide = ' class="wide"' if Path(path).stem.endswith("dcor") else ""  # three matrices side by side: the page's width
    return (f'<figure{wide}><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(alt)}{link}</figcaption></figure>")  # fmt: skip


def _caption(path: Path, comp_name: str, title: str) -> str:
    """What a comparison's figure shows, from its file name."""
    from hepgan.plots import axis_label

    stem = path.stem[len(comp_name) + 1 :] if path.stem.startswith(comp_name + "_") else path.stem
    if stem == "corner":
        return f"{title}: the generated columns, 1-D shapes and contours holding 25, 50 and 75 % of the events"
    if stem == "dcor":
        return f"{title}: distance correlations of every pair of observables, reference, test, and their difference in units of its error"
    if stem.startswith("hist_"):
        label = axis_label(stem[len("hist_") :])[0].replace("$", "").replace("\\", "")
        return f"{title}: {label}, unit area, with the ratio to the reference (arrows: points beyond the panel)"
    if stem == "pt_sr_cr_gan":
        return "The generated object's pT in MC SR, MC CR and GANed CR: what the CR -> SR transfer must reproduce"
    return f"{title}: {stem}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], cls: str = "") -> str:
    h = "".join(f"<th>{html.escape(str(x))}</th>" for x in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>'


def _comparison_html(comp: dict, result: dict, figures: list[Path]) -> str:
    parts = [f"<h2>{html.escape(comp.get('title') or comp['name'])}</h2>"]
    parts.append(
        f"<p>reference <code>{html.escape(comp['reference'])}</code> ({result['n_reference']} events), "
        f"test <code>{html.escape(comp['test'])}</code> ({result['n_test']} events)</p>"
    )
    parts.append('<ul class="verdicts">' + "".join(f"<li>{html.escape(v)}</li>" for v in result["verdicts"]) + "</ul>")
    clf = result["classifier"]
    rows = [
        ["classifier AUC", f"{clf['test']['auc']:.4f} +- {clf['test']['auc_err']:.4f}",
         f"{clf['reference']['auc']:.4f} +- {clf['reference']['auc_err']:.4f}", "two halves of the reference"],
        ["MMD^2", f"{result['mmd']['mmd2']:.3e}",
         f"{result['mmd']['reference_mean']:.3e} +- {result['mmd']['reference_sd']:.3e}", "two halves of the reference"],
    ]
    dc = result["distance_correlation"]
    if "chi" in dc:
        rows.append(["distance correlation chi", f"{dc['chi']:.3f}",
                     f"{dc['expected_null']:.3f} +- {dc['expected_null_sd']:.3f}", "one distribution: E|z|"])
    nll = result.get("neg2_log_lambda")
    if nll:
        rows.append(["-2lnLambda excess / event", f"{nll['excess_per_event']:.4f} +- {nll['excess_per_event_sd']:.4f}",
                     f"{nll['reference_excess_per_event']:.4f} +- {nll['reference_excess_per_event_sd']:.4f}",
                     "two halves of the reference"])
    else:
        rows.append(["-2lnLambda", "n/a", "n/a", "hepgan.metrics.likelihood not available"])
    parts.append("<h3>Metrics</h3>" + _table(["metric", "value", "reference", "reference is"], rows, "metrics"))
    parts.append("<h3>Per feature</h3>" + _table(
        ["feature", "W1", "W1 / std(ref)", "KS", "KS p-value"],
        [[f["column"], _fmt(f["w1"], 4), _fmt(f["w1_over_std"], 4), _fmt(f["ks"], 4), _fmt(f["ks_pvalue"], 4)]
         for f in result["features"]],
    ))
    if "pairs" in dc:
        parts.append("<h3>Distance correlation: worst pairs</h3>" + _table(
            ["pair", "d reference", "d test", "sigma", "sqrt(chi2_ij)"],
            [[f"{p['i']} - {p['j']}", f"{p['d_a']:.4f}", f"{p['d_b']:.4f}", f"{p['sigma']:.4f}", f"{p['pull']:.2f}"]
             for p in dc["pairs"][:8]],
        ))
    if result["notes"]:
        parts.append('<ul class="notes">' + "".join(f"<li>{html.escape(n)}</li>" for n in result["notes"]) + "</ul>")
    parts.append('<div class="figs">' + "".join(_img(p, _caption(p, comp["name"], result["title"])) for p in figures) + "</div>")
    return "\n".join(parts)


def _baseline_sample(baseline: Path, comp: dict[str, Any], ref: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """(label, test table) of a baseline run's comparison of the same name, on the same reference events."""
    ev = baseline / "evaluation"
    if not (ev / comp["reference"]).is_file() or not (ev / comp["test"]).is_file():
        raise InputFileError(f"{baseline}: no evaluation/{comp['test']} beside evaluation/{comp['reference']}: not a finished run of this method")
    b_ref = read_table(ev / comp["reference"])
    if len(b_ref) != len(ref) or not np.array_equal(b_ref.to_numpy(np.float64), ref[list(b_ref.columns)].to_numpy(np.float64)):
        raise InputFileError(f"{baseline}: its held-out events differ from this run's (another sample or data.split_seed): no comparison on the same events")
    roles = _read_json(ev / "roles.json") if (ev / "roles.json").is_file() else {}
    label = next((c.get("labels", [None, None])[1] for c in roles.get("comparisons", []) if c.get("name") == comp["name"]), None)
    return f"{label or 'test'} ({baseline.name})", read_table(ev / comp["test"])


def _verdict_html(rows: list[tuple[str, dict[str, Any]]]) -> str:
    """The verdict table that opens a report: every comparison's every check, passed or not."""
    if not rows:
        return "<h2>Verdict</h2><p>No comparisons in this run folder.</p>"
    n_fail = sum(not c["passed"] for _, c in rows)
    head = (f"<p class='fail'><b>{n_fail} of {len(rows)} checks find the samples incompatible.</b></p>" if n_fail
            else f"<p class='pass'><b>All {len(rows)} checks find the samples compatible.</b></p>")  # fmt: skip
    body = "".join(
        f"<tr class='{'pass' if c['passed'] else 'fail'}'><td>{html.escape(title)}</td><td>{html.escape(c['metric'])}</td>"
        f"<td>{html.escape(c['value'])}</td><td>{html.escape(c['reference'])}</td>"
        f"<td><b>{'compatible' if c['passed'] else 'NOT compatible'}</b></td><td>{html.escape(c.get('detail', ''))}</td></tr>"
        for title, c in rows
    )
    table = ("<table class='verdict'><thead><tr><th>comparison</th><th>metric</th><th>value</th><th>reference</th>"
             f"<th>verdict (3 sigma)</th><th>note</th></tr></thead><tbody>{body}</tbody></table>")  # fmt: skip
    return "<h2>Verdict</h2>" + head + table


def _provenance_html(prov: dict[str, Any] | None, seed: int) -> str:
    """The footer: what made the run and this report."""
    from hepgan.provenance import record

    now = record(command=None)
    rows = [["report made", f"{now['time']} by hepgan {now['hepgan_version']}, torch {now['torch_version']}, seed {seed}"]]
    if prov:
        rows += [
            ["run made", f"{prov.get('time')} by hepgan {prov.get('hepgan_version')} (git {prov.get('git_commit') or 'unknown'}), "
                         f"torch {prov.get('torch_version')}, Python {prov.get('python')}"],
            ["command", prov.get("command", "")],
            *[["input", f"{p}: sha256 {h}"] for p, h in (prov.get("inputs") or {}).items()],
            *[["model", f"{Path(p).name}: digest {d}"] for p, d in (prov.get("models") or {}).items()],
        ]  # fmt: skip
    else:
        rows.append(["run made", "no provenance.json in this run folder"])
    return "<h2>Provenance</h2>" + _table(["", ""], rows, "provenance")


_CSS = """
body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}
table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}
th{background:#eee}td:first-child{text-align:left}.verdicts li{margin:3px 0}.notes{color:#666;font-size:90%}
figure{display:inline-block;margin:4px;vertical-align:top}img{max-width:560px}pre{background:#f6f6f6;padding:8px;overflow:auto}
figcaption{font-size:90%;max-width:560px}figure.wide img{max-width:100%}figure.wide figcaption{max-width:none}
tr.pass td{background:#e3f4e3}tr.fail td{background:#fbe1e1}
p.pass{color:#1a6b1a}p.fail{color:#a11}table.provenance td{text-align:left;font-size:85%}
"""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputFileError(f"{path}: not valid JSON ({err})") from None


def jsonable(x: Any) -> Any:
    """Plain JSON data: numpy scalars as Python numbers, NaN and inf as None, tuples as lists."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return jsonable(x.item())
    return x


def _method_sections(run_dir: Path) -> list[str]:
    """Sections a method adds to its report: ``evaluation/sections.json``, a list of
    {"title", "text": [paragraphs], "table": {"header", "rows"}, "figures": [PNG paths relative to run_dir]}."""
    path = run_dir / "evaluation" / "sections.json"
    if not path.exists():
        return []
    out = []
    for sec in _read_json(path):
        parts = [f"<h2>{html.escape(str(sec.get('title', '')))}</h2>"]
        parts += [f"<p>{html.escape(str(t))}</p>" for t in sec.get("text", [])]
        if sec.get("table"):
            parts.append(_table(sec["table"]["header"], sec["table"]["rows"], "metrics"))
        figs = [run_dir / f for f in sec.get("figures", [])]
        parts.append('<div class="figs">' + "".join(_img(f, f.stem) for f in figs if f.is_file()) + "</div>")
        out.append("\n".join(parts))
    return out


def write_report(run_dir: str | Path, seed: int = 0, baseline: str | Path | None = None, **evaluate_kwargs: Any) -> Path:
    """Writes RUN_DIR/report.html, RUN_DIR/metrics.json and RUN_DIR/figures/*.png from a run folder.

    Args:
        run_dir: the run folder (see the module docstring for its contract).
        seed: seed of all subsamples, splits and bootstraps.
        baseline: another run folder of the same events (its comparisons' reference tables must be
            equal): its generated samples are evaluated against the same references, shown beside
            this run's in the verdict table and drawn in the same histograms.
        **evaluate_kwargs: passed to :func:`evaluate_samples` (n_bootstrap, dcor_max_events, ...).

    Returns:
        The path of report.html.
    """
    from hepgan import plots

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputFileError(f"{run_dir}: no such run folder")
    if not any((run_dir / name).is_file() for name in ("config.yaml", "history.json", "evaluation/roles.json")):
        raise InputFileError(f"{run_dir}: not a run folder (no config.yaml, history.json or evaluation/roles.json)")
    fig_dir = run_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    metrics: dict[str, Any] = {"hepgan_version": __version__, "run_dir": str(run_dir), "seed": seed}
    sections: list[str] = []
    verdict_rows: list[tuple[str, dict[str, Any]]] = []

    roles_path = run_dir / "evaluation" / "roles.json"
    metrics["comparisons"] = {}
    if roles_path.exists():
        roles = _read_json(roles_path)
        x_cols = roles.get("x_columns") or []
        observables = roles.get("observables") or x_cols
        weight = roles.get("weight")
        comparisons = roles.get("comparisons", [])
        for i, comp in enumerate(comparisons, start=1):
            log.info("report: comparison %d of %d, %s: metrics (classifier, distance correlation, MMD, -2lnLambda) and figures",
                     i, len(comparisons), comp.get("name"))  # fmt: skip
            for key in ("name", "reference", "test"):
                if key not in comp:
                    raise InputFileError(f"{roles_path}: a comparison lacks the key '{key}'")
            ev = run_dir / "evaluation"
            paths = {k: ev / comp[k] for k in ("reference", "test", "extra") if comp.get(k)}
            if not all(p.exists() for k, p in paths.items() if k != "extra"):
                missing = [str(p) for k, p in paths.items() if k != "extra" and not p.exists()]
                sections.append(f"<h2>{html.escape(comp['name'])}</h2><p>skipped: missing {html.escape(', '.join(missing))}</p>")
                metrics["comparisons"][comp["name"]] = {"skipped": f"missing {', '.join(missing)}"}
                continue
            ref, tst = read_table(paths["reference"]), read_table(paths["test"])
            extra = read_table(paths["extra"]) if "extra" in paths and paths["extra"].exists() else None
            replicas = [read_table(ev / r) for r in comp.get("replicas", []) if (ev / r).exists()]
            labels = tuple(comp.get("labels", ("Full MC", "GANed")))
            others, baseline_rows = {}, []
            if baseline is not None:
                b_label, b_test = _baseline_sample(Path(baseline), comp, ref)
                b_result = evaluate_samples(ref, b_test, observables, x_cols or observables, weight, seed=seed, **evaluate_kwargs)
                b_title = f"{comp.get('title', comp['name'])} [baseline {b_label}]"
                b_result.update({"title": b_title, "baseline_run": str(baseline)})
                metrics["comparisons"][f"{comp['name']}_baseline"] = b_result
                baseline_rows = [(b_title, c) for c in b_result["checks"]]
                others = {f"baseline: {b_label}": b_test}
            result = evaluate_samples(ref, tst, observables, x_cols or observables, weight, seed=seed, **evaluate_kwargs)
            figs = evaluation_figures(ref, tst, result, fig_dir, prefix=f"{comp['name']}_", weight=weight, extra=extra,
                                      title=comp.get("title", comp["name"]), replicas=replicas, labels=labels, others=others)  # fmt: skip
            result.update({"title": comp.get("title", comp["name"]), "reference_file": comp["reference"],
                           "test_file": comp["test"], "figures": [str(p.relative_to(run_dir)) for p in figs]})
            metrics["comparisons"][comp["name"]] = result
            verdict_rows += [(result["title"], c) for c in result["checks"]] + baseline_rows
            sections.append(_comparison_html(comp, result, figs))
    else:
        sections.append("<p>No evaluation/roles.json in this run folder: no sample comparisons.</p>")

    sections += _method_sections(run_dir)
    hist_path = run_dir / "history.json"
    if hist_path.exists():
        hist = _read_json(hist_path)
        png = plots.training_curves(hist, fig_dir / "training_curves.png")
        best = hist.get("best_epoch")
        sel = hist.get("selection") or {}
        val = hist.get(sel.get("metric") or "", []) or []
        epochs = list(hist.get("epoch") or range(len(val)))
        best_val = val[epochs.index(best)] if best in epochs and epochs.index(best) < len(val) else None
        metrics["training"] = {"best_epoch": best, "best_metric_val": best_val, "metric": sel.get("metric"),
                               "metric_name": sel.get("label") or sel.get("metric"), "epochs": len(epochs)}  # fmt: skip
        line = f"kept epoch {best} of {len(epochs)}" + (f": validation {metrics['training']['metric_name']} = {best_val:.4g}" if best_val is not None else "")
        sections.append(f"<h2>Training</h2><p>{html.escape(line)}</p>" + _img(png, "Training: losses, the selecting metric and the learning rate per epoch"))
    cfg = run_dir / "config.yaml"
    if cfg.exists():
        sections.append("<h2>Configuration</h2><pre>" + html.escape(cfg.read_text()) + "</pre>")
    prov = _read_json(run_dir / "provenance.json") if (run_dir / "provenance.json").is_file() else None
    metrics["provenance"] = prov
    body = [f"<h1>hepgan report: {html.escape(run_dir.name)}</h1>", _verdict_html(verdict_rows), *sections, _provenance_html(prov, seed)]
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>hepgan report "
        f"{html.escape(run_dir.name)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>"
    )
    with atomic_path(run_dir / "metrics.json") as tmp:
        tmp.write_text(json.dumps(jsonable(metrics), indent=1))
    out = run_dir / "report.html"
    with atomic_path(out) as tmp:
        tmp.write_text(page)
    return out
