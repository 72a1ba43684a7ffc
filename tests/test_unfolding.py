"""The unfolding GANs (FCGAN and naive GAN), OmniFold, the evaluation's pieces and hepgan unfold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from hepgan.cli import main
from hepgan.io import read_table, write_table
from hepgan.kinematics import event_table
from hepgan.methods.unfolding import UnfoldingGAN
from hepgan.methods.unfolding.evaluate import calibration, slice_mask
from hepgan.methods.unfolding.omnifold import omnifold

SIGMA_PRIOR, SIGMA_DET = 30.0, 10.0


def _toy(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """One massless object: parton three-momentum ~ N(0, 30 GeV) per component, detector = parton + N(0, 10 GeV)."""
    p3 = rng.normal(0.0, SIGMA_PRIOR, (n, 1, 3))
    d3 = p3 + rng.normal(0.0, SIGMA_DET, (n, 1, 3))
    p4 = lambda a: np.concatenate([a, np.linalg.norm(a, axis=-1, keepdims=True)], axis=-1)  # noqa: E731
    det = event_table(p4(d3), ["det_a"]).drop(columns="weight")
    return pd.concat([det, event_table(p4(p3), ["part_a"])], axis=1)


def _toy_gan(**kw) -> UnfoldingGAN:
    args = dict(detector=["det_a"], parton=["part_a"], masses=[0.0], resonances={}, mmd_masses=[], latent_dim=4, g_hidden=[64, 64],
                d_hidden=[64, 64], batch_size=256, lr=1e-3, progress=False)  # fmt: skip
    return UnfoldingGAN(**{**args, **kw})


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_fcgan_learns_the_gaussian_posterior(seed):
    """x_det = x_part + N(0, s) with a Gaussian prior N(0, S): the posterior of each component is Gaussian with
    mean x_det S^2 / (S^2 + s^2) (slope 0.9) and sd S s / sqrt(S^2 + s^2) (9.49 GeV)."""
    rng = np.random.default_rng(100 + seed)
    gan = _toy_gan(epochs=60, seed=seed).fit(_toy(20_000, rng))
    test = _toy(2_000, rng)
    k = 100
    x = gan.unfold_p4(test, k=k, seed=seed)[:, :, 0, :3]  # (N, k, 3)
    det = test[["det_a_px", "det_a_py", "det_a_pz"]].to_numpy()
    truth = test[["part_a_px", "part_a_py", "part_a_pz"]].to_numpy()
    slope_true = SIGMA_PRIOR**2 / (SIGMA_PRIOR**2 + SIGMA_DET**2)
    sd_true = SIGMA_PRIOR * SIGMA_DET / np.hypot(SIGMA_PRIOR, SIGMA_DET)
    mean, sd = x.mean(axis=1), x.std(axis=1, ddof=1)
    slope = (det * mean).sum() / (det * det).sum()
    # statistics alone: the slope of 6000 components is known to 0.003 and the mean sd to 0.1 %; the
    # tolerances (0.06 on the slope, 20 % on the width) are the allowance for a 60-epoch GAN (mean sd
    # measured 2-4 % low on seeds 0-2)
    assert abs(slope - slope_true) < 0.06
    assert abs(sd.mean() / sd_true - 1) < 0.2
    # calibration: truth inside the central 68 % of the samples; 6000 components give a binomial sd of 0.006,
    # the rest of the 0.08 is the GAN's: 0.65-0.66 measured on seeds 0-2 after 60 epochs (0.47-0.51 after 30)
    q = np.quantile(x, [0.16, 0.84], axis=1)
    cover = np.mean((truth >= q[0]) & (truth <= q[1]))
    assert abs(cover - 0.68) < 0.08


def test_naive_gan_is_deterministic_and_both_save_and_load(tmp_path):
    rng = np.random.default_rng(4)
    train, test = _toy(600, rng), _toy(50, rng)
    naive = _toy_gan(mode="naive", epochs=2).fit(train)
    assert naive.latent_dim_used == 0
    x = naive.unfold_p4(test, k=3, seed=1)
    assert x.shape == (50, 3, 1, 4) and np.array_equal(x[:, 0], x[:, 2])
    fc = _toy_gan(epochs=2).fit(train, validation=(test, None))
    y = fc.unfold_p4(test, k=3, seed=1)
    assert not np.allclose(y[:, 0], y[:, 1])  # the FCGAN samples a posterior
    for model, out in ((naive, x), (fc, y)):
        path = model.save(tmp_path / f"{model.mode}.safetensors")
        again = UnfoldingGAN.load(path)
        np.testing.assert_allclose(again.unfold_p4(test, k=3, seed=1), out, rtol=1e-6, atol=1e-6)
    table = fc.unfold(test, k=3, seed=1)
    assert len(table) == 150 and table["weight"].sum() == pytest.approx(50) and set(table["sample"]) == {0, 1, 2}
    # every parton's gradients reach every parameter of both networks: one training epoch changes them all
    assert len(fc.history_["loss_g"]) == 2 and np.isfinite(fc.history_["w1_val"]).all()


def test_omnifold_recovers_a_shifted_truth():
    """Simulation t ~ N(0, 1), data t ~ N(0.5, 1), both seen through m = t + N(0, 0.5): the unfolded mean is 0.5."""
    rng = np.random.default_rng(7)
    n = 6000
    t_sim = rng.normal(0.0, 1.0, (n, 1))
    t_dat = rng.normal(0.5, 1.0, (n, 1))
    m_sim, m_dat = t_sim + rng.normal(0, 0.5, (n, 1)), t_dat + rng.normal(0, 0.5, (n, 1))
    w = omnifold(t_sim, m_sim, m_dat, iterations=3, max_iter=30, seed=1)
    mean = np.average(t_sim[:, 0], weights=w)
    # the sample mean of the data alone scatters by 1/sqrt(n) = 0.013; the reweighting of a finite
    # simulation and the three iterations (not converged for a 0.5 shift) get 0.1
    assert abs(mean - 0.5) < 0.1
    assert abs(mean - 0.0) > 0.35  # it moved from the prior


def test_calibration_of_exact_posteriors_and_slices():
    rng = np.random.default_rng(3)
    n, k = 4000, 200
    mu = rng.normal(0, 1, n)
    truth = pd.DataFrame({"x": mu + rng.normal(0, 1, n)})
    samples = pd.DataFrame({"x": (mu[:, None] + rng.normal(0, 1, (n, k))).ravel()})
    c = calibration(truth, samples, k, observables=("x",))["per_observable"]["x"]
    tol = 5 * np.sqrt(0.68 * 0.32 / n)
    assert abs(c["coverage_68"] - 0.68) < tol + 0.01  # 0.01: the quantiles of k = 200 samples
    assert abs(c["coverage_95"] - 0.95) < 5 * np.sqrt(0.05 * 0.95 / n) + 0.01
    assert abs(c["pull_mean"]) < 5 / np.sqrt(n) and abs(c["pull_sd"] - 1) < 0.05
    df = pd.DataFrame({"det_j1_pt": [35.0, 55.0, 70.0, 120.0], "det_j2_pt": [32.0, 45.0, 30.5, 60.0], "det_lm_pt": [25.0, 30.0, 60.0, 40.0]})
    assert slice_mask(df, "eq7").tolist() == [True, True, True, False]
    assert slice_mask(df, "eq8").tolist() == [True, True, False, False]
    assert slice_mask(df, "eq12").tolist() == [True, False, False, False]
    assert slice_mask(df, "eq13").tolist() == [False, False, True, True]


def _zw_like(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Random events with the columns of `hepgan sample zw` (not physics: for the command line)."""
    parts = []
    for level, objs in (("det", ("j1", "j2", "lm", "lp")), ("part", ("q1", "q2", "lm", "lp"))):
        p3 = rng.normal(0, 40, (n, 4, 3))
        p4 = np.concatenate([p3, np.linalg.norm(p3, axis=-1, keepdims=True) + 1.0], axis=-1)
        t = event_table(p4, [f"{level}_{o}" for o in objs], {f"{level}_m_jj": [0, 1], f"{level}_m_ll": [2, 3], f"{level}_m_zw": [0, 1, 2, 3]})
        parts.append(t.drop(columns="weight") if level == "det" else t)
    return pd.concat(parts, axis=1)


@pytest.fixture(scope="module")
def zw_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("unfold_cli")
    rng = np.random.default_rng(5)
    write_table(_zw_like(300, rng), d / "zw.parquet")
    det = _zw_like(40, rng)
    write_table(det[[c for c in det.columns if c.startswith("det_")]], d / "det.parquet")
    model = UnfoldingGAN(g_hidden=[8], d_hidden=[8], epochs=1, batch_size=64, progress=False).fit(_zw_like(200, rng))
    model.save(d / "model.safetensors")
    return d


def _one_line(capsys) -> str:
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_unfold_command_writes_k_events_per_detector_event(zw_files, tmp_path, capsys):
    out = tmp_path / "unfolded.parquet"
    assert main(["-q", "unfold", str(zw_files / "model.safetensors"), str(zw_files / "det.parquet"), "--k", "3", "--out", str(out)]) == 0
    df = read_table(out)
    assert len(df) == 120 and {"part_q1_pt", "part_m_jj", "event", "sample", "weight"} <= set(df.columns)


def test_unfold_and_train_errors_are_one_line(zw_files, tmp_path, capsys):
    model, det = str(zw_files / "model.safetensors"), str(zw_files / "det.parquet")
    out = tmp_path / "u.parquet"
    assert main(["unfold", str(tmp_path / "missing.safetensors"), det, "--out", str(out)]) == 2
    assert "missing.safetensors" in _one_line(capsys)
    assert main(["unfold", model, str(tmp_path / "missing.parquet"), "--out", str(out)]) == 2
    assert "missing.parquet" in _one_line(capsys)
    bad = tmp_path / "bad.parquet"
    write_table(read_table(det).drop(columns=["det_j2_pz"]), bad)
    assert main(["unfold", model, str(bad), "--out", str(out)]) == 2
    assert "det_j2_pz" in _one_line(capsys)
    assert main(["unfold", model, det, "--k", "0", "--out", str(out)]) == 2
    assert "--k" in _one_line(capsys)
    assert not out.exists()
    cfg = {"method": "unfolding", "data": {"train": str(zw_files / "zw.parquet")}, "model": {"latent_dims": 4}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "run")]) == 2
    line = _one_line(capsys)
    assert "model.latent_dims" in line and "latent_dim" in line and not (tmp_path / "run").exists()
    cfg["model"] = {}
    cfg["data"]["train"] = det  # detector columns only: the parton columns are missing
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "run")]) == 2
    assert "part_q1_px" in _one_line(capsys) and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_small_run_writes_its_report(zw_files, tmp_path):
    cfg = {"method": "unfolding", "data": {"train": str(zw_files / "zw.parquet"), "injection": str(zw_files / "zw.parquet")},
           "model": {"g_hidden": [8], "d_hidden": [8]}, "training": {"epochs": 2, "batch_size": 64},
           "evaluation": {"k": 4, "calibration_events": 100, "val_events": 100, "classifier_max_events": 200, "slices": ["eq7"], "figures": False,
                          "omnifold": {"iterations": 1, "max_iter": 5, "max_events": 200}}}  # fmt: skip
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["-q", "train", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "run")]) == 0
    run = tmp_path / "run"
    for name in ("report.html", "metrics.json", "summary.json", "summary.txt", "evaluation/sections.json", "model_best.safetensors"):
        assert (run / name).is_file(), name
    import json

    s = json.loads((run / "summary.json").read_text())
    assert {"FCGAN", "OmniFold", "detector level"} <= set(s["slices"]["full"]) and s["calibration"]["k"] == 4
    assert s["injection"]["truth"]["position"] is not None
