"""A person's decisions on deliveries: accept a held one, withdraw a loaded or held one.

The decision changes the status of the delivery's file rows in ``raw.deliveries`` (held ->
loaded, loaded/held -> withdrawn) and is recorded with who and when in
``raw.delivery_decisions``. A refresh never revisits it: a delivery content already in the
ledger is not judged again, so an accepted delivery stays current and a withdrawn one stays
out (its raw rows stay as history).
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from cartwh.ingest import ledger
from cartwh.warehouse import run


class DecisionError(ValueError):
    """A decision that cannot be taken; the message names centre, delivery and the fix."""


@dataclass(frozen=True)
class DeliveryHistory:
    """One delivery of a centre as ``cartwh deliveries list`` shows it."""

    centre_code: str
    delivery_id: str
    status: str  # loaded | held | withdrawn | rejected
    files: int
    rows: int
    patients: int | None
    added: int | None
    dropped: int | None
    previous_delivery: str | None
    message: str | None
    current: bool


def delivery_history(
    conn: duckdb.DuckDBPyConnection, centre: str | None = None
) -> list[DeliveryHistory]:
    """Every delivery content of every centre (or of ``centre``), oldest first."""
    rows = run(
        conn,
        f"""
        with attempts as (
            select centre_code, delivery_id, delivery_fingerprint,
                {ledger.DELIVERY_STATUS_SQL} as status,
                count(distinct regexp_replace(source_file, '\\[.*\\]$', ''))
                    filter (where sha256 is not null) as files,
                coalesce(sum(rows_read) filter (where status in ('loaded', 'held', 'withdrawn')),
                    0) as rows_read,
                any_value(message) filter (where status in ('rejected', 'held')) as message
            from raw.deliveries
            where status <> 'skipped' and delivery_fingerprint <> ''
            group by all
        ),
        changes as (
            select centre_code, delivery_id, any_value(previous_delivery_id) as previous,
                count(*) filter (where change <> 'dropped') as patients,
                count(*) filter (where change = 'added' and previous_delivery_id is not null)
                    as added,
                count(*) filter (where change = 'dropped') as dropped
            from raw.delivery_patient_changes group by all
        )
        select attempts.centre_code, attempts.delivery_id, status, files, rows_read,
            case when status <> 'rejected' then patients end,
            case when status <> 'rejected' then added end,
            case when status <> 'rejected' then dropped end,
            case when status <> 'rejected' then previous end,
            message,
            coalesce(current.delivery_id = attempts.delivery_id and status = 'loaded', false)
        from attempts
        left join changes using (centre_code, delivery_id)
        left join raw.current_deliveries as current using (centre_code)
        where ? is null or attempts.centre_code = ?
        order by attempts.centre_code, attempts.delivery_id, status
        """,
        [centre, centre],
    )
    return [DeliveryHistory(*row) for row in rows]


def _status(conn, centre: str, delivery_id: str) -> tuple[str, str]:
    """(status, fingerprint) of the delivery's content that is not rejected, else rejected."""
    if not run(conn, "select 1 from raw.deliveries where centre_code = ? limit 1", [centre]):
        raise DecisionError(
            f"centre {centre}: no delivery of it in the ledger; see `cartwh deliveries list`"
        )
    rows = run(
        conn,
        f"select {ledger.DELIVERY_STATUS_SQL}, delivery_fingerprint from raw.deliveries "
        "where centre_code = ? and delivery_id = ? and status <> 'skipped' "
        "and delivery_fingerprint <> '' group by delivery_fingerprint "
        "order by bool_or(status = 'rejected')",
        [centre, delivery_id],
    )
    if not rows:
        known = [h.delivery_id for h in delivery_history(conn, centre)]
        raise DecisionError(
            f"delivery {centre}/{delivery_id}: not in the ledger (deliveries of {centre}: "
            f"{', '.join(dict.fromkeys(known)) or 'none'}); see `cartwh deliveries list`"
        )
    return rows[0][0], rows[0][1]


def _decide(conn, centre: str, delivery_id: str, decision: str, allowed: dict[str, str]) -> str:
    status, fingerprint = _status(conn, centre, delivery_id)
    if status not in allowed:
        raise DecisionError(
            f"delivery {centre}/{delivery_id} is {status}: only a "
            f"{' or '.join(allowed)} delivery can be {decision}"
            + (
                "; a rejected delivery never loads: the centre sends a corrected one"
                if status == "rejected"
                else ""
            )
        )
    new_status = allowed[status]
    run(conn, "begin")
    try:
        run(
            conn,
            "update raw.deliveries set status = ? where centre_code = ? and delivery_id = ? "
            "and delivery_fingerprint = ? and status = ?",
            [new_status, centre, delivery_id, fingerprint, status],
        )
        run(
            conn,
            "insert into raw.delivery_decisions values (?, ?, ?, ?, ?, ?, ?)",
            [
                centre,
                delivery_id,
                fingerprint,
                decision,
                status,
                getpass.getuser(),
                datetime.now(UTC).replace(tzinfo=None),
            ],
        )
        run(conn, "commit")
    except BaseException:
        run(conn, "rollback")
        raise
    return new_status


def accept_delivery(conn: duckdb.DuckDBPyConnection, centre: str, delivery_id: str) -> str:
    """A held delivery becomes loaded (current when it is the newest loaded one)."""
    ledger.ensure_raw_schema(conn)
    return _decide(conn, centre, delivery_id, "accepted", {"held": "loaded"})


def withdraw_delivery(conn: duckdb.DuckDBPyConnection, centre: str, delivery_id: str) -> str:
    """A loaded or held delivery becomes withdrawn: the previous loaded one is current again."""
    ledger.ensure_raw_schema(conn)
    return _decide(
        conn, centre, delivery_id, "withdrawn", {"loaded": "withdrawn", "held": "withdrawn"}
    )


def history_lines(history: list[DeliveryHistory]) -> list[str]:
    """``cartwh deliveries list``: per centre, one line per delivery, the current one marked."""
    lines: list[str] = []
    for item in history:
        header = f"{item.centre_code}:"
        if header not in lines:
            lines.append(header)
        patients = ""
        if item.patients is not None:
            patients = f", {item.patients} patients"
            if item.previous_delivery:
                patients += f" (+{item.added} -{item.dropped} vs {item.previous_delivery})"
        lines.append(
            f"  {'*' if item.current else ' '} {item.delivery_id}  {item.status:<9}  "
            f"{item.files} files, {item.rows} rows{patients}"
            + (f"  - {item.message}" if item.message and item.status != "loaded" else "")
        )
    if not lines:
        lines.append("no deliveries in the ledger: run `cartwh refresh` first")
    else:
        lines.append("(* = current: the delivery the warehouse uses)")
    return lines
