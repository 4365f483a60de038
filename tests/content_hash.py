"""Content hashes of the warehouse's published tables (``cartwh.content_hash``), for "nothing
changed" assertions, and the committed reference of the demo's.

    python -m tests.content_hash WAREHOUSE [--write FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from decimal import Decimal
from pathlib import Path

import duckdb

from cartwh.content_hash import SCHEMAS, SIGNIFICANT_DIGITS
from cartwh.content_hash import content_hashes as warehouse_hashes

REFERENCE = Path(__file__).parent / "reference" / "demo_content_hashes.json"


def _value(value) -> str:
    """A value as the content hash writes it (for row-by-row comparisons in tests)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value == 0:
            return "0"
        return format(value, f".{SIGNIFICANT_DIGITS}g")
    if isinstance(value, Decimal):
        return _value(float(value))
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_value(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return repr(value)


def content_hashes(database: Path, schemas: tuple[str, ...] = SCHEMAS) -> dict[str, str]:
    """``schema.table`` -> hash, for every table of ``schemas`` (default: the published ones)
    of ``database``."""
    with duckdb.connect(str(database), read_only=True) as conn:
        return warehouse_hashes(conn, schemas)


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
