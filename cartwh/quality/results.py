"""Reading the quality layer's results (``quality.*`` tables built by dbt).

One home for these queries, shared by ``cartwh quality`` and the Dagster asset checks.
"""

from __future__ import annotations

import duckdb
import pandas as pd

#: reconciliation statuses that account for a delivered row
ACCOUNTED_STATUSES = ("passed", "quarantined", "duplicate_removed", "empty")


def centre_summary(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per centre and delivery: checks run, failed, blocking failed, rows held back, and
    (last column) values set to missing in rows that flow on."""
    return conn.execute("""
        with results as (
            select centre_code, delivery_id,
                count(*) filter (where status <> 'not_applicable') as checks_run,
                count(*) filter (where status = 'failed') as failed,
                count(*) filter (where status = 'failed' and severity = 'blocking')
                    as blocking_failed,
                count(*) filter (where status = 'not_applicable') as not_applicable
            from quality.check_results group by all
        ),
        held as (
            select centre_code,
                count(*) filter (where status = 'quarantined') as rows_quarantined,
                count(*) filter (where status = 'duplicate_removed') as rows_duplicate_removed,
                count(*) as source_rows,
                sum(nulled_fields) as fields_nulled
            from quality.reconciliation group by all
        )
        select results.*, held.source_rows, held.rows_quarantined, held.rows_duplicate_removed,
            coalesce(held.fields_nulled, 0) as fields_nulled
        from results left join held using (centre_code) order by centre_code""").df()


def failed_checks(conn: duckdb.DuckDBPyConnection, severity: str | None = None) -> pd.DataFrame:
    """Failed checks (of one severity, or all), with their counts and threshold."""
    return conn.execute(
        "select check_name, centre_code, delivery_id, table_name, severity, numerator, "
        "denominator, pct_failing, threshold_pct from quality.check_results "
        "where status = 'failed' and (? is null or severity = ?) "
        "order by severity, centre_code, check_name, table_name",
        [severity, severity],
    ).df()


def check_counts(conn: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(checks run, checks not applicable)."""
    [(run, not_applicable)] = conn.execute(
        "select count(*) filter (where status <> 'not_applicable'), "
        "count(*) filter (where status = 'not_applicable') from quality.check_results"
    ).fetchall()
    return run, not_applicable


def rows_by_status(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Delivered rows by reconciliation status."""
    return conn.execute(
        "select status, count(*) as source_rows from quality.reconciliation group by 1 order by 1"
    ).df()


def unbalanced_files(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Files whose ledger row count differs from the rows found in raw."""
    return conn.execute(
        "select centre_code, table_name, numerator, denominator from quality.check_results "
        "where check_name = 'reconciliation_balanced' and numerator > 0"
    ).df()


def quarantine_by_rule(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Quarantined source rows (held back whole) per centre and rule."""
    return conn.execute(
        "select centre_code, rule, count(distinct (entity, source_file, source_row_number)) "
        "as source_rows from quality.quarantine group by all order by 1, 2"
    ).df()


def quarantine_sample(conn: duckdb.DuckDBPyConnection, rows: int) -> pd.DataFrame:
    """The first quarantined values (pseudonymous keys, PHI masked by the quarantine model)."""
    return conn.execute(
        "select centre_code, entity, source_file, source_row_number, patient_key, "
        "column_name, value, rule from quality.quarantine "
        "order by centre_code, entity, source_row_number limit ?",
        [rows],
    ).df()


def nulled_fields_by_rule(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Values set to missing (in rows that flow on) per centre, rule and column, with the
    source rows they are in."""
    return conn.execute(
        "select centre_code, rule, entity, column_name, count(*) as fields_nulled, "
        "count(distinct (source_file, source_row_number)) as source_rows "
        "from quality.nulled_fields group by all order by 1, 2, 3, 4"
    ).df()


def intake_summaries(conn: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """For the report: values set to missing by entity and column, rows held back by rule."""
    nulled = conn.execute(
        'select entity, column_name, count(*) as "values" from quality.nulled_fields '
        "group by all order by 1, 2"
    ).df()
    held = conn.execute(
        "select rule, count(distinct (centre_code, entity, source_file, source_row_number)) "
        'as "rows" from quality.quarantine group by 1 order by 1'
    ).df()
    return {"intake_nulled_values": nulled, "intake_rows_held_back": held}


def nulled_fields_sample(conn: duckdb.DuckDBPyConnection, rows: int) -> pd.DataFrame:
    """The first values set to missing (pseudonymous keys, PHI masked), with their message."""
    return conn.execute(
        "select centre_code, entity, source_file, source_row_number, patient_key, "
        "column_name, value, rule, message from quality.nulled_fields "
        "order by centre_code, entity, source_row_number, column_name limit ?",
        [rows],
    ).df()


def unaccounted_fields(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Source rows whose breached values are neither set to missing nor held back with their
    row (should be none: reconciliation_balanced fails on any)."""
    return conn.execute(
        "select centre_code, entity, source_file, source_row_number, field_breaches, "
        "nulled_fields, quarantined_breaches, removed_copy_breaches, fields_unaccounted "
        "from quality.reconciliation where fields_unaccounted <> 0 order by 1, 2, 3, 4"
    ).df()
