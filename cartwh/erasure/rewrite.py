"""Rewriting the warehouse file so that deleted values are physically gone.

DuckDB marks the blocks of deleted rows free but leaves their bytes in the file until they are
reused. :func:`rewrite_database` copies the database (every schema, table, view and macro)
into a new file beside it with ``COPY FROM DATABASE``, checks that every table has the same
rows, and swaps the new file in with :func:`os.replace` (atomic: a reader sees the old file or
the new one, never half of either). The caller holds the writers' lock and no connection to
the file; the write-ahead log is checkpointed into the old file before the copy, and removed.
"""

from __future__ import annotations

import os
from pathlib import Path

from cartwh.warehouse import connect_for_writing, run

REWRITE_ALIAS = "cartwh_rewrite"


class RewriteError(RuntimeError):
    """The copy does not match the database; the original file was kept."""


def _row_counts(conn, database: str) -> dict[str, int]:
    tables = run(
        conn,
        "select schema_name, table_name from duckdb_tables() where database_name = ? order by all",
        [database],
    )
    return {
        f"{schema}.{table}": run(conn, f'select count(*) from "{database}"."{schema}"."{table}"')[
            0
        ][0]
        for schema, table in tables
    }


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def rewrite_database(database: Path) -> None:
    """Replace ``database`` by a fresh copy of its content (no free blocks, no old values).

    Parameters
    ----------
    database : Path
        The DuckDB file; the caller holds the writers' lock and has closed its connections.

    Raises
    ------
    RewriteError
        The copy's tables or rows differ from the original (the original is kept).
    """
    fresh = database.with_name(database.name + ".rewrite")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)
    conn = connect_for_writing(database)
    try:
        run(conn, "checkpoint")
        source = run(conn, "select current_database()")[0][0]
        run(conn, f"attach '{fresh}' as {REWRITE_ALIAS}")
        run(conn, f'copy from database "{source}" to {REWRITE_ALIAS}')
        before, after = _row_counts(conn, source), _row_counts(conn, REWRITE_ALIAS)
        run(conn, f"detach {REWRITE_ALIAS}")
    finally:
        conn.close()
    if before != after:
        fresh.unlink(missing_ok=True)
        differ = sorted(set(before.items()) ^ set(after.items()))[:3]
        raise RewriteError(f"the copy of {database} differs from it ({differ}); the file was kept")
    _fsync(fresh)
    # closed cleanly, the old file has no log left; one that did would be replayed on the copy
    database.with_name(database.name + ".wal").unlink(missing_ok=True)
    os.replace(fresh, database)
    _fsync(database.parent)
