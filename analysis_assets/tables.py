"""Writing analysis tables: DuckDB schema ``analysis`` and CSV under ``<output>/tables``; the
manuscript tables (:data:`DOCUMENTS`) also as Word documents beside their CSV."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from analysis_assets.docx_tables import write_docx
from analysis_assets.study import TABLE_TITLES

#: analysis tables also written as ``<name>.docx`` (manuscript tables)
DOCUMENTS: tuple[str, ...] = ("table1", "table2")


def write_tables(
    conn: duckdb.DuckDBPyConnection,
    tables: dict[str, pd.DataFrame],
    csv_folder: Path,
    schema: str = "analysis",
) -> dict[str, int]:
    """Replace each ``<schema>.<name>`` table and ``<csv_folder>/<name>.csv`` (and
    ``<csv_folder>/<name>.docx`` for the tables of :data:`DOCUMENTS`); rows per table.

    ``csv_folder`` is the refresh's staging folder: the documents are published with the CSVs.
    """
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
        if name in DOCUMENTS:
            write_docx(frame, TABLE_TITLES.get(name, name), csv_folder / f"{name}.docx")
        written[name] = len(frame)
    return written
