"""hepgan sample drellyan: Pythia 8 pp -> gamma*/Z -> e+ e- at the hard-process level (the subtraction GAN's LHC case)."""

from __future__ import annotations

import numpy as np
import pytest

from hepgan.cli import main
from hepgan.io import read_metadata, read_table
from hepgan.kinematics import invariant_mass, table_to_momenta

pytest.importorskip("pythia8mc")
pytestmark = pytest.mark.pythia

N = 3000


def _make(tmp, mode: str, seed: int, name: str, *extra: str):
    path = tmp / f"{name}.parquet"
    assert main(["-q", "sample", "drellyan", "--mode", mode, "--events", str(N), "--seed", str(seed), "--out", str(path),
                 "--chunk-size", "1500", "--cache-dir", str(tmp / f"cache_{name}"), *extra]) == 0  # fmt: skip
    return path


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    d = tmp_path_factory.mktemp("dy")
    return {mode: _make(d, mode, 5, mode) for mode in ("full", "photon")}


def test_leptons_pass_the_cuts_and_balance(samples):
    for mode, path in samples.items():
        df, meta = read_table(path), read_metadata(path)
        assert meta["sample"] == "drellyan" and meta["mode"] == mode and len(meta["generator"]["seeds_per_chunk"]) == 2
        assert 0.8 < len(df) / N <= 1.0 and meta["n_rows"] == len(df)
        p4 = table_to_momenta(df, ["ep", "em"])
        assert (df["ep_pt"] > 10).all() and (df["em_pt"] > 10).all()
        np.testing.assert_allclose(df["m_ee"], invariant_mass(p4), rtol=1e-9)
        assert df["m_ee"].between(60 - 1e-6, 140 + 1e-6).all()
        # no initial-state radiation: the pair has no transverse momentum
        assert np.abs(p4[:, :, :2].sum(1)).max() < 1e-9
        assert df["cos_theta"].between(-1, 1).all()
        # the file's cross section is Pythia's sigmaGen times the pT acceptance
        assert meta["sigma_pb"] == pytest.approx(meta["sigma_gen_pb"] * meta["acceptance"])
        assert meta["acceptance"] == pytest.approx(len(df) / meta["n_events_generated"])
    full, photon = (read_metadata(samples[k]) for k in ("full", "photon"))
    # gamma* alone is a small part of the window: about 3 % (sigmaGen from 3k events: 20 % tolerance)
    assert 0.024 < photon["sigma_pb"] / full["sigma_pb"] < 0.038
    # the Z peak is in the full sample only
    near_z = lambda p: np.mean(np.abs(read_table(p)["m_ee"] - 91.19) < 5)  # noqa: E731
    assert near_z(samples["full"]) > 0.6 > 0.2 > near_z(samples["photon"])


def test_same_seed_gives_the_same_file_and_bad_settings_are_one_line(samples, tmp_path, capsys):
    again = _make(tmp_path, "photon", 5, "again")
    assert read_table(again).equals(read_table(samples["photon"]))
    assert main(["sample", "drellyan", "--events", "10", "--m-min", "150", "--m-max", "100", "--out", str(tmp_path / "x.parquet")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "m_min, m_max" in err[0]
    assert not (tmp_path / "x.parquet").exists()
