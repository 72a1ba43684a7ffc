"""hepgan sample gjets: schema, physics sanity, the photon ID, reproducibility, CLI errors.

Statistical tests use tolerances of about 5 standard deviations (or p-value
thresholds of 1e-6), so they pass for any seed with a false-failure rate far
below one in a million; they do not rely on a lucky seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hepgan.io import read_metadata, read_table
from hepgan.physics import derived_columns

SMALL = Path(__file__).parent / "data" / "gjets_small.parquet"
SCHEMA = [
    "pho1_pt", "pho1_eta", "pho1_phi", "pho1_id",
    "pho2_pt", "pho2_eta", "pho2_phi", "pho2_id",
    "n_jets", "n_vtx", "lead_jet_pt", "m_gg", "pt_gg", "ptgg_over_mgg", "weight", "region", "rho", "parton_event",
]  # fmt: skip
ID_INPUTS = [f"pho{i}_{k}" for i in (1, 2) for k in ("iso_ch", "iso_neu", "iso_pho", "width", "core_frac", "hoe")]


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return read_table(SMALL)


@pytest.fixture(scope="module")
def meta() -> dict:
    return read_metadata(SMALL)


def _rel_iso(df: pd.DataFrame, p: str) -> np.ndarray:
    return ((df[f"{p}_iso_ch"] + df[f"{p}_iso_neu"] + df[f"{p}_iso_pho"]) / df[f"{p}_pt"]).to_numpy()


# --------------------------------------------------------------------------- schema


def test_schema_and_metadata(small, meta):
    assert list(small.columns[: len(SCHEMA)]) == SCHEMA
    for c in ID_INPUTS:
        assert c in small.columns
    assert all(small[c].dtype == np.float32 for c in small.columns)
    assert len(small) >= 1000
    for p in ("pho1", "pho2"):
        phi = small[f"{p}_phi"].to_numpy()
        assert np.all((phi > -np.pi) & (phi <= np.pi))
        eta = np.abs(small[f"{p}_eta"].to_numpy())
        assert np.all(eta < 2.5) and not np.any((eta > 1.4442) & (eta < 1.566))
        assert np.all((small[f"{p}_id"] >= -1) & (small[f"{p}_id"] <= 1))
    thr, loose = meta["id_threshold"], meta["loose_threshold"]
    assert loose < thr
    assert np.all(small["pho1_id"] > thr)
    np.testing.assert_array_equal(small["region"].to_numpy(), (small["pho2_id"] > thr).astype(np.float32))
    assert set(np.unique(small["region"])) <= {0.0, 1.0}
    # the CR is pho2 failing the loose cut; the band between the two cuts is in neither region
    assert np.all(small.loc[small["region"] == 0, "pho2_id"] <= loose)
    assert meta["n_band"] >= 0 and meta["n_sr"] + meta["n_cr"] == len(small)
    # the two candidates are the two leading clusters: both pass the candidate pT cut
    assert np.all(small["pho2_pt"] > meta["pho2_pt_min"]) and np.all(small["pho1_pt"] > meta["pho1_pt_min"])
    assert np.all(small["rho"] >= 0) and np.median(small["rho"]) > 10  # the median pT density: 0 at very low pileup
    assert np.all(small["n_vtx"] >= 1) and np.all(small["n_vtx"] == np.round(small["n_vtx"]))
    assert np.all(small["weight"] > 0)
    for k in ("id_threshold", "loose_threshold", "working_points", "effective_size", "counts", "generator", "selection", "command",
              "seed", "detector", "weight"):  # fmt: skip
        assert k in meta
    g = meta["generator"]
    for k in ("pTHatMin_gev", "sqrt_s_gev", "pileup_mean", "pileup_sd", "rehadronise", "prefilter_eta", "photon_eta_max", "seeds_per_chunk",
              "pythia_version"):  # fmt: skip
        assert k in g
    assert g["sqrt_s_gev"] == 13000
    d = derived_columns(small)
    for k, v in d.items():
        np.testing.assert_allclose(small[k], v, rtol=1e-4, atol=1e-3)


def test_default_sample_is_compact_and_readable():
    from hepgan.samples.gjets import default_sample_path

    path = default_sample_path()
    assert path.name == "gjets_default.parquet"
    if not path.exists():
        pytest.skip("the default sample is not in place yet")
    df = read_table(path)
    assert list(df.columns) == SCHEMA
    assert all(df[c].dtype == np.float32 for c in df.columns)
    assert path.stat().st_size < 8 * 2**20
    meta = read_metadata(path)
    assert meta["compact"] is True
    assert meta["n_sr"] == int(df["region"].sum())
    assert "hepgan sample gjets" in meta["command"]


def test_default_sample_records_its_statistics():
    """The shipped sample's metadata holds the working points, their efficiencies and the effective sizes,
    and with equal weights (no phase-space bias) the effective size of each region is its number of events."""
    from hepgan.samples.gjets import default_sample_path

    path = default_sample_path()
    df, meta = read_table(path), read_metadata(path)
    wp = meta["working_points"]
    for name in ("tight", "loose"):
        rec = wp[name]["measured_on_independent_events"]
        assert rec["prompt_efficiency"]["n"] > 10_000 and rec["fake_pass_rate"]["n"] > 10_000
    w = df["weight"].to_numpy(np.float64)
    for region, key in ((1, "sr"), (0, "cr")):
        m = df["region"].to_numpy() == region
        ess = w[m].sum() ** 2 / (w[m] ** 2).sum()
        np.testing.assert_allclose(meta["effective_size"][key], ess, rtol=1e-4)
        assert ess >= 0.5 * m.sum(), (key, ess, m.sum())
    assert meta["n_sr"] >= 1000


# --------------------------------------------------------------------------- physics


def test_pt_spectra_fall(small):
    edges = np.array([30.0, 60.0, 120.0, 240.0, 480.0])
    for p, lo in (("pho1", 0), ("pho2", 0)):
        w = small["weight"].to_numpy(np.float64)
        x = small[f"{p}_pt"].to_numpy(np.float64)
        s, _ = np.histogram(x, edges[lo:], weights=w)
        s2, _ = np.histogram(x, edges[lo:], weights=w**2)
        dens, err = s / np.diff(edges[lo:]), np.sqrt(s2) / np.diff(edges[lo:])
        for a in range(len(dens) - 1):
            # weighted density per GeV falls bin to bin, by more than 5 sigma
            assert dens[a] - dens[a + 1] > 5 * np.hypot(err[a], err[a + 1]) or dens[a + 1] == 0, (p, a, dens, err)


def test_eta_symmetric_and_phi_uniform(small):
    n = len(small)
    for p in ("pho1", "pho2"):
        eta = small[f"{p}_eta"].to_numpy(np.float64)
        k = int((eta > 0).sum())
        assert abs(k - n / 2) < 5 * np.sqrt(n / 4), (p, k, n)
        assert stats.ks_2samp(eta[eta > 0], -eta[eta < 0]).pvalue > 1e-6
        counts, _ = np.histogram(small[f"{p}_phi"], np.linspace(-np.pi, np.pi, 13))
        assert stats.chisquare(counts).pvalue > 1e-6, (p, counts)


def test_prompt_photons_more_isolated(small):
    r1, r2 = _rel_iso(small, "pho1"), _rel_iso(small, "pho2")
    assert np.median(r1) < 0.2 * np.median(r2)
    # a rank test: prompt candidates are more isolated beyond any doubt
    assert stats.mannwhitneyu(r1, r2, alternative="less").pvalue < 1e-6


def test_photon_id_separates_on_independent_events(small, meta):
    from hepgan.samples.photon_id import load_default, roc_auc

    model = load_default()
    # the small sample has its own seed, not the training sample's
    assert meta["seed"] != model.info["training_sample"]["seed"]
    s1, s2 = model.score(small, "pho1"), model.score(small, "pho2")
    np.testing.assert_allclose(s2, small["pho2_id"], atol=1e-5)
    assert roc_auc(s1, s2) > 0.9
    assert model.info["test"]["auc"] > 0.98
    assert np.median(s1) > 0.8  # prompt photons peak near +1
    assert np.median(s2) < 0.0


def test_working_points_as_stated():
    """Tight: prompt efficiency 85-95 % on independent candidates (the model's test quarter, tens of thousands
    of candidates, so the binomial error is a fraction of a percent); loose: looser than tight."""
    from hepgan.samples.photon_id import load_default

    model = load_default()
    t = model.info["test"]
    eff, err = t["tight"]["prompt_efficiency"]["value"], t["tight"]["prompt_efficiency"]["error"]
    assert 0.85 + 3 * err < eff < 0.95 - 3 * err, (eff, err)
    assert t["loose"]["prompt_efficiency"]["value"] > eff
    assert t["loose"]["fake_pass_rate"]["value"] > t["tight"]["fake_pass_rate"]["value"]
    assert model.loose_point < model.working_point
    assert set(model.ea) == {"ch", "neu", "pho", "h"} and all(v > 0 for v in model.ea.values())


def test_fake_pass_rate_does_not_depend_on_pileup():
    """After the rho correction the tight fake pass rate is the same in every n_vtx bin within its
    statistical uncertainty: a chi2 test of the bins against their common rate (p > 1e-3)."""
    from hepgan.samples.photon_id import load_default

    bins = load_default().info["test"]["tight"]["fake_pass_rate_by_n_vtx"]
    k = np.array([b["k"] for b in bins], dtype=np.float64)
    n = np.array([b["n"] for b in bins], dtype=np.float64)
    assert len(k) >= 3 and np.all(n > 1000)
    p = k.sum() / n.sum()
    chi2 = float(np.sum((k - n * p) ** 2 / (n * p * (1 - p))))
    assert stats.chi2.sf(chi2, len(k) - 1) > 1e-3, (k, n, chi2)


def test_effective_areas_remove_the_pileup_slope(small):
    """The prompt candidates' summed isolation and their hadronic H_T = H/E x pT grow with rho; subtracting
    EA x rho removes the slope (within 5 standard errors, measured on the model's independent test candidates).
    In the small sample (pho1 passes the tight ID, which cuts on the corrected isolation) the raw sum still
    grows with rho at 5 sigma."""
    from hepgan.samples.photon_id import ISO_TYPES, load_default

    for key in ("pileup_slope", "pileup_slope_h"):
        sl = load_default().info["test"][key]
        assert sl["raw"] > 5 * sl["raw_error"], (key, sl)
        assert abs(sl["corrected"]) < 5 * sl["corrected_error"], (key, sl)
    raw = sum(small[f"pho1_iso_{k}"].to_numpy(np.float64) for k in ISO_TYPES)
    fit = stats.linregress(small["rho"].to_numpy(np.float64), raw)
    assert fit.slope > 5 * fit.stderr, fit


def test_read_cache_refuses_another_sample(tmp_path):
    """Retraining from an existing chunk folder: a folder of another seed or settings, or with missing chunks,
    is refused with one line that names it; nothing is generated."""
    import dataclasses
    import json

    from hepgan.exceptions import InputFileError
    from hepgan.samples.gjets import GjetsSettings
    from hepgan.samples.photon_id import read_cache

    s = GjetsSettings(rehadronise=4, prefilter_eta=2.7, photon_eta_max=0.0, pool_size=3000).validate()
    with pytest.raises(InputFileError, match="not a gjets chunk cache"):
        read_cache(tmp_path, 1000, 1001, s)
    (tmp_path / "settings.json").write_text(json.dumps({"settings": dataclasses.asdict(s), "seed": 7, "generator_version": 3}))
    with pytest.raises(InputFileError, match="seed 7"):
        read_cache(tmp_path, 1000, 1001, s)
    other = dataclasses.replace(s, pileup_mean=20.0)
    (tmp_path / "settings.json").write_text(json.dumps({"settings": dataclasses.asdict(other), "seed": 1001, "generator_version": 3}))
    with pytest.raises(InputFileError, match="other pileup_mean"):
        read_cache(tmp_path, 1000, 1001, s)
    (tmp_path / "settings.json").write_text(json.dumps({"settings": dataclasses.asdict(s), "seed": 1001, "generator_version": 3}))
    with pytest.raises(InputFileError, match="2 of 2 chunks missing"):
        read_cache(tmp_path, 1000, 1001, s)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_sr_share_as_documented(small, meta):
    """The SR share of the small sample agrees with the default sample's within binomial tolerance."""
    from hepgan.samples.gjets import default_sample_path

    n, k = len(small), int(small["region"].sum())
    assert meta["n_sr"] == k
    assert abs(meta["sr_share"] - k / n) < 1e-9
    assert abs(meta["sr_share_selected"] - k / n) < 1e-9  # no CR thinning in the small sample
    assert 0 < k < n
    m0 = read_metadata(default_sample_path())
    assert m0["id_threshold"] == meta["id_threshold"] and m0["loose_threshold"] == meta["loose_threshold"]
    p0 = m0["sr_share_selected"]
    assert abs(k - n * p0) < 5 * np.sqrt(n * p0 * (1 - p0)), (k, n, p0)


def test_pileup_raises_isolation(small):
    # for prompt photons pileup is most of the neutral isolation; for jet candidates the jet's
    # own particles swamp it (test_fresh_run_physics compares the same events with and without pileup)
    iso = (small["pho1_iso_pho"] + small["pho1_iso_neu"]).to_numpy(np.float64)
    rho = stats.spearmanr(small["n_vtx"], iso).statistic
    # |rho| of independent variables is about 1/sqrt(n); demand a positive correlation at 5 sigma
    assert rho > 5 / np.sqrt(len(small)), rho
    assert stats.spearmanr(small["n_vtx"], small["rho"]).statistic > 5 / np.sqrt(len(small))


def test_fakes_have_hadronic_energy_and_wide_showers(small):
    """H/E, shower width and core fraction separate the jet candidates from the prompt photons (rank tests)."""
    for col, alt in (("hoe", "less"), ("width", "less"), ("core_frac", "greater")):
        p = stats.mannwhitneyu(small[f"pho1_{col}"], small[f"pho2_{col}"], alternative=alt).pvalue
        assert p < 1e-6, (col, p)


# --------------------------------------------------------------------------- fresh runs


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gjets_cache")


@pytest.mark.pythia
def test_same_seed_same_output_any_worker_count(cache, tmp_path, monkeypatch):
    from hepgan.samples import gjets

    kw = dict(seed=5, pt_hat_min=60.0, chunk_size=30, pool_size=200, progress=False)
    a = gjets.make_gjets(90, out=tmp_path / "a.parquet", workers=1, cache_dir=cache / "one", **kw)
    b = gjets.make_gjets(90, out=tmp_path / "b.parquet", workers=2, cache_dir=cache / "two", **kw)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(read_table(tmp_path / "a.parquet"), read_table(tmp_path / "b.parquet"))
    ma, mb = read_metadata(tmp_path / "a.parquet"), read_metadata(tmp_path / "b.parquet")
    assert ma.pop("provenance")["time"] and mb.pop("provenance")["time"]  # when it was made: may differ
    assert ma == mb
    assert len(set(ma["generator"]["seeds_per_chunk"])) == 3
    # a rerun reads the finished chunks back and generates nothing
    monkeypatch.setattr(gjets, "generate_chunk", lambda *a, **k: pytest.fail("regenerated a cached chunk"))
    c = gjets.make_gjets(90, workers=1, cache_dir=cache / "one", **kw)
    pd.testing.assert_frame_equal(a, c)


@pytest.mark.pythia
def test_cli_writes_root_and_parquet(cache, tmp_path):
    import uproot

    from hepgan.cli import main

    # a loose cut at 0.5 keeps a CR beside the SR in a small run
    args = ["--events", "90", "--seed", "5", "--pt-hat-min", "60", "--chunk-size", "30", "--cache-dir", str(cache / "one"),
            "--loose-threshold", "0.5", "--pool-size", "200"]  # fmt: skip
    assert main(["-q", "sample", "gjets", *args, "--out", str(tmp_path / "s.root")]) == 0
    assert main(["-q", "sample", "gjets", *args, "--out", str(tmp_path / "s.parquet"), "--compact"]) == 0
    with uproot.open(tmp_path / "s.root") as f:
        t = f["events"]
        assert set(SCHEMA) <= set(t.keys())
        root_pt = t["pho2_pt"].array(library="np")
    pq = read_table(tmp_path / "s.parquet")
    assert list(pq.columns) == SCHEMA
    np.testing.assert_array_equal(root_pt, pq["pho2_pt"].to_numpy())
    assert "sample gjets" in read_metadata(tmp_path / "s.parquet")["command"]
    # thinning the CR keeps every SR event and the weighted CR total within its statistical error
    assert main(["-q", "sample", "gjets", *args, "--out", str(tmp_path / "t.parquet"), "--cr-fraction", "0.5", "--compact"]) == 0
    t = read_table(tmp_path / "t.parquet")
    sr_t, sr = t[t.region == 1], pq[pq.region == 1]
    pd.testing.assert_frame_equal(sr_t.reset_index(drop=True), sr.reset_index(drop=True))
    w_cr, w_cr_t = pq.weight[pq.region == 0], t.weight[t.region == 0]
    assert abs(w_cr_t.sum() - w_cr.sum()) < 5 * np.sqrt((w_cr**2).sum()) + 1e-6
    assert read_metadata(tmp_path / "t.parquet")["cr_fraction"] == 0.5


def _grouped_mean(x: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """Mean of x and its standard error with the rows of one group (one parton-level event) correlated."""
    df = pd.DataFrame({"x": x, "g": groups}).groupby("g")["x"].agg(["sum", "count"])
    n = df["count"].sum()
    m = df["sum"].sum() / n
    resid = df["sum"] - m * df["count"]
    return float(m), float(np.sqrt((resid**2).sum()) / n)


@pytest.mark.pythia
@pytest.mark.slow
def test_fresh_run_physics(cache):
    """The same Pythia events without pileup and with 120 interactions: pileup adds isolation energy to both
    candidates and jets to the event (jets above 15 GeV: the rho_chs x area correction removes the average,
    its fluctuations and the pileup's own jets remain), while the response of the recoil jet stays calibrated."""
    from hepgan.samples.gjets import make_gjets

    kw = dict(seed=9, pt_hat_min=60.0, chunk_size=100, pool_size=300, progress=False, id_threshold=-1.0, loose_threshold=-1.0,
              jet_pt_min=15.0)  # fmt: skip
    lo = make_gjets(300, pileup_mean=0.0, pileup_sd=0.0, cache_dir=cache / "pu0", **kw)
    hi = make_gjets(300, pileup_mean=120.0, pileup_sd=0.0, cache_dir=cache / "pu120", **kw)
    assert np.all(lo["n_vtx"] == 1)
    assert abs(hi["n_vtx"].mean() - 121) < 5 * np.sqrt(120 / len(hi))
    # the same hadronised events (Pythia's seeds); the detector's draws differ, so a few events cross
    # the cuts differently: compare the events in both, by parton-level event and hadronisation
    keys = ["parton_event", "hadronisation"]
    both = hi.merge(lo, on=keys, suffixes=("", "_lo"))
    assert len(both) > 0.5 * min(len(lo), len(hi))
    np.testing.assert_allclose(both["pho1_eta"], both["pho1_eta_lo"], atol=0.01)
    for p in ("pho1", "pho2"):
        diff = ((both[f"{p}_iso_pho"] + both[f"{p}_iso_neu"]) - (both[f"{p}_iso_pho_lo"] + both[f"{p}_iso_neu_lo"])).to_numpy()
        m, e = _grouped_mean(diff, both["parton_event"].to_numpy())
        assert m > 5 * e, (p, m, e)
    dj = (both["n_jets"] - both["n_jets_lo"]).to_numpy(np.float64)
    m, e = _grouped_mean(dj, both["parton_event"].to_numpy())
    assert m > 5 * e, (m, e)
    has = (both["recoil_jet_pt"] > 0) & (both["recoil_jet_pt_lo"] > 0)
    dr = (both.loc[has, "recoil_jet_pt"] - both.loc[has, "recoil_jet_pt_lo"]).to_numpy(np.float64)
    m, e = _grouped_mean(dr, both.loc[has, "parton_event"].to_numpy())
    assert abs(m) < 5 * e, (m, e)


@pytest.mark.pythia
@pytest.mark.slow
def test_rehadronised_and_plain_generation_agree(cache):
    """K = 4 hadronisations of each parton-level event and K = 1 give the same physics within statistics:
    the selection efficiency per hadronised event and the mean pho2 pT and isolation (errors with the K
    copies of one parton-level event correlated; 5 sigma)."""
    from hepgan.samples.gjets import make_gjets

    kw = dict(pt_hat_min=60.0, pool_size=300, progress=False, id_threshold=-1.0, loose_threshold=-1.0)
    one = make_gjets(800, seed=21, rehadronise=1, chunk_size=200, cache_dir=cache / "k1", **kw)
    four = make_gjets(200, seed=22, rehadronise=4, chunk_size=100, cache_dir=cache / "k4", **kw)
    n1, n4 = 800, 200
    # selection efficiency per hadronised event: K=1 binomial; K=4 with the per-parton-event count as the unit
    e1 = len(one) / n1
    s1 = np.sqrt(e1 * (1 - e1) / n1)
    counts = np.bincount(four["parton_event"].to_numpy().astype(int), minlength=n4)[:n4] / 4.0
    e4, s4 = counts.mean(), counts.std(ddof=1) / np.sqrt(n4)
    assert abs(e1 - e4) < 5 * np.hypot(s1, s4), (e1, s1, e4, s4)
    for col in ("pho2_pt", "pho2_iso_ch", "pho2_hoe"):
        a = one[col].to_numpy(np.float64)
        m1, se1 = a.mean(), a.std(ddof=1) / np.sqrt(len(a))
        m4, se4 = _grouped_mean(four[col].to_numpy(np.float64), four["parton_event"].to_numpy())
        assert abs(m1 - m4) < 5 * np.hypot(se1, se4), (col, m1, se1, m4, se4)


@pytest.mark.pythia
def test_parton_level_filter_drops_no_selected_event(cache):
    """With the parton-level photon filter off, every selected event has its prompt photon at |eta| < 2.6
    after the showers: the filter (on by default at 2.6) would have dropped none of them."""
    from hepgan.samples.gjets import make_gjets

    df = make_gjets(150, seed=31, pt_hat_min=60.0, chunk_size=75, pool_size=200, photon_eta_max=0.0, progress=False,
                    id_threshold=-1.0, loose_threshold=-1.0, cache_dir=cache / "nofilter")  # fmt: skip
    assert len(df) > 50
    assert np.all(np.abs(df["prompt_eta"]) < 2.6), df["prompt_eta"].abs().max()
    assert np.all(np.abs(df["pho1_eta"] - df["prompt_eta"]) < 0.1)


@pytest.mark.pythia
def test_process_level_prefilter_is_not_exact():
    """Why the process-level pre-filter is off by default: the showers' recoil moves the hard photon in eta
    (the 99 % quantile of the shift is far above any practical margin); and its veto counter is right."""
    import pythia8mc

    from hepgan.samples.gjets import GjetsSettings, _make_prefilter, _prompt_index

    s = GjetsSettings(pt_hat_min=40.0).validate()
    py = pythia8mc.Pythia("", False)
    for line in s.pythia_settings(777):
        py.readString(line)
    assert py.init()
    shift = []
    for _ in range(2000):
        assert py.next()
        best, hard = -1.0, 0.0
        for i in (5, 6):
            p = py.process[i]
            if p.id() == 22 and p.pT() > best:
                best, hard = p.pT(), p.eta()
        shift.append(abs(py.event[_prompt_index(py.event)].eta() - hard))
    assert np.quantile(shift, 0.99) > 0.2, np.quantile(shift, [0.5, 0.99])
    hook = _make_prefilter(2.7)
    py2 = pythia8mc.Pythia("", False)
    for line in s.pythia_settings(778):
        py2.readString(line)
    py2.setUserHooksPtr(hook)
    assert py2.init()
    for _ in range(300):
        assert py2.next()
    assert hook.n_tried - hook.n_vetoed == 300
    assert hook.n_vetoed > 0


# --------------------------------------------------------------------------- invalid settings


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--events", "-5"], "events"),
        (["--events", "10", "--process", "PromptPhoton:nope"], "process"),
        (["--events", "10", "--format", "hdf5"], "format"),
        (["--events", "10", "--pt-hat-min", "-3"], "pt_hat_min"),
        (["--events", "10", "--workers", "0"], "workers"),
        (["--events", "10", "--id-threshold", "3"], "id_threshold"),
        (["--events", "10", "--cr-fraction", "0"], "cr_fraction"),
        (["--events", "10", "--rehadronise", "0"], "rehadronise"),
        (["--events", "10", "--prefilter-eta", "2.0"], "prefilter_eta"),
        (["--events", "10", "--photon-eta-max", "2.5"], "photon_eta_max"),
        (["--events", "10", "--pileup-sd", "-1"], "pileup_sd"),
        (["--events", "10", "--pool-size", "0"], "pool_size"),
        (["--events", "10", "--loose-threshold", "0.999"], "loose_threshold"),
    ],
)
def test_cli_invalid_settings(extra, needle, tmp_path, capsys):
    from hepgan.cli import main

    out = tmp_path / "x.parquet"
    rc = main(["sample", "gjets", *extra, "--out", str(out), "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and err.startswith("hepgan: error:") and needle in err, err
    assert not out.exists()
    assert list(tmp_path.glob("*.parquet")) == []


def test_cli_unwritable_output(tmp_path, capsys):
    from hepgan.cli import main

    out = tmp_path / "missing" / "x.parquet"
    rc = main(["sample", "gjets", "--events", "10", "--out", str(out), "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "does not exist" in err
    assert not out.parent.exists()
    rc = main(["sample", "gjets", "--events", "10", "--out", str(tmp_path), "--cache-dir", str(tmp_path / "c")])
    assert rc == 2 and "folder" in capsys.readouterr().err
