"""The delivery ledger ``raw.deliveries`` and the raw tables' DDL."""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from datetime import UTC, datetime

import duckdb

from cartwh.ingest.readers import METADATA_COLUMNS
from cartwh.warehouse import run

LEDGER_DDL = """
create schema if not exists raw;
create table if not exists raw.deliveries (
    centre_code varchar not null,
    delivery_id varchar not null,
    source_file varchar not null,
    entity varchar,
    sha256 varchar,
    bytes bigint,
    rows_read bigint,
    loaded_at timestamp not null,
    status varchar not null,
    message varchar,
    delivery_fingerprint varchar not null,
    primary key (centre_code, delivery_id, delivery_fingerprint, source_file)
);
create or replace view raw.current_deliveries as
select centre_code, max(delivery_id) as delivery_id
from raw.deliveries
where status not in ('rejected', 'skipped')
group by centre_code;
"""

# status of a ledger row:
#   loaded   - an entity file (or Excel sheet) whose rows are in raw.<centre>__<entity>
#   missing  - an entity the delivery has no file for ("no records of that kind")
#   ignored  - a file no entity of the mapping claims (kept on disk, not loaded)
#   manifest - the delivery's manifest.json, verified
#   rejected - every file of a delivery that was refused whole (message says why)
#   skipped  - a folder of the landing area that is not a delivery of a registered centre
#              (message: the rule it breaks and the fix); rewritten at every scan


def ensure_raw_schema(conn: duckdb.DuckDBPyConnection) -> None:
    run(conn, LEDGER_DDL)


def raw_table_name(centre_code: str, entity: str) -> str:
    return f"{centre_code}__{entity}"


def accepted_fingerprint(conn, centre_code: str, delivery_id: str) -> str | None:
    row = conn.execute(
        "select any_value(delivery_fingerprint) from raw.deliveries "
        "where centre_code = ? and delivery_id = ? and status not in ('rejected', 'skipped')",
        [centre_code, delivery_id],
    ).fetchall()[0]
    return row[0] if row else None


def accepted_files(conn, centre_code: str, delivery_id: str) -> dict[str, str]:
    rows = conn.execute(
        "select distinct regexp_replace(source_file, '\\[.*\\]$', ''), sha256 from raw.deliveries "
        "where centre_code = ? and delivery_id = ? and status <> 'rejected' and sha256 is not null",
        [centre_code, delivery_id],
    ).fetchall()
    return dict(rows)


def rejected_with(conn, centre_code: str, delivery_id: str, fingerprint: str) -> str | None:
    row = conn.execute(
        "select any_value(message) from raw.deliveries where centre_code = ? and delivery_id = ? "
        "and delivery_fingerprint = ? and status = 'rejected'",
        [centre_code, delivery_id, fingerprint],
    ).fetchall()[0]
    return row[0] if row else None


@dataclass(frozen=True)
class LedgerRow:
    """One row of ``raw.deliveries``: a delivered file (or Excel sheet) and what became of it."""

    centre_code: str
    delivery_id: str
    source_file: str
    entity: str | None
    sha256: str | None
    bytes: int | None
    rows_read: int | None
    loaded_at: datetime
    status: str  # loaded | missing | ignored | manifest | rejected | skipped
    message: str | None
    delivery_fingerprint: str


LEDGER_COLUMNS = tuple(f.name for f in fields(LedgerRow))


def replace_attempt(
    conn, centre_code: str, delivery_id: str, fingerprint: str, rows: list[LedgerRow]
) -> None:
    """Record an attempt at a delivery content, replacing an earlier rejection of that content."""
    run(
        conn,
        "delete from raw.deliveries where centre_code = ? and delivery_id = ? "
        "and delivery_fingerprint = ? and status = 'rejected'",
        [centre_code, delivery_id, fingerprint],
    )
    record(conn, rows)


def record(conn, rows: list[LedgerRow]) -> None:
    """Upsert ledger rows."""
    if not rows:
        return
    conn.executemany(
        f"insert or replace into raw.deliveries ({', '.join(LEDGER_COLUMNS)}) "
        f"values ({', '.join('?' for _ in LEDGER_COLUMNS)})",
        [astuple(row) for row in rows],
    )
    run(conn, "select 1")


def ensure_raw_table(conn, table: str, columns: list[str]) -> None:
    """Create ``raw.<table>`` or add the columns it lacks (a later delivery may add some)."""
    quoted = ", ".join(f'"{c}" varchar' for c in columns)
    run(
        conn,
        f'create table if not exists raw."{table}" ({quoted}, '
        "_delivery_id varchar not null, _source_file varchar not null, "
        "_row_number bigint not null)",
    )
    existing = {
        r[0].lower()
        for r in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'raw' and table_name = ?",
            [table],
        ).fetchall()
    }
    for column in columns:
        if column.lower() not in existing and column not in METADATA_COLUMNS:
            run(conn, f'alter table raw."{table}" add column "{column}" varchar')


@dataclass(frozen=True)
class CurrentDelivery:
    """The delivery of a centre that the warehouse uses downstream (its newest accepted one)."""

    centre_code: str
    delivery_id: str
    fingerprint: str  # sha256 over the delivery's file names and their sha256
    files: int
    rows_read: int


def current_deliveries(conn: duckdb.DuckDBPyConnection) -> list[CurrentDelivery]:
    """Each centre's current delivery with its fingerprint and the rows loaded from it."""
    rows = conn.execute(
        "select c.centre_code, c.delivery_id, any_value(d.delivery_fingerprint), "
        "count(*) filter (where d.status = 'loaded'), "
        "coalesce(sum(d.rows_read) filter (where d.status = 'loaded'), 0) "
        "from raw.current_deliveries c join raw.deliveries d using (centre_code, delivery_id) "
        "where d.status <> 'rejected' group by all order by 1"
    ).fetchall()
    return [CurrentDelivery(c, d, f, int(n), int(r)) for c, d, f, n, r in rows]


@dataclass(frozen=True)
class DeliveryAttempt:
    """What the ledger says of one delivery content of a centre."""

    delivery_id: str
    status: str  # loaded | rejected
    rows: int | None
    message: str | None


def delivery_attempts(conn: duckdb.DuckDBPyConnection, centre_code: str) -> list[DeliveryAttempt]:
    """Every content of every delivery of a centre that was loaded or rejected, by delivery id."""
    rows = conn.execute(
        "select delivery_id, "
        "case when bool_or(status = 'rejected') then 'rejected' else 'loaded' end, "
        "sum(rows_read) filter (where status = 'loaded'), "
        "any_value(message) filter (where status = 'rejected') "
        "from raw.deliveries where centre_code = ? and status <> 'skipped' "
        "group by delivery_id, delivery_fingerprint "
        "order by delivery_id",
        [centre_code],
    ).fetchall()
    return [DeliveryAttempt(d, s, None if r is None else int(r), m) for d, s, r, m in rows]


def raw_row_counts(
    conn: duckdb.DuckDBPyConnection, centre_code: str, entities: list[str]
) -> dict[str, int]:
    """Rows of every delivery in the raw table of each entity (0 when it has no table)."""
    existing = {
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
    }
    counts = {}
    for entity in entities:
        table = raw_table_name(centre_code, entity)
        counts[entity] = (
            conn.execute(f'select count(*) from raw."{table}"').fetchall()[0][0]
            if table in existing
            else 0
        )
    return counts


def current_delivery(conn: duckdb.DuckDBPyConnection, centre_code: str) -> str | None:
    """The delivery id of a centre used downstream (its newest accepted one), if any."""
    rows = conn.execute(
        "select delivery_id from raw.current_deliveries where centre_code = ?", [centre_code]
    ).fetchall()
    return rows[0][0] if rows else None


def replace_skipped(conn: duckdb.DuckDBPyConnection, centres: list[str], skipped) -> None:
    """Make the ``skipped`` rows of these centre folders what the landing area shows now."""
    at = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        LedgerRow(
            f.centre_code, f.delivery_id, "", None, None, None, None, at, "skipped", f.reason, ""
        )
        for f in skipped
    ]
    run(conn, "begin")
    try:
        run(
            conn,
            "delete from raw.deliveries where status = 'skipped' "
            "and list_contains(?::varchar[], centre_code)",
            [centres],
        )
        record(conn, rows)
    except BaseException:
        run(conn, "rollback")
        raise
    run(conn, "commit")


def skipped_centre_folders(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Centre folders with ``skipped`` rows in the ledger."""
    return [
        c
        for (c,) in conn.execute(
            "select distinct centre_code from raw.deliveries where status = 'skipped' order by 1"
        ).fetchall()
    ]
