"""Content hashes of a warehouse's published tables: the same deliveries, cut-off and key give
the same hashes, whatever the row order, the run id or the time of the refresh.

A table's hash covers its column names and its rows as a multiset: each row's text (floats to
``SIGNIFICANT_DIGITS`` significant digits, NULL as ``\\N``) is hashed with md5 and the row
hashes are summed, in SQL, so no table is ever sorted or read into Python. Provenance and time
columns (timestamps, run ids, code versions) are left out. Each refresh records them in
``history.content_hashes``; tests compare them.
"""

from __future__ import annotations

import hashlib

import duckdb

SCHEMAS = ("mart", "quality", "analysis")
PROVENANCE_COLUMNS = {"loaded_at", "generated_at", "run_id", "code_version", "built_at"}
TIME_TYPES = ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIME")
#: DuckDB's parallel sums and lifelines' iterations are not bit-for-bit stable: 10 significant
#: digits, the rule of the tests' reference hashes since the refactoring
SIGNIFICANT_DIGITS = 10
_FLOATS = ("DOUBLE", "FLOAT", "REAL")


def hashed_columns(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple]:
    """(name, type) of the columns of ``schema.table`` that its hash covers."""
    rows = conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return [(n, t) for n, t in rows if n not in PROVENANCE_COLUMNS and t not in TIME_TYPES]


def _text(column: str, data_type: str) -> str:
    quoted = f'"{column}"'
    if data_type in _FLOATS or data_type.startswith("DECIMAL"):
        value = f"{quoted}::double"
        text = (
            f"case when isnan({value}) then 'nan' when {value} = 0 then '0' "
            f"else printf('%.{SIGNIFICANT_DIGITS}g', {value}) end"
        )
    else:
        text = f"{quoted}::varchar"
    return f"coalesce({text}, '\\N')"


_LOW_64_BITS = 2**64 - 1


def table_hash(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    columns = hashed_columns(conn, schema, table)
    row = " || chr(31) || ".join(_text(n, t) for n, t in columns) or "''"
    # the md5 once per row, split into the halves that md5_number_upper / md5_number_lower
    # return (calling both computes it twice: twice the time on 7 M rows)
    [(rows, upper, lower)] = conn.execute(
        f"select count(*), coalesce(sum((h & {_LOW_64_BITS}::uhugeint)::ubigint), 0), "
        f"coalesce(sum((h >> 64)::ubigint), 0) "
        f'from (select md5_number({row}) as h from "{schema}"."{table}")'
    ).fetchall()
    names = "\t".join(n for n, _ in columns)
    return hashlib.sha256(f"{names}\n{rows}\n{upper}\n{lower}".encode()).hexdigest()


def content_hashes(
    conn: duckdb.DuckDBPyConnection, schemas: tuple[str, ...] = SCHEMAS
) -> dict[str, str]:
    """``schema.table`` -> hash, for every table of ``schemas``."""
    tables = conn.execute(
        "select table_schema, table_name from information_schema.tables "
        f"where table_schema in ({', '.join('?' for _ in schemas)}) "
        "and table_type = 'BASE TABLE' order by 1, 2",
        list(schemas),
    ).fetchall()
    return {f"{s}.{t}": table_hash(conn, s, t) for s, t in tables}


def content_digest(hashes: dict[str, str]) -> str:
    """One hash of the whole published content."""
    text = "\n".join(f"{name}\t{value}" for name, value in sorted(hashes.items()))
    return hashlib.sha256(text.encode()).hexdigest()
