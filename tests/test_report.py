"""Report and the evaluate/report commands on a tiny synthetic run folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from hepgan.cli import main
from hepgan.io import write_table
from hepgan.report import evaluate_samples, write_report

X = ["pho2_pt", "pho2_eta"]
OBS = ["pho1_pt", "pho2_pt", "pho2_eta", "n_jets"]
FAST = {"n_bootstrap": 5, "classifier_max_events": 600, "mmd_max_events": 300, "n_threads": 1}


def _events(rng, n, shift=0.0, weights=True):
    pho1 = rng.exponential(30, n) + 25
    df = pd.DataFrame(
        {
            "pho1_pt": pho1,
            "pho2_pt": rng.exponential(20, n) + 20 + 0.2 * pho1 + shift,
            "pho2_eta": rng.uniform(-2.5, 2.5, n),
            "n_jets": rng.poisson(1.5, n).astype(float),
        }
    )
    if weights:
        df["weight"] = rng.uniform(0.5, 1.5, n)
    return df


@pytest.fixture
def run_dir(tmp_path, rng):
    ev = tmp_path / "evaluation"
    ev.mkdir()
    write_table(_events(rng, 800), ev / "sr_val_truth.parquet")
    write_table(_events(rng, 700), ev / "sr_val_gan.parquet")
    write_table(_events(rng, 800), ev / "sr_mc.parquet")
    write_table(_events(rng, 800, shift=15.0, weights=False), ev / "cr_mc.parquet")
    write_table(_events(rng, 900), ev / "cr_gan.parquet")
    roles = {
        "x_columns": X,
        "c_columns": ["pho1_pt", "n_jets"],
        "observables": OBS,
        "weight": "weight",
        "comparisons": [
            {"name": "closure_sr", "title": "SR closure", "reference": "sr_val_truth.parquet", "test": "sr_val_gan.parquet"},
            {"name": "cr_to_sr", "title": "CR to SR", "reference": "sr_mc.parquet", "test": "cr_gan.parquet",
             "extra": "cr_mc.parquet"},
        ],
    }
    (ev / "roles.json").write_text(json.dumps(roles))
    e = list(range(10))
    hist = {"epoch": e, "loss_d": [1.0] * 10, "loss_g": [0.8] * 10, "neg2lnL_train": [50 - i for i in e],
            "neg2lnL_val": [52 - i for i in e], "lr": [1e-3] * 10, "best_epoch": 9,
            "selection": {"metric": "neg2lnL_val", "mode": "min", "label": "-2lnLambda"}}
    (tmp_path / "history.json").write_text(json.dumps(hist))
    (tmp_path / "config.yaml").write_text("seed: 1\nlatent_dim: 32\n")
    return tmp_path


def test_write_report(run_dir):
    out = write_report(run_dir, **FAST)
    page = out.read_text()
    assert out == run_dir / "report.html"
    assert "<table" in page and "classifier AUC" in page and "data:image/png;base64," in page
    assert "SR closure" in page and "CR to SR" in page and "latent_dim" in page
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["comparisons"]) == {"closure_sr", "cr_to_sr"}
    closure = metrics["comparisons"]["closure_sr"]
    for key in ("features", "classifier", "distance_correlation", "mmd", "neg2_log_lambda", "verdicts", "notes"):
        assert key in closure
    assert closure["distance_correlation"]["chi"] >= 0 and len(closure["distance_correlation"]["pairs"]) == 6
    assert any(v.startswith("AUC ") for v in closure["verdicts"])
    assert metrics["training"]["best_epoch"] == 9
    assert (run_dir / "figures" / "cr_to_sr_pt_sr_cr_gan.png").stat().st_size > 1000
    assert not list(run_dir.glob(".*.tmp"))


def test_report_structure_verdict_first_every_figure_provenance(run_dir):
    import re

    page = write_report(run_dir, **FAST).read_text()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings[0] == "Verdict" and headings[-1] == "Provenance"
    verdict = page[page.index("<table class='verdict'>") : page.index("</table>", page.index("<table class='verdict'>"))]
    checks = [c for comp in metrics["comparisons"].values() for c in comp["checks"]]
    assert verdict.count("<tr class='pass'>") + verdict.count("<tr class='fail'>") == len(checks) >= 8
    for c in checks:
        assert ("class='pass'" if c["passed"] else "class='fail'") in verdict and c["metric"] in verdict
    figures = [f for comp in metrics["comparisons"].values() for f in comp["figures"]]
    assert page.count("data:image/png;base64,") == len(figures) + 1  # and the training curves
    for f in figures:
        assert (run_dir / f).is_file() and (run_dir / f).with_suffix(".pdf").is_file()
        assert Path(f).stem not in re.findall(r"<figcaption>(.*?)</figcaption>", page)  # captions say what, not the file name
    assert "report made" in page and "torch" in page


def test_report_of_an_unevaluated_run_and_cli(tmp_path):
    assert main(["report", str(tmp_path)]) == 2  # not a run folder
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "figures").exists()
    (tmp_path / "config.yaml").write_text("method: background\ndata: {}\n")  # a run stopped before its evaluation
    assert main(["report", str(tmp_path)]) == 0
    assert "No evaluation" in (tmp_path / "report.html").read_text()
    assert main(["report", str(tmp_path / "nope")]) == 2


def test_evaluate_flags_a_shift(rng):
    a, b = _events(rng, 1500), _events(rng, 1500, shift=30.0)
    res = evaluate_samples(a, b, OBS, X, "weight", **FAST)
    assert "NOT compatible" in next(v for v in res["verdicts"] if v.startswith("AUC"))
    assert any("pho2_pt" in v for v in res["verdicts"] if v.startswith("KS"))


def test_cli_evaluate(tmp_path, rng, capsys):
    write_table(_events(rng, 500), tmp_path / "a.parquet")
    write_table(_events(rng, 400), tmp_path / "b.parquet")
    out = tmp_path / "out"
    rc = main(["evaluate", str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet"), "--columns", *OBS,
               "--weight", "weight", "--out", str(out), "--bootstrap", "5", "--threads", "1"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "pho2_eta" in text and "AUC" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["observables"] == OBS and "classifier" in metrics
    assert list(out.glob("*.png"))
    assert main(["evaluate", str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet"), "--columns", "nope"]) == 2
