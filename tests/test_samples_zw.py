"""hepgan sample zw: pp -> ZW -> (l l)(j j) and W' -> ZW, parton and detector level matched per event."""

from __future__ import annotations

import numpy as np
import pytest

from hepgan.cli import main
from hepgan.io import read_metadata, read_table
from hepgan.kinematics import invariant_mass, table_to_momenta
from hepgan.samples.zw import DET_OBJECTS, PART_OBJECTS

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")
pytestmark = pytest.mark.pythia

N = 1000


def _make(tmp, process: str, seed: int, name: str):
    path = tmp / f"{name}.parquet"
    assert main(["-q", "sample", "zw", "--process", process, "--events", str(N), "--seed", str(seed), "--out", str(path),
                 "--chunk-size", "500", "--cache-dir", str(tmp / f"cache_{name}")]) == 0  # fmt: skip
    return path


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    d = tmp_path_factory.mktemp("zw")
    return {"sm": _make(d, "sm", 3, "sm"), "wprime": _make(d, "wprime", 3, "wprime")}


def _binomial_tol(p: float, n: int, sigmas: float = 5.0) -> float:
    return sigmas * np.sqrt(p * (1 - p) / n)


def test_selection_matching_and_mass_peaks(samples):
    df, meta = read_table(samples["sm"]), read_metadata(samples["sm"])
    n = len(df)
    assert meta["sample"] == "zw" and meta["n_rows"] == n and len(meta["generator"]["seeds_per_chunk"]) == 2
    # about 15 % of the generated events pass (exactly two jets and two leptons); 5 sigma of the binomial
    eff = n / meta["n_events_generated"]
    assert abs(eff - 0.15) < _binomial_tol(0.15, N) and meta["selection_efficiency"] == pytest.approx(eff)
    # exactly two jets above 25 GeV within |eta| < 2.5, ordered by pT; the leptons pass their cuts
    assert (df["det_j1_pt"] >= df["det_j2_pt"]).all() and (df["det_j2_pt"] > 25).all()
    assert (df[[f"{o}_eta" for o in DET_OBJECTS]].abs() < 2.5).all().all()
    assert (df[["det_lm_pt", "det_lp_pt"]] > 10).all().all() and set(df["flavour"]) <= {11.0, 13.0}
    # both jets within Delta R 0.4 of their quark in most events (0.89 measured on 152 events; 5 sigma of the binomial below)
    assert df["matched"].mean() > 0.89 - _binomial_tol(0.89, n)
    assert meta["matching_efficiency"] == pytest.approx(df["matched"].mean())
    # the mass columns are the masses of the objects' momenta
    for level, objs in (("det", DET_OBJECTS), ("part", PART_OBJECTS)):
        p4 = table_to_momenta(df, objs)
        np.testing.assert_allclose(df[f"{level}_m_jj"], invariant_mass(p4, [0, 1]), rtol=1e-9)
        np.testing.assert_allclose(df[f"{level}_m_ll"], invariant_mass(p4, [2, 3]), rtol=1e-9)
    # the Z and W peaks at parton level (Breit-Wigners of 2.5 and 2.1 GeV: the median within 1.5 GeV for >= 100 events)
    assert abs(np.median(df["part_m_ll"]) - 91.19) < 1.5 and abs(np.median(df["part_m_jj"]) - 80.38) < 1.5
    # at detector level the Z peak stays (lepton resolution 1-2 %) and m_jj is smeared and shifted down
    # (radiation out of the cones, jet resolution): median 73 GeV on 152 events
    assert abs(np.median(df["det_m_ll"]) - 91.0) < 2.0
    assert 65 < np.median(df["det_m_jj"]) < 80 and np.std(df["det_m_jj"]) > 3 * np.std(df["part_m_jj"][np.abs(df["part_m_jj"] - 80.4) < 10])


def test_wprime_peak(samples):
    df, meta = read_table(samples["wprime"]), read_metadata(samples["wprime"])
    assert meta["process"] == "wprime" and any("Wprime:coup2WZ" in s for s in meta["generator"]["settings"])
    # the W' of 1.3 TeV and 15 GeV width: the median of m_lljj at parton level within 10 GeV (about 200 events)
    assert abs(np.median(df["part_m_zw"]) - 1300) < 10
    assert np.percentile(df["part_m_zw"], 75) - np.percentile(df["part_m_zw"], 25) < 4 * 15


def test_same_seed_same_file_and_bad_settings_are_one_line(samples, tmp_path, capsys):
    again = _make(tmp_path, "sm", 3, "again")
    assert read_table(again).equals(read_table(samples["sm"]))
    out = tmp_path / "x.parquet"
    assert main(["sample", "zw", "--events", "10", "--wprime-width", "-1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "wprime_width" in err[0] and not out.exists()
