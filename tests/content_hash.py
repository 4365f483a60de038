"""Content hashes of the warehouse's published tables, for "nothing changed" assertions.

A table's hash covers its column names and its rows, sorted, with floats rounded to 10
significant digits (DuckDB's parallel sums and lifelines' iterations are not bit-for-bit
stable); provenance and time columns (timestamps, run ids, code versions) are left out.

    python -m tests.content_hash WAREHOUSE [--write FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import sys
from decimal import Decimal
from pathlib import Path

import duckdb

SCHEMAS = ("mart", "quality", "analysis")
PROVENANCE_COLUMNS = {"loaded_at", "generated_at", "run_id", "code_version", "built_at"}
TIME_TYPES = ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIME")
REFERENCE = Path(__file__).parent / "reference" / "demo_content_hashes.json"


def _value(value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value == 0:
            return "0"
        return format(value, ".10g")
    if isinstance(value, Decimal):
        return _value(float(value))
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_value(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return repr(value)


def hashed_columns(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    rows = conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return [
        name for name, dtype in rows if name not in PROVENANCE_COLUMNS and dtype not in TIME_TYPES
    ]


def table_hash(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    columns = hashed_columns(conn, schema, table)
    quoted = ", ".join(f'"{c}"' for c in columns)
    rows = conn.execute(f'select {quoted} from "{schema}"."{table}"').fetchall()
    lines = sorted("\t".join(_value(v) for v in row) for row in rows)
    digest = hashlib.sha256("\t".join(columns).encode())
    for line in lines:
        digest.update(b"\n" + line.encode())
    return digest.hexdigest()


def content_hashes(database: Path) -> dict[str, str]:
    """``schema.table`` -> hash, for every table of the published schemas."""
    with duckdb.connect(str(database), read_only=True) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_schema in ({', '.join('?' for _ in SCHEMAS)}) "
            "and table_type = 'BASE TABLE' order by 1, 2",
            list(SCHEMAS),
        ).fetchall()
        return {f"{s}.{t}": table_hash(conn, s, t) for s, t in tables}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse")
    parser.add_argument("--write", help="write the hashes as JSON to this file")
    args = parser.parse_args(argv)
    hashes = content_hashes(Path(args.warehouse))
    text = json.dumps(hashes, indent=2, sort_keys=True) + "\n"
    if args.write:
        Path(args.write).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
