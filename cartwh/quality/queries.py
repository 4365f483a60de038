"""Writing the per-centre query files (the only files with centre patient ids)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from cartwh.ingest.ledger import current_deliveries

COLUMNS = (
    "delivery_id",
    "centre_patient_id",
    "kind",
    "rule",
    "what",
    "entity",
    "source_file",
    "source_row_number",
    "source_line",
    "source_column",
    "source_day",
    "value",
)


def write_centre_queries(conn: duckdb.DuckDBPyConnection, folder: Path) -> dict[Path, int]:
    """One CSV per centre and current delivery; a centre without queries gets a header-only file."""
    frame = conn.execute(
        "select centre_code, " + ", ".join(COLUMNS) + " from restricted.centre_queries "
        "order by centre_code, entity, source_file, source_row_number, rule"
    ).df()
    deliveries = [(d.centre_code, d.delivery_id) for d in current_deliveries(conn)]
    if folder.exists():
        shutil.rmtree(folder)
    written: dict[Path, int] = {}
    for centre, delivery in sorted(deliveries):
        rows = frame[frame["centre_code"] == centre][list(COLUMNS)]
        path = folder / centre / f"queries_{delivery}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows.to_csv(path, index=False, encoding="utf-8")
        written[path] = len(rows)
    return written
