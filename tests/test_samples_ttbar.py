"""hepgan sample ttbar: Pythia 8 top pairs at the hard-process level (6 partons)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hepgan.cli import main
from hepgan.io import read_metadata, read_table
from hepgan.kinematics import invariant_mass, pt_balance, table_to_momenta
from hepgan.samples.ttbar import TTBAR_PARTONS, TTBAR_PYTHIA

pytest.importorskip("pythia8mc")
pytestmark = pytest.mark.pythia

N = 2000


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    d = tmp_path_factory.mktemp("ttbar")
    path = d / "a.parquet"
    assert main(["-q", "sample", "ttbar", "--events", str(N), "--seed", "11", "--out", str(path),
                 "--chunk-size", "1000", "--cache-dir", str(d / "cache_a")]) == 0  # fmt: skip
    return path


def test_partons_and_resonances_are_physical(sample):
    df = read_table(sample)
    meta = read_metadata(sample)
    assert len(df) == N and meta["sample"] == "ttbar" and len(meta["generator"]["seeds_per_chunk"]) == 2
    assert meta["command"].startswith("hepgan sample ttbar --events 2000 --seed 11")
    p4 = table_to_momenta(df, TTBAR_PARTONS)
    # no initial-state radiation or primordial kT at this level: exact transverse-momentum balance
    assert pt_balance(p4).max() < 1e-12
    # parton masses are Pythia's: b 4.8; u, d 0.33; s 0.5; c 1.5 GeV (by flavour)
    masses = {1: 0.33, 2: 0.33, 3: 0.5, 4: 1.5, 5: 4.8}
    for p in TTBAR_PARTONS:
        expected = np.array([masses[abs(int(i))] for i in df[f"{p}_id"]])
        np.testing.assert_allclose(invariant_mass(table_to_momenta(df, [p])[:, 0]), expected, atol=1e-4)
        np.testing.assert_allclose(df[f"{p}_m"], expected, atol=1e-4)
    # slots: W+ -> up-type quark + down-type antiquark, W- -> down-type quark + up-type antiquark
    assert set(df["q1_id"]) <= {2, 4} and set(df["qbar1_id"]) <= {-1, -3, -5}
    assert set(df["q2_id"]) <= {1, 3, 5} and set(df["qbar2_id"]) <= {-2, -4}
    assert (df["b_id"] > 0).all() and (df["bbar_id"] < 0).all()
    assert set(df["process"]) <= {601.0, 602.0}
    # Breit-Wigner peaks: the median of a Cauchy sample has standard error pi * (Gamma/2) / (2 sqrt(N))
    for col, m0, gamma in (("m_wp", "m_w", "gamma_w"), ("m_wm", "m_w", "gamma_w"), ("m_t", "m_t", "gamma_t"), ("m_tbar", "m_t", "gamma_t")):
        se = math.pi * TTBAR_PYTHIA[gamma] / 2 / (2 * math.sqrt(N))
        assert abs(np.median(df[col]) - TTBAR_PYTHIA[m0]) < 6 * se + 0.05, col  # + Pythia's small peak shift
    np.testing.assert_allclose(df["m_t"], invariant_mass(p4, [0, 1, 2]), rtol=1e-12)
    np.testing.assert_allclose(df["m_wm"], invariant_mass(p4, [4, 5]), rtol=1e-12)


def test_same_seed_gives_an_identical_file(sample, tmp_path):
    again = tmp_path / "b.parquet"
    assert main(["-q", "sample", "ttbar", "--events", str(N), "--seed", "11", "--out", str(again),
                 "--chunk-size", "1000", "--cache-dir", str(tmp_path / "cache_b")]) == 0  # fmt: skip
    # identical events and metadata (the command differs only by its --out)
    import pandas as pd

    pd.testing.assert_frame_equal(read_table(again), read_table(sample), check_exact=True)
    m_a, m_b = read_metadata(sample), read_metadata(again)
    assert m_a.pop("provenance")["time"] and m_b.pop("provenance")["hepgan_version"]  # when and how: may differ
    assert m_a.pop("command").replace("a.parquet", "b.parquet").split("--out")[0] == m_b.pop("command").split("--out")[0]
    assert m_a == m_b
    other = tmp_path / "c.parquet"
    assert main(["-q", "sample", "ttbar", "--events", "500", "--seed", "12", "--out", str(other),
                 "--cache-dir", str(tmp_path / "cache_b")]) == 0  # fmt: skip
    assert not np.allclose(read_table(other)["b_px"].to_numpy(), read_table(sample)["b_px"].to_numpy()[:500])


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    cases = [
        (["--events", "0", "--out", str(tmp_path / "a.parquet")], "events"),
        (["--events", "10", "--out", str(tmp_path / "no" / "a.parquet")], "does not exist"),
        (["--events", "10", "--out", str(tmp_path / "a.parquet"), "--sqrt-s", "100"], "sqrt_s"),
        (["--events", "10", "--out", str(tmp_path / "a.parquet"), "--chunk-size", "0"], "chunk_size"),
    ]
    for argv, needle in cases:
        assert main(["sample", "ttbar", *argv, "--cache-dir", str(tmp_path / "cache")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("hepgan: error:") and needle in err[0], err
    assert not any(p.suffix == ".parquet" for p in tmp_path.rglob("*"))
