"""Run many small fits in parallel: one process per core, one thread per process.

Small fits do not speed up with more threads, but two single-threaded processes on two cores
finish twice as many. Processes are spawned (not forked) so no worker inherits a half-used
OpenMP pool from the parent.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import warnings
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

Job = tuple[str, dict[str, Any]]  # (name of a function in benchmarks.fits, its keyword arguments)


def _quiet_worker() -> None:
    import torch

    from . import fits  # noqa: F401  (Lightning sets its loggers' levels on import: import first)

    torch.set_num_threads(1)
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def _call(job: Job) -> Any:
    from . import fits

    name, kwargs = job
    return getattr(fits, name)(**kwargs)


def workers() -> int:
    return int(os.environ.get("BENCH_WORKERS", os.cpu_count() or 1))


def run_jobs(jobs: Iterable[Job], processes: int | None = None) -> list[Any]:
    """Results of ``jobs`` in order."""
    jobs = list(jobs)
    processes = processes or workers()
    if processes == 1:  # in this process, whose settings are not ours to change: warnings as quiet as a worker's
        with warnings.catch_warnings():  # ... while the jobs run, then as they were
            warnings.simplefilter("ignore")
            return [_call(job) for job in jobs]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context, initializer=_quiet_worker) as pool:
        return list(pool.map(_call, jobs, chunksize=1))
