"""Terminal output of the CLI: colour and TTY detection, JSON documents, one-line stages and an
in-place progress bar."""

from __future__ import annotations

import json
import math
import os
import sys
from datetime import date, datetime
from decimal import Decimal
from typing import TextIO


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org)."""
    return (
        is_terminal(stream) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
    )


_CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}


def paint(text: str, style: str, stream: TextIO) -> str:
    return f"\x1b[{_CODES[style]}m{text}\x1b[0m" if use_colour(stream) else text


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    return str(value)


def print_json(document, stream: TextIO | None = None) -> None:
    """One JSON document on stdout (``--format json``)."""
    out = stream or sys.stdout
    out.write(json.dumps(document, default=_plain, ensure_ascii=False, indent=2) + "\n")


def _cell(value):
    if isinstance(value, (datetime, date)) or value is None:
        return value
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def frame_records(frame) -> list[dict]:
    """A data frame as JSON-ready records (missing values as null)."""
    cleaned = frame.astype(object).where(frame.notna(), None)
    return [{k: _cell(v) for k, v in row.items()} for row in cleaned.to_dict("records")]


def seconds(elapsed: float) -> str:
    return f"{elapsed:.1f} s"


class StageWriter:
    """Stage lines on ``stream``; on a terminal a transient status line (a bar for "n of m")
    is redrawn in place and replaced by the stage's final line."""

    WIDTH = 24

    def __init__(self, stream: TextIO, quiet: bool = False, live: bool = True):
        self.stream = stream
        self.quiet = quiet
        self.live = live and is_terminal(stream) and not quiet
        self._status = False

    def status(self, label: str, done: int | None = None, total: int | None = None) -> None:
        if not self.live:
            return
        text = f"{label:<10}"
        if total:
            filled = int(self.WIDTH * min(done or 0, total) / total)
            text += f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done} of {total}"
        else:
            text += "..."
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()
        self._status = True

    def line(self, label: str, text: str, elapsed: float | None = None, style: str | None = None):
        if self.quiet:
            return
        self.clear()
        timing = f"  ({seconds(elapsed)})" if elapsed is not None else ""
        body = f"{label:<10}{text}{timing}"
        self.stream.write((paint(body, style, self.stream) if style else body) + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Remove the transient status line (before another stream writes)."""
        if self._status:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._status = False
