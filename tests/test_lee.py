"""The look-elsewhere study (seed 004): fits and significances against hand computations and toy Poisson data,
the classifier's losses, the worth of generated events, the chain end to end, and the command line's errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from scipy import special, stats

from hepgan.cli import main
from hepgan.lee.fits import (
    Histogram,
    asimov_significance,
    expected_background,
    expected_signal,
    fit_background,
    fit_signal,
    gross_vitells,
    histogram,
    local_significance_scan,
    poisson_loglike,
    upcrossings,
)

EDGES = np.linspace(130.0, 170.0, 41)


def _bkg_expectation(n0=60.0, a=-0.9, b=0.15):
    h = Histogram(EDGES, np.zeros(40))
    return expected_background(h, n0, a, b)


def test_poisson_loglike_against_scipy():
    rng = np.random.default_rng(0)
    nu = rng.uniform(0.5, 30, 25)
    k = rng.poisson(nu).astype(float)
    assert poisson_loglike(k, nu) == pytest.approx(stats.poisson.logpmf(k, nu).sum(), rel=1e-12)
    assert poisson_loglike(np.array([1.0]), np.array([0.0])) == -math.inf
    assert poisson_loglike(np.array([0.0]), np.array([0.0])) == 0.0


def test_model_shapes_by_hand():
    h = Histogram(EDGES, np.zeros(40))
    # background: bin width x n0 exp(a t + b t^2) at the bin centre, t in [-1, 1] over the window
    t = (h.centres - 150.0) / 20.0
    np.testing.assert_allclose(expected_background(h, 5.0, 0.3, -0.2), 1.0 * 5.0 * np.exp(0.3 * t - 0.2 * t * t), rtol=1e-12)
    # signal: n1 times the Gaussian's bin integrals; all of it inside a wide window
    s = expected_signal(h, 40.0, 150.0, 1.5)
    assert s.sum() == pytest.approx(40.0, rel=1e-9)
    assert s[20] == pytest.approx(40.0 * (special.ndtr(1.0 / 1.5) - 0.5), rel=1e-12)  # the bin [150, 151)


def test_background_fit_recovers_the_asimov_parameters():
    h = Histogram(EDGES, _bkg_expectation())
    r = fit_background(h)
    assert r.valid
    assert r.params["n0"] == pytest.approx(60.0, rel=1e-3)
    assert r.params["a"] == pytest.approx(-0.9, abs=2e-3)
    assert r.params["b"] == pytest.approx(0.15, abs=2e-3)


def test_asimov_q0_matches_the_binned_formula():
    """On the expected histogram, q0 at the true mass is sum_i 2 ((s+b) ln(1 + s/b) - s) when the background is fixed;
    floating background parameters can only lower it (at the window's centre the quadratic term absorbs about a
    quarter of this peak)."""
    b = _bkg_expectation()
    s = expected_signal(Histogram(EDGES, b), 60.0, 150.0, 1.5)
    h = Histogram(EDGES, b + s)
    fixed = float(np.sum(2 * ((s + b) * np.log1p(s / b) - s)))
    sig = fit_signal(h, 150.0, 1.5)
    q0 = 2 * (sig.loglike - fit_background(h).loglike)
    assert sig.params["n1"] == pytest.approx(60.0, rel=0.02)
    assert 2 * (poisson_loglike(h.counts, b + s) - poisson_loglike(h.counts, b)) == pytest.approx(fixed, rel=1e-9)
    assert 0.6 * fixed <= q0 <= fixed * (1 + 1e-6)
    # one bin and no floating background: the textbook formula
    assert asimov_significance(25.0, 100.0) == pytest.approx(math.sqrt(2 * (125 * math.log(1.25) - 25)), rel=1e-12)


def test_background_only_q0_follows_half_chi2_on_toy_poisson_data():
    """Wilks/Chernoff: half the toys give q0 = 0, the rest chi2 with one degree of freedom.
    Tolerances: 4 binomial standard deviations of the toy count, for any seed."""
    rng = np.random.default_rng()
    lam = _bkg_expectation()
    n = 300
    q0 = []
    for _ in range(n):
        h = Histogram(EDGES, rng.poisson(lam).astype(float))
        bkg = fit_background(h)
        sig = fit_signal(h, 150.0, 1.5, bkg)
        q0.append(max(2 * (sig.loglike - bkg.loglike), 0.0) if sig.params["n1"] > 0 else 0.0)
    q0 = np.array(q0)
    for frac, expected in ((np.mean(q0 == 0), 0.5), (np.mean(q0 > 1), 0.5 * stats.chi2.sf(1, 1)), (np.mean(q0 > 4), 0.5 * stats.chi2.sf(4, 1))):
        assert abs(frac - expected) < 4 * math.sqrt(expected * (1 - expected) / n) + 1.0 / n, (frac, expected)


def test_an_injected_signal_is_found_where_it_is():
    rng = np.random.default_rng()
    lam = _bkg_expectation()
    sig = expected_signal(Histogram(EDGES, lam), 150.0, 155.0, 1.5)
    h = Histogram(EDGES, rng.poisson(lam + sig).astype(float))
    scan = local_significance_scan(h, np.arange(135.0, 166.0, 1.0), 1.5)
    assert abs(scan["mu"][np.argmax(scan["q0"])] - 155.0) <= 3.0
    assert scan["s"].max() > 3.0  # expected about 6


def test_upcrossings_and_gross_vitells_by_hand():
    q = np.array([0.0, 0.2, 1.5, 0.1, 0.9, 2.0, 3.0, 0.0])
    assert upcrossings(q, 0.5) == 2
    assert upcrossings(q, 1.0) == 2
    assert upcrossings(q, 2.5) == 1
    assert upcrossings(np.array([3.0, 3.0]), 1.0) == 0  # starting above is not an up-crossing
    c = 9.0
    assert gross_vitells(c, 2.0, 0.5) == pytest.approx(0.5 * stats.chi2.sf(9.0, 1) + 2.0 * math.exp(-(9.0 - 0.5) / 2), rel=1e-12)


def test_histogram_keeps_the_window_only():
    h = histogram(np.array([129.9, 130.0, 150.2, 169.99, 170.0, 175.0]), (130.0, 170.0), 2.0)
    assert len(h.counts) == 20 and h.counts.sum() == 4 and h.counts[10] == 1  # np.histogram's last bin is closed


# --------------------------------------------------------------------------- the classifier


def test_f_semi_and_per_event_losses_by_hand():
    from hepgan.lee.classifier import ClassifierSettings, ClassifierTask, ResponseClassifier

    net = ResponseClassifier(1, (2,), np.zeros(1), np.ones(1))
    logits = {"zero": torch.tensor([-1.0, 0.5, 2.0]), "one": torch.tensor([0.3, -0.2])}

    class Fixed(torch.nn.Module):
        def forward(self, x):
            return x[:, 0]

    batch = {k: {"x": v[:, None]} for k, v in logits.items()}
    sig = {k: 1 / (1 + np.exp(-v.numpy().astype(np.float64))) for k, v in logits.items()}
    for mode, label in (("semi", 1.0), ("semi", 0.2), ("cwola", 1.0), ("supervised", 1.0)):
        task = ClassifierTask(net, ClassifierSettings(mode=mode, mixture_label=label))
        task.networks["f"] = Fixed()
        loss, _ = task.loss(batch, {})
        if mode == "semi":  # the loss of the batch-averaged predictions (seed 004's f_semi)
            p0, p1 = sig["zero"].mean(), sig["one"].mean()
            expected = -np.log(1 - p0) - (label * np.log(p1) + (1 - label) * np.log(1 - p1))
        else:  # per-event binary cross entropy of each sample
            expected = -np.log(1 - sig["zero"]).mean() - np.log(sig["one"]).mean()
        assert float(loss) == pytest.approx(expected, rel=1e-5), mode


def test_classifier_rejects_bad_input():
    from hepgan.exceptions import ConfigError, SchemaError
    from hepgan.lee.classifier import ClassifierSettings, train_classifier

    with pytest.raises(SchemaError, match="NaN"):
        train_classifier(np.array([[0.0], [np.nan]]), np.zeros((3, 1)), ClassifierSettings(hidden=(4,), epochs=1))
    with pytest.raises(ConfigError, match=r"classifier\.mode"):
        train_classifier(np.zeros((3, 1)), np.zeros((3, 1)), ClassifierSettings(mode="unsupervised"))


# --------------------------------------------------------------------------- the worth of generated events


def test_a_sample_resampled_from_n_events_is_worth_about_n():
    """A generator that only memorised n events (a bootstrap of them) is worth n MC events: 5 independent
    features x 20 bins give the squared deviation a relative spread of about sqrt(2 / 95) = 15 %; 4 of them bound it."""
    from hepgan.methods.scaling.evaluate import worth_of_generated

    rng = np.random.default_rng()
    n = 2000
    truth = rng.normal(size=(200_000, 5))
    few = rng.normal(size=(n, 5))
    memorised = few[rng.integers(0, n, 400_000)]
    w = worth_of_generated(truth, memorised, n_train=n)
    assert 0.6 * n < w["n_equiv"] < 2.5 * n
    # a perfect generator (fresh events from the truth's distribution) is worth more than the truth can resolve
    fresh = worth_of_generated(truth, rng.normal(size=(400_000, 5)), n_train=n)
    assert fresh["n_equiv_limit"] > 20 * n


# --------------------------------------------------------------------------- the chain


@pytest.fixture(scope="module")
def lee_files(tmp_path_factory):
    """A toy Z gamma-like study: falling m_llg, two features, a tiny WGAN-GP, a Gaussian signal at 150 GeV."""
    from hepgan.io import write_table
    from hepgan.methods.scaling.model import TableWGAN

    d = tmp_path_factory.mktemp("lee")
    rng = np.random.default_rng(3)
    n = 3000
    m = 130.0 + rng.exponential(25.0, 3 * n)
    m = m[m < 170.0][:n]
    bkg = pd.DataFrame({"m_llg": m, "pt_ll": rng.exponential(30.0, n) + 0.2 * (m - 130), "n_j": rng.poisson(0.5, n).astype(float)})
    TableWGAN(["m_llg", "pt_ll", "n_j"], discrete_columns=["n_j"], scaling="quantile", g_hidden=[32], d_hidden=[32], epochs=3, progress=False).fit(bkg).save(
        d / "wgan.safetensors"
    )
    sig = pd.DataFrame({"m_llg": rng.normal(150.0, 1.5, 500), "pt_ll": rng.exponential(50.0, 500), "n_j": rng.poisson(1.0, 500).astype(float)})
    write_table(sig, d / "signal.parquet")
    write_table(bkg.iloc[:1000], d / "observed.parquet")
    cfg = {"generator": "wgan.safetensors", "signal": "signal.parquet", "observed": "observed.parquet", "features": ["pt_ll", "n_j"],
           "pseudo_experiments": 3, "batches": [0.5, 1.0], "inject_events": 20, "asimov_events": 2000,
           "classifier": {"hidden": [8], "epochs": 1}}  # fmt: skip
    (d / "lee.yaml").write_text(yaml.safe_dump(cfg))
    return d


def test_the_chain_runs_end_to_end(lee_files, tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["-q", "lee", str(lee_files / "lee.yaml"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "trials factor" in text and "Asimov expectation" in text and "observed" in text
    import json

    s = json.loads((out / "summary.json").read_text())
    assert s["n_experiments"] == 3 and s["n_data"] == 1000 and len(s["batches"]) == 2
    for b in s["batches"]:
        assert len(b["max_local_z"]) == 3 and all(z >= 0 for z in b["max_local_z"])
        assert "observed" in b and "injection" in b
    assert (out / "report.html").is_file() and (out / "figures" / "lee_max_significance.png").is_file()
    # a second study into the same folder is refused, and the first is untouched
    before = (out / "summary.json").read_bytes()
    assert main(["-q", "lee", str(lee_files / "lee.yaml"), "--out", str(out), "--overwrite"]) == 2
    assert "holds a LEE study" in capsys.readouterr().err
    assert (out / "summary.json").read_bytes() == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pseudo_experimnts": 3}, "pseudo_experimnts: unknown key (did you mean 'pseudo_experiments'?)"),
        ({"generator": "absent.safetensors"}, "absent.safetensors"),
        ({"features": ["pt_ll", "met"]}, "no column 'met'"),
        ({"window": [170.0, 130.0]}, "window"),
        ({"classifier": {"mode": "unsupervised"}}, "classifier.mode"),
    ],
)
def test_lee_errors_are_one_line(lee_files, tmp_path, capsys, change, message):
    cfg = yaml.safe_load((lee_files / "lee.yaml").read_text())
    cfg.update(change)
    for k in ("generator", "signal", "observed"):
        cfg[k] = str(lee_files / cfg[k])
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["-q", "lee", str(path), "--out", str(tmp_path / "out")]) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_scaling_run_names_a_missing_column(lee_files, tmp_path, capsys):
    cfg = {"method": "scaling", "data": {"train": str(lee_files / "observed.parquet"), "columns": ["m_llg", "met"], "discrete": []}}
    path = tmp_path / "scaling.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["-q", "train", str(path), "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "'met'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_scaling_validation_scores_a_generator_with_no_event_in_range():
    """An untrained generator can put every event outside the min-max range (seen on a GPU at epoch 1): the
    validation then gives the worst score (infinity) instead of failing on an empty sample."""
    import torch

    from hepgan.methods.scaling.model import TableWGAN

    rng = np.random.default_rng(0)
    table = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    m = TableWGAN(["a", "b"], g_hidden=[8], d_hidden=[8], epochs=1, progress=False, val_events=50)
    m._validate_params()
    m._fit_scaling(table.to_numpy(), rng)

    class Outside(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, z):
            return torch.full((len(z), 2), 2.0) + self.w  # min-max scaled events live in [0, 1]

    v = m._make_validation(Outside(), table.to_numpy())(1)
    assert v == {"w1_val": float("inf"), "w1_max_val": float("inf")}
