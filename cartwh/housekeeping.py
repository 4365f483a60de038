"""Bounded disk: what each refresh leaves behind is kept for the last ``keep`` refreshes only.

dagster-dbt gives every dbt invocation its own target folder (``<op>-<run id[:7]>-<uuid[:7]>``,
tens of MB: compiled SQL, run results, the debug log); Dagster keeps every run's events and
logs under DAGSTER_HOME.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

#: a dagster-dbt per-invocation target folder
INVOCATION_FOLDER = re.compile(r"[A-Za-z0-9_]+-[0-9a-f]{7}-[0-9a-f]{7}")
#: a run that looks unfinished is left alone this long (it may still be running)
UNFINISHED_GRACE_S = 6 * 3600


def prune_dbt_targets(target: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` per-invocation folders under ``target``."""
    if not target.is_dir():
        return []
    folders = [p for p in target.iterdir() if p.is_dir() and INVOCATION_FOLDER.fullmatch(p.name)]
    folders.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    removed = folders[keep:]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed


def prune_dagster_runs(instance, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` runs with their events, event database and captured
    logs; an unfinished run is kept while it may still be running."""
    removed = []
    now = time.time()
    for record in instance.get_run_records()[keep:]:
        run = record.dagster_run
        started = record.start_time or record.create_timestamp.timestamp()
        if not run.is_finished and now - started < UNFINISHED_GRACE_S:
            continue
        instance.delete_run(run.run_id)
        _delete_check_executions(instance, run.run_id)
        instance.compute_log_manager.delete_logs(prefix=[run.run_id])
        _delete_event_database(instance, run.run_id)
        removed.append(run.run_id)
    return removed


def _delete_check_executions(instance, run_id: str) -> None:
    """``delete_run`` leaves the run's asset check executions in the SQL event index (about
    600 rows, 2.4 MB, per demo refresh); Dagster has no public call for them."""
    from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable

    storage = instance.event_log_storage
    if hasattr(storage, "index_connection"):
        with storage.index_connection() as conn:
            conn.execute(
                AssetCheckExecutionsTable.delete().where(
                    AssetCheckExecutionsTable.c.run_id == run_id
                )
            )


def _delete_event_database(instance, run_id: str) -> None:
    """The default SQLite event storage keeps one database file per run, emptied but not
    removed by ``delete_run``."""
    base = getattr(instance.event_log_storage, "_base_dir", None)
    if base:
        for suffix in (".db", ".db-wal", ".db-shm"):
            Path(base, run_id + suffix).unlink(missing_ok=True)
