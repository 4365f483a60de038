"""Independent calls side by side in processes of their own: the figures, and the robustness
analysis' model fits at registry scale. The results do not depend on the number of processes
(beyond the last digits of the sums that OpenBLAS splits among its threads)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

__all__ = ["cpu_count", "in_processes"]

T = TypeVar("T")


def cpu_count() -> int:
    """The CPUs this process may use (Linux: its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0))


def in_processes(calls: Sequence[Callable[[], T]], workers: int | None = None) -> list[T]:
    """The result of each call, in the order of ``calls``.

    Parameters
    ----------
    calls : sequence of callables without arguments
        Picklable (module-level functions, ``functools.partial`` of them); started in this
        order, so the longest should come first.
    workers : int, optional
        Processes (default :func:`cpu_count`, at most one per call); 1 runs the calls here,
        one after the other.

    Returns
    -------
    list
    """
    workers = min(len(calls), workers or cpu_count())
    if workers <= 1:
        return [call() for call in calls]
    # spawn, not fork: the refresh process runs Dagster's and DuckDB's threads
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=spawn) as pool:
        with _one_blas_thread_in_started_processes():
            futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]


@contextlib.contextmanager
def _one_blas_thread_in_started_processes():
    """The processes started meanwhile (a pool starts them as calls are submitted) run
    OpenBLAS with one thread: its threads wait for work spinning, and two processes of two
    threads on two CPUs were slower than one process (the robustness fits at 100,000 patients:
    19.6 s vs 16.1 s; one thread each: 12.0 s). This process's BLAS has started already."""
    saved = os.environ.get(BLAS_THREADS)
    os.environ[BLAS_THREADS] = "1"
    try:
        yield
    finally:
        if saved is None:
            del os.environ[BLAS_THREADS]
        else:
            os.environ[BLAS_THREADS] = saved


#: read by OpenBLAS (numpy's and scipy's BLAS) when it loads
BLAS_THREADS = "OPENBLAS_NUM_THREADS"
