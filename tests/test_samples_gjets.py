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
    "n_jets", "n_vtx", "lead_jet_pt", "m_gg", "pt_gg", "ptgg_over_mgg", "weight", "region",
]  # fmt: skip
ID_INPUTS = [f"pho{i}_{k}" for i in (1, 2) for k in ("iso_ch", "iso_neu", "iso_pho", "width", "core_frac")]


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
    thr = meta["id_threshold"]
    assert np.all(small["pho1_id"] > thr)
    np.testing.assert_array_equal(small["region"].to_numpy(), (small["pho2_id"] > thr).astype(np.float32))
    assert set(np.unique(small["region"])) <= {0.0, 1.0}
    assert np.all(small["n_vtx"] >= 1) and np.all(small["n_vtx"] == np.round(small["n_vtx"]))
    assert np.all(small["weight"] > 0)
    for k in ("id_threshold", "generator", "selection", "command", "seed", "detector", "weight"):
        assert k in meta
    g = meta["generator"]
    for k in ("pTHatMin_gev", "sqrt_s_gev", "pileup_mean", "seeds_per_chunk", "pythia_version"):
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


def test_default_sample_has_10k_sr_events():
    from hepgan.samples.gjets import default_sample_path

    assert read_table(default_sample_path(), columns=["region"])["region"].sum() >= 10_000


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
    # pho1 was selected by the ID, so take the AUC on all prompt candidates the sample could have:
    # the test AUC of the model file is measured on unselected candidates
    assert roc_auc(s1, s2) > 0.9
    assert model.info["test"]["auc"] > 0.9
    assert np.median(s1) > 0.8  # prompt photons peak near +1
    assert np.median(s2) < 0.0


def test_sr_share_as_documented(small, meta):
    """The SR share of the small sample agrees with the default sample's within binomial tolerance."""
    from hepgan.samples.gjets import default_sample_path

    n, k = len(small), int(small["region"].sum())
    assert meta["n_sr"] == k
    assert abs(meta["sr_share"] - k / n) < 1e-9
    assert abs(meta["sr_share_selected"] - k / n) < 1e-9  # no CR thinning in the small sample
    assert 0 < k < n
    path = default_sample_path()
    if path.exists():
        # same physics at the default sample's working point: relabel the small sample with its threshold
        m0 = read_metadata(path)
        p0, thr0 = m0.get("sr_share_selected", m0["sr_share"]), m0["id_threshold"]
        both = (small["pho1_id"] > thr0) & (small["pho1_id"] > meta["id_threshold"])
        n0 = int(both.sum())
        k0 = int((both & (small["pho2_id"] > thr0)).sum())
        assert abs(k0 - n0 * p0) < 5 * np.sqrt(n0 * p0 * (1 - p0)), (k0, n0, p0, thr0)


def test_pileup_raises_isolation(small):
    # for prompt photons pileup is most of the neutral isolation; for jet candidates the jet's
    # own particles swamp it (test_fresh_run_physics compares the same events with and without pileup)
    for p in ("pho1",):
        iso = (small[f"{p}_iso_pho"] + small[f"{p}_iso_neu"]).to_numpy(np.float64)
        rho = stats.spearmanr(small["n_vtx"], iso).statistic
        # |rho| of independent variables is about 1/sqrt(n); demand a positive correlation at 5 sigma
        assert rho > 5 / np.sqrt(len(small)), (p, rho)


# --------------------------------------------------------------------------- fresh runs


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gjets_cache")


@pytest.mark.pythia
def test_same_seed_same_output_any_worker_count(cache, tmp_path, monkeypatch):
    from hepgan.samples import gjets

    kw = dict(seed=5, pt_hat_min=60.0, chunk_size=40, progress=False)
    a = gjets.make_gjets(120, out=tmp_path / "a.parquet", workers=1, cache_dir=cache / "one", **kw)
    b = gjets.make_gjets(120, out=tmp_path / "b.parquet", workers=2, cache_dir=cache / "two", **kw)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(read_table(tmp_path / "a.parquet"), read_table(tmp_path / "b.parquet"))
    ma, mb = read_metadata(tmp_path / "a.parquet"), read_metadata(tmp_path / "b.parquet")
    assert ma.pop("provenance")["time"] and mb.pop("provenance")["time"]  # when it was made: may differ
    assert ma == mb
    assert len(set(ma["generator"]["seeds_per_chunk"])) == 3
    # a rerun reads the finished chunks back and generates nothing
    monkeypatch.setattr(gjets, "generate_chunk", lambda *a, **k: pytest.fail("regenerated a cached chunk"))
    c = gjets.make_gjets(120, workers=1, cache_dir=cache / "one", **kw)
    pd.testing.assert_frame_equal(a, c)


@pytest.mark.pythia
def test_cli_writes_root_and_parquet(cache, tmp_path):
    import uproot

    from hepgan.cli import main

    args = ["--events", "120", "--seed", "5", "--pt-hat-min", "60", "--chunk-size", "40", "--cache-dir", str(cache / "one")]
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


@pytest.mark.pythia
@pytest.mark.slow
def test_fresh_run_physics(cache):
    """A fresh run with no pileup has less isolation energy than one with pileup (same events)."""
    from hepgan.samples.gjets import make_gjets

    kw = dict(seed=9, pt_hat_min=60.0, chunk_size=100, progress=False, id_threshold=-1.0)
    lo = make_gjets(300, pileup_mean=0.0, cache_dir=cache / "pu0", **kw)
    hi = make_gjets(300, pileup_mean=40.0, cache_dir=cache / "pu40", **kw)
    assert np.all(lo["n_vtx"] == 1)
    assert abs(hi["n_vtx"].mean() - 41) < 5 * np.sqrt(40 / len(hi))
    # the same Pythia events (same seeds) with and without pileup; the smearing draws differ,
    # so a few events cross the pT cuts differently: compare the events in both
    both = hi.merge(lo, on="event", suffixes=("", "_lo"))
    assert len(both) > 0.9 * min(len(lo), len(hi))
    np.testing.assert_allclose(both["pho1_eta"], both["pho1_eta_lo"], atol=1e-6)
    diff = (both["pho1_iso_pho"] + both["pho1_iso_neu"]) - (both["pho1_iso_pho_lo"] + both["pho1_iso_neu_lo"])
    assert diff.mean() > 0.5
    diff2 = (both["pho2_iso_pho"] + both["pho2_iso_neu"]) - (both["pho2_iso_pho_lo"] + both["pho2_iso_neu_lo"])
    assert diff2.mean() > 0.5
    assert np.all(diff.to_numpy() >= -1e-4) and np.all(diff2.to_numpy() >= -1e-4)


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
