"""Event generation (seed 003): MMD term, Roth regulariser in the event GAN, on-shell construction,
peak widths, the model file, LHE output and the CLI (train -> generate, bad input)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import yaml

from hepgan.cli import main
from hepgan.exceptions import ConfigError, ModelFileError
from hepgan.io import read_metadata, read_table
from hepgan.kinematics import event_table, invariant_mass, on_shell, pt_balance, table_to_momenta
from hepgan.lhe import read_lhe_events, write_lhe_ttbar
from hepgan.losses import discriminator_bce, mmd2
from hepgan.methods.generation import TTBAR_MASSES, EventGAN, EventGANTask, peak_width
from hepgan.samples.ttbar import TTBAR_PARTONS, TTBAR_RESONANCES

DTYPE = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    # small tensors: intra-op threads only add overhead (much of it on a shared 2-core machine)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _random_events(n: int, seed: int) -> np.ndarray:
    """(n, 6, 3) three-momenta: a structural stand-in for top-pair partons (not physics)."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 60.0, size=(n, 6, 3)) + np.array([0.0, 0.0, 10.0])


def _tiny_model(**kw) -> EventGAN:
    params = dict(latent_dim=4, g_hidden=[16], d_hidden=[16], epochs=1, batch_size=64, progress=False, val_events=200)
    params.update(kw)
    return EventGAN(**params)


# --------------------------------------------------------------------------- MMD


@pytest.mark.parametrize("kernel", ["gaussian", "breit_wigner"])
def test_mmd_is_zero_for_one_sample_and_grows_with_a_shift(kernel):
    x = torch.as_tensor(np.random.default_rng(1).normal(80.0, 3.0, size=(400, 2)))
    widths = [[2.0, 10.0], [1.5]]
    assert mmd2(x, x, widths, kernel).item() == 0.0
    values = [mmd2(x, x + s, widths, kernel).item() for s in (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)]
    assert values[0] > 0 and all(b > a for a, b in zip(values, values[1:]))
    # symmetric, and a shift in one column only counts once
    y = x + torch.tensor([1.0, 0.0], dtype=DTYPE)
    torch.testing.assert_close(mmd2(x, y, widths, kernel), mmd2(y, x, widths, kernel), rtol=1e-12, atol=1e-15)
    assert 0 < mmd2(x, y, widths, kernel) < mmd2(x, x + 1.0, widths, kernel)


@pytest.mark.parametrize("kernel", ["gaussian", "breit_wigner"])
def test_mmd_kernels_match_their_definitions(kernel):
    # one point against one point: MMD^2 = k(0) + k(0) - 2 k(d) = 2 - 2 k(d)
    s, d = 2.0, 1.3
    k = math.exp(-(d**2) / (2 * s**2)) if kernel == "gaussian" else 1 / (1 + (2 * d / s) ** 2)
    got = mmd2(torch.tensor([80.0], dtype=DTYPE), torch.tensor([80.0 + d], dtype=DTYPE), s, kernel)
    assert got.item() == pytest.approx(2 - 2 * k, rel=1e-12)
    # the Breit-Wigner kernel has half its maximum at d = s / 2 (full width at half maximum s)
    if kernel == "breit_wigner":
        half = mmd2(torch.tensor([0.0], dtype=DTYPE), torch.tensor([s / 2], dtype=DTYPE), s, kernel)
        assert half.item() == pytest.approx(1.0, rel=1e-12)


def test_mmd_weights_equal_duplicated_events_and_gradients_flow():
    rng = np.random.default_rng(2)
    x = torch.as_tensor(rng.normal(80, 2, size=(30, 1)))
    y = torch.as_tensor(rng.normal(81, 2, size=(20, 1))).requires_grad_(True)
    w = torch.as_tensor(rng.integers(1, 4, size=30).astype(np.float64))
    dup = torch.repeat_interleave(x, w.long(), dim=0)
    torch.testing.assert_close(mmd2(x, y, 2.0, "breit_wigner", w_x=w), mmd2(dup, y, 2.0, "breit_wigner"), rtol=1e-12, atol=1e-15)
    mmd2(x, y, [[2.0, 10.0]], "gaussian").backward()
    assert torch.isfinite(y.grad).all() and (y.grad != 0).any()
    with pytest.raises(ValueError, match="kernel"):
        mmd2(x, y, 2.0, "cauchy")
    with pytest.raises(ValueError, match="widths"):
        mmd2(x, y, [1.0, 2.0])


# --------------------------------------------------------------------------- kinematics


def test_on_shell_construction_gives_the_set_masses_exactly():
    p3 = _random_events(500, 3)
    p4 = on_shell(p3, TTBAR_MASSES)
    m2 = p4[..., 3] ** 2 - (p4[..., :3] ** 2).sum(-1)
    np.testing.assert_allclose(m2, np.broadcast_to(np.square(TTBAR_MASSES), m2.shape), rtol=0, atol=1e-10 * p4[..., 3].max() ** 2)
    np.testing.assert_array_equal(p4[..., :3], p3)
    # torch, float32 and differentiable: the energy follows the momentum
    t = torch.as_tensor(p3, dtype=torch.float32).requires_grad_(True)
    e = on_shell(t, torch.tensor(TTBAR_MASSES))[..., 3]
    e.sum().backward()
    torch.testing.assert_close(t.grad, t.detach() / e.detach().unsqueeze(-1))
    # each parton's own invariant mass is its set mass
    m = invariant_mass(p4.reshape(-1, 4)).reshape(500, 6)
    np.testing.assert_allclose(m, np.broadcast_to(TTBAR_MASSES, m.shape), atol=1e-6)


def test_generated_events_are_on_their_mass_shells():
    model = _tiny_model(masses=[4.7, 0.0, 1.5, 4.7, 0.0, 0.33]).fit(_random_events(256, 4))
    p4 = model.sample_p4(300, seed=1)
    m2 = p4[..., 3] ** 2 - (p4[..., :3] ** 2).sum(-1)
    np.testing.assert_allclose(m2, np.broadcast_to(np.square(model.masses), m2.shape), atol=1e-9 * p4[..., 3].max() ** 2)
    table = model.sample(50, seed=1)
    np.testing.assert_allclose(table["m_wp"], invariant_mass(table_to_momenta(table, TTBAR_PARTONS), [1, 2]), rtol=1e-12)


def test_exact_pt_balance_projects_generated_events_onto_zero_transverse_momentum():
    model = _tiny_model(pt_balance="exact").fit(_random_events(256, 4))
    p4 = model.sample_p4(300, seed=2)
    assert pt_balance(p4).max() < 1e-12
    m2 = p4[..., 3] ** 2 - (p4[..., :3] ** 2).sum(-1)
    np.testing.assert_allclose(m2, np.broadcast_to(np.square(model.masses), m2.shape), atol=1e-9 * p4[..., 3].max() ** 2)
    learned = _tiny_model().fit(_random_events(256, 4)).sample_p4(300, seed=2)
    assert pt_balance(learned).mean() > 1e-3  # not balanced unless learned


def test_peak_width_of_a_breit_wigner_matches_the_truncated_cauchy_quartiles():
    # Cauchy of half width g = Gamma/2 truncated to +-h: quartiles at +-g tan(atan(h/g) / 2)
    n, gamma, h = 200_000, 2.09, 10.0
    rng = np.random.default_rng(7)
    m = 80.4 + (gamma / 2) * np.tan(np.pi * (rng.random(n) - 0.5))
    got = peak_width(m, centre=80.4, window=h)
    g = gamma / 2
    expected = g * math.tan(math.atan(h / g) / 2)
    n_in = got["fraction"] * n
    # standard error of a quartile of the truncated density f: sqrt(q (1 - q) / n) / f(x_q)
    f_q = (1 / (math.pi * g * (1 + (expected / g) ** 2))) / got["fraction"]
    se = math.sqrt(0.25 * 0.75 / n_in) / f_q
    assert abs(got["half_iqr"] - expected) < 5 * se
    assert got["fraction"] == pytest.approx(2 * math.atan(h / g) / math.pi, abs=5 * math.sqrt(0.25 / n))


# --------------------------------------------------------------------------- Roth regulariser in the task


def test_event_gan_discriminator_loss_is_bce_plus_roth_by_hand():
    model = _tiny_model(roth_lambda=0.37, mmd_lambda=0.0)
    p3 = _random_events(64, 5)
    model.p3_mean_, model.p3_std_ = p3.reshape(64, -1).mean(0), p3.reshape(64, -1).std(0)
    p4 = on_shell(p3, model.masses).reshape(64, -1)
    model.p4_mean_, model.p4_std_ = p4.mean(0), p4.std(0)
    model._buffers(torch.device("cpu"))
    nets = model._build_networks()
    g, d = nets["g"], nets["d"]
    task = EventGANTask(model, g, d, None)
    x_real = torch.as_tensor((p4 - model.p4_mean_) / model.p4_std_, dtype=torch.float32)
    batch = {"train": {"x4": x_real}}
    loss, logs = task.d_loss(batch, task.d_noise(batch, torch.Generator().manual_seed(9)))

    # by hand: the same noise, BCE with hard labels, and per-event input gradients of the logit
    z = torch.randn(64, model.latent_dim, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        x_fake = model._d_input(model._p4_from_net(g(z)))

    def omega(x, real: bool):
        out = []
        for i in range(len(x)):
            xi = x[i : i + 1].clone().requires_grad_(True)
            phi = d(xi)[0]
            (grad,) = torch.autograd.grad(phi, xi)
            dd = torch.sigmoid(phi.detach())
            out.append(((1 - dd) if real else dd) ** 2 * grad.square().sum())
        return torch.stack(out).mean()

    expected = discriminator_bce(d(x_real), d(x_fake), eps=0.0) + 0.37 * (omega(x_real, True) + omega(x_fake, False))
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logs["roth_train"], omega(x_real, True) + omega(x_fake, False), rtol=1e-5, atol=1e-6)
    loss.backward()  # the regulariser trains the discriminator
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in d.parameters())


# --------------------------------------------------------------------------- model file


def test_mmd_on_momentum_sums_compares_the_event_px_py_with_the_truth():
    p3 = _random_events(256, 4)
    p3[:, 5, :2] = -p3[:, :5, :2].sum(1)  # balanced truth: sum px = sum py = 0
    widths = {"m_wp": [2.0], "sum_px": [5.0], "sum_py": [5.0]}
    model = _tiny_model(mmd_resonances=["m_wp", "sum_px", "sum_py"], mmd_widths=widths, mmd_lambda=1.0).fit(p3)
    p4 = model.sample_p4(64, seed=1)
    obs = model._mmd_masses(torch.as_tensor(p4))
    np.testing.assert_allclose(obs[:, 1].numpy(), p4[..., 0].sum(1), rtol=1e-12)
    np.testing.assert_allclose(obs[:, 2].numpy(), p4[..., 1].sum(1), rtol=1e-12)
    np.testing.assert_allclose(obs[:, 0].numpy(), invariant_mass(p4, [1, 2]), rtol=1e-12)
    # the generator's MMD term is the MMD of these observables against the truth's (zeros for the sums)
    truth = torch.as_tensor(model._mmd_observable(on_shell(p3, model.masses), "sum_px"))
    assert float(truth.abs().max()) < 1e-9
    assert model.history_["mmd_train"][0] > 0
    with pytest.raises(ConfigError, match="sum_px, sum_py"):
        _tiny_model(mmd_resonances=["sum_pz"]).fit(p3)


def test_fit_save_load_reproduces_samples_and_rejects_foreign_files(tmp_path):
    p3 = _random_events(512, 6)
    w = np.random.default_rng(1).uniform(0.5, 1.5, 512)
    model = _tiny_model(epochs=2).fit(p3, w=w, validation=(_random_events(128, 7), None))
    h = model.history_
    assert len(h["loss_d"]) == 2 and len(h["w1_val"]) == 2 and len(h["mmd_train"]) == 2 and "roth_train" in h
    assert model.best_epoch_ in (1, 2)
    path = model.save(tmp_path / "m.safetensors")
    again = EventGAN.load(path)
    np.testing.assert_array_equal(model.sample_p4(100, seed=3), again.sample_p4(100, seed=3))
    assert not np.array_equal(again.sample_p4(100, seed=3), again.sample_p4(100, seed=4))
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF
    (tmp_path / "bad.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ModelFileError):
        EventGAN.load(tmp_path / "bad.safetensors")
    from hepgan.training.state import save_state

    save_state(tmp_path / "other.safetensors", {"generator": {}}, meta={"format": "hepgan.ConditionalGAN", "format_version": 1})
    with pytest.raises(ModelFileError, match="not a hepgan EventGAN"):
        EventGAN.load(tmp_path / "other.safetensors")


def test_bad_hyperparameters_name_the_key():
    for kw, key in [({"mmd_kernel": "cauchy"}, "mmd_kernel"), ({"masses": [1.0]}, "masses"),
                    ({"mmd_resonances": ["m_z"]}, "mmd_resonances"), ({"roth_lambda": -1.0}, "roth_lambda")]:  # fmt: skip
        with pytest.raises(ConfigError, match=key):
            _tiny_model(**kw).fit(_random_events(16, 1))


# --------------------------------------------------------------------------- LHE


def test_lhe_file_is_well_formed_and_conserves_energy_and_pz(tmp_path):
    p4 = on_shell(_random_events(7, 8), TTBAR_MASSES)
    n = write_lhe_ttbar(tmp_path / "e.lhe", [p4[:3], p4[3:]], sigma_pb=230.0, metadata={"seed": 1})
    assert n == 7
    text = (tmp_path / "e.lhe").read_text()
    assert text.startswith('<LesHouchesEvents version="3.0">') and text.rstrip().endswith("</LesHouchesEvents>")
    assert text.count("<init>") == 1 and text.count("<event>") == 7 == text.count("</event>")
    events = read_lhe_events(tmp_path / "e.lhe")
    for k, ev in enumerate(events):
        ids, status, mothers = ev[:, 0], ev[:, 1], ev[:, 2:4].astype(int)
        assert list(status) == [-1, -1, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1]
        assert list(ids[:6]) == [21, 21, 6, -6, 24, -24]
        assert ((mothers[2:] >= 1) & (mothers[2:] <= np.arange(3, 13)[:, None] - 1)).all()  # mothers come first
        final = ev[status == 1, 6:10]
        np.testing.assert_allclose(final, p4[k], rtol=1e-9, atol=1e-8)
        incoming = ev[status == -1, 6:10].sum(0)
        np.testing.assert_allclose(incoming[2:], final.sum(0)[2:], rtol=1e-9)  # pz and E conserved
        # every resonance is the sum of its daughters and carries their invariant mass
        for r in range(2, 6):
            daughters = ev[mothers[:, 0] == r + 1, 6:10].sum(0)
            np.testing.assert_allclose(ev[r, 6:10], daughters, rtol=1e-9, atol=1e-8)
            assert ev[r, 10] == pytest.approx(math.sqrt(max(daughters[3] ** 2 - (daughters[:3] ** 2).sum(), 0)), rel=1e-8)
        # colour: every tag connects exactly two of the incoming and final partons
        tags = [t for t in ev[np.abs(status) == 1, 4:6].ravel() if t > 0]
        assert all(tags.count(t) == 2 for t in tags)


@pytest.mark.pythia
def test_pythia_showers_the_lhe_of_a_momentum_conserving_model(tmp_path, caplog):
    pytest.importorskip("pythia8mc")
    from hepgan.methods.generation import generate_file

    path = _tiny_model(pt_balance="exact").fit(_random_events(256, 3)).save(tmp_path / "m.safetensors")
    generate_file(path, 40, tmp_path / "e.lhe", seed=1)
    assert "learned transverse-momentum balance" not in caplog.text
    from hepgan.lhe import pythia_read_count

    assert pythia_read_count(tmp_path / "e.lhe") == (40, 0)
    # a model that only learns the balance is written too, with a warning naming the remedy
    learned = _tiny_model().fit(_random_events(256, 3)).save(tmp_path / "l.safetensors")
    generate_file(learned, 5, tmp_path / "l.lhe", seed=1)
    assert "model.pt_balance: exact" in caplog.text


# --------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def ttbar_file(tmp_path_factory):
    pytest.importorskip("pythia8mc")
    d = tmp_path_factory.mktemp("ttbar")
    path = d / "ttbar.parquet"
    assert main(["-q", "sample", "ttbar", "--events", "1600", "--seed", "4", "--out", str(path), "--chunk-size", "800",
                 "--cache-dir", str(d / "cache")]) == 0  # fmt: skip
    return path


def _config(tmp_path, data, **over) -> str:
    cfg = {
        "method": "generation",
        "data": {"train": str(data), "validation_fraction": 0.2, "test_fraction": 0.2},
        "model": {"latent_dim": 6, "g_hidden": [32, 32], "d_hidden": [32]},
        "loss": {"mmd_widths": {"m_wp": [2.0, 20.0], "m_wm": [2.0, 20.0], "m_t": [1.5, 20.0], "m_tbar": [1.5, 20.0]}},
        "training": {"epochs": 2, "batch_size": 128, "threads": 1},
        "evaluation": {"events": 600, "val_events": 300, "dcor_max_events": 300},
    }
    for dotted, v in over.items():
        node = cfg
        *parents, leaf = dotted.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = v
    path = tmp_path / f"ttbar_{len(list(tmp_path.glob('ttbar_*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


@pytest.mark.pythia
@pytest.mark.slow
def test_cli_train_generate_parquet_and_lhe(tmp_path, ttbar_file, capsys):
    run = tmp_path / "run"
    # --no-report: the shared report's classifier and distance-correlation metrics are tested elsewhere
    # (and the sections hook below); the evaluation numbers, figures and sections are written regardless
    assert main(["-q", "train", _config(tmp_path, ttbar_file), "--run-dir", str(run), "--no-report"]) == 0
    out = capsys.readouterr().out
    assert "peak width" in out and "pT balance" in out
    for name in ("model_best.safetensors", "history.json", "summary.json", "evaluation/sections.json", "evaluation/roles.json",
                 "evaluation/generated.parquet", "figures/peak_m_wp.png", "figures/pt_balance.png", "figures/partons.png"):  # fmt: skip
        assert (run / name).is_file(), name
    assert not (run / "report.html").exists()
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["resonances"]) == set(TTBAR_RESONANCES) and summary["pt_balance"]["truth"]["mean"] < 1e-9
    history = json.loads((run / "history.json").read_text())
    assert len(history["mmd_train"]) == 2 and len(history["width_ratio_m_wp"]) == 2
    # --resume of a finished run continues from its checkpoint to the same result
    assert main(["-q", "train", "--resume", str(run), "--no-report", "--set", "evaluation.figures=false"]) == 0
    assert json.loads((run / "history.json").read_text())["loss_g"] == history["loss_g"]
    capsys.readouterr()

    pq = tmp_path / "gen.parquet"
    assert main(["-q", "generate", str(run / "model_best.safetensors"), "--events", "250", "--out", str(pq), "--batch-size", "100"]) == 0
    df = read_table(pq)
    assert len(df) == 250 and read_metadata(pq)["n_events"] == 250
    p4 = table_to_momenta(df, TTBAR_PARTONS)
    np.testing.assert_allclose(df["m_t"], invariant_mass(p4, [0, 1, 2]), rtol=1e-9)
    np.testing.assert_allclose(df["b_m"], 4.8, rtol=1e-6)

    lhe = tmp_path / "gen.lhe"
    assert main(["-q", "generate", str(run / "model_best.safetensors"), "--events", "250", "--out", str(lhe), "--batch-size", "100"]) == 0
    events = read_lhe_events(lhe)
    assert len(events) == 250 and all(ev.shape == (12, 13) and (ev[:, 1] == 1).sum() == 6 for ev in events)
    # the same seed and batching give the same events in both formats
    final = np.stack([ev[ev[:, 1] == 1, 6:10] for ev in events])
    np.testing.assert_allclose(final, p4, rtol=1e-9, atol=1e-7)
    assert "2212 2212" in lhe.read_text().split("<init>")[1].split("</init>")[0]

    # with a baseline run overlaid: its widths appear in the summary and the figures (the HTML report is
    # tested above; `hepgan report RUN --baseline OTHER` runs the same function and then write_report)
    from hepgan.methods.generation import write_evaluation

    s = write_evaluation(run, baseline=run, report=False, figures=False)
    assert s["baseline"]["resonances"]["m_wp"]["width_ratio"] == s["resonances"]["m_wp"]["width_ratio"]
    assert "/ GAN with MMD (run)" in (run / "summary.txt").read_text()


def test_report_renders_a_method_s_sections(tmp_path):
    from hepgan import plots
    from hepgan.report import write_report

    (tmp_path / "evaluation").mkdir()
    (tmp_path / "figures").mkdir()
    png = plots.histogram_ratio({"truth": (np.arange(10.0), None)}, tmp_path / "figures" / "peak.png")
    sections = [{"title": "Resonance <peaks>", "text": ["width ratio 1.07"], "table": {"header": ["r", "ratio"], "rows": [["m_wp", "1.07"]]},
                 "figures": [str(png.relative_to(tmp_path))]}]  # fmt: skip
    (tmp_path / "evaluation" / "sections.json").write_text(json.dumps(sections))
    (tmp_path / "evaluation" / "roles.json").write_text(json.dumps({"comparisons": []}))
    html = write_report(tmp_path).read_text()
    assert "<h2>Resonance &lt;peaks&gt;</h2>" in html and "<td>1.07</td>" in html and "data:image/png;base64" in html


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hepgan: error:"), err
    return err[0]


def test_cli_generate_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    model = _tiny_model().fit(_random_events(128, 2))
    path = model.save(tmp_path / "m.safetensors")
    cases = [
        ([str(tmp_path / "missing.safetensors"), "--events", "10", "--out", str(tmp_path / "a.parquet")], "no such file"),
        ([str(path), "--events", "0", "--out", str(tmp_path / "b.parquet")], "--events"),
        ([str(path), "--events", "10", "--out", str(tmp_path / "c.txt")], "suffix"),
        ([str(path), "--events", "10", "--out", str(tmp_path / "nodir" / "d.parquet")], "does not exist"),
    ]
    for argv, needle in cases:
        assert main(["generate", *argv]) == 2
        assert needle in _one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]
    # a model of another method is refused by name
    from hepgan.training.state import save_state

    save_state(tmp_path / "bg.safetensors", {"generator": {}}, meta={"format": "hepgan.ConditionalGAN", "format_version": 1})
    assert main(["generate", str(tmp_path / "bg.safetensors"), "--events", "5", "--out", str(tmp_path / "e.parquet")]) == 2
    assert "not a hepgan EventGAN" in _one_error_line(capsys)
    assert not (tmp_path / "e.parquet").exists()


def test_cli_train_generation_bad_input(tmp_path, capsys):
    from hepgan.io import write_table

    table = event_table(on_shell(_random_events(100, 1), TTBAR_MASSES), TTBAR_PARTONS, TTBAR_RESONANCES)
    good = tmp_path / "t.parquet"
    write_table(table, good)
    write_table(table.drop(columns=["q2_py"]), tmp_path / "missing.parquet")
    cases = [
        (_config(tmp_path, tmp_path / "nope.parquet"), "nope.parquet"),
        (_config(tmp_path, tmp_path / "missing.parquet"), "q2_py"),
        (_config(tmp_path, good, loss__mmd_kernel="cauchy"), "loss.mmd_kernel"),
        (_config(tmp_path, good, loss__mmd_resonances=["m_z"]), "m_z"),
        (_config(tmp_path, good, model__masses=[1.0, 2.0]), "model.masses"),
        (_config(tmp_path, good, training__epochz=3), "training.epochz: unknown key"),
    ]
    for cfg, needle in cases:
        run = tmp_path / "run"
        assert main(["train", cfg, "--run-dir", str(run)]) == 2
        assert needle in _one_error_line(capsys)
        assert not run.exists()
