"""Shared fixtures: explicit seeds, small thread counts for the 2-core CI machine."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))

import matplotlib  # noqa: E402

matplotlib.use("Agg")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(12345)
