"""analysis_assets.processes: calls side by side in spawned processes."""

from __future__ import annotations

import os
from functools import partial

from analysis_assets.processes import BLAS_THREADS, in_processes


def _environment(name: str) -> tuple[int, str | None]:
    return os.getpid(), os.environ.get(name)


def test_results_come_in_the_order_of_the_calls_whatever_the_workers():
    calls = [partial(pow, 2, k) for k in range(7)]
    assert (
        in_processes(calls, workers=2) == in_processes(calls, workers=1) == [2**k for k in range(7)]
    )


def test_the_processes_run_one_blas_thread_and_this_one_keeps_its_setting(monkeypatch):
    monkeypatch.delenv(BLAS_THREADS, raising=False)
    seen = in_processes([partial(_environment, BLAS_THREADS)] * 4, workers=2)
    assert {pid for pid, _ in seen} - {os.getpid()}  # other processes ran them
    assert {value for _, value in seen} == {"1"}
    assert BLAS_THREADS not in os.environ
    monkeypatch.setenv(BLAS_THREADS, "3")
    in_processes([partial(_environment, BLAS_THREADS)] * 2, workers=2)
    assert os.environ[BLAS_THREADS] == "3"
    # one worker: the calls run here, with this process's setting
    assert in_processes([partial(_environment, BLAS_THREADS)], workers=1) == [(os.getpid(), "3")]
