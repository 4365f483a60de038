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
alter table raw.deliveries add column if not exists mtime_ns bigint;
alter table raw.deliveries add column if not exists mapping_digest varchar;
alter table raw.deliveries add column if not exists rows_erased bigint;
create or replace view raw.current_deliveries as
select centre_code, max(delivery_id) as delivery_id
from raw.deliveries
where status = 'loaded'
group by centre_code;
create table if not exists raw.delivery_patient_changes (
    centre_code varchar not null,
    delivery_id varchar not null,
    previous_delivery_id varchar,
    centre_patient_id varchar not null,
    change varchar not null,
    primary key (centre_code, delivery_id, centre_patient_id)
);
create table if not exists raw.delivery_decisions (
    centre_code varchar not null,
    delivery_id varchar not null,
    delivery_fingerprint varchar not null,
    decision varchar not null,
    status_before varchar not null,
    decided_by varchar not null,
    decided_at timestamp not null
);
"""

# status of a ledger row:
#   loaded   - an entity file (or Excel sheet) whose rows are in raw.<centre>__<entity>; the
#              newest delivery with loaded rows is the centre's current one
#   held     - as loaded, but the delivery drops too many of the current delivery's patients:
#              not current until a person accepts it (then loaded) or withdraws it
#   withdrawn - a loaded or held delivery a person withdrew (its rows stay in raw as history)
#   missing  - an entity the delivery has no file for ("no records of that kind")
#   ignored  - a file no entity of the mapping claims (kept on disk, not loaded)
#   manifest - the delivery's manifest.json, verified
#   rejected - every file of a delivery that was refused whole (message says why)
#   skipped  - a folder of the landing area that is not a delivery of a registered centre
#              (message: the rule it breaks and the fix; source_file ''), rewritten at every
#              scan; or a symbolic link inside a delivery (source_file: its path), not followed
#
# rows_read of a file is what it delivered; rows_erased (null: none) how many of them belong to
# patients erased by `cartwh erase`: removed from raw afterwards, or withheld at the door of a
# later load. raw holds rows_read - rows_erased of the file.
# raw.delivery_patient_changes: for every loaded or held delivery, each patient of it or of the
# delivery that was current when it loaded (previous_delivery_id): added, kept or dropped.
# raw.delivery_decisions: who accepted or withdrew which delivery, when.
DELIVERY_STATUSES = ("loaded", "held", "withdrawn", "rejected")


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
    return rejection(conn, centre_code, delivery_id, fingerprint)[0]


def rejection(
    conn, centre_code: str, delivery_id: str, fingerprint: str
) -> tuple[str | None, str | None]:
    """(message, digest of the mapping it was judged with) of a rejected content, if any."""
    row = conn.execute(
        "select any_value(message), any_value(mapping_digest) from raw.deliveries "
        "where centre_code = ? and delivery_id = ? and delivery_fingerprint = ? "
        "and status = 'rejected'",
        [centre_code, delivery_id, fingerprint],
    ).fetchall()[0]
    return row[0], row[1]


@dataclass(frozen=True)
class RecordedFile:
    """A file of a recorded delivery content, as the ledger remembers it."""

    sha256: str | None  # None for a symbolic link (not followed, never read)
    bytes: int | None
    mtime_ns: int | None


def recorded_contents(
    conn, centre_code: str, delivery_id: str
) -> dict[str, dict[str, RecordedFile]]:
    """Every recorded content of a delivery: fingerprint -> relative path -> what was seen."""
    rows = conn.execute(
        "select distinct delivery_fingerprint, regexp_replace(source_file, '\\[.*\\]$', ''), "
        "sha256, bytes, mtime_ns from raw.deliveries where centre_code = ? and delivery_id = ? "
        "and delivery_fingerprint <> '' and source_file <> '' "
        "and (sha256 is not null or status = 'skipped')",
        [centre_code, delivery_id],
    ).fetchall()
    contents: dict[str, dict[str, RecordedFile]] = {}
    for print_, name, sha, size, mtime in rows:
        contents.setdefault(print_, {})[name] = RecordedFile(sha, size, mtime)
    return contents


def remember_file_times(conn, centre_code: str, delivery_id: str, fingerprint: str, files) -> None:
    """Record the mtime of files of a recorded content (ledgers written before it was kept)."""
    for f in files:
        run(
            conn,
            "update raw.deliveries set mtime_ns = ? where centre_code = ? and delivery_id = ? "
            "and delivery_fingerprint = ? and sha256 = ? "
            "and regexp_replace(source_file, '\\[.*\\]$', '') = ? "
            "and mtime_ns is distinct from ?",
            [
                f.mtime_ns,
                centre_code,
                delivery_id,
                fingerprint,
                f.sha256,
                f.relative_path,
                f.mtime_ns,
            ],
        )


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
    status: str  # loaded | held | withdrawn | missing | ignored | manifest | rejected | skipped
    message: str | None
    delivery_fingerprint: str
    mtime_ns: int | None = None
    mapping_digest: str | None = None
    rows_erased: int | None = None  # rows of erased patients withheld at the door


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
    """Upsert ledger rows (in one statement: a junk delivery may hold thousands of files)."""
    if not rows:
        return
    import pyarrow as pa

    columns = list(zip(*(astuple(row) for row in rows), strict=True))
    types = {
        "bytes": pa.int64(),
        "rows_read": pa.int64(),
        "mtime_ns": pa.int64(),
        "rows_erased": pa.int64(),
    }
    types["loaded_at"] = pa.timestamp("us")
    table = pa.table(
        {
            name: pa.array(values, type=types.get(name, pa.string()))
            for name, values in zip(LEDGER_COLUMNS, columns, strict=True)
        }
    )
    conn.register("_cartwh_ledger_rows", table)
    try:
        run(
            conn,
            f"insert or replace into raw.deliveries ({', '.join(LEDGER_COLUMNS)}) "
            f"select {', '.join(LEDGER_COLUMNS)} from _cartwh_ledger_rows",
        )
    finally:
        conn.unregister("_cartwh_ledger_rows")


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
    status: str  # loaded | held | withdrawn | rejected
    rows: int | None
    message: str | None


#: the status of a delivery content from the statuses of its ledger rows
DELIVERY_STATUS_SQL = (
    "case when bool_or(status = 'rejected') then 'rejected' "
    "when bool_or(status = 'withdrawn') then 'withdrawn' "
    "when bool_or(status = 'held') then 'held' else 'loaded' end"
)


def delivery_attempts(conn: duckdb.DuckDBPyConnection, centre_code: str) -> list[DeliveryAttempt]:
    """Every content of every delivery of a centre that was loaded, held, withdrawn or
    rejected, by delivery id."""
    rows = conn.execute(
        f"select delivery_id, {DELIVERY_STATUS_SQL}, "
        "sum(rows_read) filter (where status in ('loaded', 'held', 'withdrawn')), "
        "any_value(message) filter (where status in ('rejected', 'held')) "
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
            "delete from raw.deliveries where status = 'skipped' and source_file = '' "
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
            "select distinct centre_code from raw.deliveries "
            "where status = 'skipped' and source_file = '' order by 1"
        ).fetchall()
    ]
