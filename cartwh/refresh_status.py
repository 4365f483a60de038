"""The status of the last refresh, in ``<work>/refresh-status.json``: started, finished or
failed (with the step), and which refresh produced the results users see.

A refresh records ``started`` when its run begins and ``finished`` when it publishes; ``cartwh
refresh`` records ``failed`` with the failed step. A refresh that was killed, or launched from
the Dagster UI and failed, stays ``started``: once no process runs it any more it "did not
finish". :func:`stale_notice` is the line the report and ``cartwh quality`` show then.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cartwh.settings import Settings

STATUS_FILE = "refresh-status.json"


@dataclass(frozen=True)
class RefreshStatus:
    state: str  # started | finished | failed
    run_id: str
    started_at: str  # ISO 8601, UTC
    pid: int | None = None
    finished_at: str | None = None
    failed_step: str | None = None
    published_run_id: str | None = None  # the refresh whose results users see
    published_at: str | None = None  # when that refresh started
    plan: str | None = None  # the landing state the run loads (cartwh.ingest.landing_state)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def status_path(work: Path) -> Path:
    return work / STATUS_FILE


def read_status(work: Path) -> RefreshStatus | None:
    try:
        data = json.loads(status_path(work).read_text(encoding="utf-8"))
        return RefreshStatus(**data)
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


def _write(work: Path, status: RefreshStatus) -> None:
    work.mkdir(parents=True, exist_ok=True)
    temporary = status_path(work).with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(asdict(status), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, status_path(work))


def record_started(work: Path, run_id: str, plan: str | None = None) -> None:
    previous = read_status(work)
    if previous is not None and previous.run_id == run_id and previous.state == "started":
        return
    _write(
        work,
        RefreshStatus(
            state="started",
            run_id=run_id,
            started_at=_now(),
            pid=os.getpid(),
            published_run_id=previous.published_run_id if previous else None,
            published_at=previous.published_at if previous else None,
            plan=plan,
        ),
    )


def record_published(work: Path, run_id: str) -> None:
    """The run published: its results are what users see, and the landing state it loaded is
    what the next refresh compares with."""
    from cartwh.ingest.landing_state import record_published_plan

    current = read_status(work)
    ours = current is not None and current.run_id == run_id
    started = current.started_at if ours else _now()
    record_published_plan(work, current.plan if ours else None, run_id, started)
    _write(
        work,
        RefreshStatus(
            state="finished",
            run_id=run_id,
            started_at=started,
            pid=os.getpid(),
            finished_at=_now(),
            published_run_id=run_id,
            published_at=started,
            plan=current.plan if ours else None,
        ),
    )


def record_failed(work: Path, run_id: str, step: str) -> None:
    current = read_status(work)
    if current is None or current.run_id != run_id:
        current = RefreshStatus(
            state="started",
            run_id=run_id,
            started_at=_now(),
            published_run_id=current.published_run_id if current else None,
            published_at=current.published_at if current else None,
        )
    _write(work, replace(current, state="failed", finished_at=_now(), failed_step=step))


def _readable(timestamp: str | None) -> str:
    if not timestamp:
        return "an unknown time"
    return datetime.fromisoformat(timestamp).strftime("%Y-%m-%d %H:%M UTC")


def stale_notice(status: RefreshStatus | None, running: bool) -> str | None:
    """The line that says the results are older than the last refresh, or None when the last
    refresh published them (or one is running now)."""
    if status is None or status.state == "finished" or (status.state == "started" and running):
        return None
    what = (
        f"failed at {status.failed_step}"
        if status.state == "failed" and status.failed_step
        else "did not finish"
    )
    if status.published_run_id is None:
        results = "no refresh has published results yet"
    else:
        results = f"these results are from the refresh of {_readable(status.published_at)}"
    return f"The refresh of {_readable(status.started_at)} {what}: {results}."


def unfinished(status: RefreshStatus | None, writer_active: bool) -> bool:
    """A refresh recorded as started that nothing runs any more (killed, or a UI run that
    failed): its lock is free and its process gone."""
    from cartwh.warehouse import process_alive

    return (
        status is not None
        and status.state == "started"
        and not writer_active
        and not process_alive(status.pid)
    )


def last_refresh_notice(settings: Settings) -> str | None:
    """The stale-results line for ``cartwh quality``; a refresh that did not finish is named
    at the top of the published report too (its own process could not do it)."""
    from cartwh.publish import REPORT, mark_report
    from cartwh.warehouse import writer_active

    status = read_status(settings.work)
    running = writer_active(settings.warehouse)
    if unfinished(status, running):
        notice = stale_notice(status, running=False)
        mark_report(settings.output / REPORT, notice)
        return notice
    return stale_notice(status, running=running or _process_alive(status))


def _process_alive(status: RefreshStatus | None) -> bool:
    from cartwh.warehouse import process_alive

    return status is not None and process_alive(status.pid)
