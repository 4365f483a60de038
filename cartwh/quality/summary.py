"""The cohort summary that ends every refresh and opens the report: per centre, the patients
in the mart, the delivery used, the folders skipped and deliveries rejected, the rows held back
and the values set to missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class CentreIntake:
    centre_code: str
    patients: int  # infused patients in mart.patient_outcomes
    delivery: str | None  # the delivery used
    skipped: int  # folders of the centre that are not deliveries
    rejected: int  # delivery ids with no accepted content
    rows_quarantined: int  # delivered rows held back by the quality gate
    fields_nulled: int  # delivered values set to missing (their rows kept), with a query

    def line(self) -> str:
        used = f"delivery {self.delivery}" if self.delivery else "no accepted delivery"
        return (
            f"{self.centre_code}: {self.patients} patients, {used}, {self.skipped} skipped, "
            f"{self.rejected} rejected, {self.rows_quarantined} rows quarantined, "
            f"{self.fields_nulled} fields nulled"
        )


@dataclass(frozen=True)
class CohortSummary:
    centres: tuple[CentreIntake, ...]
    unregistered: tuple[str, ...]  # landing folders of no registered centre

    def lines(self) -> list[str]:
        total = sum(c.patients for c in self.centres)
        lines = [f"{total} patients from {len(self.centres)} centres"]
        lines += [c.line() for c in self.centres]
        if self.unregistered:
            lines.append(f"not loaded: {', '.join(self.unregistered)} (see the warnings)")
        return lines


def _relation_exists(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(
        conn.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()[0][0]
    )


def cohort_summary(conn: duckdb.DuckDBPyConnection, centres: list[str]) -> CohortSummary:
    """The summary for the registered ``centres`` (those of the warehouse's registry)."""
    if not _relation_exists(conn, "raw", "deliveries"):
        return CohortSummary(tuple(CentreIntake(c, 0, None, 0, 0, 0, 0) for c in centres), ())
    patients = (
        "(select centre_code, count(*) as n from mart.patient_outcomes group by 1)"
        if _relation_exists(conn, "mart", "patient_outcomes")
        else "(select null::varchar as centre_code, 0 as n)"
    )
    held = (
        "(select centre_code, count(*) filter (where status = 'quarantined') as n "
        "from quality.reconciliation group by 1)"
        if _relation_exists(conn, "quality", "reconciliation")
        else "(select null::varchar as centre_code, 0 as n)"
    )
    nulled = (
        "(select centre_code, count(*) as n from quality.nulled_fields group by 1)"
        if _relation_exists(conn, "quality", "nulled_fields")
        else "(select null::varchar as centre_code, 0 as n)"
    )
    rows = conn.execute(
        f"""
        with _centres as (select unnest($centres::varchar[]) as centre_code),
        ledger as (select * from raw.deliveries),
        attempts as (
            select centre_code, delivery_id,
                bool_or(status = 'rejected') and not bool_or(status = 'loaded') as rejected
            from ledger where status <> 'skipped' group by all
        )
        select _centres.centre_code,
            coalesce(patients.n, 0),
            current.delivery_id,
            (select count(*) from ledger
             where ledger.centre_code = _centres.centre_code and status = 'skipped'
                and source_file = ''),
            (select count(*) from attempts
             where attempts.centre_code = _centres.centre_code and attempts.rejected),
            coalesce(held.n, 0),
            coalesce(nulled.n, 0)
        from _centres
        left join {patients} as patients using (centre_code)
        left join raw.current_deliveries as current using (centre_code)
        left join {held} as held using (centre_code)
        left join {nulled} as nulled using (centre_code)
        order by 1""",
        {"centres": centres},
    ).fetchall()
    unregistered = conn.execute(
        "select distinct centre_code from raw.deliveries where status = 'skipped' "
        "and not list_contains($centres::varchar[], centre_code) order by 1",
        {"centres": centres},
    ).fetchall()
    return CohortSummary(
        tuple(
            CentreIntake(c, int(p), d, int(s), int(r), int(q), int(n))
            for c, p, d, s, r, q, n in rows
        ),
        tuple(u for (u,) in unregistered),
    )
