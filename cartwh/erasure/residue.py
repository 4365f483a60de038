"""The files beside the warehouse searched for an erased patient's identifiers, and cleaned.

After the rebuild, the outputs (re-rendered), the work folder (logs, dbt's target and logs,
state files) and the Dagster home (run storage: event logs with check descriptions and
metadata) are searched byte-wise for the patient's centre id, names and MRNs (UTF-8). What
names them is cleaned: a text file (a log line naming the patient in a message about bad
input) gets each identifier replaced by ``[erased patient]``, rewritten atomically; a Dagster
run whose event log names them is deleted from the run storage with its event log file, and
the SQLite files are vacuumed (SQLite, like DuckDB, keeps deleted rows in free pages).
Whatever still names the patient afterwards is reported, for a person to remove.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from cartwh.settings import Settings

REDACTED = b"[erased patient]"
#: files rewritten with the identifiers replaced (text the warehouse writes: logs, state, CSV)
TEXT_SUFFIXES = {".log", ".txt", ".json", ".csv", ".html", ".svg", ".yml", ".yaml", ".sql", ".md"}
SQLITE_SUFFIX = ".db"


@dataclass
class Residue:
    """What the search found: cleaned files and runs, and files that still name the patient."""

    redacted: list[Path] = field(default_factory=list)
    runs_deleted: list[str] = field(default_factory=list)
    remaining: list[Path] = field(default_factory=list)


def _needles(identifiers: list[str]) -> list[bytes]:
    # the longest first, so that a name containing the id is replaced whole
    return sorted({i.encode("utf-8") for i in identifiers if i.strip()}, key=len, reverse=True)


def files_naming(roots: list[Path], identifiers: list[str], skip: set[Path]) -> list[Path]:
    """Every regular file under ``roots`` whose bytes contain one of ``identifiers``."""
    needles = _needles(identifiers)
    found: set[Path] = set()
    for root in roots:
        if not root.is_dir():
            continue
        for folder, _, names in os.walk(root):
            for name in names:
                path = Path(folder) / name
                if path in skip or path.is_symlink() or not path.is_file():
                    continue
                data = path.read_bytes()
                if any(needle in data for needle in needles):
                    found.add(path)
    return sorted(found)


def _redact(path: Path, needles: list[bytes]) -> None:
    data = path.read_bytes()
    for needle in needles:
        data = data.replace(needle, REDACTED)
    partial = path.with_name(path.name + ".erasing")
    partial.write_bytes(data)
    os.replace(partial, path)


def _delete_dagster_runs(settings: Settings, run_ids: list[str]) -> None:
    """Delete the runs from the run storage (those it still knows: pruning leaves the event log
    files of the runs it deletes)."""
    from orchestration.refresh import dagster_instance

    with dagster_instance(settings) as instance:
        for run_id in run_ids:
            if instance.has_run(run_id):
                instance.delete_run(run_id)


def _database_of(path: Path) -> Path | None:
    """The SQLite database a file belongs to (itself, or the database of a -wal/-shm file)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        if path.name.endswith(SQLITE_SUFFIX + suffix):
            return path.with_name(path.name[: len(path.name) - len(suffix)])
    return None


def _sqlite_files(database: Path) -> list[Path]:
    return [database.with_name(database.name + s) for s in ("", "-wal", "-shm", "-journal")]


def _vacuum(path: Path) -> None:
    """Rewrite the database without free pages, its write-ahead log checkpointed and emptied."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("pragma wal_checkpoint(truncate)")
        connection.execute("vacuum")
        connection.execute("pragma wal_checkpoint(truncate)")
    finally:
        connection.close()


def clean_residue(settings: Settings, identifiers: list[str]) -> Residue:
    """Search the outputs, work folder and Dagster home for ``identifiers`` and clean them.

    Parameters
    ----------
    settings : Settings
        The warehouse's folders.
    identifiers : list of str
        The erased patient's centre id, names and MRNs.

    Returns
    -------
    Residue
        The files redacted, the Dagster runs deleted and the files that still name the patient.
    """
    roots = [settings.output, settings.work, settings.dagster_home]
    skip = {settings.warehouse, settings.warehouse.with_name(settings.warehouse.name + ".wal")}
    residue = Residue()
    needles = _needles(identifiers)
    hits = files_naming(roots, identifiers, skip)
    frozen = settings.work / "locks"  # data locks keep deliveries as sent: reported, not changed
    for path in hits:
        if path.suffix in TEXT_SUFFIXES and frozen not in path.parents:
            _redact(path, needles)
            residue.redacted.append(path)
    home = settings.dagster_home
    databases = {_database_of(p) for p in hits if home in p.parents and _database_of(p)}
    if databases:
        event_logs = sorted(p for p in databases if p.parent.name == "runs" and p.stem != "index")
        _delete_dagster_runs(settings, [p.stem for p in event_logs])
        for path in event_logs:  # a run's own event log (also of runs pruned before)
            for part in _sqlite_files(path):
                part.unlink(missing_ok=True)
        residue.runs_deleted = [p.stem for p in event_logs]
        for path in sorted(home.rglob(f"*{SQLITE_SUFFIX}")):
            _vacuum(path)
    residue.remaining = files_naming(roots, identifiers, skip)
    return residue
