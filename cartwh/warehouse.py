"""Connections to the DuckDB warehouse, and who may use it when.

DuckDB allows one writing process, or any number of reading processes, at a time; a process
that cannot open the file fails at once. So that refreshes and readers queue instead of
failing, everyone who goes through cartwh takes an OS file lock beside the database first
(``<database>.lock``): writers exclusively, cartwh's readers (``cartwh sql``, ``cartwh quality``,
the summaries) shared. Programs that do not know this lock (a plain DuckDB session on the file)
are waited for when a writer connects (:func:`connect_for_writing`).

``flock`` locks belong to open files, so two acquisitions in one process on two descriptors
would block each other (a refresh reads the warehouse in its analysis steps while it holds the
writer lock). Within a process the lock is therefore taken once and shared: a nested
acquisition joins the lock the process already holds (a shared request inside an exclusive
one changes nothing; an exclusive one inside a shared one upgrades it until it ends).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import duckdb

#: the one-line message a reader shows while a refresh holds the warehouse
REFRESHING = "the warehouse is being refreshed; waiting…"


#: DuckDB configuration of every connection this process opens (:func:`configure`); one for
#: the process, as DuckDB refuses a second connection to an open file with another one
_CONFIG: dict[str, str] = {}


def configure(memory_limit: str) -> None:
    """Set DuckDB's ``memory_limit`` of every warehouse connection this process opens from now
    (``CARTWH_DUCKDB_MEMORY``; dbt reads it from its profile)."""
    _CONFIG["memory_limit"] = memory_limit


class WarehouseBusy(RuntimeError):
    """The warehouse stayed busy longer than the caller would wait; the message says why."""


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


@dataclass
class _HeldLock:
    handle: IO[str]
    shared: int = 0
    exclusive: int = 0


_held: dict[Path, _HeldLock] = {}
_held_guard = threading.RLock()


def _flock_waiting(
    held: _HeldLock,
    mode: int,
    deadline: float,
    on_wait: Callable[[float], None],
    busy_message: str,
) -> None:
    started = time.monotonic()
    while True:
        try:
            fcntl.flock(held.handle.fileno(), mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise WarehouseBusy(busy_message) from None
            on_wait(time.monotonic() - started)
            time.sleep(0.2)


@contextmanager
def _lock(
    database: Path,
    exclusive: bool,
    timeout_s: float,
    on_wait: Callable[[float], None],
    busy_message: str,
) -> Iterator[None]:
    key = lock_path(database.resolve())
    deadline = time.monotonic() + timeout_s
    with _held_guard:
        held = _held.get(key)
        if held is None:
            key.parent.mkdir(parents=True, exist_ok=True)
            held = _HeldLock(open(key, "a+"))  # noqa: SIM115 - closed when the last holder ends
            try:
                _flock_waiting(
                    held,
                    fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH,
                    deadline,
                    on_wait,
                    busy_message,
                )
            except BaseException:
                held.handle.close()
                raise
            _held[key] = held
        elif exclusive and not held.exclusive:
            # not atomic: while it waits, flock has dropped this process's shared lock
            _flock_waiting(held, fcntl.LOCK_EX, deadline, on_wait, busy_message)
        if exclusive:
            held.exclusive += 1
        else:
            held.shared += 1
    try:
        yield
    finally:
        with _held_guard:
            if exclusive:
                held.exclusive -= 1
            else:
                held.shared -= 1
            if not held.exclusive and not held.shared:
                fcntl.flock(held.handle.fileno(), fcntl.LOCK_UN)
                held.handle.close()
                del _held[key]
            elif exclusive and not held.exclusive:
                fcntl.flock(held.handle.fileno(), fcntl.LOCK_SH)  # back to the readers inside


def _every(seconds: float, log: Callable[[str], None] | None, message: Callable[[float], str]):
    """An ``on_wait`` callback that logs ``message(waited)`` at most every ``seconds``."""
    last = [-seconds]

    def on_wait(waited: float) -> None:
        if log is not None and waited - last[0] >= seconds:
            last[0] = waited
            log(message(waited))

    return on_wait


@contextmanager
def write_lock(
    database: Path, timeout_s: float = 600.0, log: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the exclusive lock on ``<database>.lock`` for the duration (joined if this process
    holds it already); ``log`` hears every 10 s what the wait is for."""
    with _lock(
        database,
        exclusive=True,
        timeout_s=timeout_s,
        on_wait=_every(
            10.0,
            log,
            lambda waited: (
                f"waiting for the lock on {database}: another refresh or a "
                f"cartwh reader holds it ({waited:.0f} s)"
            ),
        ),
        busy_message=f"another process has been using {database} for {timeout_s:.0f} s: "
        "wait until it ends (or stop it) and try again",
    ):
        yield


def holds_lock(database: Path) -> bool:
    """Whether this process holds the lock (shared or exclusive) of ``database``."""
    with _held_guard:
        return lock_path(database.resolve()) in _held


def writer_active(database: Path) -> bool:
    """Whether another process holds the writers' lock right now (a refresh is running)."""
    if holds_lock(database):
        return False
    path = lock_path(database.resolve())
    if not path.exists():
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    return "lock" in str(exc).lower()


def _connect_waiting(
    database: Path,
    read_only: bool,
    timeout_s: float,
    on_wait: Callable[[float], None],
    busy_message: str,
    config: dict | None = None,
) -> duckdb.DuckDBPyConnection:
    """Connect, retrying with backoff while another process (not using our lock) holds the file."""
    started = time.monotonic()
    delay = 0.1
    while True:
        try:
            return duckdb.connect(
                str(database), read_only=read_only, config={**_CONFIG, **(config or {})}
            )
        except duckdb.IOException as exc:
            if not _is_lock_conflict(exc):
                raise
            waited = time.monotonic() - started
            if waited > timeout_s:
                raise WarehouseBusy(busy_message) from None
            on_wait(waited)
            time.sleep(min(delay, max(0.05, timeout_s - waited)))
            delay = min(delay * 2, 2.0)


def _readers_busy(database: Path, timeout_s: float) -> str:
    return (
        f"another program has kept {database} open for {timeout_s:.0f} s (a DuckDB session?): "
        "close it and refresh again"
    )


def _waiting_for_readers(database: Path, log: Callable[[str], None] | None):
    return _every(
        5.0, log, lambda waited: f"waiting for readers of {database} to close ({waited:.0f} s)"
    )


def connect_for_writing(
    database: Path,
    timeout_s: float = 300.0,
    log: Callable[[str], None] | None = None,
    config: dict | None = None,
) -> duckdb.DuckDBPyConnection:
    """A read-write connection, after waiting for readers that do not take our lock."""
    database.parent.mkdir(parents=True, exist_ok=True)
    return _connect_waiting(
        database,
        read_only=False,
        timeout_s=timeout_s,
        on_wait=_waiting_for_readers(database, log),
        busy_message=_readers_busy(database, timeout_s),
        config=config,
    )


def wait_until_writable(
    database: Path, timeout_s: float = 300.0, log: Callable[[str], None] | None = None
) -> None:
    """Return once this process could open ``database`` for writing (for a writer that connects
    by itself, like dbt): other programs' readers have closed it."""
    if database.exists():
        connect_for_writing(database, timeout_s, log).close()


@contextmanager
def read_connection(
    database: Path, timeout_s: float = 600.0, log: Callable[[str], None] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection under the shared lock: waits while a refresh writes (``log``
    hears :data:`REFRESHING` once), raises :class:`WarehouseBusy` after ``timeout_s``."""
    if not database.exists():
        raise FileNotFoundError(
            f"no warehouse at {database}: run `cartwh refresh` (or `make demo`) first"
        )
    told = []

    def on_wait(waited: float) -> None:
        if not told and log is not None:
            told.append(True)
            log(REFRESHING)

    busy = (
        f"the warehouse {database} was still being refreshed after {timeout_s:.0f} s: "
        "try again later (or wait longer with --wait SECONDS)"
    )
    deadline = time.monotonic() + timeout_s
    with _lock(database, exclusive=False, timeout_s=timeout_s, on_wait=on_wait, busy_message=busy):
        if _in_process_writer(database):  # its DuckDB instance is read-write
            conn = connect_for_writing(database, max(0.0, deadline - time.monotonic()), log)
        else:
            conn = _connect_waiting(
                database,
                read_only=True,
                timeout_s=max(0.0, deadline - time.monotonic()),
                on_wait=on_wait,
                busy_message=busy,
            )
        try:
            yield conn
        finally:
            conn.close()


def _in_process_writer(database: Path) -> bool:
    """Whether this process holds the writers' lock (its DuckDB instance is read-write)."""
    with _held_guard:
        held = _held.get(lock_path(database.resolve()))
        return held is not None and held.exclusive > 0


def quoted_name(name: str) -> str:
    """``name`` as a DuckDB identifier (a delivered header may hold any character)."""
    return '"' + name.replace('"', '""') + '"'


def run(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    """Execute and fetch, so that no unfinished result blocks the connection (DuckDB 2)."""
    return conn.execute(sql, params or []).fetchall()


def process_alive(pid: int | None) -> bool:
    """Whether a process with this id runs on this machine (for a refresh's recorded pid)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
