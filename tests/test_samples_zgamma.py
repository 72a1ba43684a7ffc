"""hepgan sample zgamma: Z gamma -> l l gamma and a narrow scalar -> Z gamma with a detector (the look-elsewhere study's sample)."""

from __future__ import annotations

import numpy as np
import pytest

from hepgan.cli import main
from hepgan.io import read_metadata, read_table
from hepgan.samples.zgamma import FEATURES

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")
pytestmark = pytest.mark.pythia


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    d = tmp_path_factory.mktemp("zgamma")
    out = {}
    for process, n in (("scalar", 400), ("zgamma", 500)):
        path = d / f"{process}.parquet"
        assert main(["-q", "sample", "zgamma", "--process", process, "--events", str(n), "--seed", "3", "--chunk-size", "250",
                     "--out", str(path), "--cache-dir", str(d / "cache")]) == 0  # fmt: skip
        out[process] = path
    return out


def test_selection_and_features(samples):
    for process, path in samples.items():
        df, meta = read_table(path), read_metadata(path)
        assert meta["sample"] == "zgamma" and meta["process"] == process and meta["n_rows"] == len(df) > 0
        assert list(df.columns[: len(FEATURES)]) == list(FEATURES)
        assert np.isfinite(df[list(FEATURES)].to_numpy()).all()
        assert df["m_llg"].between(130.0, 170.0).all()
        assert (df["l1_pt"] >= 25.0).all() and (df["l2_pt"] >= 20.0).all() and (df["pho_pt"] >= 15.0).all()
        assert (df["m_ll"] > 40.0).all() and set(df["flavour"]) <= {11.0, 13.0}
        assert (df["n_cj"] <= df["n_j"]).all() and (df["n_j"] == np.floor(df["n_j"])).all()
        np.testing.assert_allclose(df["ptll_over_mllg"], df["pt_ll"] / df["m_llg"], rtol=1e-12)
        assert (df["dphi_ll"].between(0, np.pi)).all() and (df["dphi_met_llg"].between(0, np.pi)).all()


def test_the_physics(samples):
    sig = read_table(samples["scalar"])
    # the scalar decays to Z gamma: the Z peak in m_ll and a narrow m_llg peak at 150 GeV of the detector's resolution
    assert 86.0 < np.median(sig["m_ll"]) < 96.0
    assert 148.5 < np.median(sig["m_llg"]) < 151.0
    q25, q75 = np.percentile(sig["m_llg"], [25, 75])
    assert 0.5 < (q75 - q25) / 1.349 < 3.0
    # a third to a half of the scalar events are selected (leptons, isolation, acceptance)
    assert 0.2 < read_metadata(samples["scalar"])["efficiency"] < 0.6
    bkg = read_table(samples["zgamma"])
    assert 86.0 < np.median(bkg["m_ll"]) < 96.0
    assert np.median(bkg["met"]) < 30.0  # no neutrinos in the hard process: resolution and forward particles only


def test_same_seed_same_events(samples, tmp_path):
    again = tmp_path / "again.parquet"
    assert main(["-q", "sample", "zgamma", "--process", "scalar", "--events", "400", "--seed", "3", "--chunk-size", "250",
                 "--out", str(again), "--cache-dir", str(tmp_path / "cache")]) == 0  # fmt: skip
    a, b = read_table(samples["scalar"]), read_table(again)
    assert a.equals(b)


def test_bad_requests_are_one_line(tmp_path, capsys):
    assert main(["-q", "sample", "zgamma", "--events", "0", "--out", str(tmp_path / "x.parquet")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "events" in err[0]
    assert main(["-q", "sample", "zgamma", "--events", "10", "--mllg-min", "170", "--mllg-max", "130", "--out", str(tmp_path / "x.parquet")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mllg_min" in err[0]
    assert not (tmp_path / "x.parquet").exists()
