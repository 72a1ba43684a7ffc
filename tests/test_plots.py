"""Plots: every function writes a non-empty PNG and returns its path."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hepgan import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == PNG_MAGIC


def test_histogram_ratio_and_pt_comparison(tmp_path, rng):
    a, b = rng.exponential(30, 2000) + 20, rng.exponential(35, 1500) + 20
    w = rng.uniform(-0.1, 1.0, 1500)
    p = plots.histogram_ratio({"MC": (a, None), "GAN": (b, w)}, tmp_path / "h.png", xlabel="pT")
    assert p == tmp_path / "h.png" and _is_png(p)
    p = plots.pt_comparison((a, None), (b, None), (a[:1000], None), tmp_path / "pt.png")
    assert _is_png(p)
    # discrete observable: one bin per value
    assert _is_png(plots.histogram_ratio({"a": (rng.integers(0, 4, 500), None)}, tmp_path / "d.png"))
    assert not list(tmp_path.glob(".*.tmp"))


def test_corner_and_correlation_matrices(tmp_path, rng):
    cols = ["pt", "eta", "id"]
    x = pd.DataFrame(rng.normal(size=(1500, 3)), columns=cols)
    x["eta"] += 0.5 * x["pt"]
    y = pd.DataFrame(rng.normal(size=(1200, 3)), columns=cols)
    p = plots.corner_plot(x, y, cols, tmp_path / "corner.png", w_test=rng.uniform(0.5, 1.5, 1200))
    assert _is_png(p)
    m = np.eye(3)
    assert _is_png(plots.correlation_matrices([m, 0.5 * m + 0.1], ["SR", "GAN"], cols, tmp_path / "c.png"))


def test_training_curves(tmp_path):
    e = list(range(20))
    hist = {
        "epoch": e,
        "loss_d": [1.3 - 0.01 * i for i in e],
        "loss_g": [0.7 + 0.01 * i for i in e],
        "neg2lnL_train": [100 - i for i in e],
        "neg2lnL_val": [101 - i + 0.1 * i**1.5 for i in e],
        "lr": [1e-3 * (1 + np.cos(np.pi * i / 20)) / 2 for i in e],
        "best_epoch": 9,
        "selection": {"metric": "neg2lnL_val", "mode": "min", "label": "-2lnLambda"},
    }
    assert _is_png(plots.training_curves(hist, tmp_path / "t.png"))
    assert _is_png(plots.training_curves({"loss_d": [1.0, 0.9]}, tmp_path / "t2.png"))
