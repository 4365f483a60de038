"""All or nothing for users: a refresh builds its analysis aside and publishes it at the end.

The analysis steps write schema ``analysis_next`` and ``<output>/.next-<run id>/`` (tables,
figures, report.html); the last step of a successful refresh swaps them in. What users see
(schema ``analysis``, ``<output>/tables``, ``figures``, ``report.html``) is therefore always
the work of one complete refresh; a failed one is named at the top of the report
(:func:`mark_report`).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from analysis_assets.provenance import PROVENANCE_FILE

STAGED_SCHEMA = "analysis_next"
LIVE_SCHEMA = "analysis"
#: published by renames, in this order: the report last, as it names the refresh
PUBLISHED_FOLDERS = ("tables", "figures")
REPORT = "report.html"


def staging_folder(output: Path, run_id: str) -> Path:
    return output / f".next-{run_id}"


def publish_tables(conn: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
    """Replace the ``analysis`` schema by the staged ``tables`` in one transaction: readers see
    the old set or the new one, never a mix; a failure leaves the old set."""
    staged = {
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = ?",
            [STAGED_SCHEMA],
        ).fetchall()
    }
    missing = sorted(set(tables) - staged)
    if missing:
        raise RuntimeError(
            f"analysis tables not built by this refresh: {', '.join(missing)}; refresh again"
        )
    conn.execute("begin transaction").fetchall()
    try:
        conn.execute(f"create schema if not exists {LIVE_SCHEMA}").fetchall()
        live = conn.execute(
            "select table_name from information_schema.tables where table_schema = ?",
            [LIVE_SCHEMA],
        ).fetchall()
        for (name,) in live:
            if name not in tables:
                conn.execute(f'drop table {LIVE_SCHEMA}."{name}"').fetchall()
        for name in tables:
            conn.execute(
                f'create or replace table {LIVE_SCHEMA}."{name}" as '
                f'select * from {STAGED_SCHEMA}."{name}"'
            ).fetchall()
        conn.execute(f"drop schema {STAGED_SCHEMA} cascade").fetchall()
        conn.execute("commit").fetchall()
    except BaseException:
        conn.execute("rollback").fetchall()
        raise


def publish_refresh_tables(
    conn: duckdb.DuckDBPyConnection,
    output: Path,
    run_id: str,
    tables: list[str],
    patient_columns: dict,
) -> list[str]:
    """Publish the staged analysis tables of ``run_id`` with its provenance, and record the
    refresh in the history (removed again when the tables cannot be published). The provenance
    that the report step wrote becomes a table and a CSV like the others. Returns the tables."""
    from analysis_assets.provenance import Provenance
    from analysis_assets.tables import write_tables
    from cartwh.history import forget_refresh, record_refresh

    staged = staging_folder(output, run_id)
    provenance = Provenance.from_dict(
        json.loads((staged / PROVENANCE_FILE).read_text(encoding="utf-8"))
    )
    write_tables(conn, {"provenance": provenance.table()}, staged / "tables", schema=STAGED_SCHEMA)
    record_refresh(
        conn,
        run_id,
        datetime.now(UTC),
        provenance.cutoff,
        provenance.code_version,
        patient_columns,
    )
    published = [*tables, "provenance"]
    try:
        publish_tables(conn, published)
    except BaseException:
        forget_refresh(conn, run_id)
        raise
    return published


def publish_files(output: Path, run_id: str) -> None:
    """Move the staged folders and report over the published ones.

    Each rename is atomic; the sequence is not: a reader listing ``tables/`` and ``figures/``
    at the same instant may see one new and one old, and a crash between renames leaves a mix
    until the next good refresh (the status file then still says this refresh did not finish,
    and the report that names it is renamed last).
    """
    staged = staging_folder(output, run_id)
    retired = output / f".old-{run_id}"
    retired.mkdir(parents=True, exist_ok=True)
    for name in PUBLISHED_FOLDERS:
        if (output / name).exists():
            os.rename(output / name, retired / name)
        os.rename(staged / name, output / name)
    os.replace(staged / PROVENANCE_FILE, output / PROVENANCE_FILE)
    os.replace(staged / REPORT, output / REPORT)
    shutil.rmtree(retired)
    shutil.rmtree(staged)
    discard_staging(output)


def discard_staging(output: Path, keep_run_id: str | None = None) -> None:
    """Remove what failed or killed refreshes left aside (all but ``keep_run_id``'s)."""
    if not output.is_dir():
        return
    for folder in output.iterdir():
        if folder.name.startswith((".next-", ".old-")) and folder.is_dir():
            if keep_run_id is None or not folder.name.endswith(keep_run_id):
                shutil.rmtree(folder, ignore_errors=True)


_MARK = re.compile(r"<!--cartwh:refresh-status-->.*?<!--/cartwh:refresh-status-->", re.S)


def mark_report(report: Path, notice: str | None) -> None:
    """Put ``notice`` at the top of the published report (replacing an earlier one), or remove
    it (None)."""
    if not report.exists():
        return
    text = _MARK.sub("", report.read_text(encoding="utf-8"))
    if notice:
        block = (
            '<!--cartwh:refresh-status--><p class="refresh-status" style="background:#fde2e1;'
            'border:1px solid #c0392b;padding:.6em 1em;font-weight:bold">'
            f"{html.escape(notice)}</p><!--/cartwh:refresh-status-->"
        )
        text = text.replace("<body>", "<body>" + block, 1)
    temporary = report.with_name(f".{report.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, report)


def report_notice(report: Path) -> str | None:
    """The notice at the top of a published report, if any."""
    if not report.exists():
        return None
    found = _MARK.search(report.read_text(encoding="utf-8"))
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(0))) if found else None
