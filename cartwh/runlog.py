"""The full log of each refresh: one file per run under ``<work>/logs`` (the last ``keep_runs``
kept), and the process's output sent into it while the run lasts."""

from __future__ import annotations

import errno
import os
import re
import sys
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from cartwh.settings import Settings

LOG_PREFIX = "refresh-"


def new_log_path(work: Path) -> Path:
    folder = work / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path, n = folder / f"{LOG_PREFIX}{stamp}.log", 1
    while path.exists():
        n += 1
        path = folder / f"{LOG_PREFIX}{stamp}-{n}.log"
    return path


def prune_logs(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` refresh logs (the names sort by time)."""
    logs = sorted(folder.glob(f"{LOG_PREFIX}*.log"), key=lambda p: (p.stat().st_mtime, p.name))
    removed = logs[: max(len(logs) - keep, 0)]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


class _Tee:
    """A text stream writing to two streams (``--verbose``: the log file and the terminal)."""

    def __init__(self, *streams: TextIO):
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()

    def isatty(self) -> bool:
        return False


#: a refresh's log is a few thousand lines; past this, something repeats (a write failing
#: over and over): the rest is left out, with one line saying so
MAX_LOG_LINES = 20_000


class _BoundedLog:
    """The log file as Python code writes it: at most :data:`MAX_LOG_LINES` lines, and a
    write that fails (the disk is full) is not tried again, so a failure cannot flood it."""

    def __init__(self, log: TextIO):
        self.log = log
        self.lines = 0
        self.closed_for = None  # why nothing more is written

    def write(self, text: str) -> int:
        if self.closed_for is None:
            try:
                self.lines += text.count("\n")
                if self.lines > MAX_LOG_LINES:
                    self.closed_for = "limit"
                    self.log.write(
                        f"\n[cartwh: the log reached {MAX_LOG_LINES:,} lines; the rest of "
                        "this refresh's output is left out]\n"
                    )
                    self.log.flush()
                else:
                    self.log.write(text)
            except OSError:
                self.closed_for = "error"
        return len(text)

    def flush(self) -> None:
        if self.closed_for != "error":
            try:
                self.log.flush()
            except OSError:
                self.closed_for = "error"

    def fileno(self) -> int:
        return self.log.fileno()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return getattr(self.log, "encoding", "utf-8")


def _terminal(stream: TextIO, fd: int, stack: list) -> TextIO:
    """``stream`` itself, or, when it writes to the process's real ``fd``, a stream on a copy
    of that fd (the fd itself is about to point at the log file)."""
    try:
        real = stream.fileno() == fd
    except (AttributeError, OSError, ValueError):
        real = False
    if not real:
        return stream
    stream.flush()
    copy = os.fdopen(os.dup(fd), "w", buffering=1, encoding=stream.encoding, errors="replace")
    stack.append(copy)
    return copy


@contextmanager
def output_into(log: TextIO, verbose: bool = False):
    """Send this process's stdout and stderr (Python's streams and the file descriptors, which
    dagster-dbt and subprocesses write to) into ``log``; yields (out, err), the streams of the
    terminal from before. ``verbose`` also copies what Python writes to the terminal."""
    opened: list[TextIO] = []
    out = _terminal(sys.stdout, 1, opened)
    err = _terminal(sys.stderr, 2, opened)
    saved_fds = []
    for fd in (1, 2):
        try:
            saved_fds.append((fd, os.dup(fd)))
        except OSError:  # no such fd (a daemon without stdout)
            continue
        os.dup2(log.fileno(), fd)
    saved_streams = sys.stdout, sys.stderr
    bounded = _BoundedLog(log)
    sys.stdout = _Tee(bounded, out) if verbose else bounded
    sys.stderr = _Tee(bounded, err) if verbose else bounded
    try:
        yield out, err
    finally:
        sys.stdout, sys.stderr = saved_streams
        bounded.flush()
        for fd, saved in saved_fds:
            os.dup2(saved, fd)
            os.close(saved)
        for stream in opened:
            stream.flush()
            stream.close()


#: what a write that hit a full disk or the file size limit (RLIMIT_FSIZE, quotas) says, in
#: Python (EFBIG, ENOSPC, EDQUOT), DuckDB, SQLite (Dagster's history) and dbt
DISK_FULL_ERRNOS = (errno.EFBIG, errno.ENOSPC, errno.EDQUOT)
DISK_FULL_TEXT = re.compile(
    r"File too large|No space left on device|Disk quota exceeded|database or disk is full"
    r"|disk I/O error|\[Errno (?:27|28|122)\]",
    re.IGNORECASE,
)
_QUOTED_PATH = re.compile(r"""["'](/[^"']+)["']""")


def disk_full_line(problem: BaseException | str, settings: Settings) -> str | None:
    """One line for a write that failed because the disk is full (or a file size limit was
    reached), naming what was being written; None for any other problem.

    ``problem`` is an exception (its causes and contexts are looked at too) or an error's text
    (a failed Dagster step's message).
    """
    texts: list[str] = []
    filename = None
    seen: set[int] = set()
    current: BaseException | str | None = problem
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, str):
            texts.append(current)
            break
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            texts.append("File too large")
            filename = filename or current.filename
        texts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    text = "\n".join(texts)
    if not DISK_FULL_TEXT.search(text):
        return None
    quoted = _QUOTED_PATH.search(text)
    if filename:
        what = str(filename)
    elif quoted:
        what = quoted.group(1)
    elif "sqlite" in text.lower() or "sqlalchemy" in text.lower():
        what = f"the Dagster run history in {settings.dagster_home}"
    elif "duckdb" in text.lower() or "IO Error" in text:
        what = f"the warehouse {settings.warehouse}"
    else:
        what = f"the warehouse, its work folder {settings.work} or the output {settings.output}"
    return f"disk full or file size limit reached while writing {what}; free space and rerun"
