"""Connections to the DuckDB warehouse.

DuckDB allows one writing process at a time. Every writer takes an OS file
lock beside the database first, so that concurrent refreshes queue instead of
failing with ``Could not set lock on file``.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


class WarehouseBusy(RuntimeError):
    pass


@contextmanager
def write_lock(database: Path, timeout_s: float = 600.0) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<database>.lock`` for the duration."""
    database.parent.mkdir(parents=True, exist_ok=True)
    lock_path = database.with_name(database.name + ".lock")
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WarehouseBusy(
                        f"another process has been writing {database} for {timeout_s:.0f} s"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def read_connection(database: Path) -> duckdb.DuckDBPyConnection:
    if not database.exists():
        raise FileNotFoundError(
            f"no warehouse at {database}: run `cartwh refresh` (or `make demo`) first"
        )
    return duckdb.connect(str(database), read_only=True)


def run(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    """Execute and fetch, so that no unfinished result blocks the connection (DuckDB 2)."""
    return conn.execute(sql, params or []).fetchall()
