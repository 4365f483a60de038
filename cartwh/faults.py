"""Crash points for the crash-safety tests: ``CARTWH_CRASH_AT=<point>`` makes the process
kill itself (SIGKILL: no clean-up, no ``finally``) when it reaches that point, so a test can
stop a refresh at the same place every time instead of guessing with a timer.

Unset, a point costs one dictionary lookup. The points, in the order a refresh reaches them:
"""

from __future__ import annotations

import os
import signal

CRASH_VARIABLE = "CARTWH_CRASH_AT"

#: point -> where it is
CRASH_POINTS = {
    "raw_load": "inside a delivery's load transaction, its rows inserted, before the commit",
    "dbt": "while dbt builds, after its first node finished",
    "analysis": "after the first analysis table was staged, before the others",
    "report": "after report.html was written into the staging folder, before publication",
    "publish_tables": "after the analysis schema was published, before the files",
}


def crash_point(name: str) -> None:
    """Kill this process here if ``CARTWH_CRASH_AT`` names this point: with the programs it
    started (dbt) when it leads its process group, as a power cut or the OOM killer would."""
    if name not in CRASH_POINTS:
        raise ValueError(f"unknown crash point {name!r}")
    if os.environ.get(CRASH_VARIABLE) == name:
        if os.getpgid(0) == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
