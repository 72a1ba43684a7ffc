"""The unfolding GANs (FCGAN and naive GAN), OmniFold, the evaluation's pieces and hepgan unfold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from hepgan.cli import main
from hepgan.io import read_table, write_table
from hepgan.kinematics import event_table, pt_eta_phi
from hepgan.methods.unfolding import UnfoldingGAN
from hepgan.methods.unfolding.evaluate import calibration, slice_mask
from hepgan.methods.unfolding.model import response
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


# the response toy: log pT, eta and phi of one massless object smeared by the detector, Gaussian in log pT and eta
LOGPT_MEAN, LOGPT_PRIOR, LOGPT_DET = np.log(50.0), 0.5, 0.15
ETA_PRIOR, ANGLE_DET = 1.0, 0.05


def _response_toy(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """log pT ~ N(log 50 GeV, 0.5), eta ~ N(0, 1), phi uniform; the detector adds N(0, 0.15) to log pT and N(0, 0.05) to eta and phi."""

    def p4(logpt, eta, phi):
        pt = np.exp(logpt)
        p3 = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=-1)[:, None, :]
        return np.concatenate([p3, np.linalg.norm(p3, axis=-1, keepdims=True)], axis=-1)

    logpt, eta, phi = rng.normal(LOGPT_MEAN, LOGPT_PRIOR, n), rng.normal(0.0, ETA_PRIOR, n), rng.uniform(-np.pi, np.pi, n)
    det = p4(logpt + rng.normal(0, LOGPT_DET, n), eta + rng.normal(0, ANGLE_DET, n), phi + rng.normal(0, ANGLE_DET, n))
    return pd.concat([event_table(det, ["det_a"]).drop(columns="weight"), event_table(p4(logpt, eta, phi), ["part_a"])], axis=1)


def test_response_of_matched_objects_by_hand():
    p = torch.tensor([[[30.0, 0.0, 0.0, 30.0], [0.0, -5.0, 5.0, 7.0710678]]])
    d = torch.tensor([[[15.0, 0.0, 0.0, 15.0], [0.0, -5.0, 0.0, 5.0]]])
    r = response(p, d)[0].tolist()
    # object 1: pT doubled, same direction; object 2: same pT and phi, eta asinh(1) instead of 0
    np.testing.assert_allclose(r, [np.log(2.0), 0.0, 0.0, 0.0, np.arcsinh(1.0), 0.0], atol=1e-6)
    # phi across the branch cut: 3.1 minus -3.1 is 6.2 - 2 pi, not 6.2
    a, b = torch.tensor([[[np.cos(3.1), np.sin(3.1), 0.0, 1.0]]]), torch.tensor([[[np.cos(-3.1), np.sin(-3.1), 0.0, 1.0]]])
    assert response(a, b)[0, 2].item() == pytest.approx(6.2 - 2 * np.pi, abs=1e-5)


def test_untrained_response_generator_applies_the_median_response():
    rng = np.random.default_rng(7)
    train, test = _response_toy(2_000, rng), _response_toy(100, rng)
    gan = _toy_gan(residual_space="response", d_response=True, epochs=1, lr=1e-12).fit(train)
    x = gan.unfold_p4(test, k=2, seed=3)[:, 0, 0]
    det = test[["det_a_px", "det_a_py", "det_a_pz", "det_a_e"]].to_numpy()[:, None, :]
    (pt, eta, phi), (pt_d, eta_d, phi_d) = pt_eta_phi(x[:, None, :]), pt_eta_phi(det)
    r, s = gan.r_centre_, gan.r_scale_  # the training sample's median and spread of log pT ratio, delta eta, delta phi
    # the true response: centred at 0 (the median of 2000 has sd 1.25 sd / sqrt(2000); 5 of them allowed), spread 0.15, 0.05, 0.05
    sd = np.array([np.hypot(LOGPT_DET, 0), ANGLE_DET, ANGLE_DET])
    assert np.all(np.abs(r) < 5 * 1.25 * sd / np.sqrt(2_000))
    assert np.all(np.abs(s / sd - 1) < 0.1)  # IQR / 1.349 of 2000 Gaussian values: 2.5 % sd
    # lr 1e-12 leaves the initial last layer (scaled by 0.01): |u| is a few 0.01, so the response is the median within 0.1 spreads
    np.testing.assert_allclose(np.log(pt[:, 0] / pt_d[:, 0]), r[0], atol=0.1 * s[0])
    np.testing.assert_allclose(eta[:, 0] - eta_d[:, 0], r[1], atol=0.1 * s[1])
    assert np.abs(np.angle(np.exp(1j * (phi[:, 0] - phi_d[:, 0] - r[2])))).max() < 0.1 * s[2]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_calibrated_fcgan_learns_the_posterior_of_a_smeared_object(seed):
    """Known answer: log pT_det = log pT + N(0, 0.15) with log pT ~ N(log 50, 0.5) has a Gaussian posterior of sd
    0.5 x 0.15 / sqrt(0.5^2 + 0.15^2) = 0.144 and mean slope 0.5^2 / (0.5^2 + 0.15^2) = 0.917 in log pT; eta
    (prior sd 1) has sd 0.0499; phi (flat prior) N(phi_det, 0.05). The configuration of configs/unfold_fcgan.yaml:
    the response-space generator, the response in the discriminator and the energy score per component."""
    rng = np.random.default_rng(11 + seed)
    gan = _toy_gan(residual_space="response", d_response=True, energy_lambda=1.0, energy_per="component", epochs=20, seed=seed)
    gan.fit(_response_toy(20_000, rng))
    test = _response_toy(2_000, rng)
    k = 100
    x = gan.unfold_p4(test, k=k, seed=1)[:, :, 0]  # (N, k, 4)
    pt, eta, phi = pt_eta_phi(x)
    truth = pt_eta_phi(test[["part_a_px", "part_a_py", "part_a_pz", "part_a_e"]].to_numpy())
    det = pt_eta_phi(test[["det_a_px", "det_a_py", "det_a_pz", "det_a_e"]].to_numpy())
    v = np.log(det[0]) - LOGPT_MEAN
    mean = np.log(pt).mean(axis=1) - LOGPT_MEAN
    slope_true = LOGPT_PRIOR**2 / (LOGPT_PRIOR**2 + LOGPT_DET**2)
    # statistics alone fix the slope to about 0.003 and the mean sd to 0.2 %; the tolerances are the GAN's allowance
    # (seeds 0-2 measured: slope 0.936-0.942, sd ratios 0.94-1.00, 68 % coverage 0.646-0.679)
    assert abs((v * mean).sum() / (v * v).sum() - slope_true) < 0.06
    sds = {"log pT": (np.log(pt).std(axis=1, ddof=1), LOGPT_PRIOR * LOGPT_DET / np.hypot(LOGPT_PRIOR, LOGPT_DET)),
           "eta": (eta.std(axis=1, ddof=1), ETA_PRIOR * ANGLE_DET / np.hypot(ETA_PRIOR, ANGLE_DET)),
           "phi": (np.angle(np.exp(1j * (phi - det[2][:, None]))).std(axis=1, ddof=1), ANGLE_DET)}  # fmt: skip
    for name, (sd, expected) in sds.items():
        assert abs(sd.mean() / expected - 1) < 0.2, name
    # 68 % coverage of log pT and eta: 2000 events give a binomial sd of 0.010; the rest of the 0.08 is the GAN's
    for t, s in ((np.log(truth[0]), np.log(pt)), (truth[1], eta)):
        q = np.quantile(s, [0.16, 0.84], axis=1)
        assert abs(np.mean((t >= q[0]) & (t <= q[1])) - 0.68) < 0.08


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
    bad = [({"model": {"residual": False, "residual_space": "response"}}, "model.residual_space"),
           ({"model": {"residual_space": "angles"}}, "model.residual_space"),
           ({"loss": {"energy_lambda": -1.0}}, "loss.energy_lambda"),
           ({"loss": {"energy_per": "object"}}, "loss.energy_per")]  # fmt: skip
    for sections, needle in bad:
        (tmp_path / "c.yaml").write_text(yaml.safe_dump({**cfg, "model": {}, **sections}))
        assert main(["train", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "run")]) == 2
        assert needle in _one_line(capsys) and not (tmp_path / "run").exists()
    cfg["model"] = {}
    cfg["data"]["train"] = det  # detector columns only: the parton columns are missing
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "run")]) == 2
    assert "part_q1_px" in _one_line(capsys) and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_small_run_writes_its_report(zw_files, tmp_path):
    cfg = {"method": "unfolding", "data": {"train": str(zw_files / "zw.parquet"), "injection": str(zw_files / "zw.parquet")},
           "model": {"g_hidden": [8], "d_hidden": [8], "residual_space": "response", "d_response": True},
           "loss": {"energy_lambda": 1.0, "energy_per": "component"}, "training": {"epochs": 2, "batch_size": 64},
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
    history = json.loads((run / "history.json").read_text())
    assert np.isfinite(history["energy_train"]).all() and len(history["energy_train"]) == 2
    assert s["injection"]["truth"]["position"] is not None
