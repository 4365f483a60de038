"""``cartwh report --external``: the analysis tables and report that may leave the consortium,
small cells suppressed, written aside and swapped in whole.

The folder (default ``<output>/external/``) holds ``report.html``, ``tables/<name>.csv`` for
every suppressed or kept analysis table, and ``disclosure.csv`` (the decision for every
analysis table of the warehouse). It is built in a sibling temporary folder and renamed over
the old one, so a reader (or a killed run) never sees a report that disagrees with the tables
beside it. The warehouse is only read; the internal report and tables are not touched.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pandas as pd

from analysis_assets.disclosure_tables import suppress_analysis_tables
from analysis_assets.report.external import build_external_report, policy_table

__all__ = ["EXTERNAL_FOLDER", "MINIMUM_THRESHOLD", "read_analysis_tables", "write_external_report"]

#: the external report's folder under ``<output>`` when ``--out`` is not given
EXTERNAL_FOLDER = "external"
#: a threshold below this suppresses nothing
MINIMUM_THRESHOLD = 2
SCHEMA = "analysis"


def read_analysis_tables(conn: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """Every ``analysis.*`` table by bare name, in name order."""
    names = [
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "order by table_name",
            [SCHEMA],
        ).fetchall()
    ]
    return {name: conn.execute(f'select * from {SCHEMA}."{name}"').df() for name in names}


def _swap_in(staged: Path, target: Path) -> None:
    """Replace ``target`` by ``staged`` (renames: the old folder moves aside first)."""
    retired = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        os.rename(target, retired)
    os.rename(staged, target)
    shutil.rmtree(retired, ignore_errors=True)


def write_external_report(
    conn: duckdb.DuckDBPyConnection, out: Path, threshold: int
) -> tuple[Path, pd.DataFrame]:
    """Suppress the warehouse's analysis tables and write the external folder ``out``.

    Parameters
    ----------
    conn : duckdb connection
        Read only.
    out : Path
        The folder to (re)place.
    threshold : int
        Counts from 1 to ``threshold - 1`` are suppressed.

    Returns
    -------
    (Path, DataFrame)
        The report's path and the per-table decisions.
    """
    tables = read_analysis_tables(conn)
    if not tables:
        raise LookupError("the warehouse has no analysis tables: run `cartwh refresh` first")
    shown = suppress_analysis_tables(tables, threshold)
    policy = policy_table(list(tables))
    policy["written"] = policy["table"].isin(list(shown))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_name(f".{out.name}.next-{os.getpid()}")
    shutil.rmtree(staged, ignore_errors=True)
    (staged / "tables").mkdir(parents=True)
    try:
        for name, frame in shown.items():
            frame.to_csv(staged / "tables" / f"{name}.csv", index=False)
        policy.to_csv(staged / "disclosure.csv", index=False)
        build_external_report(shown, policy, threshold, staged / "report.html")
        _swap_in(staged, out)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return out / "report.html", policy
