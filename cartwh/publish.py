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
REPORT = "report.html"
#: what users open: symlinks into ``current`` (see :func:`publish_files`)
PUBLISHED = ("tables", "figures", REPORT, PROVENANCE_FILE)
RELEASES = ".releases"
CURRENT = "current"


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
    from cartwh.history import forget_refresh, record_content_hashes, record_refresh

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
    record_content_hashes(conn, run_id)
    return published


def publish_files(output: Path, run_id: str) -> None:
    """Swap the staged tables, figures, report and provenance in, all at once.

    The staged folder becomes the release ``.releases/<run id>``, and the symlink ``current``
    is pointed at it by one atomic rename. ``tables``, ``figures``, ``report.html`` and
    ``provenance.json`` are fixed symlinks into ``current``: a reader (or a crash) sees the
    whole previous release or the whole new one, never a report beside other tables. Folders
    published before releases existed are replaced by the symlinks once.
    """
    staged = staging_folder(output, run_id)
    releases = output / RELEASES
    releases.mkdir(parents=True, exist_ok=True)
    release = releases / run_id
    if staged.is_dir():
        if release.exists():
            shutil.rmtree(release)
        os.rename(staged, release)
    _point(output / CURRENT, Path(RELEASES) / run_id)
    for name in PUBLISHED:
        link = output / name
        if not (link.is_symlink() and os.readlink(link) == str(Path(CURRENT) / name)):
            if link.is_dir() and not link.is_symlink():
                shutil.rmtree(link)
            _point(link, Path(CURRENT) / name)
    for old in releases.iterdir():
        if old.name != run_id:
            shutil.rmtree(old, ignore_errors=True)
    discard_staging(output)


def published_run(output: Path) -> str | None:
    """The run id of the release users see, or None (nothing published as a release yet)."""
    current = output / CURRENT
    return Path(os.readlink(current)).name if current.is_symlink() else None


def _has_table(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return conn.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall() == [(1,)]


def _point(link: Path, target: Path) -> None:
    """Make ``link`` a symlink to ``target`` (relative: the output folder can be moved or
    copied) by an atomic rename over whatever ``link`` was."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}.link")
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    os.replace(temporary, link)


def discard_staging(output: Path, keep_run_id: str | None = None) -> None:
    """Remove what failed or killed refreshes left aside (all but ``keep_run_id``'s)."""
    if not output.is_dir():
        return
    for folder in output.iterdir():
        if folder.name.startswith((".next-", ".old-")) and folder.is_dir():
            if keep_run_id is None or not folder.name.endswith(keep_run_id):
                shutil.rmtree(folder, ignore_errors=True)


def complete_interrupted_publication(
    conn: duckdb.DuckDBPyConnection, output: Path, work: Path
) -> str | None:
    """Roll forward a refresh killed while it published (its analysis schema committed, its
    files or its "finished" status not yet), so that tables, files and status agree again
    before anything else runs; undo the history record of one killed before its tables were
    published. Returns the run id whose publication was completed, or None.

    Call it holding the writers' lock, with no refresh running.
    """
    from cartwh.history import forget_refresh, record_content_hashes, recorded_digest
    from cartwh.refresh_status import read_status, record_published

    status = read_status(work)
    if status is None or status.state != "started":
        return None
    run_id = status.run_id
    published = _has_table(conn, LIVE_SCHEMA, "provenance") and conn.execute(
        f"select count(*) from {LIVE_SCHEMA}.provenance where run_id = ?", [run_id]
    ).fetchall() != [(0,)]
    if not published:
        if _has_table(conn, "history", "refreshes"):
            forget_refresh(conn, run_id)
        return None
    if recorded_digest(conn, run_id) is None:
        record_content_hashes(conn, run_id)
    if staging_folder(output, run_id).is_dir() or published_run(output) != run_id:
        publish_files(output, run_id)
    record_published(work, run_id)
    return run_id


_MARK = re.compile(r"<!--cartwh:refresh-status-->.*?<!--/cartwh:refresh-status-->", re.S)


def mark_report(report: Path, notice: str | None) -> None:
    """Put ``notice`` at the top of the published report (replacing an earlier one), or remove
    it (None)."""
    if not report.exists():
        return
    report = report.resolve()  # the file in the current release, not the symlink to it
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
