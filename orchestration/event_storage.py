"""Dagster's SQLite event log with one engine per database file instead of one per event.

Dagster's ``SqliteEventLogStorage`` creates an SQLAlchemy engine, opens a connection and
compiles its statements afresh for every event it stores; a demo refresh stores about 1,900
events (a planned and a result event for each of ~400 dbt tests), and this made up a third of
the refresh's time (py-spy; issue 13); it also opened an engine to ask whether a table exists
before each asset event and check evaluation. This storage keeps the same files, tables and layout
(``history/runs/<run id>.db`` and ``index.db``: the run history of earlier refreshes stays
readable, the Dagster UI reads it the same way) and reuses one engine, with its connection pool
and statement cache, per file. SQLite's own locking keeps other processes (the UI, a second
refresh waiting for the lock) safe; ``synchronous=NORMAL`` with the WAL journal Dagster uses keeps
every commit through a killed process and drops the fsync per commit (a power cut can lose the
newest events of the run history, not the warehouse, which is DuckDB).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine


def _sqlite_commits_without_fsync(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` reusing one engine per shard (see the module docstring).

    Configured in the instance's ``dagster.yaml`` (``orchestration.refresh.INSTANCE_CONFIG``)
    with the same ``base_dir`` as Dagster's default.
    """

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: dict[str, Engine] = {}
        self._engines_lock = threading.Lock()
        self._tables: set[str] = set()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            return self._engines.get(shard) or self._new_engine(shard)

    def _new_engine(self, shard: str) -> Engine:
        engine = create_engine(
            self.conn_string_for_shard(shard),
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_commits_without_fsync)
        self._engines[shard] = engine
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        """Whether the index has ``table_name``: asked before every asset event and check
        evaluation (Dagster's opens an engine each time); a table, once there, stays (migrations
        only add tables)."""
        if table_name not in self._tables:
            # not through _connect: Dagster asks while it holds the storage's lock
            with self._engine(INDEX_SHARD_NAME).connect() as conn:
                if conn.dialect.has_table(conn, table_name):
                    self._tables.add(table_name)
        return table_name in self._tables

    def delete_events(self, run_id: str) -> None:
        super().delete_events(run_id)
        self._forget(run_id)

    def wipe(self) -> None:
        for shard in list(self._engines):
            self._forget(shard)
        self._tables.clear()
        super().wipe()

    def _forget(self, shard: str) -> None:
        engine = self._engines.pop(shard, None)
        if engine is not None:
            engine.dispose()

    def dispose(self) -> None:
        for shard in list(self._engines):
            self._forget(shard)
        super().dispose()
