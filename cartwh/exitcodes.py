"""The exit statuses of every ``cartwh`` command: one source for the code, --help and README."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    #: a blocking data problem (a blocking check, a query or mapping that fails), or the
    #: refresh failed
    FAILED = 1
    #: bad usage or configuration (argparse's own usage errors exit 2 too)
    USAGE = 2
    #: the refresh completed with data warnings a data manager must act on
    DATA_WARNINGS = 3
    #: the warehouse stayed busy (a refresh, or another program) longer than the wait allowed
    BUSY = 4


MEANINGS = {
    ExitCode.OK: "ok",
    ExitCode.FAILED: "blocking data problem, or the refresh failed",
    ExitCode.USAGE: "usage or configuration error",
    ExitCode.DATA_WARNINGS: "refresh completed with data warnings (see --accept-data-warnings)",
    ExitCode.BUSY: "warehouse busy: a refresh or another program kept it beyond the wait",
}


def epilog() -> str:
    return "exit statuses:\n" + "\n".join(f"  {int(c)}  {m}" for c, m in MEANINGS.items())
