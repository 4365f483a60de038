"""Writing the analyst package: ``analyst.duckdb`` (schemas mart, analysis and quality,
de-identified), the same tables as Parquet, the codebook and the provenance.

Everything is written into ``<folder>/.next-<pid>/`` first and then renamed into place, the
database last: a reader sees the old package or the new one, never a half-written file, and a
session that has the old ``analyst.duckdb`` open keeps reading it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from cartwh.analyst.codebook import CODEBOOK_CSV, CODEBOOK_MD, codebook, write_codebook
from cartwh.analyst.deidentify import (
    DATE_IN_TEXT,
    PUBLISHED_SCHEMAS,
    PublishedColumn,
    PublishError,
    published_columns,
    select_sql,
)

ANALYST_DATABASE = "analyst.duckdb"
PARQUET_FOLDER = "parquet"
PROVENANCE_FILE = "provenance.json"
#: the attached package while it is written
_ALIAS = "analyst_package"
#: text columns that name deliveries (dates of extracts, not of care)
DELIVERY_NAMES = ("delivery_id", "source_file")


@dataclass(frozen=True)
class Package:
    folder: Path
    tables: int
    columns: int
    run_id: str


def check_publishable(conn, source_schemas: dict[str, str] | None = None) -> None:
    """Raise :class:`PublishError` when the warehouse's tables could not be published (a date
    column without a rule, a column without a meaning), before anything is written."""
    sources = {**{s: s for s in PUBLISHED_SCHEMAS}, **(source_schemas or {})}
    columns = published_columns(conn, sources)
    codebook([(c.schema, c.table, c.name, c.data_type, c.rule) for c in columns])
    _refuse_dates_in_text(conn, _by_table(columns), sources)


def _by_table(columns: list[PublishedColumn]) -> dict[tuple[str, str], list[PublishedColumn]]:
    return {key: list(group) for key, group in groupby(columns, lambda c: (c.schema, c.table))}


def publish_package(conn, folder: Path, log: Callable[[str], None] | None = None) -> Package:
    """Write the analyst package of the warehouse that ``conn`` reads into ``folder``.

    Parameters
    ----------
    conn : duckdb.DuckDBPyConnection
        A connection whose own database is the warehouse (read-only is enough).
    folder : Path
        The package's folder (``CARTWH_ANALYST``).

    Raises
    ------
    PublishError
        When a column would publish a date of care or has no meaning, or the warehouse has no
        published refresh; nothing is changed then.
    """
    columns = published_columns(conn)
    tables = _by_table(columns)
    if ("analysis", "provenance") not in tables:
        raise PublishError(
            "the warehouse has no published refresh (analysis.provenance): run `cartwh refresh`"
        )
    folder.mkdir(parents=True, exist_ok=True)
    with _publishing(folder):
        staged = folder / f".next-{os.getpid()}"
        shutil.rmtree(staged, ignore_errors=True)
        (staged / PARQUET_FOLDER).mkdir(parents=True)
        try:
            book, provenance = _write_database(conn, tables, staged)
            write_codebook(book, staged, provenance)
            (staged / PROVENANCE_FILE).write_text(
                json.dumps(provenance, indent=2, default=str) + "\n", encoding="utf-8"
            )
            _swap_in(staged, folder)
        finally:
            shutil.rmtree(staged, ignore_errors=True)
    if log:
        log(f"published the analyst package ({len(tables)} tables) in {folder}")
    return Package(folder, len(tables), len(columns), provenance["run_id"])


def _write_database(conn, tables: dict, staged: Path):
    _refuse_dates_in_text(conn, tables, {s: s for s in PUBLISHED_SCHEMAS})
    database = staged / ANALYST_DATABASE
    conn.execute(f"attach '{database}' as {_ALIAS} (read_write)").fetchall()
    try:
        for schema in PUBLISHED_SCHEMAS:
            conn.execute(f"create schema {_ALIAS}.{schema}").fetchall()
        for (schema, table), table_columns in tables.items():
            target = f'{_ALIAS}.{schema}."{table}"'
            select = select_sql([_whole_number(c) for c in table_columns], f'{schema}."{table}"')
            conn.execute(f"create table {target} as {select}").fetchall()
            parquet = staged / PARQUET_FOLDER / schema / f"{table}.parquet"
            parquet.parent.mkdir(parents=True, exist_ok=True)
            conn.execute(f"copy {target} to '{parquet}' (format parquet)").fetchall()
        types = dict(
            ((s, t, c), d)
            for s, t, c, d in conn.execute(
                "select table_schema, table_name, column_name, data_type "
                "from information_schema.columns where table_catalog = ?",
                [_ALIAS],
            ).fetchall()
        )
        book = codebook(
            [
                (c.schema, c.table, c.name, types[(c.schema, c.table, c.name)], c.rule)
                for group in tables.values()
                for c in group
            ]
        )
        provenance = _provenance(conn)
    finally:
        conn.execute(f"detach {_ALIAS}").fetchall()
    return book, provenance


def _whole_number(column: PublishedColumn) -> PublishedColumn:
    """Counts that DuckDB sums into HUGEINT are published as BIGINT (Parquet, R and SAS read
    64-bit integers; no count comes near their limit)."""
    if column.data_type != "HUGEINT":
        return column
    return PublishedColumn(
        column.schema,
        column.table,
        column.name,
        column.source_name,
        column.data_type,
        f"cast({column.sql} as bigint)",
        column.rule,
    )


def _refuse_dates_in_text(conn, tables: dict, sources: dict[str, str]) -> None:
    """Every published text column, de-identified, checked for dates written as text (a second
    guard after the rules: a new text column carrying raw dates stops the publication)."""
    found = []
    for (schema, table), columns in tables.items():
        checked = [c for c in columns if c.data_type == "VARCHAR" and c.name not in DELIVERY_NAMES]
        if not checked:
            continue
        counts = ", ".join(f"count_if(regexp_matches({c.sql}, '{DATE_IN_TEXT}'))" for c in checked)
        row = conn.execute(f'select {counts} from {sources[schema]}."{table}" as src').fetchone()
        found += [f"{schema}.{table}.{c.name} ({k} rows)" for c, k in zip(checked, row) if k]
    if found:
        raise PublishError(
            f"dates written as text in {', '.join(found)}: mask them (a rule in "
            "cartwh/analyst/deidentify.py, TRANSFORMATIONS) before the column is published"
        )


def _provenance(conn) -> dict:
    rows = conn.execute(
        f"select run_id, generated_at, code_version, cutoff, centre_code, delivery_id, sha256, "
        f"files, rows from {_ALIAS}.analysis.provenance order by centre_code"
    ).fetchall()
    if not rows:
        raise PublishError("analysis.provenance is empty: run `cartwh refresh`")
    run_id, generated_at, code_version, cutoff = rows[0][:4]
    return {
        "run_id": run_id,
        "generated_at": generated_at.isoformat(),
        "code_version": code_version,
        "cutoff": cutoff.isoformat(),
        "deliveries": [
            {"centre_code": r[4], "delivery_id": r[5], "sha256": r[6], "files": r[7], "rows": r[8]}
            for r in rows
        ],
    }


def _swap_in(staged: Path, folder: Path) -> None:
    """Rename the staged package into ``folder``: each rename is atomic, the database last."""
    retired = folder / f".old-{os.getpid()}"
    shutil.rmtree(retired, ignore_errors=True)
    retired.mkdir()
    if (folder / PARQUET_FOLDER).exists():
        os.rename(folder / PARQUET_FOLDER, retired / PARQUET_FOLDER)
    os.rename(staged / PARQUET_FOLDER, folder / PARQUET_FOLDER)
    for name in (CODEBOOK_CSV, CODEBOOK_MD, PROVENANCE_FILE, ANALYST_DATABASE):
        os.replace(staged / name, folder / name)
    shutil.rmtree(retired, ignore_errors=True)


@contextmanager
def _publishing(folder: Path):
    """One publisher at a time per folder; leftovers of killed publishers are removed."""
    with open(folder / ".publish.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        for leftover in folder.iterdir():
            if leftover.is_dir() and leftover.name.startswith((".next-", ".old-")):
                shutil.rmtree(leftover, ignore_errors=True)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
