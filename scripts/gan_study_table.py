"""Issue 13: the study table from the run folders' metrics.json (hepgan.report.write_report).

For each run folder under runs/study (or the folders given): variant, seed, training seconds
(summary.json train_seconds: data loading, training with its per-epoch metric), the held-out SR
closure ("closure_sr": generated pho2 vs MC pho2 on the same events) classifier AUC and the
reference AUC of two MC halves, the distance-correlation chi and its worst pair and pull, and the
CR -> SR ("cr_to_sr") chi; then the mean and spread (sample standard deviation) over the seeds of
each variant.

    python scripts/gan_study_table.py                   # every run under runs/study
    python scripts/gan_study_table.py --markdown        # the same as a Markdown table
    python scripts/gan_study_table.py runs/study/base_s0 runs/flow/flow_s0
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def read_run(rd: Path) -> dict | None:
    m = rd / "metrics.json"
    if not m.is_file():
        return None
    metrics = json.loads(m.read_text())
    info = json.loads((rd / "study.json").read_text()) if (rd / "study.json").is_file() else {}
    summary = json.loads((rd / "summary.json").read_text()) if (rd / "summary.json").is_file() else {}
    match = re.match(r"(.*)_s(\d+)$", rd.name)
    row = {
        "run": rd.name,
        "variant": info.get("variant", match.group(1) if match else rd.name),
        "seed": info.get("seed", int(match.group(2)) if match else None),
        "overrides": " ".join(info.get("overrides", [])),
        "seconds": summary.get("train_seconds", info.get("train_seconds")),
        "best_epoch": summary.get("best_epoch"),
        "cpu": info.get("train_cpu_s"),  # CPU seconds of the training process (recorded from commit 5ee3b30 on)
    }
    comps = metrics.get("comparisons", {})
    sr = comps.get("closure_sr", {})
    if "classifier" in sr:
        row["auc"] = sr["classifier"]["test"]["auc"]
        row["auc_err"] = sr["classifier"]["test"]["auc_err"]
        row["auc_ref"] = sr["classifier"]["reference"]["auc"]
        dc = sr["distance_correlation"]
        row["chi"] = dc["chi"]
        worst = dc["pairs"][0]
        row["worst"] = worst["pull"]
        row["worst_pair"] = f"{worst['i']}-{worst['j']}"
    cr = comps.get("cr_to_sr", {})
    if "distance_correlation" in cr:
        row["cr_chi"] = cr["distance_correlation"]["chi"]
        # pairs of two columns the generator never touches (conditions, lead_jet_pt) compare MC CR with
        # MC SR whatever the model: their pulls are a floor common to every model
        x = set(cr.get("x_columns", [])) | {"m_gg", "ptgg_over_mgg"}
        gen = [q["pull"] for q in cr["distance_correlation"]["pairs"] if q["i"] in x or q["j"] in x]
        fixed = [q["pull"] for q in cr["distance_correlation"]["pairs"] if not (q["i"] in x or q["j"] in x)]
        row["cr_chi_gen"] = statistics.mean(gen) if gen else None
        row["cr_chi_fixed"] = statistics.mean(fixed) if fixed else None
        row["cr_n_fixed"] = len(fixed)
    return row


def _f(x, nd=3) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def _mean_sd(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} +- {statistics.stdev(values):.3f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="*", help="run folders (default: runs/study/* and runs/flow/*)")
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--overrides", action="store_true", help="show each run's overrides")
    a = p.parse_args(argv)
    dirs = [Path(r) for r in a.runs] or sorted([*(ROOT / "runs" / "study").glob("*_s*"), *(ROOT / "runs" / "flow").glob("*_s*")])
    rows = [r for r in (read_run(d) for d in dirs if d.is_dir()) if r is not None]
    if not rows:
        print("no run folder with a metrics.json", file=sys.stderr)
        return 1
    sep = " | " if a.markdown else "  "
    head = ["variant", "seed", "train s", "cpu s", "best ep", "AUC", "+-", "ref AUC", "chi", "worst pull", "worst pair", "CR->SR chi", "CR->SR gen-pair chi"]
    if a.overrides:
        head.append("overrides")
    lines = [head]
    for r in rows:
        line = [r["variant"], str(r["seed"]), _f(r["seconds"], 0), _f(r["cpu"], 0), str(r["best_epoch"]), _f(r.get("auc")), _f(r.get("auc_err")),
                _f(r.get("auc_ref")), _f(r.get("chi"), 2), _f(r.get("worst"), 1), r.get("worst_pair", "-"), _f(r.get("cr_chi"), 2), _f(r.get("cr_chi_gen"), 2)]
        if a.overrides:
            line.append(r["overrides"] or "-")
        lines.append(line)
    _print(lines, sep, a.markdown)
    fixed = [r for r in rows if r.get("cr_chi_fixed") is not None]
    if fixed:
        r = fixed[0]
        print(f"\nCR->SR: the {r['cr_n_fixed']} pairs of columns no model generates have mean pull {r['cr_chi_fixed']:.3f} in every run "
              "(MC CR vs MC SR); 'gen-pair chi' is the mean pull over the other pairs")

    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["variant"], []).append(r)
    agg = [["variant", "seeds", "train s", "AUC", "ref AUC", "chi", "worst pull", "CR->SR chi", "CR->SR gen-pair chi"]]
    for v, rs in groups.items():
        if len(rs) < 2:
            continue
        agg.append([v, ",".join(str(r["seed"]) for r in rs), _mean_sd([r["seconds"] for r in rs]).split(" ")[0],
                    _mean_sd([r.get("auc") for r in rs]), _mean_sd([r.get("auc_ref") for r in rs]), _mean_sd([r.get("chi") for r in rs]),
                    _mean_sd([r.get("worst") for r in rs]), _mean_sd([r.get("cr_chi") for r in rs]), _mean_sd([r.get("cr_chi_gen") for r in rs])])
    if len(agg) > 1:
        print("\nmean +- sample sd over seeds")
        _print(agg, sep, a.markdown)
    return 0


def _print(lines: list[list[str]], sep: str, markdown: bool) -> None:
    widths = [max(len(row[i]) for row in lines) for i in range(len(lines[0]))]
    for k, row in enumerate(lines):
        text = sep.join(c.ljust(w) for c, w in zip(row, widths))
        print(f"| {text} |" if markdown else text)
        if markdown and k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


if __name__ == "__main__":
    sys.exit(main())
