"""Running independent tasks: in this process, on a local Dask cluster, or on an existing Dask cluster.

:func:`map_tasks` is the one place where hepgan spreads work (sample chunks, one input file of
``hepgan apply`` each). A task is a module-level function of one argument; it writes its own
output atomically and returns a small summary, so a task that is lost (a worker killed) and run
again, or a rerun after an interruption, loses nothing that was finished.

* ``workers == 1`` and no scheduler: every task runs here, in order.
* ``workers > 1`` and no scheduler: a ``dask.distributed.LocalCluster`` of ``workers`` processes of
  one thread each, made and closed here (without Dask installed: a spawned ``ProcessPoolExecutor``).
* ``scheduler``: a ``tcp://host:port`` address (or a scheduler file) of a running Dask cluster,
  e.g. one that ``dask-jobqueue`` started on HTCondor or Slurm; the workers must see the same files.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hepgan.exceptions import ConfigError, MissingExtraError

__all__ = ["map_tasks", "have_dask", "check_scheduler", "CONNECT_TIMEOUT"]

log = logging.getLogger("hepgan")

#: Seconds to wait for a Dask scheduler given by address before giving up (``HEPGAN_DASK_TIMEOUT`` overrides).
CONNECT_TIMEOUT = 10.0

#: Dask's retries of a task that raised; a task whose worker died is rescheduled by Dask itself
#: (its ``distributed.scheduler.allowed-failures``, 3 by default).
RETRIES = 2


def have_dask() -> bool:
    """True when ``dask.distributed`` can be imported."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def check_scheduler(scheduler: str | None) -> None:
    """Raises ConfigError unless ``scheduler`` is None, a Dask address (``tcp://host:port``, ...) or an existing scheduler file;
    MissingExtraError when Dask is not installed."""
    if scheduler is None:
        return
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ConfigError(f"--scheduler: expected a Dask scheduler address such as tcp://host:8786, got {scheduler!r}")
    if "://" not in scheduler and not Path(scheduler).is_file():
        raise ConfigError(f"--scheduler {scheduler}: expected an address such as tcp://host:8786 or a scheduler file that exists")
    if not have_dask():
        raise MissingExtraError("dask[distributed]", "dask")


def _timeout() -> float:
    try:
        return float(os.environ.get("HEPGAN_DASK_TIMEOUT", CONNECT_TIMEOUT))
    except ValueError:
        return CONNECT_TIMEOUT


def map_tasks(
    fn: Callable[[Any], Any],
    jobs: Iterable[Any],
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
    desc: str = "tasks",
    on_result: Callable[[Any], None] | None = None,
) -> list[Any]:
    """Runs ``fn(job)`` for every job and returns the results in the order the tasks finished.

    Args:
        fn: a module-level function (it is pickled to the workers by reference).
        jobs: its arguments, one per task (picklable).
        workers: 1: in this process; more: a local cluster of that many single-threaded processes.
        scheduler: address or scheduler file of a running Dask cluster (``workers`` is then ignored).
        progress: a tqdm bar of finished tasks on stderr.
        desc: the bar's label.
        on_result: called with each result as its task finishes (in this process).

    Raises:
        ConfigError: the scheduler cannot be reached.
        MissingExtraError: a scheduler is given and Dask is not installed.
        Whatever a task raised (after Dask's retries), once the other tasks are cancelled.
    """
    from tqdm import tqdm

    jobs = list(jobs)
    check_scheduler(scheduler)
    results: list[Any] = []
    bar = tqdm(total=len(jobs), unit="task", file=sys.stderr, disable=not progress or not jobs, desc=desc)

    def done(r: Any) -> None:
        results.append(r)
        if on_result is not None:
            on_result(r)
        bar.update(1)

    try:
        if not jobs:
            return results
        if scheduler is None and int(workers) == 1:
            for j in jobs:
                done(fn(j))
        elif scheduler is None and not have_dask():
            log.debug("executor: Dask is not installed; %d tasks in %d spawned processes", len(jobs), workers)
            _process_pool(fn, jobs, int(workers), done)
        else:
            _dask(fn, jobs, int(workers), scheduler, done)
    finally:
        bar.close()
    return results


def _process_pool(fn: Callable, jobs: list, workers: int, done: Callable) -> None:
    import concurrent.futures as cf
    import multiprocessing as mp

    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(fn, j) for j in jobs]
        try:
            for f in cf.as_completed(futures):
                done(f.result())
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _dask(fn: Callable, jobs: list, workers: int, scheduler: str | None, done: Callable) -> None:
    import contextlib

    from distributed import Client, LocalCluster, as_completed

    with contextlib.ExitStack() as stack:
        # Dask logs its cluster's life at INFO through the root handler: shown with -v (hepgan at DEBUG) only
        dlog = logging.getLogger("distributed")
        stack.callback(dlog.setLevel, dlog.level)
        if not log.isEnabledFor(logging.DEBUG):
            dlog.setLevel(logging.WARNING)
        if scheduler is None:
            log.debug("executor: a local Dask cluster of %d processes for %d tasks", workers, len(jobs))
            # dashboard_address ":0": a free port (None still binds 8787 for the scheduler's HTTP routes, and warns when taken)
            cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                       dashboard_address=":0", silence_logs=logging.ERROR))  # fmt: skip
            client = stack.enter_context(Client(cluster))
        else:
            client = stack.enter_context(_connect(scheduler))
            log.info("executor: %d tasks on the Dask cluster at %s (%d workers)", len(jobs), scheduler,
                     len(client.scheduler_info().get("workers", {})))  # fmt: skip
        # pure=False: every job runs, even two equal ones; retries: a task that raised runs again
        futures = [client.submit(fn, j, pure=False, retries=RETRIES) for j in jobs]
        try:
            for f in as_completed(futures):
                done(f.result())
        except BaseException:
            client.cancel(futures)
            raise


def _connect(scheduler: str):
    from distributed import Client

    timeout = _timeout()
    try:
        if "://" in scheduler:
            return Client(scheduler, timeout=timeout)
        return Client(scheduler_file=scheduler, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as err:
        why = " ".join(str(err).split()) or type(err).__name__
        raise ConfigError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler within {timeout:g} s ({why})") from None
