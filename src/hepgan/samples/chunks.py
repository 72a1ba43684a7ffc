"""What every Pythia sample shares: chunk seeds, the chunk cache, and running chunks in worker processes.

A sample is generated in chunks of ``chunk_size`` events, each with its own recorded Pythia seed, and
each written atomically into a cache folder keyed by the settings; a rerun skips finished chunks.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["pythia_version", "pythia_chunk_seed", "default_cache_dir", "chunk_path", "chunk_list", "run_chunks"]


def pythia_version() -> str:
    try:
        import importlib.metadata

        return importlib.metadata.version("pythia8mc")
    except Exception:  # pragma: no cover
        return "unknown"


def init_pythia(lines: Sequence[str]) -> Any:
    """A quiet ``pythia8mc.Pythia`` read with these settings lines and initialised; None if
    ``init()`` fails (the caller names what it was given).

    Raises:
        MissingExtraError: pythia8mc is not installed.
    """
    try:
        import pythia8mc
    except ImportError as err:
        from hepgan.exceptions import MissingExtraError

        raise MissingExtraError("pythia8mc", "pythia") from err
    py = pythia8mc.Pythia("", False)
    for line in lines:
        py.readString(line)
    return py if py.init() else None


def pythia_chunk_seed(seed: int, chunk: int, stream: int) -> int:
    """Pythia's ``Random:seed`` of one chunk, in [1, 900000000]; ``stream`` separates the sample kinds."""
    state = np.random.SeedSequence([seed, chunk, stream]).generate_state(1, dtype=np.uint32)[0]
    return int(state) % 900_000_000 + 1


def default_cache_dir() -> Path:
    """``$HEPGAN_CACHE/samples``, else ``~/.cache/hepgan/samples``."""
    env = os.environ.get("HEPGAN_CACHE")
    root = Path(env) if env else Path.home() / ".cache" / "hepgan"
    return root / "samples"


def chunk_path(cache: Path, chunk: int, n: int) -> Path:
    return cache / f"chunk_{chunk:06d}_{n}.parquet"


def chunk_list(n_events: int, chunk_size: int) -> list[tuple[int, int]]:
    """(chunk index, events in it) for ``n_events`` split into chunks of ``chunk_size``."""
    return [(c, min(chunk_size, n_events - c * chunk_size)) for c in range(math.ceil(n_events / chunk_size))]


def run_chunks(
    run_one: Callable[[tuple], dict[str, Any]],
    jobs: Sequence[tuple],
    workers: int,
    progress: bool,
    desc: str,
    events_of: Callable[[dict[str, Any]], int],
) -> None:
    """Runs ``run_one(job)`` for every job, in ``workers`` spawned processes when more than one.

    Args:
        run_one: a module-level function (it is pickled to the workers); returns the chunk's statistics.
        jobs: its arguments, one tuple per chunk.
        workers: worker processes (1: in this process).
        progress: a tqdm bar on stderr, in events.
        desc: the bar's label.
        events_of: events a chunk's statistics count for the bar.
    """
    from tqdm import tqdm

    total = sum(j[3] for j in jobs)  # (settings, seed, chunk, n, cache)
    bar = tqdm(total=total, unit="ev", file=sys.stderr, disable=not progress, desc=desc, smoothing=0.1)
    try:
        if workers == 1:
            for j in jobs:
                bar.update(events_of(run_one(j)))
        else:
            import concurrent.futures as cf
            import multiprocessing as mp

            with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
                futures = [pool.submit(run_one, j) for j in jobs]
                try:
                    for f in cf.as_completed(futures):
                        bar.update(events_of(f.result()))
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
    finally:
        bar.close()
