from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hepgan.exceptions import InputFileError, SchemaError
from hepgan.io import ChunkedParquetWriter, iter_table, read_metadata, read_table, write_table


def _table(n=50, seed=0):
    r = np.random.default_rng(seed)
    return pd.DataFrame({"pho1_pt": r.exponential(30, n) + 20, "n_jets": r.integers(0, 4, n).astype("float32")})


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".root"])
def test_round_trip_with_metadata(tmp_path, suffix):
    df = _table()
    path = tmp_path / f"t{suffix}"
    write_table(df, path, metadata={"seed": 7})
    back = read_table(path)
    np.testing.assert_allclose(back.to_numpy(), df.to_numpy(), rtol=1e-12)
    assert read_metadata(path)["seed"] == 7
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_missing_column_named_with_hint(tmp_path):
    write_table(_table(), tmp_path / "t.parquet")
    with pytest.raises(SchemaError, match=r"missing column 'pho1_ptt'.*did you mean 'pho1_pt'"):
        read_table(tmp_path / "t.parquet", columns=["pho1_ptt"])


def test_nan_is_named_or_dropped(tmp_path):
    df = _table()
    df.loc[3, "n_jets"] = np.nan
    write_table(df, tmp_path / "t.parquet")
    with pytest.raises(SchemaError, match="'n_jets' has 1 NaN"):
        read_table(tmp_path / "t.parquet")
    assert len(read_table(tmp_path / "t.parquet", drop_nan=True)) == len(df) - 1


def test_empty_and_corrupt_files(tmp_path):
    (tmp_path / "e.parquet").write_bytes(b"")
    with pytest.raises(InputFileError, match="empty"):
        read_table(tmp_path / "e.parquet")
    write_table(_table(), tmp_path / "t.parquet")
    data = (tmp_path / "t.parquet").read_bytes()
    (tmp_path / "c.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match="not a readable Parquet"):
        read_table(tmp_path / "c.parquet")


def test_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError), ChunkedParquetWriter(path) as w:
        w.write(_table())
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_chunked_write_and_stream(tmp_path):
    path = tmp_path / "out.parquet"
    with ChunkedParquetWriter(path, metadata={"k": 1}) as w:
        for s in range(3):
            w.write(_table(40, s))
    chunks = list(iter_table(path, chunk_size=25))
    assert sum(len(c) for c in chunks) == 120
    assert max(len(c) for c in chunks) <= 25


def test_chunked_root_output(tmp_path):
    from hepgan.io import ChunkedTableWriter

    path = tmp_path / "out.root"
    with ChunkedTableWriter(path, metadata={"k": 2}) as w:
        for s in range(2):
            w.write(_table(30, s))
    back = read_table(path)
    assert len(back) == 60 and read_metadata(path)["k"] == 2


def test_writer_without_rows_leaves_nothing(tmp_path):
    with pytest.raises(SchemaError, match="nothing to write"), ChunkedParquetWriter(tmp_path / "o.parquet"):
        pass
    assert list(tmp_path.iterdir()) == []
