"""Scans (hepgan.training.scan, hepgan scan): K configurations at once equal K separate trainings."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from hepgan.cli import main
from hepgan.exceptions import ConfigError
from hepgan.io import write_table
from hepgan.methods.background import FEATURE_SETS, X_OBJECT, ConditionalGAN, fit_scan
from hepgan.methods.background.scan import load_scan_config
from hepgan.samples.toys import gjets_toy
from hepgan.training.scan import scan_groups

C_FULL = FEATURE_SETS["full"]


@pytest.fixture(scope="module")
def toy() -> pd.DataFrame:
    return gjets_toy(1500, seed=11)


def _model(**kw) -> ConditionalGAN:
    args = dict(
        g_hidden=(32, 32), d_hidden=(32, 32), latent_dim=4, epochs=3, batch_size=64, optimizer="adam", dropout=0.0,
        metric_events=200, metric_k=3, n_quantiles=100, derive="diphoton", progress=False, step="eager",
    )
    args.update(kw)
    return ConditionalGAN(**args)


# three configurations: learning rate, label noise, seed differ; the third has another latent size
GRID = [
    dict(lr=1e-3, label_noise=0.15, seed=1),
    dict(lr=3e-4, label_noise=0.05, seed=2, lr_d=2e-3),
    dict(lr=2e-3, label_noise=0.0, seed=3, latent_dim=6),
]


@pytest.mark.parametrize("optimizer", ["adam", "lamb"])
def test_scan_equals_separate_trainings(toy, optimizer):
    sr = toy[toy.region == 1]
    tr, va = sr.iloc[:256], sr.iloc[300:500]
    args = (tr[X_OBJECT], tr[C_FULL], tr.weight)
    val = (va[X_OBJECT], va[C_FULL], va.weight) if optimizer == "adam" else None  # the metric once is enough
    separate = [_model(optimizer=optimizer, epochs=2, **g).fit(*args, validation=val) for g in GRID]
    scanned = fit_scan([_model(optimizer=optimizer, epochs=2, **g) for g in GRID], *args, validation=val, progress=False)
    for a, b in zip(separate, scanned):
        for key in ("loss_d", "loss_g"):
            np.testing.assert_allclose(b.history_[key], a.history_[key], rtol=1e-5)
        np.testing.assert_allclose(b.history_["lr"], a.history_["lr"], rtol=1e-12)
        for key in ("neg2lnL_val", "neg2lnL_train") if val is not None else ():
            np.testing.assert_allclose(b.history_[key], a.history_[key], rtol=1e-6)
        assert b.best_epoch_ == a.best_epoch_
        for k, v in a.last_states_["generator"].items():
            torch.testing.assert_close(b.last_states_["generator"][k], v, rtol=1e-5, atol=1e-6)
        c = va[C_FULL].iloc[:50]
        pd.testing.assert_frame_equal(b.sample(c, seed=4), a.sample(c, seed=4), rtol=1e-4, atol=1e-4)


def test_members_are_grouped_by_shape(toy):
    sr = toy[toy.region == 1].iloc[:200]
    models = [_model(**g) for g in GRID] + [_model(optimizer="lamb")]
    prepared = [m._prepare(sr[X_OBJECT], sr[C_FULL], None, None, None) for m in models]
    groups = scan_groups([p[0] for p in prepared], [p[2] for p in prepared])
    assert sorted(groups) == [[0, 1], [2], [3]]  # latent size and optimizer split, lr / noise / seed do not


def test_scan_with_dropout_trains_every_member(toy):
    sr = toy[toy.region == 1].iloc[:300]
    models = fit_scan([_model(dropout=0.2, seed=s, epochs=2) for s in (1, 2)], sr[X_OBJECT], sr[C_FULL], progress=False)
    for m in models:
        assert np.isfinite(m.history_["loss_d"]).all() and len(m.history_["loss_g"]) == 2
    assert models[0].history_["loss_d"] != models[1].history_["loss_d"]


# --------------------------------------------------------------------------- config and command line


def _scan_config(tmp_path, data_path, scan, **training):
    cfg = {
        "method": "background",
        "data": {"train": str(data_path), "validation_fraction": 0.25, "test_fraction": 0.25},
        "model": {"g_hidden": [32, 32], "d_hidden": [32, 32], "latent_dim": 4, "n_quantiles": 100},
        "training": {"optimizer": "adam", "epochs": 2, "batch_size": 128, "seed": 1, **training},
        "metric": {"k_epoch": 2, "events": 200},
        "scan": scan,
    }
    path = tmp_path / "scan.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("scan", "message"),
    [
        ({"training.lrr": [1e-3]}, r"scan\.training\.lrr: not a scannable key \(did you mean 'training\.lr'\?\)"),
        ({"data.train": ["a", "b"]}, r"scan\.data\.train: not a scannable key"),
        ({"training.lr": 1e-3}, r"scan\.training\.lr: expected a non-empty list"),
        ({"training.lr": []}, r"scan\.training\.lr: expected a non-empty list"),
        ({"training.lr": [1e-3, -1.0]}, r"training\.lr=-1\.0\): training\.lr: expected a number > 0"),
        ({"seed": [0], "training.seed": [1]}, r"given twice"),
        ([1, 2], r"scan: expected a mapping"),
    ],
)
def test_scan_config_errors_name_the_key(tmp_path, scan, message):
    with pytest.raises(ConfigError, match=message):
        load_scan_config(_scan_config(tmp_path, "x.parquet", scan))


def test_scan_config_grid_and_overrides(tmp_path):
    path = _scan_config(tmp_path, "x.parquet", {"training.lr": [1e-3, 3e-4], "seed": [0, 1, 2]})
    scan = load_scan_config(path, {"training.epochs": 5})
    assert len(scan.members) == 6 and scan.grid == {"training.lr": [1e-3, 3e-4], "training.seed": [0, 1, 2]}
    assert [m.training.seed for m in scan.members] == [0, 1, 2, 0, 1, 2]
    assert all(m.training.epochs == 5 for m in scan.members)
    with pytest.raises(ConfigError, match="is scanned"):
        load_scan_config(path, {"training.lr": 0.1})
    (tmp_path / "plain.yaml").write_text(yaml.safe_dump({"method": "background", "training": {"lr": 0.1}}))
    with pytest.raises(ConfigError, match="no 'scan' section"):
        load_scan_config(tmp_path / "plain.yaml")


def test_cli_scan_writes_the_table_and_names_the_best(tmp_path, capsys):
    data = tmp_path / "toy.parquet"
    write_table(gjets_toy(1200, seed=5), data, metadata={"id_threshold": 0.0})
    path = _scan_config(tmp_path, data, {"training.lr": [1e-3, 3e-4], "training.label_noise": [0.1, 0.15]})
    run = tmp_path / "scan"
    assert main(["-q", "scan", str(path), "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    assert "best: member" in out and "neg2lnL_val" in out
    result = json.loads((run / "scan_results.json").read_text())
    rows = result["rows"]
    assert len(rows) == 4 and {r["training.lr"] for r in rows} == {1e-3, 3e-4}
    best = min(rows, key=lambda r: r["neg2lnL_val"])
    assert result["best_member"] == best["member"] and f"best: member {best['member']} " in out
    for r, h in zip(rows, result["histories"]):
        assert r["neg2lnL_val"] == min(h["neg2lnL_val"]) and r["best_epoch"] == 1 + int(np.argmin(h["neg2lnL_val"]))
    assert len(pd.read_csv(run / "scan_results.csv")) == 4
    best_cfg = yaml.safe_load((run / "best" / "config.yaml").read_text())
    assert best_cfg["training"]["lr"] == best["training.lr"] and "scan" not in best_cfg
    assert ConditionalGAN.load(run / "best" / "model_best.safetensors").best_epoch_ == best["best_epoch"]
    # a second scan into the same folder is refused, not silently mixed
    assert main(["-q", "scan", str(path), "--run-dir", str(run)]) == 2
    assert "already holds a scan" in capsys.readouterr().err
