"""Readers that put one delivered file into DuckDB, every column as text.

CSV goes through DuckDB's own reader (transcoded to UTF-8 first when DuckDB
lacks the encoding, into the caller's private work folder); Excel through python-calamine.
Every file is opened only after :func:`cartwh.ingest.confinement.inside` has checked that it
is no symbolic link and lies inside the folder given as ``within``. Errors are re-raised as
:class:`ReadError` with the line and without the offending line's content,
which may hold direct identifiers.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from cartwh.ingest.confinement import inside
from cartwh.ingest.mapping import FileSettings

DUCKDB_ENCODINGS = {
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
    "utf-16": "utf-16",
    "iso8859-1": "latin-1",
}
METADATA_COLUMNS = ("_delivery_id", "_source_file", "_row_number")
_KNOWN_CSV_PROBLEMS = (
    r"Expected Number of Columns: \d+ Found: \d+",
    r"Invalid unicode \(byte sequence mismatch\) detected",
    r"Value with unterminated quote found",
    r"Maximum line size of \d+ bytes exceeded",
)


class ReadError(Exception):
    """A file that cannot be parsed. ``line`` is 1-based in the file, when known."""

    def __init__(self, problem: str, line: int | None = None):
        super().__init__(problem)
        self.problem = problem
        self.line = line


@dataclass
class ReadResult:
    relation_sql: str  # a SELECT producing the source columns plus _row_number
    columns: list[str]
    cleanup: list[Path]
    header: list[str]  # the header row as delivered (before blanks are named, duplicates suffixed)


@dataclass
class ExcelSheet:
    table: pa.Table  # every column as text, plus _row_number
    header: list[str]  # the header row as delivered


def duplicated_names(header: list[str]) -> list[str]:
    """Header names that occur more than once, compared case-insensitively (blanks ignored)."""
    seen: dict[str, int] = {}
    for name in header:
        key = (name or "").strip().lower()
        if key:
            seen[key] = seen.get(key, 0) + 1
    return sorted({(n or "").strip() for n in header if seen.get((n or "").strip().lower(), 0) > 1})


def unique_names(header: list[str]) -> list[str]:
    """Header names as DuckDB would make them: blanks named, duplicates suffixed."""
    names: list[str] = []
    seen: set[str] = set()
    for index, raw in enumerate(header):
        name = (raw or "").strip() or f"column{index}"
        candidate, suffix = name, 1
        while candidate.lower() in seen or candidate.lower() in METADATA_COLUMNS:
            candidate = f"{name}_{suffix}"
            suffix += 1
        seen.add(candidate.lower())
        names.append(candidate)
    return names


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _transcode(path: Path, encoding: str, workdir: Path) -> Path:
    """Stream ``path`` from ``encoding`` to a UTF-8 copy; a bad byte names its line."""
    target = workdir / (path.name + ".utf8")
    try:
        _stream_transcoded(path, encoding, target)
    except BaseException:
        target.unlink(missing_ok=True)  # a partial copy of delivered data
        raise
    return target


def _stream_transcoded(path: Path, encoding: str, target: Path) -> None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    lines_done = 0
    with open(path, "rb") as source, open(target, "w", encoding="utf-8", newline="") as out:
        while True:
            block = source.read(1 << 20)
            final = not block
            try:
                text = decoder.decode(block, final=final)
            except UnicodeDecodeError as exc:
                line = lines_done + block[: max(exc.start, 0)].count(b"\n") + 1
                raise ReadError(f"bytes that are not valid {encoding}", line) from None
            lines_done += text.count("\n")
            out.write(text)
            if final:
                break


def _read_header(path: Path, encoding: str, settings: FileSettings) -> list[str] | None:
    """The header row, decoding only its own bytes (a bad byte further down is DuckDB's)."""
    if encoding == "utf-16":
        with open(path, encoding=encoding, newline="") as handle:
            lines = [handle.readline() for _ in range(settings.header_row)]
    else:
        with open(path, "rb") as handle:
            raw = [handle.readline() for _ in range(settings.header_row)]
        try:
            lines = [line.decode(encoding) for line in raw]
        except UnicodeDecodeError:
            raise ReadError(f"header is not valid {encoding}", settings.header_row) from None
    if not lines[-1].strip("\r\n\ufeff"):
        return None
    try:
        return next(csv.reader([lines[-1]], delimiter=settings.separator, quotechar=settings.quote))
    except csv.Error as exc:
        raise ReadError(f"header cannot be parsed ({exc})", settings.header_row) from None


def csv_problem(message: str) -> ReadError:
    line_match = re.search(r"CSV Error on Line: (\d+)", message)
    line = int(line_match.group(1)) if line_match else None
    for pattern in _KNOWN_CSV_PROBLEMS:
        found = re.search(pattern, message)
        if found:
            return ReadError(found.group(0), line)
    return ReadError("the row does not follow the declared CSV layout", line)


def read_csv(path: Path, settings: FileSettings, workdir: Path, *, within: Path) -> ReadResult:
    """A SELECT over one CSV file, every column as text.

    Parameters
    ----------
    path
        The delivered file; it must lie inside ``within`` and not be a symbolic link.
    settings
        The entity's resolved file settings (encoding, separator, header row, ...).
    workdir
        The process's private work folder (:func:`confinement.private_workdir`): a file in an
        encoding DuckDB lacks is transcoded into it; the caller deletes ``cleanup`` after use.
    """
    inside(path, within)
    codec = codecs.lookup(settings.encoding).name
    cleanup: list[Path] = []
    source = path
    if path.stat().st_size == 0:
        raise ReadError("the file is empty (no header row)")
    if codec not in DUCKDB_ENCODINGS:
        source = _transcode(path, codec, workdir)
        cleanup.append(source)
        codec = "utf-8"
    header_codec = "utf-8-sig" if codec in ("utf-8", "utf-8-sig") else codec
    try:
        header = _read_header(source, header_codec, settings)
    except ReadError:
        for copy in cleanup:
            copy.unlink(missing_ok=True)
        raise
    if header is None:
        for copy in cleanup:
            copy.unlink(missing_ok=True)
        raise ReadError("the file has no header row", settings.header_row)
    names = unique_names(header)
    columns = "{" + ", ".join(f"{_sql_text(n)}: 'VARCHAR'" for n in names) + "}"
    sql = (
        f"select *, row_number() over () as _row_number from read_csv({_sql_text(str(source))}, "
        f"auto_detect = false, columns = {columns}, header = true, "
        f"skip = {settings.header_row - 1}, delim = {_sql_text(settings.separator)}, "
        f"quote = {_sql_text(settings.quote)}, escape = {_sql_text(settings.quote)}, "
        f"encoding = {_sql_text(DUCKDB_ENCODINGS[codec])}, strict_mode = true, "
        f"null_padding = false, nullstr = '')"
    )
    return ReadResult(sql, names, cleanup, header)


def _cell_text(value) -> str | None:
    """An Excel cell as text, the same whatever the centre's marks (docs/mapping-files.md).

    Numbers: the shortest text that reads back as the same float, decimal mark '.', never a
    thousands mark (``0.001``, ``4.9``, ``1e-07``; whole numbers without ``.0``); staging
    parses Excel entities with exactly these marks. Dates and date-times: ISO 8601.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def read_excel_sheet(path: Path, sheet: str, header_row: int, *, within: Path) -> ExcelSheet:
    """One sheet as an Arrow table of text, with ``_row_number`` (sheet row - header row)."""
    from python_calamine import CalamineWorkbook

    inside(path, within)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for corrupt files
        raise ReadError(f"not a readable Excel workbook ({exc.__class__.__name__})") from None
    if sheet not in workbook.sheet_names:
        raise ReadError(f"sheet {sheet!r} not found (sheets: {', '.join(workbook.sheet_names)})")
    rows = workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    if len(rows) < header_row:
        raise ReadError(f"sheet {sheet!r} has no header row", header_row)
    header = [_cell_text(v) or "" for v in rows[header_row - 1]]
    names = unique_names(header)
    body = rows[header_row:]
    width = len(names)
    columns: list[list[str | None]] = [[] for _ in range(width)]
    row_numbers: list[int] = []
    for offset, row in enumerate(body, start=1):
        cells = [_cell_text(v) for v in row[:width]]
        if len(row) > width and any(_cell_text(v) is not None for v in row[width:]):
            raise ReadError(
                f"sheet {sheet!r}: a value stands outside the header's columns", header_row + offset
            )
        if all(c is None for c in cells):
            continue
        cells += [None] * (width - len(cells))
        for index, cell in enumerate(cells):
            columns[index].append(cell)
        row_numbers.append(offset)
    arrays = {name: pa.array(col, type=pa.string()) for name, col in zip(names, columns)}
    arrays["_row_number"] = pa.array(row_numbers, type=pa.int64())
    return ExcelSheet(pa.table(arrays), header)
