"""The subtraction GAN (seed 003, arXiv:1912.08824): the seed's formulas by hand, the toys, the engine's
three paths on its step list, a toy that converges to P_B - P_S = 0.1, the run and the command line."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from hepgan.cli import main
from hepgan.exceptions import ConfigError, SchemaError
from hepgan.methods.subtraction.evaluate import band_coverage, binned_subtraction, compare_histograms, fit_breit_wigner, output_coefficients
from hepgan.methods.subtraction.model import (
    SubtractionGAN,
    class_loss,
    class_shares,
    count_weight,
    fit_ensemble,
    fold,
    label_table,
    norm_loss,
)
from hepgan.samples.toys import SUBTRACTION_TOYS, SubtractionToy, subtraction_toy
from hepgan.training.loop import Trainer
from hepgan.training.scan import train_scan

TABLE = torch.tensor([[1.0, 0.0], [1.0, 1.0]])  # components (B-S, S) x samples (B, S)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hepgan: error: "), err
    return err[0]


# --------------------------------------------------------------------------- the seed's formulas by hand


def test_count_weight_by_hand():
    c = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.8, 0.2], [0.0, 1.0]], dtype=torch.float64)
    expected = [1.0, math.exp(-10 * (0.25 - 1) ** 2), math.exp(-10 * (0.64 - 1) ** 2), 1.0]
    torch.testing.assert_close(count_weight(c, alpha=10.0), torch.tensor(expected, dtype=torch.float64))
    # beta = 2: the fourth power; alpha = 5
    torch.testing.assert_close(count_weight(c[2:3], alpha=5.0, beta=2.0), torch.tensor([math.exp(-5 * 0.36**4)], dtype=torch.float64))
    # three classes: the uniform label is the least clear one
    u = torch.full((1, 3), 1 / 3, dtype=torch.float64)
    torch.testing.assert_close(count_weight(u, alpha=5.0), torch.tensor([math.exp(-5 * (1 / 9 - 1) ** 2)], dtype=torch.float64))


def test_class_loss_by_hand():
    f = torch.tensor([1.0, 0.5, 0.0, 0.5])
    assert float(class_loss(f)) == pytest.approx((1 - 0.5) ** 2)
    assert float(class_loss(torch.ones(7))) == 0.0


def test_norm_loss_by_hand_for_subtraction_and_addition():
    # four events: classes B-S, S, B-S, S; f below 1 for the unclear ones
    c = torch.tensor([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.0, 1.0]], dtype=torch.float64)
    f = torch.tensor([0.9, 0.5, 0.2, 1.0], dtype=torch.float64)
    loss, ratio = norm_loss(f, class_shares(c, TABLE.double()), torch.tensor([0.25], dtype=torch.float64))
    r = (0.5 + 1.0) / (0.9 + 0.5 + 0.2 + 1.0)  # sum over S events / sum over all events (every event is part of B)
    assert float(ratio[0]) == pytest.approx(r)
    assert float(loss[0]) == pytest.approx((r - 0.25) ** 2)
    # addition: components (B-S, S, A); samples B = (B-S) + S, S, A
    m, _ = label_table(["B-S", "S", "A"], {"B": ["B-S", "S"], "S": ["S"], "A": ["A"]}, ["B-S", "A"])
    c3 = torch.tensor([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.2, 0.1, 0.7], [0.9, 0.05, 0.05]], dtype=torch.float64)
    f3 = torch.tensor([1.0, 0.5, 0.8, 0.4, 1.0], dtype=torch.float64)
    loss3, ratio3 = norm_loss(f3, class_shares(c3, torch.as_tensor(m)), torch.tensor([0.2, 0.5], dtype=torch.float64))
    ref = 1.0 + 0.5 + 1.0  # events of class B-S or S
    torch.testing.assert_close(ratio3, torch.tensor([0.5 / ref, (0.8 + 0.4) / ref], dtype=torch.float64))
    torch.testing.assert_close(loss3, (ratio3 - torch.tensor([0.2, 0.5], dtype=torch.float64)) ** 2)


def test_class_shares_are_hard_with_the_gradient_of_the_label_share():
    c = torch.tensor([[0.7, 0.3], [0.4, 0.6]], requires_grad=True)
    shares = class_shares(c, TABLE)
    assert shares.tolist() == [[1.0, 0.0], [1.0, 1.0]]
    (g_hard,) = torch.autograd.grad((shares * torch.tensor([[0.0, 2.0], [0.0, 3.0]])).sum(), c)
    c2 = c.detach().clone().requires_grad_(True)
    (g_soft,) = torch.autograd.grad((class_shares(c2, TABLE, hard=False) * torch.tensor([[0.0, 2.0], [0.0, 3.0]])).sum(), c2)
    torch.testing.assert_close(g_hard, g_soft)
    assert g_soft.tolist() == [[0.0, 2.0], [0.0, 3.0]]


def test_fold_reflects_into_the_range_and_keeps_densities():
    u = torch.linspace(-5, 5, 10_001)
    v = fold(u)
    assert v.min() >= -1 and v.max() <= 1
    torch.testing.assert_close(fold(torch.tensor([0.3, 1.2, -1.2, 2.5])), torch.tensor([0.3, 0.8, -0.8, -0.5]))
    # a uniform density on [-3, 3] folds to a uniform density on [-1, 1]
    h, _ = np.histogram(fold(torch.linspace(-3, 3, 600_001)).numpy(), np.linspace(-1, 1, 11))
    assert h.max() - h.min() <= 10


def test_label_tables_and_output_signs_of_the_three_toys():
    m, o = label_table(["B-S", "S"], {"B": ["B-S", "S"], "S": ["S"]}, ["B-S"])
    assert m.tolist() == [[1, 0], [1, 1]] and o.tolist() == [1, 0]
    assert output_coefficients(["B-S", "S"], {"B": ["B-S", "S"], "S": ["S"]}, ["B-S"]).tolist() == [1, -1]
    assert output_coefficients(["B-S", "S", "A"], {"B": ["B-S", "S"], "S": ["S"], "A": ["A"]}, ["B-S", "A"]).tolist() == [1, -1, 1]
    three = {"B": ["R", "S1", "S2"], "S1": ["S1"], "S2": ["S2"]}
    assert output_coefficients(["R", "S1", "S2"], three, ["R"]).tolist() == [1, -1, -1]
    with pytest.raises(ValueError, match="not a signed sum"):
        output_coefficients(["R", "S"], {"B": ["R", "S"]}, ["R"])


def test_binned_subtraction_coverage_and_breit_wigner_fit_by_hand():
    edges = np.array([0.0, 2.0, 4.0])
    h, e = binned_subtraction({"B": np.array([1.0, 1.0, 3.0]), "S": np.array([1.0])}, {"B": np.array([1.0, 2.0, 1.0]), "S": None},
                              {"B": 8.0, "S": 1.0}, [1.0, -1.0], edges)  # fmt: skip
    # B: sigma/sum w = 2 per unit weight: bin 1 = 2 * 3 - 1 = 5, bin 2 = 2; divided by the width 2
    np.testing.assert_allclose(h, [2.5, 1.0])
    np.testing.assert_allclose(e, [math.sqrt(4 * 5 + 1) / 2, 2 / 2])
    assert band_coverage(np.array([1.0, 1.0]), np.array([0.1, 0.1]), np.array([1.05, 1.2]), np.array([0.0, 0.2])) == 1.0
    # a binned Breit-Wigner plus constant is fitted back to its parameters
    fine = np.linspace(1, 200, 161)
    lo, hi = fine[:-1], fine[1:]
    dens = 0.1 + 5 / np.pi * (np.arctan((hi - 90) / 10) - np.arctan((lo - 90) / 10)) / (hi - lo)
    fit = fit_breit_wigner(fine, dens, np.full_like(dens, 1e-3))
    assert fit["position"] == pytest.approx(90.0, abs=1e-4) and fit["half_width"] == pytest.approx(10.0, abs=1e-4)
    assert fit["constant"] == pytest.approx(0.1, abs=1e-6)


# --------------------------------------------------------------------------- the toys


@pytest.mark.parametrize("case", list(SUBTRACTION_TOYS))
def test_toy_samples_follow_their_densities(case):
    toy = SubtractionToy(case)
    n = 40_000
    data = subtraction_toy(case, n, seed=3)
    edges = np.geomspace(1, 200, 9)
    for name, df in data.items():
        assert len(df) == n and df["x"].between(1, 200).all()
        counts = np.histogram(df["x"], edges)[0]
        integral = [toy.density(name, np.linspace(a, b, 2001)).mean() * (b - a) for a, b in zip(edges[:-1], edges[1:])]
        expected = n * np.array(integral) / toy.sigma(name)
        # Poisson pulls of 8 bins: within 5 standard deviations for any seed
        assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected) + 1), (name, counts, expected)
    # the output's cross section is the signed sum of the inputs'
    coeffs = {"subtraction": [1, -1], "addition": [1, -1, 1], "three": [1, -1, -1]}[case]
    assert toy.sigma_output == pytest.approx(sum(a * toy.sigma(s) for a, s in zip(coeffs, toy.samples)))
    np.testing.assert_allclose(toy.output_integral(np.array([1.0, 200.0])), [toy.sigma_output])
    assert subtraction_toy(case, 50, seed=3)["B"].equals(subtraction_toy(case, 50, seed=3)["B"])


# --------------------------------------------------------------------------- the engine


def _tiny(seed: int = 0, **kw) -> SubtractionGAN:
    args = dict(ranges={"x": (1.0, 200.0)}, log_columns=["x"], g_hidden=(16, 16), d_hidden=(16, 16), latent_dim=3,
                epochs=2, batch_size=64, n_critic=2, val_events=500, progress=False, seed=seed, roth_lambda=1e-2)  # fmt: skip
    args.update(kw)
    return SubtractionGAN(**args)


def _toy_inputs(n: int, seed: int = 1, case: str = "subtraction"):
    toy = SubtractionToy(case)
    return subtraction_toy(case, n, seed), {s: toy.sigma(s) for s in toy.samples}


def test_step_list_eager_graph_scan_agree():
    """The subtraction task's step list (two discriminators with the Roth penalty, the generator with
    L_class and L_norm, samples B and S of different sizes) gives the same losses, logs and weights
    eagerly, on the fast step and in a vectorised scan of two members with other seeds."""
    data, sigma = _toy_inputs(300)
    data["S"] = data["S"].iloc[:200]  # another size

    def parts(seed, way):
        task, d, settings = _tiny(seed, lr=1e-3 * (1 + seed))._prepare(data, sigma)
        settings.step = way
        return task, d, settings

    def weights(task):
        return {k: {n: p.detach().clone() for n, p in net.state_dict().items()} for k, net in task.networks.items()}

    out = {}
    for way in ("eager", "graph"):
        for seed in (0, 1):
            task, d, s = parts(seed, way)
            out[way, seed] = (Trainer(s).fit(task, d), weights(task))
    members = [parts(seed, "eager") for seed in (0, 1)]
    hs = train_scan([m[0] for m in members], [m[1] for m in members], [m[2] for m in members], progress=False)
    for seed, (h, m) in enumerate(zip(hs, members)):
        out["scan", seed] = (h, weights(m[0]))
    keys = ["loss_d_B", "loss_d_S", "loss_g", "roth_B", "roth_S", "adv_B", "adv_S", "l_class", "l_norm", "ratio_S"]
    for seed in (0, 1):
        ref_h, ref_w = out["eager", seed]
        assert len(ref_h["loss_g"]) == 2 and ref_h["roth_B"][0] > 0
        for way in ("graph", "scan"):
            h, w = out[way, seed]
            for k in keys:
                np.testing.assert_allclose(h[k], ref_h[k], rtol=1e-5, atol=1e-6, err_msg=f"{way} seed {seed}: {k}")
            for net, params in ref_w.items():
                for n, v in params.items():
                    torch.testing.assert_close(w[net][n], v, rtol=1e-5, atol=1e-6)
    assert out["eager", 0][0]["loss_g"] != out["eager", 1][0]["loss_g"]


def test_fit_save_load_reproduces_the_output_and_counts_classes(tmp_path):
    data, sigma = _toy_inputs(400)
    gan = _tiny().fit(data, sigma, validation=_toy_inputs(200, seed=2)[0])
    assert "metric_val" in gan.history_ and "ratio_S_val" in gan.history_ and gan.best_epoch_ in (1, 2)
    out = gan.subtract(300, seed=5)
    assert out.shape == (300, 2) and out["x"].between(1, 200).all() and (out["weight"] == 1).all()
    gen = gan.generate(1000, seed=5)
    assert set(gen["component"]) <= {"B-S", "S"} and len(gen) == 1000
    counts = gan.class_counts(2000, seed=1)
    assert sum(counts.values()) == 2000
    expected = sigma["B"] * counts["B-S"] / 2000
    assert gan.output_cross_section(2000, seed=1) == pytest.approx(expected)
    path = gan.save(tmp_path / "m.safetensors")
    back = SubtractionGAN.load(path)
    pd.testing.assert_frame_equal(back.subtract(300, seed=5), out)
    import hepgan

    assert type(hepgan.load(path)) is SubtractionGAN


def _pairs(n: int, seed: int, peak: bool) -> pd.DataFrame:
    """Massless e+ e- pairs at leading order (no pair pT): a Breit-Wigner at 91 or a falling continuum."""
    rng = np.random.default_rng(seed)
    m = 91.0 + 2.5 * np.tan(np.pi * (rng.random(n) - 0.5)) if peak else 60.0 * (140.0 / 60.0) ** rng.random(n)
    m = np.clip(m, 60.0, 140.0)
    r = np.column_stack([np.log(m), rng.normal(0, 1.5, n), rng.uniform(-0.9, 0.9, n), rng.uniform(-np.pi, np.pi, n)])
    return pd.DataFrame(SubtractionGAN._momenta(r), columns=["ep_px", "ep_py", "ep_pz", "em_px", "em_py", "em_pz"])


def test_dilepton_representation_is_exact_and_trains_with_the_mass_mmd(tmp_path):
    cols = ["ep_px", "ep_py", "ep_pz", "em_px", "em_py", "em_pz"]
    b = pd.concat([_pairs(300, 1, True), _pairs(200, 2, False)], ignore_index=True)
    s = _pairs(200, 3, False)
    gan = SubtractionGAN(columns=cols, particles=["ep", "em"], representation="dilepton", mmd_lambda=1.0, g_hidden=(16,), d_hidden=(16,),
                         latent_dim=3, epochs=1, batch_size=100, val_events=300, progress=False)  # fmt: skip
    x = b.to_numpy()
    r = gan._represent(x, "B")
    np.testing.assert_allclose(gan._momenta(r), x, atol=1e-9 * np.abs(x).max())
    p = x.reshape(-1, 2, 3)
    np.testing.assert_allclose(np.exp(r[:, 0]), np.sqrt(np.linalg.norm(p, axis=2).sum(1) ** 2 - np.square(p.sum(1)).sum(1)), rtol=1e-9)
    gan.fit({"B": b, "S": s}, {"B": 5.0, "S": 2.0}, validation={"B": b, "S": s})
    assert gan.history_["mmd_B"][0] > 0 and gan.history_["mmd_S"][0] > 0
    out = gan.subtract(400, seed=2)
    assert out["m_ee"].between(60 - 1e-6, 140 + 1e-6).all() and np.allclose(out["ep_pt"], out["em_pt"])
    back = SubtractionGAN.load(gan.save(tmp_path / "d.safetensors"))
    pd.testing.assert_frame_equal(back.subtract(400, seed=2), out)
    with pytest.raises(SchemaError, match="without transverse momentum"):
        moved = b.copy()
        moved["ep_px"] += 5.0
        SubtractionGAN(columns=cols, particles=["ep", "em"], representation="dilepton").fit({"B": moved, "S": s}, {"B": 5.0, "S": 2.0})


def test_band_of_bootstrap_members_covers_member_0_at_68_percent():
    """Member 0 and K - 1 replicas scatter around the truth with one sd per bin: the replicas' spread around member 0
    covers the truth in P(|t_{K-1}| <= 1) of the bins (0.674 for K = 30); around the members' mean, whose scatter is
    sd / sqrt(K), in nearly every bin."""
    rng = np.random.default_rng()
    b, k = 2000, 30
    truth = np.linspace(1.0, 2.0, b)
    sd = 0.05 * truth
    members = truth + sd * rng.normal(size=(k, b))
    r = compare_histograms(truth, np.zeros(b), truth, sd, members, np.zeros(b), centre="first", band_from=1)
    expected = 0.6738  # P(|t_29| <= 1)
    # 2000 independent bins: binomial sd 0.0105 (5 sd allowed); the mean is within one sd of 29 replicas in >= 99.9 %
    assert abs(r["coverage"] - expected) < 5 * np.sqrt(expected * (1 - expected) / b)
    assert r["coverage_first"] == r["coverage"] and r["coverage_mean"] > 0.99 and r["band_members"] == k - 1
    assert r["coverage_err"] == pytest.approx(np.sqrt(r["coverage"] * (1 - r["coverage"]) / b))
    m = compare_histograms(truth, np.zeros(b), truth, sd, members, np.zeros(b), centre="mean", band_from=1)
    assert m["coverage"] == r["coverage_mean"] and m["gan"] == pytest.approx(members.mean(0).tolist())


def test_ensemble_member_0_trains_on_the_inputs_and_the_others_on_replicas(monkeypatch):
    data, sigma = _toy_inputs(300)
    _, d_in, _ = _tiny(0)._prepare(data, sigma)
    seen, original = [], SubtractionGAN._prepare

    def spy(self, *args, **kw):
        out = original(self, *args, **kw)
        seen.append(out[1]["B"].tensors["x"])
        return out

    monkeypatch.setattr(SubtractionGAN, "_prepare", spy)
    fit_ensemble([_tiny(i, epochs=1) for i in range(3)], data, sigma, progress=False)
    assert torch.equal(seen[0], d_in["B"].tensors["x"])  # member 0: the sample itself
    assert not torch.equal(seen[1], d_in["B"].tensors["x"]) and not torch.equal(seen[1], seen[2])


def test_ensemble_members_differ_and_bootstrap_their_inputs():
    data, sigma = _toy_inputs(300)
    models = fit_ensemble([_tiny(0, epochs=1), _tiny(1, epochs=1)], data, sigma, progress=False)
    a, b = (m.subtract(200, seed=1)["x"].to_numpy() for m in models)
    assert not np.allclose(a, b)
    _, d0, _ = _tiny(0)._prepare(data, sigma, bootstrap=7)
    _, d1, _ = _tiny(0)._prepare(data, sigma)
    x0, x1 = d0["B"].tensors["x"], d1["B"].tensors["x"]
    assert x0.shape == x1.shape and not torch.equal(x0, x1)
    # a bootstrap replica holds only events of the sample (about 63 % of them)
    assert set(x0.flatten().tolist()) <= set(x1.flatten().tolist())


def test_bad_hyperparameters_and_inputs_name_the_key():
    data, sigma = _toy_inputs(50)
    cases = [
        (dict(samples={"B": ["B-S", "X"], "S": ["S"]}), "samples.B"),
        (dict(output=["Z"]), "output"),
        (dict(components=["B-S", "S", "A"]), "components: 'A' is part of no input sample"),
        (dict(ranges={"y": (1, 2)}), "ranges"),
        (dict(ranges={"x": (0.0, 200.0)}), "ranges.x"),
        (dict(counting="fuzzy"), "counting"),
        (dict(alpha=0.0), "alpha"),
        (dict(pt_balance="exact"), "pt_balance"),
        (dict(samples={"B-1": ["B-S", "S"], "S": ["S"]}), "not a valid sample name"),
        (dict(mmd_lambda=1.0), "needs particles"),
        (dict(representation="dilepton"), "two particles"),
    ]
    for kw, needle in cases:
        with pytest.raises(ConfigError, match=needle):
            _tiny(**kw).fit(data, sigma)
    with pytest.raises(ConfigError, match=r"sigma\.S"):
        _tiny().fit(data, {"B": 1.0, "S": -1.0})
    with pytest.raises(SchemaError, match="outside its range"):
        _tiny(ranges={"x": (1.0, 100.0)}).fit(data, sigma)
    with pytest.raises(SchemaError, match="input sample 'S'"):
        _tiny().fit({"B": data["B"]}, sigma)


# --------------------------------------------------------------------------- convergence


@pytest.mark.slow
def test_toy_converges_to_a_flat_output_within_the_inputs_statistical_errors():
    """P_B = 1/x + 0.1, P_S = 1/x on [1, 200], 20k events each: the output must follow 0.1.

    Tolerance from the sample size: in each of 8 bins (even in log x) the GAN's d(sigma)/dx must lie
    within 4 standard errors of the binned subtraction of its own inputs (plus 5 % for the training
    length and the GAN's finite output sample), never below 0; the output cross section within 4 % of 19.9
    (the binned error of the total is 1.3 %), the class ratio within 5 % of sigma_S / sigma_B.
    """
    torch.manual_seed(0)
    n = 20_000
    data, sigma = _toy_inputs(n, seed=21)
    gan = SubtractionGAN(ranges={"x": (1.0, 200.0)}, log_columns=["x"], g_hidden=(64, 64, 64), d_hidden=(64, 64, 64), latent_dim=4,
                         epochs=30, batch_size=512, n_critic=2, lr=1e-3, progress=False, seed=3, step="eager")  # fmt: skip
    gan.fit(data, sigma)
    out = gan.subtract(200_000, seed=1)["x"].to_numpy()
    sig = gan.output_cross_section(200_000, seed=2)
    edges = np.geomspace(1.0, 200.0, 9)
    width = np.diff(edges)
    dens = np.histogram(out, edges)[0] * sig / len(out) / width
    _, err = binned_subtraction({s: data[s]["x"].to_numpy() for s in ("B", "S")}, {"B": None, "S": None}, sigma, [1.0, -1.0], edges)
    assert np.all(dens > 0)
    assert np.all(np.abs(dens - 0.1) < 4 * err + 0.005), (dens, err)
    assert sig == pytest.approx(19.9, rel=0.04)
    counts = gan.class_counts(200_000, seed=3)
    assert counts["S"] / (counts["S"] + counts["B-S"]) == pytest.approx(sigma["S"] / sigma["B"], rel=0.05)
    assert gan.history_["l_class"][-1] < 0.01


# --------------------------------------------------------------------------- the run and the command line


def _config(tmp_path, **sets) -> str:
    from hepgan.runs import packaged_config

    data = yaml.safe_load(packaged_config("subtraction_toy").read_text())
    data["data"]["toy_events"] = 600
    data["training"].update({"epochs": 2, "batch_size": 128})
    data["model"].update({"g_hidden": [16], "d_hidden": [16]})
    data["evaluation"].update({"events": 2000, "val_events": 500, "bins": 10})
    for key, value in sets.items():
        node = data
        *parents, leaf = key.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    path = tmp_path / f"cfg{len(list(tmp_path.glob('cfg*.yaml')))}.yaml"  # one file per call
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_cli_train_through_the_registry_then_subtract(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["-q", "train", _config(tmp_path), "--run-dir", str(run)]) == 0
    text = capsys.readouterr().out
    assert "hepgan subtraction run" in text and "x (10 bins): GAN chi2/ndf" in text and "binned subtraction" in text
    for name in ("config.yaml", "history.json", "model_best.safetensors", "model_last.safetensors", "summary.txt", "summary.json",
                 "report.html", "evaluation/generated.parquet", "evaluation/truth.parquet", "evaluation/histograms.json",
                 "evaluation/sections.json", "figures/output_x.png", "figures/inputs_x.png"):  # fmt: skip
        assert (run / name).is_file(), name
    assert "Output against the truth" in (run / "report.html").read_text()
    out = tmp_path / "bs.parquet"
    assert main(["subtract", str(run / "model_best.safetensors"), "--events", "500", "--out", str(out)]) == 0
    from hepgan.io import read_metadata, read_table

    df = read_table(out)
    assert len(df) == 500 and read_metadata(out)["sigma_output"] > 0
    # an ensemble of two members: a band and its coverage
    ens = tmp_path / "ens"
    assert main(["-q", "train", _config(tmp_path, ensemble__members=3), "--run-dir", str(ens)]) == 0
    assert "ensemble band" in capsys.readouterr().out
    assert (ens / "ensemble" / "member_2.safetensors").is_file()


def test_cli_subtract_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    data, sigma = _toy_inputs(200)
    path = _tiny(epochs=1).fit(data, sigma).save(tmp_path / "m.safetensors")
    cases = [
        ([str(tmp_path / "missing.safetensors"), "--events", "10", "--out", str(tmp_path / "a.parquet")], "no such file"),
        ([str(path), "--events", "0", "--out", str(tmp_path / "b.parquet")], "--events"),
        ([str(path), "--events", "10", "--out", str(tmp_path / "c.dat")], "suffix"),
        ([str(path), "--events", "10", "--out", str(tmp_path / "nodir" / "d.parquet")], "does not exist"),
        ([str(path), "--events", "10", "--out", str(path), "--format", "parquet"], "never writes over its inputs"),
        ([str(path), "--events", "ten", "--out", str(tmp_path / "e.parquet")], "invalid int value"),
    ]
    for argv, needle in cases:
        assert main(["subtract", *argv]) == 2
        assert needle in _one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]
    from hepgan.training.state import save_state

    save_state(tmp_path / "bg.safetensors", {"generator": {}}, meta={"format": "hepgan.EventGAN", "format_version": 1})
    assert main(["subtract", str(tmp_path / "bg.safetensors"), "--events", "5", "--out", str(tmp_path / "f.parquet")]) == 2
    assert "SubtractionGAN" in _one_error_line(capsys)
    assert not (tmp_path / "f.parquet").exists()


def test_cli_train_subtraction_bad_config_is_one_line_and_writes_nothing(tmp_path, capsys):
    cases = [
        (_config(tmp_path, model__labels={"B": ["B-S", "S"], "T": ["S"]}), "model.labels"),
        (_config(tmp_path, model__output=["Q"]), "model.output"),
        (_config(tmp_path, data__toy="quadruple"), "data.toy"),
        (_config(tmp_path, data__train="files", data__samples={"B": str(tmp_path / "nope.parquet"), "S": str(tmp_path / "s.parquet")}), "nope.parquet"),
        (_config(tmp_path, model__ranges={"x": [1.0, 50.0]}), "outside its range"),
        (_config(tmp_path, ensemble__members=0), "ensemble.members"),
        (_config(tmp_path, ensemble__members=2), "ensemble.members: expected 1, or >= 3 with bootstrap"),
        (_config(tmp_path, ensemble__centre="median"), "ensemble.centre"),
        (_config(tmp_path, loss__alfa=3.0), "loss.alfa: unknown key"),
    ]
    for cfg, needle in cases:
        run = tmp_path / "run"
        assert main(["train", cfg, "--run-dir", str(run)]) == 2
        assert needle in _one_error_line(capsys)
        assert not run.exists()
