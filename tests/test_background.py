"""The conditional GAN of seed 002: structure, files, selection, convergence and the command line."""

from __future__ import annotations

import json
import signal

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from hepgan.cli import main
from hepgan.exceptions import ModelFileError
from hepgan.io import read_metadata, read_table, write_table
from hepgan.methods.background import FEATURE_SETS, X_OBJECT, ConditionalGAN
from hepgan.physics import derived_columns
from hepgan.samples.toys import gjets_toy, sine_toy
from hepgan.training.loop import Trainer, TrainSettings
from hepgan.training.record import Selection
from hepgan.training.task import OptimizerSpec, Step

C_FULL = FEATURE_SETS["full"]


def _small_model(**kw) -> ConditionalGAN:
    args = dict(
        g_hidden=(32, 32), d_hidden=(32, 32), latent_dim=4, epochs=2, batch_size=128, optimizer="adam",
        metric_events=200, metric_k=3, n_quantiles=100, derive="diphoton", progress=False, seed=3,
    )
    args.update(kw)
    return ConditionalGAN(**args)


@pytest.fixture(scope="module")
def toy() -> pd.DataFrame:
    return gjets_toy(1500, seed=11)


@pytest.fixture(scope="module")
def fitted(toy) -> ConditionalGAN:
    sr = toy[toy.region == 1]
    tr, va = sr.iloc[:300], sr.iloc[300:]
    return _small_model(epochs=3).fit(tr[X_OBJECT], tr[C_FULL], tr.weight, validation=(va[X_OBJECT], va[C_FULL], va.weight))


def test_sample_shapes_ranges_and_discrete_rounding(fitted, toy):
    y = fitted.sample(toy[C_FULL].iloc[:50], k=4, seed=1)
    assert y.shape == (200, 4) and list(y.columns) == X_OBJECT
    assert np.isfinite(y.to_numpy()).all()
    # the generator's tanh range maps into the fitted range of each column
    sr = toy[toy.region == 1].iloc[:300]
    for col in X_OBJECT:
        assert sr[col].min() - 1e-6 <= y[col].min() and y[col].max() <= sr[col].max() + 1e-6


def test_history_and_best_epoch(fitted):
    h = fitted.history_
    assert h["epoch"] == [1, 2, 3]
    assert len(h["neg2lnL_val"]) == 3 and len(h["neg2lnL_train"]) == 3
    assert fitted.best_epoch_ == 1 + int(np.argmin(h["neg2lnL_val"]))
    assert h["selection"] == {"metric": "neg2lnL_val", "mode": "min", "label": "-2lnLambda"}
    assert h["lr"][-1] == pytest.approx(0.0, abs=1e-12)  # cosine decay reaches 0 at the end


def test_save_load_gives_identical_samples(fitted, toy, tmp_path):
    path = fitted.save(tmp_path / "m.safetensors")
    loaded = ConditionalGAN.load(path)
    c = toy[C_FULL].iloc[:100]
    pd.testing.assert_frame_equal(fitted.sample(c, k=2, seed=9), loaded.sample(c, k=2, seed=9))
    assert not fitted.sample(c, seed=9).equals(fitted.sample(c, seed=10))
    assert loaded.best_epoch_ == fitted.best_epoch_


def test_tampered_and_foreign_model_files(fitted, tmp_path):
    path = fitted.save(tmp_path / "m.safetensors")
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # flip bits in the last weight tensor
    (tmp_path / "t.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum"):
        ConditionalGAN.load(tmp_path / "t.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFileError, match="not a readable hepgan file"):
        ConditionalGAN.load(tmp_path / "junk.safetensors")


def test_vanilla_gan_without_conditions(toy):
    sr = toy[toy.region == 1].iloc[:300]
    m = _small_model(c_columns=[], derive=None).fit(sr[X_OBJECT])
    assert m.sample(17, k=2, seed=0).shape == (34, 4)


class _ToyTask:
    """A minimal task for the loop: a linear g and d on 1-D data; validate returns scripted values."""

    def __init__(self, scripted=None, stop_at=None, optimizer="adam"):
        torch.manual_seed(0)
        self.networks = {"g": torch.nn.Linear(2, 1), "d": torch.nn.Linear(2, 1)}
        self.scripted, self.stop_at, self.snapshots = scripted, stop_at, {}
        opt = OptimizerSpec(optimizer, 1e-3)
        self.steps = [Step("d", "d", self.d_loss, self.noise, optimizer=opt), Step("g", "g", self.g_loss, self.noise, optimizer=opt)]

    def noise(self, batch, gen):
        return {"z": torch.randn(len(batch["toy"]["x"]), 1, generator=gen)}

    def d_loss(self, batch, noise):
        b = batch["toy"]
        fake = self.networks["g"](torch.cat([b["c"], noise["z"]], 1)).detach()
        d = self.networks["d"]
        sp = torch.nn.functional.softplus
        return sp(-d(torch.cat([b["c"], b["x"]], 1))).mean() + sp(d(torch.cat([b["c"], fake], 1))).mean(), {}

    def g_loss(self, batch, noise):
        b = batch["toy"]
        fake = self.networks["g"](torch.cat([b["c"], noise["z"]], 1))
        return torch.nn.functional.softplus(-self.networks["d"](torch.cat([b["c"], fake], 1))).mean(), {}

    def validate(self, epoch):
        self.snapshots[epoch] = {k: v.clone() for k, v in self.networks["g"].state_dict().items()}
        if self.stop_at == epoch:
            signal.raise_signal(signal.SIGINT)
        return {"score": self.scripted[epoch - 1]} if self.scripted else {}


def _toy_data(n=256):
    g = torch.Generator().manual_seed(1)
    c = torch.rand(n, 1, generator=g)
    return {"toy": {"c": c, "x": c + 0.1 * torch.randn(n, 1, generator=g)}}


def test_loop_keeps_the_epoch_with_lowest_validation_metric():
    task = _ToyTask(scripted=[5.0, 3.0, 4.0, 3.5])
    settings = TrainSettings(epochs=4, batch_size=64, progress=False, selection=Selection("score", "min"))
    hist = Trainer(settings).fit(task, _toy_data())
    assert hist["best_epoch"] == 2
    for k, v in task.networks["g"].state_dict().items():
        torch.testing.assert_close(v, task.snapshots[2][k], rtol=0, atol=0)


def test_loop_keeps_the_epoch_with_highest_metric_when_higher_is_better():
    task = _ToyTask(scripted=[5.0, 3.0, 6.0, 3.5])
    hist = Trainer(TrainSettings(epochs=4, batch_size=64, progress=False, selection=Selection("score", "max"))).fit(task, _toy_data())
    assert hist["best_epoch"] == 3 and hist["selection"]["mode"] == "max"
    for k, v in task.networks["g"].state_dict().items():
        torch.testing.assert_close(v, task.snapshots[3][k], rtol=0, atol=0)


def test_loop_resume_after_signal_matches_uninterrupted(tmp_path):
    settings = TrainSettings(epochs=5, batch_size=64, checkpoint_every=0, progress=False, selection=Selection("score"))
    ref = _ToyTask(scripted=[5, 4, 3, 2, 1], optimizer="lamb")
    h_ref = Trainer(settings).fit(ref, _toy_data())
    first = _ToyTask(scripted=[5, 4, 3, 2, 1], stop_at=2, optimizer="lamb")
    with pytest.raises(KeyboardInterrupt, match="stopped after epoch 2"):
        Trainer(settings).fit(first, _toy_data(), run_dir=tmp_path)
    again = _ToyTask(scripted=[5, 4, 3, 2, 1], optimizer="lamb")
    h = Trainer(settings).fit(again, _toy_data(), run_dir=tmp_path, resume=True)
    assert h["loss_d"] == h_ref["loss_d"] and h["loss_g"] == h_ref["loss_g"]
    for name in ("g", "d"):
        for k, v in again.networks[name].state_dict().items():
            torch.testing.assert_close(v, ref.networks[name].state_dict()[k], rtol=0, atol=0)


@pytest.mark.slow
def test_converges_on_sine_toy():
    """x | c ~ N(sin c, 0.1^2): the conditional mean is learnt to 0.05 and the width to 45 %.

    The tolerance is far above the statistical error of the check itself (2000 samples per bin:
    0.1 / sqrt(2000) ~ 0.002), so a failure means the GAN did not learn the toy.
    """
    train, val = sine_toy(10_000, seed=1), sine_toy(4_000, seed=2)
    m = ConditionalGAN(
        x_columns=["x"], c_columns=["c"], discrete_columns=[], g_hidden=(64, 64), d_hidden=(64, 64), latent_dim=4,
        optimizer="adam", lr=1e-3, epochs=100, batch_size=256, dropout=0.0, label_noise=0.15,
        metric_columns=["c", "x"], metric_k=5, metric_events=2000, seed=7, progress=False,
    ).fit(train[["x"]], train[["c"]], validation=(val[["x"]], val[["c"]], None))
    centres = np.linspace(-np.pi + 0.3, np.pi - 0.3, 10)
    y = m.sample(pd.DataFrame({"c": np.repeat(centres, 2000)}), seed=3)["x"].to_numpy().reshape(10, 2000)
    assert np.max(np.abs(y.mean(axis=1) - np.sin(centres))) < 0.05
    assert np.all(np.abs(y.std(axis=1) / 0.1 - 1) < 0.45)


@pytest.mark.slow
def test_the_flow_baseline_converges_on_sine_toy():
    """The conditional flow (arch flow) on x | c ~ N(sin c, 0.1^2): the same tolerances as the GAN's test."""
    pytest.importorskip("zuko")
    train, val = sine_toy(10_000, seed=1), sine_toy(4_000, seed=2)
    m = ConditionalGAN(
        x_columns=["x"], c_columns=["c"], discrete_columns=[], arch="flow", g_hidden=(64, 64), flow_transforms=3,
        optimizer="adam", lr=2e-3, epochs=20, batch_size=256, n_quantiles=200, seed=7, progress=False,
    ).fit(train[["x"]], train[["c"]], validation=(val[["x"]], val[["c"]], None))
    assert m.history_["selection"]["metric"] == "nll_val" and len(m.history_["nll_val"]) == 20
    centres = np.linspace(-np.pi + 0.3, np.pi - 0.3, 10)
    y = m.sample(pd.DataFrame({"c": np.repeat(centres, 2000)}), seed=3)["x"].to_numpy().reshape(10, 2000)
    assert np.max(np.abs(y.mean(axis=1) - np.sin(centres))) < 0.05
    assert np.all(np.abs(y.std(axis=1) / 0.1 - 1) < 0.45)


def test_flattened_training_weights_are_w_over_the_bin_mean(toy):
    from hepgan.methods.background.model import flatten_factor

    sr = toy[toy.region == 1].iloc[:300]
    m = _small_model(flatten_column="pho1_pt", flatten_bins=5)
    _, data, _ = m._prepare(sr[X_OBJECT], sr[C_FULL], sr.weight, None, None)
    w = sr.weight.to_numpy()
    expected = w / flatten_factor(sr.pho1_pt.to_numpy(), w, 5)
    np.testing.assert_allclose(data["sr"].tensors["w"].numpy(), expected, rtol=1e-6)
    # in every bin the mean |w'| is 1: the weighted pho1_pt spectrum is flat in the bins
    edges = np.quantile(sr.pho1_pt, np.linspace(0, 1, 6))
    b = np.clip(np.searchsorted(edges, sr.pho1_pt, side="right") - 1, 0, 4)
    np.testing.assert_allclose([np.abs(expected[b == k]).mean() for k in range(5)], 1.0, rtol=1e-9)
    with pytest.raises(Exception, match="flatten_column"):
        _small_model(flatten_column="pho2_pt").fit(sr[X_OBJECT], sr[C_FULL])


def _write_config(tmp_path, data_path, **training):
    cfg = {
        "method": "background",
        "data": {"train": str(data_path), "validation_fraction": 0.25, "test_fraction": 0.25},
        "model": {"g_hidden": [32, 32], "d_hidden": [32, 32], "latent_dim": 4, "n_quantiles": 100},
        "training": {"optimizer": "adam", "epochs": 2, "batch_size": 128, "seed": 1, **training},
        "metric": {"k_epoch": 2, "k_final": 3, "events": 200},
        "apply": {"k": 2},
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_cli_train_then_apply(tmp_path, capsys):
    data = tmp_path / "toy.parquet"
    toy = gjets_toy(1200, seed=5)
    write_table(toy, data, metadata={"id_threshold": 0.0})
    run = tmp_path / "run"
    assert main(["-q", "train", str(_write_config(tmp_path, data)), "--run-dir", str(run)]) == 0
    files = ("config.yaml", "history.json", "model_best.safetensors", "model_last.safetensors", "summary.txt",
             "evaluation/roles.json", "evaluation/cr_gan.parquet")  # fmt: skip
    for name in files:
        assert (run / name).is_file(), name
    history = json.loads((run / "history.json").read_text())
    assert history["selection"]["label"] == "-2lnLambda" and len(history["neg2lnL_val"]) == 2

    out = tmp_path / "cr_gan.parquet"
    assert main(["-q", "apply", str(run / "model_best.safetensors"), str(data), "--out", str(out), "--k", "2", "--chunk-size", "300"]) == 0
    got = read_table(out)
    cr = toy[toy.region == 0]
    assert len(got) == 2 * len(cr)
    np.testing.assert_allclose(got["weight"], 0.5)
    # untouched columns are kept, event by event, and derived columns recomputed from the new pho2
    np.testing.assert_array_equal(got["pho1_pt"].to_numpy()[::2], cr["pho1_pt"].to_numpy())
    np.testing.assert_allclose(got["m_gg"], derived_columns(got)["m_gg"], rtol=1e-5)
    np.testing.assert_array_equal(got["region"], (got["pho2_id"] > 0.0).astype(np.float32))
    assert read_metadata(out)["k"] == 2
    assert "wrote" in capsys.readouterr().out


def test_gan_and_flow_side_by_side_on_the_same_events(tmp_path, capsys):
    pytest.importorskip("zuko")
    data = tmp_path / "toy.parquet"
    write_table(gjets_toy(1200, seed=5), data, metadata={"id_threshold": 0.0})
    cfg = _write_config(tmp_path, data)
    flow_cfg = tmp_path / "flow.yaml"
    flow_cfg.write_text(cfg.read_text().replace("latent_dim: 4", "latent_dim: 4\n  arch: flow"))
    gan, flow = tmp_path / "gan", tmp_path / "flow"
    assert main(["-q", "train", str(cfg), "--run-dir", str(gan), "--no-report"]) == 0
    assert main(["-q", "train", str(flow_cfg), "--run-dir", str(flow), "--no-report"]) == 0
    assert json.loads((flow / "history.json").read_text())["selection"]["metric"] == "nll_val"
    assert main(["-q", "report", str(gan), "--baseline", str(flow)]) == 0
    metrics = json.loads((gan / "metrics.json").read_text())
    assert {"closure_sr", "closure_sr_baseline", "cr_to_sr", "cr_to_sr_baseline"} <= set(metrics["comparisons"])
    page = (gan / "report.html").read_text()
    assert "[baseline flow (flow)]" in page
    other = tmp_path / "other.yaml"  # another split: not the same held-out events
    other.write_text(cfg.read_text().replace("validation_fraction: 0.25", "validation_fraction: 0.3"))
    assert main(["-q", "train", str(other), "--run-dir", str(tmp_path / "o"), "--no-report"]) == 0
    assert main(["-q", "report", str(gan), "--baseline", str(tmp_path / "o")]) == 2
    assert "held-out events differ" in capsys.readouterr().err


def test_cli_apply_rejects_missing_condition(tmp_path, fitted, capsys):
    model = fitted.save(tmp_path / "m.safetensors")
    bad = gjets_toy(50, seed=1).drop(columns=["n_vtx"])
    write_table(bad, tmp_path / "bad.parquet")
    out = tmp_path / "o.parquet"
    assert main(["apply", str(model), str(tmp_path / "bad.parquet"), "--out", str(out)]) == 2
    # what a terminal shows: the progress bar is cleared (carriage returns) before the error line
    err = [ln.split("\r")[-1] for ln in capsys.readouterr().err.split("\n") if ln.split("\r")[-1].strip()]
    assert len(err) == 1 and "missing column 'n_vtx'" in err[0]
    assert not out.exists() and not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
