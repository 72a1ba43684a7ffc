"""Prints the figures of src/hepgan/data/gjets_default.md from the chunk cache of its command, and draws them.

    python scripts/gjets_figures.py [--events N] [--seed 2026] [--cache-dir DIR] [--plot gjets_figures.png]

Needs the cached chunks (the command in gjets_default.md makes them). Printed: the generation counts and
rates, the photon ID's working points with their efficiencies and fake pass rates (with binomial errors),
the SR composition by ID score, the tight fake pass rate against pho2 pT, pho1 pT, n_jets and n_vtx, the
SR vs CR differences of the event features, and the effective sample sizes; then the shipped file's own
figures. ``--plot`` draws the fake pass rates and the SR vs CR shapes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def _rate(k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.divide(k, n, out=np.zeros(len(k)), where=n > 0)
    return p, np.sqrt(np.divide(p * (1 - p), n, out=np.zeros(len(k)), where=n > 0))


def main() -> None:
    from hepgan.io import read_metadata, read_table
    from hepgan.samples.chunks import chunk_list, chunk_path
    from hepgan.samples.gjets import GjetsSettings, default_sample_path, effective_size, generate_raw
    from hepgan.samples.photon_id import load_default, roc_auc

    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=None, help="parton-level events (default: the shipped file's)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--plot", default=None, help="write the figures to this PNG")
    args = ap.parse_args()
    path = default_sample_path()
    meta = read_metadata(path)
    n_events = args.events or int(meta["n_events_generated"])
    g = meta["generator"]
    s = GjetsSettings(rehadronise=int(g["rehadronise"]), pool_size=int(g.get("pileup_pool_size", 3000)))
    raw, summary = generate_raw(n_events, args.seed, s, cache_dir=args.cache_dir, progress=False)
    n_had = summary["n_hadronised"]
    print(f"parton-level events {summary['n_generated']} (pre-filter tried {summary['n_prefilter_tried']}, vetoed "
          f"{summary['n_prefilter_vetoed']} = {summary['n_prefilter_vetoed'] / summary['n_prefilter_tried']:.1%}), "
          f"hadronised {n_had}; selected {len(raw)} ({len(raw) / n_had:.2%} of hadronised events); dropped {summary['dropped']}")
    rates = []
    for c, n in chunk_list(n_events, s.chunk_size):
        st = read_metadata(chunk_path(Path(summary["cache"]), c, n))["chunk_stats"]
        rates.append(st["n_generated"] / st["seconds_total"])
    print(f"rate per worker process: median {np.median(rates):.1f} parton-level events/s "
          f"({np.median(rates) * s.rehadronise:.0f} hadronised events/s) over {len(rates)} chunks")
    model = load_default()
    s1, s2 = model.score(raw, "pho1"), model.score(raw, "pho2")
    tight, loose = model.working_point, model.loose_point
    print(f"ID ROC AUC here (pho1 vs pho2 candidates of this sample): {roc_auc(s1, s2):.4f}; effective areas {model.ea}")
    for name, rec in (("tight", model.info["test"]["tight"]), ("loose", model.info["test"]["loose"])):
        pe, fr = rec["prompt_efficiency"], rec["fake_pass_rate"]
        print(f"  {name} score > {rec['threshold']:.4f}: prompt efficiency {pe['value']:.2%} +- {pe['error']:.2%}, "
              f"fake pass rate {fr['value']:.2%} +- {fr['error']:.2%} (independent test candidates, n = {pe['n']})")
    p1 = s1 > tight
    sr = p1 & (s2 > tight)
    cr = p1 & (s2 <= loose)
    band = p1 & ~sr & ~cr
    print(f"pho1 passes tight: {p1.sum()}; SR {sr.sum()} ({sr.sum() / n_had * 1e6:.0f} per million hadronised events, from "
          f"{len(np.unique(raw.loc[sr, 'parton_event']))} parton-level events); CR {cr.sum()}; band {band.sum()}")
    print("SR composition by pho2 ID score:")
    edges = np.linspace(tight, 1.0, 6)
    h, _ = np.histogram(s2[sr], edges)
    for a, b, k in zip(edges[:-1], edges[1:], h):
        print(f"  {a:.3f} - {b:.3f}: {k} ({k / max(sr.sum(), 1):.1%})")
    print("tight fake pass rate (pho2, events with pho1 passing tight) against:")
    pass2 = s2 > tight
    figs = {}
    for col, e in (("pho2_pt", [20, 25, 30, 40, 60, 100, 1e4]), ("pho1_pt", [30, 50, 75, 100, 150, 250, 1e4]),
                   ("n_jets", [0, 1, 2, 3, 100]), ("n_vtx", [1, 20, 28, 35, 42, 50, 200])):  # fmt: skip
        x = raw[col].to_numpy(np.float64)
        n, _ = np.histogram(x[p1], e)
        k, _ = np.histogram(x[p1 & pass2], e)
        p, err = _rate(k, n)
        figs[col] = (np.array(e, dtype=float), p, err)
        print(f"  {col}: " + "; ".join(f"[{lo:g}, {hi:g}) {pp:.2%} +- {ee:.2%} (n {nn})" for lo, hi, pp, ee, nn in zip(e[:-1], e[1:], p, err, n)))
        if col == "n_vtx":  # is the rate flat in pileup? chi2 of the bins against their common rate
            from scipy.stats import chi2 as chi2_dist

            pc = k.sum() / n.sum()
            c2 = float(np.sum((k - n * pc) ** 2 / (n * pc * (1 - pc))))
            print(f"    flat in n_vtx? chi2 {c2:.1f} for {len(k) - 1} degrees of freedom, p = {chi2_dist.sf(c2, len(k) - 1):.3g}")
    # candidates that pileup makes: pho2 away from back-to-back or forward, against n_vtx (flat if the hard event makes pho2)
    e, x = figs["n_vtx"][0], raw["n_vtx"].to_numpy(np.float64)
    dphi = np.abs((raw["pho2_phi"].to_numpy(np.float64) - raw["pho1_phi"].to_numpy(np.float64) + np.pi) % (2 * np.pi) - np.pi)
    n, _ = np.histogram(x[p1], e)
    print("pho2 of the events with pho1 passing tight, against n_vtx (pileup-made candidates would grow with it):")
    for name, m in (("Delta phi(pho1, pho2) < 1.5", dphi < 1.5), ("|eta_pho2| > 2", np.abs(raw["pho2_eta"].to_numpy(np.float64)) > 2.0)):
        k, _ = np.histogram(x[p1 & m], e)
        p, err = _rate(k, n)
        print(f"  {name}: " + "; ".join(f"[{lo:g}, {hi:g}) {pp:.2%} +- {ee:.2%}" for lo, hi, pp, ee in zip(e[:-1], e[1:], p, err)))
    print("SR vs CR (means; difference in units of its standard error):")
    for col in ("pho1_pt", "pho2_pt", "n_jets", "n_vtx", "rho", "lead_jet_pt", "pho2_eta"):
        a, b = raw.loc[sr, col].to_numpy(np.float64), raw.loc[cr, col].to_numpy(np.float64)
        if col == "pho2_eta":
            a, b = np.abs(a), np.abs(b)
            col = "|pho2_eta|"
        d = (a.mean() - b.mean()) / np.hypot(a.std() / np.sqrt(len(a)), b.std() / np.sqrt(len(b)))
        print(f"  {col}: SR {a.mean():.3f}, CR {b.mean():.3f} ({d:+.1f} sigma)")
    df = read_table(path)
    w = df["weight"].to_numpy(np.float64)
    srm = df["region"].to_numpy() == 1
    print(f"{path.name}: {len(df)} rows, SR {int(srm.sum())} (effective {effective_size(w[srm]):.0f}), CR {int((~srm).sum())} "
          f"(effective {effective_size(w[~srm]):.0f}); thresholds tight {meta['id_threshold']:.4f}, loose {meta['loose_threshold']:.4f}; "
          f"{path.stat().st_size / 1e6:.1f} MB; sigma_gen {meta['sigma_gen_pb']:.0f} pb")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from hepgan.plots import save_figure

        fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
        units = {"pho2_pt": "pho2 $p_T$ [GeV]", "pho1_pt": "pho1 $p_T$ [GeV]", "n_jets": "$n_{jets}$", "n_vtx": "$n_{vtx}$"}
        for ax, (col, (e, p, err)) in zip(axes.flat[:4], figs.items()):
            x = e[:-1] if col == "n_jets" else 0.5 * (e[:-1] + np.minimum(e[1:], 2 * e[-2] - e[-3]))
            ax.errorbar(x, 100 * p, yerr=100 * err, fmt="o", color="C0")
            if col == "n_jets":
                ax.set_xticks(x, [f"{v:g}" for v in x[:-1]] + [f">= {x[-1]:g}"])
            ax.set_title("tight ID: fake pass rate (binomial errors)", fontsize=10)
            ax.set_xlabel(units[col] + (" (last bin: overflow)" if col != "n_jets" else ""))
            ax.set_ylabel("pho2 passing tight ID [%]")
            ax.set_ylim(bottom=0)
        for ax, col, e in ((axes.flat[4], "pho2_pt", np.geomspace(20, 400, 21)), (axes.flat[5], "rho", np.linspace(0, 100, 26))):
            for m, lab, c in ((sr, "SR (both tight)", "C3"), (cr, "CR (pho2 fails loose)", "C2")):
                ax.hist(raw.loc[m, col], e, density=True, histtype="step", color=c, label=f"{lab}, {m.sum()} events")
            ax.set_xlabel("pho2 $p_T$ [GeV]" if col == "pho2_pt" else r"$\rho$ [GeV per unit area]")
            ax.set_ylabel("normalised events / bin")
            if col == "pho2_pt":
                from matplotlib.ticker import NullFormatter, ScalarFormatter

                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.xaxis.set_major_formatter(ScalarFormatter())
                ax.xaxis.set_minor_formatter(NullFormatter())
                ax.set_xticks([20, 50, 100, 200, 400])
            if col == "rho":
                ax.set_ylim(top=1.35 * ax.get_ylim()[1])
            ax.legend(loc="lower left" if col == "pho2_pt" else "upper right", fontsize=8)
        fig.suptitle(f"gjets: {summary['n_generated']} parton-level events x {s.rehadronise} hadronisations, pileup <mu> {s.pileup_mean:g}")
        fig.tight_layout(rect=(0, 0, 1, 0.96))
        save_figure(fig, args.plot)
        print(f"figures: {args.plot}")


if __name__ == "__main__":
    main()
