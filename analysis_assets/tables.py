"""Writing analysis tables: DuckDB schema ``analysis`` and CSV under ``<output>/tables``."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd


def write_tables(
    conn: duckdb.DuckDBPyConnection,
    tables: dict[str, pd.DataFrame],
    csv_folder: Path,
    schema: str = "analysis",
) -> dict[str, int]:
    """Replace each ``<schema>.<name>`` table and ``<csv_folder>/<name>.csv``; rows per table."""
    conn.execute(f"create schema if not exists {schema}").fetchall()
    csv_folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, frame in tables.items():
        if len(frame.columns) == 0:
            raise ValueError(f"analysis table {name} has no columns")
        conn.register("_analysis_frame", frame)
        try:
            conn.execute(
                f'create or replace table {schema}."{name}" as select * from _analysis_frame'
            ).fetchall()
        finally:
            conn.unregister("_analysis_frame")
        frame.to_csv(csv_folder / f"{name}.csv", index=False)
        written[name] = len(frame)
    return written
