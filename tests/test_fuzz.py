"""Fuzzing: readers fed random, truncated and bit-flipped bytes raise a hepgan error, never anything else.

A physicist's file from a grid site can be cut short or corrupted in transfer; the reply must be
one clear line (a HepganError), never a traceback from pyarrow, uproot, pandas or safetensors.
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hepgan.config import load_yaml
from hepgan.exceptions import HepganError, ModelFileError
from hepgan.io import iter_table, read_metadata, read_table, write_table
from hepgan.training.state import load_state, save_state

FUZZ = settings(max_examples=int(os.environ.get("HEPGAN_FUZZ_EXAMPLES", "60")), deadline=None)
SUFFIXES = (".parquet", ".root", ".csv")


def _table(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"pho1_pt": rng.exponential(50, n) + 20, "pho1_eta": rng.normal(0, 1, n), "n_vtx": rng.poisson(20, n).astype(float)})


@functools.cache
def _original(suffix: str) -> bytes:
    """A valid file of each kind, as bytes (cached; not a fixture, so hypothesis never prints it)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"events{suffix}"
        if suffix == ".safetensors":
            save_state(path, {"w": torch.arange(12.0).reshape(3, 4), "epoch": 3}, {"kind": "test"})
        else:
            write_table(_table(), path, metadata={"seed": 1})
        return path.read_bytes()


def _read_all_ways(path: Path) -> None:
    """Every reader either succeeds or raises HepganError."""
    for call in (
        lambda: read_table(path),
        lambda: read_table(path, columns=["pho1_pt"]),
        lambda: list(iter_table(path, chunk_size=7)),
        lambda: read_metadata(path),
    ):
        try:
            result = call()
        except HepganError as err:
            assert str(err).strip(), "an error must say what is wrong"
            assert str(path) in str(err) or path.name in str(err), str(err)
        else:
            if isinstance(result, pd.DataFrame):  # what comes back is a checked table
                assert len(result) > 0 and np.isfinite(result.to_numpy(dtype=float)).all()


def _write(data: bytes, suffix: str) -> Path:
    with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as f:
        f.write(data)
    return Path(f.name)


@FUZZ
@given(data=st.binary(min_size=0, max_size=2048), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes(data, suffix):
    path = _write(data, suffix)
    try:
        _read_all_ways(path)
    finally:
        path.unlink()


@FUZZ
@given(cut=st.floats(0.0, 1.0, exclude_max=True), suffix=st.sampled_from(SUFFIXES))
def test_truncated_files(cut, suffix):
    raw = _original(suffix)
    path = _write(raw[: int(cut * len(raw))], suffix)
    try:
        _read_all_ways(path)
    finally:
        path.unlink()


@FUZZ
@given(
    flips=st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=8),
    suffix=st.sampled_from(SUFFIXES),
)
def test_bit_flipped_files(flips, suffix):
    raw = bytearray(_original(suffix))
    for where, mask in flips:
        raw[int(where * len(raw))] ^= mask
    path = _write(bytes(raw), suffix)
    try:
        _read_all_ways(path)
    finally:
        path.unlink()


@FUZZ
@given(data=st.binary(max_size=1024), cut=st.floats(0.0, 1.0, exclude_max=True), flip=st.integers(0, 10_000))
def test_model_and_checkpoint_files(data, cut, flip):
    """Random bytes, truncations and single flipped bytes of a state file raise ModelFileError."""
    raw = _original(".safetensors")
    flipped = bytearray(raw)
    flipped[flip % len(raw)] ^= 0xFF
    for blob in (data, raw[: int(cut * len(raw))], bytes(flipped)):
        path = _write(blob, ".safetensors")
        try:
            with pytest.raises(ModelFileError):
                load_state(path)
        finally:
            path.unlink()
    path = _write(raw, ".safetensors")  # the intact file loads
    try:
        state, meta = load_state(path)
        assert state["epoch"] == 3 and meta == {"kind": "test"}
    finally:
        path.unlink()


@FUZZ
@given(text=st.text(max_size=300))
def test_config_files(text):
    path = _write(text.encode("utf-8", "surrogatepass"), ".yaml")
    try:
        try:
            data = load_yaml(path)
        except HepganError as err:
            assert path.name in str(err)
        else:
            assert isinstance(data, dict)
    finally:
        path.unlink()
