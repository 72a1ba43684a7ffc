"""Shared fixtures: explicit seeds, small thread counts for the 2-core CI machine."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

# HEPGAN_TEST_THREADS=1 when other jobs share the machine (two multi-threaded jobs spin against each other)
torch.set_num_threads(int(os.environ.get("HEPGAN_TEST_THREADS", min(2, os.cpu_count() or 1))))

import matplotlib  # noqa: E402

matplotlib.use("Agg")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(12345)
