"""What every Pythia sample shares: chunk seeds, the chunk cache, and running chunks in worker processes.

A sample is generated in chunks of ``chunk_size`` events, each with its own recorded Pythia seed, and
each written atomically into a cache folder keyed by the settings; a rerun skips finished chunks.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("hepgan")

__all__ = [
    "pythia_version", "pythia_chunk_seed", "default_cache_dir", "chunk_path", "chunk_list", "run_chunks",
    "check_request", "cached_chunks", "write_chunk", "add_sample_arguments", "hard_process_settings",
]  # fmt: skip


def pythia_version() -> str:
    try:
        import importlib.metadata

        return importlib.metadata.version("pythia8mc")
    except Exception:  # pragma: no cover
        return "unknown"


def init_pythia(lines: Sequence[str], hooks: Any = None) -> Any:
    """A quiet ``pythia8mc.Pythia`` read with these settings lines (and ``hooks``, a ``pythia8mc.UserHooks``)
    and initialised; None if ``init()`` fails (the caller names what it was given).

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
    if hooks is not None:
        py.setUserHooksPtr(hooks)
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
    scheduler: str | None = None,
) -> None:
    """Runs ``run_one(job)`` for every job through :func:`hepgan.executor.map_tasks`.

    Args:
        run_one: a module-level function (it is pickled to the workers); returns the chunk's statistics.
        jobs: its arguments, one tuple per chunk.
        workers: worker processes (1: in this process; more: a local Dask cluster, or spawned processes without Dask).
        progress: a tqdm bar on stderr, in events.
        desc: the bar's label.
        events_of: events a chunk's statistics count for the bar.
        scheduler: address of a running Dask cluster (``tcp://host:port``) to run the chunks on instead.
    """
    from tqdm import tqdm

    from hepgan.executor import map_tasks

    total = sum(j[3] for j in jobs)  # (settings, seed, chunk, n, cache)
    bars: list[Any] = []  # the bar appears with the first finished chunk: a failing start leaves no empty bar behind

    def update(stats: dict[str, Any]) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit="ev", file=sys.stderr, disable=not progress, desc=desc, smoothing=0.1))
        bars[0].update(events_of(stats))

    try:
        map_tasks(run_one, jobs, workers=workers, scheduler=scheduler, on_result=update)
    finally:
        for bar in bars:
            bar.close()


def check_request(n_events: Any, seed: Any, workers: Any) -> None:
    """Raises ConfigError unless events > 0, 0 <= seed < 2^32 and 1 <= workers <= 256 are integers."""
    from hepgan.config import check

    check(isinstance(n_events, (int, np.integer)) and not isinstance(n_events, bool) and n_events > 0, "events", "an integer > 0", n_events)
    check(isinstance(seed, (int, np.integer)) and 0 <= seed < 2**32, "seed", "an integer in [0, 2^32)", seed)
    check(isinstance(workers, (int, np.integer)) and 1 <= workers <= 256, "workers", "an integer in [1, 256]", workers)


def write_chunk(job: tuple) -> dict[str, Any]:
    """Runs one chunk job ``(settings, seed, chunk, n, cache, make)`` of :func:`cached_chunks` and writes its file.

    ``make(settings, seed, chunk, n) -> (table, stats)`` is a module-level function (it is pickled to
    worker processes by reference); the table is written atomically with ``chunk_stats`` in its metadata
    (a table without columns, from a chunk that kept no event, as one empty placeholder column).
    """
    import inspect

    import pandas as pd

    from hepgan.io import write_table

    settings, seed, chunk, n, cache, make = job
    # a generator that keeps shared inputs beside its chunks (gjets' pileup pool) takes the cache folder
    extra = {"cache": cache} if "cache" in inspect.signature(make).parameters else {}
    df, stats = make(settings, seed, chunk, n, **extra)
    if len(df.columns) == 0:  # a chunk that kept no event: one placeholder column keeps the file readable
        df = pd.DataFrame({"event": np.zeros(0)})
    write_table(df, chunk_path(Path(cache), chunk, n), metadata={"chunk_stats": stats})
    return stats


def cached_chunks(
    kind: str,
    cache: Path,
    make: Callable[[Any, int, int, int], tuple[Any, dict[str, Any]]],
    settings: Any,
    seed: int,
    n_events: int,
    workers: int = 1,
    progress: bool = True,
    events_of: Callable[[dict[str, Any]], int] = lambda st: st["n_requested"],
    scheduler: str | None = None,
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Makes the chunks of a sample that the cache folder lacks, then reads every chunk back.

    Args:
        kind: the sample's name (log and progress bar).
        cache: the cache folder of these settings and seed (created if absent).
        make: ``make(settings, seed, chunk, n) -> (table, stats)``, a module-level function.
        settings: the generator settings (with ``chunk_size``).
        seed: the master seed.
        n_events: events in all chunks (:func:`chunk_list`).
        workers, progress, events_of, scheduler: as for :func:`run_chunks`.

    Returns:
        The chunks' tables and their statistics (``chunk_stats`` of each file's metadata), in chunk order.
    """
    from hepgan.exceptions import InputFileError
    from hepgan.io import read_metadata, read_table

    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputFileError(f"{cache}: cannot use the cache folder ({err.strerror})") from None
    chunks = chunk_list(int(n_events), settings.chunk_size)
    todo = [(settings, int(seed), c, n, str(cache), make) for c, n in chunks if not chunk_path(cache, c, n).exists()]
    if todo:
        log.info("%s: %d of %d chunks to generate in %s", kind, len(todo), len(chunks), cache)
        run_chunks(write_chunk, todo, int(workers), progress, kind, events_of, scheduler)
    paths = [chunk_path(cache, c, n) for c, n in chunks]
    return [read_table(p) for p in paths], [read_metadata(p)["chunk_stats"] for p in paths]


def add_sample_arguments(p: Any, events: str, chunk_size: int, events_default: int | None = None) -> None:
    """The arguments every ``hepgan sample KIND`` shares: --events, --seed, --workers, --scheduler, --format, --chunk-size, --cache-dir.

    (--out is added by the command line with the overwrite rule, :func:`hepgan.cli.add_output`.)

    Args:
        p: the sample kind's argparse parser.
        events: the help of --events (which events the file keeps).
        chunk_size: the default events per chunk.
        events_default: the default of --events (None: --events is required).
    """
    if events_default is None:
        p.add_argument("--events", type=int, required=True, help=events)
    else:
        p.add_argument("--events", type=int, default=events_default, help=f"{events} (default {events_default})")
    p.add_argument("--seed", type=int, default=1, help="master seed; each chunk gets its own recorded Pythia seed")
    p.add_argument("--workers", type=int, default=1, help="worker processes (the output does not depend on it)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run the chunks on a running Dask cluster, e.g. tcp://host:8786 "
                                                         "(needs hepgan[dask] and a cache folder the workers share)")  # fmt: skip
    p.add_argument("--format", default=None, choices=["parquet", "root"], help="output format (default: from the suffix of --out, else parquet)")
    p.add_argument("--chunk-size", type=int, default=chunk_size, help=f"events per cached chunk (default {chunk_size})")
    p.add_argument("--cache-dir", default=None, help="chunk cache root (default $HEPGAN_CACHE/samples or ~/.cache/hepgan/samples)")


def hard_process_settings(seed: int) -> list[str]:
    """The Pythia settings lines of a hard-process sample (no shower, MPI or hadronisation), quiet and seeded.

    The seed's line comes last, so that ``[:-1]`` gives the settings without it (for metadata).
    """
    return ["PartonLevel:all = off", "HadronLevel:all = off", "Print:quiet = on", "Next:numberCount = 0", "Random:setSeed = on", f"Random:seed = {seed}"]
